//! [`ParallelReader`]: capture files read by several threads, their frames delivered in
//! capture order.
//!
//! The files are cut into *units*: each uncompressed classic pcap file into chunks of
//! [`CHUNK_BYTES`] ([`super::chunked`]), every other file (pcapng, gzip, files only libpcap
//! reads) into one unit read from start to end by [`super::OfflineCapture`]. Unit `u` goes to
//! reader thread `u % threads`, so each thread works through its units in order, a few ahead
//! of the consumer (its queue holds [`QUEUED`] results), and [`ParallelReader::next`] takes the
//! units back in order, round robin. Several files, and the chunks of one file, are thus read
//! at once.
//!
//! Each reader thread also hands every frame it reads to its own copy of the caller's
//! [`BlockSink`] (for the sharded analysis: link decode and the choice of shard), so that work
//! leaves the consumer's thread too, and runs while the frame is in the reader's cache. The consumer checks that each chunk starts where the one before
//! it ended and reads it again itself when not (see [`super::chunked`]): the frames, errors
//! and truncation reported are exactly those of [`super::OfflineCapture`] reading the files one
//! after the other.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, SyncSender};

use super::chunked::{Chunk, ClassicFile};
use super::{BlockSink, CaptureError, FrameRef, OfflineCapture};

/// Bytes per chunk of a classic pcap file.
pub const CHUNK_BYTES: u64 = 2 << 20;
/// Results queued per reader thread before it waits for the consumer.
const QUEUED: usize = 2;
/// Frame bytes per block copied out of a file read from start to end...
const BLOCK_BYTES: usize = 1 << 20;
/// ...and frames per such block.
const BLOCK_FRAMES: u64 = 2048;
/// Chunk buffers a reader thread keeps for reuse.
const SPARE_BUFFERS: usize = 8;

/// What [`ParallelReader::next`] delivers.
#[derive(Debug)]
pub enum ReadEvent<T> {
    /// The next frames of file `file` (an index into the list given), prepared.
    Frames {
        file: usize,
        /// Frames in this block.
        frames: u64,
        /// Bytes of the file read so far (for progress).
        bytes_read: u64,
        item: T,
    },
    /// File `file` is done: every frame was delivered, or the error that ended it (the frames
    /// before it were delivered). A file that cannot be opened ends at once.
    FileEnd {
        file: usize,
        result: Result<(), CaptureError>,
    },
}

#[derive(Clone)]
enum Unit {
    Chunk {
        file: usize,
        classic: Arc<ClassicFile>,
        range: std::ops::Range<u64>,
        last: bool,
    },
    Whole {
        file: usize,
        path: PathBuf,
    },
}

enum Msg<T> {
    Chunk(Chunk<T>),
    Frames {
        frames: u64,
        bytes_read: u64,
        item: T,
    },
    End(Result<(), CaptureError>),
}

/// Per-file state on the consumer's side.
#[derive(Default)]
struct FileState {
    /// Offset of the next record header (classic pcap files).
    expected: u64,
    frames: u64,
    /// An error ended the file: its remaining chunks are skipped.
    ended: bool,
}

/// Reads capture files with several threads; see the module documentation.
pub struct ParallelReader<S: BlockSink> {
    units: Vec<Unit>,
    next_unit: usize,
    receivers: Vec<Receiver<Msg<S::Out>>>,
    files: Vec<FileState>,
    /// The consumer's sink, for chunks it reads again.
    sink: S,
    /// The consumer's buffer for chunks it reads again.
    buf: Arc<Vec<u8>>,
    /// A file's end, waiting behind the frames of its last chunk.
    pending: Option<ReadEvent<S::Out>>,
}

impl<S: BlockSink> std::fmt::Debug for ParallelReader<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParallelReader")
            .field("units", &self.units.len())
            .field("next_unit", &self.next_unit)
            .field("threads", &self.receivers.len())
            .finish_non_exhaustive()
    }
}

