//! NBSS framing of one reassembled byte stream (RFC 1002 section 4.3, MS-SMB2 2.1): splits it
//! into session messages and control packets, bounds message size, and resynchronises at the
//! next SMB message boundary after a gap or garbage.
//!
//! The hot path parses messages straight out of the segment slice it is given; only a trailing
//! incomplete message is copied into `pending`. Before a long message is copied, the consumer
//! sees its first [`HEAD_LEN`] bytes and says how much of it it needs ([`Events::wanted`]): the
//! rest (the data of a large READ or WRITE nobody verifies) is passed over without a copy.

use super::{AnomalyKind, Extent};

/// How many bytes of a message body the consumer is shown before it chooses how much of the
/// body it needs: an SMB2 header and the fixed part of a READ response or WRITE request.
pub(crate) const HEAD_LEN: usize = 128;

/// What framing (and reassembly) reports. The flow table implements it to call the
/// [`StreamHandler`](super::StreamHandler); tests implement it to record.
pub(crate) trait Events {
    /// A session message body (after the 4-byte NBSS header): whole, or its first bytes as
    /// `extent` says.
    fn message(&mut self, msg: &[u8], extent: Extent);
    /// How many bytes of the body of a message of `len` bytes are needed, given its first
    /// [`HEAD_LEN`] bytes `head`. Asked only of a message longer than that which is not
    /// complete in the bytes at hand and not over `max_message`; the answer is kept within
    /// `Limits::MIN_MESSAGE..=len`.
    fn wanted(&mut self, _head: &[u8], len: u32) -> u32 {
        len
    }
    /// A control packet (type 0x81..=0x85) and its body.
    fn control(&mut self, kind: u8, body: &[u8]);
    /// A problem in this direction.
    fn anomaly(&mut self, kind: AnomalyKind, detail: &'static str, bytes: u64);
}

/// NBSS packet layout and values.
mod nbss {
    /// Type (1 byte) then 24-bit big-endian length (Direct TCP; on port 139 the top 7 bits are
    /// flags that must be zero and bit 0 extends the 16-bit length, so the same parse holds).
    pub const HEADER_LEN: usize = 4;
    /// Header plus the 4-byte protocol id that must follow it in a session message.
    pub const PROBE_LEN: usize = 8;
    pub const SESSION_MESSAGE: u8 = 0x00;
    pub const SESSION_REQUEST: u8 = 0x81;
    pub const SESSION_KEEPALIVE: u8 = 0x85;
    /// Control packet bodies are tiny (a session request is two 34-byte encoded names).
    pub const MAX_CONTROL_BODY: u32 = 1024;
}

/// SMB protocol ids (first 4 bytes of a message): `xx 'S' 'M' 'B'`.
mod proto {
    pub const SMB: [u8; 3] = *b"SMB";
    /// SMB1 (MS-CIFS 2.2.3.1): 32-byte header.
    pub const SMB1: u8 = 0xff;
    /// SMB2 (MS-SMB2 2.2.1): 64-byte header.
    pub const SMB2: u8 = 0xfe;
    /// SMB2 TRANSFORM_HEADER (MS-SMB2 2.2.41): 52 bytes.
    pub const TRANSFORM: u8 = 0xfd;
    /// SMB2 COMPRESSION_TRANSFORM_HEADER (MS-SMB2 2.2.42): 16 bytes (unchained).
    pub const COMPRESSION: u8 = 0xfc;

