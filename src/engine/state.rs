//! Posture state: connection -> sessions -> trees, filled in by the SMB1/SMB2 handlers and
//! turned into records when the connection ends.

use std::collections::HashSet;
use std::net::IpAddr;

use super::crypto::{NoKeys, SessionCrypto};
use crate::capture::Timestamp;
use crate::crypto::kdf::PreauthHash;
use crate::event::{MessageCounts, SessionId, SessionRecord, TreeRecord};
use crate::flow::FlowKey;
use crate::smb::negotiate::{Cipher, CompressionAlgorithm, Dialect, SigningAlgorithm};
use crate::smb::status::NtStatus;

/// Which SMB family a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Unknown,
    Smb1,
    Smb2,
}

/// How a session authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthKind {
    #[default]
    Unknown,
    NtlmV1,
    NtlmV2,
    Kerberos,
    Anonymous,
}

impl AuthKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthKind::Unknown => "unknown",
            AuthKind::NtlmV1 => "ntlmv1",
            AuthKind::NtlmV2 => "ntlmv2",
            AuthKind::Kerberos => "kerberos",
            AuthKind::Anonymous => "anonymous",
        }
    }
}

/// Where a session is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    /// SESSION_SETUP legs are still being exchanged.
    InProgress,
    /// The final SESSION_SETUP response said STATUS_SUCCESS.
    Established,
    /// The final SESSION_SETUP response was an error.
    Failed,
    LoggedOff,
    /// Seen only after its setup (the capture started mid-stream).
    Unknown,
}

impl SessionState {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionState::InProgress => "in_progress",
            SessionState::Established => "established",
            SessionState::Failed => "failed",
            SessionState::LoggedOff => "logged_off",
            SessionState::Unknown => "unknown",
        }
    }

    /// Messages after authentication count toward signed/unsigned/encrypted.
    pub fn counts_messages(self) -> bool {
        matches!(
            self,
            SessionState::Established | SessionState::Unknown | SessionState::LoggedOff
        )
    }
}

/// What the client presented in SESSION_SETUP (learnt from the request's security blob).
#[derive(Debug, Clone, Default)]
pub struct AuthInfo {
    pub kind: AuthKind,
    pub user: Option<String>,
    pub domain: Option<String>,
    pub workstation: Option<String>,
    pub krb_realm: Option<String>,
    pub krb_service: Option<String>,
    /// The SPN the client named in its NTLMv2 response (MsvAvTargetName), e.g. `cifs/10.0.0.1`.
    pub target_spn: Option<String>,
    /// What an NTLM AUTHENTICATE carried, to derive the session key from a password.
    pub ntlm: Option<Box<NtlmMaterial>>,
}

/// The parts of an NTLM logon needed to check a password and derive the session key.
#[derive(Debug, Clone, Default)]
pub struct NtlmMaterial {
    pub nt_response: Vec<u8>,
    pub lm_response: Vec<u8>,
    pub flags: u32,
    pub encrypted_session_key: Vec<u8>,
    /// SMB1 extended security (NTLMSSP) rather than raw challenge/response.
    pub extended_security: bool,
}

impl AuthInfo {
    /// Merges what a later leg learnt into what an earlier leg knew.
    pub fn merge(&mut self, other: AuthInfo) {
        if other.kind != AuthKind::Unknown {
            self.kind = other.kind;
        }
        macro_rules! take {
            ($($f:ident),*) => { $( if other.$f.is_some() { self.$f = other.$f; } )* };
        }
        take!(
            user,
            domain,
            workstation,
            krb_realm,
            krb_service,
            target_spn,
            ntlm
        );
    }
}

/// A tree connect.
#[derive(Debug, Clone)]
pub struct Tree {
    pub id: Option<u32>,
    pub path: String,
    pub share_type: Option<u8>,
    pub share_flags: u32,
    pub encrypt_data: bool,
    pub status: Option<NtStatus>,
}

