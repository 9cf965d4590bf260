//! Tests for certificate facts. Expected values come from OpenSSL 3.0.19:
//! `openssl x509 -inform der -noout -nameopt RFC2253,-esc_msb -subject -issuer -serial -dates
//! -fingerprint -sha1 -ext subjectAltName -text`, dates turned into Unix seconds with `date -u`.

use super::*;
use crate::quic::tls::tests::{HS_ILLUSTRATED, HS_YOUTUBE, unhex};
use crate::quic::tls::{CertificateMsg, handshake_messages, msg_type};

/// Generated with OpenSSL 3.0.19 for this test (`openssl ca -selfsign`): EC P-256, subject
/// `/CN=smb.example.test/O=Contoso, Ltd/C=US` (encoded in that order), SAN DNS:smb.example.test,
/// DNS:fs1.example.test, SKI, CA:true, serial 0x1001, 2025-01-01 to 2035-01-01.
const GEN_DNS: &str = "308201ce30820175a00302010202021001300a06082a8648ce3d040302303f3119301706035504030c10736d622e6578616d706c652e7465737431153013060355040a0c0c436f6e746f736f2c204c7464310b3009060355040613025553301e170d3235303130313030303030305a170d3335303130313030303030305a303f3119301706035504030c10736d622e6578616d706c652e7465737431153013060355040a0c0c436f6e746f736f2c204c7464310b30090603550406130255533059301306072a8648ce3d020106082a8648ce3d0301070342000444f2d7f06e39f31a70d61020f2307ccd694534e6b41eafe647b4b5afa789d8a3fc54e51a212cfe99df8a54c2719f8643b89c104a06604053ffe8bcf583357baba361305f302d0603551d11042630248210736d622e6578616d706c652e7465737482106673312e6578616d706c652e74657374301d0603551d0e041604140e9a840bcf1b08800351188ce3411f3430ce205e300f0603551d130101ff040530030101ff300a06082a8648ce3d040302034700304402200766c951600a1bdf04052b3aca338406c91168afcf284128b1964262358d2a5802205e87d6b34d34eab4bd33b8a600888bd6b4f2902cfdf7f995781aabb00d7680b5";

/// Generated likewise, issued by GEN_DNS: RSA 2048, `/CN=192.0.2.10/C=US`, SAN IP:192.0.2.10,
/// IP:2001:db8::10, DNS:fs2.example.test, SKI and AKI, serial 0x1002,
/// 2025-06-01 12:00:00 to 2026-06-01 12:00:00.
const GEN_IP: &str = "3082029330820239a00302010202021002300a06082a8648ce3d040302303f3119301706035504030c10736d622e6578616d706c652e7465737431153013060355040a0c0c436f6e746f736f2c204c7464310b3009060355040613025553301e170d3235303630313132303030305a170d3236303630313132303030305a30223113301106035504030c0a3139322e302e322e3130310b300906035504061302555330820122300d06092a864886f70d01010105000382010f003082010a0282010100b34db78a8a78d2e37e88c4ee48f4511e307fe53df36db4781f76b5c1ff50a0a0c632e334331c68b8540179671cf583cf0cda78f1c48e63ace3a44a9e2d1524d3548774dd64cff7ce3916b274607461e32ab9901b7758911945da91a499b48ee77f038975452893f9d33b69d6fa03d454c5de6b46e4a77f8cea1037a9dbecb34bd570f72e19d908070def6fa09cb9c666e129549a3312dc28e9877fd4dc4e828f0bbae84ccce44191c454a1a3e4ddeb342f7f775edcf65f463e51f289c8f0f84108f8da951ce1fa88a20b7b88d777f0d070a5794d7397d6cd0053bb385aa72f54b13625b594abafdae9b7132cdf8d4d6d7093808f099204ca0e714e004c1d86530203010001a377307530330603551d11042c302a8704c000020a871020010db800000000000000000000001082106673322e6578616d706c652e74657374301d0603551d0e0416041475c7fb3c0734263eeaca6f9a96cb5ebf4e4f71e3301f0603551d230418301680140e9a840bcf1b08800351188ce3411f3430ce205e300a06082a8648ce3d0403020348003045022100b9e6f6df9ad1a7ca82d12a52646c73cb87b45304347b087e5faad4d3b579f3d102200b89d30b1591e23f51fe1e17430cb5ac5678c52bb5b5d8b69b44e29fa0a70977";

