//! QUIC without keys: connections followed when the peers switch to connection IDs announced
//! only in encrypted frames (by address path, and by migration inference), "established"
//! judged from the visible packets, and the records with and without the key log agreeing.
//! Real captures from `captures/quic/` (made with a quinn relay), some rewritten the way a NAT
//! or a silent pause would change them.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;
use smbscope::capture::{Frame, OfflineCapture};
use smbscope::engine::{Config, Engine};
use smbscope::quic::keylog::KeyLog;
use smbscope::wire::Timestamp;

fn own_quic() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(common::captures_dir().join("quic"))
        .expect("captures/quic/")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
        .collect();
    v.sort();
    v
}

fn keyed(pcap: &Path) -> Config {
    let text = std::fs::read_to_string(pcap.with_extension("keylog")).expect("key log");
    Config {
        keylog: Arc::new(KeyLog::parse(&text).0),
        ..Config::default()
    }
}

/// Every frame of a capture: (time, link type, bytes).
fn frames(pcap: &Path) -> Vec<(Timestamp, i32, Vec<u8>)> {
    let mut cap = OfflineCapture::open(pcap).expect("opens");
    let mut v = Vec::new();
    while let Some(f) = cap.next_frame().expect("reads") {
        v.push((f.ts, f.linktype, f.data.to_vec()));
    }
    v
}

/// Runs frames through one engine; every record as JSON, the summary last.
fn run(frames: &[(Timestamp, i32, Vec<u8>)], config: Config) -> Vec<Value> {
    let mut engine = Engine::new(config);
    let mut out = Vec::new();
    for (ts, linktype, data) in frames {
        engine.handle_frame(&Frame {
            ts: *ts,
            linktype: *linktype,
            data,
            orig_len: data.len() as u32,
        });
        out.extend(std::iter::from_fn(|| engine.poll_record()));
    }
    engine.finish();
    out.extend(std::iter::from_fn(|| engine.poll_record()));
    let mut json: Vec<Value> = out
        .iter()
        .map(|r| serde_json::to_value(r).expect("serialises"))
        .collect();
    json.push(serde_json::to_value(engine.summary()).expect("summary"));
    json
}

/// Ethernet + IPv4 + UDP: the client's UDP port (source when sent to 443, else destination)
/// becomes `port`; the UDP checksum is cleared (optional in IPv4).
fn set_client_port(frame: &mut [u8], port: u16) {
    let ihl = usize::from(frame[14] & 0x0f) * 4;
    let udp = 14 + ihl;
    let src = u16::from_be_bytes([frame[udp], frame[udp + 1]]);
    let at = if src == 443 { udp + 2 } else { udp };
    frame[at..at + 2].copy_from_slice(&port.to_be_bytes());
    frame[udp + 6..udp + 8].copy_from_slice(&[0, 0]);
}

fn quic(recs: &[Value]) -> Vec<&Value> {
    common::of_type(recs, "quic")
}

fn summary(recs: &[Value]) -> &Value {
    recs.last().expect("summary")
}

fn events(recs: &[Value], id: u64) -> usize {
    common::of_type(recs, "event")
        .iter()
        .filter(|e| e["event_id"] == id)
        .count()
}

