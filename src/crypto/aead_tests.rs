use super::*;
use crate::crypto::vectors_tests::*;

/// One encrypted message of a capture with the key from that capture's `.keys` file (Samba's
/// dump: "ServerIn Key" for client-to-server, "ServerOut Key" for server-to-client).
struct Case {
    name: &'static str,
    cipher: Cipher,
    key: &'static str,
    msg: &'static str,
    /// SMB2 command of the plaintext.
    command: u16,
}

const CASES: &[Case] = &[
    Case {
        name: "smb311-enc-aes128ccm c2s",
        cipher: Cipher::AES_128_CCM,
        key: "05758d5ed692d18e48b8a21845cce2bd",
        msg: ENC_AES128CCM_C2S,
        command: 0x0004,
    },
    Case {
        name: "smb311-enc-aes128ccm s2c",
        cipher: Cipher::AES_128_CCM,
        key: "1ebac0b10a4f9eeb7fa7f976802755a2",
        msg: ENC_AES128CCM_S2C,
        command: 0x0003,
    },
    Case {
        name: "smb311-enc-aes128gcm c2s",
        cipher: Cipher::AES_128_GCM,
        key: "9cec2a932e74a9f725b223cf3e3e5b6e",
        msg: ENC_AES128GCM_C2S,
        command: 0x0004,
    },
    Case {
        name: "smb311-enc-aes128gcm s2c",
        cipher: Cipher::AES_128_GCM,
        key: "02b88d0d40583c314af34ed05c00df7d",
        msg: ENC_AES128GCM_S2C,
        command: 0x0003,
    },
    Case {
        name: "smb311-enc-aes256ccm c2s",
        cipher: Cipher::AES_256_CCM,
        key: "7bab1e2129546b3c11328d661090574e0339cf629631a56e931595e9026423d6",
        msg: ENC_AES256CCM_C2S,
        command: 0x0004,
    },
    Case {
        name: "smb311-enc-aes256ccm s2c",
        cipher: Cipher::AES_256_CCM,
        key: "76cdd42c694c6970091ff9638b3ab9fabdf9cb3842fdf586880bea58653d6c30",
        msg: ENC_AES256CCM_S2C,
        command: 0x0003,
    },
    Case {
        name: "smb311-enc-aes256gcm c2s",
        cipher: Cipher::AES_256_GCM,
        key: "2c214d554e44758db2dfe802c9ad2f976caaf8a53d6f1c508f4c9a962fbc8507",
        msg: ENC_AES256GCM_C2S,
        command: 0x0004,
    },
    Case {
        name: "smb311-enc-aes256gcm s2c",
        cipher: Cipher::AES_256_GCM,
        key: "3f0d3976f897fa1d164945b49002762ae3d652b897b0896f1eddbb953cae6a7a",
        msg: ENC_AES256GCM_S2C,
        command: 0x0003,
    },
    Case {
        name: "smb30-enc-aes128ccm c2s",
        cipher: Cipher::AES_128_CCM,
        key: "40ce57b39fc72f0f972a650cedfc1140",
        msg: ENC_SMB30_C2S,
        command: 0x0003,
    },
];

fn decryptor(case: &Case) -> Decryptor {
    Decryptor::new(case.cipher, &hex(case.key)).expect("valid key")
}

#[test]
fn capture_messages_decrypt() {
    let mut out = Vec::new();
    for case in CASES {
        let msg = hex(case.msg);
        let d = decryptor(case);
        assert_eq!(d.cipher(), case.cipher);
        assert_eq!(d.decrypt(&msg, &mut out), Ok(()), "{}", case.name);
        assert_eq!(out.len(), msg.len() - 52, "{}", case.name);
        assert_eq!(out[..4], [0xFE, b'S', b'M', b'B'], "{}", case.name);
        assert_eq!(
            u16::from_le_bytes([out[12], out[13]]),
            case.command,
            "{}",
            case.name
        );
        // The plaintext header names the same session as the transform header.
        assert_eq!(out[40..48], msg[44..52], "{}", case.name);
    }
}

#[test]
fn altered_messages_fail_the_tag() {
    let mut out = Vec::new();
    for case in CASES {
        let msg = hex(case.msg);
        let d = decryptor(case);
        // Tag, nonce, the unused nonce bytes (AAD), flags, session id, ciphertext, last byte.
        for pos in [4, 19, 20, 33, 42, 44, 51, 52, msg.len() - 1] {
            let mut bad = msg.clone();
            bad[pos] ^= 0x01;
            out.extend_from_slice(b"stale");
            assert_eq!(
                d.decrypt(&bad, &mut out),
                Err(DecryptError::BadTag),
                "{} byte {pos}",
                case.name
            );
            assert!(
                out.is_empty(),
                "{}: plaintext left after a bad tag",
                case.name
            );
        }
    }
}

