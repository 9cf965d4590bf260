use super::*;
use crate::smb::der::test_util::{all_prefixes_fail, garbage, hex};

/// zeek/smb_gssapi.pcap frame 7 (TCP-reassembled payload, NBSS header included): SMB1
/// SESSION_SETUP_ANDX request, WordCount 12, SPNEGO NegTokenInit with a Kerberos rc4-hmac
/// AP-REQ for cifs/EDISK03A.housing.hksarg@HOUSING.HKSARG.
pub(crate) const SMB_GSSAPI_F7: &str = concat!(
    "00000610ff534d4273000000001807c800004253525350594c2000000000fffe000080380cff001006048132",
    "000000000000006f0500000000d40000a0d5056082056b06062b0601050502a082055f3082055ba019301706",
    "092a864882f712010202060a2b06010401823702020aa282053c048205386082053406092a864886f7120102",
    "0201006e8205233082051fa003020105a10302010ea20703050020000000a3820447618204433082043fa003",
    "020105a1101b0e484f5553494e472e484b53415247a22a3028a003020102a121301f1b04636966731b174544",
    "49534b3033412e686f7573696e672e686b73617267a38203f8308203f4a003020117a28203eb048203e7ff4e",
    "7b1f822fcb0fa5e5bc6afe5ea7d409601522b2bf9917d9fcb9167dd98c640199401ff7bb6c2b566ec189067b",
    "3981b8c201bca247c8687204039c57ad02f517ddb9d1c74f25e9f2fb1e126d6b08c88e8d2b584f6f0a3bdcda",
    "0a7a309cc448a581d69ecec490332be217d8a48fa132aa8c64a4a45c08de2efaaf2d02b71fb6cccb4ab0aab7",
    "370b565df04eb30dd8c2654226367eca71359cc3f0e000c9c9cb46332954c1c80d2cbcdb66fe6c3c6bd8a1a0",
    "8ec8912fa7a4ca6fdaa81d4457a06fe891fa641f407f7a41c61e7aa45289146a48dfb7fa9af3f0f4ccdc90e9",
    "be34677a4ac206edfc847ee58783a74941f090a81832e9b93a200f9ef44fa6fcdbf42d00a8968a99f2ee6d5a",
    "c6cb1ff10cf5a27b3b0152bd5b8c60c6a444cbf50eff6ab79ba6fa00c320d9ae42557184a31e3e40c89a0092",
    "d344ba2d5e45c4d8bdf7b20d5a568d022ae2da9c73a9410a7cfe939e419577989b41a483af5e047e0adb9ce4",
    "31184ed8737a32330b156f7d738ef49a17e9aac1cd957fa17335c638659ccd48260af5da67d8aa8b16134600",
    "cf4427bdafb863e7aed64f2f2c41fd8102b06ec4f4a0da95db5756a77fc3cb3669be483ef6a9af67ddefe38f",
    "1289429ea5bc9242440ba5f4f8d6d6b4fb096502cb81f3029f797e703905c86bb50658377fa492774d0d918d",
    "9e559721e52492092b4e4e87512f5afed03c79f69c50feeb6d173b38c20a7a7e7ac45520a48eaca785f9f2ff",
    "f7c0dc37eb617773619a006a4fa3c8918c712199719413f817babd260c225cd16ce1d0afcef70691f1f5dcca",
    "c19f9795e35d66cb97cf01f3643e716b91ef5d51ea039b1c6d2e552d8ea30e4895835db82207761ff7cf5f45",
    "f013e10a3ed8242beb5f14ad7e2a9a82434a26035a4330526e7f648ee79cbf67c8a8a5f3da5a4fbd0fe4c5f1",
    "cf4ada05cec4ba3d0107f308ae3d3d94b9e3c57817ba866b7ed275e0022dcf21cc64077975dcd43f417e4c62",
    "42c46f3d9291b02f5c8a65cd4564361d4fc54afee8a6ae2f7151be04c0a65487e31666694afd8dfab31c5401",
    "ec9fefa754e037413486de75b53333ebfebb3bee9341100e7c68fa29881d9f95ea5556c162dfce6f225c178c",
    "07a57949169d8fe545f7dea89afd99f7f84a9028bff4abe1401592d5ecb62099d261f191af912128b559e6c7",
    "748d045d07d0b90f148b5e314edc2ad59626f692a20a7eb07c01ca84806314cc2ab4f93d09a0a22f2084cbc5",
    "fb5932bbc6f5bfefa40b0ff51d7f744c71626dae6ce36037d2459a473ac2cf56f8726a92f16d51db70f5542e",
    "3a2b257fb7e69eb3a95a4dda8d8bcc831a8d9ac7ea1b4d61cf9700a1785fecb66af21c238c32e05279b72bb0",
    "6e021e5f5f62d962a84857eddd5a733fbd80e85da9a8bf6b3d55c10eaba481be3081bba003020117a281b304",
    "81b0e80fca45fe4b7e548f2328c18ff2945603b76d2556a6cc1f51399816d6e13a6eddd5141d32bed3163678",
    "06af9d5cb8f03cef6fe5ca3493307dcac03a1b78b3778cf71ea24c3fa1334b20e7893ac450857f29bc22b3e5",
    "1f046d197d640b9bc026734cd4d5afe92c9639229da6e0517a3e758203a86738393daf825b4d5e9c04307273",
    "fdd8a5162a66da88be63be29527d8504e48ee0e5c7349f87d74a830940442b80923dd50b0b6fb651ae1178bd",
    "91b7570069006e0064006f007700730020003200300030003200200053006500720076006900630065002000",
    "5000610063006b0020003200200032003600300030000000570069006e0064006f0077007300200032003000",
    "30003200200035002e00310000000000",
);
/// zeek/smb_gssapi.pcap frame 5: NEGOTIATE response blob, NegTokenInit with negHints.
pub(crate) const SMB_GSSAPI_F5_BLOB: &str = concat!(
    "604706062b0601050502a03d303ba019301706092a864882f712010202060a2b06010401823702020aa31e30",
    "1ca01a1b18656469736b3033612440484f5553494e472e484b53415247",
);
/// zeek/smb_gssapi.pcap frame 8: SESSION_SETUP response blob, NegTokenResp accept-completed
/// with an AP-REP.
pub(crate) const SMB_GSSAPI_F8_BLOB: &str = concat!(
    "a182010730820103a0030a0100a27d047b607906092a864886f71201020202006f6a3068a003020105a10302",
    "010fa25c305aa003020117a2530451613c8db882a1c4dae0ca4e6f530c0adb6501a67eb1ac0cb93aab9aa364",
    "daa30cbf20fdbad635334d2dbac01a48709e1170ef388d78505e36e8edd536af2f4a757a1fe116356910cd18",
    "8efce28303a90d84a37d047b607906092a864886f71201020202006f6a3068a003020105a10302010fa25c30",
    "5aa003020117a2530451613c8db882a1c4dae0ca4e6f530c0adb6501a67eb1ac0cb93aab9aa364daa30cbf20",
    "fdbad635334d2dbac01a48709e1170ef388d78505e36e8edd536af2f4a757a1fe116356910cd188efce28303",
    "a90d84",
);
/// zeek/smb2_krb.pcap frame 12: SMB2 SESSION_SETUP request blob, NegTokenInit (MS KRB5, KRB5,
/// NEGOEX, NTLMSSP) with an aes256 AP-REQ for cifs/phxlabbal821.techlab.susq.com@DS.SUSQ.COM.
pub(crate) const SMB2_KRB_F12_BLOB: &str = concat!(
    "60820a5106062b0601050502a0820a4530820a41a030302e06092a864882f71201020206092a864886f71201",
    "0202060a2b06010401823702021e060a2b06010401823702020aa2820a0b04820a0760820a0306092a864886",
    "f71201020201006e8209f2308209eea003020105a10302010ea20703050020000000a38208816182087d3082",
    "0879a003020105a10d1b0b44532e535553512e434f4da230302ea003020102a12730251b04636966731b1d70",
    "68786c616262616c3832312e746563686c61622e737573712e636f6da382082f3082082ba003020112a10302",
    "0102a282081d048208198fd8f4f8fbcff447c4e84aa9f6444384994dcba4b1c887a701c7bfa8587ea5afd065",
    "8492a180125e761e2ffe3d2b6527d7c446f5a3182fd75435cae10af1c4c60cf6f6b035ec627c8503db2ff7b1",
    "fec804dc830d7fc5185779f2ad17629564907e77d3f1544bc935cc11e8451f009a850b570fa5a4ba433bc2ab",
    "3e993b1f8b198ae9689845cb31fd3aa9935fe0894f536f3a138d87558d4048715d5b6ac37830841010daa6ac",
    "392980bf4e301cb44a3c8d1f976c0a5cbff80e62277d80d3eb00cac63aee74dd07c0d24d85917b50e1c72909",
    "11c0f5392916f2c323b9441d1fae28daf618d4219aaf53d86202cafe723f597ea6863bb4875f2d125a783ab1",
    "cde3a92845b22db61dd8d434e82efd775fbcd5302d50a138be1601a39b951a538e609adf6eb73035b503f4ef",
    "d6ed37bcb92002a67b5e10b64e5fb73c35cddf872903dc57e89ba20a687c7e3a4fa2936d76884238617abc8e",
    "83b4cb74e30b1f6163172de06a8d0d8a13b172331cd8dd88cf50a2bcada5aafa716bcec0092483072026a8d7",
    "bf68ffefc2a6e852a5a7f182fd6afd44e5d39333571ca0ceaebaa5207b1fd32192d20f1ca227502220dd3dda",
    "46b1885aca38f78da4cd91ee2394b5df4ec68d622d427c2fd9e2fae454b33595834b75e9fe1e4b01957eee7e",
    "129f16b45839714881f2a67a7dec8f45adbc1a87963889e4722e59f9bdfb0233c41e9a9987db8fde7fbb9041",
    "83f4e00d22dcd4a53ec8a0adeef6f856b5c4490e23e84f6cdf5dc93a71612e63571bc69af2e242be2547c26c",
    "61eaf823c29d3a9f6754ef2c52f5073398b83845f77bfda007868e38fc9a2ec27a13572b137ed9430a12ece3",
    "091508f6ec6a5405e6c2e13ba3c9d4fe6f7b455aaa7d45dde85820c9519b1730ab35ed2534de72d2f06478e8",
    "601df4f64fdb5c238d839782ff3885b9106a41818e8cc0387ccd7e3778349c448f377f9bb79f1a5dc449995c",
    "246ce5c5055223db454ca6f34c7f49458b0e6bef26d8227d0b47e963865cd5024962792aa1a0cb2f5f94f515",
    "e215977a1ee5b5d1eb56201a1b5df0dcfec254c2a9fb459b514c41c5560770f23964acdefb40c64c9543748c",
    "0d63bc507d1682ecf490c5a26fef43bce830b33de062382e0413278cecf2c9621d4bbbd92670abb827e5a99b",
    "8ad7db1a24b15613d1273a4cd3a7cca38b11d5ac6fc62fb533449f1685752f570164ffd2ba6e02723bdd98d9",
    "96d20cc075dd1a7156372e03aea4b10ae274d9c44a34364f0ecbd3ff6d8ada8eab1d208e17302039eec25a82",
    "93961656bd965135e8f4f36b1d59021ccdd85e4c0603a9d0c1d47e43e0a2614fb80bffeda48e61b89c7b4843",
    "5113b284fdede605eacb89c781c35f60e53172f536d2525ac71c57f52d4703b11444ddbc81e78fa94aaf45e1",
    "eb1d7e8a5a7c29beb8d8855513341a7b7c1e96537c1c7beaa4d0aad215f0c1417b4969de0edb6516097bda25",
    "d9cbe630a05020be1d8ade5c1b21c645c144d70d003c30c4e098cf042872f6166533f7b115e1d8ef66f42cdd",
    "1b9274b0540c65768281e4e0fc2ff4bc2ffaf825c8c762b1f123f94ffa7e4bb843b6be70fa9cf3156f303dcc",
    "8a16b94ac36015a864bfdfc628b7d1659054494969ba0dd51baa8da454e65e82dc3f45a300c538782b4b8869",
    "00f7e6e82c0f8c79aef14b394ec53c49e37d4ac4a612f18e060338d971b78e047429409baf40d3a1d8cb104e",
    "3a3679443dfe2a837ac97035dc706dc50ab7acd0a6ec7cbe02b1a5cb48edd557210c40af11f278f8b39ff089",
    "1307c9c98d48758e6acde249cf4571130c0f7f12b3a5e585fa2d2bfd7800378a3f5fe8efeddc4260f4a67fbc",
    "a5c95b32699146f6cb7a34b0b7d26736b8556c224b4a9b56aeba543e61faea3a6e2da50a3125fcbc46256855",
    "cc0e6881091ced3d199cfad0cbf36d7ca98f1df0828816dd9dd0f2547c68ef32baf387bfa1b368b11e55abe6",
    "2139a358dd7972c4b8b0627d66e88f8261faacee89e8305dbc827d6a7cef0972f008dbb09164bb6d6a99c578",
    "81525a395241278eb16733c43e0451a4febb5691f2fb742fe742b2dc540b9b3393d7efdcef8e050ce53785d4",
    "babca0adf534f7263dd4ead798a2ac4425208095c8203fe3f1acca674c22799bf2bc063af1a418475e251792",
    "4ffffaa536ee06538208af800f6b9ad0a12952452e41af7e5bd63396d08129d3561fe17170afa34625a31f42",
    "c3a3e8d916080832a4d11496bbf44bb9e8924a7248dfe8d61c99f598d8934eb8b0d25425d38647b5004c7991",
    "6f752ec6002bc9f6f1bd0f631f8d8e9e3a916f7a1ec3b94190e1017935ce47764828b7bd62785e31c74a113d",
    "8b86e78d88ddc79ce6ea58f5cd84280eba5d105f7116c0b7cdff4a650ea79d0057a94e03856e6d235f2e75d0",
    "436f1250662c77563d07b7441a2ecafc7df9910e4aae4c40538e71b613aced2a6d5efb1039e80a4bee25e371",
    "1ad1d24c7196af9fc7255917f719c2c32f7492eddfce0aeae173f4f73d8a56161474de0ffc2c7dcbbb637b88",
    "6b0478e295e3d5acc86c94cb9672e778660dc02a81ff55cf654564fad003aaee7042027e375c2e57fcbb8d71",
    "ee4599fadb7f629a89cd2db5d07aabccf79a0053918fa10b88101653983838292d18d5054ca772eb2b710fc7",
    "723a1b6b1e70871df18fda8b401fce88461f3d1a4a45ca1fdf29e993efb8ecd8040119a280b8057e16b6e89c",
    "6e3d68df9c2017d7fb5a7510515467e5d8ade6b22d6fbfd3d179e45b702ba3e1127a110d1f064555591c024a",
    "43001739ef2b5781046a1fb47f8603c211250bed6502191a5af90117088564b630255e2d0d61d49f3c577ad6",
    "8624a96af3692ef43e96373d4b2b9e65e926e270b3dc02cfde93bf1dd6dd39c916e56154185f4d3988ceee2f",
    "8f7c946685e14e2f9820ec8c5b1713a48201523082014ea003020112a282014504820141f08bc606cc59f495",
    "50544f6eb18cb0555b62a2cb994195949c4891c84bbf7253d32f364f38be83522919b46e302f0d2926fea265",
    "01ff1bdd7bd9971d261965f993d47dd9e7e9526b9d1a00135282c1349f8d79551a9d79aeac90d1c7a9cd904c",
    "5d7dabd92138d9246ac08826a819270d7d666bc33a500b7e4824e032d418cee5ffc320763802b479aa21b895",
    "a91fd41cbeb4211b9148f89be36a59155fb12d7525c05670ed59627a3feda63b0f5c85c5a96441010f9e414f",
    "6042de7941bb6ec34d0efba49fca2f6d379764b0fd39f7daac72f2a8101c8ad172018808b3f897c88089f260",
    "f7efee8438c90ad2beebab060d2a336b2f9b023024a59a4a862bbd711b84601d192583d5346c294761fcfd7c",
    "cd28c91e6c14d6f613d4e9e0634f3ce69f85f7eedae0356506e272b546504edd53152e8ed870ba5afa223532",
    "84194a9d03",
);
/// zeek/smb2_krb.pcap frame 14: NegTokenResp accept-completed, supportedMech MS KRB5, AP-REP.
pub(crate) const SMB2_KRB_F14_BLOB: &str = concat!(
    "a181b63081b3a0030a0100a10b06092a864882f712010202a2819e04819b60819806092a864886f712010202",
    "02006f8188308185a003020105a10302010fa2793077a003020112a270046eec6df261f2543a57496851b29b",
    "27c80359f05259af95c4d521006c496c5b85c4ba7d46dd99c07ade4f956bedf7a5544e15bf3218514bd7b700",
    "c092324cfc40054ca9ee1f46e2c4515e0ea2f2c42dee1d0e4ad4a087765f33506992f355cd42113ca0109585",
    "5a5eeef142fbbb5231",
);
/// suricata-verify/smb1-02__smb1_osx.pcap frame 18: NegTokenResp accept-incomplete, NTLMSSP
/// CHALLENGE from Samba 4.4.16.
pub(crate) const OSX_F18_BLOB: &str = concat!(
    "a1819e30819ba0030a0101a10c060a2b06010401823702020aa281850481824e544c4d53535000020000000a",
    "000a003800000005028202af6baaf61e1b512b00000000000000004000400042000000060100000000000f54",
    "00530034003100320002000a005400530034003100320001000a005400530034003100320004000200000003",
    "000a00740073003400310032000700080042de9f84cbbad30100000000",
);

