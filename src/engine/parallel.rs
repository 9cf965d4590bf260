//! Offline analysis on several cores: frames are sharded by flow over worker threads, each
//! running its own [`Engine`], and their records are merged back into one deterministic stream.
//!
//! * **Sharding.** A TCP segment goes to the shard of its connection (a symmetric hash of both
//!   endpoints); a QUIC datagram to the shard of its server endpoint, so a connection that
//!   migrates to a new client address stays on one shard. Frames no shard would analyse
//!   (other ports, other protocols) are counted and dropped by the reader.
//! * **Order.** Every frame gets a sequence number; a record is tagged with the number of the
//!   frame whose processing emitted it. The merger releases records in (frame, shard) order
//!   once every shard has reported progress past that frame (its *watermark*), so output does
//!   not depend on thread timing. Records emitted by idle expiry or at the end of input may
//!   come out in a different place than with one engine; the records themselves are the same.
//! * **Time.** Each batch carries the capture time read so far, so a shard that sees no frames
//!   still expires idle flows on time, and the end-of-input close time is the same as with
//!   one engine.
//! * **Cross-shard posture.** `tcp445.exposed` pairs connections of different transports; the
//!   shards report sightings and the merger judges them in frame order
//!   ([`super::exposure`]).
//! * **Bounds.** Each shard's input queue holds [`QUEUED_BATCHES`] batches of at most
//!   [`BATCH_FRAMES`] frames or [`BATCH_BYTES`] bytes; the reader blocks when a queue is full,
//!   so no shard gets more than a few batches ahead and the merger buffers little.
//!   `Limits::max_flows` is split between the shards (with 25% slack for uneven hashing).
//! * **Freeing.** A record the caller is done with goes back to the worker that made it
//!   ([`ShardedEngine::recycle`]), which frees it between reports: glibc's malloc gives each
//!   thread its own arena, and frees from another thread contend for that arena's lock.

use std::collections::{BTreeMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use super::exposure::Exposure;
use super::handler::CrossNote;
use super::logon::LogonTracker;
use super::{Config, Engine};
use crate::capture::{BlockSink, CaptureError, Frame, FrameRef, MappedCapture, WalkStop};
use crate::event::{ConnectionRecord, Record, SessionRecord, Summary};
use crate::flow::{self, SmbPorts, Transport};
use crate::rules::Mandates;
use crate::wire::Timestamp;

/// Frames per batch handed to a shard.
pub const BATCH_FRAMES: usize = 1024;
/// Captured bytes per batch handed to a shard.
pub const BATCH_BYTES: usize = 1 << 20;
/// Batches queued per shard before the reader waits.
pub const QUEUED_BATCHES: usize = 4;
/// Every shard hears the capture time at least this often (in frames read)...
const FLUSH_FRAMES: u32 = 4096;
/// ...and of capture time.
const FLUSH_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy)]
struct Meta {
    seq: u64,
    ts: Timestamp,
    linktype: i32,
    /// Index into [`Batch::chunks`], or [`COPIED`]: the bytes are in [`Batch::data`].
    chunk: usize,
    start: usize,
    len: usize,
    orig_len: u32,
}

/// The capture clock, reached at frame `seq` (of the block), before the shard's frame `at`.
#[derive(Debug, Clone, Copy)]
struct Tick {
    at: usize,
    seq: u64,
    ts: Timestamp,
}

/// A block's frames tell every shard the capture time this often (in frames)...
const TICK_FRAMES: usize = 512;
/// ...and of capture time, so that each shard's idle expiry runs about when one engine's would.
const TICK_INTERVAL: Duration = Duration::from_millis(250);

/// [`Meta::chunk`] of a frame copied into [`Batch::data`].
const COPIED: usize = usize::MAX;

/// Frames for one shard: copied out of the capture buffer, or referenced in shared buffers.
#[derive(Debug, Default, Clone)]
struct Batch {
    data: Vec<u8>,
    /// Shared capture buffers the frames point into.
    chunks: Vec<Arc<Vec<u8>>>,
    /// Frame bytes in the batch, copied or referenced.
    bytes: usize,
    frames: Vec<Meta>,
    /// Capture time heard from the frames of other shards, to apply before the frame at
    /// [`Tick::at`] (frames split by a [`Splitter`]; other batches end with [`Batch::now`]).
    ticks: Vec<Tick>,
    /// Added to each [`Meta::seq`]: frames split by a reader thread ([`Splitter`]) are
    /// numbered within their block, and get their place in the capture here.
    base: u64,
    /// Every frame up to this sequence number that belongs to the shard is in this batch or
    /// an earlier one.
    watermark: u64,
    /// Capture time read so far.
    now: Timestamp,
    /// The last batch: finish the engine.
    finish: bool,
    /// Send back a snapshot of the open connections ([`ShardedEngine::snapshot`]).
    snapshot: bool,
    /// Walk these files, from frame `base` on ([`ShardedEngine::scan`]).
    scan: Option<Arc<Scan>>,
}

impl Batch {
    /// Empties the batch for reuse, keeping its buffers' capacity (`watermark` and `now` are
    /// set by whoever sends it next; the worker still reports this one's watermark).
    fn reset(&mut self) {
        self.data.clear();
        self.chunks.clear();
        self.bytes = 0;
        self.frames.clear();
        self.ticks.clear();
        self.base = 0;
        self.finish = false;
        self.snapshot = false;
        self.scan = None;
    }
}

/// Boxed: a record is moved through a channel and two queues on its way out.
#[derive(Debug)]
enum Item {
    Record(Box<Record>),
    Note(Box<CrossNote>),
}

/// What a shard sends back for each batch.
struct Output {
    worker: usize,
    items: Vec<(u64, Item)>,
    watermark: u64,
    /// The batch, emptied, for reuse.
    recycled: Option<Batch>,
    /// Set with the last batch.
    summary: Option<Summary>,
    /// The worker stopped on an internal error.
    error: Option<String>,
    /// The open connections, when the batch asked for them.
    snapshot: Option<Snapshot>,
    /// News of a walk over mapped files.
    scan: Option<ScanReport>,
}

/// What a worker walking mapped files ([`ShardedEngine::scan`]) reports besides records.
#[derive(Debug)]
enum ScanReport {
    /// It has read file `file` up to byte `bytes`.
    Position { file: usize, bytes: u64 },
    /// File `file` ended, cleanly or not (every worker reads the same); the worker is at the
    /// start of the next file.
    FileEnd {
        file: usize,
        result: Result<(), CaptureError>,
    },
    /// The walk is over: what the files held (the same for every worker).
    Done(ScanTotals),
}

#[derive(Debug, Default, Clone, Copy)]
struct ScanTotals {
    frames: u64,
    bytes: u64,
    undecodable: u64,
    last_ts: Timestamp,
}

/// What [`ShardedEngine::next_scan_event`] delivers, in file order.
#[derive(Debug)]
pub enum ScanEvent {
    /// Every worker has read file `file` up to byte `bytes` (for progress).
    Progress { file: usize, bytes: u64 },
    /// File `file` is done: every frame was read, or the error that ended it (the frames
    /// before it were analysed), as [`crate::capture::OfflineCapture`] reports it.
    FileEnd {
        file: usize,
        result: Result<(), CaptureError>,
    },
}

/// Frames a walking worker reads between reports to the merger (few in tests, so that the
/// window below is reached on small captures)...
const SCAN_REPORT_FRAMES: u64 = if cfg!(test) { 8 } else { 8192 };
/// ...or bytes of the files.
const SCAN_REPORT_BYTES: u64 = 16 << 20;
/// [`ShardedEngine::ready`]'s maker of a record the merger made.
const MERGER: usize = usize::MAX;
/// Records given back ([`ShardedEngine::recycle`]) sent to their worker at once.
const GRAVE_RECORDS: usize = 256;
/// Records ready for the caller after which [`ShardedEngine::next_scan_event`] returns.
const SCAN_READY_RECORDS: usize = 1024;
/// How far (in frames) a walking worker may run ahead of the records the merger has
/// released, so that a slow consumer or a slow shard holds back the others (bounded memory).
const SCAN_WINDOW_FRAMES: u64 = if cfg!(test) { 32 } else { 64 * 1024 };
/// How far (in bytes of the files) a walking worker may run ahead of the slowest one, so that
/// the mapped pages between them stay few. More than a report's worth and a record (so the
/// slowest worker never waits on itself).
const SCAN_WINDOW_BYTES: u64 = 64 << 20;

/// Bytes of a file that one worker walks for all (the first worker to get to a block takes
/// it, and shares what it finds; few in tests, so that small captures span many blocks).
const SCAN_BLOCK: u64 = if cfg!(test) { 600 } else { 4 << 20 };
/// A worker walks the blocks from the one it analyses on, this many of them (32 MiB of the
/// file), so that the others seldom wait for a walk.
const SCAN_AHEAD: u64 = 8;

/// Files for the workers to walk ([`ShardedEngine::scan`]), and who walks them.
#[derive(Debug)]
struct Scan {
    files: Arc<[MappedCapture]>,
    /// The walking workers.
    walkers: Vec<usize>,
}

/// What one frame of a walked block is for the shards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    /// Its link layer does not decode.
    Undecodable,
    /// No shard analyses it.
    Ignored,
    /// Shard `0`'s.
    Shard(u32),
}

