//! QUIC packet headers (RFC 9000 §17, RFC 9369 §3.2): variable-length integers, long and short
//! headers, and the splitting of a UDP datagram into its coalesced packets (RFC 9000 §12.2).
//!
//! ```text
//! long:  |1|1|T T|R R|P P| Version (4) | DCIDLen | DCID | SCIDLen | SCID |
//!        Initial: Token Length (i) | Token |  then  Length (i) | PN (1-4) | payload+tag
//!        Retry:   Token (..) | Retry Integrity Tag (16)
//!        Version 0 = Version Negotiation: Supported Version (4) ...
//! short: |0|1|S|R R|K|P P| DCID (length known only from the connection) | PN (1-4) | payload+tag
//! ```
//!
//! The header is parsed while still protected: the reserved bits, the key phase and the packet
//! number length are masked until [`crate::quic::protect::Keys::open`] removes the protection.

use crate::wire::{Layer, ParseError, Reader, Result};

/// QUIC version 1 (RFC 9000).
pub const VERSION_1: u32 = 1;
/// QUIC version 2 (RFC 9369 §3.1).
pub const VERSION_2: u32 = 0x6b33_43cf;
/// The version field of a Version Negotiation packet (RFC 9000 §17.2.1).
pub const VERSION_NEGOTIATION: u32 = 0;
/// Largest connection ID in QUIC v1/v2 (RFC 9000 §17.2).
pub const MAX_CID_LEN: usize = 20;
/// Largest value a variable-length integer holds (RFC 9000 §16).
pub const VARINT_MAX: u64 = (1 << 62) - 1;

/// Header field offsets shared by every long header (RFC 9000 §17.2, RFC 8999 §5.1).
mod field {
    pub const FIRST_BYTE: usize = 0;
    pub const VERSION: usize = 1;
    pub const DCID_LEN: usize = 5;
    /// The smallest long header: first byte, version, DCID length and SCID length.
    pub const LONG_MIN: usize = 7;
}

/// First-byte bits (RFC 9000 §17.2, §17.3.1).
mod bits {
    /// Header Form: 1 = long header.
    pub const LONG: u8 = 0x80;
    /// Fixed Bit: 1 in every valid v1/v2 packet (unless greased, RFC 9287).
    pub const FIXED: u8 = 0x40;
    /// Long Packet Type, two bits at 0x30.
    pub const LONG_TYPE_SHIFT: u8 = 4;
    pub const LONG_TYPE_MASK: u8 = 0x03;
}

/// Length of the Retry Integrity Tag (RFC 9001 §5.8).
pub const RETRY_TAG_LEN: usize = 16;

/// Reads one variable-length integer (RFC 9000 §16): the top two bits of the first byte give the
/// length (1, 2, 4 or 8 bytes), the rest is the value, big-endian.
pub fn varint(r: &mut Reader<'_>) -> Result<u64> {
    let first = r.u8()?;
    let len = 1usize << (first >> 6);
    let mut v = u64::from(first & 0x3f);
    for &b in r.bytes(len - 1)? {
        v = (v << 8) | u64::from(b);
    }
    Ok(v)
}

/// The variable-length integer at `buf[off..]`: its value and its encoded length in bytes.
pub fn varint_at(buf: &[u8], off: usize) -> Result<(u64, usize)> {
    let mut r = Reader::at(buf, off, Layer::Quic);
    let v = varint(&mut r)?;
    Ok((v, r.pos() - off))
}

/// The kind of a QUIC packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketType {
    Initial,
    ZeroRtt,
    Handshake,
    Retry,
    VersionNegotiation,
    /// A short-header packet.
    OneRtt,
}

impl PacketType {
    /// The long-header packet type of `version` for the two type bits (RFC 9000 §17.2, table 5;
    /// RFC 9369 §3.2). `None` for a version whose layout is unknown.
    pub fn from_long_bits(version: u32, type_bits: u8) -> Option<PacketType> {
        let t = type_bits & bits::LONG_TYPE_MASK;
        Some(if version == VERSION_2 {
            match t {
                0 => PacketType::Retry,
                1 => PacketType::Initial,
                2 => PacketType::ZeroRtt,
                _ => PacketType::Handshake,
            }
        } else if has_v1_layout(version) {
            match t {
                0 => PacketType::Initial,
                1 => PacketType::ZeroRtt,
                2 => PacketType::Handshake,
                _ => PacketType::Retry,
            }
        } else {
            return None;
        })
    }

    /// Whether the packet carries a packet number and an AEAD-protected payload.
    pub fn is_protected(self) -> bool {
        !matches!(self, PacketType::Retry | PacketType::VersionNegotiation)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PacketType::Initial => "initial",
            PacketType::ZeroRtt => "0-rtt",
            PacketType::Handshake => "handshake",
            PacketType::Retry => "retry",
            PacketType::VersionNegotiation => "version-negotiation",
            PacketType::OneRtt => "1-rtt",
        }
    }
}

