//! SMB1 / CIFS messages ([MS-CIFS] 2.2, [MS-SMB] 2.2): the 32-byte header, the AndX chain, and
//! the commands that decide security posture (NEGOTIATE, SESSION_SETUP_ANDX,
//! TREE_CONNECT_ANDX, NT_CREATE_ANDX).
//!
//! [`Header::parse`] checks the header and the first command's parameter block once; every
//! accessor after that is infallible. Command parsers take the header (for Flags2: Unicode or
//! OEM strings) and one [`AndxBlock`], so chained commands parse the same way as first ones.

use super::ntlmssp::{latin1, utf16le};
use crate::wire::{Layer, ParseError, Reader, Result, le16, le32, slice_at};
use crate::wire_enum;

mod commands;

pub use commands::{
    CreateDirectoryRequest, NegotiateRequest, NegotiateResponse, NtCreateRequest,
    SessionSetupRequest, SessionSetupResponse, TreeConnectRequest, TreeConnectResponse,
};

/// Protocol identifier at the start of every SMB1 message ([MS-CIFS] 2.2.3.1).
pub const SMB1_MAGIC: [u8; 4] = [0xFF, b'S', b'M', b'B'];
/// Size of the SMB1 header ([MS-CIFS] 2.2.3.1).
pub const HEADER_LEN: usize = 32;
/// The placeholder signature "BSRSPYL " sent before signing is active ([MS-SMB] 3.2.4.2.4).
pub const SIGNATURE_PLACEHOLDER: [u8; 8] = *b"BSRSPYL ";
/// Longest AndX chain followed (real ones have 2 or 3 links).
pub const MAX_ANDX_CHAIN: usize = 32;

wire_enum! {
    /// SMB1 command codes ([MS-CIFS] 2.2.2.1).
    pub struct Command(u8) {
        CREATE_DIRECTORY = 0x00 => "SMB_COM_CREATE_DIRECTORY",
        DELETE_DIRECTORY = 0x01 => "SMB_COM_DELETE_DIRECTORY",
        CLOSE = 0x04 => "SMB_COM_CLOSE",
        DELETE = 0x06 => "SMB_COM_DELETE",
        LOCKING_ANDX = 0x24 => "SMB_COM_LOCKING_ANDX",
        TRANSACTION = 0x25 => "SMB_COM_TRANSACTION",
        TRANSACTION_SECONDARY = 0x26 => "SMB_COM_TRANSACTION_SECONDARY",
        ECHO = 0x2B => "SMB_COM_ECHO",
        OPEN_ANDX = 0x2D => "SMB_COM_OPEN_ANDX",
        READ_ANDX = 0x2E => "SMB_COM_READ_ANDX",
        WRITE_ANDX = 0x2F => "SMB_COM_WRITE_ANDX",
        TRANSACTION2 = 0x32 => "SMB_COM_TRANSACTION2",
        TRANSACTION2_SECONDARY = 0x33 => "SMB_COM_TRANSACTION2_SECONDARY",
        FIND_CLOSE2 = 0x34 => "SMB_COM_FIND_CLOSE2",
        TREE_CONNECT = 0x70 => "SMB_COM_TREE_CONNECT",
        TREE_DISCONNECT = 0x71 => "SMB_COM_TREE_DISCONNECT",
        NEGOTIATE = 0x72 => "SMB_COM_NEGOTIATE",
        SESSION_SETUP_ANDX = 0x73 => "SMB_COM_SESSION_SETUP_ANDX",
        LOGOFF_ANDX = 0x74 => "SMB_COM_LOGOFF_ANDX",
        TREE_CONNECT_ANDX = 0x75 => "SMB_COM_TREE_CONNECT_ANDX",
        NT_TRANSACT = 0xA0 => "SMB_COM_NT_TRANSACT",
        NT_TRANSACT_SECONDARY = 0xA1 => "SMB_COM_NT_TRANSACT_SECONDARY",
        NT_CREATE_ANDX = 0xA2 => "SMB_COM_NT_CREATE_ANDX",
        NT_CANCEL = 0xA4 => "SMB_COM_NT_CANCEL",
        NT_RENAME = 0xA5 => "SMB_COM_NT_RENAME",
        NO_ANDX = 0xFF => "SMB_COM_NO_ANDX_COMMAND",
    }
}

