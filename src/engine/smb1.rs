//! SMB1 (CIFS) messages -> posture state. SMB1 is itself a finding; what matters here is the
//! dialect, signing, guest/anonymous logons, NTLM version, trees and file names.

use super::findings::{conn_rule, logon_rules, session_rule, unc_host, user_label};
use super::state::{
    AuthInfo, AuthKind, ConnState, Family, NtlmMaterial, Pending, SessionState, Tree,
};
use super::{Emitter, auth};
use crate::flow::Direction;
use crate::rules::{Context, RuleId};
use crate::smb::smb1::{
    self, AndxBlock, Command, CreateDirectoryRequest, Header, NegotiateRequest, NegotiateResponse,
    NtCreateRequest, SessionSetupRequest, SessionSetupResponse, TreeConnectRequest, flags2,
    security_mode,
};
use crate::smb::status::NtStatus;
use crate::wire::{Timestamp, le16};

/// SMB_SETUP_GUEST in SESSION_SETUP_ANDX Action ([MS-CIFS] 2.2.4.53.2).
const ACTION_GUEST: u16 = 0x0001;
/// Pending keys for a TREE_CONNECT_ANDX chained behind another command in the same message.
const TREE_KEY: u64 = 1 << 60;

/// One NBSS message that starts with 0xFF 'SMB'.
pub(crate) fn handle(
    em: &mut Emitter<'_>,
    conn: &mut ConnState,
    dir: Direction,
    ts: Timestamp,
    msg: &[u8],
) {
    let h = match Header::parse(msg) {
        Ok(h) => h,
        Err(e) => {
            conn.malformed += 1;
            em.anomaly(
                &conn.key,
                "malformed_smb1",
                e.to_string(),
                msg.len() as u64,
                ts,
            );
            return;
        }
    };
    let reply = h.is_reply() || dir == Direction::ToClient;
    if conn.family == Family::Unknown && h.command() != Command::NEGOTIATE {
        // Mid-stream SMB1: no NEGOTIATE seen.
        conn.family = Family::Smb1;
        conn_rule(
            em,
            conn,
            RuleId::Smb1,
            smb1_context(conn),
            "SMB1 traffic (the NEGOTIATE was not captured)".into(),
            ts,
        );
    }
    // Windows sets this bit in the multi-protocol NEGOTIATE that then continues in SMB2, so it
    // only counts on other SMB1 requests.
    if !reply
        && h.command() != Command::NEGOTIATE
        && h.flags2() & flags2::SECURITY_SIGNATURE_REQUIRED != 0
    {
        conn.client_setup_signing_required = true;
    }
    let key = (u64::from(h.pid()) << 16) | u64::from(h.mid());
    for block in smb1::andx_chain(&h) {
        let block = match block {
            Ok(b) => b,
            Err(e) => {
                conn.malformed += 1;
                em.anomaly(&conn.key, "malformed_smb1", e.to_string(), 0, ts);
                break;
            }
        };
        let res = if reply {
            reply_block(em, conn, ts, &h, &block, key)
        } else {
            request_block(em, conn, &h, &block, key)
        };
        if let Err(e) = res {
            conn.malformed += 1;
            em.anomaly(
                &conn.key,
                "malformed_smb1",
                format!("{}: {e}", block.command),
                0,
                ts,
            );
        }
    }
    verify(em, conn, ts, &h, reply, key);
    count(em, conn, ts, &h, reply);
}

