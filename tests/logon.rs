//! Logon attacks and enumeration on real Samba traffic (`captures/logon/`, made by
//! `captures/generate-logon.sh`): each scenario raises exactly the findings it should, with one
//! engine and sharded over two workers; every other capture of the project raises none of
//! them; the thresholds are options.

mod common;
#[path = "support/rsyslog.rs"]
mod rsyslog;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use smbscope::capture::OfflineCapture;
use smbscope::engine::logon::LogonPolicy;
use smbscope::engine::{Config, ShardedEngine};

const ATTACK_RULES: &[&str] = &[
    "logon.bruteforce",
    "logon.spray",
    "logon.lockout",
    "logon.success_after_failures",
    "enum.null_session",
];

/// The attack findings each scenario must raise, exactly (in order).
const EXPECTED: &[(&str, &[&str])] = &[
    ("bruteforce", &["logon.bruteforce"]),
    ("spray", &["logon.spray"]),
    ("spray-multi", &["logon.spray"]),
    ("lockout", &["logon.lockout"]),
    (
        "spray-success",
        &["logon.spray", "logon.success_after_failures"],
    ),
    // smbclient -L -N (srvsvc), then rpcclient (srvsvc, samr, lsarpc): two sessions.
    ("null-enum", &["enum.null_session", "enum.null_session"]),
    ("guest-enum", &["enum.null_session", "enum.null_session"]),
];

fn logon_dir() -> PathBuf {
    common::captures_dir().join("logon")
}

fn attack_findings(recs: &[Value]) -> Vec<&Value> {
    common::of_type(recs, "finding")
        .into_iter()
        .filter(|f| ATTACK_RULES.iter().any(|r| f["rule"] == *r))
        .collect()
}

fn rules(recs: &[Value]) -> Vec<String> {
    attack_findings(recs)
        .iter()
        .map(|f| f["rule"].as_str().unwrap_or("").to_owned())
        .collect()
}

/// The records of a sharded run over `jobs` workers, as JSON.
fn sharded(path: &Path, config: Config, jobs: usize) -> Vec<Value> {
    let mut e = ShardedEngine::new(config, jobs).expect("threads start");
    let mut cap = OfflineCapture::open(path).expect("opens");
    let mut out = Vec::new();
    while let Some(f) = cap.next_frame().expect("reads") {
        e.handle_frame(&f);
        out.extend(std::iter::from_fn(|| e.poll_record()));
    }
    e.finish();
    out.extend(std::iter::from_fn(|| e.poll_record()));
    out.iter()
        .map(|r| serde_json::to_value(r).expect("serialises"))
        .collect()
}

