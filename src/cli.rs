//! Command-line interface: argument parsing and the `analyze` command (`watch` lives in
//! [`crate::sensor`]).
//!
//! Exit codes: 0 when the analysis ran (whatever it found); 1 with `--fail-on SEVERITY` when a
//! finding at or above that severity exists; 2 on usage or input errors (a file that cannot be
//! read), with a message on stderr. A capture cut short mid-record is a warning: everything
//! before the cut is analysed. `watch` has its own (see [`crate::sensor`]).

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::capture::{CaptureError, OfflineCapture};
use crate::crypto::keys::{self, KeyStore};
use crate::engine::logon::{LogonPolicy, MAX_USERS};
use crate::engine::{Config, Engine, ShardedEngine};
use crate::event::{Record, Severity};
use crate::flow::{Limits, SmbPorts};
use crate::output::{JsonSink, PcapWriter, Sink, TextSink};
use crate::quic::keylog::KeyLog;
use crate::rules::Mandates;

/// Passive SMB security posture inspector.
///
/// smbscope reads captured SMB traffic and reports, per connection and session, the dialect,
/// whether signing was required and used, whether traffic was encrypted, guest and anonymous
/// logons, and NTLMv1/NTLMv2/Kerberos authentication, then lists findings with their fixes.
#[derive(Debug, Parser)]
#[command(name = "smbscope", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Analyse pcap/pcapng captures (gzip-compressed too) and report SMB posture.
    Analyze(AnalyzeArgs),
    /// Write a copy of a capture in which every encrypted SMB3 message is replaced by its
    /// plaintext (authentication tag verified), so Wireshark or any tool can read the session.
    Decrypt(DecryptArgs),
    /// Headless sensor: analyse a live interface (-i) or replay a capture (-r) through the
    /// same pipeline, streaming findings to JSON lines and/or syslog until SIGINT/SIGTERM.
    Watch(Box<WatchArgs>),
    /// Terminal UI: live sessions with their signing, encryption, guest and authentication
    /// posture, findings and fixes, from an interface (-i) or a replayed capture (-r).
    Tui(TuiArgs),
}

/// Where session keys come from. Both may be given; key material is never printed.
#[derive(Debug, Clone, Default, Args)]
pub struct KeyArgs {
    /// Session keys: Wireshark smb2_seskey_list lines (sesid,seskey,s2c,c2s), Samba
    /// "debug encryption" dumps, or `session=0x<id> key=<hex> [c2s=<hex> s2c=<hex>]` lines.
    /// Repeatable.
    #[arg(long = "keys", value_name = "FILE")]
    pub keys: Vec<PathBuf>,

    /// TLS key log (NSS SSLKEYLOGFILE format) to decrypt SMB over QUIC. Secrets in pcapng
    /// Decryption Secrets Blocks are used too. Repeatable.
    #[arg(long = "keylog", value_name = "FILE")]
    pub keylog: Vec<PathBuf>,

    /// Credentials, one per line: [DOMAIN\]USER:PASSWORD or [DOMAIN\]USER:$NT$<32 hex>.
    /// Session keys are derived from the captured NTLM exchange (NTLMv2 and NTLMv1).
    /// Repeatable.
    #[arg(long = "credentials", value_name = "FILE")]
    pub credentials: Vec<PathBuf>,
}

impl KeyArgs {
    /// Reads every key and credential file. Warnings (files others can read) go to stderr.
    pub fn load(&self) -> Result<KeyStore, String> {
        let mut store = KeyStore::default();
        for (path, is_keys) in self
            .keys
            .iter()
            .map(|p| (p, true))
            .chain(self.credentials.iter().map(|p| (p, false)))
        {
            let (text, warning) = keys::read_secret_file(path).map_err(|e| e.to_string())?;
            if let Some(w) = warning {
                eprintln!("smbscope: warning: {w}");
            }
            let name = path.display().to_string();
            if is_keys {
                store.add_keys(keys::parse_keys(&text, &name).map_err(|e| e.to_string())?);
            } else {
                store.add_credentials(
                    keys::parse_credentials(&text, &name).map_err(|e| e.to_string())?,
                );
            }
        }
        Ok(store)
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.credentials.is_empty() && self.keylog.is_empty()
    }

