//! The whole engine. The first byte picks the mode: even = a sequence of arbitrary frames
//! ([`smbscope::engine::fuzz_frames`]), odd = segments of a synthetic TCP 445 connection
//! ([`smbscope::engine::fuzz_tcp445`]).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some((&mode, rest)) = data.split_first() {
        if mode & 1 == 0 {
            smbscope::engine::fuzz_frames(rest);
        } else {
            smbscope::engine::fuzz_tcp445(rest);
        }
    }
});
