//! LZ77+Huffman ("XPRESS Huffman", [MS-XCA] §2.1 format, §2.2 decompression).
//!
//! The output is produced in blocks of 65536 bytes (a match may run past a block's end; the
//! block ends after it). Each block starts with a 256-byte table holding the code lengths of the
//! 512 Huffman symbols, 4 bits each, the even symbol in the low nibble; a length of 0 means the
//! symbol is unused. The codes are canonical (§2.2.4): shorter codes first, then by symbol
//! value, at most 15 bits, and must fill the code space exactly.
//!
//! After the table comes a bit stream of 16-bit little-endian words, most significant bit first;
//! the bytes of extended match lengths sit between those words, read from the current input
//! position when needed. Symbols below 256 are literals; symbol `256 + 16 * b + l` is a match
//! whose offset has `b` bits (offset = `(1 << b) | bits`) and whose length is `l + 3`, or when
//! `l` is 15 continues in a byte, then (byte 255) a 16-bit length holding the whole length minus
//! 3; offsets stop at 65535 and lengths at 65538. Symbol 256 (a match of 3 at distance 1) doubles
//! as the end-of-stream marker.

use super::{DecompressError, copy_match};

/// Output bytes per block.
pub const BLOCK_SIZE: usize = 65536;
/// Length of each block's code length table.
pub const TABLE_LEN: usize = 256;
/// Number of Huffman symbols: 256 literals and 256 match headers.
const SYMBOLS: usize = 512;
/// Longest code.
const MAX_CODE_LEN: u32 = 15;
/// Codes up to this many bits decode with one table look-up.
const FAST_BITS: u32 = 10;

/// Decompresses `input`, appending to `out`; fails with [`DecompressError::TooLarge`] rather
/// than append more than `limit` bytes.
///
/// The format has no length of its own, so `limit` doubles as the expected size, as in
/// [MS-XCA] §2.2.4: the stream ends at symbol 256 once exactly `limit` bytes are out (bytes
/// after it are ignored), or at a block boundary with less than a table's worth of input left
/// once they are; before that, 256 is a match and a missing table is
/// [`DecompressError::Truncated`].
pub fn decompress(input: &[u8], out: &mut Vec<u8>, limit: usize) -> Result<(), DecompressError> {
    let base = out.len();
    let end = base.saturating_add(limit);
    let mut pos = 0;
    loop {
        // §2.2.4: no room for another table ends the stream if the output is complete.
        let Some(table) = input.get(pos..).and_then(|s| s.first_chunk::<TABLE_LEN>()) else {
            return if out.len() == end {
                Ok(())
            } else {
                Err(DecompressError::Truncated)
            };
        };
        let code = Huffman::new(table)?;
        let mut bits = BitReader::new(input, pos + TABLE_LEN)?;
        let block_start = out.len();
        while out.len() - block_start < BLOCK_SIZE {
            let sym = bits.symbol(&code)?;
            if sym < 256 {
                if out.len() >= end {
                    return Err(DecompressError::TooLarge);
                }
                // `sym < 256` was just checked, so the cast keeps every bit.
                out.push(sym as u8);
                continue;
            }
            if sym == 256 && out.len() == end {
                // End of stream: as a match it would overrun the expected size anyway.
                return Ok(());
            }
            let header = u32::from(sym - 256);
            let offset_bits = header >> 4;
            let mut len = (header & 15) as usize;
            if len == 15 {
                len = usize::from(bits.byte()?);
                if len == 255 {
                    // The whole length minus 3; no 32-bit form (lengths stop at 65538).
                    len = usize::from(u16::from_le_bytes(bits.bytes()?));
                    len = len.checked_sub(15).ok_or(DecompressError::Corrupt(
                        "LZ77+Huffman long match length too small",
                    ))?;
                }
                len += 15;
            }
            len += 3;
            let dist = bits.read(offset_bits)? | (1 << offset_bits);
            // `dist` is below 2^16, which every usize holds.
            copy_match(out, base, dist as usize, len, end)?;
        }
        pos = bits.pos;
    }
}

/// A canonical Huffman decoder built from one block's length table, in fixed arrays.
struct Huffman {
    /// Number of codes of each length (index 0 unused).
    counts: [u16; MAX_CODE_LEN as usize + 1],
    /// Symbols ordered by (code length, symbol): the canonical code order.
    sorted: [u16; SYMBOLS],
    /// Indexed by the next FAST_BITS bits: `len << 9 | symbol`, or 0 for a longer code.
    fast: [u16; 1 << FAST_BITS],
}