/// Generated likewise, self-signed Ed25519, `/CN=10.0.0.5`, no SAN, serial 0x1003, expired:
/// 2020-01-01 to 2021-01-01.
const GEN_OLD: &str = "308201013081b4a00302010202021003300506032b657030133111300f06035504030c0831302e302e302e35301e170d3230303130313030303030305a170d3231303130313030303030305a30133111300f06035504030c0831302e302e302e35302a300506032b65700321004557527240f23c6d18b9fb9e702c228dec27d60f36f52694f31a05a2de56cbcea32c302a30090603551d1304023000301d0603551d0e04160414bf655257f270f95867d3137c4d9e7af5af2153eb300506032b6570034100e6238972ad31a8356ac9d6deb04f2cbb24ad14e25dafe2b0d4339a51f7c74d3de1d334877b7de76d332c0d8caeaa233419ee2fd1083cd0b80b23f597597b1a0c";

/// Generated with `openssl req -x509 -multivalue-rdn -utf8` for name formatting: DC, DC, a
/// multi-valued O+OU RDN, a CN that needs escaping (`#lead, "q" é `), an attribute with an
/// unregistered OID 1.2.3.4, emailAddress; serial 0; EC P-256.
const GEN_ODD: &str = "3082021e308201c4020100300a06082a8648ce3d04030230819a31143012060a0992268993f22c64011916047465737431173015060a0992268993f22c64011916076578616d706c65311f300c060355040b0c0546696c6573300f060355040a0c0846616272696b616d3117301506035504030c0e236c6561642c2022712220c3a920310c300a06032a03040c03666f6f3121301f06092a864886f70d010901161261646d696e406578616d706c652e74657374301e170d3236313132323135333332305a170d3236313232323135333332305a30819a31143012060a0992268993f22c64011916047465737431173015060a0992268993f22c64011916076578616d706c65311f300c060355040b0c0546696c6573300f060355040a0c0846616272696b616d3117301506035504030c0e236c6561642c2022712220c3a920310c300a06032a03040c03666f6f3121301f06092a864886f70d010901161261646d696e406578616d706c652e746573743059301306072a8648ce3d020106082a8648ce3d0301070342000444f2d7f06e39f31a70d61020f2307ccd694534e6b41eafe647b4b5afa789d8a3fc54e51a212cfe99df8a54c2719f8643b89c104a06604053ffe8bcf583357bab300a06082a8648ce3d0403020348003045022100e7a2142ca46493c61a4b2f834998c78ec1b4571d17524d302f8b8eb01dcff8c802200cf1b1206a66c1d791f2c2b2102ea7a309fb99c1684b3920aab9987f1b25ea33";

/// `wireshark/quic-with-secrets.pcapng` frame 51: the leaf of the brotli CompressedCertificate,
/// as tshark decompresses it (`-T fields -e tls.handshake.certificate`).
const CLOUDFLARE_LEAF: &str = "30820543308204eaa00302010202100e14e2415c322b5f3d039fedae377985300a06082a8648ce3d040302304a310b300906035504061302555331193017060355040a1310436c6f7564666c6172652c20496e632e3120301e06035504031317436c6f7564666c61726520496e63204543432043412d33301e170d3232303531313030303030305a170d3233303531303233353935395a3075310b3009060355040613025553311330110603550408130a43616c69666f726e6961311630140603550407130d53616e204672616e636973636f31193017060355040a1310436c6f7564666c6172652c20496e632e311e301c06035504031315736e692e636c6f7564666c61726573736c2e636f6d3059301306072a8648ce3d020106082a8648ce3d030107034200045c194d7d5d7c5f78554970b34cd58ecad91abe9c8a0f8aae044af14e2642e6e02d1f369e5717fc564970ff0048c0c609c68eec6ed557af98acb639bd33945bb0a382038530820381301f0603551d23041830168014a5ce37eaebb0750e946788b445fad9241087961f301d0603551d0e041604143d93e5daa10ca34fd3d7f908ff78a363b8e06f50304c0603551d110445304382152a2e636c6f7564666c6172652d717569632e636f6d8215736e692e636c6f7564666c61726573736c2e636f6d8213636c6f7564666c6172652d717569632e636f6d300e0603551d0f0101ff040403020780301d0603551d250416301406082b0601050507030106082b06010505070302307b0603551d1f047430723037a035a0338631687474703a2f2f63726c332e64696769636572742e636f6d2f436c6f7564666c617265496e6345434343412d332e63726c3037a035a0338631687474703a2f2f63726c342e64696769636572742e636f6d2f436c6f7564666c617265496e6345434343412d332e63726c303e0603551d20043730353033060667810c0102023029302706082b06010505070201161b687474703a2f2f7777772e64696769636572742e636f6d2f435053307606082b06010505070101046a3068302406082b060105050730018618687474703a2f2f6f6373702e64696769636572742e636f6d304006082b060105050730028634687474703a2f2f636163657274732e64696769636572742e636f6d2f436c6f7564666c617265496e6345434343412d332e637274300c0603551d130101ff040230003082017d060a2b06010401d6790204020482016d048201690167007600e83ed0da3ef5063532e75728bc896bc903d3cbd1116beceb69e1777d6d06bd6e00000180b20efec40000040300473045022008ee43d1fa54b8deeae0fadcb867f605988b04f917a6c8d5e59d47db613d67870221009463f6c95bcdcb1949f058ed0f5227af664c6400b7e849bf6cbe33cf10780c9300750035cf191bbfb16c57bf0fad4c6d42cbbbb627202651ea3fe12aefa803c33bd64c00000180b20efed4000004030046304402206f3a895a5056c90e0d51246be6bf5ee5df5a1ede50b1fc7ae10a030827aa268102202c783b514a08553124f93fe0bbbf941d4ac2d8cde320348efed159c445ca30a6007600b73efb24df9c4dba75f239c5ba58f46c5dfc42cf7a9f35c49e1d098125edb49900000180b20efecb0000040300473045022017e6b004ce0a9e387dd492ad25db6595e6c4443719932126df712c43f66841b2022100dc4a02173f2eb3564b7f59e132ab10de3e5e00b5e41a823e5901db401ff375da300a06082a8648ce3d04030203470030440220244b7bb76598bd6a6925226c7bbc3c23f3724f165bd0d8d76ff3f84c4a892aca0220333182f3b0d5c6f0613001717b5ad15ec169ce1d26ab53455da91c9326636619";

