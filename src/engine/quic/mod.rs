//! SMB over QUIC: QUIC connections tracked by connection ID (so a client that changes address
//! stays one connection) and, for IDs announced only inside encrypted frames, by address path
//! (see [`paths`]), the Initial packets decrypted to read the ClientHello (SNI, ALPN),
//! Handshake and 1-RTT packets decrypted with a TLS key log (server certificate, chosen ALPN,
//! the SMB byte stream), the stream fed to the same SMB decoder as TCP, and Windows-like
//! connectivity events (30832 established, 30803 failed, 30804 disconnected).

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;

mod decode;
mod paths;

use decode::{dir_index, event, finish_smb, frames, open};
use paths::{Negotiated, Offers, Orphans, PathEntry, Via};

use super::SmbHandler;
use super::state::ConnState;
use crate::event::{QuicPacketCounts, Record};
use crate::flow::framing::Framer;
use crate::flow::{AnomalyKind, Direction, FlowKey, StreamHandler};
use crate::quic::cert::CertInfo;
use crate::quic::crypto_stream::StreamBuf;
use crate::quic::keylog::KeyLog;
use crate::quic::packet::{self, Packet, PacketType};
use crate::quic::protect::Keys;
use crate::quic::tls::{ClientHello, EncryptedExtensions, ServerHello};
use crate::rules::RuleId;
use crate::wire::Timestamp;

/// Windows' texts for the events smbscope imitates (SPECS.md §1).
const MSG_30832: &str = "The SMB connection was successfully established.";
const MSG_30803: &str = "Failed to establish a network connection.";
const MSG_30804: &str = "A network connection was disconnected.";
/// The description of a `"quic"` connection record.
const MSG_QUIC: &str = "QUIC connection";

/// CRYPTO bytes buffered per level and direction (a certificate chain fits easily).
const MAX_CRYPTO: usize = 256 * 1024;
/// Stream bytes buffered out of order per direction.
const MAX_STREAM: usize = 4 * 1024 * 1024;
/// Connection IDs remembered per connection (NEW_CONNECTION_ID can add many).
const MAX_CIDS: usize = 64;
/// Client addresses kept per connection (a migration or two is normal; later ones are not
/// recorded).
const MAX_PATHS: usize = 16;
/// How long a connection is kept after a CONNECTION_CLOSE, for the peer's last packets
/// (RFC 9000 §10.2 drains for three PTOs; a few seconds covers that).
const DRAIN: u64 = 3_000_000_000;
/// Added to a negotiated idle timeout before a silent connection counts as gone: the peers
/// themselves wait at least three probe timeouts (RFC 9000 §10.1), which the capture cannot
/// measure.
const IDLE_SLACK: u64 = 1_000_000_000;
/// Stateless reset tokens remembered per connection.
const MAX_RESET_TOKENS: usize = 16;
/// Certificates that expire within this many seconds of the capture time are flagged.
const EXPIRY_WARNING_SECS: i64 = 30 * 24 * 3600;

/// Packet-number spaces / encryption levels.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    Initial = 0,
    Handshake = 1,
    App = 2,
}

/// Keys of one level, per direction ([client→server, server→client]).
#[derive(Default)]
struct LevelKeys {
    keys: [Option<Keys>; 2],
    /// 1-RTT: the key phase the keys in `keys` are for, and the keys of the next phase.
    phase: [bool; 2],
    next: [Option<Keys>; 2],
}

