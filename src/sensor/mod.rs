//! `smbscope watch`: the headless sensor.
//!
//! ```text
//! smbscope watch -i IFACE [--jsonl PATH|-] [--syslog URL] [options]   live
//! smbscope watch -r FILE  [--jsonl PATH|-] [--syslog URL] [--realtime] replay
//! smbscope watch --config /etc/smbscope/smbscope.toml                 (keys: see [`config`])
//! ```
//!
//! # Pipeline
//!
//! A capture thread reads frames (libpcap on a live interface, or a capture file) into owned,
//! recycled buffers and pushes them into a bounded queue ([`pipeline`]); the engine runs on
//! the main thread and, after each frame, hands every record it produced to each sink
//! (`--jsonl` and/or `--syslog`, at least one). A live frame that finds the queue full is
//! dropped and counted; a replay waits instead, so `watch -r F --jsonl -` prints exactly what
//! `analyze --format json F` prints.
//!
//! Start-up order: options (command line over `--config`) are checked, key files are read,
//! the capture is opened (as root or with `CAP_NET_RAW`), then `--user` drops root
//! ([`privdrop`]), then the outputs are opened as that user, then analysis starts.
//!
//! # Drops and statistics
//!
//! Every `--stats-interval` seconds (default 60; 0 = only at exit) and at exit, one line on
//! stderr:
//!
//! ```text
//! smbscope: stats: 1520 frames captured, 1520 analysed; dropped: kernel 0, interface 0, queue 0
//! ```
//!
//! (`kernel`/`interface` are libpcap's counters; `queue` counts frames dropped because the
//! analysis fell behind). When any of these grew since the previous report, the sinks also
//! get an `anomaly` record of kind **`capture_drops`**, with `client` and `server`
//! `0.0.0.0:0`, `bytes` 0, `ts` the wall-clock time, and a `detail` such as
//! `"frames lost before analysis since the last report: kernel 12, interface 0, queue 0
//! (totals: kernel 12, interface 0, queue 0)"`, so a collector learns the sensor was
//! partly blind.
//!
//! # Stopping
//!
//! SIGINT or SIGTERM stops the capture; frames already queued are analysed, open flows are
//! ended (`Engine::finish`), their records and the summary go to the sinks, and a summary
//! line goes to stderr:
//!
//! ```text
//! smbscope: summary: 1520 frames, 402113 bytes, 2 connections, 2 sessions; findings: high 0,
//! medium 3, low 1, info 0; dropped: kernel 0, interface 0, queue 0; alerts: sent 4,
//! suppressed 0, lost 0
//! ```
//!
//! (one line; `alerts` only with `--syslog`). A second signal exits at once (status 1). A
//! replay also stops at the end of its file. A sink that fails never stops the analysis
//! (see [`outputs`]).
//!
//! # Exit status
//!
//! * 0: stopped by a signal, or a replay reached its end (a truncated file is a warning);
//! * 1: the live capture failed after it had started (interface gone), or a second signal;
//! * 2: usage or input error, with a message: bad or conflicting options or config file, no
//!   output, missing interface (named, with those that exist), permission denied, unreadable
//!   capture or key file, unknown `--user`, or a replay file that fails to read.

pub mod config;
pub mod outputs;
pub mod pipeline;
pub mod privdrop;

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::capture::{self, OfflineCapture};
use crate::engine::{Analyzer, Config};
use crate::event::{AnomalyRecord, Record, Summary};
use crate::options::{Input, WatchArgs};
use config::{Source, WatchOptions};
use outputs::Outputs;
use pipeline::{CaptureStats, CaptureThread, Feed};

/// Runs `smbscope watch`; returns the exit status (messages go to stderr).
pub fn watch(args: &WatchArgs) -> ExitCode {
    match start(args) {
        Ok((sensor, capture)) => sensor.run(capture),
        Err(msg) => {
            eprintln!("smbscope: error: {msg}");
            ExitCode::from(2)
        }
    }
}

/// How long to wait for the capture thread to end once stopped before giving up on it.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// How long the engine thread waits for a frame before looking at signals and timers.
const TICK: Duration = Duration::from_millis(100);
/// Longest time records wait in an output buffer while frames keep coming.
const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// Everything set up, ready to run.
struct Sensor {
    engine: Analyzer,
    outputs: Outputs,
    stop: Arc<AtomicBool>,
    stats_interval: Duration,
    live: bool,
    files: Vec<String>,
    /// Capture counters at the last report.
    reported: CaptureStats,
}

