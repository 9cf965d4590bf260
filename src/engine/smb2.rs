//! SMB2/3 messages -> posture state, and the findings they trigger.

use super::findings::{
    client_signing_rule, conn_rule, logon_rules, session_rule, unc_host, unencrypted_rule,
    user_label,
};
use super::state::{
    AuthKind, ConnState, Family, MAX_TREES, Pending, SIGNING_REQUIRED, Session, SessionState, Tree,
};
use super::{Config, Emitter, auth, protect};
use crate::crypto::kdf::PreauthHash;
use crate::flow::Direction;
use crate::rules::{Context, RuleId};
use crate::smb::compress;
use crate::smb::create::CreateRequest;
use crate::smb::header::{Command, Header, split_compound};
use crate::smb::negotiate::{Dialect, NegotiateContext, NegotiateRequest, NegotiateResponse};
use crate::smb::rw::{IoctlRequest, ReadResponse, WriteRequest, fsctl};
use crate::smb::session_setup::{SessionSetupRequest, SessionSetupResponse, session_flags};
use crate::smb::status::NtStatus;
use crate::smb::transform::{TRANSFORM_HEADER_LEN, TransformHeader};
use crate::smb::tree::{TreeConnectRequest, TreeConnectResponse, share_flags};
use crate::wire::Timestamp;

/// One NBSS message that starts with 0xFE, 0xFD or 0xFC.
pub(crate) fn handle(
    em: &mut Emitter<'_>,
    conn: &mut ConnState,
    dir: Direction,
    ts: Timestamp,
    msg: &[u8],
) {
    if conn.family != Family::Smb2 {
        // A multi-protocol negotiate starts in SMB1 and continues in SMB2.
        conn.family = Family::Smb2;
    }
    match msg.first() {
        Some(0xFD) => protect::transform(em, conn, dir, ts, msg),
        Some(0xFC) => {
            conn.compressed += 1;
            let mut inflated = std::mem::take(&mut em.scratch.inflated);
            match compress::decompress_message(msg, em.config.limits.max_message, &mut inflated) {
                Ok(()) => plaintext(em, conn, dir, ts, &inflated),
                Err(e) => malformed(em, conn, ts, "decompression_failed", e.to_string()),
            }
            em.scratch.inflated = inflated;
        }
        _ => plaintext(em, conn, dir, ts, msg),
    }
}

/// How many bytes of a long NBSS message (`head` its first ones) the analysis needs: the
/// header and fixed part of a lone, plaintext READ response or WRITE request outside IPC$ whose
/// signature no key can check, or the TRANSFORM header (raised to 64 bytes by the framer) of a
/// message no key can decrypt; the whole of anything else. The data of such a READ or WRITE is
/// then never copied.
pub(crate) fn wanted(
    config: &Config,
    conn: &ConnState,
    dir: Direction,
    head: &[u8],
    len: u32,
) -> u32 {
    let keyed = |sid: u64| {
        // As `protect::establish` will find: keys are looked up once per session.
        !config.keys.is_empty()
            && conn
                .session(sid)
                .is_none_or(|s| !s.crypto_tried || s.crypto.is_some())
    };
    let need = match head.first() {
        Some(0xFD) => match TransformHeader::parse(head) {
            Ok(th) if !keyed(th.session_id()) => TRANSFORM_HEADER_LEN,
            _ => return len,
        },
        Some(0xFE) => {
            let Ok(h) = Header::parse(head) else {
                return len;
            };
            if h.next_command() != 0 || h.is_related() {
                return len;
            }
            let response = h.is_response() || dir == Direction::ToClient;
            let need = match h.command() {
                Command::READ if response && h.status() == NtStatus::SUCCESS => {
                    ReadResponse::PARSED_LEN
                }
                Command::WRITE if !response => WriteRequest::PARSED_LEN,
                _ => return len,
            };
            let sid = h.session_id();
            let ipc = conn.session(sid).is_some_and(|s| is_ipc(s, h.tree_id()));
            if ipc || (h.is_signed() && keyed(sid)) {
                return len;
            }
            need
        }
        _ => return len,
    };
    u32::try_from(need).unwrap_or(len).min(len)
}