    /// The smallest plausible message for a protocol id byte, or None if it is not one.
    pub fn min_len(id: u8) -> Option<u32> {
        match id {
            SMB1 => Some(32),
            SMB2 => Some(64),
            TRANSFORM => Some(52),
            COMPRESSION => Some(16),
            _ => None,
        }
    }
}

/// Above this, `pending` is released after use so idle flows stay small.
const KEEP_PENDING_CAPACITY: usize = 64 * 1024;
/// The largest released `pending` buffer a thread keeps for the next large message.
const SPARE_MAX_CAPACITY: usize = 16 << 20;

thread_local! {
    /// The largest `pending` buffer (over [`KEEP_PENDING_CAPACITY`], at most
    /// [`SPARE_MAX_CAPACITY`]) that a large message left on this thread: the next one that
    /// is gathered starts in it, instead of growing a new buffer by reallocation (one copy of
    /// what was gathered at each doubling, and fresh pages to fault in).
    static SPARE: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// Framing state of one direction. Small and allocation-free until a message is split.
#[derive(Debug, Default)]
pub(crate) struct Framer {
    /// In sync: the start of an incomplete packet (header first). Resyncing: up to 7 trailing
    /// bytes that may begin a boundary.
    pending: Vec<u8>,
    /// Bytes still to discard: the rest of an oversized message, or of one lost in a gap.
    skip: u64,
    /// Bytes passed over by the current resync hunt.
    skipped: u64,
    /// Hunting for the next SMB message boundary.
    resync: bool,
    /// The hunt starts at the first bytes seen of a stream whose start was not seen: accept
    /// any valid packet there (a control packet too), not only an SMB message boundary.
    fresh: bool,
    /// How many body bytes of the message in `pending` are kept, once [`Events::wanted`] was
    /// asked (0: not asked; the answer is at least 64); the rest is skipped. A `u32` (NBSS
    /// lengths are 24-bit), so the framer stays as small as an idle flow needs.
    keep: u32,
}

/// What the bytes at a packet start say.
enum Head {
    /// Not enough bytes to tell.
    Need,
    Bad(&'static str, u64),
    Control {
        kind: u8,
        len: u32,
    },
    Message {
        len: u32,
    },
}

impl Framer {
    /// The stream's start was not seen: the first bytes may be a packet start (then framing
    /// starts there) or the middle of one (then it hunts for the next SMB message).
    pub fn start_midstream(&mut self) {
        self.start_resync();
        self.fresh = true;
    }

    /// Hunt for the next SMB message boundary.
    pub fn start_resync(&mut self) {
        self.resync = true;
        self.fresh = false;
        self.skip = 0;
        self.release_pending();
    }

    /// Whether framing is currently hunting for a boundary.
    #[cfg(test)]
    pub fn is_resyncing(&self) -> bool {
        self.resync
    }

    /// Frames the next in-order stream bytes. `cap` = effective `max_message`.
    pub fn feed(&mut self, mut data: &[u8], cap: usize, ev: &mut impl Events) {
        while !data.is_empty() {
            if self.skip > 0 {
                let n = usize::try_from(self.skip)
                    .unwrap_or(usize::MAX)
                    .min(data.len());
                data = &data[n..];
                self.skip -= n as u64;
                if self.skip == 0 && !self.pending.is_empty() {
                    self.deliver_held(ev);
                }
            } else if self.resync {
                data = self.hunt(data, cap, ev);
            } else if self.pending.is_empty() {
                data = self.fast(data, cap, ev);
            } else {
                data = self.slow(data, cap, ev);
            }
        }
    }

    /// `bytes` of the stream were lost right here. Stays in sync when the loss is inside a
    /// message of known length (that message is dropped); otherwise resyncs.
    pub fn gap(&mut self, bytes: u64) {
        self.fresh = false;
        if self.resync {
            // The kept tail is no longer contiguous with what follows.
            self.skipped += self.pending.len() as u64;
            self.pending.clear();
            return;
        }
        if self.skip > 0 {
            // A head is held (`pending`) while the rest of its message is passed over: the
            // loss drops that message, as it would a gathered one.
            let held = !self.pending.is_empty();
            if bytes < self.skip || (!held && bytes == self.skip) {
                self.skip -= bytes;
                self.release_pending();
            } else {
                self.start_resync();
            }
            return;
        }
        let total = declared_total(&self.pending);
        match total {
            Some(total) if self.pending.len() as u64 + bytes < total => {
                self.skip = total - self.pending.len() as u64 - bytes;
                self.release_pending();
            }
            _ => self.start_resync(),
        }
    }

    /// The stream ended: report what is left over.
    pub fn finish(&mut self, ev: &mut impl Events) {
        if self.resync {
            let n = self.skipped + self.pending.len() as u64;
            if n > 0 {
                ev.anomaly(
                    AnomalyKind::ResyncSkipped,
                    "no SMB message boundary found before the stream ended",
                    n,
                );
            }
        } else if !self.pending.is_empty() {
            // The bytes of the packet seen, those passed over after a held head included.
            let seen = match declared_total(&self.pending) {
                Some(total) if self.skip > 0 => total - self.skip,
                _ => self.pending.len() as u64,
            };
            ev.anomaly(
                AnomalyKind::IncompleteMessage,
                "stream ended inside an NBSS packet",
                seen,
            );
        }
        *self = Framer::default();
    }

    /// Nothing pending: parse packets straight out of `data`.
    fn fast<'d>(&mut self, data: &'d [u8], cap: usize, ev: &mut impl Events) -> &'d [u8] {
        match classify(data) {
            Head::Need => {
                self.pending.extend_from_slice(data);
                &[]
            }
            Head::Bad(detail, len) => {
                self.bad(detail, len, ev);
                data
            }
            Head::Control { kind, len } => {
                let total = nbss::HEADER_LEN + len as usize;
                match data.get(nbss::HEADER_LEN..total) {
                    Some(body) => {
                        ev.control(kind, body);
                        &data[total..]
                    }
                    None => {
                        self.pending.extend_from_slice(data);
                        &[]
                    }
                }
            }
            Head::Message { len } => {
                let want = nbss::HEADER_LEN + (len as usize).min(cap);
                if let Some(body) = data.get(nbss::HEADER_LEN..want) {
                    self.deliver(body, len, cap, ev);
                    return &data[want..];
                }
                // Not all here. Of a message the consumer is asked about, copy only the head
                // for now: `slow` asks, then gathers no more than the answer.
                let take = if asks(len, cap) {
                    data.len().min(nbss::HEADER_LEN + HEAD_LEN)
                } else {
                    data.len()
                };
                self.pending.extend_from_slice(&data[..take]);
                &data[take..]
            }
        }
    }

    /// Something pending: add to it until the packet is complete.
    fn slow<'d>(&mut self, data: &'d [u8], cap: usize, ev: &mut impl Events) -> &'d [u8] {
        let want = match classify(&self.pending) {
            // Complete the header, then (session message) the protocol id after it.
            Head::Need if self.pending.len() < nbss::HEADER_LEN => nbss::HEADER_LEN,
            Head::Need => nbss::PROBE_LEN,
            Head::Bad(detail, len) => {
                self.bad(detail, len, ev);
                return data;
            }
            Head::Control { len, .. } => nbss::HEADER_LEN + len as usize,
            Head::Message { len } => {
                let body_cap = (len as usize).min(cap);
                nbss::HEADER_LEN
                    + match self.keep {
                        // Stop at the head to ask how much of the body is needed.
                        0 if asks(len, cap) => HEAD_LEN,
                        0 => body_cap,
                        keep => keep as usize,
                    }
            }
        };
        let take = want.saturating_sub(self.pending.len()).min(data.len());
        self.make_room(take);
        self.pending.extend_from_slice(&data[..take]);
        let rest = &data[take..];
        // Deliver if complete; a probe that just completed is classified next round.
        match classify(&self.pending) {
            Head::Control { kind, len }
                if self.pending.len() == nbss::HEADER_LEN + len as usize =>
            {
                ev.control(kind, &self.pending[nbss::HEADER_LEN..]);
                self.release_pending();
            }
            Head::Message { len } => {
                let body_cap = (len as usize).min(cap);
                let have = self.pending.len() - nbss::HEADER_LEN;
                if self.keep == 0 && asks(len, cap) && have == HEAD_LEN {
                    let keep = ask(&self.pending[nbss::HEADER_LEN..], len, body_cap, ev);
                    self.keep = keep as u32;
                }
                let keep = match self.keep {
                    0 => body_cap,
                    keep => keep as usize,
                };
                if have >= keep && keep < body_cap {
                    // Hold the head (see `deliver_held`); what was gathered past it is part of
                    // what is passed over.
                    self.pending.truncate(nbss::HEADER_LEN + keep);
                    self.skip = u64::from(len) - have as u64;
                } else if have >= keep {
                    let buf = std::mem::take(&mut self.pending);
                    self.deliver(&buf[nbss::HEADER_LEN..], len, cap, ev);
                    self.pending = buf;
                    self.release_pending();
                }
            }
            _ => {}
        }
        rest
    }

    /// Delivers a message body of `len` bytes: all of it, or the first `cap` bytes of an
    /// oversized one (the rest is skipped).
    fn deliver(&mut self, body: &[u8], len: u32, cap: usize, ev: &mut impl Events) {
        if len as usize > cap {
            ev.anomaly(
                AnomalyKind::MessageTooLarge,
                "NBSS message longer than max_message; delivered truncated",
                u64::from(len),
            );
            ev.message(body, Extent::Truncated { len });
            self.skip = u64::from(len) - body.len() as u64;
        } else {
            ev.message(body, Extent::Whole);
        }
    }

    /// The message of the held head has ended: deliver the head. (A head is held in `pending`
    /// while the rest of its message is passed over, so that it is analysed where the whole
    /// message would have been, and not at all if a gap or the stream's end cuts the message.)
    fn deliver_held(&mut self, ev: &mut impl Events) {
        let buf = std::mem::take(&mut self.pending);
        if let (Some(total), Some(head)) = (declared_total(&buf), buf.get(nbss::HEADER_LEN..)) {
            let len = u32::try_from(total - nbss::HEADER_LEN as u64).unwrap_or(u32::MAX);
            ev.message(head, Extent::Head { len });
        }
        self.pending = buf;
        self.release_pending();
    }

    /// Garbage framing at the current position: report and start hunting just after it.
    fn bad(&mut self, detail: &'static str, len: u64, ev: &mut impl Events) {
        ev.anomaly(AnomalyKind::BadNbss, detail, len);
        self.resync = true;
        self.keep = 0;
        // From `fast` nothing is pending: the bad header is at data[0], and the hunt passes
        // over it (a bad header never passes `is_boundary`). From `slow` at most PROBE_LEN
        // bytes are pending (a header is classified before it grows further); the first one
        // cannot start a boundary, which leaves the < 8-byte tail the hunt expects.
        if !self.pending.is_empty() {
            let drop = self
                .pending
                .len()
                .saturating_sub(nbss::PROBE_LEN - 1)
                .max(1);
            self.pending.drain(..drop);
            self.skipped += drop as u64;
        }
    }

    /// Resync: find the next boundary in `pending` (a < 8-byte tail) + `data`; returns the data
    /// from where framing continues.
    fn hunt<'d>(&mut self, data: &'d [u8], cap: usize, ev: &mut impl Events) -> &'d [u8] {
        let cap32 = u32::try_from(cap).unwrap_or(u32::MAX);
        if self.fresh && self.pending.is_empty() {
            self.fresh = false;
            match classify(data) {
                Head::Control { .. } => {
                    self.synced(ev);
                    return data;
                }
                Head::Message { len } if len <= cap32 => {
                    self.synced(ev);
                    return data;
                }
                _ => {}
            }
        }
        let n = self.pending.len();
        if n > 0 {
            let mut win = [0u8; 2 * nbss::PROBE_LEN];
            let k = data.len().min(nbss::PROBE_LEN);
            win[..n].copy_from_slice(&self.pending);
            win[n..n + k].copy_from_slice(&data[..k]);
            let wl = n + k;
            for i in 0..n {
                if i + nbss::PROBE_LEN > wl {
                    // Not enough bytes yet to decide: keep the undecided tail.
                    self.pending.drain(..i);
                    self.skipped += i as u64;
                    self.pending.extend_from_slice(data);
                    return &[];
                }
                if is_boundary(&win[i..], cap32) {
                    self.pending.drain(..i);
                    self.skipped += i as u64;
                    self.synced(ev);
                    return data;
                }
            }
            self.skipped += n as u64;
            self.pending.clear();
        }
        match data
            .windows(nbss::PROBE_LEN)
            .position(|w| is_boundary(w, cap32))
        {
            Some(j) => {
                self.skipped += j as u64;
                self.synced(ev);
                &data[j..]
            }
            None => {
                let keep = data.len().min(nbss::PROBE_LEN - 1);
                self.skipped += (data.len() - keep) as u64;
                self.pending.extend_from_slice(&data[data.len() - keep..]);
                &[]
            }
        }
    }

    fn synced(&mut self, ev: &mut impl Events) {
        self.resync = false;
        if self.skipped > 0 {
            ev.anomaly(
                AnomalyKind::ResyncSkipped,
                "bytes skipped to reach the next SMB message boundary",
                self.skipped,
            );
        }
        self.skipped = 0;
    }

    /// Frees the buffer if it holds nothing (an idle stream keeps no capacity).
    pub fn compact(&mut self) {
        if self.pending.is_empty() {
            self.pending = Vec::new();
        }
    }

    fn release_pending(&mut self) {
        self.keep = 0;
        if self.pending.capacity() > KEEP_PENDING_CAPACITY {
            offer_spare(std::mem::take(&mut self.pending));
        } else {
            self.pending.clear();
        }
    }

    /// Room for `extra` more bytes in `pending`: in this thread's spare buffer when `pending`
    /// would outgrow [`KEEP_PENDING_CAPACITY`] and the spare holds it all.
    fn make_room(&mut self, extra: usize) {
        let need = self.pending.len() + extra;
        if need <= self.pending.capacity() || need <= KEEP_PENDING_CAPACITY {
            return;
        }
        let mut spare = SPARE.take();
        if spare.capacity() >= need {
            spare.extend_from_slice(&self.pending);
            // Outgrown: it may become the spare.
            offer_spare(std::mem::replace(&mut self.pending, spare));
        } else {
            SPARE.set(spare);
        }
    }
}

