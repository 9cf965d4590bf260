//! QUIC packet protection (RFC 9001 §5, RFC 9369 §3.3): Initial secrets from the client's first
//! DCID, packet keys from any TLS traffic secret, header protection (AES-ECB or ChaCha20 mask),
//! packet-number recovery (RFC 9000 App. A.3), AEAD opening, key update and the Retry integrity
//! tag.
//!
//! ```text
//! initial_secret = HKDF-Extract(salt(version), client DCID)            SHA-256
//! client/server  = HKDF-Expand-Label(initial_secret, "client in"/"server in", "", 32)
//! key, iv, hp    = HKDF-Expand-Label(secret, "quic key"/"quic iv"/"quic hp", "", len)
//!                  (v2: "quicv2 key"/"quicv2 iv"/"quicv2 hp"; key update "quic ku"/"quicv2 ku")
//! mask           = AES-ECB(hp, sample) or ChaCha20(hp, counter=sample[0..4], nonce=sample[4..16])
//! nonce          = iv XOR packet number;  AAD = unprotected header through the packet number
//! ```

use std::fmt;

use aes::cipher::BlockCipherEncrypt;
use aes::{Aes128, Aes256};
use aes_gcm::AesGcm;
use aes_gcm::aead::array::Array;
use aes_gcm::aead::consts::{U12, U16};
use aes_gcm::aead::inout::InOutBuf;
use aes_gcm::aead::{AeadInOut, KeyInit};
use chacha20::cipher::{KeyIvInit, StreamCipherCore};
use chacha20::variants::Ietf;
use chacha20::{ChaChaCore, R20};
use chacha20poly1305::ChaCha20Poly1305;
use hkdf::Hkdf;
use sha2::{Sha256, Sha384};
use zeroize::Zeroizing;

use crate::quic::packet::{self, Packet, PacketType, VERSION_1, VERSION_2, decode_pn};

/// Initial salt of QUIC v1 (RFC 9001 §5.2).
const SALT_V1: [u8; 20] = hex_n(*b"38762cf7f55934b34d179ae6a4c80cadccbb7f0a");
/// Initial salt of QUIC v2 (RFC 9369 §3.3.1).
const SALT_V2: [u8; 20] = hex_n(*b"0dede3def700a6db819381be6e269dcbf9bd2ed9");
/// Initial salt of drafts 29 to 32 (draft-ietf-quic-tls-29 §5.2).
const SALT_DRAFT29: [u8; 20] = hex_n(*b"afbfec289993d24c9e9786f19c6111e04390a899");
/// Initial salt of drafts 23 to 28 (draft-ietf-quic-tls-23 §5.2).
const SALT_DRAFT23: [u8; 20] = hex_n(*b"c3eef712c72ebb5a11a7d2432bb46365bef9f502");

/// Retry Integrity Tag AES-128-GCM key and nonce of QUIC v1 (RFC 9001 §5.8).
const RETRY_KEY_V1: [u8; 16] = hex_n(*b"be0c690b9f66575a1d766b54e368c84e");
const RETRY_NONCE_V1: [u8; 12] = hex_n(*b"461599d35d632bf2239825bb");
/// Retry Integrity Tag key and nonce of drafts 29 to 32 (draft-ietf-quic-tls-29 §5.8).
const RETRY_KEY_DRAFT29: [u8; 16] = hex_n(*b"ccce187ed09a09d05728155a6cb96be1");
const RETRY_NONCE_DRAFT29: [u8; 12] = hex_n(*b"e54930f97f2136f0530a8c1c");
/// Retry Integrity Tag key and nonce of QUIC v2 (RFC 9369 §3.3.3).
const RETRY_KEY_V2: [u8; 16] = hex_n(*b"8fb4b01b56ac48e260fbcbcead7ccc92");
const RETRY_NONCE_V2: [u8; 12] = hex_n(*b"d86969bc2d7c6d9990efb04a");