/// suricata-verify/smb1-02__smb1_osx.pcap frame 14: NEGOTIATE response blob from Samba,
/// NegTokenInit2 (NTLMSSP only) with the RFC 4178 "not_defined" negHints.
const OSX_F14_BLOB: &str = concat!(
    "604806062b0601050502a03e303ca00e300c060a2b06010401823702020aa32a3028a0261b246e6f745f",
    "646566696e65645f696e5f5246433431373840706c656173655f69676e6f7265",
);

fn ap_req_of(token: Option<&[u8]>) -> ApReq {
    match inner(token.expect("inner token")) {
        Inner::KerberosApReq(a) => a,
        other => panic!("not an AP-REQ: {other:?}"),
    }
}

#[test]
fn kerberos_rc4_in_smb1() {
    let msg = hex(SMB_GSSAPI_F7);
    // The blob sits after the NBSS header (4), SMB1 header (32), WordCount (1), 12 words
    // (24) and ByteCount (2); SecurityBlobLength is 0x056f.
    let blob = &msg[63..63 + 0x056f];
    let tok = parse(blob).unwrap();
    let GssToken::Init { mechs, mech_token } = &tok else {
        panic!("not a NegTokenInit")
    };
    assert_eq!(mechs, &[Mech::MsKerberos, Mech::Ntlmssp]);
    assert_eq!(mech_token.unwrap().len(), 0x538);
    let ap = ap_req_of(tok.auth_token());
    assert_eq!(ap.realm, "HOUSING.HKSARG");
    assert_eq!(ap.sname, "cifs/EDISK03A.housing.hksarg");
    assert_eq!(ap.sname_type, 2);
    assert_eq!(ap.enc_type, etype::RC4_HMAC);
    assert_eq!(etype::name(ap.enc_type), Some("rc4-hmac"));
    assert_eq!(ap.kvno, None);
    assert_eq!(ap.authenticator_enc_type, etype::RC4_HMAC);
    assert_eq!(ap.ap_options, 0x2000_0000); // mutual-required
    all_prefixes_fail(blob, parse);
    all_prefixes_fail(&mech_token.unwrap()[17..], ApReq::parse);
}

