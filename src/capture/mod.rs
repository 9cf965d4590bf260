//! Frames in: offline pcap / pcapng files (gzip-compressed too) and live interfaces
//! ([`open_live`]); the only place that touches libpcap. pcapng files that libpcap refuses (interfaces that differ in link type or snapshot
//! length) are read on by a pure-Rust pcapng reader, which also collects the TLS key logs of
//! Decryption Secrets Blocks ([`OfflineCapture::tls_secrets`], [`scan_pcapng_secrets`]).
//!
//! ```no_run
//! use smbscope::capture::OfflineCapture;
//! # fn main() -> Result<(), smbscope::capture::CaptureError> {
//! let mut cap = OfflineCapture::open(std::path::Path::new("trace.pcap.gz"))?;
//! while let Some(frame) = cap.next_frame()? {
//!     println!("{:?} {} bytes", frame.ts, frame.data.len());
//! }
//! # Ok(())
//! # }
//! ```

mod chunked;
mod live;
mod mapped;
mod offline;
mod pcap_file;
mod pcapng;
mod threaded;

use std::path::PathBuf;

pub use live::{LiveCapture, LiveOptions, LiveStats, LiveWaker, default_filter, open_live};
pub(crate) use mapped::prefetch;
pub(crate) use offline::WalkStop;
pub use offline::{MappedCapture, OfflineCapture};
pub use pcapng::scan_pcapng_secrets;
pub use threaded::{CHUNK_BYTES, ParallelReader, ReadEvent};

/// Fuzzing entry point: reads `data` as a classic pcap file with the pure-Rust reader (as
/// [`OfflineCapture`] does for such files), once with its normal buffer and once with a tiny
/// one so that records straddle buffer ends, then by chunks with guessed record boundaries (as
/// [`ParallelReader`] does), which must give the same frames and end. Every outcome is fine
/// but a panic, a hang, or a difference between the two readers.
pub fn fuzz_classic_pcap(data: &[u8]) {
    let Some(header) = pcap_file::FileHeader::parse(data) else {
        return;
    };
    let body = data.get(pcap_file::FILE_HEADER_LEN..).unwrap_or_default();
    for chunk in [pcap_file::DEFAULT_BUFFER, 17] {
        let mut r = pcap_file::PcapFileReader::new(body, header, chunk);
        let mut n = 0u64;
        while let Ok(Some(rec)) = r.next_record() {
            n += 1;
            assert!(r.data().len() <= 262_144, "record {n} over the maximum");
            let _ = (rec.ts, rec.orig_len, r.consumed());
        }
    }
    // Read by chunks, as `analyze -j N` does: the same frames and the same end.
    chunked::fuzz_compare(data);
}

use crate::wire::Timestamp;

/// One captured frame, borrowed from the capture's buffer until the next read.
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    /// Capture time.
    pub ts: Timestamp,
    /// The link-layer header type (a libpcap DLT value, e.g. 1 = Ethernet).
    pub linktype: i32,
    /// The captured bytes (possibly cut short by the snapshot length).
    pub data: &'a [u8],
    /// The frame's length on the wire; larger than `data.len()` when snaplen cut it.
    pub orig_len: u32,
}

impl Frame<'_> {
    /// Whether the snapshot length cut this frame.
    pub fn is_truncated(&self) -> bool {
        u64::from(self.orig_len) > self.data.len() as u64
    }
}

/// A frame of a block read by [`ParallelReader`]: its bytes are `buf[start..start + len]` of
/// the block's buffer.
#[derive(Clone, Copy, Debug)]
pub struct FrameRef {
    pub ts: Timestamp,
    pub linktype: i32,
    pub orig_len: u32,
    pub start: usize,
    pub len: usize,
}

impl FrameRef {
    /// The frame, given its bytes.
    pub fn frame<'a>(&self, data: &'a [u8]) -> Frame<'a> {
        Frame {
            ts: self.ts,
            linktype: self.linktype,
            data,
            orig_len: self.orig_len,
        }
    }
}

/// What a [`ParallelReader`] does with each block of frames, on the reader thread that reads
/// it: each frame is handed over right after it is parsed, while its bytes are still in that
/// core's cache, and the block's buffer (shared, not copied) once it is complete.
pub trait BlockSink: Clone + Send + 'static {
    /// What a block becomes, delivered in order by [`ParallelReader::next`].
    type Out: Send + 'static;
    /// The next frame of the block being read; `data` is its bytes.
    fn frame(&mut self, data: &[u8], f: &FrameRef);
    /// The block is complete: every frame handed over lives in `buf`.
    fn finish(&mut self, buf: &std::sync::Arc<Vec<u8>>) -> Self::Out;
}

/// Why a capture could not be opened or read further. Each message names the file or the
/// interface.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaptureError {
    /// The file could not be opened or is not a pcap/pcapng capture.
    #[error("{}: cannot open capture: {msg}", path.display())]
    Open { path: PathBuf, msg: String },
    /// The file ends in the middle of a record (the frames before it were delivered).
    #[error("{}: capture is truncated (cut in the middle of a record after {frames_read} frames)", path.display())]
    Truncated { path: PathBuf, frames_read: u64 },
    /// The gzip stream is corrupt or cut short (the frames that decoded were delivered).
    #[error("{}: gzip decompression failed: {msg}", path.display())]
    Gzip { path: PathBuf, msg: String },
    /// Any other read error (reported by libpcap or the pcapng reader).
    #[error("{}: read error: {msg}", path.display())]
    Read { path: PathBuf, msg: String },
    /// The live interface does not exist.
    #[error("no such interface '{iface}' (available: {available})")]
    NoSuchInterface { iface: String, available: String },
    /// A live interface could not be opened or read (permissions, bad filter, interface down).
    #[error("interface '{iface}': {msg}")]
    Live { iface: String, msg: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classic_pcap_fuzz_entry_takes_real_cut_and_hostile_files() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
        let real = std::fs::read(dir.join("smb311-default.pcap")).expect("capture");
        for cut in (0..real.len().min(4096)).chain([real.len()]) {
            fuzz_classic_pcap(&real[..cut]);
        }
        let mut hostile = real[..24].to_vec();
        // A record header claiming 4 GiB of data, then one claiming 262145 bytes.
        hostile.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
        fuzz_classic_pcap(&hostile);
        hostile.truncate(24);
        hostile.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00, 0x04, 0x00, 0, 0, 0, 0]);
        fuzz_classic_pcap(&hostile);
        fuzz_classic_pcap(b"not a capture at all");
    }

    #[test]
    fn error_messages_name_the_file() {
        let e = CaptureError::Truncated {
            path: "/x/y.pcap".into(),
            frames_read: 3,
        };
        let s = e.to_string();
        assert!(
            s.contains("/x/y.pcap") && s.contains("truncated") && s.contains('3'),
            "{s}"
        );
    }
}
