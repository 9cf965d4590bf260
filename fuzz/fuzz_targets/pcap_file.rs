//! Classic pcap files through the pure-Rust reader that `OfflineCapture` uses for them: file
//! and record headers, records straddling the read buffer, truncation, absurd lengths; and the
//! chunked reading of `analyze -j N` (guessed record boundaries), checked against it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    smbscope::capture::fuzz_classic_pcap(data);
});