impl Command {
    /// Whether the command's parameter block starts with the AndX header
    /// (AndXCommand, AndXReserved, AndXOffset) ([MS-CIFS] 2.2.3.4).
    pub fn is_andx(self) -> bool {
        matches!(
            self,
            Command::LOCKING_ANDX
                | Command::OPEN_ANDX
                | Command::READ_ANDX
                | Command::WRITE_ANDX
                | Command::SESSION_SETUP_ANDX
                | Command::LOGOFF_ANDX
                | Command::TREE_CONNECT_ANDX
                | Command::NT_CREATE_ANDX
        )
    }
}

/// Header Flags ([MS-CIFS] 2.2.3.1).
pub mod flags {
    /// SMB_FLAGS_CASE_INSENSITIVE.
    pub const CASE_INSENSITIVE: u8 = 0x08;
    /// SMB_FLAGS_CANONICALIZED_PATHS.
    pub const CANONICALIZED_PATHS: u8 = 0x10;
    /// SMB_FLAGS_REPLY: the message is a response.
    pub const REPLY: u8 = 0x80;
}

/// Header Flags2 ([MS-CIFS] 2.2.3.1, [MS-SMB] 2.2.3.1).
pub mod flags2 {
    /// SMB_FLAGS2_LONG_NAMES.
    pub const LONG_NAMES: u16 = 0x0001;
    /// SMB_FLAGS2_EAS.
    pub const EAS: u16 = 0x0002;
    /// SMB_FLAGS2_SMB_SECURITY_SIGNATURE: the message is signed.
    pub const SECURITY_SIGNATURE: u16 = 0x0004;
    /// SMB_FLAGS2_SMB_SECURITY_SIGNATURE_REQUIRED ([MS-SMB] 2.2.3.1).
    pub const SECURITY_SIGNATURE_REQUIRED: u16 = 0x0010;
    /// SMB_FLAGS2_IS_LONG_NAME.
    pub const IS_LONG_NAME: u16 = 0x0040;
    /// SMB_FLAGS2_EXTENDED_SECURITY ([MS-SMB] 2.2.3.1).
    pub const EXTENDED_SECURITY: u16 = 0x0800;
    /// SMB_FLAGS2_DFS.
    pub const DFS: u16 = 0x1000;
    /// SMB_FLAGS2_PAGING_IO.
    pub const PAGING_IO: u16 = 0x2000;
    /// SMB_FLAGS2_NT_STATUS: Status is a 32-bit NTSTATUS.
    pub const NT_STATUS: u16 = 0x4000;
    /// SMB_FLAGS2_UNICODE: strings are UTF-16LE.
    pub const UNICODE: u16 = 0x8000;
}

/// NEGOTIATE response SecurityMode ([MS-CIFS] 2.2.4.52.2).
pub mod security_mode {
    /// NEGOTIATE_USER_SECURITY (else share-level).
    pub const USER: u8 = 0x01;
    /// NEGOTIATE_ENCRYPT_PASSWORDS (challenge/response; else plaintext passwords).
    pub const ENCRYPT_PASSWORDS: u8 = 0x02;
    /// NEGOTIATE_SECURITY_SIGNATURES_ENABLED.
    pub const SIGNATURES_ENABLED: u8 = 0x04;
    /// NEGOTIATE_SECURITY_SIGNATURES_REQUIRED.
    pub const SIGNATURES_REQUIRED: u8 = 0x08;
}

/// Server/client Capabilities ([MS-CIFS] 2.2.4.52.2, [MS-SMB] 2.2.4.5.2).
pub mod capabilities {
    pub const CAP_RAW_MODE: u32 = 0x0000_0001;
    pub const CAP_MPX_MODE: u32 = 0x0000_0002;
    pub const CAP_UNICODE: u32 = 0x0000_0004;
    pub const CAP_LARGE_FILES: u32 = 0x0000_0008;
    pub const CAP_NT_SMBS: u32 = 0x0000_0010;
    pub const CAP_RPC_REMOTE_APIS: u32 = 0x0000_0020;
    pub const CAP_STATUS32: u32 = 0x0000_0040;
    pub const CAP_LEVEL_II_OPLOCKS: u32 = 0x0000_0080;
    pub const CAP_LOCK_AND_READ: u32 = 0x0000_0100;
    pub const CAP_NT_FIND: u32 = 0x0000_0200;
    pub const CAP_DFS: u32 = 0x0000_1000;
    pub const CAP_INFOLEVEL_PASSTHRU: u32 = 0x0000_2000;
    pub const CAP_LARGE_READX: u32 = 0x0000_4000;
    pub const CAP_LARGE_WRITEX: u32 = 0x0000_8000;
    pub const CAP_LWIO: u32 = 0x0001_0000;
    pub const CAP_UNIX: u32 = 0x0080_0000;
    pub const CAP_COMPRESSED_DATA: u32 = 0x0200_0000;
    pub const CAP_DYNAMIC_REAUTH: u32 = 0x2000_0000;
    pub const CAP_PERSISTENT_HANDLES: u32 = 0x4000_0000;
    /// CAP_EXTENDED_SECURITY: NEGOTIATE response carries a GUID and a GSS blob.
    pub const CAP_EXTENDED_SECURITY: u32 = 0x8000_0000;
}

