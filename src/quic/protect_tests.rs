//! Known-answer tests from RFC 9001 Appendix A (QUIC v1) and RFC 9369 Appendix A (QUIC v2),
//! all with the client-chosen DCID 0x8394c8f03e515708, plus key update, suites and robustness.

use super::*;
use crate::quic::frame::{Frame, frames};
use crate::quic::hex;
use crate::quic::packet::split_datagram;

/// RFC 9001 Appendix A / RFC 9369 Appendix A: the client's first DCID.
const DCID: &str = "8394c8f03e515708";

/// RFC 9001 A.2: the CRYPTO frame of the client Initial (a ClientHello for example.com).
pub(crate) const V1_A2_CRYPTO: &str = "
    060040f1010000ed0303ebf8fa56f12939b9584a3896472ec40bb863cfd3e868
    04fe3a47f06a2b69484c000004130113 02010000c000000010000e00000b6578
    616d706c652e636f6dff01000100000a 00080006001d00170018001000070005
    04616c706e0005000501000000000033 00260024001d00209370b2c9caa47fba
    baf4559fedba753de171fa71f50f1ce1 5d43e994ec74d748002b000302030400
    0d0010000e0403050306030203080408 050806002d00020101001c0002400100
    3900320408ffffffffffffffff050480 00ffff07048000ffff08011001048000
    75300901100f088394c8f03e51570806 048000ffff";

/// RFC 9001 A.2: the 1200-byte protected client Initial.
pub(crate) const V1_A2_PACKET: &str = "
    c000000001088394c8f03e5157080000 449e7b9aec34d1b1c98dd7689fb8ec11
    d242b123dc9bd8bab936b47d92ec356c 0bab7df5976d27cd449f63300099f399
    1c260ec4c60d17b31f8429157bb35a12 82a643a8d2262cad67500cadb8e7378c
    8eb7539ec4d4905fed1bee1fc8aafba1 7c750e2c7ace01e6005f80fcb7df6212
    30c83711b39343fa028cea7f7fb5ff89 eac2308249a02252155e2347b63d58c5
    457afd84d05dfffdb20392844ae81215 4682e9cf012f9021a6f0be17ddd0c208
    4dce25ff9b06cde535d0f920a2db1bf3 62c23e596d11a4f5a6cf3948838a3aec
    4e15daf8500a6ef69ec4e3feb6b1d98e 610ac8b7ec3faf6ad760b7bad1db4ba3
    485e8a94dc250ae3fdb41ed15fb6a8e5 eba0fc3dd60bc8e30c5c4287e53805db
    059ae0648db2f64264ed5e39be2e20d8 2df566da8dd5998ccabdae053060ae6c
    7b4378e846d29f37ed7b4ea9ec5d82e7 961b7f25a9323851f681d582363aa5f8
    9937f5a67258bf63ad6f1a0b1d96dbd4 faddfcefc5266ba6611722395c906556
    be52afe3f565636ad1b17d508b73d874 3eeb524be22b3dcbc2c7468d54119c74
    68449a13d8e3b95811a198f3491de3e7 fe942b330407abf82a4ed7c1b311663a
    c69890f4157015853d91e923037c227a 33cdd5ec281ca3f79c44546b9d90ca00
    f064c99e3dd97911d39fe9c5d0b23a22 9a234cb36186c4819e8b9c5927726632
    291d6a418211cc2962e20fe47feb3edf 330f2c603a9d48c0fcb5699dbfe58964
    25c5bac4aee82e57a85aaf4e2513e4f0 5796b07ba2ee47d80506f8d2c25e50fd
    14de71e6c418559302f939b0e1abd576 f279c4b2e0feb85c1f28ff18f58891ff
    ef132eef2fa09346aee33c28eb130ff2 8f5b766953334113211996d20011a198
    e3fc433f9f2541010ae17c1bf202580f 6047472fb36857fe843b19f5984009dd
    c324044e847a4f4a0ab34f719595de37 252d6235365e9b84392b061085349d73
    203a4a13e96f5432ec0fd4a1ee65accd d5e3904df54c1da510b0ff20dcc0c77f
    cb2c0e0eb605cb0504db87632cf3d8b4 dae6e705769d1de354270123cb11450e
    fc60ac47683d7b8d0f811365565fd98c 4c8eb936bcab8d069fc33bd801b03ade
    a2e1fbc5aa463d08ca19896d2bf59a07 1b851e6c239052172f296bfb5e724047
    90a2181014f3b94a4e97d117b4381303 68cc39dbb2d198065ae3986547926cd2
    162f40a29f0c3c8745c0f50fba3852e5 66d44575c29d39a03f0cda721984b6f4
    40591f355e12d439ff150aab7613499d bd49adabc8676eef023b15b65bfc5ca0
    6948109f23f350db82123535eb8a7433 bdabcb909271a6ecbcb58b936a88cd4e
    8f2e6ff5800175f113253d8fa9ca8885 c2f552e657dc603f252e1a8e308f76f0
    be79e2fb8f5d5fbbe2e30ecadd220723 c8c0aea8078cdfcb3868263ff8f09400
    54da48781893a7e49ad5aff4af300cd8 04a6b6279ab3ff3afb64491c85194aab
    760d58a606654f9f4400e8b38591356f bf6425aca26dc85244259ff2b19c41b9
    f96f3ca9ec1dde434da7d2d392b905dd f3d1f9af93d1af5950bd493f5aa731b4
    056df31bd267b6b90a079831aaf579be 0a39013137aac6d404f518cfd4684064
    7e78bfe706ca4cf5e9c5453e9f7cfd2b 8b4c8d169a44e55c88d4a9a7f9474241
    e221af44860018ab0856972e194cd934";

