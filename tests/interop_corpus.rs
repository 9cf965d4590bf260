//! Interop over the third-party corpus in `../shared/corpus` (Wireshark, Suricata, Zeek, nDPI
//! test captures): every capture analyses without error or panic, and the records match the
//! dialects, trees, users, guest flags and file names that `tests/corpus_expected.json` lists
//! (values taken from the corpus MANIFEST.md and checked with tshark 4.0.17).

mod common;

use std::collections::BTreeSet;

use serde_json::Value;
use smbscope::engine::Config;
use smbscope::flow::SmbPorts;

#[test]
fn every_corpus_capture_analyses_cleanly() {
    let Some(dir) = common::corpus_dir() else {
        return;
    };
    let files = common::capture_files(&dir);
    assert!(
        files.len() > 50,
        "corpus looks incomplete: {} files",
        files.len()
    );
    let mut problems = Vec::new();
    for f in &files {
        let recs = common::records(f, Config::default());
        let summary = recs.last().expect("summary");
        if let Some(errs) = summary["errors"].as_array().filter(|e| !e.is_empty()) {
            problems.push(format!("{}: {errs:?}", f.display()));
        }
    }
    assert!(
        problems.is_empty(),
        "input errors:\n{}",
        problems.join("\n")
    );
}

#[test]
fn corpus_expectations() {
    let Some(dir) = common::corpus_dir() else {
        return;
    };
    let table: Vec<Value> = serde_json::from_str(include_str!("corpus_expected.json"))
        .expect("tests/corpus_expected.json parses");
    let mut failures = Vec::new();
    for exp in &table {
        let file = exp["file"].as_str().expect("file");
        let mut ports = SmbPorts::default();
        for p in exp["smb_ports"].as_array().into_iter().flatten() {
            ports = ports.with(p.as_u64().expect("port") as u16);
        }
        let config = Config {
            ports,
            ..Config::default()
        };
        let recs = common::records(&dir.join(file), config);
        for problem in check(exp, &recs) {
            failures.push(format!("{file}: {problem}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Every way `recs` disagrees with the expectations in `exp`.
fn check(exp: &Value, recs: &[Value]) -> Vec<String> {
    let mut out = Vec::new();
    let conns = common::of_type(recs, "connection");
    let sessions = common::of_type(recs, "session");
    let set = |v: &Value| -> Option<BTreeSet<String>> {
        v.as_array().map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
    };
    // Dialects and signing modes are compared on connections whose NEGOTIATE was captured.
    let negotiated: Vec<&&Value> = conns.iter().filter(|c| c["negotiated"] == true).collect();
    let actual_dialects: BTreeSet<String> = negotiated
        .iter()
        .filter_map(|c| c["dialect"].as_str().map(String::from))
        .collect();
    if let Some(d) = set(&exp["dialects"]) {
        if d != actual_dialects {
            out.push(format!("dialects: expected {d:?}, got {actual_dialects:?}"));
        }
    }
    if let Some(b) = exp["smb1"].as_bool() {
        let any_smb1 = conns.iter().any(|c| c["dialect"] == "SMB1");
        if b != any_smb1 {
            out.push(format!("smb1: expected {b}"));
        }
    }
    let subset = |name: &str, actual: Vec<String>, out: &mut Vec<String>| {
        if let Some(want) = set(&exp[name]) {
            let have: BTreeSet<String> = actual.into_iter().collect();
            let missing: Vec<&String> = want.difference(&have).collect();
            if !missing.is_empty() {
                out.push(format!("{name}: missing {missing:?}; have {have:?}"));
            }
        }
    };
    subset("trees", common::tree_paths(recs), &mut out);
    subset("users", common::strings(recs, "session", "user"), &mut out);
    subset(
        "domains",
        common::strings(recs, "session", "domain"),
        &mut out,
    );
    subset("auth", common::strings(recs, "session", "auth"), &mut out);
    subset(
        "kerberos_realms",
        common::strings(recs, "session", "kerberos_realm"),
        &mut out,
    );
    subset("files", common::strings(recs, "session", "files"), &mut out);
    let any = |f: &dyn Fn(&Value) -> bool| sessions.iter().any(|s| f(s));
    for (name, actual) in [
        ("guest", any(&|s| s["guest"] == true)),
        ("anonymous", any(&|s| s["anonymous"] == true)),
        (
            "encrypted",
            any(&|s| s["messages"]["encrypted"].as_u64().unwrap_or(0) > 0),
        ),
    ] {
        if let Some(want) = exp[name].as_bool() {
            if want != actual {
                out.push(format!("{name}: expected {want}, got {actual}"));
            }
        }
    }
    // midstream: true = no connection's NEGOTIATE was captured; false = every one was.
    if let Some(want) = exp["midstream"].as_bool() {
        let ok = if want {
            negotiated.is_empty()
        } else {
            negotiated.len() == conns.len()
        };
        if !ok {
            out.push(format!(
                "midstream: expected {want}, {} of {} connections negotiated",
                negotiated.len(),
                conns.len()
            ));
        }
    }
    for name in ["server_signing_required", "client_signing_required"] {
        if let Some(want) = exp[name].as_bool() {
            // The client also shows its mode in SESSION_SETUP, so with no NEGOTIATE captured
            // every connection counts for it.
            let pool: Vec<&&Value> = if negotiated.is_empty() && name.starts_with("client") {
                conns.iter().collect()
            } else {
                negotiated.clone()
            };
            if pool.is_empty() || pool.iter().any(|c| c[name] != want) {
                let got: Vec<&Value> = pool.iter().map(|c| &c[name]).collect();
                out.push(format!("{name}: expected {want}, got {got:?}"));
            }
        }
    }
    out
}