/// HKDF labels (RFC 9001 §5.1, §5.2, §6.1; RFC 9369 §3.3.2). The "tls13 " prefix is added by
/// [`expand_label`].
mod label {
    pub const CLIENT_IN: &[u8] = b"client in";
    pub const SERVER_IN: &[u8] = b"server in";
    pub const KEY_V1: &[u8] = b"quic key";
    pub const IV_V1: &[u8] = b"quic iv";
    pub const HP_V1: &[u8] = b"quic hp";
    pub const KU_V1: &[u8] = b"quic ku";
    pub const KEY_V2: &[u8] = b"quicv2 key";
    pub const IV_V2: &[u8] = b"quicv2 iv";
    pub const HP_V2: &[u8] = b"quicv2 hp";
    pub const KU_V2: &[u8] = b"quicv2 ku";
}

/// AEAD nonce and IV length (RFC 9001 §5.3).
const IV_LEN: usize = 12;
/// AEAD tag length of every QUIC suite.
const TAG_LEN: usize = 16;
/// Header-protection sample length (RFC 9001 §5.4.2).
const SAMPLE_LEN: usize = 16;
/// The sample starts 4 bytes after the start of the packet number (RFC 9001 §5.4.2).
const SAMPLE_OFFSET: usize = 4;
/// Largest TLS secret handled: SHA-384's output.
const MAX_SECRET_LEN: usize = 48;
/// Low first-byte bits header protection covers (RFC 9001 §5.4.1).
const LONG_HP_BITS: u8 = 0x0f;
const SHORT_HP_BITS: u8 = 0x1f;
/// Key Phase bit of a short header (RFC 9000 §17.3.1).
const KEY_PHASE: u8 = 0x04;
/// Packet Number Length bits.
const PN_LEN_BITS: u8 = 0x03;

const REDACTED: &str = "<redacted>";

type Aes128Gcm = AesGcm<Aes128, U12>;
type Aes256Gcm = AesGcm<Aes256, U12>;

/// A TLS 1.3 cipher suite usable by QUIC (RFC 9001 §5.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Suite {
    /// TLS_AES_128_GCM_SHA256, 0x1301.
    Aes128Gcm,
    /// TLS_AES_256_GCM_SHA384, 0x1302.
    Aes256Gcm,
    /// TLS_CHACHA20_POLY1305_SHA256, 0x1303.
    ChaCha20Poly1305,
}

impl Suite {
    /// The suite with TLS codepoint `cs`, if QUIC can use it.
    pub fn from_codepoint(cs: u16) -> Option<Suite> {
        match cs {
            0x1301 => Some(Suite::Aes128Gcm),
            0x1302 => Some(Suite::Aes256Gcm),
            0x1303 => Some(Suite::ChaCha20Poly1305),
            _ => None,
        }
    }

    pub fn codepoint(self) -> u16 {
        match self {
            Suite::Aes128Gcm => 0x1301,
            Suite::Aes256Gcm => 0x1302,
            Suite::ChaCha20Poly1305 => 0x1303,
        }
    }

    /// Length of the suite's hash, and so of its traffic secrets: 32 or 48.
    pub fn hash_len(self) -> usize {
        match self {
            Suite::Aes256Gcm => 48,
            Suite::Aes128Gcm | Suite::ChaCha20Poly1305 => 32,
        }
    }

    /// Length of the AEAD key and of the header-protection key.
    pub fn key_len(self) -> usize {
        match self {
            Suite::Aes128Gcm => 16,
            Suite::Aes256Gcm | Suite::ChaCha20Poly1305 => 32,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Suite::Aes128Gcm => "TLS_AES_128_GCM_SHA256",
            Suite::Aes256Gcm => "TLS_AES_256_GCM_SHA384",
            Suite::ChaCha20Poly1305 => "TLS_CHACHA20_POLY1305_SHA256",
        }
    }
}

impl TryFrom<u16> for Suite {
    type Error = u16;

    fn try_from(cs: u16) -> std::result::Result<Suite, u16> {
        Suite::from_codepoint(cs).ok_or(cs)
    }
}