/// Whether `version` uses the QUIC v1 long-header layout and type codes: v1 itself and the
/// IETF drafts (0xff0000xx) that the Initial salts of [`crate::quic::protect`] cover.
pub fn has_v1_layout(version: u32) -> bool {
    version == VERSION_1 || is_draft(version)
}

/// Whether `version` is one of the late IETF drafts, 0xff000017 (draft-23) to 0xff000020
/// (draft-32), which share version 1's packet layout.
pub fn is_draft(version: u32) -> bool {
    (0xff00_0017..=0xff00_0020).contains(&version)
}

/// Whether this module can parse (and [`crate::quic::protect`] derive Initial keys for)
/// packets of `version`.
pub fn is_supported_version(version: u32) -> bool {
    version == VERSION_2 || has_v1_layout(version)
}

/// One QUIC packet inside a UDP datagram, header NOT yet unprotected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<'a> {
    pub ty: PacketType,
    /// The version field; 0 for short headers (and for Version Negotiation, whose version is 0).
    pub version: u32,
    pub dcid: &'a [u8],
    /// Empty for short headers.
    pub scid: &'a [u8],
    /// The Initial token, or the Retry token; empty otherwise.
    pub token: &'a [u8],
    /// Byte offset of the (protected) packet number within `raw`; 0 for Retry and Version
    /// Negotiation, which have none.
    pub pn_offset: usize,
    /// The whole packet (header + protected payload), for AAD and header-protection sampling.
    pub raw: &'a [u8],
    /// Version Negotiation only: the versions the server lists.
    pub supported_versions: Vec<u32>,
    /// Retry only: the Retry Integrity Tag (the last 16 bytes of `raw`).
    pub retry_integrity_tag: Option<&'a [u8; 16]>,
}

impl Packet<'_> {
    /// Long header (every type but [`PacketType::OneRtt`]).
    pub fn is_long(&self) -> bool {
        self.ty != PacketType::OneRtt
    }
}

/// Splits a UDP payload into its coalesced packets (long headers carry Length; a short-header
/// packet takes the rest). `short_dcid_len` is the DCID length to use for short headers (learnt
/// from the connection's long-header SCIDs); with `None` a short packet yields an error item.
///
/// Iteration stops after the first error item, since the next packet's start is then unknown,
/// and silently at trailing zero bytes (padding some stacks add after the last packet).
pub fn split_datagram(udp: &[u8], short_dcid_len: Option<usize>) -> Packets<'_> {
    Packets {
        udp,
        pos: 0,
        short_dcid_len,
        done: false,
    }
}

/// The iterator of [`split_datagram`]. Offsets in its errors are into the whole UDP payload.
#[derive(Debug, Clone)]
pub struct Packets<'a> {
    udp: &'a [u8],
    pos: usize,
    short_dcid_len: Option<usize>,
    done: bool,
}

