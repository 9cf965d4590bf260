use super::*;
use crate::crypto::vectors_tests::*;

/// One row of `shared/corpus/smb-keys.tsv`: session keys with the keys derived from them,
/// published with Wireshark's test suite (`test/suite_decryption.py`, v4.4.18) and the
/// Wireshark wiki SampleCaptures, independently re-derived there.
struct Row {
    file: &'static str,
    session_key: &'static str,
    cipher: Option<Cipher>,
    signing: &'static str,
    c2s: &'static str,
    s2c: &'static str,
    preauth: &'static str,
}

const ROWS: &[Row] = &[
    Row {
        file: "wireshark/smb300-aes-128-ccm.pcap.gz",
        session_key: "9a9ea16a0cdbeb6064772318073f172f",
        cipher: None,
        signing: "64da98983511cd4467112bae4374ea0d",
        c2s: "bff985870e81784d533fdc09497b8eab",
        s2c: "8be6cc53d4beba29387e69aef035d497",
        preauth: "",
    },
    Row {
        file: "wireshark/smb311-aes-128-ccm.pcap.gz",
        session_key: "f1fa528d3cd182cca67bd4596dabd885",
        cipher: Some(Cipher::AES_128_CCM),
        signing: "483b2b0494dd941f5ecc038d00b025b9",
        c2s: "35e69833c6578e438c8701cb40bf483e",
        s2c: "763d5552dbc9650b700869467a5857e4",
        preauth: "de24cb14f91c1d6739f0d7019bd90051f75a90b01b17a29245b9505f72e0107f\
                  13c08ab8aa24a0de2f55e4c5529c8dfcd85b95b108a0373dcc81071582cde00a",
    },
    Row {
        file: "wireshark/smb311-aes-128-gcm.pcap.gz",
        session_key: "e79161ded03bda1449b2c8e58f753953",
        cipher: Some(Cipher::AES_128_GCM),
        signing: "0c758dc61f1c8f65d1b1cbea55390c96",
        c2s: "7201623a31754e6581864581209dd3d2",
        s2c: "b02f5de25e0562075c3dc329fa2aa396",
        preauth: "c91a69d6b247bfc358cd649331d73d3cacd4e00b042b84ce677f0d1bc905b258\
                  834146182bb6f38e6c785345d029aef5dd4027007e3b9e88c818047e538b7c1a",
    },
    // AES-256 rows: a 16-byte NTLM session key as KDK, L = 256 for the cipher keys.
    Row {
        file: "wireshark/smb311-aes-256-ccm.pcap.gz",
        session_key: "6b559c2e60519e344581d086a6d3d050",
        cipher: Some(Cipher::AES_256_CCM),
        signing: "87920b5436afb071e655302117666fc9",
        c2s: "014fccd4a53554bf5b54b27a32512b35fca262b90e088a5efa7d6c952418578b",
        s2c: "1d34170138a77dac4abbe0149253c8b977a71f399081cda6cbaf62359670c1c5",
        preauth: "1ee13da5d6063594cd50dd66a3f14bd17296a62ea026ec51290358771d7c1ff5\
                  221432ce257aa4366a39f74495d32abc58fe7f61fe7521ba3ecb32ad72aed713",
    },
    Row {
        file: "wireshark/smb311-aes-256-gcm.pcap.gz",
        session_key: "6a5004adfbdef1abd5879800675324e5",
        cipher: Some(Cipher::AES_256_GCM),
        signing: "abc8ee68d3e854d9e35cfa5c395e4b40",
        c2s: "46b64f320a0f856b63b3a0dc2c058a67267830a8cbdd44a088fbf1d0308a981f",
        s2c: "484c30bf3e17e322e0d217764d4584a325ec0495519c3f1547e0f996ab76c4c4",
        preauth: "119fbef1ceaec12f3ab4e8b81db336061467dad5ff751518f43762bed5da7075\
                  d47f815183136d1213b587656ce71a838c1c0d19784a0f55d5d70fe15dc2558a",
    },
    Row {
        file: "suricata-verify/smb3-01__input.pcap",
        session_key: "28f2847263c83dc00621f742dd3f2e7b",
        cipher: None,
        signing: "69ac0197f65ea165dc5bfc5038a81d50",
        c2s: "81f0762857c4b01cc3e12eff0d184362",
        s2c: "6c9062802e06b81b06eff6989d166228",
        preauth: "",
    },
    Row {
        file: "zeek/smb311.pcap",
        session_key: "b25a135fc3dc14269f20d7cbc8716b6b",
        cipher: Some(Cipher::AES_128_CCM),
        signing: "16d03a8f8eb9560cb2a848507d4bc83b",
        c2s: "f8c1a6b544e8226f98ee44778eaf316b",
        s2c: "394071f1a21db5ba683efa868c36aedf",
        preauth: "fb116c8020e23fd8e4e30701f1dad7afd8e3ff220dc45bff1d7ffb92eea3a689\
                  5f7f4939b9757eed97a81ec4fad97591e88173de781f328233a6f5374559f12a",
    },
];

