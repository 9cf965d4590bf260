//! The parallel reader delivers exactly what the one-thread reader does: every frame, in
//! order, and the same end (clean, truncated, or a bad record), whatever the chunk size, the
//! thread count, and payloads built to fool the record-boundary guess.

use std::path::PathBuf;
use std::sync::Arc;

use super::*;
use crate::capture::pcap_file::tests::build;

type Got = Vec<(u64, Vec<u8>, u32, i32)>;

/// Frames and ends of every file, as the one-thread reader delivers them.
fn sequential(files: &[PathBuf]) -> (Got, Vec<String>) {
    let mut got = Vec::new();
    let mut ends = Vec::new();
    for f in files {
        let mut cap = match OfflineCapture::open(f) {
            Ok(c) => c,
            Err(e) => {
                ends.push(e.to_string());
                continue;
            }
        };
        loop {
            match cap.next_frame() {
                Ok(Some(fr)) => {
                    got.push((fr.ts.as_nanos(), fr.data.to_vec(), fr.orig_len, fr.linktype))
                }
                Ok(None) => {
                    ends.push("ok".into());
                    break;
                }
                Err(e) => {
                    ends.push(e.to_string());
                    break;
                }
            }
        }
    }
    (got, ends)
}

/// Collects the frames of a block, and checks they are in its buffer where it says.
#[derive(Clone, Default)]
struct Collect(Got, Vec<FrameRef>);

impl BlockSink for Collect {
    type Out = Got;
    fn frame(&mut self, data: &[u8], f: &FrameRef) {
        let fr = f.frame(data);
        self.0
            .push((fr.ts.as_nanos(), data.to_vec(), fr.orig_len, fr.linktype));
        self.1.push(*f);
    }
    fn finish(&mut self, buf: &Arc<Vec<u8>>) -> Got {
        for (f, got) in self.1.drain(..).zip(&self.0) {
            assert_eq!(&buf[f.start..f.start + f.len], got.1.as_slice());
        }
        std::mem::take(&mut self.0)
    }
}

fn parallel(files: &[PathBuf], threads: usize, chunk: u64) -> (Got, Vec<String>) {
    let mut r =
        ParallelReader::start_with(files, threads, chunk, Collect::default()).expect("threads");
    let mut got = Vec::new();
    let mut ends = Vec::new();
    let mut last_file = 0;
    while let Some(ev) = r.next() {
        match ev {
            ReadEvent::Frames {
                file, frames, item, ..
            } => {
                assert!(file >= last_file, "files out of order");
                last_file = file;
                assert_eq!(frames, item.len() as u64);
                got.extend(item);
            }
            ReadEvent::FileEnd { file, result } => {
                assert_eq!(file, ends.len(), "one end per file, in order");
                ends.push(result.map_or_else(|e| e.to_string(), |()| "ok".into()));
            }
        }
    }
    (got, ends)
}

use crate::test_rng::Rng;

/// Record payloads; some carry fake record headers that chain like real ones.
fn payloads(rng: &mut Rng, n: usize) -> Vec<(u32, u32, Vec<u8>, u32)> {
    let mut out = Vec::new();
    let mut sec = 1_700_000_000u32;
    for i in 0..n {
        sec += rng.below(3) as u32;
        let len = match rng.below(10) {
            0 => rng.below(70_000) as usize,
            1 => 0,
            _ => rng.below(1600) as usize,
        };
        let mut data: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        if i % 3 == 0 && len > 64 {
            // A fake chain: headers claiming 8-byte records, with plausible times.
            for (k, chunk) in data.chunks_mut(24).enumerate() {
                if chunk.len() == 24 {
                    chunk[..4].copy_from_slice(&(sec + k as u32).to_le_bytes());
                    chunk[4..8].copy_from_slice(&5u32.to_le_bytes());
                    chunk[8..12].copy_from_slice(&8u32.to_le_bytes());
                    chunk[12..16].copy_from_slice(&60u32.to_le_bytes());
                }
            }
        }
        let orig = len as u32 + rng.below(2) as u32 * 10;
        out.push((sec, rng.below(1_000_000) as u32, data, orig));
    }
    out
}

fn write(dir: &std::path::Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write");
    p
}

fn file_of(recs: &[(u32, u32, Vec<u8>, u32)], snaplen: u32) -> Vec<u8> {
    let r: Vec<(u32, u32, &[u8], u32)> = recs
        .iter()
        .map(|(a, b, d, o)| (*a, *b, d.as_slice(), *o))
        .collect();
    build(false, false, snaplen, 1, &r)
}