/// The certificates of the Certificate message in a server Handshake flight.
fn chain(flight: &str) -> Vec<Vec<u8>> {
    let bytes = unhex(flight);
    let (msgs, _) = handshake_messages(&bytes);
    let (_, body) = msgs
        .into_iter()
        .find(|m| m.0 == msg_type::CERTIFICATE)
        .expect("flight has a Certificate");
    let msg = CertificateMsg::parse(body).unwrap();
    msg.certificates.iter().map(|c| c.to_vec()).collect()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn generated_dns_certificate() {
    let c = CertInfo::parse(&unhex(GEN_DNS)).unwrap();
    assert_eq!(c.subject, r"C=US,O=Contoso\, Ltd,CN=smb.example.test");
    assert_eq!(c.issuer, c.subject);
    assert_eq!(c.common_name.as_deref(), Some("smb.example.test"));
    assert_eq!(c.dns_names, ["smb.example.test", "fs1.example.test"]);
    assert!(c.ip_addresses.is_empty());
    assert_eq!(c.not_before, 1735689600);
    assert_eq!(c.not_after, 2051222400);
    assert_eq!(
        c.sha1_thumbprint,
        "5009A125A1CDA1B9C799187D24D8677F791AB651"
    );
    assert_eq!(c.serial, "1001");
    assert!(c.self_signed);
    assert_eq!(c.key_algorithm, "EC P-256");
    assert_eq!(c.signature_algorithm, "ecdsa-with-SHA256");
    assert!(!c.names_ip());
}

#[test]
fn generated_ip_certificate() {
    let c = CertInfo::parse(&unhex(GEN_IP)).unwrap();
    assert_eq!(c.subject, "C=US,CN=192.0.2.10");
    assert_eq!(c.issuer, r"C=US,O=Contoso\, Ltd,CN=smb.example.test");
    assert_eq!(c.common_name.as_deref(), Some("192.0.2.10"));
    assert_eq!(c.dns_names, ["fs2.example.test"]);
    assert_eq!(c.ip_addresses, [ip("192.0.2.10"), ip("2001:db8::10")]);
    assert_eq!(c.not_before, 1748779200);
    assert_eq!(c.not_after, 1780315200);
    assert_eq!(
        c.sha1_thumbprint,
        "0DB4A8983ABF99FB76B595D84979462605A47E8D"
    );
    assert_eq!(c.serial, "1002");
    assert!(!c.self_signed);
    assert_eq!(c.key_algorithm, "RSA 2048");
    assert_eq!(c.signature_algorithm, "ecdsa-with-SHA256");
    assert!(c.names_ip());
}

#[test]
fn generated_expired_certificate() {
    let c = CertInfo::parse(&unhex(GEN_OLD)).unwrap();
    assert_eq!(c.subject, "CN=10.0.0.5");
    assert_eq!(c.issuer, "CN=10.0.0.5");
    assert!(c.dns_names.is_empty() && c.ip_addresses.is_empty());
    assert_eq!(c.not_before, 1577836800);
    assert_eq!(c.not_after, 1609459200);
    assert_eq!(
        c.sha1_thumbprint,
        "FB65BF442129F9D4504072CFF4304FBBB4C495FB"
    );
    assert_eq!(c.serial, "1003");
    assert!(c.self_signed);
    assert_eq!(c.key_algorithm, "Ed25519");
    assert_eq!(c.signature_algorithm, "ED25519");
    // No IP SAN, but the CN is an address.
    assert!(c.names_ip());

    // 2024-01-01: long expired.
    assert!(c.expired_at(1704067200));
    assert!(!c.expires_within(1704067200, 365 * 86400));
    // The last valid second, and the one after.
    assert!(!c.expired_at(1609459200));
    assert!(c.expired_at(1609459201));
    // A day before notAfter: expires within two days, not within half a day.
    assert!(c.expires_within(1609459200 - 86400, 2 * 86400));
    assert!(!c.expires_within(1609459200 - 86400, 43200));
    assert!(c.not_yet_valid_at(1577836799));
    assert!(!c.not_yet_valid_at(1577836800));
    assert!(!c.expires_within(i64::MAX - 1, i64::MAX)); // expired; the sum saturates
    assert!(c.expires_within(0, i64::MAX));
}

#[test]
fn names_that_need_escaping() {
    let c = CertInfo::parse(&unhex(GEN_ODD)).unwrap();
    // OpenSSL prints this name byte for byte the same.
    let name = concat!(
        r"emailAddress=admin@example.test,1.2.3.4=#0C03666F6F,",
        r#"CN=\#lead\, \"q\" é\ ,O=Fabrikam+OU=Files,DC=example,DC=test"#
    );
    assert_eq!(c.subject, name);
    assert_eq!(c.issuer, name);
    assert_eq!(c.common_name.as_deref(), Some("#lead, \"q\" é "));
    assert_eq!(c.serial, "00");
    assert_eq!(
        c.sha1_thumbprint,
        "4045415CB5E1DFBF56F2574B0E086D4D16786453"
    );
    assert_eq!(c.not_before, 1795361600);
    assert_eq!(c.not_after, 1797953600);

    assert_eq!(escape(" a+b "), r"\ a\+b\ ");
    assert_eq!(escape("x\0y;<>"), r"x\00y\;\<\>");
    assert_eq!(escape("#"), r"\#");
    assert_eq!(escape(""), "");
}

#[test]
fn illustrated_quic_certificate() {
    // illustrated-quic/capture.pcap frame 2, Certificate (Handshake level).
    let certs = chain(HS_ILLUSTRATED);
    assert_eq!(certs.len(), 1);
    let c = CertInfo::parse(&certs[0]).unwrap();
    assert_eq!(c.subject, "CN=example.ulfheim.net,C=US");
    assert_eq!(c.issuer, "O=Example CA,C=US");
    assert!(c.dns_names.is_empty() && c.ip_addresses.is_empty());
    assert_eq!(c.not_before, 1538703497);
    assert_eq!(c.not_after, 1570239497);
    assert_eq!(
        c.sha1_thumbprint,
        "D6A94534B097B973186B13B34D742326538D49DF"
    );
    assert_eq!(c.serial, "155A92ADC2048F90");
    assert!(!c.self_signed);
    assert_eq!(c.key_algorithm, "RSA 2048");
    assert_eq!(c.signature_algorithm, "sha256WithRSAEncryption");
    assert!(!c.names_ip());
}

#[test]
fn youtube_chain() {
    // wireshark/quic_follow_multistream.pcapng frames 4-6, Certificate: leaf and intermediate.
    let certs = chain(HS_YOUTUBE);
    assert_eq!(certs.len(), 2);
    let leaf = CertInfo::parse(&certs[0]).unwrap();
    assert_eq!(
        leaf.subject,
        "CN=*.google.com,O=Google LLC,L=Mountain View,ST=California,C=US"
    );
    assert_eq!(leaf.issuer, "CN=GTS CA 1O1,O=Google Trust Services,C=US");
    assert_eq!(leaf.dns_names.len(), 75);
    assert_eq!(leaf.dns_names[0], "*.google.com");
    assert_eq!(leaf.dns_names[74], "source.android.google.cn");
    assert!(leaf.dns_names.iter().any(|d| d == "youtube.com"));
    assert_eq!(leaf.not_before, 1620610459);
    assert_eq!(leaf.not_after, 1627868058);
    assert_eq!(
        leaf.sha1_thumbprint,
        "57FECCB1D0EA5DB51B1A76B07D0326A48D1F9083"
    );
    assert_eq!(leaf.serial, "BFF10D86136F613D0300000000CC17DE");
    assert!(!leaf.self_signed);
    assert_eq!(leaf.key_algorithm, "EC P-256");
    assert_eq!(leaf.signature_algorithm, "sha256WithRSAEncryption");

    let ca = CertInfo::parse(&certs[1]).unwrap();
    assert_eq!(ca.subject, leaf.issuer);
    assert_eq!(
        ca.issuer,
        "CN=GlobalSign,O=GlobalSign,OU=GlobalSign Root CA - R2"
    );
    assert_eq!(ca.not_before, 1497484842);
    assert_eq!(ca.not_after, 1639526442);
    assert_eq!(
        ca.sha1_thumbprint,
        "DFE2070C79E7FF36A925FFA327FFE3DEECF8F9C2"
    );
    assert_eq!(ca.serial, "01E3B49AA18D8AA981256950B8");
    assert_eq!(ca.key_algorithm, "RSA 2048");
    assert!(!ca.self_signed);
}

#[test]
fn cloudflare_leaf() {
    let c = CertInfo::parse(&unhex(CLOUDFLARE_LEAF)).unwrap();
    assert_eq!(
        c.subject,
        r"CN=sni.cloudflaressl.com,O=Cloudflare\, Inc.,L=San Francisco,ST=California,C=US"
    );
    assert_eq!(
        c.issuer,
        r"CN=Cloudflare Inc ECC CA-3,O=Cloudflare\, Inc.,C=US"
    );
    assert_eq!(
        c.dns_names,
        [
            "*.cloudflare-quic.com",
            "sni.cloudflaressl.com",
            "cloudflare-quic.com"
        ]
    );
    assert_eq!(c.not_before, 1652227200);
    assert_eq!(c.not_after, 1683763199);
    assert_eq!(
        c.sha1_thumbprint,
        "5495C0F0EE3453BCF5358BB5D86E9DBD0F046351"
    );
    assert_eq!(c.serial, "0E14E2415C322B5F3D039FEDAE377985");
    assert_eq!(c.key_algorithm, "EC P-256");
    assert_eq!(c.signature_algorithm, "ecdsa-with-SHA256");
    assert!(!c.self_signed && !c.names_ip());
}

#[test]
fn truncated_and_corrupt_der_never_panics() {
    let mut all: Vec<Vec<u8>> = [GEN_DNS, GEN_IP, GEN_OLD, GEN_ODD, CLOUDFLARE_LEAF]
        .iter()
        .map(|h| unhex(h))
        .collect();
    all.extend(chain(HS_YOUTUBE));
    all.extend(chain(HS_ILLUSTRATED));
    for der in &all {
        for n in 0..der.len() {
            assert!(CertInfo::parse(&der[..n]).is_err(), "prefix {n} parsed");
        }
        let mut longer = der.clone();
        longer.push(0);
        assert!(CertInfo::parse(&longer).is_err());
        let mut bytes = der.clone();
        for i in 0..bytes.len() {
            for flip in [0x01, 0x80, 0xff] {
                bytes[i] ^= flip;
                let _ = CertInfo::parse(&bytes);
                bytes[i] ^= flip;
            }
        }
    }
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    for _ in 0..5_000 {
        let mut buf = vec![0x30, 0x82, 0x01, 0x00];
        for _ in 0..260 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            buf.push(state as u8);
        }
        let _ = CertInfo::parse(&buf);
    }
}

#[test]
fn helpers() {
    assert_eq!(serial(&[0, 0, 0x80]), "80");
    assert_eq!(serial(&[0]), "00");
    assert_eq!(serial(&[]), "00");
    assert_eq!(bit_length(&[0, 0x01, 0xff]), 9);
    assert_eq!(bit_length(&[0x80, 0]), 16);
    assert_eq!(bit_length(&[0, 0]), 0);
    assert_eq!(ip_from_bytes(&[10, 0, 0, 1]), Some(ip("10.0.0.1")));
    assert_eq!(ip_from_bytes(&[10, 0, 0]), None);
}
