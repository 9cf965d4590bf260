//! One SMB session (SMB2 SessionId or SMB1 UID): who authenticated and how, its trees, files
//! and message tallies, and its keys once found.

use super::crypto::{NoKeys, SessionCrypto};
use super::state::{ConnState, Pending};
use crate::crypto::kdf::PreauthHash;
use crate::event::{MessageCounts, SessionId, SessionRecord, TreeRecord};
use crate::smb::status::NtStatus;

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
    pub workstation: Option<Box<str>>,
    /// Kerberos realm and service of the ticket (boxed `str`: a session keeps them for its
    /// whole life, so they stay small).
    pub krb_realm: Option<Box<str>>,
    pub krb_service: Option<Box<str>>,
    /// The SPN the client named in its NTLMv2 response (MsvAvTargetName), e.g. `cifs/10.0.0.1`.
    pub target_spn: Option<Box<str>>,
    /// What an NTLM AUTHENTICATE carried, to derive the session key from a password.
    pub ntlm: Option<Box<NtlmMaterial>>,
    /// The Kerberos AP-REQ (and, from the response, the AP-REP), to find the session key
    /// with a keytab.
    pub krb: Option<Box<KrbMaterial>>,
    /// What the Kerberos logon shows of its ticket; kept for the session's life.
    pub krb_ticket: Option<Box<KrbTicket>>,
}

/// The posture facts of a Kerberos ticket: its enctypes are in the clear, its times only in
/// the ticket decrypted with a keytab.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KrbTicket {
    /// The ticket's enc-part etype: the service key's type.
    pub ticket_enctype: i32,
    /// The authenticator's etype: the type of the ticket's session key.
    pub session_key_enctype: i32,
    /// RFC 3339 (from the EncTicketPart's KerberosTime).
    pub authtime: Option<Box<str>>,
    pub endtime: Option<Box<str>>,
}

impl KrbTicket {
    /// RC4 (rc4-hmac, rc4-hmac-exp) or DES in the ticket or its session key.
    pub fn weak_enctype(&self) -> Option<i32> {
        use crate::crypto::keytab::enctype::{DES_CBC_CRC, DES_CBC_MD5, RC4_HMAC, RC4_HMAC_EXP};
        [self.ticket_enctype, self.session_key_enctype]
            .into_iter()
            .find(|e| matches!(*e, DES_CBC_CRC | DES_CBC_MD5 | RC4_HMAC | RC4_HMAC_EXP))
    }
}

/// The encrypted parts of a Kerberos logon.
#[derive(Debug, Clone)]
pub struct KrbMaterial {
    pub ap_req: crate::smb::spnego::ApReq,
    pub ap_rep: Option<crate::smb::krb::ApRep>,
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
            ntlm,
            krb,
            krb_ticket
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
    /// Hashes of the names in `files`, sorted (smaller than a hash set, and as fast for the
    /// [`Config::max_files_per_session`](crate::engine::Config) names kept).
    files_seen: Vec<u64>,
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
    /// Named pipes opened on IPC$ and the DCE/RPC calls seen on them (for
    /// `enum.null_session`).
    pub rpc: Option<Box<RpcUse>>,
}