    /// The engine settings every command shares: SMB ports (445 and 139 plus `smb_ports`), SMB
    /// over QUIC ports (443 plus `quic_ports`), keys and credentials, and TLS secrets (key logs
    /// and the Decryption Secrets Blocks of pcapng `inputs`). Callers add limits and mandates.
    pub fn engine_config(
        &self,
        inputs: &[PathBuf],
        smb_ports: &[u16],
        quic_ports: &[u16],
    ) -> Result<Config, String> {
        let keys = self.load()?;
        let keylog = self.load_keylog(inputs)?;
        Ok(Config {
            ports: smb_ports
                .iter()
                .fold(SmbPorts::default(), |ports, &p| ports.with(p)),
            quic_ports: std::iter::once(443)
                .chain(quic_ports.iter().copied())
                .collect(),
            keys: Arc::new(keys),
            keylog: Arc::new(keylog),
            ..Config::default()
        })
    }

    /// Reads the TLS key logs, plus the Decryption Secrets Blocks of pcapng `inputs`.
    /// Warnings go to stderr.
    pub fn load_keylog(&self, inputs: &[PathBuf]) -> Result<KeyLog, String> {
        let mut log = KeyLog::default();
        for path in &self.keylog {
            let (text, warning) = keys::read_secret_file(path).map_err(|e| e.to_string())?;
            if let Some(w) = warning {
                eprintln!("smbscope: warning: {w}");
            }
            let (parsed, warnings) = KeyLog::parse(&text);
            for w in warnings {
                eprintln!("smbscope: warning: {}: {w}", path.display());
            }
            log.merge(parsed);
        }
        for path in inputs {
            // Only pcapng files can hold secrets; for others this finds none (or fails, and the
            // real read reports the problem).
            if let Ok(texts) = crate::capture::scan_pcapng_secrets(path) {
                for text in texts {
                    log.merge(KeyLog::parse(&text).0);
                }
            }
        }
        Ok(log)
    }
}

#[derive(Debug, Args)]
pub struct DecryptArgs {
    /// The capture to decrypt.
    #[arg(value_name = "IN")]
    pub input: PathBuf,

    /// The capture to write (pcap, nanosecond timestamps).
    #[arg(value_name = "OUT")]
    pub output: PathBuf,

    #[command(flatten)]
    pub keys: KeyArgs,

    /// Also treat this TCP port as SMB (445 and 139 always are). Repeatable.
    #[arg(long = "smb-port", value_name = "PORT")]
    pub smb_ports: Vec<u16>,
}

/// Output formats of `analyze`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A human report: servers, their sessions, findings by severity.
    Text,
    /// JSON lines: one object per line, each with a "type" (connection, session, finding,
    /// event, quic, anomaly, summary).
    Json,
}

/// Thresholds of the logon-attack findings (`logon.bruteforce`, `logon.spray`,
/// `logon.lockout`, `logon.success_after_failures`). Shared by `analyze`, `watch` and `tui`.
#[derive(Debug, Default, Clone, Args)]
pub struct LogonArgs {
    /// Sliding window of the logon-attack findings, in seconds of capture time [default: 300].
    #[arg(long = "logon-window", value_name = "SECS")]
    pub logon_window: Option<u64>,

    /// Failed logons of one user from one client within the window that make a brute force
    /// [default: 10].
    #[arg(long = "bruteforce-threshold", value_name = "N")]
    pub bruteforce_threshold: Option<u32>,

    /// Distinct users failing within the window (from one client, or from several towards
    /// one server) that make a password spray [default: 10].
    #[arg(long = "spray-threshold", value_name = "N")]
    pub spray_threshold: Option<u32>,

    /// Client addresses whose failed logons are tracked at once; the least recently seen are
    /// forgotten first [default: 10000].
    #[arg(long = "logon-max-clients", value_name = "N")]
    pub logon_max_clients: Option<usize>,
}

