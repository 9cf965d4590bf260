//! The capture thread and the bounded queue between it and the engine.
//!
//! The capture thread reads frames (live or from a file) and copies each into an owned
//! buffer taken from a free list, so once warmed up it allocates nothing per packet; the
//! engine thread hands buffers back after analysis. The queue is bounded twice: by frame
//! count (`--queue`) and by bytes ([`MAX_QUEUE_BYTES`]).
//!
//! * **Live**, the capture thread never waits: when the queue is full the frame is dropped
//!   and counted (`queue_drops`), so a slow analysis shows up as counted drops instead of a
//!   kernel buffer that silently overflows. A read on a quiet interface can block for good
//!   (libpcap 1.10 on Linux ignores the read timeout then), so [`CaptureThread::wake`] breaks
//!   it with `pcap_breakloop` once the stop flag is set. While packets flow, the thread
//!   refreshes the kernel counters every second, and once more when it ends.
//! * **Replay** has no kernel to lose packets, so it waits for room instead (back-pressure):
//!   a replay analyses every frame, exactly like `analyze`. With `realtime` it also sleeps to
//!   reproduce the capture's timing. Waits are sliced so the stop flag is seen within 100 ms.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::capture::{CaptureError, Frame, LiveCapture, LiveWaker, OfflineCapture};
use crate::wire::Timestamp;

/// Most frame bytes queued between the threads (64 MiB); a frame that does not fit is
/// dropped (live) or waits (replay). One frame always fits into an empty queue.
pub const MAX_QUEUE_BYTES: usize = 64 << 20;
/// How often the live capture thread refreshes the kernel counters.
const STATS_EVERY: Duration = Duration::from_secs(1);
/// Longest uninterrupted sleep of the capture thread (so it sees the stop flag).
const SLICE: Duration = Duration::from_millis(100);
/// Buffers larger than this are not recycled (rare jumbo frames don't pin memory).
const MAX_RECYCLED: usize = 256 << 10;

/// Where frames come from.
pub enum Feed {
    Live(LiveCapture),
    Replay {
        cap: Box<OfflineCapture>,
        realtime: bool,
    },
}

/// A frame that owns its bytes.
#[derive(Debug)]
pub struct Packet {
    pub ts: Timestamp,
    pub linktype: i32,
    pub orig_len: u32,
    pub data: Vec<u8>,
}

impl Packet {
    /// The frame, as the engine takes it.
    pub fn frame(&self) -> Frame<'_> {
        Frame {
            ts: self.ts,
            linktype: self.linktype,
            data: &self.data,
            orig_len: self.orig_len,
        }
    }
}

/// Capture-side counters at one moment (cumulative).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CaptureStats {
    /// Frames the capture thread read.
    pub captured: u64,
    /// Frames dropped because the queue to the engine was full.
    pub queue_drops: u64,
    /// libpcap: packets that passed the filter.
    pub kernel_received: u64,
    /// libpcap: packets the kernel dropped (buffer full).
    pub kernel_dropped: u64,
    /// libpcap: packets the interface or driver dropped.
    pub if_dropped: u64,
}

impl CaptureStats {
    /// Every frame lost before analysis.
    pub fn lost(&self) -> u64 {
        self.queue_drops + self.kernel_dropped + self.if_dropped
    }
}

/// How the capture thread ended.
#[derive(Debug, Default)]
pub struct CaptureEnd {
    /// The read error that ended it (not a truncated file: that is a warning).
    pub error: Option<CaptureError>,
    /// A truncated capture file: the frames before the cut were delivered.
    pub warning: Option<CaptureError>,
}

/// The running capture thread, seen from the engine thread.
pub struct CaptureThread {
    handle: JoinHandle<CaptureEnd>,
    rx: Receiver<Packet>,
    free: SyncSender<Vec<u8>>,
    shared: Arc<Shared>,
    waker: Option<LiveWaker>,
}

#[derive(Default)]
struct Shared {
    captured: AtomicU64,
    queue_drops: AtomicU64,
    kernel_received: AtomicU64,
    kernel_dropped: AtomicU64,
    if_dropped: AtomicU64,
    in_flight: AtomicUsize,
    /// The kernel counters were last read this many milliseconds after [`Shared::epoch`].
    stats_at_ms: AtomicU64,
    epoch: std::sync::OnceLock<Instant>,
}

