//! JSON lines to a file, appending, with optional rotation by size, for a sensor that runs for
//! months: write errors (a full disk) are counted and reported, never fatal.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{RecvTimeoutError, SyncSender, sync_channel};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::Sink;
use super::dedupe::ErrorReporter;
use crate::event::{Record, Summary};

/// Buffered lines are written out after this many records…
const FLUSH_RECORDS: usize = 64;
/// …or this much wall time, whichever comes first (a background thread sees to idle periods).
const FLUSH_INTERVAL: Duration = Duration::from_secs(1);
/// Most bytes held while the file cannot be written; records beyond are dropped.
const MAX_BUFFER: usize = 1 << 20;

/// Writes records as JSON lines (the serialization of [`super::JsonSink`], one record per line)
/// to a file, appending.
///
/// * **Rotation**: with `rotate_bytes`, when the next line would take the file past that size,
///   `PATH` is renamed `PATH.1` (after `PATH.1` → `PATH.2` … up to `PATH.<keep>`, the oldest
///   deleted; with `keep` 0 the old file is simply deleted) and a new `PATH` is started. A line
///   is never split across files.
/// * **Buffering**: lines are written to the file every 64 records, and at least once a second
///   of wall time (a small background thread flushes when the analysis is idle), and at
///   [`Sink::finish`], which also syncs the file to disk.
/// * **Errors**: [`Sink::record`] and [`Sink::finish`] always return `Ok` — a sensor must not stop
///   on a full disk. Lines that cannot be written wait in a buffer of at most 1 MiB, retried
///   once a second; records that do not fit are dropped. Errors and drops are counted in
///   [`JsonlFileSink::stats`] and reported on stderr, the first at once, then at most one line
///   per 60 s.
/// * If `PATH` is renamed or deleted behind the sink's back (an external logrotate), the sink
///   notices within a second and reopens `PATH`.
///
/// New files are created with mode 0640 (the records name users and hosts).
pub struct JsonlFileSink {
    inner: Arc<Mutex<Inner>>,
    /// Dropping it stops the flusher thread.
    stop: Option<SyncSender<()>>,
    flusher: Option<JoinHandle<()>>,
    line: Vec<u8>,
    finished: bool,
}

/// Counters of a [`JsonlFileSink`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JsonlStats {
    /// Records accepted (written, or waiting in the buffer).
    pub records: u64,
    /// Records dropped: the buffer was full, or a line cut short by an error had to be given up.
    pub dropped: u64,
    /// Write, open, rename and sync errors.
    pub errors: u64,
    /// Rotations done.
    pub rotations: u64,
    /// Bytes waiting in the buffer now.
    pub pending_bytes: u64,
}

impl JsonlFileSink {
    /// Opens (creating if needed) `path` for appending. Fails only when it cannot be opened now;
    /// later errors are counted, not returned.
    pub fn create(path: &Path, rotate_bytes: Option<u64>, keep: usize) -> io::Result<Self> {
        let mut inner = Inner {
            path: path.to_path_buf(),
            rotate_bytes: rotate_bytes.filter(|&b| b > 0),
            keep,
            file: None,
            size: 0,
            buf: Vec::new(),
            buffered_records: 0,
            file_ends_midline: false,
            last_flush: Instant::now(),
            retry_at: Instant::now(),
            stats: JsonlStats::default(),
            reporter: ErrorReporter::new(
                format!("smbscope: {}", path.display()),
                ErrorReporter::DEFAULT_INTERVAL,
            ),
        };
        inner.open()?;
        let inner = Arc::new(Mutex::new(inner));
        let (stop, stopped) = sync_channel::<()>(1);
        let shared = Arc::clone(&inner);
        let flusher = thread::Builder::new()
            .name("smbscope-jsonl".into())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(FLUSH_INTERVAL) {
                    lock(&shared).tick();
                }
            })?;
        Ok(JsonlFileSink {
            inner,
            stop: Some(stop),
            flusher: Some(flusher),
            line: Vec::with_capacity(1024),
            finished: false,
        })
    }

    /// The counters now.
    pub fn stats(&self) -> JsonlStats {
        let inner = lock(&self.inner);
        JsonlStats {
            pending_bytes: inner.buf.len() as u64,
            ..inner.stats
        }
    }

    /// Writes buffered lines to the file now (errors are counted, as always).
    pub fn flush(&mut self) {
        lock(&self.inner).write_out();
    }

    fn close(&mut self) {
        if self.finished {
            return;
        }
        self.finished = true;
        drop(self.stop.take());
        if let Some(h) = self.flusher.take() {
            // The thread only loops on a channel and the lock; a panic there has been shown.
            let _ = h.join();
        }
        let mut inner = lock(&self.inner);
        inner.write_out();
        if let Some(f) = &inner.file {
            if let Err(e) = f.sync_data() {
                inner.error(format_args!("sync: {e}"));
            }
        }
        let left = inner.buf.len();
        if left > 0 {
            inner.stats.dropped += inner.buf.iter().filter(|&&b| b == b'\n').count() as u64;
            inner.buf.clear();
            inner.error(format_args!("{left} bytes could not be written"));
        }
        if let Some(line) = inner.reporter.flush() {
            eprintln!("{line}");
        }
        if inner.stats.dropped > 0 {
            eprintln!(
                "smbscope: {}: {} record(s) dropped, {} errors",
                inner.path.display(),
                inner.stats.dropped,
                inner.stats.errors
            );
        }
    }
}

