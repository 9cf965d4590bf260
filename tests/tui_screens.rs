//! Screens of `smbscope tui`, drawn with ratatui's TestBackend from the records of
//! captures/mixed.pcap (and a signed-and-encrypted capture for the "insecure only" filter).
//! Assertions are on substrings and cell colours, not full-screen dumps.

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::Color;

use smbscope::engine::{Config, analyze_file};
use smbscope::tui::app::{Action, App, Mode};
use smbscope::tui::view;

fn records(name: &str) -> Vec<smbscope::event::Record> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("captures")
        .join(name);
    analyze_file(&path, Config::default()).expect("bundled capture")
}

fn mixed() -> App {
    App::from_records("file captures/mixed.pcap", records("mixed.pcap"))
}

fn render(app: &App, w: u16, h: u16) -> Buffer {
    let mut t = Terminal::new(TestBackend::new(w, h)).expect("test backend");
    t.draw(|f| view::draw(app, f)).expect("draw");
    t.backend().buffer().clone()
}

fn lines(b: &Buffer) -> Vec<String> {
    let w = b.area.width as usize;
    b.content
        .chunks(w)
        .map(|row| row.iter().map(|c| c.symbol()).collect::<String>())
        .collect()
}

fn text(b: &Buffer) -> String {
    lines(b).join("\n")
}

/// The (x, y) of the first occurrence of `needle` on a line that also holds `on_line`.
fn find(b: &Buffer, on_line: &str, needle: &str) -> (u16, u16) {
    for (y, l) in lines(b).iter().enumerate() {
        if l.contains(on_line) {
            if let Some(i) = l.find(needle) {
                // Column = number of chars before the byte offset (box-drawing chars are
                // multi-byte but one cell wide).
                let x = l[..i].chars().count();
                return (x as u16, y as u16);
            }
        }
    }
    panic!("{needle:?} not on a line with {on_line:?}:\n{}", text(b));
}

fn press(app: &mut App, actions: &[Action]) {
    for a in actions {
        app.on_action(*a);
    }
}

/// Clears the filter (Esc), then types a new one (`/` text Enter).
fn type_filter(app: &mut App, s: &str) {
    app.on_action(Action::Back);
    app.on_action(Action::StartFilter);
    for c in s.chars() {
        app.on_action(Action::FilterChar(c));
    }
    app.on_action(Action::Enter);
}

#[test]
fn main_screen_80x24_shows_sessions_highlighted_by_severity() {
    let app = mixed();
    let b = render(&app, 80, 24);
    let t = text(&b);
    for s in [
        "smbscope",
        "mixed.pcap",
        "Sessions 10",
        "visitor",
        "SMB1",
        "ntlmv1",
        "Events",
    ] {
        assert!(t.contains(s), "{s:?} missing:\n{t}");
    }
    // The guest session: its Guest cell says "yes", in red (high).
    let (x, y) = find(&b, "visitor", "yes");
    assert_eq!(b[(x, y)].fg, Color::Red, "guest cell colour:\n{t}");
    // SMB1: dialect cell red too.
    let (x, y) = find(&b, "SMB1", "SMB1");
    assert_eq!(b[(x, y)].fg, Color::Red);
    // The NTLMv1 auth cell: red.
    let (x, y) = find(&b, "ntlmv1", "ntlmv1");
    assert_eq!(b[(x, y)].fg, Color::Red);
    // A server requiring signing shows "n/y", and its remaining findings are low (cyan).
    let (x, y) = find(&b, "n/y", "none");
    assert_eq!(b[(x, y)].fg, Color::Cyan, "session.unencrypted is low");
    // Event pane, newest first: the failed logon came last.
    let events: Vec<String> = lines(&b)
        .into_iter()
        .skip_while(|l| !l.contains("Events"))
        .collect();
    assert!(events[1].contains("logon.failed [551]"), "{events:?}");
    assert!(t.contains("q quit"), "footer:\n{t}");
}