/// A frame of a walked block: where it is in the mapped file, and whose it is (40 bytes: a
/// block of tiny records holds many).
#[derive(Debug, Clone, Copy)]
struct Walked {
    ts: Timestamp,
    /// Where its captured bytes start in the file.
    data: u64,
    len: u32,
    orig_len: u32,
    /// Its record ends this far after `data`.
    tail: u32,
    seen: Seen,
    /// Its decoded packet in [`Block::packets`], or [`NO_PACKET`]: decode it again.
    packet: u32,
}

/// [`Walked::packet`] of a frame whose decoded packet was not kept.
const NO_PACKET: u32 = u32::MAX;

/// Frames of walked blocks kept at most before a worker stops walking ahead (it still walks
/// the block it needs): bounds the memory of files of tiny records.
const SCAN_HELD_FRAMES: usize = if cfg!(test) { 64 } else { 256 * 1024 };

/// The frames of one block of a mapped file, walked by one worker for all of them.
#[derive(Debug)]
struct Block {
    /// Where the walk started: a guess of the block's first record (the first record, in a
    /// file's first block; where the block before ended, for a block walked again, which
    /// may be past the block's end), `None` if no record seemed to start in it.
    from: Option<u64>,
    frames: Vec<Walked>,
    /// The decoded packets of the frames some shard analyses.
    packets: Vec<flow::Detached>,
    stop: WalkStop,
}

impl Block {
    /// A block in which no record seemed to start (a worker that needs it walks it again).
    fn unfound() -> Block {
        Block {
            from: None,
            frames: Vec::new(),
            packets: Vec::new(),
            stop: WalkStop::default(),
        }
    }
}

/// What [`Credit::claim`] found.
#[derive(Debug, PartialEq, Eq)]
enum Claim {
    Yours,
    /// Someone walks it or has.
    Taken,
    /// Enough walked blocks are kept: walk no further ahead for now.
    Full,
}

/// What [`Credit::take`] found.
enum Taken {
    Block(Arc<Block>),
    /// Nobody has walked it or is walking it: it is yours to walk (and publish).
    Walk,
    /// The merger is gone.
    Closed,
}

/// The merger's progress, and the blocks walked so far, as walking workers see them.
#[derive(Debug, Default)]
struct Credit {
    state: Mutex<CreditState>,
    moved: Condvar,
}

#[derive(Debug, Default)]
struct CreditState {
    /// Records are released up to this frame.
    released: u64,
    /// The slowest walking worker is this far into the files (bytes, all files counted).
    slowest: u64,
    /// The merger is gone.
    closed: bool,
    /// Walked blocks by number, kept until every walking worker has analysed them.
    blocks: BTreeMap<u64, Arc<Block>>,
    /// Per worker: the blocks before this one it has analysed (`None`: not walking).
    analysed: Vec<Option<u64>>,
    /// Per worker: it stopped during the walk, and will walk no more blocks.
    gone: Vec<bool>,
    /// Blocks a worker is walking (or has walked), and which worker.
    claims: BTreeMap<u64, usize>,
    /// Blocks walked from a wrong guess that a worker walks again, and which worker.
    rewalks: BTreeMap<u64, usize>,
    /// Frames in `blocks`.
    held: usize,
}

impl CreditState {
    fn prune(&mut self) {
        let low = self
            .analysed
            .iter()
            .flatten()
            .copied()
            .min()
            .unwrap_or(u64::MAX);
        while self.blocks.first_key_value().is_some_and(|(&k, _)| k < low) {
            if let Some((_, b)) = self.blocks.pop_first() {
                self.held = self.held.saturating_sub(b.frames.len());
            }
        }
        for map in [&mut self.claims, &mut self.rewalks] {
            while map.first_key_value().is_some_and(|(&k, _)| k < low) {
                map.pop_first();
            }
        }
    }
}

impl Credit {
    fn update(&self, f: impl FnOnce(&mut CreditState) -> bool) {
        let mut g = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if f(&mut g) {
            self.moved.notify_all();
        }
    }

    fn release(&self, upto: u64) {
        self.update(|g| {
            let moved = upto > g.released;
            g.released = g.released.max(upto);
            moved
        });
    }

    fn slowest_at(&self, at: u64) {
        self.update(|g| {
            let moved = at > g.slowest;
            g.slowest = g.slowest.max(at);
            moved
        });
    }

    /// A new walk by `walkers` (of `jobs` workers) starts: nobody is anywhere yet.
    fn restart(&self, walkers: &[usize], jobs: usize) {
        self.update(|g| {
            g.slowest = 0;
            g.blocks.clear();
            g.analysed = vec![None; jobs];
            for &w in walkers {
                if let Some(a) = g.analysed.get_mut(w) {
                    *a = Some(0);
                }
            }
            g.gone = vec![false; jobs];
            g.claims.clear();
            g.rewalks.clear();
            g.held = 0;
            false
        });
    }

    /// Worker `w` takes block `k` to walk ahead, unless someone has, or the blocks kept
    /// hold [`SCAN_HELD_FRAMES`] frames already.
    fn claim(&self, k: u64, w: usize) -> Claim {
        let mut g = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if g.claims.contains_key(&k) || g.blocks.contains_key(&k) {
            return Claim::Taken;
        }
        if g.held >= SCAN_HELD_FRAMES {
            return Claim::Full;
        }
        g.claims.insert(k, w);
        Claim::Yours
    }

    /// Block `k`, walked for everyone.
    fn publish(&self, k: u64, block: Block) {
        self.publish_shared(k, Arc::new(block));
    }

    /// [`Self::publish`], for a block also in use (or in place of a walk from a wrong guess).
    fn publish_shared(&self, k: u64, block: Arc<Block>) {
        self.update(|g| {
            g.held += block.frames.len();
            if let Some(old) = g.blocks.insert(k, block) {
                g.held = g.held.saturating_sub(old.frames.len());
            }
            true
        });
    }

    /// Block `k` for worker `w`, walked from `at` (where the records of the block before
    /// end), once it is there. When nobody has taken it to walk, or its walk started from a
    /// wrong guess and nobody walks it again, `w` takes it ([`Taken::Walk`]) rather than
    /// wait, so a worker that stopped leaves none unwalked.
    fn take(&self, k: u64, w: usize, at: u64) -> Taken {
        let mut g = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if g.closed {
                return Taken::Closed;
            }
            let live = |g: &CreditState, map: &BTreeMap<u64, usize>| {
                map.get(&k)
                    .is_some_and(|&c| !g.gone.get(c).is_none_or(|&gone| gone))
            };
            match g.blocks.get(&k) {
                Some(b) if b.from == Some(at) => return Taken::Block(Arc::clone(b)),
                // A wrong guess: walked again by the first to see it, the others wait.
                Some(_) => {
                    if !live(&g, &g.rewalks) {
                        g.rewalks.insert(k, w);
                        return Taken::Walk;
                    }
                }
                // Someone is walking it right now (a claim is only made to walk at once).
                None => {
                    if !live(&g, &g.claims) {
                        g.claims.insert(k, w);
                        return Taken::Walk;
                    }
                }
            }
            g = self.moved.wait(g).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Worker `w` has analysed the blocks before `upto`: those every walking worker has
    /// analysed are dropped.
    fn analysed(&self, w: usize, upto: u64) {
        self.update(|g| {
            if let Some(Some(a)) = g.analysed.get_mut(w) {
                *a = (*a).max(upto);
            }
            g.prune();
            false
        });
    }

    /// Worker `w` stopped during the walk: nobody waits for its blocks or keeps blocks for it.
    fn abandon(&self, w: usize) {
        self.update(|g| {
            if let Some(gone) = g.gone.get_mut(w) {
                *gone = true;
            }
            if let Some(a) = g.analysed.get_mut(w) {
                *a = None;
            }
            g.claims.retain(|_, c| *c != w);
            g.rewalks.retain(|_, c| *c != w);
            g.prune();
            true
        });
    }

    fn close(&self) {
        self.update(|g| {
            g.closed = true;
            true
        });
    }

    /// Waits until frame `seq` is within [`SCAN_WINDOW_FRAMES`] of the released records and
    /// byte `at` within [`SCAN_WINDOW_BYTES`] of the slowest worker; false when the merger is
    /// gone.
    fn wait(&self, seq: u64, at: u64) -> bool {
        let mut g = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        while !g.closed
            && (seq > g.released.saturating_add(SCAN_WINDOW_FRAMES)
                || at > g.slowest.saturating_add(SCAN_WINDOW_BYTES))
        {
            g = self.moved.wait(g).unwrap_or_else(PoisonError::into_inner);
        }
        !g.closed
    }
}

/// Open connections and their sessions, as [`Engine::snapshot`] gives them.
type Snapshot = Vec<(ConnectionRecord, Vec<SessionRecord>)>;

/// Splits blocks of frames into per-shard batches, on any thread: link decode and the choice
/// of shard, done by the reader threads of a parallel read ([`crate::capture::ParallelReader`],
/// as its [`BlockSink`]) so that they leave the thread that feeds the shards. Get one from
/// [`ShardedEngine::splitter`]; feed what it makes to [`ShardedEngine::handle_prepared`] in
/// capture order.
#[derive(Debug, Clone)]
pub struct Splitter {
    sharding: Sharding,
    /// The block being split.
    block: Prepared,
    /// Frames since the last [`Tick`], and the capture time then.
    since_tick: usize,
    tick_ts: Option<Timestamp>,
}

/// A block of frames split by shard (by a [`Splitter`]).
#[derive(Debug, Clone, Default)]
pub struct Prepared {
    batches: Vec<Batch>,
    frames: u64,
    bytes: u64,
    undecodable: u64,
    last_ts: Timestamp,
}

impl Splitter {
    fn new(sharding: Sharding) -> Splitter {
        Splitter {
            block: Prepared::empty(sharding.jobs, 0),
            sharding,
            since_tick: 0,
            tick_ts: None,
        }
    }
}

/// How frames are shared out between the shards.
#[derive(Debug, Clone)]
struct Sharding {
    jobs: usize,
    ports: SmbPorts,
    quic_ports: Vec<u16>,
}

impl Sharding {
    /// The shard that analyses `pkt` (by [`shard_hash`]); `None` when no engine would look
    /// at it.
    fn shard_of(&self, pkt: &flow::Packet<'_>) -> Option<usize> {
        shard_hash(pkt, &self.ports, &self.quic_ports).map(|h| (h % self.jobs as u64) as usize)
    }
}

impl Prepared {
    /// An empty block for `jobs` shards, with room for `frames` frames in all.
    fn empty(jobs: usize, frames: usize) -> Prepared {
        Prepared {
            batches: (0..jobs)
                .map(|_| Batch {
                    frames: Vec::with_capacity(frames / jobs + frames / 8),
                    ..Batch::default()
                })
                .collect(),
            ..Prepared::default()
        }
    }
}

impl BlockSink for Splitter {
    type Out = Prepared;

