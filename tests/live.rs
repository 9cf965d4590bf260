//! `smbscope watch` on a live interface, end to end: a private Samba server on
//! 127.0.0.1:4445, real smbclient sessions, findings read back from the sensor's JSON lines.
//!
//! Needs root (capture, useradd, smbd) and Samba (`smbd`, `smbclient`, `smbpasswd`); without
//! them each test prints a NOTICE and passes. Nothing under /etc/samba is touched: the server
//! has its own smb.conf, passdb, lock, state, pid and cache directories in a temp dir.

use std::fs::{self, File};
use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

#[path = "support/rsyslog.rs"]
mod rsyslog;

use nix::sys::signal::{Signal, kill};
use nix::unistd::{Pid, User};
use serde_json::Value;

const PORT: u16 = 4445;
const USER: &str = "smbscopelive";
const PASSWORD: &str = "Live-Passw0rd!";

/// Tests that start the private smbd (one fixed port) run one at a time.
static SMBD: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn live_findings_arrive_within_a_second_and_sigterm_stops_cleanly() {
    if !can_run(true) {
        return;
    }
    let _one_smbd = SMBD.lock().unwrap_or_else(|e| e.into_inner());
    let work = TempDir::new("live");
    let smbd = Smbd::start(&work.0);
    let out = work.0.join("events.jsonl");
    let err = work.0.join("watch.err");
    let mut watch = Watch::start(
        &[
            "watch",
            "-i",
            "lo",
            "--smb-port",
            &PORT.to_string(),
            "--jsonl",
            out.to_str().expect("utf-8 temp path"),
        ],
        &err,
    );

    // Guest: an unknown user with no password, mapped to guest.
    smbd.client(
        &["//127.0.0.1/public", "-N", "-c", "ls"],
        &[("USER", "visitor")],
    );
    let done = Instant::now();
    let guest = wait_for(&out, done, |l| l["rule"] == "guest");
    assert_eq!(guest["server"], format!("127.0.0.1:{PORT}"));

    // Authenticated, client signing off: file I/O unsigned.
    let cred = format!("SMBSCOPE\\{USER}%{PASSWORD}");
    smbd.client(
        &[
            "//127.0.0.1/public",
            "-U",
            &cred,
            "--option=client signing=off",
            "-c",
            "ls",
        ],
        &[],
    );
    let done = Instant::now();
    let unsigned = wait_for(&out, done, |l| {
        l["rule"] == "session.unsigned" && l["user"] == USER
    });
    assert_eq!(unsigned["type"], "finding");

    let (status, stderr) = watch.stop();
    assert_eq!(status.code(), Some(0), "{stderr}");
    let summary = stderr
        .lines()
        .find(|l| l.starts_with("smbscope: summary:"))
        .unwrap_or_else(|| panic!("no summary on stderr:\n{stderr}"));
    assert!(
        summary.contains("dropped: kernel 0, interface 0, queue 0"),
        "{summary}"
    );
    assert!(summary.contains("2 connections"), "{summary}");
    // The JSON lines end with the summary record.
    let lines = read_lines(&out);
    let last = lines.last().expect("output");
    assert_eq!(last["type"], "summary");
    assert_eq!(last["connections"], 2);
    assert!(
        lines
            .iter()
            .any(|l| l["type"] == "session" && l["guest"] == true)
    );
    drop(smbd);
}

