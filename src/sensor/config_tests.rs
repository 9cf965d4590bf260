//! Tests of `watch` option parsing and merging.
use super::*;

fn args() -> WatchArgs {
    WatchArgs {
        interface: Some("lo".into()),
        jsonl: Some("-".into()),
        ..WatchArgs::default()
    }
}

#[test]
fn sizes() {
    assert_eq!(parse_size("1048576"), Ok(1 << 20));
    assert_eq!(parse_size("64K"), Ok(64 << 10));
    assert_eq!(parse_size("100M"), Ok(100 << 20));
    assert_eq!(parse_size("2g"), Ok(2 << 30));
    assert_eq!(parse_size("1 GiB"), Ok(1 << 30));
    assert_eq!(parse_size("5MB"), Ok(5 << 20));
    assert!(parse_size("M").is_err());
    assert!(parse_size("10X").is_err());
    assert!(parse_size("99999999999T").is_err());
}

#[test]
fn defaults() {
    let o = merge(&args(), FileConfig::default(), Path::new("")).unwrap();
    let Source::Live { opts, filter } = &o.source else {
        panic!("live expected")
    };
    assert_eq!(opts, &LiveOptions::new("lo"));
    assert_eq!(filter, &None);
    assert_eq!(o.queue, DEFAULT_QUEUE);
    assert_eq!(o.stats_interval, Duration::from_secs(60));
    assert_eq!(o.jsonl, Some(JsonlOutput::Stdout));
    assert!(o.syslog.is_none());
}

#[test]
fn command_line_wins_over_the_file() {
    let file = parse_file(
        r#"
        interface = "eth0"
        promisc = true
        smb-port = [1445, 2445]
        queue = 10
        stats-interval = 5
        jsonl = "out/events.jsonl"
        jsonl-rotate = "100M"
        jsonl-keep = 3
        syslog = "udp://127.0.0.1:514"
        syslog-facility = "local3"
        require = ["signing", "encryption"]
        keys = ["k.keys"]
        "#,
    )
    .unwrap();
    let mut a = WatchArgs {
        interface: Some("lo".into()),
        promisc: Some(false),
        smb_ports: vec![4445],
        queue: Some(99),
        syslog_facility: Some("daemon".into()),
        ..WatchArgs::default()
    };
    let o = merge(&a, file, Path::new("/etc/smbscope")).unwrap();
    let Source::Live { opts, .. } = &o.source else {
        panic!("live expected")
    };
    assert_eq!(opts.iface, "lo");
    assert!(!opts.promisc);
    assert_eq!(o.smb_ports, vec![4445]);
    assert_eq!(o.queue, 99);
    assert_eq!(o.stats_interval, Duration::from_secs(5));
    assert_eq!(
        o.jsonl,
        Some(JsonlOutput::File {
            path: "/etc/smbscope/out/events.jsonl".into(),
            rotate_bytes: Some(100 << 20),
            keep: 3
        })
    );
    let s = o.syslog.unwrap();
    assert_eq!(s.url, "udp://127.0.0.1:514");
    assert_eq!(s.facility.as_deref(), Some("daemon"));
    assert!(o.mandates.signing && o.mandates.encryption);
    assert_eq!(o.keys.keys, vec![PathBuf::from("/etc/smbscope/k.keys")]);

    // -r on the command line replaces the file's interface.
    a.interface = None;
    a.read = Some("x.pcap".into());
    let file = parse_file("interface = \"eth0\"\njsonl = \"-\"").unwrap();
    let o = merge(&a, file, Path::new("/etc")).unwrap();
    assert_eq!(
        o.source,
        Source::Replay {
            path: "x.pcap".into(),
            realtime: false
        }
    );
}

#[test]
fn unknown_keys_are_named() {
    let e = parse_file("interface = \"lo\"\nsmb_port = [1]\nsyslg = \"x\"").unwrap_err();
    assert!(e.contains("'smb_port'") && e.contains("'syslg'"), "{e}");
    assert!(e.starts_with("unknown keys"), "{e}");
    let e = parse_file("queue = \"many\"").unwrap_err();
    assert!(e.contains("queue"), "{e}");
}

