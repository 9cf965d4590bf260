//! Kerberos decryption with a long-term or session key: the RFC 3961 simplified profile for
//! aes128/aes256-cts-hmac-sha1-96 (RFC 3962), and rc4-hmac (RFC 4757). Decryption only, with
//! the integrity checksum verified (a wrong key is an error, never garbage plaintext).
//!
//! The block cipher, CBC ciphertext stealing (CBC-CS3, the Kerberos variant that always swaps
//! the last two blocks), HMAC, SHA-1, MD5 and RC4 come from the RustCrypto crates; only the
//! RFC 3961 n-fold and key derivation glue is written here, checked against the RFC vectors.

use aes::cipher::{BlockCipherEncrypt, KeyInit};
use aes::{Aes128, Aes256};
use cts::{CbcCs3, Decrypt, KeyIvInit};
use hmac::{Hmac, Mac};
use md5::Md5;
use rc4::{Rc4, StreamCipher};
use sha1::Sha1;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::keytab::enctype;

/// Why a Kerberos ciphertext did not decrypt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KrbError {
    #[error("unsupported enctype {0}")]
    Unsupported(i32),
    #[error("key of the wrong length for its enctype")]
    KeyLength,
    #[error("ciphertext too short")]
    Short,
    #[error("integrity check failed (wrong key)")]
    Integrity,
}

/// RFC 3961 §5.1 n-fold: `input` folded (rotated by 13 bits per copy, added with end-around
/// carry) to `out_len` bytes.
pub fn n_fold(input: &[u8], out_len: usize) -> Vec<u8> {
    if input.is_empty() || out_len == 0 {
        return vec![0; out_len];
    }
    let in_len = input.len();
    let lcm = lcm(in_len, out_len);
    let in_bits = in_len * 8;
    // The lcm-byte string: copies of `input`, the i-th rotated right by 13*i bits.
    let bit = |i: usize| -> u8 {
        let copy = i / in_bits;
        let pos = i % in_bits;
        let rot = (13 * copy) % in_bits;
        let src = (pos + in_bits - rot) % in_bits;
        (input[src / 8] >> (7 - src % 8)) & 1
    };
    let mut acc = vec![0u32; out_len];
    for chunk in 0..lcm / out_len {
        for (j, a) in acc.iter_mut().enumerate() {
            let base = (chunk * out_len + j) * 8;
            let mut byte = 0u8;
            for b in 0..8 {
                byte = (byte << 1) | bit(base + b);
            }
            *a += u32::from(byte);
        }
    }
    // One's-complement addition: propagate carries from the last byte, end-around.
    loop {
        let mut carry = 0u32;
        for a in acc.iter_mut().rev() {
            let v = *a + carry;
            *a = v & 0xff;
            carry = v >> 8;
        }
        if carry == 0 {
            break;
        }
        if let Some(last) = acc.last_mut() {
            *last += carry;
        }
    }
    acc.into_iter().map(|v| v as u8).collect()
}

fn lcm(a: usize, b: usize) -> usize {
    let (mut x, mut y) = (a, b);
    while y != 0 {
        (x, y) = (y, x % y);
    }
    a / x * b
}

/// RFC 3961 §5.1 DK(key, constant) for the AES enctypes (RFC 3962 §6: random-to-key is the
/// identity, DR is AES encryption of the n-folded constant, repeated).
fn derive_aes(key: &[u8], constant: &[u8]) -> Result<Zeroizing<Vec<u8>>, KrbError> {
    let mut block = [0u8; 16];
    block.copy_from_slice(&n_fold(constant, 16));
    let mut out = Zeroizing::new(Vec::with_capacity(key.len()));
    while out.len() < key.len() {
        match key.len() {
            16 => Aes128::new_from_slice(key)
                .map_err(|_| KrbError::KeyLength)?
                .encrypt_block((&mut block).into()),
            32 => Aes256::new_from_slice(key)
                .map_err(|_| KrbError::KeyLength)?
                .encrypt_block((&mut block).into()),
            _ => return Err(KrbError::KeyLength),
        }
        out.extend_from_slice(&block);
    }
    out.truncate(key.len());
    Ok(out)
}

