//! A pure-Rust pcapng reader (the `pcap-parser` crate), used where libpcap gives up.
//!
//! libpcap 1.10 refuses pcapng files whose interfaces differ in link type or snapshot length,
//! and cannot report a per-packet link type. [`NgReader`] streams the blocks of a (possibly
//! gzip-compressed) pcapng file through a bounded buffer that grows only to hold the largest
//! block, gives each packet its own interface's link type and timestamp resolution/offset, and
//! collects the TLS key logs of Decryption Secrets Blocks on the way.
//!
//! [`super::OfflineCapture`] switches to it when libpcap fails mid-file, and
//! [`scan_pcapng_secrets`] uses it to pull the key logs out of a whole file.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock};

use flate2::read::MultiGzDecoder;
use pcap_parser::pcapng::{Block, OptionCode, SecretsType};
use pcap_parser::traits::{PcapNGPacketBlock, PcapReaderIterator};
use pcap_parser::{PcapBlockOwned, PcapError, PcapNGReader};

use super::offline::{CountingReader, GZIP_MAGIC, read_up_to};
use super::{CaptureError, Frame};
use crate::wire::Timestamp;

/// Initial size of the parser's buffer; it grows to hold larger blocks.
const INITIAL_BUFFER: usize = 256 * 1024;
/// The largest block accepted (the buffer never grows past this).
const MAX_BLOCK: usize = 256 * 1024 * 1024;
/// Block type of the obsolete Packet Block (pcapng appendix), which `pcap-parser` leaves as an
/// unknown block.
const OBSOLETE_PB: u32 = 0x0000_0002;
/// Section Header Block type, the same in both byte orders.
const SHB_TYPE: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];
/// Byte-order magic of a Section Header Block, as read little-endian from a little-endian file.
const BOM_LE: u32 = 0x1a2b_3c4d;

/// Why the pcapng reader stopped.
#[derive(Debug)]
pub(super) enum NgError {
    /// The file does not start with a Section Header Block.
    NotPcapng(String),
    /// The file ends inside a block.
    Truncated,
    /// Reading (or decompressing) the file failed.
    Io(String),
    /// A block is inconsistent.
    Malformed(String),
}

impl std::fmt::Display for NgError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NgError::NotPcapng(msg) | NgError::Io(msg) | NgError::Malformed(msg) => {
                f.write_str(msg)
            }
            NgError::Truncated => f.write_str("file ends inside a block"),
        }
    }
}

/// What one Interface Description Block says about its packets.
#[derive(Clone, Copy, Debug)]
struct Interface {
    linktype: i32,
    snaplen: u32,
    /// Timestamp units per second (`if_tsresol`).
    units_per_sec: u64,
    /// Seconds added to every timestamp (`if_tsoffset`).
    offset_secs: i64,
}

impl Interface {
    /// A raw 64-bit timestamp of this interface, as nanoseconds since the epoch.
    fn timestamp(&self, ticks: u64) -> Timestamp {
        let secs = i64::try_from(ticks / self.units_per_sec).unwrap_or(i64::MAX);
        let frac = u128::from(ticks % self.units_per_sec);
        // frac < units_per_sec, so this is below 10^9.
        let nanos = i64::try_from(frac * 1_000_000_000 / u128::from(self.units_per_sec))
            .unwrap_or(999_999_999);
        Timestamp::from_secs_nanos(secs.saturating_add(self.offset_secs), nanos)
    }
}

/// The input of the parser: a plain or gzip-compressed file. Each `read` fills the buffer as
/// far as the input allows (the parser takes a short read as the end of its first block), and
/// the message of an I/O or gzip error is kept for the report, since the parser only says
/// "read error".
pub(super) struct Source {
    input: Input,
    /// An error met after part of a read had been filled: returned by the next read.
    pending: Option<io::Error>,
    error: Arc<OnceLock<String>>,
}

enum Input {
    Plain(File),
    Gzip(Box<MultiGzDecoder<CountingReader>>),
}

impl Source {
    /// Opens `path`, decompressing it when it starts with the gzip magic. Also returns the
    /// counter of compressed bytes read, for a gzip file.
    pub(super) fn open(path: &Path) -> io::Result<(Source, Option<Arc<AtomicU64>>)> {
        let mut file = File::open(path)?;
        let mut magic = [0u8; 2];
        let got = read_up_to(&mut file, &mut magic)?;
        let file = File::open(path)?;
        let (input, counter) = if magic.get(..got) == Some(&GZIP_MAGIC[..]) {
            let count = Arc::new(AtomicU64::new(0));
            let counting = CountingReader {
                inner: BufReader::new(file),
                count: Arc::clone(&count),
            };
            (
                Input::Gzip(Box::new(MultiGzDecoder::new(counting))),
                Some(count),
            )
        } else {
            (Input::Plain(file), None)
        };
        let source = Source {
            input,
            pending: None,
            error: Arc::new(OnceLock::new()),
        };
        Ok((source, counter))
    }

