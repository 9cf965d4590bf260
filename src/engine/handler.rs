//! The SMB side of the flow table: turns each reassembled SMB message into posture state
//! (through the SMB1/SMB2 handlers) and queues the records; also the context ([`Emitter`])
//! those handlers write findings and anomalies through.

use std::collections::VecDeque;

use super::exposure::{Exposure, ExposureNote, Via, transport_finding};
use super::logon::{LogonNote, LogonTracker};
use super::state::{self, ConnState, Family};
use super::{Config, Counters, MessageTap, Scratch, smb1, smb2};
use crate::event::{AnomalyRecord, ConnectionRecord, Finding, Record, SessionId, SessionRecord};
use crate::flow::{Anomaly, CloseReason, Direction, Extent, FlowKey, StreamHandler};
use crate::rules::{self, RuleId};
use crate::wire::Timestamp;

/// Per-message context handed to the SMB handlers.
pub(crate) struct Emitter<'a> {
    pub config: &'a Config,
    pub out: &'a mut VecDeque<Record>,
    pub counters: &'a mut Counters,
    pub scratch: &'a mut Scratch,
    pub tap: Option<&'a mut (dyn MessageTap + 'static)>,
    /// Set when the current message went to the tap already (as its decrypted plaintext).
    pub tapped: bool,
    /// Final SESSION_SETUP responses, for the logon-attack findings ([`super::logon`]).
    pub logons: &'a mut Vec<LogonNote>,
}

/// Who a finding is about.
pub(crate) struct Subject<'a> {
    pub conn: &'a ConnState,
    pub session: Option<&'a state::Session>,
}

impl Emitter<'_> {
    /// Emits `rule` about `subject`. The caller has already de-duplicated.
    pub fn finding(
        &mut self,
        rule: RuleId,
        subject: Subject<'_>,
        ctx: rules::Context,
        summary: String,
        ts: Timestamp,
    ) {
        let meta = rule.rule();
        let (severity, mandate) = rules::severity(rule, self.config.mandates, ctx);
        *self.counters.findings.entry(severity.as_str()).or_default() += 1;
        let session = subject.session;
        self.out.push_back(Record::Finding(Finding {
            rule: meta.name,
            severity,
            event_id: meta.event_id,
            client: subject.conn.key.client,
            server: subject.conn.key.server,
            session_id: session.map(|s| SessionId(s.id)),
            user: session.and_then(|s| s.auth.user.clone()),
            server_name: subject.conn.server_name(),
            side: meta.side,
            summary,
            fix: meta.fix,
            mandate,
            ts: ts.as_secs_f64(),
        }));
    }

    pub fn anomaly(
        &mut self,
        key: &FlowKey,
        kind: &'static str,
        detail: String,
        bytes: u64,
        ts: Timestamp,
    ) {
        *self.counters.anomalies.entry(kind).or_default() += 1;
        if self.out.len() >= self.config.max_queued_records {
            return;
        }
        self.out.push_back(Record::Anomaly(AnomalyRecord {
            kind,
            client: key.client,
            server: key.server,
            detail,
            bytes,
            ts: ts.as_secs_f64(),
        }));
    }
}

/// The SMB side of the flow table: owns the record queue.
pub struct SmbHandler {
    pub(super) config: Config,
    pub(super) out: VecDeque<Record>,
    pub(super) counters: Counters,
    pub(super) scratch: Scratch,
    pub(super) tap: Option<Box<dyn MessageTap>>,
    /// Servers seen with SMB on TCP/445, and with SMB over QUIC, for `tcp445.exposed`.
    pub(super) exposure: Exposure,
    /// When set, server sightings and logons are queued here rather than judged (sharded
    /// analysis: the merger judges them across shards). Drained after every frame.
    pub(super) notes: Option<Vec<CrossNote>>,
    /// Brute force, spray and lockout state across connections.
    pub(super) logon: LogonTracker,
    /// Logons of the current frame, not yet judged.
    pub(super) logon_pending: Vec<LogonNote>,
}

/// A fact that spans connections, judged by whoever sees every connection: the engine itself,
/// or the merger of a sharded analysis.
#[derive(Debug)]
pub(crate) enum CrossNote {
    Exposure(ExposureNote),
    Logon(LogonNote),
}

impl std::fmt::Debug for SmbHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmbHandler")
            .field("queued", &self.out.len())
            .field("counters", &self.counters)
            .finish_non_exhaustive()
    }
}

impl SmbHandler {
    /// Queues a record.
    pub(crate) fn push(&mut self, r: Record) {
        self.out.push_back(r);
    }

    /// The largest message framed whole (`max_message`, at least `Limits::MIN_MESSAGE`), as
    /// TCP flows frame them.
    pub(crate) fn message_cap(&self) -> usize {
        self.config.limits.message_cap()
    }

    /// An anomaly outside any SMB connection state.
    pub(crate) fn flow_anomaly(
        &mut self,
        key: &FlowKey,
        kind: crate::flow::AnomalyKind,
        detail: &'static str,
        ts: Timestamp,
    ) {
        let mut em = self.emitter();
        em.anomaly(key, kind.as_str(), detail.to_owned(), 0, ts);
    }

