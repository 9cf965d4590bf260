//! Reading one classic pcap file with several threads: the file is cut into chunks of a fixed
//! size, any thread reads any chunk with `pread` ([`std::os::unix::fs::FileExt::read_at`], no
//! shared file position) and finds its records, and the caller puts the chunks back in file
//! order ([`super::ParallelReader`]).
//!
//! A chunk owns the records whose 16-byte header *starts* inside it. The first chunk starts
//! just after the file header, on a record. Any other chunk starts at an arbitrary byte, so its
//! reader has to guess where the first record begins ([`resync`]): the first offset from which
//! a chain of plausible record headers follows (a captured length no larger than libpcap's
//! maximum and than the original length, a fraction below one second, and each timestamp
//! within a day of the one before). A guess can be wrong on hostile or odd input, so none is
//! trusted: a chunk read from a guess reports where its chain crossed the end of the chunk
//! ([`Chunk::next`]), and the chunk after it is accepted only when its guess is that very
//! offset. Otherwise it is read again from the known offset ([`ClassicFile::read_chunk`] with
//! `exact`), which is what the one-thread reader would have done. Induction from the first
//! chunk makes every delivered frame, error and truncation exactly those of
//! [`super::pcap_file::PcapFileReader`] over the same file; a wrong guess costs time, never
//! a frame.
//!
//! Each chunk is read into one buffer shared by reference ([`FrameBlock`]): the frames are
//! not copied again on their way to the analysis threads.

use std::fs::File;
use std::io;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::pcap_file::{self, FileHeader, MAX_SNAPLEN, PcapFileError, RECORD_HEADER_LEN};
use super::{BlockSink, FrameRef};

/// Extra bytes read past a chunk's end, so that the record crossing it is usually complete
/// (a larger one is finished by another read).
const READ_SLACK: usize = 16 * 1024;
/// A chunk is read this much at a time, each piece parsed right after its read: its bytes are
/// then still in the core's cache, where a whole chunk would not be.
const READ_STEP: usize = 128 * 1024;
/// Record headers chained to accept a guessed record start (fewer when the chunk ends first).
const RESYNC_CHAIN: usize = 6;
/// Largest plausible original length when guessing (TSO/GRO captures exceed 64 KiB).
const RESYNC_MAX_ORIG: u32 = 16 << 20;
/// Largest plausible step between the timestamps of consecutive records when guessing.
const RESYNC_MAX_STEP_SECS: i64 = 86_400;

/// An uncompressed classic pcap file that [`super::pcap_file`] reads (so: one that libpcap
/// would deliver exactly the same way), open for reading by chunks from any thread.
#[derive(Debug)]
pub(crate) struct ClassicFile<R = File> {
    file: R,
    path: PathBuf,
    header: FileHeader,
    size: u64,
    /// The seconds of the first record's time, to guess record starts by ([`resync`]).
    first_secs: Option<u32>,
}

/// One chunk, read.
#[derive(Debug)]
pub(crate) struct Chunk<T> {
    /// What the sink made of its frames.
    pub(crate) out: T,
    /// Frames in the chunk.
    pub(crate) frames: u64,
    pub(crate) ends: ChunkEnds,
}

/// Where a chunk's chain of records began and ended.
#[derive(Debug)]
pub(crate) struct ChunkEnds {
    /// File offset of the first record this reader took (its guess, unless read `exact`);
    /// `None` when it found none.
    pub(crate) first: Option<u64>,
    /// File offset of the first record header at or after the chunk's end, as the chain
    /// reached it (or where the chain stopped, with `stop`).
    pub(crate) next: u64,
    /// Why the chain stopped before the chunk's end, as the one-thread reader would have
    /// (the frames before it went to the sink).
    pub(crate) stop: Option<PcapFileError>,
}

impl ChunkEnds {
    /// No record taken: the chain ends at `next` (or stopped there on `stop`).
    fn none(next: u64, stop: Option<PcapFileError>) -> ChunkEnds {
        ChunkEnds {
            first: None,
            next,
            stop,
        }
    }
}

/// Positioned reads: a file ([`FileExt::read_at`]), or bytes in memory (fuzzing).
pub(crate) trait ReadAt {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;
}

impl ReadAt for File {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        FileExt::read_at(self, buf, offset)
    }
}

impl ReadAt for Vec<u8> {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let from = usize::try_from(offset).map_or(&[][..], |o| self.get(o..).unwrap_or_default());
        let n = from.len().min(buf.len());
        buf[..n].copy_from_slice(&from[..n]);
        Ok(n)
    }
}

