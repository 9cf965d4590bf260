use super::*;
use crate::smb::der::test_util::{all_prefixes_fail, garbage, hex};
use crate::smb::ntlmssp::NtlmKind;
use crate::smb::spnego;

/// ndpi/smbv1.pcap frame 1: NEGOTIATE request, six dialects up to NT LM 0.12.
const NDPI_NEG_REQ: &str = concat!(
    "00000085ff534d4272000000001853c00000000000000000000000000000fffe00004000006200025043204e",
    "4554574f524b2050524f4752414d20312e3000024c414e4d414e312e30000257696e646f777320666f722057",
    "6f726b67726f75707320332e316100024c4d312e325830303200024c414e4d414e322e3100024e54204c4d20",
    "302e313200",
);
/// ndpi/smbv1.pcap frame 2: NT LM 0.12 NEGOTIATE response without extended security
/// (challenge, domain WORKGROUP, server JOHN-PC).
const NDPI_NEG_RESP: &str = concat!(
    "00000071ff534d4272000000009853c00000000000000000000000000000fffe000040001105000332000100",
    "041100000000010000000000fce3010040f49cd344b5d201f000082c0008ab1c2fe1ece6a957004f0052004b",
    "00470052004f005500500000004a004f0048004e002d00500043000000",
);
/// ndpi/smbv1.pcap frame 3: SESSION_SETUP_ANDX request, WordCount 13, anonymous.
const NDPI_SETUP_REQ: &str = concat!(
    "00000088ff534d4273000000001807c00000000000000000000000000000fffe000040000dff00880004110a",
    "000000000000000100000000000000d40000004b000000000000570069006e0064006f007700730020003200",
    "300030003000200032003100390035000000570069006e0064006f0077007300200032003000300030002000",
    "35002e0030000000",
);
/// ndpi/smbv1.pcap frame 4: SESSION_SETUP_ANDX response, WordCount 3, Windows 7.
const NDPI_SETUP_RESP: &str = concat!(
    "000000b9ff534d4273000000009807c00000000000000000000000000000fffe0008400003ff00b900000090",
    "0000570069006e0064006f007700730020003700200055006c00740069006d00610074006500200037003600",
    "300031002000530065007200760069006300650020005000610063006b00200031000000570069006e006400",
    "6f007700730020003700200055006c00740069006d00610074006500200036002e003100000057004f005200",
    "4b00470052004f005500500000",
);
/// ndpi/smbv1.pcap frame 5: TREE_CONNECT_ANDX request for `\\10.128.0.243\IPC$`.
const NDPI_TREE_REQ: &str = concat!(
    "0000005aff534d4275000000001807c00000000000000000000000000000fffe0008400004ff005a00080001",
    "002f00005c005c00310030002e003100320038002e0030002e003200340033005c0049005000430024000000",
    "3f3f3f3f3f00",
);
/// ndpi/smbv1.pcap frame 6: TREE_CONNECT_ANDX response, WordCount 7, service IPC.
const NDPI_TREE_RESP: &str = concat!(
    "00000038ff534d4275000000009807c00000000000000000000000000008fffe0008400007ff0038000100ff",
    "ff1f00ffff1f00070049504300000000",
);
/// zeek/cifs_negotiate_lanman.pcap frame 6: LANMAN2.1 NEGOTIATE response (WordCount 13).
const LANMAN_NEG_RESP: &str = concat!(
    "0000004fff534d4272000000009853c800000000000000000000000000003412000001000d03000300041120",
    "00010000000000000033283a5b4a010800000012001122334455667788574f524b47524f555000",
);
/// zeek/raw_ntlm_in_smb.pcap frame 17: NT LM 0.12 response, extended security, GUID only.
const RAW_NEG_RESP: &str = concat!(
    "00000055ff534d4272000000008801c8000000000000000000000000ffff0100ffff0000110000030a000100",
    "041100000000010000000000fde3008090acf3d0d88fd101a401001000d3c4c4c51f131d4c8337ec5e5af4a8",
    "60",
);
/// zeek/raw_ntlm_in_smb.pcap frame 19: SESSION_SETUP_ANDX request, raw NTLMSSP NEGOTIATE.
const RAW_SETUP_REQ: &str = concat!(
    "0000009aff534d4273000000000801c8000000000000000000000000ffff0100000001000cff00000004110a",
    "000700000000002800000000005cc000805f004e544c4d535350000100000005028862000000000000000000",
    "000000000000000601b01d0f000000004d006100630020004f005300200058002000310030002e0031003000",
    "000053004d00420046005300200033002e0030002e0030000000",
);
/// zeek/raw_ntlm_in_smb.pcap frame 23: final SESSION_SETUP_ANDX response, Action GUEST.
const RAW_SETUP_RESP: &str = concat!(
    "00000075ff534d4273000000008801c8000000000000000000000000ffff01000008020004ff007500010000",
    "004a0000570069006e0064006f0077007300200035002e0031000000570069006e0064006f00770073002000",
    "320030003000300020004c0041004e0020004d0061006e00610067006500720000",
);
/// zeek/raw_ntlm_in_smb.pcap frame 28: NT_CREATE_ANDX request for `\srvsvc` (padded Unicode).
const RAW_CREATE_REQ: &str = concat!(
    "00000064ff534d42a2000000000801c8000000000000000000000000000801000008040018ff000000001000",
    "1000000000000000000000c00000000000000000800000000300000001000000000000000200000000110000",
    "5c007300720076007300760063000000",
);
/// suricata-verify/smb1-02__smb1_osx.pcap frame 14: extended-security NEGOTIATE response
/// from Samba with a SPNEGO blob.
const OSX_NEG_RESP: &str = concat!(
    "0000009fff534d4272000000008801c8000000000000000000000000ffff0100ffff00001100000332000100",
    "044100000000010050780000fdf30080302f1884cbbad301c4ff005a00747334313200000000000000000000",
    "00604806062b0601050502a03e303ca00e300c060a2b06010401823702020aa32a3028a0261b246e6f745f64",
    "6566696e65645f696e5f5246433431373840706c656173655f69676e6f7265",
);
/// suricata-verify/smb1-02__smb1_osx.pcap frame 16: SESSION_SETUP_ANDX request, WordCount
/// 12, SPNEGO NTLMSSP NEGOTIATE, padded Unicode native OS.
const OSX_SETUP_REQ: &str = concat!(
    "000000bcff534d4273000000000801c8000000000000000000000000ffff0100000001000cff000000044132",
    "000e00507800004a00000000005cc000808100604806062b0601050502a03e303ca00e300c060a2b06010401",
    "823702020aa22a04284e544c4d5353500001000000050a0002000000000000000000000000000000000601b0",
    "1d0f000000004d006100630020004f005300200058002000310030002e0031003000000053004d0042004600",
    "5300200033002e0030002e0030000000",
);
/// zeek/smb_gssapi.pcap frame 5: NT LM 0.12 response, signatures enabled, Kerberos hint.
const GSSAPI_NEG_RESP: &str = concat!(
    "0000009eff534d4272000000009801800000000000000000000000000000fffe000000001105000732000100",
    "048100000000010074dbf319fdd300809481005bc61dc70120fe0059001500000093847e2aae8ca04d2d49ce",
    "42604706062b0601050502a03d303ba019301706092a864882f712010202060a2b06010401823702020aa31e",
    "301ca01a1b18656469736b3033612440484f5553494e472e484b53415247",
);
/// zeek/smb_gssapi.pcap frame 8: signed SESSION_SETUP_ANDX response with an AP-REP blob.
const GSSAPI_SETUP_RESP: &str = concat!(
    "00000190ff534d42730000000098078800001c4caacfd028705100000000fffe0008803804ff00000000000b",
    "016501a182010730820103a0030a0100a27d047b607906092a864886f71201020202006f6a3068a003020105",
    "a10302010fa25c305aa003020117a2530451613c8db882a1c4dae0ca4e6f530c0adb6501a67eb1ac0cb93aab",
    "9aa364daa30cbf20fdbad635334d2dbac01a48709e1170ef388d78505e36e8edd536af2f4a757a1fe1163569",
    "10cd188efce28303a90d84a37d047b607906092a864886f71201020202006f6a3068a003020105a10302010f",
    "a25c305aa003020117a2530451613c8db882a1c4dae0ca4e6f530c0adb6501a67eb1ac0cb93aab9aa364daa3",
    "0cbf20fdbad635334d2dbac01a48709e1170ef388d78505e36e8edd536af2f4a757a1fe116356910cd188efc",
    "e28303a90d84570069006e0064006f0077007300200035002e0030000000570069006e0064006f0077007300",
    "2000320030003000300020004c0041004e0020004d0061006e006100670065007200000048004f0055005300",
    "49004e0047000000",
);
/// suricata-verify/smb-eicar-andx__smbandx.pcap frame 22: LOCKING_ANDX -> WRITE_ANDX -> CLOSE.
const ANDX_REQ: &str = concat!(
    "000000a0ff534d4224000000001843c80000000000000000000000000308090403080600082f003300024000",
    "00000000000000000000000e040053000240000000000000000000000000000044005c000000000045000003",
    "0240ffffffff000058354f2150254041505b345c505a58353428505e2937434329377d2445494341522d5354",
    "414e444152442d414e544956495255532d544553542d46494c452124482b482a",
);
/// suricata-verify/smb-eicar-andx__smbandx.pcap frame 24: the chained response.
const ANDX_RESP: &str = concat!(
    "00000039ff534d4224000000009843c80000000000000000000000000308090403080600022f002700000006",
    "040036004400ffff000000000000000000",
);

