//! Golden tests over the project's own captures (`captures/*.pcap`, real Samba traffic made by
//! `captures/generate.sh`):
//!
//! 1. the posture in the records matches `captures/<name>.expected.json`, written when the
//!    capture was made and cross-checked there with tshark;
//! 2. each scenario raises the findings it must, and none it must not;
//! 3. the full JSON output equals the snapshot in `tests/golden/<name>.jsonl` (and
//!    `tests/golden/logon-<name>.jsonl` for the logon-attack captures of `captures/logon/`)
//!    (`UPDATE_GOLDEN=1 cargo test --test golden` rewrites the snapshots after a deliberate
//!    change; review the diff).

mod common;

use std::path::{Path, PathBuf};

use serde_json::Value;
use smbscope::engine::Config;

/// Findings each scenario must raise (`rule` or `rule:side`), and must not.
const FINDINGS: &[(&str, &[&str], &[&str])] = &[
    (
        "anonymous",
        &["anonymous", "signing.not_required:server"],
        &["guest", "session.unsigned", "auth.by_ip"],
    ),
    (
        "bad-password",
        &["logon.failed"],
        &["guest", "session.unsigned"],
    ),
    (
        "bob-nonascii",
        &["auth.by_ip"],
        &["session.unsigned", "signing.not_required:client"],
    ),
    (
        "guest",
        &["guest", "signing.not_required:server"],
        &["session.unsigned", "anonymous", "auth.by_ip", "ntlmv1"],
    ),
    ("ntlmv1", &["ntlmv1"], &["anonymous", "guest"]),
    ("ntlmv1-ess", &["ntlmv1"], &["anonymous", "guest"]),
    (
        "server-encrypt-required",
        &[],
        &["session.unencrypted", "session.unsigned", "guest"],
    ),
    (
        "server-no-encryption",
        &["session.unencrypted"],
        &["session.unsigned", "signing.not_required:client"],
    ),
    (
        "server-signing-required",
        &[],
        &["signing.not_required:server", "session.unsigned"],
    ),
    (
        "smb1-nt1",
        &["smb1", "session.unsigned", "signing.not_required:server"],
        &["guest", "dialect.legacy"],
    ),
    (
        "smb1-signed",
        &["smb1"],
        &["session.unsigned", "signing.not_required:client"],
    ),
    (
        "smb202-signing-required",
        &["dialect.legacy", "session.unencrypted"],
        &["session.unsigned", "signing.not_required:client"],
    ),
    (
        "smb21-share-encrypt-refused",
        &["encryption.refused", "dialect.legacy"],
        &["guest"],
    ),
    (
        "smb21-unsigned",
        &[
            "dialect.legacy",
            "session.unsigned",
            "signing.not_required:client",
            "signing.not_required:server",
        ],
        &["guest"],
    ),
    (
        "smb30-enc-aes128ccm",
        &[],
        &["session.unencrypted", "session.unsigned"],
    ),
    (
        "smb30-signed",
        &["session.unencrypted"],
        &["session.unsigned", "dialect.legacy"],
    ),
    (
        "smb302-signed",
        &["session.unencrypted"],
        &["session.unsigned", "dialect.legacy"],
    ),
    ("smb311-by-name", &[], &["auth.by_ip", "session.unsigned"]),
    (
        "smb311-default",
        &[
            "session.unsigned",
            "session.unencrypted",
            "signing.not_required:client",
            "signing.not_required:server",
        ],
        &["guest", "dialect.legacy"],
    ),
    (
        "smb311-enc-aes128ccm",
        &[],
        &["session.unencrypted", "session.unsigned"],
    ),
    (
        "smb311-enc-aes128gcm",
        &[],
        &["session.unencrypted", "session.unsigned"],
    ),
    (
        "smb311-enc-bulk",
        &[],
        &[
            "session.unencrypted",
            "session.unsigned",
            "signing.not_required:client",
        ],
    ),
    (
        "smb311-enc-aes256ccm",
        &[],
        &["session.unencrypted", "session.unsigned"],
    ),
    (
        "smb311-enc-aes256gcm",
        &[],
        &["session.unencrypted", "session.unsigned"],
    ),
    (
        "smb311-share-encrypt",
        &[],
        &["session.unencrypted", "encryption.refused"],
    ),
    (
        "smb311-sign-cmac",
        &["session.unencrypted"],
        &["session.unsigned"],
    ),
    (
        "smb311-sign-gmac",
        &["session.unencrypted"],
        &["session.unsigned"],
    ),
    (
        "smb311-sign-hmac",
        &["session.unencrypted"],
        &["session.unsigned"],
    ),
    (
        "smb311-signed-bulk",
        &["session.unencrypted"],
        &["session.unsigned", "signing.not_required:client"],
    ),
    (
        "smb311-unsigned-bulk",
        &[
            "session.unsigned",
            "session.unencrypted",
            "signing.not_required:client",
            "signing.not_required:server",
        ],
        &["guest", "dialect.legacy"],
    ),
];