    /// An anomaly of a transport (QUIC) with its own kind and detail.
    pub(crate) fn transport_anomaly(
        &mut self,
        key: &FlowKey,
        kind: &'static str,
        detail: String,
        bytes: u64,
        ts: Timestamp,
    ) {
        self.emitter().anomaly(key, kind, detail, bytes, ts);
    }

    /// A connection-level finding about a transport (QUIC) rather than an SMB state.
    pub(crate) fn plain_finding(
        &mut self,
        rule: RuleId,
        key: &FlowKey,
        server_name: Option<String>,
        summary: String,
        ts: Timestamp,
    ) {
        let f = transport_finding(rule, self.config.mandates, key, server_name, summary, ts);
        self.push_finding(f);
    }

    fn push_finding(&mut self, f: Finding) {
        *self
            .counters
            .findings
            .entry(f.severity.as_str())
            .or_default() += 1;
        self.out.push_back(Record::Finding(f));
    }

    /// A server answered SMB over QUIC, or a client dialled it on TCP/445: `tcp445.exposed`
    /// when it has done both. With [`SmbHandler::exposure_notes`] set (sharded analysis) the
    /// sighting is queued for the merger instead.
    pub(crate) fn note_server(
        &mut self,
        ip: std::net::IpAddr,
        via: Via,
        key: &FlowKey,
        server_name: Option<String>,
        ts: Timestamp,
    ) {
        let note = ExposureNote {
            ip,
            via,
            key: *key,
            server_name,
            ts,
        };
        if let Some(notes) = self.notes.as_mut() {
            notes.push(CrossNote::Exposure(note));
            return;
        }
        if let Some(f) = self.exposure.finding_for(&note, self.config.mandates) {
            self.push_finding(f);
        }
    }

    /// Judges the logons of the frame just handled (or queues them for the merger).
    pub(crate) fn flush_logons(&mut self) {
        if self.logon_pending.is_empty() {
            return;
        }
        if let Some(notes) = self.notes.as_mut() {
            notes.extend(self.logon_pending.drain(..).map(CrossNote::Logon));
            return;
        }
        let mut recs = Vec::new();
        for n in self.logon_pending.drain(..) {
            self.logon.note(&n, self.config.mandates, &mut recs);
        }
        for r in recs {
            self.count_and_push(r);
        }
    }

    /// Queues a finding or anomaly made outside an [`Emitter`], counting it.
    pub(crate) fn count_and_push(&mut self, r: Record) {
        match &r {
            Record::Finding(f) => {
                *self
                    .counters
                    .findings
                    .entry(f.severity.as_str())
                    .or_default() += 1
            }
            Record::Anomaly(a) => *self.counters.anomalies.entry(a.kind).or_default() += 1,
            _ => {}
        }
        self.out.push_back(r);
    }

    fn emitter(&mut self) -> Emitter<'_> {
        Emitter {
            config: &self.config,
            out: &mut self.out,
            counters: &mut self.counters,
            scratch: &mut self.scratch,
            tap: self.tap.as_deref_mut(),
            tapped: false,
            logons: &mut self.logon_pending,
        }
    }
}

impl StreamHandler for SmbHandler {
    type Conn = Box<ConnState>;

    fn open(&mut self, key: &FlowKey, ts: Timestamp, midstream: bool) -> Self::Conn {
        self.counters.connections += 1;
        if key.server.port() == 445 {
            self.note_server(key.server.ip(), Via::Tcp445, key, None, ts);
        }
        Box::new(ConnState::new(*key, ts, midstream))
    }

    fn message(
        &mut self,
        conn: &mut Self::Conn,
        _key: &FlowKey,
        dir: Direction,
        ts: Timestamp,
        msg: &[u8],
        extent: Extent,
    ) {
        self.counters.smb_messages += 1;
        conn.last_seen = ts;
        conn.messages += 1;
        let len = extent.len(msg) + 4;
        match dir {
            Direction::ToServer => conn.bytes_to_server += len,
            Direction::ToClient => conn.bytes_to_client += len,
        }
        let mut em = self.emitter();
        match msg.first() {
            Some(0xFF) => smb1::handle(&mut em, conn, dir, ts, msg),
            Some(0xFC..=0xFE) => smb2::handle(&mut em, conn, dir, ts, msg),
            _ => {
                conn.malformed += 1;
                em.anomaly(
                    &conn.key,
                    "not_smb",
                    "NetBIOS session message without an SMB protocol id".into(),
                    msg.len() as u64,
                    ts,
                );
            }
        }
        if !em.tapped {
            if let Some(tap) = self.tap.as_deref_mut() {
                tap.message(&conn.key, dir, ts, msg);
            }
        }
    }

    fn wanted(&mut self, conn: &mut Self::Conn, dir: Direction, head: &[u8], len: u32) -> u32 {
        if self.tap.is_some() {
            // The tap writes the messages out whole.
            return len;
        }
        smb2::wanted(&self.config, conn, dir, head, len)
    }

