//! End-to-end syslog delivery: a real rsyslogd on loopback receives what `SyslogSink` sends over
//! UDP and TCP (RFC 5424 and RFC 3164), and the messages are parsed back into the finding's
//! fields. Fault tests: server down at start, server coming back, bounded queue. Tests that need
//! rsyslogd print a NOTICE and pass when `/usr/sbin/rsyslogd` is absent.

#[path = "support/rsyslog.rs"]
mod rsyslog;

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::net::{UnixDatagram, UnixListener};
use std::thread;
use std::time::{Duration, Instant};

use rsyslog::{Parsed, Rsyslog, TempDir, available, free_tcp_port};
use smbscope::event::{Finding, Record, SessionId, Severity, Summary};
use smbscope::output::{Sink, SyslogConfig, SyslogFormat, SyslogSink, SyslogStats};

/// 2026-11-22T15:04:05.123456Z.
const TS: f64 = 1_795_359_845.123_456;
const WAIT: Duration = Duration::from_secs(10);

fn base() -> Finding {
    Finding {
        rule: "guest",
        severity: Severity::High,
        event_id: Some(31022),
        client: "10.0.0.5:50123".parse().unwrap(),
        server: "10.0.0.1:445".parse().unwrap(),
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

/// Findings covering optional fields and characters that need escaping.
fn findings() -> Vec<Finding> {
    vec![
        base(),
        Finding {
            rule: "signing.not_required",
            severity: Severity::Medium,
            event_id: None,
            session_id: None,
            user: None,
            server_name: None,
            side: Some("server"),
            mandate: Some("signing"),
            summary: "the server does not require signing".into(),
            ts: TS + 1.5,
            ..base()
        },
        Finding {
            rule: "ntlmv1",
            severity: Severity::Low,
            client: "[fd00::5]:49152".parse().unwrap(),
            server: "[fd00::1]:445".parse().unwrap(),
            user: Some(r#"we"ird]\user"#.into()),
            event_id: None,
            summary: "NTLMv1 response from \"we\"ird]\\user\"".into(),
            ts: TS + 2.0,
            ..base()
        },
        Finding {
            rule: "logon.failed",
            severity: Severity::Info,
            event_id: Some(551),
            user: Some("bob".into()),
            summary: "SESSION_SETUP failed: STATUS_LOGON_FAILURE".into(),
            ts: TS + 3.0,
            ..base()
        },
    ]
}

fn config(target: String, format: SyslogFormat) -> SyslogConfig {
    let mut c = SyslogConfig::new(target.parse().unwrap());
    c.format = format;
    c.hostname = Some("sensor1".into());
    c.summary_interval = Duration::ZERO;
    c
}

/// Sends the findings, plus a duplicate of the first (suppressed) and a connection record
/// (not sent), then finishes.
fn send_all(sink: &mut SyslogSink) -> SyslogStats {
    for f in findings() {
        sink.record(&Record::Finding(f)).unwrap();
    }
    let dup = Finding {
        ts: TS + 60.0,
        ..base()
    };
    sink.record(&Record::Finding(dup)).unwrap();
    sink.finish(&Summary {
        connections: 3,
        sessions: 4,
        ..Summary::default()
    })
    .unwrap();
    sink.stats()
}

/// The fields of a finding as the messages carry them.
fn expected_fields(f: &Finding) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    m.insert("rule".into(), f.rule.into());
    m.insert("severity".into(), f.severity.as_str().into());
    if let Some(id) = f.event_id {
        m.insert("event_id".into(), id.to_string());
    }
    m.insert("client".into(), f.client.to_string());
    m.insert("server".into(), f.server.to_string());
    if let Some(s) = f.session_id {
        m.insert("session_id".into(), s.to_string());
    }
    for (k, v) in [
        ("user", f.user.clone()),
        ("server_name", f.server_name.clone()),
        ("side", f.side.map(String::from)),
        ("mandate", f.mandate.map(String::from)),
    ] {
        if let Some(v) = v {
            m.insert(k.into(), v);
        }
    }
    m
}

fn pri(f: &Finding) -> String {
    // local0 (16) * 8 + err 3 / warning 4 / notice 5 / info 6.
    let sev = match f.severity {
        Severity::High => 3,
        Severity::Medium => 4,
        Severity::Low => 5,
        Severity::Info => 6,
    };
    (16 * 8 + sev).to_string()
}

/// The RFC 3339 form of the test findings' times (all within 2026-11-22T15:04:05..10Z).
fn timestamp(ts: f64) -> String {
    let off = ts - 1_795_359_845.0;
    assert!((0.0..5.0).contains(&off));
    let micros = (off * 1e6).round() as u64;
    format!(
        "2026-11-22T15:04:{:02}.{:06}Z",
        5 + micros / 1_000_000,
        micros % 1_000_000
    )
}

/// Parses one RFC 5424 SD-ELEMENT back into its id and parameters (RFC 5424 §6.3.3 escapes).
fn parse_sd(sd: &str) -> (String, BTreeMap<String, String>) {
    let inner = sd
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or_else(|| panic!("not one SD element: {sd}"));
    let (id, mut rest) = inner.split_once(' ').unwrap_or((inner, ""));
    let mut params = BTreeMap::new();
    while !rest.is_empty() {
        let (name, after) = rest.split_once("=\"").expect("name=\"");
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next().expect("unterminated value") {
                (_, '\\') => value.push(chars.next().expect("escape").1),
                (i, '"') => break i,
                (_, c) => value.push(c),
            }
        };
        params.insert(name.trim().to_string(), value);
        rest = after[end + 1..].trim_start();
    }
    (id.to_string(), params)
}

/// Parses RFC 3164 MSG `k=v k="quoted \" value" …`.
fn parse_kv(msg: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut rest = msg.trim_start();
    while !rest.is_empty() {
        let (name, after) = rest.split_once('=').expect("k=v");
        let mut value = String::new();
        let consumed;
        if let Some(q) = after.strip_prefix('"') {
            let mut chars = q.char_indices();
            let end = loop {
                match chars.next().expect("unterminated value") {
                    (_, '\\') => value.push(chars.next().expect("escape").1),
                    (i, '"') => break i,
                    (_, c) => value.push(c),
                }
            };
            consumed = 1 + end + 1;
        } else {
            let end = after.find(' ').unwrap_or(after.len());
            value.push_str(&after[..end]);
            consumed = end;
        }
        out.insert(name.to_string(), value);
        rest = after[consumed..].trim_start();
    }
    out
}

/// Checks what rsyslog parsed from the RFC 5424 messages against the findings sent.
fn check_5424(got: &[Parsed], findings: &[Finding]) {
    let pid = std::process::id().to_string();
    assert_eq!(got.len(), findings.len() + 1, "{got:#?}");
    for (p, f) in got.iter().zip(findings) {
        assert_eq!(p.pri, pri(f), "{p:?}");
        assert_eq!(p.timestamp, timestamp(f.ts), "{p:?}");
        assert_eq!(p.hostname, "sensor1");
        assert_eq!(p.app_name, "smbscope");
        assert_eq!(p.procid, pid);
        assert_eq!(p.msgid, f.rule);
        let (id, params) = parse_sd(&p.structured_data);
        assert_eq!(id, "smbscope@32473");
        assert_eq!(params, expected_fields(f), "{p:?}");
        assert_eq!(p.msg, f.summary);
    }
    let last = got.last().unwrap();
    assert_eq!(last.msgid, "summary");
    assert_eq!(last.pri, "134");
    let (_, params) = parse_sd(&last.structured_data);
    assert_eq!(params["connections"], "3");
    assert_eq!(params["sessions"], "4");
    assert_eq!(params["sent"], findings.len().to_string());
    assert_eq!(params["suppressed"], "1");
    assert_eq!(params["lost"], "0");
    assert!(
        last.msg
            .starts_with("smbscope: finished: 3 connections, 4 sessions")
    );
}

#[test]
fn rfc5424_over_udp_parsed_back() {
    if !available("rfc5424_over_udp_parsed_back") {
        return;
    }
    let server = Rsyslog::start(None);
    let target = format!("udp://127.0.0.1:{}", server.udp_port);
    let mut sink = SyslogSink::new(config(target, SyslogFormat::Rfc5424)).unwrap();
    let stats = send_all(&mut sink);
    assert_eq!(
        (stats.sent, stats.suppressed, stats.lost),
        (4, 1, 0),
        "{stats:?}"
    );
    let got = server.wait_messages(5, WAIT);
    check_5424(&got, &findings());
    // The raw datagram is the RFC 5424 message itself.
    let raw = server.raw();
    assert!(raw[0].starts_with("<131>1 2026-11-22T15:04:05.123456Z sensor1 smbscope "));
}

#[test]
fn rfc5424_over_tcp_parsed_back() {
    if !available("rfc5424_over_tcp_parsed_back") {
        return;
    }
    let server = Rsyslog::start(None);
    let target = format!("tcp://127.0.0.1:{}", server.tcp_port);
    let mut sink = SyslogSink::new(config(target, SyslogFormat::Rfc5424)).unwrap();
    let stats = send_all(&mut sink);
    assert_eq!(
        (stats.sent, stats.suppressed, stats.lost),
        (4, 1, 0),
        "{stats:?}"
    );
    // Octet-counted frames were split correctly: one message each, nothing glued together.
    let got = server.wait_messages(5, WAIT);
    check_5424(&got, &findings());
}

#[test]
fn rfc3164_over_udp_parsed_back() {
    if !available("rfc3164_over_udp_parsed_back") {
        return;
    }
    let server = Rsyslog::start(None);
    let target = format!("udp://127.0.0.1:{}", server.udp_port);
    let mut sink = SyslogSink::new(config(target, SyslogFormat::Rfc3164)).unwrap();
    let stats = send_all(&mut sink);
    assert_eq!(
        (stats.sent, stats.suppressed, stats.lost),
        (4, 1, 0),
        "{stats:?}"
    );
    let got = server.wait_messages(5, WAIT);
    let findings = findings();
    assert_eq!(got.len(), 5, "{got:#?}");
    let tag = format!("smbscope[{}]:", std::process::id());
    for (p, f) in got.iter().zip(&findings) {
        assert_eq!(p.pri, pri(f), "{p:?}");
        assert_eq!(p.hostname, "sensor1");
        assert_eq!(p.syslogtag, tag);
        // RFC 3164 has no year: rsyslog fills in the current one.
        assert!(p.timestamp.contains("-11-22T15:04:0"), "{}", p.timestamp);
        let mut kv = parse_kv(&p.msg);
        assert_eq!(
            kv.remove("msg").as_deref(),
            Some(f.summary.as_str()),
            "{p:?}"
        );
        assert_eq!(kv, expected_fields(f), "{p:?}");
    }
    assert!(
        got[4].msg.contains("smbscope: finished: 3 connections"),
        "{:?}",
        got[4]
    );
}

#[test]
fn tcp_server_down_counts_losses_without_blocking() {
    let port = free_tcp_port();
    let mut c = config(format!("tcp://127.0.0.1:{port}"), SyslogFormat::Rfc5424);
    c.flush_timeout = Duration::from_millis(500);
    let mut sink = SyslogSink::new(c).unwrap();
    let t0 = Instant::now();
    for f in findings() {
        sink.record(&Record::Finding(f)).unwrap();
    }
    assert!(
        t0.elapsed() < Duration::from_millis(200),
        "{:?}",
        t0.elapsed()
    );
    thread::sleep(Duration::from_millis(300));
    let s = sink.stats();
    assert!(s.errors >= 1, "{s:?}");
    assert_eq!((s.sent, s.queued), (0, 4), "{s:?}");
    sink.finish(&Summary::default()).unwrap();
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
    let s = sink.stats();
    // The four findings and the final summary.
    assert_eq!((s.sent, s.lost, s.queued), (0, 5, 0), "{s:?}");
}

#[test]
fn tcp_delivery_resumes_when_the_server_comes_back() {
    if !available("tcp_delivery_resumes_when_the_server_comes_back") {
        return;
    }
    let port = free_tcp_port();
    let mut c = config(format!("tcp://127.0.0.1:{port}"), SyslogFormat::Rfc5424);
    c.reconnect_max = Duration::from_millis(400);
    c.dedupe_window = Duration::ZERO;
    let mut sink = SyslogSink::new(c).unwrap();
    let all = findings();

    // Down at start: messages wait in the queue.
    sink.record(&Record::Finding(all[0].clone())).unwrap();
    sink.record(&Record::Finding(all[1].clone())).unwrap();
    thread::sleep(Duration::from_millis(500));
    let s = sink.stats();
    assert!(s.errors >= 1 && s.sent == 0 && s.queued == 2, "{s:?}");

    // Comes up: the queued ones and later ones are delivered, in order.
    let first = Rsyslog::start(Some(port));
    sink.record(&Record::Finding(all[2].clone())).unwrap();
    wait_sent(&sink, 3);
    let got = first.wait_messages(3, WAIT);
    let rules: Vec<&str> = got.iter().map(|p| p.msgid.as_str()).collect();
    assert_eq!(rules, ["guest", "signing.not_required", "ntlmv1"]);

    // Goes down again, then comes back on the same port: delivery resumes.
    drop(first);
    thread::sleep(Duration::from_millis(200));
    sink.record(&Record::Finding(all[3].clone())).unwrap();
    thread::sleep(Duration::from_millis(300));
    let second = Rsyslog::start(Some(port));
    wait_sent(&sink, 4);
    sink.finish(&Summary::default()).unwrap();
    let got = second.wait_messages(2, WAIT);
    let rules: Vec<&str> = got.iter().map(|p| p.msgid.as_str()).collect();
    assert_eq!(rules, ["logon.failed", "summary"]);
    let s = sink.stats();
    assert_eq!((s.sent, s.lost, s.queued), (4, 0, 0), "{s:?}");
    assert!(s.errors >= 2, "{s:?}");
}

fn wait_sent(sink: &SyslogSink, n: u64) {
    let t0 = Instant::now();
    while sink.stats().sent < n {
        assert!(t0.elapsed() < WAIT, "not delivered: {:?}", sink.stats());
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn bounded_queue_drops_instead_of_blocking() {
    let port = free_tcp_port();
    let mut c = config(format!("tcp://127.0.0.1:{port}"), SyslogFormat::Rfc5424);
    c.queue = 10;
    c.flush_timeout = Duration::from_millis(200);
    let mut sink = SyslogSink::new(c).unwrap();
    let t0 = Instant::now();
    for i in 0..10_000u64 {
        let f = Finding {
            session_id: Some(SessionId(i)),
            ..base()
        };
        sink.record(&Record::Finding(f)).unwrap();
    }
    let elapsed = t0.elapsed();
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    let s = sink.stats();
    assert!(s.lost >= 9_990, "{s:?}");
    assert!(s.queued <= 10, "{s:?}");
    sink.finish(&Summary::default()).unwrap();
    assert_eq!(sink.stats().lost, 10_001);
}

#[test]
fn unix_datagram_socket() {
    let dir = TempDir::new("unix-dgram");
    let path = dir.0.join("log");
    let server = UnixDatagram::bind(&path).unwrap();
    server
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let target = format!("unix://{}", path.display());
    let mut sink = SyslogSink::new(config(target, SyslogFormat::Rfc3164)).unwrap();
    sink.record(&Record::Finding(base())).unwrap();
    sink.finish(&Summary::default()).unwrap();
    let mut buf = [0u8; 4096];
    let n = server.recv(&mut buf).unwrap();
    let m = std::str::from_utf8(&buf[..n]).unwrap();
    assert!(
        m.starts_with("<131>Nov 22 15:04:05 sensor1 smbscope["),
        "{m}"
    );
    assert!(!m.ends_with('\n'));
    let n = server.recv(&mut buf).unwrap();
    assert!(std::str::from_utf8(&buf[..n]).unwrap().contains("finished"));
}

#[test]
fn unix_stream_socket_fallback() {
    let dir = TempDir::new("unix-stream");
    let path = dir.0.join("log");
    let listener = UnixListener::bind(&path).unwrap();
    let target = format!("unix://{}", path.display());
    let mut sink = SyslogSink::new(config(target, SyslogFormat::Rfc5424)).unwrap();
    sink.record(&Record::Finding(base())).unwrap();
    let (mut conn, _) = listener.accept().unwrap();
    sink.finish(&Summary::default()).unwrap();
    drop(sink);
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut text = String::new();
    conn.read_to_string(&mut text).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].starts_with("<131>1 2026-11-22T15:04:05.123456Z sensor1 smbscope "));
    assert!(lines[1].contains(" summary "));
}
