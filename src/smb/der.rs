//! A tiny bounds-checked DER/BER TLV reader for SPNEGO (RFC 4178) and Kerberos (RFC 4120).
//!
//! Only what those two need: single-byte tags, definite lengths in short or long form (at most
//! four length bytes), OBJECT IDENTIFIERs decoded to dotted strings, small INTEGERs. Callers walk
//! a fixed structure, nesting one [`Der`] per constructed value, so there is no unbounded
//! recursion; [`Der::nested`] still enforces [`MAX_DEPTH`] as a guard.

use crate::wire::{Layer, ParseError, Result};

/// Deepest nesting [`Der::nested`] allows.
pub const MAX_DEPTH: u8 = 16;

/// Universal and context tags used by the callers (X.690 §8.1.2).
pub mod tag {
    /// INTEGER (X.690 §8.3).
    pub const INTEGER: u8 = 0x02;
    /// BIT STRING (X.690 §8.6).
    pub const BIT_STRING: u8 = 0x03;
    /// OCTET STRING (X.690 §8.7).
    pub const OCTET_STRING: u8 = 0x04;
    /// ENUMERATED (X.690 §8.4).
    pub const ENUMERATED: u8 = 0x0A;
    /// OBJECT IDENTIFIER (X.690 §8.19).
    pub const OID: u8 = 0x06;
    /// GeneralString (RFC 4120 §5.2.1 KerberosString).
    pub const GENERAL_STRING: u8 = 0x1B;
    /// SEQUENCE / SEQUENCE OF, constructed (X.690 §8.9).
    pub const SEQUENCE: u8 = 0x30;
    /// `[APPLICATION 0]` constructed: GSS-API InitialContextToken (RFC 2743 §3.1).
    pub const GSS_INITIAL: u8 = 0x60;

    /// Constructed context-specific tag `[n]` (n < 31).
    pub const fn ctx(n: u8) -> u8 {
        0xA0 | n
    }

    /// Constructed `[APPLICATION n]` tag (n < 31).
    pub const fn app(n: u8) -> u8 {
        0x60 | n
    }
}

/// One TLV: the tag byte and the value bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    pub tag: u8,
    pub value: &'a [u8],
    /// Offset of the value from the start of the outermost buffer (for error reports).
    pub offset: usize,
}

/// Cursor over a run of TLVs.
#[derive(Debug, Clone)]
pub struct Der<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Offset of `buf[0]` inside the outermost buffer.
    base: usize,
    depth: u8,
    layer: Layer,
}

impl<'a> Der<'a> {
    /// A reader over a whole outermost buffer.
    pub fn new(buf: &'a [u8], layer: Layer) -> Self {
        Der {
            buf,
            pos: 0,
            base: 0,
            depth: 0,
            layer,
        }
    }