/// Plaintext SMB2: each compounded message in turn.
fn plaintext(
    em: &mut Emitter<'_>,
    conn: &mut ConnState,
    dir: Direction,
    ts: Timestamp,
    msg: &[u8],
) {
    for item in split_compound(msg) {
        match item {
            Ok(h) => message(em, conn, dir, ts, &h, false),
            Err(e) => {
                malformed(em, conn, ts, "malformed_smb2", e.to_string());
                break;
            }
        }
    }
}

/// Connection end: decisions that need the whole connection.
pub(crate) fn on_close(em: &mut Emitter<'_>, conn: &mut ConnState, ts: Timestamp) {
    conn.flush_pending(em.config.max_sessions_per_conn);
    protect::on_close(em, conn, ts);
    client_signing_rule(em, conn, ts);
    for i in 0..conn.sessions.len() {
        let s = &conn.sessions[i];
        let unencrypted = !conn.transport_security
            && s.state.counts_messages()
            && !s.keyless()
            && !s.encrypt_data
            && s.counts.encrypted == 0
            && s.plaintext_data > 0;
        if unencrypted {
            unencrypted_rule(em, conn, i, ts);
        }
        let id = conn.sessions[i].id;
        super::findings::enumeration_rule(em, conn, id, ts);
    }
}

pub(crate) fn malformed(
    em: &mut Emitter<'_>,
    conn: &mut ConnState,
    ts: Timestamp,
    kind: &'static str,
    e: String,
) {
    conn.malformed += 1;
    em.anomaly(&conn.key, kind, e, 0, ts);
}

/// Resolves the SessionId/TreeId of a related compounded message (§3.2.4.1.4: all-ones means
/// "the previous message's").
fn resolve_ids(conn: &mut ConnState, h: &Header<'_>) -> (u64, Option<u32>) {
    let mut sid = h.session_id();
    if h.is_related() && sid == u64::MAX {
        sid = conn.last_session;
    }
    conn.last_session = sid;
    let tid = h.tree_id().map(|t| {
        if h.is_related() && t == u32::MAX {
            conn.last_tree
        } else {
            t
        }
    });
    if let Some(t) = tid {
        conn.last_tree = t;
    }
    (sid, tid)
}

/// One SMB2 message; `encrypted` when it came out of a TRANSFORM.
pub(crate) fn message(
    em: &mut Emitter<'_>,
    conn: &mut ConnState,
    dir: Direction,
    ts: Timestamp,
    h: &Header<'_>,
    encrypted: bool,
) {
    let (sid, tid) = resolve_ids(conn, h);
    let response = h.is_response() || dir == Direction::ToClient;
    if response && h.status() == NtStatus::PENDING && h.is_async() {
        // Interim response (§3.3.4.2): never signed, not counted.
        return;
    }
    let parsed = if response {
        response_msg(em, conn, ts, h, sid, tid)
    } else {
        request_msg(em, conn, h, sid, tid)
    };
    if let Err(e) = parsed {
        malformed(
            em,
            conn,
            ts,
            "malformed_smb2",
            format!("{}: {e}", h.command()),
        );
    }
    if !encrypted {
        protect::verify_smb2(em, conn, dir, ts, h, sid);
    }
    count(em, conn, ts, h, sid, tid, response, encrypted);
}