#[test]
fn wrong_key_or_cipher_fails_the_tag() {
    let mut out = Vec::new();
    // The other direction's key.
    let c2s = &CASES[2];
    let s2c = Decryptor::new(Cipher::AES_128_GCM, &hex(CASES[3].key)).expect("key");
    assert_eq!(
        s2c.decrypt(&hex(c2s.msg), &mut out),
        Err(DecryptError::BadTag)
    );
    // The right key with the wrong mode.
    let ccm = Decryptor::new(Cipher::AES_128_CCM, &hex(c2s.key)).expect("key");
    assert_eq!(
        ccm.decrypt(&hex(c2s.msg), &mut out),
        Err(DecryptError::BadTag)
    );
}

#[test]
fn short_and_mismatched_messages() {
    let case = &CASES[0];
    let d = decryptor(case);
    let msg = hex(case.msg);
    let mut out = Vec::new();
    for len in 0..52 {
        assert_eq!(
            d.decrypt(&msg[..len], &mut out),
            Err(DecryptError::Truncated)
        );
    }
    // A header with no ciphertext, and a cut ciphertext: OriginalMessageSize disagrees.
    assert_eq!(
        d.decrypt(&msg[..52], &mut out),
        Err(DecryptError::SizeMismatch)
    );
    assert_eq!(
        d.decrypt(&msg[..msg.len() - 1], &mut out),
        Err(DecryptError::SizeMismatch)
    );
    let mut longer = msg.clone();
    longer.push(0);
    assert_eq!(
        d.decrypt(&longer, &mut out),
        Err(DecryptError::SizeMismatch)
    );
    let mut bad_size = msg.clone();
    bad_size[36] ^= 0x01;
    assert_eq!(
        d.decrypt(&bad_size, &mut out),
        Err(DecryptError::SizeMismatch)
    );
    assert!(out.is_empty());
    for e in [
        DecryptError::Truncated,
        DecryptError::SizeMismatch,
        DecryptError::BadTag,
    ] {
        assert!(!e.to_string().is_empty());
    }
}

#[test]
fn out_buffer_is_reused() {
    let case = &CASES[1];
    let d = decryptor(case);
    let msg = hex(case.msg);
    let mut out = Vec::with_capacity(4096);
    let ptr = out.as_ptr();
    for _ in 0..3 {
        d.decrypt(&msg, &mut out).expect("decrypts");
        assert_eq!(out.as_ptr(), ptr);
        assert_eq!(out.len(), msg.len() - 52);
    }
}

#[test]
fn key_lengths_and_ciphers() {
    for (cipher, len) in [
        (Cipher::AES_128_CCM, 16),
        (Cipher::AES_128_GCM, 16),
        (Cipher::AES_256_CCM, 32),
        (Cipher::AES_256_GCM, 32),
    ] {
        assert!(Decryptor::new(cipher, &vec![1; len]).is_some(), "{cipher}");
        let other = if len == 16 { 32 } else { 16 };
        assert!(
            Decryptor::new(cipher, &vec![1; other]).is_none(),
            "{cipher}"
        );
        assert!(Decryptor::new(cipher, &[]).is_none(), "{cipher}");
    }
    assert!(Decryptor::new(Cipher::NONE, &[1; 16]).is_none());
    assert!(Decryptor::new(Cipher(9), &[1; 16]).is_none());
}

#[test]
fn debug_hides_the_key() {
    let d = Decryptor::new(Cipher::AES_256_GCM, &[0x3C; 32]).expect("key");
    let text = format!("{d:?}");
    assert_eq!(text, "Decryptor(AES-256-GCM, <redacted>)");
}

/// The AES-GCM/CCM fast paths: `aes` and `polyval` choose AES-NI and PCLMULQDQ at run time
/// (through `cpufeatures`, the same CPUID bits as below) and fall back to a constant-time
/// software path, several times slower, without them. Under CI the machine must have them,
/// so that the throughput figures of the README hold there.
#[test]
#[cfg(target_arch = "x86_64")]
fn ci_machines_have_the_aes_and_carry_less_multiply_instructions() {
    let (aes, clmul) = (
        std::arch::is_x86_feature_detected!("aes"),
        std::arch::is_x86_feature_detected!("pclmulqdq"),
    );
    eprintln!(
        "AES-NI {aes}, PCLMULQDQ {clmul}, VAES {}, VPCLMULQDQ {}",
        std::arch::is_x86_feature_detected!("vaes"),
        std::arch::is_x86_feature_detected!("vpclmulqdq")
    );
    if std::env::var_os("CI").is_some() {
        assert!(
            aes && clmul,
            "no AES-NI/PCLMULQDQ: AES-GCM runs on the software path"
        );
    }
}