impl ClassicFile<Vec<u8>> {
    /// A classic pcap file in memory, when its header is one the reader handles.
    pub(crate) fn from_bytes(data: Vec<u8>) -> Option<ClassicFile<Vec<u8>>> {
        let header = FileHeader::parse(&data)?;
        let first_secs = first_secs(&header, data.get(pcap_file::FILE_HEADER_LEN..));
        Some(ClassicFile {
            first_secs,
            size: data.len() as u64,
            file: data,
            path: PathBuf::from("(memory)"),
            header,
        })
    }
}

impl ClassicFile {
    /// Opens `path` when it is a classic pcap file the pure-Rust reader handles; `Ok(None)`
    /// for any other file (gzip, pcapng, other versions and link types): those are read by
    /// [`super::OfflineCapture`] from start to end.
    pub(crate) fn open(path: &Path) -> io::Result<Option<ClassicFile>> {
        let file = File::open(path)?;
        let size = file.metadata()?.len();
        let mut h = [0u8; pcap_file::FILE_HEADER_LEN + RECORD_HEADER_LEN];
        let got = read_at_most(&file, &mut h, 0)?;
        let Some(header) = FileHeader::parse(&h[..got]) else {
            return Ok(None);
        };
        let first_secs = first_secs(&header, h[..got].get(pcap_file::FILE_HEADER_LEN..));
        Ok(Some(ClassicFile {
            file,
            path: path.to_path_buf(),
            header,
            size,
            first_secs,
        }))
    }
}

impl ClassicFile {
    /// The open file, its header, its size when opened, and the seconds of its first
    /// record's time (for [`super::MappedCapture`], which maps the file).
    pub(super) fn into_parts(self) -> (File, FileHeader, u64, Option<u32>) {
        (self.file, self.header, self.size, self.first_secs)
    }
}

impl<R: ReadAt> ClassicFile<R> {
    /// The file's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The file's size in bytes (when opened).
    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    /// The chunks of the file, in order, `chunk` bytes each (the first starts after the file
    /// header; the last ends at the file's end). An empty file body gives no chunk.
    pub(crate) fn chunks(&self, chunk: u64) -> Vec<Range<u64>> {
        let chunk = chunk.max(RECORD_HEADER_LEN as u64);
        let mut out = Vec::new();
        let mut at = pcap_file::FILE_HEADER_LEN as u64;
        while at < self.size {
            let end = at.saturating_add(chunk).min(self.size);
            out.push(at..end);
            at = end;
        }
        out
    }

    /// Reads the records of chunk `range` into `buf` (reused when nobody else holds it),
    /// handing each to `sink`. With `exact`, `range.start` is known to be a record start;
    /// otherwise it is guessed.
    pub(crate) fn read_chunk<S: BlockSink>(
        &self,
        range: Range<u64>,
        exact: bool,
        buf: &mut Arc<Vec<u8>>,
        sink: &mut S,
    ) -> Chunk<S::Out> {
        if Arc::get_mut(buf).is_none() {
            *buf = Arc::new(Vec::new());
        }
        let mut frames = 0;
        // A new `Arc` has no other holder: always `Some`.
        let ends = match Arc::get_mut(buf) {
            Some(v) => self.parse(v, range.clone(), exact, sink, &mut frames),
            None => ChunkEnds::none(range.start, None),
        };
        Chunk {
            out: sink.finish(buf),
            frames,
            ends,
        }
    }

    /// [`Self::read_chunk`] into `v`.
    fn parse<S: BlockSink>(
        &self,
        v: &mut Vec<u8>,
        range: Range<u64>,
        exact: bool,
        sink: &mut S,
        frames: &mut u64,
    ) -> ChunkEnds {
        let span = usize::try_from(range.end.saturating_sub(range.start)).unwrap_or(usize::MAX);
        let mut r = Reading {
            file: &self.file as &dyn ReadAt,
            base: range.start,
            filled: 0,
            // The slack only saves a read for the record crossing the end.
            want: span.saturating_add(READ_SLACK.min(span)),
        };
        if let Err(e) = r.ensure(v, RECORD_HEADER_LEN.min(span)) {
            return match e {
                PcapFileError::Truncated if !exact => ChunkEnds::none(range.end, None),
                e => ChunkEnds::none(range.start, Some(e)),
            };
        }
        let first = if exact {
            0
        } else {
            match resync(&self.header, &v[..r.filled], span, self.first_secs) {
                Some(i) => i,
                None => return ChunkEnds::none(range.end, None),
            }
        };
        // A record starting at or after `span` belongs to the next chunk.
        let mut at = first;
        let mut stop = None;
        while at < span {
            if let Err(e) = r.ensure(v, at + RECORD_HEADER_LEN) {
                stop = Some(e);
                break;
            }
            let h = self.header.record_header(&v[at..at + RECORD_HEADER_LEN]);
            if h.caplen > MAX_SNAPLEN {
                stop = Some(PcapFileError::BadCaplen {
                    caplen: h.caplen,
                    offset: range.start + at as u64,
                });
                break;
            }
            let len = RECORD_HEADER_LEN + h.caplen as usize;
            if let Err(e) = r.ensure(v, at + len) {
                stop = Some(e);
                break;
            }
            let f = FrameRef {
                ts: h.ts,
                linktype: self.header.linktype(),
                orig_len: h.orig_len,
                start: at + RECORD_HEADER_LEN,
                len: h.delivered(&self.header),
            };
            sink.frame(&v[f.start..f.start + f.len], &f);
            *frames += 1;
            at += len;
        }
        ChunkEnds {
            first: Some(range.start + first as u64),
            next: range.start + at as u64,
            stop,
        }
    }

