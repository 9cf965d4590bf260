//! Syslog alerts: findings (and a few anomalies) as RFC 5424 or RFC 3164 messages over UDP, TCP
//! or a unix socket, de-duplicated, delivered by a background thread through a bounded queue.
//!
//! The formats and the behaviour are described on [`SyslogSink`].

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use super::Sink;
use super::dedupe::{AlertKey, Dedupe, Verdict};
use crate::event::{Record, Severity, Summary};
use syslog_deliver::{Msg, Shared, Worker};
use syslog_format::Formatter;

#[path = "syslog_deliver.rs"]
mod syslog_deliver;
#[path = "syslog_format.rs"]
mod syslog_format;

/// The structured data id: `smbscope@32473` (32473 is the RFC 5612 example enterprise number).
pub const SD_ID: &str = "smbscope@32473";

/// Anomaly kinds sent as warnings by default.
pub const DEFAULT_ALERT_ANOMALIES: &[&str] = &["flow_table_full", "credentials_mismatch"];

/// Where messages go: `udp://HOST:PORT`, `tcp://HOST:PORT` or `unix:///PATH`.
///
/// The port defaults to 514; IPv6 addresses go in brackets (`udp://[::1]:514`). Host names are
/// resolved at each connection attempt. A unix path is tried as a datagram socket (`/dev/log`),
/// then as a stream socket.
///
/// ```
/// use smbscope::output::SyslogTarget;
///
/// let t: SyslogTarget = "tcp://[::1]:6514".parse().unwrap();
/// assert_eq!(t, SyslogTarget::Tcp { host: "::1".into(), port: 6514 });
/// assert_eq!(t.to_string(), "tcp://[::1]:6514");
/// assert!("syslog.example:514".parse::<SyslogTarget>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyslogTarget {
    Udp { host: String, port: u16 },
    Tcp { host: String, port: u16 },
    Unix(PathBuf),
}

/// The message format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SyslogFormat {
    /// RFC 5424, with structured data (the default). Parsed from `5424` or `rfc5424`.
    #[default]
    Rfc5424,
    /// RFC 3164 (BSD syslog), fields as `key=value`. Parsed from `3164`, `rfc3164` or `bsd`.
    Rfc3164,
}

/// A syslog facility (0–23). Parsed from a name — `kern`, `user`, `mail`, `daemon`, `auth`,
/// `syslog`, `lpr`, `news`, `uucp`, `cron`, `authpriv`, `ftp`, `ntp`, `audit`, `alert`, `clock`,
/// `local0`…`local7` — or a number. The default is `local0`.
///
/// ```
/// use smbscope::output::Facility;
///
/// assert_eq!("local4".parse::<Facility>().unwrap().code(), 20);
/// assert_eq!("3".parse::<Facility>().unwrap().to_string(), "daemon");
/// assert!("local8".parse::<Facility>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Facility(u8);

/// A target, format or facility that could not be parsed; the message says what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SyslogParseError(String);

/// Settings of a [`SyslogSink`]. Start from [`SyslogConfig::new`] and change fields.
#[derive(Debug, Clone)]
pub struct SyslogConfig {
    pub target: SyslogTarget,
    /// Default RFC 5424.
    pub format: SyslogFormat,
    /// Default `local0`.
    pub facility: Facility,
    /// APP-NAME (RFC 5424) or TAG (RFC 3164). Default `smbscope`.
    pub app_name: String,
    /// HOSTNAME. Default: the kernel's host name ([`default_hostname`]).
    pub hostname: Option<String>,
    /// Repeats of an alert — same (rule, side, client IP:port, server, session id) — within this
    /// much capture time of the first are counted, not sent. Default 300 s; zero sends all.
    pub dedupe_window: Duration,
    /// Wall time between summary messages. Default 300 s; zero turns them off.
    pub summary_interval: Duration,
    /// Messages waiting for delivery, at most (at least 1). Default 10 000.
    pub queue: usize,
    /// How long [`Sink::finish`] (or dropping the sink) waits for the queue to drain before
    /// counting what is left as lost. Default 2 s.
    pub flush_timeout: Duration,
    /// First delay before reconnecting; it doubles after each failure. Default 100 ms.
    pub reconnect_min: Duration,
    /// Cap of the reconnect delay. Default 10 s.
    pub reconnect_max: Duration,
    /// Anomaly kinds sent as warnings. Default [`DEFAULT_ALERT_ANOMALIES`].
    pub alert_anomalies: Vec<String>,
}