#[test]
fn kerberos_aes256_in_smb2() {
    let blob = hex(SMB2_KRB_F12_BLOB);
    let tok = parse(&blob).unwrap();
    let GssToken::Init { mechs, .. } = &tok else {
        panic!("not a NegTokenInit")
    };
    let want = [
        Mech::MsKerberos,
        Mech::Kerberos,
        Mech::NegoEx,
        Mech::Ntlmssp,
    ];
    assert_eq!(mechs, &want);
    let ap = ap_req_of(tok.auth_token());
    assert_eq!(ap.realm, "DS.SUSQ.COM");
    assert_eq!(ap.sname, "cifs/phxlabbal821.techlab.susq.com");
    assert_eq!(ap.enc_type, etype::AES256_CTS_HMAC_SHA1_96);
    assert_eq!(ap.kvno, Some(2));
    ticket_decrypts_with_the_corpus_keytab(&ap);
    assert_eq!(ap.authenticator_enc_type, etype::AES256_CTS_HMAC_SHA1_96);
    all_prefixes_fail(&blob, parse);

    // Frame 14: the AP-REP.
    let blob = hex(SMB2_KRB_F14_BLOB);
    let tok = parse(&blob).unwrap();
    let GssToken::Resp { state, mech, .. } = &tok else {
        panic!("not a NegTokenResp")
    };
    assert_eq!(
        (*state, mech),
        (Some(neg_state::ACCEPT_COMPLETED), &Some(Mech::MsKerberos))
    );
    assert_eq!(inner(tok.auth_token().unwrap()), Inner::KerberosApRep);
    all_prefixes_fail(&blob, parse);
}