    /// Decodes the frame's link layer and adds it to its shard's batch; frames no shard would
    /// analyse are counted and left out.
    fn frame(&mut self, data: &[u8], f: &FrameRef) {
        let p = &mut self.block;
        p.frames += 1;
        p.bytes += data.len() as u64;
        p.last_ts = p.last_ts.max(f.ts);
        self.since_tick += 1;
        match self.tick_ts {
            None => self.tick_ts = Some(f.ts),
            Some(last)
                if self.since_tick >= TICK_FRAMES || f.ts >= last.saturating_add(TICK_INTERVAL) =>
            {
                for b in &mut p.batches {
                    b.ticks.push(Tick {
                        at: b.frames.len(),
                        seq: p.frames,
                        ts: p.last_ts,
                    });
                }
                self.since_tick = 0;
                self.tick_ts = Some(f.ts);
            }
            Some(_) => {}
        }
        let pkt = match flow::decode(f.linktype, data) {
            Ok(pkt) => pkt,
            Err(_) => {
                p.undecodable += 1;
                return;
            }
        };
        let Some(shard) = self.sharding.shard_of(&pkt) else {
            return;
        };
        let b = &mut p.batches[shard];
        b.frames.push(Meta {
            seq: p.frames,
            ts: f.ts,
            linktype: f.linktype,
            chunk: 0,
            start: f.start,
            len: data.len(),
            orig_len: f.orig_len,
        });
        b.bytes += data.len();
    }

    fn finish(&mut self, buf: &Arc<Vec<u8>>) -> Prepared {
        for b in &mut self.block.batches {
            if !b.frames.is_empty() {
                b.chunks.push(Arc::clone(buf));
            }
        }
        self.since_tick = 0;
        self.tick_ts = None;
        // The next block is likely as large as this one.
        let frames = usize::try_from(self.block.frames).unwrap_or(0);
        std::mem::replace(&mut self.block, Prepared::empty(self.sharding.jobs, frames))
    }
}

/// The sharded engine: the same frames in and records out as [`Engine`], on `jobs` threads.
pub struct ShardedEngine {
    inputs: Vec<Option<SyncSender<Batch>>>,
    filling: Vec<Batch>,
    pool: Vec<Batch>,
    results: Receiver<Output>,
    workers: Vec<JoinHandle<()>>,
    queues: Vec<VecDeque<(u64, Item)>>,
    watermarks: Vec<u64>,
    ended: Vec<bool>,
    /// Records in merged order, each with the worker that made it ([`MERGER`]: made here).
    ready: VecDeque<(usize, Record)>,
    /// Who made the record [`Self::poll_record`] returned last.
    polled: usize,
    /// Per worker: records the caller is done with ([`Self::recycle`]), and the way back.
    graves: Vec<Vec<Record>>,
    buriers: Vec<Sender<Vec<Record>>>,
    seq: u64,
    since_flush: u32,
    last_flush: Timestamp,
    last_ts: Timestamp,
    bytes: u64,
    undecodable: u64,
    exposure: Exposure,
    logon: LogonTracker,
    /// Findings and anomalies the merger raised, by severity and by kind.
    cross_findings: BTreeMap<&'static str, u64>,
    cross_anomalies: BTreeMap<&'static str, u64>,
    mandates: Mandates,
    sharding: Sharding,
    summaries: Vec<Summary>,
    errors: Vec<String>,
    phase: Phase,
    /// The last snapshot each shard sent.
    snapshots: Vec<Snapshot>,
    credit: Arc<Credit>,
    /// Workers still walking mapped files, and where each is.
    scanning: Vec<bool>,
    positions: Vec<(usize, u64)>,
    /// The slowest worker's position last reported.
    position: (usize, u64),
    scan_totals: Option<ScanTotals>,
    scan_events: VecDeque<ScanEvent>,
    /// The files being walked, to release what every worker has read, and where each
    /// starts (in bytes of all of them).
    scan_files: Option<Arc<[MappedCapture]>>,
    scan_starts: Vec<u64>,
    /// File ends reported by a worker, held until every walking worker is past them.
    scan_ends: BTreeMap<usize, Result<(), CaptureError>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Running,
    /// Shard N is ending its flows (the ones before it have).
    Finishing(usize),
    Done,
}

impl std::fmt::Debug for ShardedEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShardedEngine")
            .field("jobs", &self.inputs.len())
            .field("frames", &self.seq)
            .finish_non_exhaustive()
    }
}

impl ShardedEngine {
    /// Starts `jobs` (at least 2) worker threads, each with an engine configured from `config`.
    /// Message taps are not supported (`decrypt` stays on one engine).
    pub fn new(config: Config, jobs: usize) -> std::io::Result<ShardedEngine> {
        let jobs = jobs.max(2);
        let per_shard = config.limits.max_flows.div_ceil(jobs);
        let (tx, results) = mpsc::channel();
        let credit = Arc::new(Credit::default());
        let mut inputs = Vec::with_capacity(jobs);
        let mut workers = Vec::with_capacity(jobs);
        let mut buriers = Vec::with_capacity(jobs);
        for id in 0..jobs {
            let (bury, graves) = mpsc::channel();
            buriers.push(bury);
            let mut shard = config.clone();
            shard.limits.max_flows = per_shard.saturating_add(per_shard / 4).max(1);
            let (in_tx, in_rx) = mpsc::sync_channel(QUEUED_BATCHES);
            let out = tx.clone();
            let credit = Arc::clone(&credit);
            let handle = std::thread::Builder::new()
                .name(format!("smbscope-shard-{id}"))
                .spawn(move || {
                    let walk = Walk {
                        id,
                        sharding: Sharding {
                            jobs,
                            ports: shard.ports.clone(),
                            quic_ports: shard.quic_ports.clone(),
                        },
                        credit,
                        last_counts: std::cell::Cell::new((0, 0)),
                        graves,
                    };
                    let mut engine = Engine::new(shard);
                    engine.defer_cross_notes();
                    work(&walk, engine, &in_rx, &out);
                })?;
            inputs.push(Some(in_tx));
            workers.push(handle);
        }
        Ok(ShardedEngine {
            inputs,
            filling: (0..jobs).map(|_| Batch::default()).collect(),
            pool: Vec::new(),
            results,
            workers,
            queues: (0..jobs).map(|_| VecDeque::new()).collect(),
            watermarks: vec![0; jobs],
            ended: vec![false; jobs],
            ready: VecDeque::new(),
            polled: MERGER,
            graves: (0..jobs).map(|_| Vec::new()).collect(),
            buriers,
            seq: 0,
            since_flush: 0,
            last_flush: Timestamp::default(),
            last_ts: Timestamp::default(),
            bytes: 0,
            undecodable: 0,
            exposure: Exposure::default(),
            logon: LogonTracker::new(config.logon),
            cross_findings: BTreeMap::new(),
            cross_anomalies: BTreeMap::new(),
            mandates: config.mandates,
            sharding: Sharding {
                jobs,
                ports: config.ports,
                quic_ports: config.quic_ports,
            },
            summaries: Vec::new(),
            errors: Vec::new(),
            phase: Phase::Running,
            snapshots: vec![Vec::new(); jobs],
            credit,
            scanning: vec![false; jobs],
            positions: vec![(0, 0); jobs],
            position: (0, 0),
            scan_totals: None,
            scan_events: VecDeque::new(),
            scan_files: None,
            scan_starts: Vec::new(),
            scan_ends: BTreeMap::new(),
        })
    }

    /// Worker threads.
    pub fn jobs(&self) -> usize {
        self.inputs.len()
    }

    /// A splitter for this engine's shards, for [`ShardedEngine::handle_prepared`].
    pub fn splitter(&self) -> Splitter {
        Splitter::new(self.sharding.clone())
    }

    /// Feeds a block of frames that a [`Splitter`] of this engine split, the next in capture
    /// order (after every frame fed before). Every shard hears of it, with the capture time.
    pub fn handle_prepared(&mut self, p: Prepared) {
        if self.phase != Phase::Running {
            return;
        }
        if self.filling.iter().any(|b| !b.frames.is_empty()) {
            // Frames fed one at a time come first.
            self.flush_all(false);
        }
        let base = self.seq;
        self.seq += p.frames;
        self.bytes += p.bytes;
        self.undecodable += p.undecodable;
        self.last_ts = self.last_ts.max(p.last_ts);
        for (shard, mut batch) in p.batches.into_iter().enumerate().take(self.inputs.len()) {
            batch.base = base;
            batch.watermark = self.seq;
            batch.now = self.last_ts;
            batch.finish = false;
            self.deliver(shard, batch);
        }
        self.since_flush = 0;
        self.last_flush = self.last_ts;
        self.collect();
    }