/// SMB1 MD5 signatures ([MS-CIFS] 3.1.5.1, 3.2.4.1.1, 3.3.5.2). Sequence numbers: the
/// SESSION_SETUP_ANDX request that completes authentication is 0 and its response 1; after
/// that each request takes the next even number and its response the one after (an NT_CANCEL
/// has no response, so it takes one number only). Verified on captures/smb1-signed.pcap.
fn verify(
    em: &mut Emitter<'_>,
    conn: &mut ConnState,
    ts: Timestamp,
    h: &Header<'_>,
    reply: bool,
    key: u64,
) {
    const NT_CANCEL: u8 = 0xA4;
    let uid = u64::from(h.uid());
    let first_signed = reply
        && h.command() == Command::SESSION_SETUP_ANDX
        && h.status() == 0
        && h.is_signed()
        && conn.session(uid).is_some_and(|s| s.crypto.is_some());
    if !h.is_signed() && !first_signed {
        if !reply {
            // Unsigned requests still use up their sequence numbers once signing started.
            if let Some(next) = conn.smb1_next_seq.as_mut() {
                *next = next.wrapping_add(2);
            }
        }
        return;
    }
    let seq = if first_signed {
        conn.smb1_next_seq = Some(2);
        Some(1)
    } else if !reply {
        let next = conn.smb1_next_seq;
        if let Some(next) = next {
            let step = if h.command().0 == NT_CANCEL { 1 } else { 2 };
            conn.smb1_next_seq = Some(next.wrapping_add(step));
            if conn.smb1_seqs.len() >= em.config.max_pending {
                conn.smb1_seqs.remove(0);
            }
            conn.smb1_seqs.push((key, next));
        }
        next
    } else {
        conn.smb1_seqs
            .iter()
            .position(|(k, _)| *k == key)
            .map(|i| conn.smb1_seqs.remove(i).1.wrapping_add(1))
    };
    let Some(s) = conn.session_mut(uid) else {
        return;
    };
    let mac_key = s.crypto.as_ref().and_then(|c| c.smb1_mac_key.as_deref());
    match (mac_key, seq) {
        (Some(k), Some(seq)) => {
            if crate::crypto::sign::smb1_verify(k, h.raw(), seq) {
                s.signatures.valid += 1;
            } else {
                s.signatures.invalid += 1;
                if s.invalid_signatures.len() < super::state::MAX_INVALID_REFS {
                    s.invalid_signatures.push(super::state::MessageRef {
                        message_id: u64::from(h.mid()),
                        command: h.command().to_string(),
                        direction: if reply { "to_client" } else { "to_server" },
                        ts: ts.as_secs_f64(),
                    });
                }
            }
        }
        _ => s.signatures.unverified += 1,
    }
}

fn smb1_context(conn: &ConnState) -> Context {
    Context {
        cannot_sign: conn
            .server_sec_mode
            .is_none_or(|m| m & super::state::SIGNING_REQUIRED == 0),
        cannot_encrypt: true,
    }
}

fn request_block(
    em: &mut Emitter<'_>,
    conn: &mut ConnState,
    h: &Header<'_>,
    block: &AndxBlock<'_>,
    key: u64,
) -> crate::wire::Result<()> {
    let cfg = em.config;
    match block.command {
        Command::NEGOTIATE => {
            let req = NegotiateRequest::parse(h, block)?;
            conn.client_dialects = req.dialects;
            let f2 = h.flags2();
            let mut mode = 0;
            if f2 & flags2::SECURITY_SIGNATURE != 0 {
                mode |= super::state::SIGNING_ENABLED;
            }
            // Flags2 SECURITY_SIGNATURE_REQUIRED is set by Windows in every multi-protocol
            // NEGOTIATE whatever its policy (zeek/smb2.pcap); the client's requirement is read
            // from its later SMB1 requests instead.
            conn.client_sec_mode = Some(mode);
        }
        Command::SESSION_SETUP_ANDX => {
            let req = SessionSetupRequest::parse(h, block)?;
            let info = match req.security_blob {
                Some(blob) => auth::client_blob(blob),
                None => legacy_auth(&req),
            };
            conn.push_pending(
                key,
                Pending::SessionSetup {
                    sid: u64::from(h.uid()),
                    auth: Box::new(info),
                    signing_required: h.flags2() & flags2::SECURITY_SIGNATURE_REQUIRED != 0,
                    preauth: None,
                },
                cfg.max_pending,
            );
        }
        Command::TREE_CONNECT_ANDX => {
            let req = TreeConnectRequest::parse(h, block)?;
            if let Some(host) = unc_host(&req.path) {
                conn.note_dialled(host);
            }
            conn.push_pending(
                key | TREE_KEY,
                Pending::TreeConnect {
                    sid: u64::from(h.uid()),
                    path: req.path,
                },
                cfg.max_pending,
            );
        }
        Command::CREATE_DIRECTORY => {
            let req = CreateDirectoryRequest::parse(h, block)?;
            add_file(em, conn, h.uid(), &req.name);
        }
        Command::WRITE_ANDX => {
            // [MS-SMB] 2.2.4.3.1: DataLengthHigh (word bytes 18..20), DataLength (20..22).
            let len = write_andx_len(block.words);
            let max = cfg.max_sessions_per_conn;
            if let Some(s) = conn.session_or_insert(u64::from(h.uid()), SessionState::Unknown, max)
            {
                s.bytes_written += len;
            }
        }
        Command::NT_CREATE_ANDX => {
            let req = NtCreateRequest::parse(h, block)?;
            add_file(em, conn, h.uid(), &req.name);
        }
        _ => {}
    }
    Ok(())
}

