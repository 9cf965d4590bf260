use std::io::Read;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::time::{Duration, Instant};

use super::syslog_format::{Formatter, civil, clean, octet_counted, sd_escape, token};
use super::*;
use crate::event::{AnomalyRecord, Finding, Record, SessionId, Severity};

const GOLDEN_5424: &str = "<131>1 2026-11-22T15:04:05.123456Z sensor1 smbscope 4242 guest \
    [smbscope@32473 rule=\"guest\" severity=\"high\" event_id=\"31022\" client=\"10.0.0.5:50123\" \
    server=\"10.0.0.1:445\" session_id=\"0x0000400000000039\" user=\"CORP\\\\alice\" \
    server_name=\"fs1\"] guest session: the server mapped the user to guest";

const GOLDEN_3164: &str = "<131>Nov 22 15:04:05 sensor1 smbscope[4242]: rule=guest \
    severity=high event_id=31022 client=10.0.0.5:50123 server=10.0.0.1:445 \
    session_id=0x0000400000000039 user=\"CORP\\\\alice\" server_name=fs1 \
    msg=\"guest session: the server mapped the user to guest\"";

/// 2026-11-22T15:04:05.123456Z.
const TS: f64 = 1_795_359_845.123_456;

fn finding() -> Finding {
    Finding {
        rule: "guest",
        severity: Severity::High,
        event_id: Some(31022),
        client: SocketAddr::from(([10, 0, 0, 5], 50123)),
        server: SocketAddr::from(([10, 0, 0, 1], 445)),
        session_id: Some(SessionId(0x0000_4000_0000_0039)),
        user: Some("CORP\\alice".into()),
        server_name: Some("fs1".into()),
        side: None,
        summary: "guest session: the server mapped the user to guest".into(),
        fix: "Set-SmbClientConfiguration -EnableInsecureGuestLogons $false",
        mandate: None,
        ts: TS,
    }
}

fn formatter(format: SyslogFormat) -> Formatter {
    Formatter::new(format, Facility::LOCAL0, "sensor1", "smbscope", 4242)
}

fn text(b: Vec<u8>) -> String {
    String::from_utf8(b).unwrap()
}

#[test]
fn golden_rfc5424() {
    assert_eq!(
        text(formatter(SyslogFormat::Rfc5424).finding(&finding())),
        GOLDEN_5424
    );
}

#[test]
fn golden_rfc3164() {
    assert_eq!(
        text(formatter(SyslogFormat::Rfc3164).finding(&finding())),
        GOLDEN_3164
    );
}

#[test]
fn module_docs_show_the_golden_messages() {
    // The examples in the rustdoc of `SyslogSink` are these exact strings.
    let docs = include_str!("syslog.rs");
    assert!(docs.contains(&format!("/// {GOLDEN_5424}\n")));
    assert!(docs.contains(&format!("/// {GOLDEN_3164}\n")));
}

#[test]
fn optional_fields_are_omitted_and_side_mandate_shown() {
    let f = Finding {
        rule: "signing.not_required",
        severity: Severity::Medium,
        event_id: None,
        session_id: None,
        user: None,
        server_name: None,
        side: Some("server"),
        mandate: Some("signing"),
        summary: "the server does not require signing".into(),
        ..finding()
    };
    let m = text(formatter(SyslogFormat::Rfc5424).finding(&f));
    assert_eq!(
        m,
        "<132>1 2026-11-22T15:04:05.123456Z sensor1 smbscope 4242 signing.not_required \
         [smbscope@32473 rule=\"signing.not_required\" severity=\"medium\" \
         client=\"10.0.0.5:50123\" server=\"10.0.0.1:445\" side=\"server\" mandate=\"signing\"] \
         the server does not require signing"
    );
    let m = text(formatter(SyslogFormat::Rfc3164).finding(&f));
    assert!(m.ends_with("side=server mandate=signing msg=\"the server does not require signing\""));
}

