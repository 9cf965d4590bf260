//! Reassembly of CRYPTO (RFC 9000 §19.6) or STREAM data by offset: out of order, duplicates
//! and overlaps ignored (the first copy of a byte wins), memory bounded by a window above the
//! read position.
//!
//! ```text
//! read_offset                                   read_offset + max_buffered
//!     |[ readable ][ hole ][ held ][ hole ][held]|  beyond: Overflow
//! ```

use std::fmt;

/// Most separate received ranges kept at once; past that an insert that would open a new hole
/// is refused with [`Overflow`] (it keeps each insert's cost and the range list bounded).
pub const MAX_RANGES: usize = 256;

/// Data was refused: it lies beyond `read_offset + max_buffered` (the part inside the window,
/// if any, was kept), or it would split the held data into more than [`MAX_RANGES`] ranges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overflow {
    /// Stream offset of the first byte that was dropped.
    pub offset: u64,
}

impl fmt::Display for Overflow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "stream data at offset {} exceeds the reassembly window",
            self.offset
        )
    }
}

impl std::error::Error for Overflow {}

/// A bounded reassembly buffer for one stream (or one CRYPTO encryption level).
#[derive(Debug, Clone)]
pub struct StreamBuf {
    max_buffered: usize,
    /// Stream offset of `buf[start]`.
    read_offset: u64,
    /// Window bytes from `start`; holes hold zeros until filled.
    buf: Vec<u8>,
    start: usize,
    /// Received ranges at or above `read_offset`: sorted, disjoint, not touching, absolute
    /// half-open `[from, to)`.
    ranges: Vec<(u64, u64)>,
}

impl StreamBuf {
    /// A buffer that holds at most `max_buffered` bytes beyond the read position.
    pub fn new(max_buffered: usize) -> Self {
        StreamBuf {
            max_buffered,
            read_offset: 0,
            buf: Vec::new(),
            start: 0,
            ranges: Vec::new(),
        }
    }

    /// Adds `data` found at stream `offset`. Bytes below the read position or already held are
    /// ignored (first copy wins). Bytes at or past `read_offset + max_buffered` are dropped and
    /// reported as [`Overflow`]; the part inside the window is kept.
    pub fn insert(&mut self, offset: u64, data: &[u8]) -> Result<(), Overflow> {
        let Some(end) = offset.checked_add(data.len() as u64) else {
            return Err(Overflow { offset });
        };
        let window_end = self.read_offset.saturating_add(self.max_buffered as u64);
        let from = offset.max(self.read_offset);
        let to = end.min(window_end);
        let result = if end > window_end {
            Err(Overflow {
                offset: window_end.max(offset),
            })
        } else {
            Ok(())
        };
        if from >= to {
            return result;
        }
        if self.would_exceed_ranges(from, to) {
            return Err(Overflow { offset: from });
        }
        // Both bounds are inside the window, so these differences fit in usize.
        let rel_to = (to - self.read_offset) as usize;
        self.reserve_window(rel_to);
        let data_at = |pos: u64| (pos - offset) as usize;
        // Copy into each gap between held ranges inside [from, to).
        let mut cursor = from;
        for &(a, b) in self
            .ranges
            .iter()
            .chain(std::iter::once(&(u64::MAX, u64::MAX)))
        {
            if cursor >= to {
                break;
            }
            if b <= cursor {
                continue;
            }
            let gap_end = a.min(to);
            if gap_end > cursor {
                let dst = self.start + (cursor - self.read_offset) as usize;
                let n = (gap_end - cursor) as usize;
                self.buf[dst..dst + n].copy_from_slice(&data[data_at(cursor)..data_at(cursor) + n]);
            }
            cursor = cursor.max(b);
        }
        self.add_range(from, to);
        result
    }

    /// The contiguous bytes from the current read position.
    pub fn readable(&self) -> &[u8] {
        match self.ranges.first() {
            Some(&(a, b)) if a == self.read_offset => {
                let n = (b - a) as usize;
                &self.buf[self.start..self.start + n]
            }
            _ => &[],
        }
    }

    /// Advances the read position by `n` bytes (at most [`readable`](Self::readable)`.len()`).
    pub fn consume(&mut self, n: usize) {
        let n = n.min(self.readable().len());
        if n == 0 {
            return;
        }
        self.read_offset += n as u64;
        self.start += n;
        if let Some(first) = self.ranges.first_mut() {
            first.0 += n as u64;
            if first.0 >= first.1 {
                self.ranges.remove(0);
            }
        }
        if self.start >= self.buf.len() {
            self.buf.clear();
            self.start = 0;
        } else if self.start >= self.buf.len() / 2 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
    }

    /// Stream offset of the next byte [`readable`](Self::readable) would return.
    pub fn read_offset(&self) -> u64 {
        self.read_offset
    }

    /// Bytes held at or beyond the read position (readable or waiting for a hole to fill).
    pub fn buffered(&self) -> usize {
        self.ranges.iter().map(|&(a, b)| (b - a) as usize).sum()
    }

    /// Whether inserting `[from, to)` would leave more than [`MAX_RANGES`] ranges.
    fn would_exceed_ranges(&self, from: u64, to: u64) -> bool {
        if self.ranges.len() < MAX_RANGES {
            return false;
        }
        // Only a range touching no held range adds one.
        !self.ranges.iter().any(|&(a, b)| a <= to && from <= b)
    }

    /// Makes `buf[start..start + rel_to]` exist, compacting first when that keeps the buffer
    /// within the window.
    fn reserve_window(&mut self, rel_to: usize) {
        if self.start > 0 && self.start + rel_to > self.max_buffered {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        if self.buf.len() < self.start + rel_to {
            self.buf.resize(self.start + rel_to, 0);
        }
    }

    /// Merges `[from, to)` into the sorted range list.
    fn add_range(&mut self, from: u64, to: u64) {
        let i = self.ranges.partition_point(|&(_, b)| b < from);
        let mut j = i;
        let (mut lo, mut hi) = (from, to);
        while j < self.ranges.len() && self.ranges[j].0 <= to {
            lo = lo.min(self.ranges[j].0);
            hi = hi.max(self.ranges[j].1);
            j += 1;
        }
        self.ranges.splice(i..j, std::iter::once((lo, hi)));
    }
}

#[cfg(test)]
#[path = "crypto_stream_tests.rs"]
mod tests;