impl fmt::Display for Suite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Packet protection for one direction at one encryption level: the AEAD key and IV, the
/// header-protection key, and the secret they came from (for [`Keys::next_phase`]). `Debug`
/// never prints key material.
#[derive(Clone)]
pub struct Keys {
    version: u32,
    suite: Suite,
    secret: Zeroizing<[u8; MAX_SECRET_LEN]>,
    aead: PacketCipher,
    iv: Zeroizing<[u8; IV_LEN]>,
    hp: HeaderCipher,
}

/// The result of [`Keys::open`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opened {
    /// The full (expanded) packet number.
    pub pn: u64,
    /// Short header only: the Key Phase bit (0x04); `false` for long headers.
    pub key_phase: bool,
    /// The first byte with header protection removed.
    pub first_byte: u8,
}

/// Why [`Keys::open`] failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenError {
    /// Too short for a header-protection sample, a packet number or an AEAD tag.
    Truncated,
    /// The AEAD tag does not verify: wrong keys, wrong key phase, or altered bytes.
    BadTag,
    /// A Retry or Version Negotiation packet, which carries no protected payload.
    Unsupported,
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OpenError::Truncated => "packet too short for its protection",
            OpenError::BadTag => "authentication tag mismatch",
            OpenError::Unsupported => "packet type carries no protected payload",
        })
    }
}

impl std::error::Error for OpenError {}

impl Keys {
    /// Initial keys of `version` for one direction (RFC 9001 §5.2, RFC 9369 §3.3.1), derived from
    /// the DCID of the client's first Initial (after a Retry: the Retry's SCID). `is_client`
    /// picks the "client in" (client-to-server) or "server in" secret. Versions other than v2
    /// and the drafts get the v1 salt.
    pub fn initial(version: u32, client_dcid: &[u8], is_client: bool) -> Keys {
        let salt = initial_salt(version);
        let (_, initial) = Hkdf::<Sha256>::extract(Some(&salt), client_dcid);
        let lbl = if is_client {
            label::CLIENT_IN
        } else {
            label::SERVER_IN
        };
        let mut secret = Zeroizing::new([0u8; 32]);
        // 32 bytes is far below HKDF-SHA256's 255 * 32 output limit, and the label fits.
        expand_with(&initial, lbl, &mut secret[..]).expect("32-byte HKDF-SHA256 expand");
        // A 32-byte secret is exactly what AES-128-GCM/SHA-256 takes.
        Keys::from_secret(version, Suite::Aes128Gcm, &secret[..]).expect("32-byte secret")
    }

    /// Keys from a TLS traffic secret (RFC 9001 §5.1): "quic key"/"quic iv"/"quic hp" (v2:
    /// "quicv2 …") with HKDF-Expand-Label over SHA-256, or SHA-384 for AES-256-GCM. `None`
    /// when the secret's length is not the suite's hash length.
    pub fn from_secret(version: u32, suite: Suite, secret: &[u8]) -> Option<Keys> {
        if secret.len() != suite.hash_len() {
            return None;
        }
        let m = Material::derive(version, suite, secret)?;
        let mut stored = Zeroizing::new([0u8; MAX_SECRET_LEN]);
        stored[..secret.len()].copy_from_slice(secret);
        Some(Keys {
            version,
            suite,
            secret: stored,
            aead: PacketCipher::new(suite, m.key())?,
            iv: Zeroizing::new(m.iv),
            hp: HeaderCipher::new(suite, m.hp())?,
        })
    }

    /// The keys of the next key phase (RFC 9001 §6.1): the secret is updated with "quic ku"
    /// ("quicv2 ku") and new key and IV derived; the header-protection key stays.
    pub fn next_phase(&self) -> Keys {
        let len = self.suite.hash_len();
        let mut next = Zeroizing::new([0u8; MAX_SECRET_LEN]);
        let ku = if self.version == VERSION_2 {
            label::KU_V2
        } else {
            label::KU_V1
        };
        // The stored secret has the suite's hash length by construction (`from_secret`), and
        // every label here is short: expansion cannot fail.
        expand_label(self.suite, &self.secret[..len], ku, &mut next[..len]).expect("ku expand");
        let m = Material::derive(self.version, self.suite, &next[..len]).expect("derive");
        Keys {
            version: self.version,
            suite: self.suite,
            secret: next,
            // The key length matches the suite by construction of `Material`.
            aead: PacketCipher::new(self.suite, m.key()).expect("key length"),
            iv: Zeroizing::new(m.iv),
            hp: self.hp.clone(),
        }
    }