#[test]
fn each_scenario_raises_exactly_its_findings() {
    let mut failures = Vec::new();
    for (name, want) in EXPECTED {
        let pcap = logon_dir().join(format!("{name}.pcap"));
        let exp: Value = serde_json::from_str(
            &std::fs::read_to_string(pcap.with_extension("expected.json")).expect("expected"),
        )
        .expect("json");
        let recs = common::records(&pcap, Config::default());
        let got = rules(&recs);
        if got != *want {
            failures.push(format!("{name}: {got:?}, want {want:?}"));
        }
        let par = sharded(&pcap, Config::default(), 2);
        if rules(&par) != got {
            failures.push(format!("{name}: sharded {:?} vs {got:?}", rules(&par)));
        }
        // Every failed logon of the capture is a logon.failed finding (the per-session view).
        let failed = exp["logons"]
            .as_array()
            .expect("logons")
            .iter()
            .filter(|l| l["status"] != "STATUS_SUCCESS")
            .count();
        let seen = common::of_type(&recs, "finding")
            .iter()
            .filter(|f| f["rule"] == "logon.failed")
            .count();
        if seen != failed {
            failures.push(format!("{name}: {seen} logon.failed, capture has {failed}"));
        }
        // The findings name the server and a client of the scenario.
        for f in attack_findings(&recs) {
            let client = f["client"].as_str().unwrap_or("");
            let ok = exp["clients"].as_array().expect("clients").iter().any(|c| {
                c.as_str()
                    .is_some_and(|c| client.starts_with(&format!("{c}:")))
            });
            if !ok
                || !f["server"]
                    .as_str()
                    .is_some_and(|s| s.starts_with("127.0.0.1:"))
            {
                failures.push(format!("{name}: addresses of {f}"));
            }
            if f["fix"].as_str().is_none_or(str::is_empty) {
                failures.push(format!("{name}: no fix in {f}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn findings_name_users_counts_window_and_pipes() {
    let find = |name: &str, rule: &str| -> Vec<String> {
        let recs = common::records(&logon_dir().join(format!("{name}.pcap")), Config::default());
        common::of_type(&recs, "finding")
            .iter()
            .filter(|f| f["rule"] == rule)
            .map(|f| f["summary"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    let bf = find("bruteforce", "logon.bruteforce");
    assert!(
        bf[0].starts_with("10 failed logons for SMBSCOPE\\alice from 127.0.0.1"),
        "{bf:?}"
    );
    assert!(bf[0].contains("in 300 s"), "{bf:?}");
    let sp = find("spray", "logon.spray");
    assert!(
        sp[0].contains("10 distinct users (SMBSCOPE\\user01, SMBSCOPE\\user02"),
        "{sp:?}"
    );
    let multi = find("spray-multi", "logon.spray");
    assert!(
        multi[0].contains("from 5 clients (127.0.0.2, 127.0.0.3, 127.0.0.4, 127.0.0.5, 127.0.0.6)"),
        "{multi:?}"
    );
    let lock = find("lockout", "logon.lockout");
    assert!(
        lock[0].contains("STATUS_ACCOUNT_LOCKED_OUT for SMBSCOPE\\alice"),
        "{lock:?}"
    );
    let win = find("spray-success", "logon.success_after_failures");
    assert!(
        win[0].contains("SMBSCOPE\\bob") && win[0].contains("succeeded"),
        "{win:?}"
    );
    let en = find("null-enum", "enum.null_session");
    assert!(
        en.iter()
            .all(|s| s.starts_with("An anonymous (null) session")),
        "{en:?}"
    );
    let rpc = en
        .iter()
        .find(|s| s.contains("samr"))
        .expect("the rpcclient session");
    for call in [
        "srvsvc.NetrShareEnum",
        "samr.SamrEnumerateUsersInDomain",
        "lsarpc.LsarLookupNames",
    ] {
        assert!(rpc.contains(call), "{call} in {rpc}");
    }
    let guest = find("guest-enum", "enum.null_session");
    assert!(
        guest.iter().all(|s| s.starts_with("A guest session")),
        "{guest:?}"
    );
}

/// Ordinary traffic: none of the project's other captures (TCP and QUIC, with their keys)
/// raises an attack finding.
#[test]
fn ordinary_traffic_raises_none() {
    let pcaps = |dir: PathBuf| -> Vec<PathBuf> {
        std::fs::read_dir(dir)
            .expect("captures dir")
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
            .collect()
    };
    let mut all = pcaps(common::captures_dir());
    all.extend(pcaps(common::captures_dir().join("quic")));
    all.sort();
    assert!(all.len() > 30, "{all:?}");
    let mut failures = Vec::new();
    for pcap in all {
        let recs = common::records(&pcap, Config::default());
        let got = rules(&recs);
        if !got.is_empty() {
            failures.push(format!("{}: {got:?}", pcap.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The thresholds change what fires: a brute force of 12 is none at 13, a spray of 30 users
/// is none at 31, and a window shorter than the gaps between attempts sees no burst.
#[test]
fn thresholds_are_options() {
    let run = |name: &str, logon: LogonPolicy| {
        let recs = common::records(
            &logon_dir().join(format!("{name}.pcap")),
            Config {
                logon,
                ..Config::default()
            },
        );
        rules(&recs)
    };
    let d = LogonPolicy::default();
    assert!(
        run(
            "bruteforce",
            LogonPolicy {
                bruteforce: 13,
                ..d
            }
        )
        .is_empty()
    );
    assert_eq!(
        run(
            "bruteforce",
            LogonPolicy {
                bruteforce: 12,
                ..d
            }
        ),
        ["logon.bruteforce"]
    );
    assert!(run("spray", LogonPolicy { spray: 31, ..d }).is_empty());
    assert_eq!(
        run("spray", LogonPolicy { spray: 30, ..d }),
        ["logon.spray"]
    );
}

#[test]
fn cli_options_and_their_errors() {
    let bin = env!("CARGO_BIN_EXE_smbscope");
    let pcap = logon_dir().join("bruteforce.pcap");
    let out = Command::new(bin)
        .args([
            "analyze",
            "--format",
            "json",
            "-j1",
            "--bruteforce-threshold",
            "13",
        ])
        .arg(&pcap)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{out:?}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("logon.bruteforce"));
    let out = Command::new(bin)
        .args(["analyze", "--format", "json", "--logon-window", "0"])
        .arg(&pcap)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--logon-window must be at least 1"),
        "{out:?}"
    );
    let help = Command::new(bin)
        .args(["analyze", "--help"])
        .output()
        .expect("runs");
    let help = String::from_utf8_lossy(&help.stdout);
    for opt in [
        "--logon-window",
        "--bruteforce-threshold",
        "--spray-threshold",
        "--logon-max-clients",
    ] {
        assert!(help.contains(opt), "{opt} in --help");
    }
}

/// The sensor: `watch -r` on the distributed spray sends the one `logon.spray` finding (once
/// per window, not per attempt), and a config file's thresholds apply.
#[test]
fn watch_reports_the_spray_once_and_reads_thresholds_from_its_config() {
    let bin = env!("CARGO_BIN_EXE_smbscope");
    let pcap = logon_dir().join("spray-multi.pcap");
    let sprays = |out: &std::process::Output| {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v["rule"] == "logon.spray")
            .count()
    };
    let out = Command::new(bin)
        .args(["watch", "--jsonl", "-", "-r"])
        .arg(&pcap)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(sprays(&out), 1, "{out:?}");
    let dir = std::env::temp_dir().join(format!("smbscope-logon-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let conf = dir.join("smbscope.toml");
    std::fs::write(&conf, "spray-threshold = 31\nlogon-window = 600\n").expect("write");
    let out = Command::new(bin)
        .args(["watch", "--jsonl", "-", "--config"])
        .arg(&conf)
        .arg("-r")
        .arg(&pcap)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(sprays(&out), 0, "{out:?}");
    std::fs::write(&conf, "spray-threshold = 0\n").expect("write");
    let out = Command::new(bin)
        .args(["watch", "--jsonl", "-", "--config"])
        .arg(&conf)
        .arg("-r")
        .arg(&pcap)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--spray-threshold must be at least 1"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// `watch` to a real rsyslogd: the brute force of 12 attempts and the spray that worked reach
/// syslog as one message per attack finding, beside the per-attempt `logon.failed` ones.
#[test]
fn syslog_gets_one_alert_per_attack() {
    if !rsyslog::available("syslog_gets_one_alert_per_attack") {
        return;
    }
    let server = rsyslog::Rsyslog::start(None);
    let bin = env!("CARGO_BIN_EXE_smbscope");
    let target = format!("udp://127.0.0.1:{}", server.udp_port);
    for name in ["bruteforce", "spray-success"] {
        let out = Command::new(bin)
            .args(["watch", "--syslog", &target, "-r"])
            .arg(logon_dir().join(format!("{name}.pcap")))
            .output()
            .expect("runs");
        assert!(out.status.success(), "{out:?}");
    }
    let want = |rule: &str| {
        let t = format!("rule=\"{rule}\"");
        move |m: &&rsyslog::Parsed| m.structured_data.contains(&t)
    };
    let start = std::time::Instant::now();
    loop {
        let got = server.parsed();
        let n = |r: &str| got.iter().filter(want(r)).count();
        if n("logon.bruteforce") >= 1 && n("logon.success_after_failures") >= 1 {
            assert_eq!(n("logon.bruteforce"), 1, "{got:#?}");
            assert_eq!(n("logon.spray"), 1, "{got:#?}");
            assert_eq!(n("logon.success_after_failures"), 1, "{got:#?}");
            break;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "syslog messages: {got:#?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// A flood of failed logons from 20,000 client addresses through the sharded engine with the
/// tracker capped at 1,000 clients: the merger's state stays capped (one `logon_state_full`
/// anomaly), every logon is still reported as `logon.failed`, and a real brute force from one
/// of the flooding clients is still found.
#[test]
fn sharded_flood_stays_bounded_and_still_finds_the_attack() {
    use smbscope::capture::Frame;
    use smbscope::wire::Timestamp;
    let mut cap = OfflineCapture::open(&logon_dir().join("bruteforce.pcap")).expect("opens");
    // The first connection: (frame, from the client).
    let mut conn: Vec<(Vec<u8>, bool)> = Vec::new();
    let mut first_port = None;
    while let Some(f) = cap.next_frame().expect("reads") {
        let d = f.data;
        let tcp = 14 + usize::from(d[14] & 0x0f) * 4;
        let dp = u16::from_be_bytes([d[tcp + 2], d[tcp + 3]]);
        let sp = u16::from_be_bytes([d[tcp], d[tcp + 1]]);
        let client = if dp == 445 { sp } else { dp };
        if *first_port.get_or_insert(client) != client {
            break;
        }
        conn.push((d.to_vec(), dp == 445));
    }
    let config = Config {
        logon: LogonPolicy {
            max_clients: 1000,
            ..LogonPolicy::default()
        },
        ..Config::default()
    };
    let mut e = ShardedEngine::new(config, 2).expect("threads start");
    let mut ts = 1_700_000_000_000_000_000u64;
    let mut out = Vec::new();
    const FLOOD: u32 = 20_000;
    // The flood, then 12 attempts from client 0 in a row (its own brute force).
    for i in (0..FLOOD).chain(std::iter::repeat_n(0, 12)) {
        let ip = [10, 9, (i >> 8) as u8, i as u8];
        let port = 20_000 + (ts / 1_000_000 % 40_000) as u16;
        for (frame, from_client) in &conn {
            let mut f = frame.clone();
            let tcp = 14 + usize::from(f[14] & 0x0f) * 4;
            let (ip_at, port_at) = if *from_client {
                (26, tcp)
            } else {
                (30, tcp + 2)
            };
            f[ip_at..ip_at + 4].copy_from_slice(&ip);
            f[port_at..port_at + 2].copy_from_slice(&port.to_be_bytes());
            ts += 1_000;
            e.handle_frame(&Frame {
                ts: Timestamp(ts),
                linktype: 1,
                data: &f,
                orig_len: f.len() as u32,
            });
            out.extend(std::iter::from_fn(|| e.poll_record()));
        }
    }
    e.finish();
    out.extend(std::iter::from_fn(|| e.poll_record()));
    let summary = e.summary();
    assert!(summary.errors.is_empty(), "{:?}", summary.errors);
    assert_eq!(
        summary.anomalies.get("logon_state_full"),
        Some(&1),
        "{summary:?}"
    );
    let json: Vec<Value> = out
        .iter()
        .map(|r| serde_json::to_value(r).expect("serialises"))
        .collect();
    let failed = common::of_type(&json, "finding")
        .iter()
        .filter(|f| f["rule"] == "logon.failed")
        .count();
    assert_eq!(failed, FLOOD as usize + 12);
    let bf: Vec<&Value> = attack_findings(&json);
    assert_eq!(bf.len(), 1, "{bf:#?}");
    assert_eq!(bf[0]["rule"], "logon.bruteforce");
    assert!(
        bf[0]["client"]
            .as_str()
            .is_some_and(|c| c.starts_with("10.9.0.0:"))
    );
}