/// RFC 9001 A.3: the server Initial payload (ACK + CRYPTO(ServerHello)).
pub(crate) const V1_A3_PAYLOAD: &str = "
    02000000000600405a020000560303ee fce7f7b37ba1d1632e96677825ddf739
    88cfc79825df566dc5430b9a045a1200 130100002e00330024001d00209d3c94
    0d89690b84d08a60993c144eca684d10 81287c834d5311bcf32bb9da1a002b00
    020304";

/// RFC 9001 A.3: the protected server Initial.
pub(crate) const V1_A3_PACKET: &str = "
    cf000000010008f067a5502a4262b500 4075c0d95a482cd0991cd25b0aac406a
    5816b6394100f37a1c69797554780bb3 8cc5a99f5ede4cf73c3ec2493a1839b3
    dbcba3f6ea46c5b7684df3548e7ddeb9 c3bf9c73cc3f3bded74b562bfb19fb84
    022f8ef4cdd93795d77d06edbb7aaf2f 58891850abbdca3d20398c276456cbc4
    2158407dd074ee";

/// RFC 9001 A.4: the Retry answering A.2 (token "token").
pub(crate) const V1_A4_RETRY: &str =
    "ff000000010008f067a5502a4262b5746f6b656e04a265ba2eff4d829058fb3f0f2496ba";

/// RFC 9001 A.5: the ChaCha20-Poly1305 application secret and a short-header PING packet with
/// packet number 654360564 in 3 bytes and an empty DCID.
pub(crate) const A5_SECRET: &str =
    "9ac312a7f877468ebe69422748ad00a15443f18203a07d6060f688f30f21632b";
pub(crate) const V1_A5_PACKET: &str = "4cfe4189655e5cd55c41f69080575d7999c25a5bfb";
const A5_PN: u64 = 654_360_564;

