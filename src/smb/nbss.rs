//! NetBIOS Session Service framing (RFC 1002 §4.3) and the SMB "direct TCP" transport
//! ([MS-SMB2] 2.1), which share the same 4-byte header.
//!
//! ```text
//! 0      1      2      3
//! +------+------+------+------+
//! | TYPE | FLAGS/LENGTH (24)   |   big-endian; RFC 1002 uses 17 bits (FLAGS bit 0 = E),
//! +------+------+------+------+   direct TCP (port 445) uses all 24 bits
//! ```

use crate::wire::{Layer, ParseError, Reader, Result};

/// Size of the NBSS header.
pub const HEADER_LEN: usize = 4;

/// Session packet types (RFC 1002 §4.3.1).
pub mod kind {
    /// SESSION MESSAGE: carries one SMB message (RFC 1002 §4.3.6).
    pub const SESSION_MESSAGE: u8 = 0x00;
    /// SESSION REQUEST (RFC 1002 §4.3.2).
    pub const SESSION_REQUEST: u8 = 0x81;
    /// POSITIVE SESSION RESPONSE (RFC 1002 §4.3.3).
    pub const POSITIVE_RESPONSE: u8 = 0x82;
    /// NEGATIVE SESSION RESPONSE (RFC 1002 §4.3.4).
    pub const NEGATIVE_RESPONSE: u8 = 0x83;
    /// RETARGET SESSION RESPONSE (RFC 1002 §4.3.5).
    pub const RETARGET_RESPONSE: u8 = 0x84;
    /// SESSION KEEP ALIVE (RFC 1002 §4.3.7).
    pub const KEEP_ALIVE: u8 = 0x85;
}

mod field {
    use std::ops::Range;
    pub const KIND: usize = 0;
    /// 24-bit big-endian length (direct TCP) / FLAGS + 16-bit length (RFC 1002).
    pub const LENGTH: Range<usize> = 1..4;
    /// Encoded NetBIOS name: a length byte of 0x20 then 32 "half-ASCII" characters.
    pub const NAME_LABEL_LEN: usize = 32;
}

/// The 4-byte session packet header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Packet type, one of [`kind`].
    pub kind: u8,
    /// Length of the body that follows the header. For [`kind::SESSION_MESSAGE`] this is the
    /// 24-bit length of [MS-SMB2] 2.1 (a superset of RFC 1002's 17 bits, whose other flag bits
    /// are zero); for the other types it is the RFC 1002 17-bit length.
    pub length: u32,
}

impl Header {
    /// Reads the header from the first 4 bytes of `buf`.
    pub fn parse(buf: &[u8]) -> Result<Header> {
        let hdr = buf.get(..HEADER_LEN).ok_or(ParseError::new(
            Layer::Nbss,
            buf.len(),
            "truncated header",
        ))?;
        let kind = hdr[field::KIND];
        let len24 = hdr[field::LENGTH]
            .iter()
            .fold(0u32, |acc, &b| (acc << 8) | u32::from(b));
        let length = if kind == kind::SESSION_MESSAGE {
            len24
        } else {
            len24 & 0x1_FFFF
        };
        Ok(Header { kind, length })
    }

    /// Header length plus body length: the bytes this packet occupies in the stream.
    pub fn total_len(&self) -> usize {
        // u32 -> usize cannot overflow on the 32- and 64-bit targets we build for; the sum is
        // at most 2^24 + 4.
        HEADER_LEN.saturating_add(self.length as usize)
    }

    /// Whether the type is one RFC 1002 defines (the rest are garbage or not NBSS at all).
    pub fn is_known_kind(&self) -> bool {
        matches!(
            self.kind,
            kind::SESSION_MESSAGE
                | kind::SESSION_REQUEST
                | kind::POSITIVE_RESPONSE
                | kind::NEGATIVE_RESPONSE
                | kind::RETARGET_RESPONSE
                | kind::KEEP_ALIVE
        )
    }
}