/// The 5-byte usage constant of RFC 3961 §5.3: the key usage (big-endian) and 0xAA (Ke) or
/// 0x55 (Ki).
fn usage_constant(usage: u32, which: u8) -> [u8; 5] {
    let u = usage.to_be_bytes();
    [u[0], u[1], u[2], u[3], which]
}

/// Decrypts `ciphertext` (the `cipher` field of an EncryptedData) made with `key` of
/// `etype` for key usage `usage`; returns the plaintext without the confounder.
pub fn decrypt(
    etype: i32,
    key: &[u8],
    usage: u32,
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>, KrbError> {
    match etype {
        enctype::AES128_CTS_HMAC_SHA1_96 | enctype::AES256_CTS_HMAC_SHA1_96 => {
            let want = if etype == enctype::AES128_CTS_HMAC_SHA1_96 {
                16
            } else {
                32
            };
            if key.len() != want {
                return Err(KrbError::KeyLength);
            }
            decrypt_aes(key, usage, ciphertext)
        }
        enctype::RC4_HMAC => decrypt_rc4(key, usage, ciphertext),
        other => Err(KrbError::Unsupported(other)),
    }
}

/// RFC 3962: ciphertext = AES-CBC-CS3(Ke, confounder || plaintext) || HMAC-SHA1-96(Ki, ...).
fn decrypt_aes(key: &[u8], usage: u32, ct: &[u8]) -> Result<Zeroizing<Vec<u8>>, KrbError> {
    const MAC: usize = 12;
    if ct.len() < 16 + MAC {
        return Err(KrbError::Short);
    }
    let (body, mac) = ct.split_at(ct.len() - MAC);
    let ke = derive_aes(key, &usage_constant(usage, 0xAA))?;
    let ki = derive_aes(key, &usage_constant(usage, 0x55))?;
    let mut plain = Zeroizing::new(body.to_vec());
    let iv = [0u8; 16];
    let ok = match key.len() {
        16 => CbcCs3::<Aes128>::new_from_slices(&ke, &iv)
            .map_err(|_| KrbError::KeyLength)?
            .decrypt(&mut plain),
        _ => CbcCs3::<Aes256>::new_from_slices(&ke, &iv)
            .map_err(|_| KrbError::KeyLength)?
            .decrypt(&mut plain),
    };
    ok.map_err(|_| KrbError::Short)?;
    let mut h = <Hmac<Sha1> as KeyInit>::new_from_slice(&ki).map_err(|_| KrbError::KeyLength)?;
    h.update(&plain);
    let tag = h.finalize().into_bytes();
    if !bool::from(tag[..MAC].ct_eq(mac)) {
        return Err(KrbError::Integrity);
    }
    Ok(Zeroizing::new(plain[16..].to_vec()))
}

/// RFC 4757 §5 (decryption): K1 = HMAC-MD5(key, usage), K3 = HMAC-MD5(K1, checksum),
/// plaintext = RC4(K3, rest), checksum = HMAC-MD5(K1, plaintext).
fn decrypt_rc4(key: &[u8], usage: u32, ct: &[u8]) -> Result<Zeroizing<Vec<u8>>, KrbError> {
    if ct.len() < 16 + 8 {
        return Err(KrbError::Short);
    }
    // RFC 4757 §3: usage 9 (TGS-REP with a subkey) uses the number 8.
    let usage = if usage == 9 { 8 } else { usage };
    let hmac = |k: &[u8], data: &[u8]| -> Result<[u8; 16], KrbError> {
        let mut h = <Hmac<Md5> as KeyInit>::new_from_slice(k).map_err(|_| KrbError::KeyLength)?;
        h.update(data);
        Ok(h.finalize().into_bytes().into())
    };
    let k1 = Zeroizing::new(hmac(key, &usage.to_le_bytes())?);
    let (checksum, rest) = ct.split_at(16);
    let k3 = Zeroizing::new(hmac(&k1[..], checksum)?);
    let mut plain = Zeroizing::new(rest.to_vec());
    Rc4::new_from_slice(&k3[..])
        .map_err(|_| KrbError::KeyLength)?
        .apply_keystream(&mut plain);
    if !bool::from(hmac(&k1[..], &plain)?.ct_eq(checksum)) {
        return Err(KrbError::Integrity);
    }
    Ok(Zeroizing::new(plain[8..].to_vec()))
}

#[cfg(test)]
#[path = "kerberos_tests.rs"]
mod tests;