#[test]
fn negotiate_hints_and_responses() {
    let blob = hex(SMB_GSSAPI_F5_BLOB);
    let tok = parse(&blob).unwrap();
    let want = [Mech::MsKerberos, Mech::Ntlmssp];
    assert_eq!(
        tok,
        GssToken::Init {
            mechs: want.to_vec(),
            mech_token: None
        }
    );
    all_prefixes_fail(&blob, parse);

    let blob = hex(OSX_F14_BLOB);
    let tok = parse(&blob).unwrap();
    let want = vec![Mech::Ntlmssp];
    assert_eq!(
        tok,
        GssToken::Init {
            mechs: want,
            mech_token: None
        }
    );

    let blob = hex(SMB_GSSAPI_F8_BLOB);
    let tok = parse(&blob).unwrap();
    let GssToken::Resp {
        state: Some(0),
        mech: None,
        response_token: Some(t),
    } = tok
    else {
        panic!("unexpected {tok:?}")
    };
    assert_eq!(inner(t), Inner::KerberosApRep);

    let blob = hex(OSX_F18_BLOB);
    let tok = parse(&blob).unwrap();
    let GssToken::Resp {
        state,
        mech,
        response_token,
    } = &tok
    else {
        panic!("not a NegTokenResp")
    };
    assert_eq!(
        (*state, mech),
        (Some(neg_state::ACCEPT_INCOMPLETE), &Some(Mech::Ntlmssp))
    );
    match inner(response_token.unwrap()) {
        Inner::Ntlmssp(ntlmssp::Message::Challenge(c)) => {
            assert_eq!(c.target_name, "TS412");
            assert_eq!(c.dns_domain.as_deref(), Some(""));
        }
        other => panic!("not a CHALLENGE: {other:?}"),
    }
    all_prefixes_fail(&blob, parse);

    // A NegTokenResp with only a responseToken (zerologon anonymous AUTHENTICATE).
    let blob = hex(crate::smb::ntlmssp::tests::ZEROLOGON_ANON_BLOB);
    let tok = parse(&blob).unwrap();
    let GssToken::Resp {
        state: None,
        mech: None,
        response_token: Some(t),
    } = tok
    else {
        panic!("unexpected {tok:?}")
    };
    assert!(matches!(
        inner(t),
        Inner::Ntlmssp(ntlmssp::Message::Authenticate(_))
    ));
}