/// RFC 9369 A.2: the 1200-byte protected v2 client Initial (same CRYPTO frame as v1 A.2).
pub(crate) const V2_A2_PACKET: &str = "
    d76b3343cf088394c8f03e5157080000449ea0c95e82ffe67b6abcdb4298b485
    dd04de806071bf03dceebfa162e75d6c96058bdbfb127cdfcbf903388e99ad04
    9f9a3dd4425ae4d0992cfff18ecf0fdb5a842d09747052f17ac2053d21f57c5d
    250f2c4f0e0202b70785b7946e992e58a59ac52dea6774d4f03b55545243cf1a
    12834e3f249a78d395e0d18f4d766004f1a2674802a747eaa901c3f10cda5500
    cb9122faa9f1df66c392079a1b40f0de1c6054196a11cbea40afb6ef5253cd68
    18f6625efce3b6def6ba7e4b37a40f7732e093daa7d52190935b8da58976ff33
    12ae50b187c1433c0f028edcc4c2838b6a9bfc226ca4b4530e7a4ccee1bfa2a3
    d396ae5a3fb512384b2fdd851f784a65e03f2c4fbe11a53c7777c023462239dd
    6f7521a3f6c7d5dd3ec9b3f233773d4b46d23cc375eb198c63301c21801f6520
    bcfb7966fc49b393f0061d974a2706df8c4a9449f11d7f3d2dcbb90c6b877045
    636e7c0c0fe4eb0f697545460c806910d2c355f1d253bc9d2452aaa549e27a1f
    ac7cf4ed77f322e8fa894b6a83810a34b361901751a6f5eb65a0326e07de7c12
    16ccce2d0193f958bb3850a833f7ae432b65bc5a53975c155aa4bcb4f7b2c4e5
    4df16efaf6ddea94e2c50b4cd1dfe06017e0e9d02900cffe1935e0491d77ffb4
    fdf85290fdd893d577b1131a610ef6a5c32b2ee0293617a37cbb08b847741c3b
    8017c25ca9052ca1079d8b78aebd47876d330a30f6a8c6d61dd1ab5589329de7
    14d19d61370f8149748c72f132f0fc99f34d766c6938597040d8f9e2bb522ff9
    9c63a344d6a2ae8aa8e51b7b90a4a806105fcbca31506c446151adfeceb51b91
    abfe43960977c87471cf9ad4074d30e10d6a7f03c63bd5d4317f68ff325ba3bd
    80bf4dc8b52a0ba031758022eb025cdd770b44d6d6cf0670f4e990b22347a7db
    848265e3e5eb72dfe8299ad7481a408322cac55786e52f633b2fb6b614eaed18
    d703dd84045a274ae8bfa73379661388d6991fe39b0d93debb41700b41f90a15
    c4d526250235ddcd6776fc77bc97e7a417ebcb31600d01e57f32162a8560cacc
    7e27a096d37a1a86952ec71bd89a3e9a30a2a26162984d7740f81193e8238e61
    f6b5b984d4d3dfa033c1bb7e4f0037febf406d91c0dccf32acf423cfa1e70710
    10d3f270121b493ce85054ef58bada42310138fe081adb04e2bd901f2f13458b
    3d6758158197107c14ebb193230cd1157380aa79cae1374a7c1e5bbcb80ee23e
    06ebfde206bfb0fcbc0edc4ebec309661bdd908d532eb0c6adc38b7ca7331dce
    8dfce39ab71e7c32d318d136b6100671a1ae6a6600e3899f31f0eed19e3417d1
    34b90c9058f8632c798d4490da4987307cba922d61c39805d072b589bd52fdf1
    e86215c2d54e6670e07383a27bbffb5addf47d66aa85a0c6f9f32e59d85a44dd
    5d3b22dc2be80919b490437ae4f36a0ae55edf1d0b5cb4e9a3ecabee93dfc6e3
    8d209d0fa6536d27a5d6fbb17641cde27525d61093f1b28072d111b2b4ae5f89
    d5974ee12e5cf7d5da4d6a31123041f33e61407e76cffcdcfd7e19ba58cf4b53
    6f4c4938ae79324dc402894b44faf8afbab35282ab659d13c93f70412e85cb19
    9a37ddec600545473cfb5a05e08d0b209973b2172b4d21fb69745a262ccde96b
    a18b2faa745b6fe189cf772a9f84cbfc";

/// RFC 9369 A.3: the protected v2 server Initial (payload identical to RFC 9001 A.3).
const V2_A3_PACKET: &str = "
    dc6b3343cf0008f067a5502a4262b5004075d92faaf16f05d8a4398c47089698
    baeea26b91eb761d9b89237bbf87263017915358230035f7fd3945d88965cf17
    f9af6e16886c61bfc703106fbaf3cb4cfa52382dd16a393e42757507698075b2
    c984c707f0a0812d8cd5a6881eaf21ceda98f4bd23f6fe1a3e2c43edd9ce7ca8
    4bed8521e2e140";

/// RFC 9369 A.4: the v2 Retry answering A.2.
const V2_A4_RETRY: &str =
    "cf6b3343cf0008f067a5502a4262b5746f6b656ec8646ce8bfe33952d955543665dcc7b6";

