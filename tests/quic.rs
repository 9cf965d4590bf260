//! QUIC and SMB over QUIC:
//!
//! * the corpus QUIC captures (Zeek, Suricata; Initial-only, v1 and v2, Retry, DoQ on 853):
//!   version, client DCID, SNI and ALPN equal what the corpus MANIFEST (Zeek's baselines) says;
//! * with TLS secrets (a key log, or pcapng Decryption Secrets Blocks): Handshake and 1-RTT
//!   packets decrypt, the certificate and chosen ALPN are read;
//! * the project's own SMB-over-QUIC captures (`captures/quic-*.pcap`, made with a quinn relay
//!   between smbclient and smbd): one 30832 event per connection with the right server name and
//!   addresses, also across a client migration; with the key log, the SMB session inside is
//!   decoded with its trees, files and posture.

mod common;

use std::path::Path;
use std::sync::Arc;

use serde_json::Value;
use smbscope::engine::Config;
use smbscope::quic::keylog::KeyLog;

/// (file, extra UDP port, version, client DCID, SNI, an ALPN the client offered).
type Expected = (
    &'static str,
    Option<u16>,
    &'static str,
    &'static str,
    Option<&'static str>,
    &'static str,
);

const CORPUS: &[Expected] = &[
    (
        "zeek/quic_chromium-115.0.5790.110-api-cirrus-com.pcap",
        None,
        "1",
        "95412c47018cdfe8",
        Some("api.cirrus-ci.com"),
        "h3",
    ),
    (
        "zeek/quic_curl-8.1.2-dev-http3-www-google-de.pcap",
        None,
        "1",
        "815d62c70884f4b51e8ccadd5beed372",
        Some("www.google.de"),
        "h3",
    ),
    (
        "zeek/quic_quicdoq.pcap",
        Some(853),
        "1",
        "fda05288ab9ff546",
        None,
        "doq",
    ),
    (
        "zeek/quic_quicv2-http3-443.pcap",
        None,
        "2",
        "bdf0c5b27927cc667e58d95b",
        None,
        "h3",
    ),
    (
        "zeek/quic_quicv2-echo-443.pcap",
        None,
        "2",
        "fa603212c8688817af3d3238735bc7",
        Some("localhost"),
        "quic-echo-example",
    ),
    (
        "zeek/quic_interop_quic-go_handshake.pcap",
        None,
        "1",
        "a771f6161a4072c0bf10",
        Some("server4:443"),
        "hq-interop",
    ),
    (
        "zeek/quic_interop_quic-go_retry.pcap",
        None,
        "1",
        "4a8294bf9201d6cf",
        Some("server4:443"),
        "hq-interop",
    ),
    (
        "suricata-verify/quic-v2__input.pcap",
        None,
        "2",
        "0ac503e9808eff1ca8a3e6cb2cf0a394069f",
        None,
        "h3",
    ),
    (
        "suricata-verify/quic-ietf__input.pcap",
        None,
        "1",
        "345d144296b90cff",
        Some("msquic.net"),
        "h3-29",
    ),
];

fn quic_records(recs: &[Value]) -> Vec<&Value> {
    common::of_type(recs, "quic")
}

