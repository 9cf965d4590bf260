//! From frames to SMB messages: link/IP/TCP decode ([`decode`]), a flow table keyed by
//! client/server socket pair ([`TcpTable`]), bounded per-direction TCP reassembly, and NetBIOS
//! session-service (NBSS) framing. The consumer implements [`StreamHandler`] and receives NBSS
//! messages as borrowed slices: whole, or only as far as it asked for ([`Extent`]).
//!
//! ```text
//! Frame --decode--> Packet --TcpTable::handle_packet--> per-direction reassembly
//!       --> NBSS framing --> StreamHandler::{open, message, nbss_control, anomaly, close}
//! ```
//!
//! Everything is driven by capture time; nothing here reads a clock. Memory is bounded by
//! [`Limits`]; hitting a limit is reported as an [`Anomaly`].

pub(crate) mod framing;
mod limits;
mod link;
mod table;
mod tcp;

use std::net::SocketAddr;

use crate::wire::Timestamp;

pub use limits::{Limits, SmbPorts};
pub use link::{Detached, Packet, TcpSeg, Transport, decode, dlt};
pub use table::{FlowStats, TcpTable};

/// Which way a segment or message travels.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Direction {
    /// From the client to the SMB server.
    ToServer,
    /// From the SMB server to the client.
    ToClient,
}

impl Direction {
    /// The other direction.
    pub fn reverse(self) -> Direction {
        match self {
            Direction::ToServer => Direction::ToClient,
            Direction::ToClient => Direction::ToServer,
        }
    }

    /// Stable lowercase name: `to_server` / `to_client`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::ToServer => "to_server",
            Direction::ToClient => "to_client",
        }
    }

    /// 0 for `ToServer`, 1 for `ToClient` (array index).
    pub(crate) fn index(self) -> usize {
        match self {
            Direction::ToServer => 0,
            Direction::ToClient => 1,
        }
    }
}

/// How much of a session message [`StreamHandler::message`] is given.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Extent {
    /// All of it.
    Whole,
    /// Its first bytes, as many as [`StreamHandler::wanted`] asked for (at least 64), of `len`.
    Head { len: u32 },
    /// Its first `Limits::max_message` bytes of `len`: it is longer than that limit (reported
    /// as [`AnomalyKind::MessageTooLarge`]).
    Truncated { len: u32 },
}

impl Extent {
    /// The length of the whole message, of which `given` are the bytes delivered.
    pub fn len(self, given: &[u8]) -> u64 {
        match self {
            Extent::Whole => given.len() as u64,
            Extent::Head { len } | Extent::Truncated { len } => u64::from(len),
        }
    }
}

/// A TCP connection, oriented: `server` is the side on an SMB port.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct FlowKey {
    pub client: SocketAddr,
    pub server: SocketAddr,
}

/// The consumer of reassembled SMB streams (the SMB engine). All callbacks happen inside
/// [`TcpTable::handle_packet`], [`TcpTable::expire`] and [`TcpTable::finish`], in stream order
/// per direction.
pub trait StreamHandler {
    /// Per-connection state the handler keeps; owned by the flow table.
    type Conn;
    /// A new TCP flow to an SMB port was seen. `midstream` = no SYN seen.
    fn open(&mut self, key: &FlowKey, ts: Timestamp, midstream: bool) -> Self::Conn;
    /// One NBSS session message (type 0x00): `msg` is the payload after the 4-byte NBSS
    /// header, so it starts with 0xFF/0xFE/0xFD/0xFC 'S' 'M' 'B' normally. `extent` says
    /// whether it is whole or only its first bytes (and then how long it is).
    fn message(
        &mut self,
        conn: &mut Self::Conn,
        key: &FlowKey,
        dir: Direction,
        ts: Timestamp,
        msg: &[u8],
        extent: Extent,
    );
    /// How many bytes of a session message of `len` bytes the handler needs, given its first
    /// bytes `head` (128 of them). Asked before a long message that is split across segments
    /// is gathered: the bytes past the answer are passed over without being copied, and
    /// [`message`](StreamHandler::message) gets the first ones as [`Extent::Head`]. The
    /// answer is kept within `Limits::MIN_MESSAGE..=len`. Not asked of a message longer than
    /// `Limits::max_message` (cut there, with its anomaly). The head is delivered when the
    /// message ends, and not if a gap or the end of the stream cuts it. By default the whole
    /// message.
    fn wanted(&mut self, _conn: &mut Self::Conn, _dir: Direction, _head: &[u8], len: u32) -> u32 {
        len
    }
    /// A NetBIOS session-service control packet (0x81 request, 0x82, 0x83, 0x84, 0x85
    /// keepalive) with its body.
    fn nbss_control(
        &mut self,
        conn: &mut Self::Conn,
        key: &FlowKey,
        dir: Direction,
        ts: Timestamp,
        kind: u8,
        body: &[u8],
    );
    /// Something was wrong or a limit was hit. `conn` is None when no flow state exists (e.g.
    /// flow table full).
    fn anomaly(
        &mut self,
        conn: Option<&mut Self::Conn>,
        key: &FlowKey,
        ts: Timestamp,
        anomaly: Anomaly,
    );
    /// The flow ended (FIN both ways / RST / idle expiry / end of input). Called exactly once
    /// per opened flow.
    fn close(&mut self, conn: Self::Conn, key: &FlowKey, ts: Timestamp, reason: CloseReason);
}

