//! [`OfflineCapture`]: pcap / pcapng files through libpcap, with transparent gzip.
//!
//! Uncompressed classic pcap files (of version 2.4 and a link type `flow::decode` handles) are
//! read by the pure-Rust reader of [`super::pcap_file`] instead, with large reads: libpcap's
//! small buffered reads cost several times more than the analysis of a page-cached file needs.
//! That reader reports frames, link types, errors and truncation as libpcap does.
//!
//! A gzip file (magic `1f 8b`) is decompressed by a helper thread into an anonymous pipe, and
//! libpcap opens the pipe's read end as `/dev/fd/N` (no `unsafe` outside `mapped.rs`, so
//! `Capture::from_raw_fd` is not an option). libpcap `fopen()`s its own descriptor, so ours is
//! closed right after the open. When libpcap stops reading early, the helper's next write fails
//! with `EPIPE` and it ends; a gzip error ends the stream, libpcap sees end of file, and the
//! error is reported after the frames that did decode.
//!
//! `EPIPE` is only seen as an error (rather than a fatal `SIGPIPE`) because the Rust runtime
//! ignores `SIGPIPE`; a host program that restores the default handler must not use gzip input.
//!
//! When libpcap fails in the middle of a pcapng file (libpcap 1.10 refuses a file whose
//! interfaces differ in link type or snapshot length: "an interface has a ... different from
//! the ... of the first interface"), the file is opened again with the pure-Rust reader of
//! [`super::pcapng`] (through a plain gzip decoder if compressed), the frames libpcap already
//! delivered are skipped, and reading goes on from there: no frame is lost or repeated, and
//! each frame from then on carries its own interface's link type.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;

use flate2::read::MultiGzDecoder;
use pcap::{Capture, Offline, Precision};

use super::mapped::Mapped;
use super::pcap_file::{self, FileHeader, PcapFileError, PcapFileReader};
use super::pcapng::{NgReader, Source, to_capture_error};
use super::{CaptureError, Frame};
use crate::wire::Timestamp;

/// Gzip magic bytes (RFC 1952 section 2.3.1).
pub(super) const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// pcapng Section Header Block type, the first 4 bytes of a pcapng file.
const PCAPNG_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];
/// Size of the classic pcap file header.
const PCAP_FILE_HEADER_LEN: u64 = pcap_file::FILE_HEADER_LEN as u64;
/// Size of a classic pcap record header.
const PCAP_RECORD_HEADER_LEN: u64 = pcap_file::RECORD_HEADER_LEN as u64;
/// Approximate overhead of a pcapng Enhanced Packet Block around its data.
const PCAPNG_EPB_OVERHEAD: u64 = 32;
/// Chunk size of the gunzip helper's copy loop.
const GUNZIP_CHUNK: usize = 64 * 1024;

/// An open capture file. Read it with [`OfflineCapture::next_frame`] until `Ok(None)`.
pub struct OfflineCapture {
    path: PathBuf,
    /// `None` while dropping, once the pcapng fallback has taken over, and for the pure-Rust
    /// classic pcap reader.
    cap: Option<Capture<Offline>>,
    /// The pure-Rust reader of an uncompressed classic pcap file.
    classic: Option<Box<PcapFileReader<ClassicInput>>>,
    linktype: i32,
    file_size: Option<u64>,
    progress: Progress,
    /// The gunzip helper thread, when the file is gzip-compressed.
    gunzip: Option<JoinHandle<Result<(), String>>>,
    /// The pure-Rust pcapng reader, once libpcap has failed on a pcapng file.
    fallback: Option<Box<NgReader>>,
    /// The (decompressed) file is pcapng.
    pcapng: bool,
    frames: u64,
    done: bool,
}

/// How [`OfflineCapture::bytes_read`] is computed.
enum Progress {
    /// Uncompressed file: estimated from the record sizes libpcap returned.
    Plain { estimate: u64, per_record: u64 },
    /// Gzip: compressed bytes the helper thread has read from the file.
    Gzip(Arc<AtomicU64>),
}

impl OfflineCapture {
    /// Opens a pcap or pcapng file, gzip-compressed or not (detected by content, not name).
    /// Timestamps are read with nanosecond precision.
    pub fn open(path: &Path) -> Result<OfflineCapture, CaptureError> {
        Self::open_with(path, false)
    }

