//! Sinks: the only places that format records.

mod dedupe;
mod json;
mod jsonl_file;
mod pcap_writer;
mod syslog;
mod text;

pub use dedupe::{AlertKey, Dedupe, ErrorReporter, Verdict};
pub use json::JsonSink;
pub use jsonl_file::{JsonlFileSink, JsonlStats};
pub use pcap_writer::PcapWriter;
pub use syslog::{
    DEFAULT_ALERT_ANOMALIES, Facility, SD_ID, SyslogConfig, SyslogFormat, SyslogParseError,
    SyslogSink, SyslogStats, SyslogTarget, default_hostname, severity_code,
};
pub use text::TextSink;

use std::io;

use crate::event::{Record, Summary};

/// Something that consumes records as they stream out of the engine.
pub trait Sink {
    /// One record. Findings arrive as soon as they are known; connection and session records
    /// when their connection ends.
    fn record(&mut self, record: &Record) -> io::Result<()>;

    /// End of the run.
    fn finish(&mut self, summary: &Summary) -> io::Result<()>;
}