    /// Analyses `files` (classic pcap files, mapped), the next input in capture order: the
    /// workers read them themselves, so the frames' bytes stay where they are mapped (only
    /// lists of where they are cross threads). The files are cut into
    /// blocks ([`SCAN_BLOCK`] bytes); the first worker to get to a block walks its records,
    /// decodes their link layer and finds each frame's shard, for all of them (so the worker
    /// with less to analyse, being ahead, walks more of them). Every worker then goes through
    /// every block in order, analyses the frames of its shard and advances its clock on the
    /// others, which keeps idle expiry where one engine has it. Call [`ShardedEngine::next_scan_event`] until it
    /// gives `None`, draining [`ShardedEngine::poll_record`] after each event; then go on
    /// as usual (more input, [`ShardedEngine::finish`]).
    pub fn scan(&mut self, files: Vec<MappedCapture>) {
        if self.phase != Phase::Running || files.is_empty() {
            return;
        }
        if self.filling.iter().any(|b| !b.frames.is_empty()) {
            self.flush_all(false);
        }
        let files: Arc<[MappedCapture]> = files.into();
        self.position = (0, 0);
        self.scan_totals = None;
        self.scan_starts = files
            .iter()
            .scan(0u64, |at, f| {
                let start = *at;
                *at += f.size();
                Some(start)
            })
            .collect();
        self.scan_ends.clear();
        let walkers: Vec<usize> = (0..self.inputs.len()).filter(|&w| !self.ended[w]).collect();
        self.credit.restart(&walkers, self.inputs.len());
        self.scan_files = Some(Arc::clone(&files));
        let scan = Arc::new(Scan { files, walkers });
        for shard in 0..self.inputs.len() {
            let batch = Batch {
                scan: Some(Arc::clone(&scan)),
                base: self.seq,
                watermark: self.seq,
                now: self.last_ts,
                ..Batch::default()
            };
            self.scanning[shard] = !self.ended[shard];
            self.positions[shard] = (0, 0);
            self.deliver(shard, batch);
        }
    }

    /// The next event of the walk [`ShardedEngine::scan`] started, waiting for the workers;
    /// `None` once every worker has walked every file (the frames are then counted).
    pub fn next_scan_event(&mut self) -> Option<ScanEvent> {
        loop {
            if let Some(ev) = self.scan_events.pop_front() {
                return Some(ev);
            }
            if !self.scanning.iter().any(|&w| w) {
                self.scan_files = None;
                if let Some(t) = self.scan_totals.take() {
                    self.seq += t.frames;
                    self.bytes += t.bytes;
                    self.undecodable += t.undecodable;
                    self.last_ts = self.last_ts.max(t.last_ts);
                    self.since_flush = 0;
                    self.last_flush = self.last_ts;
                }
                return None;
            }
            match self.results.recv() {
                Ok(out) => {
                    self.absorb(out);
                    self.merge();
                }
                Err(_) => self.scanning.iter_mut().for_each(|w| *w = false),
            }
            if self.scan_events.is_empty() && self.ready.len() >= SCAN_READY_RECORDS {
                // Records to drain, though nobody moved on in the files.
                let (file, bytes) = self.position;
                return Some(ScanEvent::Progress { file, bytes });
            }
        }
    }

    /// Feeds one captured frame (copied; the caller's buffer is free on return).
    pub fn handle_frame(&mut self, frame: &Frame<'_>) {
        if self.phase != Phase::Running {
            return;
        }
        self.seq += 1;
        self.bytes += frame.data.len() as u64;
        self.last_ts = self.last_ts.max(frame.ts);
        match flow::decode(frame.linktype, frame.data) {
            Ok(pkt) => {
                if let Some(shard) = self.sharding.shard_of(&pkt) {
                    self.push(shard, frame);
                }
            }
            Err(_) => self.undecodable += 1,
        }
        self.since_flush += 1;
        if self.since_flush >= FLUSH_FRAMES
            || frame.ts >= self.last_flush.saturating_add(FLUSH_INTERVAL)
        {
            self.flush_all(false);
        }
    }

    /// The next record in merged order, if one is ready.
    #[must_use]
    pub fn poll_record(&mut self) -> Option<Record> {
        let (maker, r) = self.ready.pop_front()?;
        self.polled = maker;
        Some(r)
    }

    /// Takes back the record [`Self::poll_record`] returned last, once the caller is done
    /// with it: it is freed by the worker that made it, in batches. (Freed here, a worker's
    /// allocations go back to that thread's malloc arena under its lock, which the worker
    /// holds as it allocates: the two threads then take turns at the lock, and a second core
    /// gains much less.) Any record may be given back; dropping it is fine too.
    pub fn recycle(&mut self, r: Record) {
        let Some(grave) = self.graves.get_mut(self.polled) else {
            return;
        };
        grave.push(r);
        if grave.len() >= GRAVE_RECORDS {
            let full = std::mem::take(grave);
            // A worker that has ended leaves them to be freed here.
            let _ = self.buriers[self.polled].send(full);
        }
    }

    /// Hands every shard the frames it has been given so far and takes the records the
    /// shards have made, without waiting for them: a live sensor calls this when no frame
    /// has come for a while, so records do not wait for the next batch to fill.
    pub fn flush(&mut self) {
        if self.phase != Phase::Running {
            return;
        }
        if self.filling.iter().any(|b| !b.frames.is_empty()) {
            self.flush_all(false);
        } else {
            self.collect();
        }
    }

    /// The open connections and their sessions, as [`Engine::snapshot`] gives them: what the
    /// shards reported at the last call (this call asks each for a new report, which comes
    /// with their next results). Call it a few times per second, as the TUI does.
    pub fn snapshot(&mut self) -> Snapshot {
        if self.phase == Phase::Running {
            for b in &mut self.filling {
                b.snapshot = true;
            }
            self.flush_all(false);
        }
        self.snapshots.iter().flatten().cloned().collect()
    }

    /// End of input: the shards finish their flows; every remaining record becomes ready.
    /// Waits for the workers. With many open flows prefer [`ShardedEngine::finish_some`].
    pub fn finish(&mut self) {
        while self.finish_some() {}
    }

    /// Finishes a part at a time and returns whether more remains: drain
    /// [`ShardedEngine::poll_record`] after each call. The shards end their flows one after
    /// the other, each sending its records in chunks, so the records of every open
    /// connection are never all held at once.
    pub fn finish_some(&mut self) -> bool {
        match self.phase {
            Phase::Running => {
                // Every frame read is processed and merged first.
                self.flush_all(false);
                self.wait_for(self.seq);
                self.merge();
                self.phase = Phase::Finishing(0);
                self.start_finishing(0);
                true
            }
            Phase::Finishing(w) => {
                if !self.ended[w] {
                    match self.results.recv() {
                        Ok(out) => self.absorb(out),
                        Err(_) => self.ended.iter_mut().for_each(|e| *e = true),
                    }
                }
                // Only shard `w` is still producing: its records go out as they come.
                self.merge_all(w);
                if !self.ended[w] {
                    return true;
                }
                if w + 1 < self.inputs.len() {
                    self.phase = Phase::Finishing(w + 1);
                    self.start_finishing(w + 1);
                    return true;
                }
                self.phase = Phase::Done;
                self.join();
                false
            }
            Phase::Done => false,
        }
    }

    fn start_finishing(&mut self, w: usize) {
        self.send(w, true);
        self.inputs[w] = None;
    }

    /// Blocks until every shard has processed the frames up to `seq` (or ended).
    fn wait_for(&mut self, seq: u64) {
        while self.watermarks.iter().any(|&m| m < seq) {
            match self.results.recv() {
                Ok(out) => self.absorb(out),
                Err(_) => break,
            }
        }
    }

    fn join(&mut self) {
        for input in &mut self.inputs {
            *input = None;
        }
        for (w, ended) in self.ended.iter_mut().enumerate() {
            if !*ended {
                *ended = true;
                self.errors
                    .push(format!("internal error: analysis worker {w} stopped early"));
            }
        }
        for h in self.workers.drain(..) {
            if h.join().is_err() {
                self.errors
                    .push("internal error: an analysis worker panicked".to_owned());
            }
        }
    }

    /// Totals so far (complete after [`ShardedEngine::finish`]). Internal worker failures are
    /// listed in `errors`.
    pub fn summary(&self) -> Summary {
        let mut s = Summary {
            files: Vec::new(),
            frames: self.seq,
            bytes: self.bytes,
            connections: 0,
            sessions: 0,
            smb_messages: 0,
            findings: self.cross_findings.clone(),
            anomalies: self.cross_anomalies.clone(),
            undecodable_frames: self.undecodable,
            quic_unattributed_packets: 0,
            errors: self.errors.clone(),
        };
        for w in &self.summaries {
            s.connections += w.connections;
            s.sessions += w.sessions;
            s.smb_messages += w.smb_messages;
            for (k, v) in &w.findings {
                *s.findings.entry(k).or_default() += v;
            }
            for (k, v) in &w.anomalies {
                *s.anomalies.entry(k).or_default() += v;
            }
            s.undecodable_frames += w.undecodable_frames;
            s.quic_unattributed_packets += w.quic_unattributed_packets;
            s.errors.extend(w.errors.iter().cloned());
        }
        s
    }