fn request_msg(
    em: &mut Emitter<'_>,
    conn: &mut ConnState,
    h: &Header<'_>,
    sid: u64,
    tid: Option<u32>,
) -> crate::wire::Result<()> {
    let cfg = em.config;
    match h.command() {
        Command::NEGOTIATE => {
            // 3.1.1 preauth integrity (§3.2.5.3.1): H = SHA-512(H || message), from zero.
            conn.preauth = PreauthHash::new();
            conn.preauth.update(h.raw());
            let req = NegotiateRequest::parse(h)?;
            conn.client_sec_mode = Some(req.security_mode);
            conn.client_caps = req.capabilities;
            conn.client_smb2_dialects = req.dialects.clone();
            for ctx in &req.contexts {
                match ctx {
                    NegotiateContext::Encryption { ciphers } => {
                        conn.client_ciphers = ciphers.clone()
                    }
                    NegotiateContext::Signing { algorithms } => {
                        conn.client_signing_algs = algorithms.clone()
                    }
                    NegotiateContext::NetName(name) => conn.note_dialled(name),
                    NegotiateContext::TransportCapabilities { flags } => {
                        conn.client_transport_security = flags & 1 != 0
                    }
                    _ => {}
                }
            }
        }
        Command::SESSION_SETUP => {
            let req = SessionSetupRequest::parse(h)?;
            let signing_required = u16::from(req.security_mode) & SIGNING_REQUIRED != 0;
            conn.client_setup_signing_required |= signing_required;
            let info = auth::client_blob(req.security_buffer);
            let mut preauth = conn
                .session(sid)
                .and_then(|s| s.preauth)
                .unwrap_or(conn.preauth);
            preauth.update(h.raw());
            if let Some(spn) = info.target_spn.as_deref() {
                if let Some(host) = spn.split('/').nth(1) {
                    conn.note_dialled(host.split(':').next().unwrap_or(host));
                }
            }
            if let Some(svc) = info.krb_service.as_deref() {
                if let Some(host) = svc.split('/').nth(1) {
                    conn.note_dialled(host);
                }
            }
            conn.push_pending(
                h.message_id(),
                Pending::SessionSetup {
                    sid,
                    auth: Box::new(info),
                    signing_required,
                    preauth: Some(preauth),
                },
                cfg.max_pending,
            );
        }
        Command::TREE_CONNECT => {
            let req = TreeConnectRequest::parse(h)?;
            if let Some(host) = unc_host(&req.path) {
                conn.note_dialled(host);
            }
            conn.push_pending(
                h.message_id(),
                Pending::TreeConnect {
                    sid,
                    path: req.path,
                },
                cfg.max_pending,
            );
        }
        Command::CREATE => {
            let req = CreateRequest::parse(h)?;
            let max_files = cfg.max_files_per_session;
            let max = cfg.max_sessions_per_conn;
            if let Some(s) = conn.session_or_insert(sid, SessionState::Unknown, max) {
                s.add_file(&req.name, max_files);
                if is_ipc(s, tid) {
                    s.rpc.get_or_insert_default().open_pipe(&req.name);
                }
            }
        }
        Command::WRITE => {
            let req = WriteRequest::parse(h)?;
            let max = cfg.max_sessions_per_conn;
            if let Some(s) = conn.session_or_insert(sid, SessionState::Unknown, max) {
                s.bytes_written += u64::from(req.length);
                if is_ipc(s, tid) {
                    s.rpc.get_or_insert_default().pdu(req.file_id, req.data(h));
                }
            }
        }
        Command::IOCTL => {
            let req = IoctlRequest::parse(h)?;
            let max = cfg.max_sessions_per_conn;
            if req.ctl_code == fsctl::PIPE_TRANSCEIVE {
                if let (Some(s), Some(input)) = (
                    conn.session_or_insert(sid, SessionState::Unknown, max),
                    req.input(h),
                ) {
                    if is_ipc(s, tid) {
                        s.rpc.get_or_insert_default().pdu(req.file_id, input);
                    }
                }
            }
        }
        _ => {}
    }
    Ok(())
}