/// SESSION_SETUP_ANDX response Action ([MS-CIFS] 2.2.4.53.2).
pub mod action {
    /// SMB_SETUP_GUEST: logged on as guest.
    pub const GUEST: u16 = 0x0001;
    /// SMB_SETUP_USE_LANMAN_KEY.
    pub const USE_LANMAN_KEY: u16 = 0x0002;
}

/// TREE_CONNECT_ANDX request Flags ([MS-SMB] 2.2.4.7.1).
pub mod tree_connect_flags {
    pub const DISCONNECT_TID: u16 = 0x0001;
    pub const EXTENDED_SIGNATURES: u16 = 0x0004;
    pub const EXTENDED_RESPONSE: u16 = 0x0008;
}

/// TREE_CONNECT_ANDX response OptionalSupport ([MS-CIFS] 2.2.4.55.2, [MS-SMB] 2.2.4.7.2).
pub mod optional_support {
    pub const SUPPORT_SEARCH_BITS: u16 = 0x0001;
    pub const SHARE_IS_IN_DFS: u16 = 0x0002;
    pub const CSC_MASK: u16 = 0x000C;
    pub const UNIQUE_FILE_NAME: u16 = 0x0010;
    pub const EXTENDED_SIGNATURES: u16 = 0x0020;
}

/// Byte offsets in the header ([MS-CIFS] 2.2.3.1) and the AndX header (2.2.3.4).
mod field {
    pub const COMMAND: usize = 4;
    pub const STATUS: usize = 5;
    pub const FLAGS: usize = 9;
    pub const FLAGS2: usize = 10;
    pub const PID_HIGH: usize = 12;
    pub const SIGNATURE: usize = 14;
    pub const TID: usize = 24;
    pub const PID_LOW: usize = 26;
    pub const UID: usize = 28;
    pub const MID: usize = 30;
    // AndX header in the words ([MS-CIFS] 2.2.3.4).
    pub const ANDX_COMMAND: usize = 0;
    pub const ANDX_OFFSET: usize = 2;
    pub const ANDX_LEN: usize = 4;
}

/// A checked SMB1 message: the header plus the first command's parameter and data blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    raw: &'a [u8],
    hdr: &'a [u8; HEADER_LEN],
    signature: &'a [u8; 8],
    words: &'a [u8],
    bytes: &'a [u8],
}

impl<'a> Header<'a> {
    /// Checks `msg` (starting at 0xFF 'SMB', after the NBSS header): the magic, the header,
    /// and that the first WordCount/ByteCount blocks fit.
    pub fn parse(msg: &'a [u8]) -> Result<Self> {
        let hdr = msg.first_chunk::<HEADER_LEN>().ok_or(ParseError::new(
            Layer::Smb1,
            msg.len(),
            "truncated header",
        ))?;
        if hdr[..4] != SMB1_MAGIC {
            return Err(ParseError::new(Layer::Smb1, 0, "not an SMB1 message"));
        }
        let signature = hdr[field::SIGNATURE..]
            .first_chunk::<8>()
            .ok_or(ParseError::new(
                Layer::Smb1,
                field::SIGNATURE,
                "truncated header",
            ))?;
        let (words, bytes) = block_at(msg, HEADER_LEN)?;
        Ok(Header {
            raw: msg,
            hdr,
            signature,
            words,
            bytes,
        })
    }

    pub fn command(&self) -> Command {
        Command(self.hdr[field::COMMAND])
    }

    /// The Status field: an NTSTATUS when [`flags2::NT_STATUS`] is set, else the DOS error
    /// (ErrorClass in the low byte, ErrorCode in the high 16 bits).
    pub fn status(&self) -> u32 {
        self.u32_at(field::STATUS)
    }