    fn push(&mut self, shard: usize, frame: &Frame<'_>) {
        let b = &mut self.filling[shard];
        let start = b.data.len();
        b.data.extend_from_slice(frame.data);
        b.frames.push(Meta {
            seq: self.seq,
            ts: frame.ts,
            linktype: frame.linktype,
            chunk: COPIED,
            start,
            len: frame.data.len(),
            orig_len: frame.orig_len,
        });
        b.bytes += frame.data.len();
        if b.frames.len() >= BATCH_FRAMES || b.bytes >= BATCH_BYTES {
            self.send(shard, false);
        }
    }

    /// Hands the shard its batch (even an empty one: it carries the watermark and the time).
    fn send(&mut self, shard: usize, finish: bool) {
        let fresh = self.pool.pop().unwrap_or_default();
        let mut batch = std::mem::replace(&mut self.filling[shard], fresh);
        batch.watermark = self.seq;
        batch.now = self.last_ts;
        batch.finish = finish;
        self.deliver(shard, batch);
        // Results only come in answer to batches: taking them here, not per frame, is enough.
        self.collect();
    }

    fn deliver(&mut self, shard: usize, batch: Batch) {
        if let Some(input) = &self.inputs[shard] {
            if input.send(batch).is_err() {
                // The worker stopped. If it said why, that came through the results channel;
                // either way it is done, so nobody waits for it.
                self.inputs[shard] = None;
                self.credit.abandon(shard);
                if !self.ended[shard] {
                    self.ended[shard] = true;
                    self.watermarks[shard] = u64::MAX;
                    self.scanning[shard] = false;
                    self.errors.push(format!(
                        "internal error: analysis worker {shard} stopped early; its flows are incomplete"
                    ));
                }
            }
        }
    }

    fn flush_all(&mut self, finish: bool) {
        for shard in 0..self.inputs.len() {
            self.send(shard, finish);
        }
        self.since_flush = 0;
        self.last_flush = self.last_ts;
    }

    /// Takes what the workers have sent so far (without waiting) and merges it.
    fn collect(&mut self) {
        let mut got = false;
        while let Ok(out) = self.results.try_recv() {
            got = true;
            self.absorb(out);
        }
        if got {
            self.merge();
        }
    }

    fn absorb(&mut self, out: Output) {
        let w = out.worker;
        match out.scan {
            None => {}
            Some(ScanReport::Position { file, bytes }) => self.positions[w] = (file, bytes),
            Some(ScanReport::FileEnd { file, result }) => {
                self.positions[w] = (file + 1, 0);
                // Every worker reads the same end: the first report stands.
                self.scan_ends.entry(file).or_insert(result);
            }
            Some(ScanReport::Done(t)) => {
                self.scanning[w] = false;
                self.scan_totals.get_or_insert(t);
            }
        }
        if let Some(snap) = out.snapshot {
            self.snapshots[w] = snap;
        }
        self.queues[w].extend(out.items);
        self.watermarks[w] = self.watermarks[w].max(out.watermark);
        // The worker emptied it (`Batch::reset`).
        if let Some(b) = out.recycled {
            if self.pool.len() < 2 * self.inputs.len() + 2 {
                self.pool.push(b);
            }
        }
        if let Some(s) = out.summary {
            self.summaries.push(s);
            self.ended[w] = true;
            self.watermarks[w] = u64::MAX;
        }
        if let Some(e) = out.error {
            self.errors.push(e);
            self.ended[w] = true;
            self.watermarks[w] = u64::MAX;
            self.inputs[w] = None;
            self.scanning[w] = false;
            self.credit.abandon(w);
        }
        if self.scan_files.is_some() {
            self.scan_moved();
        }
    }

    /// After news from a walking worker: file ends and progress once every worker still
    /// walking is past them, and the pages they are all past go back to the kernel.
    fn scan_moved(&mut self) {
        // Where the slowest worker still walking is (all done: past every file).
        let slowest = (0..self.positions.len())
            .filter(|&i| self.scanning[i])
            .map(|i| self.positions[i])
            .min()
            .unwrap_or((usize::MAX, 0));
        while let Some(entry) = self.scan_ends.first_entry() {
            if *entry.key() >= slowest.0 {
                break;
            }
            let (file, result) = entry.remove_entry();
            self.scan_events
                .push_back(ScanEvent::FileEnd { file, result });
        }
        let Some(files) = &self.scan_files else {
            return;
        };
        if slowest.0 >= files.len() {
            for f in files.iter() {
                f.release(u64::MAX);
            }
            return;
        }
        if slowest <= self.position {
            return;
        }
        // The frames before it are analysed by every worker: nobody reads those bytes again.
        for f in files.iter().take(slowest.0) {
            f.release(u64::MAX);
        }
        files[slowest.0].release(slowest.1);
        let at = self.scan_starts.get(slowest.0).copied().unwrap_or(0) + slowest.1;
        self.credit.slowest_at(at);
        self.position = slowest;
        self.scan_events.push_back(ScanEvent::Progress {
            file: slowest.0,
            bytes: slowest.1,
        });
    }

    /// Releases everything queued from shard `w` (the others are done).
    fn merge_all(&mut self, w: usize) {
        while let Some((_, item)) = self.queues[w].pop_front() {
            self.release(w, item);
        }
    }

    /// Makes an item from worker `w` ready.
    fn release(&mut self, w: usize, item: Item) {
        match item {
            Item::Record(r) => self.ready.push_back((w, *r)),
            Item::Note(n) => {
                let mut recs = Vec::new();
                match *n {
                    CrossNote::Exposure(n) => recs.extend(
                        self.exposure
                            .finding_for(&n, self.mandates)
                            .map(Record::Finding),
                    ),
                    CrossNote::Logon(n) => self.logon.note(&n, self.mandates, &mut recs),
                }
                for r in recs {
                    match &r {
                        Record::Finding(f) => {
                            *self.cross_findings.entry(f.severity.as_str()).or_default() += 1
                        }
                        Record::Anomaly(a) => *self.cross_anomalies.entry(a.kind).or_default() += 1,
                        _ => {}
                    }
                    self.ready.push_back((MERGER, r));
                }
            }
        }
    }

    /// Releases every queued item that no shard can precede any more, in (frame, shard) order.
    fn merge(&mut self) {
        let low = self.watermarks.iter().copied().min().unwrap_or(u64::MAX);
        self.credit.release(low);
        loop {
            let mut best: Option<(u64, usize)> = None;
            for (w, q) in self.queues.iter().enumerate() {
                if let Some(&(seq, _)) = q.front() {
                    if seq <= low && best.is_none_or(|(b, _)| seq < b) {
                        best = Some((seq, w));
                    }
                }
            }
            let Some((_, w)) = best else { break };
            let Some((_, item)) = self.queues[w].pop_front() else {
                break;
            };
            self.release(w, item);
        }
    }
}

impl Drop for ShardedEngine {
    fn drop(&mut self) {
        // Closing the inputs ends the workers; detach rather than wait on a panic path.
        for input in &mut self.inputs {
            *input = None;
        }
        self.credit.close();
    }
}

/// What a worker needs to walk mapped files itself.
struct Walk {
    id: usize,
    sharding: Sharding,
    credit: Arc<Credit>,
    /// The frames and kept packets of the last block this worker walked: the next block's
    /// lists are allocated that large (and a little more) at once, instead of growing.
    last_counts: std::cell::Cell<(usize, usize)>,
    /// Records this worker made that the caller is done with ([`ShardedEngine::recycle`]).
    graves: Receiver<Vec<Record>>,
}

impl Walk {
    /// Frees the records given back so far, on the thread that allocated them.
    fn bury(&self) {
        self.graves.try_iter().for_each(drop);
    }

