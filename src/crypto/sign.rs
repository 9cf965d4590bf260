//! Message signatures: SMB2/3 ([MS-SMB2] §3.1.4.1, §3.1.5.1) and SMB1 ([MS-CIFS] §3.1.4.1,
//! §3.1.5.1; [MS-SMB] §3.1.5.1).
//!
//! Neither signer copies the message: the MAC is fed the bytes before the signature field, the
//! zeros (SMB2) or sequence number (SMB1) that stand in for it, and the bytes after it.

use std::fmt;

use aes::Aes128;
use aes::cipher::{BlockCipherEncrypt, KeyInit};
use cmac::{Cmac, Mac};
use ghash::GHash;
use ghash::universal_hash::UniversalHash;
use hmac::Hmac;
use md5::{Digest, Md5};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::crypto::REDACTED;
use crate::crypto::kdf::hmac_sha256;
use crate::wire::SigningAlgorithm;

/// Where the 16-byte SMB2 Signature lives in the header (§2.2.1).
const SIG_START: usize = 48;
const SIG_END: usize = 64;

/// SMB2 header fields the GMAC nonce is built from (§2.2.1, §3.1.4.1).
mod field {
    pub const COMMAND: usize = 12;
    pub const FLAGS: usize = 16;
    pub const MESSAGE_ID: usize = 24;
}

/// SMB2 header Flags: SMB2_FLAGS_SERVER_TO_REDIR (§2.2.1.2).
const FLAGS_SERVER_TO_REDIR: u32 = 0x0000_0001;
/// SMB2 CANCEL command code (§2.2.1.2).
const COMMAND_CANCEL: u16 = 0x000C;

/// GMAC nonce flag bits (§3.1.4.1): the sender is the server; the message is a CANCEL request.
const NONCE_SERVER: u32 = 0x0000_0001;
const NONCE_CANCEL: u32 = 0x0000_0002;

/// Where the 8-byte SMB1 SecuritySignature lives in the SMB1 header ([MS-CIFS] §2.2.3.1).
const SMB1_SIG_START: usize = 14;
const SMB1_SIG_END: usize = 22;
/// Length of the SMB1 header.
const SMB1_HEADER_LEN: usize = 32;

/// An SMB2/3 signer for one session (or channel) and algorithm. Built once; the key schedule
/// (HMAC pads, AES round keys, GHASH key) is computed in [`new`](Self::new) and reused for every
/// message. `Debug` never prints key material.
#[derive(Clone)]
pub enum SmbSigner {
    /// HMAC-SHA256, first 16 bytes (2.0.2, 2.1; 3.1.1 when negotiated).
    HmacSha256(HmacSha256Key),
    /// AES-128-CMAC (3.0, 3.0.2; 3.1.1 by default).
    AesCmac(AesCmacKey),
    /// AES-128-GMAC (3.1.1 with SIGNING_CAPABILITIES).
    AesGmac(AesGmacKey),
}

impl SmbSigner {
    /// A signer for `alg` with a 16-byte key: Session.SessionKey for 2.x (HMAC-SHA256), the
    /// derived SigningKey for 3.x. `None` for an unknown algorithm.
    pub fn new(alg: SigningAlgorithm, key: &[u8; 16]) -> Option<Self> {
        Some(match alg {
            SigningAlgorithm::HMAC_SHA256 => SmbSigner::HmacSha256(HmacSha256Key(hmac_sha256(key))),
            SigningAlgorithm::AES_CMAC => SmbSigner::AesCmac(AesCmacKey(Cmac::new(key.into()))),
            SigningAlgorithm::AES_GMAC => {
                let aes = Aes128::new(key.into());
                // GHASH key H = AES_K(0^128) (NIST SP800-38D §6.4).
                let mut h = ghash::Key::default();
                aes.encrypt_block(&mut h);
                SmbSigner::AesGmac(AesGmacKey {
                    ghash: GHash::new(&h),
                    aes,
                })
            }
            _ => return None,
        })
    }