impl LogonArgs {
    /// The policy: these options, else `file`'s, else the defaults. Zero is refused.
    pub fn policy(&self, file: &LogonArgs) -> Result<LogonPolicy, String> {
        let d = LogonPolicy::default();
        let p = LogonPolicy {
            window_secs: self
                .logon_window
                .or(file.logon_window)
                .unwrap_or(d.window_secs),
            bruteforce: self
                .bruteforce_threshold
                .or(file.bruteforce_threshold)
                .unwrap_or(d.bruteforce),
            spray: self
                .spray_threshold
                .or(file.spray_threshold)
                .unwrap_or(d.spray),
            max_clients: self
                .logon_max_clients
                .or(file.logon_max_clients)
                .unwrap_or(d.max_clients),
        };
        for (name, v) in [
            ("logon-window", p.window_secs),
            ("bruteforce-threshold", u64::from(p.bruteforce)),
            ("spray-threshold", u64::from(p.spray)),
            ("logon-max-clients", p.max_clients as u64),
        ] {
            if v == 0 {
                return Err(format!("--{name} must be at least 1"));
            }
        }
        if p.spray as usize > MAX_USERS {
            return Err(format!("--spray-threshold is at most {MAX_USERS}"));
        }
        Ok(p)
    }
}

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Capture files (pcap, pcapng, optionally gzip-compressed), analysed in order as one run.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// Also treat this TCP port as SMB (445 and 139 always are). Repeatable.
    #[arg(long = "smb-port", value_name = "PORT")]
    pub smb_ports: Vec<u16>,

    /// Also treat this UDP port as SMB over QUIC (443 always is). Repeatable.
    #[arg(long = "quic-port", value_name = "PORT")]
    pub quic_ports: Vec<u16>,

    /// Apply client mandates (Set-SmbClientConfiguration -RequireSecuritySignature /
    /// -RequireEncryption): sessions such a client would refuse become high severity.
    /// Comma-separated: signing, encryption.
    #[arg(long, value_name = "LIST", value_parser = parse_mandates)]
    pub require: Option<Mandates>,

    /// Exit with status 1 when a finding at or above this severity exists.
    #[arg(long = "fail-on", value_name = "SEVERITY", value_parser = parse_severity)]
    pub fail_on: Option<Severity>,

    /// Close flows idle for this many seconds of capture time.
    #[arg(long, value_name = "SECS", default_value_t = Limits::default().idle_timeout_secs)]
    pub idle_timeout: u64,

    /// Most TCP flows tracked at once (shared out between the --jobs workers).
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_flows)]
    pub max_flows: usize,

    /// Analysis threads: flows are sharded over N workers [default: one per CPU core, at
    /// most 8]. -j1 analyses on the reading thread. The records are the same either way.
    #[arg(short = 'j', long, value_name = "N")]
    pub jobs: Option<usize>,

    /// Largest SMB message buffered whole, in bytes (larger ones are analysed by their start).
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_message)]
    pub max_message: usize,

    /// Out-of-order bytes buffered per flow direction before a gap is declared.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_ooo_bytes)]
    pub max_ooo_bytes: usize,

    /// Never show a progress bar.
    #[arg(long)]
    pub no_progress: bool,

    #[command(flatten)]
    pub logon: LogonArgs,

    #[command(flatten)]
    pub keys: KeyArgs,
}

fn parse_mandates(s: &str) -> Result<Mandates, String> {
    Mandates::parse(s)
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    Severity::parse(s).ok_or_else(|| format!("'{s}' is not one of: info, low, medium, high"))
}