/// Checks the options, opens keys, capture and outputs (dropping root in between), and
/// starts the capture thread.
fn start(args: &WatchArgs) -> Result<(Sensor, CaptureThread), String> {
    let opts = config::resolve(args)?;
    for name in opts.ignored_options(args) {
        eprintln!("smbscope: warning: {name} has no effect with this setup; ignored");
    }
    if let Some(s) = &opts.syslog {
        outputs::syslog_config(s)?;
    }
    if let Some(user) = &opts.user {
        privdrop::lookup(user)?;
    }
    // Key files are read now, before root is dropped.
    let replayed: Vec<std::path::PathBuf> = match &opts.source {
        config::Source::Replay { path, .. } => vec![path.clone()],
        config::Source::Live { .. } => Vec::new(),
    };
    let shared = opts
        .keys
        .engine_config(&replayed, &opts.smb_ports, &opts.quic_ports)?;

    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // First signal sets `stop`; a second one (stop already set) exits at once.
        signal_hook::flag::register_conditional_shutdown(sig, 1, Arc::clone(&stop))
            .and_then(|_| signal_hook::flag::register(sig, Arc::clone(&stop)))
            .map_err(|e| format!("cannot install signal handlers: {e}"))?;
    }

    let (feed, what, files) = open_feed(&opts)?;
    if let Some(user) = &opts.user {
        let id = privdrop::drop_privileges(user)?;
        eprintln!(
            "smbscope: running as user {user} (uid {}, gid {})",
            id.uid, id.gid
        );
    }
    let outputs = Outputs::open(opts.jsonl.as_ref(), opts.syslog.as_ref())?;
    let config = Config {
        limits: opts.limits.clone(),
        mandates: opts.mandates,
        logon: opts.logon,
        ..shared
    };
    let live = matches!(feed, Feed::Live(_));
    // A replay's size decides `auto` as for `analyze`; a live interface has no end.
    let size = match &opts.source {
        config::Source::Replay { path, .. } => Some(std::fs::metadata(path).map_or(0, |m| m.len())),
        config::Source::Live { .. } => None,
    };
    let engine = Analyzer::new(config, opts.jobs.threads_for(Input::Fed(size)));
    let capture = pipeline::spawn(feed, opts.queue, Arc::clone(&stop))
        .map_err(|e| format!("cannot start the capture thread: {e}"))?;
    let threads = match engine.jobs() {
        1 => "one analysis thread".to_owned(),
        n => format!("{n} analysis threads"),
    };
    eprintln!("smbscope: watching {what} ({threads})");
    let sensor = Sensor {
        engine,
        outputs,
        stop,
        stats_interval: opts.stats_interval,
        live,
        files,
        reported: CaptureStats::default(),
    };
    Ok((sensor, capture))
}

/// Opens the live interface (with its filter) or the replay file.
fn open_feed(opts: &WatchOptions) -> Result<(Feed, String, Vec<String>), String> {
    match &opts.source {
        Source::Live { opts: lo, filter } => {
            let mut lo = lo.clone();
            lo.filter = filter.clone().unwrap_or_default();
            let mut cap = capture::open_live(&lo).map_err(|e| e.to_string())?;
            let expr = match filter {
                Some(f) => f.clone(),
                None => {
                    // VLAN-tagged copies too, where the link is Ethernet (DLT_EN10MB).
                    let f = capture::default_filter(
                        &opts.smb_ports,
                        &opts.quic_ports,
                        cap.linktype() == 1,
                    );
                    cap.set_filter(&f).map_err(|e| e.to_string())?;
                    f
                }
            };
            let what = format!(
                "interface {} (link type {}, filter: {})",
                lo.iface,
                cap.linktype(),
                if expr.trim().is_empty() {
                    "none"
                } else {
                    &expr
                }
            );
            Ok((Feed::Live(cap), what, Vec::new()))
        }
        Source::Replay { path, realtime } => {
            let cap = OfflineCapture::open(path).map_err(|e| e.to_string())?;
            let what = format!(
                "file {}{}",
                path.display(),
                if *realtime { " (at capture speed)" } else { "" }
            );
            Ok((
                Feed::Replay {
                    cap: Box::new(cap),
                    realtime: *realtime,
                },
                what,
                vec![path.display().to_string()],
            ))
        }
    }
}

