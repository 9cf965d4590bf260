//! Signature-verification and decryption throughput (MB/s) of the primitives the engine uses
//! per message: HMAC-SHA256, AES-128-CMAC and AES-128-GMAC over SMB2 messages, and the four
//! TRANSFORM ciphers. `benches/decrypt_vs_tshark.sh` compares the whole tool with tshark.
//!
//! The `kdf` group times the per-session key work on real inputs from `captures/`: the SMB 3.0
//! and 3.1.1 key derivations, one SMB 3.1.1 preauth-hash step, and the NTLM session-key
//! computations (NT hash, NTLMv2, NTLMv1). Each result is first checked against the keys Samba
//! logged for that capture.
//!
//! The `kerberos` group times the per-session Kerberos step of `--keytab` on the logons in
//! `captures/kerberos/`: opening the ticket and the AP-REP down to the session key.

mod common;

use std::hint::black_box;

use common::{Msg, capture_path, messages, pick};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use smbscope::crypto::aead::Decryptor;
use smbscope::crypto::kdf::{PreauthHash, derive_smb30, derive_smb311};
use smbscope::crypto::keys::{CredentialSecret, SessionKeys, parse_credentials, parse_keys};
use smbscope::crypto::keytab::Keytab;
use smbscope::crypto::ntlm::{nt_hash, ntlmv1_session_key, ntlmv2_session_key};
use smbscope::crypto::sign::SmbSigner;
use smbscope::smb::krb::ApRep;
use smbscope::smb::krb_logon;
use smbscope::smb::negotiate::NegotiateResponse;
use smbscope::smb::session_setup::{SessionSetupRequest, SessionSetupResponse};
use smbscope::smb::{Command, NtStatus, ntlmssp, spnego};
use smbscope::wire::{Cipher, SigningAlgorithm};

/// An SMB2 WRITE-sized message: 64-byte header with the SIGNED flag, then `len` bytes.
fn message(len: usize) -> Vec<u8> {
    let mut m = vec![0u8; 64 + len];
    m[..4].copy_from_slice(b"\xfeSMB");
    m[4] = 64;
    m[12] = 9; // WRITE
    m[16] = 0x08; // SIGNED
    for (i, b) in m[64..].iter_mut().enumerate() {
        *b = (i * 31 % 251) as u8;
    }
    m
}

fn signing(c: &mut Criterion) {
    let key = [0x42u8; 16];
    let mut g = c.benchmark_group("verify");
    for len in [1024usize, 65_536] {
        let msg = message(len);
        g.throughput(Throughput::Bytes(msg.len() as u64));
        for (name, alg) in [
            ("hmac-sha256", SigningAlgorithm::HMAC_SHA256),
            ("aes-128-cmac", SigningAlgorithm::AES_CMAC),
            ("aes-128-gmac", SigningAlgorithm::AES_GMAC),
        ] {
            let signer = SmbSigner::new(alg, &key).expect("16-byte key");
            let mut signed = msg.clone();
            let sig = signer.sign(&signed);
            signed[48..64].copy_from_slice(&sig);
            g.bench_function(format!("{name}/{len}"), |b| {
                b.iter(|| signer.verify(&signed))
            });
        }
    }
    g.finish();
}

/// Builds a TRANSFORM message around `plain` with an arbitrary (wrong) tag: decryption then
/// does all the work and fails only at the tag comparison, which is what we time.
fn transform(plain: &[u8]) -> Vec<u8> {
    let mut m = vec![0u8; 52];
    m[..4].copy_from_slice(b"\xfdSMB");
    m[36..40].copy_from_slice(&(plain.len() as u32).to_le_bytes());
    m[42] = 1;
    m.extend_from_slice(plain);
    m
}

fn decryption(c: &mut Criterion) {
    let mut g = c.benchmark_group("decrypt");
    let msg = transform(&message(65_536));
    g.throughput(Throughput::Bytes(msg.len() as u64));
    let mut out = Vec::new();
    for (name, cipher, klen) in [
        ("aes-128-ccm", Cipher::AES_128_CCM, 16),
        ("aes-128-gcm", Cipher::AES_128_GCM, 16),
        ("aes-256-ccm", Cipher::AES_256_CCM, 32),
        ("aes-256-gcm", Cipher::AES_256_GCM, 32),
    ] {
        let d = Decryptor::new(cipher, &vec![7u8; klen]).expect("key length");
        g.bench_function(format!("{name}/65536"), |b| {
            b.iter(|| d.decrypt(&msg, &mut out).is_err())
        });
    }
    g.finish();
}