fn response_msg(
    em: &mut Emitter<'_>,
    conn: &mut ConnState,
    ts: Timestamp,
    h: &Header<'_>,
    sid: u64,
    tid: Option<u32>,
) -> crate::wire::Result<()> {
    let status = h.status();
    let max = em.config.max_sessions_per_conn;
    let pending = conn.take_pending(h.message_id());
    if sid != 0
        && status != NtStatus::SUCCESS
        && status != NtStatus::MORE_PROCESSING_REQUIRED
        && h.command() != Command::SESSION_SETUP
    {
        if let Some(s) = conn.session_or_insert(sid, SessionState::Unknown, max) {
            s.add_status(status);
        }
        if status == NtStatus::INVALID_SIGNATURE {
            session_rule(
                em,
                conn,
                sid,
                RuleId::SignatureInvalidStatus,
                Context::default(),
                format!("The server rejected a {} request's signature", h.command()),
                ts,
            );
        }
    }
    match h.command() {
        Command::NEGOTIATE if status == NtStatus::SUCCESS => {
            conn.preauth.update(h.raw());
            let resp = NegotiateResponse::parse(h)?;
            negotiated(em, conn, ts, &resp);
        }
        Command::SESSION_SETUP => session_setup(em, conn, ts, h, sid, pending)?,
        Command::TREE_CONNECT => {
            let path = match pending {
                Some(Pending::TreeConnect { path, .. }) => path,
                _ => String::new(),
            };
            let mut tree = Tree {
                id: None,
                path,
                share_type: None,
                share_flags: 0,
                encrypt_data: false,
                status: Some(status),
            };
            if status == NtStatus::SUCCESS {
                let resp = TreeConnectResponse::parse(h)?;
                tree.id = tid;
                tree.share_type = Some(resp.share_type);
                tree.share_flags = resp.share_flags;
                tree.encrypt_data = resp.share_flags & share_flags::ENCRYPT_DATA != 0;
            }
            let refused = status == NtStatus::ACCESS_DENIED && !conn.can_encrypt();
            let path = tree.path.clone();
            if let Some(s) = conn.session_or_insert(sid, SessionState::Unknown, max) {
                if s.trees.len() < MAX_TREES {
                    super::state::push_tight(&mut s.trees, tree);
                }
            }
            if refused {
                let d = conn
                    .dialect_name()
                    .unwrap_or_else(|| "an unknown dialect".into());
                session_rule(
                    em,
                    conn,
                    sid,
                    RuleId::EncryptionRefused,
                    Context {
                        cannot_encrypt: true,
                        ..Context::default()
                    },
                    format!(
                        "TREE_CONNECT to {path} was denied (STATUS_ACCESS_DENIED) on SMB {d}, \
                         which cannot encrypt: the share most likely requires encryption"
                    ),
                    ts,
                );
            }
        }
        Command::READ if status == NtStatus::SUCCESS => {
            let resp = ReadResponse::parse(h)?;
            if let Some(s) = conn.session_or_insert(sid, SessionState::Unknown, max) {
                s.bytes_read += u64::from(resp.data_length);
            }
        }
        Command::LOGOFF if status == NtStatus::SUCCESS => {
            if let Some(s) = conn.session_mut(sid) {
                s.state = SessionState::LoggedOff;
            }
            super::findings::enumeration_rule(em, conn, sid, ts);
        }
        _ => {}
    }
    Ok(())
}

