//! The sans-IO core. [`Engine::handle_frame`] takes a captured frame and its capture timestamp;
//! records come out of [`Engine::poll_record`]. The engine never reads a clock, a socket or a
//! file, so the offline reader, live capture, the TUI and the tests all drive the same code.

mod auth;
mod crypto;
mod findings;
mod protect;
mod quic;
mod smb1;
mod smb2;
pub mod state;

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use crate::capture::{Frame, Timestamp};
use crate::crypto::keys::KeyStore;
use crate::event::{AnomalyRecord, ConnectionRecord, Finding, Record, SessionId, Summary};
use crate::flow::{
    self, Anomaly, CloseReason, Direction, FlowKey, Limits, SmbPorts, StreamHandler, TcpTable,
};
use crate::quic::keylog::KeyLog;
use crate::rules::{self, Mandates, RuleId};
use state::{ConnState, Family};

/// Everything that tunes the engine.
#[derive(Debug, Clone)]
pub struct Config {
    pub limits: Limits,
    pub ports: SmbPorts,
    pub mandates: Mandates,
    /// File names kept per session (more are counted).
    pub max_files_per_session: usize,
    /// Sessions tracked per connection.
    pub max_sessions_per_conn: usize,
    /// Requests awaiting a response, per connection.
    pub max_pending: usize,
    /// Records buffered before the oldest anomaly records are dropped (findings never are).
    pub max_queued_records: usize,
    /// Session keys and credentials (`--keys`, `--credentials`).
    pub keys: Arc<KeyStore>,
    /// UDP ports carrying SMB over QUIC (443 by default, plus `--quic-port`).
    pub quic_ports: Vec<u16>,
    /// TLS secrets for QUIC (`--keylog`, and Decryption Secrets Blocks of pcapng input).
    pub keylog: Arc<KeyLog>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            limits: Limits::default(),
            ports: SmbPorts::default(),
            mandates: Mandates::default(),
            max_files_per_session: 1000,
            max_sessions_per_conn: 256,
            max_pending: 1024,
            max_queued_records: 100_000,
            keys: Arc::new(KeyStore::default()),
            quic_ports: vec![443],
            keylog: Arc::new(KeyLog::default()),
        }
    }
}

/// Counters kept while records stream out.
#[derive(Debug, Default, Clone)]
pub struct Counters {
    pub connections: u64,
    pub sessions: u64,
    pub smb_messages: u64,
    pub findings: BTreeMap<&'static str, u64>,
    pub anomalies: BTreeMap<&'static str, u64>,
}

/// Buffers reused across messages, so decrypting and decompressing allocate nothing once grown.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    pub plain: Vec<u8>,
    pub inflated: Vec<u8>,
}

/// Receives every SMB message as the engine decoded it: decrypted plaintext in place of each
/// TRANSFORM message that decrypted, the original bytes otherwise. `smbscope decrypt` writes a
/// capture from it.
pub trait MessageTap {
    /// One message (without its 4-byte NetBIOS header).
    fn message(&mut self, key: &FlowKey, dir: Direction, ts: Timestamp, msg: &[u8]);
    /// A NetBIOS control packet (port 139 session request and its answers).
    fn control(
        &mut self,
        _key: &FlowKey,
        _dir: Direction,
        _ts: Timestamp,
        _kind: u8,
        _body: &[u8],
    ) {
    }
    /// The connection ended.
    fn close(&mut self, _key: &FlowKey, _ts: Timestamp) {}
    /// End of input: flush, and say how many packets were written (or the first error).
    fn finish(&mut self) -> std::io::Result<u64> {
        Ok(0)
    }
}

