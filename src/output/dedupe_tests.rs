use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::*;
use crate::event::{Finding, SessionId, Severity};

fn finding(rule: &'static str, client_port: u16, session: u64) -> Finding {
    Finding {
        rule,
        severity: Severity::High,
        event_id: None,
        client: SocketAddr::from(([10, 0, 0, 5], client_port)),
        server: SocketAddr::from(([10, 0, 0, 1], 445)),
        session_id: Some(SessionId(session)),
        user: None,
        server_name: None,
        side: None,
        summary: String::new(),
        fix: "",
        mandate: None,
        ts: 0.0,
    }
}

#[test]
fn window_suppresses_repeats_then_reopens() {
    let mut d = Dedupe::new(Duration::from_secs(300), 10);
    let k = AlertKey::finding(&finding("guest", 50000, 1));
    assert_eq!(d.check(&k, 1000.0), Verdict::Send);
    assert_eq!(d.check(&k, 1000.0), Verdict::Suppress);
    assert_eq!(d.check(&k, 1299.9), Verdict::Suppress);
    assert_eq!(d.repeats(&k), Some(2));
    // The window is measured from its first alert, not slid by repeats.
    assert_eq!(d.check(&k, 1300.0), Verdict::Send);
    assert_eq!(d.repeats(&k), Some(0));
    assert_eq!(d.check(&k, 1400.0), Verdict::Suppress);
    assert_eq!(d.suppressed(), 3);
}

#[test]
fn key_fields_separate_alerts() {
    let mut d = Dedupe::new(Duration::from_secs(300), 10);
    let base = finding("guest", 50000, 1);
    assert_eq!(d.check(&AlertKey::finding(&base), 0.0), Verdict::Send);
    for f in [
        finding("anonymous", 50000, 1),
        finding("guest", 50001, 1),
        finding("guest", 50000, 2),
        Finding {
            side: Some("client"),
            ..base.clone()
        },
        Finding {
            server: SocketAddr::from(([10, 0, 0, 2], 445)),
            ..base.clone()
        },
    ] {
        assert_eq!(d.check(&AlertKey::finding(&f), 1.0), Verdict::Send, "{f:?}");
    }
    // Summary, severity and time are not part of the key.
    let same = Finding {
        summary: "other words".into(),
        severity: Severity::Low,
        ts: 5.0,
        ..base
    };
    assert_eq!(d.check(&AlertKey::finding(&same), 5.0), Verdict::Suppress);
}

#[test]
fn anomalies_dedupe_by_kind_alone() {
    let a = |client_port: u16| AnomalyRecord {
        kind: "flow_table_full",
        client: SocketAddr::from(([10, 0, 0, 5], client_port)),
        server: SocketAddr::from(([10, 0, 0, 1], 445)),
        detail: String::new(),
        bytes: 0,
        ts: 0.0,
    };
    let mut d = Dedupe::new(Duration::from_secs(60), 10);
    assert_eq!(d.check(&AlertKey::anomaly(&a(1)), 0.0), Verdict::Send);
    assert_eq!(d.check(&AlertKey::anomaly(&a(2)), 1.0), Verdict::Suppress);
}

#[test]
fn zero_window_sends_everything() {
    let mut d = Dedupe::new(Duration::ZERO, 10);
    for _ in 0..5 {
        assert_eq!(d.check(&1u32, 0.0), Verdict::Send);
    }
    assert_eq!(d.suppressed(), 0);
    assert!(d.is_empty());
}

#[test]
fn time_going_backwards_within_window_is_a_repeat() {
    let mut d = Dedupe::new(Duration::from_secs(300), 10);
    assert_eq!(d.check(&1u32, 1000.0), Verdict::Send);
    assert_eq!(d.check(&1u32, 900.0), Verdict::Suppress);
    assert_eq!(d.check(&1u32, 600.0), Verdict::Send);
    // Non-finite time never suppresses (and never panics).
    assert_eq!(d.check(&1u32, f64::NAN), Verdict::Send);
}

#[test]
fn bound_evicts_oldest() {
    let mut d = Dedupe::new(Duration::from_secs(300), 3);
    for k in 0..3u32 {
        assert_eq!(d.check(&k, 10.0 + f64::from(k)), Verdict::Send);
    }
    // Key 0 is refreshed as a repeat, which does not make it younger.
    assert_eq!(d.check(&0, 13.0), Verdict::Suppress);
    assert_eq!(d.check(&3, 14.0), Verdict::Send);
    assert_eq!(d.len(), 3);
    assert_eq!(d.evicted(), 1);
    // 0 was the oldest window: forgotten, so it is sent again; 1 and 2 are still suppressed.
    assert_eq!(d.check(&1, 15.0), Verdict::Suppress);
    assert_eq!(d.check(&2, 15.0), Verdict::Suppress);
    assert_eq!(d.check(&0, 15.0), Verdict::Send);
    assert_eq!(d.len(), 3);
}

#[test]
fn bound_holds_under_many_keys() {
    let mut d = Dedupe::new(Duration::from_secs(300), 1000);
    for k in 0..100_000u32 {
        d.check(&k, 1.0);
        assert!(d.len() <= 1000);
    }
    assert_eq!(d.order.len(), d.len());
    assert_eq!(d.evicted(), 99_000);
}

#[test]
fn closed_windows_are_forgotten() {
    let mut d = Dedupe::new(Duration::from_secs(10), 100);
    for k in 0..50u32 {
        d.check(&k, 0.0);
    }
    assert_eq!(d.len(), 50);
    d.check(&1000, 20.0);
    assert_eq!(d.len(), 1);
    assert_eq!(d.evicted(), 0);
}

#[test]
fn reporter_rate_limits_and_folds() {
    let t0 = Instant::now();
    let s = |n: u64| Duration::from_secs(n);
    let mut r = ErrorReporter::new("p", s(60));
    assert_eq!(r.error(t0, "refused").as_deref(), Some("p: refused"));
    assert_eq!(r.error(t0 + s(1), "refused"), None);
    assert_eq!(r.error(t0 + s(2), "reset"), None);
    assert_eq!(r.next_due(), Some(t0 + s(60)));
    assert_eq!(r.tick(t0 + s(59)), None);
    let line = r.tick(t0 + s(60)).unwrap();
    assert_eq!(line, "p: 2 more errors since the last report (last: reset)");
    assert_eq!(r.tick(t0 + s(200)), None);
    assert_eq!(r.next_due(), None);
    // Due again at once after a quiet interval.
    assert!(r.error(t0 + s(200), "x").is_some());
    assert_eq!(r.error(t0 + s(201), "y"), None);
    assert_eq!(
        r.flush().as_deref(),
        Some("p: 1 more error since the last report (last: y)")
    );
    assert_eq!(r.flush(), None);
}

#[test]
fn reporter_caps_long_messages() {
    let mut r = ErrorReporter::new("p", Duration::from_secs(60));
    let line = r.error(Instant::now(), "é".repeat(1000)).unwrap();
    assert!(line.len() <= 403, "{}", line.len());
}