    /// A reader over the contents of a constructed TLV read by this reader (or its parent).
    pub fn nested(&self, tlv: Tlv<'a>) -> Result<Der<'a>> {
        let depth = self.depth + 1;
        if depth > MAX_DEPTH {
            return Err(ParseError::new(
                self.layer,
                tlv.offset,
                "DER nesting too deep",
            ));
        }
        Ok(Der {
            buf: tlv.value,
            pos: 0,
            base: tlv.offset,
            depth,
            layer: self.layer,
        })
    }

    /// Same reader, reporting errors for another layer.
    pub fn with_layer(mut self, layer: Layer) -> Self {
        self.layer = layer;
        self
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// The bytes not read yet.
    pub fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or(&[])
    }

    /// Absolute offset of the cursor.
    pub fn offset(&self) -> usize {
        self.base.saturating_add(self.pos)
    }

    pub fn err(&self, reason: &'static str) -> ParseError {
        ParseError::new(self.layer, self.offset(), reason)
    }

    /// The tag of the next TLV, without consuming it.
    pub fn peek_tag(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    /// Reads the next TLV.
    pub fn read(&mut self) -> Result<Tlv<'a>> {
        let tag = *self
            .buf
            .get(self.pos)
            .ok_or_else(|| self.err("truncated tag"))?;
        if tag & 0x1F == 0x1F {
            return Err(self.err("multi-byte tag"));
        }
        let mut p = self.pos + 1;
        let first = *self
            .buf
            .get(p)
            .ok_or_else(|| self.err("truncated length"))?;
        p += 1;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let n = usize::from(first & 0x7F);
            if n == 0 {
                return Err(self.err("indefinite length"));
            }
            if n > 4 {
                return Err(self.err("length of length > 4"));
            }
            let end = p
                .checked_add(n)
                .ok_or_else(|| self.err("length overflow"))?;
            let bytes = self
                .buf
                .get(p..end)
                .ok_or_else(|| self.err("truncated length"))?;
            p = end;
            bytes
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b))
        };
        let end = p
            .checked_add(len)
            .ok_or_else(|| self.err("length overflow"))?;
        let value = self
            .buf
            .get(p..end)
            .ok_or_else(|| self.err("length past end"))?;
        let offset = self.base.saturating_add(p);
        self.pos = end;
        Ok(Tlv { tag, value, offset })
    }

    /// Reads the next TLV and checks its tag.
    pub fn expect(&mut self, tag: u8) -> Result<Tlv<'a>> {
        let at = self.clone();
        let tlv = self.read()?;
        if tlv.tag != tag {
            return Err(at.err("unexpected tag"));
        }
        Ok(tlv)
    }

    /// Reads the next TLV only if it has this tag.
    pub fn optional(&mut self, tag: u8) -> Result<Option<Tlv<'a>>> {
        if self.peek_tag() == Some(tag) {
            self.read().map(Some)
        } else {
            Ok(None)
        }
    }

    /// Reads `[n] EXPLICIT inner` and returns the inner TLV, checking the inner tag.
    pub fn explicit(&mut self, n: u8, inner: u8) -> Result<Tlv<'a>> {
        let outer = self.expect(tag::ctx(n))?;
        let mut d = self.nested(outer)?;
        d.expect(inner)
    }

    /// Like [`Der::explicit`], but absent is `None`.
    pub fn explicit_opt(&mut self, n: u8, inner: u8) -> Result<Option<Tlv<'a>>> {
        match self.optional(tag::ctx(n))? {
            None => Ok(None),
            Some(outer) => self.nested(outer)?.expect(inner).map(Some),
        }
    }

    /// Layer this reader reports errors for.
    pub fn layer(&self) -> Layer {
        self.layer
    }
}

/// A DER INTEGER value (two's complement, big-endian) as i64; at most 8 bytes.
pub fn integer(tlv: Tlv<'_>, layer: Layer) -> Result<i64> {
    let v = tlv.value;
    if v.is_empty() || v.len() > 8 {
        return Err(ParseError::new(layer, tlv.offset, "bad INTEGER length"));
    }
    let init: i64 = if v[0] & 0x80 != 0 { -1 } else { 0 };
    Ok(v.iter().fold(init, |acc, &b| (acc << 8) | i64::from(b)))
}

/// An OBJECT IDENTIFIER value as a dotted string, e.g. "1.3.6.1.5.5.2".
pub fn oid(tlv: Tlv<'_>, layer: Layer) -> Result<String> {
    oid_string(tlv.value).ok_or(ParseError::new(layer, tlv.offset, "bad OID"))
}

/// Decodes OID contents (X.690 §8.19) to a dotted string; `None` if malformed.
pub fn oid_string(v: &[u8]) -> Option<String> {
    use std::fmt::Write as _;
    if v.is_empty() || v.last().is_some_and(|b| b & 0x80 != 0) {
        return None;
    }
    let mut out = String::new();
    let mut arc: u64 = 0;
    let mut first = true;
    for &b in v {
        arc = arc.checked_mul(128)?.checked_add(u64::from(b & 0x7F))?;
        if b & 0x80 != 0 {
            continue;
        }
        if first {
            let (x, y) = match arc {
                0..=39 => (0, arc),
                40..=79 => (1, arc - 40),
                _ => (2, arc - 80),
            };
            // Writing to a String cannot fail.
            let _ = write!(out, "{x}.{y}");
            first = false;
        } else {
            let _ = write!(out, ".{arc}");
        }
        arc = 0;
    }
    Some(out)
}

