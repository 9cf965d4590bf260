//! LZNT1 ([MS-XCA] §2.5).
//!
//! The stream is a sequence of chunks, each holding at most 4096 bytes of output and starting
//! with a 16-bit little-endian header: bit 15 set if the chunk is compressed, bits 12..14 the
//! signature 0b011, bits 0..11 the chunk's byte count (header included) minus 3. A header of 0
//! (or the end of the input) ends the stream.
//!
//! An uncompressed chunk is copied as-is. A compressed chunk is a sequence of flag bytes, each
//! followed by up to eight items, least significant flag bit first: 0 is a literal byte, 1 a
//! 16-bit little-endian copy token. The token splits into displacement (high bits) and length
//! (low bits) at a point that depends on how far into the chunk's output the copy starts: with
//! `p` bytes already produced in the chunk, the displacement takes the fewest bits, at least 4,
//! that can address `p` bytes (4 bits up to 16 bytes, 5 up to 32, ... 12 up to 4096), and the
//! length the remaining 12..4 bits. Displacement = field + 1, length = field + 3; copies stay
//! inside the chunk.

use super::{DecompressError, copy_match};

/// Largest output of one chunk.
pub const CHUNK_SIZE: usize = 4096;

/// Chunk header bits (§2.5.1.1).
mod header {
    /// The chunk is compressed.
    pub const COMPRESSED: u16 = 0x8000;
    /// Signature bits 12..14.
    pub const SIGNATURE_MASK: u16 = 0x7000;
    /// Signature value: 0b011.
    pub const SIGNATURE: u16 = 0x3000;
    /// Chunk size (header included) minus 3.
    pub const SIZE_MASK: u16 = 0x0FFF;
}

/// Decompresses `input`, appending to `out`; fails with [`DecompressError::TooLarge`] rather
/// than append more than `limit` bytes.
pub fn decompress(input: &[u8], out: &mut Vec<u8>, limit: usize) -> Result<(), DecompressError> {
    let end = out.len().saturating_add(limit);
    let mut rest = input;
    while let Some((h, tail)) = rest.split_first_chunk::<2>() {
        let h = u16::from_le_bytes(*h);
        if h == 0 {
            return Ok(());
        }
        if h & header::SIGNATURE_MASK != header::SIGNATURE {
            return Err(DecompressError::Corrupt(
                "LZNT1 chunk signature is not 0b011",
            ));
        }
        let len = usize::from(h & header::SIZE_MASK) + 1;
        let (chunk, tail) = tail
            .split_at_checked(len)
            .ok_or(DecompressError::Truncated)?;
        if h & header::COMPRESSED == 0 {
            if chunk.len() > end.saturating_sub(out.len()) {
                return Err(DecompressError::TooLarge);
            }
            out.extend_from_slice(chunk);
        } else {
            decompress_chunk(chunk, out, end)?;
        }
        rest = tail;
    }
    if rest.is_empty() {
        Ok(())
    } else {
        Err(DecompressError::Truncated)
    }
}

/// Decodes one compressed chunk's data (after its header).
fn decompress_chunk(chunk: &[u8], out: &mut Vec<u8>, end: usize) -> Result<(), DecompressError> {
    let start = out.len();
    // Output of this chunk may not exceed 4096 bytes nor the caller's limit.
    let chunk_end = start.saturating_add(CHUNK_SIZE);
    let mut i = 0;
    while let Some(&flags) = chunk.get(i) {
        i += 1;
        for bit in 0..8 {
            if i >= chunk.len() {
                return Ok(());
            }
            if flags & (1 << bit) == 0 {
                if out.len() >= chunk_end {
                    return Err(DecompressError::Corrupt(
                        "LZNT1 chunk longer than 4096 bytes",
                    ));
                }
                if out.len() >= end {
                    return Err(DecompressError::TooLarge);
                }
                out.push(chunk[i]);
                i += 1;
                continue;
            }
            let token = chunk.get(i..i + 2).ok_or(DecompressError::Corrupt(
                "LZNT1 copy token cut by chunk end",
            ))?;
            let token = u16::from_le_bytes([token[0], token[1]]);
            i += 2;
            let (dist, len) = split_token(token, out.len() - start);
            if len > chunk_end.saturating_sub(out.len()) {
                return Err(DecompressError::Corrupt("LZNT1 copy runs past the chunk"));
            }
            copy_match(out, start, dist, len, end)?;
        }
    }
    Ok(())
}

/// (displacement, length) of a copy token issued after `pos` bytes of the chunk's output.
fn split_token(token: u16, pos: usize) -> (usize, usize) {
    // Displacement bits: 4 while pos <= 16, one more each time pos passes a power of two.
    let mut length_bits = 12u32;
    let mut p = pos.saturating_sub(1) >> 4;
    while p > 0 && length_bits > 4 {
        length_bits -= 1;
        p >>= 1;
    }
    let dist = usize::from(token >> length_bits) + 1;
    let len = usize::from(token & ((1u16 << length_bits) - 1)) + 3;
    (dist, len)
}

#[cfg(test)]
mod tests {
    use super::split_token;

    #[test]
    fn token_split() {
        // pos 1..=16: 4/12 bits; 17..=32: 5/11; 2049..=4096: 12/4.
        assert_eq!(split_token(0x1005, 1), (2, 8));
        assert_eq!(split_token(0x1005, 16), (2, 8));
        assert_eq!(split_token(0x1005, 17), (3, 8));
        assert_eq!(split_token(0x0805, 32), (2, 8));
        assert_eq!(split_token(0x0805, 33), (3, 8));
        assert_eq!(split_token(0xFFFF, 4096), (4096, 18));
        assert_eq!(split_token(0x0010, 2049), (2, 3));
        assert_eq!(split_token(0x0010, 2048), (1, 19));
    }
}