#[test]
fn raw_tokens_and_garbage() {
    let auth = hex(crate::smb::ntlmssp::tests::RAW_AUTH_V2);
    assert_eq!(parse(&auth).unwrap(), GssToken::RawNtlmssp(&auth));
    // The krb5 mechToken on its own is a raw Kerberos GSS token.
    let blob = hex(SMB2_KRB_F12_BLOB);
    let GssToken::Init {
        mech_token: Some(mt),
        ..
    } = parse(&blob).unwrap()
    else {
        panic!("no mechToken")
    };
    assert_eq!(parse(mt).unwrap(), GssToken::RawKerberos(mt));
    assert_eq!(inner(&mt[17..]), inner(mt)); // bare AP-REQ after the GSS header
    assert_eq!(inner(b"NEGOEXTS"), Inner::Unknown);
    assert_eq!(inner(&[0x7E, 0x00]), Inner::KerberosError);
    assert_eq!(
        inner(&[
            0x60, 0x0D, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02, 0x03,
            0x00
        ]),
        Inner::KerberosError
    );
    assert!(parse(&[]).is_err());
    assert!(parse(&[0x30, 0x00]).is_err());
    // Unknown GSS mechanism.
    assert!(parse(&[0x60, 0x05, 0x06, 0x03, 0x2a, 0x03, 0x04]).is_err());
    for seed in 0..300 {
        let mut g = garbage(seed, (seed as usize * 13) % 400);
        if let Some(b) = g.first_mut() {
            *b = [0x60, 0xA0, 0xA1, 0x6E][seed as usize % 4];
        }
        let _ = parse(&g);
        let _ = inner(&g);
        let _ = ApReq::parse(&g);
    }
    // Mutations of a valid AP-REQ never panic.
    let ap = &mt[17..];
    for i in 0..ap.len().min(600) {
        let mut m = ap.to_vec();
        m[i] ^= 0xFF;
        let _ = ApReq::parse(&m);
    }
}

