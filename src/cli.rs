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

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::capture::{CaptureError, MappedCapture, OfflineCapture, ParallelReader, ReadEvent};
use crate::engine::{Analyzer, Config, Engine, ScanEvent};
use crate::event::{Record, Severity};
use crate::flow::Limits;
use crate::options::{Input, parse_mandates};
pub use crate::options::{Jobs, KeyArgs, LogonArgs, TuiArgs, WatchArgs};
use crate::output::{JsonSink, PcapWriter, Sink, TextSink};
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

    /// Analysis threads, N or auto. With N > 1 flows are sharded over N workers. When every
    /// file is an uncompressed classic pcap file, the files are mapped into memory and the
    /// workers read them themselves: the first to get to each 4 MiB block walks it and shares
    /// its frames; otherwise N threads read the files (a classic pcap file in 2 MiB chunks,
    /// other files each whole) and hand each worker its frames.
    /// -j1 reads and analyses on one thread. auto: for mapped files, one worker per CPU core
    /// (at most 8) and per 8 MiB of input; for files read by reader threads, the same but
    /// leaving two cores to the readers and the feeding thread; one thread when that makes
    /// fewer than two workers (any input under 16 MiB, and pcapng or gzip on 2 cores). The
    /// records are the same either way.
    #[arg(short = 'j', long, value_name = "N|auto", default_value = "auto", value_parser = Jobs::parse)]
    pub jobs: Jobs,

    /// Never map capture files into memory (with -j N > 1): read them with pread instead.
    /// A mapped file that another program truncates while it is analysed, or whose storage
    /// fails to read (network file systems), ends smbscope with SIGBUS; use this for files a
    /// capture tool may cut or reuse meanwhile (tcpdump -C/-W) or on unreliable storage.
    #[arg(long)]
    pub no_mmap: bool,

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

fn parse_severity(s: &str) -> Result<Severity, String> {
    Severity::parse(s).ok_or_else(|| format!("'{s}' is not one of: info, low, medium, high"))
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
    let bytes = args
        .files
        .iter()
        .map(|p| std::fs::metadata(p).map_or(0, |m| m.len()))
        .sum();
    // Mapped when the workers can walk the files themselves, and only if several would (for
    // one thread, mapping many small files costs more than it saves).
    let maps = (!args.no_mmap && args.jobs.threads_for(Input::Mapped(bytes)) > 1)
        .then(|| mapped_all(&args.files))
        .flatten();
    let input = match maps {
        Some(_) => Input::Mapped(bytes),
        None => Input::Fed(Some(bytes)),
    };
    let engine = Analyzer::new(config, args.jobs.threads_for(input));
    let mut run = Run {
        engine,
        worst: None,
        errors: Vec::new(),
        input_error: false,
    };
    let progress = Progress::new(&args.files, args.no_progress);
    if let Analyzer::Sharded(e) = &run.engine {
        run.files_parallel(&args.files, e.jobs(), maps, sink.as_mut(), &progress)?;
    } else {
        for path in &args.files {
            run.file(path, sink.as_mut(), &progress)?;
        }
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
                self.input_failed(e);
                return Ok(());
            }
        };
        let mut n: u64 = 0;
        loop {
            match cap.next_frame() {
                Ok(Some(frame)) => {
                    self.engine.handle_frame(&frame);
                    self.drain(sink)?;
                    n += 1;
                    if n.is_multiple_of(8192) {
                        progress.set(path, cap.bytes_read());
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    self.input_failed(e);
                    break;
                }
            }
        }
        progress.done(path);
        Ok(())
    }

    /// Analyses `files` on the sharded engine: the workers walk them themselves when they are
    /// all mapped (`maps`); otherwise `threads` reader threads read them (and split the frames
    /// between the workers).
    fn files_parallel(
        &mut self,
        files: &[PathBuf],
        threads: usize,
        maps: Option<Vec<MappedCapture>>,
        sink: &mut dyn Sink,
        progress: &Progress,
    ) -> io::Result<()> {
        let Analyzer::Sharded(engine) = &mut self.engine else {
            return Ok(());
        };
        if let Some(maps) = maps {
            engine.scan(maps);
            loop {
                let event = match &mut self.engine {
                    Analyzer::Sharded(e) => e.next_scan_event(),
                    Analyzer::One(_) => None,
                };
                let Some(event) = event else { break };
                match event {
                    ScanEvent::Progress { file, bytes } => progress.set(&files[file], bytes),
                    ScanEvent::FileEnd { file, result } => {
                        if let Err(e) = result {
                            self.input_failed(e);
                        }
                        progress.done(&files[file]);
                    }
                }
                self.drain(sink)?;
            }
            return Ok(());
        }
        let mut reader = match ParallelReader::start(files, threads, engine.splitter()) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("smbscope: warning: cannot start reader threads ({e}); reading on one");
                for path in files {
                    self.file(path, sink, progress)?;
                }
                return Ok(());
            }
        };
        while let Some(event) = reader.next() {
            match event {
                ReadEvent::Frames {
                    file,
                    bytes_read,
                    item,
                    ..
                } => {
                    if let Analyzer::Sharded(e) = &mut self.engine {
                        e.handle_prepared(item);
                    }
                    self.drain(sink)?;
                    progress.set(&files[file], bytes_read);
                }
                ReadEvent::FileEnd { file, result } => {
                    if let Err(e) = result {
                        self.input_failed(e);
                    }
                    progress.done(&files[file]);
                }
            }
        }
        Ok(())
    }

    /// A file could not be opened or read on: a cut-off capture is a warning (its frames were
    /// analysed), anything else an input error.
    fn input_failed(&mut self, e: CaptureError) {
        if matches!(e, CaptureError::Truncated { .. }) {
            eprintln!("smbscope: warning: {e}");
        } else {
            eprintln!("smbscope: error: {e}");
            self.input_error = true;
        }
        self.errors.push(e.to_string());
    }

    fn drain(&mut self, sink: &mut dyn Sink) -> io::Result<()> {
        while let Some(r) = self.engine.poll_record() {
            if let Record::Finding(f) = &r {
                self.worst = self.worst.max(Some(f.severity));
            }
            sink.record(&r)?;
            self.engine.recycle(r);
        }
        Ok(())
    }
}

/// Every file of `files` mapped for the workers to walk ([`MappedCapture`]); `None` when one
/// of them is not an uncompressed classic pcap file (or cannot be opened): the parallel
/// reader then reads them all, in order, and reports what is wrong with each.
fn mapped_all(files: &[PathBuf]) -> Option<Vec<MappedCapture>> {
    files
        .iter()
        .map(|p| MappedCapture::open(p).ok().flatten())
        .collect()
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
