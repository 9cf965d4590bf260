//! One direction of a TCP connection: sequence tracking, bounded out-of-order buffering,
//! retransmission and overlap handling, gaps; in-order bytes go to the NBSS [`Framer`].
//!
//! Sequence numbers are compared with wrapping arithmetic: a segment up to 2^31 bytes ahead
//! of the next expected byte is "ahead", anything else is old.
//!
//! Bytes already passed on are not kept, so a retransmission is only checked for conflicting
//! content against bytes still buffered out of order; wherever copies overlap, the first one
//! seen wins.

use super::framing::{Events, Framer};
use super::{AnomalyKind, Limits};

/// One segment as reassembly sees it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SegmentIn<'a> {
    pub seq: u32,
    pub syn: bool,
    pub fin: bool,
    pub payload: &'a [u8],
    /// The captured payload is a prefix of what was sent (snaplen, IP fragment).
    pub truncated: bool,
}

/// Reassembly state of one direction. No buffer is allocated until data is out of order or a
/// message is split across segments.
#[derive(Debug, Default)]
pub(crate) struct HalfStream {
    /// Next expected sequence number (valid with `SEQ_KNOWN`).
    next_seq: u32,
    /// Sequence number just after the FIN's data (valid with `FIN_SEEN`).
    fin_seq: u32,
    /// Initial sequence number (valid with `SYN_SEEN`).
    isn: u32,
    flags: u8,
    framer: Framer,
    /// Out-of-order data ahead of `next_seq`: sorted, non-overlapping, each strictly ahead.
    ooo: Vec<OooSeg>,
    ooo_bytes: usize,
}

#[derive(Debug)]
struct OooSeg {
    seq: u32,
    data: Box<[u8]>,
}

/// `HalfStream::flags` bits.
mod flag {
    pub const SEQ_KNOWN: u8 = 1 << 0;
    pub const SYN_SEEN: u8 = 1 << 1;
    pub const FIN_SEEN: u8 = 1 << 2;
    pub const OVERLAP_REPORTED: u8 = 1 << 3;
    /// The last in-order segment was truncated: the hole after it can never be filled.
    pub const TAIL_LOST: u8 = 1 << 4;
}

/// OOO buffers this large or larger are released when they empty.
const KEEP_OOO_SEGMENTS: usize = 8;

impl HalfStream {
    /// Feeds one segment travelling in this direction.
    pub fn segment(&mut self, seg: &SegmentIn<'_>, limits: &Limits, ev: &mut impl Events) {
        let mut seq = seg.seq;
        if seg.syn {
            if !self.has(flag::SEQ_KNOWN) {
                self.isn = seq;
                self.next_seq = seq.wrapping_add(1);
                self.flags |= flag::SEQ_KNOWN | flag::SYN_SEEN;
            }
            seq = seq.wrapping_add(1);
        }
        if !seg.payload.is_empty() {
            self.data(seq, seg.payload, seg.truncated, limits, ev);
        }
        if seg.fin && !self.has(flag::FIN_SEEN) {
            self.fin_seq = seq.wrapping_add(seg.payload.len() as u32);
            self.flags |= flag::FIN_SEEN;
            if !self.has(flag::SEQ_KNOWN) {
                self.next_seq = self.fin_seq;
                self.flags |= flag::SEQ_KNOWN;
            }
        }
    }

    /// Whether a SYN was seen in this direction, and its sequence number.
    /// Frees the buffers that hold nothing: called on streams that have gone quiet, so an
    /// idle connection costs no reassembly memory (an active one keeps its buffers).
    pub fn compact(&mut self) {
        self.framer.compact();
        if self.ooo.is_empty() {
            self.ooo = Vec::new();
        }
    }

    pub fn isn(&self) -> Option<u32> {
        self.has(flag::SYN_SEEN).then_some(self.isn)
    }

    /// Whether a FIN was seen in this direction.
    pub fn fin_seen(&self) -> bool {
        self.has(flag::FIN_SEEN)
    }

