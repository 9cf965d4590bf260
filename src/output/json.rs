//! JSON lines: one object per line, each with a `"type"` (see [`crate::event`]).

use std::io::{self, Write};

use super::Sink;
use crate::event::{Record, Summary};

/// Writes each record as one line of JSON.
pub struct JsonSink<W: Write> {
    out: W,
}

impl<W: Write> JsonSink<W> {
    pub fn new(out: W) -> Self {
        JsonSink { out }
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

impl<W: Write> Sink for JsonSink<W> {
    fn record(&mut self, record: &Record) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, record)?;
        self.out.write_all(b"\n")
    }

    fn finish(&mut self, summary: &Summary) -> io::Result<()> {
        self.record(&Record::Summary(summary.clone()))?;
        self.out.flush()
    }
}
