//! The cost of logon-attack tracking on a flood of failing logons.
//!
//! One real failed logon (a whole TCP connection: handshake, NEGOTIATE, two SESSION_SETUPs
//! ending in STATUS_LOGON_FAILURE, FIN) from `captures/logon/bruteforce.pcap` is replayed with
//! its client address and port rewritten, so that each replay is a new connection from one of
//! 100,000 client addresses.
//!
//! * `cargo bench --bench logon` first streams **1,000,000 failing logons** through one engine
//!   (generated on the fly, nothing preloaded) and prints the time per logon and the process
//!   RSS after every 100,000, which must stay flat (the flow table frees each connection at
//!   its FIN; the logon tracker is capped by `--logon-max-clients`); then criterion measures
//!   batches of 10,000 failing logons end to end (TCP, SMB2 parsing, the per-session
//!   `logon.failed` finding and the tracker).
//! * Under `cargo test` (no `--bench`) only criterion's one-iteration check runs.

use std::path::Path;
use std::time::Instant;

use criterion::{Criterion, Throughput};
use smbscope::capture::{Frame, OfflineCapture};
use smbscope::engine::{Config, Engine};
use smbscope::wire::Timestamp;

/// Frames of the first TCP connection of `pcap` (by client port), as (bytes, from client).
fn one_connection(pcap: &Path) -> Vec<(Vec<u8>, bool)> {
    let mut cap = OfflineCapture::open(pcap).expect("capture opens");
    let mut out = Vec::new();
    let mut port = None;
    while let Some(f) = cap.next_frame().expect("capture reads") {
        let d = f.data;
        let ihl = usize::from(d[14] & 0x0f) * 4;
        let tcp = 14 + ihl;
        let (sp, dp) = (
            u16::from_be_bytes([d[tcp], d[tcp + 1]]),
            u16::from_be_bytes([d[tcp + 2], d[tcp + 3]]),
        );
        let client = if dp == 445 { sp } else { dp };
        if *port.get_or_insert(client) != client {
            break;
        }
        out.push((d.to_vec(), dp == 445));
    }
    out
}

/// Replays `conn` as logon number `i`: client 10.x.y.z (100,000 addresses), port varying.
struct Flood {
    conn: Vec<(Vec<u8>, bool)>,
    ts: u64,
    scratch: Vec<u8>,
}

impl Flood {
    fn new(pcap: &str) -> Flood {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(pcap);
        Flood {
            conn: one_connection(&path),
            ts: 1_700_000_000_000_000_000,
            scratch: Vec::new(),
        }
    }

    fn logon(&mut self, engine: &mut Engine, i: u64) {
        let c = i % 100_000;
        let ip = [10, (c >> 16) as u8, (c >> 8) as u8, c as u8];
        let port = (1024 + (i / 100_000) % 60_000) as u16;
        for (frame, from_client) in &self.conn {
            self.scratch.clear();
            self.scratch.extend_from_slice(frame);
            let f = &mut self.scratch;
            let ihl = usize::from(f[14] & 0x0f) * 4;
            let (ip_at, port_at) = if *from_client {
                (26, 14 + ihl)
            } else {
                (30, 14 + ihl + 2)
            };
            f[ip_at..ip_at + 4].copy_from_slice(&ip);
            f[port_at..port_at + 2].copy_from_slice(&port.to_be_bytes());
            self.ts += 10_000;
            engine.handle_frame(&Frame {
                ts: Timestamp(self.ts),
                linktype: 1,
                data: f,
                orig_len: f.len() as u32,
            });
            while engine.poll_record().is_some() {}
        }
    }
}

/// VmRSS of this process, in MiB (Linux).
fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn million() {
    const N: u64 = 1_000_000;
    let mut flood = Flood::new("captures/logon/bruteforce.pcap");
    let mut engine = Engine::new(Config::default());
    println!("logon flood: {N} failing logons, 100000 client addresses, one engine");
    let start = Instant::now();
    let mut last = start;
    for i in 0..N {
        flood.logon(&mut engine, i);
        if (i + 1) % 100_000 == 0 {
            let now = Instant::now();
            println!(
                "  {:>9} logons: {:>6.0} ns/logon over the last 100000, RSS {:>6.1} MiB",
                i + 1,
                (now - last).as_nanos() as f64 / 100_000.0,
                rss_mib()
            );
            last = now;
        }
    }
    engine.finish();
    while engine.poll_record().is_some() {}
    let s = engine.summary();
    let total = start.elapsed();
    println!(
        "  total {:.2} s ({:.0} logons/s); findings {:?}; anomalies {:?}; RSS {:.1} MiB",
        total.as_secs_f64(),
        N as f64 / total.as_secs_f64(),
        s.findings,
        s.anomalies,
        rss_mib()
    );
}

fn batches(c: &mut Criterion) {
    const BATCH: u64 = 10_000;
    let mut g = c.benchmark_group("logon_flood");
    g.throughput(Throughput::Elements(BATCH));
    g.sample_size(10);
    let mut flood = Flood::new("captures/logon/bruteforce.pcap");
    g.bench_function("failing_10k", |b| {
        b.iter(|| {
            let mut engine = Engine::new(Config::default());
            for i in 0..BATCH {
                flood.logon(&mut engine, i);
            }
            engine.finish();
            while engine.poll_record().is_some() {}
        })
    });
    g.finish();
}

fn main() {
    if std::env::args().any(|a| a == "--bench") {
        million();
    }
    let mut c = Criterion::default().configure_from_args();
    batches(&mut c);
    c.final_summary();
}
