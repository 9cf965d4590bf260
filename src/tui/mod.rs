//! `smbscope tui`: a live terminal view of SMB sessions and their posture.
//!
//! ```text
//! smbscope tui -i IFACE [--promisc] [key and port options]    live
//! smbscope tui -r FILE [--realtime] [key and port options]     replay
//! ```
//!
//! The capture thread of the sensor ([`crate::sensor::pipeline`]) feeds the engine on the
//! main thread; every record goes into the [`app::App`], and a few times per second the
//! engine's [`Engine::snapshot`] of the open connections does too, so sessions show while
//! they are open. Keys become [`app::Action`]s ([`input`]); the screen is drawn from the
//! `App` only ([`view`]), when something changed and at most 4 times per second (a key
//! press redraws at once).
//!
//! `p` freezes the view while the analysis keeps consuming the capture (nothing is dropped
//! because of a pause); resuming shows everything that arrived meanwhile.
//!
//! The terminal is put in raw mode on the alternate screen and restored on exit, on a panic
//! (ratatui's panic hook restores it before the message is printed) and on SIGTERM/SIGINT
//! (a signal-hook flag checked by the loop). Exit status: 0 on quit, 2 on usage or input
//! errors (printed before the screen is taken over, or after it is restored).

pub mod app;
mod detail;
pub mod input;
pub mod view;

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crossterm::event::{self, Event};

use crate::capture::{self, LiveOptions, OfflineCapture};
use crate::engine::{Analyzer, Config};
use crate::options::{Input, TuiArgs};
use crate::sensor::pipeline::{self, CaptureThread, Feed};
use app::{App, Stats};

/// Least time between two redraws caused by traffic.
const FRAME: Duration = Duration::from_millis(250);
/// How often the open connections are snapshotted.
const SNAPSHOT_EVERY: Duration = Duration::from_millis(250);
/// Longest stretch of frame analysis before input is looked at again.
const BATCH: Duration = Duration::from_millis(20);
/// How long to wait for a key when there is nothing to analyse.
const IDLE_POLL: Duration = Duration::from_millis(50);

/// Runs `smbscope tui`; returns the exit status.
pub fn run(args: &TuiArgs) -> ExitCode {
    let (engine, feed, source) = match prepare(args) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("smbscope: error: {e}");
            return ExitCode::from(2);
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        if let Err(e) = signal_hook::flag::register(sig, Arc::clone(&stop)) {
            eprintln!("smbscope: error: cannot install signal handlers: {e}");
            return ExitCode::from(2);
        }
    }
    let capture = match pipeline::spawn(feed, args.queue, Arc::clone(&stop)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("smbscope: error: cannot start the capture thread: {e}");
            return ExitCode::from(2);
        }
    };
    let mut terminal = match ratatui::try_init() {
        Ok(t) => t,
        Err(e) => {
            stop.store(true, Ordering::Relaxed);
            capture.wake();
            let _ = capture.join();
            eprintln!("smbscope: error: cannot set up the terminal: {e}");
            return ExitCode::from(2);
        }
    };
    let mut ui = Loop {
        engine,
        app: App::new(source),
        capture: &capture,
        stop: &stop,
        finished: false,
    };
    let result = ui.run(&mut terminal);
    // Restore first, so any message below lands on the normal screen.
    ratatui::restore();
    stop.store(true, Ordering::Relaxed);
    capture.wake();
    let (end, _) = capture.join();
    let mut code = ExitCode::SUCCESS;
    if let Err(e) = result {
        eprintln!("smbscope: error: terminal: {e}");
        code = ExitCode::from(2);
    }
    if let Some(e) = end.error {
        eprintln!("smbscope: error: capture: {e}");
        code = ExitCode::from(2);
    }
    if let Some(w) = end.warning {
        eprintln!("smbscope: warning: {w}");
    }
    code
}

/// Checks the options, reads keys and opens the capture, before the screen is taken over.
fn prepare(args: &TuiArgs) -> Result<(Analyzer, Feed, String), String> {
    let replayed: Vec<_> = args.read.iter().cloned().collect();
    let shared = args
        .keys
        .engine_config(&replayed, &args.smb_ports, &args.quic_ports)?;
    let (feed, source) = match (&args.interface, &args.read) {
        (Some(iface), None) => {
            let lo = LiveOptions {
                iface: iface.clone(),
                promisc: args.promisc,
                snaplen: LiveOptions::DEFAULT_SNAPLEN,
                buffer_size: LiveOptions::DEFAULT_BUFFER_SIZE,
                filter: String::new(),
                immediate: true,
                timeout_ms: LiveOptions::DEFAULT_TIMEOUT_MS,
            };
            let mut cap = capture::open_live(&lo).map_err(|e| e.to_string())?;
            let filter =
                capture::default_filter(&args.smb_ports, &args.quic_ports, cap.linktype() == 1);
            cap.set_filter(&filter).map_err(|e| e.to_string())?;
            (Feed::Live(cap), format!("interface {iface}"))
        }
        (None, Some(path)) => {
            let cap = OfflineCapture::open(path).map_err(|e| e.to_string())?;
            let speed = if args.realtime {
                " (capture speed)"
            } else {
                ""
            };
            (
                Feed::Replay {
                    cap: Box::new(cap),
                    realtime: args.realtime,
                },
                format!("file {}{speed}", path.display()),
            )
        }
        _ => return Err("give exactly one of -i IFACE or -r FILE".into()),
    };
    let config = Config {
        mandates: args.require.unwrap_or_default(),
        logon: args.logon.policy(&Default::default())?,
        ..shared
    };
    let size = args
        .read
        .as_ref()
        .map(|p| std::fs::metadata(p).map_or(0, |m| m.len()));
    let engine = Analyzer::new(config, args.jobs.threads_for(Input::Fed(size)));
    Ok((engine, feed, source))
}

