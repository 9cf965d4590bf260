//! SMB2 NEGOTIATE request and response ([MS-SMB2] §2.2.3, §2.2.4) and the 3.1.1 negotiate
//! contexts (§2.2.3.1.x).
//!
//! Not the hot path: the decoded structs own small `Vec`s. Offsets in the messages count from the
//! start of the SMB2 header ([`Header::raw`]). A malformed negotiate context never loses the
//! fixed fields: a context whose data does not decode becomes [`NegotiateContext::Unknown`], and
//! a context list that runs off the end of the message is cut there.

use crate::smb::header::Header;
use crate::smb::util::{buffer_at, bytes16_at, u16_at, u32_at, u64_at, utf16le_to_string};
use crate::wire::{Layer, ParseError, Result};
use crate::wire_enum;

wire_enum! {
    /// SMB2 dialect revision (§2.2.3 Dialects, §2.2.4 DialectRevision).
    pub struct Dialect(u16) {
        SMB2_0_2 = 0x0202 => "2.0.2",
        SMB2_1 = 0x0210 => "2.1",
        SMB3_0 = 0x0300 => "3.0",
        SMB3_0_2 = 0x0302 => "3.0.2",
        SMB3_1_1 = 0x0311 => "3.1.1",
        /// Response to a multi-protocol SMB1 NEGOTIATE that offered "SMB 2.???" (§3.3.5.3.1).
        WILDCARD = 0x02FF => "2.???",
    }
}

pub use crate::wire::{Cipher, SigningAlgorithm};

wire_enum! {
    /// Compression algorithm id (§2.2.3.1.3; codecs in [MS-XCA]).
    pub struct CompressionAlgorithm(u16) {
        NONE = 0x0000 => "none",
        LZNT1 = 0x0001 => "LZNT1",
        LZ77 = 0x0002 => "LZ77",
        LZ77_HUFFMAN = 0x0003 => "LZ77+Huffman",
        PATTERN_V1 = 0x0004 => "Pattern_V1",
        LZ4 = 0x0005 => "LZ4",
    }
}

wire_enum! {
    /// Preauth integrity hash algorithm id (§2.2.3.1.1).
    pub struct HashAlgorithm(u16) {
        SHA512 = 0x0001 => "SHA-512",
    }
}

wire_enum! {
    /// Negotiate context type (§2.2.3.1).
    pub struct NegotiateContextType(u16) {
        PREAUTH_INTEGRITY_CAPABILITIES = 0x0001 => "SMB2_PREAUTH_INTEGRITY_CAPABILITIES",
        ENCRYPTION_CAPABILITIES = 0x0002 => "SMB2_ENCRYPTION_CAPABILITIES",
        COMPRESSION_CAPABILITIES = 0x0003 => "SMB2_COMPRESSION_CAPABILITIES",
        NETNAME_NEGOTIATE_CONTEXT_ID = 0x0005 => "SMB2_NETNAME_NEGOTIATE_CONTEXT_ID",
        TRANSPORT_CAPABILITIES = 0x0006 => "SMB2_TRANSPORT_CAPABILITIES",
        RDMA_TRANSFORM_CAPABILITIES = 0x0007 => "SMB2_RDMA_TRANSFORM_CAPABILITIES",
        SIGNING_CAPABILITIES = 0x0008 => "SMB2_SIGNING_CAPABILITIES",
        /// Samba's SMB3 POSIX extensions (not in MS-SMB2; seen in zeek/smb2_100_small_files.pcap).
        POSIX_EXTENSIONS_CAPABILITIES = 0x0100 => "SMB2_POSIX_EXTENSIONS_CAPABILITIES",
    }
}

/// SecurityMode bits (§2.2.3, §2.2.4; the SESSION_SETUP request uses the same bits in a u8).
pub mod security_mode {
    /// SMB2_NEGOTIATE_SIGNING_ENABLED.
    pub const SIGNING_ENABLED: u16 = 0x0001;
    /// SMB2_NEGOTIATE_SIGNING_REQUIRED.
    pub const SIGNING_REQUIRED: u16 = 0x0002;
}

/// Capabilities bits (§2.2.3, §2.2.4).
pub mod capabilities {
    /// SMB2_GLOBAL_CAP_DFS.
    pub const DFS: u32 = 0x0000_0001;
    /// SMB2_GLOBAL_CAP_LEASING.
    pub const LEASING: u32 = 0x0000_0002;
    /// SMB2_GLOBAL_CAP_LARGE_MTU (multi-credit requests).
    pub const LARGE_MTU: u32 = 0x0000_0004;
    /// SMB2_GLOBAL_CAP_MULTI_CHANNEL.
    pub const MULTI_CHANNEL: u32 = 0x0000_0008;
    /// SMB2_GLOBAL_CAP_PERSISTENT_HANDLES.
    pub const PERSISTENT_HANDLES: u32 = 0x0000_0010;
    /// SMB2_GLOBAL_CAP_DIRECTORY_LEASING.
    pub const DIRECTORY_LEASING: u32 = 0x0000_0020;
    /// SMB2_GLOBAL_CAP_ENCRYPTION (3.0/3.0.2 encryption; 3.1.1 uses the cipher context).
    pub const ENCRYPTION: u32 = 0x0000_0040;
    /// SMB2_GLOBAL_CAP_NOTIFICATIONS (3.1.1).
    pub const NOTIFICATIONS: u32 = 0x0000_0080;
}