    /// Goes through every frame of `scan`'s files (numbered from `base + 1`), analyses the
    /// ones of this worker's shard and advances the clock on the others, as one engine would
    /// see them; reports records every [`SCAN_REPORT_FRAMES`] frames. Walks the blocks ahead
    /// that nobody has taken yet, for all, on the way. False when the merger is gone.
    fn scan(
        &self,
        engine: &mut Engine,
        scan: &Scan,
        base: u64,
        out: &Sender<Output>,
        notes: &mut Vec<CrossNote>,
    ) -> bool {
        let files = &scan.files;
        if !scan.walkers.contains(&self.id) {
            return true;
        }
        // Block numbers: file `f` has blocks `starts[f]..starts[f + 1]`.
        let starts: Vec<u64> = std::iter::once(0)
            .chain(files.iter().scan(0u64, |at, m| {
                *at += blocks_of(m);
                Some(*at)
            }))
            .collect();
        let total = starts.last().copied().unwrap_or(0);
        let mut items = Vec::new();
        let mut totals = ScanTotals::default();
        let mut seq = base;
        let send = |items: &mut Vec<(u64, Item)>, seq: u64, scan: ScanReport| {
            out.send(Output {
                worker: self.id,
                items: std::mem::take(items),
                watermark: seq,
                recycled: None,
                summary: None,
                error: None,
                snapshot: None,
                scan: Some(scan),
            })
            .is_ok()
        };
        // Blocks before this one were taken by someone (or lie after a file's error).
        let mine = Seen::Shard(u32::try_from(self.id).unwrap_or(u32::MAX));
        let mut next_walk = 0u64;
        let mut walked = 0u64;
        let mut last_report = 0u64;
        for (file, m) in files.iter().enumerate() {
            let (first, after) = (starts[file], starts[file + 1]);
            // Where the next record starts, and the frames of the file so far.
            let mut at = m.first_record();
            let mut in_file = 0u64;
            // A file of a header only ends cleanly, with no block.
            let mut result = Ok(());
            for k in first..after {
                while next_walk < total && next_walk < k + SCAN_AHEAD {
                    match self.credit.claim(next_walk, self.id) {
                        Claim::Yours => {
                            let b = self.walk_numbered(files, &starts, next_walk);
                            self.credit.publish(next_walk, b);
                        }
                        Claim::Taken => {}
                        Claim::Full => break,
                    }
                    next_walk += 1;
                }
                let block = match self.credit.take(k, self.id, at) {
                    // It starts where the block before ended: its records are the file's.
                    Taken::Block(b) => b,
                    // Nobody had walked it, or from a wrong guess: walk it from there, for
                    // the others too.
                    Taken::Walk => {
                        let b = Arc::new(self.walk(m, at, block_end(m, k - first)));
                        self.credit.publish_shared(k, Arc::clone(&b));
                        b
                    }
                    Taken::Closed => return false,
                };
                for (i, w) in block.frames.iter().enumerate() {
                    // The walker read the first line of each frame (on any core); this
                    // worker's analysis reads the next one (the TCP payload) and the decoded
                    // packet: ask for them a few frames ahead.
                    if let Some(ahead) = block.frames.get(i + PREFETCH_FRAMES)
                        && ahead.seen == mine
                    {
                        m.prefetch(ahead.data + 64);
                        if let Some(p) = block.packets.get(ahead.packet as usize) {
                            crate::capture::prefetch(p);
                        }
                    }
                    seq += 1;
                    in_file += 1;
                    totals.bytes += u64::from(w.len);
                    totals.last_ts = totals.last_ts.max(w.ts);
                    match w.seen {
                        seen if seen == mine => {
                            let frame = m.frame_at(w.ts, w.data, w.len, w.orig_len);
                            let pkt = match block.packets.get(w.packet as usize) {
                                Some(p) => Some(p.attach(frame.data)),
                                None => flow::decode(frame.linktype, frame.data).ok(),
                            };
                            engine.handle_decoded(&frame, pkt);
                        }
                        Seen::Undecodable => {
                            totals.undecodable += 1;
                            engine.advance(w.ts);
                        }
                        _ => engine.advance(w.ts),
                    }
                    drain(engine, seq, &mut items, notes);
                    let end = w.data + u64::from(w.tail);
                    if (seq - base).is_multiple_of(SCAN_REPORT_FRAMES)
                        || walked + end >= last_report + SCAN_REPORT_BYTES
                    {
                        last_report = walked + end;
                        let report = ScanReport::Position { file, bytes: end };
                        if !send(&mut items, seq, report) || !self.credit.wait(seq, walked + end) {
                            return false;
                        }
                        self.bury();
                    }
                }
                at = block.stop.next;
                let end = m.end_at(&block.stop, in_file);
                drop(block);
                if let Some(end) = end {
                    // Nothing after this is read (the blocks left are the file's last ones
                    // after an error): nobody walks them, and nobody waits for them.
                    result = end;
                    self.credit.analysed(self.id, after);
                    if next_walk < after {
                        next_walk = after;
                    }
                    break;
                }
                self.credit.analysed(self.id, k + 1);
            }
            walked += m.size();
            if !send(&mut items, seq, ScanReport::FileEnd { file, result }) {
                return false;
            }
        }
        totals.frames = seq - base;
        send(&mut items, seq, ScanReport::Done(totals))
    }

    /// Walks block `k` of the walk for everyone: from where records seem to start in it (from
    /// the first record, in a file's first block).
    fn walk_numbered(&self, files: &[MappedCapture], starts: &[u64], k: u64) -> Block {
        let file = starts.partition_point(|&s| s <= k).saturating_sub(1);
        let Some(m) = files.get(file) else {
            return Block::unfound();
        };
        let i = k - starts[file];
        let begin = m.first_record() + i * SCAN_BLOCK;
        let from = if i == 0 {
            Some(begin)
        } else {
            m.record_near(begin, SCAN_BLOCK)
        };
        match from {
            Some(from) => self.walk(m, from, block_end(m, i)),
            None => Block::unfound(),
        }
    }

    /// Reads the records of `m` from `from` (a record start) until `until`, decoding each
    /// frame's link layer to find its shard.
    fn walk(&self, m: &MappedCapture, from: u64, until: u64) -> Block {
        let (last_frames, last_packets) = self.last_counts.get();
        let mut frames = Vec::with_capacity(last_frames + last_frames / 8);
        let mut packets = Vec::with_capacity(last_packets + last_packets / 8);
        let stop = m.walk(from, until, |frame, data, end| {
            let mut packet = NO_PACKET;
            let seen = match flow::decode(frame.linktype, frame.data) {
                Err(_) => Seen::Undecodable,
                Ok(pkt) => match self.sharding.shard_of(&pkt) {
                    None => Seen::Ignored,
                    Some(shard) => {
                        if let (Some(d), Ok(i)) =
                            (pkt.detach(frame.data), u32::try_from(packets.len()))
                        {
                            packet = i;
                            packets.push(d);
                        }
                        Seen::Shard(u32::try_from(shard).unwrap_or(u32::MAX))
                    }
                },
            };
            frames.push(Walked {
                ts: frame.ts,
                data,
                // The captured length: at most libpcap's maximum.
                tail: u32::try_from(end.saturating_sub(data)).unwrap_or(u32::MAX),
                len: u32::try_from(frame.data.len()).unwrap_or(u32::MAX),
                orig_len: frame.orig_len,
                seen,
                packet,
            });
        });
        self.last_counts.set((frames.len(), packets.len()));
        Block {
            from: Some(from),
            frames,
            packets,
            stop,
        }
    }
}

/// The blocks of [`SCAN_BLOCK`] bytes that `m`'s records span (none for a header only).
fn blocks_of(m: &MappedCapture) -> u64 {
    m.size()
        .saturating_sub(m.first_record())
        .div_ceil(SCAN_BLOCK)
}

/// Where block `i` of `m` ends: a walk of it stops at the first record from there on (the
/// last block's, at the end of the file).
fn block_end(m: &MappedCapture, i: u64) -> u64 {
    m.first_record()
        .saturating_add((i + 1).saturating_mul(SCAN_BLOCK))
        .min(m.size())
}

/// How many frames of a block ahead a worker prefetches the bytes of its own frames.
const PREFETCH_FRAMES: usize = 8;

/// A worker: runs its engine over each batch and reports the tagged records.
fn work(walk: &Walk, mut engine: Engine, input: &Receiver<Batch>, out: &Sender<Output>) {
    let id = walk.id;
    let mut notes = Vec::new();
    while let Ok(mut batch) = input.recv() {
        let mut items = Vec::new();
        let mut gone = false;
        let run = catch_unwind(AssertUnwindSafe(|| {
            if let Some(scan) = batch.scan.take() {
                gone = !walk.scan(&mut engine, &scan, batch.base, out, &mut notes);
                if gone {
                    return None;
                }
            }
            let mut ticks = batch.ticks.iter().peekable();
            for (i, m) in batch.frames.iter().enumerate() {
                while let Some(t) = ticks.next_if(|t| t.at <= i) {
                    engine.advance(t.ts);
                    drain(&mut engine, batch.base + t.seq, &mut items, &mut notes);
                }
                let src: &[u8] = match batch.chunks.get(m.chunk) {
                    Some(c) => c,
                    None => &batch.data,
                };
                let frame = Frame {
                    ts: m.ts,
                    linktype: m.linktype,
                    data: src.get(m.start..m.start + m.len).unwrap_or_default(),
                    orig_len: m.orig_len,
                };
                engine.handle_frame(&frame);
                drain(&mut engine, batch.base + m.seq, &mut items, &mut notes);
            }
            for t in ticks {
                engine.advance(t.ts);
                drain(&mut engine, batch.base + t.seq, &mut items, &mut notes);
            }
            engine.advance(batch.now);
            drain(&mut engine, batch.watermark, &mut items, &mut notes);
            if batch.finish {
                while engine.finish_some(super::FINISH_CHUNK) {
                    drain(&mut engine, u64::MAX, &mut items, &mut notes);
                    let chunk = Output {
                        worker: id,
                        items: std::mem::take(&mut items),
                        watermark: batch.watermark,
                        recycled: None,
                        summary: None,
                        error: None,
                        snapshot: None,
                        scan: None,
                    };
                    if out.send(chunk).is_err() {
                        break;
                    }
                    walk.bury();
                }
                drain(&mut engine, u64::MAX, &mut items, &mut notes);
                Some(engine.summary())
            } else {
                None
            }
        }));
        if run.is_err() {
            // Walking workers must not wait for the blocks this one would have walked.
            walk.credit.abandon(id);
        }
        let finish = batch.finish;
        let snapshot = (batch.snapshot && run.is_ok()).then(|| engine.snapshot());
        batch.reset();
        let (summary, error) = match run {
            Ok(s) => (s, None),
            Err(_) => (
                None,
                Some(format!(
                    "internal error: analysis worker {id} failed; its flows are incomplete"
                )),
            ),
        };
        let failed = error.is_some();
        let sent = out.send(Output {
            worker: id,
            items,
            watermark: batch.watermark,
            recycled: Some(batch),
            summary,
            error,
            snapshot,
            scan: None,
        });
        if sent.is_err() || failed || finish || gone {
            return;
        }
        walk.bury();
    }
}

fn drain(engine: &mut Engine, seq: u64, items: &mut Vec<(u64, Item)>, notes: &mut Vec<CrossNote>) {
    while let Some(r) = engine.poll_record() {
        items.push((seq, Item::Record(Box::new(r))));
    }
    engine.take_notes(notes);
    if !notes.is_empty() {
        items.extend(notes.drain(..).map(|n| (seq, Item::Note(Box::new(n)))));
    }
}

