//! Finding the connection of a packet without keys.
//!
//! A QUIC endpoint announces most of its connection IDs in NEW_CONNECTION_ID frames, which are
//! encrypted. Without the key log a passive observer learns only the IDs of the long headers,
//! so a peer that switches to an announced ID (quinn does when the other side retires IDs, and
//! every endpoint does after a migration) sends packets whose ID is unknown. They are found
//! in three ways, each counted in the connection's record:
//!
//! * **by ID** (`by_id`): the destination connection ID is one the connection used before;
//! * **by path** (`by_path`): a new (or empty) ID on an address path (client and server
//!   address and port) that exactly one live connection uses; the ID is learnt from then on.
//!   A path that several connections share (one client socket multiplexing connections) does
//!   not attribute new IDs;
//! * **by migration** (`by_migration`): a path no connection uses, carrying short headers with
//!   unknown IDs, is an *orphan*. It is linked to a connection once the server has answered on
//!   it (a server only sends on a path it has taken for one of its connections) and exactly
//!   one live, established connection of that server could have moved there: its client has
//!   sent nothing on its own paths since the orphan's first packet (a client that moved
//!   stops sending from its old address). Until then, or if several could, the orphan stays
//!   unattributed, and when it expires its packets are counted (`quic_unattributed_packets`
//!   in the summary) and reported in one `quic_unattributed` anomaly.

use std::collections::HashMap;
use std::net::SocketAddr;

use super::{MAX_PATHS, QuicTable, dir_index};
use crate::engine::SmbHandler;
use crate::flow::{Direction, FlowKey};
use crate::wire::Timestamp;

/// How a packet's connection was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Via {
    Id,
    Path,
}

/// The connection of an address path.
#[derive(Debug, Clone, Copy)]
pub(super) struct PathEntry {
    pub id: u64,
    /// More than one connection used this path.
    pub shared: bool,
    /// The `quic_unattributed` anomaly for packets on this shared path was sent.
    pub reported: bool,
}

/// Orphan paths tracked at once; packets of further ones are only counted.
const MAX_ORPHANS: usize = 4096;
/// A server with more open connections than this is not searched for a moved client (the
/// answer would rarely be unique, and the search must stay cheap).
const MAX_CANDIDATES: usize = 64;
/// Link attempts per orphan path (one per packet once the server has answered).
const MAX_ATTEMPTS: u32 = 32;

/// A path with unattributed short-header packets.
#[derive(Debug)]
struct Orphan {
    first_seen: Timestamp,
    last_seen: Timestamp,
    /// Datagrams per direction ([client→server, server→client]).
    packets: [u64; 2],
    bytes: u64,
    attempts: u32,
}

/// Every orphan path, and the count of packets that were never attributed.
#[derive(Debug, Default)]
pub(super) struct Orphans {
    paths: HashMap<(SocketAddr, SocketAddr), Orphan>,
    /// Datagrams never attributed to a connection (orphans that expired or ended, and those
    /// beyond [`MAX_ORPHANS`]).
    pub unattributed: u64,
}

impl Orphans {
    /// Reports and forgets orphans silent for `idle` ns.
    pub fn expire(&mut self, h: &mut SmbHandler, now: Timestamp, idle: u64) {
        let mut due: Vec<(SocketAddr, SocketAddr)> = self
            .paths
            .iter()
            .filter(|(_, o)| now.0.saturating_sub(o.last_seen.0) > idle)
            .map(|(p, _)| *p)
            .collect();
        due.sort_unstable();
        for path in due {
            self.report(h, path);
        }
    }

    /// End of input: reports every orphan.
    pub fn finish(&mut self, h: &mut SmbHandler) {
        let mut all: Vec<(SocketAddr, SocketAddr)> = self.paths.keys().copied().collect();
        all.sort_unstable();
        for path in all {
            self.report(h, path);
        }
    }

    fn report(&mut self, h: &mut SmbHandler, path: (SocketAddr, SocketAddr)) {
        let Some(o) = self.paths.remove(&path) else {
            return;
        };
        let n = o.packets[0] + o.packets[1];
        self.unattributed += n;
        let key = FlowKey {
            client: path.0,
            server: path.1,
        };
        let detail = format!(
            "{n} QUIC packets ({} from the client, {} from the server) with unknown connection \
             IDs on a path no connection used: a connection that began before the capture, or \
             a client that moved and could not be linked to one connection",
            o.packets[0], o.packets[1]
        );
        h.transport_anomaly(&key, "quic_unattributed", detail, o.bytes, o.last_seen);
    }
}

