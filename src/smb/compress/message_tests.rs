//! [`decompress_message`] and [`decompress`] on real captures, bombs and garbage.

use super::*;
use crate::smb::testutil::{hex, nbss_payload};

// wireshark/smb311-lz77-lz77huff-lznt1.pcap.gz (tcp.payload, NBSS header included): READ
// responses, unchained, Offset 0, OriginalCompressedSegmentSize 4176. Wireshark's
// suite_dissection.py expects the READ data of each to be b'a' * 4096.
/// Frame 1: LZ77.
const LZ77_F1: &str = "0000004afc534d42501000000200000000000000b0828800fe534d4240000100010008000a4c000000068a000000fffe009a006d790010a40037001111005000ffffff5f00bf006107000ffffc0f";
/// Frame 2: LZ77+Huffman.
const HUFF_F2: &str = "0000012dfc534d4250100000030000000000000052000005050500005500000000000000000000000000000000000000000000000505000000005000055000000000000050000000000000005000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000555500000000000050000000000000000000000000050000000000050000000000500505000500000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000a0ac08f7a130407b909ea75a9c527906b4757e889b270080fffc0f0000";
/// Frame 3: LZNT1.
const LZNT1_F3: &str = "00000189fc534d4250100000010000000000000070b100fe534d424000010011010008000a04900000064102880000fffe00024c750d013c100450081811005000fa00082e61ff017f807f107f107f10ff7f107f107f103f083f043f043f043f04ff3f043f043f043f043f043f043f043f04ff3f043f043f043f043f043f043f043f04ff3f043f043f043f043f043f043f043f04ff3f041f021f011f011f011f011f011f01ff1f011f011f011f011f011f011f011f01ff1f011f011f011f011f011f011f011f01ff1f011f011f011f011f011f011f011f01ff1f011f011f011f011f011f011f011f01ff1f011f011f011f011f011f011f011f01ff1f011f011f011f011f011f011f011f01ff1f011f011f011f011f011f011f011f01ff1f011f011f011f011f011f011f011f01ff1f011f011f011f011f011f011f011f01ff1f011f011f011f011f011f011f011f01ff1f011f011f011f011f011f011f011f01ff1f011f011f011f011f011f011f011f01ff1f011f011f011f011f011f011f011f01031f01100103b002614c00";

// wireshark/smb311-chained-patternv1-lznt1.pcapng.gz (tcp.payload): chained. Wireshark's
// suite_dissection.py expects the data of each to be b'\xaa' * 256.
/// Frame 1: WRITE request, LZNT1 (112 bytes: header and WRITE body) then Pattern_V1 0xAA x 256.
const CHAINED_F1: &str = "00000078fc534d427001000001000100580000007000000051b000fe534d4240000100b501000900700800380100040018110100fffe00005400000500080014023800006400c2890690655e1f74001f9d2a29145bc2310c007003400400180c01001e0e000e0124010e0d000400000008000000aa00000000010000";
/// Frame 2: READ response, NONE (80 bytes) then Pattern_V1 0xAA x 256.
const CHAINED_F2: &str = "00000070fc534d42500100000000010050000000fe534d4240000100000000000800010009000000000000000500000000000000fffe0000010000000508001402380000b5575ff57475a895b411ae016378801a110050020001000000000000000000000400000008000000aa00000000010000";

const MIB: usize = 1 << 20;

