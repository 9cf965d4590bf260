//! Small helpers shared by the SMB2 parsers: UTF-16LE decoding and checked little-endian reads
//! at named offsets that turn "out of bounds" into a [`ParseError`].

use crate::wire::{Layer, ParseError, Result, slice_at};

/// Decodes UTF-16LE bytes into a `String`, never failing and never panicking.
///
/// * Decoding stops at the first NUL code unit (`00 00` on a 2-byte boundary): SMB2 names are
///   counted, not terminated, but some senders include a terminator, and nothing after it is
///   part of the name.
/// * An odd trailing byte is ignored.
/// * Unpaired surrogates become U+FFFD (lossy), so any input yields a printable string.
pub fn utf16le_to_string(b: &[u8]) -> String {
    let units = b
        .chunks_exact(2)
        .map(|p| u16::from_le_bytes([p[0], p[1]]))
        .take_while(|&u| u != 0);
    char::decode_utf16(units)
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

/// `buf[off]`, or a "truncated" error at `off` in `layer`.
pub(crate) fn u8_at(buf: &[u8], off: usize, layer: Layer) -> Result<u8> {
    Ok(array_at::<1>(buf, off, layer)?[0])
}

/// Little-endian u16 at `off`, or a "truncated" error.
pub(crate) fn u16_at(buf: &[u8], off: usize, layer: Layer) -> Result<u16> {
    array_at(buf, off, layer).map(u16::from_le_bytes)
}

/// Little-endian u32 at `off`, or a "truncated" error.
pub(crate) fn u32_at(buf: &[u8], off: usize, layer: Layer) -> Result<u32> {
    array_at(buf, off, layer).map(u32::from_le_bytes)
}

/// Little-endian u64 at `off`, or a "truncated" error.
pub(crate) fn u64_at(buf: &[u8], off: usize, layer: Layer) -> Result<u64> {
    array_at(buf, off, layer).map(u64::from_le_bytes)
}

/// The 16 bytes at `off` (a GUID or an SMB2 FileId), or a "truncated" error.
pub(crate) fn bytes16_at(buf: &[u8], off: usize, layer: Layer) -> Result<[u8; 16]> {
    array_at(buf, off, layer)
}

/// `N` bytes at `off`; overflow-safe for any `off`.
fn array_at<const N: usize>(buf: &[u8], off: usize, layer: Layer) -> Result<[u8; N]> {
    off.checked_add(N)
        .and_then(|end| buf.get(off..end))
        .and_then(|s| <[u8; N]>::try_from(s).ok())
        .ok_or(ParseError::new(layer, off, "truncated"))
}

/// Reads an (offset, length) buffer descriptor whose offset counts from `buf[0]` and returns the
/// bytes it names. An empty buffer is accepted whatever its offset (senders put 0 there).
pub(crate) fn buffer_at(buf: &[u8], off: usize, len: usize, layer: Layer) -> Result<&[u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    slice_at(buf, off, len, layer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_names() {
        // "\\WS2016\encrypted" from suricata-verify/smb3-01__input.pcap frame 7.
        let b = crate::smb::testutil::hex(
            "5c005c005700530032003000310036005c0065006e0063007200790070007400650064000000",
        );
        assert_eq!(utf16le_to_string(&b[..b.len() - 1]), r"\\WS2016\encrypted");
        assert_eq!(utf16le_to_string(&[]), "");
        assert_eq!(utf16le_to_string(&[0x41]), "");
        assert_eq!(utf16le_to_string(&[0x41, 0, 0x42]), "A");
        assert_eq!(utf16le_to_string(&[0x41, 0, 0, 0, 0x42, 0]), "A");
        // Lone high surrogate, then 'x'.
        assert_eq!(utf16le_to_string(&[0x00, 0xD8, 0x78, 0x00]), "\u{FFFD}x");
        // A surrogate pair: U+1F600.
        assert_eq!(utf16le_to_string(&[0x3D, 0xD8, 0x00, 0xDE]), "\u{1F600}");
    }

    #[test]
    fn checked_reads() {
        let b = [1u8, 2, 3, 4, 5, 6, 7, 8];
        assert_eq!(u8_at(&b, 7, Layer::Smb2), Ok(8));
        assert!(u8_at(&b, 8, Layer::Smb2).is_err());
        assert_eq!(u16_at(&b, 6, Layer::Smb2), Ok(0x0807));
        assert!(u16_at(&b, 7, Layer::Smb2).is_err());
        assert!(u32_at(&b, 5, Layer::Smb2).is_err());
        assert_eq!(u64_at(&b, 0, Layer::Smb2), Ok(0x0807_0605_0403_0201));
        assert!(bytes16_at(&b, 0, Layer::Smb2).is_err());
        assert_eq!(buffer_at(&b, 1000, 0, Layer::Smb2), Ok(&[][..]));
        assert!(buffer_at(&b, 4, 5, Layer::Smb2).is_err());
        assert!(buffer_at(&b, usize::MAX, 2, Layer::Smb2).is_err());
        assert!(u32_at(&b, usize::MAX - 1, Layer::Smb2).is_err());
        let e = u32_at(&b, 6, Layer::Smb2).unwrap_err();
        assert_eq!(e.offset, 6);
    }
}