/// COMPRESSION_CAPABILITIES Flags (§2.2.3.1.3).
pub mod compression_flags {
    /// SMB2_COMPRESSION_CAPABILITIES_FLAG_NONE.
    pub const NONE: u32 = 0x0000_0000;
    /// SMB2_COMPRESSION_CAPABILITIES_FLAG_CHAINED: chained compression supported.
    pub const CHAINED: u32 = 0x0000_0001;
}

/// TRANSPORT_CAPABILITIES Flags (§2.2.3.1.5).
pub mod transport_flags {
    /// SMB2_ACCEPT_TRANSPORT_LEVEL_SECURITY: SMB encryption is skipped on this connection
    /// (SMB over QUIC).
    pub const ACCEPT_TRANSPORT_LEVEL_SECURITY: u32 = 0x0000_0001;
}

/// RDMA transform ids (§2.2.3.1.6).
pub mod rdma_transform {
    /// SMB2_RDMA_TRANSFORM_NONE.
    pub const NONE: u16 = 0x0000;
    /// SMB2_RDMA_TRANSFORM_ENCRYPTION.
    pub const ENCRYPTION: u16 = 0x0001;
    /// SMB2_RDMA_TRANSFORM_SIGNING.
    pub const SIGNING: u16 = 0x0002;
}

/// One decoded negotiate context (§2.2.3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NegotiateContext<'a> {
    /// SMB2_PREAUTH_INTEGRITY_CAPABILITIES (§2.2.3.1.1).
    PreauthIntegrity {
        hash_algorithms: Vec<HashAlgorithm>,
        salt: &'a [u8],
    },
    /// SMB2_ENCRYPTION_CAPABILITIES (§2.2.3.1.2): the client's preference list, or the one
    /// cipher the server chose (`Cipher::NONE` = no common cipher).
    Encryption { ciphers: Vec<Cipher> },
    /// SMB2_COMPRESSION_CAPABILITIES (§2.2.3.1.3); `flags` see [`compression_flags`].
    Compression {
        flags: u32,
        algorithms: Vec<CompressionAlgorithm>,
    },
    /// SMB2_NETNAME_NEGOTIATE_CONTEXT_ID (§2.2.3.1.4): the server name the client dialled.
    NetName(String),
    /// SMB2_TRANSPORT_CAPABILITIES (§2.2.3.1.5); `flags` see [`transport_flags`].
    TransportCapabilities { flags: u32 },
    /// SMB2_RDMA_TRANSFORM_CAPABILITIES (§2.2.3.1.6); ids see [`rdma_transform`].
    RdmaTransform { transforms: Vec<u16> },
    /// SMB2_SIGNING_CAPABILITIES (§2.2.3.1.7).
    Signing { algorithms: Vec<SigningAlgorithm> },
    /// A context of an unknown type, or a known type whose data does not decode.
    Unknown { context_type: u16, data: &'a [u8] },
}

impl NegotiateContext<'_> {
    /// The ContextType this context came from.
    pub fn context_type(&self) -> NegotiateContextType {
        NegotiateContextType(match self {
            NegotiateContext::PreauthIntegrity { .. } => 0x0001,
            NegotiateContext::Encryption { .. } => 0x0002,
            NegotiateContext::Compression { .. } => 0x0003,
            NegotiateContext::NetName(_) => 0x0005,
            NegotiateContext::TransportCapabilities { .. } => 0x0006,
            NegotiateContext::RdmaTransform { .. } => 0x0007,
            NegotiateContext::Signing { .. } => 0x0008,
            NegotiateContext::Unknown { context_type, .. } => *context_type,
        })
    }
}

/// SMB2 NEGOTIATE request (§2.2.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiateRequest<'a> {
    /// See [`security_mode`].
    pub security_mode: u16,
    /// See [`capabilities`].
    pub capabilities: u32,
    pub client_guid: [u8; 16],
    pub dialects: Vec<Dialect>,
    /// Present only when 3.1.1 is offered.
    pub contexts: Vec<NegotiateContext<'a>>,
}

