//! SMB 3.x key derivation ([MS-SMB2] §3.1.4.2, §3.2.5.3.1, §3.3.5.5.3) and the 3.1.1 preauth
//! integrity hash (§3.2.5.2, §3.3.5.4).
//!
//! The KDF is NIST SP800-108 in counter mode with PRF = HMAC-SHA256 and a 32-bit counter:
//!
//! ```text
//! K(i) = HMAC-SHA256(KDK, i as u32 BE || Label || 0x00 || Context || L as u32 BE)
//! ```
//!
//! SMB's labels carry their own trailing NUL, so two zero bytes stand between the label text and
//! the context. SMB keys are 128 or 256 bits, so one iteration (i = 1) is all SMB ever uses.
//!
//! Which key derives which (the labels include their NUL):
//!
//! | Key | 3.0 / 3.0.2 label, context | 3.1.1 label, context |
//! |---|---|---|
//! | signing | `SMB2AESCMAC\0`, `SmbSign\0` | `SMBSigningKey\0`, preauth hash |
//! | client→server cipher | `SMB2AESCCM\0`, `ServerIn \0` | `SMBC2SCipherKey\0`, preauth hash |
//! | server→client cipher | `SMB2AESCCM\0`, `ServerOut\0` | `SMBS2CCipherKey\0`, preauth hash |
//! | application | `SMB2APP\0`, `SmbRpc\0` | `SMBAppKey\0`, preauth hash |
//!
//! **Key derivation key.** Session.SessionKey is the first 16 bytes of the GSS session key,
//! right-padded with zeros when the GSS key is shorter (§3.2.5.3.1); it is the KDK of the signing
//! and application keys and of every 128-bit cipher key. For AES-256-CCM/GCM in 3.1.1 the cipher
//! keys are 256 bits (L = 256) and their KDK is Session.FullSessionKey, the whole GSS key: a
//! 32-byte Kerberos AES-256 session key is used as given. An NTLM session key is 16 bytes, so
//! there the KDK is the same 16 bytes (Wireshark's AES-256 test captures are of this kind).

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256, Sha512};

use crate::crypto::REDACTED;
use crate::wire::Cipher;

/// The SP800-108 counter-mode KDF with HMAC-SHA256 ([MS-SMB2] §3.1.4.2).
///
/// Fills `out` with `L = out.len() * 8` bits of key. `label` is passed with its trailing NUL
/// (`b"SMBSigningKey\0"`); this function adds the 0x00 separator of SP800-108 after it. SMB keys
/// are 16 or 32 bytes (one HMAC block); longer outputs take further counter blocks.
pub fn kdf(kdk: &[u8], label: &[u8], context: &[u8], out: &mut [u8]) {
    let bits = u32::try_from(out.len().saturating_mul(8)).unwrap_or(u32::MAX);
    let base = hmac_sha256(kdk);
    for (i, chunk) in out.chunks_mut(32).enumerate() {
        let counter = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let mut mac = base.clone();
        mac.update(&counter.to_be_bytes());
        mac.update(label);
        mac.update(&[0]);
        mac.update(context);
        mac.update(&bits.to_be_bytes());
        let block = mac.finalize().into_bytes();
        chunk.copy_from_slice(&block[..chunk.len()]);
    }
}

/// The keys of one SMB 3.x session. Cipher keys are 16 bytes, or 32 for AES-256 ciphers.
///
/// `Debug` prints `<redacted>`, never the key bytes.
#[derive(Clone)]
pub struct Smb3Keys {
    /// Session.SigningKey: AES-CMAC or AES-GMAC (HMAC-SHA256 in 3.1.1 if negotiated) key.
    pub signing: [u8; 16],
    /// Client-to-server cipher key (the client's EncryptionKey, the server's DecryptionKey;
    /// Samba's "ServerIn Key").
    pub c2s: CipherKey,
    /// Server-to-client cipher key (the server's EncryptionKey, the client's DecryptionKey;
    /// Samba's "ServerOut Key").
    pub s2c: CipherKey,
    /// Session.ApplicationKey.
    pub app: [u8; 16],
}

impl fmt::Debug for Smb3Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Smb3Keys")
            .field("signing", &format_args!("{REDACTED}"))
            .field("c2s", &self.c2s)
            .field("s2c", &self.s2c)
            .field("app", &format_args!("{REDACTED}"))
            .finish()
    }
}

/// An AES key of 16 or 32 bytes. `Debug` prints its length only.
#[derive(Clone, Copy)]
pub struct CipherKey {
    bytes: [u8; 32],
    len: u8,
}

impl CipherKey {
    /// A key from 16 or 32 bytes; `None` for any other length.
    pub fn new(key: &[u8]) -> Option<Self> {
        let len = match key.len() {
            16 => 16,
            32 => 32,
            _ => return None,
        };
        let mut bytes = [0; 32];
        bytes[..key.len()].copy_from_slice(key);
        Some(CipherKey { bytes, len })
    }

    /// The key bytes (16 or 32).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// The key length in bytes: 16 or 32.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Always false: a key has 16 or 32 bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl fmt::Debug for CipherKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CipherKey({} bytes, {REDACTED})", self.len)
    }
}