#[test]
fn corpus_quic_initials_give_version_dcid_sni_and_alpn() {
    let Some(dir) = common::corpus_dir() else {
        return;
    };
    let mut failures = Vec::new();
    for (file, port, version, dcid, sni, alpn) in CORPUS {
        let mut config = Config::default();
        if let Some(p) = port {
            config.quic_ports.push(*p);
        }
        let recs = common::records(&dir.join(file), config);
        let quic = quic_records(&recs);
        let Some(q) = quic.iter().find(|q| q["connection_id"] == *dcid) else {
            let ids: Vec<&Value> = quic.iter().map(|q| &q["connection_id"]).collect();
            failures.push(format!("{file}: no QUIC connection {dcid} (have {ids:?})"));
            continue;
        };
        if q["quic_version"] != *version {
            failures.push(format!(
                "{file}: version {} != {version}",
                q["quic_version"]
            ));
        }
        let want_sni = sni.map_or(Value::Null, Value::from);
        if q["server_name"] != want_sni {
            failures.push(format!("{file}: SNI {} != {want_sni}", q["server_name"]));
        }
        let offered: Vec<&str> = q["alpn"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if !offered.contains(alpn) {
            failures.push(format!("{file}: ALPN {offered:?} lacks {alpn}"));
        }
        if q["packets"]["initial"].as_u64().unwrap_or(0) == 0 {
            failures.push(format!("{file}: no Initial packet decrypted"));
        }
        if q["smb"] != false {
            failures.push(format!("{file}: not SMB over QUIC"));
        }
        // Not SMB: no Windows SMB events.
        if !common::of_type(&recs, "event").is_empty() {
            failures.push(format!("{file}: SMB events for a non-SMB connection"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn corpus_quic_with_secrets_decrypts_handshake_and_application_data() {
    let Some(dir) = common::corpus_dir() else {
        return;
    };
    // Secrets from the pcapng's own Decryption Secrets Block.
    let pcapng = dir.join("wireshark/quic-with-secrets.pcapng");
    let mut log = KeyLog::default();
    for text in smbscope::capture::scan_pcapng_secrets(&pcapng).expect("DSB") {
        log.merge(KeyLog::parse(&text).0);
    }
    let config = Config {
        keylog: Arc::new(log),
        ..Config::default()
    };
    let recs = common::records(&pcapng, config);
    let q = quic_records(&recs)
        .into_iter()
        .find(|q| q["server_name"] == "cloudflare-quic.com")
        .expect("the cloudflare connection");
    assert!(q["packets"]["handshake"].as_u64().unwrap_or(0) > 0, "{q}");
    assert!(q["packets"]["one_rtt"].as_u64().unwrap_or(0) > 0, "{q}");
    // tshark 4.0.17 counts 17 frames with decrypted STREAM data (corpus MANIFEST row 8).
    assert_eq!(q["packets"]["with_stream_data"], 17, "{q}");
    assert_eq!(q["alpn_selected"], "h3");
    assert!(
        q["tls_cipher"]
            .as_str()
            .is_some_and(|c| c.starts_with("TLS_"))
    );
    assert!(q["certificate"]["dns_names"].is_array(), "{q}");
    // Without the secrets, nothing beyond the Initials.
    let bare = common::records(&pcapng, Config::default());
    let q = quic_records(&bare)
        .into_iter()
        .find(|q| q["server_name"] == "cloudflare-quic.com")
        .expect("connection");
    assert_eq!(q["packets"]["one_rtt"], 0);
}

#[test]
fn corpus_illustrated_quic_with_its_key_log() {
    let Some(dir) = common::corpus_dir() else {
        return;
    };
    let text = std::fs::read_to_string(dir.join("illustrated-quic/keylog.txt")).expect("keylog");
    let mut config = Config {
        keylog: Arc::new(KeyLog::parse(&text).0),
        ..Config::default()
    };
    // The illustrated connection runs on UDP 8400.
    config.quic_ports.push(8400);
    let recs = common::records(&dir.join("illustrated-quic/capture.pcap"), config);
    let q = quic_records(&recs);
    assert_eq!(q.len(), 1, "{q:?}");
    assert!(
        q[0]["packets"]["with_stream_data"].as_u64().unwrap_or(0) >= 2,
        "{}",
        q[0]
    );
    assert_eq!(q[0]["packets"]["undecrypted"], 0, "{}", q[0]);
}

/// The project's SMB-over-QUIC captures with their key logs: `captures/quic/*.pcap`.
fn own_quic() -> Vec<(String, std::path::PathBuf)> {
    let mut v: Vec<(String, std::path::PathBuf)> =
        std::fs::read_dir(common::captures_dir().join("quic"))
            .expect("captures/quic/")
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.extension().is_some_and(|e| e == "pcap")
                    && p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("quic-"))
            })
            .map(|p| {
                (
                    p.file_stem()
                        .and_then(|s| s.to_str())
                        .unwrap_or("")
                        .to_owned(),
                    p,
                )
            })
            .collect();
    v.sort();
    v
}

/// The TLS key log, and the keys Samba logged for the SMB session inside (for SMB3 encryption
/// within QUIC).
fn keylog_config(pcap: &Path) -> Config {
    let text = std::fs::read_to_string(pcap.with_extension("keylog")).unwrap_or_default();
    let mut store = smbscope::crypto::keys::KeyStore::default();
    if let Ok(k) = std::fs::read_to_string(pcap.with_extension("keys")) {
        store.add_keys(smbscope::crypto::keys::parse_keys(&k, "keys").expect("keys"));
    }
    Config {
        keylog: Arc::new(KeyLog::parse(&text).0),
        keys: Arc::new(store),
        ..Config::default()
    }
}

#[test]
fn own_smb_over_quic_captures() {
    let captures = own_quic();
    if captures.is_empty() {
        eprintln!("NOTICE: no captures/quic/*.pcap; SMB over QUIC checks skipped");
        return;
    }
    let mut failures = Vec::new();
    for (name, pcap) in &captures {
        let exp: Value = match std::fs::read_to_string(pcap.with_extension("expected.json")) {
            Ok(t) => serde_json::from_str(&t).expect("expected.json"),
            Err(_) => continue,
        };
        // Without keys: the 30832 event, once per QUIC connection, with SNI and addresses.
        let bare = common::records(pcap, Config::default());
        let events: Vec<&Value> = common::of_type(&bare, "event")
            .into_iter()
            .filter(|e| e["event_id"] == 30832)
            .collect();
        let quic = quic_records(&bare);
        if events.len() != quic.iter().filter(|q| q["smb"] == true).count() || events.is_empty() {
            failures.push(format!(
                "{name}: {} 30832 events for {} connections",
                events.len(),
                quic.len()
            ));
        }
        for e in &events {
            if e["server_name"] != exp["sni"] {
                failures.push(format!(
                    "{name}: server_name {} != {}",
                    e["server_name"], exp["sni"]
                ));
            }
            if e["transport"] != "QUIC" || e["alpn"] != serde_json::json!(["smb"]) {
                failures.push(format!(
                    "{name}: transport/alpn {} {}",
                    e["transport"], e["alpn"]
                ));
            }
        }
        // With the key log: certificate, and the SMB session inside.
        let recs = common::records(pcap, keylog_config(pcap));
        let q = quic_records(&recs);
        // An active migration moves to a connection ID announced in an encrypted
        // NEW_CONNECTION_ID frame, so it is followed with the key log (without it the moved
        // packets cannot be linked, by QUIC's design, and no second connection appears).
        if exp["migrated"] == true {
            let want: Vec<Value> = exp["client_addresses"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let moved = q
                .iter()
                .any(|q| q["client_addresses"].as_array() == Some(&want));
            if !moved || q.len() != 1 {
                failures.push(format!("{name}: the migration was not followed: {q:?}"));
            }
            let disconnects = common::of_type(&recs, "event")
                .into_iter()
                .filter(|e| e["event_id"] == 30804)
                .count();
            if disconnects != 1 {
                failures.push(format!("{name}: {disconnects} 30804 events"));
            }
        }
        if !q
            .iter()
            .any(|q| q["certificate"].is_object() && q["alpn_selected"] == "smb")
        {
            failures.push(format!(
                "{name}: certificate or chosen ALPN not read with the key log"
            ));
        }
        let smb = &exp["smb"];
        let conns: Vec<&Value> = common::of_type(&recs, "connection")
            .into_iter()
            .filter(|c| c["transport"] == "quic")
            .collect();
        if conns.is_empty() {
            failures.push(format!("{name}: no SMB connection decoded inside QUIC"));
            continue;
        }
        if !smb["dialect"].is_null() && conns[0]["dialect"] != smb["dialect"] {
            failures.push(format!(
                "{name}: dialect {} != {}",
                conns[0]["dialect"], smb["dialect"]
            ));
        }
        let trees = common::tree_paths(&recs);
        for t in smb["trees"].as_array().into_iter().flatten() {
            let t = &t["path"];
            if !trees.iter().any(|x| Some(x.as_str()) == t.as_str()) {
                failures.push(format!("{name}: tree {t} not seen in {trees:?}"));
            }
        }
        let files = common::strings(&recs, "session", "files");
        for f in smb["files"].as_array().into_iter().flatten() {
            if !files.iter().any(|x| Some(x.as_str()) == f.as_str()) {
                failures.push(format!("{name}: file {f} not seen"));
            }
        }
        let rules = common::rules(&recs);
        if exp["cert"]["ip_addresses"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
            && !rules.iter().any(|r| r == "quic.cert_ip_san")
        {
            failures.push(format!("{name}: quic.cert_ip_san not raised"));
        }
        if name.contains("tcp445") && !rules.iter().any(|r| r == "tcp445.exposed") {
            failures.push(format!("{name}: tcp445.exposed not raised"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A CONNECTION_CLOSE ends the connection once the draining period is over: the same
/// connection replayed 10 s later (same connection IDs, as in a replayed or re-captured trace)
/// is a new connection, not a migration of the closed one.
#[test]
fn connection_close_ends_the_connection_after_draining() {
    use smbscope::capture::{Frame, OfflineCapture};
    use smbscope::engine::Engine;
    use smbscope::wire::Timestamp;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/quic");
    let text = std::fs::read_to_string(dir.join("quic-smb311.keylog")).expect("key log");
    let mut engine = Engine::new(Config {
        keylog: Arc::new(KeyLog::parse(&text).0),
        ..Config::default()
    });
    let mut cap = OfflineCapture::open(&dir.join("quic-smb311.pcap")).expect("opens");
    let mut frames = Vec::new();
    while let Some(f) = cap.next_frame().expect("reads") {
        frames.push((f.ts, f.linktype, f.data.to_vec()));
    }
    let span = frames.last().expect("frames").0.0 - frames[0].0.0;
    let mut records = Vec::new();
    for pass in 0..2u64 {
        let shift = pass * (span + 10_000_000_000);
        for (ts, linktype, data) in &frames {
            engine.handle_frame(&Frame {
                ts: Timestamp(ts.0 + shift),
                linktype: *linktype,
                data,
                orig_len: data.len() as u32,
            });
            records.extend(std::iter::from_fn(|| engine.poll_record()));
        }
    }
    engine.finish();
    records.extend(std::iter::from_fn(|| engine.poll_record()));
    let json: Vec<Value> = records
        .iter()
        .map(|r| serde_json::to_value(r).expect("serialises"))
        .collect();
    let quic: Vec<&Value> = json.iter().filter(|r| r["type"] == "quic").collect();
    assert_eq!(quic.len(), 2, "two connections: {quic:#?}");
    let established = json
        .iter()
        .filter(|r| r["type"] == "event" && r["event_id"] == 30832)
        .count();
    assert_eq!(
        established,
        2,
        "{:#?}",
        json.iter()
            .filter(|r| r["type"] == "event")
            .collect::<Vec<_>>()
    );
    for q in &quic {
        assert!(
            q["reason"]
                .as_str()
                .is_some_and(|r| r.contains("closed the connection")),
            "{q}"
        );
        assert_eq!(
            q["client_addresses"].as_array().map(Vec::len),
            Some(1),
            "{q}"
        );
    }
}