    /// [`OfflineCapture::open`]; with `libpcap_only`, a classic pcap file is read by libpcap too
    /// (to compare the two readers).
    pub(super) fn open_with(
        path: &Path,
        libpcap_only: bool,
    ) -> Result<OfflineCapture, CaptureError> {
        let open_err = |msg: String| CaptureError::Open {
            path: path.to_path_buf(),
            msg,
        };
        let mut file = File::open(path).map_err(|e| open_err(e.to_string()))?;
        let file_size = file.metadata().ok().map(|m| m.len());
        let mut header = [0u8; pcap_file::FILE_HEADER_LEN];
        let got = read_up_to(&mut file, &mut header).map_err(|e| open_err(e.to_string()))?;
        let header = &header[..got];
        let magic = &header[..got.min(4)];

        if magic.starts_with(&GZIP_MAGIC) {
            file.seek(SeekFrom::Start(0))
                .map_err(|e| open_err(e.to_string()))?;
            // Peek at the decompressed magic, to know whether the pcapng fallback applies.
            let mut inner = [0u8; 4];
            let got = read_up_to(&mut MultiGzDecoder::new(&mut file), &mut inner).unwrap_or(0);
            file.seek(SeekFrom::Start(0))
                .map_err(|e| open_err(e.to_string()))?;
            let pcapng = inner.get(..got) == Some(&PCAPNG_MAGIC[..]);
            return Self::open_gzip(path, file, file_size, pcapng);
        }
        if let Some(hdr) = FileHeader::parse(header).filter(|_| !libpcap_only) {
            // `file` is just past the file header.
            let reader =
                PcapFileReader::new(ClassicInput::File(file), hdr, pcap_file::DEFAULT_BUFFER);
            return Ok(Self::classic(path, reader, file_size));
        }
        drop(file);
        let cap = Capture::from_file_with_precision(path, Precision::Nano)
            .map_err(|e| open_err(e.to_string()))?;
        let (estimate, per_record) = if magic == PCAPNG_MAGIC {
            (0, PCAPNG_EPB_OVERHEAD)
        } else {
            (PCAP_FILE_HEADER_LEN, PCAP_RECORD_HEADER_LEN)
        };
        Ok(Self::new(
            path,
            cap,
            file_size,
            Progress::Plain {
                estimate,
                per_record,
            },
            None,
            magic == PCAPNG_MAGIC,
        ))
    }

    fn open_gzip(
        path: &Path,
        file: File,
        file_size: Option<u64>,
        pcapng: bool,
    ) -> Result<Self, CaptureError> {
        let open_err = |msg: String| CaptureError::Open {
            path: path.to_path_buf(),
            msg,
        };
        let (reader, writer) = io::pipe().map_err(|e| open_err(format!("pipe: {e}")))?;
        let counter = Arc::new(AtomicU64::new(0));
        let input = CountingReader {
            inner: BufReader::new(file),
            count: Arc::clone(&counter),
        };
        let handle = std::thread::Builder::new()
            .name("smbscope-gunzip".into())
            .spawn(move || gunzip(input, writer))
            .map_err(|e| open_err(format!("cannot start gunzip thread: {e}")))?;
        let dev = format!("/dev/fd/{}", reader.as_raw_fd());
        let opened = Capture::from_file_with_precision(&dev, Precision::Nano);
        // libpcap holds its own descriptor now (or failed and holds none): closing ours means
        // that once libpcap closes, the helper's writes fail with EPIPE and it ends.
        drop(reader);
        match opened {
            Ok(cap) => Ok(Self::new(
                path,
                cap,
                file_size,
                Progress::Gzip(counter),
                Some(handle),
                pcapng,
            )),
            Err(e) => {
                // The helper ends: no read end is left open.
                let gz = handle
                    .join()
                    .unwrap_or_else(|_| Err("gunzip thread panicked".into()));
                Err(match gz {
                    Err(msg) => CaptureError::Gzip {
                        path: path.to_path_buf(),
                        msg,
                    },
                    Ok(()) => open_err(format!("{e} (after gzip decompression)")),
                })
            }
        }
    }

    /// A capture read by the pure-Rust classic pcap reader.
    fn classic(path: &Path, reader: PcapFileReader<ClassicInput>, file_size: Option<u64>) -> Self {
        OfflineCapture {
            path: path.to_path_buf(),
            cap: None,
            linktype: reader.header().linktype(),
            classic: Some(Box::new(reader)),
            file_size,
            progress: Progress::Plain {
                estimate: PCAP_FILE_HEADER_LEN,
                per_record: PCAP_RECORD_HEADER_LEN,
            },
            gunzip: None,
            fallback: None,
            pcapng: false,
            frames: 0,
            done: false,
        }
    }