    /// The flow is ending: holes left are gaps; buffered data is framed after them.
    pub fn finish(&mut self, limits: &Limits, ev: &mut impl Events) {
        let cap = limits.message_cap();
        while let Some(first) = self.ooo.first() {
            let target = first.seq;
            self.gap_to(target, "hole never filled before the flow ended", ev);
            self.drain(cap, ev);
        }
        if self.has(flag::FIN_SEEN) && self.has(flag::SEQ_KNOWN) {
            let missing = self.fin_seq.wrapping_sub(self.next_seq);
            if missing > 0 && missing < 1 << 31 {
                self.gap_to(self.fin_seq, "bytes before the FIN never seen", ev);
            }
        }
        self.framer.finish(ev);
        self.ooo = Vec::new();
        self.ooo_bytes = 0;
    }

    fn has(&self, f: u8) -> bool {
        self.flags & f != 0
    }

    /// Payload bytes starting at sequence number `seq`.
    fn data(
        &mut self,
        seq: u32,
        payload: &[u8],
        truncated: bool,
        limits: &Limits,
        ev: &mut impl Events,
    ) {
        let cap = limits.message_cap();
        if !self.has(flag::SEQ_KNOWN) {
            // No SYN: the first data sets the sequence, but may start inside a message.
            self.next_seq = seq;
            self.flags |= flag::SEQ_KNOWN;
            self.framer.start_midstream();
        }
        let mut limit_reported = false;
        loop {
            let off = seq.wrapping_sub(self.next_seq) as i32;
            if off <= 0 {
                let dup = off.unsigned_abs() as usize;
                if dup < payload.len() {
                    self.in_order(&payload[dup..], cap, ev);
                    self.set(flag::TAIL_LOST, truncated);
                }
                // else: a retransmission of bytes already passed on.
                return;
            }
            if self.has(flag::TAIL_LOST) {
                // The hole is the part a truncated segment did not capture.
                self.gap_to(seq, "segment bytes cut by the snapshot length", ev);
                continue;
            }
            match self.buffer(seq, payload, limits, ev) {
                Ok(()) => return,
                Err(buffered) => {
                    if !limit_reported {
                        limit_reported = true;
                        ev.anomaly(
                            AnomalyKind::OutOfOrderLimit,
                            "out-of-order buffer full; earliest hole treated as a gap",
                            buffered,
                        );
                    }
                    // Skip the earliest hole (before the first buffered segment, or before
                    // this one if it comes first) and retry.
                    let target = match self.ooo.first() {
                        Some(f) if (f.seq.wrapping_sub(seq) as i32) < 0 => f.seq,
                        _ => seq,
                    };
                    self.gap_to(target, "hole skipped at the out-of-order limit", ev);
                    self.drain(cap, ev);
                }
            }
        }
    }

    /// In-order `data` (starting at `next_seq`). Where it runs into buffered out-of-order
    /// data, the buffered copy (which came first) wins.
    fn in_order(&mut self, mut data: &[u8], cap: usize, ev: &mut impl Events) {
        while let Some(first) = self.ooo.first() {
            let l = first.seq.wrapping_sub(self.next_seq) as usize;
            if l >= data.len() {
                break;
            }
            let (head, rest) = data.split_at(l);
            self.deliver(head, cap, ev);
            let seg = self.ooo.remove(0);
            self.ooo_bytes -= seg.data.len();
            let ov = rest.len().min(seg.data.len());
            if rest[..ov] != seg.data[..ov] {
                self.overlap(ov, ev);
            }
            self.deliver(&seg.data, cap, ev);
            data = &rest[ov..];
        }
        self.deliver(data, cap, ev);
        self.drain(cap, ev);
    }

    /// Passes buffered segments that have become in order.
    fn drain(&mut self, cap: usize, ev: &mut impl Events) {
        while let Some(first) = self.ooo.first() {
            let off = first.seq.wrapping_sub(self.next_seq) as i32;
            if off > 0 {
                break;
            }
            let seg = self.ooo.remove(0);
            self.ooo_bytes -= seg.data.len();
            let dup = off.unsigned_abs() as usize;
            if let Some(fresh) = seg.data.get(dup..) {
                self.deliver(fresh, cap, ev);
            }
        }
        if self.ooo.is_empty() && self.ooo.capacity() > KEEP_OOO_SEGMENTS {
            self.ooo = Vec::new();
        }
    }

