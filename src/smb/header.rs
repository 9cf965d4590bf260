//! The SMB2 packet header ([MS-SMB2] §2.2.1) and compound splitting (§3.2.4.1.4).
//!
//! [`Header`] is a "check once, read forever" view: [`Header::parse`] checks the protocol id,
//! the StructureSize and the length once; every accessor after that is infallible. Nothing here
//! allocates.

use std::fmt;
use std::iter::FusedIterator;

use crate::smb::status::NtStatus;
use crate::wire::{Layer, ParseError, Result};
use crate::wire_enum;

/// ProtocolId of an SMB2/3 message: `0xFE 'S' 'M' 'B'` (§2.2.1).
pub const SMB2_MAGIC: [u8; 4] = [0xFE, b'S', b'M', b'B'];

/// Length of the SMB2 header (sync and async forms), also its StructureSize (§2.2.1).
pub const HEADER_LEN: usize = 64;

/// Offset of the 16-byte Signature in the header (§2.2.1). Signing zeroes
/// `SIGNATURE_OFFSET..HEADER_LEN` before computing the MAC (§3.1.4.1).
pub const SIGNATURE_OFFSET: usize = field::SIGNATURE;

wire_enum! {
    /// SMB2 command code (§2.2.1.2, "Command").
    pub struct Command(u16) {
        NEGOTIATE = 0x0000 => "NEGOTIATE",
        SESSION_SETUP = 0x0001 => "SESSION_SETUP",
        LOGOFF = 0x0002 => "LOGOFF",
        TREE_CONNECT = 0x0003 => "TREE_CONNECT",
        TREE_DISCONNECT = 0x0004 => "TREE_DISCONNECT",
        CREATE = 0x0005 => "CREATE",
        CLOSE = 0x0006 => "CLOSE",
        FLUSH = 0x0007 => "FLUSH",
        READ = 0x0008 => "READ",
        WRITE = 0x0009 => "WRITE",
        LOCK = 0x000A => "LOCK",
        IOCTL = 0x000B => "IOCTL",
        CANCEL = 0x000C => "CANCEL",
        ECHO = 0x000D => "ECHO",
        QUERY_DIRECTORY = 0x000E => "QUERY_DIRECTORY",
        CHANGE_NOTIFY = 0x000F => "CHANGE_NOTIFY",
        QUERY_INFO = 0x0010 => "QUERY_INFO",
        SET_INFO = 0x0011 => "SET_INFO",
        OPLOCK_BREAK = 0x0012 => "OPLOCK_BREAK",
    }
}

/// Header `Flags` bits (§2.2.1.2).
pub mod flags {
    /// SMB2_FLAGS_SERVER_TO_REDIR: the message is a response.
    pub const SERVER_TO_REDIR: u32 = 0x0000_0001;
    /// SMB2_FLAGS_ASYNC_COMMAND: async header form (AsyncId instead of TreeId).
    pub const ASYNC_COMMAND: u32 = 0x0000_0002;
    /// SMB2_FLAGS_RELATED_OPERATIONS: a related compounded request/response (§3.2.4.1.4).
    pub const RELATED_OPERATIONS: u32 = 0x0000_0004;
    /// SMB2_FLAGS_SIGNED (§3.1.4.1).
    pub const SIGNED: u32 = 0x0000_0008;
    /// SMB2_FLAGS_PRIORITY_MASK (3.1.1 only).
    pub const PRIORITY_MASK: u32 = 0x0000_0070;
    /// SMB2_FLAGS_DFS_OPERATIONS.
    pub const DFS_OPERATIONS: u32 = 0x1000_0000;
    /// SMB2_FLAGS_REPLAY_OPERATION (3.x only).
    pub const REPLAY_OPERATION: u32 = 0x2000_0000;
}

/// A view over one SMB2 message: the 64-byte header plus the body of *this* message (up to
/// NextCommand, or to the end of the buffer for the last / only message).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    hdr: &'a [u8; HEADER_LEN],
    signature: &'a [u8; 16],
    msg: &'a [u8],
}