/// A KerberosString / GeneralString value, decoded lossily.
pub fn string(tlv: Tlv<'_>) -> String {
    String::from_utf8_lossy(tlv.value).into_owned()
}

/// Helpers shared by the tests of the `smb` parsers in this crate.
#[cfg(test)]
pub(crate) mod test_util {
    pub use crate::smb::testutil::hex;

    /// Asserts that `parse` fails on every strict prefix of `msg` (and never panics).
    pub fn all_prefixes_fail<'a, T, E>(msg: &'a [u8], parse: impl Fn(&'a [u8]) -> Result<T, E>) {
        for len in 0..msg.len() {
            assert!(parse(&msg[..len]).is_err(), "prefix of {len} bytes parsed");
        }
    }

    /// Deterministic pseudo-random bytes (an LCG; no external crates).
    pub fn garbage(seed: u64, len: usize) -> Vec<u8> {
        let mut x = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        (0..len)
            .map(|_| {
                x = x
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                (x >> 33) as u8
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_lengths() {
        let buf = [0x04, 0x02, 0xAA, 0xBB, 0x30, 0x81, 0x01, 0x05];
        let mut d = Der::new(&buf, Layer::Spnego);
        let a = d.read().unwrap();
        assert_eq!((a.tag, a.value, a.offset), (0x04, &[0xAA, 0xBB][..], 2));
        let b = d.read().unwrap();
        assert_eq!((b.tag, b.value, b.offset), (0x30, &[0x05][..], 7));
        assert!(d.is_empty());
        assert!(d.read().is_err());
    }

    #[test]
    fn rejects_bad_lengths() {
        for bad in [
            &[0x04u8, 0x80, 0x00][..],                // indefinite
            &[0x04, 0x85, 0, 0, 0, 0, 1],             // 5 length bytes
            &[0x04, 0x84, 0xFF, 0xFF, 0xFF, 0xFF, 0], // past the end
            &[0x04, 0x03, 0x00],                      // past the end
            &[0x1F, 0x01, 0x00],                      // multi-byte tag
            &[0x04],
            &[],
        ] {
            assert!(Der::new(bad, Layer::Spnego).read().is_err(), "{bad:02x?}");
        }
    }

    #[test]
    fn oids_and_integers() {
        // SPNEGO, from zeek/smb_gssapi.pcap frame 5.
        assert_eq!(
            oid_string(&[0x2b, 0x06, 0x01, 0x05, 0x05, 0x02]).unwrap(),
            "1.3.6.1.5.5.2"
        );
        // MS KRB5.
        assert_eq!(
            oid_string(&[0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02]).unwrap(),
            "1.2.840.48018.1.2.2"
        );
        assert_eq!(oid_string(&[0x2a, 0x86]), None);
        assert_eq!(oid_string(&[]), None);
        assert_eq!(oid_string(&[0xFF; 20]), None);
        let t = |v: &'static [u8]| Tlv {
            tag: tag::INTEGER,
            value: v,
            offset: 0,
        };
        assert_eq!(integer(t(&[0x17]), Layer::Kerberos).unwrap(), 23);
        assert_eq!(integer(t(&[0xFF, 0x7F]), Layer::Kerberos).unwrap(), -129);
        assert_eq!(integer(t(&[0x00, 0x80]), Layer::Kerberos).unwrap(), 128);
        assert!(integer(t(&[]), Layer::Kerberos).is_err());
        assert!(integer(t(&[1; 9]), Layer::Kerberos).is_err());
    }

    #[test]
    fn depth_is_bounded() {
        // 40 nested SEQUENCEs.
        let mut buf = vec![0x05, 0x00];
        for _ in 0..40 {
            let mut outer = vec![0x30, buf.len() as u8];
            outer.extend_from_slice(&buf);
            buf = outer;
        }
        let mut d = Der::new(&buf, Layer::Spnego);
        let mut depth = 0;
        let err = loop {
            let tlv = match d.read() {
                Ok(t) => t,
                Err(e) => break e,
            };
            match d.nested(tlv) {
                Ok(n) => d = n,
                Err(e) => break e,
            }
            depth += 1;
        };
        assert_eq!(err.reason, "DER nesting too deep");
        assert_eq!(depth, usize::from(MAX_DEPTH));
    }
}