    /// The algorithm this signer computes.
    pub fn algorithm(&self) -> SigningAlgorithm {
        match self {
            SmbSigner::HmacSha256(_) => SigningAlgorithm::HMAC_SHA256,
            SmbSigner::AesCmac(_) => SigningAlgorithm::AES_CMAC,
            SmbSigner::AesGmac(_) => SigningAlgorithm::AES_GMAC,
        }
    }

    /// The signature of one SMB2 message.
    ///
    /// `msg` is exactly that message's bytes, from its 0xFE byte to its end (or to NextCommand
    /// in a compound, padding included), without the transport header. The MAC covers it with
    /// the Signature field (bytes 48..64) taken as zero. For AES-GMAC the 12-byte nonce is
    /// MessageId (u64 LE) followed by a u32 LE whose bit 0 is set when the header has
    /// SERVER_TO_REDIR and bit 1 when the message is a CANCEL request.
    ///
    /// A message shorter than the 64-byte header still gets a value (over the bytes present),
    /// but never a matching one; [`verify`](Self::verify) rejects such messages.
    pub fn sign(&self, msg: &[u8]) -> [u8; 16] {
        let (head, zeros, tail) = split_smb2(msg);
        match self {
            SmbSigner::HmacSha256(k) => {
                let mut mac = k.0.clone();
                mac.update(head);
                mac.update(zeros);
                mac.update(tail);
                first16(&mac.finalize().into_bytes())
            }
            SmbSigner::AesCmac(k) => {
                let mut mac = k.0.clone();
                mac.update(head);
                mac.update(zeros);
                mac.update(tail);
                first16(&mac.finalize().into_bytes())
            }
            SmbSigner::AesGmac(k) => k.gmac(&gmac_nonce(msg), head, zeros, tail),
        }
    }

    /// Whether the message's Signature (bytes 48..64) is right, compared in constant time.
    /// False for a message shorter than 64 bytes.
    pub fn verify(&self, msg: &[u8]) -> bool {
        match msg.get(SIG_START..SIG_END) {
            Some(sig) => self.sign(msg).ct_eq(sig).into(),
            None => false,
        }
    }
}

impl fmt::Debug for SmbSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SmbSigner({}, {REDACTED})", self.algorithm())
    }
}

/// A keyed HMAC-SHA256 state (the pads are computed once).
#[derive(Clone)]
pub struct HmacSha256Key(Hmac<Sha256>);

/// A keyed AES-128-CMAC state (round keys and subkeys are computed once).
#[derive(Clone)]
pub struct AesCmacKey(Cmac<Aes128>);

/// AES-128 round keys and the GHASH key H, for AES-GMAC.
#[derive(Clone)]
pub struct AesGmacKey {
    aes: Aes128,
    ghash: GHash,
}

impl AesGmacKey {
    /// GMAC = GCM with an empty plaintext (NIST SP800-38D §7.1, §7.2): the tag is
    /// GHASH_H(A || pad || len(A) || len(C)=0) XOR AES_K(J0), J0 = nonce || 0^31 || 1. The AAD
    /// arrives in pieces; every piece but the last is a whole number of 16-byte blocks (48 and
    /// 16), so padding each piece separately pads only the last.
    fn gmac(&self, nonce: &[u8; 12], head: &[u8], zeros: &[u8], tail: &[u8]) -> [u8; 16] {
        let mut ghash = self.ghash.clone();
        ghash.update_padded(head);
        ghash.update_padded(zeros);
        ghash.update_padded(tail);
        let aad_bits = (head.len() + zeros.len() + tail.len()) as u64 * 8;
        let mut lengths = ghash::Block::default();
        lengths[..8].copy_from_slice(&aad_bits.to_be_bytes());
        ghash.update(&[lengths]);
        let mut tag = ghash.finalize();

        let mut j0 = ghash::Block::default();
        j0[..12].copy_from_slice(nonce);
        j0[15] = 1;
        self.aes.encrypt_block(&mut j0);
        for (t, m) in tag.iter_mut().zip(j0.iter()) {
            *t ^= m;
        }
        first16(&tag)
    }
}

