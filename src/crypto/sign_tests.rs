use super::*;
use crate::crypto::kdf::derive_smb30;
use crate::crypto::ntlm::{nt_hash, ntlmv2_session_key};
use crate::crypto::vectors_tests::*;

fn signer(alg: SigningAlgorithm, key: &str) -> SmbSigner {
    SmbSigner::new(alg, &hexa(key)).expect("known algorithm")
}

/// Every message verifies, `sign` gives its Signature field, and a flipped bit anywhere (header,
/// signature, body, last byte) breaks it.
fn check_signed(signer: &SmbSigner, name: &str, msg: &[u8]) {
    assert!(signer.verify(msg), "{name} does not verify");
    assert_eq!(signer.sign(msg)[..], msg[48..64], "{name}");
    for pos in [0, 12, 24, 40, 50, 63, 64, msg.len() - 1] {
        let mut bad = msg.to_vec();
        bad[pos] ^= 0x01;
        assert!(
            !signer.verify(&bad),
            "{name} verifies with byte {pos} flipped"
        );
    }
}

/// `captures/smb311-sign-gmac.keys`: Signing Key (derived in `kdf_tests` from the Session Key).
#[test]
fn gmac_capture_messages_verify() {
    let s = signer(
        SigningAlgorithm::AES_GMAC,
        "fd4a68a4a9c35a8406dc3c7b75365fca",
    );
    assert_eq!(s.algorithm(), SigningAlgorithm::AES_GMAC);
    check_signed(&s, "SESSION_SETUP response", &hex(GMAC_SESSION_SETUP_RSP2));
    check_signed(&s, "TREE_CONNECT request", &hex(GMAC_TREE_CONNECT_REQ));
    check_signed(&s, "TREE_CONNECT response", &hex(GMAC_TREE_CONNECT_RSP));
    check_signed(
        &s,
        "IOCTL error response (73 bytes)",
        &hex(GMAC_IOCTL_ERROR_RSP),
    );
}

/// The piecewise GMAC equals AES-128-GCM (the `aes-gcm` crate) with an empty plaintext, the
/// message with its signature zeroed as AAD, and the SMB2 nonce; for every length of message.
#[test]
fn piecewise_gmac_is_gcm_with_empty_plaintext() {
    use aes_gcm::aead::AeadInOut;
    use aes_gcm::aead::inout::InOutBuf;

    let key = [0x42; 16];
    let s = SmbSigner::new(SigningAlgorithm::AES_GMAC, &key).expect("GMAC");
    let gcm = aes_gcm::Aes128Gcm::new((&key).into());
    let full = hex(GMAC_SESSION_SETUP_RSP2);
    for len in 0..=full.len() {
        let msg = &full[..len];
        let mut aad = msg.to_vec();
        for b in aad.iter_mut().take(64).skip(48) {
            *b = 0;
        }
        let nonce = gmac_nonce(msg);
        let empty: &mut [u8] = &mut [];
        let tag = gcm
            .encrypt_inout_detached((&nonce).into(), &aad, InOutBuf::from(empty))
            .expect("short input");
        assert_eq!(s.sign(msg)[..], tag[..], "length {len}");
    }
}

/// `captures/smb311-sign-cmac.keys` Signing Key; 3.1.1 with AES-CMAC.
#[test]
fn cmac_capture_messages_verify() {
    let s = signer(
        SigningAlgorithm::AES_CMAC,
        "322a4db8b705bd6068393d5846abaecc",
    );
    check_signed(&s, "TREE_CONNECT request", &hex(CMAC_TREE_CONNECT_REQ));
    check_signed(&s, "TREE_CONNECT response", &hex(CMAC_TREE_CONNECT_RSP));
}

/// `captures/smb30-signed.keys`: 3.0 signs with AES-CMAC under the derived SigningKey.
#[test]
fn smb30_capture_message_verifies() {
    let keys = derive_smb30(&hex("301b025da6e2ae80f4c43be07d9186f5"));
    let s = SmbSigner::new(SigningAlgorithm::AES_CMAC, &keys.signing).expect("CMAC");
    check_signed(&s, "TREE_CONNECT request", &hex(SMB30_TREE_CONNECT_REQ));
}

/// `captures/smb311-sign-hmac.keys` Signing Key: 3.1.1 with HMAC-SHA256 uses the derived key.
#[test]
fn hmac_smb311_capture_message_verifies() {
    let s = signer(
        SigningAlgorithm::HMAC_SHA256,
        "0a689baa8240dea803c31386d0344574",
    );
    check_signed(&s, "TREE_CONNECT request", &hex(HMAC311_TREE_CONNECT_REQ));
}

/// `captures/smb202-signing-required.pcap`: 2.0.2 signs with HMAC-SHA256 under the session key
/// itself, here recovered from the password (`.credentials`: SMBSCOPE\alice) and the NTLMv2
/// exchange in frames 9 (CHALLENGE) and 10 (AUTHENTICATE, KEY_EXCH).
#[test]
fn hmac_smb202_capture_messages_verify() {
    let nt_response = hex(concat!(
        "9c677e483e269ff5b7173eb6fded4f9701010000000000007a6eae9a927add0130e8c955ee05a01d",
        "0000000002001000530043004f005000450053005200560001001000530043004f00500045005300",
        "52005600040000000300040076006d00070008007a6eae9a927add01060004000200000008003000",
        "30000000000000000000000000000000367c701ff5193a2494db5c1d5b96606ec0aa0bcd3a8f6f57",
        "46f7219e00dcd4690a0010000000000000000000000000000000000009001c006300690066007300",
        "2f003100320037002e0030002e0030002e00310000000000",
    ));
    let session_key = ntlmv2_session_key(
        &nt_hash("Alice-Passw0rd!"),
        "alice",
        "SMBSCOPE",
        &hexa("c387193b4f97c6a0"),
        &nt_response,
        0x6208_8215,
        &hex("1edc7710a080cf4f50c86f55641c68a0"),
    )
    .expect("right password");
    let s = SmbSigner::new(SigningAlgorithm::HMAC_SHA256, &session_key).expect("HMAC");
    check_signed(&s, "TREE_CONNECT request", &hex(HMAC202_TREE_CONNECT_REQ));
    check_signed(&s, "TREE_CONNECT response", &hex(HMAC202_TREE_CONNECT_RSP));
}