/// One SMB session (SMB2 SessionId or SMB1 UID).
#[derive(Debug)]
pub struct Session {
    pub id: u64,
    pub state: SessionState,
    pub auth: AuthInfo,
    pub guest: bool,
    pub anonymous: bool,
    pub encrypt_data: bool,
    pub client_signing_required: bool,
    pub setup_status: Option<NtStatus>,
    pub trees: Vec<Tree>,
    pub counts: MessageCounts,
    /// Plaintext messages that carry file data or metadata (not setup/tree/echo).
    pub plaintext_data: u64,
    pub files: Vec<String>,
    files_seen: HashSet<u64>,
    pub files_dropped: u64,
    pub bytes_read: u64,
    pub bytes_written: u64,
    pub statuses: Vec<(NtStatus, u64)>,
    /// Rules already fired for this session ([`crate::rules::RuleId::bit`]).
    pub fired: u32,
    /// 3.1.1 preauth integrity hash of this session's setup so far.
    pub preauth: Option<PreauthHash>,
    /// The NTLM server challenge of this session's setup.
    pub ntlm_challenge: Option<[u8; 8]>,
    /// Keys, once found; see [`Session::crypto_state`].
    pub crypto: Option<Box<SessionCrypto>>,
    /// Why no keys were found (after a lookup).
    pub no_keys: Option<NoKeys>,
    pub crypto_tried: bool,
    pub signatures: SignatureCounts,
    pub decrypted: DecryptCounts,
    /// Signed messages whose signature did not verify (bounded).
    pub invalid_signatures: Vec<MessageRef>,
    /// Unsigned plaintext messages on a session that requires signing.
    pub missing_signatures: u64,
    /// Plaintext messages on an encrypted session or share.
    pub unencrypted_when_required: u64,
}

/// Signature verification tallies of a session.
pub use crate::event::{DecryptCounts, MessageRef, SignatureCounts};

/// Invalid signatures kept per session for the record.
pub const MAX_INVALID_REFS: usize = 32;

impl Session {
    pub fn new(id: u64, state: SessionState) -> Session {
        Session {
            id,
            state,
            auth: AuthInfo::default(),
            guest: false,
            anonymous: false,
            encrypt_data: false,
            client_signing_required: false,
            setup_status: None,
            trees: Vec::new(),
            counts: MessageCounts::default(),
            plaintext_data: 0,
            files: Vec::new(),
            files_seen: HashSet::new(),
            files_dropped: 0,
            bytes_read: 0,
            bytes_written: 0,
            statuses: Vec::new(),
            fired: 0,
            preauth: None,
            ntlm_challenge: None,
            crypto: None,
            no_keys: None,
            crypto_tried: false,
            signatures: SignatureCounts::default(),
            decrypted: DecryptCounts::default(),
            invalid_signatures: Vec::new(),
            missing_signatures: 0,
            unencrypted_when_required: 0,
        }
    }

    /// Guest and anonymous sessions have no session key: they can neither sign nor encrypt.
    pub fn keyless(&self) -> bool {
        self.guest || self.anonymous || self.auth.kind == AuthKind::Anonymous
    }

    /// Records a file name, once, up to `max` names.
    pub fn add_file(&mut self, name: &str, max: usize) {
        if name.is_empty() {
            return;
        }
        let h = fxhash(name.as_bytes());
        if self.files_seen.contains(&h) {
            return;
        }
        if self.files.len() >= max {
            self.files_dropped += 1;
            return;
        }
        self.files_seen.insert(h);
        self.files.push(name.to_owned());
    }

    /// Counts a response status (bounded to 64 distinct statuses).
    pub fn add_status(&mut self, status: NtStatus) {
        if let Some(e) = self.statuses.iter_mut().find(|(s, _)| *s == status) {
            e.1 += 1;
        } else if self.statuses.len() < 64 {
            self.statuses.push((status, 1));
        }
    }

    /// Takes in what a SESSION_SETUP request carried (its [`Pending`] entry) and the NTLM
    /// challenge of the response, if any.
    pub fn apply_setup(&mut self, pending: Option<Pending>, challenge: Option<[u8; 8]>) {
        if let Some(Pending::SessionSetup {
            auth,
            signing_required,
            preauth,
            ..
        }) = pending
        {
            self.auth.merge(*auth);
            self.client_signing_required |= signing_required;
            if preauth.is_some() {
                self.preauth = preauth;
            }
        }
        if challenge.is_some() {
            self.ntlm_challenge = challenge;
        }
    }

    pub fn tree_mut(&mut self, tree_id: u32) -> Option<&mut Tree> {
        self.trees.iter_mut().find(|t| t.id == Some(tree_id))
    }

    pub fn tree(&self, tree_id: u32) -> Option<&Tree> {
        self.trees.iter().find(|t| t.id == Some(tree_id))
    }