impl<S: BlockSink> ParallelReader<S> {
    /// Starts `threads` (at least 1) reader threads over `files`, in order, each with a copy
    /// of `sink`.
    pub fn start(files: &[PathBuf], threads: usize, sink: S) -> std::io::Result<ParallelReader<S>> {
        Self::start_with(files, threads, CHUNK_BYTES, sink)
    }

    /// [`ParallelReader::start`] with chunks of `chunk_bytes`.
    pub(crate) fn start_with(
        files: &[PathBuf],
        threads: usize,
        chunk_bytes: u64,
        sink: S,
    ) -> std::io::Result<ParallelReader<S>> {
        let threads = threads.max(1);
        let mut units = Vec::new();
        for (file, path) in files.iter().enumerate() {
            match ClassicFile::open(path) {
                Ok(Some(c)) => {
                    let chunks = c.chunks(chunk_bytes);
                    if chunks.is_empty() {
                        units.push(Unit::Whole {
                            file,
                            path: path.clone(),
                        });
                        continue;
                    }
                    let c = Arc::new(c);
                    let n = chunks.len();
                    units.extend(
                        chunks
                            .into_iter()
                            .enumerate()
                            .map(|(i, range)| Unit::Chunk {
                                file,
                                classic: Arc::clone(&c),
                                range,
                                last: i + 1 == n,
                            }),
                    );
                }
                // Other formats, and files that cannot be opened: OfflineCapture reads them
                // or says why not.
                _ => units.push(Unit::Whole {
                    file,
                    path: path.clone(),
                }),
            }
        }
        let mut receivers = Vec::with_capacity(threads);
        for id in 0..threads {
            let (tx, rx) = mpsc::sync_channel(QUEUED);
            let mine: Vec<Unit> = units
                .iter()
                .enumerate()
                .filter(|(u, _)| u % threads == id)
                .map(|(_, u)| u.clone())
                .collect();
            let mut sink = sink.clone();
            std::thread::Builder::new()
                .name(format!("smbscope-read-{id}"))
                .spawn(move || read_units(&mine, &mut sink, &tx))?;
            receivers.push(rx);
        }
        Ok(ParallelReader {
            files: files
                .iter()
                .map(|_| FileState {
                    expected: super::pcap_file::FILE_HEADER_LEN as u64,
                    ..FileState::default()
                })
                .collect(),
            units,
            next_unit: 0,
            receivers,
            sink,
            buf: Arc::new(Vec::new()),
            pending: None,
        })
    }

    /// The next event in file order; `None` once every file has ended.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<ReadEvent<S::Out>> {
        if let Some(ev) = self.pending.take() {
            return Some(ev);
        }
        loop {
            let unit = self.units.get(self.next_unit)?;
            let rx = &self.receivers[self.next_unit % self.receivers.len()];
            let msg = rx.recv();
            match unit {
                Unit::Whole { file, path } => {
                    let file = *file;
                    match msg {
                        Ok(Msg::Frames {
                            frames,
                            bytes_read,
                            item,
                        }) => {
                            return Some(ReadEvent::Frames {
                                file,
                                frames,
                                bytes_read,
                                item,
                            });
                        }
                        Ok(Msg::End(result)) => {
                            self.next_unit += 1;
                            return Some(ReadEvent::FileEnd { file, result });
                        }
                        Ok(Msg::Chunk(_)) | Err(_) => {
                            let result = Err(reader_failed(path));
                            self.next_unit += 1;
                            return Some(ReadEvent::FileEnd { file, result });
                        }
                    }
                }
                Unit::Chunk {
                    file,
                    classic,
                    range,
                    last,
                } => {
                    let (file, last) = (*file, *last);
                    self.next_unit += 1;
                    let Ok(Msg::Chunk(guess)) = msg else {
                        if self.files[file].ended {
                            continue;
                        }
                        self.files[file].ended = true;
                        return Some(ReadEvent::FileEnd {
                            file,
                            result: Err(reader_failed(classic.path())),
                        });
                    };
                    let state = &mut self.files[file];
                    if state.ended {
                        continue;
                    }
                    let Chunk {
                        out: item,
                        frames,
                        ends,
                    } = classic.confirm(
                        range.clone(),
                        state.expected,
                        guess,
                        &mut self.buf,
                        &mut self.sink,
                    );
                    state.expected = ends.next;
                    state.frames += frames;
                    let end = match ends.stop {
                        Some(stop) => {
                            state.ended = true;
                            Some(Err(super::offline::classic_error(
                                classic.path(),
                                &stop,
                                state.frames,
                            )))
                        }
                        None if last => Some(Ok(())),
                        None => None,
                    };
                    let event = ReadEvent::Frames {
                        file,
                        frames,
                        bytes_read: ends.next.min(classic.size()),
                        item,
                    };
                    if let Some(result) = end {
                        self.pending = Some(ReadEvent::FileEnd { file, result });
                    }
                    return Some(event);
                }
            }
        }
    }
}

