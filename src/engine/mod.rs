//! The sans-IO core. [`Engine::handle_frame`] takes a captured frame and its capture timestamp;
//! records come out of [`Engine::poll_record`]. The engine never reads a clock, a socket or a
//! file, so the offline reader, live capture, the TUI and the tests all drive the same code.

mod analyzer;
mod auth;
mod crypto;
mod exposure;
mod findings;
mod fuzz;
mod handler;
pub mod logon;
mod parallel;
mod protect;
mod quic;
mod session;
mod smb1;
mod smb2;
pub mod state;

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use crate::capture::Frame;
use crate::crypto::keys::KeyStore;
use crate::event::{ConnectionRecord, Record, SessionRecord, Summary};
use crate::flow::{self, Direction, FlowKey, Limits, SmbPorts, TcpTable};
use crate::quic::keylog::KeyLog;
use crate::rules::Mandates;
use crate::wire::Timestamp;

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
    /// Thresholds of the logon-attack findings (`--logon-window`, `--bruteforce-threshold`,
    /// `--spray-threshold`, `--logon-max-clients`).
    pub logon: logon::LogonPolicy,
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
            logon: logon::LogonPolicy::default(),
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

pub use analyzer::Analyzer;
pub use fuzz::{fuzz_frames, fuzz_quic_paths, fuzz_tcp445};
pub use handler::SmbHandler;
pub(crate) use handler::{Emitter, Subject};
pub use parallel::{Prepared, ScanEvent, ShardedEngine, Splitter};

/// Flows ended per [`Engine::finish_some`] call by the drivers in this crate.
pub const FINISH_CHUNK: usize = 1024;

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
            out: VecDeque::new(),
            counters: Counters::default(),
            scratch: Scratch::default(),
            tap: None,
            logon: logon::LogonTracker::new(config.logon),
            logon_pending: Vec::new(),
            exposure: exposure::Exposure::default(),
            notes: None,
            config,
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
        self.handle_decoded(frame, flow::decode(frame.linktype, frame.data).ok());
    }

    /// [`Engine::handle_frame`] for a frame whose link layer the caller decoded already
    /// (`None`: it does not decode).
    pub(crate) fn handle_decoded(&mut self, frame: &Frame<'_>, pkt: Option<flow::Packet<'_>>) {
        self.frames += 1;
        self.bytes += frame.data.len() as u64;
        if frame.ts > self.last_ts {
            self.last_ts = frame.ts;
        }
        // Expire first, so a connection that ended (drained after CONNECTION_CLOSE) is gone
        // before a packet reusing its connection IDs arrives.
        self.expire_quic(frame.ts);
        match pkt {
            Some(pkt) => match &pkt.transport {
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
            None => self.undecodable += 1,
        }
        self.table.handler_mut().flush_logons();
    }

    /// Capture time reached `now` on the wire, maybe in frames this engine does not see (a
    /// shard of a sharded analysis): runs the idle expiry that is due.
    pub fn advance(&mut self, now: Timestamp) {
        if now > self.last_ts {
            self.last_ts = now;
        }
        self.table.tick(now);
        self.expire_quic(now);
        self.table.handler_mut().flush_logons();
    }

    /// Runs the QUIC idle/drain expiry at most once per second of capture time.
    fn expire_quic(&mut self, now: Timestamp) {
        if now >= self.next_quic_expiry {
            let h = self.table.handler_mut();
            self.quic.expire(h, now);
            self.next_quic_expiry = now.saturating_add(std::time::Duration::from_secs(1));
        }
    }

    /// Queues the facts that span connections (`tcp445.exposed` sightings, logons) for
    /// [`Engine::take_notes`] instead of judging them here (sharded analysis).
    pub(crate) fn defer_cross_notes(&mut self) {
        self.table.handler_mut().notes = Some(Vec::new());
    }

    /// Moves the queued notes (see [`Engine::defer_cross_notes`]) to `out`.
    pub(crate) fn take_notes(&mut self, out: &mut Vec<handler::CrossNote>) {
        let h = self.table.handler_mut();
        h.flush_logons();
        if let Some(n) = h.notes.as_mut() {
            out.append(n);
        }
    }

    /// The next record, if any. Drain after each frame (or batch of frames).
    #[must_use]
    pub fn poll_record(&mut self) -> Option<Record> {
        self.table.handler_mut().out.pop_front()
    }

    /// Ends every open flow (end of input): their connection and session records follow.
    /// With many open flows prefer [`Engine::finish_some`], which lets the records out as it
    /// goes.
    pub fn finish(&mut self) {
        while self.finish_some(usize::MAX) {}
    }

    /// Ends up to `max` open TCP flows (then the QUIC connections) and returns whether some
    /// remain: drain [`Engine::poll_record`] after each call, so the records of 100k open
    /// connections are not all held at once.
    pub fn finish_some(&mut self, max: usize) -> bool {
        let ts = self.last_ts;
        let more = self.table.finish_some(ts, max);
        if !more {
            let h = self.table.handler_mut();
            self.quic.finish(h, ts);
        }
        self.table.handler_mut().flush_logons();
        more
    }

    /// The connections still open, with their sessions, as records (`close` is `"open"`):
    /// a live view's picture of what is happening now (connection and session records
    /// are otherwise only emitted when a connection ends). TCP connections that have not
    /// carried SMB yet are left out. Costs a copy of every open connection's state: call it
    /// a few times per second, not per frame.
    pub fn snapshot(&self) -> Vec<(ConnectionRecord, Vec<SessionRecord>)> {
        let tcp = self
            .table
            .conns()
            .map(|c| &**c)
            .filter(|c| !(c.family == state::Family::Unknown && c.messages == 0));
        tcp.chain(self.quic.smb_conns())
            .map(handler::open_records)
            .collect()
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
            quic_unattributed_packets: self.quic.unattributed(),
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
    while engine.finish_some(FINISH_CHUNK) {
        out.extend(std::iter::from_fn(|| engine.poll_record()));
    }
    out.extend(std::iter::from_fn(|| engine.poll_record()));
    let mut summary = engine.summary();
    summary.files = vec![path.display().to_string()];
    if let Some(e) = error {
        summary.errors.push(e.to_string());
    }
    out.push(Record::Summary(summary));
    Ok(out)
}

#[cfg(test)]
#[path = "head_tests.rs"]
mod head_tests;