/// Strips the 4-byte NBSS header from a `tcp.payload` hex string.
fn msg(h: &str) -> Vec<u8> {
    hex(h)[4..].to_vec()
}

/// Header + first block parsed by `f`, and every truncated prefix rejected.
fn check<'a, T>(m: &'a [u8], f: impl Fn(&Header<'a>, &AndxBlock<'a>) -> Result<T>) -> T {
    let run = |b: &'a [u8]| Header::parse(b).and_then(|h| f(&h, &h.first_block()));
    all_prefixes_fail(m, run);
    run(m).unwrap()
}

#[test]
fn header_fields() {
    let m = msg(GSSAPI_SETUP_RESP);
    let h = Header::parse(&m).unwrap();
    assert_eq!(h.command(), Command::SESSION_SETUP_ANDX);
    assert_eq!(h.command().to_string(), "SMB_COM_SESSION_SETUP_ANDX");
    assert_eq!((h.status(), h.flags(), h.flags2()), (0, 0x98, 0x8807));
    assert_eq!(h.dos_error(), Some((0, 0)));
    assert!(h.is_reply() && h.is_unicode() && h.is_signed());
    assert_eq!(
        h.signature(),
        &[0x1c, 0x4c, 0xaa, 0xcf, 0xd0, 0x28, 0x70, 0x51]
    );
    assert_eq!(
        (h.tid(), h.pid(), h.uid(), h.mid()),
        (0, 65279, 2048, 14464)
    );
    assert_eq!((h.words().len(), h.bytes().len()), (8, 357));
    assert_eq!(h.raw(), &m[..]);
    all_prefixes_fail(&m, Header::parse);

    // The "BSRSPYL " placeholder before signing starts is not a signature.
    let m = msg(spnego::tests::SMB_GSSAPI_F7);
    let h = Header::parse(&m).unwrap();
    assert_eq!(h.signature(), &SIGNATURE_PLACEHOLDER);
    assert!(h.flags2() & flags2::SECURITY_SIGNATURE != 0 && !h.is_signed());
    // Unsigned, zero signature.
    let m = msg(NDPI_TREE_REQ);
    let h = Header::parse(&m).unwrap();
    assert!(!h.is_signed() && !h.is_reply());

    assert!(
        Header::parse(b"\xfeSMB@\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0")
            .is_err()
    );
    assert_eq!(Command(0x99).to_string(), "0x99");

    // suricata-verify/smb1-02__smb1_osx.pcap frame 22: LOGOFF_ANDX response with the DOS
    // error ERRSRV/ERRbaduid and WordCount 0.
    let m = msg("00000023ff534d427402005b00880388000000000000000000000000ffff0100e66b0200000000");
    let h = Header::parse(&m).unwrap();
    assert_eq!(
        (h.status(), h.dos_error()),
        (0x005b_0002, Some((0x02, 0x005b)))
    );
    assert!(h.words().is_empty() && h.bytes().is_empty());
    assert!(SessionSetupResponse::parse(&h, &h.first_block()).is_err());
    // NTSTATUS: the STATUS_MORE_PROCESSING_REQUIRED response of frame 18.
    let m = msg(concat!(
        "000000f6ff534d4273160000c08803c8000000000000000000000000ffff0100e66b010004ff00000000",
        "00a100cb00"
    ));
    assert!(Header::parse(&m).is_err()); // cut short: ByteCount 0xcb runs past the end
    let mut m = m;
    m.resize(m.len() + 0xcb, 0);
    let h = Header::parse(&m).unwrap();
    assert_eq!((h.status(), h.dos_error()), (0xc000_0016, None));
}

