//! The sensor's sinks, built from the options, and the fan-out that keeps analysis going
//! when one of them fails.
//!
//! A sink whose `record` or `finish` fails is not removed: its error is counted, the first
//! one is printed on stderr, later ones are summed up in the stats lines, and every other
//! sink (and the analysis) carries on. A collector that comes back gets records again.
//!
//! Latency: stdout is line-buffered (each record leaves at once); the JSON lines file sink
//! buffers, so the engine loop calls [`Outputs::flush`] whenever the capture queue runs
//! empty and at least every 100 ms while it is busy, and a finding reaches the file well
//! within a second.

use std::io;
use std::time::Duration;

use super::config::{JsonlOutput, SyslogOptions};
use crate::event::{Record, Summary};
use crate::output::{
    Facility, JsonSink, JsonlFileSink, JsonlStats, Sink, SyslogConfig, SyslogFormat, SyslogSink,
    SyslogTarget,
};

/// Delivery counters of the syslog sink, as the exit summary prints them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AlertStats {
    pub sent: u64,
    pub suppressed: u64,
    pub lost: u64,
    pub errors: u64,
    pub queued: u64,
}

/// Every configured sink.
pub struct Outputs {
    list: Vec<Output>,
    /// Records written since the last flush.
    dirty: bool,
}

struct Output {
    name: String,
    kind: Kind,
    errors: u64,
    reported: u64,
}

enum Kind {
    Plain(Box<dyn Sink>),
    JsonlFile(Box<JsonlFileSink>),
    Syslog(Box<SyslogSink>),
}

impl Kind {
    fn sink(&mut self) -> &mut dyn Sink {
        match self {
            Kind::Plain(s) => s.as_mut(),
            Kind::JsonlFile(s) => s.as_mut(),
            Kind::Syslog(s) => s.as_mut(),
        }
    }
}

impl Outputs {
    /// Opens the sinks. Fails (naming the output) when one cannot be opened.
    pub fn open(
        jsonl: Option<&JsonlOutput>,
        syslog: Option<&SyslogOptions>,
    ) -> Result<Self, String> {
        let mut list = Vec::new();
        if let Some(j) = jsonl {
            let (name, kind) = jsonl_sink(j)?;
            list.push(Output::new(name, kind));
        }
        if let Some(s) = syslog {
            let sink = syslog_sink(s)?;
            list.push(Output::new(
                format!("syslog {}", s.url),
                Kind::Syslog(Box::new(sink)),
            ));
        }
        Ok(Outputs { list, dirty: false })
    }

    /// Outputs from ready-made sinks (tests, embedding).
    pub fn from_sinks(sinks: Vec<(String, Box<dyn Sink>)>) -> Outputs {
        Outputs {
            list: sinks
                .into_iter()
                .map(|(name, sink)| Output::new(name, Kind::Plain(sink)))
                .collect(),
            dirty: false,
        }
    }

    /// Sends one record to every sink.
    pub fn record(&mut self, record: &Record) {
        self.dirty = true;
        for o in &mut self.list {
            let r = o.kind.sink().record(record);
            o.note(r);
        }
    }

    /// Pushes buffered records out (to the JSON lines file), if any were written since the
    /// last flush.
    pub fn flush(&mut self) {
        if !std::mem::take(&mut self.dirty) {
            return;
        }
        for o in &mut self.list {
            if let Kind::JsonlFile(s) = &mut o.kind {
                s.flush();
            }
        }
    }

    /// Ends every sink with the run's summary.
    pub fn finish(&mut self, summary: &Summary) {
        for o in &mut self.list {
            let r = o.kind.sink().finish(summary);
            o.note(r);
        }
    }

    /// Sink errors since the last call, as `"NAME: N errors"` parts (empty when none).
    pub fn new_errors(&mut self) -> Vec<String> {
        let mut v = Vec::new();
        for o in &mut self.list {
            if o.errors > o.reported {
                v.push(format!("{}: {} errors", o.name, o.errors - o.reported));
                o.reported = o.errors;
            }
        }
        v
    }

    /// Total sink errors.
    pub fn errors(&self) -> u64 {
        self.list.iter().map(|o| o.errors).sum()
    }

    /// The syslog sink's counters, when there is one.
    pub fn alert_stats(&self) -> Option<AlertStats> {
        self.list.iter().find_map(|o| match &o.kind {
            Kind::Syslog(s) => Some(alert_stats(s)),
            _ => None,
        })
    }

    /// The JSON lines file sink's `(dropped records, errors)`, when there is one (it reports
    /// its own errors on stderr and never fails a call).
    pub fn file_losses(&self) -> Option<(u64, u64)> {
        self.list.iter().find_map(|o| match &o.kind {
            Kind::JsonlFile(s) => {
                let st: JsonlStats = s.stats();
                Some((st.dropped, st.errors))
            }
            _ => None,
        })
    }
}

impl Output {
    fn new(name: String, kind: Kind) -> Output {
        Output {
            name,
            kind,
            errors: 0,
            reported: 0,
        }
    }