#[test]
fn main_screen_120x40_shows_full_columns_and_guest_event() {
    let app = mixed();
    let b = render(&app, 120, 40);
    let t = text(&b);
    for s in [
        "127.0.0.1:445 (vm)",
        "visitor",
        "share AES-128-GCM",
        "client AES-128-GCM",
        "logon.failed [551]",
        "anonymous",
    ] {
        assert!(t.contains(s), "{s:?} missing:\n{t}");
    }
    let (x, y) = find(&b, "NTLMv1 (24-byte", "high");
    assert_eq!(b[(x, y)].fg, Color::Red);
    // Older events: the filter brings them up.
    let mut app = app;
    type_filter(&mut app, "31022");
    let t = text(&render(&app, 120, 40));
    assert!(
        t.contains("guest [31022]") && t.contains("Sessions 1"),
        "{t}"
    );
    type_filter(&mut app, "smb1");
    let t = text(&render(&app, 120, 40));
    assert!(
        t.contains("smb1 [32002]") && t.contains("Sessions 1"),
        "{t}"
    );
}

#[test]
fn detail_of_the_guest_session_shows_the_fix() {
    let mut app = mixed();
    type_filter(&mut app, "visitor");
    press(&mut app, &[Action::Enter]);
    assert!(matches!(app.mode, Mode::Detail { .. }));
    let b = render(&app, 120, 40);
    let t = text(&b);
    for s in [
        "Session 0x00000000cd009718",
        "guest yes",
        "\\\\127.0.0.1\\public [disk]",
        "guest.txt",
        "HIGH guest [event 31022]",
        "EnableInsecureGuestLogons",
    ] {
        assert!(t.contains(s), "{s:?} missing:\n{t}");
    }
    // At 80x24 the fix is further down: scrolling reaches it.
    let mut shown = false;
    for _ in 0..40 {
        if text(&render(&app, 80, 24)).contains("EnableInsecureGuestLogons") {
            shown = true;
            break;
        }
        app.on_action(Action::Down);
    }
    assert!(shown, "fix never scrolled into view");
    press(&mut app, &[Action::Back]);
    assert_eq!(app.mode, Mode::Table);
}

#[test]
fn filter_keeps_matching_rows_and_esc_clears_it() {
    let mut app = mixed();
    type_filter(&mut app, "guest");
    let t = text(&render(&app, 80, 24));
    assert!(t.contains("Sessions 1"), "{t}");
    assert!(t.contains("filter: guest"), "{t}");
    let table: String = lines(&render(&app, 80, 24))
        .into_iter()
        .take_while(|l| !l.contains("Events"))
        .collect();
    assert!(table.contains("visitor"));
    assert!(!table.contains("alice"), "{table}");
    // The event pane follows the filter.
    assert!(t.contains("guest [31022]") && !t.contains("ntlmv1"), "{t}");
    // Typing shows in the footer.
    app.on_action(Action::StartFilter);
    app.on_action(Action::FilterChar('x'));
    assert!(text(&render(&app, 80, 24)).contains("/guestx"));
    app.on_action(Action::Back);
    let t = text(&render(&app, 80, 24));
    assert!(t.contains("Sessions 10"), "{t}");
    // By rule and by user.
    type_filter(&mut app, "ntlmv1");
    assert_eq!(app.rows().len(), 1);
    type_filter(&mut app, "alice");
    assert_eq!(app.rows().len(), 8);
}

#[test]
fn insecure_only_hides_secure_sessions() {
    // 127.0.0.1:36522 (server requires signing) has only low findings.
    let mut app = mixed();
    assert!(text(&render(&app, 80, 24)).contains("36522"));
    app.on_action(Action::ToggleInsecure);
    assert_eq!(app.rows().len(), 9);
    let t = text(&render(&app, 80, 24));
    assert!(t.contains("insecure only") && t.contains("visitor"), "{t}");
    assert!(!t.contains("36522"), "{t}");
    app.on_action(Action::ToggleInsecure);
    assert_eq!(app.rows().len(), 10);
}

