//! Passing over the data of large READs and WRITEs that nothing checks (`smb2::wanted`)
//! changes no record: every shipped capture (those in `captures/` and its subdirectories),
//! with and without the secrets shipped beside it (keys, credentials, keytab, TLS key log),
//! gives the records of an engine that takes every message whole (one with a tap, which
//! writes messages out whole).

use std::path::{Path, PathBuf};

use super::{Config, Engine, MessageTap};
use crate::flow::{Direction, FlowKey};
use crate::options::KeyArgs;
use crate::wire::Timestamp;

/// A tap that keeps nothing: it only makes the engine take every message whole.
struct NullTap;

impl MessageTap for NullTap {
    fn message(&mut self, _key: &FlowKey, _dir: Direction, _ts: Timestamp, _msg: &[u8]) {}
}

fn captures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("captures")
}

/// The `.keys`, `.credentials`, `.keytab` and `.keylog` files beside `pcap`, as command-line
/// arguments.
fn secrets_beside(pcap: &Path) -> KeyArgs {
    let beside = |ext: &str| {
        let p = pcap.with_extension(ext);
        p.exists().then_some(p).into_iter().collect::<Vec<_>>()
    };
    KeyArgs {
        keys: beside("keys"),
        keylog: beside("keylog"),
        credentials: beside("credentials"),
        keytab: beside("keytab"),
    }
}

/// The engine settings with the secrets beside `pcap`, loaded as the command line loads them.
fn secrets_of(pcap: &Path) -> Config {
    secrets_beside(pcap)
        .engine_config(&[pcap.to_path_buf()], &[], &[])
        .unwrap_or_else(|e| panic!("{}: shipped secrets load: {e}", pcap.display()))
}

/// Every `.pcap` file under `dir`, sorted.
fn pcaps_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("captures/ reads") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            out.extend(pcaps_under(&path));
        } else if path.extension().is_some_and(|e| e == "pcap") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// Every record (as text, in order) of `e` reading `pcap`, and how many messages it was
/// given as their head only.
fn run(mut e: Engine, pcap: &Path) -> (Vec<String>, u64) {
    let mut cap = crate::capture::OfflineCapture::open(pcap).expect("opens");
    let mut out = Vec::new();
    loop {
        match cap.next_frame() {
            Ok(Some(frame)) => e.handle_frame(&frame),
            Ok(None) => break,
            Err(err) => panic!("{}: a shipped capture reads cleanly: {err}", pcap.display()),
        }
        out.extend(std::iter::from_fn(|| e.poll_record()).map(|r| format!("{r:?}")));
    }
    e.finish();
    out.extend(std::iter::from_fn(|| e.poll_record()).map(|r| format!("{r:?}")));
    out.push(format!("{:?}", e.summary()));
    (out, e.table.stats().head_messages)
}

/// Head-only messages of `name` (under `captures/`) without secrets and with those shipped
/// beside it, checking the records.
fn heads(name: &str) -> (u64, u64) {
    let pcap = captures().join(name);
    let mut got = [0; 2];
    for (i, config) in [Config::default(), secrets_of(&pcap)]
        .into_iter()
        .enumerate()
    {
        let (want, whole_heads) = run(Engine::with_tap(config.clone(), Box::new(NullTap)), &pcap);
        assert_eq!(
            whole_heads, 0,
            "{name}: a tapped engine takes messages whole"
        );
        let (records, heads) = run(Engine::new(config), &pcap);
        assert_eq!(records, want, "{name} (keys: {})", i == 1);
        got[i] = heads;
    }
    (got[0], got[1])
}

#[test]
fn passing_over_unchecked_read_and_write_data_changes_no_record() {
    let root = captures();
    let pcaps = pcaps_under(&root);
    let mut total = 0;
    let mut subdirs = 0;
    let mut secrets = 0;
    for path in &pcaps {
        let name = path.strip_prefix(&root).expect("under captures/");
        subdirs += usize::from(name.components().count() > 1);
        let args = secrets_beside(path);
        secrets += args.keys.len() + args.keylog.len() + args.credentials.len() + args.keytab.len();
        let (bare, keyed) = heads(&name.to_string_lossy());
        total += bare + keyed;
    }
    // The kerberos/, logon/ and quic/ captures are in, and with them keytabs and key logs.
    assert!(
        pcaps.len() >= 50 && subdirs >= 20,
        "{} {subdirs}",
        pcaps.len()
    );
    assert!(secrets >= 40, "{secrets}");
    assert!(total > 0);
}

#[test]
fn only_data_no_key_can_check_is_passed_over() {
    // Each capture writes a file and reads it back.
    // Unsigned, unencrypted bulk: the data is passed over whether or not keys are given.
    let (bare, keyed) = heads("smb311-unsigned-bulk.pcap");
    assert!(bare >= 2 && keyed == bare, "{bare} {keyed}");
    // Signed: passed over only while no key can verify the signatures.
    let (bare, keyed) = heads("smb311-signed-bulk.pcap");
    assert!(bare >= 2 && keyed == 0, "{bare} {keyed}");
    // Encrypted: only the TRANSFORM header is read while no key can decrypt.
    let (bare, keyed) = heads("smb311-enc-bulk.pcap");
    assert!(bare >= 2 && keyed == 0, "{bare} {keyed}");
}