/// Starts the capture thread: up to `queue` frames wait for the engine.
pub fn spawn(
    mut feed: Feed,
    queue: usize,
    stop: Arc<AtomicBool>,
) -> std::io::Result<CaptureThread> {
    let queue = queue.max(1);
    let (tx, rx) = mpsc::sync_channel(queue);
    let (free, free_rx) = mpsc::sync_channel(queue);
    let shared = Arc::new(Shared::default());
    let waker = match &mut feed {
        Feed::Live(cap) => Some(cap.waker()),
        Feed::Replay { .. } => None,
    };
    let mut worker = Worker {
        tx,
        free: free_rx,
        spare: None,
        shared: Arc::clone(&shared),
        stop,
    };
    let handle = std::thread::Builder::new()
        .name("smbscope-capture".into())
        .spawn(move || match feed {
            Feed::Live(cap) => worker.live(cap),
            Feed::Replay { cap, realtime } => worker.replay(*cap, realtime),
        })?;
    Ok(CaptureThread {
        handle,
        rx,
        free,
        shared,
        waker,
    })
}

impl CaptureThread {
    /// The next frame; `Disconnected` once the capture thread has ended and the queue is empty.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Packet, RecvTimeoutError> {
        self.rx.recv_timeout(timeout)
    }

    /// A frame if one is queued now (`None` also once the thread has ended).
    pub fn try_recv(&self) -> Option<Packet> {
        self.rx.try_recv().ok()
    }

    /// Interrupts a live read blocked on a quiet interface, so the thread sees the stop flag
    /// (set it first). A replay thread watches the flag by itself.
    pub fn wake(&self) {
        if let Some(w) = &self.waker {
            w.wake();
        }
    }

    /// Keeps the kernel drop counters current on a quiet interface: a live read blocked after
    /// a burst never returns to refresh them, so when they are older than a second this
    /// interrupts the read (the thread reads the counters and goes on; no frame is lost).
    /// Call it when the queue runs empty.
    pub fn refresh_stats(&self) {
        if self.waker.is_some()
            && self
                .shared
                .now_ms()
                .saturating_sub(self.shared.stats_at_ms.load(Ordering::Relaxed))
                >= STATS_EVERY.as_millis() as u64
        {
            self.wake();
        }
    }

    /// Gives a frame's buffer back to the capture thread.
    pub fn recycle(&self, p: Packet) {
        self.shared
            .in_flight
            .fetch_sub(p.data.len(), Ordering::Relaxed);
        if p.data.capacity() <= MAX_RECYCLED {
            // A full free list just means enough spares: let this one go.
            let _ = self.free.try_send(p.data);
        }
    }

    /// The counters now.
    pub fn stats(&self) -> CaptureStats {
        self.shared.snapshot()
    }

    /// Waits for the thread (it ends once stopped or at end of input) and says how it ended,
    /// with the final counters.
    pub fn join(self) -> (CaptureEnd, CaptureStats) {
        drop(self.rx);
        let end = match self.handle.join() {
            Ok(end) => end,
            Err(_) => CaptureEnd {
                error: Some(CaptureError::Live {
                    iface: "capture thread".into(),
                    msg: "panicked".into(),
                }),
                warning: None,
            },
        };
        (end, self.shared.snapshot())
    }

    /// Whether the thread has ended.
    pub fn is_finished(&self) -> bool {
        self.handle.is_finished()
    }
}

