//! Decryption of SMB 3.x encrypted messages: the TRANSFORM_HEADER ([MS-SMB2] §2.2.41) and
//! AES-CCM / AES-GCM ([MS-SMB2] §3.1.4.3, §3.2.5.1.1.1, §3.3.5.2.1.1).
//!
//! ```text
//! 0        4                20               36                 40     42    44          52
//! | FD 'SMB' | Signature (tag) | Nonce (16)    | OriginalMessageSize | Rsvd | Flags | SessionId | ciphertext...
//!                              |<------------------ AAD = bytes 20..52 ------------------>|
//! ```
//!
//! CCM uses the first 11 nonce bytes, GCM the first 12; the tag is 16 bytes either way.

use std::fmt;

use aes::{Aes128, Aes256};
use aes_gcm::AesGcm;
use aes_gcm::aead::array::Array;
use aes_gcm::aead::consts::{U11, U12, U16};
use aes_gcm::aead::inout::InOutBuf;
use aes_gcm::aead::{AeadInOut, KeyInit};
use ccm::Ccm;

use crate::crypto::REDACTED;
use crate::wire::Cipher;

/// TRANSFORM_HEADER field offsets (§2.2.41).
mod field {
    pub const SIGNATURE: usize = 4;
    pub const NONCE: usize = 20;
    pub const ORIGINAL_MESSAGE_SIZE: usize = 36;
    pub const HEADER_END: usize = 52;
}

/// Length of the AEAD tag (the Signature field).
const TAG_LEN: usize = 16;
/// Nonce bytes used by CCM (§2.2.41: "AES128-CCM ... the first 11 bytes").
const CCM_NONCE_LEN: usize = 11;
/// Nonce bytes used by GCM.
const GCM_NONCE_LEN: usize = 12;

type Aes128Ccm = Ccm<Aes128, U16, U11>;
type Aes256Ccm = Ccm<Aes256, U16, U11>;
type Aes128Gcm = AesGcm<Aes128, U12>;
type Aes256Gcm = AesGcm<Aes256, U12>;

/// Why a TRANSFORM_HEADER message did not decrypt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecryptError {
    /// The message is shorter than the 52-byte TRANSFORM_HEADER.
    Truncated,
    /// OriginalMessageSize is not the number of ciphertext bytes after the header.
    SizeMismatch,
    /// The authentication tag does not match: wrong key, wrong cipher or altered bytes.
    BadTag,
}

impl fmt::Display for DecryptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DecryptError::Truncated => "encrypted message shorter than its transform header",
            DecryptError::SizeMismatch => {
                "OriginalMessageSize does not match the ciphertext length"
            }
            DecryptError::BadTag => "authentication tag mismatch",
        })
    }
}

impl std::error::Error for DecryptError {}

/// Decrypts the TRANSFORM_HEADER messages of one session in one direction. Built once; the AES
/// key schedule is computed in [`new`](Self::new). `Debug` never prints key material.
#[derive(Clone)]
pub struct Decryptor(Inner);

#[derive(Clone)]
enum Inner {
    Aes128Ccm(Aes128Ccm),
    Aes128Gcm(Aes128Gcm),
    Aes256Ccm(Aes256Ccm),
    Aes256Gcm(Aes256Gcm),
}

impl Decryptor {
    /// A decryptor for `cipher` with `key`: 16 bytes for AES-128-CCM/GCM, 32 for AES-256-CCM/GCM.
    /// `None` for another length or an unknown cipher. 3.0 and 3.0.2 always use AES-128-CCM.
    pub fn new(cipher: Cipher, key: &[u8]) -> Option<Self> {
        let inner = match cipher {
            Cipher::AES_128_CCM => Inner::Aes128Ccm(Aes128Ccm::new_from_slice(key).ok()?),
            Cipher::AES_128_GCM => Inner::Aes128Gcm(Aes128Gcm::new_from_slice(key).ok()?),
            Cipher::AES_256_CCM => Inner::Aes256Ccm(Aes256Ccm::new_from_slice(key).ok()?),
            Cipher::AES_256_GCM => Inner::Aes256Gcm(Aes256Gcm::new_from_slice(key).ok()?),
            _ => return None,
        };
        Some(Decryptor(inner))
    }

