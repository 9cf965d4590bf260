//! [`TcpTable`]: the flow table. Finds each TCP segment's flow (creating it on a SYN or the
//! first data), runs reassembly and framing for its direction, and closes flows on FIN, RST,
//! idle timeout or end of input.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::net::SocketAddr;
use std::time::Duration;

use super::framing::Events;
use super::tcp::{HalfStream, SegmentIn};
use super::{
    Anomaly, AnomalyKind, CloseReason, Direction, Extent, FlowKey, Limits, Packet, SmbPorts,
    StreamHandler, TcpSeg, Transport,
};
use crate::wire::Timestamp;

/// Counters over the life of a [`TcpTable`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlowStats {
    /// Flows opened ([`StreamHandler::open`] calls).
    pub flows_opened: u64,
    /// Flows closed ([`StreamHandler::close`] calls).
    pub flows_closed: u64,
    /// Most flows tracked at once.
    pub peak_flows: usize,
    /// TCP segments to or from an SMB port.
    pub segments: u64,
    /// Their payload bytes (before removing retransmissions).
    pub payload_bytes: u64,
    /// Session messages delivered (cut or head-only ones included).
    pub messages: u64,
    /// Of those, delivered truncated at `Limits::max_message` ([`Extent::Truncated`]).
    pub partial_messages: u64,
    /// Of those, delivered as their first bytes because the handler needed no more
    /// ([`Extent::Head`]).
    pub head_messages: u64,
    /// NBSS control packets delivered.
    pub control_packets: u64,
    /// Anomalies reported, indexed by [`AnomalyKind::index`].
    pub anomalies: [u64; AnomalyKind::COUNT],
    /// Segments that arrived shortly after their flow closed with FIN or RST (a late reply,
    /// a retransmission) and were dropped instead of opening a new mid-stream flow.
    pub late_segments: u64,
}

impl FlowStats {
    /// How many anomalies of `kind` were reported.
    pub fn anomaly_count(&self, kind: AnomalyKind) -> u64 {
        self.anomalies[kind.index()]
    }

    /// How many anomalies were reported in all.
    pub fn total_anomalies(&self) -> u64 {
        self.anomalies.iter().sum()
    }
}

/// Tracks TCP flows to SMB ports and turns them into NBSS messages for a [`StreamHandler`].
///
/// * A flow is created by a SYN or by the first segment carrying data (midstream); pure ACK,
///   FIN or RST segments of unknown flows are ignored.
/// * When [`Limits::max_flows`] flows exist, a new flow is reported as
///   [`AnomalyKind::FlowTableFull`] (with `conn = None`) and ignored; nothing is evicted.
/// * A new SYN from the client with a different initial sequence number closes the old flow
///   ([`CloseReason::Evicted`]) and opens a new one.
/// * Idle expiry runs inside [`TcpTable::handle_packet`] whenever capture time has advanced by
///   `max(1 s, idle_timeout / 10)` since the last check (one scan of the table), so a flow is
///   closed at most 10% late; [`TcpTable::expire`] runs it on demand. An idle flow is closed
///   with the timestamp `last packet + idle_timeout`. The same scan frees the empty
///   reassembly buffers of flows quiet since the previous one.
/// * Flows closed together (expiry, [`TcpTable::finish`]) are closed in the order they opened,
///   so output is deterministic.
pub struct TcpTable<H: StreamHandler> {
    handler: H,
    limits: Limits,
    ports: SmbPorts,
    flows: HashMap<FlowKey, Flow<H::Conn>>,
    stats: FlowStats,
    /// Capture time at which the next periodic expiry scan runs.
    next_expire: Option<Timestamp>,
    /// Flow ids handed out so far (open order).
    next_id: u64,
    /// Flows recently closed by FIN or RST, with their close time: late segments of theirs are
    /// dropped for [`LINGER`] rather than opening a new mid-stream flow. Bounded by
    /// [`MAX_CLOSED`]; emptied when full.
    closed: HashMap<FlowKey, Timestamp>,
    /// While [`TcpTable::finish_some`] runs: the flows still to close, last to close first.
    finish_order: Option<Vec<FlowKey>>,
}

