//! Per-session cryptography: where a session's keys come from (key file or password), the
//! signer and decryptors built from them, signature verification of each message, and
//! decryption of TRANSFORM messages — also for captures that start mid-stream, where the cipher
//! is found by trying the candidates and accepting only a verified tag.

use super::state::{AuthInfo, ConnState, Family};
use crate::crypto::aead::{DecryptError, Decryptor};
use crate::crypto::kdf::{self, PreauthHash};
use crate::crypto::keys::{CredentialSecret, KeyStore};
use crate::crypto::ntlm::{self, NtlmError};
use crate::crypto::sign::SmbSigner;
use crate::flow::Direction;
use crate::smb::krb_logon::MissingServiceKey;
use crate::smb::negotiate::Dialect;
use crate::wire::{Cipher, SigningAlgorithm};

/// Where a session's keys came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    /// `--keys`: a session key or derived keys for this session id.
    KeyFile,
    /// `--credentials`: derived from the user's password or NT hash and the captured NTLM
    /// exchange.
    Password,
    /// `--keytab`: the Kerberos ticket decrypted with the service key, then the AP-REP's (or
    /// the authenticator's) subkey.
    Keytab,
}

impl KeySource {
    pub fn as_str(self) -> &'static str {
        match self {
            KeySource::KeyFile => "keys",
            KeySource::Password => "password",
            KeySource::Keytab => "keytab",
        }
    }
}

/// The keys of one session, ready to use.
pub struct SessionCrypto {
    pub source: KeySource,
    /// SMB2/3 signer. `None` when only cipher keys were given.
    pub signer: Option<SmbSigner>,
    /// Other signers to try when the dialect is unknown (capture started mid-stream); the first
    /// that verifies a message becomes `signer`.
    pub signer_candidates: Vec<SmbSigner>,
    /// SMB1 MAC key (session key, plus the NT response for non-extended NTLMv1).
    pub smb1_mac_key: Option<Vec<u8>>,
    /// Decryptor for client-to-server and server-to-client messages, once known.
    pub c2s: Option<Decryptor>,
    pub s2c: Option<Decryptor>,
    /// Mid-stream: (c2s, s2c) pairs to try, one per candidate cipher and key order.
    pub dec_candidates: Vec<(Decryptor, Decryptor)>,
    /// With a keytab: who the decrypted ticket names.
    pub krb_client: Option<crate::smb::krb_logon::KrbClient>,
}

impl std::fmt::Debug for SessionCrypto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionCrypto")
            .field("source", &self.source)
            .field("signer", &self.signer.is_some())
            .field("decrypt", &(self.c2s.is_some(), self.s2c.is_some()))
            .finish_non_exhaustive()
    }
}

/// Why a session has no keys, for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoKeys {
    /// Nothing in `--keys` or `--credentials` for it.
    Missing,
    /// A credential for the user was given but did not match the captured response.
    WrongPassword { user: String },
    /// Kerberos or an unknown mechanism: only a key file can help.
    NotNtlm,
    /// Kerberos, and no key of the keytab decrypts the ticket: the service principal, key
    /// version and enctype the keytab lacks.
    NoServiceKey(MissingServiceKey),
}

/// The result of looking a session's keys up.
pub enum Lookup {
    Found(Box<SessionCrypto>),
    None(NoKeys),
}

/// Everything the key derivation needs about the connection.
pub struct ConnParams {
    pub family: Family,
    pub dialect: Option<Dialect>,
    pub cipher: Option<Cipher>,
    pub signing_alg: Option<SigningAlgorithm>,
}

impl ConnParams {
    pub fn of(conn: &ConnState) -> ConnParams {
        ConnParams {
            family: conn.family,
            dialect: conn.dialect.filter(|d| *d != Dialect::WILDCARD),
            cipher: conn.cipher.filter(|c| *c != Cipher::NONE),
            signing_alg: conn.signing_alg,
        }
    }
}

