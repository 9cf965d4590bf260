//! Tests for [`super::lznt1`]: a reference compressor written from [MS-XCA] §2.5, and hostile
//! input.

use super::DecompressError;
use super::lznt1::decompress;
use super::message_tests::{Rng, Token, sample_inputs, tokens};
use crate::smb::testutil::hex;

/// Displacement bits for a copy issued after `pos` bytes of a chunk: the fewest, at least 4,
/// whose range covers `pos` (written independently of the decoder's loop).
fn offset_bits(pos: usize) -> u32 {
    (usize::BITS - pos.saturating_sub(1).leading_zeros()).max(4)
}

/// LZNT1 compressor: per 4096-byte chunk, a compressed chunk if that is smaller, else the raw
/// chunk. `terminate` appends the 0x0000 end header.
pub(super) fn compress(data: &[u8], terminate: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in data.chunks(4096) {
        let body = compress_chunk(chunk);
        let (h, bytes) = if body.len() < chunk.len() {
            (0xB000 | (body.len() + 2 - 3) as u16, &body[..])
        } else {
            (0x3000 | (chunk.len() + 2 - 3) as u16, chunk)
        };
        out.extend_from_slice(&h.to_le_bytes());
        out.extend_from_slice(bytes);
    }
    if terminate {
        out.extend_from_slice(&[0, 0]);
    }
    out
}

fn compress_chunk(chunk: &[u8]) -> Vec<u8> {
    let limits = |pos: usize| {
        let ob = offset_bits(pos);
        (pos.min(1 << ob), (1 << (16 - ob)) - 1 + 3)
    };
    let mut out = Vec::new();
    let mut flag_at = 0;
    let mut pos = 0;
    for (i, t) in tokens(chunk, limits).into_iter().enumerate() {
        if i % 8 == 0 {
            flag_at = out.len();
            out.push(0);
        }
        match t {
            Token::Literal(b) => {
                out.push(b);
                pos += 1;
            }
            Token::Match { dist, len } => {
                out[flag_at] |= 1 << (i % 8);
                let lb = 16 - offset_bits(pos);
                let token = (((dist - 1) << lb) | (len - 3)) as u16;
                out.extend_from_slice(&token.to_le_bytes());
                pos += len;
            }
        }
    }
    out
}

fn run(input: &[u8], limit: usize) -> Result<Vec<u8>, DecompressError> {
    let mut out = Vec::new();
    decompress(input, &mut out, limit).map(|()| out)
}

#[test]
fn round_trips() {
    for (i, data) in sample_inputs().iter().enumerate() {
        let c = compress(data, i % 2 == 0);
        assert_eq!(run(&c, data.len()).unwrap(), *data, "len {}", data.len());
        if !data.is_empty() {
            assert_eq!(run(&c, data.len() - 1), Err(DecompressError::TooLarge));
        }
        let mut out = vec![0xEE; 5];
        decompress(&c, &mut out, data.len()).unwrap();
        assert_eq!(out[5..], data[..]);
    }
}

#[test]
fn hand_made_chunks() {
    // Compressed chunk: flags 0b0000_0010, 'a', copy token (distance 1, length 3 + 13) at
    // position 1 (4 displacement bits, 12 length bits): 17 x 'a'. Header 0xB000 | (6 - 3).
    let v = hex("03b0 02 61 0d00");
    assert_eq!(run(&v, 17).unwrap(), vec![b'a'; 17]);
    // The same after an uncompressed 4-byte chunk, then the end marker, then ignored bytes.
    let v = hex("0330 77777777 03b0 02 61 0d00 0000 ffff");
    let o = run(&v, 21).unwrap();
    assert_eq!(o[..4], [0x77; 4]);
    assert_eq!(o[4..], [b'a'; 17]);
    // Overlapping copy of a 2-byte period: "ab" + 8.
    let v = hex("04b0 04 61 62 0510");
    assert_eq!(run(&v, 10).unwrap(), b"ababababab");
}

#[test]
fn corrupt_chunks() {
    // Copy before the chunk start (distance 2 after one byte).
    let v = hex("03b0 02 61 0d10");
    assert_eq!(
        run(&v, 100),
        Err(DecompressError::Corrupt("match offset before the start"))
    );
    // Copies cannot reach into the previous chunk.
    let v = hex("0330 77777777 02b0 01 0000");
    assert!(matches!(run(&v, 100), Err(DecompressError::Corrupt(_))));
    // Bad signature.
    assert!(matches!(
        run(&hex("03f0 02 61 0d00"), 100),
        Err(DecompressError::Corrupt(_))
    ));
    // Copy token cut by the chunk end.
    assert!(matches!(
        run(&hex("02b0 02 61 0d"), 100),
        Err(DecompressError::Corrupt(_))
    ));
    // Chunk longer than its header says is there; a lone byte after a chunk.
    assert_eq!(
        run(&hex("03b0 02 61"), 100),
        Err(DecompressError::Truncated)
    );
    assert_eq!(
        run(&hex("0030 61 00"), 100),
        Err(DecompressError::Truncated)
    );
    // A chunk that would decode to 4099 bytes: 'a', then a copy of 4098 (12 length bits at
    // position 1).
    assert_eq!(
        run(&hex("03b0 02 61 ff0f"), 100_000),
        Err(DecompressError::Corrupt("LZNT1 copy runs past the chunk"))
    );
    // 4096 is fine: a copy of 4095.
    assert_eq!(
        run(&hex("03b0 02 61 fc0f"), 4096).map(|o| o.len()),
        Ok(4096)
    );
}

#[test]
fn hostile_input_never_panics() {
    let c = compress(&sample_inputs()[10], false);
    for n in 0..c.len() {
        let _ = run(&c[..n], 9000);
    }
    let mut rng = Rng(0xB0B);
    for i in 0..3000 {
        let len = (rng.next() % 400) as usize;
        let mut v: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        if i % 2 == 0 && len >= 2 {
            // A plausible header so the chunk body gets decoded.
            let h = 0xB000 | (rng.next() as u16 & 0x0FFF);
            v[..2].copy_from_slice(&h.to_le_bytes());
        }
        if let Ok(o) = run(&v, 8192) {
            assert!(o.len() <= 8192);
        }
    }
}

/// Writes compressed samples to `$SMBSCOPE_XCA_DUMP/lznt1-N.{in,out}` for checking against an
/// independent decompressor (done with Python dissect.util 3.24, `lznt1.decompress`: all
/// equal).
#[test]
#[ignore = "manual cross-check"]
fn dump_for_cross_check() {
    let dir = std::env::var("SMBSCOPE_XCA_DUMP").expect("set SMBSCOPE_XCA_DUMP");
    for (i, data) in sample_inputs().iter().enumerate() {
        std::fs::write(format!("{dir}/lznt1-{i}.in"), data).unwrap();
        std::fs::write(format!("{dir}/lznt1-{i}.out"), compress(data, i % 2 == 0)).unwrap();
    }
}