    /// The DOS error (ErrorClass, ErrorCode) when Flags2 does not say NT_STATUS
    /// ([MS-CIFS] 2.2.3.1 SMB_ERROR); `None` for NTSTATUS messages.
    pub fn dos_error(&self) -> Option<(u8, u16)> {
        (self.flags2() & flags2::NT_STATUS == 0)
            .then(|| (self.hdr[field::STATUS], self.u16_at(field::STATUS + 2)))
    }

    pub fn flags(&self) -> u8 {
        self.hdr[field::FLAGS]
    }

    pub fn flags2(&self) -> u16 {
        self.u16_at(field::FLAGS2)
    }

    pub fn is_reply(&self) -> bool {
        self.flags() & flags::REPLY != 0
    }

    /// Strings in this message are UTF-16LE ([`flags2::UNICODE`]).
    pub fn is_unicode(&self) -> bool {
        self.flags2() & flags2::UNICODE != 0
    }

    /// SecuritySignature (8 bytes at offset 14).
    pub fn signature(&self) -> &'a [u8; 8] {
        self.signature
    }

    /// Signed: Flags2 SECURITY_SIGNATURE set and a signature that is neither zero nor the
    /// "BSRSPYL " placeholder.
    pub fn is_signed(&self) -> bool {
        self.flags2() & flags2::SECURITY_SIGNATURE != 0
            && *self.signature != [0; 8]
            && *self.signature != SIGNATURE_PLACEHOLDER
    }

    pub fn tid(&self) -> u16 {
        self.u16_at(field::TID)
    }

    /// PIDHigh << 16 | PIDLow.
    pub fn pid(&self) -> u32 {
        (u32::from(self.u16_at(field::PID_HIGH)) << 16) | u32::from(self.u16_at(field::PID_LOW))
    }

    pub fn uid(&self) -> u16 {
        self.u16_at(field::UID)
    }

    pub fn mid(&self) -> u16 {
        self.u16_at(field::MID)
    }

    /// The whole message (for signature checks).
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// First command's parameter words (WordCount * 2 bytes).
    pub fn words(&self) -> &'a [u8] {
        self.words
    }

    /// First command's data bytes (ByteCount bytes).
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The first command as an [`AndxBlock`].
    pub fn first_block(&self) -> AndxBlock<'a> {
        AndxBlock {
            command: self.command(),
            words: self.words,
            bytes: self.bytes,
            offset: HEADER_LEN,
        }
    }

    // Offsets passed in are `field` constants below HEADER_LEN - 3.
    fn u16_at(&self, off: usize) -> u16 {
        u16::from_le_bytes([self.hdr[off], self.hdr[off + 1]])
    }

    fn u32_at(&self, off: usize) -> u32 {
        u32::from_le_bytes([
            self.hdr[off],
            self.hdr[off + 1],
            self.hdr[off + 2],
            self.hdr[off + 3],
        ])
    }
}

/// One command of a message: its parameter words and data bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AndxBlock<'a> {
    pub command: Command,
    pub words: &'a [u8],
    pub bytes: &'a [u8],
    /// Offset of the WordCount byte from the start of the SMB header.
    pub offset: usize,
}

impl AndxBlock<'_> {
    /// WordCount.
    pub fn word_count(&self) -> usize {
        self.words.len() / 2
    }

    /// Offset of the first data byte from the start of the SMB header (for Unicode alignment).
    pub fn bytes_offset(&self) -> usize {
        self.offset + 1 + self.words.len() + 2
    }
}

/// Iterates the AndX chain: the first command, then each chained command (AndXCommand at
/// word 0, AndXOffset at byte 2 of the words, counted from the SMB header start), stopping at
/// 0xFF or a non-AndX command. Offsets must move strictly forward and the chain is capped at
/// [`MAX_ANDX_CHAIN`]; a violation yields one error and ends the iteration.
pub fn andx_chain<'a>(h: &Header<'a>) -> AndxChain<'a> {
    AndxChain {
        raw: h.raw,
        next: Next::Block(h.command(), HEADER_LEN),
        count: 0,
    }
}

/// Iterator made by [`andx_chain`].
#[derive(Debug, Clone)]
pub struct AndxChain<'a> {
    raw: &'a [u8],
    next: Next,
    count: usize,
}

#[derive(Debug, Clone)]
enum Next {
    Block(Command, usize),
    Fail(ParseError),
    Done,
}