/// `smbscope watch` options. Every long option is also a key of the same name in the
/// `--config` TOML file (see [`crate::sensor::config`]); options given here win over the file.
#[derive(Debug, Default, Args)]
pub struct WatchArgs {
    /// Capture live from this interface (`eth0`, `lo`, `any`).
    #[arg(
        short = 'i',
        long = "interface",
        value_name = "IFACE",
        conflicts_with = "read"
    )]
    pub interface: Option<String>,

    /// Replay this capture file (pcap, pcapng, gzip) through the sensor pipeline.
    #[arg(short = 'r', long = "read", value_name = "FILE")]
    pub read: Option<PathBuf>,

    /// Read options from this TOML file (keys named like the long options).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// With -r: replay at capture speed instead of as fast as possible.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub realtime: Option<bool>,

    /// Put the interface in promiscuous mode (needs CAP_NET_ADMIN without root).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub promisc: Option<bool>,

    /// Deliver packets as they arrive (default true).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub immediate: Option<bool>,

    /// Bytes kept of each packet [default: 262144].
    #[arg(long, value_name = "BYTES")]
    pub snaplen: Option<i32>,

    /// Kernel capture buffer, e.g. 16M [default: 16M].
    #[arg(long = "buffer-size", value_name = "SIZE", value_parser = crate::sensor::config::parse_size)]
    pub buffer_size: Option<u64>,

    /// BPF filter, replacing the default (tcp port 445 or tcp port 139 or udp port 443, plus
    /// each --smb-port and --quic-port).
    #[arg(long, value_name = "EXPR")]
    pub filter: Option<String>,

    /// Also treat this TCP port as SMB (445 and 139 always are). Repeatable.
    #[arg(long = "smb-port", value_name = "PORT")]
    pub smb_ports: Vec<u16>,

    /// Also capture this UDP port as SMB over QUIC (443 always is). Repeatable.
    #[arg(long = "quic-port", value_name = "PORT")]
    pub quic_ports: Vec<u16>,

    /// Apply client mandates (signing, encryption), as for `analyze`.
    #[arg(long, value_name = "LIST")]
    pub require: Option<String>,

    /// Close flows idle this many seconds of capture time [default: 600].
    #[arg(long = "idle-timeout", value_name = "SECS")]
    pub idle_timeout: Option<u64>,

    /// Most TCP flows tracked at once [default: 100000].
    #[arg(long = "max-flows", value_name = "N")]
    pub max_flows: Option<usize>,

    /// Largest SMB message buffered whole, in bytes.
    #[arg(long = "max-message", value_name = "BYTES")]
    pub max_message: Option<usize>,

    /// Out-of-order bytes buffered per flow direction.
    #[arg(long = "max-ooo-bytes", value_name = "BYTES")]
    pub max_ooo_bytes: Option<usize>,

    #[command(flatten)]
    pub logon: LogonArgs,

    #[command(flatten)]
    pub keys: KeyArgs,

    /// After opening the capture, drop root to this user (initgroups, setgid, setuid).
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,

    /// Frames queued between the capture thread and the analysis [default: 4096].
    #[arg(long, value_name = "N")]
    pub queue: Option<usize>,

    /// Seconds between drop reports on stderr; 0 = only at exit [default: 60].
    #[arg(long = "stats-interval", value_name = "SECS")]
    pub stats_interval: Option<u64>,

    /// JSON lines output: a file path, or - for stdout.
    #[arg(long, value_name = "PATH|-")]
    pub jsonl: Option<String>,

    /// Rotate the JSON lines file at this size, e.g. 100M.
    #[arg(long = "jsonl-rotate", value_name = "SIZE", value_parser = crate::sensor::config::parse_size)]
    pub jsonl_rotate: Option<u64>,

    /// Rotated JSON lines files kept [default: 5].
    #[arg(long = "jsonl-keep", value_name = "N")]
    pub jsonl_keep: Option<usize>,

    /// Send findings to syslog: udp://HOST:PORT, tcp://HOST:PORT or unix:///dev/log.
    #[arg(long, value_name = "URL")]
    pub syslog: Option<String>,

    /// Syslog message format: 5424 or 3164 [default: 5424].
    #[arg(long = "syslog-format", value_name = "FORMAT")]
    pub syslog_format: Option<String>,

    /// Syslog facility: a name (local0, daemon, auth ...) or a number.
    #[arg(long = "syslog-facility", value_name = "NAME")]
    pub syslog_facility: Option<String>,

    /// Syslog APP-NAME / tag [default: smbscope].
    #[arg(long = "syslog-app-name", value_name = "NAME")]
    pub syslog_app_name: Option<String>,

    /// Syslog HOSTNAME field [default: this host's name].
    #[arg(long = "syslog-hostname", value_name = "NAME")]
    pub syslog_hostname: Option<String>,

    /// Syslog messages queued while the collector is slow or away.
    #[arg(long = "syslog-queue", value_name = "N")]
    pub syslog_queue: Option<usize>,

    /// Syslog: the same finding is sent at most once per this many seconds.
    #[arg(long = "dedupe-window", value_name = "SECS")]
    pub dedupe_window: Option<u64>,

    /// Syslog: seconds between summary messages.
    #[arg(long = "summary-interval", value_name = "SECS")]
    pub summary_interval: Option<u64>,
}