/// Why a flow was closed.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum CloseReason {
    /// Both sides sent FIN.
    Fin,
    /// A RST was seen.
    Rst,
    /// No packet for `Limits::idle_timeout_secs` of capture time.
    Idle,
    /// The state was dropped for a new connection on the same address/port pair (a new SYN
    /// with a different initial sequence number).
    Evicted,
    /// [`TcpTable::finish`]: the input ended.
    EndOfInput,
}

impl CloseReason {
    /// Stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::Fin => "fin",
            CloseReason::Rst => "rst",
            CloseReason::Idle => "idle",
            CloseReason::Evicted => "evicted",
            CloseReason::EndOfInput => "end_of_input",
        }
    }
}

/// A problem in a flow, or a limit that was hit.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Anomaly {
    pub kind: AnomalyKind,
    /// The direction it happened in, when it belongs to one.
    pub dir: Option<Direction>,
    /// A short static explanation.
    pub detail: &'static str,
    /// How many bytes it concerns (lost, skipped, buffered or the message length; see kind).
    pub bytes: u64,
}

/// What kind of [`Anomaly`]. `bytes` meaning is given per kind.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub enum AnomalyKind {
    /// Stream bytes were never seen (lost, or cut by snaplen); `bytes` = the hole size.
    /// Framing resynchronises after it.
    Gap,
    /// Bytes skipped while looking for the next SMB message boundary; `bytes` = skipped.
    ResyncSkipped,
    /// The out-of-order buffer hit its limit; the earliest hole is treated as a gap;
    /// `bytes` = buffered bytes at that moment.
    OutOfOrderLimit,
    /// A message longer than `Limits::max_message`; `bytes` = its declared length.
    MessageTooLarge,
    /// A new flow could not be tracked: `Limits::max_flows` reached; `bytes` = 0.
    FlowTableFull,
    /// NBSS framing is garbage (unknown type, implausible length, no SMB protocol id);
    /// `bytes` = the declared length.
    BadNbss,
    /// A retransmission disagreed with bytes still buffered out of order (the first copy is
    /// kept); reported once per flow direction; `bytes` = differing overlap length.
    Overlap,
    /// A frame failed link/IP/TCP decoding; `bytes` = frame length. (Reported by the caller of
    /// [`decode`]; the table never sees such frames.)
    Malformed,
    /// The flow ended inside a message; `bytes` = the buffered part that was discarded.
    IncompleteMessage,
}

impl AnomalyKind {
    /// Number of kinds (length of [`AnomalyKind::ALL`]).
    pub const COUNT: usize = 9;
    /// Every kind, in declaration order (index = [`AnomalyKind::index`]).
    pub const ALL: [AnomalyKind; AnomalyKind::COUNT] = [
        AnomalyKind::Gap,
        AnomalyKind::ResyncSkipped,
        AnomalyKind::OutOfOrderLimit,
        AnomalyKind::MessageTooLarge,
        AnomalyKind::FlowTableFull,
        AnomalyKind::BadNbss,
        AnomalyKind::Overlap,
        AnomalyKind::Malformed,
        AnomalyKind::IncompleteMessage,
    ];

    /// Stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            AnomalyKind::Gap => "gap",
            AnomalyKind::ResyncSkipped => "resync_skipped",
            AnomalyKind::OutOfOrderLimit => "out_of_order_limit",
            AnomalyKind::MessageTooLarge => "message_too_large",
            AnomalyKind::FlowTableFull => "flow_table_full",
            AnomalyKind::BadNbss => "bad_nbss",
            AnomalyKind::Overlap => "overlap",
            AnomalyKind::Malformed => "malformed",
            AnomalyKind::IncompleteMessage => "incomplete_message",
        }
    }

    /// Position in [`AnomalyKind::ALL`].
    pub fn index(self) -> usize {
        match self {
            AnomalyKind::Gap => 0,
            AnomalyKind::ResyncSkipped => 1,
            AnomalyKind::OutOfOrderLimit => 2,
            AnomalyKind::MessageTooLarge => 3,
            AnomalyKind::FlowTableFull => 4,
            AnomalyKind::BadNbss => 5,
            AnomalyKind::Overlap => 6,
            AnomalyKind::Malformed => 7,
            AnomalyKind::IncompleteMessage => 8,
        }
    }
}

impl std::fmt::Display for AnomalyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anomaly_kind_table_is_consistent() {
        let mut names = std::collections::HashSet::new();
        for (i, k) in AnomalyKind::ALL.iter().enumerate() {
            assert_eq!(k.index(), i);
            assert!(names.insert(k.as_str()));
            assert!(
                k.as_str()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_')
            );
        }
        assert_eq!(Direction::ToServer.reverse(), Direction::ToClient);
        assert_eq!(CloseReason::EndOfInput.as_str(), "end_of_input");
    }
}