/// One QUIC connection.
struct QuicConn {
    id: u64,
    version: u32,
    orig_dcid: Vec<u8>,
    server: SocketAddr,
    /// Client addresses in order of first use.
    paths: Vec<SocketAddr>,
    cids: Vec<Vec<u8>>,
    levels: [LevelKeys; 3],
    crypto: [[StreamBuf; 2]; 3],
    largest_pn: [[Option<u64>; 2]; 3],
    client_hello: Option<ClientHello>,
    server_hello: Option<ServerHello>,
    extensions: Option<EncryptedExtensions>,
    cert: Option<CertInfo>,
    saw_short: [bool; 2],
    /// Handshake packets seen per direction, read or not.
    saw_handshake: [bool; 2],
    /// A server 1-RTT packet came after the client's first one.
    server_short_after_client: bool,
    /// Its client went 1-RTT after Handshake packets from both sides, on a client address
    /// shared with other connections, and the server then sent 1-RTT packets there to IDs
    /// announced in encrypted frames (which of the connections they were for is unknowable
    /// without keys).
    shared_path_answer: bool,
    handshake_done: bool,
    established: bool,
    /// The evidence `established` rests on (see [`EventRecord::established_by`]).
    ///
    /// [`EventRecord::established_by`]: crate::event::EventRecord::established_by
    established_by: Option<&'static str>,
    /// When the client last sent a packet, on any path: a client that moved away stops sending
    /// on its old path, which is how a new path is linked to it without keys.
    last_client: Timestamp,
    /// Stateless reset tokens, with the direction of the endpoint that issued them (it is the
    /// one that may send the reset): from NEW_CONNECTION_ID frames and the server's transport
    /// parameters, so only with the key log.
    reset_tokens: Vec<([u8; 16], Direction)>,
    failed: Option<String>,
    closed: Option<String>,
    /// When a CONNECTION_CLOSE was seen: the connection ends [`DRAIN`] later.
    close_seen: Option<Timestamp>,
    /// The SMB byte stream (client-initiated bidirectional stream 0), per direction.
    stream: [StreamBuf; 2],
    framer: [Framer; 2],
    smb: Option<Box<ConnState>>,
    first_seen: Timestamp,
    last_seen: Timestamp,
    counts: QuicPacketCounts,
    /// The unreadable version the client offered first on this path, and the server's
    /// Version Negotiation answer.
    negotiated: Option<Negotiated>,
    /// Length of the connection IDs each side chose (its long-header SCIDs), which short
    /// headers sent to it carry: [server's, client's]. Zero-length IDs are common.
    cid_len: [Option<usize>; 2],
}

impl QuicConn {
    fn client(&self) -> SocketAddr {
        // `paths` always holds the first client address.
        *self.paths.last().unwrap_or(&self.server)
    }

    /// How long the connection may stay silent before the peers drop it: the smaller non-zero
    /// max_idle_timeout of the two transport parameters (RFC 9000 §10.1; the server's needs
    /// the key log), plus [`IDLE_SLACK`], and at most `cap` ns (`--idle-timeout`).
    fn idle_ns(&self, cap: u64) -> u64 {
        let client = self
            .client_hello
            .as_ref()
            .and_then(|ch| ch.transport_parameters.as_ref())
            .and_then(|tp| tp.max_idle_timeout);
        let server = self
            .extensions
            .as_ref()
            .and_then(|e| e.transport_parameters.as_ref())
            .and_then(|tp| tp.max_idle_timeout);
        let negotiated = [client, server]
            .into_iter()
            .flatten()
            .filter(|&ms| ms > 0)
            .min();
        match negotiated {
            Some(ms) => ms
                .saturating_mul(1_000_000)
                .saturating_add(IDLE_SLACK)
                .min(cap),
            None => cap,
        }
    }

    fn is_smb(&self) -> bool {
        let offered = self
            .client_hello
            .as_ref()
            .is_some_and(|ch| ch.alpn.iter().any(|a| a == "smb"));
        let chosen = self
            .extensions
            .as_ref()
            .and_then(|e| e.alpn.as_deref())
            .map(|a| a == "smb");
        chosen.unwrap_or(offered)
    }
}

