use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::*;
use crate::event::{Finding, SessionId, Severity};
use crate::output::JsonSink;

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("smbscope-jsonl-{}-{n}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn finding(i: u64) -> Record {
    Record::Finding(Finding {
        rule: "session.unsigned",
        severity: Severity::Medium,
        event_id: None,
        client: SocketAddr::from(([10, 0, 0, 5], 50000)),
        server: SocketAddr::from(([10, 0, 0, 1], 445)),
        session_id: Some(SessionId(i)),
        user: Some("alice".into()),
        server_name: None,
        side: None,
        summary: format!("record {i}"),
        fix: "require signing",
        mandate: None,
        ts: 1000.0 + i as f64,
    })
}

fn lines(path: &Path) -> Vec<serde_json::Value> {
    let text = fs::read_to_string(path).unwrap_or_default();
    assert!(text.is_empty() || text.ends_with('\n'), "{text:?}");
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect()
}

#[test]
fn same_lines_as_json_sink_and_appends() {
    let dir = TempDir::new("same");
    let path = dir.0.join("out.jsonl");
    let summary = Summary {
        frames: 3,
        ..Summary::default()
    };
    let mut sink = JsonlFileSink::create(&path, None, 0).unwrap();
    let mut reference = JsonSink::new(Vec::new());
    for i in 0..3 {
        sink.record(&finding(i)).unwrap();
        reference.record(&finding(i)).unwrap();
    }
    sink.finish(&summary).unwrap();
    reference.finish(&summary).unwrap();
    let expected = reference.into_inner();
    assert_eq!(fs::read(&path).unwrap(), expected);
    let st = sink.stats();
    assert_eq!((st.records, st.dropped, st.errors), (4, 0, 0));
    drop(sink);

    // A second run appends.
    let mut sink = JsonlFileSink::create(&path, None, 0).unwrap();
    sink.record(&finding(9)).unwrap();
    drop(sink);
    let all = lines(&path);
    assert_eq!(all.len(), 5);
    assert_eq!(all[4]["session_id"], "0x0000000000000009");
}

#[test]
fn ends_a_fragment_left_by_a_crash() {
    let dir = TempDir::new("fragment");
    let path = dir.0.join("out.jsonl");
    fs::write(&path, "{\"type\":\"find").unwrap();
    let mut sink = JsonlFileSink::create(&path, None, 0).unwrap();
    sink.record(&finding(1)).unwrap();
    sink.finish(&Summary::default()).unwrap();
    let text = fs::read_to_string(&path).unwrap();
    let mut it = text.lines();
    assert_eq!(it.next(), Some("{\"type\":\"find"));
    for l in it {
        serde_json::from_str::<serde_json::Value>(l).unwrap();
    }
}