impl fmt::Debug for HmacSha256Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Debug for AesCmacKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Debug for AesGmacKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// The SMB1 signature of one message ([MS-CIFS] §3.1.4.1; [MS-SMB] §3.1.5.1):
/// `MD5(mac_key || msg with SecuritySignature (bytes 14..22) = seq as u32 LE || 0u32)[..8]`.
///
/// `mac_key` is the connection's signing key: the 16-byte session key for NTLMv2 and extended
/// security (as Samba does), `session key || NT response` (40 bytes) for NTLMv1 without it.
/// `seq` is the message's sequence number; in the project's captures the final
/// SESSION_SETUP_ANDX response is 1 (its request counted as 0) and each later message adds one
/// (a request and its response are consecutive numbers).
pub fn smb1_signature(mac_key: &[u8], msg: &[u8], seq: u32) -> [u8; 8] {
    let head = &msg[..msg.len().min(SMB1_SIG_START)];
    let tail = msg.get(SMB1_SIG_END..).unwrap_or(&[]);
    let mut seq_field = [0u8; 8];
    seq_field[..4].copy_from_slice(&seq.to_le_bytes());
    let digest = Md5::new()
        .chain_update(mac_key)
        .chain_update(head)
        .chain_update(seq_field)
        .chain_update(tail)
        .finalize();
    let mut out = [0; 8];
    out.copy_from_slice(&digest[..8]);
    out
}

/// Whether an SMB1 message's SecuritySignature matches, compared in constant time. False for a
/// message shorter than the 32-byte SMB1 header.
pub fn smb1_verify(mac_key: &[u8], msg: &[u8], seq: u32) -> bool {
    if msg.len() < SMB1_HEADER_LEN {
        return false;
    }
    match msg.get(SMB1_SIG_START..SMB1_SIG_END) {
        Some(sig) => smb1_signature(mac_key, msg, seq).ct_eq(sig).into(),
        None => false,
    }
}

/// Splits an SMB2 message around its Signature: the bytes before it, as many zeros as the field
/// has bytes in `msg`, the bytes after it. Never panics; a short message gives short pieces.
fn split_smb2(msg: &[u8]) -> (&[u8], &'static [u8], &[u8]) {
    const ZEROS: [u8; SIG_END - SIG_START] = [0; SIG_END - SIG_START];
    let head = &msg[..msg.len().min(SIG_START)];
    let zeros = &ZEROS[..msg.len().clamp(SIG_START, SIG_END) - SIG_START];
    let tail = msg.get(SIG_END..).unwrap_or(&[]);
    (head, zeros, tail)
}

/// The AES-GMAC nonce of an SMB2 message (§3.1.4.1). Missing header bytes read as zero.
fn gmac_nonce(msg: &[u8]) -> [u8; 12] {
    let mut nonce = [0; 12];
    if let Some(id) = msg.get(field::MESSAGE_ID..field::MESSAGE_ID + 8) {
        nonce[..8].copy_from_slice(id);
    }
    let flags = msg
        .get(field::FLAGS..field::FLAGS + 4)
        .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    let command = msg
        .get(field::COMMAND..field::COMMAND + 2)
        .map_or(0, |b| u16::from_le_bytes([b[0], b[1]]));
    let from_server = flags & FLAGS_SERVER_TO_REDIR != 0;
    let mut bits = 0;
    if from_server {
        bits |= NONCE_SERVER;
    }
    if command == COMMAND_CANCEL && !from_server {
        bits |= NONCE_CANCEL;
    }
    nonce[8..].copy_from_slice(&bits.to_le_bytes());
    nonce
}

/// The first 16 bytes of a MAC output; every caller passes 16 (CMAC, GHASH) or 32 (HMAC-SHA256)
/// bytes, so the slice is in range.
fn first16(bytes: &[u8]) -> [u8; 16] {
    let mut out = [0; 16];
    out.copy_from_slice(&bytes[..16]);
    out
}

#[cfg(test)]
#[path = "sign_tests.rs"]
mod tests;