impl<'a> Header<'a> {
    /// Checks the protocol id and `msg.len() >= 64` (StructureSize is not enforced).
    ///
    /// The message is cut at NextCommand when NextCommand is at least 64 and inside `msg`;
    /// otherwise it runs to the end of `msg`. NextCommand itself is *not* validated here (a
    /// prefix of a large compounded message still parses); [`split_compound`] validates it.
    pub fn parse(msg: &'a [u8]) -> Result<Header<'a>> {
        let hdr: &[u8; HEADER_LEN] =
            msg.first_chunk()
                .ok_or(ParseError::new(Layer::Smb2, msg.len(), "truncated header"))?;
        if hdr[field::PROTOCOL_ID..field::PROTOCOL_ID + 4] != SMB2_MAGIC {
            return Err(ParseError::new(
                Layer::Smb2,
                field::PROTOCOL_ID,
                "not an SMB2 header",
            ));
        }
        // StructureSize is 64 by the spec, but the header is always 64 bytes whatever it says;
        // like Wireshark and Zeek we accept other values (zeek/smb2_fscontrol.pcap frame 4 has
        // 319) rather than lose the message.
        let signature = hdr.last_chunk().ok_or(ParseError::new(
            Layer::Smb2,
            field::SIGNATURE,
            "truncated header",
        ))?;
        let next = usize::try_from(rd32(hdr, field::NEXT_COMMAND)).unwrap_or(usize::MAX);
        let end = if next >= HEADER_LEN && next <= msg.len() {
            next
        } else {
            msg.len()
        };
        // `end` is in HEADER_LEN..=msg.len(), so the slice is in bounds; `get` keeps it panic-free.
        let msg = msg.get(..end).unwrap_or(msg);
        Ok(Header {
            hdr,
            signature,
            msg,
        })
    }

    /// StructureSize as sent (64 by the spec; not enforced, see [`Header::parse`]).
    pub fn structure_size(&self) -> u16 {
        rd16(self.hdr, field::STRUCTURE_SIZE)
    }

    /// CreditCharge (§2.2.1.1/2).
    pub fn credit_charge(&self) -> u16 {
        rd16(self.hdr, field::CREDIT_CHARGE)
    }

    /// Status. In 3.x requests this field is ChannelSequence + Reserved instead; use
    /// [`channel_sequence`](Self::channel_sequence) there.
    pub fn status(&self) -> NtStatus {
        NtStatus(rd32(self.hdr, field::STATUS))
    }

    /// ChannelSequence (3.x requests): the low 16 bits of the Status field.
    pub fn channel_sequence(&self) -> u16 {
        rd16(self.hdr, field::STATUS)
    }

    /// Command.
    pub fn command(&self) -> Command {
        Command(rd16(self.hdr, field::COMMAND))
    }

    /// CreditRequest (requests) / CreditResponse (responses).
    pub fn credits(&self) -> u16 {
        rd16(self.hdr, field::CREDITS)
    }

    /// Flags; see [`flags`].
    pub fn flags(&self) -> u32 {
        rd32(self.hdr, field::FLAGS)
    }

    /// NextCommand: offset of the next compounded message from this header, 0 for the last.
    pub fn next_command(&self) -> u32 {
        rd32(self.hdr, field::NEXT_COMMAND)
    }

    /// MessageId.
    pub fn message_id(&self) -> u64 {
        rd64(self.hdr, field::MESSAGE_ID)
    }

    /// AsyncId, only in the async header form (SMB2_FLAGS_ASYNC_COMMAND set).
    pub fn async_id(&self) -> Option<u64> {
        self.is_async().then(|| rd64(self.hdr, field::ASYNC_ID))
    }

    /// TreeId, only in the sync header form (SMB2_FLAGS_ASYNC_COMMAND clear).
    pub fn tree_id(&self) -> Option<u32> {
        (!self.is_async()).then(|| rd32(self.hdr, field::TREE_ID))
    }

    /// SessionId.
    pub fn session_id(&self) -> u64 {
        rd64(self.hdr, field::SESSION_ID)
    }

    /// Signature (16 bytes; all zero when unsigned or inside a transform, §3.2.4.1.1).
    pub fn signature(&self) -> &'a [u8; 16] {
        self.signature
    }

