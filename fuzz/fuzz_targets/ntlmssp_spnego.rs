//! NTLMSSP messages and SPNEGO / GSS-API tokens, with their inner tokens, and the decrypted
//! Kerberos parts (EncTicketPart, Authenticator, AP-REP and EncAPRepPart); an AP-REQ and
//! AP-REP from the input are opened with a real keytab (captures/kerberos) as `--keytab` does.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

use smbscope::crypto::keytab::Keytab;
use smbscope::smb::{krb, krb_logon, ntlmssp, spnego};

/// The AD DC's machine-account keytab of one generated scenario (aes256, aes128, rc4 keys).
fn keytab() -> &'static Keytab {
    static KT: OnceLock<Keytab> = OnceLock::new();
    KT.get_or_init(|| {
        let mut kt = Keytab::default();
        kt.add(include_bytes!(
            "../../captures/kerberos/smb311-aes256gcm.keytab"
        ))
        .expect("the shipped keytab parses");
        kt
    })
}

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
    if let Ok(ap) = spnego::ApReq::parse(data) {
        let rep = krb::ApRep::from_gss_token(data);
        let _ = krb_logon::open(keytab(), &ap, rep.as_ref()).map(|l| format!("{l:?}"));
    }
    let _ = krb::ApRep::from_gss_token(data);
    let _ = krb::EncTicketPart::parse(data).map(|t| format!("{t:?}"));
    let _ = krb::Authenticator::parse(data).map(|a| format!("{a:?}"));
    let _ = krb::ApRep::parse(data);
    let _ = krb::ApRep::subkey(data);
});