/// Delivery counters of a [`SyslogSink`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyslogStats {
    /// Alert messages (findings and anomalies) delivered to the socket.
    pub sent: u64,
    /// Alerts not sent because they repeated one within the de-duplication window.
    pub suppressed: u64,
    /// Messages given up: queue full, failed twice over UDP (three times on a stream), or still
    /// queued when `finish` stopped waiting. Summary messages that could not be sent count too.
    pub lost: u64,
    /// Connection and send errors.
    pub errors: u64,
    /// Messages waiting for delivery now.
    pub queued: u64,
}

/// Sends findings (and a few anomalies) to syslog.
///
/// # Messages
///
/// A finding becomes one message whose severity follows the finding's ([`severity_code`]:
/// high = err (3), medium = warning (4), low = notice (5), info = info (6)), stamped with the
/// finding's capture time, MSGID the rule id. RFC 5424 (the default), facility `local0`:
///
/// ```text
/// <131>1 2026-11-22T15:04:05.123456Z sensor1 smbscope 4242 guest [smbscope@32473 rule="guest" severity="high" event_id="31022" client="10.0.0.5:50123" server="10.0.0.1:445" session_id="0x0000400000000039" user="CORP\\alice" server_name="fs1"] guest session: the server mapped the user to guest
/// ```
///
/// The structured data element carries `rule`, `severity`, `event_id`, `client`, `server`,
/// `session_id`, `user`, `server_name`, `side` and `mandate` (absent ones omitted), escaped as
/// RFC 5424 §6.3.3 says (`"`, `\` and `]` take a backslash). Its SD-ID `smbscope@32473` uses
/// 32473, the example enterprise number of RFC 5612 ([`SD_ID`]); smbscope has no IANA Private
/// Enterprise Number of its own. PROCID is the process id; the MSG is the finding's summary,
/// plain UTF-8 without a BOM. RFC 3164 (BSD) carries the same fields as `key=value`:
///
/// ```text
/// <131>Nov 22 15:04:05 sensor1 smbscope[4242]: rule=guest severity=high event_id=31022 client=10.0.0.5:50123 server=10.0.0.1:445 session_id=0x0000400000000039 user="CORP\\alice" server_name=fs1 msg="guest session: the server mapped the user to guest"
/// ```
///
/// (values are quoted, with `\"` and `\\` escapes, when they hold a space, `"`, `\` or `=`; the
/// time is UTC, not local time as RFC 3164 suggests.) Control characters in names and summaries
/// become spaces, so traffic cannot forge extra lines; free-text fields are capped (256 bytes per
/// parameter, 1024 for the summary).
///
/// Anomalies whose kind is listed in [`SyslogConfig::alert_anomalies`] (by default
/// `flow_table_full` and `credentials_mismatch`) become warnings with MSGID `anomaly`, at most one
/// per kind per de-duplication window (never less than 60 s). Connection and session records are
/// not sent.
///
/// Every [`SyslogConfig::summary_interval`] of wall time, an info message with MSGID `summary`
/// reports `smbscope: N alerts sent, M suppressed as duplicates, K lost, queue depth Q` (with the
/// same counts as structured data); [`Sink::finish`] sends a last one with the run's totals.
///
/// # Framing
///
/// UDP and unix datagram sockets carry one message per datagram. TCP uses octet counting for
/// RFC 5424 (RFC 6587 §3.4.1: `LEN SP MSG`) and a terminating LF for RFC 3164; a unix stream
/// socket (the fallback when the path refuses datagrams) uses a terminating LF.
///
/// # Delivery and faults
///
/// [`Sink::record`] never blocks and never fails: it formats the message and hands it to a
/// delivery thread through a queue of [`SyslogConfig::queue`] messages; when the queue is full the
/// message is dropped and counted as lost. The thread reconnects TCP and unix sockets with
/// exponential backoff (100 ms doubling to 10 s by default) while messages wait in the queue; a
/// TCP connection the server closed is noticed before writing into it. UDP send errors (such as
/// ECONNREFUSED after an ICMP port unreachable) are counted and the message is sent once more.
/// Errors go to stderr, rate-limited: the first at once, then at most one line per 60 s with a
/// count. [`SyslogSink::stats`] tells sent, suppressed, lost, errors and queued. A message whose
/// write fails three times (each on a fresh connection) is given up as lost, so one bad message
/// cannot wedge the queue. Messages are at most a few KiB (fields are capped), so memory stays
/// bounded by the queue length. Plain syslog has no acknowledgements: a message written into a
/// TCP connection that dies right after may be lost without being counted.
///
/// [`Sink::finish`] queues the final summary, then waits up to
/// [`SyslogConfig::flush_timeout`] (2 s) for the queue to drain; what is left is counted as lost
/// and one stderr line tells the losses. Dropping the sink without `finish` does the same, without
/// the final summary. After `finish`, records are ignored and [`SyslogSink::stats`] is frozen.
///
/// # Example
///
/// ```no_run
/// use smbscope::output::{Sink, SyslogConfig, SyslogSink};
///
/// let mut config = SyslogConfig::new("udp://127.0.0.1:514".parse().unwrap());
/// config.facility = "local3".parse().unwrap();
/// let mut sink = SyslogSink::new(config).unwrap();
/// // for record in engine output { sink.record(&record)?; }
/// sink.finish(&Default::default()).unwrap();
/// println!("{:?}", sink.stats());
/// ```
pub struct SyslogSink {
    fmt: Formatter,
    target: SyslogTarget,
    tx: Option<SyncSender<Msg>>,
    shared: Arc<Shared>,
    worker: Option<JoinHandle<()>>,
    findings: Dedupe<AlertKey>,
    anomalies: Dedupe<AlertKey>,
    alert_anomalies: Vec<String>,
    queue: u64,
    /// The queue is full and a drop was reported already.
    overflowing: bool,
    flush_timeout: Duration,
    /// Set by `finish` (or drop): the counters as they were then.
    final_stats: Option<SyslogStats>,
}

