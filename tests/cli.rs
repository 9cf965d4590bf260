//! The `smbscope` binary as a user runs it: exit codes, error messages, output formats.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};

fn smbscope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_smbscope"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run smbscope")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn text_report_names_the_problem_and_the_fix() {
    let out = smbscope(&["analyze", "captures/guest.pcap"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    assert!(s.contains("Server 127.0.0.1:445"), "{s}");
    assert!(s.contains("guest [event 31022]"), "{s}");
    assert!(s.contains("EnableInsecureGuestLogons $false"), "{s}");
    assert!(s.contains("Totals: 1 file(s)"), "{s}");
}

#[test]
fn json_lines_each_have_a_type_and_end_with_a_summary() {
    let out = smbscope(&[
        "analyze",
        "--format",
        "json",
        "captures/smb21-unsigned.pcap",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    assert!(lines.iter().all(|l| l["type"].is_string()));
    assert_eq!(lines.last().expect("output")["type"], "summary");
    let conn = lines
        .iter()
        .find(|l| l["type"] == "connection")
        .expect("connection");
    assert_eq!(conn["dialect"], "2.1");
    assert_eq!(conn["signing_algorithm"], "HMAC-SHA256");
    let sess = lines
        .iter()
        .find(|l| l["type"] == "session")
        .expect("session");
    assert!(
        sess["session_id"]
            .as_str()
            .is_some_and(|s| s.len() == 18 && s.starts_with("0x"))
    );
}

#[test]
fn fail_on_sets_exit_code_one() {
    let out = smbscope(&["analyze", "--fail-on", "high", "captures/guest.pcap"]);
    assert_eq!(out.status.code(), Some(1));
    // The worst finding here is medium (signing not required by the server).
    let out = smbscope(&[
        "analyze",
        "--fail-on",
        "high",
        "captures/server-signing-required.pcap",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let out = smbscope(&[
        "analyze",
        "--fail-on",
        "HIGH",
        "--require",
        "signing",
        "captures/smb21-unsigned.pcap",
    ]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn missing_file_is_an_input_error_naming_it() {
    let out = smbscope(&["analyze", "captures/guest.pcap", "no/such/file.pcap"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("no/such/file.pcap"), "{err}");
    // The good file was still analysed.
    assert!(text(&out.stdout).contains("guest"));
}

#[test]
fn not_a_capture_is_an_input_error() {
    let out = smbscope(&["analyze", "README.md"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("README.md"));
}

#[test]
fn usage_errors_exit_two() {
    for args in [
        &["analyze"][..],
        &["analyze", "--format", "xml", "captures/guest.pcap"],
        &["analyze", "--require", "sealing", "captures/guest.pcap"],
        &["analyze", "--fail-on", "critical", "captures/guest.pcap"],
        &["bogus"],
    ] {
        let out = smbscope(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!out.stderr.is_empty(), "{args:?} explains itself");
    }
    let help = smbscope(&["analyze", "--help"]);
    assert_eq!(help.status.code(), Some(0));
    assert!(text(&help.stdout).contains("--fail-on"));
}

#[test]
fn truncated_capture_is_a_warning_and_keeps_what_was_read() {
    let src = common::captures_dir().join("smb311-sign-gmac.pcap");
    let bytes = std::fs::read(&src).expect("read capture");
    let dir = std::env::temp_dir().join(format!("smbscope-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let cut: PathBuf = dir.join("cut.pcap");
    std::fs::write(&cut, &bytes[..bytes.len() - 37]).expect("write cut capture");
    let cut = cut.to_str().expect("utf-8");
    let mut outputs = Vec::new();
    // One engine, the workers walking the mapped file, and the reader threads.
    for jobs in [&["-j1"][..], &["-j2"], &["-j2", "--no-mmap"]] {
        let mut args = vec!["analyze", "--format", "json"];
        args.extend_from_slice(jobs);
        args.push(cut);
        let out = smbscope(&args);
        assert_eq!(out.status.code(), Some(0), "{jobs:?}");
        let err = text(&out.stderr);
        assert!(
            err.contains("warning") && err.contains("truncated"),
            "{jobs:?}: {err}"
        );
        let s = text(&out.stdout);
        assert!(s.contains("\"type\":\"session\""), "{jobs:?}");
        assert!(s.contains("\"errors\":[\""), "{jobs:?}");
        outputs.push((err, s));
    }
    for (err, s) in &outputs[1..] {
        assert_eq!(err, &outputs[0].0, "the same warning");
        assert_eq!(
            sorted_lines(s),
            sorted_lines(&outputs[0].1),
            "the same records"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn several_files_are_one_run() {
    let out = smbscope(&[
        "analyze",
        "--format",
        "json",
        "captures/guest.pcap",
        "captures/anonymous.pcap",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let s = text(&out.stdout);
    let summary: serde_json::Value =
        serde_json::from_str(s.lines().last().expect("summary")).expect("json");
    assert_eq!(summary["files"].as_array().map(Vec::len), Some(2));
    assert_eq!(summary["connections"], 2);
}

/// Every capture of `captures/` (with its keys or TLS key log), as argument lists.
fn capture_runs() -> Vec<Vec<String>> {
    let mut runs = Vec::new();
    for dir in ["captures", "captures/quic"] {
        let mut pcaps: Vec<PathBuf> = std::fs::read_dir(dir)
            .expect("captures dir")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "pcap"))
            .collect();
        pcaps.sort();
        for p in pcaps {
            let mut args = vec!["analyze".to_owned(), "--format".into(), "json".into()];
            for (ext, flag) in [("keys", "--keys"), ("keylog", "--keylog")] {
                let side = p.with_extension(ext);
                if side.exists() {
                    args.push(flag.into());
                    args.push(side.display().to_string());
                }
            }
            args.push(p.display().to_string());
            runs.push(args);
        }
    }
    runs
}

/// `args` (`analyze ...`) with the options `jobs` (`-j2`, `-j2 --no-mmap`) after `analyze`.
fn json_with_jobs(args: &[String], jobs: &str) -> String {
    let mut a: Vec<&str> = args.iter().map(String::as_str).collect();
    for (i, opt) in jobs.split_whitespace().enumerate() {
        a.insert(1 + i, opt);
    }
    let out = smbscope(&a);
    assert_eq!(out.status.code(), Some(0), "{a:?}: {}", text(&out.stderr));
    text(&out.stdout)
}

fn sorted_lines(s: &str) -> Vec<&str> {
    let mut v: Vec<&str> = s.lines().collect();
    v.sort_unstable();
    v
}

#[test]
fn sharded_analysis_gives_the_same_records_as_one_engine() {
    let runs = capture_runs();
    assert!(runs.len() >= 30, "captures/ has its scenarios");
    // Every capture on its own, and all of them in one run (many flows over the shards).
    let mut all = vec!["analyze".to_owned(), "--format".into(), "json".into()];
    for r in &runs {
        let f = r.last().expect("file");
        if !f.contains("/quic/") {
            all.push(f.clone());
        }
    }
    for args in runs.iter().chain(std::iter::once(&all)) {
        let one = json_with_jobs(args, "-j1");
        assert!(one.lines().count() > 1, "{args:?} gave records");
        // Mapped files that every worker walks, and the reader threads (--no-mmap).
        for jobs in ["-j2", "-j3", "-j2 --no-mmap"] {
            let many = json_with_jobs(args, jobs);
            assert_eq!(
                sorted_lines(&one),
                sorted_lines(&many),
                "{args:?} with {jobs}"
            );
            assert!(
                many.lines()
                    .last()
                    .is_some_and(|l| l.contains("\"summary\"")),
                "summary stays last"
            );
        }
    }
}

#[test]
fn sharded_output_does_not_depend_on_thread_timing() {
    let args: Vec<String> = [
        "analyze",
        "--format",
        "json",
        "--keylog",
        "captures/quic/quic-and-tcp445.keylog",
        "captures/quic/quic-and-tcp445.pcap",
        "captures/mixed.pcap",
        "captures/smb311-default.pcap",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    for jobs in ["-j2", "-j2 --no-mmap"] {
        let first = json_with_jobs(&args, jobs);
        // tcp445.exposed pairs a QUIC and a TCP connection that land on different shards.
        assert_eq!(first.matches("\"tcp445.exposed\"").count(), 1, "{first}");
        for _ in 0..5 {
            assert_eq!(first, json_with_jobs(&args, jobs), "{jobs}");
        }
    }
}

#[test]
fn jobs_zero_is_a_usage_error() {
    let out = smbscope(&["analyze", "-j0", "captures/guest.pcap"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--jobs"),
        "{}",
        text(&out.stderr)
    );
}