impl Sink for JsonlFileSink {
    /// Buffers the record's line (rotating first if it would overflow the file). Always `Ok`.
    fn record(&mut self, record: &Record) -> io::Result<()> {
        self.line.clear();
        if let Err(e) = serde_json::to_writer(&mut self.line, record) {
            let mut inner = lock(&self.inner);
            inner.stats.dropped += 1;
            inner.error(format_args!("cannot serialize a record: {e}"));
            return Ok(());
        }
        self.line.push(b'\n');
        let mut inner = lock(&self.inner);
        if self.finished {
            inner.stats.dropped += 1;
            return Ok(());
        }
        inner.push(&self.line);
        Ok(())
    }

    /// Writes the summary line, flushes and syncs the file. Always `Ok`; losses are reported on
    /// stderr and counted in [`JsonlFileSink::stats`].
    fn finish(&mut self, summary: &Summary) -> io::Result<()> {
        if self.finished {
            return Ok(());
        }
        self.record(&Record::Summary(summary.clone()))?;
        self.close();
        Ok(())
    }
}

impl Drop for JsonlFileSink {
    /// Without `finish`, still writes what is buffered.
    fn drop(&mut self) {
        self.close();
    }
}

struct Inner {
    path: PathBuf,
    rotate_bytes: Option<u64>,
    keep: usize,
    file: Option<File>,
    /// Bytes in the current file.
    size: u64,
    /// Whole lines not written yet (the first may have been written in part).
    buf: Vec<u8>,
    buffered_records: usize,
    /// A write stopped in the middle of a line.
    file_ends_midline: bool,
    last_flush: Instant,
    /// No new attempt to write, open or rotate before this (after an error).
    retry_at: Instant,
    stats: JsonlStats,
    reporter: ErrorReporter,
}

impl Inner {
    fn push(&mut self, line: &[u8]) {
        let now = Instant::now();
        if let Some(limit) = self.rotate_bytes {
            let used = self.size + self.buf.len() as u64;
            if used > 0 && used + line.len() as u64 > limit && now >= self.retry_at {
                self.rotate();
            }
        }
        if !self.buf.is_empty() && self.buf.len() + line.len() > MAX_BUFFER {
            self.stats.dropped += 1;
            self.error("buffer full (the file cannot be written): record dropped");
            return;
        }
        self.buf.extend_from_slice(line);
        self.buffered_records += 1;
        self.stats.records += 1;
        let due = self.buffered_records >= FLUSH_RECORDS
            || now.saturating_duration_since(self.last_flush) >= FLUSH_INTERVAL;
        if due && now >= self.retry_at {
            self.write_out();
        }
    }

    /// Once a second: reopen the file if it was moved away, write what is buffered.
    fn tick(&mut self) {
        let now = Instant::now();
        if let Some(line) = self.reporter.tick(now) {
            eprintln!("{line}");
        }
        if now < self.retry_at {
            return;
        }
        if self.replaced() {
            self.write_out();
            self.file = None;
            self.reopen();
        }
        if !self.buf.is_empty() {
            self.write_out();
        }
    }

