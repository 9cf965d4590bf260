//! NBSS framing, SMB1 header / AndX chain / commands, SMB2 compound split and every SMB2 body
//! parser, transform and compression headers.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    smbscope::smb::fuzz_message(data);
});