/// Every own capture: without keys, one established connection with every packet attributed
/// (the per-type counts equal tshark's with the key log, coalesced packets counted one by one),
/// the client addresses tshark saw, no 30803; and the same verdicts with the key log.
#[test]
fn keyless_and_keyed_records_agree_on_every_own_capture() {
    let mut failures = Vec::new();
    for pcap in own_quic() {
        let name = pcap.file_stem().and_then(|s| s.to_str()).unwrap_or("?");
        let exp: Value = serde_json::from_str(
            &std::fs::read_to_string(pcap.with_extension("expected.json")).expect("expected"),
        )
        .expect("json");
        let bare = common::records(&pcap, Config::default());
        let with = common::records(&pcap, keyed(&pcap));
        let (qb, qk) = (quic(&bare), quic(&with));
        if qb.len() != 1 || qk.len() != 1 {
            failures.push(format!("{name}: {} / {} connections", qb.len(), qk.len()));
            continue;
        }
        let (b, k) = (qb[0], qk[0]);
        for (what, r) in [("keyless", b), ("keyed", k)] {
            if r["established"] != true || r["client_addresses"] != exp["client_addresses"] {
                failures.push(format!(
                    "{name} {what}: established {} by {}, addresses {} (want {})",
                    r["established"],
                    r["established_by"],
                    r["client_addresses"],
                    exp["client_addresses"]
                ));
            }
        }
        if b["established_by"] != "handshake_then_1rtt" || k["established_by"] != "handshake_done" {
            failures.push(format!(
                "{name}: established_by {} / {}",
                b["established_by"], k["established_by"]
            ));
        }
        let want = &exp["capture"]["quic_packets"];
        for ty in ["initial", "handshake", "0rtt", "retry", "1rtt"] {
            if b["packets"]["seen"][ty] != want[ty] || k["packets"]["seen"][ty] != want[ty] {
                failures.push(format!(
                    "{name}: {ty} packets {} / {} (tshark {})",
                    b["packets"]["seen"][ty], k["packets"]["seen"][ty], want[ty]
                ));
            }
        }
        for (what, recs) in [("keyless", &bare), ("keyed", &with)] {
            if events(recs, 30803) != 0 || events(recs, 30804) != 1 {
                failures.push(format!("{name} {what}: 30803/30804 events wrong"));
            }
            if summary(recs)["quic_unattributed_packets"] != 0 {
                failures.push(format!("{name} {what}: unattributed packets"));
            }
        }
        if b["ts"] != k["ts"] {
            failures.push(format!("{name}: ends at {} / {}", b["ts"], k["ts"]));
        }
        // The IDs the server switched to were announced only inside encrypted frames: found
        // by path without keys, by ID with them.
        if exp["capture"]["connection_ids"]["server_sent_to_client_announced"]
            .as_u64()
            .unwrap_or(0)
            > 0
            && b["packets"]["by_path"].as_u64().unwrap_or(0) == 0
        {
            failures.push(format!("{name}: no packet attributed by path without keys"));
        }
        if exp["migrated"] == true && b["packets"]["by_migration"].as_u64().unwrap_or(0) == 0 {
            failures.push(format!(
                "{name}: the migration was not inferred without keys"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// NAT rebinding: the client's port changes in the middle (same IP, same connection IDs).
/// One connection with both addresses, with and without keys; with keys the SMB session inside
/// is still decoded to the end.
#[test]
fn nat_rebinding_keeps_one_connection() {
    let pcap = common::captures_dir().join("quic/quic-smb311.pcap");
    let mut fr = frames(&pcap);
    let half = fr.len() / 2;
    for f in &mut fr[half..] {
        set_client_port(&mut f.2, 61_000);
    }
    for config in [Config::default(), keyed(&pcap)] {
        let recs = run(&fr, config);
        let q = quic(&recs);
        assert_eq!(q.len(), 1, "{q:#?}");
        let addrs = q[0]["client_addresses"].as_array().expect("addresses");
        assert_eq!(addrs.len(), 2, "{addrs:?}");
        assert!(addrs[1].as_str().is_some_and(|a| a.ends_with(":61000")));
        assert_eq!(q[0]["established"], true);
        assert_eq!(events(&recs, 30803), 0);
        assert_eq!(summary(&recs)["quic_unattributed_packets"], 0);
    }
    let recs = run(&fr, keyed(&pcap));
    let files = common::strings(&recs, "session", "files");
    assert!(files.iter().any(|f| f == "hello.txt"), "{files:?}");
}

/// A connection silent for longer than its negotiated idle timeout (30 s in the relay's
/// transport parameters) has ended: it is closed at the timeout as disconnected (not failed),
/// and packets that come later with its old IDs belong to no connection and are counted.
#[test]
fn idle_past_the_negotiated_timeout_ends_the_connection() {
    let pcap = common::captures_dir().join("quic/quic-smb311.pcap");
    let mut fr = frames(&pcap);
    let half = fr.len() / 2;
    let late = fr.len() - half;
    for f in &mut fr[half..] {
        f.0 = Timestamp(f.0.0 + 40_000_000_000);
    }
    let recs = run(&fr, Config::default());
    let q = quic(&recs);
    assert_eq!(q.len(), 1, "{q:#?}");
    assert!(
        q[0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("negotiated 30 s")),
        "{}",
        q[0]["reason"]
    );
    assert_eq!(events(&recs, 30804), 1);
    assert_eq!(events(&recs, 30803), 0);
    let lost = summary(&recs)["quic_unattributed_packets"]
        .as_u64()
        .expect("count");
    assert!(lost > 0 && lost <= late as u64, "{lost} of {late}");
    let anomalies: Vec<&Value> = common::of_type(&recs, "anomaly")
        .into_iter()
        .filter(|a| a["kind"] == "quic_unattributed")
        .collect();
    assert_eq!(anomalies.len(), 1, "{anomalies:#?}");
}

/// A new path whose first packet is a short header with an unknown ID, and no live connection
/// that could have moved there: unattributed and counted, no connection made up for it.
#[test]
fn a_short_header_on_an_unknown_path_stays_unattributed() {
    let pcap = common::captures_dir().join("quic/quic-smb311.pcap");
    let fr = frames(&pcap);
    // Only the second half: the connection's start is not in the "capture".
    let tail: Vec<_> = fr[fr.len() / 2..].to_vec();
    let recs = run(&tail, Config::default());
    assert!(quic(&recs).is_empty());
    assert_eq!(
        summary(&recs)["quic_unattributed_packets"],
        tail.len() as u64
    );
}

/// An Ethernet + IPv4 + UDP frame like `template` (same addresses and ports) carrying
/// `payload`: lengths and the IPv4 header checksum recomputed, the UDP checksum cleared.
fn with_udp_payload(template: &[u8], payload: &[u8]) -> Vec<u8> {
    let ihl = usize::from(template[14] & 0x0f) * 4;
    let udp = 14 + ihl;
    let mut f = template[..udp + 8].to_vec();
    f.extend_from_slice(payload);
    let ip_len = (ihl + 8 + payload.len()) as u16;
    f[16..18].copy_from_slice(&ip_len.to_be_bytes());
    f[24..26].copy_from_slice(&[0, 0]);
    let sum: u32 = f[14..udp]
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    let folded = (sum & 0xffff) + (sum >> 16);
    let folded = (folded & 0xffff) + (folded >> 16);
    f[24..26].copy_from_slice(&(!(folded as u16)).to_be_bytes());
    f[udp + 4..udp + 6].copy_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    f[udp + 6..udp + 8].copy_from_slice(&[0, 0]);
    f
}

fn udp_payload(frame: &[u8]) -> &[u8] {
    let ihl = usize::from(frame[14] & 0x0f) * 4;
    &frame[14 + ihl + 8..]
}

fn from_server(frame: &[u8]) -> bool {
    let ihl = usize::from(frame[14] & 0x0f) * 4;
    frame[14 + ihl..14 + ihl + 2] == 443u16.to_be_bytes()
}

fn corpus_quic(corpus: &Path) -> Vec<(PathBuf, Option<PathBuf>, u16)> {
    let w = corpus.join("wireshark");
    let mut v = vec![
        (
            w.join("quic-with-secrets.pcapng"),
            Some(w.join("quic-with-secrets.pcapng.keylog")),
            443,
        ),
        (
            w.join("quic_follow_multistream.pcapng"),
            Some(w.join("quic_follow_multistream.pcapng.keylog")),
            443,
        ),
        (
            w.join("quic-fragmented-handshakes.pcapng.gz"),
            Some(w.join("quic-fragmented-handshakes.pcapng.gz.keylog")),
            443,
        ),
        (
            corpus.join("illustrated-quic/capture.pcap"),
            Some(corpus.join("illustrated-quic/keylog.txt")),
            8400,
        ),
        (corpus.join("zeek/quic_quicdoq.pcap"), None, 853),
    ];
    for dir in ["zeek", "suricata-verify"] {
        let mut more: Vec<PathBuf> = std::fs::read_dir(corpus.join(dir))
            .expect("corpus dir")
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("quic") && !n.contains("quicdoq"))
            })
            .collect();
        more.sort();
        v.extend(more.into_iter().map(|p| (p, None, 443)));
    }
    v
}

/// Every QUIC capture of the shared corpus, run through the engine as frames (so that the
/// Decryption Secrets Blocks of the pcapng files are not applied): no 30803 for a connection
/// with 1-RTT packets in both directions, and, where a key log exists, the keyless and keyed
/// records agree connection by connection on established, client addresses and end.
#[test]
fn corpus_quic_keyless_and_keyed_agree() {
    let Some(corpus) = common::corpus_dir() else {
        return;
    };
    let mut failures = Vec::new();
    let mut checked = 0;
    for (pcap, keylog, port) in corpus_quic(&corpus) {
        let name = pcap.file_name().and_then(|s| s.to_str()).unwrap_or("?");
        let fr = frames(&pcap);
        let base = Config {
            quic_ports: vec![port],
            ..Config::default()
        };
        let bare = run(&fr, base.clone());
        if quic(&bare).is_empty() {
            failures.push(format!("{name}: no QUIC connection"));
        }
        // 30803 names the server; a connection that worked must not be among them.
        let failed: Vec<&Value> = common::of_type(&bare, "event")
            .into_iter()
            .filter(|e| e["event_id"] == 30803)
            .collect();
        for q in quic(&bare) {
            if q["established"] == true
                && failed
                    .iter()
                    .any(|e| e["client_address"] == q["client_address"])
            {
                failures.push(format!("{name}: 30803 for {}", q["client_address"]));
            }
        }
        let Some(keylog) = keylog else {
            // Initial-only captures of complete handshakes (tshark: Handshake and 1-RTT from
            // both sides): one established connection each.
            let q = quic(&bare);
            if q.len() != 1 || q[0]["established"] != true {
                failures.push(format!("{name}: {q:#?}"));
            }
            checked += 1;
            continue;
        };
        let text = std::fs::read_to_string(&keylog).expect("key log");
        let with = run(
            &fr,
            Config {
                keylog: Arc::new(KeyLog::parse(&text).0),
                ..base
            },
        );
        let key = |r: &&Value| {
            (
                r["client_addresses"].to_string(),
                r["established"].to_string(),
                r["ts"].to_string(),
            )
        };
        let mut kb: Vec<_> = quic(&bare).iter().map(key).collect();
        let mut kk: Vec<_> = quic(&with).iter().map(key).collect();
        kb.sort();
        kk.sort();
        if kb != kk {
            failures.push(format!("{name}: keyless {kb:?}\n   keyed {kk:?}"));
        }
        if events(&bare, 30803) != events(&with, 30803) {
            failures.push(format!("{name}: 30803 count differs"));
        }
        checked += 1;
    }
    assert!(checked >= 12, "{checked} captures");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Retry (quic-go interop trace): the client's second Initial goes to the ID the Retry gave;
/// one connection, the Retry counted, established, no failure.
#[test]
fn retry_keeps_one_connection() {
    let Some(corpus) = common::corpus_dir() else {
        return;
    };
    let recs = run(
        &frames(&corpus.join("zeek/quic_interop_quic-go_retry.pcap")),
        Config::default(),
    );
    let q = quic(&recs);
    assert_eq!(q.len(), 1, "{q:#?}");
    assert_eq!(q[0]["packets"]["seen"]["retry"], 1);
    assert_eq!(q[0]["connection_id"], "4a8294bf9201d6cf");
    assert_eq!(q[0]["established"], true);
    assert_eq!(events(&recs, 30803), 0);
    assert_eq!(summary(&recs)["quic_unattributed_packets"], 0);
}

/// QUIC version 2 (RFC 9369: other salt, labels and long-header type bits): each trace is one
/// established connection, reported as version 2.
#[test]
fn quic_v2_connections_are_followed() {
    let Some(corpus) = common::corpus_dir() else {
        return;
    };
    for f in [
        "zeek/quic_quicv2-echo-443.pcap",
        "zeek/quic_quicv2-http3-443.pcap",
        "suricata-verify/quic-v2__input.pcap",
    ] {
        let recs = run(&frames(&corpus.join(f)), Config::default());
        let q = quic(&recs);
        assert_eq!(q.len(), 1, "{f}: {q:#?}");
        assert_eq!(q[0]["quic_version"], "2", "{f}");
        assert_eq!(q[0]["established"], true, "{f}");
        assert!(
            q[0]["packets"]["seen"]["handshake"].as_u64() > Some(0),
            "{f}"
        );
        assert_eq!(events(&recs, 30803), 0, "{f}");
    }
}

/// Version Negotiation: the client first offers a version the server does not speak (a
/// reserved 0x?a?a?a?a version, RFC 9000 15), the server answers with Version Negotiation, and
/// the client then connects with version 1 from the same address. One established connection;
/// the attempt and the VN are counted, not reported as a failed connection.
#[test]
fn version_negotiation_then_a_working_connection() {
    let pcap = common::captures_dir().join("quic/quic-smb311.pcap");
    let mut fr = frames(&pcap);
    let (t0, lt) = (fr[0].0, fr[0].1);
    let client = fr[0].2.clone();
    let server = fr
        .iter()
        .find(|f| from_server(&f.2))
        .expect("a server packet")
        .2
        .clone();
    let (dcid, scid) = ([0x5au8; 8], [0xc1u8; 8]);
    let mut offer = vec![0xc0, 0x1a, 0x2a, 0x3a, 0x4a, 8];
    offer.extend_from_slice(&dcid);
    offer.push(8);
    offer.extend_from_slice(&scid);
    offer.resize(1200, 0);
    let mut vn = vec![0x80 | 0x2a, 0, 0, 0, 0, 8];
    vn.extend_from_slice(&scid);
    vn.push(8);
    vn.extend_from_slice(&dcid);
    vn.extend_from_slice(&1u32.to_be_bytes());
    vn.extend_from_slice(&0x6b33_43cfu32.to_be_bytes());
    let early = vec![
        (
            Timestamp(t0.0 - 2_000_000),
            lt,
            with_udp_payload(&client, &offer),
        ),
        (
            Timestamp(t0.0 - 1_000_000),
            lt,
            with_udp_payload(&server, &vn),
        ),
    ];
    fr.splice(0..0, early);
    for config in [Config::default(), keyed(&pcap)] {
        let recs = run(&fr, config);
        let q = quic(&recs);
        let working: Vec<_> = q.iter().filter(|r| r["established"] == true).collect();
        assert_eq!(working.len(), 1, "{q:#?}");
        let vns: u64 = q
            .iter()
            .map(|r| {
                r["packets"]["seen"]["version_negotiation"]
                    .as_u64()
                    .unwrap_or(0)
            })
            .sum();
        assert_eq!(vns, 1, "{q:#?}");
        assert_eq!(working[0]["version_negotiation"]["offered"], "0x1a2a3a4a");
        assert_eq!(
            working[0]["version_negotiation"]["server_versions"],
            serde_json::json!(["1", "2"])
        );
        assert_eq!(events(&recs, 30803), 0, "{recs:#?}");
        assert_eq!(summary(&recs)["quic_unattributed_packets"], 0);
        assert!(common::of_type(&recs, "anomaly").is_empty(), "{recs:#?}");
    }
    // The offer alone, refused, with no connection after it: one anomaly naming the
    // versions, no connection and no 30803.
    let recs = run(&fr[..2], Config::default());
    assert!(quic(&recs).is_empty());
    let a = common::of_type(&recs, "anomaly");
    assert_eq!(a.len(), 1, "{a:#?}");
    assert_eq!(a[0]["kind"], "quic_version_negotiation");
    assert!(
        a[0]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("listing 1, 2")),
        "{a:#?}"
    );
    assert_eq!(events(&recs, 30803), 0);
}

/// The server's stateless reset tokens (RFC 9000 10.3), as tshark decrypts them from its
/// NEW_CONNECTION_ID frames with the key log.
fn server_reset_tokens(pcap: &Path) -> Vec<Vec<u8>> {
    let out = std::process::Command::new("tshark")
        .arg("-r")
        .arg(pcap)
        .arg("-o")
        .arg(format!(
            "tls.keylog_file:{}",
            pcap.with_extension("keylog").display()
        ))
        .args(["-Y", "udp.srcport == 443 && quic.nci.stateless_reset_token"])
        .args(["-T", "fields", "-e", "quic.nci.stateless_reset_token"])
        .output()
        .expect("tshark is needed for this test (bash .ci/setup.sh installs it)");
    String::from_utf8_lossy(&out.stdout)
        .split([',', '\n'])
        .filter(|t| t.len() == 32)
        .map(|t| {
            (0..16)
                .map(|i| u8::from_str_radix(&t[2 * i..2 * i + 2], 16).expect("hex"))
                .collect()
        })
        .collect()
}

/// A stateless reset from the server in the middle of the connection: a short-header packet
/// that does not decrypt and ends in a token the server issued. With the key log (the tokens
/// travel in encrypted frames) the connection ends there, closed by the reset; without keys
/// the same packet is just an undecryptable 1-RTT packet and the connection ends at the end
/// of the capture. Either way it was established, and no 30803.
#[test]
fn stateless_reset_closes_the_connection_with_keys() {
    let pcap = common::captures_dir().join("quic/quic-smb311.pcap");
    let tokens = server_reset_tokens(&pcap);
    assert!(!tokens.is_empty(), "tshark found no reset token");
    let fr = frames(&pcap);
    let cut = fr.len() * 2 / 3;
    let mut fr: Vec<_> = fr[..cut].to_vec();
    let last_server = fr
        .iter()
        .rev()
        .find(|f| from_server(&f.2) && udp_payload(&f.2)[0] & 0x80 == 0)
        .expect("a server 1-RTT packet")
        .clone();
    let mut reset: Vec<u8> = udp_payload(&last_server.2).to_vec();
    reset.resize(reset.len().max(60), 0);
    let n = reset.len();
    for (i, b) in reset[9..n - 16].iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(37) ^ 0x5c;
    }
    reset[n - 16..].copy_from_slice(&tokens[tokens.len() - 1]);
    let ts = Timestamp(fr[cut - 1].0.0 + 1_000_000);
    fr.push((ts, last_server.1, with_udp_payload(&last_server.2, &reset)));

    let recs = run(&fr, keyed(&pcap));
    let q = quic(&recs);
    assert_eq!(q.len(), 1, "{q:#?}");
    assert_eq!(q[0]["established"], true);
    assert!(
        q[0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("stateless reset")),
        "{}",
        q[0]["reason"]
    );
    assert_eq!(events(&recs, 30803), 0);

    let recs = run(&fr, Config::default());
    let q = quic(&recs);
    assert_eq!(q.len(), 1, "{q:#?}");
    assert_eq!(q[0]["established"], true);
    assert_eq!(events(&recs, 30803), 0);
}

/// Several real connections (distinct IDs) from one client, started together and
/// interleaved: `port` gives each its client port (`None`: all on one port, so all on one
/// address path). Returns the merged frames and the concatenated key logs.
fn concurrent(same_port: bool) -> (Vec<(Timestamp, i32, Vec<u8>)>, String) {
    let names = [
        "quic-smb311",
        "quic-guest",
        "quic-smb311-encrypted",
        "quic-cert-ip",
    ];
    let mut all = Vec::new();
    let mut keylog = String::new();
    for (i, n) in names.iter().enumerate() {
        let pcap = common::captures_dir().join(format!("quic/{n}.pcap"));
        keylog.push_str(&std::fs::read_to_string(pcap.with_extension("keylog")).expect("kl"));
        let mut fr = frames(&pcap);
        let t0 = fr[0].0.0;
        let port = if same_port { 50_000 } else { 50_000 + i as u16 };
        for f in &mut fr {
            f.0 = Timestamp(f.0.0 - t0 + 1_700_000_000_000_000_000 + i as u64 * 1_000_000);
            set_client_port(&mut f.2, port);
        }
        all.extend(fr);
    }
    all.sort_by_key(|f| f.0);
    (all, keylog)
}

/// Many concurrent connections from one client IP (distinct ports, distinct IDs): each is its
/// own established connection, with and without keys, every packet attributed.
#[test]
fn concurrent_connections_from_one_client_address() {
    let (fr, keylog) = concurrent(false);
    let keyed = Config {
        keylog: Arc::new(KeyLog::parse(&keylog).0),
        ..Config::default()
    };
    for config in [Config::default(), keyed] {
        let recs = run(&fr, config);
        let q = quic(&recs);
        assert_eq!(q.len(), 4, "{q:#?}");
        assert!(q.iter().all(|r| r["established"] == true), "{q:#?}");
        assert_eq!(events(&recs, 30803), 0);
        assert_eq!(summary(&recs)["quic_unattributed_packets"], 0);
    }
}

/// The same connections multiplexed on ONE client ip:port (one address path, told apart only
/// by connection IDs). With keys every packet is attributed by ID. Without keys the path is
/// shared, so IDs announced inside encrypted frames cannot be learnt from it: those packets are
/// counted as unattributed instead of being given to a wrong connection, and every connection
/// is still established (from the server's 1-RTT answers on the shared path when its own
/// cannot be told apart: `1rtt_on_shared_path`), with no 30803.
#[test]
fn concurrent_connections_on_one_path() {
    let (fr, keylog) = concurrent(true);
    let recs = run(
        &fr,
        Config {
            keylog: Arc::new(KeyLog::parse(&keylog).0),
            ..Config::default()
        },
    );
    let q = quic(&recs);
    assert_eq!(q.len(), 4, "{q:#?}");
    assert!(q.iter().all(|r| r["established"] == true), "{q:#?}");
    assert_eq!(summary(&recs)["quic_unattributed_packets"], 0);
    assert_eq!(events(&recs, 30803), 0);

    let recs = run(&fr, Config::default());
    let q = quic(&recs);
    assert_eq!(q.len(), 4, "{q:#?}");
    assert!(q.iter().all(|r| r["established"] == true), "{q:#?}");
    assert!(
        q.iter().all(|r| r["packets"]["by_path"] == 0),
        "a shared path attributed packets: {q:#?}"
    );
    assert_eq!(events(&recs, 30803), 0);
    assert!(summary(&recs)["quic_unattributed_packets"].as_u64() > Some(0));
    let a: Vec<&Value> = common::of_type(&recs, "anomaly")
        .into_iter()
        .filter(|a| a["kind"] == "quic_unattributed")
        .collect();
    assert_eq!(a.len(), 1, "one anomaly for the one shared path: {a:#?}");
}

/// A capture that ends inside an SMB message carried over QUIC reports the cut message at
/// the end, as a TCP flow does (`incomplete_message`); the whole capture reports none.
#[test]
fn a_quic_stream_cut_inside_an_smb_message_reports_it() {
    let pcap = common::captures_dir().join("quic/quic-smb311-encrypted.pcap");
    let all = frames(&pcap);
    let incomplete = |records: &[Value]| -> Vec<Value> {
        records
            .iter()
            .filter(|r| r["type"] == "anomaly" && r["kind"] == "incomplete_message")
            .cloned()
            .collect()
    };
    assert!(incomplete(&run(&all, keyed(&pcap))).is_empty());
    let mut cut = 0;
    for n in 1..all.len() {
        let records = run(&all[..n], keyed(&pcap));
        for a in incomplete(&records) {
            cut += 1;
            assert_eq!(a["server"], "127.0.0.1:443", "{a}");
            let detail = a["detail"].as_str().expect("detail");
            assert!(detail.starts_with("stream ended inside"), "{a}");
            assert!(a["bytes"].as_u64().is_some_and(|b| b > 0), "{a}");
        }
    }
    // The capture has SMB messages longer than one QUIC packet (the session setup, the
    // encrypted file data), so some cuts fall inside one.
    assert!(cut > 0, "no cut fell inside an SMB message");
}
