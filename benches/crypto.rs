//! Signature-verification and decryption throughput (MB/s) of the primitives the engine uses
//! per message: HMAC-SHA256, AES-128-CMAC and AES-128-GMAC over SMB2 messages, and the four
//! TRANSFORM ciphers. `benches/decrypt_vs_tshark.sh` compares the whole tool with tshark.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use smbscope::crypto::aead::Decryptor;
use smbscope::crypto::sign::SmbSigner;
use smbscope::smb::negotiate::{Cipher, SigningAlgorithm};

/// An SMB2 WRITE-sized message: 64-byte header with the SIGNED flag, then `len` bytes.
fn message(len: usize) -> Vec<u8> {
    let mut m = vec![0u8; 64 + len];
    m[..4].copy_from_slice(b"\xfeSMB");
    m[4] = 64;
    m[12] = 9; // WRITE
    m[16] = 0x08; // SIGNED
    for (i, b) in m[64..].iter_mut().enumerate() {
        *b = (i * 31 % 251) as u8;
    }
    m
}

fn signing(c: &mut Criterion) {
    let key = [0x42u8; 16];
    let mut g = c.benchmark_group("verify");
    for len in [1024usize, 65_536] {
        let msg = message(len);
        g.throughput(Throughput::Bytes(msg.len() as u64));
        for (name, alg) in [
            ("hmac-sha256", SigningAlgorithm::HMAC_SHA256),
            ("aes-128-cmac", SigningAlgorithm::AES_CMAC),
            ("aes-128-gmac", SigningAlgorithm::AES_GMAC),
        ] {
            let signer = SmbSigner::new(alg, &key).expect("16-byte key");
            let mut signed = msg.clone();
            let sig = signer.sign(&signed);
            signed[48..64].copy_from_slice(&sig);
            g.bench_function(format!("{name}/{len}"), |b| {
                b.iter(|| signer.verify(&signed))
            });
        }
    }
    g.finish();
}

/// Builds a TRANSFORM message around `plain` with an arbitrary (wrong) tag: decryption then
/// does all the work and fails only at the tag comparison, which is what we time.
fn transform(plain: &[u8]) -> Vec<u8> {
    let mut m = vec![0u8; 52];
    m[..4].copy_from_slice(b"\xfdSMB");
    m[36..40].copy_from_slice(&(plain.len() as u32).to_le_bytes());
    m[42] = 1;
    m.extend_from_slice(plain);
    m
}

fn decryption(c: &mut Criterion) {
    let mut g = c.benchmark_group("decrypt");
    let msg = transform(&message(65_536));
    g.throughput(Throughput::Bytes(msg.len() as u64));
    let mut out = Vec::new();
    for (name, cipher, klen) in [
        ("aes-128-ccm", Cipher::AES_128_CCM, 16),
        ("aes-128-gcm", Cipher::AES_128_GCM, 16),
        ("aes-256-ccm", Cipher::AES_256_CCM, 32),
        ("aes-256-gcm", Cipher::AES_256_GCM, 32),
    ] {
        let d = Decryptor::new(cipher, &vec![7u8; klen]).expect("key length");
        g.bench_function(format!("{name}/65536"), |b| {
            b.iter(|| d.decrypt(&msg, &mut out).is_err())
        });
    }
    g.finish();
}

criterion_group!(benches, signing, decryption);
criterion_main!(benches);