/// How long a flow closed by FIN or RST keeps absorbing late segments (like TIME_WAIT).
const LINGER: Duration = Duration::from_secs(5);
/// Most closed flows remembered at once.
const MAX_CLOSED: usize = 4096;

/// Per-flow state besides the handler's `Conn`.
#[derive(Debug)]
struct TcpFlowState {
    id: u64,
    last_seen: Timestamp,
    /// Indexed by [`Direction::index`].
    halves: [HalfStream; 2],
}

struct Flow<C> {
    state: TcpFlowState,
    conn: C,
}

impl<H: StreamHandler> TcpTable<H> {
    /// An empty table delivering to `handler`.
    pub fn new(handler: H, limits: Limits, ports: SmbPorts) -> Self {
        TcpTable {
            handler,
            limits,
            ports,
            flows: HashMap::new(),
            stats: FlowStats::default(),
            next_expire: None,
            next_id: 0,
            closed: HashMap::new(),
            finish_order: None,
        }
    }

    /// Processes one decoded packet. Non-TCP packets and TCP not to or from an SMB port are
    /// ignored.
    pub fn handle_packet(&mut self, ts: Timestamp, pkt: &Packet<'_>) {
        let Transport::Tcp(seg) = &pkt.transport else {
            return;
        };
        let Some((key, dir)) = self.orient(pkt, seg) else {
            return;
        };
        self.maybe_expire(ts);
        self.stats.segments += 1;
        self.stats.payload_bytes += seg.payload.len() as u64;

        if seg.syn && !seg.ack_flag && dir == Direction::ToServer {
            let reused = self.flows.get(&key).is_some_and(|f| {
                f.state.halves[Direction::ToServer.index()].isn() != Some(seg.seq)
            });
            if reused {
                self.close_flow(&key, ts, CloseReason::Evicted);
            }
            self.closed.remove(&key);
        } else if !self.flows.contains_key(&key) {
            if let Some(&at) = self.closed.get(&key) {
                if ts.saturating_sub(at) <= LINGER {
                    self.stats.late_segments += 1;
                    return;
                }
                self.closed.remove(&key);
            }
        }

        let count = self.flows.len();
        let flow = match self.flows.entry(key) {
            Entry::Occupied(o) => o.into_mut(),
            Entry::Vacant(v) => {
                if seg.rst || (!seg.syn && seg.payload.is_empty()) {
                    return;
                }
                if count >= self.limits.max_flows {
                    self.stats.anomalies[AnomalyKind::FlowTableFull.index()] += 1;
                    let anomaly = Anomaly {
                        kind: AnomalyKind::FlowTableFull,
                        dir: Some(dir),
                        detail: "flow table full (max_flows); new flow ignored",
                        bytes: 0,
                    };
                    self.handler.anomaly(None, &key, ts, anomaly);
                    return;
                }
                let conn = self.handler.open(&key, ts, !seg.syn);
                self.stats.flows_opened += 1;
                self.stats.peak_flows = self.stats.peak_flows.max(count + 1);
                let state = TcpFlowState {
                    id: self.next_id,
                    last_seen: ts,
                    halves: Default::default(),
                };
                self.next_id += 1;
                v.insert(Flow { state, conn })
            }
        };
        flow.state.last_seen = ts;
        let segment = SegmentIn {
            seq: seg.seq,
            syn: seg.syn,
            fin: seg.fin,
            payload: seg.payload,
            truncated: pkt.truncated,
        };
        let mut emit = Emit {
            handler: &mut self.handler,
            conn: &mut flow.conn,
            key: &key,
            dir,
            ts,
            stats: &mut self.stats,
        };
        flow.state.halves[dir.index()].segment(&segment, &self.limits, &mut emit);
        let reason = if seg.rst {
            Some(CloseReason::Rst)
        } else if flow.state.halves.iter().all(HalfStream::fin_seen) {
            Some(CloseReason::Fin)
        } else {
            None
        };
        if let Some(reason) = reason {
            self.close_flow(&key, ts, reason);
            if self.closed.len() >= MAX_CLOSED {
                self.closed.clear();
            }
            self.closed.insert(key, ts);
        }
    }

