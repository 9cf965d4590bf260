//! A pure-Rust reader for uncompressed classic pcap files, used instead of libpcap because
//! libpcap's small buffered reads dominate the cost of reading a page-cached file.
//!
//! Format: draft-ietf-opsawg-pcap ("PCAP Capture File Format"): a 24-byte file header (magic,
//! major and minor version, two reserved fields, SnapLen, and LinkType with the FCS bits in its
//! top bits) followed by records, each a 16-byte header (seconds, microseconds or nanoseconds,
//! captured length, original length) and the captured bytes. All fields are in the byte order
//! the magic number reveals.
//!
//! The file is read with large `read` calls into one reusable buffer and each record is parsed
//! in place: a record straddling the end of the buffer is moved to the front before the next
//! read, and the buffer grows only for a record larger than itself.
//!
//! [`super::OfflineCapture`] uses this reader only for files libpcap 1.10 would deliver exactly
//! the same way ([`FileHeader::parse`] returns `None` for any other file, which goes on to
//! libpcap): version 2.4, and a link type that [`crate::flow::decode`] handles. The reader
//! reproduces libpcap's handling of such files: the link type is translated like libpcap's
//! `linktype_to_dlt` (`LINKTYPE_RAW` 101 is reported as `DLT_RAW` 12), the seconds and
//! fraction fields are signed 32-bit values, a record longer than libpcap's maximum snapshot
//! length (262144 bytes for these link types) is an error, and a record longer than the file's
//! snapshot length (262144 when the header says 0 or more than that) delivers only its first
//! snapshot-length bytes.

use std::io::{self, Read};

use std::sync::Arc;

use crate::flow::dlt;
use crate::wire::Timestamp;

/// Size of the classic pcap file header.
pub(super) const FILE_HEADER_LEN: usize = 24;
/// Size of a classic pcap record header.
pub(super) const RECORD_HEADER_LEN: usize = 16;
/// Size of each `read` call (and the buffer's initial size).
pub(super) const DEFAULT_BUFFER: usize = 1024 * 1024;
/// libpcap's `MAXIMUM_SNAPLEN`: its largest accepted captured length for the link types this
/// reader handles (libpcap's `max_snaplen_for_dlt` only raises it for D-Bus, EBHSCR and
/// USBPcap), and the snapshot length used when the header's is 0 or larger.
pub(super) const MAX_SNAPLEN: u32 = 262_144;
/// The FCS bits (`LT_FCS_LENGTH_PRESENT`, `LT_FCS_LENGTH`) and reserved bits of the header's
/// LinkType field are above these; libpcap's `LT_LINKTYPE`.
const LINKTYPE_MASK: u32 = 0x03FF_FFFF;

/// Magic numbers as read little-endian from the first four bytes.
const MAGIC_MICROS: u32 = 0xa1b2_c3d4;
const MAGIC_NANOS: u32 = 0xa1b2_3c4d;

/// What the 24-byte file header says, for a file this reader handles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct FileHeader {
    /// Fields are big-endian.
    big_endian: bool,
    /// The fraction field counts nanoseconds (else microseconds).
    nanos: bool,
    /// Captured bytes delivered per record at most (libpcap's adjusted snapshot length).
    snapshot: u32,
    /// The link type as libpcap reports it (a DLT value).
    linktype: i32,
}

impl FileHeader {
    /// Parses a file header; `None` when the file is not a classic pcap file this reader
    /// handles the way libpcap would (libpcap then reads it, or reports why it cannot).
    pub(super) fn parse(h: &[u8]) -> Option<FileHeader> {
        let h: &[u8; FILE_HEADER_LEN] = h.get(..FILE_HEADER_LEN)?.try_into().ok()?;
        let le = |i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
        let (big_endian, nanos) = match le(0) {
            MAGIC_MICROS => (false, false),
            MAGIC_NANOS => (false, true),
            m if m.swap_bytes() == MAGIC_MICROS => (true, false),
            m if m.swap_bytes() == MAGIC_NANOS => (true, true),
            _ => return None,
        };
        let u16_at = |i: usize| {
            let b = [h[i], h[i + 1]];
            if big_endian {
                u16::from_be_bytes(b)
            } else {
                u16::from_le_bytes(b)
            }
        };
        let u32_at = |i: usize| {
            if big_endian {
                le(i).swap_bytes()
            } else {
                le(i)
            }
        };
        // Older versions have swapped length fields (libpcap's `lengths_swapped`); leave them,
        // and any unknown version, to libpcap.
        if (u16_at(4), u16_at(6)) != (2, 4) {
            return None;
        }
        let linktype = dlt_of(u32_at(20) & LINKTYPE_MASK)?;
        let snaplen = u32_at(16);
        let snapshot = if snaplen == 0 || snaplen > MAX_SNAPLEN {
            MAX_SNAPLEN
        } else {
            snaplen
        };
        Some(FileHeader {
            big_endian,
            nanos,
            snapshot,
            linktype,
        })
    }