/// RFC 9369 A.5: the same ChaCha20 secret under v2 labels, and its short-header packet.
const V2_A5_PACKET: &str = "5558b1c60ae7b6b932bc27d786f4bc2bb20f2162ba";

fn material(version: u32, suite: Suite, secret: &[u8]) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let m = Material::derive(version, suite, secret).unwrap();
    (m.key().to_vec(), m.iv.to_vec(), m.hp().to_vec())
}

fn mask(keys: &Keys, sample: &str) -> Vec<u8> {
    keys.hp.mask(&hex(sample).try_into().unwrap()).to_vec()
}

fn secret(keys: &Keys) -> Vec<u8> {
    keys.secret[..keys.suite.hash_len()].to_vec()
}

#[test]
fn rfc9001_a1_initial_secrets_and_keys() {
    let dcid = hex(DCID);
    let c = Keys::initial(VERSION_1, &dcid, true);
    let s = Keys::initial(VERSION_1, &dcid, false);
    assert_eq!(
        secret(&c),
        hex("c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea")
    );
    assert_eq!(
        secret(&s),
        hex("3c199828fd139efd216c155ad844cc81fb82fa8d7446fa7d78be803acdda951b")
    );
    let (key, iv, hp) = material(VERSION_1, Suite::Aes128Gcm, &secret(&c));
    assert_eq!(key, hex("1f369613dd76d5467730efcbe3b1a22d"));
    assert_eq!(iv, hex("fa044b2f42a3fd3b46fb255c"));
    assert_eq!(hp, hex("9f50449e04a0e810283a1e9933adedd2"));
    let (key, iv, hp) = material(VERSION_1, Suite::Aes128Gcm, &secret(&s));
    assert_eq!(key, hex("cf3a5331653c364c88f0f379b6067e37"));
    assert_eq!(iv, hex("0ac1493ca1905853b0bba03e"));
    assert_eq!(hp, hex("c206b8d9b9f0f37644430b490eeaa314"));
    // The HkdfLabels printed in RFC 9001 A.1 and RFC 9369 A.1.
    let mut buf = [0u8; MAX_HKDF_LABEL];
    let l = hkdf_label(32, label::CLIENT_IN, &mut buf).unwrap();
    assert_eq!(l, &hex("00200f746c73313320636c69656e7420696e00")[..]);
    let l = hkdf_label(16, label::HP_V1, &mut buf).unwrap();
    assert_eq!(l, &hex("00100d746c733133207175696320687000")[..]);
    let l = hkdf_label(16, label::KEY_V2, &mut buf).unwrap();
    assert_eq!(l, &hex("001010746c73313320717569637632206b657900")[..]);
    assert!(hkdf_label(16, &[b'x'; 40], &mut buf).is_none());
}

#[test]
fn rfc9001_a2_client_initial_decrypts_to_a_client_hello() {
    let dcid = hex(DCID);
    let keys = Keys::initial(VERSION_1, &dcid, true);
    assert_eq!(
        mask(&keys, "d1b1c98dd7689fb8ec11d242b123dc9b"),
        hex("437b9aec36")
    );
    let datagram = hex(V1_A2_PACKET);
    assert_eq!(datagram.len(), 1200);
    let pkt = split_datagram(&datagram, None).next().unwrap().unwrap();
    assert_eq!(pkt.ty, PacketType::Initial);
    assert_eq!(pkt.dcid, &dcid[..]);
    assert_eq!(pkt.pn_offset, 18);
    let mut out = Vec::new();
    let opened = keys.open(&pkt, None, &mut out).unwrap();
    assert_eq!(
        opened,
        Opened {
            pn: 2,
            key_phase: false,
            first_byte: 0xc3
        }
    );
    assert_eq!(out.len(), 1162);
    let crypto = hex(V1_A2_CRYPTO);
    assert_eq!(&out[..crypto.len()], &crypto[..]);
    let fr: Vec<Frame<'_>> = frames(&out).map(Result::unwrap).collect();
    assert_eq!(fr.len(), 2);
    let Frame::Crypto { offset: 0, data } = fr[0] else {
        panic!("first frame {:?}", fr[0]);
    };
    assert_eq!(data[0], 0x01, "ClientHello");
    assert!(data.windows(11).any(|w| w == b"example.com"));
    assert_eq!(fr[1], Frame::Padding(1162 - 245));
    // The server's keys do not open the client's packet.
    let server = Keys::initial(VERSION_1, &dcid, false);
    assert_eq!(server.open(&pkt, None, &mut out), Err(OpenError::BadTag));
    assert!(out.is_empty());
}

