//! NTLM key computations ([MS-NLMP] §3.3.1, §3.3.2, §3.4.5.1, §6): from a password and a
//! captured CHALLENGE / AUTHENTICATE exchange to the proof that the password is right and the
//! exported session key (the SMB Session.SessionKey).
//!
//! Strings are UTF-16LE on the wire (NTLMSSP_NEGOTIATE_UNICODE); the user name is uppercased
//! with simple one-to-one Unicode case mapping, as Windows' `RtlUpcaseUnicodeString` does (a
//! character whose uppercase form is several characters, like `ß`, stays as it is).

use std::fmt;

use des::Des;
use des::cipher::{BlockCipherEncrypt, KeyInit};
use hmac::{Hmac, Mac};
use md4::Md4;
use md5::{Digest, Md5};
use rc4::{Rc4, StreamCipher};
use subtle::ConstantTimeEq;

/// NegotiateFlags bits used here ([MS-NLMP] §2.2.2.5).
pub mod flags {
    /// NTLMSSP_NEGOTIATE_LM_KEY.
    pub const LM_KEY: u32 = 0x0000_0080;
    /// NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY (NTLMv1 "ESS" / NTLM2 session response).
    pub const EXTENDED_SESSIONSECURITY: u32 = 0x0008_0000;
    /// NTLMSSP_REQUEST_NON_NT_SESSION_KEY.
    pub const NON_NT_SESSION_KEY: u32 = 0x0040_0000;
    /// NTLMSSP_NEGOTIATE_KEY_EXCH: the AUTHENTICATE message carries an encrypted random
    /// session key.
    pub const KEY_EXCH: u32 = 0x4000_0000;
}

/// The fixed part of the NTLMv2 `temp` blob after NTProofStr: RespType, HiRespType, 6 reserved
/// bytes, TimeStamp (8), ChallengeFromClient (8), 4 reserved bytes ([MS-NLMP] §2.2.2.7).
const NTLMV2_TEMP_FIXED_LEN: usize = 28;
/// Length of NTProofStr.
const NT_PROOF_LEN: usize = 16;
/// Length of an NTLMv1 (and LMv1) response.
const V1_RESPONSE_LEN: usize = 24;

/// Why an NTLM exchange gave no session key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NtlmError {
    /// The response does not match the password.
    WrongPassword,
    /// The response has the wrong shape (length), or the flags ask for a key this API can't
    /// compute (NTLMv1 LM_KEY / NON_NT_SESSION_KEY without extended session security: those
    /// need the LM hash).
    Malformed,
}

impl fmt::Display for NtlmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NtlmError::WrongPassword => "NTLM response does not match the password",
            NtlmError::Malformed => "malformed or unsupported NTLM response",
        })
    }
}

impl std::error::Error for NtlmError {}

/// NTOWFv1, the NT hash: `MD4(UTF-16LE(password))` ([MS-NLMP] §3.3.1).
pub fn nt_hash(password: &str) -> [u8; 16] {
    let mut md4 = Md4::new();
    for unit in password.encode_utf16() {
        md4.update(unit.to_le_bytes());
    }
    md4.finalize().into()
}

/// NTOWFv2, ResponseKeyNT: `HMAC_MD5(NTHash, UTF-16LE(UPPER(user) || domain))` ([MS-NLMP]
/// §3.3.2). The user name is uppercased; the domain is not.
pub fn ntowf_v2(nt_hash: &[u8; 16], user: &str, domain: &str) -> [u8; 16] {
    let mut mac = hmac_md5(nt_hash);
    let mut feed = |c: char| {
        let mut units = [0u16; 2];
        for unit in c.encode_utf16(&mut units) {
            mac.update(&unit.to_le_bytes());
        }
    };
    user.chars().map(upcase).for_each(&mut feed);
    domain.chars().for_each(&mut feed);
    mac.finalize().into_bytes().into()
}

