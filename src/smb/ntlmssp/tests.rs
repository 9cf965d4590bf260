use super::*;
use crate::smb::der::test_util::{all_prefixes_fail, garbage, hex};

/// zeek/raw_ntlm_in_smb.pcap frame 19: raw NEGOTIATE in SMB1 SESSION_SETUP (Mac OS X).
const RAW_NEGOTIATE: &str =
    "4e544c4d535350000100000005028862000000000000000000000000000000000601b01d0f000000";
/// Same capture, frame 20: CHALLENGE from TEST-F7DFBC3FE9 (Windows 5.1).
const RAW_CHALLENGE: &str = concat!(
    "4e544c4d53535000020000001e001e003800000005028a62ccc0bad0f47e17f000000000000000009400",
    "9400560000000501280a0000000f54004500530054002d00460037004400460042004300330046004500",
    "390002001e0054004500530054002d00460037004400460042004300330046004500390001001e005400",
    "4500530054002d00460037004400460042004300330046004500390004001e0074006500730074002d00",
    "660037006400660062006300330066006500390003001e0074006500730074002d006600370064006600",
    "620063003300660065003900060004000100000000000000",
);
/// Same capture, frame 22: NTLMv2 AUTHENTICATE TEST-F7DFBC3FE9\test from BABYBOOK, with
/// VERSION, MIC and MsvAvTargetName "cifs/192.168.56.101".
pub(crate) const RAW_AUTH_V2: &str = concat!(
    "4e544c4d5353500003000000180018008e00000002010201a60000001e001e0058000000080008007600",
    "0000100010007e00000010001000a8010000050288620601b01d0f00000067395ddc5150115281dd3d29",
    "b605873554004500530054002d0046003700440046004200430033004600450039007400650073007400",
    "420041004200590042004f004f004b00000000000000000000000000000000000000000000000000020a",
    "2c94cbf8d66168d1b93068775845010100000000000080a93ad3d88fd1013f2198b2fdb491c700000000",
    "01001e0054004500530054002d00460037004400460042004300330046004500390002001e0054004500",
    "530054002d00460037004400460042004300330046004500390003001e0074006500730074002d006600",
    "37006400660062006300330066006500390004001e0074006500730074002d0066003700640066006200",
    "6300330066006500390006000400030000000900260063006900660073002f003100390032002e003100",
    "360038002e00350036002e003100300031000a0010000000000000000000000000000000000000000000",
    "00000000eb729686fcaacfadb13418fa494760de",
);
/// zeek/dce-rpc_mapi.pcap frame 417 (DCE/RPC AUTH3): NTLMv1 with ESS, CNAMIS\ALeonard
/// from ALEONARD-XP; the token is the tail of the TCP payload.
const DCERPC_AUTH_V1_ESS: &str = concat!(
    "0500100310000000be00a20002000000d016d0160a02000000860a004e544c4d53535000030000001800",
    "180072000000180018008a0000000c000c0040000000100010004c000000160016005c00000000000000",
    "a20000000582882043004e0041004d004900530041004c0065006f006e0061007200640041004c004500",
    "4f004e004100520044002d0058005000d9e60e287e49e9cc000000000000000000000000000000002d19",
    "e10529d89b98bae0eeb60768a7fdf2798ee01a3284a4",
);
/// suricata-verify/dcerpc_zerologon__input.pcap frame 639: SMB2 SESSION_SETUP blob
/// (NegTokenResp) with an anonymous AUTHENTICATE: empty user, domain and NT response, LM Z(1).
pub(crate) const ZEROLOGON_ANON_BLOB: &str = concat!(
    "a1573055a25304514e544c4d5353500003000000010001004000000000000000410000000000000040",
    "000000000000004000000000000000400000001000100041000000358288e000bd2cb0249b472d62bd63",
    "2b553c07e55c",
);

#[test]
fn negotiate_from_capture() {
    let tok = hex(RAW_NEGOTIATE);
    let Message::Negotiate(n) = parse(&tok).unwrap() else {
        panic!("not a NEGOTIATE")
    };
    assert_eq!(n.flags, 0x6288_0205);
    assert!(n.domain.is_empty() && n.workstation.is_empty());
    assert_eq!(version_string(&n.version.unwrap()), "6.1.7600/0");
    // Shorter prefixes down to the 16-byte minimum are legitimately valid.
    for len in 0..tok.len() {
        match parse(&tok[..len]) {
            Ok(Message::Negotiate(m)) => assert!(len >= 16 && m.flags == n.flags),
            Ok(_) => panic!("wrong type"),
            Err(_) => assert!(len < 16, "prefix {len}"),
        }
    }
}

#[test]
fn challenge_from_capture() {
    let tok = hex(RAW_CHALLENGE);
    let Message::Challenge(c) = parse(&tok).unwrap() else {
        panic!("not a CHALLENGE")
    };
    assert_eq!(c.flags, 0x628a_0205);
    assert_eq!(c.server_challenge, *b"\xcc\xc0\xba\xd0\xf4\x7e\x17\xf0");
    assert_eq!(c.target_name, "TEST-F7DFBC3FE9");
    assert_eq!(c.target_info.len(), 148);
    assert_eq!(c.nb_computer.as_deref(), Some("TEST-F7DFBC3FE9"));
    assert_eq!(c.nb_domain.as_deref(), Some("TEST-F7DFBC3FE9"));
    assert_eq!(c.dns_computer.as_deref(), Some("test-f7dfbc3fe9"));
    assert_eq!(c.dns_domain.as_deref(), Some("test-f7dfbc3fe9"));
    assert_eq!(c.dns_tree, None);
    assert_eq!(c.timestamp, None);
    assert_eq!(version_string(&c.version.unwrap()), "5.1.2600/15");
    all_prefixes_fail(&tok, parse);
    let pairs: Vec<_> = av_pairs(c.target_info).map(|p| p.unwrap().0).collect();
    assert_eq!(pairs.len(), 5);
    assert_eq!(pairs[4], AvId::FLAGS);
    // An AV pair cut short: one error, then the end.
    let mut it = av_pairs(&c.target_info[..10]);
    assert!(it.next().unwrap().is_err());
    assert!(it.next().is_none());
}

