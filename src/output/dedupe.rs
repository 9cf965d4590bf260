//! De-duplication of alerts within a time window, and rate-limited error reporting.
//!
//! [`Dedupe`] decides whether an alert is the first of its kind in a window of capture time or a
//! repeat to be counted and suppressed; its memory is bounded (oldest entries are evicted).
//! [`AlertKey`] is the key the syslog sink uses (the TUI may reuse both).
//! [`ErrorReporter`] turns a stream of errors into at most one stderr line per interval.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::Hash;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::event::{AnomalyRecord, Finding, SessionId};

/// What identifies "the same alert" for de-duplication.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AlertKey {
    /// A finding: the same rule about the same side of the same client, server and session.
    Finding {
        rule: &'static str,
        side: Option<&'static str>,
        client: SocketAddr,
        server: SocketAddr,
        session_id: Option<SessionId>,
    },
    /// An anomaly: one per kind, whatever the addresses.
    Anomaly { kind: &'static str },
}

impl AlertKey {
    /// The key of a finding: (rule, side, client IP:port, server IP:port, session id).
    pub fn finding(f: &Finding) -> AlertKey {
        AlertKey::Finding {
            rule: f.rule,
            side: f.side,
            client: f.client,
            server: f.server,
            session_id: f.session_id,
        }
    }

    /// The key of an anomaly: its kind alone.
    pub fn anomaly(a: &AnomalyRecord) -> AlertKey {
        AlertKey::Anomaly { kind: a.kind }
    }
}

/// The decision for one alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// First of its key in the current window: send it.
    Send,
    /// A repeat within the window: count it, do not send it.
    Suppress,
}

/// Alert de-duplication over a window of capture time, with a bounded number of keys.
///
/// The first alert of a key opens a window of `window` seconds (capture time, as carried by the
/// records); repeats inside it are suppressed and counted; the first alert after it closes opens
/// a new window and is sent. A window of zero turns de-duplication off (everything is sent).
/// Capture time may go backwards (several files, a clock step): an alert is a repeat when it is
/// less than `window` away from the window's start on either side.
///
/// At most `max_entries` keys are remembered: adding one more evicts the key whose window opened
/// least recently (so an evicted key's next alert is sent again). Keys whose window has closed
/// are forgotten as time moves on, so memory follows the live alert set.
///
/// ```
/// use std::time::Duration;
/// use smbscope::output::{Dedupe, Verdict};
///
/// let mut d = Dedupe::new(Duration::from_secs(300), 1000);
/// assert_eq!(d.check(&"guest 10.0.0.5", 1000.0), Verdict::Send);
/// assert_eq!(d.check(&"guest 10.0.0.5", 1100.0), Verdict::Suppress);
/// assert_eq!(d.check(&"guest 10.0.0.5", 1300.0), Verdict::Send);
/// assert_eq!(d.suppressed(), 1);
/// ```
#[derive(Debug)]
pub struct Dedupe<K> {
    window: f64,
    max_entries: usize,
    entries: HashMap<K, Entry>,
    /// Window-opening sequence number -> key, oldest first.
    order: BTreeMap<u64, K>,
    next_seq: u64,
    suppressed: u64,
    evicted: u64,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Capture time the current window opened at.
    start: f64,
    seq: u64,
    /// Repeats suppressed in the current window.
    repeats: u64,
}

impl<K: Hash + Eq + Clone> Dedupe<K> {
    /// The default bound on remembered keys.
    pub const DEFAULT_MAX_ENTRIES: usize = 100_000;

    /// A de-duplicator with the given window (capture time) and bound on keys (at least 1).
    pub fn new(window: Duration, max_entries: usize) -> Self {
        Dedupe {
            window: window.as_secs_f64(),
            max_entries: max_entries.max(1),
            entries: HashMap::new(),
            order: BTreeMap::new(),
            next_seq: 0,
            suppressed: 0,
            evicted: 0,
        }
    }