/// suricata-verify/smb-length-5786__input.pcap frame 8: macOS (LKDC) SESSION_SETUP with an
/// IAKERB proxied AS-REQ inside SPNEGO.
#[test]
fn iakerb_proxy_token() {
    let blob = hex(
        "6082010306062b0601050502a081f83081f5a00a300806062b0601050205a281e60481e36081e006062b060105020505\
         01301ca11a0c1857454c4c4b4e4f574e3a434f4d2e4150504c452e4c4b44436a81b53081b2a103020105a20302010aa3\
         0e300c300aa10402020095a2020400a48195308192a00703050000010000a111300fa003020101a10830061b04746f74\
         6fa21a1b1857454c4c4b4e4f574e3a434f4d2e4150504c452e4c4b4443a32d302ba003020102a12430221b066b726274\
         67741b1857454c4c4b4e4f574e3a434f4d2e4150504c452e4c4b4443a511180f32303233303230333031303134365aa7\
         0602040e6271efa80e300c020112020111020110020117",
    );
    let tok = parse(&blob).unwrap().auth_token().unwrap();
    assert_eq!(
        inner(tok),
        Inner::KerberosIakerb {
            realm: "WELLKNOWN:COM.APPLE.LKDC".into()
        }
    );
    for n in 0..tok.len() {
        let _ = inner(&tok[..n]);
    }
}