#[test]
fn ntlmv2_authenticate_from_capture() {
    let tok = hex(RAW_AUTH_V2);
    let Message::Authenticate(a) = parse(&tok).unwrap() else {
        panic!("not an AUTHENTICATE")
    };
    assert_eq!(a.flags, 0x6288_0205);
    assert_eq!(
        (a.domain.as_str(), a.user.as_str()),
        ("TEST-F7DFBC3FE9", "test")
    );
    assert_eq!(a.workstation, "BABYBOOK");
    assert_eq!(a.lm_response, [0u8; 24]);
    assert_eq!(a.nt_response.len(), 258);
    assert_eq!(
        a.encrypted_random_session_key,
        hex("eb729686fcaacfadb13418fa494760de")
    );
    assert_eq!(a.mic.unwrap()[..], hex("67395ddc5150115281dd3d29b6058735"));
    assert_eq!(version_string(&a.version.unwrap()), "6.1.7600/0");
    assert_eq!(a.raw, &tok[..]);
    assert_eq!(a.kind(), NtlmKind::NtlmV2);
    let v2 = a.ntlmv2().unwrap();
    assert_eq!(v2.nt_proof_str[..], hex("020a2c94cbf8d66168d1b93068775845"));
    // Apr 6, 2016 07:49:19 UTC.
    assert_eq!(v2.timestamp, 0x01d1_8fd8_d33a_a980);
    assert_eq!(v2.client_challenge[..], hex("3f2198b2fdb491c7"));
    assert_eq!(v2.target_name.as_deref(), Some("cifs/192.168.56.101"));
    assert_eq!(
        v2.av_flags,
        Some(av_flags::CONSTRAINED | av_flags::MIC_PRESENT)
    );
    assert_eq!(v2.channel_bindings, Some([0; 16]));
    all_prefixes_fail(&tok, parse);
}

#[test]
fn ntlmv1_ess_from_capture() {
    let pdu = hex(DCERPC_AUTH_V1_ESS);
    let tok = find(&pdu).unwrap();
    let Message::Authenticate(a) = parse(tok).unwrap() else {
        panic!("not an AUTHENTICATE")
    };
    assert_eq!(a.flags, 0x2088_8205);
    assert_eq!(a.domain, "CNAMIS");
    assert_eq!(a.user, "ALeonard");
    assert_eq!(a.workstation, "ALEONARD-XP");
    assert_eq!(a.nt_response.len(), 24);
    assert_eq!(a.lm_response[..8], hex("d9e60e287e49e9cc"));
    assert!(a.encrypted_random_session_key.is_empty());
    assert_eq!((a.version, a.mic), (None, None));
    assert_eq!(a.kind(), NtlmKind::NtlmV1Ess);
    assert!(a.ntlmv2().is_none());
    let mut no_ess = a.clone();
    no_ess.flags &= !flags::EXTENDED_SESSIONSECURITY;
    assert_eq!(no_ess.kind(), NtlmKind::NtlmV1);
    all_prefixes_fail(tok, parse);
}

#[test]
fn anonymous_from_capture() {
    let blob = hex(ZEROLOGON_ANON_BLOB);
    let Message::Authenticate(a) = parse(find(&blob).unwrap()).unwrap() else {
        panic!("not an AUTHENTICATE")
    };
    assert_eq!(a.flags, 0xe088_8235);
    assert!(a.user.is_empty() && a.domain.is_empty() && a.nt_response.is_empty());
    assert_eq!(a.lm_response, [0]);
    assert_eq!(a.encrypted_random_session_key.len(), 16);
    assert_eq!((a.version, a.mic), (None, None));
    assert_eq!(a.kind(), NtlmKind::Anonymous);
    let mut short_nt = a.clone();
    short_nt.nt_response = &[1, 2, 3];
    assert_eq!(short_nt.kind(), NtlmKind::Unknown);
}

#[test]
fn rejects_garbage() {
    assert!(parse(b"NTLMSSP\0\x04\0\0\0").is_err());
    assert!(parse(b"NTLMSSX\0\x01\0\0\0").is_err());
    assert_eq!(find(b"no token here"), None);
    // A buffer descriptor pointing far away.
    let mut tok = hex(RAW_AUTH_V2);
    tok[field::AUTH_USER + 4..field::AUTH_USER + 8].copy_from_slice(&[0xFF; 4]);
    assert!(parse(&tok).is_err());
    for seed in 0..200 {
        let mut g = SIGNATURE.to_vec();
        g.extend_from_slice(&[(seed % 4) as u8, 0, 0, 0]);
        g.extend(garbage(seed, (seed as usize * 7) % 300));
        let _ = parse(&g);
        let _ = ntlmv2_client_info(&g);
        let _ = av_pairs(&g).count();
    }
    assert_eq!(utf16le(&[0x41, 0, 0x00, 0xD8, 0x42]), "A\u{FFFD}");
}