    pub fn any_tree_encrypted(&self) -> bool {
        self.trees.iter().any(|t| t.encrypt_data)
    }

    pub fn record(&self, conn: &ConnState) -> SessionRecord {
        SessionRecord {
            client: conn.key.client,
            server: conn.key.server,
            session_id: SessionId(self.id),
            dialect: conn.dialect_name(),
            user: self.auth.user.clone(),
            domain: self.auth.domain.clone(),
            workstation: self.auth.workstation.clone(),
            auth: if self.anonymous && self.auth.kind == AuthKind::Unknown {
                AuthKind::Anonymous.as_str()
            } else {
                self.auth.kind.as_str()
            },
            kerberos_realm: self.auth.krb_realm.clone(),
            kerberos_service: self.auth.krb_service.clone(),
            guest: self.guest,
            anonymous: self.anonymous,
            encrypt_data: self.encrypt_data,
            client_signing_required: self.client_signing_required,
            state: self.state.as_str(),
            setup_status: self.setup_status.map(|s| s.to_string()),
            trees: self
                .trees
                .iter()
                .map(|t| TreeRecord {
                    path: t.path.clone(),
                    share_type: t.share_type.map(share_type_name),
                    encrypt_data: t.encrypt_data,
                    share_flags: t.share_flags,
                    status: t.status.map(|s| s.to_string()),
                })
                .collect(),
            messages: self.counts,
            signatures: self.signatures,
            decrypted: self.decrypted,
            invalid_signatures: self.invalid_signatures.clone(),
            key_source: self.crypto.as_ref().map(|c| c.source.as_str()),
            files: self.files.clone(),
            files_dropped: self.files_dropped,
            bytes_read: self.bytes_read,
            bytes_written: self.bytes_written,
            statuses: self
                .statuses
                .iter()
                .map(|(s, n)| (s.to_string(), *n))
                .collect(),
        }
    }
}

/// `"disk"`, `"pipe"` or `"print"` for an SMB2 ShareType (§2.2.10).
pub fn share_type_name(t: u8) -> &'static str {
    match t {
        1 => "disk",
        2 => "pipe",
        3 => "print",
        _ => "unknown",
    }
}

/// A request waiting for its response, keyed by MessageId (SMB2) or MID (SMB1).
#[derive(Debug, Clone)]
pub enum Pending {
    SessionSetup {
        sid: u64,
        auth: Box<AuthInfo>,
        signing_required: bool,
        /// The session's preauth hash including this request (3.1.1).
        preauth: Option<PreauthHash>,
    },
    TreeConnect {
        sid: u64,
        path: String,
    },
}

/// Everything known about one SMB connection.
#[derive(Debug)]
pub struct ConnState {
    pub key: FlowKey,
    /// `"tcp"`, or `"quic"` for SMB inside a QUIC stream.
    pub transport: &'static str,
    pub midstream: bool,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub family: Family,
    /// A NEGOTIATE response was seen.
    pub negotiated: bool,
    pub client_dialects: Vec<String>,
    pub dialect: Option<Dialect>,
    pub smb1_dialect: Option<String>,
    /// SMB2 NEGOTIATE SecurityMode of the client / server; SMB1 mapped onto the same bits.
    pub client_sec_mode: Option<u16>,
    pub server_sec_mode: Option<u16>,
    /// The client asked for required signing in a SESSION_SETUP (SMB2) or Flags2 (SMB1).
    pub client_setup_signing_required: bool,
    pub client_caps: u32,
    pub server_caps: u32,
    pub client_ciphers: Vec<Cipher>,
    pub cipher: Option<Cipher>,
    pub client_signing_algs: Vec<SigningAlgorithm>,
    pub signing_alg: Option<SigningAlgorithm>,
    pub compression: Vec<CompressionAlgorithm>,
    pub client_transport_security: bool,
    pub transport_security: bool,
    /// Names the client dialled (NETNAME context, tree paths, Kerberos SPN, NetBIOS called name).
    pub dialled_name: Option<String>,
    /// The name the server calls itself (NTLMSSP target info).
    pub own_name: Option<String>,
    pub by_ip: bool,
    pub sessions: Vec<Session>,
    pub pending: Vec<(u64, Pending)>,
    pub last_session: u64,
    pub last_tree: u32,
    pub messages: u64,
    /// Messages in an SMB2 TRANSFORM_HEADER (0xFD).
    pub encrypted: u64,
    /// Messages in an SMB2 COMPRESSION_TRANSFORM_HEADER (0xFC), outside encryption.
    pub compressed: u64,
    pub bytes_to_server: u64,
    pub bytes_to_client: u64,
    pub malformed: u64,
    /// Connection-level rules already fired.
    pub fired: u32,
    /// 3.1.1 connection preauth hash (NEGOTIATE request and response).
    pub preauth: PreauthHash,
    /// SMB1 non-extended-security challenge from the NEGOTIATE response.
    pub smb1_challenge: Option<[u8; 8]>,
    /// SMB1 signing: the next request sequence number, once signing started.
    pub smb1_next_seq: Option<u32>,
    /// SMB1 signing: sequence numbers of outstanding requests, by (PID << 16 | MID).
    pub smb1_seqs: Vec<(u64, u32)>,
}

