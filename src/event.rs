//! The output vocabulary: every record smbscope emits. Sinks (text report, JSON lines, syslog,
//! TUI) only format these.
//!
//! # JSON lines contract
//!
//! `analyze --format json` prints one JSON object per line. Every object has a `"type"`:
//!
//! * `"connection"` ([`ConnectionRecord`]): one per TCP connection that carried SMB, when it
//!   ends (FIN/RST, idle timeout or end of input).
//! * `"session"` ([`SessionRecord`]): one per SMB session seen on that connection, right after its
//!   connection record.
//! * `"finding"` ([`Finding`]): as soon as a posture problem is known (so a live sensor can alert
//!   at once); each rule fires at most once per connection (or per session for session rules).
//! * `"anomaly"` ([`AnomalyRecord`]): malformed or lost input, and limits that were hit.
//! * `"summary"` ([`Summary`]): last line: totals for the run.
//!
//! Addresses are `"IP:PORT"` (`"[v6]:PORT"` for IPv6). Session ids are `"0x"` + 16 hex digits of
//! the SessionId as a number (the wire bytes are little-endian). Fields may be added in later
//! versions; existing ones keep their meaning.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;

use serde::{Serialize, Serializer};

/// One output record. Serialized with a `"type"` field naming the variant.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Record {
    Connection(ConnectionRecord),
    Session(SessionRecord),
    Finding(Finding),
    Anomaly(AnomalyRecord),
    Event(EventRecord),
    Quic(EventRecord),
    Summary(Summary),
}

/// How bad a finding is. Ordered: `Info < Low < Medium < High`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }

    /// Parses `info|low|medium|high` (case-insensitive).
    pub fn parse(s: &str) -> Option<Severity> {
        match s.to_ascii_lowercase().as_str() {
            "info" => Some(Severity::Info),
            "low" => Some(Severity::Low),
            "medium" => Some(Severity::Medium),
            "high" => Some(Severity::High),
            _ => None,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An SMB SessionId, shown as `0x` + 16 hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SessionId(pub u64);

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:016x}", self.0)
    }
}

impl Serialize for SessionId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Serializes a socket address as `"IP:PORT"`.
fn ser_addr<S: Serializer>(a: &SocketAddr, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(a)
}

/// A TCP (later also QUIC) connection that carried SMB, with its negotiated parameters.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectionRecord {
    /// `"tcp"` (or `"quic"`).
    pub transport: &'static str,
    #[serde(serialize_with = "ser_addr")]
    pub client: SocketAddr,
    #[serde(serialize_with = "ser_addr")]
    pub server: SocketAddr,
    /// `"3.1.1"`, `"3.0.2"`, `"3.0"`, `"2.1"`, `"2.0.2"`, `"SMB1"`, or null when no NEGOTIATE was
    /// seen and no later message revealed it.
    pub dialect: Option<String>,
    /// The SMB1 dialect string the server chose (e.g. `"NT LM 0.12"`), for SMB1 connections.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smb1_dialect: Option<String>,
    /// Dialects the client offered, in its order.
    pub client_dialects: Vec<String>,
    pub client_signing_required: bool,
    pub server_signing_required: bool,
    pub client_signing_enabled: bool,
    pub server_signing_enabled: bool,
    /// `"HMAC-SHA256"`, `"AES-128-CMAC"`, `"AES-128-GMAC"`, `"MD5"` (SMB1), or null.
    pub signing_algorithm: Option<&'static str>,
    /// `"AES-128-CCM"`, `"AES-128-GCM"`, `"AES-256-CCM"`, `"AES-256-GCM"`, or null when the
    /// connection cannot encrypt.
    pub cipher: Option<&'static str>,
    /// Ciphers the client offered (3.1.1 ENCRYPTION context).
    pub client_ciphers: Vec<String>,
    /// Signing algorithms the client offered (3.1.1 SIGNING_CAPABILITIES context).
    pub client_signing_algorithms: Vec<String>,
    /// Compression algorithms the server chose (3.1.1 COMPRESSION context).
    pub compression: Vec<String>,
    /// Whether transport-level security (SMB over QUIC) was accepted by the server.
    pub transport_security: bool,
    /// The server's name, from the NETNAME context, NTLMSSP target info, a tree path or NetBIOS.
    pub server_name: Option<String>,
    /// True when the client named the server by IP address (forces NTLM instead of Kerberos).
    pub by_ip: bool,
    pub client_capabilities: u32,
    pub server_capabilities: u32,
    /// A NEGOTIATE response was seen, so dialect and signing modes are first-hand.
    pub negotiated: bool,
    /// No TCP handshake seen: the capture started in the middle of this connection.
    pub midstream: bool,
    pub first_seen: f64,
    pub last_seen: f64,
    /// SMB messages seen (each compounded message counts once; transform-wrapped ones once).
    pub messages: u64,
    /// Of those, in an SMB2 TRANSFORM_HEADER (encrypted).
    pub encrypted_messages: u64,
    /// Of those, in an SMB2 COMPRESSION_TRANSFORM_HEADER outside encryption.
    pub compressed_messages: u64,
    pub bytes_to_server: u64,
    pub bytes_to_client: u64,
    /// How the connection ended: `"fin"`, `"rst"`, `"idle"`, `"evicted"`, `"end_of_input"`.
    pub close: &'static str,
    /// Messages that could not be parsed.
    pub malformed: u64,
}