/// Keeps `buf` as this thread's spare when it is larger than the spare and within
/// [`KEEP_PENDING_CAPACITY`]..=[`SPARE_MAX_CAPACITY`]; the other is freed.
fn offer_spare(mut buf: Vec<u8>) {
    if buf.capacity() <= KEEP_PENDING_CAPACITY || buf.capacity() > SPARE_MAX_CAPACITY {
        return;
    }
    buf.clear();
    let spare = SPARE.take();
    SPARE.set(if buf.capacity() > spare.capacity() {
        buf
    } else {
        spare
    });
}

/// Whether the consumer is asked how much of a message of `len` bytes it needs: when it is
/// longer than the head shown, and within `cap` (an oversized message is always cut at `cap`,
/// with its anomaly).
fn asks(len: u32, cap: usize) -> bool {
    len as usize > HEAD_LEN && len as usize <= cap
}

/// Asks `ev` how many body bytes of a message of `len` bytes (`body_cap` of them deliverable)
/// it needs, given the head; the answer is kept within `Limits::MIN_MESSAGE..=body_cap`.
fn ask(head: &[u8], len: u32, body_cap: usize, ev: &mut impl Events) -> usize {
    let wanted = usize::try_from(ev.wanted(head, len)).unwrap_or(usize::MAX);
    wanted.clamp(super::Limits::MIN_MESSAGE.min(body_cap), body_cap)
}

