//! The delivery thread of [`super::SyslogSink`]: connects, frames, sends, reconnects with capped
//! exponential backoff, and emits the periodic summary.
//!
//! Accounting: a message is *queued* from the moment the sink accepts it until it is delivered
//! (`sent`, for alerts) or given up (`lost`). Every error (connect, send) counts in `errors`.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use super::syslog_format::{Formatter, newline_terminated, octet_counted};
use super::{SyslogFormat, SyslogStats, SyslogTarget};
use crate::output::dedupe::ErrorReporter;

/// How long a TCP connect or a blocking write may take before it counts as an error.
const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// Send attempts for one message: UDP is retried once; a stream message that fails this many
/// writes (each after a fresh connection) is given up, so one bad message cannot wedge the queue.
const UDP_ATTEMPTS: u32 = 2;
const STREAM_ATTEMPTS: u32 = 3;
/// Longest sleep of the idle thread, so it notices what it must do in good time.
const MAX_IDLE: Duration = Duration::from_secs(60);

/// One message handed to the delivery thread.
pub(crate) enum Msg {
    /// An alert, formatted (unframed); counts in `sent` when delivered.
    Alert(Vec<u8>),
    /// The final summary: formatted by the thread when it reaches it, so its counts include
    /// every message before it. `text` is followed by the counts; `params` by theirs.
    Final {
        text: String,
        params: Vec<(&'static str, String)>,
    },
}

/// The message taken off the queue and not yet delivered.
struct Held {
    bytes: Vec<u8>,
    alert: bool,
    /// Failed sends so far.
    attempts: u32,
}

/// State shared by the sink (analysis thread) and the delivery thread.
pub(crate) struct Shared {
    pub(crate) sent: AtomicU64,
    pub(crate) suppressed: AtomicU64,
    pub(crate) lost: AtomicU64,
    pub(crate) errors: AtomicU64,
    pub(crate) queued: AtomicU64,
    /// Set by `finish` after its wait: stop at once, send nothing more.
    pub(crate) abandon: AtomicBool,
    done: Mutex<bool>,
    done_cv: Condvar,
    reporter: Mutex<ErrorReporter>,
}

impl Shared {
    pub(crate) fn new(prefix: String) -> Self {
        Shared {
            sent: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
            lost: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            queued: AtomicU64::new(0),
            abandon: AtomicBool::new(false),
            done: Mutex::new(false),
            done_cv: Condvar::new(),
            reporter: Mutex::new(ErrorReporter::new(prefix, ErrorReporter::DEFAULT_INTERVAL)),
        }
    }

    pub(crate) fn stats(&self) -> SyslogStats {
        SyslogStats {
            sent: self.sent.load(Ordering::Relaxed),
            suppressed: self.suppressed.load(Ordering::Relaxed),
            lost: self.lost.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            queued: self.queued.load(Ordering::Relaxed),
        }
    }

    /// One message fewer in the queue (never below zero, even after `finish` gave up on them).
    pub(crate) fn dequeue(&self) {
        let _ = self
            .queued
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |q| q.checked_sub(1));
    }

    pub(crate) fn lose(&self, n: u64) {
        self.lost.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts an error and prints it, rate-limited.
    pub(crate) fn error(&self, what: impl std::fmt::Display) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        self.report(what);
    }

    /// Prints a problem (rate-limited) without counting an error.
    pub(crate) fn report(&self, what: impl std::fmt::Display) {
        let line = self
            .reporter
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .error(Instant::now(), what);
        if let Some(line) = line {
            eprintln!("{line}");
        }
    }

    /// Prints the folded count of errors not shown yet.
    pub(crate) fn flush_reports(&self) {
        let line = self
            .reporter
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .flush();
        if let Some(line) = line {
            eprintln!("{line}");
        }
    }

    /// Prints the folded count when it is due; returns when the next one may be.
    fn tick_reports(&self, now: Instant) -> Option<Instant> {
        let (line, next) = {
            let mut r = self.reporter.lock().unwrap_or_else(PoisonError::into_inner);
            (r.tick(now), r.next_due())
        };
        if let Some(line) = line {
            eprintln!("{line}");
        }
        next
    }

    /// Waits up to `timeout` for the delivery thread to end; true if it did.
    pub(crate) fn wait_done(&self, timeout: Duration) -> bool {
        let done = self.done.lock().unwrap_or_else(PoisonError::into_inner);
        let (done, _) = self
            .done_cv
            .wait_timeout_while(done, timeout, |d| !*d)
            .unwrap_or_else(PoisonError::into_inner);
        *done
    }

    fn set_done(&self) {
        *self.done.lock().unwrap_or_else(PoisonError::into_inner) = true;
        self.done_cv.notify_all();
    }
}

/// An open connection to the syslog server.
enum Conn {
    Udp(UdpSocket),
    Tcp(TcpStream),
    UnixDgram(UnixDatagram),
    UnixStream(UnixStream),
}

/// How a send failed.
enum SendError {
    /// The stream was found closed before anything was written: reconnect and try again.
    Closed,
    /// The write failed.
    Io(io::Error),
}