/// SESSION REQUEST body (RFC 1002 §4.3.2): the called (server) and calling (client) names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRequest {
    /// Called name, e.g. `"FILESERVER<20>"`: trailing spaces stripped, the 16th byte (the
    /// NetBIOS suffix) shown as two hex digits in angle brackets.
    pub called: String,
    /// Calling name, e.g. `"DESKTOP-1<00>"`.
    pub calling: String,
}

impl SessionRequest {
    /// Parses a SESSION REQUEST body (the bytes after the 4-byte header).
    pub fn parse(body: &[u8]) -> Result<Self> {
        let mut r = Reader::new(body, Layer::Nbss);
        let called = read_name(&mut r)?;
        let calling = read_name(&mut r)?;
        Ok(SessionRequest { called, calling })
    }
}

/// NEGATIVE SESSION RESPONSE error codes (RFC 1002 §4.3.4).
pub mod negative {
    /// Not listening on called name.
    pub const NOT_LISTENING_ON_CALLED_NAME: u8 = 0x80;
    /// Not listening for calling name.
    pub const NOT_LISTENING_FOR_CALLING_NAME: u8 = 0x81;
    /// Called name not present.
    pub const CALLED_NAME_NOT_PRESENT: u8 = 0x82;
    /// Called name present, but insufficient resources.
    pub const INSUFFICIENT_RESOURCES: u8 = 0x83;
    /// Unspecified error.
    pub const UNSPECIFIED: u8 = 0x8F;
}

/// NEGATIVE SESSION RESPONSE body: the error code, see [`negative`].
pub fn parse_negative_response(body: &[u8]) -> Result<u8> {
    Reader::new(body, Layer::Nbss).u8()
}

/// RETARGET SESSION RESPONSE body (RFC 1002 §4.3.5): new IPv4 address and port.
pub fn parse_retarget_response(body: &[u8]) -> Result<([u8; 4], u16)> {
    let mut r = Reader::new(body, Layer::Nbss);
    Ok((r.array()?, r.u16_be()?))
}

