use super::*;
use cts::Encrypt;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

/// RFC 3961 Appendix A.1.
#[test]
fn n_fold_rfc3961_vectors() {
    for (bits, input, want) in [
        (64, "012345", "be072631276b1955"),
        (56, "password", "78a07b6caf85fa"),
        (64, "Rough Consensus, and Running Code", "bb6ed30870b7f0e0"),
        (
            168,
            "password",
            "59e4a8ca7c0385c3c37b3f6d2000247cb6e6bd5b3e",
        ),
        (
            192,
            "MASSACHVSETTS INSTITVTE OF TECHNOLOGY",
            "db3b0d8f0b061e603282b308a50841229ad798fab9540c1b",
        ),
        (168, "Q", "518a54a215a8452a518a54a215a8452a518a54a215"),
        (168, "ba", "fb25d531ae8974499f52fd92ea9857c4ba24cf297e"),
        (64, "kerberos", "6b65726265726f73"),
        (128, "kerberos", "6b65726265726f737b9b5b2b93132b93"),
        (
            168,
            "kerberos",
            "8372c236344e5f1550cd0747e15d62ca7a5a3bcea4",
        ),
        (
            256,
            "kerberos",
            "6b65726265726f737b9b5b2b93132b935c9bdcdad95c9899c4cae4dee6d6cae4",
        ),
    ] {
        assert_eq!(
            n_fold(input.as_bytes(), bits / 8),
            hex(want),
            "{bits}-fold({input})"
        );
    }
}

/// RFC 3962 Appendix B: AES-128 CBC with ciphertext stealing, IV 0, the "chicken teriyaki"
/// key: the mode the cts crate's CbcCs3 implements.
#[test]
fn cts_rfc3962_vectors() {
    let key = hex("636869636b656e207465726979616b69");
    for (input, want) in [
        (
            "4920776f756c64206c696b652074686520",
            "c6353568f2bf8cb4d8a580362da7ff7f97",
        ),
        (
            "4920776f756c64206c696b65207468652047656e6572616c20476175277320",
            "fc00783e0efdb2c1d445d4c8eff7ed2297687268d6ecccc0c07b25e25ecfe5",
        ),
        (
            "4920776f756c64206c696b65207468652047656e6572616c2047617527732043",
            "39312523a78662d5be7fcbcc98ebf5a897687268d6ecccc0c07b25e25ecfe584",
        ),
    ] {
        let mut buf = hex(input);
        CbcCs3::<Aes128>::new_from_slices(&key, &[0; 16])
            .unwrap()
            .encrypt(&mut buf)
            .unwrap();
        assert_eq!(buf, hex(want));
        CbcCs3::<Aes128>::new_from_slices(&key, &[0; 16])
            .unwrap()
            .decrypt(&mut buf)
            .unwrap();
        assert_eq!(buf, hex(input));
    }
}

/// The encryption side of RFC 3962, for round trips.
fn encrypt_aes(key: &[u8], usage: u32, confounder: &[u8; 16], plain: &[u8]) -> Vec<u8> {
    let ke = derive_aes(key, &usage_constant(usage, 0xAA)).unwrap();
    let ki = derive_aes(key, &usage_constant(usage, 0x55)).unwrap();
    let mut p = confounder.to_vec();
    p.extend_from_slice(plain);
    let mut h = <Hmac<Sha1> as KeyInit>::new_from_slice(&ki).unwrap();
    h.update(&p);
    let tag = h.finalize().into_bytes();
    match key.len() {
        16 => CbcCs3::<Aes128>::new_from_slices(&ke, &[0; 16])
            .unwrap()
            .encrypt(&mut p),
        _ => CbcCs3::<Aes256>::new_from_slices(&ke, &[0; 16])
            .unwrap()
            .encrypt(&mut p),
    }
    .unwrap();
    p.extend_from_slice(&tag[..12]);
    p
}

#[test]
fn aes_round_trip_and_wrong_key() {
    for (etype, len) in [
        (enctype::AES128_CTS_HMAC_SHA1_96, 16),
        (enctype::AES256_CTS_HMAC_SHA1_96, 32),
    ] {
        let key: Vec<u8> = (0..len as u8).collect();
        let plain = b"an EncTicketPart, DER encoded, of some length";
        let ct = encrypt_aes(&key, 2, &[0x5a; 16], plain);
        assert_eq!(&decrypt(etype, &key, 2, &ct).unwrap()[..], plain);
        // Another usage, another key, a flipped byte: the checksum says so.
        assert_eq!(decrypt(etype, &key, 11, &ct), Err(KrbError::Integrity));
        let mut other = key.clone();
        other[0] ^= 1;
        assert_eq!(decrypt(etype, &other, 2, &ct), Err(KrbError::Integrity));
        let mut bad = ct.clone();
        bad[20] ^= 1;
        assert_eq!(decrypt(etype, &key, 2, &bad), Err(KrbError::Integrity));
        assert_eq!(decrypt(etype, &key, 2, &ct[..20]), Err(KrbError::Short));
        assert_eq!(decrypt(etype, &key[..8], 2, &ct), Err(KrbError::KeyLength));
    }
    assert_eq!(
        decrypt(3, &[0; 8], 2, &[0; 64]),
        Err(KrbError::Unsupported(3))
    );
}

#[test]
fn rc4_round_trip_and_wrong_key() {
    let key = [0x11u8; 16];
    let plain = b"an EncAPRepPart";
    // Encrypt per RFC 4757 §5.
    let mac = |k: &[u8], d: &[u8]| {
        let mut h = <Hmac<Md5> as KeyInit>::new_from_slice(k).unwrap();
        h.update(d);
        h.finalize().into_bytes().to_vec()
    };
    let k1 = mac(&key, &12u32.to_le_bytes());
    let mut p = vec![0xc0; 8];
    p.extend_from_slice(plain);
    let checksum = mac(&k1, &p);
    let k3 = mac(&k1, &checksum);
    Rc4::new_from_slice(&k3).unwrap().apply_keystream(&mut p);
    let mut ct = checksum;
    ct.extend_from_slice(&p);
    assert_eq!(
        &decrypt(enctype::RC4_HMAC, &key, 12, &ct).unwrap()[..],
        plain
    );
    assert_eq!(
        decrypt(enctype::RC4_HMAC, &[0x12; 16], 12, &ct),
        Err(KrbError::Integrity)
    );
    assert_eq!(
        decrypt(enctype::RC4_HMAC, &key, 12, &ct[..10]),
        Err(KrbError::Short)
    );
}