#[test]
fn rfc9001_a3_server_initial() {
    let keys = Keys::initial(VERSION_1, &hex(DCID), false);
    assert_eq!(
        mask(&keys, "2cd0991cd25b0aac406a5816b6394100"),
        hex("2ec0d8356a")
    );
    let datagram = hex(V1_A3_PACKET);
    let pkt = split_datagram(&datagram, None).next().unwrap().unwrap();
    assert_eq!(pkt.scid, &hex("f067a5502a4262b5")[..]);
    assert!(pkt.dcid.is_empty());
    let mut out = Vec::new();
    let opened = keys.open(&pkt, None, &mut out).unwrap();
    assert_eq!(opened.pn, 1);
    assert_eq!(opened.first_byte, 0xc1);
    assert_eq!(out, hex(V1_A3_PAYLOAD));
    // With largest_pn known (0 before it), expansion still yields 1.
    assert_eq!(keys.open(&pkt, Some(0), &mut out).unwrap().pn, 1);
}

#[test]
fn rfc9001_a4_retry_integrity() {
    let datagram = hex(V1_A4_RETRY);
    let pkt = split_datagram(&datagram, None).next().unwrap().unwrap();
    assert_eq!(pkt.ty, PacketType::Retry);
    assert_eq!(pkt.token, b"token");
    assert_eq!(pkt.scid, &hex("f067a5502a4262b5")[..]);
    assert!(verify_retry(&pkt, &hex(DCID)));
    assert!(!verify_retry(&pkt, &hex("8394c8f03e515709")));
    let keys = Keys::initial(VERSION_1, &hex(DCID), false);
    assert_eq!(
        keys.open(&pkt, None, &mut Vec::new()),
        Err(OpenError::Unsupported)
    );
    // A flipped bit in the token breaks the tag.
    let mut bad = datagram.clone();
    bad[16] ^= 1;
    let pkt = split_datagram(&bad, None).next().unwrap().unwrap();
    assert!(!verify_retry(&pkt, &hex(DCID)));
}

#[test]
fn rfc9001_a5_chacha20_short_header_and_key_update() {
    let secret_bytes = hex(A5_SECRET);
    let (key, iv, hp) = material(VERSION_1, Suite::ChaCha20Poly1305, &secret_bytes);
    assert_eq!(
        key,
        hex("c6d98ff3441c3fe1b2182094f69caa2ed4b716b65488960a7a984979fb23e1c8")
    );
    assert_eq!(iv, hex("e0459b3474bdd0e44a41c144"));
    assert_eq!(
        hp,
        hex("25a282b9e82f06f21f488917a4fc8f1b73573685608597d0efcb076b0ab7a7a4")
    );
    let keys = Keys::from_secret(VERSION_1, Suite::ChaCha20Poly1305, &secret_bytes).unwrap();
    assert_eq!(
        mask(&keys, "5e5cd55c41f69080575d7999c25a5bfb"),
        hex("aefefe7d03")
    );
    assert_eq!(
        secret(&keys.next_phase()),
        hex("1223504755036d556342ee9361d253421a826c9ecdf3c7148684b36b714881f9")
    );
    let datagram = hex(V1_A5_PACKET);
    let pkt = split_datagram(&datagram, Some(0)).next().unwrap().unwrap();
    assert_eq!(pkt.ty, PacketType::OneRtt);
    assert_eq!(pkt.pn_offset, 1);
    let mut out = Vec::new();
    let opened = keys.open(&pkt, Some(A5_PN - 1), &mut out).unwrap();
    assert_eq!(opened.pn, A5_PN);
    assert_eq!(opened.first_byte, 0x42);
    assert!(!opened.key_phase);
    assert_eq!(out, [0x01], "a PING frame");
    // Wrong packet-number expansion gives the wrong nonce.
    assert_eq!(keys.open(&pkt, None, &mut out), Err(OpenError::BadTag));
}