pub(crate) struct Worker {
    pub(crate) rx: Receiver<Msg>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) fmt: Formatter,
    pub(crate) target: SyslogTarget,
    pub(crate) summary_interval: Option<Duration>,
    pub(crate) backoff_min: Duration,
    pub(crate) backoff_max: Duration,
}

impl Worker {
    /// The thread's body: runs until the sink is finished (queue drained) or abandons it.
    pub(crate) fn run(self) {
        let shared = Arc::clone(&self.shared);
        let mut state = State {
            conn: None,
            backoff: self.backoff_min,
            next_attempt: Instant::now(),
            held: None,
            next_summary: self.summary_interval.map(|i| Instant::now() + i),
        };
        self.main_loop(&mut state);
        shared.set_done();
    }

    fn main_loop(&self, st: &mut State) {
        loop {
            if self.shared.abandon.load(Ordering::Relaxed) {
                return;
            }
            let now = Instant::now();
            let wake = self.periodic(st, now);
            if st.held.is_none() {
                match self.rx.recv_timeout(wake.saturating_duration_since(now)) {
                    Ok(m) => st.held = Some(self.hold(m)),
                    Err(RecvTimeoutError::Timeout) => continue,
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            }
            if st.conn.is_none() {
                let now = Instant::now();
                if now < st.next_attempt {
                    thread::park_timeout(st.next_attempt.min(wake).saturating_duration_since(now));
                    continue;
                }
                self.connect(st);
                if st.conn.is_none() {
                    continue;
                }
            }
            self.deliver_held(st);
        }
    }

    /// Sends the periodic summary when due and prints pending error counts; returns when the
    /// thread must wake next.
    fn periodic(&self, st: &mut State, now: Instant) -> Instant {
        let mut wake = now + MAX_IDLE;
        if let (Some(due), Some(interval)) = (st.next_summary, self.summary_interval) {
            if now >= due {
                self.send_summary(st);
                // Skip missed periods (a long stall) instead of sending a burst.
                let mut next = due + interval;
                while next <= now {
                    next += interval;
                }
                st.next_summary = Some(next);
            }
            wake = wake.min(st.next_summary.unwrap_or(wake));
        }
        if let Some(due) = self.shared.tick_reports(now) {
            wake = wake.min(due);
        }
        wake
    }

    fn hold(&self, m: Msg) -> Held {
        let (bytes, alert) = match m {
            Msg::Alert(bytes) => (bytes, true),
            Msg::Final {
                mut text,
                mut params,
            } => {
                let mut s = self.shared.stats();
                // Not counting this message itself.
                s.queued = s.queued.saturating_sub(1);
                text.push_str(&super::stats_text(&s));
                params.extend(super::stats_params(&s));
                (self.fmt.summary(&text, &params), false)
            }
        };
        Held {
            bytes,
            alert,
            attempts: 0,
        }
    }

    fn send_summary(&self, st: &mut State) {
        let s = self.shared.stats();
        let text = format!("smbscope: {}", super::stats_text(&s));
        let bytes = self.fmt.summary(&text, &super::stats_params(&s));
        if st.conn.is_none() && Instant::now() >= st.next_attempt {
            self.connect(st);
        }
        if st.conn.is_none() {
            self.shared.lose(1);
            return;
        }
        if let Err(e) = self.send(st, &bytes) {
            self.failed(st, e);
            self.shared.lose(1);
        }
    }

    /// Sends the held message once; on failure keeps it for another attempt or gives it up.
    fn deliver_held(&self, st: &mut State) {
        let Some(mut held) = st.held.take() else {
            return;
        };
        match self.send(st, &held.bytes) {
            Ok(()) => {
                if held.alert {
                    self.shared.sent.fetch_add(1, Ordering::Relaxed);
                }
                self.shared.dequeue();
                st.backoff = self.backoff_min;
            }
            Err(e) => {
                if let SendError::Io(_) = e {
                    held.attempts += 1;
                }
                let limit = match st.conn {
                    Some(Conn::Udp(_)) => UDP_ATTEMPTS,
                    _ => STREAM_ATTEMPTS,
                };
                self.failed(st, e);
                if held.attempts >= limit {
                    self.shared.dequeue();
                    self.shared.lose(1);
                } else {
                    st.held = Some(held);
                }
            }
        }
    }

    /// Accounts for a failed send; streams are closed, to be reopened after the backoff.
    fn failed(&self, st: &mut State, e: SendError) {
        let what = match e {
            SendError::Closed => "connection closed by the server".to_string(),
            SendError::Io(e) => format!("send failed: {e}"),
        };
        self.shared.error(what);
        if !matches!(st.conn, Some(Conn::Udp(_))) {
            st.conn = None;
            st.next_attempt = Instant::now() + st.backoff;
        }
    }

    fn send(&self, st: &mut State, msg: &[u8]) -> Result<(), SendError> {
        let Some(conn) = st.conn.as_mut() else {
            return Err(SendError::Closed);
        };
        match conn {
            Conn::Udp(s) => datagram(s.send(msg), msg.len()),
            Conn::UnixDgram(s) => datagram(s.send(msg), msg.len()),
            Conn::Tcp(s) => {
                if peer_closed(s)? {
                    return Err(SendError::Closed);
                }
                let framed = match self.fmt.format {
                    SyslogFormat::Rfc5424 => octet_counted(msg),
                    SyslogFormat::Rfc3164 => newline_terminated(msg),
                };
                s.write_all(&framed).map_err(SendError::Io)
            }
            Conn::UnixStream(s) => {
                if peer_closed_unix(s)? {
                    return Err(SendError::Closed);
                }
                s.write_all(&newline_terminated(msg)).map_err(SendError::Io)
            }
        }
    }

    /// One connection attempt; on failure, the next one is scheduled after the backoff, which
    /// then doubles (up to its cap).
    fn connect(&self, st: &mut State) {
        match open(&self.target) {
            Ok(c) => st.conn = Some(c),
            Err(e) => {
                self.shared.error(format!(
                    "cannot connect: {e}; retrying in {:.1}s",
                    st.backoff.as_secs_f64()
                ));
                st.next_attempt = Instant::now() + st.backoff;
                st.backoff = (st.backoff * 2).min(self.backoff_max);
            }
        }
    }
}

struct State {
    conn: Option<Conn>,
    backoff: Duration,
    next_attempt: Instant,
    held: Option<Held>,
    next_summary: Option<Instant>,
}

fn datagram(r: io::Result<usize>, len: usize) -> Result<(), SendError> {
    match r {
        Ok(n) if n == len => Ok(()),
        Ok(n) => Err(SendError::Io(io::Error::other(format!(
            "datagram truncated to {n} of {len} bytes"
        )))),
        Err(e) => Err(SendError::Io(e)),
    }
}

/// Opens a connection to `target`. UDP and unix datagram sockets are connected, so the kernel
/// reports refusals (ICMP port unreachable, no listener on the path).
fn open(target: &SyslogTarget) -> io::Result<Conn> {
    match target {
        SyslogTarget::Udp { host, port } => {
            let addr = resolve(host, *port)?;
            let local: SocketAddr = if addr.is_ipv4() {
                ([0u8; 4], 0).into()
            } else {
                ([0u16; 8], 0).into()
            };
            let s = UdpSocket::bind(local)?;
            s.connect(addr)?;
            Ok(Conn::Udp(s))
        }
        SyslogTarget::Tcp { host, port } => {
            let mut last = None;
            for addr in (host.as_str(), *port).to_socket_addrs()? {
                match TcpStream::connect_timeout(&addr, IO_TIMEOUT) {
                    Ok(s) => {
                        s.set_write_timeout(Some(IO_TIMEOUT))?;
                        s.set_nodelay(true)?;
                        return Ok(Conn::Tcp(s));
                    }
                    Err(e) => last = Some(e),
                }
            }
            Err(last.unwrap_or_else(|| no_address(host)))
        }
        SyslogTarget::Unix(path) => {
            let dgram = UnixDatagram::unbound().and_then(|s| s.connect(path).map(|()| s));
            match dgram {
                Ok(s) => {
                    // A reader that fell behind (a busy journald) must not hold the thread.
                    s.set_write_timeout(Some(IO_TIMEOUT))?;
                    Ok(Conn::UnixDgram(s))
                }
                Err(de) => match UnixStream::connect(path) {
                    Ok(s) => {
                        s.set_write_timeout(Some(IO_TIMEOUT))?;
                        Ok(Conn::UnixStream(s))
                    }
                    Err(se) => Err(io::Error::new(
                        se.kind(),
                        format!("datagram: {de}; stream: {se}"),
                    )),
                },
            }
        }
    }
}

fn resolve(host: &str, port: u16) -> io::Result<SocketAddr> {
    (host, port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| no_address(host))
}

fn no_address(host: &str) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("{host} has no address"))
}

/// Whether the server closed the stream (it never sends anything on plain syslog, so a readable
/// end of stream means it went away). Catches a restarted server before a message is written
/// into a dead connection. Anything the server did send is read and discarded.
fn peer_closed(s: &mut TcpStream) -> Result<bool, SendError> {
    s.set_nonblocking(true).map_err(SendError::Io)?;
    let r = drain(s);
    s.set_nonblocking(false).map_err(SendError::Io)?;
    r
}

fn peer_closed_unix(s: &mut UnixStream) -> Result<bool, SendError> {
    s.set_nonblocking(true).map_err(SendError::Io)?;
    let r = drain(s);
    s.set_nonblocking(false).map_err(SendError::Io)?;
    r
}

fn drain(s: &mut impl Read) -> Result<bool, SendError> {
    let mut buf = [0u8; 512];
    // Bounded: at most 64 KiB of unexpected input is discarded per message.
    for _ in 0..128 {
        match s.read(&mut buf) {
            Ok(0) => return Ok(true),
            Ok(_) => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return Ok(true),
        }
    }
    Ok(false)
}