/// `smbscope tui` options.
#[derive(Debug, Default, Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["interface", "read"])))]
pub struct TuiArgs {
    /// Capture live from this interface (`eth0`, `lo`, `any`).
    #[arg(short = 'i', long = "interface", value_name = "IFACE")]
    pub interface: Option<String>,

    /// Replay this capture file (pcap, pcapng, gzip), as fast as possible.
    #[arg(short = 'r', long = "read", value_name = "FILE")]
    pub read: Option<PathBuf>,

    /// With -r: replay at capture speed.
    #[arg(long, requires = "read")]
    pub realtime: bool,

    /// With -i: put the interface in promiscuous mode.
    #[arg(long, requires = "interface")]
    pub promisc: bool,

    /// Also treat this TCP port as SMB (445 and 139 always are). Repeatable.
    #[arg(long = "smb-port", value_name = "PORT")]
    pub smb_ports: Vec<u16>,

    /// Also treat this UDP port as SMB over QUIC (443 always is). Repeatable.
    #[arg(long = "quic-port", value_name = "PORT")]
    pub quic_ports: Vec<u16>,

    /// Apply client mandates (signing, encryption), as for `analyze`.
    #[arg(long, value_name = "LIST", value_parser = parse_mandates)]
    pub require: Option<Mandates>,

    /// Frames queued between the capture thread and the analysis.
    #[arg(long, value_name = "N", default_value_t = 4096)]
    pub queue: usize,

    #[command(flatten)]
    pub logon: LogonArgs,

    #[command(flatten)]
    pub keys: KeyArgs,
}

/// Parses the command line and runs it.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Analyze(args) => analyze(&args),
        Command::Decrypt(args) => decrypt(&args),
        Command::Watch(args) => Ok(crate::sensor::watch(&args)),
        Command::Tui(args) => Ok(crate::tui::run(&args)),
    };
    match result {
        Ok(code) => code,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("smbscope: cannot write output: {e}");
            ExitCode::from(2)
        }
    }
}

