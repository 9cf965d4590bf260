//! A cursor over `&[u8]` whose every read is bounds-checked and returns a [`ParseError`]
//! instead of panicking.

use super::{Layer, ParseError, Result};

/// Cursor over a borrowed slice. All reads are little-endian unless the name says `_be`.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    layer: Layer,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8], layer: Layer) -> Self {
        Reader { buf, pos: 0, layer }
    }

    /// A reader positioned at `pos` (which may be past the end; reads then fail).
    pub fn at(buf: &'a [u8], pos: usize, layer: Layer) -> Self {
        Reader { buf, pos, layer }
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The whole underlying buffer.
    pub fn buffer(&self) -> &'a [u8] {
        self.buf
    }

    /// The bytes from the cursor to the end, without consuming them.
    pub fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or(&[])
    }

    pub fn err(&self, reason: &'static str) -> ParseError {
        ParseError::new(self.layer, self.pos, reason)
    }

    pub fn seek(&mut self, pos: usize) -> Result<()> {
        if pos > self.buf.len() {
            return Err(ParseError::new(self.layer, pos, "offset past end"));
        }
        self.pos = pos;
        Ok(())
    }

    pub fn skip(&mut self, n: usize) -> Result<()> {
        self.bytes(n).map(|_| ())
    }

    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .ok_or_else(|| self.err("length overflow"))?;
        let out = self
            .buf
            .get(self.pos..end)
            .ok_or_else(|| self.err("truncated"))?;
        self.pos = end;
        Ok(out)
    }

    pub fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let b = self.bytes(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(b);
        Ok(out)
    }

    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }

    pub fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    pub fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    pub fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    pub fn u16_be(&mut self) -> Result<u16> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    pub fn u24_be(&mut self) -> Result<u32> {
        let b: [u8; 3] = self.array()?;
        Ok(u32::from_be_bytes([0, b[0], b[1], b[2]]))
    }

    pub fn u32_be(&mut self) -> Result<u32> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    pub fn u64_be(&mut self) -> Result<u64> {
        Ok(u64::from_be_bytes(self.array()?))
    }
}

/// `buf[off..off+len]`, or an error naming `layer` and `off`. For (offset, length) pairs read
/// from the wire.
pub fn slice_at(buf: &[u8], off: usize, len: usize, layer: Layer) -> Result<&[u8]> {
    off.checked_add(len)
        .and_then(|end| buf.get(off..end))
        .ok_or(ParseError::new(layer, off, "offset/length out of bounds"))
}

/// Little-endian u16 at `off`, if in bounds.
pub fn le16(buf: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_le_bytes(buf.get(off..off + 2)?.try_into().ok()?))
}

/// Little-endian u32 at `off`, if in bounds.
pub fn le32(buf: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(buf.get(off..off + 4)?.try_into().ok()?))
}

/// Little-endian u64 at `off`, if in bounds.
pub fn le64(buf: &[u8], off: usize) -> Option<u64> {
    Some(u64::from_le_bytes(buf.get(off..off + 8)?.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_bounds() {
        let data = [1u8, 2, 3, 4, 5, 6, 7, 8, 9];
        let mut r = Reader::new(&data, Layer::Smb2);
        assert_eq!(r.u8().unwrap(), 1);
        assert_eq!(r.u16().unwrap(), 0x0302);
        assert_eq!(r.u32_be().unwrap(), 0x04050607);
        assert!(r.u32().is_err());
        assert_eq!(r.pos(), 7);
        assert_eq!(r.rest(), &[8, 9]);
        assert!(r.bytes(usize::MAX).is_err());
        assert!(slice_at(&data, 8, 2, Layer::Smb2).is_err());
        assert_eq!(slice_at(&data, 7, 2, Layer::Smb2).unwrap(), &[8, 9]);
        assert_eq!(le16(&data, 8), None);
    }
}
