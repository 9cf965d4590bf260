//! Tests for [`super::lz77`]: the [MS-XCA] §3 examples, a reference compressor written from the
//! §2.3 format, and hostile input.

use super::DecompressError;
use super::lz77::decompress;
use super::message_tests::{Rng, Token, sample_inputs, tokens};
use crate::smb::testutil::hex;

/// Plain LZ77 compressor ([MS-XCA] §2.3): 32-bit flag words (first item in the top bit), 16-bit
/// tokens `(dist - 1) << 3 | min(len - 3, 7)`, shared length nibbles, then byte / u16 / u32
/// lengths. The last flag word is padded with 1 bits, which ends the stream.
pub(super) fn compress(data: &[u8]) -> Vec<u8> {
    let mut w = Writer {
        out: vec![0; 4],
        flag_pos: 0,
        flags: 0,
        count: 0,
        half: None,
    };
    for t in tokens(data, |_| (8192, usize::MAX)) {
        match t {
            Token::Literal(b) => {
                w.flag(0);
                w.out.push(b);
            }
            Token::Match { dist, len } => {
                w.flag(1);
                w.token(dist, len);
            }
        }
    }
    if w.count == 32 {
        w.flag_word_done();
    }
    let pad = 32 - w.count;
    let flags = (u64::from(w.flags) << pad) | ((1u64 << pad) - 1);
    w.out[w.flag_pos..w.flag_pos + 4].copy_from_slice(&(flags as u32).to_le_bytes());
    w.out
}

struct Writer {
    out: Vec<u8>,
    flag_pos: usize,
    flags: u32,
    count: u32,
    /// Byte whose high nibble the next long match fills.
    half: Option<usize>,
}

impl Writer {
    fn flag(&mut self, bit: u32) {
        if self.count == 32 {
            self.flag_word_done();
        }
        self.flags = (self.flags << 1) | bit;
        self.count += 1;
    }

    fn flag_word_done(&mut self) {
        let f = self.flags.to_le_bytes();
        self.out[self.flag_pos..self.flag_pos + 4].copy_from_slice(&f);
        self.flag_pos = self.out.len();
        self.out.extend_from_slice(&[0; 4]);
        (self.flags, self.count) = (0, 0);
    }

    fn token(&mut self, dist: usize, len: usize) {
        let l = len - 3;
        let d = ((dist - 1) as u16) << 3;
        self.out
            .extend_from_slice(&(d | l.min(7) as u16).to_le_bytes());
        if l < 7 {
            return;
        }
        let l = l - 7;
        let nibble = l.min(15) as u8;
        match self.half.take() {
            Some(at) => self.out[at] |= nibble << 4,
            None => {
                self.half = Some(self.out.len());
                self.out.push(nibble);
            }
        }
        if l < 15 {
            return;
        }
        if l - 15 < 255 {
            self.out.push((l - 15) as u8);
            return;
        }
        self.out.push(255);
        let whole = len - 3;
        if whole < 1 << 16 {
            self.out.extend_from_slice(&(whole as u16).to_le_bytes());
        } else {
            self.out.extend_from_slice(&[0, 0]);
            self.out.extend_from_slice(&(whole as u32).to_le_bytes());
        }
    }
}

fn run(input: &[u8], limit: usize) -> Result<Vec<u8>, DecompressError> {
    let mut out = Vec::new();
    decompress(input, &mut out, limit).map(|()| out)
}

/// [MS-XCA] §3.1 / §3.2: "abcdefghijklmnopqrstuvwxyz" is 26 literals; "abc" x 100 is three
/// literals and one match of 297 at distance 3 (nibble 15, byte 255, u16 294).
#[test]
fn ms_xca_examples() {
    let alpha = b"abcdefghijklmnopqrstuvwxyz";
    let mut v = hex("3f000000");
    v.extend_from_slice(alpha);
    assert_eq!(run(&v, 26).unwrap(), alpha);
    assert_eq!(compress(alpha), v);
    let v = hex("ffffff1f 616263 1700 0f ff 2601");
    assert_eq!(run(&v, 300).unwrap(), b"abc".repeat(100));
    assert_eq!(compress(&b"abc".repeat(100)), v);
    for n in 0..v.len() {
        assert!(run(&v[..n], 300).map_or(true, |o| o.len() < 300));
    }
}

#[test]
fn round_trips() {
    for data in sample_inputs() {
        let c = compress(&data);
        assert_eq!(run(&c, data.len()).unwrap(), data, "len {}", data.len());
        if !data.is_empty() {
            assert_eq!(run(&c, data.len() - 1), Err(DecompressError::TooLarge));
        }
        // Appending keeps what was in `out`, and matches cannot reach into it.
        let mut out = b"xyz".to_vec();
        decompress(&c, &mut out, data.len()).unwrap();
        assert_eq!(out[..3], *b"xyz");
        assert_eq!(out[3..], data[..]);
    }
}

#[test]
fn length_forms() {
    // Two long matches share one nibble byte (low nibble first): 'a', then 3 + 7 + 2 = 12 and
    // 3 + 7 + 5 = 15 bytes at distance 1.
    let v = hex("ffffff7f 61 0700 52 0700");
    assert_eq!(run(&v, 28).unwrap(), vec![b'a'; 28]);
    // u32 length form: 'a' then 70000 more.
    let v = hex("ffffff7f 61 0700 0f ff 0000 6d110100");
    assert_eq!(run(&v, 70_001).unwrap(), vec![b'a'; 70_001]);
    // A u16 length below 22 cannot be encoded this way.
    let v = hex("ffffff7f 61 0700 0f ff 1500");
    assert!(matches!(run(&v, 100), Err(DecompressError::Corrupt(_))));
}

#[test]
fn overlap_and_bad_offsets() {
    // "ab" then a match of 9 at distance 2: "ababababab a".
    let v = hex("ffffff3f 6162 0e00");
    assert_eq!(run(&v, 11).unwrap(), b"abababababa");
    // A match at distance 3 with only two bytes out.
    let v = hex("ffffff3f 6162 1000");
    assert_eq!(
        run(&v, 100),
        Err(DecompressError::Corrupt("match offset before the start"))
    );
    // A match first.
    assert!(matches!(
        run(&hex("ffffffff 0000"), 100),
        Err(DecompressError::Corrupt(_))
    ));
}

#[test]
fn hostile_input_never_panics() {
    let c = compress(&sample_inputs()[10]);
    for n in 0..c.len() {
        let _ = run(&c[..n], 9000);
    }
    let mut rng = Rng(77);
    for _ in 0..3000 {
        let len = (rng.next() % 300) as usize;
        let v: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        if let Ok(o) = run(&v, 4096) {
            assert!(o.len() <= 4096);
        }
    }
}

/// Writes compressed samples to `$SMBSCOPE_XCA_DUMP/lz77-N.{in,out}` for checking against an
/// independent decompressor (done with Python dissect.util 3.24, `lzxpress.decompress`: all
/// equal).
#[test]
#[ignore = "manual cross-check"]
fn dump_for_cross_check() {
    let dir = std::env::var("SMBSCOPE_XCA_DUMP").expect("set SMBSCOPE_XCA_DUMP");
    for (i, data) in sample_inputs().iter().enumerate() {
        std::fs::write(format!("{dir}/lz77-{i}.in"), data).unwrap();
        std::fs::write(format!("{dir}/lz77-{i}.out"), compress(data)).unwrap();
    }
}
