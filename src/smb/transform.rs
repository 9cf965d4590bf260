//! The SMB2 TRANSFORM_HEADER (encryption, [MS-SMB2] §2.2.41) and COMPRESSION_TRANSFORM_HEADER
//! (§2.2.42). Decryption and decompression live elsewhere; this only frames the bytes.

use crate::smb::negotiate::{Cipher, CompressionAlgorithm};
use crate::smb::util::{u16_at, u32_at};
use crate::wire::{Layer, ParseError, Result};

/// ProtocolId of an encrypted message: `0xFD 'S' 'M' 'B'` (§2.2.41).
pub const TRANSFORM_MAGIC: [u8; 4] = [0xFD, b'S', b'M', b'B'];

/// ProtocolId of a compressed message: `0xFC 'S' 'M' 'B'` (§2.2.42).
pub const COMPRESSION_MAGIC: [u8; 4] = [0xFC, b'S', b'M', b'B'];

/// Length of the TRANSFORM_HEADER.
pub const TRANSFORM_HEADER_LEN: usize = 52;

/// TRANSFORM_HEADER Flags (3.1.1) / EncryptionAlgorithm (3.0, 3.0.2) (§2.2.41).
pub mod transform_flags {
    /// 3.1.1: the message is encrypted. 3.0/3.0.2: SMB2_ENCRYPTION_AES128_CCM (same value).
    pub const ENCRYPTED: u16 = 0x0001;
}

/// COMPRESSION_TRANSFORM_HEADER / payload header Flags (§2.2.42).
pub mod compression_header_flags {
    /// SMB2_COMPRESSION_FLAG_NONE: unchained.
    pub const NONE: u16 = 0x0000;
    /// SMB2_COMPRESSION_FLAG_CHAINED.
    pub const CHAINED: u16 = 0x0001;
}

/// A view over an encrypted message: the 52-byte TRANSFORM_HEADER and the ciphertext after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransformHeader<'a> {
    msg: &'a [u8],
    hdr: &'a [u8; TRANSFORM_HEADER_LEN],
    signature: &'a [u8; 16],
    nonce: &'a [u8; 16],
}

impl<'a> TransformHeader<'a> {
    /// Checks the protocol id and that at least 52 bytes are present.
    pub fn parse(msg: &'a [u8]) -> Result<TransformHeader<'a>> {
        let hdr: &[u8; TRANSFORM_HEADER_LEN] = msg.first_chunk().ok_or(ParseError::new(
            Layer::Transform,
            msg.len(),
            "truncated transform header",
        ))?;
        if hdr[..4] != TRANSFORM_MAGIC {
            return Err(ParseError::new(
                Layer::Transform,
                0,
                "not a transform header",
            ));
        }
        Ok(TransformHeader {
            msg,
            hdr,
            signature: array16(hdr, field::SIGNATURE)?,
            nonce: array16(hdr, field::NONCE)?,
        })
    }

    /// Signature: the AEAD tag (16 bytes).
    pub fn signature(&self) -> &'a [u8; 16] {
        self.signature
    }

