use std::net::SocketAddr;

use super::*;

fn note(client: &str, user: &str, status: NtStatus, secs: u64) -> LogonNote {
    let client: SocketAddr = format!("{client}:40000").parse().unwrap();
    LogonNote {
        key: FlowKey {
            client,
            server: "10.0.0.1:445".parse().unwrap(),
        },
        server_name: None,
        user: Some(user.to_owned()),
        domain: Some("CORP".to_owned()),
        status,
        keyless: false,
        ts: Timestamp::from_secs(1_700_000_000 + secs),
    }
}

fn run(t: &mut LogonTracker, notes: &[LogonNote]) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    for n in notes {
        t.note(n, Mandates::default(), &mut out);
    }
    out.into_iter()
        .map(|r| match r {
            Record::Finding(f) => (f.rule, f.summary),
            Record::Anomaly(a) => (a.kind, a.detail),
            other => panic!("{other:?}"),
        })
        .collect()
}

#[test]
fn bruteforce_fires_once_per_window_at_the_threshold() {
    let mut t = LogonTracker::new(LogonPolicy::default());
    let fails: Vec<_> = (0..25)
        .map(|i| note("10.0.0.9", "alice", NtStatus::LOGON_FAILURE, i))
        .collect();
    let got = run(&mut t, &fails);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, "logon.bruteforce");
    assert!(
        got[0]
            .1
            .starts_with("10 failed logons for CORP\\alice from 10.0.0.9"),
        "{}",
        got[0].1
    );
    // After the window, a new burst is a new finding; a slow trickle never is.
    let later: Vec<_> = (0..10)
        .map(|i| note("10.0.0.9", "alice", NtStatus::WRONG_PASSWORD, 400 + i))
        .collect();
    assert_eq!(run(&mut t, &later).len(), 1);
    let mut slow = LogonTracker::new(LogonPolicy::default());
    let trickle: Vec<_> = (0..30)
        .map(|i| note("10.0.0.9", "alice", NtStatus::LOGON_FAILURE, i * 60))
        .collect();
    assert!(run(&mut slow, &trickle).is_empty());
}

#[test]
fn spray_from_one_client_and_from_several() {
    let mut t = LogonTracker::new(LogonPolicy::default());
    let one: Vec<_> = (0..30)
        .map(|i| {
            note(
                "10.0.0.9",
                &format!("user{i:02}"),
                NtStatus::LOGON_FAILURE,
                i,
            )
        })
        .collect();
    let got = run(&mut t, &one);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, "logon.spray");
    assert!(
        got[0]
            .1
            .contains("10 distinct users (CORP\\user00, CORP\\user01, CORP\\user02, CORP\\user03, CORP\\user04, …)"),
        "{}",
        got[0].1
    );

    let mut t = LogonTracker::new(LogonPolicy::default());
    let many: Vec<_> = (0..30)
        .map(|i| {
            let c = format!("10.0.1.{}", i % 5);
            note(&c, &format!("user{i:02}"), NtStatus::LOGON_FAILURE, i)
        })
        .collect();
    let got = run(&mut t, &many);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, "logon.spray");
    assert!(got[0].1.contains("from 5 clients"), "{}", got[0].1);
}

#[test]
fn lockout_and_success_after_a_spray() {
    let mut t = LogonTracker::new(LogonPolicy::default());
    let mut notes: Vec<_> = (0..3)
        .map(|i| note("10.0.0.9", "alice", NtStatus::LOGON_FAILURE, i))
        .collect();
    notes.push(note("10.0.0.9", "alice", NtStatus::ACCOUNT_LOCKED_OUT, 4));
    notes.push(note("10.0.0.9", "alice", NtStatus::ACCOUNT_LOCKED_OUT, 5));
    let got = run(&mut t, &notes);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, "logon.lockout");

    // A success with no attack before it is ordinary; after a spray it is the spray working.
    let mut t = LogonTracker::new(LogonPolicy::default());
    assert!(run(&mut t, &[note("10.0.0.9", "bob", NtStatus::SUCCESS, 0)]).is_empty());
    let mut spray: Vec<_> = (0..10)
        .map(|i| {
            note(
                "10.0.0.9",
                &format!("user{i:02}"),
                NtStatus::LOGON_FAILURE,
                1 + i,
            )
        })
        .collect();
    spray.push(note("10.0.0.9", "user03", NtStatus::PASSWORD_EXPIRED, 20));
    spray.push(note("10.0.0.9", "bob", NtStatus::SUCCESS, 21));
    let got = run(&mut t, &spray);
    let rules: Vec<_> = got.iter().map(|g| g.0).collect();
    assert_eq!(
        rules,
        ["logon.spray", "logon.success_after_failures"],
        "{got:?}"
    );
    assert!(got[1].1.contains("STATUS_PASSWORD_EXPIRED"), "{}", got[1].1);
    // Guest and anonymous successes prove nothing.
    let mut t = LogonTracker::new(LogonPolicy::default());
    let mut g = spray[..10].to_vec();
    let mut guest = note("10.0.0.9", "visitor", NtStatus::SUCCESS, 30);
    guest.keyless = true;
    g.push(guest);
    assert_eq!(run(&mut t, &g).len(), 1);
}

/// A flood of failing logons from 100k clients: the tables stay at their caps, one anomaly
/// says so per window, and an attack from a tracked client is still found.
#[test]
fn state_stays_bounded_under_a_flood() {
    let policy = LogonPolicy {
        max_clients: 1000,
        ..LogonPolicy::default()
    };
    let mut t = LogonTracker::new(policy);
    let mut out = Vec::new();
    for i in 0..100_000u32 {
        let ip = std::net::Ipv4Addr::from(0x0a00_0000 + i);
        let n = note(
            &ip.to_string(),
            &format!("u{i}"),
            NtStatus::LOGON_FAILURE,
            u64::from(i / 1000),
        );
        t.note(&n, Mandates::default(), &mut out);
    }
    assert_eq!(t.clients.len(), 1000);
    assert!(t.servers.len() <= 1000);
    assert!(t.evicted >= 99_000);
    let kinds: Vec<&str> = out
        .iter()
        .map(|r| match r {
            Record::Finding(f) => f.rule,
            Record::Anomaly(a) => a.kind,
            _ => "?",
        })
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "logon_state_full").count(),
        1
    );
    // The server saw thousands of users from thousands of clients: one distributed spray.
    assert_eq!(
        kinds.iter().filter(|k| **k == "logon.spray").count(),
        1,
        "{kinds:?}"
    );
    let users = t
        .servers
        .iter()
        .map(|(_, s)| s.users.len())
        .max()
        .unwrap_or(0);
    assert!(users <= MAX_USERS);
}