impl ConnState {
    pub fn new(key: FlowKey, ts: Timestamp, midstream: bool) -> ConnState {
        ConnState {
            key,
            transport: "tcp",
            midstream,
            first_seen: ts,
            last_seen: ts,
            family: Family::Unknown,
            negotiated: false,
            client_dialects: Vec::new(),
            dialect: None,
            smb1_dialect: None,
            client_sec_mode: None,
            server_sec_mode: None,
            client_setup_signing_required: false,
            client_caps: 0,
            server_caps: 0,
            client_ciphers: Vec::new(),
            cipher: None,
            client_signing_algs: Vec::new(),
            signing_alg: None,
            compression: Vec::new(),
            client_transport_security: false,
            transport_security: false,
            dialled_name: None,
            own_name: None,
            by_ip: false,
            sessions: Vec::new(),
            pending: Vec::new(),
            last_session: 0,
            last_tree: 0,
            messages: 0,
            encrypted: 0,
            compressed: 0,
            bytes_to_server: 0,
            bytes_to_client: 0,
            malformed: 0,
            fired: 0,
            preauth: PreauthHash::new(),
            smb1_challenge: None,
            smb1_next_seq: None,
            smb1_seqs: Vec::new(),
        }
    }

    /// `"3.1.1"`, … or `"SMB1"`.
    pub fn dialect_name(&self) -> Option<String> {
        match self.family {
            Family::Smb1 => Some("SMB1".to_owned()),
            _ => self
                .dialect
                .filter(|d| *d != Dialect::WILDCARD)
                .map(|d| d.to_string()),
        }
    }