#[test]
fn gmac_nonce_flags() {
    let mut msg = [0u8; 64];
    msg[24..32].copy_from_slice(&0x0102_0304_0506_0708u64.to_le_bytes());
    let id = [8, 7, 6, 5, 4, 3, 2, 1];
    assert_eq!(gmac_nonce(&msg)[..8], id);
    assert_eq!(gmac_nonce(&msg)[8..], [0, 0, 0, 0]);
    // SERVER_TO_REDIR → bit 0.
    msg[16] = 0x01;
    assert_eq!(gmac_nonce(&msg)[8..], [1, 0, 0, 0]);
    // A CANCEL response (which is never sent, but) is not a CANCEL request.
    msg[12] = 0x0C;
    assert_eq!(gmac_nonce(&msg)[8..], [1, 0, 0, 0]);
    // A CANCEL request → bit 1; other flags (ASYNC, SIGNED) don't matter.
    msg[16] = 0x0A;
    assert_eq!(gmac_nonce(&msg)[8..], [2, 0, 0, 0]);
    // Short messages read missing fields as zero.
    assert_eq!(gmac_nonce(&msg[..20]), [0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0]);
}

#[test]
fn short_messages_never_verify_or_panic() {
    let msg = hex(GMAC_TREE_CONNECT_REQ);
    for alg in [
        SigningAlgorithm::HMAC_SHA256,
        SigningAlgorithm::AES_CMAC,
        SigningAlgorithm::AES_GMAC,
    ] {
        let s = SmbSigner::new(alg, &[7; 16]).expect("known");
        for len in 0..=msg.len() {
            let _ = s.sign(&msg[..len]);
            if len < 64 {
                assert!(!s.verify(&msg[..len]));
            }
        }
    }
    assert!(SmbSigner::new(SigningAlgorithm(3), &[0; 16]).is_none());
}

#[test]
fn signer_debug_hides_the_key() {
    let s = SmbSigner::new(SigningAlgorithm::AES_CMAC, &[0x5A; 16]).expect("CMAC");
    let text = format!("{s:?}");
    assert!(
        text.contains("<redacted>") && !text.contains("5a") && !text.contains("90"),
        "{text}"
    );
    let s = SmbSigner::new(SigningAlgorithm::AES_GMAC, &[0x5A; 16]).expect("GMAC");
    if let SmbSigner::AesGmac(k) = &s {
        assert_eq!(format!("{k:?}"), "<redacted>");
    }
}

/// The MAC key of `captures/smb1-signed.pcap`: NTLMv2 with extended security, so the 16-byte
/// session key, recovered from the password and frames 9 (CHALLENGE) and 10 (AUTHENTICATE).
fn smb1_mac_key() -> [u8; 16] {
    let nt_response = hex(concat!(
        "f6837976b96f7a073a68ecead0915d990101000000000000b2c8af98927add017423c5d6fe5ccc23",
        "0000000002001000530043004f005000450053005200560001001000530043004f00500045005300",
        "52005600040000000300040076006d0007000800b2c8af98927add01060004000200000008003000",
        "300000000000000000000000000000008428417c22687716789458ecadf8b5b0af36012c7eb87434",
        "c003d3ea7f5df4ba0a0010000000000000000000000000000000000009001c006300690066007300",
        "2f003100320037002e0030002e0030002e00310000000000",
    ));
    ntlmv2_session_key(
        &nt_hash("Alice-Passw0rd!"),
        "alice",
        "SMBSCOPE",
        &hexa("24fcaf849c5214a2"),
        &nt_response,
        0x6208_8215,
        &hex("de4416f4cf19e0037fd04f8d1b3bffac"),
    )
    .expect("right password")
}

/// Sequence numbers: the SESSION_SETUP_ANDX request that completes authentication is 0 (its
/// signature field is still "BSRSPYL "), its response 1, and each later request/response
/// takes the next number.
#[test]
fn smb1_capture_signatures_verify() {
    let key = smb1_mac_key();
    for (name, msg, seq) in [
        ("SESSION_SETUP_ANDX response", SMB1_SESSION_SETUP_RSP, 1),
        ("TREE_CONNECT_ANDX request", SMB1_TREE_CONNECT_REQ, 2),
        ("TREE_CONNECT_ANDX response", SMB1_TREE_CONNECT_RSP, 3),
        ("TREE_DISCONNECT request", SMB1_TREE_DISCONNECT_REQ, 6),
    ] {
        let msg = hex(msg);
        assert!(smb1_verify(&key, &msg, seq), "{name}");
        assert_eq!(smb1_signature(&key, &msg, seq)[..], msg[14..22], "{name}");
        assert!(
            !smb1_verify(&key, &msg, seq + 1),
            "{name} with the next number"
        );
        let mut bad = msg.clone();
        let last = bad.len() - 1;
        bad[last] ^= 0x80;
        assert!(!smb1_verify(&key, &bad, seq), "{name} altered");
        for len in 0..32 {
            assert!(!smb1_verify(&key, &msg[..len], seq));
            let _ = smb1_signature(&key, &msg[..len], seq);
        }
    }
}
