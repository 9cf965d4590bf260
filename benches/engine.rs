//! End-to-end engine throughput over the project's own captures, frames preloaded in memory so
//! only parsing, reassembly and posture tracking are measured.

use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use smbscope::capture::{Frame, OfflineCapture};
use smbscope::engine::{Config, Engine};
use smbscope::wire::Timestamp;

struct Owned {
    ts: Timestamp,
    linktype: i32,
    data: Vec<u8>,
}

fn load(dir: &Path) -> Vec<Owned> {
    let mut frames = Vec::new();
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    paths.sort();
    for p in paths
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
    {
        let Ok(mut cap) = OfflineCapture::open(p) else {
            continue;
        };
        while let Ok(Some(f)) = cap.next_frame() {
            frames.push(Owned {
                ts: f.ts,
                linktype: f.linktype,
                data: f.data.to_vec(),
            });
        }
    }
    frames
}

fn engine(c: &mut Criterion) {
    let frames = load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("captures"));
    if frames.is_empty() {
        eprintln!("no captures found; nothing to benchmark");
        return;
    }
    let bytes: u64 = frames.iter().map(|f| f.data.len() as u64).sum();
    let mut g = c.benchmark_group("engine");
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function("own_captures", |b| {
        b.iter(|| {
            let mut e = Engine::new(Config::default());
            let mut n = 0usize;
            for f in &frames {
                e.handle_frame(&Frame {
                    ts: f.ts,
                    linktype: f.linktype,
                    data: &f.data,
                    orig_len: f.data.len() as u32,
                });
                while e.poll_record().is_some() {
                    n += 1;
                }
            }
            e.finish();
            while e.poll_record().is_some() {
                n += 1;
            }
            n
        })
    });
    g.finish();
}

criterion_group!(benches, engine);
criterion_main!(benches);