/// Which shard a packet belongs to (a hash; `None` when no engine would look at it).
fn shard_hash(pkt: &flow::Packet<'_>, ports: &SmbPorts, quic_ports: &[u16]) -> Option<u64> {
    match &pkt.transport {
        Transport::Tcp(seg) => {
            if !ports.contains(seg.src_port) && !ports.contains(seg.dst_port) {
                return None;
            }
            let a = endpoint_hash(SocketAddr::new(pkt.src, seg.src_port));
            let b = endpoint_hash(SocketAddr::new(pkt.dst, seg.dst_port));
            Some(mix(a.min(b), a.max(b)))
        }
        Transport::Udp {
            src_port, dst_port, ..
        } => {
            let src = SocketAddr::new(pkt.src, *src_port);
            let dst = SocketAddr::new(pkt.dst, *dst_port);
            match (quic_ports.contains(src_port), quic_ports.contains(dst_port)) {
                (false, false) => None,
                (false, true) => Some(endpoint_hash(dst)),
                (true, false) => Some(endpoint_hash(src)),
                (true, true) => {
                    let (a, b) = (endpoint_hash(src), endpoint_hash(dst));
                    Some(mix(a.min(b), a.max(b)))
                }
            }
        }
        Transport::Other => None,
    }
}

fn endpoint_hash(ep: SocketAddr) -> u64 {
    let ip = match ep.ip() {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    };
    mix(mix(ip as u64, (ip >> 64) as u64), u64::from(ep.port()))
}