#[test]
fn negotiate_request() {
    let m = msg(NDPI_NEG_REQ);
    let req = check(&m, NegotiateRequest::parse);
    assert_eq!(
        req.dialects,
        [
            "PC NETWORK PROGRAM 1.0",
            "LANMAN1.0",
            "Windows for Workgroups 3.1a",
            "LM1.2X002",
            "LANMAN2.1",
            "NT LM 0.12"
        ]
    );
}

#[test]
fn negotiate_response_nt_lm_012_challenge() {
    let m = msg(NDPI_NEG_RESP);
    let r = check(&m, NegotiateResponse::parse);
    assert_eq!(
        (r.word_count, r.dialect_index, r.security_mode),
        (17, 5, 0x03)
    );
    assert_eq!(r.capabilities, 0x0001_e3fc);
    assert!(!r.extended_security());
    assert_eq!(
        (r.max_mpx_count, r.max_buffer_size, r.session_key),
        (50, 4356, 0)
    );
    assert_eq!(
        r.challenge,
        Some([0x08, 0xab, 0x1c, 0x2f, 0xe1, 0xec, 0xe6, 0xa9])
    );
    assert_eq!(r.domain_name.as_deref(), Some("WORKGROUP"));
    assert_eq!(r.server_name.as_deref(), Some("JOHN-PC"));
    assert!(r.server_guid.is_none() && r.security_blob.is_empty());
    assert!(r.system_time.is_some());
}

