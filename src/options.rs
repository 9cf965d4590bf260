//! The option structs that `analyze`, `watch` and `tui` share: where keys come from, the
//! logon-attack thresholds, and the `watch` and `tui` command lines. Below [`crate::cli`]
//! (which parses them) so that the sensor and the TUI depend on these alone.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;

use crate::crypto::keys::{self, KeyStore};
use crate::engine::Config;
use crate::engine::logon::{LogonPolicy, MAX_USERS};
use crate::flow::SmbPorts;
use crate::quic::keylog::KeyLog;
use crate::rules::Mandates;

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

    /// MIT keytab with the service keys of the file servers (`samba-tool domain
    /// exportkeytab`, `ktpass`, `ktutil`): Kerberos sessions are verified and decrypted from
    /// the captured ticket. Repeatable.
    #[arg(long = "keytab", value_name = "FILE")]
    pub keytab: Vec<PathBuf>,
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
        for path in &self.keytab {
            let (bytes, warning) = keys::read_secret_bytes(path).map_err(|e| e.to_string())?;
            if let Some(w) = warning {
                eprintln!("smbscope: warning: {w}");
            }
            store
                .keytab
                .add(&bytes)
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
        Ok(store)
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
            && self.credentials.is_empty()
            && self.keylog.is_empty()
            && self.keytab.is_empty()
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

pub(crate) fn parse_mandates(s: &str) -> Result<Mandates, String> {
    Mandates::parse(s)
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

    /// Analysis threads, N or auto: one capture thread feeds N workers that share the flows
    /// out between them (-j1: the analysis runs on one thread). auto: one per CPU core beyond
    /// two (kept for the capture and feeding threads), at most 8, and for -r one per 8 MiB of
    /// the file; one thread when that makes fewer than two (as on 2 cores) [default: auto].
    #[arg(short = 'j', long, value_name = "N|auto", value_parser = Jobs::parse)]
    pub jobs: Option<Jobs>,

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

    /// Analysis threads, N or auto, as for `watch`.
    #[arg(short = 'j', long, value_name = "N|auto", default_value = "auto", value_parser = Jobs::parse)]
    pub jobs: Jobs,

    #[command(flatten)]
    pub logon: LogonArgs,

    #[command(flatten)]
    pub keys: KeyArgs,
}

/// `-j/--jobs`: analysis threads, a number or `auto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Jobs {
    /// Chosen from the cores and the input ([`Jobs::resolve`]).
    #[default]
    Auto,
    /// Exactly this many (at least 1).
    N(usize),
}

/// How the frames reach the analysis threads, which decides what `auto` picks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// Files of this many bytes that the workers map and walk themselves (`analyze` on
    /// uncompressed classic pcap files): nothing else needs a core.
    Mapped(u64),
    /// Frames handed to the workers by a reader or capture thread and the thread that feeds
    /// them (pcapng and compressed files, `--no-mmap`, replays, live interfaces): of this
    /// many bytes, `None` for a live interface.
    Fed(Option<u64>),
}

impl Jobs {
    /// The most threads `auto` picks.
    pub const MAX_AUTO: usize = 8;
    /// `auto` gives each worker at least this much input: starting and feeding workers costs
    /// more than they win back on a few megabytes (measured on the 2-core development machine:
    /// mapped classic pcap at -j2 against -j1 is level at 4.6 MB, 1.16x faster at 9 MB, 1.33x
    /// at 18 MB; one small capture is 10% slower).
    pub const AUTO_BYTES_PER_JOB: u64 = 8 << 20;
    /// Cores `auto` leaves to the reader or capture thread and the feeding thread when the
    /// frames are fed to the workers ([`Input::Fed`]): on 2 cores, -j2 there was slower than
    /// -j1 (a 260 MB pcapng file 1.03-1.2x, a replay through the sensor 1.2x), so it runs on
    /// one thread.
    pub const FED_RESERVED_CORES: usize = 2;