#[test]
fn rotation_by_size_keeps_n_files() {
    let dir = TempDir::new("rotate");
    let path = dir.0.join("alerts.jsonl");
    let one = serde_json::to_vec(&finding(0)).unwrap().len() as u64 + 1;
    // Three lines per file.
    let limit = one * 3 + one / 2;
    let mut sink = JsonlFileSink::create(&path, Some(limit), 2).unwrap();
    for i in 0..20 {
        sink.record(&finding(i)).unwrap();
    }
    sink.flush();
    let names = |n: usize| numbered(&path, n);
    assert!(names(1).exists() && names(2).exists());
    assert!(!names(3).exists());
    for p in [path.clone(), names(1), names(2)] {
        let len = fs::metadata(&p).unwrap().len();
        assert!(len <= limit, "{}: {len} > {limit}", p.display());
    }
    // The newest lines are in PATH, the older ones in .1 then .2; 20 = 6 rotations * 3 + 2.
    let ids = |p: &Path| -> Vec<String> {
        lines(p)
            .iter()
            .map(|v| v["summary"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(&path), ["record 18", "record 19"]);
    assert_eq!(ids(&names(1)), ["record 15", "record 16", "record 17"]);
    assert_eq!(ids(&names(2)), ["record 12", "record 13", "record 14"]);
    let st = sink.stats();
    assert_eq!((st.rotations, st.errors, st.dropped), (6, 0, 0));
}

#[test]
fn rotation_with_keep_zero_deletes() {
    let dir = TempDir::new("keep0");
    let path = dir.0.join("a.jsonl");
    let mut sink = JsonlFileSink::create(&path, Some(400), 0).unwrap();
    for i in 0..10 {
        sink.record(&finding(i)).unwrap();
    }
    sink.finish(&Summary::default()).unwrap();
    assert!(!numbered(&path, 1).exists());
    let all = lines(&path);
    assert!(!all.is_empty() && all.len() < 11);
    assert_eq!(all.last().unwrap()["type"], "summary");
    let entries = fs::read_dir(&dir.0).unwrap().count();
    assert_eq!(entries, 1);
}

#[test]
fn a_line_longer_than_the_limit_gets_a_file_of_its_own() {
    let dir = TempDir::new("long");
    let path = dir.0.join("a.jsonl");
    let mut sink = JsonlFileSink::create(&path, Some(10), 3).unwrap();
    for i in 0..3 {
        sink.record(&finding(i)).unwrap();
    }
    sink.flush();
    for p in [path.clone(), numbered(&path, 1), numbered(&path, 2)] {
        assert_eq!(lines(&p).len(), 1, "{}", p.display());
    }
    assert!(!numbered(&path, 3).exists());
}

#[test]
fn flushes_every_64_records_and_every_second() {
    let dir = TempDir::new("flush");
    let path = dir.0.join("a.jsonl");
    let mut sink = JsonlFileSink::create(&path, None, 0).unwrap();
    // Buffered at first (unless a second went by already, which only makes this pass sooner).
    for i in 0..63 {
        sink.record(&finding(i)).unwrap();
    }
    sink.record(&finding(63)).unwrap();
    assert_eq!(lines(&path).len(), 64);
    sink.record(&finding(64)).unwrap();
    // Idle: the background thread writes it within about a second.
    let t0 = Instant::now();
    while lines(&path).len() < 65 {
        assert!(t0.elapsed() < Duration::from_secs(5), "not flushed");
        thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(sink.stats().pending_bytes, 0);
}

#[test]
fn full_disk_is_counted_not_fatal() {
    let full = Path::new("/dev/full");
    if !full.exists() {
        eprintln!("NOTICE: /dev/full absent; full-disk test skipped");
        return;
    }
    let mut sink = JsonlFileSink::create(full, Some(1 << 30), 0).unwrap();
    for i in 0..200 {
        assert!(sink.record(&finding(i)).is_ok());
    }
    sink.flush();
    let st = sink.stats();
    assert!(st.errors >= 1, "{st:?}");
    assert_eq!(st.records, 200);
    assert!(st.pending_bytes > 0);
    assert!(sink.finish(&Summary::default()).is_ok());
    let st = sink.stats();
    assert_eq!(st.dropped, 201, "{st:?}");
    assert_eq!(st.pending_bytes, 0);
}

#[test]
fn buffer_is_bounded_when_writes_fail() {
    let full = Path::new("/dev/full");
    if !full.exists() {
        eprintln!("NOTICE: /dev/full absent; bounded-buffer test skipped");
        return;
    }
    let mut sink = JsonlFileSink::create(full, None, 0).unwrap();
    let big = Record::Finding(Finding {
        summary: "x".repeat(10_000),
        ..match finding(0) {
            Record::Finding(f) => f,
            _ => unreachable!(),
        }
    });
    for _ in 0..300 {
        sink.record(&big).unwrap();
    }
    let st = sink.stats();
    assert!(st.pending_bytes <= MAX_BUFFER as u64, "{st:?}");
    assert!(st.dropped > 150, "{st:?}");
}

#[test]
fn reopens_after_an_external_rename() {
    let dir = TempDir::new("moved");
    let path = dir.0.join("a.jsonl");
    let mut sink = JsonlFileSink::create(&path, None, 0).unwrap();
    sink.record(&finding(0)).unwrap();
    sink.flush();
    fs::rename(&path, dir.0.join("moved.jsonl")).unwrap();
    let t0 = Instant::now();
    while !path.exists() {
        assert!(t0.elapsed() < Duration::from_secs(5), "not reopened");
        thread::sleep(Duration::from_millis(50));
    }
    sink.record(&finding(1)).unwrap();
    sink.finish(&Summary::default()).unwrap();
    assert_eq!(lines(&dir.0.join("moved.jsonl")).len(), 1);
    let now = lines(&path);
    assert_eq!(now.len(), 2);
    assert_eq!(now[0]["summary"], "record 1");
}

#[test]
fn create_fails_on_a_bad_path() {
    let dir = TempDir::new("bad");
    assert!(JsonlFileSink::create(&dir.0.join("no/such/dir/a.jsonl"), None, 0).is_err());
}
