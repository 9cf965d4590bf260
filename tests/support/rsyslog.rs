//! A private rsyslogd on loopback for the syslog tests: foreground, own config, work directory
//! and pid file in a temp dir, UDP and TCP inputs on 127.0.0.1, every message written to two
//! files (raw, and rsyslog's parsed properties). No imuxsock/imklog, so system logging is not
//! touched. Killed on drop.
#![allow(dead_code)]

use std::fs;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant};

pub const RSYSLOGD: &str = "/usr/sbin/rsyslogd";

/// Separates the properties on a line of the parsed file.
pub const SEP: &str = "|#|";

/// Whether rsyslogd is installed; prints a NOTICE when it is not.
pub fn available(test: &str) -> bool {
    if Path::new(RSYSLOGD).exists() {
        true
    } else {
        eprintln!("NOTICE: {RSYSLOGD} not found (apt-get install rsyslog); {test} skipped");
        false
    }
}

/// A free TCP port on 127.0.0.1 (bound, then released).
pub fn free_tcp_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a TCP port");
    l.local_addr().expect("local address").port()
}

/// A free UDP port on 127.0.0.1 (bound, then released).
pub fn free_udp_port() -> u16 {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind a UDP port");
    s.local_addr().expect("local address").port()
}

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("smbscope-{name}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create a temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// One message as rsyslog parsed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub pri: String,
    pub timestamp: String,
    pub hostname: String,
    pub app_name: String,
    pub procid: String,
    pub msgid: String,
    pub structured_data: String,
    pub syslogtag: String,
    pub msg: String,
}

pub struct Rsyslog {
    child: Child,
    dir: TempDir,
    pub udp_port: u16,
    pub tcp_port: u16,
}

impl Rsyslog {
    /// Starts rsyslogd listening on `tcp_port` (or a free one) and a free UDP port, and waits
    /// until both inputs take messages.
    pub fn start(tcp_port: Option<u16>) -> Rsyslog {
        let dir = TempDir::new("rsyslog");
        let udp_port = free_udp_port();
        let tcp_port = tcp_port.unwrap_or_else(free_tcp_port);
        let d = dir.0.display();
        let conf = format!(
            r#"global(workDirectory="{d}")
module(load="imudp")
module(load="imtcp")
template(name="raw" type="string" string="%rawmsg%\n")
template(name="parsed" type="string" string="%pri%{SEP}%timereported:::date-rfc3339%{SEP}%hostname%{SEP}%app-name%{SEP}%procid%{SEP}%msgid%{SEP}%structured-data%{SEP}%syslogtag%{SEP}%msg%\n")
ruleset(name="smb") {{
    action(type="omfile" file="{d}/raw.log" template="raw")
    action(type="omfile" file="{d}/parsed.log" template="parsed")
}}
input(type="imudp" port="{udp_port}" address="127.0.0.1" ruleset="smb")
input(type="imtcp" port="{tcp_port}" address="127.0.0.1" ruleset="smb")
"#
        );
        let conf_path = dir.0.join("rsyslog.conf");
        fs::write(&conf_path, conf).expect("write rsyslog.conf");
        let child = Command::new(RSYSLOGD)
            .arg("-n")
            .arg("-f")
            .arg(&conf_path)
            .arg("-i")
            .arg(dir.0.join("rsyslogd.pid"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start rsyslogd");
        let mut r = Rsyslog {
            child,
            dir,
            udp_port,
            tcp_port,
        };
        r.wait_ready();
        r
    }

    fn wait_ready(&mut self) {
        let t0 = Instant::now();
        let deadline = Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.tcp_port)).is_err() {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("rsyslogd exited at start: {status}");
            }
            assert!(t0.elapsed() < deadline, "rsyslogd TCP input not ready");
            thread::sleep(Duration::from_millis(20));
        }
        // UDP has no handshake: send probes until one is written.
        let probe = UdpSocket::bind("127.0.0.1:0").expect("bind");
        loop {
            let _ = probe.send_to(
                b"<134>1 - - probe - - - ready",
                ("127.0.0.1", self.udp_port),
            );
            if self.parsed().iter().any(|p| p.app_name == "probe") {
                return;
            }
            assert!(t0.elapsed() < deadline, "rsyslogd UDP input not ready");
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Every message written so far, as parsed by rsyslog (probes included).
    pub fn parsed(&self) -> Vec<Parsed> {
        let text = fs::read_to_string(self.dir.0.join("parsed.log")).unwrap_or_default();
        text.lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.splitn(9, SEP).collect();
                let [pri, ts, host, app, procid, msgid, sd, tag, msg] = f[..] else {
                    return None;
                };
                Some(Parsed {
                    pri: pri.into(),
                    timestamp: ts.into(),
                    hostname: host.into(),
                    app_name: app.into(),
                    procid: procid.into(),
                    msgid: msgid.into(),
                    structured_data: sd.into(),
                    syslogtag: tag.into(),
                    msg: msg.into(),
                })
            })
            .collect()
    }

    /// The raw messages received so far (probes excluded).
    pub fn raw(&self) -> Vec<String> {
        let text = fs::read_to_string(self.dir.0.join("raw.log")).unwrap_or_default();
        text.lines()
            .filter(|l| !l.contains(" probe "))
            .map(String::from)
            .collect()
    }

    /// Waits (up to `timeout`) until `n` messages other than probes were written; returns them.
    pub fn wait_messages(&self, n: usize, timeout: Duration) -> Vec<Parsed> {
        let t0 = Instant::now();
        loop {
            let got: Vec<Parsed> = self
                .parsed()
                .into_iter()
                .filter(|p| p.app_name != "probe")
                .collect();
            if got.len() >= n || t0.elapsed() >= timeout {
                return got;
            }
            thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