impl QuicTable {
    /// A datagram on `path` whose short-header packet no connection was found for.
    pub(super) fn orphan(
        &mut self,
        ts: Timestamp,
        path: (SocketAddr, SocketAddr),
        dir: Direction,
        bytes: usize,
    ) {
        let full = self.orphans.paths.len() >= MAX_ORPHANS;
        let o = match self.orphans.paths.get_mut(&path) {
            Some(o) => o,
            None if full => {
                self.orphans.unattributed += 1;
                return;
            }
            None => self.orphans.paths.entry(path).or_insert(Orphan {
                first_seen: ts,
                last_seen: ts,
                packets: [0; 2],
                bytes: 0,
                attempts: 0,
            }),
        };
        o.last_seen = ts;
        o.packets[dir_index(dir)] += 1;
        o.bytes += bytes as u64;
        if o.packets[1] == 0 || o.packets[0] == 0 || o.attempts >= MAX_ATTEMPTS {
            return;
        }
        o.attempts += 1;
        let since = o.first_seen;
        let Some(id) = self.moved_here(path, since) else {
            return;
        };
        let Some(o) = self.orphans.paths.remove(&path) else {
            return;
        };
        self.note_path(id, path);
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        if !c.paths.contains(&path.0) {
            c.paths.push(path.0);
        }
        let n = o.packets[0] + o.packets[1];
        c.counts.by_migration += n;
        c.counts.seen.one_rtt += n;
        c.counts.undecrypted += n;
        c.last_seen = ts;
        c.last_client = c.last_client.max(ts);
    }

    /// A datagram with a new connection ID on a path that several connections share: which
    /// of them it belongs to cannot be known without keys, so it is counted, not attributed
    /// (one `quic_unattributed` anomaly per path). A server packet there still tells that the
    /// server is answering on that client address: connections of the path whose client went
    /// 1-RTT after Handshake packets from both sides are established on that evidence
    /// (`1rtt_on_shared_path`), instead of being reported as failed.
    pub(super) fn ambiguous(
        &mut self,
        h: &mut SmbHandler,
        ts: Timestamp,
        path: (SocketAddr, SocketAddr),
        dir: Direction,
        bytes: usize,
    ) {
        self.orphans.unattributed += 1;
        if let Some(e) = self.by_path.get_mut(&path).filter(|e| !e.reported) {
            e.reported = true;
            let key = FlowKey {
                client: path.0,
                server: path.1,
            };
            let detail = "QUIC packets with connection IDs announced in encrypted frames, on a \
                          client address and port that several connections share: without the \
                          key log they cannot be given to one of them, and are counted in \
                          quic_unattributed_packets"
                .to_owned();
            h.transport_anomaly(&key, "quic_unattributed", detail, bytes as u64, ts);
        }
        if dir != Direction::ToClient {
            return;
        }
        let Some(ids) = self
            .by_server
            .get(&path.1)
            .filter(|i| i.len() <= MAX_CANDIDATES)
        else {
            return;
        };
        let due: Vec<u64> = ids
            .iter()
            .copied()
            .filter(|id| {
                self.conns.get(id).is_some_and(|c| {
                    !c.established
                        && c.paths.contains(&path.0)
                        && c.saw_handshake == [true; 2]
                        && c.saw_short[0]
                })
            })
            .collect();
        for id in due {
            if let Some(c) = self.conns.get_mut(&id) {
                c.shared_path_answer = true;
            }
            self.check_established(h, id, ts);
        }
    }

    /// The one live connection of `path`'s server whose client could have moved to `path` at
    /// `since`: established, not closing, silent on its own paths since then (but not for
    /// longer than its idle timeout), and with room for another path.
    fn moved_here(&self, path: (SocketAddr, SocketAddr), since: Timestamp) -> Option<u64> {
        let ids = self.by_server.get(&path.1)?;
        if ids.len() > MAX_CANDIDATES {
            return None;
        }
        let cap = self.idle_secs.saturating_mul(1_000_000_000);
        let mut found = None;
        for id in ids {
            let Some(c) = self.conns.get(id) else {
                continue;
            };
            let candidate = c.established
                && c.close_seen.is_none()
                && c.last_client <= since
                && since.0.saturating_sub(c.last_client.0) <= c.idle_ns(cap)
                && c.paths.len() < MAX_PATHS
                && !c.paths.contains(&path.0);
            if candidate {
                if found.is_some() {
                    return None;
                }
                found = Some(*id);
            }
        }
        found
    }
}