/// Counts of messages on a session after it authenticated.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct MessageCounts {
    pub signed: u64,
    pub unsigned: u64,
    pub encrypted: u64,
}

/// Signature verification of a session's signed messages.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct SignatureCounts {
    /// Verified with the session's key.
    pub valid: u64,
    /// Did not verify: wrong key, or the message was altered.
    pub invalid: u64,
    /// Signed, but no key was available to check it.
    pub unverified: u64,
}

/// Decryption of a session's encrypted messages.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct DecryptCounts {
    /// Decrypted with a verified authentication tag.
    pub ok: u64,
    /// Tag did not verify (wrong key or tampering) or the message was malformed.
    pub failed: u64,
}

/// Points at one message of a session.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MessageRef {
    pub message_id: u64,
    pub command: String,
    /// `"to_server"` or `"to_client"`.
    pub direction: &'static str,
    pub ts: f64,
}

/// One tree (share) connection.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TreeRecord {
    /// UNC path as the client sent it, e.g. `\\server\share`.
    pub path: String,
    /// `"disk"`, `"pipe"`, `"print"`, or null if the response was not seen.
    pub share_type: Option<&'static str>,
    /// SMB2 SHARE_FLAG_ENCRYPT_DATA.
    pub encrypt_data: bool,
    pub share_flags: u32,
    /// The status of the TREE_CONNECT response (`"STATUS_SUCCESS"`, `"STATUS_ACCESS_DENIED"`…).
    pub status: Option<String>,
}

/// One SMB session, with its posture.
#[derive(Debug, Clone, Serialize)]
pub struct SessionRecord {
    #[serde(serialize_with = "ser_addr")]
    pub client: SocketAddr,
    #[serde(serialize_with = "ser_addr")]
    pub server: SocketAddr,
    pub session_id: SessionId,
    pub dialect: Option<String>,
    pub user: Option<String>,
    pub domain: Option<String>,
    pub workstation: Option<String>,
    /// `"ntlmv2"`, `"ntlmv1"`, `"kerberos"`, `"anonymous"` or `"unknown"`.
    pub auth: &'static str,
    /// Kerberos: the ticket's realm and service principal (the client name is encrypted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kerberos_realm: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kerberos_service: Option<String>,
    /// Kerberos: the ticket's enctype and its session key's (`klist -e` names, in the clear).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kerberos_ticket_enctype: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kerberos_session_key_enctype: Option<String>,
    /// Kerberos with a keytab: the ticket's auth time and end time (RFC 3339, UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kerberos_authtime: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kerberos_endtime: Option<String>,
    pub guest: bool,
    pub anonymous: bool,
    /// SMB2 SESSION_FLAG_ENCRYPT_DATA: the server requires encryption for the whole session.
    pub encrypt_data: bool,
    /// The client asked for signing to be required in its SESSION_SETUP.
    pub client_signing_required: bool,
    /// `"established"`, `"failed"`, `"in_progress"`, `"logged_off"`, or `"unknown"` (midstream).
    pub state: &'static str,
    /// The final SESSION_SETUP status.
    pub setup_status: Option<String>,
    pub trees: Vec<TreeRecord>,
    pub messages: MessageCounts,
    /// Signed messages checked against the session's key (`--keys` / `--credentials`).
    pub signatures: SignatureCounts,
    /// Encrypted messages decrypted (tag always verified).
    pub decrypted: DecryptCounts,
    /// The first signed messages that failed verification.
    pub invalid_signatures: Vec<MessageRef>,
    /// Where the session's keys came from: `"keys"`, `"password"` or `"keytab"`, or null.
    pub key_source: Option<&'static str>,
    /// File names from CREATE requests, in order of first appearance (bounded).
    pub files: Vec<String>,
    /// Files beyond the bound, counted only.
    pub files_dropped: u64,
    pub bytes_read: u64,
    pub bytes_written: u64,
    /// Error and warning statuses seen in responses, with counts.
    pub statuses: BTreeMap<String, u64>,
}

