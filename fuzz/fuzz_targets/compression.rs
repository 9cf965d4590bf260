//! SMB2 COMPRESSION_TRANSFORM messages and each [MS-XCA] codec, with a bounded output.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smbscope::smb::compress::{decompress, decompress_message};
use smbscope::smb::negotiate::CompressionAlgorithm;

const MAX_OUT: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let mut out = Vec::new();
    let _ = decompress_message(data, MAX_OUT, &mut out);
    assert!(out.len() <= MAX_OUT);
    // First 3 bytes: algorithm selector and expected length; the rest is the input.
    if let Some((&[alg, hi, lo], input)) = data.split_first_chunk::<3>() {
        let expected = usize::from(u16::from_be_bytes([hi, lo])) * 16;
        let alg = CompressionAlgorithm(u16::from(alg % 7));
        out.clear();
        if decompress(alg, input, expected, &mut out).is_ok() {
            assert_eq!(out.len(), expected);
        } else {
            assert!(out.is_empty());
        }
    }
});