/// All QUIC connections of a run.
pub struct QuicTable {
    conns: HashMap<u64, QuicConn>,
    by_cid: HashMap<Vec<u8>, u64>,
    /// (client, server) address pairs of every path: finds packets whose DCID is empty or new,
    /// and the DCID length of short headers.
    by_path: HashMap<(SocketAddr, SocketAddr), PathEntry>,
    /// The open connections of each server address (a moved client is looked for there).
    by_server: HashMap<SocketAddr, BTreeSet<u64>>,
    /// Paths carrying short-header packets that no connection could be found for.
    orphans: Orphans,
    /// Client paths that opened with a version that cannot be read (Version Negotiation).
    offers: Offers,
    /// Distinct lengths of the connection IDs in use, to find a short header's DCID.
    cid_lens: Vec<usize>,
    next_id: u64,
    ports: Vec<u16>,
    keylog: Arc<KeyLog>,
    max_conns: usize,
    idle_secs: u64,
    plain: Vec<u8>,
}

impl QuicTable {
    /// The SMB state of every open QUIC connection that carries SMB.
    pub fn smb_conns(&self) -> impl Iterator<Item = &ConnState> {
        self.conns.values().filter_map(|c| c.smb.as_deref())
    }

    pub fn new(ports: Vec<u16>, keylog: Arc<KeyLog>, max_conns: usize, idle_secs: u64) -> Self {
        QuicTable {
            conns: HashMap::new(),
            by_cid: HashMap::new(),
            by_path: HashMap::new(),
            by_server: HashMap::new(),
            orphans: Orphans::default(),
            offers: Offers::default(),
            cid_lens: Vec::new(),
            next_id: 0,
            ports,
            keylog,
            max_conns,
            idle_secs,
            plain: Vec::new(),
        }
    }

    /// QUIC packets that no connection was found for, so far.
    pub fn unattributed(&self) -> u64 {
        self.orphans.unattributed
    }

    /// One UDP datagram. Ignored unless one side uses a QUIC port.
    pub fn handle_udp(
        &mut self,
        h: &mut SmbHandler,
        ts: Timestamp,
        src: SocketAddr,
        dst: SocketAddr,
        payload: &[u8],
    ) {
        let dir = if self.ports.contains(&dst.port()) {
            Direction::ToServer
        } else if self.ports.contains(&src.port()) {
            Direction::ToClient
        } else {
            return;
        };
        if !packet::looks_like_quic(payload) {
            return;
        }
        let path = match dir {
            Direction::ToServer => (src, dst),
            Direction::ToClient => (dst, src),
        };
        if dir == Direction::ToServer && payload[0] & 0x80 != 0 {
            let version = u32::from_be_bytes([payload[1], payload[2], payload[3], payload[4]]);
            if version != packet::VERSION_NEGOTIATION && !packet::is_supported_version(version) {
                self.offers.offer(ts, path, version, payload.len());
                return;
            }
        }
        let short_len = self.short_dcid_len(payload, path, dir);
        let mut lost_short = false;
        for item in packet::split_datagram(payload, short_len) {
            match item {
                Ok(pkt) => {
                    if !self.packet(h, ts, src, dst, dir, &pkt) && pkt.ty == PacketType::OneRtt {
                        lost_short = true;
                    }
                }
                Err(_) => {
                    // A short header whose DCID length is unknown: no connection uses this path.
                    lost_short = short_len.is_none();
                    break;
                }
            }
        }
        if lost_short {
            if self.by_path.get(&path).is_some_and(|e| e.shared) {
                self.ambiguous(h, ts, path, dir, payload.len());
            } else {
                self.orphan(ts, path, dir, payload.len());
            }
        }
    }

    /// The DCID length of a short-header packet: a length at which the packet names a known
    /// connection ID (the receiving side's length on this path first), else the receiving
    /// side's length on this path, for a new ID of a connection that uses the path.
    fn short_dcid_len(
        &self,
        payload: &[u8],
        path: (SocketAddr, SocketAddr),
        dir: Direction,
    ) -> Option<usize> {
        let by_path = self
            .by_path
            .get(&path)
            .and_then(|e| self.conns.get(&e.id))
            .and_then(|c| c.cid_len[dir_index(dir)]);
        // Also for a datagram that starts with a long header: a short-header packet may be
        // coalesced after it, and its length is then the path's.
        let short_first = payload.first().is_some_and(|b| b & 0x80 == 0);
        if !short_first {
            return by_path;
        }
        let known = |l: usize| {
            l > 0
                && payload
                    .get(1..1 + l)
                    .is_some_and(|c| self.by_cid.contains_key(c))
        };
        by_path
            .into_iter()
            .chain(self.cid_lens.iter().copied())
            .find(|&l| known(l))
            .or(by_path)
    }