    /// Nonce field (16 bytes); see [`aead_nonce`](Self::aead_nonce) for the bytes used.
    pub fn nonce(&self) -> &'a [u8; 16] {
        self.nonce
    }

    /// The nonce bytes `cipher` uses: 11 for CCM, 12 for GCM; `None` for other ciphers.
    pub fn aead_nonce(&self, cipher: Cipher) -> Option<&'a [u8]> {
        let n = match cipher {
            Cipher::AES_128_CCM | Cipher::AES_256_CCM => 11,
            Cipher::AES_128_GCM | Cipher::AES_256_GCM => 12,
            _ => return None,
        };
        self.nonce.get(..n)
    }

    /// OriginalMessageSize: the plaintext length.
    pub fn original_message_size(&self) -> u32 {
        self.read32(field::ORIGINAL_MESSAGE_SIZE)
    }

    /// Flags (3.1.1) / EncryptionAlgorithm (3.0.x); 0x0001 either way.
    pub fn flags(&self) -> u16 {
        u16::from_le_bytes([self.hdr[field::FLAGS], self.hdr[field::FLAGS + 1]])
    }

    /// SessionId: selects the decryption key.
    pub fn session_id(&self) -> u64 {
        u64::from(self.read32(field::SESSION_ID))
            | (u64::from(self.read32(field::SESSION_ID + 4)) << 32)
    }

    /// The AEAD additional data: bytes 20..52 (Nonce through SessionId).
    pub fn aad(&self) -> &'a [u8] {
        let (_, aad) = self.hdr.split_at(field::NONCE);
        aad
    }

    /// The ciphertext: everything after the 52-byte header. In a whole message its length
    /// equals [`original_message_size`](Self::original_message_size); check that before
    /// decrypting a message that may have been cut short.
    pub fn ciphertext(&self) -> &'a [u8] {
        self.msg.get(TRANSFORM_HEADER_LEN..).unwrap_or(&[])
    }

    /// The whole message (header and ciphertext).
    pub fn raw(&self) -> &'a [u8] {
        self.msg
    }

    /// Every caller passes a `field::` offset, all of which leave 4 bytes inside the header.
    fn read32(&self, off: usize) -> u32 {
        let h = self.hdr;
        u32::from_le_bytes([h[off], h[off + 1], h[off + 2], h[off + 3]])
    }
}

/// A parsed COMPRESSION_TRANSFORM_HEADER (§2.2.42).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompressionHeader<'a> {
    /// §2.2.42.1: one algorithm; `offset` uncompressed bytes at the start of `data`, then the
    /// compressed bytes.
    Unchained {
        /// OriginalCompressedSegmentSize: size of the decompressed data (excluding `offset`).
        original_size: u32,
        algorithm: CompressionAlgorithm,
        /// Offset: length of the uncompressed prefix of `data`.
        offset: u32,
        /// Everything after the 16-byte header.
        data: &'a [u8],
    },
    /// §2.2.42.2: a chain of payloads, each with its own algorithm.
    Chained {
        /// OriginalCompressedSegmentSize: size of the whole decompressed message.
        original_size: u32,
        payloads: Vec<ChainedPayload<'a>>,
    },
}

/// One payload of a chained compressed message (§2.2.42.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainedPayload<'a> {
    pub algorithm: CompressionAlgorithm,
    /// See [`compression_header_flags`] (CHAINED on the first payload).
    pub flags: u16,
    /// OriginalPayloadSize; absent for NONE and Pattern_V1 (§2.2.42.2.1).
    pub original_payload_size: Option<u32>,
    /// The payload bytes after OriginalPayloadSize (for Pattern_V1 the 8-byte
    /// SMB2_COMPRESSION_PATTERN_PAYLOAD_V1, §2.2.42.2.2).
    pub data: &'a [u8],
}

impl ChainedPayload<'_> {
    /// The size this payload decompresses to: its length for NONE, Repetitions for
    /// Pattern_V1, OriginalPayloadSize otherwise. The sizes of a well-formed chain add up to
    /// the header's OriginalCompressedSegmentSize.
    pub fn decompressed_size(&self) -> Option<u32> {
        match self.algorithm {
            CompressionAlgorithm::NONE => u32::try_from(self.data.len()).ok(),
            CompressionAlgorithm::PATTERN_V1 => self.pattern_v1().map(|(_, n)| n),
            _ => self.original_payload_size,
        }
    }

    /// For a Pattern_V1 payload: (Pattern byte, Repetitions) (§2.2.42.2.2).
    pub fn pattern_v1(&self) -> Option<(u8, u32)> {
        if self.algorithm != CompressionAlgorithm::PATTERN_V1 {
            return None;
        }
        let pattern = *self.data.first()?;
        let reps = u32_at(self.data, 4, Layer::Compression).ok()?;
        Some((pattern, reps))
    }
}