impl Huffman {
    fn new(table: &[u8; TABLE_LEN]) -> Result<Self, DecompressError> {
        let len_of = |sym: usize| (table[sym / 2] >> (4 * (sym % 2))) & 0x0F;
        let mut counts = [0u16; MAX_CODE_LEN as usize + 1];
        for sym in 0..SYMBOLS {
            counts[usize::from(len_of(sym))] += 1;
        }
        counts[0] = 0;
        // §2.2.4: the codes must fill the code space exactly (Kraft sum 1), neither more
        // (over-subscribed) nor less (incomplete).
        let mut left: i32 = 1;
        for &c in &counts[1..] {
            left = left * 2 - i32::from(c);
            if left < 0 {
                return Err(DecompressError::Corrupt("over-subscribed Huffman code"));
            }
        }
        if left != 0 {
            return Err(DecompressError::Corrupt("incomplete Huffman code"));
        }
        let mut next = [0u16; MAX_CODE_LEN as usize + 1];
        for l in 1..counts.len() {
            next[l] = next[l - 1] + counts[l - 1];
        }
        let mut sorted = [0u16; SYMBOLS];
        for sym in 0..SYMBOLS {
            let l = usize::from(len_of(sym));
            if l > 0 {
                // `next[l]` stays below the number of used symbols, at most 512.
                sorted[usize::from(next[l])] = sym as u16;
                next[l] += 1;
            }
        }
        let mut fast = [0u16; 1 << FAST_BITS];
        let mut code: usize = 0;
        let mut index = 0;
        for len in 1..=FAST_BITS {
            for _ in 0..counts[len as usize] {
                let span = 1usize << (FAST_BITS - len);
                let entry = ((len as u16) << 9) | sorted[index];
                // Kraft held, so the codes of each length fit in the table.
                if let Some(slots) = fast.get_mut(code * span..(code + 1) * span) {
                    slots.fill(entry);
                }
                code += 1;
                index += 1;
            }
            code <<= 1;
        }
        Ok(Huffman {
            counts,
            sorted,
            fast,
        })
    }

    /// The symbol whose code starts `peek` (the next 15 bits, first bit highest), and its length.
    fn decode(&self, peek: u32) -> Option<(u16, u32)> {
        let e = self.fast[(peek >> (MAX_CODE_LEN - FAST_BITS)) as usize];
        if e != 0 {
            return Some((e & 0x1FF, u32::from(e >> 9)));
        }
        let mut first: u32 = 0;
        let mut index: usize = 0;
        for len in 1..=MAX_CODE_LEN {
            let code = peek >> (MAX_CODE_LEN - len);
            let count = u32::from(self.counts[len as usize]);
            let k = code.wrapping_sub(first);
            if k < count {
                return self.sorted.get(index + k as usize).map(|&s| (s, len));
            }
            index += count as usize;
            first = (first + count) << 1;
        }
        None
    }
}

/// The §2.2.4 bit reader: a 32-bit window whose top bit is the next bit, refilled one 16-bit
/// word at a time from `pos` once fewer than 16 bits are left beyond the current position.
/// Like the specification's decoder it reads every word it refills, so a stream that stops
/// short of one (even the trailing padding) is [`DecompressError::Truncated`].
struct BitReader<'a> {
    input: &'a [u8],
    /// Next input byte to read (CurrentPosition).
    pos: usize,
    window: u32,
    /// ExtraBitCount: valid bits in `window` minus 16.
    extra: i32,
}

impl<'a> BitReader<'a> {
    fn new(input: &'a [u8], pos: usize) -> Result<Self, DecompressError> {
        let mut r = BitReader {
            input,
            pos,
            window: 0,
            extra: 16,
        };
        let hi = r.word()?;
        r.window = (hi << 16) | r.word()?;
        Ok(r)
    }

    /// The next 16-bit word.
    fn word(&mut self) -> Result<u32, DecompressError> {
        self.bytes().map(|w| u32::from(u16::from_le_bytes(w)))
    }

    /// Drops `n` (at most 15) bits, then refills per §2.2.4.
    fn consume(&mut self, n: u32) -> Result<(), DecompressError> {
        self.window <<= n;
        self.extra -= n as i32;
        if self.extra < 0 {
            let w = self.word()?;
            self.window |= w << (-self.extra);
            self.extra += 16;
        }
        Ok(())
    }

    fn symbol(&mut self, code: &Huffman) -> Result<u16, DecompressError> {
        let (sym, len) =
            code.decode(self.window >> (32 - MAX_CODE_LEN))
                .ok_or(DecompressError::Corrupt(
                    "bit pattern matches no Huffman code",
                ))?;
        self.consume(len)?;
        Ok(sym)
    }

    /// The next `n` (at most 15) bits as a number.
    fn read(&mut self, n: u32) -> Result<u32, DecompressError> {
        if n == 0 {
            return Ok(0);
        }
        let v = self.window >> (32 - n);
        self.consume(n)?;
        Ok(v)
    }

    fn byte(&mut self) -> Result<u8, DecompressError> {
        self.bytes::<1>().map(|[b]| b)
    }

    /// `N` raw bytes at the current input position (extended match lengths).
    fn bytes<const N: usize>(&mut self) -> Result<[u8; N], DecompressError> {
        let b: &[u8; N] = self
            .input
            .get(self.pos..)
            .and_then(|s| s.first_chunk())
            .ok_or(DecompressError::Truncated)?;
        self.pos += N;
        Ok(*b)
    }
}