    fn register_cid(&mut self, id: u64, cid: &[u8]) {
        if cid.is_empty() || self.by_cid.contains_key(cid) {
            return;
        }
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        if c.cids.len() >= MAX_CIDS {
            return;
        }
        c.cids.push(cid.to_vec());
        self.by_cid.insert(cid.to_vec(), id);
        if !self.cid_lens.contains(&cid.len()) {
            self.cid_lens.push(cid.len());
        }
    }

    /// Records that connection `id` uses `path`; a path used by two connections (one client
    /// socket multiplexing several) no longer attributes packets with new IDs.
    fn note_path(&mut self, id: u64, path: (SocketAddr, SocketAddr)) {
        if let Some(e) = self.by_path.get_mut(&path) {
            if e.id != id {
                e.shared = true;
            }
        } else if self.by_path.len() < self.max_conns.saturating_mul(4) {
            self.by_path.insert(
                path,
                PathEntry {
                    id,
                    shared: false,
                    reported: false,
                },
            );
        }
    }

    /// Which connection a packet belongs to, and how that was found.
    fn lookup(
        &self,
        pkt: &Packet<'_>,
        path: (SocketAddr, SocketAddr),
        dir: Direction,
    ) -> Option<(u64, Via)> {
        let entry = self.by_path.get(&path);
        if pkt.dcid.is_empty() {
            return entry.map(|e| (e.id, Via::Path));
        }
        if let Some(&id) = self.by_cid.get(pkt.dcid) {
            return Some((id, Via::Id));
        }
        // A new ID on a known path: announced in an encrypted NEW_CONNECTION_ID frame (or a
        // stateless reset, whose "ID" is random).
        let entry = entry.filter(|e| !e.shared)?;
        if pkt.ty == PacketType::Initial {
            // A client Initial with a new ID is a new connection, unless it opens with the
            // path's connection's Initial keys, which derive from the client's first DCID (a
            // client that switched IDs before the handshake ended).
            let c = self.conns.get(&entry.id)?;
            let d = dir_index(dir);
            let keys = c.levels[Level::Initial as usize].keys[d].as_ref()?;
            let mut scratch = Vec::new();
            keys.open(pkt, c.largest_pn[0][d], &mut scratch).ok()?;
        }
        Some((entry.id, Via::Path))
    }