impl<'a> CompressionHeader<'a> {
    /// Parses the header (and, for chained messages, every payload header). The Flags field at
    /// offset 10 tells the two forms apart: CHAINED there means a chained message. A chained
    /// payload whose Length runs past the end is an error.
    pub fn parse(msg: &'a [u8]) -> Result<Self> {
        let magic = msg.first_chunk::<4>().ok_or(ParseError::new(
            Layer::Compression,
            msg.len(),
            "truncated compression header",
        ))?;
        if *magic != COMPRESSION_MAGIC {
            return Err(ParseError::new(
                Layer::Compression,
                0,
                "not a compression transform header",
            ));
        }
        let original_size = u32_at(msg, cfield::ORIGINAL_SIZE, Layer::Compression)?;
        let flags = u16_at(msg, cfield::FLAGS, Layer::Compression)?;
        if flags & compression_header_flags::CHAINED != 0 {
            return Ok(CompressionHeader::Chained {
                original_size,
                payloads: parse_chain(msg)?,
            });
        }
        let algorithm = CompressionAlgorithm(u16_at(msg, cfield::ALGORITHM, Layer::Compression)?);
        let offset = u32_at(msg, cfield::OFFSET, Layer::Compression)?;
        Ok(CompressionHeader::Unchained {
            original_size,
            algorithm,
            offset,
            data: msg.get(cfield::UNCHAINED_LEN..).unwrap_or(&[]),
        })
    }

    /// OriginalCompressedSegmentSize.
    pub fn original_size(&self) -> u32 {
        match self {
            CompressionHeader::Unchained { original_size, .. }
            | CompressionHeader::Chained { original_size, .. } => *original_size,
        }
    }
}

/// Walks the payload headers from offset 8 to the end of `msg`.
fn parse_chain(msg: &[u8]) -> Result<Vec<ChainedPayload<'_>>> {
    let mut out = Vec::new();
    let mut pos = cfield::CHAIN_START;
    while pos < msg.len() {
        let algorithm = CompressionAlgorithm(u16_at(msg, pos, Layer::Compression)?);
        let flags = u16_at(msg, pos + 2, Layer::Compression)?;
        let length = u32_at(msg, pos + 4, Layer::Compression)?;
        let start = pos + cfield::PAYLOAD_HEADER_LEN;
        let body = usize::try_from(length)
            .ok()
            .and_then(|n| msg.get(start..)?.get(..n))
            .ok_or(ParseError::new(
                Layer::Compression,
                pos + 4,
                "payload Length past the end",
            ))?;
        let has_size = !matches!(
            algorithm,
            CompressionAlgorithm::NONE | CompressionAlgorithm::PATTERN_V1
        );
        let (original_payload_size, data) = if has_size {
            let size = u32_at(body, 0, Layer::Compression).map_err(|_| {
                ParseError::new(
                    Layer::Compression,
                    start,
                    "payload shorter than its size field",
                )
            })?;
            (Some(size), body.get(4..).unwrap_or(&[]))
        } else {
            (None, body)
        };
        out.push(ChainedPayload {
            algorithm,
            flags,
            original_payload_size,
            data,
        });
        pos = start + body.len();
    }
    Ok(out)
}

fn array16(hdr: &[u8; TRANSFORM_HEADER_LEN], off: usize) -> Result<&[u8; 16]> {
    hdr.get(off..off + 16)
        .and_then(|s| s.try_into().ok())
        .ok_or(ParseError::new(
            Layer::Transform,
            off,
            "truncated transform header",
        ))
}

/// TRANSFORM_HEADER offsets (§2.2.41).
mod field {
    pub const SIGNATURE: usize = 4;
    pub const NONCE: usize = 20;
    pub const ORIGINAL_MESSAGE_SIZE: usize = 36;
    pub const FLAGS: usize = 42;
    pub const SESSION_ID: usize = 44;
}

/// COMPRESSION_TRANSFORM_HEADER offsets (§2.2.42.1 unchained, §2.2.42.2 chained).
mod cfield {
    pub const ORIGINAL_SIZE: usize = 4;
    /// Unchained CompressionAlgorithm / first chained payload's CompressionAlgorithm.
    pub const ALGORITHM: usize = 8;
    /// Unchained Flags / first chained payload's Flags.
    pub const FLAGS: usize = 10;
    pub const OFFSET: usize = 12;
    pub const UNCHAINED_LEN: usize = 16;
    pub const CHAIN_START: usize = 8;
    /// CompressionAlgorithm u16, Flags u16, Length u32.
    pub const PAYLOAD_HEADER_LEN: usize = 8;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smb::testutil::{check_raw_prefixes, hex, nbss_payload};