#[test]
fn negotiate_response_extended() {
    let m = msg(GSSAPI_NEG_RESP);
    let r = check(&m, NegotiateResponse::parse);
    assert_eq!((r.dialect_index, r.security_mode), (5, 0x07));
    assert!(r.security_mode & security_mode::SIGNATURES_ENABLED != 0);
    assert!(r.security_mode & security_mode::SIGNATURES_REQUIRED == 0);
    assert_eq!((r.capabilities, r.session_key), (0x8000_d3fd, 0x19f3_db74));
    assert!(r.extended_security() && r.challenge.is_none());
    assert_eq!(r.server_guid.unwrap()[..4], [0x15, 0, 0, 0]);
    assert_eq!(r.security_blob, hex(spnego::tests::SMB_GSSAPI_F5_BLOB));

    let m = msg(RAW_NEG_RESP);
    let r = check(&m, NegotiateResponse::parse);
    assert!(r.extended_security() && r.security_blob.is_empty());
    assert_eq!(r.security_mode, 0x03);
    assert!(r.server_guid.is_some());

    let m = msg(OSX_NEG_RESP);
    let r = check(&m, NegotiateResponse::parse);
    assert!(matches!(
        spnego::parse(r.security_blob),
        Ok(spnego::GssToken::Init { .. })
    ));
}