/// The syslog severity of a finding severity: high = err (3), medium = warning (4),
/// low = notice (5), info = info (6).
pub fn severity_code(s: Severity) -> u8 {
    match s {
        Severity::High => ERR,
        Severity::Medium => WARNING,
        Severity::Low => NOTICE,
        Severity::Info => INFO,
    }
}

/// The host name from `/proc/sys/kernel/hostname`, or `-` (the RFC 5424 NILVALUE) when it cannot
/// be read or is empty.
pub fn default_hostname() -> String {
    hostname_from(std::path::Path::new("/proc/sys/kernel/hostname"))
}

const ERR: u8 = 3;
const WARNING: u8 = 4;
const NOTICE: u8 = 5;
const INFO: u8 = 6;

impl SyslogConfig {
    /// The defaults, sending to `target`.
    pub fn new(target: SyslogTarget) -> Self {
        SyslogConfig {
            target,
            format: SyslogFormat::Rfc5424,
            facility: Facility::LOCAL0,
            app_name: "smbscope".into(),
            hostname: None,
            dedupe_window: Duration::from_secs(300),
            summary_interval: Duration::from_secs(300),
            queue: 10_000,
            flush_timeout: Duration::from_secs(2),
            reconnect_min: Duration::from_millis(100),
            reconnect_max: Duration::from_secs(10),
            alert_anomalies: DEFAULT_ALERT_ANOMALIES
                .iter()
                .map(|s| s.to_string())
                .collect(),
        }
    }
}

