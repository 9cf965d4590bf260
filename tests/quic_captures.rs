//! Integrity of the SMB-over-QUIC captures in `captures/quic/` (made by
//! `captures/generate-quic.sh`): every scenario has its capture, TLS key log and expected
//! answers; the pcap holds QUIC v1 on UDP 443 only (plus direct TCP/445 for the exposure
//! scenario); the client and server addresses in `expected.json` are the ones in the capture,
//! read here with smbscope's own capture reader, independently of the tshark cross-check that
//! wrote them.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;
use smbscope::capture::OfflineCapture;
use smbscope::flow::{Transport, decode};

const QUIC_PORT: u16 = 443;

fn quic_dir() -> PathBuf {
    common::captures_dir().join("quic")
}

fn scenarios() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(quic_dir())
        .expect("captures/quic/ exists")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".expected.json"))
        .collect();
    v.sort();
    v
}

fn sibling(json: &Path, ext: &str) -> PathBuf {
    let s = json.to_string_lossy();
    PathBuf::from(format!("{}.{ext}", s.trim_end_matches(".expected.json")))
}

#[derive(Default, Debug)]
struct Seen {
    /// Client endpoints of UDP/443 datagrams, in order of first appearance.
    clients: Vec<String>,
    servers: BTreeSet<String>,
    datagrams: usize,
    long_versions: BTreeSet<u32>,
    fixed_bit_clear: usize,
    first_is_padded_initial: bool,
    tcp445_segments: usize,
    other: usize,
    truncated: usize,
}

fn read(pcap: &Path) -> Seen {
    let mut cap = OfflineCapture::open(pcap).unwrap_or_else(|e| panic!("{e}"));
    let mut seen = Seen::default();
    while let Some(frame) = cap.next_frame().expect("readable capture") {
        seen.truncated += usize::from(frame.is_truncated());
        let pkt = decode(frame.linktype, frame.data).expect("decodable frame");
        match pkt.transport {
            Transport::Udp {
                src_port,
                dst_port,
                payload,
            } if src_port == QUIC_PORT || dst_port == QUIC_PORT => {
                let (client, server) = if dst_port == QUIC_PORT {
                    ((pkt.src, src_port), (pkt.dst, dst_port))
                } else {
                    ((pkt.dst, dst_port), (pkt.src, src_port))
                };
                let client = format!("{}:{}", client.0, client.1);
                if !seen.clients.contains(&client) {
                    seen.clients.push(client);
                }
                seen.servers.insert(format!("{}:{}", server.0, server.1));
                let b0 = payload[0];
                if seen.datagrams == 0 {
                    // Client Initial: long header, type 0, padded to at least 1200 bytes.
                    seen.first_is_padded_initial =
                        dst_port == QUIC_PORT && b0 & 0xb0 == 0x80 && payload.len() >= 1200;
                }
                seen.datagrams += 1;
                seen.fixed_bit_clear += usize::from(b0 & 0x40 == 0);
                if b0 & 0x80 != 0 {
                    let v = u32::from_be_bytes(payload[1..5].try_into().unwrap());
                    seen.long_versions.insert(v);
                }
            }
            Transport::Tcp(seg) if seg.src_port == 445 || seg.dst_port == 445 => {
                seen.tcp445_segments += 1;
            }
            _ => seen.other += 1,
        }
    }
    seen
}

#[test]
fn quic_captures_match_their_expected_answers() {
    let jsons = scenarios();
    assert!(
        jsons.len() >= 6,
        "expected the SMB-over-QUIC captures in captures/quic/ (captures/generate-quic.sh)"
    );
    let mut total = 0;
    let mut failures = Vec::new();
    for json in &jsons {
        let exp: Value =
            serde_json::from_str(&std::fs::read_to_string(json).expect("readable")).expect("json");
        let name = exp["scenario"].as_str().expect("scenario").to_owned();
        let pcap = sibling(json, "pcap");
        total += std::fs::metadata(&pcap).map(|m| m.len()).unwrap_or(0);
        let keylog = std::fs::read_to_string(sibling(json, "keylog")).expect("key log");
        let mut check = |ok: bool, what: String| {
            if !ok {
                failures.push(format!("{name}: {what}"));
            }
        };

        // The key log: NSS lines for one TLS 1.3 connection (one client random).
        let randoms: BTreeSet<&str> = keylog
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1))
            .collect();
        check(randoms.len() == 1, format!("key log randoms {randoms:?}"));
        for label in [
            "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
            "SERVER_HANDSHAKE_TRAFFIC_SECRET",
            "CLIENT_TRAFFIC_SECRET_0",
            "SERVER_TRAFFIC_SECRET_0",
        ] {
            check(
                keylog.lines().any(|l| l.starts_with(&format!("{label} "))),
                format!("key log lacks {label}"),
            );
        }

        check(exp["transport"] == "QUIC", "transport".into());
        check(exp["alpn"] == serde_json::json!(["smb"]), "alpn".into());
        check(exp["smb"]["dialect"] == "3.1.1", "dialect".into());
        check(exp["quic_version"] == "0x00000001", "quic version".into());

        let seen = read(&pcap);
        check(seen.truncated == 0, format!("{} truncated", seen.truncated));
        check(seen.datagrams > 0, "no UDP/443 datagrams".into());
        check(
            seen.first_is_padded_initial,
            "first datagram is not a padded client Initial".into(),
        );
        check(
            seen.long_versions == BTreeSet::from([1]),
            format!("long-header versions {:?}", seen.long_versions),
        );
        check(
            seen.fixed_bit_clear == 0,
            format!("{} datagrams without the fixed bit", seen.fixed_bit_clear),
        );
        let clients: Vec<&str> = exp["client_addresses"]
            .as_array()
            .expect("client_addresses")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        check(
            seen.clients == clients,
            format!("clients {:?} vs expected {clients:?}", seen.clients),
        );
        check(
            exp["migrated"].as_bool() == Some(clients.len() > 1),
            "migrated flag".into(),
        );
        let server = exp["server"].as_str().unwrap_or("");
        check(
            seen.servers == BTreeSet::from([server.to_owned()]),
            format!("servers {:?}", seen.servers),
        );
        check(
            exp["tcp445"].is_null() == (seen.tcp445_segments == 0),
            format!("{} TCP/445 segments", seen.tcp445_segments),
        );
        check(seen.other == 0, format!("{} other frames", seen.other));
        // Files every scenario ships besides the pcap.
        let has = |ext: &str| sibling(json, ext).is_file();
        let password = exp["smb"]["auth"] == "ntlmv2";
        check(has("credentials") == password, "credentials file".into());
        check(has("keys") == password, "keys file".into());
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(total < 1_000_000, "QUIC captures total {total} bytes");
}