    fn new(
        path: &Path,
        cap: Capture<Offline>,
        file_size: Option<u64>,
        progress: Progress,
        gunzip: Option<JoinHandle<Result<(), String>>>,
        pcapng: bool,
    ) -> Self {
        let linktype = cap.get_datalink().0;
        OfflineCapture {
            path: path.to_path_buf(),
            cap: Some(cap),
            classic: None,
            linktype,
            file_size,
            progress,
            gunzip,
            fallback: None,
            pcapng,
            frames: 0,
            done: false,
        }
    }

    /// The file's link-layer header type (DLT value). For pcapng files with several
    /// interfaces this is the first interface's type; each [`Frame::linktype`] is the type of
    /// the frame's own interface once the pcapng fallback reader is in use (see the module
    /// documentation), and the first interface's type before that.
    pub fn linktype(&self) -> i32 {
        self.linktype
    }

    /// The path this capture was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Frames delivered so far.
    pub fn frames_read(&self) -> u64 {
        self.frames
    }

    /// TLS key logs (NSS key log text) from the pcapng Decryption Secrets Blocks read so far.
    ///
    /// Only the pcapng fallback reader sees these blocks, so this is empty for files that
    /// libpcap reads to the end; [`super::scan_pcapng_secrets`] reads them from any pcapng file.
    /// (Scanning for them during a libpcap read is left to a later change.)
    pub fn tls_secrets(&self) -> &[String] {
        self.fallback.as_ref().map_or(&[], |ng| ng.secrets())
    }

    /// The next frame, `Ok(None)` at a clean end of file. After an error or the end, every
    /// further call returns `Ok(None)`. A file cut mid-record yields its complete frames and
    /// then [`CaptureError::Truncated`]; a corrupt gzip stream yields [`CaptureError::Gzip`].
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, CaptureError> {
        if self.done {
            return Ok(None);
        }
        if self.classic.is_some() {
            // Tested first and borrowed inside: a borrow returned from an `if let` would hold
            // `self` for the rest of the function.
            return match self.classic.as_deref_mut() {
                Some(reader) => classic_frame(
                    reader,
                    self.linktype,
                    &mut self.frames,
                    &mut self.done,
                    &self.path,
                ),
                None => Ok(None),
            };
        }
        if self.fallback.is_some() {
            self.close_libpcap();
            let gzip = matches!(self.progress, Progress::Gzip(_));
            return fallback_frame(
                &mut self.fallback,
                &mut self.frames,
                &mut self.done,
                &self.path,
                gzip,
            );
        }
        let Some(cap) = self.cap.as_mut() else {
            return Ok(None);
        };
        // Only fields other than `cap` are used below: the packet returned in the first arm
        // borrows `cap` for the caller's lifetime.
        let err = match cap.next_packet() {
            Ok(pkt) => {
                self.frames += 1;
                if let Progress::Plain {
                    estimate,
                    per_record,
                } = &mut self.progress
                {
                    *estimate += *per_record + u64::from(pkt.header.caplen);
                }
                // `time_t`/`suseconds_t` are narrower than i64 on some platforms.
                #[allow(clippy::useless_conversion)]
                let ts = Timestamp::from_secs_nanos(
                    i64::from(pkt.header.ts.tv_sec),
                    i64::from(pkt.header.ts.tv_usec),
                );
                return Ok(Some(Frame {
                    ts,
                    linktype: self.linktype,
                    data: pkt.data,
                    orig_len: pkt.header.len,
                }));
            }
            Err(e) => e,
        };
        let at_eof = match &err {
            pcap::Error::NoMorePackets => true,
            pcap::Error::PcapError(msg) => msg.contains("truncated"),
            _ => false,
        };
        if self.pcapng && !at_eof {
            // libpcap gave up on a pcapng file (typically interfaces that differ in link type
            // or snapshot length): go on with the pure-Rust reader from the same frame. The
            // libpcap capture (and with it the gunzip pipe) is closed on the next call.
            let (ng, counter) = match open_fallback(&self.path, self.frames, &err.to_string()) {
                Ok(opened) => opened,
                Err(e) => {
                    self.done = true;
                    return Err(e);
                }
            };
            let gzip = counter.is_some();
            if let Some(counter) = counter {
                self.progress = Progress::Gzip(counter);
            }
            self.fallback = Some(ng);
            return fallback_frame(
                &mut self.fallback,
                &mut self.frames,
                &mut self.done,
                &self.path,
                gzip,
            );
        }
        self.done = true;
        // At end of file (clean or cut short) the pipe's write end is closed, so the helper has
        // finished and the join cannot block. A gzip failure explains whatever libpcap saw, so
        // it comes first. After other errors the helper is left to end on EPIPE at drop.
        if at_eof {
            if let Some(handle) = self.gunzip.take() {
                let gz = handle
                    .join()
                    .unwrap_or_else(|_| Err("gunzip thread panicked".into()));
                if let Err(msg) = gz {
                    return Err(CaptureError::Gzip {
                        path: self.path.clone(),
                        msg,
                    });
                }
            }
        }
        match err {
            pcap::Error::NoMorePackets => Ok(None),
            pcap::Error::PcapError(_) if at_eof => Err(CaptureError::Truncated {
                path: self.path.clone(),
                frames_read: self.frames,
            }),
            other => Err(CaptureError::Read {
                path: self.path.clone(),
                msg: other.to_string(),
            }),
        }
    }