/// The one session of `captures/<name>.keys` (Samba's key dump).
fn session_keys(name: &str) -> SessionKeys {
    let path = capture_path(&format!("{name}.keys"));
    let text = std::fs::read_to_string(&path).expect("read keys file");
    let mut keys = parse_keys(&text, &path.display().to_string()).expect("keys file parses");
    assert_eq!(keys.len(), 1, "{name}: one session");
    keys.remove(0)
}

fn bytes_of(s: &Option<smbscope::crypto::keys::Secret>) -> &[u8] {
    s.as_ref().expect("key present in the dump").as_bytes()
}

/// The password in `captures/<name>.credentials` (one credential).
fn password(name: &str) -> String {
    let path = capture_path(&format!("{name}.credentials"));
    let text = std::fs::read_to_string(&path).expect("read credentials file");
    let creds = parse_credentials(&text, &path.display().to_string()).expect("credentials");
    match &creds.first().expect("one credential").secret {
        CredentialSecret::Password(p) => String::from_utf8(p.as_bytes().to_vec()).unwrap(),
        _ => panic!("{name}: expected a password"),
    }
}

/// The SMB 3.1.1 session preauth hash of the first session in `msgs` (§3.2.5.2): NEGOTIATE
/// request and response, then every SESSION_SETUP request and every SESSION_SETUP response
/// with STATUS_MORE_PROCESSING_REQUIRED. Also returns the negotiated cipher.
fn preauth(msgs: &[Msg]) -> ([u8; 64], Cipher) {
    let mut h = PreauthHash::new();
    let mut cipher = Cipher::AES_128_CCM;
    for m in msgs {
        if m.is(Command::NEGOTIATE, false) {
            h.update(&m.bytes);
        } else if m.is(Command::NEGOTIATE, true) {
            h.update(&m.bytes);
            let hdr = m.smb2().unwrap();
            if let Some(c) = NegotiateResponse::parse(&hdr).ok().and_then(|r| r.cipher()) {
                cipher = c;
            }
        } else if m.is(Command::SESSION_SETUP, false)
            || (m.is(Command::SESSION_SETUP, true)
                && m.status() == NtStatus::MORE_PROCESSING_REQUIRED)
        {
            h.update(&m.bytes);
        } else if m.is(Command::SESSION_SETUP, true) {
            break; // the final response is not hashed
        }
    }
    (*h.value(), cipher)
}

/// The NTLMSSP token inside an SMB2 SESSION_SETUP message's SPNEGO blob.
fn ntlm_token(m: &Msg) -> Option<ntlmssp::Message<'_>> {
    let h = m.smb2()?;
    let blob = if h.is_response() {
        SessionSetupResponse::parse(&h).ok()?.security_buffer
    } else {
        SessionSetupRequest::parse(&h).ok()?.security_buffer
    };
    ntlmssp::parse(spnego::parse(blob).ok()?.auth_token()?).ok()
}

/// The server challenge and the AUTHENTICATE message of the capture's first NTLM exchange.
fn ntlm_exchange(msgs: &[Msg]) -> ([u8; 8], ntlmssp::Authenticate<'_>) {
    let chal = pick(msgs, "NTLMSSP CHALLENGE", |m| {
        matches!(ntlm_token(m), Some(ntlmssp::Message::Challenge(_)))
    });
    let auth = pick(msgs, "NTLMSSP AUTHENTICATE", |m| {
        matches!(ntlm_token(m), Some(ntlmssp::Message::Authenticate(_)))
    });
    let Some(ntlmssp::Message::Challenge(c)) = ntlm_token(chal) else {
        unreachable!()
    };
    let Some(ntlmssp::Message::Authenticate(a)) = ntlm_token(auth) else {
        unreachable!()
    };
    (c.server_challenge, a)
}

