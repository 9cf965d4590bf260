use super::*;
use crate::crypto::vectors_tests::{hex, hexa};

/// [MS-NLMP] §4.2.1 common values: User "User", UserDom "Domain", Passwd "Password",
/// ServerChallenge 0123456789abcdef, RandomSessionKey 55 × 16.
const SERVER_CHALLENGE: [u8; 8] = [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef];
const RANDOM_SESSION_KEY: [u8; 16] = [0x55; 16];

/// [MS-NLMP] §4.2.4 (NTLMv2): NtChallengeResponse = NTProofStr || temp, with temp built as
/// §4.2.4.1.3 / §4.2.4.2.2 say: 01 01 00×6, Time 0, ClientChallenge aa×8, 00×4, AvPairs
/// (MsvAvNbDomainName "Domain", MsvAvNbComputerName "Server", MsvAvEOL), 00×4.
fn spec_v2_response() -> Vec<u8> {
    let mut r = hex("68cd0ab851e51c96aabc927bebef6a1c");
    r.extend_from_slice(&[1, 1, 0, 0, 0, 0, 0, 0]);
    r.extend_from_slice(&[0; 8]);
    r.extend_from_slice(&[0xaa; 8]);
    r.extend_from_slice(&[0; 4]);
    for (id, text) in [(2u16, "Domain"), (1, "Server")] {
        let utf16: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
        r.extend_from_slice(&id.to_le_bytes());
        r.extend_from_slice(&(utf16.len() as u16).to_le_bytes());
        r.extend_from_slice(&utf16);
    }
    r.extend_from_slice(&[0; 4]); // MsvAvEOL
    r.extend_from_slice(&[0; 4]);
    r
}

#[test]
fn ms_nlmp_4_2_4_ntlmv2() {
    let nt = nt_hash("Password");
    assert_eq!(nt, hexa("a4f49c406510bdcab6824ee7c30fd852"));
    assert_eq!(
        ntowf_v2(&nt, "User", "Domain"),
        hexa("0c868a403bfd7a93a3001ef22ef02e3f")
    );
    let response = spec_v2_response();
    // Without KEY_EXCH the exported key is SessionBaseKey (§4.2.4.1.2).
    let base = ntlmv2_session_key(&nt, "User", "Domain", &SERVER_CHALLENGE, &response, 0, &[]);
    assert_eq!(base, Ok(hexa("8de40ccadbc14a82f15cb0ad0de95ca3")));
    // §4.2.4.2.3: EncryptedRandomSessionKey = RC4(SessionBaseKey, 55×16).
    let enc = hex("c5dad2544fc9799094ce1ce90bc9d03e");
    let exported = ntlmv2_session_key(
        &nt,
        "User",
        "Domain",
        &SERVER_CHALLENGE,
        &response,
        0xe28a_8233,
        &enc,
    );
    assert_eq!(exported, Ok(RANDOM_SESSION_KEY));
    // The user name is case-insensitive, the password is not.
    assert!(
        ntlmv2_session_key(&nt, "user", "Domain", &SERVER_CHALLENGE, &response, 0, &[]).is_ok()
    );
    let wrong = nt_hash("password");
    assert_eq!(
        ntlmv2_session_key(
            &wrong,
            "User",
            "Domain",
            &SERVER_CHALLENGE,
            &response,
            0,
            &[]
        ),
        Err(NtlmError::WrongPassword)
    );
}

#[test]
fn ms_nlmp_4_2_2_ntlmv1() {
    let nt = nt_hash("Password");
    let nt_response = hex("67c43011f30298a2ad35ece64f16331c44bdbed927841f94");
    let lm_response = hex("98def7b87f88aa5dafe2df779688a172def11c7d5ccdef13");
    // §4.2.2.1.3: SessionBaseKey = KeyExchangeKey (no LM_KEY, no NON_NT_SESSION_KEY).
    let key = ntlmv1_session_key(&nt, &SERVER_CHALLENGE, &lm_response, &nt_response, 0, &[]);
    assert_eq!(key, Ok(hexa("d87262b0cde4b1cb7499becccdf10784")));
    // §4.2.2.2.3: EncryptedSessionKey 518822b1... = RC4(KeyExchangeKey, 55×16).
    let enc = hex("518822b1b3f350c8958682ecbb3e3cb7");
    let key = ntlmv1_session_key(
        &nt,
        &SERVER_CHALLENGE,
        &lm_response,
        &nt_response,
        flags::KEY_EXCH,
        &enc,
    );
    assert_eq!(key, Ok(RANDOM_SESSION_KEY));
    // LM_KEY / NON_NT_SESSION_KEY need the LM hash.
    for f in [flags::LM_KEY, flags::NON_NT_SESSION_KEY] {
        assert_eq!(
            ntlmv1_session_key(&nt, &SERVER_CHALLENGE, &lm_response, &nt_response, f, &[]),
            Err(NtlmError::Malformed)
        );
    }
}