/// Reads one encoded NetBIOS name (RFC 1001 §14.1 first-level encoding, RFC 1002 §4.1):
/// a 0x20 length byte, 32 characters 'A'..='P' encoding 16 bytes as nibbles, then optional
/// scope labels, then a zero byte. Scope labels are skipped.
fn read_name(r: &mut Reader<'_>) -> Result<String> {
    let start = r.pos();
    let len = r.u8()?;
    if usize::from(len) != field::NAME_LABEL_LEN {
        return Err(ParseError::new(
            Layer::Nbss,
            start,
            "bad NetBIOS name length",
        ));
    }
    let enc = r.bytes(field::NAME_LABEL_LEN)?;
    let mut raw = [0u8; 16];
    for (out, pair) in raw.iter_mut().zip(enc.chunks_exact(2)) {
        let hi = pair[0].wrapping_sub(b'A');
        let lo = pair[1].wrapping_sub(b'A');
        if hi > 0x0F || lo > 0x0F {
            return Err(ParseError::new(
                Layer::Nbss,
                start,
                "bad NetBIOS name character",
            ));
        }
        *out = (hi << 4) | lo;
    }
    // Scope labels (RFC 1001 §14.1), at most 255 bytes in all; skip them.
    loop {
        let n = r.u8()?;
        if n == 0 {
            break;
        }
        if n & 0xC0 != 0 {
            return Err(r.err("compressed label in session request"));
        }
        r.skip(usize::from(n))?;
        if r.pos() - start > 255 {
            return Err(r.err("NetBIOS name too long"));
        }
    }
    let (name, suffix) = raw.split_at(15);
    let name: String = name.iter().map(|&b| char::from(b)).collect();
    Ok(format!("{}<{:02X}>", name.trim_end_matches(' '), suffix[0]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smb::der::test_util::{all_prefixes_fail, garbage, hex};

    /// First-level encoding of a NetBIOS name, padded with spaces, plus the terminator.
    fn encode(name: &[u8], suffix: u8) -> Vec<u8> {
        let mut raw = [b' '; 16];
        raw[..name.len()].copy_from_slice(name);
        raw[15] = suffix;
        let mut out = vec![0x20];
        for b in raw {
            out.extend_from_slice(&[b'A' + (b >> 4), b'A' + (b & 0x0F)]);
        }
        out.push(0);
        out
    }

    /// suricata-verify/smb2-ntlmssp-negotiateflags__input.pcap frame 193 (tcp/139):
    /// "Session request, to SCV<20> from DESKTOP-V1FA0UQ<00>".
    const SESSION_REQUEST: &str = "810000442046444544464743414341434143414341434143414341434143414341\
        434143410020454545464644454c464545504641434e4647444245474542444146464642414100";

    #[test]
    fn session_request_from_capture() {
        let pkt = hex(SESSION_REQUEST);
        let h = Header::parse(&pkt).unwrap();
        assert_eq!(h.kind, kind::SESSION_REQUEST);
        assert_eq!(h.length, 68);
        assert_eq!(h.total_len(), pkt.len());
        let req = SessionRequest::parse(&pkt[HEADER_LEN..]).unwrap();
        assert_eq!(req.called, "SCV<20>");
        assert_eq!(req.calling, "DESKTOP-V1FA0UQ<00>");
        all_prefixes_fail(&pkt[HEADER_LEN..], SessionRequest::parse);
    }

    #[test]
    fn headers() {
        // Same capture, frame 194: positive response.
        let h = Header::parse(&hex("82000000")).unwrap();
        assert_eq!((h.kind, h.length), (kind::POSITIVE_RESPONSE, 0));
        // Direct TCP with a 24-bit length.
        let h = Header::parse(&[0, 0x01, 0x02, 0x03]).unwrap();
        assert_eq!((h.kind, h.length), (0, 0x010203));
        // RFC 1002 E bit on a non-message type.
        let h = Header::parse(&[0x85, 0xFF, 0xFF, 0xFF]).unwrap();
        assert_eq!(h.length, 0x1FFFF);
        assert!(h.is_known_kind());
        assert!(!Header::parse(&[0x42, 0, 0, 0]).unwrap().is_known_kind());
        for n in 0..4 {
            assert!(Header::parse(&[0u8; 4][..n]).is_err());
        }
        assert_eq!(parse_negative_response(&[0x82]).unwrap(), 0x82);
        assert!(parse_negative_response(&[]).is_err());
        assert_eq!(
            parse_retarget_response(&[192, 0, 2, 1, 0, 139]).unwrap(),
            ([192, 0, 2, 1], 139)
        );
        assert!(parse_retarget_response(&[192, 0, 2, 1, 0]).is_err());
    }

    #[test]
    fn names_with_scope_and_garbage() {
        // "SCV<20>" with scope "example" then "B<00>".
        let mut body = encode(b"SCV", 0x20);
        body.pop(); // drop the terminator: add a scope label instead
        body.extend_from_slice(b"\x07example\x00");
        body.extend_from_slice(&encode(b"B", 0x00));
        let req = SessionRequest::parse(&body).unwrap();
        assert_eq!(req.called, "SCV<20>");
        assert_eq!(req.calling, "B<00>");

        for seed in 0..200 {
            let _ = SessionRequest::parse(&garbage(seed, seed as usize));
            let mut named = vec![0x20];
            named.extend(garbage(seed, 80));
            let _ = SessionRequest::parse(&named);
        }
        // Name characters outside 'A'..='P'.
        let mut bad = hex(SESSION_REQUEST)[HEADER_LEN..].to_vec();
        bad[1] = b'Z';
        assert!(SessionRequest::parse(&bad).is_err());
    }
}
