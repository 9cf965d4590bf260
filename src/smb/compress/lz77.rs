//! Plain LZ77 ("LZ77 without Huffman", [MS-XCA] §2.3 format, §2.4 decompression).
//!
//! The stream is a sequence of 32-bit little-endian flag words, each followed by the items it
//! describes, most significant flag bit first: a 0 bit is one literal byte, a 1 bit a 16-bit
//! match token `(offset - 1) << 3 | (length - 3)` (13-bit offset, so at most 8192 back). A
//! length field of 7 continues in a shared 4-bit nibble (two matches share one byte, low nibble
//! first), then an extra byte, then a 16-bit and a 32-bit length (§2.4.4). The end of the stream
//! is a match flag with no input left (the compressor pads the last flag word with 1 bits).

use super::{DecompressError, copy_match};

/// Decompresses `input`, appending to `out`; fails with [`DecompressError::TooLarge`] rather
/// than append more than `limit` bytes. Matches may only reach back to the length `out` had on
/// entry. Running out of input exactly where a flag word would start also ends the stream.
pub fn decompress(input: &[u8], out: &mut Vec<u8>, limit: usize) -> Result<(), DecompressError> {
    let base = out.len();
    let end = base.saturating_add(limit);
    let mut r = Reader { input, pos: 0 };
    let mut flags: u32 = 0;
    let mut flag_count: u32 = 0;
    // Input position of the byte whose high nibble the next long match will use (§2.4.4
    // LastLengthHalfByte).
    let mut half_byte: Option<usize> = None;
    loop {
        if flag_count == 0 {
            if r.pos == input.len() {
                return Ok(());
            }
            flags = r.u32()?;
            flag_count = 32;
        }
        flag_count -= 1;
        if flags & (1 << flag_count) == 0 {
            let b = r.u8()?;
            if out.len() >= end {
                return Err(DecompressError::TooLarge);
            }
            out.push(b);
            continue;
        }
        if r.pos == input.len() {
            return Ok(());
        }
        let token = r.u16()?;
        let dist = usize::from(token >> 3) + 1;
        let mut len = u64::from(token & 7);
        if len == 7 {
            len = match half_byte.take() {
                Some(at) => u64::from(input.get(at).ok_or(DecompressError::Truncated)? >> 4),
                None => {
                    half_byte = Some(r.pos);
                    u64::from(r.u8()? & 0x0F)
                }
            };
            if len == 15 {
                len = u64::from(r.u8()?);
                if len == 255 {
                    len = u64::from(r.u16()?);
                    if len == 0 {
                        len = u64::from(r.u32()?);
                    }
                    // The 16/32-bit forms hold the whole length minus 3.
                    len = len
                        .checked_sub(15 + 7)
                        .ok_or(DecompressError::Corrupt("LZ77 long match length too small"))?;
                }
                len += 15;
            }
            len += 7;
        }
        len += 3;
        let len = usize::try_from(len).map_err(|_| DecompressError::TooLarge)?;
        copy_match(out, base, dist, len, end)?;
    }
}

/// Bounds-checked little-endian reads from the input.
struct Reader<'a> {
    input: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], DecompressError> {
        let b: &[u8; N] = self
            .input
            .get(self.pos..)
            .and_then(|s| s.first_chunk())
            .ok_or(DecompressError::Truncated)?;
        self.pos += N;
        Ok(*b)
    }

    fn u8(&mut self) -> Result<u8, DecompressError> {
        self.take::<1>().map(|[b]| b)
    }

    fn u16(&mut self) -> Result<u16, DecompressError> {
        self.take().map(u16::from_le_bytes)
    }

    fn u32(&mut self) -> Result<u32, DecompressError> {
        self.take().map(u32::from_le_bytes)
    }
}
