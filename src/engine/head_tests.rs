//! Passing over the data of large READs and WRITEs that nothing checks (`smb2::wanted`)
//! changes no record: every shipped capture, with and without its keys, gives the records of
//! an engine that takes every message whole (one with a tap, which writes messages out whole).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{Config, Engine, MessageTap};
use crate::crypto::keys::{self, KeyStore};
use crate::flow::{Direction, FlowKey};
use crate::wire::Timestamp;

/// A tap that keeps nothing: it only makes the engine take every message whole.
struct NullTap;

impl MessageTap for NullTap {
    fn message(&mut self, _key: &FlowKey, _dir: Direction, _ts: Timestamp, _msg: &[u8]) {}
}

fn captures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("captures")
}

/// The `.keys` and `.credentials` files beside `pcap`.
fn keys_of(pcap: &Path) -> KeyStore {
    let mut store = KeyStore::default();
    let keys = pcap.with_extension("keys");
    if let Ok(text) = std::fs::read_to_string(&keys) {
        store.add_keys(keys::parse_keys(&text, "keys").expect("shipped keys parse"));
    }
    if let Ok(text) = std::fs::read_to_string(pcap.with_extension("credentials")) {
        store.add_credentials(
            keys::parse_credentials(&text, "credentials").expect("shipped credentials parse"),
        );
    }
    store
}

/// Every record (as text, in order) of `e` reading `pcap`, and how many messages it was
/// given as their head only.
fn run(mut e: Engine, pcap: &Path) -> (Vec<String>, u64) {
    let mut cap = crate::capture::OfflineCapture::open(pcap).expect("opens");
    let mut out = Vec::new();
    while let Ok(Some(frame)) = cap.next_frame() {
        e.handle_frame(&frame);
        out.extend(std::iter::from_fn(|| e.poll_record()).map(|r| format!("{r:?}")));
    }
    e.finish();
    out.extend(std::iter::from_fn(|| e.poll_record()).map(|r| format!("{r:?}")));
    out.push(format!("{:?}", e.summary()));
    (out, e.table.stats().head_messages)
}

/// Head-only messages of `name` without keys and with its keys, checking the records.
fn heads(name: &str) -> (u64, u64) {
    let pcap = captures().join(name);
    let mut got = [0; 2];
    for (i, store) in [KeyStore::default(), keys_of(&pcap)]
        .into_iter()
        .enumerate()
    {
        let config = Config {
            keys: Arc::new(store),
            ..Config::default()
        };
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
    let mut total = 0;
    for entry in std::fs::read_dir(captures()).expect("captures/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "pcap") {
            let name = path
                .file_name()
                .expect("a file in captures/")
                .to_string_lossy()
                .into_owned();
            let (bare, keyed) = heads(&name);
            total += bare + keyed;
        }
    }
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