#[test]
fn ms_nlmp_4_2_3_ntlmv1_extended_session_security() {
    let nt = nt_hash("Password");
    let mut lm_response = vec![0xaa; 8];
    lm_response.extend_from_slice(&[0; 16]);
    let nt_response = hex("7537f803ae367128ca458204bde7caf81e97ed2683267232");
    // §4.2.3.1.3: KeyExchangeKey = HMAC_MD5(SessionBaseKey, ServerChallenge || LM[..8]).
    let key = ntlmv1_session_key(
        &nt,
        &SERVER_CHALLENGE,
        &lm_response,
        &nt_response,
        flags::EXTENDED_SESSIONSECURITY,
        &[],
    );
    assert_eq!(key, Ok(hexa("eb93429a8bd952f8b89c55b87f475edc")));
    // Without ESS the same response is checked against the bare challenge and fails.
    assert_eq!(
        ntlmv1_session_key(&nt, &SERVER_CHALLENGE, &lm_response, &nt_response, 0, &[]),
        Err(NtlmError::WrongPassword)
    );
    // ESS needs the client challenge from the LM response.
    assert_eq!(
        ntlmv1_session_key(
            &nt,
            &SERVER_CHALLENGE,
            &[0xaa; 7],
            &nt_response,
            flags::EXTENDED_SESSIONSECURITY,
            &[]
        ),
        Err(NtlmError::Malformed)
    );
}

/// `captures/bob-nonascii.pcap` frames 9 (CHALLENGE) and 10 (AUTHENTICATE): user "bob",
/// domain "SMBSCOPE", password "Bob-Pässwörd!9" (non-ASCII, `bob-nonascii.credentials`),
/// NTLMv2 with KEY_EXCH; the key is `bob-nonascii.keys`' Session Key.
#[test]
fn capture_bob_nonascii_ntlmv2() {
    let nt_response = hex(concat!(
        "8cea92c074774c055a9dbda9ff2fdcc70101000000000000ae017db4927add0164d6a80a3b15b0a1",
        "0000000002001000530043004f005000450053005200560001001000530043004f00500045005300",
        "52005600040000000300040076006d0007000800ae017db4927add01060004000200000008003000",
        "30000000000000000000000000000000976318fd962ec6c85736f986165cbd644a967ceb8b2f60c1",
        "b78f657b628f13ec0a0010000000000000000000000000000000000009001c006300690066007300",
        "2f003100320037002e0030002e0030002e00310000000000",
    ));
    let challenge = hexa("e77a0fe6641f5780");
    let enc = hex("fdb4f47a994235ae5c0032ebabf84a9e");
    let nt = nt_hash("Bob-Pässwörd!9");
    let key = ntlmv2_session_key(
        &nt,
        "bob",
        "SMBSCOPE",
        &challenge,
        &nt_response,
        0x6208_8215,
        &enc,
    );
    assert_eq!(key, Ok(hexa("ec292550340aba12bd5831b33555e2a2")));
    // The same password without its accents is wrong.
    let ascii = nt_hash("Bob-Passwoerd!9");
    let key = ntlmv2_session_key(
        &ascii,
        "bob",
        "SMBSCOPE",
        &challenge,
        &nt_response,
        0x6208_8215,
        &enc,
    );
    assert_eq!(key, Err(NtlmError::WrongPassword));
}

/// `captures/ntlmv1.pcap` frames 9 and 10: NTLMv1 without ESS (flags 0x62008215, KEY_EXCH),
/// alice / `Alice-Passw0rd!`; the key is `ntlmv1.keys`' Session Key.
#[test]
fn capture_ntlmv1() {
    let response = hex("add29abfb49bb4c7f70836769f235e5ead712f30530f300b");
    let challenge = hexa("8a0b175f24170565");
    let enc = hex("18d5b9115084ad4c9e54d810fc061845");
    let nt = nt_hash("Alice-Passw0rd!");
    let key = ntlmv1_session_key(&nt, &challenge, &response, &response, 0x6200_8215, &enc);
    assert_eq!(key, Ok(hexa("53104ae354d5d0f394a0c26a7a3bf74f")));
    let wrong = nt_hash("Alice-Passw0rd?");
    let key = ntlmv1_session_key(&wrong, &challenge, &response, &response, 0x6200_8215, &enc);
    assert_eq!(key, Err(NtlmError::WrongPassword));
}