    /// The signing algorithm in force for this dialect (MS-SMB2 §3.1.4.1).
    pub fn signing_algorithm(&self) -> Option<&'static str> {
        match self.family {
            Family::Smb1 => {
                let enabled = self
                    .server_sec_mode
                    .is_some_and(|m| m & SIGNING_ENABLED != 0)
                    || self.sessions.iter().any(|s| s.counts.signed > 0);
                enabled.then_some("MD5")
            }
            _ => match self.dialect? {
                Dialect::SMB2_0_2 | Dialect::SMB2_1 => Some("HMAC-SHA256"),
                Dialect::SMB3_0 | Dialect::SMB3_0_2 => Some("AES-128-CMAC"),
                Dialect::SMB3_1_1 => Some(
                    self.signing_alg
                        .and_then(SigningAlgorithm::name)
                        .unwrap_or("AES-128-CMAC"),
                ),
                _ => None,
            },
        }
    }

    /// The cipher in force: the 3.1.1 ENCRYPTION context, or AES-128-CCM for 3.0/3.0.2 when the
    /// server offers SMB2_GLOBAL_CAP_ENCRYPTION (§3.3.5.4).
    pub fn cipher_name(&self) -> Option<&'static str> {
        match self.dialect? {
            Dialect::SMB3_1_1 => self
                .cipher
                .filter(|c| *c != Cipher::NONE)
                .and_then(Cipher::name),
            Dialect::SMB3_0 | Dialect::SMB3_0_2 if self.server_caps & CAP_ENCRYPTION != 0 => {
                Some("AES-128-CCM")
            }
            _ => None,
        }
    }

    /// Whether the connection could carry encrypted SMB at all.
    pub fn can_encrypt(&self) -> bool {
        self.family == Family::Smb2 && (self.cipher_name().is_some() || self.dialect.is_none())
    }

    /// The best name for the server: what the client dialled unless that was an IP address,
    /// then the server's own name.
    pub fn server_name(&self) -> Option<String> {
        match &self.dialled_name {
            Some(n) if n.parse::<IpAddr>().is_err() => Some(n.clone()),
            dialled => self.own_name.clone().or_else(|| dialled.clone()),
        }
    }

    /// Notes a name the client dialled; IP literals set `by_ip`.
    pub fn note_dialled(&mut self, host: &str) {
        let host = host.trim_matches(|c| c == '\\' || c == '/').trim();
        if host.is_empty() {
            return;
        }
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if bare.parse::<IpAddr>().is_ok() {
            self.by_ip = true;
            if self.dialled_name.is_none() {
                self.dialled_name = Some(bare.to_owned());
            }
        } else if self
            .dialled_name
            .as_deref()
            .is_none_or(|n| n.parse::<IpAddr>().is_ok())
        {
            self.dialled_name = Some(host.to_owned());
        }
    }

    /// Whether SMB2 signing is required on this connection: by the server's or the client's
    /// NEGOTIATE SecurityMode, or by the client's SESSION_SETUP (§3.3.5.5.3).
    pub fn signing_required(&self) -> bool {
        self.family == Family::Smb2
            && (self.server_sec_mode.unwrap_or(0) & SIGNING_REQUIRED != 0
                || self.client_sec_mode.unwrap_or(0) & SIGNING_REQUIRED != 0
                || self.client_setup_signing_required)
    }

    pub fn session_mut(&mut self, id: u64) -> Option<&mut Session> {
        self.sessions.iter_mut().find(|s| s.id == id)
    }

    pub fn session(&self, id: u64) -> Option<&Session> {
        self.sessions.iter().find(|s| s.id == id)
    }

    /// The session with this id, created (in `state`) if new. `None` when the per-connection
    /// session bound is reached.
    pub fn session_or_insert(
        &mut self,
        id: u64,
        state: SessionState,
        max: usize,
    ) -> Option<&mut Session> {
        if let Some(i) = self.sessions.iter().position(|s| s.id == id) {
            return self.sessions.get_mut(i);
        }
        if self.sessions.len() >= max {
            return None;
        }
        self.sessions.push(Session::new(id, state));
        self.sessions.last_mut()
    }

    /// Remembers a request until its response (bounded; the oldest is dropped when full).
    pub fn push_pending(&mut self, id: u64, p: Pending, max: usize) {
        if self.pending.len() >= max {
            self.pending.remove(0);
        }
        self.pending.push((id, p));
    }

    pub fn take_pending(&mut self, id: u64) -> Option<Pending> {
        let i = self.pending.iter().position(|(m, _)| *m == id)?;
        Some(self.pending.remove(i).1)
    }

    /// At connection end, keeps what unanswered requests told (a capture of one direction
    /// only, or a connection cut short): who tried to log on, which trees were asked for.
    pub fn flush_pending(&mut self, max_sessions: usize) {
        for (_, p) in std::mem::take(&mut self.pending) {
            match p {
                Pending::SessionSetup {
                    sid,
                    auth,
                    signing_required,
                    ..
                } => {
                    if let Some(s) =
                        self.session_or_insert(sid, SessionState::InProgress, max_sessions)
                    {
                        s.auth.merge(*auth);
                        s.client_signing_required |= signing_required;
                    }
                }
                Pending::TreeConnect { sid, path } => {
                    if let Some(s) =
                        self.session_or_insert(sid, SessionState::Unknown, max_sessions)
                    {
                        if !s.trees.iter().any(|t| t.path == path) && s.trees.len() < MAX_TREES {
                            s.trees.push(Tree {
                                id: None,
                                path,
                                share_type: None,
                                share_flags: 0,
                                encrypt_data: false,
                                status: None,
                            });
                        }
                    }
                }
            }
        }
    }
}

/// Trees kept per session.
pub const MAX_TREES: usize = 256;

/// SMB2 SecurityMode SIGNING_ENABLED (§2.2.3).
pub const SIGNING_ENABLED: u16 = 0x0001;
/// SMB2 SecurityMode SIGNING_REQUIRED (§2.2.3).
pub const SIGNING_REQUIRED: u16 = 0x0002;
/// SMB2_GLOBAL_CAP_ENCRYPTION (§2.2.3).
pub const CAP_ENCRYPTION: u32 = 0x0000_0040;

/// FNV-1a, for de-duplicating file names without keeping a second copy of each.
fn fxhash(b: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &x in b {
        h ^= u64::from(x);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}