    /// Closes every flow with no packet for `Limits::idle_timeout_secs` of capture time as of
    /// `now` ([`CloseReason::Idle`]).
    pub fn expire(&mut self, now: Timestamp) {
        let idle = Duration::from_secs(self.limits.idle_timeout_secs);
        let quiet = self.scan_interval();
        let mut due: Vec<(u64, FlowKey, Timestamp)> = Vec::new();
        for (k, f) in &mut self.flows {
            let since = now.saturating_sub(f.state.last_seen);
            if since > idle {
                due.push((f.state.id, *k, f.state.last_seen.saturating_add(idle)));
            } else if since >= quiet {
                // Quiet since the last scan: drop its empty reassembly buffers.
                for h in &mut f.state.halves {
                    h.compact();
                }
            }
        }
        due.sort_unstable_by_key(|d| d.0);
        for (_, key, at) in due {
            self.close_flow(&key, at, CloseReason::Idle);
        }
    }

    /// The input ended: closes every flow ([`CloseReason::EndOfInput`]) in open order.
    pub fn finish(&mut self, ts: Timestamp) {
        while self.finish_some(ts, usize::MAX) {}
    }

    /// [`TcpTable::finish`] a part at a time: closes up to `max` flows (in open order) and
    /// returns whether some remain, so the caller can take the handler's output in between
    /// rather than hold the records of every open flow at once.
    pub fn finish_some(&mut self, ts: Timestamp, max: usize) -> bool {
        let order = self.finish_order.get_or_insert_with(|| {
            let mut all: Vec<(u64, FlowKey)> =
                self.flows.iter().map(|(k, f)| (f.state.id, *k)).collect();
            // Latest first: the next to close is popped off the end.
            all.sort_unstable_by_key(|d| std::cmp::Reverse(d.0));
            all.into_iter().map(|(_, k)| k).collect()
        });
        let take = max.min(order.len());
        let batch = order.split_off(order.len() - take);
        for key in batch.iter().rev() {
            self.close_flow(key, ts, CloseReason::EndOfInput);
        }
        let more = self.finish_order.as_ref().is_some_and(|o| !o.is_empty());
        if !more {
            self.finish_order = None;
        }
        more
    }

    /// The handler.
    pub fn handler(&self) -> &H {
        &self.handler
    }

    /// The handler, mutably.
    pub fn handler_mut(&mut self) -> &mut H {
        &mut self.handler
    }

    /// Gives the handler back. Flows still open are dropped without [`StreamHandler::close`]:
    /// call [`TcpTable::finish`] first.
    pub fn into_handler(self) -> H {
        self.handler
    }

    /// Counters so far.
    pub fn stats(&self) -> FlowStats {
        self.stats.clone()
    }

    /// The connection state of every open flow (in no particular order).
    pub fn conns(&self) -> impl Iterator<Item = &H::Conn> {
        self.flows.values().map(|f| &f.conn)
    }