impl<'a> Iterator for Packets<'a> {
    type Item = Result<Packet<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let rest = self.udp.get(self.pos..).unwrap_or(&[]);
        if rest.is_empty() || (self.pos > 0 && rest.iter().all(|&b| b == 0)) {
            self.done = true;
            return None;
        }
        match parse_packet(self.udp, self.pos, self.short_dcid_len) {
            Ok(pkt) => {
                self.pos += pkt.raw.len();
                Some(Ok(pkt))
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// Fixed bit set, and either a plausible long header (a version this module knows, Version
/// Negotiation or a greased 0x?a?a?a?a version, with connection IDs that fit) or a short header
/// long enough to hold a header-protection sample.
pub fn looks_like_quic(udp: &[u8]) -> bool {
    let Some(&first) = udp.first() else {
        return false;
    };
    // Version Negotiation leaves every bit but the long-header one unused (RFC 9000 §17.2.1),
    // so its fixed bit may be 0.
    let vn = first & bits::LONG != 0 && udp.get(1..5) == Some(&[0u8; 4][..]);
    if first & bits::FIXED == 0 && !vn {
        return false;
    }
    if first & bits::LONG == 0 {
        // 1 byte, a DCID of unknown length, a packet number and the 16-byte sample at pn + 4.
        return udp.len() >= 1 + 4 + 16;
    }
    if udp.len() < field::LONG_MIN {
        return false;
    }
    let version = u32::from_be_bytes([udp[1], udp[2], udp[3], udp[4]]);
    let greased = version & 0x0f0f_0f0f == 0x0a0a_0a0a;
    if !(is_supported_version(version) || version == VERSION_NEGOTIATION || greased) {
        return false;
    }
    let dcid_len = usize::from(udp[field::DCID_LEN]);
    let Some(&scid_len) = udp.get(field::DCID_LEN + 1 + dcid_len) else {
        return false;
    };
    let cids_fit = dcid_len <= MAX_CID_LEN && usize::from(scid_len) <= MAX_CID_LEN;
    cids_fit && udp.len() >= field::LONG_MIN + dcid_len + usize::from(scid_len)
}

/// Expands a truncated packet number (RFC 9000 Appendix A.3): the value closest to
/// `largest_pn + 1` whose low `pn_len * 8` bits are `truncated`. With no packet received yet the
/// expected value is 0.
pub fn decode_pn(largest_pn: Option<u64>, truncated: u64, pn_len: usize) -> u64 {
    let bits = (pn_len.clamp(1, 4) * 8) as u32;
    let expected = largest_pn.map_or(0, |l| l.saturating_add(1));
    let win = 1u64 << bits;
    let hwin = win / 2;
    let mask = win - 1;
    let truncated = truncated & mask;
    let candidate = (expected & !mask) | truncated;
    if candidate.saturating_add(hwin) <= expected && candidate < (1u64 << 62) - win {
        candidate + win
    } else if candidate > expected.saturating_add(hwin) && candidate >= win {
        candidate - win
    } else {
        candidate
    }
}

/// Parses the packet that starts at `udp[start..]`.
fn parse_packet(udp: &[u8], start: usize, short_dcid_len: Option<usize>) -> Result<Packet<'_>> {
    let mut r = Reader::at(udp, start, Layer::Quic);
    let first = r.u8()?;
    if first & bits::LONG == 0 {
        return parse_short(udp, start, short_dcid_len);
    }
    let version = r.u32_be()?;
    let dcid_len = usize::from(r.u8()?);
    if version != VERSION_NEGOTIATION && dcid_len > MAX_CID_LEN {
        return Err(ParseError::new(
            Layer::Quic,
            start + field::DCID_LEN,
            "connection id longer than 20 bytes",
        ));
    }
    let dcid = r.bytes(dcid_len)?;
    let scid_len_at = r.pos();
    let scid_len = usize::from(r.u8()?);
    if version != VERSION_NEGOTIATION && scid_len > MAX_CID_LEN {
        return Err(ParseError::new(
            Layer::Quic,
            scid_len_at,
            "connection id longer than 20 bytes",
        ));
    }
    let scid = r.bytes(scid_len)?;
    let mut pkt = Packet {
        ty: PacketType::VersionNegotiation,
        version,
        dcid,
        scid,
        token: &[],
        pn_offset: 0,
        raw: &udp[start..],
        supported_versions: Vec::new(),
        retry_integrity_tag: None,
    };
    if version == VERSION_NEGOTIATION {
        let list = r.rest();
        if list.is_empty() || !list.len().is_multiple_of(4) {
            return Err(r.err("version negotiation list is not a multiple of 4 bytes"));
        }
        pkt.supported_versions = list
            .chunks_exact(4)
            .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        return Ok(pkt);
    }
    let type_bits = (first >> bits::LONG_TYPE_SHIFT) & bits::LONG_TYPE_MASK;
    pkt.ty = PacketType::from_long_bits(version, type_bits).ok_or(ParseError::new(
        Layer::Quic,
        start + field::VERSION,
        "unsupported QUIC version",
    ))?;
    match pkt.ty {
        PacketType::Retry => {
            let rest = r.rest();
            let Some(token_len) = rest.len().checked_sub(RETRY_TAG_LEN) else {
                return Err(r.err("retry packet shorter than its integrity tag"));
            };
            let (token, tag) = rest.split_at(token_len);
            pkt.token = token;
            pkt.retry_integrity_tag = tag.try_into().ok();
            return Ok(pkt);
        }
        PacketType::Initial => {
            let token_len = varint(&mut r)?;
            let token_len = usize::try_from(token_len).map_err(|_| r.err("token too long"))?;
            pkt.token = r.bytes(token_len)?;
        }
        _ => {}
    }
    let length_at = r.pos();
    let length = varint(&mut r)?;
    let pn_offset = r.pos();
    let end = usize::try_from(length)
        .ok()
        .and_then(|l| pn_offset.checked_add(l))
        .filter(|&end| end <= udp.len())
        .ok_or(ParseError::new(
            Layer::Quic,
            length_at,
            "packet length exceeds the datagram",
        ))?;
    if length == 0 {
        return Err(ParseError::new(
            Layer::Quic,
            length_at,
            "packet length is zero",
        ));
    }
    pkt.pn_offset = pn_offset - start;
    pkt.raw = &udp[start..end];
    Ok(pkt)
}

/// A short-header packet: DCID of the given length, then the protected packet number. It takes
/// the rest of the datagram.
fn parse_short(udp: &[u8], start: usize, short_dcid_len: Option<usize>) -> Result<Packet<'_>> {
    let Some(dcid_len) = short_dcid_len else {
        return Err(ParseError::new(
            Layer::Quic,
            start + field::FIRST_BYTE,
            "short header with unknown destination connection id length",
        ));
    };
    if dcid_len > MAX_CID_LEN {
        return Err(ParseError::new(
            Layer::Quic,
            start,
            "connection id longer than 20 bytes",
        ));
    }
    let mut r = Reader::at(udp, start + 1, Layer::Quic);
    let dcid = r.bytes(dcid_len)?;
    Ok(Packet {
        ty: PacketType::OneRtt,
        version: 0,
        dcid,
        scid: &[],
        token: &[],
        pn_offset: 1 + dcid_len,
        raw: &udp[start..],
        supported_versions: Vec::new(),
        retry_integrity_tag: None,
    })
}

#[cfg(test)]
#[path = "packet_tests.rs"]
mod tests;
