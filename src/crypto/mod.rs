//! Cryptographic primitives for SMB: the SMB 3.x key derivation and preauth integrity hash
//! ([`kdf`]), message signing for SMB2/3 and SMB1 ([`sign`]), TRANSFORM_HEADER decryption
//! ([`aead`]), and the NTLM computations that turn a password into a session key ([`ntlm`]).
//!
//! Everything here is sans-IO and works on borrowed bytes. Nothing panics on network input, and
//! no key type prints its bytes: their `Debug` output is `<redacted>`, so key material never
//! reaches output or logs.
//!
//! The algorithms come from the RustCrypto crates (`hmac`, `sha2`, `aes`, `cmac`, `aes-gcm`,
//! `ccm`, `ghash`, `md4`, `md-5`, `rc4`, `des`, `subtle`), all of one generation (`cipher` 0.5,
//! `aead` 0.6, `digest` 0.11).

pub mod aead;
pub mod kdf;
pub mod kerberos;
pub mod keys;
pub mod keytab;
pub mod ntlm;
pub mod sign;

/// The `Debug` text of every type that holds key material.
const REDACTED: &str = "<redacted>";

#[cfg(test)]
mod vectors_tests;