/// Checks an NTLMv2 response against the password and returns the exported session key (the
/// SMB2 Session.SessionKey).
///
/// `nt_response` is the AUTHENTICATE message's NtChallengeResponse: NTProofStr (16) || temp.
/// `domain` is the AUTHENTICATE message's DomainName; it is tried as given and then empty
/// (servers accept both). NTProofStr = HMAC_MD5(ResponseKeyNT, ServerChallenge || temp), and
/// SessionBaseKey = KeyExchangeKey = HMAC_MD5(ResponseKeyNT, NTProofStr). With
/// [`KEY_EXCH`](flags::KEY_EXCH) in `flags` and a 16-byte `encrypted_random_session_key`, the
/// exported key is RC4(KeyExchangeKey, EncryptedRandomSessionKey); otherwise it is the
/// KeyExchangeKey.
///
/// # Errors
/// [`NtlmError::Malformed`] when `nt_response` is too short to be NTLMv2 (less than
/// NTProofStr and temp's 28 fixed bytes), [`NtlmError::WrongPassword`] when NTProofStr matches
/// neither domain.
pub fn ntlmv2_session_key(
    nt_hash: &[u8; 16],
    user: &str,
    domain: &str,
    server_challenge: &[u8; 8],
    nt_response: &[u8],
    flags: u32,
    encrypted_random_session_key: &[u8],
) -> Result<[u8; 16], NtlmError> {
    if nt_response.len() < NT_PROOF_LEN + NTLMV2_TEMP_FIXED_LEN {
        return Err(NtlmError::Malformed);
    }
    let (proof, temp) = nt_response.split_at(NT_PROOF_LEN);
    let domains: &[&str] = if domain.is_empty() {
        &[""]
    } else {
        &[domain, ""]
    };
    for d in domains {
        let response_key = ntowf_v2(nt_hash, user, d);
        let mut mac = hmac_md5(&response_key);
        mac.update(server_challenge);
        mac.update(temp);
        let expected = mac.finalize().into_bytes();
        if bool::from(expected.as_slice().ct_eq(proof)) {
            let mut mac = hmac_md5(&response_key);
            mac.update(proof);
            let session_base_key: [u8; 16] = mac.finalize().into_bytes().into();
            return Ok(exported_session_key(
                session_base_key,
                flags,
                encrypted_random_session_key,
            ));
        }
    }
    Err(NtlmError::WrongPassword)
}

/// Checks an NTLMv1 response (24 bytes) against the password and returns the exported session
/// key ([MS-NLMP] §3.3.1, §3.4.5.1).
///
/// With [`EXTENDED_SESSIONSECURITY`](flags::EXTENDED_SESSIONSECURITY) in `flags` ("NTLMv1-ESS")
/// the DES challenge is MD5(ServerChallenge || LmResponse[..8])[..8] and the KeyExchangeKey is
/// HMAC_MD5(SessionBaseKey, ServerChallenge || LmResponse[..8]); without it the challenge is
/// ServerChallenge and the KeyExchangeKey is SessionBaseKey = MD4(NTHash). The response must be
/// DESL(NTHash, challenge). [`KEY_EXCH`](flags::KEY_EXCH) then works as for NTLMv2.
///
/// # Errors
/// [`NtlmError::Malformed`] when `nt_response` is not 24 bytes, when ESS is set and
/// `lm_response` is shorter than 8 bytes, or when, without ESS, LM_KEY or NON_NT_SESSION_KEY is
/// set (those key exchange keys come from the LM hash, which this API doesn't take);
/// [`NtlmError::WrongPassword`] when the response does not match.
pub fn ntlmv1_session_key(
    nt_hash: &[u8; 16],
    server_challenge: &[u8; 8],
    lm_response: &[u8],
    nt_response: &[u8],
    flags: u32,
    encrypted_random_session_key: &[u8],
) -> Result<[u8; 16], NtlmError> {
    if nt_response.len() != V1_RESPONSE_LEN {
        return Err(NtlmError::Malformed);
    }
    let ess = flags & flags::EXTENDED_SESSIONSECURITY != 0;
    let client_challenge = if ess {
        Some(lm_response.get(..8).ok_or(NtlmError::Malformed)?)
    } else {
        None
    };

    let mut challenge = *server_challenge;
    if let Some(cc) = client_challenge {
        let digest = Md5::new()
            .chain_update(server_challenge)
            .chain_update(cc)
            .finalize();
        challenge.copy_from_slice(&digest[..8]);
    }
    if !bool::from(desl(nt_hash, &challenge).ct_eq(nt_response)) {
        return Err(NtlmError::WrongPassword);
    }

    let session_base_key: [u8; 16] = Md4::digest(nt_hash).into();
    let key_exchange_key = match client_challenge {
        Some(cc) => {
            let mut mac = hmac_md5(&session_base_key);
            mac.update(server_challenge);
            mac.update(cc);
            mac.finalize().into_bytes().into()
        }
        None if flags & (flags::LM_KEY | flags::NON_NT_SESSION_KEY) != 0 => {
            return Err(NtlmError::Malformed);
        }
        None => session_base_key,
    };
    Ok(exported_session_key(
        key_exchange_key,
        flags,
        encrypted_random_session_key,
    ))
}