#[test]
fn user_option_drops_root_after_opening_the_interface() {
    if !can_run(false) {
        return;
    }
    let work = TempDir::new("user");
    let err = work.0.join("watch.err");
    let nobody = User::from_name("nobody")
        .expect("passwd lookup")
        .expect("user nobody exists");
    let mut watch = Watch::start(
        &[
            "watch",
            "-i",
            "lo",
            "--user",
            "nobody",
            "--jsonl",
            "-",
            "--smb-port",
            "4446",
        ],
        &err,
    );
    let want_uid = format!("Uid:\t{0}\t{0}\t{0}\t{0}", nobody.uid);
    let want_gid = format!("Gid:\t{0}\t{0}\t{0}\t{0}", nobody.gid);
    let status_path = format!("/proc/{}/status", watch.child.id());
    let start = Instant::now();
    loop {
        let status = fs::read_to_string(&status_path).unwrap_or_default();
        if status.lines().any(|l| l == want_uid) {
            assert!(status.lines().any(|l| l == want_gid), "{status}");
            // No capability left: the effective set is empty.
            assert!(
                status.lines().any(|l| l == "CapEff:\t0000000000000000"),
                "{status}"
            );
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "still not running as nobody:\n{status}\nstderr: {}",
            fs::read_to_string(&err).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let (status, stderr) = watch.stop();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("running as user nobody"), "{stderr}");
}

/// The sharded live sensor at full speed: tcpreplay --topspeed sends captures over a veth
/// pair in a network namespace this test creates; `watch -i -j 2` must count its drops and,
/// with none, report the very records `analyze -j1` finds in the same files (all but the
/// capture times, which are the replay's).
#[test]
fn sharded_live_capture_at_top_speed_equals_offline_analysis() {
    if !can_replay(&[]) {
        return;
    }
    let work = TempDir::new("veth");
    let ns = Netns::create(&format!("smbscope-t{}", std::process::id()));
    let caps = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    let files: Vec<String> = [
        "mixed.pcap",
        "smb311-enc-bulk.pcap",
        "smb311-signed-bulk.pcap",
        "smb311-unsigned-bulk.pcap",
    ]
    .iter()
    .map(|f| caps.join(f).display().to_string())
    .collect();
    let keys = caps.join("smb311-enc-bulk.keys").display().to_string();
    let out = work.0.join("live.jsonl");
    let err = work.0.join("watch.err");
    let mut watch = Watch::start_in(
        Some(&ns.0),
        &[
            "watch",
            "-i",
            "vb",
            "-j",
            "2",
            "--buffer-size",
            "256M",
            "--stats-interval",
            "0",
            "--keys",
            &keys,
            "--jsonl",
            out.to_str().expect("utf-8 temp path"),
        ],
        &err,
    );
    let replay = ns.replay(&["--topspeed"], &files);
    let said = String::from_utf8_lossy(&replay.stdout).into_owned();
    assert!(
        replay.status.success(),
        "tcpreplay failed: {said}{}",
        String::from_utf8_lossy(&replay.stderr)
    );
    let rate = said
        .lines()
        .find(|l| l.contains("Rated:"))
        .unwrap_or("")
        .trim()
        .to_owned();
    eprintln!("tcpreplay: {rate}");
    // Everything sent has been captured once the kernel counters stop moving.
    std::thread::sleep(Duration::from_millis(500));
    let (status, stderr) = watch.stop();
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("(2 analysis threads)"), "{stderr}");
    let summary_line = stderr
        .lines()
        .find(|l| l.starts_with("smbscope: summary:"))
        .unwrap_or_else(|| panic!("no summary line: {stderr}"));
    eprintln!("{summary_line}");
    assert!(
        summary_line.contains("dropped: kernel 0, interface 0, queue 0"),
        "frames lost at {rate}: {summary_line}"
    );

    let offline = Command::new(env!("CARGO_BIN_EXE_smbscope"))
        .args(["analyze", "-j", "1", "--format", "json", "--keys", &keys])
        .args(&files)
        .output()
        .expect("run analyze");
    assert!(offline.status.success());
    let offline: Vec<Value> = String::from_utf8_lossy(&offline.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    let live = read_lines(&out);
    let (live_sum, off_sum) = (summary_of(&live), summary_of(&offline));
    assert_eq!(live_sum["frames"], off_sum["frames"]);
    assert_eq!(live_sum["bytes"], off_sum["bytes"]);
    assert_eq!(live_sum["findings"], off_sum["findings"]);
    let (live, offline) = (comparable(&live), comparable(&offline));
    assert!(live.len() > 40, "{} records", live.len());
    assert_eq!(
        live, offline,
        "live records differ from the offline analysis"
    );
}

/// A burst into a ring of a few slots (`--buffer-size 1M` with the 256 KiB snapshot length)
/// loses frames in the kernel; the stats line that follows the burst, while the interface is
/// quiet again, already counts them (the capture thread's blocked read is interrupted to read
/// the counters), and the records say the same.
#[test]
fn kernel_drops_after_a_burst_are_reported_while_the_link_is_quiet() {
    if !can_replay(&[]) {
        return;
    }
    let work = TempDir::new("drops");
    let ns = Netns::create(&format!("smbscope-d{}", std::process::id()));
    let out = work.0.join("live.jsonl");
    let err = work.0.join("watch.err");
    let mut watch = Watch::start_in(
        Some(&ns.0),
        &[
            "watch",
            "-i",
            "vb",
            "-j",
            "2",
            "--buffer-size",
            "1M",
            "--stats-interval",
            "1",
            "--jsonl",
            out.to_str().expect("utf-8 temp path"),
        ],
        &err,
    );
    let caps = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    let replay = ns.replay(
        &["-q", "--topspeed"],
        &[
            caps.join("smb311-enc-bulk.pcap"),
            caps.join("smb311-signed-bulk.pcap"),
        ],
    );
    assert!(replay.status.success());
    let done = Instant::now();
    let dropped = |line: &str| -> u64 {
        line.split("dropped: kernel ")
            .nth(1)
            .and_then(|r| r.split(',').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    let stats = loop {
        let text = fs::read_to_string(&err).unwrap_or_default();
        if let Some(l) = text
            .lines()
            .filter(|l| l.starts_with("smbscope: stats:"))
            .find(|l| dropped(l) > 0)
        {
            break l.to_owned();
        }
        assert!(
            done.elapsed() < Duration::from_secs(4),
            "no stats line with kernel drops within 4 s of the burst:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    eprintln!("{stats}");
    let (status, stderr) = watch.stop();
    assert!(status.success(), "{stderr}");
    let anomaly = read_lines(&out)
        .into_iter()
        .find(|r| r["kind"] == "capture_drops")
        .unwrap_or_else(|| panic!("no capture_drops anomaly: {stderr}"));
    assert!(
        anomaly["detail"].as_str().unwrap_or("").contains("kernel"),
        "{anomaly}"
    );
}

/// `tui -i -j 2` on the veth pair: the sessions of a replayed capture show while their
/// connections are still open, from the snapshots the analysis threads send.
#[test]
fn sharded_live_tui_shows_open_sessions() {
    if !can_replay(&["tmux"]) {
        return;
    }
    let ns = Netns::create(&format!("smbscope-u{}", std::process::id()));
    let session = format!("smbscope-live-tui-{}", std::process::id());
    let bin = env!("CARGO_BIN_EXE_smbscope");
    let tmux = |args: &[&str]| {
        Command::new("tmux")
            .args(["-f", "/dev/null"])
            .args(args)
            .output()
            .expect("run tmux")
    };
    let cmd = format!("ip netns exec {} {bin} tui -i vb -j 2; sleep 5", ns.0);
    let st = tmux(&[
        "new-session",
        "-d",
        "-x",
        "120",
        "-y",
        "30",
        "-s",
        &session,
        &cmd,
    ]);
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let screen = || {
        String::from_utf8_lossy(&tmux(&["capture-pane", "-p", "-t", &session]).stdout).into_owned()
    };
    let wait = |what: &str, ok: &dyn Fn(&str) -> bool| {
        let start = Instant::now();
        loop {
            let t = screen();
            if ok(&t) {
                return t;
            }
            if start.elapsed() > Duration::from_secs(10) {
                let _ = tmux(&["kill-session", "-t", &session]);
                panic!("{what} not on screen:\n{t}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    wait("the live header", &|t| t.contains("interface vb"));
    let caps = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    // The TUI's ring (16 MiB in slots of the 256 KiB snapshot length) holds 64 frames: at top
    // speed the kernel drops some of this burst, so a rate it keeps up with.
    let replay = ns.replay(&["-q", "--pps", "500"], &[caps.join("mixed.pcap")]);
    assert!(replay.status.success());
    let text = wait("the sessions of mixed.pcap", &|t| {
        t.contains("pkts 694")
            && t.contains("visitor")
            && t.contains("SMB1")
            && t.contains("conns 10")
    });
    assert!(text.contains("drops k0 q0"), "{text}");
    let _ = tmux(&["send-keys", "-t", &session, "q"]);
    std::thread::sleep(Duration::from_millis(300));
    let _ = tmux(&["kill-session", "-t", &session]);
}

fn summary_of(recs: &[Value]) -> Value {
    recs.iter()
        .rev()
        .find(|r| r["type"] == "summary")
        .cloned()
        .expect("a summary record")
}

/// Records without the summary and the capture times, sorted.
fn comparable(recs: &[Value]) -> Vec<String> {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(m) => {
                for k in ["ts", "first_seen", "last_seen"] {
                    m.remove(k);
                }
                m.values_mut().for_each(strip);
            }
            Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut out: Vec<String> = recs
        .iter()
        .filter(|r| r["type"] != "summary")
        .map(|r| {
            let mut r = r.clone();
            strip(&mut r);
            r.to_string()
        })
        .collect();
    out.sort();
    out
}

/// A network namespace with a veth pair `va` <-> `vb` (MTU 65535: loopback captures carry
/// 64 KiB frames), deleted on drop.
struct Netns(String);

impl Netns {
    fn create(name: &str) -> Netns {
        let ip = |args: &[&str]| {
            let st = Command::new("ip").args(args).status().expect("run ip");
            assert!(st.success(), "ip {}", args.join(" "));
        };
        let _ = Command::new("ip").args(["netns", "del", name]).status();
        ip(&["netns", "add", name]);
        let ns = Netns(name.to_owned());
        ip(&[
            "-n", name, "link", "add", "va", "mtu", "65535", "type", "veth", "peer", "name", "vb",
            "mtu", "65535",
        ]);
        ip(&["-n", name, "link", "set", "va", "up"]);
        ip(&["-n", name, "link", "set", "vb", "up"]);
        ns
    }
}

impl Netns {
    /// `tcpreplay -i va ARGS FILES` inside the namespace (the frames arrive on `vb`).
    fn replay(&self, args: &[&str], files: &[impl AsRef<std::ffi::OsStr>]) -> std::process::Output {
        Command::new("ip")
            .args(["netns", "exec", &self.0, "tcpreplay", "-i", "va"])
            .args(args)
            .args(files)
            .output()
            .expect("run tcpreplay")
    }
}

/// Root, `ip` and `tcpreplay` (and `extra` tools) for the veth tests; a NOTICE when missing,
/// a failure under CI (whose setup installs them).
fn can_replay(extra: &[&str]) -> bool {
    if !can_run(false) {
        return false;
    }
    for tool in ["ip", "tcpreplay"].iter().chain(extra) {
        if which(tool).is_none() {
            assert!(
                std::env::var_os("CI").is_none(),
                "{tool} missing under CI (.ci/setup.sh installs iproute2, tcpreplay and tmux)"
            );
            eprintln!(
                "NOTICE: {tool} not found (apt-get install iproute2 tcpreplay tmux); test skipped"
            );
            return false;
        }
    }
    true
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

// ---- helpers -------------------------------------------------------------------------------

/// Root (and, for `samba`, smbd/smbclient/smbpasswd/useradd) available? Prints a NOTICE if not.
fn can_run(samba: bool) -> bool {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("NOTICE: not root; live capture test skipped");
        return false;
    }
    if samba {
        for tool in ["smbd", "smbclient", "smbpasswd", "useradd", "setsid"] {
            if which(tool).is_none() {
                eprintln!("NOTICE: {tool} not found (install samba, smbclient); live test skipped");
                return false;
            }
        }
    }
    true
}

fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

/// Polls the JSON lines file until a line matches; fails after one second from `since`.
fn wait_for(path: &Path, since: Instant, pred: impl Fn(&Value) -> bool) -> Value {
    loop {
        if let Some(v) = read_lines(path).into_iter().find(&pred) {
            return v;
        }
        assert!(
            since.elapsed() < Duration::from_secs(1),
            "finding not written within 1 s; output so far:\n{}",
            fs::read_to_string(path).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Complete lines of a JSON lines file (a line still being written is skipped).
fn read_lines(path: &Path) -> Vec<Value> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// A directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "smbscope-test-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// The sensor running in the background, stderr to a file.
struct Watch {
    child: Child,
    err: PathBuf,
}

impl Watch {
    /// Starts `smbscope ARGS` and waits until it says it is watching.
    fn start(args: &[&str], err: &Path) -> Watch {
        Self::start_in(None, args, err)
    }

    /// [`Watch::start`] inside network namespace `netns` (`ip netns exec` execs smbscope, so
    /// the child is smbscope itself).
    fn start_in(netns: Option<&str>, args: &[&str], err: &Path) -> Watch {
        let bin = env!("CARGO_BIN_EXE_smbscope");
        let mut cmd = match netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, bin]);
                c
            }
            None => Command::new(bin),
        };
        let child = cmd
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(err).expect("stderr file"))
            .spawn()
            .expect("start smbscope watch");
        let mut w = Watch {
            child,
            err: err.to_path_buf(),
        };
        let start = Instant::now();
        loop {
            let text = fs::read_to_string(err).unwrap_or_default();
            if text.contains("smbscope: watching") {
                return w;
            }
            if let Ok(Some(status)) = w.child.try_wait() {
                panic!("smbscope watch exited early ({status}): {text}");
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "smbscope watch did not start: {text}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// SIGTERM, then its exit status and stderr. It must stop within 2 s, even on a quiet
    /// interface.
    fn stop(&mut self) -> (ExitStatus, String) {
        let pid = Pid::from_raw(i32::try_from(self.child.id()).expect("pid fits"));
        kill(pid, Signal::SIGTERM).expect("signal smbscope");
        let start = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("wait") {
                break s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(2),
                "smbscope watch did not stop within 2 s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        let stderr = fs::read_to_string(&self.err).unwrap_or_default();
        assert!(!stderr.contains("did not stop"), "{stderr}");
        (status, stderr)
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A private smbd on 127.0.0.1:4445, stopped by pid on drop.
struct Smbd {
    child: Child,
    dir: PathBuf,
}

impl Smbd {
    fn start(work: &Path) -> Smbd {
        assert!(
            TcpStream::connect(("127.0.0.1", PORT)).is_err(),
            "port {PORT} is already in use on 127.0.0.1; stop whatever listens there"
        );
        let dir = work.join("samba");
        for d in [
            "private", "lock", "state", "cache", "pid", "ncalrpc", "public", "client",
        ] {
            fs::create_dir_all(dir.join(d)).expect("samba dirs");
        }
        // The share is world-writable (the guest maps to nobody).
        let _ = Command::new("chmod")
            .args(["1777", dir.join("public").to_str().unwrap_or_default()])
            .status();
        let d = dir.display();
        let conf = format!(
            "[global]\n\
             \tworkgroup = SMBSCOPE\n\
             \tnetbios name = SCOPELIVE\n\
             \tserver role = standalone server\n\
             \tinterfaces = lo\n\
             \tbind interfaces only = yes\n\
             \tsmb ports = {PORT}\n\
             \tdisable netbios = yes\n\
             \tprivate dir = {d}/private\n\
             \tlock directory = {d}/lock\n\
             \tstate directory = {d}/state\n\
             \tcache directory = {d}/cache\n\
             \tpid directory = {d}/pid\n\
             \tncalrpc dir = {d}/ncalrpc\n\
             \tpassdb backend = tdbsam:{d}/passdb.tdb\n\
             \tlog file = {d}/log.smbd\n\
             \tlog level = 1\n\
             \tmap to guest = bad user\n\
             \tserver signing = auto\n\
             \tload printers = no\n\
             \tprinting = bsd\n\
             \tprintcap name = /dev/null\n\
             \tdisable spoolss = yes\n\
             \n[public]\n\
             \tpath = {d}/public\n\
             \tguest ok = yes\n\
             \tread only = no\n"
        );
        fs::write(dir.join("smb.conf"), conf).expect("smb.conf");
        let client_conf = format!(
            "[global]\n\
             \tworkgroup = SMBSCOPE\n\
             \tprivate dir = {d}/client\n\
             \tlock directory = {d}/client\n\
             \tstate directory = {d}/client\n\
             \tcache directory = {d}/client\n\
             \tlog file = {d}/client.log\n"
        );
        fs::write(dir.join("client.conf"), client_conf).expect("client.conf");

        if User::from_name(USER).ok().flatten().is_none() {
            let ok = Command::new("useradd")
                .args(["-M", "-s", "/usr/sbin/nologin", USER])
                .status()
                .expect("useradd");
            assert!(ok.success(), "useradd {USER} failed");
        }
        let mut p = Command::new("smbpasswd")
            .arg("-c")
            .arg(dir.join("smb.conf"))
            .args(["-a", "-s", USER])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("smbpasswd");
        p.stdin
            .take()
            .expect("stdin")
            .write_all(format!("{PASSWORD}\n{PASSWORD}\n").as_bytes())
            .expect("password");
        let o = p.wait_with_output().expect("smbpasswd");
        assert!(
            o.status.success(),
            "smbpasswd: {}",
            String::from_utf8_lossy(&o.stderr)
        );

        // Own session: with --no-process-group smbd signals its whole process group on exit.
        let child = Command::new("setsid")
            .args(["smbd", "--foreground", "--no-process-group", "-s"])
            .arg(dir.join("smb.conf"))
            .stdin(Stdio::null())
            .stdout(File::create(dir.join("smbd.out")).expect("smbd.out"))
            .stderr(Stdio::from(
                File::create(dir.join("smbd.err")).expect("smbd.err"),
            ))
            .spawn()
            .expect("start smbd");
        let mut s = Smbd { child, dir };
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", PORT)).is_err() {
            if let Ok(Some(st)) = s.child.try_wait() {
                panic!(
                    "smbd exited ({st}): {}",
                    fs::read_to_string(s.dir.join("log.smbd")).unwrap_or_default()
                );
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "smbd not listening on {PORT}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        s
    }

    /// Runs smbclient against the server; it must succeed.
    fn client(&self, args: &[&str], env: &[(&str, &str)]) {
        let o = Command::new("timeout")
            .args(["30", "smbclient", "-s"])
            .arg(self.dir.join("client.conf"))
            .args(["-p", &PORT.to_string()])
            .args(args)
            .envs(env.iter().copied())
            .current_dir(self.dir.join("client"))
            .output()
            .expect("run smbclient");
        assert!(
            o.status.success(),
            "smbclient {args:?} failed: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

impl Drop for Smbd {
    fn drop(&mut self) {
        // setsid exec'd smbd in place, so the child's pid is smbd's.
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
        }
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The sensor as a new user runs it: with rsyslog on loopback, `watch -i lo --syslog` turns a
/// real guest session and a real unsigned session into RFC 5424 syslog lines within a second,
/// with the finding's fields in the structured data, and reports zero drops.
#[test]
fn live_sessions_become_syslog_alerts_within_a_second() {
    if !can_run(true) || !rsyslog::available("live_sessions_become_syslog_alerts_within_a_second") {
        return;
    }
    let _one_smbd = SMBD.lock().unwrap_or_else(|e| e.into_inner());
    let syslog = rsyslog::Rsyslog::start(None);
    let work = TempDir::new("live-syslog");
    let smbd = Smbd::start(&work.0);
    let err = work.0.join("watch.err");
    let target = format!("udp://127.0.0.1:{}", syslog.udp_port);
    let mut watch = Watch::start(
        &[
            "watch",
            "-i",
            "lo",
            "--smb-port",
            &PORT.to_string(),
            "--syslog",
            &target,
        ],
        &err,
    );
    let arrived = |msgid: &str, since: Instant| -> rsyslog::Parsed {
        loop {
            if let Some(p) = syslog.parsed().into_iter().find(|p| p.msgid == msgid) {
                return p;
            }
            assert!(
                since.elapsed() < Duration::from_secs(1),
                "no {msgid} syslog line within a second"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    smbd.client(
        &["//127.0.0.1/public", "-N", "-c", "ls"],
        &[("USER", "visitor")],
    );
    let guest = arrived("guest", Instant::now());
    assert_eq!(guest.app_name, "smbscope");
    assert!(
        guest.structured_data.contains("rule=\"guest\""),
        "{guest:?}"
    );
    assert!(
        guest.structured_data.contains("event_id=\"31022\""),
        "{guest:?}"
    );
    assert!(
        guest
            .structured_data
            .contains(&format!("server=\"127.0.0.1:{PORT}\"")),
        "{guest:?}"
    );
    let cred = format!("SMBSCOPE\\{USER}%{PASSWORD}");
    smbd.client(
        &[
            "//127.0.0.1/public",
            "-U",
            &cred,
            "--option=client signing=off",
            "-c",
            "ls",
        ],
        &[],
    );
    let unsigned = arrived("session.unsigned", Instant::now());
    assert!(
        unsigned
            .structured_data
            .contains(&format!("user=\"{USER}\"")),
        "{unsigned:?}"
    );
    let (status, stderr) = watch.stop();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("dropped: kernel 0, interface 0, queue 0"),
        "{stderr}"
    );
    drop(smbd);
}
