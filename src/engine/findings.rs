//! Firing findings: each rule at most once per connection or session, with a summary that
//! says what was seen.

use super::state::{AuthKind, ConnState, SIGNING_REQUIRED, SessionState, share_type_name};
use super::{Emitter, Subject};
use crate::rules::{Context, RuleId};
use crate::wire::Timestamp;

pub(crate) fn unencrypted_rule(
    em: &mut Emitter<'_>,
    conn: &mut ConnState,
    idx: usize,
    ts: Timestamp,
) {
    let s = &conn.sessions[idx];
    let trees: Vec<&str> = s
        .trees
        .iter()
        .filter(|t| t.share_type.map(share_type_name) == Some("disk"))
        .map(|t| t.path.as_str())
        .collect();
    let on = if trees.is_empty() {
        String::new()
    } else {
        format!(" on {}", trees.join(", "))
    };
    let why = match (conn.dialect_name(), conn.cipher_name()) {
        (Some(d), None) => format!(" (SMB {d} as negotiated here cannot encrypt)"),
        _ => String::new(),
    };
    let who = user_label(s.auth.domain.as_deref(), s.auth.user.as_deref());
    let ctx = Context {
        cannot_encrypt: !conn.can_encrypt(),
        ..Context::default()
    };
    let sid = s.id;
    session_rule(
        em,
        conn,
        sid,
        RuleId::SessionUnencrypted,
        ctx,
        format!("File traffic of {who}{on} is sent in clear text{why}"),
        ts,
    );
}

/// Fires `signing.not_required` for the client side once the client has shown its mode in both
/// NEGOTIATE and SESSION_SETUP.
pub(crate) fn client_signing_rule(em: &mut Emitter<'_>, conn: &mut ConnState, ts: Timestamp) {
    let Some(mode) = conn.client_sec_mode else {
        return;
    };
    let authenticated = conn
        .sessions
        .iter()
        .any(|s| s.state == SessionState::Established && !s.keyless());
    if !authenticated || mode & SIGNING_REQUIRED != 0 || conn.client_setup_signing_required {
        return;
    }
    conn_rule(
        em,
        conn,
        RuleId::SigningNotRequiredClient,
        Context::default(),
        format!(
            "The client does not require signing (NEGOTIATE SecurityMode {mode:#06x}, \
             SESSION_SETUP without SIGNING_REQUIRED)"
        ),
        ts,
    );
}

/// Fires a connection-level rule once.
pub(crate) fn conn_rule(
    em: &mut Emitter<'_>,
    conn: &mut ConnState,
    rule: RuleId,
    ctx: Context,
    summary: String,
    ts: Timestamp,
) {
    if conn.fired & rule.bit() != 0 {
        return;
    }
    conn.fired |= rule.bit();
    em.finding(
        rule,
        Subject {
            conn,
            session: None,
        },
        ctx,
        summary,
        ts,
    );
}

/// Fires a session-level rule once per session.
pub(crate) fn session_rule(
    em: &mut Emitter<'_>,
    conn: &mut ConnState,
    sid: u64,
    rule: RuleId,
    ctx: Context,
    summary: String,
    ts: Timestamp,
) {
    let Some(i) = conn.sessions.iter().position(|s| s.id == sid) else {
        return;
    };
    if conn.sessions[i].fired & rule.bit() != 0 {
        return;
    }
    conn.sessions[i].fired |= rule.bit();
    em.finding(
        rule,
        Subject {
            conn,
            session: conn.sessions.get(i),
        },
        ctx,
        summary,
        ts,
    );
}

/// `DOMAIN\user`, `user`, or `an unknown user`.
pub(crate) fn user_label(domain: Option<&str>, user: Option<&str>) -> String {
    match (domain.filter(|d| !d.is_empty()), user) {
        (_, None) => "an unknown user".into(),
        (_, Some("")) => "the anonymous user".into(),
        (Some(d), Some(u)) => format!("{d}\\{u}"),
        (None, Some(u)) => u.to_owned(),
    }
}

/// The host part of `\\host\share`.
pub(crate) fn unc_host(path: &str) -> Option<&str> {
    let p = path.trim_start_matches(['\\', '/']);
    p.split(['\\', '/']).next().filter(|h| !h.is_empty())
}