    /// Closes libpcap's capture and ends the gunzip helper (which then gets `EPIPE`).
    fn close_libpcap(&mut self) {
        self.cap = None;
        if let Some(handle) = self.gunzip.take() {
            let _ = handle.join();
        }
    }

    /// The file's size on disk (compressed size for gzip), for a progress bar.
    pub fn file_size(&self) -> Option<u64> {
        self.file_size
    }

    /// Approximately how many bytes of the file have been consumed (compressed bytes for
    /// gzip; exact for a classic pcap file read without libpcap), never more than
    /// [`OfflineCapture::file_size`].
    pub fn bytes_read(&self) -> u64 {
        if let Some(reader) = &self.classic {
            let n = reader.consumed();
            return self.file_size.map_or(n, |size| n.min(size));
        }
        let n = match (&self.progress, &self.fallback) {
            (Progress::Plain { .. }, Some(ng)) => ng.consumed(),
            (Progress::Plain { estimate, .. }, None) => *estimate,
            (Progress::Gzip(count), _) => count.load(Ordering::Relaxed),
        };
        self.file_size.map_or(n, |size| n.min(size))
    }
}

/// What the pure-Rust classic pcap reader reads from.
enum ClassicInput {
    File(File),
    /// Nothing: the whole file is mapped ([`MappedCapture`]).
    Mapped,
}

impl Read for ClassicInput {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            ClassicInput::File(f) => f.read(buf),
            ClassicInput::Mapped => Ok(0),
        }
    }
}

/// An uncompressed classic pcap file mapped into memory once, for several threads to read
/// at once, each with its own [`OfflineCapture`] ([`MappedCapture::reader`]) over the same
/// pages. The file must not be truncated while it is read: see [`super::mapped`].
#[derive(Debug, Clone)]
pub struct MappedCapture {
    path: PathBuf,
    header: FileHeader,
    map: Arc<Mapped>,
    size: u64,
    /// The seconds of the first record's time, to guess record starts by.
    first_secs: Option<u32>,
}