    /// The 3.1.1 priority value (Flags & SMB2_FLAGS_PRIORITY_MASK) >> 4, 0..=7.
    pub fn priority(&self) -> u8 {
        // The mask keeps 3 bits, so the value fits in u8.
        ((self.flags() & flags::PRIORITY_MASK) >> 4) as u8
    }

    /// SMB2_FLAGS_SERVER_TO_REDIR: this is a response.
    pub fn is_response(&self) -> bool {
        self.flags() & flags::SERVER_TO_REDIR != 0
    }

    /// SMB2_FLAGS_ASYNC_COMMAND.
    pub fn is_async(&self) -> bool {
        self.flags() & flags::ASYNC_COMMAND != 0
    }

    /// SMB2_FLAGS_SIGNED.
    pub fn is_signed(&self) -> bool {
        self.flags() & flags::SIGNED != 0
    }

    /// SMB2_FLAGS_RELATED_OPERATIONS: SessionId/TreeId/FileId come from the previous message.
    pub fn is_related(&self) -> bool {
        self.flags() & flags::RELATED_OPERATIONS != 0
    }

    /// The bytes after the 64-byte header, within this message.
    pub fn body(&self) -> &'a [u8] {
        self.msg.get(HEADER_LEN..).unwrap_or(&[])
    }

    /// The whole message (header + body, padding included, without the following compounded
    /// messages): exactly the bytes a signature covers (§3.1.4.1). Body offsets such as
    /// SecurityBufferOffset count from `raw()[0]`.
    pub fn raw(&self) -> &'a [u8] {
        self.msg
    }

    /// Checks the body's StructureSize against `expected` and that the fixed part
    /// (`expected & !1` bytes: an odd size means "plus a variable buffer") is present.
    pub(crate) fn fixed_body(&self, expected: u16) -> Result<&'a [u8]> {
        let body = self.body();
        let size = body
            .first_chunk::<2>()
            .map(|b| u16::from_le_bytes(*b))
            .ok_or(ParseError::new(Layer::Smb2, HEADER_LEN, "missing body"))?;
        if size != expected {
            return Err(ParseError::new(
                Layer::Smb2,
                HEADER_LEN,
                "unexpected body StructureSize",
            ));
        }
        if body.len() < usize::from(expected & !1) {
            return Err(ParseError::new(
                Layer::Smb2,
                self.msg.len(),
                "truncated body",
            ));
        }
        Ok(body)
    }
}

impl fmt::Debug for Header<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Header")
            .field("command", &self.command())
            .field("status", &self.status())
            .field("flags", &format_args!("{:#010x}", self.flags()))
            .field("message_id", &self.message_id())
            .field("session_id", &format_args!("{:#018x}", self.session_id()))
            .field("tree_id", &self.tree_id())
            .field("async_id", &self.async_id())
            .field("len", &self.msg.len())
            .finish()
    }
}

/// Splits a (possibly compounded) SMB2 message into its messages using NextCommand
/// (§3.2.4.1.4). Each item covers the exact byte range of one message: NextCommand bytes
/// (padding included) or to the end for the last one.
///
/// On a bad NextCommand (not a multiple of 8, below 64, or past the end of the buffer) the
/// iterator yields one `Err` (offset = that NextCommand field in `msg`) and then ends; a bad
/// header likewise. A NextCommand that ends exactly at the end of `msg` yields the message,
/// then an `Err` for the missing next one.
pub fn split_compound(msg: &[u8]) -> Compound<'_> {
    Compound {
        buf: msg,
        pos: 0,
        done: false,
    }
}

/// Iterator returned by [`split_compound`].
#[derive(Debug, Clone)]
pub struct Compound<'a> {
    buf: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> Compound<'a> {
    fn fail(&mut self, off: usize, reason: &'static str) -> Option<Result<Header<'a>>> {
        self.done = true;
        Some(Err(ParseError::new(
            Layer::Smb2,
            self.pos.saturating_add(off),
            reason,
        )))
    }
}