/// Classifies the packet starting at `buf[0]`.
fn classify(buf: &[u8]) -> Head {
    let Some(hdr) = buf.get(..nbss::HEADER_LEN) else {
        return Head::Need;
    };
    let kind = hdr[0];
    let len = u32::from_be_bytes([0, hdr[1], hdr[2], hdr[3]]);
    match kind {
        nbss::SESSION_MESSAGE => {
            let Some(id) = buf.get(nbss::HEADER_LEN..nbss::PROBE_LEN) else {
                return Head::Need;
            };
            match proto::min_len(id[0]) {
                Some(min) if id[1..] == proto::SMB => {
                    if len < min {
                        Head::Bad("NBSS message shorter than its SMB header", u64::from(len))
                    } else {
                        Head::Message { len }
                    }
                }
                _ => Head::Bad("NBSS message without an SMB protocol id", u64::from(len)),
            }
        }
        nbss::SESSION_REQUEST..=nbss::SESSION_KEEPALIVE => {
            if len > nbss::MAX_CONTROL_BODY {
                Head::Bad("NBSS control packet implausibly long", u64::from(len))
            } else {
                Head::Control { kind, len }
            }
        }
        _ => Head::Bad("unknown NBSS packet type", u64::from(len)),
    }
}

/// Whether `w` (at least 8 bytes) starts an SMB session message no longer than `cap`:
/// `00 LL LL LL (FF|FE|FD|FC) 'S' 'M' 'B'` with a plausible length.
fn is_boundary(w: &[u8], cap: u32) -> bool {
    let Some(w) = w.get(..nbss::PROBE_LEN) else {
        return false;
    };
    if w[0] != nbss::SESSION_MESSAGE || w[5..8] != proto::SMB {
        return false;
    }
    let len = u32::from_be_bytes([0, w[1], w[2], w[3]]);
    proto::min_len(w[4]).is_some_and(|min| len >= min && len <= cap)
}

/// Total length (header included) a pending packet declares, if its header is complete and of
/// a known type.
fn declared_total(pending: &[u8]) -> Option<u64> {
    let hdr = pending.get(..nbss::HEADER_LEN)?;
    let known = hdr[0] == nbss::SESSION_MESSAGE
        || (nbss::SESSION_REQUEST..=nbss::SESSION_KEEPALIVE).contains(&hdr[0]);
    known.then(|| u64::from(u32::from_be_bytes([0, hdr[1], hdr[2], hdr[3]])) + 4)
}

#[cfg(test)]
#[path = "framing_tests.rs"]
pub(crate) mod tests;