impl MappedCapture {
    /// Maps `path` when it is a regular, non-empty, uncompressed classic pcap file that the
    /// pure-Rust reader handles; `Ok(None)` for any other file (gzip, pcapng, headers only
    /// libpcap reads, pipes), which [`OfflineCapture::open`] reads, or says why it cannot.
    pub fn open(path: &Path) -> Result<Option<MappedCapture>, CaptureError> {
        let open_err = |e: io::Error| CaptureError::Open {
            path: path.to_path_buf(),
            msg: e.to_string(),
        };
        // Not even opened unless regular: opening a FIFO would wait for a writer, and reading
        // its header would take bytes from the reader that reads it after all.
        if !std::fs::metadata(path).is_ok_and(|m| m.is_file()) {
            return Ok(None);
        }
        // A file that does not open or read is the reader's to report.
        let Ok(Some(classic)) = super::chunked::ClassicFile::open(path) else {
            return Ok(None);
        };
        let (file, header, size, first_secs) = classic.into_parts();
        let Some(map) = Mapped::new(&file, size).map_err(open_err)? else {
            return Ok(None);
        };
        // The mapping outlives the descriptor, which closes here: many files, one fd at most.
        Ok(Some(MappedCapture {
            path: path.to_path_buf(),
            header,
            map: Arc::new(map),
            size,
            first_secs,
        }))
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's size when mapped.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Every reader of this file has read past byte `upto` (as [`OfflineCapture::bytes_read`]
    /// counts), and holds no frame from before it: the pages before it leave the process's
    /// resident set (they stay in the page cache).
    pub fn release(&self, upto: u64) {
        self.map
            .release(usize::try_from(upto).unwrap_or(usize::MAX));
    }

    /// Starts loading the cache lines of bytes `at` and `at + 64` (a record's headers, or a
    /// frame's TCP payload start): a hint, nothing past the end of the file.
    pub(crate) fn prefetch(&self, at: u64) {
        let bytes: &[u8] = (*self.map).as_ref();
        let Ok(at) = usize::try_from(at) else { return };
        if let Some(b) = bytes.get(at) {
            super::mapped::prefetch(b);
        }
        if let Some(b) = bytes.get(at.saturating_add(64)) {
            super::mapped::prefetch(b);
        }
    }

    /// Where the first record is.
    pub(crate) fn first_record(&self) -> u64 {
        (pcap_file::FILE_HEADER_LEN as u64).min(self.size)
    }

    /// Reads the records from byte `from` (a record's start) on, as [`OfflineCapture::open`]'s
    /// reader reads them from there, handing each frame to `each` with where its captured bytes start and
    /// where the record ends (in the file). Stops before the first record at or past `until`
    /// (unless `until` is the file's end: then at the end of the file), or at an error that
    /// ends the reading before that.
    pub(crate) fn walk(
        &self,
        from: u64,
        until: u64,
        mut each: impl FnMut(&Frame<'_>, u64, u64),
    ) -> WalkStop {
        let from = usize::try_from(from).unwrap_or(usize::MAX);
        let mut r =
            PcapFileReader::whole_from(ClassicInput::Mapped, self.header, self.map.clone(), from);
        let linktype = self.header.linktype();
        loop {
            let at = r.consumed();
            if at >= until && until < self.size {
                return WalkStop {
                    next: at,
                    end: None,
                };
            }
            match r.next_record() {
                Ok(Some(rec)) => {
                    // The next record's header is known now: load it while this frame is
                    // handled, instead of waiting for it then.
                    self.prefetch(r.consumed());
                    let frame = Frame {
                        ts: rec.ts,
                        linktype,
                        data: r.data(),
                        orig_len: rec.orig_len,
                    };
                    each(&frame, r.data_start() as u64, r.consumed());
                }
                Ok(None) => {
                    return WalkStop {
                        next: at,
                        end: Some(None),
                    };
                }
                Err(e) => {
                    return WalkStop {
                        next: at,
                        end: Some(Some(e)),
                    };
                }
            }
        }
    }

    /// An offset at or after `at`, within `span` bytes, where records seem to start (a
    /// plausible chain of record headers; those whose time is near the first record's are
    /// tried first, so it may not be the first such offset); `None` when none seems to. A
    /// guess, for a reader that starts mid-file: check it against where the records before
    /// end.
    pub(crate) fn record_near(&self, at: u64, span: u64) -> Option<u64> {
        let bytes: &[u8] = (*self.map).as_ref();
        let from = usize::try_from(at).ok()?;
        let rest = bytes.get(from..)?;
        let span = usize::try_from(span).unwrap_or(usize::MAX);
        super::chunked::resync(&self.header, rest, span, self.first_secs).map(|i| at + i as u64)
    }

    /// The frame whose captured bytes are `len` bytes at `data_start` (as
    /// [`Self::walk`] handed them over).
    pub(crate) fn frame_at(
        &self,
        ts: Timestamp,
        data_start: u64,
        len: u32,
        orig_len: u32,
    ) -> Frame<'_> {
        let bytes: &[u8] = (*self.map).as_ref();
        let data = usize::try_from(data_start)
            .ok()
            .and_then(|s| bytes.get(s..s.checked_add(len as usize)?))
            .unwrap_or_default();
        Frame {
            ts,
            linktype: self.header.linktype(),
            data,
            orig_len,
        }
    }

    /// How the reading of this file ended where `stop` is, after `frames` frames of it:
    /// `None` when it did not end there, otherwise what [`OfflineCapture::next_frame`]
    /// reports (`Ok` at a clean end).
    pub(crate) fn end_at(&self, stop: &WalkStop, frames: u64) -> Option<Result<(), CaptureError>> {
        match &stop.end {
            None => None,
            Some(None) => Some(Ok(())),
            Some(Some(e)) => Some(Err(classic_error(&self.path, e, frames))),
        }
    }
}

/// Where [`MappedCapture::walk`] stopped.
#[derive(Debug, Default)]
pub(crate) struct WalkStop {
    /// The next record's offset (the file's bytes consumed).
    pub(crate) next: u64,
    /// `None`: stopped at the limit; otherwise the file ended here, cleanly or on an error.
    end: Option<Option<PcapFileError>>,
}

impl Drop for OfflineCapture {
    fn drop(&mut self) {
        // Close libpcap's read end first: the helper then gets EPIPE and ends, so the join
        // cannot hang.
        self.close_libpcap();
    }
}

impl std::fmt::Debug for OfflineCapture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OfflineCapture")
            .field("path", &self.path)
            .field("linktype", &self.linktype)
            .field("frames", &self.frames)
            .field("gzip", &matches!(self.progress, Progress::Gzip(_)))
            .field("pcapng_fallback", &self.fallback.is_some())
            .field("pure_rust_pcap", &self.classic.is_some())
            .finish()
    }
}