#[test]
fn negotiate_response_lanman_and_none() {
    let m = msg(LANMAN_NEG_RESP);
    let r = check(&m, NegotiateResponse::parse);
    assert_eq!(
        (r.word_count, r.dialect_index, r.security_mode),
        (13, 3, 0x03)
    );
    assert_eq!((r.max_buffer_size, r.max_mpx_count), (4356, 32));
    assert_eq!(
        r.challenge,
        Some([0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88])
    );
    assert_eq!(r.domain_name.as_deref(), Some("WORKGROUP"));
    assert_eq!(r.capabilities, 0);

    // "No dialect": WordCount 1, index 0xFFFF (built from the LANMAN header).
    let mut none = m[..HEADER_LEN].to_vec();
    none.extend_from_slice(&[1, 0xFF, 0xFF, 0, 0]);
    let r = check(&none, NegotiateResponse::parse);
    assert_eq!((r.word_count, r.dialect_index), (1, 0xFFFF));
    let mut bad = m[..HEADER_LEN].to_vec();
    bad.extend_from_slice(&[2, 0xFF, 0xFF, 0, 0, 0, 0]);
    let h = Header::parse(&bad).unwrap();
    assert!(NegotiateResponse::parse(&h, &h.first_block()).is_err());
}

#[test]
fn session_setup_anonymous_wc13() {
    let m = msg(NDPI_SETUP_REQ);
    let r = check(&m, SessionSetupRequest::parse);
    assert_eq!(
        (r.word_count, r.max_buffer_size, r.max_mpx_count),
        (13, 4356, 10)
    );
    assert_eq!((r.capabilities, r.security_blob), (0xd4, None));
    assert_eq!((r.oem_password_len, r.unicode_password_len), (1, 0));
    assert_eq!((r.oem_password, r.unicode_password), (&[0u8][..], &[][..]));
    assert_eq!(
        (r.account.as_deref(), r.domain.as_deref()),
        (Some(""), Some(""))
    );
    assert_eq!(r.native_os.as_deref(), Some("Windows 2000 2195"));
    assert_eq!(r.native_lanman.as_deref(), Some("Windows 2000 5.0"));
    assert_eq!(r.ntlm_kind(), Some(NtlmKind::Anonymous));
    let with = |lm: &'static [u8], nt: &'static [u8]| SessionSetupRequest {
        account: Some("bob".into()),
        oem_password: lm,
        unicode_password: nt,
        ..r.clone()
    };
    assert_eq!(with(&[1; 24], &[2; 24]).ntlm_kind(), Some(NtlmKind::NtlmV1));
    let ess: &[u8] = &[
        1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    assert_eq!(with(ess, &[2; 24]).ntlm_kind(), Some(NtlmKind::NtlmV1Ess));
    assert_eq!(with(&[0; 24], &[2; 60]).ntlm_kind(), Some(NtlmKind::NtlmV2));
    assert_eq!(with(&[1; 24], &[]).ntlm_kind(), Some(NtlmKind::Unknown));
}

#[test]
fn session_setup_extended_wc12() {
    let m = msg(OSX_SETUP_REQ);
    let r = check(&m, SessionSetupRequest::parse);
    assert_eq!(
        (r.word_count, r.vc_number, r.session_key),
        (12, 0x0e, 0x7850)
    );
    assert_eq!(r.capabilities, 0x8000_c05c);
    assert_eq!(r.security_blob.map(<[u8]>::len), Some(0x4a));
    assert_eq!(r.native_os.as_deref(), Some("Mac OS X 10.10"));
    assert_eq!(r.native_lanman.as_deref(), Some("SMBFS 3.0.0"));
    assert_eq!((r.account.clone(), r.ntlm_kind()), (None, None));
    match spnego::parse(r.security_blob.unwrap()).unwrap() {
        spnego::GssToken::Init {
            mechs,
            mech_token: Some(t),
        } => {
            assert_eq!(mechs, [spnego::Mech::Ntlmssp]);
            assert!(matches!(
                spnego::inner(t),
                spnego::Inner::Ntlmssp(crate::smb::ntlmssp::Message::Negotiate(_))
            ));
        }
        other => panic!("unexpected {other:?}"),
    }

    let m = msg(RAW_SETUP_REQ);
    let r = check(&m, SessionSetupRequest::parse);
    let blob = r.security_blob.unwrap();
    assert!(matches!(
        spnego::parse(blob),
        Ok(spnego::GssToken::RawNtlmssp(_))
    ));

    let m = msg(spnego::tests::SMB_GSSAPI_F7);
    let r = check(&m, SessionSetupRequest::parse);
    assert_eq!(
        r.native_os.as_deref(),
        Some("Windows 2002 Service Pack 2 2600")
    );
    assert_eq!(r.native_lanman.as_deref(), Some("Windows 2002 5.1"));
}

#[test]
fn session_setup_responses() {
    let m = msg(NDPI_SETUP_RESP);
    let r = check(&m, SessionSetupResponse::parse);
    assert_eq!((r.action, r.security_blob, r.is_guest()), (0, None, false));
    assert_eq!(
        r.native_os.as_deref(),
        Some("Windows 7 Ultimate 7601 Service Pack 1")
    );
    assert_eq!(r.native_lanman.as_deref(), Some("Windows 7 Ultimate 6.1"));
    assert_eq!(r.primary_domain.as_deref(), Some("WORKGROUP"));

    let m = msg(RAW_SETUP_RESP);
    let r = check(&m, SessionSetupResponse::parse);
    assert!(r.is_guest());
    assert_eq!(r.security_blob, Some(&[][..]));
    assert_eq!(r.native_os.as_deref(), Some("Windows 5.1"));
    assert_eq!(r.native_lanman.as_deref(), Some("Windows 2000 LAN Manager"));

    let m = msg(GSSAPI_SETUP_RESP);
    let r = check(&m, SessionSetupResponse::parse);
    assert_eq!(
        r.security_blob.unwrap(),
        hex(spnego::tests::SMB_GSSAPI_F8_BLOB)
    );
    assert_eq!(r.native_os.as_deref(), Some("Windows 5.0"));
    assert_eq!(r.native_lanman.as_deref(), Some("Windows 2000 LAN Manager"));
    assert_eq!(r.primary_domain.as_deref(), Some("HOUSING"));
}

#[test]
fn tree_connect() {
    let m = msg(NDPI_TREE_REQ);
    let r = check(&m, TreeConnectRequest::parse);
    assert_eq!(
        (r.path.as_str(), r.service.as_str()),
        (r"\\10.128.0.243\IPC$", "?????")
    );
    assert_eq!(
        (r.flags, r.password_len),
        (tree_connect_flags::EXTENDED_RESPONSE, 1)
    );

    let m = msg(NDPI_TREE_RESP);
    let r = check(&m, TreeConnectResponse::parse);
    assert_eq!(
        r.optional_support,
        Some(optional_support::SUPPORT_SEARCH_BITS)
    );
    assert_eq!(
        (r.service.as_str(), r.native_file_system.as_str()),
        ("IPC", "")
    );
    assert_eq!(
        (r.maximal_access, r.guest_maximal_access),
        (Some(0x1f_ffff), Some(0x1f_ffff))
    );
}

#[test]
fn nt_create() {
    let m = msg(RAW_CREATE_REQ);
    let r = check(&m, NtCreateRequest::parse);
    assert_eq!(r.name, r"\srvsvc");
    assert_eq!((r.desired_access, r.share_access), (0xc000_0000, 0x3));
    assert_eq!(
        (r.flags, r.ext_file_attributes, r.root_directory_fid),
        (0x10, 0x80, 0)
    );
    assert_eq!((r.create_disposition, r.create_options), (1, 0));
}

#[test]
fn andx_chains() {
    let m = msg(ANDX_REQ);
    let h = Header::parse(&m).unwrap();
    let chain: Vec<_> = andx_chain(&h).map(Result::unwrap).collect();
    let cmds: Vec<_> = chain.iter().map(|b| (b.command, b.offset)).collect();
    assert_eq!(
        cmds,
        [
            (Command::LOCKING_ANDX, 32),
            (Command::WRITE_ANDX, 51),
            (Command::CLOSE, 83)
        ]
    );
    assert_eq!((chain[1].word_count(), chain[1].bytes.len()), (14, 69));
    // The CLOSE block sits inside the WRITE data (suricata's AndX evasion test).
    assert_eq!(chain[2].words, [0x02, 0x40, 0xff, 0xff, 0xff, 0xff]);

    let resp = msg(ANDX_RESP);
    let h = Header::parse(&resp).unwrap();
    let cmds: Vec<_> = andx_chain(&h).map(|b| b.unwrap().command).collect();
    assert_eq!(
        cmds,
        [Command::LOCKING_ANDX, Command::WRITE_ANDX, Command::CLOSE]
    );

    // A single non-chained command, and a chained TREE_CONNECT parsed from its block.
    let tree = msg(NDPI_TREE_REQ);
    let h = Header::parse(&tree).unwrap();
    let blocks: Vec<_> = andx_chain(&h).collect::<Result<_>>().unwrap();
    assert_eq!(blocks, [h.first_block()]);
    assert!(TreeConnectRequest::parse(&h, &blocks[0]).is_ok());

    // Backward and looping offsets end with an error.
    let mut looped = m.clone();
    looped[HEADER_LEN + 1 + 2..HEADER_LEN + 1 + 4].copy_from_slice(&32u16.to_le_bytes());
    let h = Header::parse(&looped).unwrap();
    let r: Vec<_> = andx_chain(&h).collect();
    assert_eq!(r.len(), 2);
    assert!(r[0].is_ok() && r[1].is_err());
    // Offset past the end.
    let mut past = m.clone();
    past[HEADER_LEN + 1 + 2..HEADER_LEN + 1 + 4].copy_from_slice(&0xFFF0u16.to_le_bytes());
    let h = Header::parse(&past).unwrap();
    assert!(andx_chain(&h).nth(1).unwrap().is_err());
    // Truncated chains never panic.
    for len in 0..m.len() {
        if let Ok(h) = Header::parse(&m[..len]) {
            let _ = andx_chain(&h).count();
        }
    }
}

#[test]
fn garbage_never_panics() {
    let mut all = vec![];
    for v in [
        NDPI_SETUP_REQ,
        NDPI_TREE_RESP,
        OSX_SETUP_REQ,
        RAW_CREATE_REQ,
        ANDX_REQ,
    ] {
        all.push(msg(v));
    }
    for seed in 0..400u64 {
        let mut m = all[seed as usize % all.len()].clone();
        // Flip some bytes after the magic.
        for (i, g) in garbage(seed, 6).chunks(2).enumerate() {
            let at = 4 + (usize::from(g[0]) * 7 + i * 13) % (m.len() - 4);
            m[at] = g[1];
        }
        if let Ok(h) = Header::parse(&m) {
            for b in andx_chain(&h).take(40).flatten() {
                let _ = NegotiateRequest::parse(&h, &b);
                let _ = NegotiateResponse::parse(&h, &b);
                let _ = SessionSetupRequest::parse(&h, &b);
                let _ = SessionSetupResponse::parse(&h, &b);
                let _ = TreeConnectRequest::parse(&h, &b);
                let _ = TreeConnectResponse::parse(&h, &b);
                let _ = NtCreateRequest::parse(&h, &b);
            }
        }
        let mut g = SMB1_MAGIC.to_vec();
        g.extend(garbage(seed, seed as usize % 120));
        let _ = Header::parse(&g).map(|h| andx_chain(&h).count());
    }
}

/// captures/smb1-nt1.pcap frame 38: smbclient `mkdir newdir` over NT1 (Unicode).
#[test]
fn create_directory_request() {
    let m = hex(
        "ff534d4200000000001843c800000000000000000000000044a47e0a30da1000001100045c006e00\
         650077006400690072000000",
    );
    let h = Header::parse(&m).unwrap();
    assert_eq!(h.command(), Command::CREATE_DIRECTORY);
    let b = h.first_block();
    let req = CreateDirectoryRequest::parse(&h, &b).unwrap();
    assert_eq!(req.name, "\\newdir");
    for n in 0..m.len() {
        if let Ok(h) = Header::parse(&m[..n]) {
            let _ = CreateDirectoryRequest::parse(&h, &h.first_block());
        }
    }
}