impl Sensor {
    /// Analyses until stopped or the replay ends, then reports; returns the exit status.
    fn run(mut self, capture: CaptureThread) -> ExitCode {
        let mut next_report =
            (!self.stats_interval.is_zero()).then(|| Instant::now() + self.stats_interval);
        let mut stopping_since: Option<Instant> = None;
        let mut last_flush = Instant::now();
        loop {
            // Flush when the queue runs empty, or every FLUSH_EVERY while it doesn't.
            let next = match capture.try_recv() {
                Some(p) => Ok(p),
                None => {
                    // The analysis threads get their partial batches, and what they made
                    // goes out, before waiting.
                    self.engine.flush();
                    self.drain();
                    self.outputs.flush();
                    last_flush = Instant::now();
                    capture.recv_timeout(TICK)
                }
            };
            match next {
                Ok(p) => {
                    self.engine.handle_frame(&p.frame());
                    capture.recycle(p);
                    self.drain();
                    if last_flush.elapsed() >= FLUSH_EVERY {
                        self.outputs.flush();
                        last_flush = Instant::now();
                    }
                }
                Err(RecvTimeoutError::Timeout) => capture.refresh_stats(),
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if self.stop.load(Ordering::Relaxed) {
                // The capture thread sees the flag too and ends; queued frames are analysed.
                let since = *stopping_since.get_or_insert_with(|| {
                    capture.wake();
                    Instant::now()
                });
                if since.elapsed() > STOP_GRACE {
                    eprintln!("smbscope: warning: capture thread did not stop; exiting anyway");
                    return self.finish(None, capture.stats());
                }
            }
            if let Some(t) = next_report {
                if Instant::now() >= t {
                    self.report(capture.stats());
                    next_report = Some(Instant::now() + self.stats_interval);
                }
            }
        }
        let (end, stats) = capture.join();
        self.finish(Some(end), stats)
    }

    fn drain(&mut self) {
        while let Some(r) = self.engine.poll_record() {
            self.outputs.record(&r);
            self.engine.recycle(r);
        }
    }

    /// The periodic stats line, and a `capture_drops` anomaly when anything was lost.
    fn report(&mut self, now: CaptureStats) {
        let mut line = format!(
            "smbscope: stats: {} frames captured, {} analysed; dropped: kernel {}, interface {}, \
             queue {}",
            now.captured,
            self.engine.summary().frames,
            now.kernel_dropped,
            now.if_dropped,
            now.queue_drops
        );
        let errors = self.outputs.new_errors();
        if !errors.is_empty() {
            line.push_str("; output errors: ");
            line.push_str(&errors.join(", "));
        }
        eprintln!("{line}");
        let last = self.reported;
        if now.lost() > last.lost() {
            let detail = format!(
                "frames lost before analysis since the last report: kernel {}, interface {}, \
                 queue {} (totals: kernel {}, interface {}, queue {})",
                now.kernel_dropped.saturating_sub(last.kernel_dropped),
                now.if_dropped.saturating_sub(last.if_dropped),
                now.queue_drops.saturating_sub(last.queue_drops),
                now.kernel_dropped,
                now.if_dropped,
                now.queue_drops
            );
            self.outputs.record(&drops_record(detail));
        }
        self.reported = now;
    }

    /// End of run: last report, flows ended, summary to sinks and stderr.
    fn finish(mut self, end: Option<pipeline::CaptureEnd>, stats: CaptureStats) -> ExitCode {
        let mut errors = Vec::new();
        let mut code = ExitCode::SUCCESS;
        if let Some(end) = &end {
            if let Some(w) = &end.warning {
                eprintln!("smbscope: warning: {w}");
                errors.push(w.to_string());
            }
            if let Some(e) = &end.error {
                eprintln!("smbscope: error: {e}");
                errors.push(e.to_string());
                code = ExitCode::from(if self.live { 1 } else { 2 });
            }
        }
        self.report(stats);
        while self.engine.finish_some() {
            self.drain();
        }
        self.drain();
        let mut summary = self.engine.summary();
        summary.files = std::mem::take(&mut self.files);
        summary.errors = errors;
        self.outputs.finish(&summary);
        eprintln!("{}", self.summary_line(&summary));
        code
    }

    fn summary_line(&self, s: &Summary) -> String {
        let sev = |k: &str| s.findings.get(k).copied().unwrap_or(0);
        let d = self.reported;
        let mut line = format!(
            "smbscope: summary: {} frames, {} bytes, {} connections, {} sessions; findings: \
             high {}, medium {}, low {}, info {}; dropped: kernel {}, interface {}, queue {}",
            s.frames,
            s.bytes,
            s.connections,
            s.sessions,
            sev("high"),
            sev("medium"),
            sev("low"),
            sev("info"),
            d.kernel_dropped,
            d.if_dropped,
            d.queue_drops
        );
        if let Some(a) = self.outputs.alert_stats() {
            line.push_str(&format!(
                "; alerts: sent {}, suppressed {}, lost {}",
                a.sent, a.suppressed, a.lost
            ));
            if a.errors > 0 || a.queued > 0 {
                line.push_str(&format!(
                    " (errors {}, still queued {})",
                    a.errors, a.queued
                ));
            }
        }
        if let Some((dropped, errors)) = self.outputs.file_losses() {
            if dropped > 0 || errors > 0 {
                line.push_str(&format!(
                    "; jsonl file: {dropped} records dropped, {errors} errors"
                ));
            }
        }
        let errors = self.outputs.errors();
        if errors > 0 {
            line.push_str(&format!("; output errors: {errors}"));
        }
        line
    }
}

/// The `capture_drops` anomaly record.
fn drops_record(detail: String) -> Record {
    let unspecified = std::net::SocketAddr::from(([0, 0, 0, 0], 0));
    let ts = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    Record::Anomaly(AnomalyRecord {
        kind: "capture_drops",
        client: unspecified,
        server: unspecified,
        detail,
        bytes: 0,
        ts,
    })
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::io::{self, Write};
    use std::rc::Rc;

    use super::*;
    use crate::output::JsonSink;

    #[derive(Clone, Default)]
    struct Buf(Rc<RefCell<Vec<u8>>>);

    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.borrow_mut().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn drops_become_one_anomaly_per_report_and_reach_the_summary() {
        let buf = Buf::default();
        let mut s = Sensor {
            engine: Analyzer::new(Config::default(), 1),
            outputs: Outputs::from_sinks(vec![(
                "test".into(),
                Box::new(JsonSink::new(buf.clone())),
            )]),
            stop: Arc::new(AtomicBool::new(false)),
            stats_interval: Duration::ZERO,
            live: true,
            files: Vec::new(),
            reported: CaptureStats::default(),
        };
        s.report(CaptureStats {
            captured: 10,
            ..CaptureStats::default()
        });
        let lossy = CaptureStats {
            captured: 20,
            queue_drops: 3,
            kernel_dropped: 2,
            ..CaptureStats::default()
        };
        s.report(lossy);
        s.report(lossy);
        let line = s.summary_line(&s.engine.summary());
        assert!(
            line.contains("dropped: kernel 2, interface 0, queue 3"),
            "{line}"
        );
        assert_eq!(s.finish(None, lossy), ExitCode::SUCCESS);
        let text = String::from_utf8(buf.0.borrow().clone()).unwrap();
        let records: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let drops: Vec<_> = records
            .iter()
            .filter(|r| r["kind"] == "capture_drops")
            .collect();
        assert_eq!(drops.len(), 1, "{text}");
        assert_eq!(drops[0]["type"], "anomaly");
        assert_eq!(drops[0]["client"], "0.0.0.0:0");
        let detail = drops[0]["detail"].as_str().unwrap();
        assert!(
            detail.contains("kernel 2, interface 0, queue 3"),
            "{detail}"
        );
        assert_eq!(records.last().unwrap()["type"], "summary");
    }

    #[test]
    fn a_failed_live_capture_exits_one_and_a_failed_replay_two() {
        for (live, code) in [(true, 1u8), (false, 2u8)] {
            let s = Sensor {
                engine: Analyzer::new(Config::default(), 1),
                outputs: Outputs::from_sinks(Vec::new()),
                stop: Arc::new(AtomicBool::new(false)),
                stats_interval: Duration::ZERO,
                live,
                files: Vec::new(),
                reported: CaptureStats::default(),
            };
            let end = pipeline::CaptureEnd {
                error: Some(crate::capture::CaptureError::Live {
                    iface: "eth0".into(),
                    msg: "read error: device went down".into(),
                }),
                warning: None,
            };
            assert_eq!(
                s.finish(Some(end), CaptureStats::default()),
                ExitCode::from(code)
            );
        }
    }
}