/// Runs `analyze`; returns the exit code.
pub fn analyze(args: &AnalyzeArgs) -> io::Result<ExitCode> {
    let limits = Limits {
        idle_timeout_secs: args.idle_timeout,
        max_flows: args.max_flows,
        max_message: args.max_message,
        max_ooo_bytes: args.max_ooo_bytes,
        ..Limits::default()
    };
    let shared = match args
        .keys
        .engine_config(&args.files, &args.smb_ports, &args.quic_ports)
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("smbscope: error: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let logon = match args.logon.policy(&LogonArgs::default()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("smbscope: error: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let config = Config {
        limits,
        mandates: args.require.unwrap_or_default(),
        logon,
        ..shared
    };
    let stdout = io::stdout();
    let out = io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut sink: Box<dyn Sink> = match args.format {
        Format::Text => Box::new(TextSink::new(out)),
        Format::Json => Box::new(JsonSink::new(out)),
    };
    let jobs = match args.jobs {
        Some(0) => {
            eprintln!("smbscope: error: --jobs must be at least 1");
            return Ok(ExitCode::from(2));
        }
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(1, |n| n.get().min(8)),
    };
    let engine = if jobs > 1 {
        match ShardedEngine::new(config.clone(), jobs) {
            Ok(e) => Analyzer::Sharded(e),
            Err(e) => {
                eprintln!(
                    "smbscope: warning: cannot start {jobs} analysis threads ({e}); using one"
                );
                Analyzer::One(Engine::new(config))
            }
        }
    } else {
        Analyzer::One(Engine::new(config))
    };
    let mut run = Run {
        engine,
        worst: None,
        errors: Vec::new(),
        input_error: false,
    };
    let progress = Progress::new(&args.files, args.no_progress);
    for path in &args.files {
        run.file(path, sink.as_mut(), &progress)?;
    }
    progress.finish();
    while run.engine.finish_some() {
        run.drain(sink.as_mut())?;
    }
    run.drain(sink.as_mut())?;
    let mut summary = run.engine.summary();
    summary.files = args.files.iter().map(|p| p.display().to_string()).collect();
    for e in &summary.errors {
        // Internal failures of an analysis worker: the report is incomplete.
        eprintln!("smbscope: error: {e}");
        run.input_error = true;
    }
    summary.errors.extend(run.errors);
    sink.finish(&summary)?;
    drop(sink);
    io::stdout().flush()?;
    if run.input_error {
        return Ok(ExitCode::from(2));
    }
    match (args.fail_on, run.worst) {
        (Some(limit), Some(worst)) if worst >= limit => Ok(ExitCode::from(1)),
        _ => Ok(ExitCode::SUCCESS),
    }
}

/// One engine on this thread, or several sharded over worker threads (one value per run).
#[allow(clippy::large_enum_variant)]
enum Analyzer {
    One(Engine),
    Sharded(ShardedEngine),
}

impl Analyzer {
    fn handle_frame(&mut self, frame: &crate::capture::Frame<'_>) {
        match self {
            Analyzer::One(e) => e.handle_frame(frame),
            Analyzer::Sharded(e) => e.handle_frame(frame),
        }
    }

    fn poll_record(&mut self) -> Option<Record> {
        match self {
            Analyzer::One(e) => e.poll_record(),
            Analyzer::Sharded(e) => e.poll_record(),
        }
    }

    /// Ends a part of the open flows; true while more remain (drain records in between).
    fn finish_some(&mut self) -> bool {
        match self {
            Analyzer::One(e) => e.finish_some(crate::engine::FINISH_CHUNK),
            Analyzer::Sharded(e) => e.finish_some(),
        }
    }

    fn summary(&self) -> crate::event::Summary {
        match self {
            Analyzer::One(e) => e.summary(),
            Analyzer::Sharded(e) => e.summary(),
        }
    }
}

struct Run {
    engine: Analyzer,
    worst: Option<Severity>,
    errors: Vec<String>,
    input_error: bool,
}

impl Run {
    fn file(&mut self, path: &Path, sink: &mut dyn Sink, progress: &Progress) -> io::Result<()> {
        let mut cap = match OfflineCapture::open(path) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("smbscope: error: {e}");
                self.errors.push(e.to_string());
                self.input_error = true;
                return Ok(());
            }
        };
        let mut n: u64 = 0;
        let shared = cap.has_shared_frames();
        loop {
            match cap.next_frame() {
                Ok(Some(frame)) => {
                    match &mut self.engine {
                        // The sharded engine takes a reference to the reader's buffer.
                        Analyzer::Sharded(e) if shared => {
                            let (ts, linktype, orig_len) =
                                (frame.ts, frame.linktype, frame.orig_len);
                            // `shared` says the reader hands out shared buffers: always `Some`.
                            if let Some((buf, range)) = cap.shared_data() {
                                e.handle_shared_frame(ts, linktype, orig_len, buf, range);
                            }
                        }
                        engine => engine.handle_frame(&frame),
                    }
                    self.drain(sink)?;
                    n += 1;
                    if n.is_multiple_of(8192) {
                        progress.set(path, cap.bytes_read());
                    }
                }
                Ok(None) => break,
                Err(e @ CaptureError::Truncated { .. }) => {
                    eprintln!("smbscope: warning: {e}");
                    self.errors.push(e.to_string());
                    break;
                }
                Err(e) => {
                    eprintln!("smbscope: error: {e}");
                    self.errors.push(e.to_string());
                    self.input_error = true;
                    break;
                }
            }
        }
        progress.done(path);
        Ok(())
    }

    fn drain(&mut self, sink: &mut dyn Sink) -> io::Result<()> {
        while let Some(r) = self.engine.poll_record() {
            if let Record::Finding(f) = &r {
                self.worst = self.worst.max(Some(f.severity));
            }
            sink.record(&r)?;
        }
        Ok(())
    }
}

/// A progress bar on stderr, only when stderr is a terminal and the input is large.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    sizes: Vec<(PathBuf, u64)>,
    done: std::cell::Cell<u64>,
}

impl Progress {
    const MIN_BYTES: u64 = 32 << 20;

