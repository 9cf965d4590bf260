//! `smbscope watch` as a user runs it, without root: replay, usage errors, the config file.
//! (Live capture on an interface is in `tests/live.rs`.)

use std::fs;
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

fn temp_file(name: &str, content: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("smbscope-watch-{}", std::process::id()));
    fs::create_dir_all(&dir).expect("temp dir");
    let p = dir.join(name);
    fs::write(&p, content).expect("write temp file");
    p
}

#[test]
fn replay_prints_what_analyze_prints() {
    for capture in ["captures/guest.pcap", "captures/mixed.pcap"] {
        let watch = smbscope(&["watch", "-r", capture, "--jsonl", "-"]);
        assert_eq!(watch.status.code(), Some(0), "{}", text(&watch.stderr));
        let analyze = smbscope(&["analyze", "--format", "json", capture]);
        assert_eq!(text(&watch.stdout), text(&analyze.stdout), "{capture}");
        let stderr = text(&watch.stderr);
        assert!(
            stderr.contains("dropped: kernel 0, interface 0, queue 0"),
            "{stderr}"
        );
    }
    let out = smbscope(&["watch", "-r", "captures/guest.pcap", "--jsonl", "-"]);
    let findings: Vec<String> = text(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["type"] == "finding")
        .map(|v| v["rule"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(findings.contains(&"guest".to_owned()), "{findings:?}");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("smbscope: summary: 46 frames") && stderr.contains("findings: high 1"),
        "{stderr}"
    );
}

#[test]
fn realtime_replay_gives_the_same_records() {
    let fast = smbscope(&["watch", "-r", "captures/guest.pcap", "--jsonl", "-"]);
    let slow = smbscope(&[
        "watch",
        "-r",
        "captures/guest.pcap",
        "--realtime",
        "--jsonl",
        "-",
    ]);
    assert_eq!(slow.status.code(), Some(0), "{}", text(&slow.stderr));
    assert_eq!(text(&fast.stdout), text(&slow.stdout));
}

#[test]
fn missing_interface_is_named_with_exit_code_two() {
    let out = smbscope(&["watch", "-i", "smbscope9", "--jsonl", "-"]);
    assert_eq!(out.status.code(), Some(2));
    let e = text(&out.stderr);
    assert!(e.contains("'smbscope9'"), "{e}");
    assert!(
        e.contains("no such interface") || e.contains("permission") || e.contains("CAP_NET_RAW"),
        "{e}"
    );
}

#[test]
fn usage_errors_exit_two_with_a_message() {
    let out = smbscope(&["watch", "-r", "captures/guest.pcap"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("at least one output"));

    let out = smbscope(&["watch", "--jsonl", "-"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("-i IFACE"));

    let out = smbscope(&["watch", "-r", "captures/no-such.pcap", "--jsonl", "-"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no-such.pcap"));

    let out = smbscope(&["watch", "-i", "lo", "-r", "x.pcap", "--jsonl", "-"]);
    assert_eq!(out.status.code(), Some(2));

    let out = smbscope(&[
        "watch",
        "-r",
        "captures/guest.pcap",
        "--jsonl",
        "-",
        "--jsonl-rotate",
        "12Q",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("12Q"));
}

#[test]
fn config_file_values_apply_and_flags_win() {
    let guest = concat!(env!("CARGO_MANIFEST_DIR"), "/captures/guest.pcap");
    // The file alone: source and output from the file.
    let cfg = temp_file(
        "replay.toml",
        &format!("read = \"{guest}\"\njsonl = \"-\"\nrequire = [\"signing\"]\n"),
    );
    let out = smbscope(&["watch", "--config", cfg.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    assert!(s.contains("\"mandate\":\"signing\""), "{s}");

    // Flags win: the file's missing capture and unwritable output are overridden.
    let cfg = temp_file(
        "override.toml",
        "read = \"/nonexistent/trace.pcap\"\njsonl = \"/nonexistent/dir/events.jsonl\"\n",
    );
    let out = smbscope(&[
        "watch",
        "--config",
        cfg.to_str().expect("utf-8"),
        "-r",
        "captures/guest.pcap",
        "--jsonl",
        "-",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("\"rule\":\"guest\""));
}

#[test]
fn config_file_unknown_keys_are_errors_naming_them() {
    let cfg = temp_file(
        "unknown.toml",
        "read = \"x.pcap\"\njsonl = \"-\"\nsmb_port = [4445]\nsyslog-server = \"x\"\n",
    );
    let out = smbscope(&["watch", "--config", cfg.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(2));
    let e = text(&out.stderr);
    assert!(
        e.contains("'smb_port'") && e.contains("'syslog-server'"),
        "{e}"
    );
    assert!(e.contains("unknown.toml"), "{e}");

    let out = smbscope(&["watch", "--config", "/nonexistent/smbscope.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("/nonexistent/smbscope.toml"));
}

#[test]
fn the_shipped_config_file_parses() {
    // dist/smbscope.toml as shipped: a live interface that may not exist here, so only the
    // parse is checked: any error must not be about the file.
    let out = smbscope(&[
        "watch",
        "--config",
        "dist/smbscope.toml",
        "-r",
        "captures/guest.pcap",
        "--jsonl",
        "-",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn unknown_user_is_a_usage_error() {
    let out = smbscope(&[
        "watch",
        "-r",
        "captures/guest.pcap",
        "--user",
        "smbscope-nosuchuser",
        "--jsonl",
        "-",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let e = text(&out.stderr);
    assert!(e.contains("no such user 'smbscope-nosuchuser'"), "{e}");
    assert!(out.stdout.is_empty());
}