    /// One packet; false when no connection was found (or opened) for it.
    fn packet(
        &mut self,
        h: &mut SmbHandler,
        ts: Timestamp,
        src: SocketAddr,
        dst: SocketAddr,
        dir: Direction,
        pkt: &Packet<'_>,
    ) -> bool {
        let path = match dir {
            Direction::ToServer => (src, dst),
            Direction::ToClient => (dst, src),
        };
        if pkt.ty == PacketType::VersionNegotiation
            && dir == Direction::ToClient
            && self.offers.answer(path, &pkt.supported_versions)
        {
            return true;
        }
        let (id, via) = match self.lookup(pkt, path, dir) {
            Some(found) => found,
            None if pkt.ty == PacketType::Initial && dir == Direction::ToServer => {
                match self.open(h, ts, src, dst, pkt) {
                    Some(id) => (id, Via::Id),
                    None => return false,
                }
            }
            None => return false,
        };
        self.note_path(id, path);
        let keylog = Arc::clone(&self.keylog);
        let Some(c) = self.conns.get_mut(&id) else {
            return false;
        };
        let d = dir_index(dir);
        c.last_seen = ts;
        if dir == Direction::ToServer {
            c.last_client = ts;
        }
        match via {
            Via::Id => c.counts.by_id += 1,
            Via::Path => c.counts.by_path += 1,
        }
        // Paths: a client packet from a new address is a migration (or NAT rebinding).
        let client = path.0;
        if c.paths.len() < MAX_PATHS && !c.paths.contains(&client) {
            c.paths.push(client);
        }
        if pkt.is_long() && dir == Direction::ToClient && c.cid_len[0].is_none() {
            c.cid_len[0] = Some(pkt.scid.len());
        }
        let mut new_cids: Vec<Vec<u8>> = Vec::new();
        if !pkt.scid.is_empty() {
            new_cids.push(pkt.scid.to_vec());
        }
        if via == Via::Path && !pkt.dcid.is_empty() {
            new_cids.push(pkt.dcid.to_vec());
        }
        let seen = &mut c.counts.seen;
        match pkt.ty {
            PacketType::Initial => seen.initial += 1,
            PacketType::ZeroRtt => seen.zero_rtt += 1,
            PacketType::Handshake => seen.handshake += 1,
            PacketType::Retry => seen.retry += 1,
            PacketType::VersionNegotiation => seen.version_negotiation += 1,
            PacketType::OneRtt => seen.one_rtt += 1,
        }
        match pkt.ty {
            PacketType::Retry => {
                // The client's next Initial goes to the Retry's SCID and its keys derive from it.
                let keys_c = Keys::initial(c.version, pkt.scid, true);
                let keys_s = Keys::initial(c.version, pkt.scid, false);
                c.levels[0].keys = [Some(keys_c), Some(keys_s)];
            }
            PacketType::VersionNegotiation | PacketType::ZeroRtt => {}
            PacketType::Initial | PacketType::Handshake | PacketType::OneRtt => {
                let level = match pkt.ty {
                    PacketType::Initial => Level::Initial,
                    PacketType::Handshake => Level::Handshake,
                    _ => Level::App,
                };
                match level {
                    Level::Handshake => c.saw_handshake[d] = true,
                    Level::App => {
                        if dir == Direction::ToClient && c.saw_short[0] {
                            c.server_short_after_client = true;
                        }
                        c.saw_short[d] = true;
                    }
                    Level::Initial => {}
                }
                let mut plain = std::mem::take(&mut self.plain);
                if open(c, &keylog, level, dir, pkt, &mut plain) {
                    match level {
                        Level::Initial => c.counts.initial += 1,
                        Level::Handshake => c.counts.handshake += 1,
                        Level::App => c.counts.one_rtt += 1,
                    }
                    frames(h, c, level, dir, ts, &plain, &mut new_cids);
                } else {
                    c.counts.undecrypted += 1;
                    if level == Level::App {
                        stateless_reset(c, dir, pkt, ts);
                    }
                }
                self.plain = plain;
            }
        }
        self.check_established(h, id, ts);
        for cid in new_cids {
            self.register_cid(id, &cid);
        }
        true
    }

    fn open(
        &mut self,
        h: &mut SmbHandler,
        ts: Timestamp,
        client: SocketAddr,
        server: SocketAddr,
        pkt: &Packet<'_>,
    ) -> Option<u64> {
        if self.conns.len() >= self.max_conns {
            let key = FlowKey { client, server };
            h.flow_anomaly(
                &key,
                AnomalyKind::FlowTableFull,
                "QUIC connection table full",
                ts,
            );
            return None;
        }
        let id = self.next_id;
        self.next_id += 1;
        let mut levels: [LevelKeys; 3] = Default::default();
        levels[0].keys = [
            Some(Keys::initial(pkt.version, pkt.dcid, true)),
            Some(Keys::initial(pkt.version, pkt.dcid, false)),
        ];
        let bufs = || [StreamBuf::new(MAX_CRYPTO), StreamBuf::new(MAX_CRYPTO)];
        let negotiated = self.offers.take((client, server), ts);
        let mut counts = QuicPacketCounts::default();
        counts.seen.version_negotiation = negotiated.as_ref().map_or(0, |n| n.answers);
        self.conns.insert(
            id,
            QuicConn {
                id,
                version: pkt.version,
                orig_dcid: pkt.dcid.to_vec(),
                server,
                paths: vec![client],
                cids: Vec::new(),
                levels,
                crypto: [bufs(), bufs(), bufs()],
                largest_pn: [[None; 2]; 3],
                client_hello: None,
                server_hello: None,
                extensions: None,
                cert: None,
                saw_short: [false; 2],
                saw_handshake: [false; 2],
                server_short_after_client: false,
                shared_path_answer: false,
                handshake_done: false,
                established: false,
                established_by: None,
                last_client: ts,
                reset_tokens: Vec::new(),
                failed: None,
                closed: None,
                close_seen: None,
                stream: [StreamBuf::new(MAX_STREAM), StreamBuf::new(MAX_STREAM)],
                framer: [Framer::default(), Framer::default()],
                smb: None,
                first_seen: ts,
                last_seen: ts,
                counts,
                negotiated,
                cid_len: [None, Some(pkt.scid.len())],
            },
        );
        self.register_cid(id, pkt.dcid);
        self.by_server.entry(server).or_default().insert(id);
        Some(id)
    }

