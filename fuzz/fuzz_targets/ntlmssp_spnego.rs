//! NTLMSSP messages and SPNEGO / GSS-API tokens, with their inner tokens.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smbscope::smb::{ntlmssp, spnego};

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = ntlmssp::parse(data) {
        let _ = format!("{m:?}");
    }
    let _ = ntlmssp::find(data).map(ntlmssp::parse);
    let _ = ntlmssp::ntlmv2_client_info(data);
    for p in ntlmssp::av_pairs(data).take(1000) {
        let _ = format!("{p:?}");
    }
    if let Ok(t) = spnego::parse(data) {
        let _ = format!("{t:?}");
    }
    let _ = format!("{:?}", spnego::inner(data));
    let _ = spnego::ApReq::parse(data);
});