/// A posture problem, with the fix.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// Stable rule id, e.g. `"signing.not_required"`. See [`crate::rules::RULES`].
    pub rule: &'static str,
    pub severity: Severity,
    /// The Windows event id that matches this finding, if one does.
    pub event_id: Option<u32>,
    #[serde(serialize_with = "ser_addr")]
    pub client: SocketAddr,
    #[serde(serialize_with = "ser_addr")]
    pub server: SocketAddr,
    pub session_id: Option<SessionId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// Which side a two-sided rule is about: `"client"` or `"server"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub side: Option<&'static str>,
    /// One line saying what was seen.
    pub summary: String,
    /// How to fix it (Windows setting or cmdlet; Samba option).
    pub fix: &'static str,
    /// Set when `--require` raised the severity: the client mandate that would refuse this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mandate: Option<&'static str>,
    /// Capture time in seconds since the Unix epoch.
    pub ts: f64,
}

/// A Windows-like connectivity event for SMB over QUIC (`"type":"event"`, `event_id` 30832
/// established, 30803 failed, 30804 disconnected), with what Windows' event lacks: ALPN, the
/// TLS cipher, the server certificate (with a key log), and every client address the
/// connection used. The same fields describe every QUIC connection, SMB or not, when it ends
/// (`"type":"quic"`, `event_id` null).
#[derive(Debug, Clone, Serialize)]
pub struct EventRecord {
    /// 30832, 30803 or 30804 for `"event"` records; null for `"quic"` records.
    pub event_id: Option<u32>,
    /// Windows' message text for this event id (`"quic"` records: a description).
    pub message: &'static str,
    /// `"QUIC"`.
    pub transport: &'static str,
    /// The server name the client asked for (TLS SNI).
    pub server_name: Option<String>,
    #[serde(serialize_with = "ser_addr")]
    pub server_address: SocketAddr,
    /// The client's address when the event happened.
    #[serde(serialize_with = "ser_addr")]
    pub client_address: SocketAddr,
    /// Every client address (path) the connection used, first first; more than one means the
    /// client migrated (roaming, NAT rebinding).
    pub client_addresses: Vec<String>,
    /// The client's original destination connection ID, hex.
    pub connection_id: String,
    /// Whether the client offered (or the server chose) ALPN `smb`.
    pub smb: bool,
    /// QUIC version: `"1"` or `"2"`.
    pub quic_version: String,
    /// The client first offered a version that cannot be read (a reserved one, to provoke
    /// Version Negotiation) and then opened this connection from the same address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_negotiation: Option<VersionNegotiationRecord>,
    /// ALPN protocols the client offered; SMB over QUIC offers `"smb"`.
    pub alpn: Vec<String>,
    /// The protocol the server chose (needs the key log).
    pub alpn_selected: Option<String>,
    /// The TLS cipher suite the server chose.
    pub tls_cipher: Option<String>,
    /// What the ClientHello offered: cipher suites, TLS versions, QUIC transport parameters.
    pub client_hello: Option<ClientHelloRecord>,
    /// The server certificate (needs the key log).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate: Option<CertificateRecord>,
    /// Packets decrypted per encryption level, and packets that could not be (no keys, or
    /// failed authentication).
    pub packets: QuicPacketCounts,
    /// Whether the connection was established (the handshake completed), and the evidence:
    /// `"handshake_done"` (the server's HANDSHAKE_DONE frame, read with the key log),
    /// `"handshake_then_1rtt"` (without keys: Handshake packets from both sides, then 1-RTT
    /// packets from the client and, after them, from the server), or `"1rtt_both_directions"`
    /// (the same without the Handshake packets of one side, which the capture missed), or
    /// `"1rtt_on_shared_path"` (without keys, on a client address and port that several
    /// connections share: Handshake packets from both sides and 1-RTT from the client, then
    /// 1-RTT from the server to IDs that only its encrypted frames named).
    pub established: bool,
    pub established_by: Option<&'static str>,
    /// For 30803/30804: why the connection failed or ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub ts: f64,
}

