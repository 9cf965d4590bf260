//! Hostile input, end to end: truncated capture files, lying length fields, hostile TCP
//! (overlaps with conflicting bytes, out-of-window and wildly out-of-order segments, sequence
//! wraparound), flow floods, a million tiny messages, decompression bombs, wrong keys. Each test
//! must end with a report (a summary), keep memory bounded (every cap holds and is reported),
//! never panic, and run in a few seconds.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use etherparse::PacketBuilder;
use serde_json::Value;
use smbscope::capture::Frame;
use smbscope::crypto::keys::{KeyStore, parse_keys};
use smbscope::engine::{Config, Engine, ShardedEngine, analyze_file};
use smbscope::event::{Record, Summary};
use smbscope::flow::{Limits, dlt};
use smbscope::wire::Timestamp;

const CLIENT: [u8; 4] = [10, 1, 0, 1];
const SERVER: [u8; 4] = [10, 1, 0, 2];
const CPORT: u16 = 50_000;

/// Drives an [`Engine`] with synthetic Ethernet/IPv4 frames, one millisecond apart.
struct Run {
    engine: Engine,
    ts: Timestamp,
    records: Vec<Record>,
}

impl Run {
    fn new(config: Config) -> Run {
        Run {
            engine: Engine::new(config),
            ts: Timestamp::from_secs(1_700_000_000),
            records: Vec::new(),
        }
    }

    fn frame(&mut self, data: &[u8], orig_len: usize) {
        self.ts = Timestamp(self.ts.0 + 1_000_000);
        let frame = Frame {
            ts: self.ts,
            linktype: dlt::EN10MB,
            data,
            orig_len: orig_len as u32,
        };
        self.engine.handle_frame(&frame);
        while let Some(r) = self.engine.poll_record() {
            self.records.push(r);
        }
    }

    /// A client (or server) TCP segment of the connection CLIENT:`cport` <-> SERVER:445.
    fn seg(&mut self, from_server: bool, cport: u16, seq: u32, ack: u32, syn: bool, data: &[u8]) {
        let f = tcp(from_server, cport, seq, ack, syn, data);
        self.frame(&f, f.len());
    }

    /// SYN, SYN-ACK, ACK on CLIENT:`cport`; returns the next (client, server) sequence numbers.
    fn handshake(&mut self, cport: u16, isn_c: u32, isn_s: u32) -> (u32, u32) {
        self.seg(false, cport, isn_c, 0, true, &[]);
        self.seg(true, cport, isn_s, isn_c.wrapping_add(1), true, &[]);
        let (c, s) = (isn_c.wrapping_add(1), isn_s.wrapping_add(1));
        self.seg(false, cport, c, s, false, &[]);
        (c, s)
    }

    /// Ends the input and returns the records as JSON and the summary.
    fn finish(mut self) -> (Vec<Value>, Summary) {
        self.engine.finish();
        while let Some(r) = self.engine.poll_record() {
            self.records.push(r);
        }
        let summary = self.engine.summary();
        let json = self
            .records
            .iter()
            .map(|r| serde_json::to_value(r).expect("records serialize"))
            .collect();
        (json, summary)
    }
}

fn tcp(from_server: bool, cport: u16, seq: u32, ack: u32, syn: bool, data: &[u8]) -> Vec<u8> {
    let (src, dst, sp, dp) = if from_server {
        (SERVER, CLIENT, 445, cport)
    } else {
        (CLIENT, SERVER, cport, 445)
    };
    let mut b = PacketBuilder::ethernet2([2; 6], [4; 6])
        .ipv4(src, dst, 64)
        .tcp(sp, dp, seq, 65_535);
    b = match (syn, from_server) {
        (true, false) => b.syn(),
        (true, true) => b.syn().ack(ack),
        (false, _) => b.ack(ack).psh(),
    };
    let mut out = Vec::with_capacity(b.size(data.len()));
    b.write(&mut out, data).expect("a Vec grows");
    out
}

