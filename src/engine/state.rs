//! Posture state: connection -> sessions -> trees, filled in by the SMB1/SMB2 handlers and
//! turned into records when the connection ends.

use std::net::IpAddr;

use crate::crypto::kdf::PreauthHash;
use crate::flow::FlowKey;
use crate::smb::negotiate::{CompressionAlgorithm, Dialect};
use crate::wire::{Cipher, SigningAlgorithm, Timestamp};

pub use super::session::{
    AuthInfo, AuthKind, DecryptCounts, KrbMaterial, KrbTicket, MAX_INVALID_REFS, MessageRef,
    NtlmMaterial, Session, SessionState, SignatureCounts, Tree, share_type_name,
};

/// Which SMB family a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Unknown,
    Smb1,
    Smb2,
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
    /// The dialect strings an SMB1 NEGOTIATE offered.
    pub client_dialects: Vec<String>,
    /// The dialects an SMB2 NEGOTIATE offered (names are made for records only).
    pub client_smb2_dialects: Vec<crate::smb::negotiate::Dialect>,
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
    /// What the client offered in its NEGOTIATE, by name.
    pub fn client_dialect_names(&self) -> Vec<String> {
        if self.client_smb2_dialects.is_empty() {
            self.client_dialects.clone()
        } else {
            self.client_smb2_dialects
                .iter()
                .map(|d| d.to_string())
                .collect()
        }
    }

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
            client_smb2_dialects: Vec::new(),
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
        push_tight(&mut self.sessions, Session::new(id, state));
        self.sessions.last_mut()
    }

    /// Remembers a request until its response (bounded; the oldest is dropped when full).
    pub fn push_pending(&mut self, id: u64, p: Pending, max: usize) {
        if self.pending.len() >= max {
            self.pending.remove(0);
        }
        push_tight(&mut self.pending, (id, p));
    }

    pub fn take_pending(&mut self, id: u64) -> Option<Pending> {
        let i = self.pending.iter().position(|(m, _)| *m == id)?;
        let p = self.pending.remove(i).1;
        if self.pending.is_empty() {
            // Only setup requests wait here: an idle connection holds no buffer for them.
            self.pending = Vec::new();
        }
        Some(p)
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
                            push_tight(
                                &mut s.trees,
                                Tree {
                                    id: None,
                                    path,
                                    share_type: None,
                                    share_flags: 0,
                                    encrypt_data: false,
                                    status: None,
                                },
                            );
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

/// `v.push(x)`, growing one element at a time while `v` is small: most connections have one
/// session and a tree or two, and `Vec`'s first allocation would hold four (over 2 KB of
/// sessions per idle connection). Past eight elements it grows by half its length.
pub(crate) fn push_tight<T>(v: &mut Vec<T>, x: T) {
    if v.len() == v.capacity() {
        v.reserve_exact(if v.len() < 8 { 1 } else { v.len() / 2 });
    }
    v.push(x);
}