/// Opens the pcapng fallback reader on `path` and skips the `skip` frames libpcap delivered.
/// Returns the reader and, for a gzip file, its compressed-bytes counter. When the fallback
/// cannot reach the same point, the error is libpcap's (`libpcap_msg`).
fn open_fallback(
    path: &Path,
    skip: u64,
    libpcap_msg: &str,
) -> Result<(Box<NgReader>, Option<Arc<AtomicU64>>), CaptureError> {
    let fail = |why: String| CaptureError::Read {
        path: path.to_path_buf(),
        msg: format!("{libpcap_msg} (pcapng fallback reader: {why})"),
    };
    let (source, counter) = Source::open(path).map_err(|e| fail(e.to_string()))?;
    let mut ng = Box::new(NgReader::new(source).map_err(|e| fail(e.to_string()))?);
    for n in 0..skip {
        match ng.next_frame() {
            Ok(Some(_)) => {}
            Ok(None) => return Err(fail(format!("file ends after {n} frames"))),
            Err(e) => return Err(fail(format!("{e} after {n} frames"))),
        }
    }
    Ok((ng, counter))
}

/// The next frame from the pcapng fallback reader. It takes the capture's fields one by one
/// because [`OfflineCapture::next_frame`] calls it while `cap` is still borrowed.
fn fallback_frame<'a>(
    fallback: &'a mut Option<Box<NgReader>>,
    frames: &mut u64,
    done: &mut bool,
    path: &Path,
    gzip: bool,
) -> Result<Option<Frame<'a>>, CaptureError> {
    let Some(ng) = fallback.as_deref_mut() else {
        return Ok(None);
    };
    match ng.next_frame() {
        Ok(Some(frame)) => {
            *frames += 1;
            Ok(Some(frame))
        }
        Ok(None) => {
            *done = true;
            Ok(None)
        }
        Err(e) => {
            *done = true;
            Err(to_capture_error(e, path, gzip, *frames, false))
        }
    }
}

/// The next frame from the pure-Rust classic pcap reader, with the capture's fields passed one
/// by one (the frame borrows `reader` only).
fn classic_frame<'a>(
    reader: &'a mut PcapFileReader<ClassicInput>,
    linktype: i32,
    frames: &mut u64,
    done: &mut bool,
    path: &Path,
) -> Result<Option<Frame<'a>>, CaptureError> {
    let err = match reader.next_record() {
        Ok(Some(rec)) => {
            *frames += 1;
            return Ok(Some(Frame {
                ts: rec.ts,
                linktype,
                data: reader.data(),
                orig_len: rec.orig_len,
            }));
        }
        Ok(None) => None,
        Err(e) => Some(e),
    };
    *done = true;
    match err {
        None => Ok(None),
        Some(e) => Err(classic_error(path, &e, *frames)),
    }
}

/// The capture error of the pure-Rust classic pcap reader's (and of its chunked reading)
/// stopping after `frames` frames of `path`.
pub(super) fn classic_error(path: &Path, e: &PcapFileError, frames: u64) -> CaptureError {
    match e {
        PcapFileError::Truncated => CaptureError::Truncated {
            path: path.to_path_buf(),
            frames_read: frames,
        },
        e => CaptureError::Read {
            path: path.to_path_buf(),
            msg: e.to_string(),
        },
    }
}