#[test]
fn sd_escaping() {
    let mut out = String::new();
    sd_escape(&mut out, r#"a"b\c]d[e=f"#);
    assert_eq!(out, r#"a\"b\\c\]d[e=f"#);
    let f = Finding {
        user: Some("x\"]\\y".into()),
        ..finding()
    };
    let m = text(formatter(SyslogFormat::Rfc5424).finding(&f));
    assert!(m.contains(r#" user="x\"\]\\y" "#), "{m}");
    let m = text(formatter(SyslogFormat::Rfc3164).finding(&f));
    assert!(m.contains(r#" user="x\"]\\y" "#), "{m}");
}

#[test]
fn wire_text_cannot_forge_lines() {
    let f = Finding {
        user: Some("bob\n<0>1 2026-01-01T00:00:00Z evil x - - - forged".into()),
        summary: "a\r\nb\0c\td".into(),
        ..finding()
    };
    for format in [SyslogFormat::Rfc5424, SyslogFormat::Rfc3164] {
        let m = text(formatter(format).finding(&f));
        assert!(!m.chars().any(char::is_control), "{m:?}");
        assert!(m.contains("a  b c d"), "{m}");
    }
}

#[test]
fn long_fields_are_capped() {
    let f = Finding {
        user: Some("é".repeat(1000)),
        server_name: Some("s".repeat(5000)),
        summary: "x".repeat(10_000),
        ..finding()
    };
    let m = text(formatter(SyslogFormat::Rfc5424).finding(&f));
    assert!(m.len() < 2000, "{}", m.len());
    assert_eq!(clean(&"é".repeat(10), 5), "éé");
}

#[test]
fn header_tokens_are_sanitized() {
    let f = Formatter::new(SyslogFormat::Rfc5424, Facility::LOCAL0, "my host", "", 1);
    let m = text(f.message(6, Some(0.0), "a b", &[], ""));
    assert_eq!(m, "<134>1 1970-01-01T00:00:00.000000Z my_host - 1 a_b -");
    let f = Formatter::new(SyslogFormat::Rfc3164, Facility::LOCAL0, "h", "sm[b]:x", 1);
    let m = text(f.message(6, Some(0.0), "", &[], "hi"));
    assert_eq!(m, "<134>Jan  1 00:00:00 h sm_b__x[1]: hi");
    assert_eq!(token(&"m".repeat(40), 32, "").len(), 32);
    assert_eq!(token("ü", 32, ""), "_");
}

#[test]
fn anomaly_and_summary_messages() {
    let a = AnomalyRecord {
        kind: "flow_table_full",
        client: SocketAddr::from(([10, 0, 0, 5], 1)),
        server: SocketAddr::from(([10, 0, 0, 1], 445)),
        detail: "100000 flows".into(),
        bytes: 0,
        ts: TS,
    };
    let m = text(formatter(SyslogFormat::Rfc5424).anomaly(&a));
    assert_eq!(
        m,
        "<132>1 2026-11-22T15:04:05.123456Z sensor1 smbscope 4242 anomaly \
         [smbscope@32473 anomaly=\"flow_table_full\" client=\"10.0.0.5:1\" \
         server=\"10.0.0.1:445\"] anomaly flow_table_full: 100000 flows"
    );
    let s = SyslogStats {
        sent: 1,
        suppressed: 2,
        lost: 3,
        errors: 4,
        queued: 5,
    };
    let m = text(formatter(SyslogFormat::Rfc5424).summary("hello", &stats_params(&s)));
    assert!(m.starts_with("<134>1 "), "{m}");
    assert!(m.ends_with(
        " sensor1 smbscope 4242 summary [smbscope@32473 sent=\"1\" suppressed=\"2\" lost=\"3\" \
         errors=\"4\" queued=\"5\"] hello"
    ));
    let m = text(formatter(SyslogFormat::Rfc3164).summary("hello there", &[]));
    assert!(m.ends_with(" sensor1 smbscope[4242]: hello there"), "{m}");
}

#[test]
fn octet_counting_framing() {
    assert_eq!(octet_counted(b"hello"), b"5 hello");
    assert_eq!(octet_counted("é".as_bytes()), "2 é".as_bytes());
    let msg = formatter(SyslogFormat::Rfc5424).finding(&finding());
    let framed = octet_counted(&msg);
    let (len, rest) = framed.split_at(framed.iter().position(|&b| b == b' ').unwrap());
    assert_eq!(std::str::from_utf8(len).unwrap(), msg.len().to_string());
    assert_eq!(&rest[1..], &msg[..]);
}

#[test]
fn facility_and_severity_make_pri() {
    assert_eq!(severity_code(Severity::High), 3);
    assert_eq!(severity_code(Severity::Medium), 4);
    assert_eq!(severity_code(Severity::Low), 5);
    assert_eq!(severity_code(Severity::Info), 6);
    assert_eq!(Facility::LOCAL0.pri(3), 131);
    assert_eq!(Facility::KERN.pri(0), 0);
    assert_eq!(Facility::LOCAL7.pri(7), 191);
    assert_eq!(Facility::AUTH.pri(6), 38);
    for (sev, pri) in [
        (Severity::High, "<163>"),
        (Severity::Medium, "<164>"),
        (Severity::Low, "<165>"),
        (Severity::Info, "<166>"),
    ] {
        let f = Formatter::new(
            SyslogFormat::Rfc5424,
            Facility::from_code(20).unwrap(),
            "h",
            "a",
            1,
        );
        let m = text(f.finding(&Finding {
            severity: sev,
            ..finding()
        }));
        assert!(m.starts_with(pri), "{m}");
    }
}

#[test]
fn facility_parsing() {
    let p = |s: &str| s.parse::<Facility>().map(Facility::code);
    assert_eq!(p("kern"), Ok(0));
    assert_eq!(p("daemon"), Ok(3));
    assert_eq!(p("AUTHPRIV"), Ok(10));
    assert_eq!(p("local0"), Ok(16));
    assert_eq!(p("local7"), Ok(23));
    assert_eq!(p("23"), Ok(23));
    assert_eq!(p("0"), Ok(0));
    for bad in ["24", "-1", "local8", "", "loc al0", "300"] {
        let e = p(bad).unwrap_err().to_string();
        assert!(e.contains("0-23"), "{bad}: {e}");
    }
    assert_eq!(Facility::default(), Facility::LOCAL0);
    for code in 0..24 {
        let f = Facility::from_code(code).unwrap();
        assert_eq!(f.to_string().parse::<Facility>(), Ok(f));
    }
    assert_eq!(Facility::from_code(24), None);
}

#[test]
fn format_parsing() {
    assert_eq!("5424".parse(), Ok(SyslogFormat::Rfc5424));
    assert_eq!("RFC3164".parse(), Ok(SyslogFormat::Rfc3164));
    assert_eq!("bsd".parse(), Ok(SyslogFormat::Rfc3164));
    assert!(
        "json"
            .parse::<SyslogFormat>()
            .unwrap_err()
            .to_string()
            .contains("5424 or 3164")
    );
}

#[test]
fn target_parsing() {
    let ok = |s: &str| s.parse::<SyslogTarget>().unwrap();
    assert_eq!(
        ok("udp://127.0.0.1:5514"),
        SyslogTarget::Udp {
            host: "127.0.0.1".into(),
            port: 5514
        }
    );
    assert_eq!(
        ok("TCP://logs.example.org"),
        SyslogTarget::Tcp {
            host: "logs.example.org".into(),
            port: 514
        }
    );
    assert_eq!(
        ok("udp://[fe80::1]"),
        SyslogTarget::Udp {
            host: "fe80::1".into(),
            port: 514
        }
    );
    assert_eq!(ok("unix:///dev/log"), SyslogTarget::Unix("/dev/log".into()));
    for s in [
        "udp://127.0.0.1:5514",
        "tcp://[::1]:6514",
        "unix:///dev/log",
    ] {
        assert_eq!(ok(s).to_string(), s);
    }
    let err = |s: &str| s.parse::<SyslogTarget>().unwrap_err().to_string();
    assert!(err("127.0.0.1:514").contains("expected udp://HOST:PORT"));
    assert!(err("http://x:1").contains("unknown scheme \"http\""));
    assert!(err("udp://:514").contains("missing host"));
    assert!(err("udp://h:0").contains("not a port"));
    assert!(err("udp://h:65536").contains("not a port"));
    assert!(err("udp://h:x").contains("not a port"));
    assert!(err("tcp://::1:514").contains("brackets"));
    assert!(err("tcp://[::1:514").contains("missing ']'"));
    assert!(err("tcp://[nope]:514").contains("not an IPv6 address"));
    assert!(err("tcp://[::1]x").contains("unexpected"));
    assert!(err("udp://host/path:1").contains("not a host name"));
    assert!(err("unix://dev/log").contains("absolute"));
    assert!(err("unix://").contains("absolute"));
}

#[test]
fn timestamps() {
    let t = |ts: f64| civil(ts).map(|c| (c.rfc3339(), c.rfc3164()));
    assert_eq!(
        t(0.0),
        Some((
            "1970-01-01T00:00:00.000000Z".into(),
            "Jan  1 00:00:00".into()
        ))
    );
    assert_eq!(
        t(TS),
        Some((
            "2026-11-22T15:04:05.123456Z".into(),
            "Nov 22 15:04:05".into()
        ))
    );
    // 2024-02-29T23:59:59.999999Z, a leap day.
    assert_eq!(
        t(1_709_251_199.999_999),
        Some((
            "2024-02-29T23:59:59.999999Z".into(),
            "Feb 29 23:59:59".into()
        ))
    );
    // 2026-03-02T09:08:07Z: the day is padded with a space in RFC 3164.
    assert_eq!(t(1_772_442_487.0).unwrap().1, "Mar  2 09:08:07");
    // Rounding up into the next second.
    assert_eq!(t(59.999_999_7).unwrap().0, "1970-01-01T00:01:00.000000Z");
    assert_eq!(
        t(253_402_300_799.0).unwrap().0,
        "9999-12-31T23:59:59.000000Z"
    );
    for bad in [-1.0, f64::NAN, f64::INFINITY, 253_402_300_800.0, 1e300] {
        assert_eq!(t(bad), None);
    }
    // A finding with an unusable time is stamped with the wall clock, not refused.
    let m = text(formatter(SyslogFormat::Rfc5424).finding(&Finding {
        ts: f64::NAN,
        ..finding()
    }));
    assert!(m.starts_with("<131>1 20"), "{m}");
}

#[test]
fn hostname_fallback() {
    let dir = std::env::temp_dir().join(format!("smbscope-hostname-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("hostname");
    std::fs::write(&p, "sensor-7\n").unwrap();
    assert_eq!(hostname_from(&p), "sensor-7");
    std::fs::write(&p, " \n").unwrap();
    assert_eq!(hostname_from(&p), "-");
    assert_eq!(hostname_from(&dir.join("missing")), "-");
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(!default_hostname().is_empty());
}

#[test]
fn config_defaults() {
    let c = SyslogConfig::new("udp://127.0.0.1:514".parse().unwrap());
    assert_eq!(c.format, SyslogFormat::Rfc5424);
    assert_eq!(c.facility, Facility::LOCAL0);
    assert_eq!(c.app_name, "smbscope");
    assert_eq!(c.hostname, None);
    assert_eq!(c.dedupe_window, Duration::from_secs(300));
    assert_eq!(c.summary_interval, Duration::from_secs(300));
    assert_eq!(c.queue, 10_000);
    assert_eq!(
        c.alert_anomalies,
        ["flow_table_full", "credentials_mismatch"]
    );
}

fn config(target: &str) -> SyslogConfig {
    let mut c = SyslogConfig::new(target.parse().unwrap());
    c.hostname = Some("sensor1".into());
    c.summary_interval = Duration::ZERO;
    c
}

fn recv_all(sock: &UdpSocket, n: usize) -> Vec<String> {
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 4096];
    (0..n)
        .map(|_| {
            let len = sock.recv(&mut buf).unwrap();
            String::from_utf8(buf[..len].to_vec()).unwrap()
        })
        .collect()
}

#[test]
fn sink_sends_dedupes_and_skips_other_records() {
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port();
    let mut sink = SyslogSink::new(config(&format!("udp://127.0.0.1:{port}"))).unwrap();
    let f = finding();
    sink.record(&Record::Finding(f.clone())).unwrap();
    // Same key later in the window: suppressed. Another session: sent.
    sink.record(&Record::Finding(Finding {
        ts: TS + 10.0,
        ..f.clone()
    }))
    .unwrap();
    sink.record(&Record::Finding(Finding {
        session_id: Some(SessionId(7)),
        ..f.clone()
    }))
    .unwrap();
    // After the window: sent again.
    sink.record(&Record::Finding(Finding {
        ts: TS + 301.0,
        ..f.clone()
    }))
    .unwrap();
    let anomaly = |kind, ts| {
        Record::Anomaly(AnomalyRecord {
            kind,
            client: f.client,
            server: f.server,
            detail: "d".into(),
            bytes: 1,
            ts,
        })
    };
    sink.record(&anomaly("gap", TS)).unwrap();
    sink.record(&anomaly("flow_table_full", TS)).unwrap();
    sink.record(&anomaly("flow_table_full", TS + 1.0)).unwrap();
    sink.finish(&Default::default()).unwrap();
    let got = recv_all(&server, 5);
    assert_eq!(
        got[0],
        GOLDEN_5424.replace(" 4242 ", &format!(" {} ", std::process::id()))
    );
    assert!(got[1].contains("session_id=\"0x0000000000000007\""));
    assert!(
        got[2].starts_with("<131>1 2026-11-22T15:09:06.123456Z"),
        "{}",
        got[2]
    );
    assert!(got[3].contains(" anomaly [smbscope@32473 anomaly=\"flow_table_full\""));
    assert!(
        got[4].contains(" summary [smbscope@32473 connections=\"0\""),
        "{}",
        got[4]
    );
    assert!(
        got[4].contains("4 alerts sent, 2 suppressed as duplicates, 0 lost"),
        "{}",
        got[4]
    );
    let s = sink.stats();
    assert_eq!(
        s,
        SyslogStats {
            sent: 4,
            suppressed: 2,
            lost: 0,
            errors: 0,
            queued: 0
        }
    );
}

#[test]
fn sink_periodic_summary() {
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port();
    let mut c = config(&format!("udp://127.0.0.1:{port}"));
    c.summary_interval = Duration::from_millis(200);
    c.format = SyslogFormat::Rfc3164;
    let sink = SyslogSink::new(c).unwrap();
    let got = recv_all(&server, 2);
    for m in &got {
        assert!(m.starts_with("<134>"), "{m}");
        assert!(
            m.ends_with(&format!(
                " sensor1 smbscope[{}]: sent=0 suppressed=0 lost=0 errors=0 queued=0 \
                 msg=\"smbscope: 0 alerts sent, 0 suppressed as duplicates, 0 lost, queue depth 0\"",
                std::process::id()
            )),
            "{m}"
        );
    }
    drop(sink);
}

#[test]
fn sink_tcp_uses_octet_counting() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut sink = SyslogSink::new(config(&format!("tcp://127.0.0.1:{port}"))).unwrap();
    sink.record(&Record::Finding(finding())).unwrap();
    sink.finish(&Default::default()).unwrap();
    let (mut conn, _) = listener.accept().unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut all = Vec::new();
    conn.read_to_end(&mut all).unwrap();
    let all = String::from_utf8(all).unwrap();
    let (len, rest) = all.split_once(' ').unwrap();
    let len: usize = len.parse().unwrap();
    let first = &rest[..len];
    assert!(first.starts_with("<131>1 2026-11-22T15:04:05.123456Z sensor1 smbscope "));
    assert!(first.ends_with("the server mapped the user to guest"));
    let (len2, rest2) = rest[len..].split_once(' ').unwrap();
    assert_eq!(rest2.len(), len2.parse::<usize>().unwrap());
    assert!(rest2.contains(" summary "));
    assert_eq!(sink.stats().sent, 1);
}

#[test]
fn sink_never_blocks_when_the_server_is_down() {
    // A port nothing listens on: bind, note it, close.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut c = config(&format!("tcp://127.0.0.1:{port}"));
    c.queue = 10;
    c.dedupe_window = Duration::ZERO;
    c.flush_timeout = Duration::from_millis(300);
    let mut sink = SyslogSink::new(c).unwrap();
    let t0 = Instant::now();
    for i in 0..10_000u64 {
        sink.record(&Record::Finding(Finding {
            session_id: Some(SessionId(i)),
            ..finding()
        }))
        .unwrap();
    }
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
    let s = sink.stats();
    assert!(s.lost >= 9_990, "{s:?}");
    assert!(s.queued <= 10, "{s:?}");
    sink.finish(&Default::default()).unwrap();
    assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
    let s = sink.stats();
    assert_eq!(s.sent, 0);
    assert_eq!(s.lost, 10_001, "{s:?}");
    assert_eq!(s.queued, 0);
    assert!(s.errors >= 1, "{s:?}");
    // Records after finish are ignored.
    sink.record(&Record::Finding(finding())).unwrap();
    assert_eq!(sink.stats(), s);
}

#[test]
fn sinks_can_move_to_another_thread() {
    fn assert_send<T: Send>() {}
    assert_send::<SyslogSink>();
    assert_send::<crate::output::JsonlFileSink>();
    assert_send::<crate::output::Dedupe<crate::output::AlertKey>>();
}