fn negotiated(
    em: &mut Emitter<'_>,
    conn: &mut ConnState,
    ts: Timestamp,
    resp: &NegotiateResponse<'_>,
) {
    conn.family = Family::Smb2;
    conn.negotiated = true;
    conn.server_sec_mode = Some(resp.security_mode);
    conn.server_caps = resp.capabilities;
    if resp.dialect == Dialect::WILDCARD {
        // Reply to an SMB1 multi-protocol negotiate: the real NEGOTIATE follows.
        conn.dialect = Some(resp.dialect);
        return;
    }
    conn.dialect = Some(resp.dialect);
    for ctx in &resp.contexts {
        match ctx {
            NegotiateContext::Encryption { ciphers } => conn.cipher = ciphers.first().copied(),
            NegotiateContext::Signing { algorithms } => {
                conn.signing_alg = algorithms.first().copied()
            }
            NegotiateContext::Compression { algorithms, .. } => {
                conn.compression = algorithms.clone()
            }
            NegotiateContext::TransportCapabilities { flags } => {
                conn.transport_security = conn.client_transport_security && flags & 1 != 0
            }
            _ => {}
        }
    }
    let dialect = resp.dialect;
    if matches!(dialect, Dialect::SMB2_0_2 | Dialect::SMB2_1) {
        conn_rule(
            em,
            conn,
            RuleId::DialectLegacy,
            Context {
                cannot_encrypt: true,
                ..Context::default()
            },
            format!(
                "SMB {dialect} negotiated: no encryption and no pre-authentication integrity \
                 (the client offered {})",
                conn.client_dialect_names().join(", ")
            ),
            ts,
        );
    }
    if resp.security_mode & SIGNING_REQUIRED == 0 {
        conn_rule(
            em,
            conn,
            RuleId::SigningNotRequiredServer,
            Context::default(),
            format!(
                "The server's NEGOTIATE response does not require signing (SecurityMode {:#06x}, \
                 SMB {dialect})",
                resp.security_mode
            ),
            ts,
        );
    }
}

fn session_setup(
    em: &mut Emitter<'_>,
    conn: &mut ConnState,
    ts: Timestamp,
    h: &Header<'_>,
    sid: u64,
    pending: Option<Pending>,
) -> crate::wire::Result<()> {
    let status = h.status();
    let max = em.config.max_sessions_per_conn;
    let resp = if status == NtStatus::SUCCESS || status == NtStatus::MORE_PROCESSING_REQUIRED {
        Some(SessionSetupResponse::parse(h)?)
    } else {
        None
    };
    if let Some(r) = &resp {
        if let Some(name) = auth::server_name(r.security_buffer) {
            conn.own_name.get_or_insert(name);
        }
    }
    let Some(s) = conn.session_or_insert(sid, SessionState::InProgress, max) else {
        return Ok(());
    };
    s.apply_setup(pending, resp.as_ref().map(|r| r.security_buffer));
    if status == NtStatus::MORE_PROCESSING_REQUIRED {
        s.state = SessionState::InProgress;
        // Interim responses join the hash; the final one does not (§3.2.5.3.1).
        if let Some(p) = s.preauth.as_mut() {
            p.update(h.raw());
        }
        return Ok(());
    }
    s.setup_status = Some(status);
    if status != NtStatus::SUCCESS {
        s.state = SessionState::Failed;
        let note = logon_note(conn, sid, status, ts);
        em.logons.extend(note);
        let Some(s) = conn.session_mut(sid) else {
            return Ok(());
        };
        let who = user_label(s.auth.domain.as_deref(), s.auth.user.as_deref());
        session_rule(
            em,
            conn,
            sid,
            RuleId::LogonFailed,
            Context::default(),
            format!("SESSION_SETUP for {who} failed with {status}"),
            ts,
        );
        return Ok(());
    }
    let flags = resp.map(|r| r.session_flags).unwrap_or(0);
    s.state = SessionState::Established;
    s.guest = flags & session_flags::IS_GUEST != 0;
    s.anonymous = flags & session_flags::IS_NULL != 0 || s.auth.kind == AuthKind::Anonymous;
    s.encrypt_data = flags & session_flags::ENCRYPT_DATA != 0;
    let (guest, anonymous, kind) = (s.guest, s.anonymous, s.auth.kind);
    em.logons.extend(logon_note(conn, sid, status, ts));
    let anon_how = if flags & session_flags::IS_NULL != 0 {
        "SessionFlags IS_NULL"
    } else {
        "empty NTLMSSP user and NT response"
    };
    logon_rules(em, conn, sid, ts, "SessionFlags IS_GUEST", anon_how);
    client_signing_rule(em, conn, ts);
    if conn.by_ip && kind != AuthKind::Kerberos && !anonymous && !guest {
        let host = conn.dialled_name.clone().unwrap_or_default();
        conn_rule(
            em,
            conn,
            RuleId::AuthByIp,
            Context::default(),
            format!(
                "The client named the server by IP address ({host}), so Kerberos was not possible"
            ),
            ts,
        );
    }
    Ok(())
}