impl<'a> NegotiateRequest<'a> {
    /// Parses the request body of `h`. Contexts are read only when `Dialects` contains 0x0311
    /// (otherwise those bytes are ClientStartTime).
    pub fn parse(h: &Header<'a>) -> Result<Self> {
        h.fixed_body(field::REQ_STRUCTURE_SIZE)?;
        let raw = h.raw();
        let count = u16_at(raw, field::REQ_DIALECT_COUNT, Layer::Smb2)?;
        let dialect_bytes = raw
            .get(field::REQ_DIALECTS..)
            .and_then(|d| d.get(..usize::from(count) * 2))
            .ok_or(ParseError::new(
                Layer::Smb2,
                field::REQ_DIALECTS,
                "dialect list truncated",
            ))?;
        let dialects: Vec<Dialect> = dialect_bytes
            .chunks_exact(2)
            .map(|p| Dialect(u16::from_le_bytes([p[0], p[1]])))
            .collect();
        let contexts = if dialects.contains(&Dialect::SMB3_1_1) {
            parse_contexts(
                raw,
                u32_at(raw, field::REQ_CONTEXT_OFFSET, Layer::Smb2)?,
                u16_at(raw, field::REQ_CONTEXT_COUNT, Layer::Smb2)?,
            )
        } else {
            Vec::new()
        };
        Ok(NegotiateRequest {
            security_mode: u16_at(raw, field::REQ_SECURITY_MODE, Layer::Smb2)?,
            capabilities: u32_at(raw, field::REQ_CAPABILITIES, Layer::Smb2)?,
            client_guid: bytes16_at(raw, field::REQ_CLIENT_GUID, Layer::Smb2)?,
            dialects,
            contexts,
        })
    }

    /// Whether `dialect` is in the offered list.
    pub fn offers(&self, dialect: Dialect) -> bool {
        self.dialects.contains(&dialect)
    }

    /// SIGNING_REQUIRED is set.
    pub fn signing_required(&self) -> bool {
        self.security_mode & security_mode::SIGNING_REQUIRED != 0
    }

    /// The offered ciphers (empty without an encryption context).
    pub fn ciphers(&self) -> &[Cipher] {
        ciphers(&self.contexts)
    }

    /// The offered signing algorithms (empty without a signing context).
    pub fn signing_algorithms(&self) -> &[SigningAlgorithm] {
        signing_algorithms(&self.contexts)
    }

    /// Flags of the TRANSPORT_CAPABILITIES context, if present.
    pub fn transport_flags(&self) -> Option<u32> {
        transport_flags_of(&self.contexts)
    }

    /// The NETNAME context (the server name the client dialled), if present.
    pub fn net_name(&self) -> Option<&str> {
        self.contexts.iter().find_map(|c| match c {
            NegotiateContext::NetName(n) => Some(n.as_str()),
            _ => None,
        })
    }
}

/// SMB2 NEGOTIATE response (§2.2.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiateResponse<'a> {
    /// See [`security_mode`].
    pub security_mode: u16,
    pub dialect: Dialect,
    pub server_guid: [u8; 16],
    /// See [`capabilities`].
    pub capabilities: u32,
    pub max_transact_size: u32,
    pub max_read_size: u32,
    pub max_write_size: u32,
    /// FILETIME (100 ns since 1601-01-01 UTC).
    pub system_time: u64,
    /// FILETIME; often 0.
    pub server_start_time: u64,
    /// The GSS token (SPNEGO NegTokenInit), possibly empty.
    pub security_buffer: &'a [u8],
    /// Present only when the dialect is 3.1.1.
    pub contexts: Vec<NegotiateContext<'a>>,
}

impl<'a> NegotiateResponse<'a> {
    /// Parses the response body of `h`. A security buffer outside the message is an error;
    /// contexts are read only when the dialect is 0x0311.
    pub fn parse(h: &Header<'a>) -> Result<Self> {
        h.fixed_body(field::RSP_STRUCTURE_SIZE)?;
        let raw = h.raw();
        let dialect = Dialect(u16_at(raw, field::RSP_DIALECT, Layer::Smb2)?);
        let sec_off = u16_at(raw, field::RSP_SECBUF_OFFSET, Layer::Smb2)?;
        let sec_len = u16_at(raw, field::RSP_SECBUF_LENGTH, Layer::Smb2)?;
        let security_buffer =
            buffer_at(raw, usize::from(sec_off), usize::from(sec_len), Layer::Smb2)?;
        let contexts = if dialect == Dialect::SMB3_1_1 {
            parse_contexts(
                raw,
                u32_at(raw, field::RSP_CONTEXT_OFFSET, Layer::Smb2)?,
                u16_at(raw, field::RSP_CONTEXT_COUNT, Layer::Smb2)?,
            )
        } else {
            Vec::new()
        };
        Ok(NegotiateResponse {
            security_mode: u16_at(raw, field::RSP_SECURITY_MODE, Layer::Smb2)?,
            dialect,
            server_guid: bytes16_at(raw, field::RSP_SERVER_GUID, Layer::Smb2)?,
            capabilities: u32_at(raw, field::RSP_CAPABILITIES, Layer::Smb2)?,
            max_transact_size: u32_at(raw, field::RSP_MAX_TRANSACT, Layer::Smb2)?,
            max_read_size: u32_at(raw, field::RSP_MAX_READ, Layer::Smb2)?,
            max_write_size: u32_at(raw, field::RSP_MAX_WRITE, Layer::Smb2)?,
            system_time: u64_at(raw, field::RSP_SYSTEM_TIME, Layer::Smb2)?,
            server_start_time: u64_at(raw, field::RSP_START_TIME, Layer::Smb2)?,
            security_buffer,
            contexts,
        })
    }