#[test]
fn corpus_rows_derive_their_keys() {
    for row in ROWS {
        let sk = hex(row.session_key);
        let keys = match row.cipher {
            None => derive_smb30(&sk),
            Some(cipher) => derive_smb311(&sk, &hexa(row.preauth), cipher),
        };
        assert_eq!(
            keys.signing.to_vec(),
            hex(row.signing),
            "{} signing",
            row.file
        );
        assert_eq!(keys.c2s.as_bytes(), hex(row.c2s), "{} c2s", row.file);
        assert_eq!(keys.s2c.as_bytes(), hex(row.s2c), "{} s2c", row.file);
    }
}

/// `captures/smb30-signed.keys`: Samba's dump for session 0x32a39134.
#[test]
fn smb30_capture_keys() {
    let keys = derive_smb30(&hex("301b025da6e2ae80f4c43be07d9186f5"));
    assert_eq!(keys.signing, hexa("5a3ceaea45a3047f9c926db4d1d152dc"));
    assert_eq!(keys.app, hexa("17100e1cbff079ae55fb30c18b237705"));
    assert_eq!(keys.c2s.as_bytes(), hex("51bcb38382a8c645c3f7a4b1cd72210c"));
    assert_eq!(keys.s2c.as_bytes(), hex("125aebf30d43a8a4edd3600aaa470b9e"));
}

/// The preauth hash of `captures/smb311-sign-gmac.pcap` (frames 4, 6, 8, 9, 10); the expected
/// values were computed with Python's hashlib from the same bytes.
fn gmac_capture_preauth() -> (PreauthHash, PreauthHash) {
    let mut connection = PreauthHash::new();
    connection.update(&hex(GMAC_NEGOTIATE_REQ));
    connection.update(&hex(GMAC_NEGOTIATE_RSP));
    let mut session = connection;
    session.update(&hex(GMAC_SESSION_SETUP_REQ1));
    session.update(&hex(GMAC_SESSION_SETUP_RSP1));
    session.update(&hex(GMAC_SESSION_SETUP_REQ2));
    (connection, session)
}

#[test]
fn preauth_hash_of_a_capture() {
    let (connection, session) = gmac_capture_preauth();
    assert_eq!(
        connection.value().to_vec(),
        hex(concat!(
            "33642484f099fdfa570621edc8dfc399f8e8f045a5b80c756450c0aaa4f378ed",
            "850b41f28979f3b8a90b4b527778149ab3fd3310f84b34d275be5578520eb1cd"
        ))
    );
    assert_eq!(
        session.value().to_vec(),
        hex(concat!(
            "f9270d63ac9d0c2e09fb4e3fe6b15650713b4564bcd03524595b9305f6416263",
            "30d294c65959af80704f5f24f4c50072b7e2498a9f1708949f664f39d5a26b84"
        ))
    );
    assert_eq!(PreauthHash::default().value(), &[0; 64]);
}

/// `captures/smb311-sign-gmac.keys`: Samba's dump for session 0x66318380 (AES-128 cipher).
#[test]
fn smb311_capture_keys() {
    let (_, session) = gmac_capture_preauth();
    let sk = hex("2843b20f6ead3f9158736898c60d114c");
    let keys = derive_smb311(&sk, session.value(), Cipher::AES_128_GCM);
    assert_eq!(keys.signing, hexa("fd4a68a4a9c35a8406dc3c7b75365fca"));
    assert_eq!(keys.app, hexa("7c2522643d8262a83e3f5dd9b6507ed6"));
    assert_eq!(keys.c2s.as_bytes(), hex("076275c4cfb68022a814766c451b391c"));
    assert_eq!(keys.s2c.as_bytes(), hex("5783276337a45efab8b49c49411f8cd5"));
}