#[test]
fn rfc9369_a1_v2_initial_keys() {
    let dcid = hex(DCID);
    let c = Keys::initial(VERSION_2, &dcid, true);
    let s = Keys::initial(VERSION_2, &dcid, false);
    assert_eq!(
        secret(&c),
        hex("14ec9d6eb9fd7af83bf5a668bc17a7e283766aade7ecd0891f70f9ff7f4bf47b")
    );
    assert_eq!(
        secret(&s),
        hex("0263db1782731bf4588e7e4d93b7463907cb8cd8200b5da55a8bd488eafc37c1")
    );
    let (key, iv, hp) = material(VERSION_2, Suite::Aes128Gcm, &secret(&c));
    assert_eq!(key, hex("8b1a0bc121284290a29e0971b5cd045d"));
    assert_eq!(iv, hex("91f73e2351d8fa91660e909f"));
    assert_eq!(hp, hex("45b95e15235d6f45a6b19cbcb0294ba9"));
    let (key, iv, hp) = material(VERSION_2, Suite::Aes128Gcm, &secret(&s));
    assert_eq!(key, hex("82db637861d55e1d011f19ea71d5d2a7"));
    assert_eq!(iv, hex("dd13c276499c0249d3310652"));
    assert_eq!(hp, hex("edf6d05c83121201b436e16877593c3a"));
}

#[test]
fn rfc9369_a2_a3_v2_initials() {
    let dcid = hex(DCID);
    let client = Keys::initial(VERSION_2, &dcid, true);
    assert_eq!(
        mask(&client, "ffe67b6abcdb4298b485dd04de806071"),
        hex("94a0c95e80")
    );
    let datagram = hex(V2_A2_PACKET);
    let pkt = split_datagram(&datagram, None).next().unwrap().unwrap();
    assert_eq!(pkt.ty, PacketType::Initial);
    assert_eq!(pkt.version, VERSION_2);
    let mut out = Vec::new();
    let opened = client.open(&pkt, None, &mut out).unwrap();
    assert_eq!((opened.pn, opened.first_byte), (2, 0xd3));
    assert_eq!(&out[..245], &hex(V1_A2_CRYPTO)[..]);
    assert!(out[245..].iter().all(|&b| b == 0));
    // v1 keys do not open a v2 packet.
    let v1 = Keys::initial(VERSION_1, &dcid, true);
    assert_eq!(v1.open(&pkt, None, &mut out), Err(OpenError::BadTag));

    let server = Keys::initial(VERSION_2, &dcid, false);
    assert_eq!(
        mask(&server, "6f05d8a4398c47089698baeea26b91eb"),
        hex("4dd92e91ea")
    );
    let datagram = hex(V2_A3_PACKET);
    let pkt = split_datagram(&datagram, None).next().unwrap().unwrap();
    assert_eq!(pkt.ty, PacketType::Initial);
    let opened = server.open(&pkt, None, &mut out).unwrap();
    assert_eq!((opened.pn, opened.first_byte), (1, 0xd1));
    assert_eq!(out, hex(V1_A3_PAYLOAD));
}

#[test]
fn rfc9369_a4_v2_retry() {
    let datagram = hex(V2_A4_RETRY);
    let pkt = split_datagram(&datagram, None).next().unwrap().unwrap();
    assert_eq!(pkt.ty, PacketType::Retry);
    assert_eq!(pkt.version, VERSION_2);
    assert_eq!(pkt.token, b"token");
    assert!(verify_retry(&pkt, &hex(DCID)));
    assert!(!verify_retry(&pkt, &hex("8394c8f03e515700")));
}

#[test]
fn rfc9369_a5_v2_chacha20_short_header() {
    let secret_bytes = hex(A5_SECRET);
    let (key, iv, hp) = material(VERSION_2, Suite::ChaCha20Poly1305, &secret_bytes);
    assert_eq!(
        key,
        hex("3bfcddd72bcf02541d7fa0dd1f5f9eeea817e09a6963a0e6c7df0f9a1bab90f2")
    );
    assert_eq!(iv, hex("a6b5bc6ab7dafce30ffff5dd"));
    assert_eq!(
        hp,
        hex("d659760d2ba434a226fd37b35c69e2da8211d10c4f12538787d65645d5d1b8e2")
    );
    let keys = Keys::from_secret(VERSION_2, Suite::ChaCha20Poly1305, &secret_bytes).unwrap();
    assert_eq!(
        secret(&keys.next_phase()),
        hex("c69374c49e3d2a9466fa689e49d476db5d0dfbc87d32ceeaa6343fd0ae4c7d88")
    );
    assert_eq!(
        mask(&keys, "e7b6b932bc27d786f4bc2bb20f2162ba"),
        hex("97580e32bf")
    );
    let datagram = hex(V2_A5_PACKET);
    let pkt = split_datagram(&datagram, Some(0)).next().unwrap().unwrap();
    let mut out = Vec::new();
    let opened = keys.open(&pkt, Some(A5_PN - 1), &mut out).unwrap();
    assert_eq!((opened.pn, opened.first_byte), (A5_PN, 0x42));
    assert_eq!(out, [0x01]);
}