    fn nbss_control(
        &mut self,
        conn: &mut Self::Conn,
        _key: &FlowKey,
        dir: Direction,
        ts: Timestamp,
        kind: u8,
        body: &[u8],
    ) {
        conn.last_seen = ts;
        if let Some(tap) = self.tap.as_deref_mut() {
            tap.control(&conn.key, dir, ts, kind, body);
        }
        if kind == crate::smb::nbss::kind::SESSION_REQUEST && dir == Direction::ToServer {
            match crate::smb::nbss::SessionRequest::parse(body) {
                Ok(req) => {
                    let called = req.called.split('<').next().unwrap_or("").trim().to_owned();
                    if conn.dialled_name.is_none() && !called.is_empty() && called != "*SMBSERVER" {
                        conn.note_dialled(&called);
                    }
                }
                Err(e) => {
                    conn.malformed += 1;
                    let mut em = self.emitter();
                    em.anomaly(
                        &conn.key,
                        "malformed_nbss",
                        e.to_string(),
                        body.len() as u64,
                        ts,
                    );
                }
            }
        }
    }

    fn anomaly(
        &mut self,
        _conn: Option<&mut Self::Conn>,
        key: &FlowKey,
        ts: Timestamp,
        anomaly: Anomaly,
    ) {
        let dir = match anomaly.dir {
            Some(Direction::ToServer) => " (client to server)",
            Some(Direction::ToClient) => " (server to client)",
            None => "",
        };
        let detail = format!("{}{}", anomaly.detail, dir);
        let mut em = self.emitter();
        em.anomaly(key, anomaly.kind.as_str(), detail, anomaly.bytes, ts);
    }

    fn close(&mut self, conn: Self::Conn, key: &FlowKey, ts: Timestamp, reason: CloseReason) {
        if let Some(tap) = self.tap.as_deref_mut() {
            tap.close(key, ts);
        }
        let mut conn = conn;
        conn.last_seen = conn.last_seen.max(ts);
        {
            let mut em = self.emitter();
            smb2::on_close(&mut em, &mut conn, ts);
        }
        if conn.family == Family::Unknown && conn.messages == 0 {
            // A connection to an SMB port that never carried SMB (e.g. a port scan).
            self.counters.connections = self.counters.connections.saturating_sub(1);
            return;
        }
        self.counters.sessions += conn.sessions.len() as u64;
        self.out
            .push_back(Record::Connection(connection_record(&conn, reason)));
        for s in &conn.sessions {
            self.out.push_back(Record::Session(s.record(&conn)));
        }
    }
}

/// The records of a connection that is still open (`close` is `"open"`), with its sessions.
pub(super) fn open_records(conn: &ConnState) -> (ConnectionRecord, Vec<SessionRecord>) {
    let mut c = connection_record(conn, CloseReason::EndOfInput);
    c.close = "open";
    let sessions = conn.sessions.iter().map(|s| s.record(conn)).collect();
    (c, sessions)
}

fn connection_record(conn: &ConnState, reason: CloseReason) -> ConnectionRecord {
    use state::{SIGNING_ENABLED, SIGNING_REQUIRED};
    let cmode = conn.client_sec_mode.unwrap_or(0);
    let smode = conn.server_sec_mode.unwrap_or(0);
    ConnectionRecord {
        transport: conn.transport,
        client: conn.key.client,
        server: conn.key.server,
        dialect: conn.dialect_name(),
        smb1_dialect: conn.smb1_dialect.clone(),
        client_dialects: conn.client_dialect_names(),
        client_signing_required: cmode & SIGNING_REQUIRED != 0
            || conn.client_setup_signing_required,
        server_signing_required: smode & SIGNING_REQUIRED != 0,
        client_signing_enabled: cmode & (SIGNING_ENABLED | SIGNING_REQUIRED) != 0
            || conn.client_setup_signing_required,
        server_signing_enabled: smode & (SIGNING_ENABLED | SIGNING_REQUIRED) != 0,
        signing_algorithm: conn.signing_algorithm(),
        cipher: conn.cipher_name(),
        client_ciphers: conn.client_ciphers.iter().map(|c| c.to_string()).collect(),
        client_signing_algorithms: conn
            .client_signing_algs
            .iter()
            .map(|c| c.to_string())
            .collect(),
        compression: conn.compression.iter().map(|c| c.to_string()).collect(),
        transport_security: conn.transport_security,
        server_name: conn.server_name(),
        by_ip: conn.by_ip,
        client_capabilities: conn.client_caps,
        server_capabilities: conn.server_caps,
        negotiated: conn.negotiated,
        midstream: conn.midstream,
        first_seen: conn.first_seen.as_secs_f64(),
        last_seen: conn.last_seen.as_secs_f64(),
        messages: conn.messages,
        encrypted_messages: conn.encrypted,
        compressed_messages: conn.compressed,
        bytes_to_server: conn.bytes_to_server,
        bytes_to_client: conn.bytes_to_client,
        close: match reason {
            CloseReason::Fin => "fin",
            CloseReason::Rst => "rst",
            CloseReason::Idle => "idle",
            CloseReason::Evicted => "evicted",
            CloseReason::EndOfInput => "end_of_input",
        },
        malformed: conn.malformed,
    }
}