#[test]
fn chunked_reading_equals_sequential_reading() {
    let dir = std::env::temp_dir().join(format!("smbscope-threaded-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    for round in 0..6 {
        let recs = payloads(&mut rng, 60 + round * 20);
        let whole = file_of(&recs, if round == 2 { 1000 } else { 65535 });
        let clean = write(&dir, &format!("clean{round}.pcap"), &whole);
        // Cut inside a record, and a record with an impossible captured length.
        let cut = write(&dir, &format!("cut{round}.pcap"), &whole[..whole.len() - 7]);
        let mut bad = whole.clone();
        let at = 24 + 16 + recs[0].2.len() + 16 + recs[1].2.len();
        bad[at + 8..at + 12].copy_from_slice(&300_000u32.to_le_bytes());
        let bad = write(&dir, &format!("bad{round}.pcap"), &bad);
        let files = vec![clean.clone(), cut, bad, clean];
        let want = sequential(&files);
        assert!(!want.0.is_empty());
        for (threads, chunk) in [
            (1, 16),
            (2, 100),
            (3, 777),
            (2, 4096),
            (4, 70_001),
            (2, 1 << 21),
        ] {
            let got = parallel(&files, threads, chunk);
            assert_eq!(
                got.1, want.1,
                "ends, round {round} threads {threads} chunk {chunk}"
            );
            assert!(
                got.0 == want.0,
                "frames differ: round {round} threads {threads} chunk {chunk}"
            );
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn other_formats_and_missing_files_are_read_whole_in_order() {
    let caps = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&caps)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let n = p.to_string_lossy();
            n.ends_with(".pcap") || n.ends_with(".pcapng") || n.ends_with(".gz")
        })
        .collect();
    files.sort();
    files.truncate(6);
    let dir = std::env::temp_dir().join(format!("smbscope-threaded-w-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let plain = std::fs::read(&files[0]).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &plain).unwrap();
    files.insert(2, write(&dir, "gz.pcap.gz", &gz.finish().unwrap()));
    files.insert(1, write(&dir, "ng.pcapng", &pcapng_of(&plain)));
    files.insert(1, caps.join("no-such-file.pcap"));
    files.push(caps.join("README.md"));
    let want = sequential(&files);
    assert!(want.1[1].contains("no-such-file"), "{:?}", want.1);
    assert_eq!(
        (want.1[2].as_str(), want.1[4].as_str()),
        ("ok", "ok"),
        "pcapng and gzip read"
    );
    for threads in [1, 2, 3] {
        let got = parallel(&files, threads, 4096);
        assert_eq!(got.1, want.1);
        assert!(got.0 == want.0, "frames differ with {threads} threads");
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// The records of a little-endian microsecond classic pcap file as a pcapng file (section
/// header, one interface, enhanced packet blocks; pcapng draft, sections 4.1-4.3).
fn pcapng_of(pcap: &[u8]) -> Vec<u8> {
    let le = |b: &[u8], i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap());
    let mut out = Vec::new();
    let mut block = |ty: u32, body: &[u8]| {
        let pad = body.len().next_multiple_of(4);
        let len = (12 + pad) as u32;
        out.extend(ty.to_le_bytes());
        out.extend(len.to_le_bytes());
        out.extend(body);
        out.resize(out.len() + pad - body.len(), 0);
        out.extend(len.to_le_bytes());
    };
    block(
        0x0a0d_0d0a,
        &[
            0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        ],
    );
    let linktype = le(pcap, 20) as u16;
    let mut idb = linktype.to_le_bytes().to_vec();
    idb.extend([0, 0, 0, 0, 4, 0]);
    block(1, &idb);
    let mut at = 24;
    while at + 16 <= pcap.len() {
        let (sec, usec, cap, orig) = (
            le(pcap, at),
            le(pcap, at + 4),
            le(pcap, at + 8),
            le(pcap, at + 12),
        );
        let ticks = u64::from(sec) * 1_000_000 + u64::from(usec);
        let mut epb = 0u32.to_le_bytes().to_vec();
        epb.extend(((ticks >> 32) as u32).to_le_bytes());
        epb.extend((ticks as u32).to_le_bytes());
        epb.extend(cap.to_le_bytes());
        epb.extend(orig.to_le_bytes());
        epb.extend(&pcap[at + 16..at + 16 + cap as usize]);
        block(6, &epb);
        at += 16 + cap as usize;
    }
    out
}