    /// Decides for one alert of `key` at capture time `ts` (seconds since the epoch).
    pub fn check(&mut self, key: &K, ts: f64) -> Verdict {
        if self.window <= 0.0 || !ts.is_finite() {
            return Verdict::Send;
        }
        self.forget_closed(ts);
        if let Some(e) = self.entries.get_mut(key) {
            if (ts - e.start).abs() < self.window {
                e.repeats = e.repeats.saturating_add(1);
                self.suppressed = self.suppressed.saturating_add(1);
                return Verdict::Suppress;
            }
            // The window closed: reopen it at `ts`, as the newest entry.
            let old = e.seq;
            let seq = self.next_seq;
            self.next_seq += 1;
            *e = Entry {
                start: ts,
                seq,
                repeats: 0,
            };
            self.order.remove(&old);
            self.order.insert(seq, key.clone());
            return Verdict::Send;
        }
        while self.entries.len() >= self.max_entries {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            self.entries.remove(&oldest);
            self.evicted = self.evicted.saturating_add(1);
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.entries.insert(
            key.clone(),
            Entry {
                start: ts,
                seq,
                repeats: 0,
            },
        );
        self.order.insert(seq, key.clone());
        Verdict::Send
    }

    /// Repeats of `key` suppressed in its current window, if it is remembered.
    pub fn repeats(&self, key: &K) -> Option<u64> {
        self.entries.get(key).map(|e| e.repeats)
    }

    /// Alerts suppressed so far, all keys together.
    pub fn suppressed(&self) -> u64 {
        self.suppressed
    }

    /// Keys forgotten early because the bound was reached.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Keys remembered now.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Forgets keys, oldest first, whose window is closed at `ts`. Stops at the first open one,
    /// so each call does work proportional to what it removes.
    fn forget_closed(&mut self, ts: f64) {
        while let Some((&seq, key)) = self.order.first_key_value() {
            let closed = match self.entries.get(key) {
                Some(e) => (ts - e.start).abs() >= self.window,
                None => true,
            };
            if !closed {
                break;
            }
            if let Some(key) = self.order.remove(&seq) {
                self.entries.remove(&key);
            }
        }
    }
}

/// Rate-limits error lines: the first is shown at once, later ones at most once per interval,
/// folded into one line with a count.
///
/// It only decides; the caller prints what it returns (`eprintln!`), outside any lock.
///
/// ```
/// use std::time::{Duration, Instant};
/// use smbscope::output::ErrorReporter;
///
/// let mut r = ErrorReporter::new("smbscope: syslog", Duration::from_secs(60));
/// let t0 = Instant::now();
/// assert!(r.error(t0, "connection refused").is_some());
/// assert!(r.error(t0 + Duration::from_secs(1), "connection refused").is_none());
/// let line = r.error(t0 + Duration::from_secs(61), "connection refused").unwrap();
/// assert!(line.contains("2 more errors since the last report"));
/// ```
#[derive(Debug)]
pub struct ErrorReporter {
    prefix: String,
    interval: Duration,
    last_shown: Option<Instant>,
    /// Errors since the last line shown (not yet shown).
    pending: u64,
    last_error: String,
}

impl ErrorReporter {
    /// The usual interval between lines.
    pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);

    /// A reporter whose lines start with `prefix` (e.g. `"smbscope: syslog udp://host:514"`).
    pub fn new(prefix: impl Into<String>, interval: Duration) -> Self {
        ErrorReporter {
            prefix: prefix.into(),
            interval,
            last_shown: None,
            pending: 0,
            last_error: String::new(),
        }
    }

    /// Notes one error at `now`; returns the line to print, if one is due.
    pub fn error(&mut self, now: Instant, what: impl fmt::Display) -> Option<String> {
        self.pending = self.pending.saturating_add(1);
        self.last_error = cap(what.to_string(), 400);
        match self.last_shown {
            None => {
                self.last_shown = Some(now);
                self.pending = 0;
                Some(format!("{}: {}", self.prefix, self.last_error))
            }
            Some(_) => self.tick(now),
        }
    }

    /// Returns the folded line if errors are pending and the interval has passed since the last
    /// line. Call it now and then so a burst's count is shown even when errors stop.
    pub fn tick(&mut self, now: Instant) -> Option<String> {
        let due = match self.last_shown {
            Some(t) => now.saturating_duration_since(t) >= self.interval,
            None => true,
        };
        if self.pending == 0 || !due {
            return None;
        }
        self.last_shown = Some(now);
        self.flush()
    }

    /// The folded line for pending errors, whatever the time (at the end of a run).
    pub fn flush(&mut self) -> Option<String> {
        if self.pending == 0 {
            return None;
        }
        let n = std::mem::take(&mut self.pending);
        Some(format!(
            "{}: {n} more error{} since the last report (last: {})",
            self.prefix,
            if n == 1 { "" } else { "s" },
            self.last_error
        ))
    }

    /// When the next folded line may be shown, if errors are pending.
    pub fn next_due(&self) -> Option<Instant> {
        if self.pending == 0 {
            return None;
        }
        self.last_shown.map(|t| t + self.interval)
    }
}

/// Cuts `s` to at most `max` bytes, at a character boundary.
fn cap(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

#[cfg(test)]
#[path = "dedupe_tests.rs"]
mod tests;