/// Per-message context handed to the SMB handlers.
pub(crate) struct Emitter<'a> {
    pub config: &'a Config,
    pub out: &'a mut VecDeque<Record>,
    pub counters: &'a mut Counters,
    pub scratch: &'a mut Scratch,
    pub tap: Option<&'a mut (dyn MessageTap + 'static)>,
    /// Set when the current message went to the tap already (as its decrypted plaintext).
    pub tapped: bool,
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
    config: Config,
    out: VecDeque<Record>,
    counters: Counters,
    scratch: Scratch,
    tap: Option<Box<dyn MessageTap>>,
    /// Servers seen with SMB on TCP/445, and with SMB over QUIC, for `tcp445.exposed`.
    tcp445_servers: Vec<std::net::IpAddr>,
    quic_servers: Vec<std::net::IpAddr>,
    exposed_fired: Vec<std::net::IpAddr>,
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

    pub(crate) fn max_message(&self) -> usize {
        self.config.limits.max_message
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

    /// A connection-level finding about a transport (QUIC) rather than an SMB state.
    pub(crate) fn plain_finding(
        &mut self,
        rule: RuleId,
        key: &FlowKey,
        server_name: Option<String>,
        summary: String,
        ts: Timestamp,
    ) {
        let meta = rule.rule();
        let (severity, mandate) =
            rules::severity(rule, self.config.mandates, rules::Context::default());
        *self.counters.findings.entry(severity.as_str()).or_default() += 1;
        self.out.push_back(Record::Finding(Finding {
            rule: meta.name,
            severity,
            event_id: meta.event_id,
            client: key.client,
            server: key.server,
            session_id: None,
            user: None,
            server_name,
            side: meta.side,
            summary,
            fix: meta.fix,
            mandate,
            ts: ts.as_secs_f64(),
        }));
    }

    /// A server answered SMB over QUIC: `tcp445.exposed` if it also serves TCP/445.
    pub(crate) fn note_quic_server(
        &mut self,
        ip: std::net::IpAddr,
        key: &FlowKey,
        name: Option<String>,
        ts: Timestamp,
    ) {
        if !self.quic_servers.contains(&ip) && self.quic_servers.len() < 65_536 {
            self.quic_servers.push(ip);
        }
        self.check_exposed(ip, key, name, ts);
    }

    fn check_exposed(
        &mut self,
        ip: std::net::IpAddr,
        key: &FlowKey,
        name: Option<String>,
        ts: Timestamp,
    ) {
        if self.exposed_fired.contains(&ip)
            || !self.quic_servers.contains(&ip)
            || !self.tcp445_servers.contains(&ip)
        {
            return;
        }
        self.exposed_fired.push(ip);
        self.plain_finding(
            RuleId::Tcp445Exposed,
            key,
            name,
            format!("{ip} serves SMB over QUIC and also SMB on TCP/445"),
            ts,
        );
    }

    fn emitter(&mut self) -> Emitter<'_> {
        Emitter {
            config: &self.config,
            out: &mut self.out,
            counters: &mut self.counters,
            scratch: &mut self.scratch,
            tap: self.tap.as_deref_mut(),
            tapped: false,
        }
    }
}

impl StreamHandler for SmbHandler {
    type Conn = Box<ConnState>;