    fn deliver(&mut self, data: &[u8], cap: usize, ev: &mut impl Events) {
        if !data.is_empty() {
            self.framer.feed(data, cap, ev);
            self.next_seq = self.next_seq.wrapping_add(data.len() as u32);
        }
    }

    /// Skips the stream forward to `target` (ahead of `next_seq`): those bytes are lost.
    fn gap_to(&mut self, target: u32, detail: &'static str, ev: &mut impl Events) {
        let bytes = u64::from(target.wrapping_sub(self.next_seq));
        self.flags &= !flag::TAIL_LOST;
        if bytes == 0 {
            return;
        }
        ev.anomaly(AnomalyKind::Gap, detail, bytes);
        self.framer.gap(bytes);
        self.next_seq = target;
    }

    /// Buffers a segment that is ahead of `next_seq`, keeping bytes already buffered (and
    /// reporting a conflicting copy). `Err(bytes that would be buffered)` at the limit.
    fn buffer(
        &mut self,
        seq: u32,
        payload: &[u8],
        limits: &Limits,
        ev: &mut impl Events,
    ) -> Result<(), u64> {
        let base = self.next_seq;
        let rel = move |s: u32| u64::from(s.wrapping_sub(base));
        let a = rel(seq);
        let b = a + payload.len() as u64;
        // Uncovered pieces of [a, b), as offsets relative to next_seq.
        let mut pieces: Vec<(u64, u64)> = Vec::new();
        let mut conflict = 0usize;
        let mut cursor = a;
        for seg in &self.ooo {
            let (s, e) = (rel(seg.seq), rel(seg.seq) + seg.data.len() as u64);
            if e <= cursor {
                continue;
            }
            if s >= b {
                break;
            }
            if s > cursor {
                pieces.push((cursor, s));
            }
            let (o1, o2) = (s.max(cursor), e.min(b));
            let new = &payload[(o1 - a) as usize..(o2 - a) as usize];
            let old = &seg.data[(o1 - s) as usize..(o2 - s) as usize];
            if new != old {
                conflict += new.len();
            }
            cursor = e;
            if cursor >= b {
                break;
            }
        }
        if cursor < b {
            pieces.push((cursor, b));
        }
        if conflict > 0 {
            self.overlap(conflict, ev);
        }
        let add: u64 = pieces.iter().map(|(s, e)| e - s).sum();
        if pieces.is_empty() {
            return Ok(());
        }
        let total = self.ooo_bytes as u64 + add;
        if self.ooo.len() + pieces.len() > limits.max_ooo_segments
            || total > limits.max_ooo_bytes as u64
        {
            return Err(total);
        }
        for (s, e) in pieces {
            let data: Box<[u8]> = payload[(s - a) as usize..(e - a) as usize].into();
            let at = self.ooo.partition_point(|seg| rel(seg.seq) < s);
            self.ooo_bytes += data.len();
            self.ooo.insert(
                at,
                OooSeg {
                    seq: base.wrapping_add(s as u32),
                    data,
                },
            );
        }
        Ok(())
    }

    fn overlap(&mut self, bytes: usize, ev: &mut impl Events) {
        if !self.has(flag::OVERLAP_REPORTED) {
            self.flags |= flag::OVERLAP_REPORTED;
            ev.anomaly(
                AnomalyKind::Overlap,
                "retransmitted bytes differ from the first copy (first copy kept)",
                bytes as u64,
            );
        }
    }

    fn set(&mut self, f: u8, on: bool) {
        if on {
            self.flags |= f;
        } else {
            self.flags &= !f;
        }
    }

    /// Test view: framing is hunting for a boundary.
    #[cfg(test)]
    pub fn is_resyncing(&self) -> bool {
        self.framer.is_resyncing()
    }

    /// Test view: buffered out-of-order bytes.
    #[cfg(test)]
    pub fn ooo_bytes(&self) -> usize {
        self.ooo_bytes
    }
}

#[cfg(test)]
#[path = "tcp_tests.rs"]
mod tests;
