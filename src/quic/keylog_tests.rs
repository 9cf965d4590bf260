use super::*;
use crate::quic::corpus_dir;

const R1: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const S32: &str = "b8902ab5f9fe52fdec3aea54e9293e4b8eabf955fcd88536bf44b8b584f14982";

fn random(h: &str) -> [u8; 32] {
    crate::quic::hex(h).try_into().unwrap()
}

#[test]
fn parses_labels_comments_crlf_and_backslashes() {
    let s48 = "ab".repeat(48);
    let text = format!(
        "# comment\r\n\r\n\
         CLIENT_HANDSHAKE_TRAFFIC_SECRET {R1} {S32}\r\n\
         SERVER_HANDSHAKE_TRAFFIC_SECRET {R1} {S32}\\\n\
         QUIC_CLIENT_TRAFFIC_SECRET_0 {R1} {s48}\n\
         SERVER_TRAFFIC_SECRET_0 {R1} {S32} \\\n\
         CLIENT_RANDOM {R1} {s48}\n\
         EXPORTER_SECRET {R1} {S32}\n\
         CLIENT_EARLY_TRAFFIC_SECRET {R1} {S32}"
    );
    let (log, warnings) = KeyLog::parse(&text);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(log.len(), 6);
    let r = random(R1);
    let s32 = crate::quic::hex(S32);
    for label in [
        Label::ClientHandshake,
        Label::ServerHandshake,
        Label::ServerTraffic0,
        Label::Exporter,
        Label::ClientEarly,
    ] {
        assert_eq!(log.get(&r, label), Some(&s32[..]), "{label}");
    }
    assert_eq!(
        log.get(&r, Label::ClientTraffic0).map(<[u8]>::len),
        Some(48)
    );
    assert_eq!(log.get(&[0; 32], Label::ClientHandshake), None);
    assert_eq!(log.client_randoms().count(), 1);
}

#[test]
fn warnings_name_the_line() {
    let text = format!(
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET {R1}\n\
         CLIENT_HANDSHAKE_TRAFFIC_SECRET 0011 {S32}\n\
         CLIENT_HANDSHAKE_TRAFFIC_SECRET {R1} 00112233\n\
         CLIENT_HANDSHAKE_TRAFFIC_SECRET {R1} {S32} extra\n\
         CLIENT_HANDSHAKE_TRAFFIC_SECRET {R1} zz{}\n\
         CLIENT_HANDSHAKE_TRAFFIC_SECRET {R1} {S32}\n\
         CLIENT_HANDSHAKE_TRAFFIC_SECRET {R1} {S32}\n\
         CLIENT_HANDSHAKE_TRAFFIC_SECRET {R1} {}\n\
         UNKNOWN_LABEL x\n",
        &S32[2..],
        "00".repeat(32)
    );
    let (log, warnings) = KeyLog::parse(&text);
    assert_eq!(log.len(), 1);
    let lines: Vec<&str> = warnings
        .iter()
        .map(|w| w.split(':').next().unwrap())
        .collect();
    assert_eq!(
        lines,
        ["line 1", "line 2", "line 3", "line 4", "line 5", "line 8"]
    );
    assert!(warnings[5].contains("conflicting"), "{}", warnings[5]);
    // The first secret was kept.
    assert_eq!(
        log.get(&random(R1), Label::ClientHandshake),
        Some(&crate::quic::hex(S32)[..])
    );
}

#[test]
fn merge_keeps_existing_and_debug_redacts() {
    let (mut a, _) = KeyLog::parse(&format!("SERVER_TRAFFIC_SECRET_0 {R1} {S32}"));
    let other = format!(
        "SERVER_TRAFFIC_SECRET_0 {R1} {}\nCLIENT_TRAFFIC_SECRET_0 {R1} {S32}",
        "11".repeat(32)
    );
    let (b, _) = KeyLog::parse(&other);
    a.merge(b);
    assert_eq!(a.len(), 2);
    assert_eq!(
        a.get(&random(R1), Label::ServerTraffic0),
        Some(&crate::quic::hex(S32)[..])
    );
    let dbg = format!("{a:?}");
    assert!(
        dbg.contains("redacted") && !dbg.contains("b890") && !dbg.contains("0001"),
        "{dbg}"
    );
    assert!(KeyLog::default().is_empty());
    for l in [Label::ClientEarly, Label::ServerTraffic0, Label::Exporter] {
        assert_eq!(Label::from_name(l.as_str()), Some(l));
        assert_eq!(Label::from_name(&format!("QUIC_{l}")), Some(l));
    }
    assert_eq!(Label::from_name("CLIENT_RANDOM"), None);
}

#[test]
fn corpus_key_logs() {
    let Some(dir) = corpus_dir() else {
        return;
    };
    // (file, secrets, client randoms), from MANIFEST.md rows 9, 11, 13 and 15.
    for (file, secrets, randoms) in [
        ("wireshark/quic-with-secrets.pcapng.keylog", 10, 2),
        // Every line ends with a literal backslash (pitfall 10).
        ("wireshark/quic_follow_multistream.pcapng.keylog", 5, 1),
        // Standard and QUIC_-prefixed labels, each secret twice (pitfall 11).
        (
            "wireshark/quic-fragmented-handshakes.pcapng.gz.keylog",
            4,
            1,
        ),
        ("illustrated-quic/keylog.txt", 5, 1),
    ] {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        let (log, warnings) = KeyLog::parse(&text);
        assert!(warnings.is_empty(), "{file}: {warnings:?}");
        assert_eq!(log.len(), secrets, "{file}");
        assert_eq!(log.client_randoms().count(), randoms, "{file}");
    }
    let text = std::fs::read_to_string(dir.join("illustrated-quic/keylog.txt")).unwrap();
    let (log, _) = KeyLog::parse(&text);
    assert!(log.get(&random(R1), Label::ServerHandshake).is_some());
}