    /// The version these keys were derived for.
    pub fn version(&self) -> u32 {
        self.version
    }

    pub fn suite(&self) -> Suite {
        self.suite
    }

    /// Removes header protection and decrypts one packet. `largest_pn` = largest packet number
    /// seen so far in this packet-number space (for PN expansion, RFC 9000 App. A.3). Writes the
    /// plaintext frames into `out` (cleared; reuse).
    ///
    /// `out` is also the scratch space for the unmasked header copy, so a reused buffer stops
    /// allocating once it has held the largest packet. On error `out` is left empty.
    pub fn open(
        &self,
        pkt: &Packet<'_>,
        largest_pn: Option<u64>,
        out: &mut Vec<u8>,
    ) -> Result<Opened, OpenError> {
        out.clear();
        let raw = pkt.raw;
        let pn_offset = pkt.pn_offset;
        let mask = self.header_mask(pkt)?;
        let first = *raw.first().ok_or(OpenError::Truncated)?;
        let long = first & 0x80 != 0;
        let first = unmask_first(first, mask[0]);
        let pn_len = usize::from(first & PN_LEN_BITS) + 1;
        let header_len = pn_offset + pn_len;
        // The sample lies after the longest packet number, so the header is inside `raw`.
        let (header, rest) = raw
            .split_at_checked(header_len)
            .ok_or(OpenError::Truncated)?;
        let ct_len = rest
            .len()
            .checked_sub(TAG_LEN)
            .ok_or(OpenError::Truncated)?;
        let (ciphertext, tag) = rest.split_at(ct_len);

        // `out` = [plaintext (ct_len) | unmasked header copy (header_len)].
        out.resize(ct_len + header_len, 0);
        let (plain, hdr) = out.split_at_mut(ct_len);
        hdr.copy_from_slice(header);
        hdr[0] = first;
        let mut truncated_pn = 0u64;
        for (i, b) in hdr[pn_offset..].iter_mut().enumerate() {
            *b ^= mask[1 + i];
            truncated_pn = (truncated_pn << 8) | u64::from(*b);
        }
        let pn = decode_pn(largest_pn, truncated_pn, pn_len);

        let mut nonce = [0u8; IV_LEN];
        nonce.copy_from_slice(&self.iv[..]);
        for (n, p) in nonce[IV_LEN - 8..].iter_mut().zip(pn.to_be_bytes()) {
            *n ^= p;
        }
        let ok = self.aead.open(&nonce, hdr, ciphertext, plain, tag);
        if !ok {
            out.clear();
            return Err(OpenError::BadTag);
        }
        out.truncate(ct_len);
        Ok(Opened {
            pn,
            key_phase: !long && first & KEY_PHASE != 0,
            first_byte: first,
        })
    }

    /// The first byte of `pkt` with header protection removed, without decrypting: for a short
    /// header its Key Phase bit (0x04) tells which phase's keys to try (RFC 9001 §6.3), and the
    /// header-protection key is the same in every phase.
    pub fn first_byte(&self, pkt: &Packet<'_>) -> Result<u8, OpenError> {
        let mask = self.header_mask(pkt)?;
        let first = *pkt.raw.first().ok_or(OpenError::Truncated)?;
        Ok(unmask_first(first, mask[0]))
    }