    fn open(&mut self, key: &FlowKey, ts: Timestamp, midstream: bool) -> Self::Conn {
        self.counters.connections += 1;
        if key.server.port() == 445 {
            let ip = key.server.ip();
            if !self.tcp445_servers.contains(&ip) && self.tcp445_servers.len() < 65_536 {
                self.tcp445_servers.push(ip);
            }
            self.check_exposed(ip, key, None, ts);
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
        partial: bool,
    ) {
        self.counters.smb_messages += 1;
        conn.last_seen = ts;
        conn.messages += 1;
        let len = msg.len() as u64 + 4;
        match dir {
            Direction::ToServer => conn.bytes_to_server += len,
            Direction::ToClient => conn.bytes_to_client += len,
        }
        let mut em = self.emitter();
        match msg.first() {
            Some(0xFF) => smb1::handle(&mut em, conn, dir, ts, msg),
            Some(0xFC..=0xFE) => smb2::handle(&mut em, conn, dir, ts, msg, partial),
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
        client_dialects: conn.client_dialects.clone(),
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

/// The engine: frames in, records out.
pub struct Engine {
    table: TcpTable<SmbHandler>,
    quic: quic::QuicTable,
    next_quic_expiry: Timestamp,
    frames: u64,
    bytes: u64,
    undecodable: u64,
    last_ts: Timestamp,
}

impl Engine {
    /// An engine whose decoded messages also go to `tap` (see [`MessageTap`]).
    pub fn with_tap(config: Config, tap: Box<dyn MessageTap>) -> Engine {
        let mut e = Engine::new(config);
        e.table.handler_mut().tap = Some(tap);
        e
    }

    /// Takes the tap back (to finish writing its output).
    pub fn take_tap(&mut self) -> Option<Box<dyn MessageTap>> {
        self.table.handler_mut().tap.take()
    }

    pub fn new(config: Config) -> Engine {
        let limits = config.limits.clone();
        let ports = config.ports.clone();
        let quic = quic::QuicTable::new(
            config.quic_ports.clone(),
            Arc::clone(&config.keylog),
            limits.max_flows,
            limits.idle_timeout_secs,
        );
        let handler = SmbHandler {
            config,
            out: VecDeque::new(),
            counters: Counters::default(),
            scratch: Scratch::default(),
            tap: None,
            tcp445_servers: Vec::new(),
            quic_servers: Vec::new(),
            exposed_fired: Vec::new(),
        };
        Engine {
            table: TcpTable::new(handler, limits, ports),
            quic,
            next_quic_expiry: Timestamp::default(),
            frames: 0,
            bytes: 0,
            undecodable: 0,
            last_ts: Timestamp::default(),
        }
    }

    /// Feeds one captured frame.
    pub fn handle_frame(&mut self, frame: &Frame<'_>) {
        self.frames += 1;
        self.bytes += frame.data.len() as u64;
        if frame.ts > self.last_ts {
            self.last_ts = frame.ts;
        }
        match flow::decode(frame.linktype, frame.data) {
            Ok(pkt) => match &pkt.transport {
                flow::Transport::Udp {
                    src_port,
                    dst_port,
                    payload,
                } => {
                    let src = std::net::SocketAddr::new(pkt.src, *src_port);
                    let dst = std::net::SocketAddr::new(pkt.dst, *dst_port);
                    let h = self.table.handler_mut();
                    self.quic.handle_udp(h, frame.ts, src, dst, payload);
                }
                _ => self.table.handle_packet(frame.ts, &pkt),
            },
            Err(_) => self.undecodable += 1,
        }
        if frame.ts >= self.next_quic_expiry {
            let h = self.table.handler_mut();
            self.quic.expire(h, frame.ts);
            self.next_quic_expiry = frame.ts.saturating_add(std::time::Duration::from_secs(1));
        }
    }

    /// The next record, if any. Drain after each frame (or batch of frames).
    #[must_use]
    pub fn poll_record(&mut self) -> Option<Record> {
        self.table.handler_mut().out.pop_front()
    }

    /// Ends every open flow (end of input): their connection and session records follow.
    pub fn finish(&mut self) {
        let ts = self.last_ts;
        self.table.finish(ts);
        let h = self.table.handler_mut();
        self.quic.finish(h, ts);
    }

    /// Totals so far.
    pub fn summary(&self) -> Summary {
        let c = &self.table.handler().counters;
        Summary {
            files: Vec::new(),
            frames: self.frames,
            bytes: self.bytes,
            connections: c.connections,
            sessions: c.sessions,
            smb_messages: c.smb_messages,
            findings: c.findings.clone(),
            anomalies: c.anomalies.clone(),
            undecodable_frames: self.undecodable,
            errors: Vec::new(),
        }
    }
}

/// Analyses one capture file to the end and returns every record, the summary last.
/// A convenience for tests, benches and tools; the CLI streams instead.
pub fn analyze_file(
    path: &std::path::Path,
    config: Config,
) -> Result<Vec<Record>, crate::capture::CaptureError> {
    let mut cap = crate::capture::OfflineCapture::open(path)?;
    let mut engine = Engine::new(config);
    let mut out = Vec::new();
    let mut error = None;
    loop {
        match cap.next_frame() {
            Ok(Some(frame)) => engine.handle_frame(&frame),
            Ok(None) => break,
            Err(e) => {
                error = Some(e);
                break;
            }
        }
        while let Some(r) = engine.poll_record() {
            out.push(r);
        }
    }
    engine.finish();
    while let Some(r) = engine.poll_record() {
        out.push(r);
    }
    let mut summary = engine.summary();
    summary.files = vec![path.display().to_string()];
    if let Some(e) = error {
        summary.errors.push(e.to_string());
    }
    out.push(Record::Summary(summary));
    Ok(out)
}