    /// SIGNING_REQUIRED is set.
    pub fn signing_required(&self) -> bool {
        self.security_mode & security_mode::SIGNING_REQUIRED != 0
    }

    /// The cipher the server chose (3.1.1 encryption context). `Some(Cipher::NONE)` means no
    /// common cipher; `None` means no context (for 3.0/3.0.2 see
    /// [`capabilities::ENCRYPTION`]).
    pub fn cipher(&self) -> Option<Cipher> {
        ciphers(&self.contexts).first().copied()
    }

    /// The signing algorithm the server chose (3.1.1 signing context), if any.
    pub fn signing_algorithm(&self) -> Option<SigningAlgorithm> {
        signing_algorithms(&self.contexts).first().copied()
    }

    /// The preauth integrity hash algorithm the server chose, if any.
    pub fn preauth_hash_algorithm(&self) -> Option<HashAlgorithm> {
        self.contexts.iter().find_map(|c| match c {
            NegotiateContext::PreauthIntegrity {
                hash_algorithms, ..
            } => hash_algorithms.first().copied(),
            _ => None,
        })
    }

    /// The compression context: (flags, algorithms), if any.
    pub fn compression(&self) -> Option<(u32, &[CompressionAlgorithm])> {
        self.contexts.iter().find_map(|c| match c {
            NegotiateContext::Compression { flags, algorithms } => {
                Some((*flags, algorithms.as_slice()))
            }
            _ => None,
        })
    }

    /// Flags of the TRANSPORT_CAPABILITIES context, if the server echoed one.
    pub fn transport_flags(&self) -> Option<u32> {
        transport_flags_of(&self.contexts)
    }

    /// The server accepted transport-level security (SMB over QUIC): encryption is skipped.
    pub fn transport_security_accepted(&self) -> bool {
        self.transport_flags()
            .is_some_and(|f| f & transport_flags::ACCEPT_TRANSPORT_LEVEL_SECURITY != 0)
    }
}

/// Parses up to `count` contexts starting at `offset` (from the header start). Each context
/// after the first starts at the next 8-byte boundary (§2.2.3.1). Stops, keeping what it has,
/// where a context header or its data would run past the end of the message.
pub fn parse_contexts(raw: &[u8], offset: u32, count: u16) -> Vec<NegotiateContext<'_>> {
    let mut out = Vec::new();
    let Ok(mut pos) = usize::try_from(offset) else {
        return out;
    };
    for i in 0..count {
        if i > 0 {
            match pos.checked_next_multiple_of(8) {
                Some(p) => pos = p,
                None => break,
            }
        }
        let (Ok(ctype), Ok(dlen)) = (
            u16_at(raw, pos, Layer::Smb2),
            u16_at(raw, pos.saturating_add(2), Layer::Smb2),
        ) else {
            break;
        };
        let start = pos.saturating_add(ctx::HEADER_LEN);
        let Some(data) = start
            .checked_add(usize::from(dlen))
            .and_then(|end| raw.get(start..end))
        else {
            break;
        };
        out.push(decode_context(ctype, data));
        pos = start + data.len();
    }
    out
}

/// Decodes one context's data; anything that does not fit becomes `Unknown`.
fn decode_context(context_type: u16, data: &[u8]) -> NegotiateContext<'_> {
    let known = match NegotiateContextType(context_type) {
        NegotiateContextType::PREAUTH_INTEGRITY_CAPABILITIES => {
            let count = le16_in(data, 0);
            let salt_len = le16_in(data, 2);
            count.zip(salt_len).and_then(|(count, salt_len)| {
                let hash_algorithms = u16_list(data, 4, count, HashAlgorithm)?;
                let salt_at = 4 + 2 * usize::from(count);
                let salt = data.get(salt_at..salt_at + usize::from(salt_len))?;
                Some(NegotiateContext::PreauthIntegrity {
                    hash_algorithms,
                    salt,
                })
            })
        }
        NegotiateContextType::ENCRYPTION_CAPABILITIES => le16_in(data, 0)
            .and_then(|n| u16_list(data, 2, n, Cipher))
            .map(|ciphers| NegotiateContext::Encryption { ciphers }),
        NegotiateContextType::COMPRESSION_CAPABILITIES => {
            // Count u16, Padding u16, Flags u32, ids.
            let flags = data
                .get(4..8)
                .map(|f| u32::from_le_bytes([f[0], f[1], f[2], f[3]]));
            le16_in(data, 0)
                .zip(flags)
                .and_then(|(n, flags)| {
                    u16_list(data, 8, n, CompressionAlgorithm).map(|a| (flags, a))
                })
                .map(|(flags, algorithms)| NegotiateContext::Compression { flags, algorithms })
        }
        NegotiateContextType::NETNAME_NEGOTIATE_CONTEXT_ID => {
            Some(NegotiateContext::NetName(utf16le_to_string(data)))
        }
        NegotiateContextType::TRANSPORT_CAPABILITIES => {
            data.get(0..4)
                .map(|f| NegotiateContext::TransportCapabilities {
                    flags: u32::from_le_bytes([f[0], f[1], f[2], f[3]]),
                })
        }
        NegotiateContextType::RDMA_TRANSFORM_CAPABILITIES => le16_in(data, 0)
            .and_then(|n| u16_list(data, 8, n, |v| v))
            .map(|transforms| NegotiateContext::RdmaTransform { transforms }),
        NegotiateContextType::SIGNING_CAPABILITIES => le16_in(data, 0)
            .and_then(|n| u16_list(data, 2, n, SigningAlgorithm))
            .map(|algorithms| NegotiateContext::Signing { algorithms }),
        _ => None,
    };
    known.unwrap_or(NegotiateContext::Unknown { context_type, data })
}