    fn note(&mut self, r: io::Result<()>) {
        if let Err(e) = r {
            if self.errors == 0 {
                eprintln!(
                    "smbscope: warning: output {}: {e} (analysis goes on; further errors are \
                     counted)",
                    self.name
                );
            }
            self.errors += 1;
        }
    }
}

/// `--jsonl`: stdout (line-buffered, so each record leaves at once) or a file sink.
fn jsonl_sink(j: &JsonlOutput) -> Result<(String, Kind), String> {
    match j {
        JsonlOutput::Stdout => Ok((
            "stdout".into(),
            Kind::Plain(Box::new(JsonSink::new(io::stdout()))),
        )),
        JsonlOutput::File {
            path,
            rotate_bytes,
            keep,
        } => {
            let sink = JsonlFileSink::create(path, *rotate_bytes, *keep)
                .map_err(|e| format!("cannot open --jsonl {}: {e}", path.display()))?;
            Ok((path.display().to_string(), Kind::JsonlFile(Box::new(sink))))
        }
    }
}

// ---- Wiring to `output::syslog` (the only code that names its types) ----------------------

/// Builds the syslog sink's configuration from the options; also used up front to reject a
/// bad URL, format or facility before the capture is opened.
pub fn syslog_config(o: &SyslogOptions) -> Result<SyslogConfig, String> {
    let target: SyslogTarget = o
        .url
        .parse()
        .map_err(|e| format!("--syslog '{}': {e}", o.url))?;
    let mut cfg = SyslogConfig::new(target);
    if let Some(f) = &o.format {
        cfg.format = match f.to_ascii_lowercase().as_str() {
            "5424" | "rfc5424" => SyslogFormat::Rfc5424,
            "3164" | "rfc3164" | "bsd" => SyslogFormat::Rfc3164,
            _ => return Err(format!("--syslog-format '{f}': expected 5424 or 3164")),
        };
    }
    if let Some(f) = &o.facility {
        cfg.facility = f
            .parse::<Facility>()
            .map_err(|e| format!("--syslog-facility '{f}': {e}"))?;
    }
    if let Some(a) = &o.app_name {
        cfg.app_name = a.clone();
    }
    if let Some(h) = &o.hostname {
        cfg.hostname = Some(h.clone());
    }
    if let Some(q) = o.queue {
        cfg.queue = q;
    }
    if let Some(s) = o.dedupe_window {
        cfg.dedupe_window = Duration::from_secs(s);
    }
    if let Some(s) = o.summary_interval {
        cfg.summary_interval = Duration::from_secs(s);
    }
    Ok(cfg)
}

/// `--syslog`: the sink itself.
fn syslog_sink(o: &SyslogOptions) -> Result<SyslogSink, String> {
    SyslogSink::new(syslog_config(o)?).map_err(|e| format!("--syslog {}: {e}", o.url))
}

fn alert_stats(s: &SyslogSink) -> AlertStats {
    let st = s.stats();
    AlertStats {
        sent: st.sent,
        suppressed: st.suppressed,
        lost: st.lost,
        errors: st.errors,
        queued: st.queued,
    }
}

// -------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Summary;

    struct Failing(u32);

    impl Sink for Failing {
        fn record(&mut self, _: &Record) -> io::Result<()> {
            self.0 += 1;
            Err(io::Error::other("collector away"))
        }
        fn finish(&mut self, _: &Summary) -> io::Result<()> {
            Err(io::Error::other("collector away"))
        }
    }

    #[test]
    fn a_failing_sink_is_counted_and_the_others_go_on() {
        let mut outs = Outputs {
            dirty: false,
            list: vec![
                Output::new("bad".into(), Kind::Plain(Box::new(Failing(0)))),
                Output::new(
                    "good".into(),
                    Kind::Plain(Box::new(JsonSink::new(Vec::<u8>::new()))),
                ),
            ],
        };
        let s = Summary::default();
        outs.record(&Record::Summary(s.clone()));
        outs.record(&Record::Summary(s.clone()));
        outs.finish(&s);
        assert_eq!(outs.errors(), 3);
        assert_eq!(outs.new_errors(), vec!["bad: 3 errors".to_owned()]);
        assert!(outs.new_errors().is_empty());
        assert_eq!(outs.alert_stats(), None);
    }

    #[test]
    fn syslog_options_are_checked() {
        let mut o = SyslogOptions {
            url: "udp://127.0.0.1:514".into(),
            format: Some("3164".into()),
            facility: Some("local0".into()),
            dedupe_window: Some(10),
            ..SyslogOptions::default()
        };
        let cfg = syslog_config(&o).unwrap();
        assert!(matches!(cfg.format, SyslogFormat::Rfc3164));
        assert_eq!(cfg.dedupe_window, Duration::from_secs(10));
        o.format = Some("5425".into());
        assert!(syslog_config(&o).unwrap_err().contains("5425"));
        o.format = None;
        o.facility = Some("nosuch".into());
        assert!(syslog_config(&o).unwrap_err().contains("nosuch"));
        o.facility = None;
        o.url = "http://x".into();
        assert!(syslog_config(&o).unwrap_err().contains("http://x"));
    }
}