impl SyslogSink {
    /// Starts the delivery thread. Does not connect first: a server that is down at start is
    /// retried in the background. Fails only if the thread cannot be spawned.
    pub fn new(config: SyslogConfig) -> io::Result<Self> {
        let hostname = config.hostname.clone().unwrap_or_else(default_hostname);
        let fmt = Formatter::new(
            config.format,
            config.facility,
            &hostname,
            &config.app_name,
            std::process::id(),
        );
        let queue = config.queue.max(1);
        // One spare slot for the final summary, which bypasses the limit.
        let (tx, rx) = sync_channel(queue.saturating_add(1));
        let shared = Arc::new(Shared::new(format!("smbscope: syslog {}", config.target)));
        let reconnect_min = config.reconnect_min.max(Duration::from_millis(1));
        let worker = Worker {
            rx,
            shared: Arc::clone(&shared),
            fmt: fmt.clone(),
            target: config.target.clone(),
            summary_interval: Some(config.summary_interval).filter(|d| !d.is_zero()),
            backoff_min: reconnect_min,
            backoff_max: config.reconnect_max.max(reconnect_min),
        };
        let handle = thread::Builder::new()
            .name("smbscope-syslog".into())
            .spawn(move || worker.run())?;
        let anomaly_window = config.dedupe_window.max(Duration::from_secs(60));
        Ok(SyslogSink {
            fmt,
            target: config.target,
            tx: Some(tx),
            shared,
            worker: Some(handle),
            findings: Dedupe::new(
                config.dedupe_window,
                Dedupe::<AlertKey>::DEFAULT_MAX_ENTRIES,
            ),
            anomalies: Dedupe::new(anomaly_window, 1024),
            alert_anomalies: config.alert_anomalies,
            queue: queue as u64,
            overflowing: false,
            flush_timeout: config.flush_timeout,
            final_stats: None,
        })
    }

    /// The delivery counters now (after `finish`: as they were when it returned).
    pub fn stats(&self) -> SyslogStats {
        self.final_stats.unwrap_or_else(|| self.shared.stats())
    }

    /// Hands a message to the delivery thread, or counts it lost. Never blocks.
    fn enqueue(&mut self, msg: Msg, reserve: bool) {
        let Some(tx) = &self.tx else {
            self.shared.lose(1);
            return;
        };
        if !reserve && self.shared.queued.load(Ordering::Relaxed) >= self.queue {
            self.shared.lose(1);
            // One report per overflow episode, not per message.
            if !self.overflowing {
                self.overflowing = true;
                self.shared.report(format_args!(
                    "queue full ({} messages waiting): dropping new messages",
                    self.queue
                ));
            }
            return;
        }
        self.overflowing = false;
        self.shared.queued.fetch_add(1, Ordering::Relaxed);
        match tx.try_send(msg) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                // Cannot happen (the channel has a spare slot beyond the limit); count it anyway.
                self.shared.dequeue();
                self.shared.lose(1);
            }
            Err(TrySendError::Disconnected(_)) => {
                self.shared.dequeue();
                self.shared.lose(1);
                self.shared.report("delivery thread stopped: dropping");
            }
        }
    }

    fn note_suppressed(&self) {
        let n = self.findings.suppressed() + self.anomalies.suppressed();
        self.shared.suppressed.store(n, Ordering::Relaxed);
    }

    /// Closes the queue (after `last`), waits up to the flush timeout, then gives up on what is
    /// left and reports losses.
    fn close(&mut self, last: Option<Msg>) {
        if self.final_stats.is_some() {
            return;
        }
        if let Some(m) = last {
            self.enqueue(m, true);
        }
        drop(self.tx.take());
        let done = self.shared.wait_done(self.flush_timeout);
        if !done {
            self.shared.abandon.store(true, Ordering::Relaxed);
            if let Some(h) = &self.worker {
                h.thread().unpark();
            }
        }
        let left = self.shared.queued.swap(0, Ordering::Relaxed);
        self.shared.lose(left);
        self.shared.flush_reports();
        let stats = self.shared.stats();
        if stats.lost > 0 {
            eprintln!(
                "smbscope: syslog {}: {} message(s) lost ({} still queued at the end); \
                 {} alerts sent, {} errors",
                self.target, stats.lost, left, stats.sent, stats.errors
            );
        }
        self.final_stats = Some(stats);
        if done {
            if let Some(h) = self.worker.take() {
                // The thread has ended; a panic in it would already have shown on stderr.
                let _ = h.join();
            }
        }
    }
}

