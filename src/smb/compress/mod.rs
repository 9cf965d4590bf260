//! SMB2 compression: the [MS-XCA] codecs and the COMPRESSION_TRANSFORM_HEADER decompression of
//! [MS-SMB2] §2.2.42 / §3.1.4.4.
//!
//! Everything here is sans-IO and bounded: every codec appends to a caller-owned `Vec<u8>` and
//! fails with [`DecompressError::TooLarge`] instead of writing past the limit it was given, so a
//! decompression bomb (a few bytes that declare gigabytes) cannot grow memory. No function
//! panics on any input.
//!
//! - [`lznt1`]: LZNT1 ([MS-XCA] §2.5), 4 KiB chunks.
//! - [`lz77`]: plain LZ77 ("XPRESS", [MS-XCA] §2.3 / §2.4).
//! - [`lz77_huffman`]: LZ77+Huffman ("XPRESS Huffman", [MS-XCA] §2.1 / §2.2).
//! - [`pattern_v1`]: SMB2_COMPRESSION_PATTERN_PAYLOAD_V1 ([MS-SMB2] §2.2.42.2.2).
//!
//! LZ4 (algorithm 5) is not implemented: it yields [`DecompressError::Unsupported`].
//!
//! [MS-XCA]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-xca/
//! [MS-SMB2]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-smb2/

use std::fmt;

use crate::smb::negotiate::CompressionAlgorithm;
use crate::smb::transform::{COMPRESSION_MAGIC, ChainedPayload, CompressionHeader};

pub mod lz77;
pub mod lz77_huffman;
pub mod lznt1;
pub mod pattern_v1;

/// Why a compressed buffer could not be decompressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecompressError {
    /// The input ended in the middle of a header, token or chunk.
    Truncated,
    /// The input is malformed; the reason names the check that failed.
    Corrupt(&'static str),
    /// The output would exceed the limit (a declared size above `max_out`, or a codec that
    /// tried to write past its bound).
    TooLarge,
    /// The algorithm is not implemented (LZ4) or not a known algorithm id.
    Unsupported(CompressionAlgorithm),
    /// The decompressed length differs from the declared size.
    SizeMismatch,
}

impl fmt::Display for DecompressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecompressError::Truncated => f.write_str("compressed data truncated"),
            DecompressError::Corrupt(why) => write!(f, "compressed data corrupt: {why}"),
            DecompressError::TooLarge => f.write_str("decompressed data exceeds the size limit"),
            DecompressError::Unsupported(alg) => {
                write!(f, "unsupported compression algorithm {alg:?}")
            }
            DecompressError::SizeMismatch => {
                f.write_str("decompressed size differs from the declared size")
            }
        }
    }
}

impl std::error::Error for DecompressError {}

/// Decompresses one SMB2 message that starts with `0xFC 'S' 'M' 'B'` into `out`.
///
/// `out` is cleared first and reused across calls: once its capacity has grown to the largest
/// message seen, unchained messages cost no allocation (chained ones allocate the small payload
/// list of [`CompressionHeader::parse`]).
///
/// `max_out` bounds the output: a declared size above it is rejected up front with
/// [`DecompressError::TooLarge`], and no codec writes past it.
///
/// - Unchained (§2.2.42.1): the `Offset` bytes after the 16-byte header are copied as-is, then
///   the rest is decompressed with the header's algorithm to exactly OriginalCompressedSegmentSize
///   bytes. OriginalCompressedSegmentSize counts the compressed segment only, so the message is
///   `Offset + OriginalCompressedSegmentSize` bytes long (the sum SMBGhost, CVE-2020-0796,
///   overflowed); that sum must fit in `max_out`.
/// - Chained (§2.2.42.2): each payload in order. NONE is copied, Pattern_V1 repeats its byte,
///   LZNT1 / LZ77 / LZ77+Huffman decompress to exactly their OriginalPayloadSize. The
///   concatenation must be OriginalCompressedSegmentSize bytes long.
///
/// On error `out` is left empty.
pub fn decompress_message(
    msg: &[u8],
    max_out: usize,
    out: &mut Vec<u8>,
) -> Result<(), DecompressError> {
    out.clear();
    let r = decompress_message_inner(msg, max_out, out);
    if r.is_err() {
        out.clear();
    }
    r
}

/// Decompresses `input` with one algorithm, appending exactly `expected_len` bytes to `out`.
///
/// Nothing past `expected_len` is ever written. NONE copies `input`; Pattern_V1 takes the 8-byte
/// SMB2_COMPRESSION_PATTERN_PAYLOAD_V1 (§2.2.42.2.2). Matches may only refer to bytes this call
/// produced. On error `out` is truncated back to its length at entry.
pub fn decompress(
    alg: CompressionAlgorithm,
    input: &[u8],
    expected_len: usize,
    out: &mut Vec<u8>,
) -> Result<(), DecompressError> {
    let start = out.len();
    let r = decompress_inner(alg, input, expected_len, out);
    if r.is_err() {
        out.truncate(start);
    }
    r
}