fn scenarios() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(common::captures_dir())
        .expect("captures/ exists")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
        .collect();
    v.sort();
    assert!(
        v.len() >= 20,
        "expected the generated captures in captures/"
    );
    v
}

fn stem(p: &Path) -> String {
    p.file_stem()
        .and_then(|s| s.to_str())
        .expect("utf-8 name")
        .to_owned()
}

#[test]
fn posture_matches_expected_answers() {
    let mut failures = Vec::new();
    for pcap in scenarios() {
        let name = stem(&pcap);
        let exp_path = pcap.with_extension("expected.json");
        let Ok(text) = std::fs::read_to_string(&exp_path) else {
            continue;
        };
        let exp: Value = serde_json::from_str(&text).expect("expected.json parses");
        let recs = common::records(&pcap, Config::default());
        for p in check_expected(&exp, &recs) {
            failures.push(format!("{name}: {p}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn scenarios_raise_the_right_findings() {
    let mut failures = Vec::new();
    let known: Vec<String> = scenarios().iter().map(|p| stem(p)).collect();
    for (name, must, must_not) in FINDINGS {
        assert!(known.iter().any(|k| k == name), "no capture for {name}");
        let recs = common::records(
            &common::captures_dir().join(format!("{name}.pcap")),
            Config::default(),
        );
        let fired: Vec<String> = common::of_type(&recs, "finding")
            .iter()
            .map(|f| match f["side"].as_str() {
                Some(side) => format!("{}:{side}", f["rule"].as_str().unwrap_or("")),
                None => f["rule"].as_str().unwrap_or("").to_owned(),
            })
            .collect();
        for m in *must {
            if !fired.iter().any(|f| f == m) {
                failures.push(format!("{name}: {m} not raised (raised: {fired:?})"));
            }
        }
        for m in *must_not {
            if fired.iter().any(|f| f == m) {
                failures.push(format!("{name}: {m} raised but must not be"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn require_mandates_raise_severity() {
    let path = common::captures_dir().join("smb21-unsigned.pcap");
    let plain = common::records(&path, Config::default());
    let config = Config {
        mandates: smbscope::rules::Mandates::parse("signing,encryption").expect("valid"),
        ..Config::default()
    };
    let strict = common::records(&path, config);
    let sev = |recs: &[Value], rule: &str| -> Vec<String> {
        common::of_type(recs, "finding")
            .iter()
            .filter(|f| f["rule"] == rule)
            .map(|f| f["severity"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    assert_eq!(sev(&plain, "session.unsigned"), ["medium"]);
    assert_eq!(sev(&strict, "session.unsigned"), ["high"]);
    assert_eq!(sev(&plain, "dialect.legacy"), ["low"]);
    assert_eq!(sev(&strict, "dialect.legacy"), ["high"]);
    let mandate: Vec<&Value> = common::of_type(&strict, "finding")
        .into_iter()
        .filter(|f| f["rule"] == "session.unsigned")
        .map(|f| &f["mandate"])
        .collect();
    assert_eq!(mandate, [&Value::from("signing")]);
}

#[test]
fn json_matches_snapshots() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    if update {
        std::fs::create_dir_all(&dir).expect("create tests/golden");
    }
    let mut failures = Vec::new();
    let mut runs = Vec::new();
    for pcap in scenarios() {
        let name = stem(&pcap);
        runs.push((name.clone(), pcap.clone(), Config::default()));
        // With the keys Samba logged: signatures verified, encrypted traffic decoded.
        if let Ok(text) = std::fs::read_to_string(pcap.with_extension("keys")) {
            let mut store = smbscope::crypto::keys::KeyStore::default();
            store.add_keys(smbscope::crypto::keys::parse_keys(&text, "keys").expect("keys"));
            let config = Config {
                keys: std::sync::Arc::new(store),
                ..Config::default()
            };
            runs.push((format!("{name}.with-keys"), pcap, config));
        }
    }
    // The logon-attack captures (captures/logon/): their findings pinned too.
    let mut logon: Vec<PathBuf> = std::fs::read_dir(common::captures_dir().join("logon"))
        .expect("captures/logon/")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
        .collect();
    logon.sort();
    assert!(logon.len() >= 7, "{logon:?}");
    for pcap in logon {
        runs.push((format!("logon-{}", stem(&pcap)), pcap, Config::default()));
    }
    for (name, pcap, config) in runs {
        let capture = pcap
            .strip_prefix(env!("CARGO_MANIFEST_DIR"))
            .unwrap_or(&pcap)
            .display()
            .to_string();
        let recs = common::records(&pcap, config);
        let mut text = String::new();
        for r in &recs {
            let mut r = r.clone();
            // The file path depends on where the repository is checked out.
            if r["type"] == "summary" {
                r["files"] = Value::Array(vec![Value::from(capture.clone())]);
            }
            text.push_str(&serde_json::to_string(&r).expect("serializes"));
            text.push('\n');
        }
        let snap = dir.join(format!("{name}.jsonl"));
        if update {
            std::fs::write(&snap, &text).expect("write snapshot");
            continue;
        }
        match std::fs::read_to_string(&snap) {
            Ok(old) if old == text => {}
            Ok(old) => {
                let first = old
                    .lines()
                    .zip(text.lines())
                    .position(|(a, b)| a != b)
                    .unwrap_or(old.lines().count().min(text.lines().count()));
                failures.push(format!(
                    "{name}: output differs from {} at line {} (UPDATE_GOLDEN=1 to accept)\n  \
                     was: {}\n  now: {}",
                    snap.display(),
                    first + 1,
                    old.lines().nth(first).unwrap_or("<end>"),
                    text.lines().nth(first).unwrap_or("<end>")
                ));
            }
            Err(_) => failures.push(format!(
                "{name}: no snapshot {} (UPDATE_GOLDEN=1 cargo test --test golden)",
                snap.display()
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Compares the records with a generator-written expectation. `cipher` and
/// `signing_algorithm` there are what the scenario used; the records give what was negotiated,
/// so they are compared only when the scenario used one.
fn check_expected(exp: &Value, recs: &[Value]) -> Vec<String> {
    let mut out = Vec::new();
    let conns = common::of_type(recs, "connection");
    if conns.is_empty() {
        return vec!["no connection record".into()];
    }
    for c in &conns {
        for f in [
            "dialect",
            "client_signing_required",
            "server_signing_required",
        ] {
            if c[f] != exp[f] {
                out.push(format!("{f}: expected {}, got {}", exp[f], c[f]));
            }
        }
        for f in ["signing_algorithm", "cipher"] {
            if !exp[f].is_null() && c[f] != exp[f] {
                out.push(format!("{f}: expected {}, got {}", exp[f], c[f]));
            }
        }
    }
    let sessions = common::of_type(recs, "session");
    let Some(s) = sessions
        .iter()
        .find(|s| s["user"] == exp["user"])
        .or(sessions.first())
    else {
        return vec!["no session record".into()];
    };
    let want_auth = match exp["auth"].as_str() {
        Some("none") => "unknown",
        Some(a) => a,
        None => "unknown",
    };
    if s["auth"] != want_auth {
        out.push(format!("auth: expected {want_auth}, got {}", s["auth"]));
    }
    for (f, e) in [
        ("user", "user"),
        ("guest", "guest"),
        ("anonymous", "anonymous"),
        ("encrypt_data", "session_encrypt_data"),
    ] {
        if s[f] != exp[e] {
            out.push(format!("{f}: expected {}, got {}", exp[e], s[f]));
        }
    }
    // Inside encrypted traffic, trees and files are not visible without keys: then only check
    // that what is visible is right.
    let encrypted = s["messages"]["encrypted"].as_u64().unwrap_or(0) > 0;
    let trees = s["trees"].as_array().cloned().unwrap_or_default();
    for t in exp["trees"].as_array().into_iter().flatten() {
        match trees.iter().find(|a| a["path"] == t["path"]) {
            Some(a) => {
                if a["encrypt_data"] != t["encrypt_data"] {
                    out.push(format!("tree {}: encrypt_data differs", t["path"]));
                }
                if !t["status"].is_null() && a["status"] != t["status"] {
                    out.push(format!(
                        "tree {}: status {} != {}",
                        t["path"], a["status"], t["status"]
                    ));
                }
            }
            None if encrypted => {}
            None => out.push(format!("tree {} missing", t["path"])),
        }
    }
    let files = common::strings(recs, "session", "files");
    for f in exp["files"].as_array().into_iter().flatten() {
        let f = f.as_str().unwrap_or("");
        if !encrypted && !files.iter().any(|x| x == f) {
            out.push(format!("file {f} missing (have {files:?})"));
        }
    }
    let mut statuses: Vec<String> = s["statuses"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    statuses.extend(s["setup_status"].as_str().map(String::from));
    statuses.extend(
        trees
            .iter()
            .filter_map(|t| t["status"].as_str().map(String::from)),
    );
    for st in exp["statuses"].as_array().into_iter().flatten() {
        let st = st.as_str().unwrap_or("");
        if !statuses.iter().any(|x| x == st) {
            out.push(format!("status {st} not seen (have {statuses:?})"));
        }
    }
    out
}
