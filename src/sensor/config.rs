//! `watch` options: the command line, the `--config` TOML file, and how they combine.
//!
//! Every long option of `smbscope watch` is also a key of the **same name** in the file
//! (`--smb-port` is `smb-port`, `--jsonl-rotate` is `jsonl-rotate`). Options given on the
//! command line win over the file; a repeatable option given on the command line replaces the
//! file's whole list. A key the sensor does not know is an error that names it (a typo must
//! not silently turn a setting off). Relative paths in the file (`read`, `keys`,
//! `credentials`, `jsonl`) are relative to the file's directory.
//!
//! ```toml
//! # /etc/smbscope/smbscope.toml
//! interface = "eth0"          # or: read = "/srv/captures/trace.pcap" (with realtime = true)
//! promisc = true              # a SPAN/mirror port needs it (CAP_NET_ADMIN)
//! snaplen = 262144
//! buffer-size = "16M"         # sizes: integer bytes or "64K" / "16M" / "1G" (powers of 1024)
//! immediate = true
//! # filter = "tcp port 445"   # replaces the default filter
//! smb-port = [4445]           # SMB on extra TCP ports (445 and 139 always)
//! quic-port = []              # SMB over QUIC on extra UDP ports (443 always)
//! require = "signing,encryption"
//! idle-timeout = 600
//! max-flows = 100000
//! max-message = 16781312
//! max-ooo-bytes = 1048576
//! logon-window = 300          # brute force / spray findings: window (s) and thresholds
//! bruteforce-threshold = 10
//! spray-threshold = 10
//! logon-max-clients = 10000
//! keys = ["/etc/smbscope/session.keys"]
//! credentials = []
//! keytab = ["/etc/smbscope/fileservers.keytab"]   # Kerberos sessions (samba-tool domain exportkeytab)
//! user = "smbscope"           # drop root after opening the capture
//! queue = 4096
//! jobs = "auto"               # or a number of analysis threads
//! stats-interval = 60
//! jsonl = "/var/log/smbscope/events.jsonl"   # or "-" for stdout
//! jsonl-rotate = "100M"
//! jsonl-keep = 5
//! syslog = "udp://127.0.0.1:514"             # tcp://HOST:PORT, unix:///dev/log
//! syslog-format = "5424"                     # or "3164"
//! syslog-facility = "local0"
//! syslog-app-name = "smbscope"
//! # syslog-hostname = "sensor1"
//! syslog-queue = 10000
//! dedupe-window = 300
//! summary-interval = 3600
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::capture::LiveOptions;
use crate::engine::logon::LogonPolicy;
use crate::flow::Limits;
use crate::options::{Jobs, KeyArgs, LogonArgs, WatchArgs};
use crate::rules::Mandates;

/// Everything `watch` needs, after the command line and the file were combined and checked.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    pub source: Source,
    pub smb_ports: Vec<u16>,
    pub quic_ports: Vec<u16>,
    pub mandates: Mandates,
    pub limits: Limits,
    pub logon: LogonPolicy,
    pub keys: KeyArgs,
    /// Drop root to this user once the capture is open.
    pub user: Option<String>,
    /// Frames queued between the capture thread and the engine.
    pub queue: usize,
    /// Analysis threads.
    pub jobs: Jobs,
    /// Between drop reports; zero = only at exit.
    pub stats_interval: Duration,
    pub jsonl: Option<JsonlOutput>,
    pub syslog: Option<SyslogOptions>,
}

/// Where frames come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A live interface. `filter` is the user's BPF expression; `None` = the default filter
    /// ([`crate::capture::default_filter`]), chosen once the link type is known.
    Live {
        opts: LiveOptions,
        filter: Option<String>,
    },
    /// A capture file, as fast as possible or (`realtime`) at capture speed.
    Replay { path: PathBuf, realtime: bool },
}

/// `--jsonl`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonlOutput {
    Stdout,
    File {
        path: PathBuf,
        rotate_bytes: Option<u64>,
        keep: usize,
    },
}

/// `--syslog` and its companions, as given (parsed by the syslog sink's own types when the
/// sink is built, and checked once up front by [`super::outputs::syslog_config`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyslogOptions {
    pub url: String,
    pub format: Option<String>,
    pub facility: Option<String>,
    pub app_name: Option<String>,
    pub hostname: Option<String>,
    pub queue: Option<usize>,
    pub dedupe_window: Option<u64>,
    pub summary_interval: Option<u64>,
}

/// Default `--queue`.
pub const DEFAULT_QUEUE: usize = 4096;
/// Default `--stats-interval`, in seconds.
pub const DEFAULT_STATS_INTERVAL: u64 = 60;
/// Default `--jsonl-keep`.
pub const DEFAULT_JSONL_KEEP: usize = 5;