/// Records a file or directory name on the session of `uid`. SMB1 names are relative to the
/// share root with a leading '\\'; SMB2 names have none, so it is stripped to read the same.
fn add_file(em: &Emitter<'_>, conn: &mut ConnState, uid: u16, name: &str) {
    let (max, max_files) = (
        em.config.max_sessions_per_conn,
        em.config.max_files_per_session,
    );
    if let Some(s) = conn.session_or_insert(u64::from(uid), SessionState::Unknown, max) {
        s.add_file(name.trim_start_matches('\\'), max_files);
    }
}

/// WRITE_ANDX request data length: DataLength plus DataLengthHigh << 16 (WordCount 12 or 14).
fn write_andx_len(words: &[u8]) -> u64 {
    let low = u64::from(le16(words, 20).unwrap_or(0));
    let high = u64::from(le16(words, 18).unwrap_or(0));
    (high << 16) | low
}

/// READ_ANDX response data length: DataLength plus DataLengthHigh << 16 (WordCount 12).
fn read_andx_len(words: &[u8]) -> u64 {
    let low = u64::from(le16(words, 10).unwrap_or(0));
    let high = u64::from(le16(words, 14).unwrap_or(0));
    (high << 16) | low
}

/// Who logged on with a non-extended-security SESSION_SETUP_ANDX (WordCount 13).
fn legacy_auth(req: &SessionSetupRequest<'_>) -> AuthInfo {
    let account = req.account.clone().unwrap_or_default();
    let kind = match req.unicode_password_len {
        0 if account.is_empty() && req.oem_password_len <= 1 => AuthKind::Anonymous,
        24 => AuthKind::NtlmV1,
        n if n > 24 => AuthKind::NtlmV2,
        _ => AuthKind::Unknown,
    };
    // Without extended security the responses travel as the two "passwords": the case
    // sensitive one is the NT response, the other the LM response ([MS-CIFS] 2.2.4.53.1).
    let ntlm = (req.unicode_password_len >= 24).then(|| {
        Box::new(NtlmMaterial {
            nt_response: req.unicode_password.to_vec(),
            lm_response: req.oem_password.to_vec(),
            flags: 0,
            encrypted_session_key: Vec::new(),
            extended_security: false,
        })
    });
    AuthInfo {
        kind,
        user: Some(account),
        domain: req.domain.clone(),
        ntlm,
        ..AuthInfo::default()
    }
}