    // wireshark/smb300-aes-128-ccm.pcap.gz frame 8 (tshark: msg_size 80, sesid 0x00003c009c000019).
    const CCM_F8: &str = "00000084fd534d427fb30943721466bec7056bb599255ac08df4935aeb3f2865000000000000000050000000000001001900009c003c00006d590cd4203c84b830437639b52508f2ab57cc4fa708405f7489c781842fb4d027ad2def871f76f2e5395839fa7f55b26006f0676b3ee0e5e71f7ed4d89d0af05c6c4fc9da2efe32e0eed45ff399f5dc";

    #[test]
    fn transform_header() {
        let m = nbss_payload(CCM_F8);
        let t = TransformHeader::parse(&m).unwrap();
        assert_eq!(
            t.signature()[..],
            hex("7fb30943721466bec7056bb599255ac0")[..]
        );
        assert_eq!(t.nonce()[..], hex("8df4935aeb3f28650000000000000000")[..]);
        assert_eq!(t.aead_nonce(Cipher::AES_128_CCM).unwrap().len(), 11);
        assert_eq!(t.aead_nonce(Cipher::AES_256_GCM).unwrap().len(), 12);
        assert_eq!(t.aead_nonce(Cipher::NONE), None);
        assert_eq!(t.original_message_size(), 80);
        assert_eq!(t.flags(), transform_flags::ENCRYPTED);
        assert_eq!(t.session_id(), 0x0000_3c00_9c00_0019);
        assert_eq!(t.aad(), &m[20..52]);
        assert_eq!(t.ciphertext().len(), 80);
        assert_eq!(t.raw(), &m[..]);
        check_raw_prefixes(&m, 52, |b| TransformHeader::parse(b).is_ok());
        let mut bad = m.clone();
        bad[0] = 0xFE;
        assert!(TransformHeader::parse(&bad).is_err());
    }

    #[test]
    fn unchained() {
        // wireshark/smb311-lz77-lz77huff-lznt1.pcap.gz frames 1, 2, 3 (tshark: LZ77, LZ77+Huffman,
        // LZNT1; OriginalSize 4176).
        let cases = [
            (
                "0000004afc534d42501000000200000000000000b0828800fe534d4240000100010008000a4c000000068a000000fffe009a006d790010a40037001111005000ffffff5f00bf006107000ffffc0f",
                CompressionAlgorithm::LZ77,
            ),
            (
                "0000012dfc534d4250100000030000000000000052000005050500005500000000000000000000000000000000000000000000000505000000005000055000000000000050000000000000005000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000555500000000000050000000000000000000000000050000000000050000000000500505000500000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000a0ac08f7a130407b909ea75a9c527906b4757e889b270080fffc0f0000",
                CompressionAlgorithm::LZ77_HUFFMAN,
            ),
            (
                "00000189fc534d4250100000010000000000000070b100fe534d424000010011010008000a04900000064102880000fffe00024c750d013c100450081811005000fa00082e61ff017f807f107f107f10ff7f107f107f103f083f043f043f043f04ff3f043f043f043f043f043f043f043f04ff3f043f043f043f043f043f043f043f04ff3f043f043f043f043f043f043f043f04ff3f041f021f011f011f011f011f011f01ff1f011f011f011f011f011f011f011f01ff1f011f011f011f011f011f011f011f01ff1f011f011f011f011f011f011f011f01ff1f011f011f011f011f011f011f011f01ff1f011f011f011f011f011f011f011f01ff1f011f011f011f011f011f011f011f01ff1f011f011f011f011f011f011f011f01ff1f011f011f011f011f011f011f011f01ff1f011f011f011f011f011f011f011f01ff1f011f011f011f011f011f011f011f01ff1f011f011f011f011f011f011f011f01ff1f011f011f011f011f011f011f011f01ff1f011f011f011f011f011f011f011f01031f01100103b002614c00",
                CompressionAlgorithm::LZNT1,
            ),
        ];
        for (v, alg) in cases {
            let m = nbss_payload(v);
            let c = CompressionHeader::parse(&m).unwrap();
            assert_eq!(c.original_size(), 4176);
            match c {
                CompressionHeader::Unchained {
                    algorithm,
                    offset,
                    data,
                    ..
                } => {
                    assert_eq!((algorithm, offset), (alg, 0));
                    assert_eq!(data, &m[16..]);
                }
                other => panic!("expected unchained, got {other:?}"),
            }
            check_raw_prefixes(&m, 16, |b| CompressionHeader::parse(b).is_ok());
        }
    }