/// The keys a config file may hold (exactly the long option names).
pub const KEYS: &[&str] = &[
    "interface",
    "read",
    "realtime",
    "promisc",
    "immediate",
    "snaplen",
    "buffer-size",
    "filter",
    "smb-port",
    "quic-port",
    "require",
    "idle-timeout",
    "max-flows",
    "max-message",
    "max-ooo-bytes",
    "logon-window",
    "bruteforce-threshold",
    "spray-threshold",
    "logon-max-clients",
    "keys",
    "credentials",
    "keylog",
    "keytab",
    "user",
    "queue",
    "jobs",
    "stats-interval",
    "jsonl",
    "jsonl-rotate",
    "jsonl-keep",
    "syslog",
    "syslog-format",
    "syslog-facility",
    "syslog-app-name",
    "syslog-hostname",
    "syslog-queue",
    "dedupe-window",
    "summary-interval",
];

/// The config file as written. Every field is optional; see the module doc for the keys.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct FileConfig {
    pub interface: Option<String>,
    pub read: Option<PathBuf>,
    pub realtime: Option<bool>,
    pub promisc: Option<bool>,
    pub immediate: Option<bool>,
    pub snaplen: Option<i32>,
    pub buffer_size: Option<Size>,
    pub filter: Option<String>,
    pub smb_port: Option<Vec<u16>>,
    pub quic_port: Option<Vec<u16>>,
    pub require: Option<OneOrMany>,
    pub idle_timeout: Option<u64>,
    pub max_flows: Option<usize>,
    pub max_message: Option<usize>,
    pub max_ooo_bytes: Option<usize>,
    pub logon_window: Option<u64>,
    pub bruteforce_threshold: Option<u32>,
    pub spray_threshold: Option<u32>,
    pub logon_max_clients: Option<usize>,
    pub keys: Option<Vec<PathBuf>>,
    pub credentials: Option<Vec<PathBuf>>,
    pub keylog: Option<Vec<PathBuf>>,
    pub keytab: Option<Vec<PathBuf>>,
    pub user: Option<String>,
    pub queue: Option<usize>,
    pub jobs: Option<JobsValue>,
    pub stats_interval: Option<u64>,
    pub jsonl: Option<String>,
    pub jsonl_rotate: Option<Size>,
    pub jsonl_keep: Option<usize>,
    pub syslog: Option<String>,
    pub syslog_format: Option<String>,
    pub syslog_facility: Option<String>,
    pub syslog_app_name: Option<String>,
    pub syslog_hostname: Option<String>,
    pub syslog_queue: Option<usize>,
    pub dedupe_window: Option<u64>,
    pub summary_interval: Option<u64>,
}

/// A size in the file: integer bytes, or a string with a K/M/G/T suffix.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Size {
    Bytes(u64),
    Text(String),
}

/// `jobs` in the file: a number, or a string (`"auto"` or a number).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum JobsValue {
    Count(u64),
    Text(String),
}

impl JobsValue {
    fn jobs(&self) -> Result<Jobs, String> {
        match self {
            JobsValue::Count(n) => Jobs::parse(&n.to_string()),
            JobsValue::Text(s) => Jobs::parse(s),
        }
        .map_err(|e| format!("jobs: {e}"))
    }
}

/// A string or a list of strings (`require = "signing"` or `require = ["signing"]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl Size {
    fn bytes(&self, key: &str) -> Result<u64, String> {
        match self {
            Size::Bytes(n) => Ok(*n),
            Size::Text(s) => parse_size(s).map_err(|e| format!("{key}: {e}")),
        }
    }
}

/// Parses a size: bytes, or a number with a `K`, `M`, `G` or `T` suffix (powers of 1024;
/// `KB`, `KiB` and lower case are accepted too).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(digits);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("'{s}' is not a size (e.g. 1048576, 64K, 100M, 2G)"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return Err(format!("'{s}' has an unknown unit (use K, M, G or T)")),
    };
    n.checked_mul(1u64 << shift)
        .ok_or_else(|| format!("'{s}' is too large"))
}

/// Reads and checks a config file. Unknown keys are all named in the error.
pub fn load_file(path: &Path) -> Result<FileConfig, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
    parse_file(&text).map_err(|e| format!("config file {}: {e}", path.display()))
}

/// Parses config text (see [`load_file`]).
pub fn parse_file(text: &str) -> Result<FileConfig, String> {
    let table: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
    let unknown: Vec<&str> = table
        .keys()
        .map(String::as_str)
        .filter(|k| !KEYS.contains(k))
        .collect();
    if !unknown.is_empty() {
        return Err(format!(
            "unknown key{} {} (known keys: {})",
            if unknown.len() > 1 { "s" } else { "" },
            unknown
                .iter()
                .map(|k| format!("'{k}'"))
                .collect::<Vec<_>>()
                .join(", "),
            KEYS.join(", ")
        ));
    }
    FileConfig::deserialize(table).map_err(|e| e.to_string())
}