/// The parts of a QUIC ClientHello that say what the client can do.
#[derive(Debug, Clone, Serialize)]
pub struct ClientHelloRecord {
    /// Cipher suite names (hex for unknown ones; GREASE values left out).
    pub cipher_suites: Vec<String>,
    /// `supported_versions`, e.g. `"0x0304"` for TLS 1.3.
    pub tls_versions: Vec<String>,
    /// Transport parameter max_idle_timeout, in ms.
    pub max_idle_timeout_ms: Option<u64>,
    pub active_connection_id_limit: Option<u64>,
    /// The client asked the server not to migrate it.
    pub disable_active_migration: bool,
}

/// A version offer refused with Version Negotiation before a connection (RFC 9000 §6).
#[derive(Debug, Clone, Serialize)]
pub struct VersionNegotiationRecord {
    /// The version of the client's first Initial.
    pub offered: String,
    /// The versions the server's Version Negotiation packet listed (empty if none came).
    pub server_versions: Vec<String>,
}

/// Packets of a QUIC connection by what could be read of them.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct QuicPacketCounts {
    pub initial: u64,
    pub handshake: u64,
    pub one_rtt: u64,
    /// Packets that carried STREAM frames (decrypted application data).
    pub with_stream_data: u64,
    /// Packets left encrypted: no key for their level, or the tag did not verify.
    pub undecrypted: u64,
    /// Every packet of the connection by header type, read or not (coalesced packets counted
    /// one by one). Without keys these are what "established" is judged from.
    pub seen: QuicSeenCounts,
    /// Packets found by their destination connection ID (one the connection had already used).
    pub by_id: u64,
    /// Packets found by their address path (client and server address and port) because their
    /// connection ID was new or empty; a new ID is learnt from such a packet.
    pub by_path: u64,
    /// Packets on a new client path linked to the connection without any known ID: a client
    /// that moved while the server answered there, and no other connection could be the one.
    pub by_migration: u64,
}

/// Packets of one QUIC connection by header type (RFC 9000 §17).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct QuicSeenCounts {
    pub initial: u64,
    #[serde(rename = "0rtt")]
    pub zero_rtt: u64,
    pub handshake: u64,
    pub retry: u64,
    pub version_negotiation: u64,
    #[serde(rename = "1rtt")]
    pub one_rtt: u64,
}

/// The server certificate of a QUIC connection.
#[derive(Debug, Clone, Serialize)]
pub struct CertificateRecord {
    pub subject: String,
    pub issuer: String,
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<String>,
    /// Unix seconds.
    pub not_before: i64,
    pub not_after: i64,
    /// SHA-1 thumbprint, uppercase hex, as Windows shows it.
    pub sha1_thumbprint: String,
    pub self_signed: bool,
}

/// Malformed input, lost data or a limit that was hit.
#[derive(Debug, Clone, Serialize)]
pub struct AnomalyRecord {
    /// Stable snake_case kind, e.g. `"gap"`, `"malformed_smb2"`, `"flow_table_full"`.
    pub kind: &'static str,
    #[serde(serialize_with = "ser_addr")]
    pub client: SocketAddr,
    #[serde(serialize_with = "ser_addr")]
    pub server: SocketAddr,
    pub detail: String,
    /// Bytes involved (lost, skipped), when meaningful.
    pub bytes: u64,
    pub ts: f64,
}

/// Totals for a run. The last record.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub files: Vec<String>,
    pub frames: u64,
    pub bytes: u64,
    pub connections: u64,
    pub sessions: u64,
    pub smb_messages: u64,
    /// Findings by severity.
    pub findings: BTreeMap<&'static str, u64>,
    /// Anomalies by kind.
    pub anomalies: BTreeMap<&'static str, u64>,
    /// Frames that were not IP or could not be decoded.
    pub undecodable_frames: u64,
    /// QUIC packets (datagrams) that no connection could be found for: a short header with an
    /// unknown connection ID on a path no connection used (see the `quic_unattributed`
    /// anomalies).
    pub quic_unattributed_packets: u64,
    /// Input errors (truncated capture, unreadable file), one line each.
    pub errors: Vec<String>,
}