struct Loop<'a> {
    engine: Analyzer,
    app: App,
    capture: &'a CaptureThread,
    stop: &'a AtomicBool,
    /// The capture ended and the engine was finished.
    finished: bool,
}

impl Loop<'_> {
    fn run(&mut self, terminal: &mut ratatui::DefaultTerminal) -> std::io::Result<()> {
        let mut dirty = true;
        let mut last_draw: Option<Instant> = None;
        let mut last_snapshot = Instant::now();
        // (when, frames, bytes) at the start of the rate window.
        let mut rate_mark = (Instant::now(), 0u64, 0u64);
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return Ok(());
            }
            let busy = self.analyse();
            dirty |= busy;
            if last_snapshot.elapsed() >= SNAPSHOT_EVERY {
                last_snapshot = Instant::now();
                if !self.finished {
                    self.app.apply_snapshot(self.engine.snapshot());
                }
                let stats = self.stats(&mut rate_mark);
                if stats != self.app.stats {
                    self.app.stats = stats;
                    dirty = true;
                }
            }
            let mut key_pressed = false;
            let timeout = if busy { Duration::ZERO } else { IDLE_POLL };
            if event::poll(timeout)? {
                // Take every pending event before drawing.
                loop {
                    match event::read()? {
                        Event::Key(k) => {
                            if let Some(a) = input::action(self.app.mode, k) {
                                self.app.on_action(a);
                                key_pressed = true;
                            }
                        }
                        Event::Resize(..) => key_pressed = true,
                        _ => {}
                    }
                    if !event::poll(Duration::ZERO)? {
                        break;
                    }
                }
            }
            if self.app.quit {
                return Ok(());
            }
            let due = last_draw.is_none_or(|t| t.elapsed() >= FRAME);
            if key_pressed || (dirty && due) {
                terminal.draw(|f| view::draw(&self.app, f))?;
                last_draw = Some(Instant::now());
                dirty = false;
            }
        }
    }

    /// Analyses queued frames for up to [`BATCH`]; true when there was any work.
    fn analyse(&mut self) -> bool {
        let started = Instant::now();
        let mut any = false;
        while started.elapsed() < BATCH {
            let Some(p) = self.capture.try_recv() else {
                // Idle: the analysis threads get their partial batches, and the kernel drop
                // counters are read even if no frame comes.
                self.engine.flush();
                self.capture.refresh_stats();
                while let Some(r) = self.engine.poll_record() {
                    self.app.apply(r);
                    any = true;
                }
                break;
            };
            self.engine.handle_frame(&p.frame());
            self.capture.recycle(p);
            while let Some(r) = self.engine.poll_record() {
                self.app.apply(r);
            }
            any = true;
        }
        if !any && !self.finished && self.capture.is_finished() {
            // The thread ended: take what it queued last, then end the open flows.
            while let Some(p) = self.capture.try_recv() {
                self.engine.handle_frame(&p.frame());
                self.capture.recycle(p);
            }
            loop {
                let more = self.engine.finish_some();
                while let Some(r) = self.engine.poll_record() {
                    self.app.apply(r);
                }
                if !more {
                    break;
                }
            }
            self.finished = true;
            any = true;
        }
        any
    }

    fn stats(&self, mark: &mut (Instant, u64, u64)) -> Stats {
        let cs = self.capture.stats();
        let sum = self.engine.summary();
        let mut s = Stats {
            packets: sum.frames,
            bytes: sum.bytes,
            kernel_drops: cs.kernel_dropped + cs.if_dropped,
            queue_drops: cs.queue_drops,
            finished: self.finished,
            ..self.app.stats
        };
        let dt = mark.0.elapsed().as_secs_f64();
        if dt >= 1.0 {
            s.packet_rate = sum.frames.saturating_sub(mark.1) as f64 / dt;
            s.byte_rate = sum.bytes.saturating_sub(mark.2) as f64 / dt;
            *mark = (Instant::now(), sum.frames, sum.bytes);
        }
        s
    }
}