/// A 32-byte (Kerberos AES-256) session key: signing and application keys come from its first
/// 16 bytes, the AES-256 cipher keys from all 32. Expected value computed with Python's hmac.
#[test]
fn full_session_key_is_the_aes256_kdk() {
    let (_, session) = gmac_capture_preauth();
    let full: Vec<u8> = (0..32).collect();
    let keys = derive_smb311(&full, session.value(), Cipher::AES_256_GCM);
    let first16 = derive_smb311(&full[..16], session.value(), Cipher::AES_256_GCM);
    assert_eq!(keys.signing, first16.signing);
    assert_eq!(keys.app, first16.app);
    assert_eq!(
        keys.c2s.as_bytes(),
        hex("1bc6bd3e5e78c28ad829ce7499f01adcb1252a04bbc3165a6e44f3dbd1a99c5d")
    );
    assert_ne!(keys.c2s.as_bytes(), first16.c2s.as_bytes());
    assert_eq!(keys.s2c.len(), 32);
    // AES-128 ciphers keep 16-byte keys from the 16-byte KDK even when 32 bytes are given.
    let aes128 = derive_smb311(&full, session.value(), Cipher::AES_128_CCM);
    let aes128_16 = derive_smb311(&full[..16], session.value(), Cipher::AES_128_CCM);
    assert_eq!(aes128.c2s.as_bytes(), aes128_16.c2s.as_bytes());
}

/// More than one counter block (L = 384); expected value computed with Python's hmac.
#[test]
fn kdf_counter_blocks() {
    let kdk: Vec<u8> = (0..16).collect();
    let mut out = [0; 48];
    kdf(&kdk, b"Label\0", b"Context", &mut out);
    assert_eq!(
        out.to_vec(),
        hex(concat!(
            "395f617f5509cc1e5e45a6beb259c485720d954d98315abb22cef85c7c5841c2",
            "689b55546ffcd3a8e29a043887e9a719"
        ))
    );
    let mut empty = [0u8; 0];
    kdf(&kdk, b"Label\0", b"Context", &mut empty);
}

#[test]
fn short_session_keys_are_zero_padded() {
    assert_eq!(session_key_16(&[1, 2]), {
        let mut k = [0; 16];
        k[..2].copy_from_slice(&[1, 2]);
        k
    });
    let long: Vec<u8> = (0..32).collect();
    assert_eq!(session_key_16(&long).to_vec(), long[..16].to_vec());
    assert_eq!(
        derive_smb30(&[7; 8]).signing,
        derive_smb30(&[7, 7, 7, 7, 7, 7, 7, 7, 0, 0, 0, 0, 0, 0, 0, 0]).signing
    );
}

#[test]
fn cipher_key_lengths() {
    assert!(CipherKey::new(&[1; 15]).is_none());
    assert!(CipherKey::new(&[1; 24]).is_none());
    assert_eq!(
        CipherKey::new(&[1; 16]).map(|k| k.as_bytes().to_vec()),
        Some(vec![1; 16])
    );
    let k = CipherKey::new(&[2; 32]).expect("32 bytes");
    assert_eq!(
        (k.len(), k.is_empty(), k.as_bytes()),
        (32, false, &[2; 32][..])
    );
}

#[test]
fn debug_never_prints_keys() {
    let keys = derive_smb30(&[0xAB; 16]);
    let text = format!("{keys:?} {:?}", keys.c2s);
    assert!(text.contains("<redacted>"), "{text}");
    for key in [
        &keys.signing[..],
        &keys.app[..],
        keys.c2s.as_bytes(),
        keys.s2c.as_bytes(),
    ] {
        let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
        assert!(!text.contains(&hex[..8]), "{text}");
        let dec = format!("{}, {}", key[0], key[1]);
        assert!(!text.contains(&dec), "{text}");
    }
}
