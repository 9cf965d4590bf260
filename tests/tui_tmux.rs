//! End-to-end: `smbscope tui -r captures/mixed.pcap` in a detached tmux session at 80x24:
//! the screen shows the sessions, `j` Enter opens a detail view, a resize redraws, `q`
//! quits and the pane's process ends with status 0. Skipped with a NOTICE without tmux.

use std::process::Command;
use std::time::{Duration, Instant};

struct Session(String);

impl Drop for Session {
    fn drop(&mut self) {
        let _ = tmux(&["kill-session", "-t", &self.0]);
    }
}

fn tmux(args: &[&str]) -> Option<String> {
    let out = Command::new("tmux").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn screen(s: &Session) -> String {
    tmux(&["capture-pane", "-p", "-t", &s.0]).unwrap_or_default()
}

/// Waits until the screen satisfies `ok` (up to 10 s); returns the last screen.
fn wait_for(s: &Session, what: &str, ok: impl Fn(&str) -> bool) -> String {
    let start = Instant::now();
    loop {
        let text = screen(s);
        if ok(&text) {
            return text;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "timed out waiting for {what}; screen:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn tui_replay_in_tmux() {
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("NOTICE: tmux not installed; skipping the TUI end-to-end test");
        return;
    }
    let bin = env!("CARGO_BIN_EXE_smbscope");
    let dir = env!("CARGO_MANIFEST_DIR");
    let name = format!("smbscope-test-{}", std::process::id());
    // remain-on-exit keeps the pane after the program ends, so its exit status is visible.
    // The shell records the exit status in a file (tmux's #{pane_dead_status} is not
    // always filled in).
    let status_file = std::env::temp_dir().join(format!("{name}.status"));
    let _ = std::fs::remove_file(&status_file);
    let cmd = format!(
        "cd {dir} && {bin} tui -r captures/mixed.pcap; echo $? > {}",
        status_file.display()
    );
    tmux(&[
        "-f",
        "/dev/null",
        "new-session",
        "-d",
        "-x",
        "80",
        "-y",
        "24",
        "-s",
        &name,
        &cmd,
    ])
    .expect("tmux new-session");
    let s = Session(name);
    tmux(&["set-option", "-t", &s.0, "remain-on-exit", "on"]).expect("remain-on-exit");

    let text = wait_for(&s, "the session table", |t| {
        t.contains("[end]") && t.contains("visitor") && t.contains("SMB1")
    });
    for want in ["Sessions 10", "yes", "Events", "logon.failed", "q quit"] {
        assert!(text.contains(want), "{want:?} missing:\n{text}");
    }

    // The selection starts on the first row (worst first); j moves to the second: the
    // guest session (sorted by severity, then client).
    tmux(&["send-keys", "-t", &s.0, "j", "Enter"]).expect("send-keys");
    // Wait for the whole view: a capture may catch a frame half written.
    wait_for(&s, "the detail view of the guest session", |t| {
        t.contains("Session 0x")
            && t.contains("Connection")
            && t.contains("dialect")
            && t.contains("visitor")
    });

    // Resize: the detail view redraws at the new size.
    tmux(&["resize-window", "-t", &s.0, "-x", "100", "-y", "30"]).expect("resize");
    let text = wait_for(&s, "a redraw at 100x30", |t| {
        t.lines()
            .any(|l| l.chars().count() == 100 && l.starts_with('└'))
    });
    assert!(text.contains("Session 0x"), "{text}");

    // Back to the table, then the help overlay, then quit.
    tmux(&["send-keys", "-t", &s.0, "Escape"]).expect("send-keys");
    wait_for(&s, "the table again", |t| t.contains("Sessions 10"));
    tmux(&["send-keys", "-t", &s.0, "?"]).expect("send-keys");
    wait_for(&s, "the help overlay", |t| {
        t.contains("only insecure sessions")
    });
    // Separate sends: an Escape followed at once by `q` would read as Alt-q.
    tmux(&["send-keys", "-t", &s.0, "Escape"]).expect("send-keys");
    wait_for(&s, "the help to close", |t| {
        !t.contains("only insecure sessions")
    });
    tmux(&["send-keys", "-t", &s.0, "q"]).expect("send-keys");
    let start = Instant::now();
    let status = loop {
        if let Ok(st) = std::fs::read_to_string(&status_file) {
            if st.ends_with('\n') {
                break st;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "did not quit:\n{}",
            screen(&s)
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = std::fs::remove_file(&status_file);
    assert_eq!(status.trim(), "0", "exit status; screen:\n{}", screen(&s));
    // The alternate screen is gone: the pane shows the normal screen, not the table.
    let text = screen(&s);
    assert!(
        !text.contains("Sessions 10"),
        "terminal not restored:\n{text}"
    );
}

/// The logon-attack findings in the TUI: replaying the spray that ends in a successful logon
/// shows `logon.spray` and `logon.success_after_failures` among the events.
#[test]
fn tui_shows_logon_attacks() {
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("NOTICE: tmux not installed; skipping the TUI logon-attack test");
        return;
    }
    let bin = env!("CARGO_BIN_EXE_smbscope");
    let dir = env!("CARGO_MANIFEST_DIR");
    let name = format!("smbscope-logon-{}", std::process::id());
    let cmd = format!("cd {dir} && {bin} tui -r captures/logon/spray-success.pcap");
    tmux(&[
        "-f",
        "/dev/null",
        "new-session",
        "-d",
        "-x",
        "160",
        "-y",
        "50",
        "-s",
        &name,
        &cmd,
    ])
    .expect("tmux new-session");
    let s = Session(name);
    let text = wait_for(&s, "the attack findings", |t| {
        t.contains("[end]")
            && t.contains("logon.spray")
            && t.contains("logon.success_after_failures")
    });
    assert!(text.contains("bob"), "{text}");
    tmux(&["send-keys", "-t", &s.0, "q"]).expect("send-keys");
}