/// Counts a message toward its session's signed/unsigned tallies and fires the message rules.
#[allow(clippy::too_many_arguments)]
fn count(
    em: &mut Emitter<'_>,
    conn: &mut ConnState,
    ts: Timestamp,
    h: &Header<'_>,
    sid: u64,
    tid: Option<u32>,
    response: bool,
    encrypted: bool,
) {
    let cmd = h.command();
    if sid == 0 || cmd == Command::SESSION_SETUP || cmd == Command::NEGOTIATE {
        return;
    }
    let status = h.status();
    if status == NtStatus::NETWORK_SESSION_EXPIRED || status == NtStatus::USER_SESSION_DELETED {
        // Sent without a signature by design (§3.3.4.1.1).
        return;
    }
    let max = em.config.max_sessions_per_conn;
    // Over QUIC with SMB2_TRANSPORT_CAPABILITIES accepted, SMB encryption is skipped by design:
    // the transport encrypts (MS-SMB2 §2.2.3.1.5).
    let transport_encrypted = conn.transport_security;
    let Some(s) = conn.session_or_insert(sid, SessionState::Unknown, max) else {
        return;
    };
    if !s.state.counts_messages() || encrypted {
        // Messages inside a TRANSFORM were counted as encrypted, never as unsigned.
        return;
    }
    let signed = h.is_signed();
    if signed {
        s.counts.signed += 1;
    } else {
        s.counts.unsigned += 1;
    }
    let data = !matches!(
        cmd,
        Command::TREE_CONNECT
            | Command::TREE_DISCONNECT
            | Command::LOGOFF
            | Command::ECHO
            | Command::CANCEL
    );
    if data {
        s.plaintext_data += 1;
    }
    let keyless = s.keyless();
    let unsigned_first = !signed && !keyless && s.fired & RuleId::SessionUnsigned.bit() == 0;
    let tree_plain = tid
        .and_then(|t| s.tree(t))
        .is_some_and(|t| t.share_type == Some(1) && !t.encrypt_data);
    let unencrypted_now = data && tree_plain && !keyless && !s.encrypt_data && !transport_encrypted;
    if unsigned_first {
        let setup = if s.state == SessionState::Unknown {
            " (its setup was not captured)"
        } else {
            ""
        };
        let who = user_label(s.auth.domain.as_deref(), s.auth.user.as_deref());
        session_rule(
            em,
            conn,
            sid,
            RuleId::SessionUnsigned,
            Context::default(),
            format!(
                "Session of {who}{setup} sent an unsigned {cmd} {}",
                if response { "response" } else { "request" }
            ),
            ts,
        );
    }
    if unencrypted_now {
        if let Some(i) = conn.sessions.iter().position(|s| s.id == sid) {
            unencrypted_rule(em, conn, i, ts);
        }
    }
    protect::plaintext_rules(em, conn, ts, h, sid, tid);
}

/// Whether `tid` is the session's IPC$ tree (named pipes).
fn is_ipc(s: &Session, tid: Option<u32>) -> bool {
    tid.is_some()
        && s.trees.iter().any(|t| {
            t.id == tid
                && t.path
                    .rsplit('\\')
                    .next()
                    .is_some_and(|share| share.eq_ignore_ascii_case("IPC$"))
        })
}

/// The logon-attack tracker's view of a final SESSION_SETUP response (SMB2 and SMB1).
pub(crate) fn logon_note(
    conn: &ConnState,
    sid: u64,
    status: NtStatus,
    ts: Timestamp,
) -> Option<super::logon::LogonNote> {
    let s = conn.session(sid)?;
    Some(super::logon::LogonNote {
        key: conn.key,
        server_name: conn.server_name(),
        user: s.auth.user.clone(),
        domain: s.auth.domain.clone(),
        status,
        keyless: s.keyless(),
        ts,
    })
}
