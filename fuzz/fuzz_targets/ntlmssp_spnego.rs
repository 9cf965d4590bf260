//! NTLMSSP messages and SPNEGO / GSS-API tokens, with their inner tokens, and the decrypted
//! Kerberos parts (EncTicketPart, Authenticator, AP-REP and EncAPRepPart).
#![no_main]

use libfuzzer_sys::fuzz_target;
use smbscope::smb::{krb, ntlmssp, spnego};

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
    let _ = krb::EncTicketPart::parse(data).map(|t| format!("{t:?}"));
    let _ = krb::Authenticator::parse(data).map(|a| format!("{a:?}"));
    let _ = krb::ApRep::parse(data);
    let _ = krb::ApRep::subkey(data);
});