/// Ciphers tried, in order, when the connection's cipher is unknown.
const CANDIDATE_CIPHERS: [Cipher; 4] = [
    Cipher::AES_128_CCM,
    Cipher::AES_128_GCM,
    Cipher::AES_256_CCM,
    Cipher::AES_256_GCM,
];

/// Builds the crypto state of session `sid` from the key store: first an entry for the session
/// id, then a credential for its NTLM user.
pub fn lookup(
    store: &KeyStore,
    sid: u64,
    params: &ConnParams,
    auth: &AuthInfo,
    challenge: Option<[u8; 8]>,
    preauth: Option<&PreauthHash>,
) -> Lookup {
    if let Some(entry) = store.session(sid) {
        let session_key = entry.session_key.as_ref().map(|s| s.as_bytes().to_vec());
        let mut crypto =
            from_session_key(KeySource::KeyFile, session_key.as_deref(), params, preauth);
        if let Some(k) = entry
            .signing
            .as_ref()
            .and_then(|s| <&[u8; 16]>::try_from(s.as_bytes()).ok())
        {
            let alg = signing_alg(params);
            match alg {
                Some(a) => crypto.signer = SmbSigner::new(a, k),
                None => {
                    crypto.signer_candidates = [
                        SigningAlgorithm::AES_CMAC,
                        SigningAlgorithm::AES_GMAC,
                        SigningAlgorithm::HMAC_SHA256,
                    ]
                    .iter()
                    .filter_map(|a| SmbSigner::new(*a, k))
                    .collect();
                }
            }
        }
        if let (Some(c2s), Some(s2c)) = (&entry.c2s, &entry.s2c) {
            set_decryptors(&mut crypto, params, c2s.as_bytes(), s2c.as_bytes());
        }
        return Lookup::Found(Box::new(crypto));
    }
    if let Some(krb) = auth
        .krb
        .as_deref()
        .filter(|_| !store.keytab.entries.is_empty())
    {
        return match crate::smb::krb_logon::open(&store.keytab, &krb.ap_req, krb.ap_rep.as_ref()) {
            Ok(logon) => {
                let key = &logon.session_key;
                let mut c = from_session_key(KeySource::Keytab, Some(key), params, preauth);
                c.krb_client = Some(logon.client);
                Lookup::Found(Box::new(c))
            }
            Err(missing) => Lookup::None(NoKeys::NoServiceKey(missing)),
        };
    }
    let Some(ntlm) = auth.ntlm.as_deref() else {
        return Lookup::None(if auth.kind == super::state::AuthKind::Kerberos {
            NoKeys::NotNtlm
        } else {
            NoKeys::Missing
        });
    };
    let user = auth.user.as_deref().unwrap_or("");
    let domain = auth.domain.as_deref().unwrap_or("");
    let mut wrong = false;
    for cred in store.credentials_for(user, domain) {
        let nt_hash = match &cred.secret {
            CredentialSecret::Password(p) => ntlm::nt_hash(&String::from_utf8_lossy(p.as_bytes())),
            CredentialSecret::NtHash(h) => *h,
        };
        let Some(challenge) = challenge else {
            continue;
        };
        let key = if ntlm.nt_response.len() > 24 {
            ntlm::ntlmv2_session_key(
                &nt_hash,
                user,
                domain,
                &challenge,
                &ntlm.nt_response,
                ntlm.flags,
                &ntlm.encrypted_session_key,
            )
        } else if ntlm.nt_response.len() == 24 {
            ntlm::ntlmv1_session_key(
                &nt_hash,
                &challenge,
                &ntlm.lm_response,
                &ntlm.nt_response,
                ntlm.flags,
                &ntlm.encrypted_session_key,
            )
        } else {
            Err(NtlmError::Malformed)
        };
        match key {
            Ok(k) => {
                let mut crypto = from_session_key(KeySource::Password, Some(&k), params, preauth);
                if params.family == Family::Smb1 {
                    crypto.smb1_mac_key = Some(smb1_mac_key(&k, ntlm));
                }
                return Lookup::Found(Box::new(crypto));
            }
            Err(NtlmError::WrongPassword) => wrong = true,
            Err(NtlmError::Malformed) => {}
        }
    }
    Lookup::None(if wrong {
        NoKeys::WrongPassword {
            user: user.to_owned(),
        }
    } else {
        NoKeys::Missing
    })
}