/// An SMB2 header (64 bytes) of `command` followed by `body`, behind its NBSS header.
fn smb2(command: u16, response: bool, msg_id: u64, body: &[u8]) -> Vec<u8> {
    let mut m = vec![0xFE, b'S', b'M', b'B', 64, 0, 0, 0, 0, 0, 0, 0];
    m.extend_from_slice(&command.to_le_bytes());
    m.extend_from_slice(&[1, 0]); // credits
    m.extend_from_slice(&u32::from(response).to_le_bytes()); // flags
    m.extend_from_slice(&[0; 4]); // next command
    m.extend_from_slice(&msg_id.to_le_bytes());
    m.resize(64, 0);
    m.extend_from_slice(body);
    nbss(&m)
}

fn nbss(msg: &[u8]) -> Vec<u8> {
    let mut v = (msg.len() as u32).to_be_bytes().to_vec();
    v[0] = 0;
    v.extend_from_slice(msg);
    v
}

/// An SMB2 NEGOTIATE request offering 2.0.2 and 2.1.
fn negotiate_request() -> Vec<u8> {
    let mut body = vec![36, 0, 2, 0, 1, 0, 0, 0, 0, 0, 0, 0];
    body.extend_from_slice(&[0x11; 16]); // client guid
    body.extend_from_slice(&[0; 8]);
    body.extend_from_slice(&[0x02, 0x02, 0x10, 0x02]);
    smb2(0, false, 0, &body)
}

fn anomalies(s: &Summary, kind: &str) -> u64 {
    s.anomalies.get(kind).copied().unwrap_or(0)
}

fn write_temp(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("smbscope-adversarial-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    let mut f = std::fs::File::create(&path).expect("create temp file");
    f.write_all(bytes).expect("write temp file");
    path
}

/// A classic pcap (microsecond, Ethernet) of `frames`: (captured bytes, original length).
fn pcap(frames: &[(Vec<u8>, usize)], snaplen: u32) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    v.extend_from_slice(&2u16.to_le_bytes());
    v.extend_from_slice(&4u16.to_le_bytes());
    v.extend_from_slice(&[0; 8]);
    v.extend_from_slice(&snaplen.to_le_bytes());
    v.extend_from_slice(&1u32.to_le_bytes());
    for (i, (data, orig)) in frames.iter().enumerate() {
        v.extend_from_slice(&1_700_000_000u32.to_le_bytes());
        v.extend_from_slice(&(i as u32 * 1000).to_le_bytes());
        v.extend_from_slice(&(data.len() as u32).to_le_bytes());
        v.extend_from_slice(&(*orig as u32).to_le_bytes());
        v.extend_from_slice(data);
    }
    v
}

fn summary_of(recs: &[Record]) -> &Summary {
    match recs.last() {
        Some(Record::Summary(s)) => s,
        other => panic!("the last record is not the summary: {other:?}"),
    }
}

#[test]
fn truncated_capture_files_end_with_a_report() {
    let guest = std::fs::read(common::captures_dir().join("guest.pcap")).expect("guest.pcap");
    let full = analyze_file(
        &common::captures_dir().join("guest.pcap"),
        Config::default(),
    )
    .expect("guest.pcap opens");
    let full_frames = summary_of(&full).frames;
    let mut truncated_errors = 0;
    for cut in (0..guest.len()).step_by(37) {
        let path = write_temp("cut.pcap", &guest[..cut]);
        match analyze_file(&path, Config::default()) {
            // Cut inside the 24-byte file header: not a capture at all.
            Err(e) => assert!(cut < 24, "cut at {cut}: {e}"),
            Ok(recs) => {
                let s = summary_of(&recs);
                assert!(s.frames <= full_frames, "cut at {cut}");
                truncated_errors += usize::from(!s.errors.is_empty());
            }
        }
    }
    // Most cuts fall inside a record, and that is reported.
    assert!(
        truncated_errors > guest.len() / 37 / 2,
        "{truncated_errors}"
    );
}