impl<'a> Iterator for AndxChain<'a> {
    type Item = Result<AndxBlock<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        let (command, offset) = match std::mem::replace(&mut self.next, Next::Done) {
            Next::Done => return None,
            Next::Fail(e) => return Some(Err(e)),
            Next::Block(c, o) => (c, o),
        };
        let (words, bytes) = match block_at(self.raw, offset) {
            Ok(b) => b,
            Err(e) => return Some(Err(e)),
        };
        self.count += 1;
        if command.is_andx() && words.len() >= field::ANDX_LEN {
            let next_cmd = Command(words[field::ANDX_COMMAND]);
            let next_off = usize::from(le16(words, field::ANDX_OFFSET).unwrap_or(0));
            self.next = if next_cmd == Command::NO_ANDX {
                Next::Done
            } else if next_off <= offset {
                Next::Fail(ParseError::new(
                    Layer::Smb1,
                    offset,
                    "AndXOffset not forward",
                ))
            } else if self.count >= MAX_ANDX_CHAIN {
                Next::Fail(ParseError::new(Layer::Smb1, offset, "AndX chain too long"))
            } else {
                Next::Block(next_cmd, next_off)
            };
        }
        Some(Ok(AndxBlock {
            command,
            words,
            bytes,
            offset,
        }))
    }
}

/// Reads the WordCount/words/ByteCount/bytes block at `offset` of `msg`.
fn block_at(msg: &[u8], offset: usize) -> Result<(&[u8], &[u8])> {
    let mut r = Reader::at(msg, offset, Layer::Smb1);
    let wc = r.u8()?;
    let words = r.bytes(usize::from(wc) * 2)?;
    let bc = r.u16()?;
    let bytes = r.bytes(usize::from(bc))?;
    Ok((words, bytes))
}

fn err(offset: usize, reason: &'static str) -> ParseError {
    ParseError::new(Layer::Smb1, offset, reason)
}

fn word16(b: &AndxBlock<'_>, off: usize) -> Result<u16> {
    le16(b.words, off).ok_or(err(b.offset, "parameter block too short"))
}

fn word32(b: &AndxBlock<'_>, off: usize) -> Result<u32> {
    le32(b.words, off).ok_or(err(b.offset, "parameter block too short"))
}

/// A cursor over a command's data bytes that knows the string encoding and the Unicode
/// alignment rule (UTF-16 strings start on an even offset from the SMB header).
struct Strings<'a> {
    buf: &'a [u8],
    pos: usize,
    base: usize,
    unicode: bool,
}

impl<'a> Strings<'a> {
    fn new(h: &Header<'a>, b: &AndxBlock<'a>) -> Self {
        Strings {
            buf: b.bytes,
            pos: 0,
            base: b.bytes_offset(),
            unicode: h.is_unicode(),
        }
    }

    fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or(&[])
    }

    /// Exactly `n` bytes, or an error.
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let out = slice_at(self.buf, self.pos, n, Layer::Smb1)
            .map_err(|_| err(self.base.saturating_add(self.pos), "data block too short"))?;
        self.pos += n;
        Ok(out)
    }

    fn align(&mut self) {
        if self.unicode && (self.base + self.pos) % 2 == 1 && !self.is_empty() {
            self.pos += 1;
        }
    }

    /// A NUL-terminated string in the message's encoding (or up to the end).
    fn string(&mut self) -> String {
        if self.unicode {
            let rest = self.rest();
            let units = rest.chunks_exact(2).position(|c| c == [0, 0]);
            let (len, used) = units.map_or((rest.len(), rest.len()), |u| (u * 2, u * 2 + 2));
            self.pos += used;
            utf16le(&rest[..len])
        } else {
            self.oem()
        }
    }

    /// A NUL-terminated OEM string (or up to the end).
    fn oem(&mut self) -> String {
        let rest = self.rest();
        let end = rest.iter().position(|&b| b == 0);
        let (len, used) = end.map_or((rest.len(), rest.len()), |e| (e, e + 1));
        self.pos += used;
        latin1(&rest[..len])
    }

    /// An aligned string, or `None` at the end of the data.
    fn opt_string(&mut self) -> Option<String> {
        self.align();
        self.opt_string_unaligned()
    }

    fn opt_string_unaligned(&mut self) -> Option<String> {
        (!self.is_empty()).then(|| self.string())
    }
}

#[cfg(test)]
mod tests;