    /// The link type as libpcap reports it.
    pub(super) fn linktype(&self) -> i32 {
        self.linktype
    }

    /// Reads a 16-byte record header (`h` is at least that long).
    pub(super) fn record_header(&self, h: &[u8]) -> RecordHeader {
        let u32_at = |i: usize| self.u32_at(h, i);
        // libpcap reads both time fields as signed 32-bit values.
        let sec = u32_at(0) as i32;
        let frac = u32_at(4) as i32;
        RecordHeader {
            ts: Timestamp::from_secs_nanos(
                i64::from(sec),
                if self.nanos {
                    i64::from(frac)
                } else {
                    i64::from(frac) * 1_000
                },
            ),
            frac,
            caplen: u32_at(8),
            orig_len: u32_at(12),
        }
    }

    /// The seconds field of a record header (`h`), as stored.
    pub(super) fn seconds_field(&self, h: &[u8]) -> u32 {
        self.u32_at(h, 0)
    }

    /// Multi-byte fields are big-endian (else little-endian).
    pub(super) fn big_endian(&self) -> bool {
        self.big_endian
    }

    /// The 32-bit field at `b[i..i + 4]` in the file's byte order (`b` holds it).
    fn u32_at(&self, b: &[u8], i: usize) -> u32 {
        let v = [b[i], b[i + 1], b[i + 2], b[i + 3]];
        if self.big_endian {
            u32::from_be_bytes(v)
        } else {
            u32::from_le_bytes(v)
        }
    }

    /// The fraction field counts nanoseconds (else microseconds).
    pub(super) fn nanos(&self) -> bool {
        self.nanos
    }
}

/// libpcap's `linktype_to_dlt` on Linux, for the link types `flow::decode` handles; `None` for
/// the others (left to libpcap).
fn dlt_of(linktype: u32) -> Option<i32> {
    let lt = i32::try_from(linktype).ok()?;
    match lt {
        dlt::LINKTYPE_RAW => Some(dlt::RAW),
        dlt::NULL
        | dlt::EN10MB
        | dlt::PPP
        | dlt::LOOP
        | dlt::LINUX_SLL
        | dlt::IPV4
        | dlt::IPV6
        | dlt::LINUX_SLL2 => Some(lt),
        _ => None,
    }
}

/// A record header as read, before any check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct RecordHeader {
    pub(super) ts: Timestamp,
    /// The raw fraction field (microseconds or nanoseconds).
    pub(super) frac: i32,
    pub(super) caplen: u32,
    pub(super) orig_len: u32,
}

impl RecordHeader {
    /// The captured bytes libpcap delivers: at most the file's snapshot length.
    pub(super) fn delivered(&self, header: &FileHeader) -> usize {
        self.caplen.min(header.snapshot) as usize
    }
}

/// One record: its captured bytes are `PcapFileReader::data`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Record {
    pub(super) ts: Timestamp,
    pub(super) orig_len: u32,
}

/// Why the reader stopped.
#[derive(Debug)]
pub(super) enum PcapFileError {
    /// The file ends inside a record.
    Truncated,
    /// A record's captured length is larger than libpcap accepts.
    BadCaplen { caplen: u32, offset: u64 },
    /// Reading the file failed.
    Io(io::Error),
}

impl std::fmt::Display for PcapFileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PcapFileError::Truncated => f.write_str("file ends inside a record"),
            PcapFileError::BadCaplen { caplen, offset } => write!(
                f,
                "invalid packet capture length {caplen}, bigger than maximum of {MAX_SNAPLEN} \
                 (record at file offset {offset})"
            ),
            PcapFileError::Io(e) => e.fmt(f),
        }
    }
}

/// Where [`PcapFileReader`] finds the file's bytes.
enum Store {
    /// Read into this buffer, a part at a time.
    Read(Vec<u8>),
    /// The whole file (mapped), parsed in place.
    Whole(Arc<dyn AsRef<[u8]> + Send + Sync>),
}