    fn new(files: &[PathBuf], disabled: bool) -> Progress {
        let sizes: Vec<(PathBuf, u64)> = files
            .iter()
            .map(|p| {
                (
                    p.clone(),
                    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0),
                )
            })
            .collect();
        let total: u64 = sizes.iter().map(|(_, s)| s).sum();
        let bar = (!disabled && io::stderr().is_terminal() && total >= Self::MIN_BYTES).then(|| {
            let bar = indicatif::ProgressBar::new(total);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {bar:40} {bytes}/{total_bytes} {bytes_per_sec} {msg}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar
        });
        Progress {
            bar,
            sizes,
            done: std::cell::Cell::new(0),
        }
    }

    fn set(&self, path: &Path, read: u64) {
        if let Some(bar) = &self.bar {
            bar.set_message(path.display().to_string());
            bar.set_position(self.done.get() + read);
        }
    }

    fn done(&self, path: &Path) {
        let size = self
            .sizes
            .iter()
            .find(|(p, _)| p == path)
            .map_or(0, |(_, s)| *s);
        self.done.set(self.done.get() + size);
        if let Some(bar) = &self.bar {
            bar.set_position(self.done.get());
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Runs `decrypt`; returns the exit code.
pub fn decrypt(args: &DecryptArgs) -> io::Result<ExitCode> {
    if args.keys.is_empty() {
        eprintln!("smbscope: error: decrypt needs --keys FILE or --credentials FILE");
        return Ok(ExitCode::from(2));
    }
    let config =
        match args
            .keys
            .engine_config(std::slice::from_ref(&args.input), &args.smb_ports, &[])
        {
            Ok(c) => c,
            Err(e) => {
                eprintln!("smbscope: error: {e}");
                return Ok(ExitCode::from(2));
            }
        };
    let mut cap = match OfflineCapture::open(&args.input) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("smbscope: error: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let writer = match PcapWriter::create(&args.output) {
        Ok(w) => w,
        Err(e) => {
            eprintln!(
                "smbscope: error: cannot create {}: {e}",
                args.output.display()
            );
            return Ok(ExitCode::from(2));
        }
    };
    let mut engine = Engine::with_tap(config, Box::new(writer));
    let mut totals = DecryptTotals::default();
    let mut input_error = false;
    loop {
        match cap.next_frame() {
            Ok(Some(frame)) => engine.handle_frame(&frame),
            Ok(None) => break,
            Err(e @ CaptureError::Truncated { .. }) => {
                eprintln!("smbscope: warning: {e}");
                break;
            }
            Err(e) => {
                eprintln!("smbscope: error: {e}");
                input_error = true;
                break;
            }
        }
        while let Some(r) = engine.poll_record() {
            totals.add(&r);
        }
    }
    loop {
        let more = engine.finish_some(crate::engine::FINISH_CHUNK);
        while let Some(r) = engine.poll_record() {
            totals.add(&r);
        }
        if !more {
            break;
        }
    }
    // The tap is the PcapWriter boxed above.
    let packets = match engine.take_tap() {
        Some(mut tap) => tap.finish(),
        None => Ok(0),
    };
    let packets = match packets {
        Ok(n) => n,
        Err(e) => {
            eprintln!("smbscope: error: writing {}: {e}", args.output.display());
            return Ok(ExitCode::from(2));
        }
    };
    eprintln!(
        "smbscope: {} encrypted message(s) decrypted, {} failed, {} without a key; {} session(s) \
         with keys; wrote {} packets to {}",
        totals.ok,
        totals.failed,
        totals.encrypted.saturating_sub(totals.ok + totals.failed),
        totals.keyed_sessions,
        packets,
        args.output.display()
    );
    Ok(if input_error {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// What `decrypt` reports at the end.
#[derive(Default)]
struct DecryptTotals {
    encrypted: u64,
    ok: u64,
    failed: u64,
    keyed_sessions: u64,
}

impl DecryptTotals {
    fn add(&mut self, r: &Record) {
        if let Record::Session(s) = r {
            self.encrypted += s.messages.encrypted;
            self.ok += s.decrypted.ok;
            self.failed += s.decrypted.failed;
            self.keyed_sessions += u64::from(s.key_source.is_some());
        }
    }
}