    /// Marks `id` established once the evidence is there: event 30832 for SMB, and the
    /// QUIC-level findings.
    pub(super) fn check_established(&mut self, h: &mut SmbHandler, id: u64, ts: Timestamp) {
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        if c.established || c.failed.is_some() {
            return;
        }
        c.established_by = established_by(c);
        if c.established_by.is_none() {
            return;
        }
        c.established = true;
        if c.is_smb() {
            let ev = event(c, Some(30832), MSG_30832, None, ts);
            h.push(Record::Event(ev));
        }
        self.on_established(h, id, ts);
    }

    /// After the handshake: QUIC-level findings (certificate, port, TCP/445 exposure).
    fn on_established(&mut self, h: &mut SmbHandler, id: u64, ts: Timestamp) {
        let Some(c) = self.conns.get(&id) else {
            return;
        };
        if !c.is_smb() {
            return;
        }
        let key = FlowKey {
            client: c.client(),
            server: c.server,
        };
        let name = c.client_hello.as_ref().and_then(|ch| ch.sni.clone());
        let mut findings: Vec<(RuleId, String)> = Vec::new();
        if c.server.port() != 443 {
            findings.push((
                RuleId::QuicNonDefaultPort,
                format!("SMB over QUIC on UDP port {}", c.server.port()),
            ));
        }
        if let Some(cert) = &c.cert {
            let now = (ts.0 / 1_000_000_000) as i64;
            if cert.names_ip() {
                let ips: Vec<String> = cert.ip_addresses.iter().map(|i| i.to_string()).collect();
                findings.push((
                    RuleId::QuicCertIpSan,
                    format!(
                        "The server certificate ({}) names an IP address ({})",
                        cert.subject,
                        ips.join(", ")
                    ),
                ));
            }
            if cert.expired_at(now) {
                findings.push((
                    RuleId::QuicCertExpired,
                    format!(
                        "The server certificate ({}) expired before the capture",
                        cert.subject
                    ),
                ));
            } else if cert.expires_within(now, EXPIRY_WARNING_SECS) {
                findings.push((
                    RuleId::QuicCertExpiring,
                    format!(
                        "The server certificate ({}) expires within 30 days",
                        cert.subject
                    ),
                ));
            }
        }
        let ip = c.server.ip();
        for (rule, summary) in findings {
            h.plain_finding(rule, &key, name.clone(), summary, ts);
        }
        h.note_server(ip, crate::engine::exposure::Via::Quic, &key, name, ts);
    }

