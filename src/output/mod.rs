//! Sinks: the only places that format records.

mod json;
mod pcap_writer;
mod text;

pub use json::JsonSink;
pub use pcap_writer::PcapWriter;
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