#[test]
fn every_key_is_a_field_and_an_option() {
    // Each key deserializes (deny_unknown_fields would reject a key without a field).
    for key in KEYS {
        let value = match *key {
            "realtime" | "promisc" | "immediate" => "true",
            "smb-port" | "quic-port" => "[1]",
            "keys" | "credentials" | "keylog" | "keytab" => "[\"f\"]",
            "snaplen"
            | "idle-timeout"
            | "max-flows"
            | "max-message"
            | "max-ooo-bytes"
            | "queue"
            | "stats-interval"
            | "jsonl-keep"
            | "syslog-queue"
            | "dedupe-window"
            | "summary-interval"
            | "buffer-size"
            | "jsonl-rotate"
            | "logon-window"
            | "bruteforce-threshold"
            | "spray-threshold"
            | "logon-max-clients" => "1",
            _ => "\"x\"",
        };
        parse_file(&format!("{key} = {value}")).unwrap_or_else(|e| panic!("{key}: {e}"));
    }
    // ... and is a long option of `watch`.
    use clap::CommandFactory;
    let cmd = crate::cli::Cli::command();
    let watch = cmd.find_subcommand("watch").unwrap();
    let longs: Vec<&str> = watch.get_arguments().filter_map(|a| a.get_long()).collect();
    for key in KEYS {
        assert!(longs.contains(key), "no --{key}");
    }
}

#[test]
fn the_shipped_example_uses_every_key() {
    let text = include_str!("../../dist/smbscope.toml");
    let uncommented: String = text
        .lines()
        .map(|l| {
            let t = l.trim_start();
            match t.strip_prefix("# ") {
                Some(rest) if rest.contains(" = ") && !rest.starts_with(' ') => rest,
                _ => l,
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let table: toml::Table = toml::from_str(&uncommented).unwrap();
    for key in KEYS {
        assert!(table.contains_key(*key), "dist/smbscope.toml lacks {key}");
    }
    let mut file = parse_file(&uncommented).unwrap();
    file.read = None;
    file.credentials = None;
    merge(&WatchArgs::default(), file, Path::new("/etc/smbscope")).unwrap();
    // As shipped (comments as they are), it is valid too.
    parse_file(text).unwrap();
}

#[test]
fn usage_errors() {
    let no_out = WatchArgs {
        interface: Some("lo".into()),
        ..WatchArgs::default()
    };
    let e = merge(&no_out, FileConfig::default(), Path::new("")).unwrap_err();
    assert!(e.contains("at least one output"), "{e}");
    let no_src = WatchArgs {
        jsonl: Some("-".into()),
        ..WatchArgs::default()
    };
    assert!(
        merge(&no_src, FileConfig::default(), Path::new(""))
            .unwrap_err()
            .contains("-i IFACE")
    );
    let both = parse_file("interface = \"lo\"\nread = \"x\"").unwrap();
    assert!(merge(&no_src, both, Path::new("")).is_err());
    let bad = WatchArgs {
        require: Some("sining".into()),
        ..args()
    };
    assert!(
        merge(&bad, FileConfig::default(), Path::new(""))
            .unwrap_err()
            .contains("sining")
    );
}

#[test]
fn jobs_come_from_the_command_line_the_file_or_auto() {
    let base = Path::new("");
    let o = merge(&args(), FileConfig::default(), base).unwrap();
    assert_eq!(o.jobs, Jobs::Auto);
    for (text, want) in [
        ("jobs = 3", Jobs::N(3)),
        ("jobs = \"auto\"", Jobs::Auto),
        ("jobs = \"2\"", Jobs::N(2)),
    ] {
        let o = merge(&args(), parse_file(text).unwrap(), base).unwrap();
        assert_eq!(o.jobs, want, "{text}");
    }
    let a = WatchArgs {
        jobs: Some(Jobs::N(1)),
        ..args()
    };
    assert_eq!(
        merge(&a, parse_file("jobs = 4").unwrap(), base)
            .unwrap()
            .jobs,
        Jobs::N(1)
    );
    for bad in ["jobs = 0", "jobs = \"lots\""] {
        let e = merge(&args(), parse_file(bad).unwrap(), base).unwrap_err();
        assert!(e.starts_with("jobs: "), "{bad}: {e}");
    }
}