impl<'a> Iterator for Compound<'a> {
    type Item = Result<Header<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let rest = self.buf.get(self.pos..).unwrap_or(&[]);
        let h = match Header::parse(rest) {
            Ok(h) => h,
            Err(e) => return self.fail(e.offset, e.reason),
        };
        let next = usize::try_from(h.next_command()).unwrap_or(usize::MAX);
        if next == 0 {
            self.done = true;
            return Some(Ok(h));
        }
        if next % 8 != 0 {
            return self.fail(field::NEXT_COMMAND, "NextCommand not 8-byte aligned");
        }
        if next < HEADER_LEN {
            return self.fail(field::NEXT_COMMAND, "NextCommand inside the header");
        }
        if next > rest.len() {
            return self.fail(field::NEXT_COMMAND, "NextCommand past the end");
        }
        // next <= rest.len() and pos + rest.len() == buf.len(), so this cannot overflow.
        self.pos = self.pos.saturating_add(next);
        Some(Ok(h))
    }
}

impl FusedIterator for Compound<'_> {}

/// Byte offsets in the SMB2 header (§2.2.1.1 async, §2.2.1.2 sync).
mod field {
    pub const PROTOCOL_ID: usize = 0;
    pub const STRUCTURE_SIZE: usize = 4;
    pub const CREDIT_CHARGE: usize = 6;
    /// Status (responses) / ChannelSequence + Reserved (3.x requests).
    pub const STATUS: usize = 8;
    pub const COMMAND: usize = 12;
    pub const CREDITS: usize = 14;
    pub const FLAGS: usize = 16;
    pub const NEXT_COMMAND: usize = 20;
    pub const MESSAGE_ID: usize = 24;
    /// Async form only.
    pub const ASYNC_ID: usize = 32;
    /// Sync form only (after 4 reserved bytes at 32).
    pub const TREE_ID: usize = 36;
    pub const SESSION_ID: usize = 40;
    pub const SIGNATURE: usize = 48;
}

// Fixed-offset reads from the 64-byte header. Every caller passes a `field::` constant, all of
// which leave room for the read inside 64 bytes.
fn rd16(h: &[u8; HEADER_LEN], off: usize) -> u16 {
    u16::from_le_bytes([h[off], h[off + 1]])
}

fn rd32(h: &[u8; HEADER_LEN], off: usize) -> u32 {
    u32::from_le_bytes([h[off], h[off + 1], h[off + 2], h[off + 3]])
}