/// Combines the command line with `--config` (command line first) and checks the result.
pub fn resolve(args: &WatchArgs) -> Result<WatchOptions, String> {
    let (file, base) = match &args.config {
        Some(p) => (
            load_file(p)?,
            p.parent().map(Path::to_path_buf).unwrap_or_default(),
        ),
        None => (FileConfig::default(), PathBuf::new()),
    };
    merge(args, file, &base)
}

/// [`resolve`] with the file already read; `base` is its directory (for relative paths).
pub fn merge(args: &WatchArgs, file: FileConfig, base: &Path) -> Result<WatchOptions, String> {
    let rel = |p: PathBuf| if p.is_relative() { base.join(p) } else { p };
    let list = |cli: &[u16], f: Option<Vec<u16>>| {
        if cli.is_empty() {
            f.unwrap_or_default()
        } else {
            cli.to_vec()
        }
    };
    let smb_ports = list(&args.smb_ports, file.smb_port);
    let quic_ports = list(&args.quic_ports, file.quic_port);

    let source = match (&args.interface, &args.read) {
        (Some(i), _) => Choice::Live(i.clone()),
        (None, Some(r)) => Choice::Replay(r.clone()),
        (None, None) => match (file.interface, file.read) {
            (Some(_), Some(_)) => {
                return Err("the config file sets both 'interface' and 'read'; keep one".into());
            }
            (Some(i), None) => Choice::Live(i),
            (None, Some(r)) => Choice::Replay(rel(r)),
            (None, None) => {
                return Err(
                    "watch needs a source: -i IFACE (live) or -r FILE (replay), or 'interface' \
                     / 'read' in the config file"
                        .into(),
                );
            }
        },
    };
    let source = match source {
        Choice::Live(iface) => {
            let buffer = match args.buffer_size {
                Some(n) => n,
                None => match &file.buffer_size {
                    Some(s) => s.bytes("buffer-size")?,
                    None => LiveOptions::DEFAULT_BUFFER_SIZE as u64,
                },
            };
            let snaplen = args
                .snaplen
                .or(file.snaplen)
                .unwrap_or(LiveOptions::DEFAULT_SNAPLEN);
            if snaplen <= 0 {
                return Err(format!("snaplen must be positive (got {snaplen})"));
            }
            let opts = LiveOptions {
                promisc: args.promisc.or(file.promisc).unwrap_or(false),
                snaplen,
                buffer_size: i32::try_from(buffer)
                    .map_err(|_| format!("buffer-size {buffer} is too large (at most 2G - 1)"))?,
                immediate: args.immediate.or(file.immediate).unwrap_or(true),
                ..LiveOptions::new(iface)
            };
            Source::Live {
                opts,
                filter: args.filter.clone().or(file.filter),
            }
        }
        Choice::Replay(path) => Source::Replay {
            path,
            realtime: args.realtime.or(file.realtime).unwrap_or(false),
        },
    };

    let require = match (&args.require, file.require) {
        (Some(s), _) => s.clone(),
        (None, Some(OneOrMany::One(s))) => s,
        (None, Some(OneOrMany::Many(v))) => v.join(","),
        (None, None) => String::new(),
    };
    let mandates = Mandates::parse(&require).map_err(|e| format!("require: {e}"))?;

    let d = Limits::default();
    let limits = Limits {
        idle_timeout_secs: args
            .idle_timeout
            .or(file.idle_timeout)
            .unwrap_or(d.idle_timeout_secs),
        max_flows: args.max_flows.or(file.max_flows).unwrap_or(d.max_flows),
        max_message: args
            .max_message
            .or(file.max_message)
            .unwrap_or(d.max_message),
        max_ooo_bytes: args
            .max_ooo_bytes
            .or(file.max_ooo_bytes)
            .unwrap_or(d.max_ooo_bytes),
        ..d
    };

    let logon = args.logon.policy(&LogonArgs {
        logon_window: file.logon_window,
        bruteforce_threshold: file.bruteforce_threshold,
        spray_threshold: file.spray_threshold,
        logon_max_clients: file.logon_max_clients,
    })?;

    let keys = KeyArgs {
        keys: if args.keys.keys.is_empty() {
            file.keys.unwrap_or_default().into_iter().map(rel).collect()
        } else {
            args.keys.keys.clone()
        },
        credentials: if args.keys.credentials.is_empty() {
            file.credentials
                .unwrap_or_default()
                .into_iter()
                .map(rel)
                .collect()
        } else {
            args.keys.credentials.clone()
        },
        keylog: if args.keys.keylog.is_empty() {
            file.keylog
                .unwrap_or_default()
                .into_iter()
                .map(rel)
                .collect()
        } else {
            args.keys.keylog.clone()
        },
        keytab: if args.keys.keytab.is_empty() {
            file.keytab
                .unwrap_or_default()
                .into_iter()
                .map(rel)
                .collect()
        } else {
            args.keys.keytab.clone()
        },
    };

    let queue = args.queue.or(file.queue).unwrap_or(DEFAULT_QUEUE);
    if queue == 0 {
        return Err("queue must be at least 1".into());
    }
    let jobs = match (args.jobs, &file.jobs) {
        (Some(j), _) => j,
        (None, Some(v)) => v.jobs()?,
        (None, None) => Jobs::Auto,
    };
    let stats_interval = Duration::from_secs(
        args.stats_interval
            .or(file.stats_interval)
            .unwrap_or(DEFAULT_STATS_INTERVAL),
    );

    let jsonl = match args.jsonl.clone().or(file.jsonl) {
        None => None,
        Some(p) if p == "-" => Some(JsonlOutput::Stdout),
        Some(p) if p.is_empty() => return Err("jsonl: empty path (use - for stdout)".into()),
        Some(p) => {
            let rotate_bytes = match args.jsonl_rotate {
                Some(n) => Some(n),
                None => file
                    .jsonl_rotate
                    .as_ref()
                    .map(|s| s.bytes("jsonl-rotate"))
                    .transpose()?,
            };
            let path = if args.jsonl.is_some() {
                PathBuf::from(p)
            } else {
                rel(PathBuf::from(p))
            };
            Some(JsonlOutput::File {
                path,
                rotate_bytes: rotate_bytes.filter(|&n| n > 0),
                keep: args
                    .jsonl_keep
                    .or(file.jsonl_keep)
                    .unwrap_or(DEFAULT_JSONL_KEEP),
            })
        }
    };

    let syslog = args
        .syslog
        .clone()
        .or(file.syslog)
        .map(|url| SyslogOptions {
            url,
            format: args.syslog_format.clone().or(file.syslog_format),
            facility: args.syslog_facility.clone().or(file.syslog_facility),
            app_name: args.syslog_app_name.clone().or(file.syslog_app_name),
            hostname: args.syslog_hostname.clone().or(file.syslog_hostname),
            queue: args.syslog_queue.or(file.syslog_queue),
            dedupe_window: args.dedupe_window.or(file.dedupe_window),
            summary_interval: args.summary_interval.or(file.summary_interval),
        });

    if jsonl.is_none() && syslog.is_none() {
        return Err(
            "watch needs at least one output: --jsonl PATH (or - for stdout) and/or --syslog URL \
             (or 'jsonl' / 'syslog' in the config file)"
                .into(),
        );
    }

    Ok(WatchOptions {
        source,
        smb_ports,
        quic_ports,
        mandates,
        limits,
        logon,
        keys,
        user: args.user.clone().or(file.user),
        queue,
        jobs,
        stats_interval,
        jsonl,
        syslog,
    })
}