/// After a successful SESSION_SETUP (SMB1 or SMB2): the guest, anonymous and NTLMv1 findings,
/// then the session's keys. `guest_how` and `anon_how` say what on the wire showed it.
pub(crate) fn logon_rules(
    em: &mut Emitter<'_>,
    conn: &mut ConnState,
    sid: u64,
    ts: Timestamp,
    guest_how: &str,
    anon_how: &str,
) {
    let Some(s) = conn.session_mut(sid) else {
        return;
    };
    s.crypto_tried = false;
    let (guest, anonymous, kind) = (s.guest, s.anonymous, s.auth.kind);
    let who = user_label(s.auth.domain.as_deref(), s.auth.user.as_deref());
    let keyless = Context {
        cannot_sign: true,
        cannot_encrypt: true,
    };
    if guest {
        let summary = format!(
            "Logon as {who} was mapped to the guest account ({guest_how}): no signing, no \
             encryption"
        );
        session_rule(em, conn, sid, RuleId::Guest, keyless, summary, ts);
    }
    if anonymous {
        let summary = format!("Anonymous (null) session accepted ({anon_how})");
        session_rule(em, conn, sid, RuleId::Anonymous, keyless, summary, ts);
    }
    if kind == AuthKind::NtlmV1 {
        let summary = format!("{who} authenticated with NTLMv1 (24-byte NT response)");
        session_rule(
            em,
            conn,
            sid,
            RuleId::NtlmV1,
            Context::default(),
            summary,
            ts,
        );
    }
    if !guest && !anonymous {
        super::protect::establish(em, conn, sid, ts);
    }
    // After `establish`: with a keytab, the ticket names the Kerberos user.
    auth_mechanism_rules(em, conn, sid, ts);
}

/// `kerberos.rc4` from the ticket's enctypes (in the clear), and `auth.ntlm_fallback` when an
/// NTLM logon went to a server the client named by DNS name.
fn auth_mechanism_rules(em: &mut Emitter<'_>, conn: &mut ConnState, sid: u64, ts: Timestamp) {
    let Some(s) = conn.session(sid) else {
        return;
    };
    let who = user_label(s.auth.domain.as_deref(), s.auth.user.as_deref());
    let name = crate::crypto::keytab::enctype::name;
    if let Some(t) = s.auth.krb_ticket.as_deref() {
        if let Some(weak) = t.weak_enctype() {
            let service = s.auth.krb_service.as_deref().unwrap_or("the service");
            let summary = format!(
                "Kerberos logon of {who} to {service}: ticket enctype {}, session key enctype \
                 {} ({} is weak; Windows is retiring RC4 for Kerberos)",
                name(t.ticket_enctype),
                name(t.session_key_enctype),
                name(weak)
            );
            let ctx = Context::default();
            session_rule(em, conn, sid, RuleId::KerberosWeakEnctype, ctx, summary, ts);
        }
        return;
    }
    let ntlm = matches!(s.auth.kind, AuthKind::NtlmV1 | AuthKind::NtlmV2);
    if !ntlm || s.guest || s.anonymous || conn.by_ip {
        return;
    }
    let Some(host) = conn.dialled_name.as_deref().filter(|h| is_dns_name(h)) else {
        return;
    };
    let summary = format!(
        "{who} logged on with NTLM although the client named the server {host}, for which \
         Kerberos (cifs/{host}) was possible"
    );
    let ctx = Context::default();
    session_rule(em, conn, sid, RuleId::NtlmFallback, ctx, summary, ts);
}