/// The SMB1 MAC key ([MS-SMB] 3.1.5.1): the session key, followed by the NT response for NTLM
/// without extended session security.
fn smb1_mac_key(session_key: &[u8; 16], ntlm: &super::state::NtlmMaterial) -> Vec<u8> {
    const EXTENDED_SESSIONSECURITY: u32 = 0x0008_0000;
    let mut k = session_key.to_vec();
    if !ntlm.extended_security && ntlm.flags & EXTENDED_SESSIONSECURITY == 0 {
        k.extend_from_slice(&ntlm.nt_response);
    }
    k
}

/// The signing algorithm for the connection, if the dialect is known.
fn signing_alg(p: &ConnParams) -> Option<SigningAlgorithm> {
    match p.dialect? {
        Dialect::SMB2_0_2 | Dialect::SMB2_1 => Some(SigningAlgorithm::HMAC_SHA256),
        Dialect::SMB3_0 | Dialect::SMB3_0_2 => Some(SigningAlgorithm::AES_CMAC),
        Dialect::SMB3_1_1 => Some(p.signing_alg.unwrap_or(SigningAlgorithm::AES_CMAC)),
        _ => None,
    }
}

/// Derives the signing key and cipher keys from a session key, per dialect (MS-SMB2 §3.1.4.2).
fn from_session_key(
    source: KeySource,
    session_key: Option<&[u8]>,
    p: &ConnParams,
    preauth: Option<&PreauthHash>,
) -> SessionCrypto {
    let mut c = SessionCrypto {
        source,
        signer: None,
        signer_candidates: Vec::new(),
        smb1_mac_key: None,
        c2s: None,
        s2c: None,
        dec_candidates: Vec::new(),
        krb_client: None,
    };
    let Some(sk) = session_key.filter(|k| k.len() >= 16) else {
        return c;
    };
    if p.family == Family::Smb1 {
        c.smb1_mac_key = Some(sk[..16].to_vec());
        return c;
    }
    let first16: &[u8; 16] = match sk[..16].try_into() {
        Ok(k) => k,
        Err(_) => return c,
    };
    match p.dialect {
        Some(Dialect::SMB2_0_2 | Dialect::SMB2_1) => {
            c.signer = SmbSigner::new(SigningAlgorithm::HMAC_SHA256, first16);
        }
        Some(Dialect::SMB3_0 | Dialect::SMB3_0_2) => {
            let keys = kdf::derive_smb30(sk);
            c.signer = SmbSigner::new(SigningAlgorithm::AES_CMAC, &keys.signing);
            let cipher = Cipher::AES_128_CCM;
            c.c2s = Decryptor::new(cipher, keys.c2s.as_bytes());
            c.s2c = Decryptor::new(cipher, keys.s2c.as_bytes());
        }
        Some(Dialect::SMB3_1_1) => {
            if let Some(h) = preauth {
                let cipher = p.cipher.unwrap_or(Cipher::AES_128_CCM);
                let keys = kdf::derive_smb311(sk, h.value(), cipher);
                let alg = p.signing_alg.unwrap_or(SigningAlgorithm::AES_CMAC);
                c.signer = SmbSigner::new(alg, &keys.signing);
                c.c2s = Decryptor::new(cipher, keys.c2s.as_bytes());
                c.s2c = Decryptor::new(cipher, keys.s2c.as_bytes());
            }
        }
        _ => {
            // Dialect unknown (mid-stream): 2.x HMAC or 3.0 CMAC/CCM are derivable without a
            // preauth hash; try them.
            let keys = kdf::derive_smb30(sk);
            c.signer_candidates = [
                SmbSigner::new(SigningAlgorithm::AES_CMAC, &keys.signing),
                SmbSigner::new(SigningAlgorithm::HMAC_SHA256, first16),
            ]
            .into_iter()
            .flatten()
            .collect();
            if let (Some(a), Some(b)) = (
                Decryptor::new(Cipher::AES_128_CCM, keys.c2s.as_bytes()),
                Decryptor::new(Cipher::AES_128_CCM, keys.s2c.as_bytes()),
            ) {
                c.dec_candidates.push((a, b));
            }
        }
    }
    c
}

