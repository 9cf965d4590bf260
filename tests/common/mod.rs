//! Shared helpers for the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use serde_json::Value;
use smbscope::engine::{Config, analyze_file};

/// The third-party corpus: `$SMBSCOPE_CORPUS`, else `../shared/corpus` beside the repository.
/// `None` (and a printed notice) when it is absent.
pub fn corpus_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("SMBSCOPE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"));
    if dir.join("MANIFEST.md").is_file() {
        Some(dir)
    } else {
        eprintln!(
            "NOTICE: corpus not found at {} (set SMBSCOPE_CORPUS); interop checks skipped",
            dir.display()
        );
        None
    }
}

/// The project's own captures folder.
pub fn captures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("captures")
}

/// Every record of `path` as JSON values (the summary last).
pub fn records(path: &Path, config: Config) -> Vec<Value> {
    let recs = analyze_file(path, config).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    recs.iter()
        .map(|r| serde_json::to_value(r).expect("records serialize"))
        .collect()
}

/// Records of one `"type"`.
pub fn of_type<'a>(recs: &'a [Value], ty: &str) -> Vec<&'a Value> {
    recs.iter().filter(|r| r["type"] == ty).collect()
}

/// All string values of `field` across records of `ty` (array fields flattened).
pub fn strings(recs: &[Value], ty: &str, field: &str) -> Vec<String> {
    let mut out = Vec::new();
    for r in of_type(recs, ty) {
        match &r[field] {
            Value::String(s) => out.push(s.clone()),
            Value::Array(a) => out.extend(a.iter().filter_map(|v| v.as_str().map(String::from))),
            _ => {}
        }
    }
    out
}

/// Tree paths across all sessions.
pub fn tree_paths(recs: &[Value]) -> Vec<String> {
    of_type(recs, "session")
        .iter()
        .flat_map(|s| s["trees"].as_array().cloned().unwrap_or_default())
        .filter_map(|t| t["path"].as_str().map(String::from))
        .collect()
}

/// Rule ids of all findings.
pub fn rules(recs: &[Value]) -> Vec<String> {
    strings(recs, "finding", "rule")
}

/// Capture files (pcap, pcapng, gzip) below `dir`, sorted.
pub fn capture_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n != "expected") {
                    stack.push(p);
                }
            } else {
                let n = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                if n.ends_with(".pcap")
                    || n.ends_with(".pcapng")
                    || n.ends_with(".pcap.gz")
                    || n.ends_with(".pcapng.gz")
                {
                    out.push(p);
                }
            }
        }
    }
    out.sort();
    out
}