fn u16_at(b: &[u8], off: usize) -> u16 {
    u16::from_le_bytes([b[off], b[off + 1]])
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

/// Checks `out` is one SMB2 READ response (command 8: DataOffset u8 at 66, DataLength u32 at
/// 68) or WRITE request (command 9: DataOffset u16 at 66, Length u32 at 68) of `len` bytes
/// whose data is `fill` x `n`.
fn check_smb2(out: &[u8], len: usize, cmd: u16, fill: u8, n: usize) {
    assert_eq!(out.len(), len);
    assert_eq!(out[..4], [0xFE, b'S', b'M', b'B']);
    assert_eq!(u16_at(out, 4), 64, "SMB2 StructureSize");
    assert_eq!(u16_at(out, 12), cmd);
    let data = match cmd {
        8 => usize::from(out[66]),
        _ => usize::from(u16_at(out, 66)),
    };
    assert_eq!(u32_at(out, 68) as usize, n);
    assert_eq!(data + n, len);
    assert!(out[data..].iter().all(|&b| b == fill));
}

#[test]
fn wireshark_unchained() {
    let mut out = Vec::new();
    for v in [LZ77_F1, HUFF_F2, LZNT1_F3] {
        decompress_message(&nbss_payload(v), MIB, &mut out).unwrap();
        check_smb2(&out, 4176, 8, b'a', 4096);
        assert_eq!(out[66], 0x50);
    }
}

#[test]
fn wireshark_chained() {
    let mut out = Vec::new();
    decompress_message(&nbss_payload(CHAINED_F1), MIB, &mut out).unwrap();
    check_smb2(&out, 368, 9, 0xAA, 256);
    decompress_message(&nbss_payload(CHAINED_F2), MIB, &mut out).unwrap();
    check_smb2(&out, 336, 8, 0xAA, 256);
}

/// Every proper prefix fails; `out` is reused without reallocating.
#[test]
fn truncated_prefixes() {
    let mut out = Vec::with_capacity(8192);
    let ptr = out.as_ptr();
    for v in [LZ77_F1, HUFF_F2, LZNT1_F3, CHAINED_F1, CHAINED_F2] {
        let m = nbss_payload(v);
        for n in 0..m.len() {
            let r = decompress_message(&m[..n], MIB, &mut out);
            assert!(r.is_err(), "prefix {n} of {} decompressed", m.len());
            assert!(out.is_empty());
        }
        decompress_message(&m, MIB, &mut out).unwrap();
    }
    assert_eq!(out.as_ptr(), ptr, "out was reallocated");
}

/// The compressed payload alone (after the 16-byte header), through [`decompress`].
#[test]
fn raw_codecs_on_real_data() {
    let cases = [
        (LZ77_F1, CompressionAlgorithm::LZ77),
        (HUFF_F2, CompressionAlgorithm::LZ77_HUFFMAN),
        (LZNT1_F3, CompressionAlgorithm::LZNT1),
    ];
    let mut first: Option<Vec<u8>> = None;
    for (v, alg) in cases {
        let m = nbss_payload(v);
        let mut out = vec![0x11];
        decompress(alg, &m[16..], 4176, &mut out).unwrap();
        assert_eq!(out.len(), 4177);
        // One byte short or one byte more than the data holds.
        let mut o = vec![0x11];
        assert_eq!(
            decompress(alg, &m[16..], 4175, &mut o),
            Err(DecompressError::TooLarge)
        );
        assert_eq!(o, [0x11]);
        assert!(decompress(alg, &m[16..], 4177, &mut o).is_err());
        // The three responses differ only in their headers.
        match &first {
            None => first = Some(out),
            Some(f) => assert_eq!(f[80..], out[80..]),
        }
    }
}

#[test]
fn unchained_offset_prefix() {
    // MS-XCA §3.1 style plain LZ77: 26 literals, flags 0x0000003F (26 zero bits, then 1s).
    let mut body = hex("3f000000");
    body.extend_from_slice(b"abcdefghijklmnopqrstuvwxyz");
    let prefix = b"PREFIX-UNCOMPRESSED";
    let mut m = hex("fc534d42 1a000000 0200 0000");
    m.extend_from_slice(&(prefix.len() as u32).to_le_bytes());
    m.extend_from_slice(prefix);
    m.extend_from_slice(&body);
    let mut out = Vec::new();
    decompress_message(&m, 64, &mut out).unwrap();
    assert_eq!(&out[..prefix.len()], prefix);
    assert_eq!(&out[prefix.len()..], b"abcdefghijklmnopqrstuvwxyz");
    // Offset + OriginalCompressedSegmentSize must fit in max_out.
    assert_eq!(
        decompress_message(&m, 26 + prefix.len() - 1, &mut out),
        Err(DecompressError::TooLarge)
    );
    // Offset past the data.
    m[12..16].copy_from_slice(&1000u32.to_le_bytes());
    assert_eq!(
        decompress_message(&m, MIB, &mut out),
        Err(DecompressError::Truncated)
    );
    // Offset + size beyond u32 (the SMBGhost sum): TooLarge against a real limit, and with no
    // limit at all the offset still runs past the data.
    m[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    m[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(
        decompress_message(&m, MIB, &mut out),
        Err(DecompressError::TooLarge)
    );
    assert_eq!(
        decompress_message(&m, usize::MAX, &mut out),
        Err(DecompressError::Truncated)
    );
}

#[test]
fn message_errors() {
    let mut out = Vec::new();
    let mut m = nbss_payload(LZ77_F1);
    // Declared size one more / one less than the data holds.
    m[4..8].copy_from_slice(&4177u32.to_le_bytes());
    assert!(decompress_message(&m, MIB, &mut out).is_err());
    m[4..8].copy_from_slice(&4175u32.to_le_bytes());
    assert_eq!(
        decompress_message(&m, MIB, &mut out),
        Err(DecompressError::TooLarge)
    );
    // LZ4 and unknown ids.
    m[8..10].copy_from_slice(&5u16.to_le_bytes());
    assert_eq!(
        decompress_message(&m, MIB, &mut out),
        Err(DecompressError::Unsupported(CompressionAlgorithm::LZ4))
    );
    m[8..10].copy_from_slice(&0x99u16.to_le_bytes());
    assert_eq!(
        decompress_message(&m, MIB, &mut out),
        Err(DecompressError::Unsupported(CompressionAlgorithm(0x99)))
    );
    // Not a compressed message.
    m[0] = 0xFE;
    assert!(matches!(
        decompress_message(&m, MIB, &mut out),
        Err(DecompressError::Corrupt(_))
    ));
    // Chained: sizes that do not add up.
    let mut c = nbss_payload(CHAINED_F2);
    c[4..8].copy_from_slice(&337u32.to_le_bytes());
    assert_eq!(
        decompress_message(&c, MIB, &mut out),
        Err(DecompressError::SizeMismatch)
    );
    c[4..8].copy_from_slice(&335u32.to_le_bytes());
    assert_eq!(
        decompress_message(&c, MIB, &mut out),
        Err(DecompressError::SizeMismatch)
    );
    assert!(out.is_empty());
    for e in [
        DecompressError::Truncated,
        DecompressError::Corrupt("x"),
        DecompressError::TooLarge,
        DecompressError::Unsupported(CompressionAlgorithm::LZ4),
        DecompressError::SizeMismatch,
    ] {
        assert!(!e.to_string().is_empty());
    }
}

#[test]
fn decompress_none_and_pattern() {
    let mut out = Vec::new();
    decompress(CompressionAlgorithm::NONE, b"abc", 3, &mut out).unwrap();
    decompress(
        CompressionAlgorithm::PATTERN_V1,
        &hex("7a000000 02000000"),
        2,
        &mut out,
    )
    .unwrap();
    assert_eq!(out, b"abczz");
    assert_eq!(
        decompress(CompressionAlgorithm::NONE, b"abc", 2, &mut out),
        Err(DecompressError::SizeMismatch)
    );
    assert_eq!(
        decompress(
            CompressionAlgorithm::PATTERN_V1,
            &hex("7a000000 02000000"),
            3,
            &mut out
        ),
        Err(DecompressError::SizeMismatch)
    );
    assert_eq!(out, b"abczz");
}

/// Tiny inputs that declare 4 GiB: rejected up front, or by the codec at the limit, without
/// memory growing past about `max_out`.
#[test]
fn bombs() {
    let mut out = Vec::new();
    let t = std::time::Instant::now();
    // Unchained LZ77 / LZNT1 / LZ77+Huffman declaring 4 GiB - 1.
    for alg in [1u16, 2, 3] {
        let mut m = hex("fc534d42 ffffffff 0000 0000 00000000 00000000 00000000");
        m[8..10].copy_from_slice(&alg.to_le_bytes());
        assert_eq!(
            decompress_message(&m, MIB, &mut out),
            Err(DecompressError::TooLarge)
        );
    }
    // Chained Pattern_V1 x 4 GiB - 1.
    let m = hex("fc534d42 ffffffff 0400 0100 08000000 aa000000 ffffffff");
    assert_eq!(
        decompress_message(&m, MIB, &mut out),
        Err(DecompressError::TooLarge)
    );
    assert!(out.capacity() <= MIB);
    // A declared 1 MiB within max_out, but an LZ77 match of 2^32 - 1 + 3 bytes: 'a', then a
    // match with length 7 -> nibble 15 -> byte 255 -> u16 0 -> u32.
    let mut m = hex("fc534d42 00001000 0200 0000 00000000");
    m.extend_from_slice(&hex("ffffff7f 61 0700 0f ff 0000 ffffffff"));
    assert_eq!(
        decompress_message(&m, MIB, &mut out),
        Err(DecompressError::TooLarge)
    );
    // Chained: Pattern_V1 larger than the declared total.
    let m = hex("fc534d42 00001000 0400 0100 08000000 aa000000 ffffffff");
    assert_eq!(
        decompress_message(&m, MIB, &mut out),
        Err(DecompressError::SizeMismatch)
    );
    assert!(out.capacity() <= 2 * MIB);
    assert!(t.elapsed().as_secs() < 5);
}

pub(super) struct Rng(pub(super) u64);

impl Rng {
    pub(super) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Random payloads behind valid headers of every algorithm, and bit flips of the real vectors:
/// never a panic, never more output than declared.
#[test]
fn garbage_never_panics() {
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let mut out = Vec::new();
    for i in 0..4000u32 {
        let len = (rng.next() % 600) as usize;
        let body: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let size = (rng.next() % 9000) as u32;
        let alg = (i % 6) as u16;
        let mut m = hex("fc534d42");
        m.extend_from_slice(&size.to_le_bytes());
        m.extend_from_slice(&alg.to_le_bytes());
        if i % 3 == 0 {
            // Chained: one payload of the random bytes (with a size field where one belongs).
            m.extend_from_slice(&1u16.to_le_bytes());
            m.extend_from_slice(&(body.len() as u32).to_le_bytes());
        } else {
            m.extend_from_slice(&[0, 0]);
            m.extend_from_slice(&((rng.next() % 8) as u32).to_le_bytes());
        }
        m.extend_from_slice(&body);
        if decompress_message(&m, 8192, &mut out).is_ok() {
            assert!(out.len() <= 8192);
        }
    }
    for v in [LZ77_F1, HUFF_F2, LZNT1_F3, CHAINED_F1, CHAINED_F2] {
        let m = nbss_payload(v);
        for _ in 0..2000 {
            let mut f = m.clone();
            for _ in 0..1 + rng.next() % 4 {
                let at = 16 + (rng.next() as usize) % (f.len() - 16);
                f[at] ^= 1 << (rng.next() % 8);
            }
            if decompress_message(&f, MIB, &mut out).is_ok() {
                assert_eq!(out.len(), u32_at(&f, 4) as usize);
            }
        }
    }
}

/// A literal byte or a back reference, as the test compressors emit them.
#[derive(Debug, Clone, Copy)]
pub(super) enum Token {
    Literal(u8),
    Match { dist: usize, len: usize },
}

/// Greedy LZ77 parse of `data` (hash chains over 3-byte prefixes, matches of at least 3
/// bytes). `limits(pos)` gives the largest distance and length allowed at `pos`.
pub(super) fn tokens(data: &[u8], limits: impl Fn(usize) -> (usize, usize)) -> Vec<Token> {
    let mut head = std::collections::HashMap::<[u8; 3], usize>::new();
    let mut prev = vec![usize::MAX; data.len()];
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        let (max_dist, max_len) = limits(pos);
        let max_len = max_len.min(data.len() - pos);
        let (mut best_len, mut best_dist) = (0, 0);
        if let Some(k) = data.get(pos..pos + 3) {
            let mut cand = head.get(&[k[0], k[1], k[2]]).copied().unwrap_or(usize::MAX);
            for _ in 0..48 {
                if cand == usize::MAX || pos - cand > max_dist {
                    break;
                }
                let l = (0..max_len)
                    .take_while(|&i| data[cand + i] == data[pos + i])
                    .count();
                if l > best_len {
                    (best_len, best_dist) = (l, pos - cand);
                }
                cand = prev[cand];
            }
        }
        let step = if best_len >= 3 {
            out.push(Token::Match {
                dist: best_dist,
                len: best_len,
            });
            best_len
        } else {
            out.push(Token::Literal(data[pos]));
            1
        };
        for (p, link) in prev.iter_mut().enumerate().skip(pos).take(step) {
            if let Some(k) = data.get(p..p + 3) {
                *link = head.insert([k[0], k[1], k[2]], p).unwrap_or(usize::MAX);
            }
        }
        pos += step;
    }
    out
}

/// Deterministic inputs: empty, tiny, the MS-XCA examples, runs, text, noise, and sizes around
/// the LZNT1 chunk (4096) and LZ77+Huffman block (65536) boundaries.
pub(super) fn sample_inputs() -> Vec<Vec<u8>> {
    let mut rng = Rng(0x0123_4567_89AB_CDEF);
    let mut v: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"a".to_vec(),
        b"abc".to_vec(),
        b"abcdefghijklmnopqrstuvwxyz".to_vec(),
        b"abc".repeat(100),
        vec![b'a'; 4096],
        vec![0; 4097],
        vec![7; 70_000],
    ];
    for n in [1usize, 17, 255, 1000, 4095, 4096, 4097, 9000] {
        v.push((0..n).map(|_| rng.next() as u8).collect());
        v.push((0..n).map(|_| b"ACGT"[(rng.next() % 4) as usize]).collect());
    }
    let words: [&[u8]; 8] = [
        b"session ",
        b"signing ",
        b"tree ",
        b"connect ",
        b"SMB2 ",
        b"\x00\x01",
        b"READ ",
        b"\n",
    ];
    let mut text = Vec::new();
    while text.len() < 150_000 {
        if rng.next().is_multiple_of(10) {
            let n = (rng.next() % 300) as usize;
            text.extend((0..n).map(|_| rng.next() as u8));
        }
        text.extend_from_slice(words[(rng.next() % 8) as usize]);
    }
    for n in [65_535, 65_536, 65_537, 131_072, 150_000] {
        v.push(text[..n].to_vec());
    }
    v
}