impl Sink for SyslogSink {
    /// Queues findings (and listed anomalies) that are not repeats. Always `Ok`: failures are
    /// counted in [`SyslogSink::stats`] and reported on stderr.
    fn record(&mut self, record: &Record) -> io::Result<()> {
        if self.final_stats.is_some() {
            return Ok(());
        }
        match record {
            Record::Finding(f) => {
                if self.findings.check(&AlertKey::finding(f), f.ts) == Verdict::Suppress {
                    self.note_suppressed();
                    return Ok(());
                }
                let bytes = self.fmt.finding(f);
                self.enqueue(Msg::Alert(bytes), false);
            }
            Record::Anomaly(a) if self.alert_anomalies.iter().any(|k| k == a.kind) => {
                if self.anomalies.check(&AlertKey::anomaly(a), a.ts) == Verdict::Suppress {
                    self.note_suppressed();
                    return Ok(());
                }
                let bytes = self.fmt.anomaly(a);
                self.enqueue(Msg::Alert(bytes), false);
            }
            _ => {}
        }
        Ok(())
    }

    /// Sends the final summary and waits (up to the flush timeout) for the queue to drain;
    /// what is left is counted as lost and reported on stderr. Always `Ok`.
    fn finish(&mut self, summary: &Summary) -> io::Result<()> {
        if self.final_stats.is_some() {
            return Ok(());
        }
        let count = |m: &std::collections::BTreeMap<&'static str, u64>| m.values().sum::<u64>();
        let sev = |k: &str| summary.findings.get(k).copied().unwrap_or(0);
        let text = format!(
            "smbscope: finished: {} connections, {} sessions, {} findings ({} high, {} medium, \
             {} low, {} info), {} anomalies; ",
            summary.connections,
            summary.sessions,
            count(&summary.findings),
            sev("high"),
            sev("medium"),
            sev("low"),
            sev("info"),
            count(&summary.anomalies),
        );
        let params = vec![
            ("connections", summary.connections.to_string()),
            ("sessions", summary.sessions.to_string()),
            ("findings", count(&summary.findings).to_string()),
            ("anomalies", count(&summary.anomalies).to_string()),
        ];
        self.close(Some(Msg::Final { text, params }));
        Ok(())
    }
}

impl Drop for SyslogSink {
    /// Without `finish`, still delivers what is queued (bounded by the flush timeout).
    fn drop(&mut self) {
        self.close(None);
    }
}

impl fmt::Debug for SyslogSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyslogSink")
            .field("target", &self.target)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// `N alerts sent, M suppressed as duplicates, K lost, queue depth Q`.
fn stats_text(s: &SyslogStats) -> String {
    format!(
        "{} alerts sent, {} suppressed as duplicates, {} lost, queue depth {}",
        s.sent, s.suppressed, s.lost, s.queued
    )
}

/// The counters as structured-data parameters.
fn stats_params(s: &SyslogStats) -> Vec<(&'static str, String)> {
    vec![
        ("sent", s.sent.to_string()),
        ("suppressed", s.suppressed.to_string()),
        ("lost", s.lost.to_string()),
        ("errors", s.errors.to_string()),
        ("queued", s.queued.to_string()),
    ]
}

fn hostname_from(path: &std::path::Path) -> String {
    match std::fs::read_to_string(path) {
        Ok(s) if !s.trim().is_empty() => s.trim().to_string(),
        _ => "-".into(),
    }
}

impl Facility {
    pub const KERN: Facility = Facility(0);
    pub const USER: Facility = Facility(1);
    pub const DAEMON: Facility = Facility(3);
    pub const AUTH: Facility = Facility(4);
    pub const AUTHPRIV: Facility = Facility(10);
    pub const LOCAL0: Facility = Facility(16);
    pub const LOCAL7: Facility = Facility(23);

    const NAMES: [&'static str; 24] = [
        "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
        "authpriv", "ftp", "ntp", "audit", "alert", "clock", "local0", "local1", "local2",
        "local3", "local4", "local5", "local6", "local7",
    ];

    /// The facility with this code, if it is 0–23.
    pub fn from_code(code: u8) -> Option<Facility> {
        (code < 24).then_some(Facility(code))
    }

    /// The numeric code (0–23).
    pub fn code(self) -> u8 {
        self.0
    }

    /// The PRI value of a message of this facility at syslog `severity` (0–7).
    pub fn pri(self, severity: u8) -> u8 {
        self.0 * 8 + severity.min(7)
    }
}

impl Default for Facility {
    fn default() -> Self {
        Facility::LOCAL0
    }
}