#[test]
fn snaplen_cut_packets_and_lying_lengths() {
    let mut frames: Vec<(Vec<u8>, usize)> = Vec::new();
    let (mut c, s) = (1000u32, 9000u32);
    for f in [
        tcp(false, CPORT, c - 1, 0, true, &[]),
        tcp(true, CPORT, s - 1, c, true, &[]),
    ] {
        let n = f.len();
        frames.push((f, n));
    }
    let neg = negotiate_request();
    // Snaplen cut: 60 of the frame's bytes captured.
    let f = tcp(false, CPORT, c, s, false, &neg);
    frames.push((f[..60].to_vec(), f.len()));
    c += neg.len() as u32;
    // IPv4 total length too big, zero, and past the end; TCP data offset past the end.
    for patch in [
        |f: &mut Vec<u8>| f[16..18].copy_from_slice(&0xFFFFu16.to_be_bytes()),
        |f: &mut Vec<u8>| f[16..18].copy_from_slice(&0u16.to_be_bytes()),
        |f: &mut Vec<u8>| f[14] = 0x4F,   // IHL 60 bytes
        |f: &mut Vec<u8>| f[46] = 0xF0,   // TCP data offset 60 bytes
        |f: &mut Vec<u8>| f.truncate(40), // cut inside the TCP header
    ] {
        let mut f = tcp(false, CPORT, c, s, false, &neg);
        patch(&mut f);
        let n = f.len();
        frames.push((f, n));
    }
    // NBSS length too big (16 MiB), zero, and SMB2 StructureSize / offsets lying.
    let mut huge = neg.clone();
    huge[1..4].copy_from_slice(&[0xFF, 0xFF, 0xFF]);
    let mut zero = neg.clone();
    zero[1..4].copy_from_slice(&[0, 0, 0]);
    let mut lying = smb2(1, false, 1, &[25, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    lying.extend_from_slice(&[0xFF; 8]); // SecurityBufferOffset/Length past the end
    for payload in [zero, lying, huge] {
        let f = tcp(false, CPORT, c, s, false, &payload);
        c = c.wrapping_add(payload.len() as u32);
        let n = f.len();
        frames.push((f, n));
    }
    let path = write_temp("lying.pcap", &pcap(&frames, 65_535));
    let recs = analyze_file(&path, Config::default()).expect("opens");
    let s = summary_of(&recs);
    assert_eq!(s.frames, frames.len() as u64);
    assert!(s.undecodable_frames >= 1, "{s:?}");
    assert_eq!(s.connections, 1, "{s:?}");
}

#[test]
fn hostile_tcp_overlap_out_of_window_out_of_order_wraparound() {
    let mut run = Run::new(Config::default());
    // Sequence numbers wrap inside the first message.
    let (c, s) = run.handshake(CPORT, u32::MAX - 20, 7);
    let neg = negotiate_request();
    run.seg(false, CPORT, c, s, false, &neg);
    let c2 = c.wrapping_add(neg.len() as u32);
    // Conflicting retransmission of the same bytes.
    let mut evil = neg.clone();
    evil[10..20].fill(0xEE);
    run.seg(false, CPORT, c, s, false, &evil);
    // Two out-of-order segments overlapping each other with different bytes, then the hole
    // before them filled by a segment that also overlaps the first.
    let echo = smb2(13, false, 1, &[4, 0, 0, 0]);
    let e = echo.len() as u32;
    run.seg(false, CPORT, c2.wrapping_add(e), s, false, &echo);
    run.seg(false, CPORT, c2.wrapping_add(e + 30), s, false, &[0xEE; 60]);
    run.seg(
        false,
        CPORT,
        c2,
        s,
        false,
        &[&echo[..], &[0x55; 10]].concat(),
    );
    let c3 = c2.wrapping_add(2 * e + 30 + 60 - e);
    // Resync after the garbage, then carry on in order.
    let c3 = {
        run.seg(false, CPORT, c3, s, false, &echo);
        c3.wrapping_add(e)
    };
    // Far outside any window, both ways.
    for off in [0x4000_0000u32, 0x8000_0000, 0xC000_0000] {
        run.seg(false, CPORT, c3.wrapping_add(off), s, false, &echo);
    }
    // Wildly out of order: 200 segments delivered backwards, past the out-of-order caps.
    let seg_len = e;
    for i in (1..200u32).rev() {
        run.seg(false, CPORT, c3.wrapping_add(i * seg_len), s, false, &echo);
    }
    run.seg(false, CPORT, c3, s, false, &echo);
    let (recs, sum) = run.finish();
    assert!(anomalies(&sum, "overlap") >= 1, "{:?}", sum.anomalies);
    assert!(
        anomalies(&sum, "out_of_order_limit") >= 1,
        "{:?}",
        sum.anomalies
    );
    assert_eq!(sum.connections, 1);
    assert!(sum.smb_messages >= 2, "{sum:?}");
    assert!(!common::of_type(&recs, "connection").is_empty());
}

#[test]
fn flow_flood_stays_at_the_cap() {
    const CAP: usize = 1000;
    let mut run = Run::new(Config {
        limits: Limits {
            max_flows: CAP,
            ..Limits::default()
        },
        ..Config::default()
    });
    let start = Instant::now();
    for i in 0..200_000u32 {
        let dst = [10, 2, (i >> 16) as u8, (i >> 8) as u8];
        let port = 1024 + (i % 60_000) as u16;
        let mut b = PacketBuilder::ethernet2([2; 6], [4; 6])
            .ipv4(CLIENT, dst, 64)
            .tcp(port, 445, i, 65_535);
        b = b.syn();
        let mut f = Vec::with_capacity(b.size(0));
        b.write(&mut f, &[]).expect("a Vec grows");
        run.frame(&f, f.len());
        // Keep the record buffer small: anomalies are drained as they come.
        run.records.clear();
    }
    // Still full: an SMB connection now is refused too.
    let neg = negotiate_request();
    run.handshake(CPORT, 1, 1);
    run.seg(false, CPORT, 2, 2, false, &neg);
    let full = run.engine.summary();
    // The table holds exactly CAP flows (the engine counts each as a connection while open)
    // and refused (and reported) every other one.
    assert_eq!(full.connections, CAP as u64, "{full:?}");
    assert_eq!(
        anomalies(&full, "flow_table_full"),
        200_000 - CAP as u64 + 3,
        "{full:?}"
    );
    // Once the flood's flows idle out (600 s of capture time), new connections get in.
    run.ts = Timestamp(run.ts.0 + 700_000_000_000);
    let (c, s) = run.handshake(CPORT + 1, 1, 1);
    run.seg(false, CPORT + 1, c, s, false, &neg);
    let (recs, sum) = run.finish();
    assert_eq!(
        sum.anomalies,
        full.anomalies,
        "{:?}",
        common::of_type(&recs, "anomaly")
    );
    assert_eq!(sum.smb_messages, 1, "{sum:?}");
    assert!(start.elapsed() < Duration::from_secs(60));
}

#[test]
fn flow_flood_on_sharded_workers_stays_bounded() {
    const CAP: usize = 1000;
    let mut e = ShardedEngine::new(
        Config {
            limits: Limits {
                max_flows: CAP,
                ..Limits::default()
            },
            ..Config::default()
        },
        2,
    )
    .expect("threads start");
    let mut records = 0u64;
    let mut ts = Timestamp(1_700_000_000_000_000_000);
    for i in 0..100_000u32 {
        let dst = [10, 2, (i >> 16) as u8, (i >> 8) as u8];
        let port = 1024 + (i % 60_000) as u16;
        let b = PacketBuilder::ethernet2([2; 6], [4; 6])
            .ipv4(CLIENT, dst, 64)
            .tcp(port, 445, i, 65_535)
            .syn();
        let mut f = Vec::with_capacity(b.size(0));
        b.write(&mut f, &[]).expect("a Vec grows");
        ts = Timestamp(ts.0 + 1_000);
        e.handle_frame(&Frame {
            ts,
            linktype: dlt::EN10MB,
            data: &f,
            orig_len: f.len() as u32,
        });
        while e.poll_record().is_some() {
            records += 1;
        }
    }
    e.finish();
    while e.poll_record().is_some() {
        records += 1;
    }
    let sum = e.summary();
    // Each of the 2 shards holds at most CAP/2 flows plus 25% slack; the rest are refused
    // and reported.
    let held = sum.frames - anomalies(&sum, "flow_table_full");
    assert!(held <= (CAP as u64 / 2) * 5 / 4 * 2, "{sum:?}");
    assert!(held >= CAP as u64 / 2, "{sum:?}");
    assert_eq!(sum.frames, 100_000);
    assert!(sum.errors.is_empty(), "{:?}", sum.errors);
    assert!(
        records >= anomalies(&sum, "flow_table_full") / 2,
        "{records}"
    );
}

#[test]
fn a_million_tiny_messages_on_one_flow() {
    const N: usize = 1_000_000;
    let mut run = Run::new(Config::default());
    let (mut c, s) = run.handshake(CPORT, 1, 1);
    let neg = negotiate_request();
    run.seg(false, CPORT, c, s, false, &neg);
    c += neg.len() as u32;
    // 64-byte header + 4-byte ECHO body, 72 bytes with NBSS; ~900 per 64 KB segment.
    let echo = smb2(13, false, 2, &[4, 0, 0, 0]);
    let per_seg = 60_000 / echo.len();
    let chunk = echo.repeat(per_seg);
    let start = Instant::now();
    let mut sent = 0;
    while sent < N {
        let n = per_seg.min(N - sent);
        let data = &chunk[..n * echo.len()];
        run.seg(false, CPORT, c, s, false, data);
        c = c.wrapping_add(data.len() as u32);
        sent += n;
    }
    let (_, sum) = run.finish();
    assert_eq!(sum.smb_messages, N as u64 + 1, "{sum:?}");
    // Linear: a few seconds even unoptimised; quadratic behaviour would take hours.
    assert!(
        start.elapsed() < Duration::from_secs(120),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn decompression_bombs_are_anomalies_not_allocations() {
    let mut run = Run::new(Config::default());
    let (mut c, s) = run.handshake(CPORT, 1, 1);
    let neg = negotiate_request();
    run.seg(false, CPORT, c, s, false, &neg);
    c += neg.len() as u32;
    // Unchained LZ77 declaring 4 GiB - 1, and a chained Pattern_V1 repeating a byte 4 GiB - 1
    // times (MS-SMB2 2.2.42).
    let mut lz77 = b"\xFCSMB".to_vec();
    lz77.extend_from_slice(&u32::MAX.to_le_bytes()); // OriginalCompressedSegmentSize
    lz77.extend_from_slice(&2u16.to_le_bytes()); // LZ77
    lz77.extend_from_slice(&0u16.to_le_bytes()); // flags: unchained
    lz77.extend_from_slice(&0u32.to_le_bytes()); // offset
    lz77.extend_from_slice(&[0xFF; 64]);
    let mut pattern = b"\xFCSMB".to_vec();
    pattern.extend_from_slice(&u32::MAX.to_le_bytes()); // OriginalCompressedSegmentSize
    pattern.extend_from_slice(&4u16.to_le_bytes()); // first payload: Pattern_V1
    pattern.extend_from_slice(&1u16.to_le_bytes()); // flags: chained
    pattern.extend_from_slice(&8u32.to_le_bytes()); // length
    pattern.extend_from_slice(&[0x41, 0, 0, 0]); // pattern byte, reserved
    pattern.extend_from_slice(&u32::MAX.to_le_bytes()); // repetitions
    for bomb in [lz77, pattern] {
        let m = nbss(&bomb);
        run.seg(false, CPORT, c, s, false, &m);
        c += m.len() as u32;
    }
    let (recs, sum) = run.finish();
    let kinds: Vec<&Value> = common::of_type(&recs, "anomaly")
        .into_iter()
        .map(|a| &a["kind"])
        .collect();
    assert!(
        anomalies(&sum, "decompression_failed") >= 2,
        "{:?} {kinds:?}",
        sum.anomalies
    );
}

#[test]
fn wrong_keys_fail_decryption_without_panicking() {
    let path: &Path = &common::captures_dir().join("smb311-enc-aes128gcm.pcap");
    // The capture's session 0x9d07b317 with a session key that is not its own.
    let keys = parse_keys(
        "session=0x000000009d07b317 key=000102030405060708090a0b0c0d0e0f\n",
        "wrong.keys",
    )
    .expect("valid key line");
    let mut store = KeyStore::default();
    store.add_keys(keys);
    let recs = common::records(
        path,
        Config {
            keys: Arc::new(store),
            ..Config::default()
        },
    );
    let rules = common::rules(&recs);
    assert!(rules.iter().any(|r| r == "decrypt.failed"), "{rules:?}");
    let sessions = common::of_type(&recs, "session");
    let failed: u64 = sessions
        .iter()
        .map(|s| s["decrypted"]["failed"].as_u64().unwrap_or(0))
        .sum();
    let ok: u64 = sessions
        .iter()
        .map(|s| s["decrypted"]["ok"].as_u64().unwrap_or(0))
        .sum();
    assert!(failed > 0 && ok == 0, "failed {failed}, ok {ok}");
}