    /// Chunk `range` as read by another thread (`guess`), accepted when its first record is
    /// `expected`, the offset where the chain of the chunk before ended: otherwise the chunk is
    /// read again from `expected` (nothing when that is past its end), which is what reading
    /// the file in one go would have found. Every chunk taken through this in order, the first
    /// starting at the file header's end, gives exactly the one-thread reader's records.
    pub(crate) fn confirm<S: BlockSink>(
        &self,
        range: Range<u64>,
        expected: u64,
        guess: Chunk<S::Out>,
        buf: &mut Arc<Vec<u8>>,
        sink: &mut S,
    ) -> Chunk<S::Out> {
        if guess.ends.first == Some(expected) {
            return guess;
        }
        drop(guess);
        if expected >= range.end {
            return Chunk {
                out: sink.finish(&Arc::new(Vec::new())),
                frames: 0,
                ends: ChunkEnds {
                    first: Some(expected),
                    ..ChunkEnds::none(expected, None)
                },
            };
        }
        self.read_chunk(expected..range.end, true, buf, sink)
    }
}

/// A chunk being read into its buffer, a step at a time.
struct Reading<'a> {
    file: &'a dyn ReadAt,
    /// File offset of the buffer's first byte.
    base: u64,
    /// Bytes of the buffer read.
    filled: usize,
    /// Bytes the chunk normally needs (its span and the slack).
    want: usize,
}

impl Reading<'_> {
    /// Makes sure `need` bytes from the chunk's start are in `v` (reading more when the
    /// record crosses what was read); [`PcapFileError::Truncated`] when the file ends first.
    fn ensure(&mut self, v: &mut Vec<u8>, need: usize) -> Result<(), PcapFileError> {
        if self.filled >= need {
            return Ok(());
        }
        // A step ahead, but not past the chunk's needs unless this record needs it.
        let upto = need.max(self.filled.saturating_add(READ_STEP).min(self.want));
        if v.len() < upto {
            // Room for the whole chunk at once, rather than growing (and copying) by steps.
            v.reserve(self.want.max(upto).saturating_sub(v.len()));
            v.resize(upto, 0);
        }
        let n = read_at_most(
            self.file,
            &mut v[self.filled..upto],
            self.base + self.filled as u64,
        )
        .map_err(PcapFileError::Io)?;
        self.filled += n;
        if self.filled < need {
            return Err(PcapFileError::Truncated);
        }
        Ok(())
    }
}

/// The first offset below `span` in `buf` where a plausible chain of record headers starts,
/// or one near it. `near` is a capture time (in seconds) the chunk's records are likely
/// close to (the file's first record's): the offsets whose seconds field has its top byte,
/// or the next one (about 194 to 388 days of capture), are tried first, found with `memchr`;
/// the others only when none of them starts a chain. Any offset found is a guess, which
/// [`ClassicFile::confirm`] checks.
pub(super) fn resync(
    header: &FileHeader,
    buf: &[u8],
    span: usize,
    near: Option<u32>,
) -> Option<usize> {
    let end = span.min(buf.len());
    // Most offsets fail on the captured length alone: test it before the whole chain.
    let starts = |i: usize| {
        buf.get(i..i + RECORD_HEADER_LEN)
            .is_some_and(|h| header.record_header(h).caplen <= MAX_SNAPLEN)
            && plausible_chain(header, buf, i)
    };
    if let Some(secs) = near {
        // The seconds field's most significant byte: its first in a big-endian file.
        let top_at = if header.big_endian() { 0 } else { 3 };
        let top = secs.to_be_bytes()[0];
        let hay = buf.get(top_at..end.saturating_add(top_at).min(buf.len()));
        if let Some(i) = hay.and_then(|hay| {
            memchr::memchr2_iter(top, top.wrapping_add(1), hay).find(|&i| starts(i))
        }) {
            return Some(i);
        }
    }
    (0..end).find(|&i| starts(i))
}