/// `captures/ntlmv1-ess.pcap` frames 9 and 10: NTLMv1 with ESS (flags 0x62088215, KEY_EXCH);
/// the key is `ntlmv1-ess.keys`' Session Key.
#[test]
fn capture_ntlmv1_ess() {
    let nt_response = hex("7f8affb56c89d149fa967f8acb00fb0e598525735b8e1a93");
    let lm_response = hex("4bebf5cfc2bb7af100000000000000000000000000000000");
    let challenge = hexa("36c209f4fd6df371");
    let enc = hex("ab5408a0871fd09d53c7224c3b956551");
    let nt = nt_hash("Alice-Passw0rd!");
    let key = ntlmv1_session_key(
        &nt,
        &challenge,
        &lm_response,
        &nt_response,
        0x6208_8215,
        &enc,
    );
    assert_eq!(key, Ok(hexa("a47682294ff32522825b0d43570c1f18")));
    let wrong = nt_hash("alice-passw0rd!");
    let key = ntlmv1_session_key(
        &wrong,
        &challenge,
        &lm_response,
        &nt_response,
        0x6208_8215,
        &enc,
    );
    assert_eq!(key, Err(NtlmError::WrongPassword));
}

/// A response computed with an empty domain is accepted when the AUTHENTICATE names one.
#[test]
fn empty_domain_is_tried() {
    let nt = nt_hash("Password");
    let mut response = spec_v2_response();
    let key = ntowf_v2(&nt, "User", "");
    let mut mac = hmac_md5(&key);
    mac.update(&SERVER_CHALLENGE);
    mac.update(&response[16..]);
    let proof = mac.finalize().into_bytes();
    response[..16].copy_from_slice(&proof);
    let got = ntlmv2_session_key(&nt, "User", "Domain", &SERVER_CHALLENGE, &response, 0, &[]);
    let mut mac = hmac_md5(&key);
    mac.update(&proof);
    let base: [u8; 16] = mac.finalize().into_bytes().into();
    assert_eq!(got, Ok(base));
}

#[test]
fn malformed_responses() {
    let nt = nt_hash("Password");
    for len in [0, 16, 24, 43] {
        assert_eq!(
            ntlmv2_session_key(&nt, "u", "d", &SERVER_CHALLENGE, &vec![0; len], 0, &[]),
            Err(NtlmError::Malformed)
        );
    }
    for len in [0, 16, 23, 25, 44] {
        assert_eq!(
            ntlmv1_session_key(&nt, &SERVER_CHALLENGE, &[0; 24], &vec![0; len], 0, &[]),
            Err(NtlmError::Malformed)
        );
    }
    // KEY_EXCH with a key of the wrong length falls back to the KeyExchangeKey.
    let response = spec_v2_response();
    let key = ntlmv2_session_key(
        &nt,
        "User",
        "Domain",
        &SERVER_CHALLENGE,
        &response,
        flags::KEY_EXCH,
        &[1; 15],
    );
    assert_eq!(key, Ok(hexa("8de40ccadbc14a82f15cb0ad0de95ca3")));
    assert!(!NtlmError::WrongPassword.to_string().is_empty());
}

#[test]
fn user_names_uppercase_one_to_one() {
    let nt = nt_hash("x");
    assert_eq!(ntowf_v2(&nt, "bob", "D"), ntowf_v2(&nt, "BOB", "D"));
    assert_eq!(ntowf_v2(&nt, "zoë", "D"), ntowf_v2(&nt, "ZOË", "D"));
    // ß has no one-character uppercase: it stays ß, as in Windows' upcase table.
    assert_eq!(ntowf_v2(&nt, "straße", "D"), ntowf_v2(&nt, "STRAßE", "D"));
    assert_ne!(ntowf_v2(&nt, "straße", "D"), ntowf_v2(&nt, "STRASSE", "D"));
    // The domain keeps its case.
    assert_ne!(ntowf_v2(&nt, "bob", "d"), ntowf_v2(&nt, "bob", "D"));
    // Characters outside the BMP are two UTF-16 units.
    assert_ne!(nt_hash("😀"), nt_hash(""));
}