fn rd64(h: &[u8; HEADER_LEN], off: usize) -> u64 {
    u64::from(rd32(h, off)) | (u64::from(rd32(h, off + 4)) << 32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smb::testutil::{build, check_raw_prefixes, hex, nbss_payload};

    // zeek/smb311.pcap frame 6: SESSION_SETUP response, signed, SessionId 0x0000281cac000069.
    const SMB311_F6: &str = "00000048fe534d42400000000000000001008200090000000000000002000000000000000b01000000000000690000ac1c280000a40707763fffe1927a5bf65fed0f65910900000048000000";

    #[test]
    fn parses_real_sync_header() {
        let m = nbss_payload(SMB311_F6);
        let h = Header::parse(&m).unwrap();
        assert_eq!(h.command(), Command::SESSION_SETUP);
        assert_eq!(h.command().to_string(), "SESSION_SETUP");
        assert_eq!(h.status(), NtStatus::SUCCESS);
        assert_eq!(h.credit_charge(), 0);
        assert_eq!(h.credits(), 130);
        assert_eq!(h.flags(), 0x9);
        assert!(h.is_response() && h.is_signed() && !h.is_async() && !h.is_related());
        assert_eq!(h.next_command(), 0);
        assert_eq!(h.message_id(), 2);
        assert_eq!(h.tree_id(), Some(0)); // tshark: Tree Id 0, Process Id 0x10b
        assert_eq!(h.async_id(), None);
        assert_eq!(h.session_id(), 0x0000_281c_ac00_0069);
        assert_eq!(
            h.signature(),
            &<[u8; 16]>::try_from(hex("a40707763fffe1927a5bf65fed0f6591")).unwrap()
        );
        assert_eq!(h.body(), &hex("0900000048000000")[..]);
        assert_eq!(h.raw(), &m[..]);
    }

    #[test]
    fn parses_real_async_header() {
        // zeek/smb2readwrite.pcap frame 17: CHANGE_NOTIFY interim response, STATUS_PENDING,
        // async, Async Id 0x4d5 (tshark).
        let m = nbss_payload(
            "00000049fe534d4240000000030100000f0001000300000000000000d504000000000000d504000000000000c01c233c0000000000000000000000000000000000000000090000000000000021",
        );
        let h = Header::parse(&m).unwrap();
        assert_eq!(h.status(), NtStatus::PENDING);
        assert_eq!(h.command(), Command::CHANGE_NOTIFY);
        assert!(h.is_async() && h.is_response());
        assert_eq!(h.async_id(), Some(0x4d5));
        assert_eq!(h.tree_id(), None);
        assert_eq!(h.message_id(), 1237);
        assert_eq!(h.session_id(), 0x3c23_1cc0);
    }

    #[test]
    fn rejects_bad_headers() {
        let mut m = build(0, 0, 0, &[]);
        assert!(Header::parse(&m).is_ok());
        m[0] = 0xFF;
        assert_eq!(Header::parse(&m).unwrap_err().offset, 0);
        m[0] = 0xFE;
        // An odd StructureSize is tolerated (zeek/smb2_fscontrol.pcap frame 4 has 319).
        m[4] = 63;
        assert_eq!(Header::parse(&m).map(|h| h.structure_size()), Ok(63));
        check_raw_prefixes(&build(5, 0, 0, &[1, 2, 3]), 64, |b| {
            Header::parse(b).is_ok()
        });
    }

    #[test]
    fn header_cuts_at_next_command() {
        let mut m = build(0, 0, 0, &[0u8; 16]);
        m[20] = 72; // NextCommand = 72 (inside the buffer)
        assert_eq!(Header::parse(&m).unwrap().raw().len(), 72);
        m[20] = 200; // past the end: to the end
        assert_eq!(Header::parse(&m).unwrap().raw().len(), 80);
        m[20] = 8; // inside the header: to the end
        assert_eq!(Header::parse(&m).unwrap().body().len(), 16);
    }

    // zeek/smb2-multiple-pdus.pcap frame 1: CREATE + SET_INFO + CLOSE requests, related.
    const PDUS_F1: &str = "000001b8fe534d4240000100000000000500000100000000f80000009803000000000000fffe0000b9b6e317fb8c8dbc0000000000000000000000000000000000000000390000ff020000000000000000000000000000000000000080001100800000000000000001000000000000007800180090000000680000007400650073007400660069006c0065002e00740078007400180000001000040000000000000000004d784163000000000000000010000400000018003400000052714c7300000000aa380037c6de80a30ba559d4e8af6dc500000000040000000000000000000000ddcaa13c97574b0189d461e272e0e4d10000000000000000fe534d4240000100000000001100000104000000680000009903000000000000fffe0000b9b6e317fb8c8dbc00000000000000000000000000000000000000002100010d010000006000000000000000ffffffffffffffffffffffffffffffff0100000000000000fe534d4240000100000000000600000104000000000000009a03000000000000fffe0000b9b6e317fb8c8dbc00000000000000000000000000000000000000001800000000000000ffffffffffffffffffffffffffffffff";

    #[test]
    fn splits_real_compound() {
        let m = nbss_payload(PDUS_F1);
        let parts: Vec<_> = split_compound(&m).collect::<Result<_>>().unwrap();
        let cmds: Vec<_> = parts.iter().map(|h| h.command()).collect();
        assert_eq!(
            cmds,
            [Command::CREATE, Command::SET_INFO, Command::CLOSE],
            "tshark: smb2.cmd 5,17,6"
        );
        let lens: Vec<_> = parts.iter().map(|h| h.raw().len()).collect();
        assert_eq!(lens, [0xf8, 0x68, m.len() - 0xf8 - 0x68]);
        assert_eq!(parts[0].message_id(), 0x398);
        assert!(!parts[0].is_related() && parts[1].is_related() && parts[2].is_related());
        assert_eq!(parts[1].raw().as_ptr(), m[0xf8..].as_ptr());
        // The first message covers its padding up to NextCommand.
        assert_eq!(parts[0].body().len(), 0xf8 - 64);
        // Header::parse alone gives the first message only.
        assert_eq!(Header::parse(&m).unwrap().raw().len(), 0xf8);
    }

    #[test]
    fn real_compound_response() {
        // zeek/smb2-multiple-pdus.pcap frame 2: CREATE + SET_INFO + CLOSE responses.
        let m = nbss_payload(
            "000001d0fe534d4240000100000000000500000001000000080100009803000000000000fffe0000b9b6e317fb8c8dbc00000000000000000000000000000000000000005900ff0001000000f00e7cb67554da01eaef46d87854da011b187cb67554da011b187cb67554da0100100000000000000c000000000000002000000000000000b3ab5b6400000000bd96b75100000000980000006c000000200000001000040000001800080000004d7841630000000000000000ff011f000000000010000400000018003400000052714c7300000000aa380037c6de80a30ba559d4e8af6dc500000000000000000000000000000000000000000000000000000000000000000100000000000000fe534d4240000100000000001100000005000000480000009903000000000000fffe0000b9b6e317fb8c8dbc00000000000000000000000000000000000000000200000000000000fe534d4240000100000000000600030005000000000000009a03000000000000fffe0000b9b6e317fb8c8dbc00000000000000000000000000000000000000003c000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
        );
        let parts: Vec<_> = split_compound(&m).collect::<Result<_>>().unwrap();
        assert_eq!(parts.len(), 3);
        assert!(parts.iter().all(|h| h.is_response()));
        assert_eq!(parts[2].command(), Command::CLOSE);
    }

    #[test]
    fn compound_errors_end_iteration() {
        let mut a = build(5, 0, 0, &[0u8; 8]); // 72 bytes
        let b = build(6, flags::RELATED_OPERATIONS, 0, &[0u8; 24]);
        a[20] = 72;
        let mut m = a.clone();
        m.extend_from_slice(&b);
        assert_eq!(split_compound(&m).filter(|r| r.is_ok()).count(), 2);

        // Unaligned.
        let mut bad = m.clone();
        bad[20] = 68;
        let items: Vec<_> = split_compound(&bad).collect();
        assert_eq!(items.len(), 1);
        let e = items[0].unwrap_err();
        assert_eq!((e.offset, e.reason), (20, "NextCommand not 8-byte aligned"));

        // Below 64.
        bad[20] = 56;
        assert_eq!(split_compound(&bad).next().unwrap().unwrap_err().offset, 20);
        assert_eq!(split_compound(&bad).count(), 1);

        // Past the end (in the second message: offset is relative to the whole buffer).
        let mut bad = m.clone();
        bad[72 + 20] = 0x80;
        let items: Vec<_> = split_compound(&bad).collect();
        assert_eq!(items.len(), 2);
        assert!(items[0].is_ok());
        assert_eq!(items[1].unwrap_err().offset, 72 + 20);

        // Second header corrupt: the error offset points into it.
        let mut bad = m.clone();
        bad[72] = 0;
        let items: Vec<_> = split_compound(&bad).collect();
        assert_eq!(items[1].unwrap_err().offset, 72);

        // NextCommand exactly at the end: the message, then "truncated header".
        let items: Vec<_> = split_compound(&a).collect();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].unwrap().raw().len(), 72);
        assert!(items[1].is_err());

        // Huge NextCommand does not overflow.
        let mut bad = a.clone();
        bad[20..24].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(split_compound(&bad).next().unwrap().is_err());
        assert_eq!(split_compound(&[]).count(), 1);
    }

    #[test]
    fn compound_prefixes_never_panic() {
        let m = nbss_payload(PDUS_F1);
        for n in 0..=m.len() {
            let items: Vec<_> = split_compound(&m[..n]).collect();
            assert!(!items.is_empty());
            // Only the last item may be an error.
            assert!(items[..items.len() - 1].iter().all(|r| r.is_ok()));
        }
    }
}
