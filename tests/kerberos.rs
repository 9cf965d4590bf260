//! Kerberos sessions verified from a keytab (`--keytab`), on the shared corpus' Zeek trace
//! `smb2_krb.pcap` and its keytab (skipped with a NOTICE without the corpus): the ticket is
//! decrypted with the service key, the AP-REP subkey is the session key, and the signed
//! SESSION_SETUP response verifies; a keytab without the service key gives an anomaly that
//! names what is missing, and no invalid signature.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use serde_json::Value;
use smbscope::crypto::keys::KeyStore;
use smbscope::crypto::keytab::Keytab;
use smbscope::engine::Config;

fn corpus() -> Option<(PathBuf, PathBuf)> {
    let dir = common::corpus_dir()?;
    Some((
        dir.join("zeek/smb2_krb.pcap"),
        dir.join("zeek/smb2_krb.keytab"),
    ))
}

fn with_keytab(bytes: &[u8]) -> Config {
    let mut store = KeyStore::default();
    store.keytab.add(bytes).expect("keytab parses");
    Config {
        keys: Arc::new(store),
        ..Config::default()
    }
}

/// A 0x0502 keytab with one aes256 key for `host/phxlabbal821.ds.susq.com@DS.SUSQ.COM` (the
/// corpus keytab's principal) that is not the real key.
fn wrong_keytab() -> Vec<u8> {
    let mut e = Vec::new();
    e.extend_from_slice(&2u16.to_be_bytes());
    for s in ["DS.SUSQ.COM", "host", "phxlabbal821.ds.susq.com"] {
        e.extend_from_slice(&(s.len() as u16).to_be_bytes());
        e.extend_from_slice(s.as_bytes());
    }
    e.extend_from_slice(&1u32.to_be_bytes());
    e.extend_from_slice(&0u32.to_be_bytes());
    e.push(2);
    e.extend_from_slice(&18u16.to_be_bytes());
    e.extend_from_slice(&32u16.to_be_bytes());
    e.extend_from_slice(&[0x33; 32]);
    let mut f = vec![5, 2];
    f.extend_from_slice(&(e.len() as u32).to_be_bytes());
    f.extend_from_slice(&e);
    f
}

fn session(recs: &[Value]) -> &Value {
    common::of_type(recs, "session")[0]
}

#[test]
fn the_keytab_verifies_the_kerberos_session() {
    let Some((pcap, keytab)) = corpus() else {
        return;
    };
    let bytes = std::fs::read(&keytab).expect("keytab");
    let recs = common::records(&pcap, with_keytab(&bytes));
    let s = session(&recs);
    assert_eq!(s["auth"], "kerberos");
    assert_eq!(s["key_source"], "keytab");
    // The ticket names the user (tshark with the keytab: CNameString wallior).
    assert_eq!(
        (&s["user"], &s["domain"]),
        (&Value::from("wallior"), &Value::from("DS.SUSQ.COM"))
    );
    // Only the SESSION_SETUP response is signed in this trace (corpus MANIFEST).
    assert_eq!(s["signatures"]["valid"], 1, "{s}");
    assert_eq!(s["signatures"]["invalid"], 0);
    // Without the keytab: unverified, as before.
    let recs = common::records(&pcap, Config::default());
    assert_eq!(session(&recs)["signatures"]["unverified"], 1);
    let kt = {
        let mut k = Keytab::default();
        k.add(&bytes).expect("parses");
        k
    };
    assert!(!format!("{kt:?}").contains("key:"), "keys never in Debug");
}

#[test]
fn a_keytab_without_the_service_key_says_what_is_missing() {
    let Some((pcap, _)) = corpus() else {
        return;
    };
    let recs = common::records(&pcap, with_keytab(&wrong_keytab()));
    let s = session(&recs);
    assert_eq!(s["signatures"]["invalid"], 0, "{s}");
    assert_eq!(s["key_source"], Value::Null);
    let a: Vec<&Value> = common::of_type(&recs, "anomaly")
        .into_iter()
        .filter(|a| a["kind"] == "keytab_missing_key")
        .collect();
    assert_eq!(a.len(), 1, "{recs:#?}");
    let d = a[0]["detail"].as_str().unwrap_or("");
    assert!(
        d.contains("cifs/phxlabbal821.techlab.susq.com@DS.SUSQ.COM kvno 2 aes256-cts-hmac-sha1-96"),
        "{d}"
    );
}

#[test]
fn cli_keytab_option_warnings_and_errors() {
    let Some((pcap, keytab)) = corpus() else {
        return;
    };
    let bin = env!("CARGO_BIN_EXE_smbscope");
    let dir = std::env::temp_dir().join(format!("smbscope-krb-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let private = dir.join("server.keytab");
    std::fs::copy(&keytab, &private).expect("copy");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let out = Command::new(bin)
        .args(["analyze", "--format", "json", "-j1", "--keytab"])
        .arg(&private)
        .arg(&pcap)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("\"key_source\":\"keytab\""), "{text}");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("readable by others"));
    // Readable by others: the same warning as for key files.
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let out = Command::new(bin)
        .args(["analyze", "--format", "json", "--keytab"])
        .arg(&private)
        .arg(&pcap)
        .output()
        .expect("runs");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("readable by others"),
        "{out:?}"
    );
    // Not a keytab: a clear error, exit 2.
    let bogus = dir.join("bogus.keytab");
    std::fs::write(&bogus, "not a keytab\n").expect("write");
    let out = Command::new(bin)
        .args(["analyze", "--keytab"])
        .arg(&bogus)
        .arg(&pcap)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bogus.keytab") && err.contains("not a keytab"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