fn kdf(c: &mut Criterion) {
    let mut g = c.benchmark_group("kdf");
    g.throughput(Throughput::Elements(1));

    // SMB 3.0: four SP800-108 HMAC-SHA256 derivations from the session key.
    let k30 = session_keys("smb30-signed");
    let sk30 = bytes_of(&k30.session_key).to_vec();
    assert_eq!(&derive_smb30(&sk30).signing[..], bytes_of(&k30.signing));
    g.bench_function("derive_smb30", |b| {
        b.iter(|| derive_smb30(black_box(&sk30)))
    });

    // SMB 3.1.1 with the real preauth hash, 128-bit and 256-bit cipher keys.
    for (name, want) in [("smb311-default", 16usize), ("smb311-enc-aes256gcm", 32)] {
        let keys = session_keys(name);
        let sk = bytes_of(&keys.session_key).to_vec();
        let (hash, cipher) = preauth(&messages(&format!("{name}.pcap")));
        let d = derive_smb311(&sk, &hash, cipher);
        assert_eq!(
            &d.signing[..],
            bytes_of(&keys.signing),
            "{name}: signing key"
        );
        assert_eq!(d.c2s.as_bytes(), bytes_of(&keys.c2s), "{name}: c2s key");
        assert_eq!(d.s2c.as_bytes(), bytes_of(&keys.s2c), "{name}: s2c key");
        assert_eq!(d.c2s.len(), want);
        g.bench_function(format!("derive_smb311/cipher_key_{}bit", want * 8), |b| {
            b.iter(|| derive_smb311(black_box(&sk), black_box(&hash), cipher))
        });
    }

    // One preauth-hash step: SHA-512 over the previous value and the NEGOTIATE response.
    let msgs = messages("smb311-default.pcap");
    let neg = pick(&msgs, "NEGOTIATE response", |m| {
        m.is(Command::NEGOTIATE, true)
    });
    let mut start = PreauthHash::new();
    start.update(
        &pick(&msgs, "NEGOTIATE request", |m| {
            m.is(Command::NEGOTIATE, false)
        })
        .bytes,
    );
    let mut once = start;
    once.update(&neg.bytes);
    assert_ne!(once, start);
    g.bench_function(format!("preauth_hash_update/{}B", neg.bytes.len()), |b| {
        b.iter(|| {
            let mut h = black_box(start);
            h.update(black_box(&neg.bytes));
            *h.value()
        })
    });

    // NTLM: the NT hash of the password, then the session key from a real NTLMv2 exchange.
    let pw = password("smb311-default");
    let nt = nt_hash(&pw);
    g.bench_function("nt_hash", |b| b.iter(|| nt_hash(black_box(&pw))));
    let (server_challenge, a) = ntlm_exchange(&msgs);
    assert_eq!(a.kind(), ntlmssp::NtlmKind::NtlmV2);
    let v2 = |nt: &[u8; 16]| {
        ntlmv2_session_key(
            nt,
            &a.user,
            &a.domain,
            &server_challenge,
            a.nt_response,
            a.flags,
            a.encrypted_random_session_key,
        )
    };
    let key = v2(&nt).expect("NTLMv2 response matches the password");
    assert_eq!(
        &key[..],
        bytes_of(&session_keys("smb311-default").session_key)
    );
    g.bench_function("ntlmv2_session_key", |b| b.iter(|| v2(black_box(&nt))));

    // NTLMv1 (DES) from the ntlmv1 capture.
    let msgs1 = messages("ntlmv1.pcap");
    let nt1 = nt_hash(&password("ntlmv1"));
    let (server_challenge1, a1) = ntlm_exchange(&msgs1);
    assert_eq!(a1.kind(), ntlmssp::NtlmKind::NtlmV1);
    let v1 = |nt: &[u8; 16]| {
        ntlmv1_session_key(
            nt,
            &server_challenge1,
            a1.lm_response,
            a1.nt_response,
            a1.flags,
            a1.encrypted_random_session_key,
        )
    };
    let key = v1(&nt1).expect("NTLMv1 response matches the password");
    assert_eq!(&key[..], bytes_of(&session_keys("ntlmv1").session_key));
    g.bench_function("ntlmv1_session_key", |b| b.iter(|| v1(black_box(&nt1))));

    g.finish();
}