fn le16_in(data: &[u8], off: usize) -> Option<u16> {
    u16_at(data, off, Layer::Smb2).ok()
}

/// `count` u16 values at `off` in `data`, mapped through `f`; `None` if they do not fit.
fn u16_list<T>(data: &[u8], off: usize, count: u16, f: impl Fn(u16) -> T) -> Option<Vec<T>> {
    let bytes = data.get(off..)?.get(..2 * usize::from(count))?;
    Some(
        bytes
            .chunks_exact(2)
            .map(|p| f(u16::from_le_bytes([p[0], p[1]])))
            .collect(),
    )
}

fn ciphers<'c>(contexts: &'c [NegotiateContext<'_>]) -> &'c [Cipher] {
    contexts
        .iter()
        .find_map(|c| match c {
            NegotiateContext::Encryption { ciphers } => Some(ciphers.as_slice()),
            _ => None,
        })
        .unwrap_or(&[])
}

fn signing_algorithms<'c>(contexts: &'c [NegotiateContext<'_>]) -> &'c [SigningAlgorithm] {
    contexts
        .iter()
        .find_map(|c| match c {
            NegotiateContext::Signing { algorithms } => Some(algorithms.as_slice()),
            _ => None,
        })
        .unwrap_or(&[])
}

fn transport_flags_of(contexts: &[NegotiateContext<'_>]) -> Option<u32> {
    contexts.iter().find_map(|c| match c {
        NegotiateContext::TransportCapabilities { flags } => Some(*flags),
        _ => None,
    })
}

/// Byte offsets from the start of the SMB2 header (§2.2.3, §2.2.4).
mod field {
    pub const REQ_STRUCTURE_SIZE: u16 = 36;
    pub const REQ_DIALECT_COUNT: usize = 66;
    pub const REQ_SECURITY_MODE: usize = 68;
    pub const REQ_CAPABILITIES: usize = 72;
    pub const REQ_CLIENT_GUID: usize = 76;
    /// NegotiateContextOffset (3.1.1) / first half of ClientStartTime (older).
    pub const REQ_CONTEXT_OFFSET: usize = 92;
    pub const REQ_CONTEXT_COUNT: usize = 96;
    pub const REQ_DIALECTS: usize = 100;

    pub const RSP_STRUCTURE_SIZE: u16 = 65;
    pub const RSP_SECURITY_MODE: usize = 66;
    pub const RSP_DIALECT: usize = 68;
    pub const RSP_CONTEXT_COUNT: usize = 70;
    pub const RSP_SERVER_GUID: usize = 72;
    pub const RSP_CAPABILITIES: usize = 88;
    pub const RSP_MAX_TRANSACT: usize = 92;
    pub const RSP_MAX_READ: usize = 96;
    pub const RSP_MAX_WRITE: usize = 100;
    pub const RSP_SYSTEM_TIME: usize = 104;
    pub const RSP_START_TIME: usize = 112;
    pub const RSP_SECBUF_OFFSET: usize = 120;
    pub const RSP_SECBUF_LENGTH: usize = 122;
    pub const RSP_CONTEXT_OFFSET: usize = 124;
}

/// Negotiate context header (§2.2.3.1): ContextType u16, DataLength u16, Reserved u32.
mod ctx {
    pub const HEADER_LEN: usize = 8;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smb::testutil::{build, check_prefixes, hex, nbss_payload};

    fn req(v: &str) -> NegotiateRequest<'static> {
        let m: &'static [u8] = nbss_payload(v).leak();
        NegotiateRequest::parse(&Header::parse(m).unwrap()).unwrap()
    }

    fn rsp(v: &str) -> NegotiateResponse<'static> {
        let m: &'static [u8] = nbss_payload(v).leak();
        NegotiateResponse::parse(&Header::parse(m).unwrap()).unwrap()
    }

    // zeek/smb311.pcap frame 1 (values from tshark -V).
    const SMB311_F1: &str = "000000b8fe534d42400000000000000000000200000000000000000000000000000000000b01000000000000000000000000000000000000000000000000000000000000240001000100000077000000b466f294dc014341828b4cefaf39f64b6800000003000000110300000100260000000000010020000100b9247cbf6ee50ba6d8c1a2af2de2af73bab483ed7003e3202514ccd13dd727e400000200040000000000010001000000000000010800000000000000000000000000";
    // zeek/smb311.pcap frame 2.
    const SMB311_F2: &str = "00000134fe534d42400000000000000000000100010000000000000000000000000000000b0100000000000000000000000000000000000000000000000000000000000041000300110302004b29be9c63ddb6478d1f3dce81383e6927000000000080000000800000008000f54d127914a9d40187bf26da6b6dd40180007800f8000000607606062b0601050502a06c306aa03c303a060a2b06010401823702021e06092a864882f71201020206092a864886f712010202060a2a864886f71201020203060a2b06010401823702020aa32a3028a0261b246e6f745f646566696e65645f696e5f5246433431373840706c656173655f69676e6f7265010026000000000001002000010017a395280d0d74ec5ae50e1aef85075d55998642d0ebc808e00aad01709a2fb70000020004000000000001000100";

    #[test]
    fn smb311_request() {
        let r = req(SMB311_F1);
        assert_eq!(r.dialects, [Dialect::SMB3_1_1]);
        assert_eq!(r.security_mode, security_mode::SIGNING_ENABLED);
        assert_eq!(r.capabilities, 0x77);
        assert_eq!(
            r.client_guid[..],
            hex("b466f294dc014341828b4cefaf39f64b")[..]
        );
        assert_eq!(r.contexts.len(), 3);
        let salt = hex("b9247cbf6ee50ba6d8c1a2af2de2af73bab483ed7003e3202514ccd13dd727e4");
        assert_eq!(
            r.contexts[0],
            NegotiateContext::PreauthIntegrity {
                hash_algorithms: vec![HashAlgorithm::SHA512],
                salt: &salt
            }
        );
        assert_eq!(r.ciphers(), [Cipher::AES_128_CCM]);
        // Samba POSIX extensions: kept as Unknown, 8 zero bytes.
        assert_eq!(
            r.contexts[2],
            NegotiateContext::Unknown {
                context_type: 0x0100,
                data: &[0; 8]
            }
        );
        assert_eq!(
            r.contexts[2].context_type(),
            NegotiateContextType::POSIX_EXTENSIONS_CAPABILITIES
        );
        assert!(r.offers(Dialect::SMB3_1_1) && !r.offers(Dialect::SMB3_0));
        assert!(!r.signing_required());
    }

    #[test]
    fn smb311_response() {
        let r = rsp(SMB311_F2);
        assert_eq!(r.dialect, Dialect::SMB3_1_1);
        assert_eq!(r.dialect.to_string(), "3.1.1");
        assert_eq!(r.security_mode, 3);
        assert!(r.signing_required());
        assert_eq!(r.capabilities, 0x27);
        assert_eq!(
            r.server_guid[..],
            hex("4b29be9c63ddb6478d1f3dce81383e69")[..]
        );
        assert_eq!(
            (r.max_transact_size, r.max_read_size, r.max_write_size),
            (8388608, 8388608, 8388608)
        );
        assert_eq!(r.security_buffer.len(), 120);
        assert_eq!(r.security_buffer[..2], [0x60, 0x76]);
        assert_eq!(r.cipher(), Some(Cipher::AES_128_CCM));
        assert_eq!(r.preauth_hash_algorithm(), Some(HashAlgorithm::SHA512));
        assert_eq!(r.signing_algorithm(), None);
        assert!(!r.transport_security_accepted());
        assert_eq!(
            r.contexts[0].context_type().to_string(),
            "SMB2_PREAUTH_INTEGRITY_CAPABILITIES"
        );
    }

    #[test]
    fn multichannel_request_has_all_context_kinds() {
        // zeek/smb3_multichannel.pcap frame 4.
        let r = req(
            "000000f4fe534d4240000100000000000000210010000000000000000000000000000000fffe00000000000000000000000000000000000000000000000000000000000024000500010000007f0000003896c99e8322eb11b7bb005056992e1470000000050000000202100200030203110300000100260000000000010020000100d0dffac55b48d275c822286107fcbfb6c0bd37549c9a205c5860f9e198c38cde00000200060000000000020002000100000003001000000000000400000001000000040002000300010005001800000000003100370032002e00310037002e0030002e00310038003900060004000000000000000000",
        );
        assert_eq!(r.dialects.len(), 5);
        assert_eq!(r.capabilities, 0x7f);
        assert_eq!(r.ciphers(), [Cipher::AES_128_GCM, Cipher::AES_128_CCM]);
        assert_eq!(
            r.contexts[2],
            NegotiateContext::Compression {
                flags: compression_flags::CHAINED,
                algorithms: vec![
                    CompressionAlgorithm::PATTERN_V1,
                    CompressionAlgorithm::LZ77,
                    CompressionAlgorithm::LZ77_HUFFMAN,
                    CompressionAlgorithm::LZNT1
                ]
            }
        );
        assert_eq!(r.net_name(), Some("172.17.0.189"));
        assert_eq!(r.transport_flags(), Some(0));
    }

    #[test]
    fn multichannel_response_compression() {
        // zeek/smb3_multichannel.pcap frame 5.
        let r = rsp(
            "00000214fe534d4240000100000000000000010011000000000000000000000000000000fffe0000000000000000000000000000000000000000000000000000000000004100010011030300697cdefa23c9b54eb5f652c14990838b2f0000000000800000008000000080008c8ede02f8b8d601000000000000000080004001c00100006082013c06062b0601050502a08201303082012ca01a3018060a2b06010401823702021e060a2b06010401823702020aa282010c048201084e45474f4558545301000000000000006000000070000000d996b5b0235c7deb218da966322f4ef9d2fa8645d879d0bc31fe5a00196c3aa5e830adbc2e899604f10c9558bd5bcc1a0000000000000000600000000100000000000000000000005c33530deaf90d4db2ec4ae3786ec3084e45474f4558545303000000010000004000000098000000d996b5b0235c7deb218da966322f4ef95c33530deaf90d4db2ec4ae3786ec30840000000580000003056a05430523027802530233121301f06035504031318546f6b656e205369676e696e67205075626c6963204b65793027802530233121301f06035504031318546f6b656e205369676e696e67205075626c6963204b65790100260000000000010020000100cf7610c11547f4d145208972704950a897885d8086043f5cfb8e637dc5fc700100000200040000000000010002000000000003000c0000000000020000000100000002000400",
        );
        assert_eq!(r.cipher(), Some(Cipher::AES_128_GCM));
        let (flags, algs) = r.compression().unwrap();
        assert_eq!(flags, compression_flags::CHAINED);
        assert_eq!(
            algs,
            [CompressionAlgorithm::LZ77, CompressionAlgorithm::PATTERN_V1]
        );
    }

    #[test]
    fn signing_context() {
        // zeek/smb2.delete-on-close-perms-delete-existing.pcap frames 4 and 6.
        let q = req(
            "000000e2fe534d42400000000000000000001f0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000024000500010000007f000000fb6e47cd7d942d44ab9c4ddd36f25e00700000000400000002021002000302031103000001002600000000000100200001005209002bf4f12367e6380fd4799a7718a1679858dc7935b7399205115e4c3f06000002000a0000000000040002000100040003000000000000000800080000000000030002000100000005001200000000003100320037002e0030002e0030002e003100",
        );
        assert_eq!(
            q.signing_algorithms(),
            [
                SigningAlgorithm::AES_GMAC,
                SigningAlgorithm::AES_CMAC,
                SigningAlgorithm::HMAC_SHA256
            ]
        );
        assert_eq!(q.net_name(), Some("127.0.0.1"));
        let r = rsp(
            "0000011cfe534d42400000000000000000000100010000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000410001001103030074696e6b7978333930000000000000000f0000000000800000008000000080002ae90c948398d801000000000000000080004a00d0000000604806062b0601050502a03e303ca00e300c060a2b06010401823702020aa32a3028a0261b246e6f745f646566696e65645f696e5f5246433431373840706c656173655f69676e6f72650000000000000100260000000000010020000100d5c99f8f2c450132c4a49919e66f56f5de7acb90dac5d72f312f5888b510eed6000002000400000000000100020000000000080004000000000001000200",
        );
        assert_eq!(r.signing_algorithm(), Some(SigningAlgorithm::AES_GMAC));
        assert_eq!(r.security_mode, security_mode::SIGNING_ENABLED);
    }

    #[test]
    fn compression_request_smbghost() {
        // zeek/SMBGhost.pcap frame 4: 8 dialects, compression context (chained) with LZNT1.
        let r = req(
            "000000c0fe534d42400000000000000000001f0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000024000800010000007f000000000000000000000000000000000000007800000002000000020210022202240200030203100311030000000001002600000000000100200001000000000000000000000000000000000000000000000000000000000000000000000003000a000000000001000000010000000100000000000000",
        );
        assert_eq!(r.dialects.len(), 8);
        assert!(r.contexts.contains(&NegotiateContext::Compression {
            flags: compression_flags::CHAINED,
            algorithms: vec![CompressionAlgorithm::LZNT1]
        }));
    }

    #[test]
    fn older_dialects_have_no_contexts() {
        // suricata-verify/smb3-01__input.pcap frames 1 and 2 (SMB 3.0).
        let q = req(
            "00000066fe534d4240000000000000000000020000000000000000000000000000000000d500000000000000000000000000000000000000000000000000000000000000240001000100000057000000b2fceea195244165893fbf5b2c69acd400000000000000000003",
        );
        assert_eq!(q.dialects, [Dialect::SMB3_0]);
        assert_eq!(q.capabilities, 0x57);
        assert!(q.contexts.is_empty());
        let r = rsp(
            "000000f8fe534d4240000000000000000000010001000000000000000000000000000000d50000000000000000000000000000000000000000000000000000000000000041000300000300004bf432bf8f92054890c03ddf2546646e470000000000800000008000000080008a8ce7a9f4ced20100b579abb4cdd2018000780000000000607606062b0601050502a06c306aa03c303a060a2b06010401823702021e06092a864882f71201020206092a864886f712010202060a2a864886f71201020203060a2b06010401823702020aa32a3028a0261b246e6f745f646566696e65645f696e5f5246433431373840706c656173655f69676e6f7265",
        );
        assert_eq!(r.dialect, Dialect::SMB3_0);
        assert_eq!(
            r.capabilities & capabilities::ENCRYPTION,
            capabilities::ENCRYPTION
        );
        assert!(r.signing_required());
        assert_eq!(r.cipher(), None);
        // zeek/smb3_negotiate_context.pcap frame 10: wildcard answer to an SMB1 NEGOTIATE.
        let w = rsp(
            "000000cafe534d4240000000000000000000010001000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000041000100ff0200006e657773746f72616765000000000000050000000000800000008000000080004a3c74420159d501000000000000000080004a0000000000604806062b0601050502a03e303ca00e300c060a2b06010401823702020aa32a3028a0261b246e6f745f646566696e65645f696e5f5246433431373840706c656173655f69676e6f7265",
        );
        assert_eq!(w.dialect, Dialect::WILDCARD);
        assert_eq!(w.dialect.to_string(), "2.???");
        assert_eq!((w.capabilities, w.security_buffer.len()), (5, 74));
    }

    #[test]
    fn truncated_prefixes() {
        let q = nbss_payload(SMB311_F1);
        // Fixed part + one dialect; after that, shorter context lists are valid parses.
        check_prefixes(&q, 102, |h| NegotiateRequest::parse(h).is_ok());
        let r = nbss_payload(SMB311_F2);
        // Fixed part and the 120-byte security buffer at 128.
        check_prefixes(&r, 248, |h| NegotiateResponse::parse(h).is_ok());
        let h = Header::parse(&r[..r.len() - 1]).unwrap();
        assert_eq!(NegotiateResponse::parse(&h).unwrap().contexts.len(), 1);
    }

    /// A 3.1.1 request with the given context bytes at offset 104 (count `n`).
    fn with_contexts(n: u16, ctx: &[u8]) -> Vec<u8> {
        let mut b = vec![0u8; 36];
        b[0] = 36;
        b[2] = 1; // DialectCount
        b[28..32].copy_from_slice(&104u32.to_le_bytes());
        b[32..34].copy_from_slice(&n.to_le_bytes());
        b.extend_from_slice(&[0x11, 0x03, 0, 0]);
        b.extend_from_slice(ctx);
        build(0, 0, 0, &b)
    }

    #[test]
    fn malformed_contexts_keep_the_rest() {
        // Encryption context claiming 9 ciphers in 4 bytes -> Unknown; then a good signing ctx.
        let ctx = hex("0200 0400 00000000 0900 0100 00000000  0800 0400 00000000 0100 0200");
        let m = with_contexts(2, &ctx);
        let r = NegotiateRequest::parse(&Header::parse(&m).unwrap()).unwrap();
        assert_eq!(r.dialects, [Dialect::SMB3_1_1]);
        assert_eq!(r.contexts.len(), 2);
        assert!(matches!(
            r.contexts[0],
            NegotiateContext::Unknown {
                context_type: 2,
                ..
            }
        ));
        assert_eq!(r.signing_algorithms(), [SigningAlgorithm::AES_GMAC]);

        // Count larger than what is there; last context's DataLength runs off the end.
        let ctx = hex("0600 0400 00000000 01000000  0100 ff00 00000000 0100");
        let m = with_contexts(0xFFFF, &ctx);
        let r = NegotiateRequest::parse(&Header::parse(&m).unwrap()).unwrap();
        assert_eq!(r.transport_flags(), Some(1));
        assert_eq!(r.contexts.len(), 1);

        // Short data for every known type -> Unknown, never a panic.
        for t in 1u8..=8 {
            let ctx = [t, 0, 1, 0, 0, 0, 0, 0, 0xFF];
            let m = with_contexts(1, &ctx);
            let r = NegotiateRequest::parse(&Header::parse(&m).unwrap()).unwrap();
            assert_eq!(r.contexts.len(), 1);
            if t != 5 {
                assert!(
                    matches!(r.contexts[0], NegotiateContext::Unknown { .. }),
                    "type {t}"
                );
            }
        }

        // Offset past the end or absurd: no contexts, fixed fields kept.
        let mut m = with_contexts(1, &[]);
        m[92..96].copy_from_slice(&u32::MAX.to_le_bytes());
        let r = NegotiateRequest::parse(&Header::parse(&m).unwrap()).unwrap();
        assert!(r.contexts.is_empty());
        assert_eq!(parse_contexts(&m, 0, 0), vec![]);
    }

    #[test]
    fn rejects_bad_fixed_parts() {
        let mut m = with_contexts(0, &[]);
        m[66] = 5; // 5 dialects, 1 present
        assert!(NegotiateRequest::parse(&Header::parse(&m).unwrap()).is_err());
        m[64] = 35; // StructureSize
        assert!(NegotiateRequest::parse(&Header::parse(&m).unwrap()).is_err());
        let mut r = nbss_payload(SMB311_F2);
        r[122] = 0xFF; // SecurityBufferLength past the end
        assert!(NegotiateResponse::parse(&Header::parse(&r).unwrap()).is_err());
    }
}