    fn read_once(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.input {
            Input::Plain(f) => f.read(buf),
            Input::Gzip(d) => d.read(buf).map_err(|e| {
                if e.kind() == io::ErrorKind::UnexpectedEof {
                    io::Error::new(e.kind(), format!("compressed stream is cut short ({e})"))
                } else {
                    e
                }
            }),
        }
    }
}

impl Read for Source {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(e) = self.pending.take() {
            return Err(e);
        }
        let mut got = 0;
        while got < buf.len() {
            match self.read_once(&mut buf[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let _ = self.error.set(e.to_string());
                    if got == 0 {
                        return Err(e);
                    }
                    self.pending = Some(e);
                    break;
                }
            }
        }
        Ok(got)
    }
}

/// Streaming pcapng reader over a [`Source`]. The current packet's bytes are copied into one
/// buffer that is reused for every packet.
pub(super) struct NgReader {
    reader: PcapNGReader<Source>,
    /// Interfaces of the current section, by interface id.
    interfaces: Vec<Interface>,
    /// Byte order of the current section.
    big_endian: bool,
    /// The current packet's captured bytes.
    frame: Vec<u8>,
    /// Texts of the TLS key log Decryption Secrets Blocks met so far.
    secrets: Vec<String>,
    error: Arc<OnceLock<String>>,
    consumed: u64,
    /// The parser buffer's size (`PcapNGReader` does not tell it).
    capacity: usize,
}

/// A packet's metadata; its bytes are in [`NgReader::frame`].
struct Meta {
    ts: Timestamp,
    linktype: i32,
    orig_len: u32,
}

impl NgReader {
    /// Starts reading; fails unless the input begins with a Section Header Block.
    pub(super) fn new(source: Source) -> Result<NgReader, NgError> {
        let error = Arc::clone(&source.error);
        let reader = match PcapNGReader::new(INITIAL_BUFFER, source) {
            Ok(r) => r,
            Err(PcapError::ReadError) => {
                return Err(NgError::Io(error.get().cloned().unwrap_or_default()));
            }
            Err(PcapError::Incomplete(_)) => return Err(NgError::Truncated),
            Err(_) => {
                return Err(NgError::NotPcapng(
                    "no pcapng section header block at the start".into(),
                ));
            }
        };
        Ok(NgReader {
            reader,
            interfaces: Vec::new(),
            big_endian: false,
            frame: Vec::new(),
            secrets: Vec::new(),
            error,
            consumed: 0,
            capacity: INITIAL_BUFFER,
        })
    }

    /// Bytes of (decompressed) input parsed so far.
    pub(super) fn consumed(&self) -> u64 {
        self.consumed
    }

    /// The TLS key logs (NSS key log text) of the Decryption Secrets Blocks read so far.
    pub(super) fn secrets(&self) -> &[String] {
        &self.secrets
    }

    /// The next packet, `Ok(None)` at a clean end of the input.
    pub(super) fn next_frame(&mut self) -> Result<Option<Frame<'_>>, NgError> {
        loop {
            if self.reader.reader_exhausted() && self.reader.data().is_empty() {
                return Ok(None);
            }
            match self.reader.next() {
                Ok((offset, block)) => {
                    let got = match block {
                        PcapBlockOwned::NG(block) => handle_block(
                            block,
                            &mut self.interfaces,
                            &mut self.big_endian,
                            &mut self.frame,
                            &mut self.secrets,
                        )?,
                        // Never produced by the pcapng reader.
                        PcapBlockOwned::Legacy(_) | PcapBlockOwned::LegacyHeader(_) => None,
                    };
                    self.reader.consume(offset);
                    self.consumed += offset as u64;
                    if let Some(meta) = got {
                        return Ok(Some(Frame {
                            ts: meta.ts,
                            linktype: meta.linktype,
                            data: &self.frame,
                            orig_len: meta.orig_len,
                        }));
                    }
                }
                Err(PcapError::Eof) => return Ok(None),
                Err(PcapError::UnexpectedEof) => return Err(NgError::Truncated),
                Err(PcapError::Incomplete(_) | PcapError::BufferTooSmall) => self.more()?,
                Err(PcapError::ReadError) => return Err(self.io_error()),
                Err(e) => {
                    // Not `e`'s `Display`: it dumps the rest of the buffer.
                    let why = match e {
                        PcapError::NomError(_, kind) | PcapError::OwnedNomError(_, kind) => {
                            format!("{kind:?}")
                        }
                        PcapError::HeaderNotRecognized => "not a pcapng block".into(),
                        _ => "parse error".into(),
                    };
                    return Err(NgError::Malformed(format!(
                        "bad block at byte {} ({why})",
                        self.consumed
                    )));
                }
            }
        }
    }

    /// The parser needs more data for the next block: grow the buffer if the block is larger
    /// than it, then read more.
    fn more(&mut self) -> Result<(), NgError> {
        let data = self.reader.data();
        if let Some(declared) = declared_len(data, self.big_endian) {
            if declared <= data.len() {
                // The whole block is there, yet its content wants more: it is inconsistent.
                return Err(NgError::Malformed(format!(
                    "block at byte {} is inconsistent with its length {declared}",
                    self.consumed
                )));
            }
            if declared >= self.capacity {
                if declared > MAX_BLOCK {
                    return Err(NgError::Malformed(format!(
                        "block at byte {} is {declared} bytes long (limit {MAX_BLOCK})",
                        self.consumed
                    )));
                }
                self.capacity = declared.next_power_of_two().min(MAX_BLOCK);
                self.reader.grow(self.capacity);
            }
        }
        match self.reader.refill() {
            Ok(()) => Ok(()),
            Err(_) => Err(self.io_error()),
        }
    }

    fn io_error(&self) -> NgError {
        NgError::Io(
            self.error
                .get()
                .cloned()
                .unwrap_or_else(|| "read error".into()),
        )
    }
}