/// The SPNEGO security blob of a SESSION_SETUP message.
fn setup_blob(m: &Msg) -> Option<&[u8]> {
    let h = m.smb2()?;
    if h.is_response() {
        Some(SessionSetupResponse::parse(&h).ok()?.security_buffer)
    } else {
        Some(SessionSetupRequest::parse(&h).ok()?.security_buffer)
    }
}

/// The AP-REQ and AP-REP of the first Kerberos SESSION_SETUP exchange of `msgs`.
fn kerberos_exchange(msgs: &[Msg]) -> (spnego::ApReq, Option<ApRep>) {
    let ap_req = msgs
        .iter()
        .filter(|m| m.is(Command::SESSION_SETUP, false))
        .find_map(|m| match spnego::parse(setup_blob(m)?).ok()? {
            spnego::GssToken::Init { mech_token, .. } => match spnego::inner(mech_token?) {
                spnego::Inner::KerberosApReq(ap) => Some(ap),
                _ => None,
            },
            _ => None,
        })
        .expect("a Kerberos AP-REQ in the capture");
    let ap_rep = msgs
        .iter()
        .filter(|m| m.is(Command::SESSION_SETUP, true))
        .find_map(|m| match spnego::parse(setup_blob(m)?).ok()? {
            spnego::GssToken::Resp { response_token, .. } => ApRep::from_gss_token(response_token?),
            _ => None,
        });
    (ap_req, ap_rep)
}

fn keytab(name: &str) -> Keytab {
    let path = capture_path(&format!("kerberos/{name}.keytab"));
    let mut kt = Keytab::default();
    kt.add(&std::fs::read(&path).expect("read keytab"))
        .expect("keytab parses");
    kt
}

/// The Kerberos step of one session with `--keytab` (smb::krb_logon::open): decrypt the
/// ticket with the service key, then the AP-REP (or authenticator) with the ticket's session
/// key, and take the subkey. Inputs are real logons from `captures/kerberos/`; the session key
/// is first checked against the one smbd logged.
fn kerberos(c: &mut Criterion) {
    let mut g = c.benchmark_group("kerberos");
    g.throughput(Throughput::Elements(1));
    for (name, label) in [
        ("smb311-aes256gcm", "aes256-cts-hmac-sha1-96"),
        ("rc4-ticket", "arcfour-hmac"),
    ] {
        let (ap_req, ap_rep) = kerberos_exchange(&messages(&format!("kerberos/{name}.pcap")));
        assert!(ap_rep.is_some(), "{name}: the AP-REP is captured");
        let kt = keytab(name);
        let logon = krb_logon::open(&kt, &ap_req, ap_rep.as_ref()).expect("the keytab opens it");
        let want = session_keys(&format!("kerberos/{name}"));
        assert_eq!(
            &logon.session_key[..],
            bytes_of(&want.session_key),
            "{name}"
        );
        g.bench_function(format!("open_logon/{label}"), |b| {
            b.iter(|| krb_logon::open(black_box(&kt), black_box(&ap_req), ap_rep.as_ref()))
        });
    }
    // A keytab without the service key: every key of the enctype is tried, then refused.
    let (ap_req, ap_rep) = kerberos_exchange(&messages("kerberos/smb311-aes256gcm.pcap"));
    let wrong = keytab("keytab-missing-service-key");
    assert!(krb_logon::open(&wrong, &ap_req, ap_rep.as_ref()).is_err());
    g.bench_function("open_logon/missing_service_key", |b| {
        b.iter(|| krb_logon::open(black_box(&wrong), black_box(&ap_req), ap_rep.as_ref()))
    });
    // Reading the keytab (once per run, not per session).
    let bytes = std::fs::read(capture_path("kerberos/smb311-aes256gcm.keytab")).expect("keytab");
    g.bench_function("parse_keytab", |b| {
        b.iter(|| {
            let mut kt = Keytab::default();
            kt.add(black_box(&bytes)).map(|_| kt.entries.len())
        })
    });
    g.finish();
}

criterion_group!(benches, signing, decryption, kdf, kerberos);
criterion_main!(benches);