/// Installs decryptors for directly given cipher keys: the connection's cipher when known,
/// else every candidate cipher the key length allows, in both key orders (some tools swap
/// them), to be settled by the first verified tag.
fn set_decryptors(c: &mut SessionCrypto, p: &ConnParams, c2s: &[u8], s2c: &[u8]) {
    let known = match p.dialect {
        Some(Dialect::SMB3_0 | Dialect::SMB3_0_2) => Some(Cipher::AES_128_CCM),
        Some(Dialect::SMB3_1_1) => p.cipher,
        _ => None,
    };
    let ciphers: Vec<Cipher> = match known {
        Some(k) => vec![k],
        None => CANDIDATE_CIPHERS.to_vec(),
    };
    c.c2s = None;
    c.s2c = None;
    c.dec_candidates.clear();
    for cipher in ciphers {
        for (a, b) in [(c2s, s2c), (s2c, c2s)] {
            if let (Some(x), Some(y)) = (Decryptor::new(cipher, a), Decryptor::new(cipher, b)) {
                c.dec_candidates.push((x, y));
            }
        }
    }
}

/// Outcome of decrypting one transform message.
pub enum Decrypted {
    Ok,
    Failed(DecryptError),
    NoKey,
}

impl SessionCrypto {
    /// Decrypts `msg` (a TRANSFORM message) into `out`. Unsettled candidates are tried in order
    /// and the first verified tag settles them.
    pub fn decrypt(&mut self, dir: Direction, msg: &[u8], out: &mut Vec<u8>) -> Decrypted {
        let settled = match dir {
            Direction::ToServer => self.c2s.as_ref(),
            Direction::ToClient => self.s2c.as_ref(),
        };
        if let Some(d) = settled {
            return match d.decrypt(msg, out) {
                Ok(()) => Decrypted::Ok,
                Err(e) => Decrypted::Failed(e),
            };
        }
        if self.dec_candidates.is_empty() {
            return Decrypted::NoKey;
        }
        let mut last = DecryptError::BadTag;
        for i in 0..self.dec_candidates.len() {
            let (c2s, s2c) = &self.dec_candidates[i];
            let d = match dir {
                Direction::ToServer => c2s,
                Direction::ToClient => s2c,
            };
            match d.decrypt(msg, out) {
                Ok(()) => {
                    let (c2s, s2c) = self.dec_candidates.swap_remove(i);
                    self.c2s = Some(c2s);
                    self.s2c = Some(s2c);
                    self.dec_candidates.clear();
                    return Decrypted::Ok;
                }
                Err(e) => last = e,
            }
        }
        Decrypted::Failed(last)
    }

    /// Verifies one signed SMB2 message: `Some(valid)`, or `None` when no signer applies.
    pub fn verify(&mut self, msg: &[u8]) -> Option<bool> {
        if let Some(s) = &self.signer {
            return Some(s.verify(msg));
        }
        if self.signer_candidates.is_empty() {
            return None;
        }
        let i = self.signer_candidates.iter().position(|s| s.verify(msg))?;
        self.signer = Some(self.signer_candidates.swap_remove(i));
        self.signer_candidates.clear();
        Some(true)
    }
}