    #[test]
    fn chained() {
        // wireshark/smb311-chained-patternv1-lznt1.pcapng.gz frame 1: LZNT1 then Pattern_V1.
        let m = nbss_payload(
            "00000078fc534d427001000001000100580000007000000051b000fe534d4240000100b501000900700800380100040018110100fffe00005400000500080014023800006400c2890690655e1f74001f9d2a29145bc2310c007003400400180c01001e0e000e0124010e0d000400000008000000aa00000000010000",
        );
        let CompressionHeader::Chained {
            original_size,
            payloads,
        } = CompressionHeader::parse(&m).unwrap()
        else {
            panic!("expected chained");
        };
        assert_eq!(original_size, 0x170);
        assert_eq!(payloads.len(), 2);
        assert_eq!(payloads[0].algorithm, CompressionAlgorithm::LZNT1);
        assert_eq!(payloads[0].flags, compression_header_flags::CHAINED);
        assert_eq!(payloads[0].original_payload_size, Some(0x70));
        assert_eq!(payloads[0].data.len(), 0x58 - 4);
        assert_eq!(payloads[1].original_payload_size, None);
        assert_eq!(payloads[1].pattern_v1(), Some((0xAA, 256)));
        assert_eq!(payloads[0].pattern_v1(), None);
        let total: u32 = payloads
            .iter()
            .map(|p| p.decompressed_size().unwrap())
            .sum();
        assert_eq!(total, original_size);
        // A prefix ending on the payload boundary (8 + 8 + 0x58) is a well-framed shorter chain.
        check_raw_prefixes(&m, 104, |b| CompressionHeader::parse(b).is_ok());
        assert!((105..m.len()).all(|n| CompressionHeader::parse(&m[..n]).is_err()));

        // Frame 2: NONE (the SMB2 header, uncompressed) then Pattern_V1.
        let m = nbss_payload(
            "00000070fc534d42500100000000010050000000fe534d4240000100000000000800010009000000000000000500000000000000fffe0000010000000508001402380000b5575ff57475a895b411ae016378801a110050020001000000000000000000000400000008000000aa00000000010000",
        );
        let CompressionHeader::Chained { payloads, .. } = CompressionHeader::parse(&m).unwrap()
        else {
            panic!("expected chained");
        };
        assert_eq!(payloads[0].algorithm, CompressionAlgorithm::NONE);
        assert_eq!(payloads[0].original_payload_size, None);
        assert_eq!(payloads[0].data[..4], [0xFE, b'S', b'M', b'B']);
        assert_eq!(payloads[1].pattern_v1(), Some((0xAA, 256)));
        assert_eq!(payloads[0].decompressed_size(), Some(0x50));
    }

    #[test]
    fn bad_chains() {
        // Length past the end.
        let m = hex("fc534d42 10000000 0100 0100 ffffff7f 00000000");
        assert_eq!(CompressionHeader::parse(&m).unwrap_err().offset, 12);
        // LZNT1 payload too short for OriginalPayloadSize.
        let m = hex("fc534d42 10000000 0100 0100 02000000 0000");
        assert!(CompressionHeader::parse(&m).is_err());
        // Trailing partial payload header.
        let m = hex("fc534d42 10000000 0000 0100 00000000 0400");
        assert!(CompressionHeader::parse(&m).is_err());
        // Not a compression header.
        assert!(CompressionHeader::parse(&hex("fe534d42 00000000 0000 0000")).is_err());
    }
}