impl fmt::Display for Facility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match Facility::NAMES.get(usize::from(self.0)) {
            Some(name) => f.write_str(name),
            None => write!(f, "{}", self.0),
        }
    }
}

impl FromStr for Facility {
    type Err = SyslogParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().to_ascii_lowercase();
        if let Some(i) = Facility::NAMES.iter().position(|n| *n == t) {
            // NAMES has 24 entries, so the index fits.
            return Ok(Facility(i as u8));
        }
        match t.parse::<u8>().ok().and_then(Facility::from_code) {
            Some(f) => Ok(f),
            None => Err(SyslogParseError(format!(
                "unknown syslog facility {s:?}: expected a number 0-23 or one of {}",
                Facility::NAMES.join(", ")
            ))),
        }
    }
}

impl fmt::Display for SyslogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SyslogFormat::Rfc5424 => "5424",
            SyslogFormat::Rfc3164 => "3164",
        })
    }
}

impl FromStr for SyslogFormat {
    type Err = SyslogParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "5424" | "rfc5424" => Ok(SyslogFormat::Rfc5424),
            "3164" | "rfc3164" | "bsd" => Ok(SyslogFormat::Rfc3164),
            _ => Err(SyslogParseError(format!(
                "unknown syslog format {s:?}: expected 5424 or 3164"
            ))),
        }
    }
}

impl fmt::Display for SyslogTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (scheme, host, port) = match self {
            SyslogTarget::Udp { host, port } => ("udp", host, port),
            SyslogTarget::Tcp { host, port } => ("tcp", host, port),
            SyslogTarget::Unix(path) => return write!(f, "unix://{}", path.display()),
        };
        if host.contains(':') {
            write!(f, "{scheme}://[{host}]:{port}")
        } else {
            write!(f, "{scheme}://{host}:{port}")
        }
    }
}

impl FromStr for SyslogTarget {
    type Err = SyslogParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |why: &str| SyslogParseError(format!("syslog target {s:?}: {why}"));
        let Some((scheme, rest)) = s.split_once("://") else {
            return Err(err(
                "expected udp://HOST:PORT, tcp://HOST:PORT or unix:///PATH",
            ));
        };
        match scheme.to_ascii_lowercase().as_str() {
            "udp" => {
                let (host, port) = host_port(rest).map_err(|w| err(&w))?;
                Ok(SyslogTarget::Udp { host, port })
            }
            "tcp" => {
                let (host, port) = host_port(rest).map_err(|w| err(&w))?;
                Ok(SyslogTarget::Tcp { host, port })
            }
            "unix" => {
                if !rest.starts_with('/') || rest.len() < 2 {
                    return Err(err("the path must be absolute, as in unix:///dev/log"));
                }
                if rest.contains('\0') {
                    return Err(err("the path holds a NUL byte"));
                }
                Ok(SyslogTarget::Unix(PathBuf::from(rest)))
            }
            other => Err(err(&format!(
                "unknown scheme {other:?}: expected udp, tcp or unix"
            ))),
        }
    }
}

/// `HOST[:PORT]` or `[V6][:PORT]`; the port defaults to 514.
fn host_port(rest: &str) -> Result<(String, u16), String> {
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let Some((host, after)) = v6.split_once(']') else {
            return Err("missing ']' after the IPv6 address".into());
        };
        if host.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("{host:?} is not an IPv6 address"));
        }
        match after {
            "" => (host, None),
            _ => match after.strip_prefix(':') {
                Some(p) => (host, Some(p)),
                None => return Err(format!("unexpected {after:?} after the address")),
            },
        }
    } else if rest.matches(':').count() > 1 {
        return Err("put an IPv6 address in brackets, as in udp://[::1]:514".into());
    } else {
        match rest.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (rest, None),
        }
    };
    if host.is_empty() {
        return Err("missing host".into());
    }
    let name_ok = host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'));
    if !name_ok {
        return Err(format!("{host:?} is not a host name or address"));
    }
    let port = match port {
        None => 514,
        Some(p) => match p.parse::<u16>() {
            Ok(0) | Err(_) => return Err(format!("{p:?} is not a port (1-65535)")),
            Ok(n) => n,
        },
    };
    Ok((host.to_string(), port))
}

#[cfg(test)]
#[path = "syslog_tests.rs"]
mod tests;