/// A reader thread ended without reporting on its unit (it panicked).
fn reader_failed(path: &Path) -> CaptureError {
    CaptureError::Read {
        path: path.to_path_buf(),
        msg: "internal error: a reader thread stopped".to_owned(),
    }
}

/// A reader thread: its units in order; stops when the consumer is gone.
fn read_units<S: BlockSink>(units: &[Unit], sink: &mut S, tx: &SyncSender<Msg<S::Out>>) {
    let mut spare: Vec<Arc<Vec<u8>>> = Vec::new();
    for unit in units {
        let sent = match unit {
            Unit::Chunk { classic, range, .. } => {
                let mut buf = match spare.iter().position(|b| Arc::strong_count(b) == 1) {
                    Some(i) => spare.swap_remove(i),
                    None => Arc::new(Vec::new()),
                };
                // The first chunk starts on a record; the others are guessed.
                let exact = range.start == super::pcap_file::FILE_HEADER_LEN as u64;
                let c = classic.read_chunk(range.clone(), exact, &mut buf, sink);
                if spare.len() < SPARE_BUFFERS {
                    spare.push(buf);
                }
                tx.send(Msg::Chunk(c)).is_ok()
            }
            Unit::Whole { path, .. } => read_whole(path, sink, tx),
        };
        if !sent {
            return;
        }
    }
}

/// Reads a file from start to end, copying its frames into blocks; false when the consumer
/// is gone.
fn read_whole<S: BlockSink>(path: &Path, sink: &mut S, tx: &SyncSender<Msg<S::Out>>) -> bool {
    let mut cap = match OfflineCapture::open(path) {
        Ok(c) => c,
        Err(e) => return tx.send(Msg::End(Err(e))).is_ok(),
    };
    let mut data = Vec::with_capacity(BLOCK_BYTES);
    let mut frames = 0u64;
    let flush = |data: &mut Vec<u8>, frames: &mut u64, bytes_read: u64, sink: &mut S| {
        let buf = Arc::new(std::mem::replace(data, Vec::with_capacity(BLOCK_BYTES)));
        let msg = Msg::Frames {
            frames: std::mem::take(frames),
            bytes_read,
            item: sink.finish(&buf),
        };
        tx.send(msg).is_ok()
    };
    let result = loop {
        match cap.next_frame() {
            Ok(Some(f)) => {
                let r = FrameRef {
                    ts: f.ts,
                    linktype: f.linktype,
                    orig_len: f.orig_len,
                    start: data.len(),
                    len: f.data.len(),
                };
                data.extend_from_slice(f.data);
                sink.frame(&data[r.start..], &r);
                frames += 1;
                if (data.len() >= BLOCK_BYTES || frames >= BLOCK_FRAMES)
                    && !flush(&mut data, &mut frames, cap.bytes_read(), sink)
                {
                    return false;
                }
            }
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    if frames > 0 && !flush(&mut data, &mut frames, cap.bytes_read(), sink) {
        return false;
    }
    tx.send(Msg::End(result)).is_ok()
}

#[cfg(test)]
#[path = "threaded_tests.rs"]
mod tests;