    /// Whether `path` no longer names the open file (renamed or deleted by someone else).
    fn replaced(&self) -> bool {
        let Some(f) = &self.file else {
            return false;
        };
        match (fs::metadata(&self.path), f.metadata()) {
            (Ok(p), Ok(m)) => p.ino() != m.ino() || p.dev() != m.dev(),
            (Err(e), _) if e.kind() == io::ErrorKind::NotFound => true,
            _ => false,
        }
    }

    /// Writes the buffer to the file, as far as it goes; the rest waits for a retry.
    fn write_out(&mut self) {
        self.last_flush = Instant::now();
        self.buffered_records = 0;
        if self.buf.is_empty() {
            return;
        }
        if self.file.is_none() {
            self.reopen();
        }
        let Some(file) = self.file.as_mut() else {
            return;
        };
        let mut done = 0;
        let mut failure = None;
        while done < self.buf.len() {
            match file.write(&self.buf[done..]) {
                Ok(0) => {
                    failure = Some(io::Error::from(io::ErrorKind::WriteZero));
                    break;
                }
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        if done > 0 {
            self.file_ends_midline = self.buf[done - 1] != b'\n';
            self.size += done as u64;
            self.buf.drain(..done);
        }
        if let Some(e) = failure {
            self.retry_at = Instant::now() + FLUSH_INTERVAL;
            self.error(format_args!("write: {e}"));
        }
    }

    /// Renames the file away (shifting older ones) and starts a new one.
    fn rotate(&mut self) {
        self.write_out();
        self.file = None;
        let mut ok = true;
        if self.keep == 0 {
            ok &= self.fs_op("remove", fs::remove_file(&self.path));
        } else {
            ok &= self.fs_op("remove", fs::remove_file(numbered(&self.path, self.keep)));
            for i in (1..self.keep).rev() {
                let r = fs::rename(numbered(&self.path, i), numbered(&self.path, i + 1));
                ok &= self.fs_op("rename", r);
            }
            let r = fs::rename(&self.path, numbered(&self.path, 1));
            ok &= self.fs_op("rename", r);
        }
        if ok {
            self.stats.rotations += 1;
        } else {
            self.retry_at = Instant::now() + FLUSH_INTERVAL;
        }
        self.reopen();
    }

    /// Counts and reports a failed file operation (a missing file is fine); true if it worked.
    fn fs_op(&mut self, what: &str, r: io::Result<()>) -> bool {
        match r {
            Ok(()) => true,
            Err(e) if e.kind() == io::ErrorKind::NotFound => true,
            Err(e) => {
                self.error(format_args!("rotate ({what}): {e}"));
                false
            }
        }
    }

    /// Opens the file again after rotation, a move, or an open failure; errors are counted.
    fn reopen(&mut self) {
        if self.file_ends_midline {
            // The old file ends in the middle of a line: its rest would be a fragment at the
            // start of the new file. Give that line up.
            let cut = self
                .buf
                .iter()
                .position(|&b| b == b'\n')
                .map_or(0, |i| i + 1);
            self.buf.drain(..cut);
            self.stats.dropped += 1;
            self.file_ends_midline = false;
        }
        if let Err(e) = self.open() {
            self.retry_at = Instant::now() + FLUSH_INTERVAL;
            self.error(format_args!("open: {e}"));
        }
    }

    fn open(&mut self) -> io::Result<()> {
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .mode(0o640)
            .open(&self.path)?;
        let size = file.metadata()?.len();
        // A previous run that died mid-line left a fragment: end it so our lines stay whole.
        let mut last = [0u8; 1];
        if size > 0 && file.read_at(&mut last, size - 1).is_ok() && last[0] != b'\n' {
            self.buf.insert(0, b'\n');
        }
        self.size = size;
        self.file = Some(file);
        Ok(())
    }

    fn error(&mut self, what: impl std::fmt::Display) {
        self.stats.errors += 1;
        if let Some(line) = self.reporter.error(Instant::now(), what) {
            eprintln!("{line}");
        }
    }
}

/// `PATH.n`.
fn numbered(path: &Path, n: usize) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{n}"));
    PathBuf::from(s)
}

fn lock(m: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
#[path = "jsonl_file_tests.rs"]
mod tests;