    /// The header-protection mask of a protected packet (RFC 9001 §5.4.2).
    fn header_mask(&self, pkt: &Packet<'_>) -> Result<[u8; 5], OpenError> {
        if !pkt.ty.is_protected() {
            return Err(OpenError::Unsupported);
        }
        let sample_at = pkt
            .pn_offset
            .checked_add(SAMPLE_OFFSET)
            .ok_or(OpenError::Truncated)?;
        let sample: &[u8; SAMPLE_LEN] = sample_at
            .checked_add(SAMPLE_LEN)
            .and_then(|end| pkt.raw.get(sample_at..end))
            .and_then(|s| s.try_into().ok())
            .ok_or(OpenError::Truncated)?;
        Ok(self.hp.mask(sample))
    }
}

/// Removes header protection from a first byte: 4 low bits for long headers, 5 for short.
fn unmask_first(first: u8, mask0: u8) -> u8 {
    let hp_bits = if first & 0x80 != 0 {
        LONG_HP_BITS
    } else {
        SHORT_HP_BITS
    };
    first ^ (mask0 & hp_bits)
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keys")
            .field("version", &format_args!("{:#x}", self.version))
            .field("suite", &self.suite)
            .field("secret", &REDACTED)
            .finish()
    }
}

/// Checks the Retry Integrity Tag of a v1, v2 or draft-29..32 Retry packet (RFC 9001 §5.8,
/// RFC 9369 §3.3.3) against the DCID of the client Initial it answers. `false` for anything
/// else.
pub fn verify_retry(pkt: &Packet<'_>, original_dcid: &[u8]) -> bool {
    let (key, nonce) = match pkt.version {
        VERSION_1 => (&RETRY_KEY_V1, &RETRY_NONCE_V1),
        VERSION_2 => (&RETRY_KEY_V2, &RETRY_NONCE_V2),
        0xff00_001d..=0xff00_0020 => (&RETRY_KEY_DRAFT29, &RETRY_NONCE_DRAFT29),
        _ => return false,
    };
    let (Some(tag), Ok(odcid_len)) = (pkt.retry_integrity_tag, u8::try_from(original_dcid.len()))
    else {
        return false;
    };
    if pkt.ty != PacketType::Retry {
        return false;
    }
    let body_len = pkt.raw.len().checked_sub(packet::RETRY_TAG_LEN);
    let Some(body) = body_len.and_then(|n| pkt.raw.get(..n)) else {
        return false;
    };
    // Retry Pseudo-Packet = ODCID Length ‖ ODCID ‖ Retry packet without its tag. A Retry is
    // rare and small (it took a whole datagram), so this one allocation is fine.
    let mut pseudo = Vec::with_capacity(1 + original_dcid.len() + body.len());
    pseudo.push(odcid_len);
    pseudo.extend_from_slice(original_dcid);
    pseudo.extend_from_slice(body);
    let cipher = Aes128Gcm::new(&Array::from(*key));
    let tag: &Array<u8, U16> = &Array::from(*tag);
    cipher
        .decrypt_inout_detached(
            &Array::from(*nonce),
            &pseudo,
            InOutBuf::from(&mut [][..]),
            tag,
        )
        .is_ok()
}

/// The Initial salt of `version`.
fn initial_salt(version: u32) -> [u8; 20] {
    match version {
        VERSION_2 => SALT_V2,
        0xff00_001d..=0xff00_0020 => SALT_DRAFT29,
        v if packet::is_draft(v) => SALT_DRAFT23,
        _ => SALT_V1,
    }
}

/// The key, IV and header-protection key derived from one secret.
struct Material {
    key: Zeroizing<[u8; 32]>,
    hp: Zeroizing<[u8; 32]>,
    iv: [u8; IV_LEN],
    key_len: usize,
}

impl Material {
    fn derive(version: u32, suite: Suite, secret: &[u8]) -> Option<Material> {
        let (lk, li, lh) = if version == VERSION_2 {
            (label::KEY_V2, label::IV_V2, label::HP_V2)
        } else {
            (label::KEY_V1, label::IV_V1, label::HP_V1)
        };
        let key_len = suite.key_len();
        let mut m = Material {
            key: Zeroizing::new([0; 32]),
            hp: Zeroizing::new([0; 32]),
            iv: [0; IV_LEN],
            key_len,
        };
        expand_label(suite, secret, lk, &mut m.key[..key_len])?;
        expand_label(suite, secret, li, &mut m.iv)?;
        expand_label(suite, secret, lh, &mut m.hp[..key_len])?;
        Some(m)
    }