#[test]
fn rfc9000_a3_packet_number_expansion() {
    // RFC 9000 Appendix A.3's example.
    assert_eq!(decode_pn(Some(0xa82f_30ea), 0x9b32, 2), 0xa82f_9b32);
    assert_eq!(decode_pn(None, 0, 1), 0);
    assert_eq!(decode_pn(None, 5, 4), 5);
    assert_eq!(decode_pn(Some(254), 0x01, 1), 257);
    assert_eq!(decode_pn(Some(300), 0xff, 1), 255);
    // Extremes do not overflow.
    let _ = decode_pn(Some(u64::MAX), 0xffff_ffff, 4);
    let _ = decode_pn(Some((1 << 62) - 1), 0, 1);
    let _ = decode_pn(Some(0), 0xff, 9);
}

/// Protects `payload` behind `header` (unprotected, the packet number in its last `pn_len`
/// bytes), as a sender would: seal, then mask.
fn protect(keys: &Keys, header: &[u8], pn: u64, payload: &[u8]) -> Vec<u8> {
    let pn_len = usize::from(header[0] & 3) + 1;
    let pn_offset = header.len() - pn_len;
    let mut nonce = [0u8; 12];
    nonce.copy_from_slice(&keys.iv[..]);
    for (n, p) in nonce[4..].iter_mut().zip(pn.to_be_bytes()) {
        *n ^= p;
    }
    let mut body = payload.to_vec();
    let tag = keys.aead.seal(&nonce, header, &mut body);
    let mut pkt = header.to_vec();
    pkt.extend_from_slice(&body);
    pkt.extend_from_slice(&tag);
    let sample: [u8; 16] = pkt[pn_offset + 4..pn_offset + 20].try_into().unwrap();
    let mask = keys.hp.mask(&sample);
    let bits = if pkt[0] & 0x80 != 0 { 0x0f } else { 0x1f };
    pkt[0] ^= mask[0] & bits;
    for i in 0..pn_len {
        pkt[pn_offset + i] ^= mask[1 + i];
    }
    pkt
}

#[test]
fn key_update_keeps_the_header_key_and_flips_the_phase() {
    for (suite, len) in [
        (Suite::Aes128Gcm, 32),
        (Suite::Aes256Gcm, 48),
        (Suite::ChaCha20Poly1305, 32),
    ] {
        let secret: Vec<u8> = (0..len as u8).collect();
        let k0 = Keys::from_secret(VERSION_1, suite, &secret).unwrap();
        assert!(Keys::from_secret(VERSION_1, suite, &secret[..len - 1]).is_none());
        let k1 = k0.next_phase();
        // Short header, key phase 1, 2-byte packet number 0x0105, 4-byte DCID.
        let header = [0x45, 0xaa, 0xbb, 0xcc, 0xdd, 0x01, 0x05];
        let datagram = protect(&k1, &header, 0x105, b"\x01hello stream data padding");
        let pkt = split_datagram(&datagram, Some(4)).next().unwrap().unwrap();
        let mut out = Vec::new();
        assert_eq!(
            k0.first_byte(&pkt),
            Ok(0x45),
            "same header key in every phase"
        );
        let opened = k1.open(&pkt, Some(0x100), &mut out).unwrap();
        assert!(opened.key_phase, "{suite}");
        assert_eq!(opened.pn, 0x105);
        assert_eq!(out, b"\x01hello stream data padding");
        assert_eq!(k0.open(&pkt, Some(0x100), &mut out), Err(OpenError::BadTag));
        assert_eq!(
            k1.next_phase().open(&pkt, Some(0x100), &mut out),
            Err(OpenError::BadTag)
        );
    }
}