fn decompress_inner(
    alg: CompressionAlgorithm,
    input: &[u8],
    expected_len: usize,
    out: &mut Vec<u8>,
) -> Result<(), DecompressError> {
    let start = out.len();
    match alg {
        CompressionAlgorithm::NONE => {
            if input.len() != expected_len {
                return Err(DecompressError::SizeMismatch);
            }
            out.extend_from_slice(input);
        }
        CompressionAlgorithm::LZNT1 => lznt1::decompress(input, out, expected_len)?,
        CompressionAlgorithm::LZ77 => lz77::decompress(input, out, expected_len)?,
        CompressionAlgorithm::LZ77_HUFFMAN => lz77_huffman::decompress(input, out, expected_len)?,
        CompressionAlgorithm::PATTERN_V1 => pattern_v1::decompress(input, out, expected_len)?,
        other => return Err(DecompressError::Unsupported(other)),
    }
    if out.len() - start != expected_len {
        return Err(DecompressError::SizeMismatch);
    }
    Ok(())
}

fn decompress_message_inner(
    msg: &[u8],
    max_out: usize,
    out: &mut Vec<u8>,
) -> Result<(), DecompressError> {
    let header = CompressionHeader::parse(msg).map_err(|e| {
        if msg.get(..4).is_some_and(|m| m != COMPRESSION_MAGIC) {
            DecompressError::Corrupt(e.reason)
        } else {
            DecompressError::Truncated
        }
    })?;
    match header {
        CompressionHeader::Unchained {
            original_size,
            algorithm,
            offset,
            data,
        } => {
            let size = to_usize(original_size)?;
            let offset = to_usize(offset)?;
            let total = size.checked_add(offset).ok_or(DecompressError::TooLarge)?;
            if total > max_out {
                return Err(DecompressError::TooLarge);
            }
            let (prefix, compressed) = data
                .split_at_checked(offset)
                .ok_or(DecompressError::Truncated)?;
            out.reserve(total);
            out.extend_from_slice(prefix);
            decompress_inner(algorithm, compressed, size, out)
        }
        CompressionHeader::Chained {
            original_size,
            payloads,
        } => {
            let total = to_usize(original_size)?;
            if total > max_out {
                return Err(DecompressError::TooLarge);
            }
            out.reserve(total);
            for p in &payloads {
                chained_payload(p, total, out)?;
            }
            if out.len() != total {
                return Err(DecompressError::SizeMismatch);
            }
            Ok(())
        }
    }
}

/// Appends one chained payload (§2.2.42.2.1), which must fit in what is left of `total`.
fn chained_payload(
    p: &ChainedPayload<'_>,
    total: usize,
    out: &mut Vec<u8>,
) -> Result<(), DecompressError> {
    let room = total.saturating_sub(out.len());
    let size = match p.algorithm {
        CompressionAlgorithm::NONE => p.data.len(),
        CompressionAlgorithm::PATTERN_V1 => {
            let (_, reps) = p.pattern_v1().ok_or(DecompressError::Truncated)?;
            to_usize(reps)?
        }
        CompressionAlgorithm::LZNT1
        | CompressionAlgorithm::LZ77
        | CompressionAlgorithm::LZ77_HUFFMAN => {
            to_usize(p.original_payload_size.ok_or(DecompressError::Truncated)?)?
        }
        other => return Err(DecompressError::Unsupported(other)),
    };
    if size > room {
        return Err(DecompressError::SizeMismatch);
    }
    decompress_inner(p.algorithm, p.data, size, out)
}

/// A wire `u32` as a length; lengths beyond the address space are simply too large.
fn to_usize(v: u32) -> Result<usize, DecompressError> {
    usize::try_from(v).map_err(|_| DecompressError::TooLarge)
}

/// Appends `len` bytes copied from `dist` bytes back (an LZ77 match; the source may overlap the
/// bytes being written, which repeats the last `dist` bytes). `floor` is the first byte the match
/// may read (the start of this codec's output, or of the LZNT1 chunk); `end` the length `out`
/// must not exceed.
pub(crate) fn copy_match(
    out: &mut Vec<u8>,
    floor: usize,
    dist: usize,
    len: usize,
    end: usize,
) -> Result<(), DecompressError> {
    let here = out.len();
    if dist == 0 || dist > here - floor.min(here) {
        return Err(DecompressError::Corrupt("match offset before the start"));
    }
    if len > end.saturating_sub(here) {
        return Err(DecompressError::TooLarge);
    }
    out.reserve(len);
    let mut src = here - dist;
    let mut left = len;
    while left > 0 {
        // The bytes in src..out.len() already exist; each pass at least doubles what can be
        // copied in one go when the match overlaps itself.
        let n = left.min(out.len() - src);
        out.extend_from_within(src..src + n);
        src += n;
        left -= n;
    }
    Ok(())
}

#[cfg(test)]
mod lz77_huffman_tests;
#[cfg(test)]
mod lz77_tests;
#[cfg(test)]
mod lznt1_tests;
#[cfg(test)]
mod message_tests;