/// With Zeek's keytab for this trace (shared corpus; skipped without it), the ticket's
/// enc-part decrypts (RFC 3962 aes256-cts-hmac-sha1-96, key usage 2) to an EncTicketPart
/// ([APPLICATION 3], RFC 4120 §5.3) whose checksum verified, and a wrong key usage does not.
fn ticket_decrypts_with_the_corpus_keytab(ap: &ApReq) {
    use crate::crypto::{kerberos, keytab::Keytab};
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/corpus/zeek/smb2_krb.keytab");
    let Ok(data) = std::fs::read(&path) else {
        eprintln!(
            "NOTICE: {} not found; ticket decryption not checked",
            path.display()
        );
        return;
    };
    let mut kt = Keytab::default();
    kt.add(&data).expect("keytab parses");
    let key = kt.entries[0].key();
    let plain = kerberos::decrypt(ap.enc_type, key, 2, &ap.ticket_cipher).expect("decrypts");
    assert_eq!(plain[0], 0x63, "EncTicketPart tag");
    assert!(kerberos::decrypt(ap.enc_type, key, 11, &ap.ticket_cipher).is_err());
    use crate::smb::krb::{ApRep, Authenticator, EncTicketPart};
    let ticket = EncTicketPart::parse(&plain).expect("EncTicketPart");
    // tshark with the keytab (corpus MANIFEST row 66): CNameString wallior, realm DS.SUSQ.COM.
    assert_eq!(
        (ticket.cname.as_str(), ticket.crealm.as_str()),
        ("wallior", "DS.SUSQ.COM")
    );
    assert!(ticket.authtime.ends_with('Z') && ticket.endtime > ticket.authtime);
    let a = kerberos::decrypt(
        ap.authenticator_enc_type,
        &ticket.key.value,
        11,
        &ap.authenticator_cipher,
    )
    .expect("the authenticator decrypts with the ticket's session key");
    let auth = Authenticator::parse(&a).expect("Authenticator");
    assert_eq!(auth.cname, "wallior");
    assert!(auth.subkey.is_some());
    // Frame 14's AP-REP (after the krb5 token id 02 00), key usage 12, its subkey: the first
    // 16 bytes are the SMB2 session key (corpus MANIFEST, smb-keys.tsv).
    let blob = hex(SMB2_KRB_F14_BLOB);
    let at = blob
        .windows(3)
        .position(|w| w == [0x02, 0x00, 0x6f])
        .expect("AP-REP in the blob")
        + 2;
    let rep = ApRep::parse(&blob[at..]).expect("AP-REP");
    let p =
        kerberos::decrypt(rep.enc_type, &ticket.key.value, 12, &rep.cipher).expect("EncAPRepPart");
    let sub = ApRep::subkey(&p).expect("parses").expect("a subkey");
    assert_eq!(
        hex("5102c65b8aa67ea7fd7884433b46ede1"),
        sub.value[..16].to_vec()
    );
    all_prefixes_fail(&blob[at..], ApRep::parse);
    all_prefixes_fail(&plain, EncTicketPart::parse);
    all_prefixes_fail(&a, Authenticator::parse);
    // Keys never show in Debug.
    let dbg = format!("{ticket:?} {auth:?}");
    assert!(!dbg.contains("value:"), "{dbg}");
}