/// ExportedSessionKey from KeyExchangeKey ([MS-NLMP] §3.2.5.1.2, §3.2.5.2.2).
fn exported_session_key(key_exchange_key: [u8; 16], flags: u32, encrypted: &[u8]) -> [u8; 16] {
    if flags & flags::KEY_EXCH == 0 || encrypted.len() != 16 {
        return key_exchange_key;
    }
    let mut key = [0; 16];
    key.copy_from_slice(encrypted);
    // RC4 takes keys of 1 to 256 bytes, so a 16-byte key is always accepted.
    let mut rc4 = Rc4::new_from_slice(&key_exchange_key).expect("16-byte RC4 key");
    rc4.apply_keystream(&mut key);
    key
}

/// DESL ([MS-NLMP] §6): three DES encryptions of `data` under the 16-byte key split 7 / 7 / 2
/// (zero-padded to 7).
fn desl(key: &[u8; 16], data: &[u8; 8]) -> [u8; 24] {
    let mut k3 = [0u8; 7];
    k3[..2].copy_from_slice(&key[14..16]);
    let parts: [&[u8]; 3] = [&key[0..7], &key[7..14], &k3];
    let mut out = [0u8; 24];
    for (part, dst) in parts.iter().zip(out.chunks_exact_mut(8)) {
        let des = Des::new(&des_key(part).into());
        let mut block = (*data).into();
        des.encrypt_block(&mut block);
        dst.copy_from_slice(&block);
    }
    out
}

/// Spreads 56 key bits over 8 bytes, 7 bits each; DES ignores the low (parity) bit.
fn des_key(k: &[u8]) -> [u8; 8] {
    let mut b = [0u8; 7];
    let n = k.len().min(7);
    b[..n].copy_from_slice(&k[..n]);
    [
        b[0] & 0xFE,
        (b[0] << 7) | (b[1] >> 1),
        (b[1] << 6) | (b[2] >> 2),
        (b[2] << 5) | (b[3] >> 3),
        (b[3] << 4) | (b[4] >> 4),
        (b[4] << 3) | (b[5] >> 5),
        (b[5] << 2) | (b[6] >> 6),
        b[6] << 1,
    ]
}

/// Simple (one-to-one) uppercase mapping: a character whose uppercase is several characters
/// is kept.
fn upcase(c: char) -> char {
    let mut up = c.to_uppercase();
    match (up.next(), up.next()) {
        (Some(u), None) => u,
        _ => c,
    }
}

fn hmac_md5(key: &[u8]) -> Hmac<Md5> {
    // HMAC accepts keys of every length, so `new_from_slice` cannot fail.
    <Hmac<Md5> as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length")
}

#[cfg(test)]
#[path = "ntlm_tests.rs"]
mod tests;