impl Store {
    fn bytes(&self) -> &[u8] {
        match self {
            Store::Read(v) => v,
            Store::Whole(m) => (**m).as_ref(),
        }
    }
}

/// Streams the records of a classic pcap file whose header has been read already.
pub(super) struct PcapFileReader<R> {
    input: R,
    header: FileHeader,
    /// `buf[start..end]` is read but not yet consumed.
    buf: Store,
    start: usize,
    end: usize,
    /// Size of each read, at least.
    chunk: usize,
    /// The input has returned end of file.
    eof: bool,
    /// Bytes of the file consumed: the file header and the records delivered.
    consumed: u64,
    /// Where the current record's captured bytes are in `buf`.
    data: (usize, usize),
}

impl<R: Read> PcapFileReader<R> {
    /// A reader of `input`, positioned just after the file header, reading `chunk` bytes at a
    /// time (at least one record header).
    pub(super) fn new(input: R, header: FileHeader, chunk: usize) -> Self {
        let chunk = chunk.max(RECORD_HEADER_LEN);
        PcapFileReader {
            input,
            header,
            buf: Store::Read(vec![0; chunk]),
            start: 0,
            end: 0,
            chunk,
            eof: false,
            consumed: FILE_HEADER_LEN as u64,
            data: (0, 0),
        }
    }

    /// A reader of a whole file's bytes (mapped), parsed in place (`input` is not read).
    pub(super) fn whole(
        input: R,
        header: FileHeader,
        file: Arc<dyn AsRef<[u8]> + Send + Sync>,
    ) -> Self {
        Self::whole_from(input, header, file, FILE_HEADER_LEN)
    }

    /// [`Self::whole`], reading from byte `from` of the file on: a record's start, for the
    /// same records and errors from there as a reader from the first record gives.
    pub(super) fn whole_from(
        input: R,
        header: FileHeader,
        file: Arc<dyn AsRef<[u8]> + Send + Sync>,
        from: usize,
    ) -> Self {
        let end = (*file).as_ref().len();
        let start = from.clamp(FILE_HEADER_LEN.min(end), end);
        PcapFileReader {
            input,
            header,
            buf: Store::Whole(file),
            start,
            end,
            chunk: RECORD_HEADER_LEN,
            eof: true,
            consumed: start as u64,
            data: (0, 0),
        }
    }

    /// The file's header.
    pub(super) fn header(&self) -> &FileHeader {
        &self.header
    }

    /// Bytes of the file consumed so far (the file header and every record delivered).
    pub(super) fn consumed(&self) -> u64 {
        self.consumed
    }

    /// Where the captured bytes of the record last returned by [`Self::next_record`] start,
    /// in the file (meaningful for a whole-file reader, whose buffer is the file).
    pub(super) fn data_start(&self) -> usize {
        self.data.0
    }

    /// The captured bytes of the record last returned by [`Self::next_record`].
    pub(super) fn data(&self) -> &[u8] {
        self.buf
            .bytes()
            .get(self.data.0..self.data.1)
            .unwrap_or(&[])
    }

    fn u32_at(&self, i: usize) -> u32 {
        self.header.u32_at(self.buf.bytes(), i)
    }

    /// The next record, `Ok(None)` at a clean end of file (the end falls between records).
    pub(super) fn next_record(&mut self) -> Result<Option<Record>, PcapFileError> {
        loop {
            let avail = self.end - self.start;
            let mut need = RECORD_HEADER_LEN;
            if avail >= RECORD_HEADER_LEN {
                let caplen = self.u32_at(self.start + 8);
                if caplen > MAX_SNAPLEN {
                    return Err(PcapFileError::BadCaplen {
                        caplen,
                        offset: self.consumed,
                    });
                }
                // caplen <= MAX_SNAPLEN: no overflow, and a bounded buffer.
                need = RECORD_HEADER_LEN + caplen as usize;
                if avail >= need {
                    return Ok(Some(self.take_record(need)));
                }
            }
            if self.eof {
                return if avail == 0 {
                    Ok(None)
                } else {
                    Err(PcapFileError::Truncated)
                };
            }
            self.fill(need)?;
        }
    }

