//! Signature verification and decryption, end to end:
//!
//! * the project's own captures, with the keys Samba logged and with the password alone: every
//!   signature verifies, every encrypted message decrypts with a verified tag, and the trees and
//!   files inside encrypted sessions appear;
//! * the corpus captures with published keys (`../shared/corpus/smb-keys.tsv`), as session keys
//!   and as derived keys, mid-stream ones too;
//! * a tampered message is reported, exactly that one; a wrong key is called a wrong key;
//! * `smbscope decrypt` writes a capture whose SMB is plaintext.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use serde_json::Value;
use smbscope::crypto::keys::{self, KeyStore};
use smbscope::engine::Config;

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("smbscope-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

fn config_with(keys_text: Option<&str>, creds_text: Option<&str>) -> Config {
    let mut store = KeyStore::default();
    if let Some(t) = keys_text {
        store.add_keys(keys::parse_keys(t, "test").expect("keys parse"));
    }
    if let Some(t) = creds_text {
        store.add_credentials(keys::parse_credentials(t, "test").expect("credentials parse"));
    }
    Config {
        keys: Arc::new(store),
        ..Config::default()
    }
}

/// Totals over all sessions of a run.
#[derive(Debug, Default, PartialEq)]
struct Totals {
    valid: u64,
    invalid: u64,
    unverified: u64,
    ok: u64,
    failed: u64,
    encrypted: u64,
}

fn totals(recs: &[Value]) -> Totals {
    let mut t = Totals::default();
    for s in common::of_type(recs, "session") {
        let n = |v: &Value| v.as_u64().unwrap_or(0);
        t.valid += n(&s["signatures"]["valid"]);
        t.invalid += n(&s["signatures"]["invalid"]);
        t.unverified += n(&s["signatures"]["unverified"]);
        t.ok += n(&s["decrypted"]["ok"]);
        t.failed += n(&s["decrypted"]["failed"]);
        t.encrypted += n(&s["messages"]["encrypted"]);
    }
    t
}

fn own_scenarios(ext: &str) -> Vec<(String, PathBuf)> {
    let mut v: Vec<(String, PathBuf)> = std::fs::read_dir(common::captures_dir())
        .expect("captures/")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .map(|p| {
            let name = p
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("")
                .to_owned();
            (name, p)
        })
        .collect();
    v.sort();
    v
}

/// Checks one project capture analysed with some key source.
fn check_own(name: &str, recs: &[Value], source: &str, failures: &mut Vec<String>) {
    let t = totals(recs);
    if t.invalid > 0 || t.failed > 0 {
        failures.push(format!("{name} ({source}): {t:?}"));
    }
    if t.unverified > 0 {
        failures.push(format!(
            "{name} ({source}): {} signatures unverified",
            t.unverified
        ));
    }
    if t.ok != t.encrypted {
        failures.push(format!(
            "{name} ({source}): {} of {} encrypted messages decrypted",
            t.ok, t.encrypted
        ));
    }
    for f in common::of_type(recs, "finding") {
        if ["signature.invalid", "decrypt.failed", "signature.missing"]
            .contains(&f["rule"].as_str().unwrap_or(""))
        {
            failures.push(format!("{name} ({source}): unexpected {}", f["summary"]));
        }
    }
    // Inside encryption, trees and files must now be visible.
    let exp_path = common::captures_dir().join(format!("{name}.expected.json"));
    let Ok(exp) = std::fs::read_to_string(exp_path) else {
        return;
    };
    let exp: Value = serde_json::from_str(&exp).expect("expected.json");
    let trees = common::tree_paths(recs);
    for tree in exp["trees"].as_array().into_iter().flatten() {
        let p = tree["path"].as_str().unwrap_or("");
        if !trees.iter().any(|t| t == p) {
            failures.push(format!(
                "{name} ({source}): tree {p} not seen (have {trees:?})"
            ));
        }
    }
    let files = common::strings(recs, "session", "files");
    for f in exp["files"].as_array().into_iter().flatten() {
        let f = f.as_str().unwrap_or("");
        if !files.iter().any(|x| x == f) {
            failures.push(format!("{name} ({source}): file {f} not seen"));
        }
    }
}

#[test]
fn own_captures_verify_and_decrypt_with_samba_keys() {
    let mut failures = Vec::new();
    let mut signed = 0;
    for (name, keys_path) in own_scenarios("keys") {
        let text = std::fs::read_to_string(&keys_path).expect("keys");
        let recs = common::records(
            &keys_path.with_extension("pcap"),
            config_with(Some(&text), None),
        );
        signed += totals(&recs).valid;
        check_own(&name, &recs, "keys", &mut failures);
    }
    assert!(signed > 500, "only {signed} signatures verified");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn own_captures_verify_and_decrypt_with_the_password_alone() {
    let mut failures = Vec::new();
    for (name, creds_path) in own_scenarios("credentials") {
        if name == "bad-password" {
            continue;
        }
        let text = std::fs::read_to_string(&creds_path).expect("credentials");
        let recs = common::records(
            &creds_path.with_extension("pcap"),
            config_with(None, Some(&text)),
        );
        let sources = common::strings(&recs, "session", "key_source");
        if !sources.iter().any(|s| s == "password") {
            failures.push(format!("{name}: no session keyed from the password"));
        }
        check_own(&name, &recs, "password", &mut failures);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_wrong_password_is_reported_not_used() {
    let pcap = common::captures_dir().join("smb311-sign-gmac.pcap");
    let recs = common::records(
        &pcap,
        config_with(None, Some("SMBSCOPE\\alice:not-her-password\n")),
    );
    let mismatch: Vec<&Value> = common::of_type(&recs, "anomaly")
        .into_iter()
        .filter(|a| a["kind"] == "credentials_mismatch")
        .collect();
    assert_eq!(mismatch.len(), 1, "{recs:?}");
    assert!(
        !mismatch[0]["detail"]
            .as_str()
            .unwrap_or("")
            .contains("not-her-password")
    );
    let t = totals(&recs);
    assert_eq!((t.valid, t.invalid), (0, 0));
    assert!(t.unverified > 0);
}

#[test]
fn a_wrong_key_is_called_a_wrong_key() {
    let pcap = common::captures_dir().join("smb311-sign-cmac.pcap");
    let keys_text = std::fs::read_to_string(pcap.with_extension("keys")).expect("keys");
    let sid = keys::parse_keys(&keys_text, "k").expect("parse")[0].session_id;
    let wrong = format!("session=0x{sid:016x} key=00112233445566778899aabbccddeeff\n");
    let recs = common::records(&pcap, config_with(Some(&wrong), None));
    let t = totals(&recs);
    assert_eq!(t.valid, 0);
    assert!(t.invalid > 10);
    let f: Vec<&Value> = common::of_type(&recs, "finding")
        .into_iter()
        .filter(|f| f["rule"] == "signature.invalid")
        .collect();
    assert_eq!(f.len(), 1);
    assert!(
        f[0]["summary"]
            .as_str()
            .unwrap_or("")
            .contains("key is most likely wrong")
    );
    assert_eq!(f[0]["event_id"], 31013);
}

/// Flips one byte inside one signed WRITE request of a capture: exactly that message fails.
#[test]
fn a_tampered_message_is_the_one_reported() {
    let src = common::captures_dir().join("smb311-sign-gmac.pcap");
    let keys_text = std::fs::read_to_string(src.with_extension("keys")).expect("keys");
    let mut bytes = std::fs::read(&src).expect("read");
    let (msg_id, at) = find_signed_write(&bytes).expect("a signed WRITE request");
    bytes[at] ^= 0x01;
    let dir = temp_dir("tamper");
    let tampered = dir.join("tampered.pcap");
    std::fs::write(&tampered, &bytes).expect("write");
    let recs = common::records(&tampered, config_with(Some(&keys_text), None));
    let t = totals(&recs);
    assert_eq!(t.invalid, 1, "{t:?}");
    assert!(t.valid > 50);
    let s = common::of_type(&recs, "session")[0];
    let bad = s["invalid_signatures"].as_array().expect("list");
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0]["message_id"], msg_id);
    assert_eq!(bad[0]["command"], "WRITE");
    let f: Vec<&Value> = common::of_type(&recs, "finding")
        .into_iter()
        .filter(|f| f["rule"] == "signature.invalid")
        .collect();
    assert_eq!(f.len(), 1);
    assert!(f[0]["summary"].as_str().unwrap_or("").contains("tampering"));
    let _ = std::fs::remove_dir_all(dir);
}

/// In a classic pcap, the MessageId of the first signed SMB2 WRITE request and the offset of
/// the last byte of its frame (inside the written data).
fn find_signed_write(pcap: &[u8]) -> Option<(u64, usize)> {
    let mut off = 24;
    while off + 16 <= pcap.len() {
        let caplen = u32::from_le_bytes(pcap[off + 8..off + 12].try_into().ok()?) as usize;
        let data = off + 16;
        let frame = pcap.get(data..data + caplen)?;
        if let Some(p) = frame.windows(4).position(|w| w == b"\xfeSMB") {
            let h = &frame[p..];
            let cmd = u16::from_le_bytes([h[12], h[13]]);
            let flags = u32::from_le_bytes(h[16..20].try_into().ok()?);
            if cmd == 9 && flags & 0x1 == 0 && flags & 0x8 != 0 && h.len() > 200 {
                let mid = u64::from_le_bytes(h[24..32].try_into().ok()?);
                return Some((mid, data + caplen - 1));
            }
        }
        off = data + caplen;
    }
    None
}

/// Corpus captures with published keys: (file, expected tree, decrypted messages).
const CORPUS: &[(&str, &str, u64)] = &[
    (
        "wireshark/smb300-aes-128-ccm.pcap.gz",
        r"\\dfsroot1.foo.test\IPC$",
        2,
    ),
    (
        "wireshark/smb311-aes-128-ccm.pcap.gz",
        r"\\dfsroot1.foo.test\IPC$",
        2,
    ),
    (
        "wireshark/smb311-aes-128-gcm.pcap.gz",
        r"\\dfsroot1.foo.test\IPC$",
        2,
    ),
    (
        "wireshark/smb311-aes-256-ccm.pcap.gz",
        r"\\172.31.9.163\IPC$",
        2,
    ),
    (
        "wireshark/smb311-aes-256-gcm.pcap.gz",
        r"\\172.31.9.163\IPC$",
        2,
    ),
    (
        "suricata-verify/smb3-01__input.pcap",
        r"\\WS2016\encrypted",
        44,
    ),
    (
        "suricata-verify/smb3-02-midstream__input.pcap",
        r"\\10.160.65.202\IPC$",
        44,
    ),
    (
        "suricata-verify/smb3-03-midstream__input.pcap",
        r"\\10.160.65.202\IPC$",
        43,
    ),
    ("zeek/smb311.pcap", r"\\foo.test\data", 28),
    ("zeek/smb2_krb.pcap", r"\\phxlabbal821\lustre", 0),
];

/// Rows of smb-keys.tsv: file -> (sesid wire, session key, c2s, s2c).
fn corpus_keys(dir: &Path) -> Vec<(String, String, String, String, String)> {
    let text = std::fs::read_to_string(dir.join("smb-keys.tsv")).expect("smb-keys.tsv");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("file\t"))
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (
                f[0].to_owned(),
                f[1].to_owned(),
                f[3].to_owned(),
                f[8].to_owned(),
                f[9].to_owned(),
            )
        })
        .collect()
}

