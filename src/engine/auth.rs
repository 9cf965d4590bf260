//! Security blobs (SPNEGO, raw NTLMSSP, Kerberos) -> who authenticated and how.

use super::state::{AuthInfo, AuthKind, KrbMaterial, KrbTicket, NtlmMaterial};
use crate::smb::ntlmssp::{self, Message, NtlmKind};
use crate::smb::spnego::{self, GssToken, Inner};

/// What a client's SESSION_SETUP security blob says about the logon.
pub fn client_blob(blob: &[u8]) -> AuthInfo {
    let mut info = AuthInfo::default();
    for token in inner_tokens(blob) {
        match spnego::inner(token) {
            Inner::Ntlmssp(Message::Authenticate(a)) => {
                info.kind = match a.kind() {
                    NtlmKind::Anonymous => AuthKind::Anonymous,
                    NtlmKind::NtlmV1 | NtlmKind::NtlmV1Ess => AuthKind::NtlmV1,
                    NtlmKind::NtlmV2 => AuthKind::NtlmV2,
                    NtlmKind::Unknown => AuthKind::Unknown,
                };
                info.user = Some(a.user.clone());
                info.domain = Some(a.domain.clone());
                info.workstation =
                    (!a.workstation.is_empty()).then(|| a.workstation.as_str().into());
                info.target_spn = ntlmssp::ntlmv2_client_info(a.nt_response)
                    .and_then(|i| i.target_name)
                    .map(String::into_boxed_str);
                info.ntlm = Some(Box::new(NtlmMaterial {
                    nt_response: a.nt_response.to_vec(),
                    lm_response: a.lm_response.to_vec(),
                    flags: a.flags,
                    encrypted_session_key: a.encrypted_random_session_key.to_vec(),
                    extended_security: true,
                }));
            }
            Inner::KerberosIakerb { realm } => {
                info.kind = AuthKind::Kerberos;
                info.krb_realm = Some(realm.into());
            }
            Inner::KerberosApReq(ap) => {
                info.kind = AuthKind::Kerberos;
                info.krb_realm = Some(ap.realm.as_str().into());
                info.krb_service = Some(ap.sname.as_str().into());
                info.krb_ticket = Some(Box::new(KrbTicket {
                    ticket_enctype: ap.enc_type,
                    session_key_enctype: ap.authenticator_enc_type,
                    ..KrbTicket::default()
                }));
                info.krb = Some(Box::new(KrbMaterial {
                    ap_req: ap,
                    ap_rep: None,
                }));
            }
            _ => {}
        }
    }
    info
}

/// The server's own name, from an NTLMSSP CHALLENGE in a SESSION_SETUP response blob.
pub fn server_name(blob: &[u8]) -> Option<String> {
    for token in inner_tokens(blob) {
        if let Inner::Ntlmssp(Message::Challenge(c)) = spnego::inner(token) {
            return c.dns_computer.or(c.nb_computer).filter(|n| !n.is_empty());
        }
    }
    None
}

/// The Kerberos AP-REP of a SESSION_SETUP response blob (after the krb5 token id 02 00 of
/// RFC 1964 §1.1), if it carries one.
pub fn server_ap_rep(blob: &[u8]) -> Option<crate::smb::krb::ApRep> {
    inner_tokens(blob).find_map(|token| {
        if spnego::inner(token) != Inner::KerberosApRep {
            return None;
        }
        crate::smb::krb::ApRep::from_gss_token(token)
    })
}

/// The NTLM server challenge of a CHALLENGE message in a SESSION_SETUP response blob.
pub fn server_challenge(blob: &[u8]) -> Option<[u8; 8]> {
    inner_tokens(blob).find_map(|token| match spnego::inner(token) {
        Inner::Ntlmssp(Message::Challenge(c)) => Some(c.server_challenge),
        _ => None,
    })
}

/// The mechanism tokens inside a blob: SPNEGO's mechToken/responseToken, or the blob itself
/// when it is a raw token. Falls back to scanning for an NTLMSSP signature.
fn inner_tokens(blob: &[u8]) -> impl Iterator<Item = &[u8]> {
    let first = match spnego::parse(blob) {
        Ok(GssToken::Init { mech_token, .. }) => mech_token,
        Ok(GssToken::Resp { response_token, .. }) => response_token,
        Ok(GssToken::RawNtlmssp(t)) | Ok(GssToken::RawKerberos(t)) => Some(t),
        Err(_) => ntlmssp::find(blob),
    };
    first.into_iter()
}