#[test]
fn smb_over_quic_rows_say_quic() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/quic");
    let log = std::fs::read_to_string(dir.join("quic-smb311.keylog")).expect("key log");
    let config = Config {
        keylog: std::sync::Arc::new(smbscope::quic::keylog::KeyLog::parse(&log).0),
        ..Config::default()
    };
    let records = analyze_file(&dir.join("quic-smb311.pcap"), config).expect("capture");
    let app = App::from_records("quic", records);
    let t = text(&render(&app, 120, 40));
    assert!(t.contains("QUIC"), "{t}");
    assert!(t.contains("[30832]") || t.contains("quic/"), "{t}");
}

#[test]
fn help_overlay_sort_and_pause() {
    let mut app = mixed();
    app.on_action(Action::ToggleHelp);
    let t = text(&render(&app, 80, 24));
    assert!(
        t.contains("Help") && t.contains("only insecure sessions"),
        "{t}"
    );
    app.on_action(Action::Back);
    assert!(!text(&render(&app, 80, 24)).contains("only insecure sessions"));

    app.on_action(Action::CycleSort);
    assert!(text(&render(&app, 80, 24)).contains("sort: client"));
    let rows = app.rows();
    assert!(rows.windows(2).all(|w| w[0].conn.0 <= w[1].conn.0));

    // Paused: records keep coming but the view is frozen until resumed.
    let mut app = App::new("live");
    app.on_action(Action::TogglePause);
    for r in records("guest.pcap") {
        app.apply(r);
    }
    let t = text(&render(&app, 80, 24));
    assert!(t.contains("PAUSED") && t.contains("Sessions 0"), "{t}");
    app.on_action(Action::TogglePause);
    let t = text(&render(&app, 80, 24));
    assert!(!t.contains("PAUSED") && t.contains("Sessions 1"), "{t}");
}

#[test]
fn selection_moves_and_tiny_terminals_do_not_panic() {
    let mut app = mixed();
    press(
        &mut app,
        &[Action::Down, Action::Down, Action::Bottom, Action::Up],
    );
    let rows = app.rows();
    assert_eq!(app.selected_index(&rows), Some(rows.len() - 2));
    for (w, h) in [(1, 1), (10, 5), (20, 3), (40, 10), (200, 60)] {
        render(&app, w, h);
        app.on_action(Action::ToggleHelp);
        render(&app, w, h);
        app.on_action(Action::ToggleHelp);
    }
    let empty = App::new("nothing");
    let t = text(&render(&empty, 80, 24));
    assert!(t.contains("Sessions 0"));
}

#[test]
fn engine_snapshot_shows_open_connections_and_the_app_marks_them_open() {
    use smbscope::capture::OfflineCapture;
    use smbscope::engine::Engine;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/guest.pcap");
    let mut cap = OfflineCapture::open(&path).expect("capture");
    let mut engine = Engine::new(Config::default());
    let mut app = App::new("live");
    let mut seen_open = false;
    while let Some(frame) = cap.next_frame().expect("frame") {
        engine.handle_frame(&frame);
        while let Some(r) = engine.poll_record() {
            app.apply(r);
        }
        let snap = engine.snapshot();
        if let Some((c, sessions)) = snap.first() {
            assert_eq!(c.close, "open");
            if sessions.iter().any(|s| s.guest) {
                seen_open = true;
                app.apply_snapshot(snap);
                assert_eq!(app.rows().len(), 1);
                let t = text(&render(&app, 80, 24));
                assert!(t.contains("visitor") && t.contains("yes"), "{t}");
            }
        }
    }
    assert!(seen_open, "the guest session was never visible while open");
    engine.finish();
    while let Some(r) = engine.poll_record() {
        app.apply(r);
    }
    assert!(engine.snapshot().is_empty());
    let row = app.rows()[0];
    assert_ne!(app.conn(row).map(|c| c.record.close), Some("open"));
}