    /// The cipher this decryptor uses.
    pub fn cipher(&self) -> Cipher {
        match self.0 {
            Inner::Aes128Ccm(_) => Cipher::AES_128_CCM,
            Inner::Aes128Gcm(_) => Cipher::AES_128_GCM,
            Inner::Aes256Ccm(_) => Cipher::AES_256_CCM,
            Inner::Aes256Gcm(_) => Cipher::AES_256_GCM,
        }
    }

    /// Decrypts one TRANSFORM_HEADER message and checks its tag.
    ///
    /// `msg` is the whole message from its `0xFD 'S' 'M' 'B'` ProtocolId, without the transport
    /// header; the caller has dispatched on the ProtocolId, which is not checked here (it is
    /// outside the AAD). AAD = bytes 20..52, nonce = the first 11 (CCM) or 12 (GCM) bytes at 20,
    /// tag = bytes 4..20, ciphertext = bytes 52.. . The tag is always verified.
    ///
    /// On success `out` holds exactly the plaintext: it is cleared first and grown as needed, so
    /// a reused `out` stops allocating once it has reached the largest message. On error `out`
    /// is left empty.
    pub fn decrypt(&self, msg: &[u8], out: &mut Vec<u8>) -> Result<(), DecryptError> {
        out.clear();
        let (header, ciphertext) = msg
            .split_at_checked(field::HEADER_END)
            .ok_or(DecryptError::Truncated)?;
        // `header` is exactly 52 bytes, so every `field::` range below is inside it.
        let size = &header[field::ORIGINAL_MESSAGE_SIZE..field::ORIGINAL_MESSAGE_SIZE + 4];
        let size = u32::from_le_bytes([size[0], size[1], size[2], size[3]]);
        if usize::try_from(size).ok() != Some(ciphertext.len()) {
            return Err(DecryptError::SizeMismatch);
        }
        let tag: &Array<u8, U16> = header[field::SIGNATURE..field::SIGNATURE + TAG_LEN]
            .try_into()
            .map_err(|_| DecryptError::Truncated)?;
        let aad = &header[field::NONCE..];

        out.resize(ciphertext.len(), 0);
        let buf = InOutBuf::new(ciphertext, out.as_mut_slice())
            .map_err(|_| DecryptError::SizeMismatch)?;
        let result = match &self.0 {
            Inner::Aes128Ccm(c) => c.decrypt_inout_detached(ccm_nonce(header)?, aad, buf, tag),
            Inner::Aes256Ccm(c) => c.decrypt_inout_detached(ccm_nonce(header)?, aad, buf, tag),
            Inner::Aes128Gcm(c) => c.decrypt_inout_detached(gcm_nonce(header)?, aad, buf, tag),
            Inner::Aes256Gcm(c) => c.decrypt_inout_detached(gcm_nonce(header)?, aad, buf, tag),
        };
        if result.is_err() {
            out.clear();
            return Err(DecryptError::BadTag);
        }
        Ok(())
    }
}

impl fmt::Debug for Decryptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Decryptor({}, {REDACTED})", self.cipher())
    }
}

fn ccm_nonce(header: &[u8]) -> Result<&Array<u8, U11>, DecryptError> {
    header
        .get(field::NONCE..field::NONCE + CCM_NONCE_LEN)
        .and_then(|n| n.try_into().ok())
        .ok_or(DecryptError::Truncated)
}

fn gcm_nonce(header: &[u8]) -> Result<&Array<u8, U12>, DecryptError> {
    header
        .get(field::NONCE..field::NONCE + GCM_NONCE_LEN)
        .and_then(|n| n.try_into().ok())
        .ok_or(DecryptError::Truncated)
}

#[cfg(test)]
#[path = "aead_tests.rs"]
mod tests;