/// The gunzip helper: decompress `input` into `out` until the end, a gzip error (returned), or
/// the reader going away (EPIPE: not an error, the consumer stopped).
fn gunzip(input: CountingReader, mut out: io::PipeWriter) -> Result<(), String> {
    let mut dec = MultiGzDecoder::new(input);
    let mut buf = vec![0u8; GUNZIP_CHUNK];
    loop {
        let n = match dec.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                return Err(format!("compressed stream is cut short ({e})"));
            }
            Err(e) => return Err(e.to_string()),
        };
        // `n <= buf.len()` by the `Read` contract; `get` keeps a misbehaving reader harmless.
        let Some(chunk) = buf.get(..n) else {
            return Err("decoder returned an impossible length".into());
        };
        if out.write_all(chunk).is_err() {
            // libpcap closed the pipe (end of reading, or an error it reports itself).
            return Ok(());
        }
    }
}

/// Counts the compressed bytes read, for [`OfflineCapture::bytes_read`].
pub(super) struct CountingReader {
    pub(super) inner: BufReader<File>,
    pub(super) count: Arc<AtomicU64>,
}

impl Read for CountingReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Reads until `buf` is full or end of file; returns how many bytes were read.
pub(super) fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

#[cfg(test)]
mod tests {
    use super::super::pcap_file::tests::build;
    use super::*;

    /// Every frame of `path` as `(ts, linktype, data, orig_len)`, and how reading ended.
    type Frames = Vec<(Timestamp, i32, Vec<u8>, u32)>;

    fn read_all(path: &Path, libpcap_only: bool) -> (OfflineCapture, Frames, Option<String>) {
        let mut cap = OfflineCapture::open_with(path, libpcap_only).expect("open");
        let (frames, end) = frames_of(&mut cap);
        assert!(
            cap.next_frame().expect("Ok after the end").is_none(),
            "Ok(None) after the end"
        );
        (cap, frames, end)
    }

    /// Every frame `cap` still gives, and how reading ended.
    fn frames_of(cap: &mut OfflineCapture) -> (Frames, Option<String>) {
        let mut frames = Vec::new();
        let end = loop {
            match cap.next_frame() {
                Ok(Some(f)) => frames.push((f.ts, f.linktype, f.data.to_vec(), f.orig_len)),
                Ok(None) => break None,
                Err(e) => break Some(e.to_string()),
            }
        };
        (frames, end)
    }

    fn temp_file(name: &str, bytes: &[u8]) -> PathBuf {
        let path = std::env::temp_dir().join(format!(
            "smbscope-offline-{}-{name}.pcap",
            std::process::id()
        ));
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn mapped_readers_read_what_the_reader_reads_and_other_files_are_left_alone() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
        let real = std::fs::read(root.join("smb311-default.pcap")).expect("capture");
        for (name, bytes) in [
            ("whole", &real[..]),
            ("cut", &real[..real.len() - 37]),
            ("header-only", &real[..24]),
        ] {
            let path = temp_file(&format!("mapped-{name}"), bytes);
            let (streamed, want, want_end) = read_all(&path, false);
            let m = MappedCapture::open(&path).expect("opens").expect("maps");
            // Two walks of one mapping, each from the first record to the end.
            for _ in 0..2 {
                let mut got = Vec::new();
                let stop = m.walk(m.first_record(), m.size(), |f, _, _| {
                    got.push((f.ts, f.linktype, f.data.to_vec(), f.orig_len));
                });
                let frames = got.len() as u64;
                let end = m
                    .end_at(&stop, frames)
                    .map(|r| r.err().map(|e| e.to_string()));
                assert!(got == want, "{name}");
                assert_eq!(end, Some(want_end.clone()), "{name}");
                assert_eq!(stop.next, streamed.bytes_read(), "{name}");
                assert_eq!(frames, streamed.frames_read(), "{name}");
            }
            let _ = std::fs::remove_file(&path);
        }
        // Not mapped: gzip, pcapng, a missing file, a directory, and a FIFO (not even opened:
        // that would wait for a writer).
        let gz = temp_file("mapped-gz", &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);
        let ng = temp_file("mapped-ng", &[0x0a, 0x0d, 0x0d, 0x0a, 0, 0, 0, 0]);
        let fifo =
            std::env::temp_dir().join(format!("smbscope-offline-{}-fifo", std::process::id()));
        let _ = std::fs::remove_file(&fifo);
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        for p in [&gz, &ng, &root.join("no-such.pcap"), &root] {
            assert!(
                MappedCapture::open(p).expect("no error").is_none(),
                "{}",
                p.display()
            );
        }
        if made.is_ok_and(|s| s.success()) {
            assert!(MappedCapture::open(&fifo).expect("no error").is_none());
        }
        for p in [&gz, &ng, &fifo] {
            let _ = std::fs::remove_file(p);
        }
    }