/// The total length a block declares in its header, once its first 12 bytes are there.
fn declared_len(data: &[u8], section_big_endian: bool) -> Option<usize> {
    let header: &[u8; 12] = data.get(..12)?.try_into().ok()?;
    let big_endian = if header[..4] == SHB_TYPE {
        // A new section says its own byte order.
        u32::from_le_bytes([header[8], header[9], header[10], header[11]]) != BOM_LE
    } else {
        section_big_endian
    };
    let len = [header[4], header[5], header[6], header[7]];
    let len = if big_endian {
        u32::from_be_bytes(len)
    } else {
        u32::from_le_bytes(len)
    };
    usize::try_from(len).ok()
}

/// Timestamp units per second for an `if_tsresol` value: `10^n`, or `2^n` when the high bit
/// is set. (`pcap_parser::pcapng::build_ts_resolution` rejects every `2^n` resolution: it
/// compares the whole byte, high bit included, against 63.)
fn units_per_sec(tsresol: u8) -> Option<u64> {
    let n = u32::from(tsresol & 0x7f);
    if tsresol & 0x80 == 0 {
        10u64.checked_pow(n)
    } else {
        1u64.checked_shl(n)
    }
}

/// Updates the section state from one block; a packet's bytes go to `frame`.
fn handle_block(
    block: Block<'_>,
    interfaces: &mut Vec<Interface>,
    big_endian: &mut bool,
    frame: &mut Vec<u8>,
    secrets: &mut Vec<String>,
) -> Result<Option<Meta>, NgError> {
    let iface = |interfaces: &[Interface], id: u32| {
        usize::try_from(id)
            .ok()
            .and_then(|i| interfaces.get(i).copied())
            .ok_or_else(|| NgError::Malformed(format!("packet on undeclared interface {id}")))
    };
    let copy = |frame: &mut Vec<u8>, data: &[u8]| {
        frame.clear();
        frame.extend_from_slice(data);
    };
    match block {
        Block::SectionHeader(shb) => {
            *big_endian = shb.big_endian();
            interfaces.clear();
        }
        Block::InterfaceDescription(idb) => {
            let units_per_sec = units_per_sec(idb.if_tsresol).ok_or_else(|| {
                NgError::Malformed(format!("invalid if_tsresol {:#x}", idb.if_tsresol))
            })?;
            // `pcap-parser` decodes `if_tsoffset` as little-endian whatever the section's byte
            // order: decode it here.
            let offset_secs = idb
                .options
                .iter()
                .find(|o| o.code == OptionCode::IfTsoffset)
                .and_then(|o| <[u8; 8]>::try_from(o.value().get(..8)?).ok())
                .map_or(0, |b| {
                    if *big_endian {
                        i64::from_be_bytes(b)
                    } else {
                        i64::from_le_bytes(b)
                    }
                });
            interfaces.push(Interface {
                linktype: idb.linktype.0,
                snaplen: idb.snaplen,
                units_per_sec,
                offset_secs,
            });
        }
        Block::EnhancedPacket(epb) => {
            let i = iface(interfaces, epb.if_id)?;
            copy(frame, epb.packet_data());
            return Ok(Some(Meta {
                ts: i.timestamp(u64::from(epb.ts_high) << 32 | u64::from(epb.ts_low)),
                linktype: i.linktype,
                orig_len: epb.origlen,
            }));
        }
        Block::SimplePacket(spb) => {
            // Interface 0; captured length = min(original length, snaplen); no timestamp.
            let i = iface(interfaces, 0)?;
            let mut caplen = usize::try_from(spb.origlen).unwrap_or(usize::MAX);
            if i.snaplen != 0 {
                caplen = caplen.min(usize::try_from(i.snaplen).unwrap_or(usize::MAX));
            }
            let data = spb.data.get(..caplen).unwrap_or(spb.data);
            copy(frame, data);
            return Ok(Some(Meta {
                ts: Timestamp(0),
                linktype: i.linktype,
                orig_len: spb.origlen,
            }));
        }
        Block::DecryptionSecrets(dsb) if dsb.secrets_type == SecretsType::TlsKeyLog => {
            let len = usize::try_from(dsb.secrets_len).unwrap_or(usize::MAX);
            let text = dsb.data.get(..len).unwrap_or(dsb.data);
            secrets.push(String::from_utf8_lossy(text).into_owned());
        }
        Block::Unknown(ub) => {
            let block_type = if *big_endian {
                ub.block_type.swap_bytes()
            } else {
                ub.block_type
            };
            if block_type == OBSOLETE_PB {
                return obsolete_packet(ub.data, *big_endian, interfaces, frame).map(Some);
            }
        }
        _ => {}
    }
    Ok(None)
}