    /// Closes connections idle for their idle timeout (the negotiated one when the transport
    /// parameters tell it, else `--idle-timeout`), as of `now`, and gives up on paths that
    /// stayed unattributed as long.
    pub fn expire(&mut self, h: &mut SmbHandler, now: Timestamp) {
        let cap = self.idle_secs.saturating_mul(1_000_000_000);
        let mut due: Vec<(u64, String)> = self
            .conns
            .values()
            .filter_map(|c| {
                let idle = c.idle_ns(cap);
                if c.close_seen
                    .is_some_and(|at| now.0.saturating_sub(at.0) > DRAIN)
                {
                    Some((c.id, "connection closed".to_owned()))
                } else if now.0.saturating_sub(c.last_seen.0) > idle {
                    let why = if idle < cap {
                        format!(
                            "idle timeout: no packet for the negotiated {} s",
                            (idle - IDLE_SLACK) / 1_000_000_000
                        )
                    } else {
                        "idle timeout".to_owned()
                    };
                    Some((c.id, why))
                } else {
                    None
                }
            })
            .collect();
        due.sort_unstable();
        for (id, why) in due {
            self.close(h, id, now, &why);
        }
        self.orphans.expire(h, now, cap);
        self.offers.expire(h, Some(now));
    }

    /// End of input: closes every connection.
    pub fn finish(&mut self, h: &mut SmbHandler, ts: Timestamp) {
        let mut ids: Vec<u64> = self.conns.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            self.close(h, id, ts, "end of capture");
        }
        self.orphans.finish(h);
        self.offers.expire(h, None);
    }

    fn close(&mut self, h: &mut SmbHandler, id: u64, ts: Timestamp, why: &str) {
        let Some(mut c) = self.conns.remove(&id) else {
            return;
        };
        for cid in &c.cids {
            self.by_cid.remove(cid);
        }
        for client in &c.paths {
            let path = (*client, c.server);
            if self.by_path.get(&path).is_some_and(|e| e.id == id) {
                self.by_path.remove(&path);
            }
        }
        if let Some(set) = self.by_server.get_mut(&c.server) {
            set.remove(&id);
            if set.is_empty() {
                self.by_server.remove(&c.server);
            }
        }
        let at = c.last_seen.max(c.first_seen);
        let (id, msg, reason) = if c.established {
            let reason = c.closed.clone().unwrap_or_else(|| why.to_owned());
            (30804, MSG_30804, reason)
        } else {
            let reason = c
                .failed
                .clone()
                .unwrap_or_else(|| format!("the handshake did not complete ({why})"));
            (30803, MSG_30803, reason)
        };
        if c.is_smb() {
            h.push(Record::Event(event(
                &c,
                Some(id),
                msg,
                Some(reason.clone()),
                at,
            )));
        }
        h.push(Record::Quic(event(&c, None, MSG_QUIC, Some(reason), at)));
        finish_smb(h, &mut c, ts);
        if let Some(smb) = c.smb.take() {
            let key = smb.key;
            h.close(smb, &key, ts, crate::flow::CloseReason::EndOfInput);
        }
    }
}

/// Whether `c` is established yet, and on what evidence (see [`EventRecord::established_by`]).
///
/// [`EventRecord::established_by`]: crate::event::EventRecord::established_by
fn established_by(c: &QuicConn) -> Option<&'static str> {
    if c.handshake_done {
        Some("handshake_done")
    } else if c.shared_path_answer {
        Some("1rtt_on_shared_path")
    } else if c.saw_short[0] && c.server_short_after_client {
        Some(if c.saw_handshake == [true; 2] {
            "handshake_then_1rtt"
        } else {
            "1rtt_both_directions"
        })
    } else {
        None
    }
}

/// A 1-RTT packet that did not open: a Stateless Reset (RFC 9000 §10.3) when it ends in a
/// token its sender issued. Tokens are only known with the key log.
fn stateless_reset(c: &mut QuicConn, dir: Direction, pkt: &Packet<'_>, ts: Timestamp) {
    let Some(tail) = pkt
        .raw
        .len()
        .checked_sub(16)
        .and_then(|at| pkt.raw.get(at..))
    else {
        return;
    };
    if !c
        .reset_tokens
        .iter()
        .any(|(t, d)| *d == dir && t[..] == *tail)
    {
        return;
    }
    let who = if dir == Direction::ToServer {
        "client"
    } else {
        "server"
    };
    let desc = format!("the {who} sent a stateless reset (it had lost the connection's state)");
    c.close_seen.get_or_insert(ts);
    if c.established {
        c.closed.get_or_insert(desc);
    } else {
        c.failed.get_or_insert(desc);
    }
}
