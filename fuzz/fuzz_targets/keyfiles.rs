//! Key files (`--keys`), credential files (`--credentials`) and TLS key logs (`--keylog`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use smbscope::crypto::keys::{parse_credentials, parse_keys};
use smbscope::quic::keylog::KeyLog;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = parse_keys(&text, "fuzz.keys");
    let _ = parse_credentials(&text, "fuzz.credentials");
    let _ = KeyLog::parse(&text);
});