    /// Consumes the complete record of `len` bytes at `start`.
    fn take_record(&mut self, len: usize) -> Record {
        let s = self.start;
        let h = self
            .header
            .record_header(&self.buf.bytes()[s..s + RECORD_HEADER_LEN]);
        let delivered = h.delivered(&self.header);
        self.data = (s + RECORD_HEADER_LEN, s + RECORD_HEADER_LEN + delivered);
        self.start += len;
        self.consumed += len as u64;
        Record {
            ts: h.ts,
            orig_len: h.orig_len,
        }
    }

    /// Reads more input so that `need` bytes from `start` can fit: moves the unconsumed bytes
    /// to the front, grows the buffer if the record is larger than it, then reads at most once.
    fn fill(&mut self, need: usize) -> Result<(), PcapFileError> {
        self.data = (0, 0);
        let size = need.max(self.chunk);
        let Store::Read(buf) = &mut self.buf else {
            // A whole file is all there from the start.
            self.eof = true;
            return Ok(());
        };
        if self.start > 0 {
            buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if need > buf.len() {
            buf.resize(size, 0);
        }
        loop {
            match self.input.read(&mut buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(());
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(PcapFileError::Io(e)),
            }
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use std::io::Cursor;

    /// Builds a classic pcap file: `(sec, frac, data, orig_len)` records.
    pub(crate) fn build(
        big_endian: bool,
        nanos: bool,
        snaplen: u32,
        linktype: u32,
        records: &[(u32, u32, &[u8], u32)],
    ) -> Vec<u8> {
        let u32b = |v: u32| {
            if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let u16b = |v: u16| {
            if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let mut out = Vec::new();
        out.extend(u32b(if nanos { MAGIC_NANOS } else { MAGIC_MICROS }));
        out.extend(u16b(2));
        out.extend(u16b(4));
        out.extend(u32b(0));
        out.extend(u32b(0));
        out.extend(u32b(snaplen));
        out.extend(u32b(linktype));
        for (sec, frac, data, orig) in records {
            out.extend(u32b(*sec));
            out.extend(u32b(*frac));
            out.extend(u32b(data.len() as u32));
            out.extend(u32b(*orig));
            out.extend_from_slice(data);
        }
        out
    }

    type Got = Vec<(Timestamp, Vec<u8>, u32)>;

    fn read_all(file: &[u8], chunk: usize) -> (FileHeader, Got, Option<PcapFileError>, u64) {
        let header = FileHeader::parse(file).expect("handled header");
        let mut r = PcapFileReader::new(Cursor::new(&file[FILE_HEADER_LEN..]), header, chunk);
        let mut got = Vec::new();
        loop {
            match r.next_record() {
                Ok(Some(rec)) => got.push((rec.ts, r.data().to_vec(), rec.orig_len)),
                Ok(None) => return (header, got, None, r.consumed()),
                Err(e) => return (header, got, Some(e), r.consumed()),
            }
        }
    }

    #[test]
    fn micros_and_nanos_in_both_byte_orders() {
        for big_endian in [false, true] {
            for nanos in [false, true] {
                let file = build(
                    big_endian,
                    nanos,
                    65535,
                    1,
                    &[(10, 20, b"abc", 60), (11, 999_999, b"", 0)],
                );
                let (h, got, err, consumed) = read_all(&file, DEFAULT_BUFFER);
                assert!(err.is_none(), "{err:?}");
                assert_eq!(h.linktype(), 1);
                let scale = if nanos { 1 } else { 1_000 };
                assert_eq!(
                    got,
                    vec![
                        (Timestamp(10_000_000_000 + 20 * scale), b"abc".to_vec(), 60),
                        (Timestamp(11_000_000_000 + 999_999 * scale), vec![], 0),
                    ],
                    "big_endian {big_endian} nanos {nanos}"
                );
                assert_eq!(consumed, file.len() as u64);
            }
        }
    }

    #[test]
    fn records_straddling_the_buffer_end() {
        let big = vec![7u8; 100];
        let recs: Vec<(u32, u32, &[u8], u32)> = (0..20u32)
            .map(|i| {
                let d: &[u8] = match i % 3 {
                    0 => b"0123456789",
                    1 => &big,
                    _ => b"x",
                };
                (i, i, d, d.len() as u32)
            })
            .collect();
        let file = build(false, false, 65535, 1, &recs);
        let (_, want, err, _) = read_all(&file, DEFAULT_BUFFER);
        assert!(err.is_none());
        assert_eq!(want.len(), 20);
        // Buffer sizes from one record header up: records split at every possible place, and
        // records larger than the buffer.
        for chunk in [1, 16, 17, 23, 40, 64, 115, 116, 117, 200] {
            let (_, got, err, consumed) = read_all(&file, chunk);
            assert!(err.is_none(), "chunk {chunk}: {err:?}");
            assert_eq!(got, want, "chunk {chunk}");
            assert_eq!(consumed, file.len() as u64);
        }
    }

    #[test]
    fn a_file_cut_mid_record_is_truncated_after_its_complete_records() {
        let file = build(
            true,
            false,
            65535,
            1,
            &[(1, 0, b"abcd", 4), (2, 0, b"efgh", 4)],
        );
        let one = FILE_HEADER_LEN + RECORD_HEADER_LEN + 4;
        for cut in one + 1..file.len() {
            for chunk in [16, 20, 1024] {
                let (_, got, err, consumed) = read_all(&file[..cut], chunk);
                assert_eq!(got.len(), 1, "cut {cut}");
                assert!(matches!(err, Some(PcapFileError::Truncated)), "cut {cut}");
                assert_eq!(consumed, one as u64);
            }
        }
        // A cut between records is a clean end.
        let (_, got, err, _) = read_all(&file[..one], 16);
        assert_eq!(got.len(), 1);
        assert!(err.is_none());
    }

    #[test]
    fn an_absurd_caplen_is_an_error_not_an_allocation() {
        let mut file = build(
            false,
            false,
            65535,
            1,
            &[(1, 0, b"ab", 2), (1, 0, b"cd", 2)],
        );
        let second = FILE_HEADER_LEN + RECORD_HEADER_LEN + 2;
        for caplen in [MAX_SNAPLEN + 1, 0x7fff_ffff, u32::MAX] {
            file[second + 8..second + 12].copy_from_slice(&caplen.to_le_bytes());
            let (_, got, err, _) = read_all(&file, 64);
            assert_eq!(got.len(), 1);
            match err {
                Some(e @ PcapFileError::BadCaplen { .. }) => {
                    let msg = e.to_string();
                    assert!(msg.contains(&caplen.to_string()), "{msg}");
                    assert!(msg.contains(&format!("offset {second}")), "{msg}");
                }
                other => panic!("caplen {caplen}: {other:?}"),
            }
        }
    }

    #[test]
    fn caplen_above_snaplen_delivers_the_snapshot_like_libpcap() {
        let data = vec![1u8; 300];
        let file = build(false, true, 100, 1, &[(1, 0, &data, 400), (2, 0, b"z", 1)]);
        let (_, got, err, consumed) = read_all(&file, 64);
        assert!(err.is_none());
        assert_eq!(got[0].1.len(), 100);
        assert_eq!(got[0].2, 400);
        assert_eq!(got[1].1, b"z");
        assert_eq!(consumed, file.len() as u64);
        // MAX_SNAPLEN itself is accepted.
        let big = vec![2u8; MAX_SNAPLEN as usize];
        let file = build(false, false, 0, 1, &[(1, 0, &big, MAX_SNAPLEN)]);
        let (_, got, err, _) = read_all(&file, 1000);
        assert!(err.is_none());
        assert_eq!(got[0].1.len(), MAX_SNAPLEN as usize);
    }

    #[test]
    fn header_checks() {
        let ok = build(false, false, 65535, 1, &[]);
        assert!(FileHeader::parse(&ok).is_some());
        assert!(FileHeader::parse(&ok[..20]).is_none());
        // LINKTYPE_RAW is reported as DLT_RAW; the FCS bits are masked off.
        let raw = build(false, false, 65535, 101 | (1 << 26) | (4 << 28), &[]);
        assert_eq!(FileHeader::parse(&raw).unwrap().linktype(), dlt::RAW);
        let sll2 = build(true, true, 65535, 276, &[]);
        assert_eq!(FileHeader::parse(&sll2).unwrap().linktype(), 276);
        // Link types decode does not handle, and other versions, go to libpcap.
        assert!(FileHeader::parse(&build(false, false, 65535, 147, &[])).is_none());
        let mut v23 = ok.clone();
        v23[6] = 3;
        assert!(FileHeader::parse(&v23).is_none());
        let mut bad_magic = ok;
        bad_magic[0] = 0;
        assert!(FileHeader::parse(&bad_magic).is_none());
    }
}