/// An obsolete Packet Block's body: interface id (16 bits), drops count (16), timestamp high
/// and low (32 each), captured length, original length, then the data.
fn obsolete_packet(
    body: &[u8],
    big_endian: bool,
    interfaces: &[Interface],
    frame: &mut Vec<u8>,
) -> Result<Meta, NgError> {
    let bad = || NgError::Malformed("obsolete packet block is too short".into());
    let u32_at = |at: usize| -> Result<u32, NgError> {
        let b: [u8; 4] = body
            .get(at..at + 4)
            .and_then(|s| s.try_into().ok())
            .ok_or_else(bad)?;
        Ok(if big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    };
    let id_bytes: [u8; 2] = body
        .get(..2)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(bad)?;
    let if_id = if big_endian {
        u16::from_be_bytes(id_bytes)
    } else {
        u16::from_le_bytes(id_bytes)
    };
    let i = interfaces
        .get(usize::from(if_id))
        .copied()
        .ok_or_else(|| NgError::Malformed(format!("packet on undeclared interface {if_id}")))?;
    let ticks = u64::from(u32_at(4)?) << 32 | u64::from(u32_at(8)?);
    let caplen = usize::try_from(u32_at(12)?).unwrap_or(usize::MAX);
    let orig_len = u32_at(16)?;
    let data = body
        .get(20..)
        .and_then(|d| d.get(..caplen))
        .ok_or_else(bad)?;
    frame.clear();
    frame.extend_from_slice(data);
    Ok(Meta {
        ts: i.timestamp(ticks),
        linktype: i.linktype,
        orig_len,
    })
}

/// Every TLS key log (NSS key log text of a Decryption Secrets Block of type `TLSK`) in a
/// pcapng file, gzip-compressed or not, in file order. A classic pcap file (which cannot hold
/// secrets) or any other non-pcapng file is an [`CaptureError::Open`] error.
pub fn scan_pcapng_secrets(path: &Path) -> Result<Vec<String>, CaptureError> {
    let (source, counter) = Source::open(path).map_err(|e| CaptureError::Open {
        path: path.to_path_buf(),
        msg: e.to_string(),
    })?;
    let gzip = counter.is_some();
    let mut ng = NgReader::new(source).map_err(|e| to_capture_error(e, path, gzip, 0, true))?;
    let mut frames = 0;
    loop {
        match ng.next_frame() {
            Ok(Some(_)) => frames += 1,
            Ok(None) => return Ok(std::mem::take(&mut ng.secrets)),
            Err(e) => return Err(to_capture_error(e, path, gzip, frames, false)),
        }
    }
}

/// The [`CaptureError`] for `e`, met after `frames` frames; `opening` when it happened while
/// opening the file.
pub(super) fn to_capture_error(
    e: NgError,
    path: &Path,
    gzip: bool,
    frames: u64,
    opening: bool,
) -> CaptureError {
    let path = path.to_path_buf();
    match e {
        NgError::NotPcapng(msg) => CaptureError::Open { path, msg },
        NgError::Truncated if opening => CaptureError::Open {
            path,
            msg: "file is too short for a pcapng section header".into(),
        },
        NgError::Truncated => CaptureError::Truncated {
            path,
            frames_read: frames,
        },
        NgError::Io(msg) if gzip => CaptureError::Gzip { path, msg },
        NgError::Io(msg) | NgError::Malformed(msg) => CaptureError::Read { path, msg },
    }
}