    /// Parses `auto` or a count of at least 1.
    pub fn parse(s: &str) -> Result<Jobs, String> {
        if s.eq_ignore_ascii_case("auto") {
            return Ok(Jobs::Auto);
        }
        match s.parse::<usize>() {
            Ok(0) => Err("must be at least 1 (or auto)".to_owned()),
            Ok(n) => Ok(Jobs::N(n)),
            Err(_) => Err(format!("'{s}' is not a number of threads or auto")),
        }
    }

    /// The thread count for `input` on a machine with `cores` cores. `auto`: one worker per
    /// core (at most [`Jobs::MAX_AUTO`]; for fed frames, the cores beyond
    /// [`Jobs::FED_RESERVED_CORES`]), each with at least [`Jobs::AUTO_BYTES_PER_JOB`] of a
    /// bounded input; one thread when that leaves fewer than two workers.
    pub fn resolve(self, input: Input, cores: usize) -> usize {
        if let Jobs::N(n) = self {
            return n.max(1);
        }
        let (spare, bytes) = match input {
            Input::Mapped(bytes) => (cores, Some(bytes)),
            Input::Fed(bytes) => (cores.saturating_sub(Self::FED_RESERVED_CORES), bytes),
        };
        let by_size = bytes.map_or(usize::MAX, |b| {
            usize::try_from(b / Self::AUTO_BYTES_PER_JOB).unwrap_or(usize::MAX)
        });
        let n = spare.min(Self::MAX_AUTO).min(by_size);
        if n >= 2 { n } else { 1 }
    }

    /// [`Jobs::resolve`] on this machine.
    pub fn threads_for(self, input: Input) -> usize {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        self.resolve(input, cores)
    }
}

#[cfg(test)]
mod jobs_tests {
    use super::{Input, Jobs};

    #[test]
    fn auto_is_a_worker_per_core_with_enough_input_each() {
        assert_eq!(Jobs::parse("auto"), Ok(Jobs::Auto));
        assert_eq!(Jobs::parse("3"), Ok(Jobs::N(3)));
        assert!(Jobs::parse("0").is_err());
        assert!(Jobs::parse("many").unwrap_err().contains("many"));
        let mib = |n: u64| n << 20;
        // Mapped files: a core each, at least 8 MiB each.
        assert_eq!(Jobs::Auto.resolve(Input::Mapped(mib(1)), 4), 1);
        assert_eq!(Jobs::Auto.resolve(Input::Mapped(mib(15)), 4), 1);
        assert_eq!(Jobs::Auto.resolve(Input::Mapped(mib(16)), 4), 2);
        assert_eq!(Jobs::Auto.resolve(Input::Mapped(mib(24)), 4), 3);
        assert_eq!(Jobs::Auto.resolve(Input::Mapped(mib(48)), 2), 2);
        assert_eq!(Jobs::Auto.resolve(Input::Mapped(1 << 30), 4), 4);
        assert_eq!(
            Jobs::Auto.resolve(Input::Mapped(1 << 30), 64),
            Jobs::MAX_AUTO
        );
        assert_eq!(Jobs::Auto.resolve(Input::Mapped(1 << 30), 1), 1);
        // Fed frames: two cores stay with the reader and the feeder.
        assert_eq!(Jobs::Auto.resolve(Input::Fed(None), 2), 1);
        assert_eq!(Jobs::Auto.resolve(Input::Fed(Some(1 << 30)), 2), 1);
        assert_eq!(Jobs::Auto.resolve(Input::Fed(Some(1 << 30)), 3), 1);
        assert_eq!(Jobs::Auto.resolve(Input::Fed(None), 4), 2);
        assert_eq!(Jobs::Auto.resolve(Input::Fed(None), 64), Jobs::MAX_AUTO);
        assert_eq!(Jobs::Auto.resolve(Input::Fed(Some(mib(12))), 8), 1);
        assert_eq!(Jobs::Auto.resolve(Input::Fed(Some(mib(20))), 8), 2);
        // A number is taken as it is.
        assert_eq!(Jobs::N(2).resolve(Input::Mapped(10), 1), 2);
        assert_eq!(Jobs::N(3).resolve(Input::Fed(None), 2), 3);
    }
}