    fn key(&self) -> &[u8] {
        &self.key[..self.key_len]
    }

    fn hp(&self) -> &[u8] {
        &self.hp[..self.key_len]
    }
}

impl Drop for Material {
    fn drop(&mut self) {
        self.iv = [0; IV_LEN];
    }
}

/// HKDF-Expand-Label (RFC 8446 §7.1) with an empty context, over the suite's hash.
fn expand_label(suite: Suite, secret: &[u8], lbl: &[u8], out: &mut [u8]) -> Option<()> {
    match suite {
        Suite::Aes256Gcm => expand_with(&Hkdf::<Sha384>::from_prk(secret).ok()?, lbl, out),
        Suite::Aes128Gcm | Suite::ChaCha20Poly1305 => {
            expand_with(&Hkdf::<Sha256>::from_prk(secret).ok()?, lbl, out)
        }
    }
}

/// HKDF-Expand with the HkdfLabel of `lbl` as info.
fn expand_with<H>(hk: &hkdf::GenericHkdf<H>, lbl: &[u8], out: &mut [u8]) -> Option<()>
where
    H: hkdf::HmacImpl,
{
    let mut buf = [0u8; MAX_HKDF_LABEL];
    hk.expand(hkdf_label(out.len(), lbl, &mut buf)?, out).ok()
}

/// Room for the HkdfLabels built here (labels up to 26 bytes).
const MAX_HKDF_LABEL: usize = 2 + 1 + 32 + 1;

/// HkdfLabel (RFC 8446 §7.1) = length (u16 BE) ‖ u8 len ‖ "tls13 " + label ‖ u8 0 (empty
/// context), written into `buf`.
fn hkdf_label<'b>(
    out_len: usize,
    lbl: &[u8],
    buf: &'b mut [u8; MAX_HKDF_LABEL],
) -> Option<&'b [u8]> {
    const PREFIX: &[u8] = b"tls13 ";
    let full = PREFIX.len() + lbl.len();
    let n = 2 + 1 + full + 1;
    let info = buf.get_mut(..n)?;
    info[..2].copy_from_slice(&u16::try_from(out_len).ok()?.to_be_bytes());
    info[2] = u8::try_from(full).ok()?;
    info[3..3 + PREFIX.len()].copy_from_slice(PREFIX);
    info[3 + PREFIX.len()..3 + full].copy_from_slice(lbl);
    info[n - 1] = 0;
    Some(info)
}

/// The packet AEAD of one suite.
#[derive(Clone)]
enum PacketCipher {
    Aes128Gcm(Box<Aes128Gcm>),
    Aes256Gcm(Box<Aes256Gcm>),
    ChaCha20Poly1305(Box<ChaCha20Poly1305>),
}

impl PacketCipher {
    fn new(suite: Suite, key: &[u8]) -> Option<PacketCipher> {
        Some(match suite {
            Suite::Aes128Gcm => {
                PacketCipher::Aes128Gcm(Box::new(Aes128Gcm::new_from_slice(key).ok()?))
            }
            Suite::Aes256Gcm => {
                PacketCipher::Aes256Gcm(Box::new(Aes256Gcm::new_from_slice(key).ok()?))
            }
            Suite::ChaCha20Poly1305 => PacketCipher::ChaCha20Poly1305(Box::new(
                ChaCha20Poly1305::new_from_slice(key).ok()?,
            )),
        })
    }

    /// Decrypts `ciphertext` into `plain` (same length) and verifies `tag`.
    fn open(
        &self,
        nonce: &[u8; IV_LEN],
        aad: &[u8],
        ciphertext: &[u8],
        plain: &mut [u8],
        tag: &[u8],
    ) -> bool {
        let (Ok(buf), Ok(tag)) = (
            InOutBuf::new(ciphertext, plain),
            <&Array<u8, U16>>::try_from(tag),
        ) else {
            return false;
        };
        let nonce: &Array<u8, U12> = &Array::from(*nonce);
        match self {
            PacketCipher::Aes128Gcm(c) => c.decrypt_inout_detached(nonce, aad, buf, tag),
            PacketCipher::Aes256Gcm(c) => c.decrypt_inout_detached(nonce, aad, buf, tag),
            PacketCipher::ChaCha20Poly1305(c) => c.decrypt_inout_detached(nonce, aad, buf, tag),
        }
        .is_ok()
    }