fn reply_block(
    em: &mut Emitter<'_>,
    conn: &mut ConnState,
    ts: Timestamp,
    h: &Header<'_>,
    block: &AndxBlock<'_>,
    key: u64,
) -> crate::wire::Result<()> {
    let status = NtStatus(h.status());
    let uid = u64::from(h.uid());
    let max = em.config.max_sessions_per_conn;
    match block.command {
        Command::NEGOTIATE => {
            let resp = NegotiateResponse::parse(h, block)?;
            negotiated(em, conn, ts, &resp);
        }
        Command::SESSION_SETUP_ANDX => {
            let pending = conn.take_pending(key);
            let resp =
                if status == NtStatus::SUCCESS || status == NtStatus::MORE_PROCESSING_REQUIRED {
                    Some(SessionSetupResponse::parse(h, block)?)
                } else {
                    None
                };
            let blob = resp.as_ref().and_then(|r| r.security_blob);
            if let Some(name) = blob.and_then(auth::server_name) {
                conn.own_name.get_or_insert(name);
            }
            let Some(s) = conn.session_or_insert(uid, SessionState::InProgress, max) else {
                return Ok(());
            };
            s.apply_setup(pending, blob);
            if status == NtStatus::MORE_PROCESSING_REQUIRED {
                return Ok(());
            }
            s.setup_status = Some(status);
            if status != NtStatus::SUCCESS {
                s.state = SessionState::Failed;
                let who = user_label(s.auth.domain.as_deref(), s.auth.user.as_deref());
                em.logons
                    .extend(super::smb2::logon_note(conn, uid, status, ts));
                let summary = format!("SMB1 SESSION_SETUP_ANDX for {who} failed with {status}");
                session_rule(
                    em,
                    conn,
                    uid,
                    RuleId::LogonFailed,
                    Context::default(),
                    summary,
                    ts,
                );
                return Ok(());
            }
            s.state = SessionState::Established;
            s.guest = resp.is_some_and(|r| r.action & ACTION_GUEST != 0);
            s.anonymous = s.auth.kind == AuthKind::Anonymous;
            let anon_how = if s.auth.ntlm.as_ref().is_some_and(|n| n.extended_security) {
                "empty NTLMSSP user and NT response"
            } else {
                "empty account and passwords"
            };
            em.logons
                .extend(super::smb2::logon_note(conn, uid, status, ts));
            logon_rules(
                em,
                conn,
                uid,
                ts,
                "SESSION_SETUP_ANDX Action GUEST",
                anon_how,
            );
        }
        Command::READ_ANDX if status == NtStatus::SUCCESS => {
            // [MS-SMB] 2.2.4.2.2: DataLength (word bytes 10..12), DataLengthHigh (14..16).
            let len = read_andx_len(block.words);
            if let Some(s) = conn.session_or_insert(uid, SessionState::Unknown, max) {
                s.bytes_read += len;
            }
        }
        Command::TREE_CONNECT_ANDX => {
            let path = match conn.take_pending(key | TREE_KEY) {
                Some(Pending::TreeConnect { path, .. }) => path,
                _ => String::new(),
            };
            let tree = Tree {
                id: (status == NtStatus::SUCCESS).then_some(u32::from(h.tid())),
                path,
                share_type: None,
                share_flags: 0,
                encrypt_data: false,
                status: Some(status),
            };
            if let Some(s) = conn.session_or_insert(uid, SessionState::Unknown, max) {
                if s.trees.len() < super::state::MAX_TREES {
                    super::state::push_tight(&mut s.trees, tree);
                }
            }
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
    let name = conn
        .client_dialects
        .get(usize::from(resp.dialect_index))
        .cloned();
    if resp.dialect_index == 0xFFFF {
        return;
    }
    conn.family = Family::Smb1;
    conn.negotiated = true;
    conn.smb1_dialect = name.clone();
    let mut mode = 0;
    if resp.security_mode & security_mode::SIGNATURES_ENABLED != 0 {
        mode |= super::state::SIGNING_ENABLED;
    }
    if resp.security_mode & security_mode::SIGNATURES_REQUIRED != 0 {
        mode |= super::state::SIGNING_ENABLED | super::state::SIGNING_REQUIRED;
    }
    conn.server_sec_mode = Some(mode);
    conn.server_caps = resp.capabilities;
    conn.smb1_challenge = resp.challenge;
    let dialect = name.unwrap_or_else(|| format!("dialect #{}", resp.dialect_index));
    conn_rule(
        em,
        conn,
        RuleId::Smb1,
        smb1_context(conn),
        format!(
            "SMB1 negotiated (\"{dialect}\"): no pre-authentication integrity, no encryption, \
             MD5 signing at best"
        ),
        ts,
    );
    if mode & super::state::SIGNING_REQUIRED == 0 {
        let how = if mode & super::state::SIGNING_ENABLED != 0 {
            "enabled but not required"
        } else {
            "not even enabled"
        };
        conn_rule(
            em,
            conn,
            RuleId::SigningNotRequiredServer,
            Context::default(),
            format!(
                "The SMB1 server's signing is {how} (SecurityMode {:#04x})",
                resp.security_mode
            ),
            ts,
        );
    }
}

/// Counts an SMB1 message toward its session (by UID) and fires `session.unsigned`.
fn count(em: &mut Emitter<'_>, conn: &mut ConnState, ts: Timestamp, h: &Header<'_>, reply: bool) {
    let cmd = h.command();
    let uid = u64::from(h.uid());
    if uid == 0 || cmd == Command::NEGOTIATE || cmd == Command::SESSION_SETUP_ANDX {
        return;
    }
    let status = NtStatus(h.status());
    let max = em.config.max_sessions_per_conn;
    let Some(s) = conn.session_or_insert(uid, SessionState::Unknown, max) else {
        return;
    };
    if reply && status != NtStatus::SUCCESS && h.flags2() & flags2::NT_STATUS != 0 {
        s.add_status(status);
    }
    if !s.state.counts_messages() {
        return;
    }
    let signed = h.is_signed();
    if signed {
        s.counts.signed += 1;
    } else {
        s.counts.unsigned += 1;
    }
    if !matches!(
        cmd,
        Command::TREE_CONNECT_ANDX
            | Command::TREE_DISCONNECT
            | Command::LOGOFF_ANDX
            | Command::ECHO
    ) {
        s.plaintext_data += 1;
    }
    if !signed && !s.keyless() && s.fired & RuleId::SessionUnsigned.bit() == 0 {
        let who = user_label(s.auth.domain.as_deref(), s.auth.user.as_deref());
        let summary = format!(
            "SMB1 session of {who} sent an unsigned {cmd} {}",
            if reply { "response" } else { "request" }
        );
        session_rule(
            em,
            conn,
            uid,
            RuleId::SessionUnsigned,
            Context::default(),
            summary,
            ts,
        );
    }
}
