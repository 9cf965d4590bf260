//! [`Analyzer`]: one [`Engine`] on the caller's thread, or a [`ShardedEngine`] over worker
//! threads, behind one interface for `analyze`, `watch` and `tui`.

use super::{Config, Engine, FINISH_CHUNK, ShardedEngine};
use crate::capture::Frame;
use crate::event::{ConnectionRecord, Record, SessionRecord, Summary};

/// One engine, or several sharded over worker threads (chosen once per run).
#[allow(clippy::large_enum_variant)]
pub enum Analyzer {
    One(Engine),
    Sharded(ShardedEngine),
}

impl std::fmt::Debug for Analyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Analyzer")
            .field("jobs", &self.jobs())
            .finish_non_exhaustive()
    }
}

impl Analyzer {
    /// `jobs` analysis threads: 1 is an engine on this thread. When the worker threads cannot
    /// be started, a warning goes to stderr and one engine does the work.
    pub fn new(config: Config, jobs: usize) -> Analyzer {
        if jobs <= 1 {
            return Analyzer::One(Engine::new(config));
        }
        match ShardedEngine::new(config.clone(), jobs) {
            Ok(e) => Analyzer::Sharded(e),
            Err(e) => {
                eprintln!(
                    "smbscope: warning: cannot start {jobs} analysis threads ({e}); using one"
                );
                Analyzer::One(Engine::new(config))
            }
        }
    }

    /// Analysis threads (1 for an engine on this thread).
    pub fn jobs(&self) -> usize {
        match self {
            Analyzer::One(_) => 1,
            Analyzer::Sharded(e) => e.jobs(),
        }
    }

    /// Feeds one captured frame.
    pub fn handle_frame(&mut self, frame: &Frame<'_>) {
        match self {
            Analyzer::One(e) => e.handle_frame(frame),
            Analyzer::Sharded(e) => e.handle_frame(frame),
        }
    }

    /// The next record, if one is ready.
    pub fn poll_record(&mut self) -> Option<Record> {
        match self {
            Analyzer::One(e) => e.poll_record(),
            Analyzer::Sharded(e) => e.poll_record(),
        }
    }

    /// Takes back the record [`Self::poll_record`] returned last, once the caller is done
    /// with it (see [`ShardedEngine::recycle`]; one engine just drops it).
    pub fn recycle(&mut self, r: Record) {
        if let Analyzer::Sharded(e) = self {
            e.recycle(r);
        }
    }

    /// No frame came for a while: the shards get what they have been given (nothing to do
    /// for one engine).
    pub fn flush(&mut self) {
        if let Analyzer::Sharded(e) = self {
            e.flush();
        }
    }

    /// Ends a part of the open flows; true while more remain (drain records in between).
    pub fn finish_some(&mut self) -> bool {
        match self {
            Analyzer::One(e) => e.finish_some(FINISH_CHUNK),
            Analyzer::Sharded(e) => e.finish_some(),
        }
    }

    /// The open connections and their sessions (from the shards, as of their last report).
    pub fn snapshot(&mut self) -> Vec<(ConnectionRecord, Vec<SessionRecord>)> {
        match self {
            Analyzer::One(e) => e.snapshot(),
            Analyzer::Sharded(e) => e.snapshot(),
        }
    }

    /// Totals so far.
    pub fn summary(&self) -> Summary {
        match self {
            Analyzer::One(e) => e.summary(),
            Analyzer::Sharded(e) => e.summary(),
        }
    }
}