impl WatchOptions {
    /// Options given on the command line that the resolved setup ignores (e.g.
    /// `--dedupe-window` without any syslog output), by option name.
    pub fn ignored_options(&self, args: &WatchArgs) -> Vec<&'static str> {
        let live = matches!(self.source, Source::Live { .. });
        let jsonl_file = matches!(self.jsonl, Some(JsonlOutput::File { .. }));
        let syslog = self.syslog.is_some();
        [
            (!syslog && args.syslog_format.is_some(), "--syslog-format"),
            (
                !syslog && args.syslog_facility.is_some(),
                "--syslog-facility",
            ),
            (
                !syslog && args.syslog_app_name.is_some(),
                "--syslog-app-name",
            ),
            (
                !syslog && args.syslog_hostname.is_some(),
                "--syslog-hostname",
            ),
            (!syslog && args.syslog_queue.is_some(), "--syslog-queue"),
            (!syslog && args.dedupe_window.is_some(), "--dedupe-window"),
            (
                !syslog && args.summary_interval.is_some(),
                "--summary-interval",
            ),
            (!jsonl_file && args.jsonl_rotate.is_some(), "--jsonl-rotate"),
            (!jsonl_file && args.jsonl_keep.is_some(), "--jsonl-keep"),
            (live && args.realtime.is_some(), "--realtime"),
            (!live && args.promisc.is_some(), "--promisc"),
            (!live && args.immediate.is_some(), "--immediate"),
            (!live && args.snaplen.is_some(), "--snaplen"),
            (!live && args.buffer_size.is_some(), "--buffer-size"),
            (!live && args.filter.is_some(), "--filter"),
        ]
        .into_iter()
        .filter_map(|(ignored, name)| ignored.then_some(name))
        .collect()
    }
}

enum Choice {
    Live(String),
    Replay(PathBuf),
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