    #[test]
    fn the_pure_rust_reader_matches_libpcap_on_the_sample_captures() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
        let mut files = Vec::new();
        for dir in [root.clone(), root.join("quic")] {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_some_and(|e| e == "pcap") {
                    files.push(path);
                }
            }
        }
        assert!(files.len() >= 10, "sample captures: {files:?}");
        for path in files {
            let (fast, frames, end) = read_all(&path, false);
            assert!(
                fast.classic.is_some(),
                "{}: pure-Rust reader",
                path.display()
            );
            let (slow, want, want_end) = read_all(&path, true);
            assert!(slow.classic.is_none());
            assert!(!want.is_empty(), "{}", path.display());
            assert_eq!(fast.linktype(), slow.linktype(), "{}", path.display());
            assert_eq!(end, want_end, "{}", path.display());
            assert!(
                frames == want,
                "{}: frames differ from libpcap",
                path.display()
            );
            assert_eq!(fast.frames_read(), slow.frames_read());
            assert_eq!(
                Some(fast.bytes_read()),
                fast.file_size(),
                "{}",
                path.display()
            );
        }
    }

    #[test]
    fn odd_classic_files_read_like_libpcap() {
        let long = vec![0xabu8; 300];
        let cases: Vec<(&str, Vec<u8>)> = vec![
            (
                "le-us",
                build(false, false, 65535, 1, &[(5, 6, b"abc", 70)]),
            ),
            ("be-ns", build(true, true, 65535, 1, &[(5, 6, b"abc", 70)])),
            // LINKTYPE_RAW with FCS bits; negative (pre-1970) seconds clamp to 0.
            (
                "raw-fcs",
                build(
                    false,
                    false,
                    65535,
                    101 | (1 << 26) | (4 << 28),
                    &[(u32::MAX, 7, b"\x45", 1), (3, 999_999, b"\x45\x00", 2)],
                ),
            ),
            // caplen above snaplen: libpcap delivers the snapshot length.
            (
                "snap",
                build(false, true, 100, 1, &[(1, 2, &long, 300), (3, 4, b"z", 1)]),
            ),
            ("snap0", build(true, false, 0, 113, &[(1, 2, &long, 300)])),
            ("empty", build(false, false, 65535, 1, &[])),
        ];
        for (name, bytes) in cases {
            let path = temp_file(name, &bytes);
            let (fast, frames, end) = read_all(&path, false);
            assert!(fast.classic.is_some(), "{name}");
            let (slow, want, want_end) = read_all(&path, true);
            assert_eq!(fast.linktype(), slow.linktype(), "{name}");
            assert_eq!((frames, end), (want, want_end), "{name}");
            assert_eq!(fast.bytes_read(), bytes.len() as u64, "{name}");
            std::fs::remove_file(&path).unwrap();
        }
    }

    #[test]
    fn a_cut_file_yields_its_frames_then_truncated() {
        let bytes = build(
            false,
            false,
            65535,
            1,
            &[(1, 0, b"abcd", 4), (2, 0, b"efgh", 4)],
        );
        for cut in [bytes.len() - 1, bytes.len() - 4, bytes.len() - 10] {
            let path = temp_file(&format!("cut{cut}"), &bytes[..cut]);
            let (fast, frames, end) = read_all(&path, false);
            let (_, want, want_end) = read_all(&path, true);
            assert_eq!(frames.len(), 1);
            assert_eq!((&frames, &end), (&want, &want_end));
            let expected = CaptureError::Truncated {
                path: path.clone(),
                frames_read: 1,
            };
            assert_eq!(end, Some(expected.to_string()));
            assert_eq!(fast.frames_read(), 1);
            std::fs::remove_file(&path).unwrap();
        }
    }

    #[test]
    fn an_absurd_caplen_is_a_read_error_naming_file_and_offset() {
        let mut bytes = build(
            false,
            false,
            65535,
            1,
            &[(1, 0, b"ab", 2), (1, 0, b"cd", 2)],
        );
        let second = 24 + 16 + 2;
        bytes[second + 8..second + 12].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
        let path = temp_file("absurd", &bytes);
        let (_, frames, end) = read_all(&path, false);
        assert_eq!(frames.len(), 1);
        let msg = end.expect("an error");
        assert!(msg.contains("read error"), "{msg}");
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert!(msg.contains(&format!("offset {second}")), "{msg}");
        // libpcap refuses the record too.
        let (_, want, want_end) = read_all(&path, true);
        assert_eq!(want.len(), 1);
        assert!(want_end.unwrap().contains("read error"));
        std::fs::remove_file(&path).unwrap();
    }
}