/// Client paths tracked at once with a version offer the server may refuse.
const MAX_OFFERS: usize = 1024;
/// How long after Version Negotiation the client's retry with a version the server supports
/// still counts as the same attempt.
const OFFER_LIFETIME: u64 = 10_000_000_000;

/// A client that opened with a QUIC version this observer (and perhaps the server) does not
/// speak, e.g. a reserved `0x?a?a?a?a` version sent to provoke Version Negotiation
/// (RFC 9000 §6, §15).
#[derive(Debug)]
struct Offer {
    ts: Timestamp,
    offered: u32,
    /// Version Negotiation packets the server sent back, and the versions they listed.
    answers: u64,
    server_versions: Vec<u32>,
    bytes: u64,
}

/// What a connection inherits from the version offer that preceded it on its path.
#[derive(Debug, Clone, Default)]
pub(super) struct Negotiated {
    pub offered: u32,
    pub answers: u64,
    pub server_versions: Vec<u32>,
}

/// Version offers per client path, waiting for the connection that follows them.
#[derive(Debug, Default)]
pub(super) struct Offers {
    paths: HashMap<(SocketAddr, SocketAddr), Offer>,
}

impl Offers {
    /// A client long header with a version that cannot be read.
    pub fn offer(&mut self, ts: Timestamp, path: (SocketAddr, SocketAddr), version: u32, n: usize) {
        if self.paths.len() >= MAX_OFFERS && !self.paths.contains_key(&path) {
            return;
        }
        let o = self.paths.entry(path).or_insert(Offer {
            ts,
            offered: version,
            answers: 0,
            server_versions: Vec::new(),
            bytes: 0,
        });
        o.ts = ts;
        o.offered = version;
        o.bytes += n as u64;
    }

    /// A Version Negotiation packet for no connection: true if it answers an offer.
    pub fn answer(&mut self, path: (SocketAddr, SocketAddr), versions: &[u32]) -> bool {
        let Some(o) = self.paths.get_mut(&path) else {
            return false;
        };
        o.answers += 1;
        o.server_versions = versions.iter().copied().take(16).collect();
        true
    }

    /// A connection opens on `path`: the offer before it, if recent.
    pub fn take(&mut self, path: (SocketAddr, SocketAddr), now: Timestamp) -> Option<Negotiated> {
        let o = self.paths.remove(&path)?;
        (now.0.saturating_sub(o.ts.0) <= OFFER_LIFETIME).then_some(Negotiated {
            offered: o.offered,
            answers: o.answers,
            server_versions: o.server_versions,
        })
    }

    /// Offers no connection followed within their lifetime, as of `now` (all of them at the
    /// end of input): one `quic_version_negotiation` anomaly each.
    pub fn expire(&mut self, h: &mut SmbHandler, now: Option<Timestamp>) {
        let mut due: Vec<(SocketAddr, SocketAddr)> = self
            .paths
            .iter()
            .filter(|(_, o)| now.is_none_or(|n| n.0.saturating_sub(o.ts.0) > OFFER_LIFETIME))
            .map(|(p, _)| *p)
            .collect();
        due.sort_unstable();
        for path in due {
            let Some(o) = self.paths.remove(&path) else {
                continue;
            };
            let key = FlowKey {
                client: path.0,
                server: path.1,
            };
            let answer = if o.answers == 0 {
                "the server did not answer with Version Negotiation".to_owned()
            } else {
                format!(
                    "the server answered with Version Negotiation listing {}",
                    version_list(&o.server_versions)
                )
            };
            let detail = format!(
                "the client opened with QUIC version {:#010x}, which smbscope cannot read; \
                 {answer}; no connection in a readable version followed",
                o.offered
            );
            h.transport_anomaly(&key, "quic_version_negotiation", detail, o.bytes, o.ts);
        }
    }
}

/// QUIC versions as the records show them: "1", "2", else hex.
pub(super) fn version_name(v: u32) -> String {
    match v {
        crate::quic::packet::VERSION_1 => "1".to_owned(),
        crate::quic::packet::VERSION_2 => "2".to_owned(),
        v => format!("{v:#010x}"),
    }
}

fn version_list(vs: &[u32]) -> String {
    if vs.is_empty() {
        return "no version".to_owned();
    }
    vs.iter()
        .map(|v| version_name(*v))
        .collect::<Vec<_>>()
        .join(", ")
}