/// The seconds field of the first record, from the bytes after the file header.
pub(super) fn first_secs(header: &FileHeader, body: Option<&[u8]>) -> Option<u32> {
    Some(header.seconds_field(body?.get(..RECORD_HEADER_LEN)?))
}

fn plausible_chain(header: &FileHeader, buf: &[u8], mut at: usize) -> bool {
    let frac_limit: i32 = if header.nanos() {
        1_000_000_000
    } else {
        1_000_000
    };
    let mut prev: Option<i64> = None;
    for _ in 0..RESYNC_CHAIN {
        let Some(h) = buf.get(at..at + RECORD_HEADER_LEN) else {
            // The buffer ends on (or inside) a header: what was seen is all there is.
            return prev.is_some();
        };
        let h = header.record_header(h);
        if h.caplen > MAX_SNAPLEN
            || h.caplen > h.orig_len
            || h.orig_len > RESYNC_MAX_ORIG
            || !(0..frac_limit).contains(&h.frac)
        {
            return false;
        }
        let secs = (h.ts.as_nanos() / 1_000_000_000) as i64;
        if prev.is_some_and(|p| (secs - p).abs() > RESYNC_MAX_STEP_SECS) {
            return false;
        }
        prev = Some(secs);
        at += RECORD_HEADER_LEN + h.caplen as usize;
        if at == buf.len() {
            return true;
        }
    }
    true
}

/// Reads into `buf` from `offset` until it is full or the file ends; returns the bytes read.
fn read_at_most(file: &dyn ReadAt, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match file.read_at(&mut buf[got..], offset + got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Fuzzing: reads `data` (a whole classic pcap file) by chunks of several sizes, each chunk's
/// start guessed and then confirmed in order as [`super::ParallelReader`] does, and asserts the
/// frames and the end are exactly those of the one-thread reader.
pub(super) fn fuzz_compare(data: &[u8]) {
    let Some(file) = ClassicFile::from_bytes(data.to_vec()) else {
        return;
    };
    let body = data.get(pcap_file::FILE_HEADER_LEN..).unwrap_or_default();
    let mut seq = pcap_file::PcapFileReader::new(body, file.header, pcap_file::DEFAULT_BUFFER);
    let (want, want_end) = records(&mut seq);
    // In place, as the workers walking a mapped file read it.
    let whole: Arc<dyn AsRef<[u8]> + Send + Sync> = Arc::new(data.to_vec());
    let mut in_place = pcap_file::PcapFileReader::whole(io::empty(), file.header, whole);
    let (got, end) = records(&mut in_place);
    assert!(got == want, "in place: frames differ");
    assert_eq!(end, want_end, "in place");
    assert_eq!(
        in_place.consumed(),
        seq.consumed(),
        "in place: bytes consumed"
    );
    for chunk in [16, 61, 1000, 70_000] {
        let mut sink = Collect::default();
        let mut buf = Arc::new(Vec::new());
        let mut expected = pcap_file::FILE_HEADER_LEN as u64;
        let mut got = Vec::new();
        let mut end = String::new();
        for (i, range) in file.chunks(chunk).into_iter().enumerate() {
            let guess = file.read_chunk(range.clone(), i == 0, &mut buf, &mut sink);
            let c = file.confirm(range, expected, guess, &mut buf, &mut sink);
            expected = c.ends.next;
            got.extend(c.out);
            match c.ends.stop {
                Some(stop) => end = stop.to_string(),
                None => continue,
            }
            break;
        }
        assert!(got == want, "chunks of {chunk}: frames differ");
        assert_eq!(end, want_end, "chunks of {chunk}");
    }
}

/// Every record `r` gives, and how it ended (empty: cleanly), for [`fuzz_compare`].
fn records<R: io::Read>(
    r: &mut pcap_file::PcapFileReader<R>,
) -> (Vec<(crate::wire::Timestamp, Vec<u8>, u32)>, String) {
    let mut out = Vec::new();
    let end = loop {
        match r.next_record() {
            Ok(Some(rec)) => out.push((rec.ts, r.data().to_vec(), rec.orig_len)),
            Ok(None) => break String::new(),
            Err(e) => break e.to_string(),
        }
    };
    (out, end)
}

/// The frames handed to a sink, for [`fuzz_compare`].
#[derive(Clone, Default)]
struct Collect(Vec<(crate::wire::Timestamp, Vec<u8>, u32)>);

impl BlockSink for Collect {
    type Out = Vec<(crate::wire::Timestamp, Vec<u8>, u32)>;
    fn frame(&mut self, data: &[u8], f: &FrameRef) {
        self.0.push((f.ts, data.to_vec(), f.orig_len));
    }
    fn finish(&mut self, _buf: &Arc<Vec<u8>>) -> Self::Out {
        std::mem::take(&mut self.0)
    }
}
