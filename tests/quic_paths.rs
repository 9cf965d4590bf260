//! QUIC without keys: connections followed when the peers switch to connection IDs announced
//! only in encrypted frames (by address path, and by migration inference), "established"
//! judged from the visible packets, and the records with and without the key log agreeing.
//! Real captures from `captures/quic/` (made with a quinn relay), some rewritten the way a NAT
//! or a silent pause would change them.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;
use smbscope::capture::{Frame, OfflineCapture, Timestamp};
use smbscope::engine::{Config, Engine};
use smbscope::quic::keylog::KeyLog;

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