    /// Encrypts `buf` in place and returns the tag (tests build packets with it).
    #[cfg(test)]
    fn seal(&self, nonce: &[u8; IV_LEN], aad: &[u8], buf: &mut [u8]) -> [u8; TAG_LEN] {
        let nonce: &Array<u8, U12> = &Array::from(*nonce);
        let buf = InOutBuf::from(buf);
        let tag = match self {
            PacketCipher::Aes128Gcm(c) => c.encrypt_inout_detached(nonce, aad, buf),
            PacketCipher::Aes256Gcm(c) => c.encrypt_inout_detached(nonce, aad, buf),
            PacketCipher::ChaCha20Poly1305(c) => c.encrypt_inout_detached(nonce, aad, buf),
        }
        .expect("test payloads are small");
        tag.into()
    }
}

/// The header-protection cipher of one suite (RFC 9001 §5.4.3, §5.4.4).
#[derive(Clone)]
enum HeaderCipher {
    Aes128(Box<Aes128>),
    Aes256(Box<Aes256>),
    ChaCha20(Zeroizing<[u8; 32]>),
}

impl HeaderCipher {
    fn new(suite: Suite, hp: &[u8]) -> Option<HeaderCipher> {
        Some(match suite {
            Suite::Aes128Gcm => HeaderCipher::Aes128(Box::new(Aes128::new_from_slice(hp).ok()?)),
            Suite::Aes256Gcm => HeaderCipher::Aes256(Box::new(Aes256::new_from_slice(hp).ok()?)),
            Suite::ChaCha20Poly1305 => HeaderCipher::ChaCha20(Zeroizing::new(hp.try_into().ok()?)),
        })
    }

    /// The 5-byte mask for `sample`.
    fn mask(&self, sample: &[u8; SAMPLE_LEN]) -> [u8; 5] {
        let mut block = Array::from(*sample);
        match self {
            HeaderCipher::Aes128(c) => c.encrypt_block(&mut block),
            HeaderCipher::Aes256(c) => c.encrypt_block(&mut block),
            HeaderCipher::ChaCha20(key) => {
                // counter = sample[0..4] little-endian, nonce = sample[4..16]; the mask is the
                // keystream over five zero bytes, i.e. the first five keystream bytes.
                let counter = u32::from_le_bytes([sample[0], sample[1], sample[2], sample[3]]);
                let nonce: [u8; 12] = [
                    sample[4], sample[5], sample[6], sample[7], sample[8], sample[9], sample[10],
                    sample[11], sample[12], sample[13], sample[14], sample[15],
                ];
                let mut core =
                    ChaChaCore::<R20, Ietf>::new(&Array::from(**key), &Array::from(nonce));
                core.set_block_pos(counter);
                let mut ks = Array::default();
                // One block at any 32-bit position; this call does not check the remaining
                // count, so the last counter value cannot panic either.
                core.write_keystream_block(&mut ks);
                return [ks[0], ks[1], ks[2], ks[3], ks[4]];
            }
        }
        [block[0], block[1], block[2], block[3], block[4]]
    }
}

/// Hex decoding for the constants above, at compile time.
const fn hex_n<const N: usize, const H: usize>(h: [u8; H]) -> [u8; N] {
    const fn nib(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => panic!("bad hex digit in a constant"),
        }
    }
    assert!(H == 2 * N);
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N {
        out[i] = (nib(h[2 * i]) << 4) | nib(h[2 * i + 1]);
        i += 1;
    }
    out
}

#[cfg(test)]
#[path = "protect_tests.rs"]
pub(super) mod tests;
