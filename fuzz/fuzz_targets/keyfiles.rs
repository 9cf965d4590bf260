//! Key files (`--keys`), credential files (`--credentials`), TLS key logs (`--keylog`), MIT
//! keytabs, and Kerberos decryption of arbitrary ciphertext (which must fail its checksum,
//! never panic).
#![no_main]

use libfuzzer_sys::fuzz_target;
use smbscope::crypto::kerberos;
use smbscope::crypto::keys::{parse_credentials, parse_keys};
use smbscope::crypto::keytab::{Keytab, enctype};
use smbscope::quic::keylog::KeyLog;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = parse_keys(&text, "fuzz.keys");
    let _ = parse_credentials(&text, "fuzz.credentials");
    let _ = KeyLog::parse(&text);
    let _ = Keytab::default().add(data);
    for (etype, len) in [
        (enctype::AES128_CTS_HMAC_SHA1_96, 16),
        (enctype::AES256_CTS_HMAC_SHA1_96, 32),
        (enctype::RC4_HMAC, 16),
    ] {
        let _ = kerberos::decrypt(etype, &[0x42; 32][..len], 2, data);
    }
});