#[test]
fn suites_and_debug_redaction() {
    for cs in [0x1301u16, 0x1302, 0x1303] {
        assert_eq!(Suite::from_codepoint(cs).unwrap().codepoint(), cs);
        assert_eq!(Suite::try_from(cs).map(Suite::codepoint), Ok(cs));
    }
    assert_eq!(Suite::try_from(0x1304), Err(0x1304));
    let keys = Keys::from_secret(VERSION_1, Suite::Aes128Gcm, &hex(A5_SECRET)).unwrap();
    let dbg = format!("{keys:?}");
    assert!(dbg.contains("redacted"), "{dbg}");
    assert!(!dbg.contains("9ac3") && !dbg.contains("154"), "{dbg}");
    assert_eq!(keys.version(), VERSION_1);
    assert_eq!(keys.suite(), Suite::Aes128Gcm);
}

#[test]
fn draft_versions_use_their_salts() {
    // Draft-29 Initials use draft-29's salt: the keys differ from v1's.
    let dcid = hex(DCID);
    let d29 = Keys::initial(0xff00_001d, &dcid, true);
    let v1 = Keys::initial(VERSION_1, &dcid, true);
    assert_ne!(secret(&d29), secret(&v1));
    assert_eq!(initial_salt(0xff00_0017), SALT_DRAFT23);
    assert_eq!(initial_salt(0xff00_0020), SALT_DRAFT29);
    assert_eq!(initial_salt(0x1234_5678), SALT_V1);
    // The RFC 9001 A.4 Retry as draft-29 sends it (draft-ietf-quic-tls-29 A.4).
    let d = hex("ffff00001d0008f067a5502a4262b5746f6b656ed16926d81f6f9ca2953a8aa4575e1e49");
    let pkt = split_datagram(&d, None).next().unwrap().unwrap();
    assert_eq!(pkt.ty, PacketType::Retry);
    assert!(verify_retry(&pkt, &dcid));
    assert!(!verify_retry(&pkt, &dcid[1..]));
}

#[test]
fn every_truncated_prefix_fails() {
    let dcid = hex(DCID);
    let keys = Keys::initial(VERSION_1, &dcid, true);
    let full = hex(V1_A2_PACKET);
    let mut out = Vec::new();
    for n in 0..full.len() {
        for pkt in split_datagram(&full[..n], None).flatten() {
            assert!(keys.open(&pkt, None, &mut out).is_err(), "prefix {n}");
        }
    }
    let short = hex(V1_A5_PACKET);
    let keys = Keys::from_secret(VERSION_1, Suite::ChaCha20Poly1305, &hex(A5_SECRET)).unwrap();
    for n in 0..short.len() {
        for pkt in split_datagram(&short[..n], Some(0)).flatten() {
            assert!(keys.open(&pkt, Some(A5_PN - 1), &mut out).is_err(), "{n}");
        }
    }
}

#[test]
fn altered_bytes_fail_the_tag() {
    let keys = Keys::initial(VERSION_1, &hex(DCID), false);
    let good = hex(V1_A3_PACKET);
    let mut out = Vec::new();
    for i in [0, 5, 19, 40, good.len() - 1] {
        let mut bad = good.clone();
        bad[i] ^= 0x10;
        if let Some(Ok(pkt)) = split_datagram(&bad, None).next() {
            assert!(keys.open(&pkt, None, &mut out).is_err(), "byte {i}");
        }
    }
}

#[test]
fn hand_built_packets_never_panic() {
    // Packets whose header claims odd things: huge pn_offset, tiny raw.
    let keys = Keys::initial(VERSION_1, &hex(DCID), true);
    let mut out = Vec::new();
    let raw = [0xc3u8; 30];
    for pn_offset in [0, 1, 9, 10, 11, 25, usize::MAX - 3, usize::MAX] {
        let pkt = Packet {
            ty: PacketType::Initial,
            version: 1,
            dcid: &[],
            scid: &[],
            token: &[],
            pn_offset,
            raw: &raw,
            supported_versions: Vec::new(),
            retry_integrity_tag: None,
        };
        assert!(keys.open(&pkt, Some(u64::MAX), &mut out).is_err());
        assert!(!verify_retry(&pkt, &[]));
    }
}