    /// Flows currently tracked.
    pub fn flow_count(&self) -> usize {
        self.flows.len()
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Which flow and direction a segment belongs to, if it is SMB at all. The server is the
    /// side on an SMB port; if both are, an existing flow decides, else the SYN's receiver, the
    /// SYN-ACK's sender, or the lower port.
    fn orient(&self, pkt: &Packet<'_>, seg: &TcpSeg<'_>) -> Option<(FlowKey, Direction)> {
        let src = SocketAddr::new(pkt.src, seg.src_port);
        let dst = SocketAddr::new(pkt.dst, seg.dst_port);
        let to_server = (
            FlowKey {
                client: src,
                server: dst,
            },
            Direction::ToServer,
        );
        let to_client = (
            FlowKey {
                client: dst,
                server: src,
            },
            Direction::ToClient,
        );
        match (
            self.ports.contains(seg.src_port),
            self.ports.contains(seg.dst_port),
        ) {
            (false, false) => None,
            (false, true) => Some(to_server),
            (true, false) => Some(to_client),
            (true, true) => {
                if self.flows.contains_key(&to_server.0) {
                    Some(to_server)
                } else if self.flows.contains_key(&to_client.0) {
                    Some(to_client)
                } else if seg.syn {
                    Some(if seg.ack_flag { to_client } else { to_server })
                } else if (seg.dst_port, dst) <= (seg.src_port, src) {
                    Some(to_server)
                } else {
                    Some(to_client)
                }
            }
        }
    }

    /// Lets capture time advance to `now` without a packet: runs the periodic idle-expiry
    /// scan if it is due (as [`TcpTable::handle_packet`] does).
    pub fn tick(&mut self, now: Timestamp) {
        self.maybe_expire(now);
    }

    /// Runs [`TcpTable::expire`] when capture time passed the next check point.
    /// How often (in capture time) the expiry scan runs.
    fn scan_interval(&self) -> Duration {
        Duration::from_secs((self.limits.idle_timeout_secs / 10).max(1))
    }

    fn maybe_expire(&mut self, ts: Timestamp) {
        let interval = self.scan_interval();
        match self.next_expire {
            Some(at) if ts < at => {}
            Some(_) => {
                self.expire(ts);
                self.next_expire = Some(ts.saturating_add(interval));
            }
            None => self.next_expire = Some(ts.saturating_add(interval)),
        }
    }

    /// Removes a flow: flushes both directions (holes become gaps), then calls `close`.
    fn close_flow(&mut self, key: &FlowKey, ts: Timestamp, reason: CloseReason) {
        let Some(mut flow) = self.flows.remove(key) else {
            return;
        };
        for dir in [Direction::ToServer, Direction::ToClient] {
            let mut emit = Emit {
                handler: &mut self.handler,
                conn: &mut flow.conn,
                key,
                dir,
                ts,
                stats: &mut self.stats,
            };
            flow.state.halves[dir.index()].finish(&self.limits, &mut emit);
        }
        self.stats.flows_closed += 1;
        self.handler.close(flow.conn, key, ts, reason);
    }
}

impl<H: StreamHandler> std::fmt::Debug for TcpTable<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpTable")
            .field("flows", &self.flows.len())
            .field("limits", &self.limits)
            .field("ports", &self.ports)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

/// Routes one direction's framing events to the handler, counting them.
struct Emit<'a, H: StreamHandler> {
    handler: &'a mut H,
    conn: &'a mut H::Conn,
    key: &'a FlowKey,
    dir: Direction,
    ts: Timestamp,
    stats: &'a mut FlowStats,
}

impl<H: StreamHandler> Events for Emit<'_, H> {
    fn message(&mut self, msg: &[u8], extent: Extent) {
        self.stats.messages += 1;
        match extent {
            Extent::Whole => {}
            Extent::Head { .. } => self.stats.head_messages += 1,
            Extent::Truncated { .. } => self.stats.partial_messages += 1,
        }
        self.handler
            .message(self.conn, self.key, self.dir, self.ts, msg, extent);
    }

    fn wanted(&mut self, head: &[u8], len: u32) -> u32 {
        self.handler.wanted(self.conn, self.dir, head, len)
    }

    fn control(&mut self, kind: u8, body: &[u8]) {
        self.stats.control_packets += 1;
        self.handler
            .nbss_control(self.conn, self.key, self.dir, self.ts, kind, body);
    }

    fn anomaly(&mut self, kind: AnomalyKind, detail: &'static str, bytes: u64) {
        self.stats.anomalies[kind.index()] += 1;
        let anomaly = Anomaly {
            kind,
            dir: Some(self.dir),
            detail,
            bytes,
        };
        self.handler
            .anomaly(Some(self.conn), self.key, self.ts, anomaly);
    }
}

#[cfg(test)]
#[path = "table_tests.rs"]
mod tests;