/// Named pipes and DCE/RPC operations of a session, bounded.
#[derive(Debug, Default)]
pub struct RpcUse {
    /// Pipe names as opened on IPC$ (lower case), at most [`RpcUse::MAX`].
    pub pipes: Vec<String>,
    /// The interface bound on each pipe handle (SMB2 FileId).
    files: Vec<([u8; 16], &'static str)>,
    /// Distinct (interface, opnum) calls, in order, at most [`RpcUse::MAX_CALLS`].
    pub calls: Vec<(&'static str, u16)>,
}

impl RpcUse {
    pub const MAX: usize = 16;
    pub const MAX_CALLS: usize = 64;

    pub fn open_pipe(&mut self, name: &str) {
        let name = name.trim_start_matches('\\').to_ascii_lowercase();
        if !name.is_empty() && !self.pipes.contains(&name) && self.pipes.len() < Self::MAX {
            self.pipes.push(name);
        }
    }

    /// A DCE/RPC PDU written to the pipe handle `file`.
    pub fn pdu(&mut self, file: [u8; 16], data: &[u8]) {
        use crate::smb::dcerpc::{self, Pdu};
        match dcerpc::parse(data) {
            Some(Pdu::Bind(ctxs)) => {
                let Some(iface) = ctxs.iter().find_map(|(_, u)| dcerpc::interface_name(u)) else {
                    return;
                };
                if let Some(e) = self.files.iter_mut().find(|(f, _)| *f == file) {
                    e.1 = iface;
                } else if self.files.len() < Self::MAX {
                    self.files.push((file, iface));
                }
            }
            Some(Pdu::Request { opnum, .. }) => {
                let Some(&(_, iface)) = self.files.iter().find(|(f, _)| *f == file) else {
                    return;
                };
                if !self.calls.contains(&(iface, opnum)) && self.calls.len() < Self::MAX_CALLS {
                    self.calls.push((iface, opnum));
                }
            }
            None => {}
        }
    }
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
            files_seen: Vec::new(),
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
            rpc: None,
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
        let Err(at) = self.files_seen.binary_search(&h) else {
            return;
        };
        if self.files.len() >= max {
            self.files_dropped += 1;
            return;
        }
        self.files_seen.insert(at, h);
        self.files.push(name.to_owned());
    }

    /// Counts a response status (bounded to 64 distinct statuses).
    pub fn add_status(&mut self, status: NtStatus) {
        if let Some(e) = self.statuses.iter_mut().find(|(s, _)| *s == status) {
            e.1 += 1;
        } else if self.statuses.len() < 64 {
            super::state::push_tight(&mut self.statuses, (status, 1));
        }
    }

    /// Takes in what a SESSION_SETUP request carried (its [`Pending`] entry) and the NTLM
    /// challenge of the response, if any.
    /// Folds a SESSION_SETUP exchange into the session: the request's authentication (from
    /// `pending`) and what the server's security blob carries (the NTLM challenge, the Kerberos
    /// AP-REP). Shared by SMB1 and SMB2/3.
    pub fn apply_setup(&mut self, pending: Option<Pending>, server_blob: Option<&[u8]>) {
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
        let Some(blob) = server_blob else {
            return;
        };
        if let Some(challenge) = super::auth::server_challenge(blob) {
            self.ntlm_challenge = Some(challenge);
        }
        if let Some(k) = self.auth.krb.as_mut() {
            if let Some(rep) = super::auth::server_ap_rep(blob) {
                k.ap_rep = Some(rep);
            }
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
        let ticket = self.auth.krb_ticket.as_deref();
        let enctype = crate::crypto::keytab::enctype::name;
        SessionRecord {
            client: conn.key.client,
            server: conn.key.server,
            session_id: SessionId(self.id),
            dialect: conn.dialect_name(),
            user: self.auth.user.clone(),
            domain: self.auth.domain.clone(),
            workstation: self.auth.workstation.as_deref().map(String::from),
            auth: if self.anonymous && self.auth.kind == AuthKind::Unknown {
                AuthKind::Anonymous.as_str()
            } else {
                self.auth.kind.as_str()
            },
            kerberos_realm: self.auth.krb_realm.as_deref().map(String::from),
            kerberos_service: self.auth.krb_service.as_deref().map(String::from),
            kerberos_ticket_enctype: ticket.map(|t| enctype(t.ticket_enctype)),
            kerberos_session_key_enctype: ticket.map(|t| enctype(t.session_key_enctype)),
            kerberos_authtime: ticket.and_then(|t| t.authtime.as_deref().map(String::from)),
            kerberos_endtime: ticket.and_then(|t| t.endtime.as_deref().map(String::from)),
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

/// FNV-1a, for de-duplicating file names without keeping a second copy of each.
fn fxhash(b: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &x in b {
        h ^= u64::from(x);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}