#[test]
fn corpus_captures_decrypt_and_verify_with_published_keys() {
    let Some(dir) = common::corpus_dir() else {
        return;
    };
    let keys = corpus_keys(&dir);
    let mut failures = Vec::new();
    for (file, tree, decrypted) in CORPUS {
        let (_, sesid, seskey, c2s, s2c) = keys
            .iter()
            .find(|k| k.0 == *file)
            .unwrap_or_else(|| panic!("no key for {file}"));
        let mut forms = vec![("session key", format!("{sesid},{seskey},\"\",\"\"\n"))];
        if c2s != "-" && s2c != "-" {
            // Wireshark's UAT order: sesid, seskey, S2C, C2S.
            forms.push(("derived keys", format!("{sesid},\"\",{s2c},{c2s}\n")));
        }
        for (form, line) in forms {
            let recs = common::records(&dir.join(file), config_with(Some(&line), None));
            let t = totals(&recs);
            if t.ok != *decrypted || t.failed > 0 || t.invalid > 0 {
                failures.push(format!(
                    "{file} ({form}): {t:?}, expected {decrypted} decrypted"
                ));
            }
            if form == "session key" && t.valid == 0 && !file.contains("midstream") {
                failures.push(format!("{file} ({form}): no signature verified"));
            }
            let trees = common::tree_paths(&recs);
            if !trees.iter().any(|t| t == tree) {
                failures.push(format!("{file} ({form}): tree {tree} not in {trees:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn decrypt_writes_a_plaintext_capture() {
    let src = common::captures_dir().join("smb311-enc-aes256gcm.pcap");
    let dir = temp_dir("decrypt");
    let out = dir.join("plain.pcap");
    let run = Command::new(env!("CARGO_BIN_EXE_smbscope"))
        .args(["decrypt", "--keys"])
        .arg(src.with_extension("keys"))
        .arg(&src)
        .arg(&out)
        .output()
        .expect("run decrypt");
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let msg = String::from_utf8_lossy(&run.stderr);
    assert!(msg.contains("0 failed"), "{msg}");
    // Analysed with no keys at all, the plaintext capture shows the trees and files.
    let recs = common::records(&out, Config::default());
    let t = totals(&recs);
    assert_eq!(t.encrypted, 0);
    let trees = common::tree_paths(&recs);
    assert!(trees.iter().any(|t| t == r"\\127.0.0.1\data"), "{trees:?}");
    assert!(
        common::strings(&recs, "session", "files")
            .iter()
            .any(|f| f == "hello.txt")
    );
    // tshark, when installed, reads the SMB2 commands.
    if let Ok(ts) = Command::new("tshark")
        .args(["-r"])
        .arg(&out)
        .args(["-Y", "smb2.cmd == 5", "-T", "fields", "-e", "smb2.filename"])
        .output()
    {
        let names = String::from_utf8_lossy(&ts.stdout);
        assert!(names.contains("hello.txt"), "tshark sees: {names}");
    } else {
        eprintln!("NOTICE: tshark not installed; decrypt output not cross-checked with it");
    }
    let no_keys = Command::new(env!("CARGO_BIN_EXE_smbscope"))
        .arg("decrypt")
        .arg(&src)
        .arg(&out)
        .output()
        .expect("run decrypt");
    assert_eq!(no_keys.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(dir);
}

/// Strips the signature from one signed response on a session that requires signing:
/// `signature.missing` names it.
#[test]
fn an_unsigned_message_on_a_signing_session_is_reported() {
    let src = common::captures_dir().join("server-signing-required.pcap");
    let mut bytes = std::fs::read(&src).expect("read");
    let (msg_id, flags_at) = find_signed_read_response(&bytes).expect("a signed READ response");
    bytes[flags_at] &= !0x08; // SMB2_FLAGS_SIGNED
    for b in &mut bytes[flags_at + 32..flags_at + 48] {
        *b = 0; // Signature
    }
    let dir = temp_dir("unsigned");
    let path = dir.join("unsigned.pcap");
    std::fs::write(&path, &bytes).expect("write");
    let recs = common::records(&path, Config::default());
    let f: Vec<&Value> = common::of_type(&recs, "finding")
        .into_iter()
        .filter(|f| f["rule"] == "signature.missing")
        .collect();
    assert_eq!(f.len(), 1, "{:?}", common::rules(&recs));
    assert!(
        f[0]["summary"]
            .as_str()
            .unwrap_or("")
            .contains(&format!("MessageId {msg_id}"))
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// The MessageId of the first signed READ response and the offset of its Flags field.
fn find_signed_read_response(pcap: &[u8]) -> Option<(u64, usize)> {
    let mut off = 24;
    while off + 16 <= pcap.len() {
        let caplen = u32::from_le_bytes(pcap[off + 8..off + 12].try_into().ok()?) as usize;
        let data = off + 16;
        let frame = pcap.get(data..data + caplen)?;
        if let Some(p) = frame.windows(4).position(|w| w == b"\xfeSMB") {
            let h = &frame[p..];
            let cmd = u16::from_le_bytes([h[12], h[13]]);
            let flags = u32::from_le_bytes(h[16..20].try_into().ok()?);
            if cmd == 8 && flags & 0x9 == 0x9 {
                let mid = u64::from_le_bytes(h[24..32].try_into().ok()?);
                return Some((mid, data + p + 16));
            }
        }
        off = data + caplen;
    }
    None
}

/// A decrypted copy of a session whose server requires encryption (SessionFlags ENCRYPT_DATA)
/// looks like plaintext on an encrypted session: `unencrypted.when.required` fires.
#[test]
fn plaintext_on_an_encrypted_session_is_reported() {
    let src = common::captures_dir().join("server-encrypt-required.pcap");
    let dir = temp_dir("plain-on-encrypted");
    let out = dir.join("plain.pcap");
    let run = Command::new(env!("CARGO_BIN_EXE_smbscope"))
        .args(["decrypt", "--keys"])
        .arg(src.with_extension("keys"))
        .arg(&src)
        .arg(&out)
        .output()
        .expect("run decrypt");
    assert_eq!(run.status.code(), Some(0));
    let recs = common::records(&out, Config::default());
    let f: Vec<&Value> = common::of_type(&recs, "finding")
        .into_iter()
        .filter(|f| f["rule"] == "unencrypted.when.required")
        .collect();
    assert_eq!(f.len(), 1, "{:?}", common::rules(&recs));
    assert_eq!(f[0]["event_id"], 31014);
    let _ = std::fs::remove_dir_all(dir);
}

/// The bulk-transfer captures (`smb311-*-bulk`: one 1 MiB WRITE and one 1 MiB READ response, each
/// spanning many TCP segments): with Samba's keys, smbscope's counts equal those of the
/// independent checker in `expected.json`, and the whole file is accounted for both ways.
#[test]
fn bulk_transfers_verify_and_decrypt_in_full() {
    const MIB: u64 = 1 << 20;
    for name in [
        "smb311-enc-bulk",
        "smb311-signed-bulk",
        "smb311-unsigned-bulk",
    ] {
        let pcap = common::captures_dir().join(format!("{name}.pcap"));
        let exp: Value = serde_json::from_str(
            &std::fs::read_to_string(pcap.with_extension("expected.json")).expect("expected.json"),
        )
        .expect("expected.json parses");
        let keys = std::fs::read_to_string(pcap.with_extension("keys")).expect("keys");
        let recs = common::records(&pcap, config_with(Some(&keys), None));
        let sessions = common::of_type(&recs, "session");
        assert_eq!(sessions.len(), 1, "{name}");
        let s = sessions[0];
        assert_eq!(s["files"], serde_json::json!(["bulk.bin"]), "{name}");
        assert_eq!(s["bytes_written"], MIB, "{name}");
        assert_eq!(s["bytes_read"], MIB, "{name}");
        assert_eq!(s["key_source"], "keys", "{name}");

        let t = totals(&recs);
        let checks = &exp["checks"];
        assert_eq!(
            Some(t.valid),
            checks["own_signatures_good"].as_u64(),
            "{name}: {t:?}"
        );
        assert_eq!((t.invalid, t.unverified, t.failed), (0, 0, 0), "{name}");
        let transforms = exp["capture"]["transform_frames"].as_u64().expect("count");
        assert_eq!(t.encrypted, transforms, "{name}");
        assert_eq!(t.ok, transforms, "{name}");
        if transforms > 0 {
            assert_eq!(
                Some(t.ok),
                checks["own_decrypted_transforms"].as_u64(),
                "{name}"
            );
        }
        // Messages after logon that are neither signed nor encrypted: the same count.
        assert_eq!(
            s["messages"]["unsigned"], exp["unprotected_messages_after_logon"],
            "{name}"
        );
        let rules = common::rules(&recs);
        assert_eq!(
            rules.iter().any(|r| r == "session.unsigned"),
            name == "smb311-unsigned-bulk",
            "{name}: {rules:?}"
        );
        for bad in ["signature.invalid", "signature.missing", "decrypt.failed"] {
            assert!(!rules.iter().any(|r| r == bad), "{name}: {rules:?}");
        }
    }
}