/// A DNS name with at least two labels (not an IP literal, not a bare host or NetBIOS name
/// such as `localhost`).
fn is_dns_name(h: &str) -> bool {
    h.parse::<std::net::IpAddr>().is_err()
        && h.contains('.')
        && !h.ends_with('.')
        && h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// The pipes whose use by an anonymous or guest session is enumeration ([MS-SRVS], [MS-SAMR],
/// [MS-LSAT]/[MS-LSAD], [MS-NRPC], [MS-WKST]); `lsass` is another name of the lsarpc endpoint.
const ENUM_PIPES: &[&str] = &["srvsvc", "samr", "lsarpc", "lsass", "netlogon", "wkssvc"];

/// `enum.null_session`: an anonymous or guest session that opened enumeration pipes on IPC$,
/// with the DCE/RPC operations seen in the clear. Judged when the session logs off or the
/// connection ends, once per session.
pub(crate) fn enumeration_rule(
    em: &mut Emitter<'_>,
    conn: &mut ConnState,
    sid: u64,
    ts: Timestamp,
) {
    use crate::smb::dcerpc;
    let Some(s) = conn.session(sid) else {
        return;
    };
    let Some(rpc) = s.rpc.as_deref() else {
        return;
    };
    if !(s.guest || s.anonymous) {
        return;
    }
    let pipes: Vec<&str> = rpc
        .pipes
        .iter()
        .map(String::as_str)
        .filter(|p| ENUM_PIPES.contains(p))
        .collect();
    if pipes.is_empty() {
        return;
    }
    let who = if s.anonymous {
        "An anonymous (null)"
    } else {
        "A guest"
    };
    let calls: Vec<String> = rpc
        .calls
        .iter()
        .map(|(iface, op)| match dcerpc::operation_name(iface, *op) {
            Some(name) => format!("{iface}.{name}"),
            None => format!("{iface} opnum {op}"),
        })
        .collect();
    let listing: Vec<String> = rpc
        .calls
        .iter()
        .filter(|(iface, op)| dcerpc::is_enumeration(iface, *op))
        .filter_map(|(iface, op)| {
            dcerpc::operation_name(iface, *op).map(|n| format!("{iface}.{n}"))
        })
        .collect();
    let noun = if pipes.len() == 1 { "pipe" } else { "pipes" };
    let mut summary = format!("{who} session opened the IPC$ {noun} {}", pipes.join(", "));
    if calls.is_empty() {
        summary.push_str(" (its DCE/RPC calls were not visible)");
    } else {
        summary.push_str(&format!(" and called {}", calls.join(", ")));
    }
    if !listing.is_empty() {
        summary.push_str(&format!(
            "; of these, {} list shares, sessions, users or SIDs",
            listing.join(", ")
        ));
    }
    session_rule(
        em,
        conn,
        sid,
        RuleId::EnumNullSession,
        Context::default(),
        summary,
        ts,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::state::KrbTicket;

    #[test]
    fn dns_names_and_weak_enctypes() {
        for good in ["srv.example.com", "smbscopedc.smbscope.test", "a-b.c"] {
            assert!(is_dns_name(good), "{good}");
        }
        for bad in [
            "localhost",
            "FILESRV",
            "10.0.0.1",
            "::1",
            "srv.",
            "a b.c",
            "",
        ] {
            assert!(!is_dns_name(bad), "{bad}");
        }
        let t = |ticket_enctype, session_key_enctype| KrbTicket {
            ticket_enctype,
            session_key_enctype,
            ..KrbTicket::default()
        };
        assert_eq!(t(18, 18).weak_enctype(), None);
        assert_eq!(t(17, 18).weak_enctype(), None);
        assert_eq!(t(23, 23).weak_enctype(), Some(23));
        assert_eq!(
            t(18, 23).weak_enctype(),
            Some(23),
            "RC4 session key, AES ticket"
        );
        assert_eq!(t(3, 18).weak_enctype(), Some(3), "DES");
    }

    #[test]
    fn unc_hosts() {
        assert_eq!(unc_host(r"\\127.0.0.1\IPC$"), Some("127.0.0.1"));
        assert_eq!(
            unc_host(r"\\srv.example.com\share"),
            Some("srv.example.com")
        );
        assert_eq!(unc_host(r"\\"), None);
        assert_eq!(unc_host("share"), Some("share"));
    }

    #[test]
    fn user_labels() {
        assert_eq!(user_label(Some("D"), Some("u")), r"D\u");
        assert_eq!(user_label(Some(""), Some("u")), "u");
        assert_eq!(user_label(None, Some("")), "the anonymous user");
        assert_eq!(user_label(None, None), "an unknown user");
    }
}