impl Shared {
    fn now_ms(&self) -> u64 {
        let epoch = self.epoch.get_or_init(Instant::now);
        u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn snapshot(&self) -> CaptureStats {
        CaptureStats {
            captured: self.captured.load(Ordering::Relaxed),
            queue_drops: self.queue_drops.load(Ordering::Relaxed),
            kernel_received: self.kernel_received.load(Ordering::Relaxed),
            kernel_dropped: self.kernel_dropped.load(Ordering::Relaxed),
            if_dropped: self.if_dropped.load(Ordering::Relaxed),
        }
    }
}

/// The capture thread's state.
struct Worker {
    tx: SyncSender<Packet>,
    free: Receiver<Vec<u8>>,
    /// A buffer kept back from a frame that was dropped.
    spare: Option<Vec<u8>>,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
}

impl Worker {
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    fn live(&mut self, mut cap: LiveCapture) -> CaptureEnd {
        let mut end = CaptureEnd::default();
        let mut last_stats = Instant::now();
        while !self.stopped() {
            match cap.next_frame() {
                Ok(Some(f)) => {
                    self.shared.captured.fetch_add(1, Ordering::Relaxed);
                    let p = self.packet(&f);
                    if !self.offer(p) {
                        break;
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    end.error = Some(e);
                    break;
                }
            }
            if last_stats.elapsed() >= STATS_EVERY {
                self.kernel_stats(&mut cap);
                last_stats = Instant::now();
            }
        }
        self.kernel_stats(&mut cap);
        end
    }

    fn replay(&mut self, mut cap: OfflineCapture, realtime: bool) -> CaptureEnd {
        let mut end = CaptureEnd::default();
        // (first capture time, wall clock then) for realtime pacing.
        let mut origin: Option<(Timestamp, Instant)> = None;
        while !self.stopped() {
            let p = match cap.next_frame() {
                Ok(Some(f)) => self.packet(&f),
                Ok(None) => break,
                Err(e @ CaptureError::Truncated { .. }) => {
                    end.warning = Some(e);
                    break;
                }
                Err(e) => {
                    end.error = Some(e);
                    break;
                }
            };
            self.shared.captured.fetch_add(1, Ordering::Relaxed);
            if realtime {
                let (t0, w0) = *origin.get_or_insert((p.ts, Instant::now()));
                self.sleep_until(w0 + p.ts.saturating_sub(t0));
            }
            if !self.send_waiting(p) {
                break;
            }
        }
        end
    }

    /// Copies a frame into a recycled buffer.
    fn packet(&mut self, f: &Frame<'_>) -> Packet {
        let mut data = self
            .spare
            .take()
            .or_else(|| self.free.try_recv().ok())
            .unwrap_or_default();
        data.clear();
        data.extend_from_slice(f.data);
        Packet {
            ts: f.ts,
            linktype: f.linktype,
            orig_len: f.orig_len,
            data,
        }
    }

    /// Live: queue the packet or drop it; false when the engine side is gone.
    fn offer(&mut self, p: Packet) -> bool {
        let len = p.data.len();
        let in_flight = self.shared.in_flight.load(Ordering::Relaxed);
        if in_flight > 0 && in_flight + len > MAX_QUEUE_BYTES {
            self.shared.queue_drops.fetch_add(1, Ordering::Relaxed);
            self.spare = Some(p.data);
            return true;
        }
        self.shared.in_flight.fetch_add(len, Ordering::Relaxed);
        match self.tx.try_send(p) {
            Ok(()) => true,
            Err(TrySendError::Full(p)) => {
                self.shared.in_flight.fetch_sub(len, Ordering::Relaxed);
                self.shared.queue_drops.fetch_add(1, Ordering::Relaxed);
                self.spare = Some(p.data);
                true
            }
            Err(TrySendError::Disconnected(_)) => false,
        }
    }

    /// Replay: wait for room (in slices, watching the stop flag); false when stopped or the
    /// engine side is gone.
    fn send_waiting(&mut self, p: Packet) -> bool {
        let len = p.data.len();
        loop {
            let in_flight = self.shared.in_flight.load(Ordering::Relaxed);
            if in_flight == 0 || in_flight + len <= MAX_QUEUE_BYTES {
                break;
            }
            if self.stopped() {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        self.shared.in_flight.fetch_add(len, Ordering::Relaxed);
        let mut p = p;
        loop {
            match self.tx.try_send(p) {
                Ok(()) => return true,
                Err(TrySendError::Disconnected(_)) => return false,
                Err(TrySendError::Full(back)) => {
                    if self.stopped() {
                        return false;
                    }
                    p = back;
                    // The engine is busy: give it the CPU, then poll again. The free list
                    // tells when it took a frame; otherwise wake up after 1 ms.
                    match self.free.recv_timeout(Duration::from_millis(1)) {
                        Ok(buf) => self.spare = Some(buf),
                        Err(RecvTimeoutError::Timeout) => {}
                        Err(RecvTimeoutError::Disconnected) => return false,
                    }
                }
            }
        }
    }

    fn sleep_until(&self, when: Instant) {
        loop {
            let now = Instant::now();
            if now >= when || self.stopped() {
                return;
            }
            std::thread::sleep((when - now).min(SLICE));
        }
    }

    fn kernel_stats(&self, cap: &mut LiveCapture) {
        self.shared
            .stats_at_ms
            .store(self.shared.now_ms(), Ordering::Relaxed);
        if let Ok(s) = cap.stats() {
            self.shared
                .kernel_received
                .store(s.received, Ordering::Relaxed);
            self.shared
                .kernel_dropped
                .store(s.dropped, Ordering::Relaxed);
            self.shared
                .if_dropped
                .store(s.if_dropped, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replay(path: &str, queue: usize) -> (Vec<Packet>, CaptureThread) {
        let cap = OfflineCapture::open(std::path::Path::new(path)).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let t = spawn(
            Feed::Replay {
                cap: Box::new(cap),
                realtime: false,
            },
            queue,
            stop,
        )
        .unwrap();
        let mut v = Vec::new();
        loop {
            match t.recv_timeout(Duration::from_secs(10)) {
                Ok(p) => {
                    // Slow consumer: the producer must wait, not drop.
                    std::thread::sleep(Duration::from_micros(200));
                    let copy = Packet {
                        data: p.data.clone(),
                        ..p
                    };
                    t.recycle(Packet {
                        data: Vec::with_capacity(64),
                        ..copy
                    });
                    v.push(copy);
                }
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => panic!("replay stalled"),
            }
        }
        (v, t)
    }

    #[test]
    fn replay_delivers_every_frame_in_order_through_a_tiny_queue() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/captures/guest.pcap");
        let (got, t) = replay(path, 2);
        let (end, stats) = t.join();
        assert!(end.error.is_none() && end.warning.is_none());
        let mut cap = OfflineCapture::open(std::path::Path::new(path)).unwrap();
        let mut n = 0;
        while let Some(f) = cap.next_frame().unwrap() {
            assert_eq!(got[n].data, f.data);
            assert_eq!(got[n].ts, f.ts);
            n += 1;
        }
        assert_eq!(n, got.len());
        assert_eq!(stats.captured, n as u64);
        assert_eq!(stats.lost(), 0);
    }

    #[test]
    fn a_full_live_queue_drops_and_counts() {
        let (tx, rx) = mpsc::sync_channel(1);
        let (_free, free_rx) = mpsc::sync_channel(1);
        let mut w = Worker {
            tx,
            free: free_rx,
            spare: None,
            shared: Arc::new(Shared::default()),
            stop: Arc::new(AtomicBool::new(false)),
        };
        let frame = Frame {
            ts: Timestamp(1),
            linktype: 1,
            data: &[1, 2, 3],
            orig_len: 3,
        };
        for _ in 0..3 {
            let p = w.packet(&frame);
            assert!(w.offer(p));
        }
        let s = w.shared.snapshot();
        assert_eq!(s.queue_drops, 2);
        assert_eq!(w.shared.in_flight.load(Ordering::Relaxed), 3);
        // The dropped frame's buffer is kept for the next one.
        assert!(w.spare.is_some());
        assert_eq!(rx.try_recv().unwrap().data, vec![1, 2, 3]);
        drop(rx);
        let p = w.packet(&frame);
        assert!(!w.offer(p));
    }

    #[test]
    fn stop_ends_a_realtime_replay_promptly() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/captures/mixed.pcap");
        let cap = OfflineCapture::open(std::path::Path::new(path)).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let t = spawn(
            Feed::Replay {
                cap: Box::new(cap),
                realtime: true,
            },
            4,
            Arc::clone(&stop),
        )
        .unwrap();
        let first = t.recv_timeout(Duration::from_secs(5)).unwrap();
        t.recycle(first);
        stop.store(true, Ordering::Relaxed);
        let start = Instant::now();
        while !t.is_finished() {
            // Keep draining so a waiting sender can move on.
            if let Ok(p) = t.recv_timeout(Duration::from_millis(10)) {
                t.recycle(p);
            }
            assert!(
                start.elapsed() < Duration::from_secs(2),
                "capture thread still running"
            );
        }
        let (end, _) = t.join();
        assert!(end.error.is_none());
    }
}