/// A 64-bit mixing step (multiply-xorshift); deterministic, so sharding is the same each run.
fn mix(h: u64, v: u64) -> u64 {
    let x = (h ^ v.rotate_left(32))
        .wrapping_add(v)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::TcpSeg;

    fn tcp(src: &str, sp: u16, dst: &str, dp: u16) -> flow::Packet<'static> {
        flow::Packet {
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            transport: Transport::Tcp(TcpSeg {
                src_port: sp,
                dst_port: dp,
                seq: 0,
                ack: 0,
                syn: false,
                ack_flag: true,
                fin: false,
                rst: false,
                payload: &[],
            }),
            truncated: false,
        }
    }

    fn udp(src: &str, sp: u16, dst: &str, dp: u16) -> flow::Packet<'static> {
        flow::Packet {
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            transport: Transport::Udp {
                src_port: sp,
                dst_port: dp,
                payload: &[],
            },
            truncated: false,
        }
    }

    fn captures() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("captures")
    }

    /// The records of one engine reading `files` in order, sorted, and its summary.
    fn one_engine(files: &[std::path::PathBuf]) -> (Vec<String>, Summary) {
        let mut e = Engine::new(Config::default());
        let mut out = Vec::new();
        for f in files {
            let mut cap = crate::capture::OfflineCapture::open(f).expect("opens");
            while let Ok(Some(frame)) = cap.next_frame() {
                e.handle_frame(&frame);
            }
        }
        e.finish();
        while let Some(r) = e.poll_record() {
            out.push(format!("{r:?}"));
        }
        out.sort();
        (out, e.summary())
    }

    type FileEnd = (usize, Result<(), CaptureError>);

    /// Records (sorted), summary and file ends of `jobs` workers walking `files`, with a
    /// slow consumer.
    fn walked(files: &[std::path::PathBuf], jobs: usize) -> (Vec<String>, Summary, Vec<FileEnd>) {
        let mut e = ShardedEngine::new(Config::default(), jobs).expect("threads");
        let maps: Vec<MappedCapture> = files
            .iter()
            .map(|f| MappedCapture::open(f).expect("opens").expect("maps"))
            .collect();
        e.scan(maps);
        let mut got = Vec::new();
        let mut ends = Vec::new();
        let mut last = (0, 0);
        while let Some(ev) = e.next_scan_event() {
            match ev {
                ScanEvent::Progress { file, bytes } => {
                    assert!((file, bytes) > last, "progress moves on");
                    last = (file, bytes);
                }
                ScanEvent::FileEnd { file, result } => ends.push((file, result)),
            }
            // A slow consumer: the workers wait for it (the window is 32 frames here).
            std::thread::sleep(Duration::from_micros(200));
            // Given back as `analyze` does: freed by the worker that made it, while it walks.
            while let Some(r) = e.poll_record() {
                got.push(format!("{r:?}"));
                e.recycle(r);
            }
        }
        e.finish();
        // Given back after the workers ended: freed here.
        while let Some(r) = e.poll_record() {
            got.push(format!("{r:?}"));
            e.recycle(r);
        }
        got.sort();
        (got, e.summary(), ends)
    }

    /// Walks `files` at -j2 and -j3, checks the records and summary against one engine's,
    /// and gives each run's file ends, as (file, the error's message).
    fn walked_like_one_engine(files: &[std::path::PathBuf]) -> Vec<Vec<(usize, Option<String>)>> {
        let (want, want_sum) = one_engine(files);
        assert!(!want.is_empty());
        [2, 3]
            .into_iter()
            .map(|jobs| {
                let (got, sum, ends) = walked(files, jobs);
                assert_eq!(got, want, "-j{jobs}");
                assert_eq!(sum.frames, want_sum.frames);
                assert_eq!(sum.bytes, want_sum.bytes);
                assert_eq!(sum.undecodable_frames, want_sum.undecodable_frames);
                assert_eq!(sum.connections, want_sum.connections);
                assert_eq!(sum.findings, want_sum.findings);
                assert!(sum.errors.is_empty(), "{:?}", sum.errors);
                ends.into_iter()
                    .map(|(f, r)| (f, r.err().map(|e| e.to_string())))
                    .collect()
            })
            .collect()
    }

    /// How the one-thread reader ends `path`: `None` cleanly, or its error's message.
    fn reader_says(path: &std::path::Path) -> Option<String> {
        let mut cap = crate::capture::OfflineCapture::open(path).expect("opens");
        loop {
            match cap.next_frame() {
                Ok(Some(_)) => {}
                Ok(None) => return None,
                Err(e) => return Some(e.to_string()),
            }
        }
    }

    #[test]
    fn workers_walking_mapped_files_give_one_engines_records() {
        let dir = captures();
        let tmp = std::env::temp_dir().join(format!("smbscope-scan-{}", std::process::id()));
        std::fs::create_dir_all(&tmp).expect("temp dir");
        let whole = std::fs::read(dir.join("smb311-default.pcap")).expect("capture");
        let cut = tmp.join("cut.pcap");
        std::fs::write(&cut, &whole[..whole.len() - 37]).expect("write");
        let files = vec![
            dir.join("mixed.pcap"),
            cut.clone(),
            dir.join("smb311-sign-gmac.pcap"),
            dir.join("guest.pcap"),
        ];
        // Each file ends once, in order; the cut one as one engine's reader ends it.
        let cut_says = reader_says(&cut);
        assert!(cut_says.as_ref().is_some_and(|m| m.contains("truncated")));
        for ends in walked_like_one_engine(&files) {
            assert_eq!(
                ends,
                vec![(0, None), (1, cut_says.clone()), (2, None), (3, None)]
            );
        }
        let _ = std::fs::remove_dir_all(&tmp);
    }

    #[test]
    fn an_error_mid_file_ends_that_file_only_and_a_header_only_file_ends_cleanly() {
        // smb311-default.pcap with an absurd record length after its 20th record, then a file
        // of a header only, then mixed.pcap: the first ends there with the reader's error,
        // the others are read whole, at any number of workers.
        let tmp = std::env::temp_dir().join(format!("smbscope-mid-{}", std::process::id()));
        std::fs::create_dir_all(&tmp).expect("temp dir");
        let whole = std::fs::read(captures().join("smb311-default.pcap")).expect("capture");
        let mut at = 24;
        for _ in 0..20 {
            let caplen = u32::from_le_bytes(whole[at + 8..at + 12].try_into().expect("4 bytes"));
            at += 16 + caplen as usize;
        }
        let mut bad = whole[..at].to_vec();
        bad.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0]);
        bad.extend_from_slice(&whole[at..]);
        let files = vec![
            tmp.join("bad.pcap"),
            tmp.join("header.pcap"),
            captures().join("mixed.pcap"),
        ];
        std::fs::write(&files[0], &bad).expect("write");
        std::fs::write(&files[1], &whole[..24]).expect("write");
        let said = reader_says(&files[0]);
        assert!(said.is_some(), "the reader stops on the bad record");
        for ends in walked_like_one_engine(&files) {
            assert_eq!(ends, vec![(0, said.clone()), (1, None), (2, None)]);
        }
        let _ = std::fs::remove_dir_all(&tmp);
    }

    #[test]
    fn blocks_whose_first_record_was_guessed_wrong_are_walked_again() {
        // mixed.pcap's frames with their times moved to the first seconds of 1970 (so the
        // seconds' top byte is 0), and a frame of zeros (no IP) before every fourth: zeros
        // look like a chain of empty records, so a block starting inside them is guessed
        // wrong, and its walk must start again where the block before ended.
        let tmp = std::env::temp_dir().join(format!("smbscope-guess-{}", std::process::id()));
        std::fs::create_dir_all(&tmp).expect("temp dir");
        let path = tmp.join("zeros.pcap");
        let mut file = Vec::new();
        for v in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 262_144, 1] {
            file.extend_from_slice(&v.to_le_bytes());
        }
        let mut starts = Vec::new();
        let mut record = |file: &mut Vec<u8>, secs: u32, data: &[u8], orig: u32| {
            starts.push(file.len() as u64);
            let caplen = data.len() as u32;
            for v in [secs, 0, caplen, orig] {
                file.extend_from_slice(&v.to_le_bytes());
            }
            file.extend_from_slice(data);
        };
        let mut cap =
            crate::capture::OfflineCapture::open(&captures().join("mixed.pcap")).expect("opens");
        let mut n = 0u32;
        while let Some(f) = cap.next_frame().expect("reads") {
            if n.is_multiple_of(4) {
                record(&mut file, n / 8, &[0; 1500], 1500);
            }
            record(&mut file, n / 8, f.data, f.orig_len);
            n += 1;
        }
        std::fs::write(&path, &file).expect("write");
        let map = MappedCapture::open(&path).expect("opens").expect("maps");
        let wrong = (1..blocks_of(&map))
            .filter_map(|i| map.record_near(map.first_record() + i * SCAN_BLOCK, SCAN_BLOCK))
            .filter(|g| !starts.contains(g))
            .count();
        assert!(wrong > 10, "the test guesses wrong: {wrong}");
        let files = vec![path];
        for ends in walked_like_one_engine(&files) {
            assert_eq!(ends, vec![(0, None)]);
        }
        let _ = std::fs::remove_dir_all(&tmp);
    }

    #[test]
    fn credit_holds_a_worker_back_by_frames_and_by_bytes_until_the_merger_moves() {
        let credit = Arc::new(Credit::default());
        // Within both windows: no wait.
        assert!(credit.wait(SCAN_WINDOW_FRAMES, SCAN_WINDOW_BYTES));
        let run = |seq: u64, at: u64| {
            let c = Arc::clone(&credit);
            std::thread::spawn(move || c.wait(seq, at))
        };
        // Too many frames ahead of the released records.
        let w = run(SCAN_WINDOW_FRAMES + 10, 0);
        std::thread::sleep(Duration::from_millis(20));
        assert!(!w.is_finished(), "waits for the merger");
        credit.release(10);
        assert!(w.join().expect("ends"), "released");
        // Too far into the files ahead of the slowest worker.
        let w = run(0, SCAN_WINDOW_BYTES + 5);
        std::thread::sleep(Duration::from_millis(20));
        assert!(!w.is_finished(), "waits for the slowest worker");
        credit.slowest_at(5);
        assert!(w.join().expect("ends"));
        // A new walk starts from nothing; closing frees every waiter, with false.
        credit.restart(&[0, 1], 2);
        let w = run(0, SCAN_WINDOW_BYTES + 1);
        std::thread::sleep(Duration::from_millis(20));
        assert!(!w.is_finished());
        credit.close();
        assert!(!w.join().expect("ends"), "the merger is gone");
    }

    #[test]
    fn blocks_are_walked_once_waited_for_taken_over_and_dropped_when_all_are_past() {
        let credit = Arc::new(Credit::default());
        credit.restart(&[0, 1], 2);
        let empty = |from| Block {
            from: Some(from),
            ..Block::unfound()
        };
        // Worker 1 waits in `take` for block `k` from `at`, until `publish` puts it there.
        let waits_for = |k: u64, at: u64, publish: &dyn Fn()| {
            let c = Arc::clone(&credit);
            let waiter = std::thread::spawn(move || match c.take(k, 1, at) {
                Taken::Block(b) => b.from,
                _ => None,
            });
            std::thread::sleep(Duration::from_millis(20));
            assert!(
                !waiter.is_finished(),
                "block {k} waits for the walk under way"
            );
            publish();
            assert_eq!(waiter.join().expect("ends"), Some(at));
        };
        // Worker 0 takes block 0 to walk; worker 1 then waits for it instead of walking it.
        assert_eq!(credit.claim(0, 0), Claim::Yours);
        assert_eq!(credit.claim(0, 1), Claim::Taken);
        waits_for(0, 24, &|| credit.publish(0, empty(24)));
        // A block nobody took is the taker's to walk.
        assert!(matches!(credit.take(1, 0, 1000), Taken::Walk));
        assert_eq!(credit.claim(1, 1), Claim::Taken);
        // A worker that stops leaves its blocks to the others.
        assert_eq!(credit.claim(2, 1), Claim::Yours);
        credit.abandon(1);
        assert!(matches!(credit.take(2, 0, 2000), Taken::Walk));
        // Blocks go once every worker still walking is past them.
        credit.publish(1, empty(1000));
        credit.analysed(0, 1);
        let kept = |k| credit.state.lock().expect("lock").blocks.contains_key(&k);
        assert!(
            !kept(0) && kept(1),
            "worker 1 is gone: worker 0 alone counts"
        );
        credit.analysed(0, 2);
        assert!(!kept(1));
        // Walking ahead stops while the blocks kept hold enough frames (they are counted
        // when replaced and when dropped).
        let frames = |n, from| Block {
            frames: vec![
                Walked {
                    ts: Timestamp::default(),
                    data: 0,
                    len: 0,
                    orig_len: 0,
                    tail: 0,
                    seen: Seen::Ignored,
                    packet: NO_PACKET,
                };
                n
            ],
            ..empty(from)
        };
        credit.publish(2, frames(SCAN_HELD_FRAMES, 2000));
        assert_eq!(credit.claim(3, 0), Claim::Full);
        credit.publish(2, frames(1, 2000));
        assert_eq!(credit.claim(3, 0), Claim::Yours);
        credit.publish(3, frames(SCAN_HELD_FRAMES, 3000));
        assert_eq!(credit.claim(4, 0), Claim::Full);
        credit.analysed(0, 4);
        assert_eq!(credit.state.lock().expect("lock").held, 0);
        // A block walked from a wrong guess is walked again by the first worker to see it;
        // the others wait for that walk.
        credit.publish(4, empty(4100));
        assert!(matches!(credit.take(4, 0, 4000), Taken::Walk));
        waits_for(4, 4000, &|| credit.publish(4, empty(4000)));
        // Closing frees a waiter.
        assert_eq!(credit.claim(5, 0), Claim::Yours);
        let c = Arc::clone(&credit);
        let waiter = std::thread::spawn(move || matches!(c.take(5, 1, 5000), Taken::Closed));
        std::thread::sleep(Duration::from_millis(20));
        credit.close();
        assert!(waiter.join().expect("ends"));
    }

    #[test]
    fn a_dropped_engine_stops_walking_workers() {
        let mut e = ShardedEngine::new(Config::default(), 2).expect("threads");
        let map = MappedCapture::open(&captures().join("mixed.pcap"))
            .expect("opens")
            .expect("maps");
        e.scan(vec![map]);
        // Nobody takes the records: the workers wait at the window, then see the engine go.
        std::thread::sleep(Duration::from_millis(50));
        let workers = std::mem::take(&mut e.workers);
        drop(e);
        for w in workers {
            w.join().expect("worker ends");
        }
    }

    #[test]
    fn both_directions_of_a_flow_share_a_shard() {
        let ports = SmbPorts::default();
        let q = [443];
        let a = shard_hash(&tcp("10.0.0.1", 50000, "10.0.0.2", 445), &ports, &q);
        let b = shard_hash(&tcp("10.0.0.2", 445, "10.0.0.1", 50000), &ports, &q);
        assert!(a.is_some());
        assert_eq!(a, b);
        let c = shard_hash(&tcp("fe80::1", 50000, "fe80::2", 445), &ports, &q);
        assert_eq!(
            c,
            shard_hash(&tcp("fe80::2", 445, "fe80::1", 50000), &ports, &q)
        );
        // Not SMB: dropped by the reader.
        assert_eq!(
            shard_hash(&tcp("10.0.0.1", 50000, "10.0.0.2", 80), &ports, &q),
            None
        );
        assert_eq!(
            shard_hash(&udp("10.0.0.1", 5353, "10.0.0.2", 53), &ports, &q),
            None
        );
    }

    #[test]
    fn a_migrating_quic_client_stays_on_its_servers_shard() {
        let ports = SmbPorts::default();
        let q = [443];
        let first = shard_hash(&udp("10.0.0.1", 50000, "10.0.0.9", 443), &ports, &q);
        let moved = shard_hash(&udp("10.0.0.77", 61000, "10.0.0.9", 443), &ports, &q);
        let back = shard_hash(&udp("10.0.0.9", 443, "10.0.0.77", 61000), &ports, &q);
        assert!(first.is_some());
        assert_eq!(first, moved);
        assert_eq!(first, back);
    }

    #[test]
    fn flows_spread_over_shards() {
        let ports = SmbPorts::default();
        let mut counts = [0u32; 2];
        for i in 0..10_000u32 {
            let src = std::net::Ipv4Addr::from(0x0a00_0000 | (i >> 8)).to_string();
            let h = shard_hash(
                &tcp(&src, 40000 + (i % 256) as u16, "10.9.9.9", 445),
                &ports,
                &[],
            )
            .unwrap();
            counts[(h % 2) as usize] += 1;
        }
        assert!(counts.iter().all(|&c| c > 4_500), "{counts:?}");
    }

    #[test]
    fn empty_input_finishes_with_an_empty_summary() {
        let mut e = ShardedEngine::new(Config::default(), 2).unwrap();
        assert_eq!(e.jobs(), 2);
        e.finish();
        e.finish();
        assert!(e.poll_record().is_none());
        let s = e.summary();
        assert_eq!((s.frames, s.connections), (0, 0));
        assert!(s.errors.is_empty(), "{:?}", s.errors);
    }
}