/// Derives the keys of an SMB 3.0 / 3.0.2 session (§3.2.5.3.1): 128-bit keys from
/// Session.SessionKey (the first 16 bytes of `session_key`, zero-padded if shorter).
pub fn derive_smb30(session_key: &[u8]) -> Smb3Keys {
    let kdk = session_key_16(session_key);
    Smb3Keys {
        signing: derive16(&kdk, b"SMB2AESCMAC\0", b"SmbSign\0"),
        c2s: CipherKey::from16(derive16(&kdk, b"SMB2AESCCM\0", b"ServerIn \0")),
        s2c: CipherKey::from16(derive16(&kdk, b"SMB2AESCCM\0", b"ServerOut\0")),
        app: derive16(&kdk, b"SMB2APP\0", b"SmbRpc\0"),
    }
}

/// Derives the keys of an SMB 3.1.1 session (§3.2.5.3.1) with the session's preauth integrity
/// hash as context.
///
/// Signing and application keys: 128 bits from Session.SessionKey (the first 16 bytes of
/// `session_key`). Cipher keys: 256 bits when `cipher` is AES-256-CCM or AES-256-GCM, derived
/// from Session.FullSessionKey (all of `session_key` when it is longer than 16 bytes, as a
/// Kerberos AES-256 key is; else the same 16 bytes); otherwise 128 bits from the 16-byte key.
pub fn derive_smb311(session_key: &[u8], preauth_hash: &[u8; 64], cipher: Cipher) -> Smb3Keys {
    let kdk = session_key_16(session_key);
    let (c2s, s2c) = if matches!(cipher, Cipher::AES_256_CCM | Cipher::AES_256_GCM) {
        let full: &[u8] = if session_key.len() > 16 {
            session_key
        } else {
            &kdk
        };
        (
            CipherKey::from32(derive32(full, b"SMBC2SCipherKey\0", preauth_hash)),
            CipherKey::from32(derive32(full, b"SMBS2CCipherKey\0", preauth_hash)),
        )
    } else {
        (
            CipherKey::from16(derive16(&kdk, b"SMBC2SCipherKey\0", preauth_hash)),
            CipherKey::from16(derive16(&kdk, b"SMBS2CCipherKey\0", preauth_hash)),
        )
    };
    Smb3Keys {
        signing: derive16(&kdk, b"SMBSigningKey\0", preauth_hash),
        c2s,
        s2c,
        app: derive16(&kdk, b"SMBAppKey\0", preauth_hash),
    }
}

/// Session.SessionKey from a GSS key: its first 16 bytes, right-padded with zeros if it is
/// shorter (§3.2.5.3.1).
pub fn session_key_16(key: &[u8]) -> [u8; 16] {
    let mut out = [0; 16];
    let n = key.len().min(16);
    out[..n].copy_from_slice(&key[..n]);
    out
}

/// The SMB 3.1.1 preauth integrity hash (SHA-512 chain, §3.2.5.2, §3.3.5.4).
///
/// Start from zeros; for the connection hash, `update` with the NEGOTIATE request and response;
/// for a session hash, copy the connection hash and `update` with every SESSION_SETUP request
/// and every SESSION_SETUP response with STATUS_MORE_PROCESSING_REQUIRED (not the final
/// success). Each message is hashed from its 0xFE byte, without the transport header.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PreauthHash([u8; 64]);

impl PreauthHash {
    /// The initial value: 64 zero bytes.
    pub fn new() -> Self {
        PreauthHash([0; 64])
    }

    /// `H = SHA-512(H || msg)`.
    pub fn update(&mut self, msg: &[u8]) {
        let digest = Sha512::new()
            .chain_update(self.0)
            .chain_update(msg)
            .finalize();
        self.0.copy_from_slice(&digest);
    }

    /// The current hash value.
    pub fn value(&self) -> &[u8; 64] {
        &self.0
    }
}

impl Default for PreauthHash {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for PreauthHash {
    /// Hex: the hash is computed from cleartext wire messages, so it is not secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PreauthHash(")?;
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        f.write_str(")")
    }
}

impl CipherKey {
    fn from16(key: [u8; 16]) -> Self {
        let mut bytes = [0; 32];
        bytes[..16].copy_from_slice(&key);
        CipherKey { bytes, len: 16 }
    }

    fn from32(bytes: [u8; 32]) -> Self {
        CipherKey { bytes, len: 32 }
    }
}

fn derive16(kdk: &[u8], label: &[u8], context: &[u8]) -> [u8; 16] {
    let mut out = [0; 16];
    kdf(kdk, label, context, &mut out);
    out
}

fn derive32(kdk: &[u8], label: &[u8], context: &[u8]) -> [u8; 32] {
    let mut out = [0; 32];
    kdf(kdk, label, context, &mut out);
    out
}

/// A keyed HMAC-SHA256 state.
pub(crate) fn hmac_sha256(key: &[u8]) -> Hmac<Sha256> {
    // HMAC accepts keys of every length (longer ones are hashed, shorter ones padded), so
    // `new_from_slice` cannot fail.
    <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length")
}

#[cfg(test)]
#[path = "kdf_tests.rs"]
mod tests;
