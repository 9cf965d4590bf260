//! Writes the SMB conversation the engine decoded back out as a capture: one TCP connection per
//! flow (same addresses and ports), its handshake, each SMB message as its own segment (the
//! decrypted plaintext in place of each encrypted one), and the close. Timestamps are the
//! capture times at which each message was complete. Sequence numbers are renumbered, since
//! plaintext and ciphertext differ in length. Used by `smbscope decrypt`.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use etherparse::PacketBuilder;

use crate::engine::MessageTap;
use crate::flow::{Direction, FlowKey};
use crate::wire::Timestamp;

/// pcap with nanosecond timestamps (the classic format; every tool reads it).
const PCAP_MAGIC_NANOS: u32 = 0xa1b2_3c4d;
/// LINKTYPE_ETHERNET.
const LINKTYPE_ETHERNET: u32 = 1;
/// Largest TCP payload per synthetic segment (keeps IPv4 total length under 65535).
const MAX_SEGMENT: usize = 65_000;
/// Locally administered MAC addresses for the synthetic Ethernet headers.
const CLIENT_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
const SERVER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];

/// A [`MessageTap`] writing a pcap file.
pub struct PcapWriter {
    out: BufWriter<File>,
    flows: HashMap<FlowKey, FlowSeq>,
    packet: Vec<u8>,
    payload: Vec<u8>,
    /// First write error; later writes are skipped and [`PcapWriter::finish`] reports it.
    error: Option<io::Error>,
    pub packets: u64,
}

/// Next sequence numbers of a synthetic connection.
struct FlowSeq {
    client: u32,
    server: u32,
}

impl PcapWriter {
    /// Creates `path` and writes the pcap file header.
    pub fn create(path: &Path) -> io::Result<PcapWriter> {
        let mut out = BufWriter::with_capacity(1 << 16, File::create(path)?);
        out.write_all(&PCAP_MAGIC_NANOS.to_le_bytes())?;
        out.write_all(&2u16.to_le_bytes())?; // version 2.4
        out.write_all(&4u16.to_le_bytes())?;
        out.write_all(&0i32.to_le_bytes())?; // thiszone
        out.write_all(&0u32.to_le_bytes())?; // sigfigs
        out.write_all(&262_144u32.to_le_bytes())?; // snaplen
        out.write_all(&LINKTYPE_ETHERNET.to_le_bytes())?;
        Ok(PcapWriter {
            out,
            flows: HashMap::new(),
            packet: Vec::new(),
            payload: Vec::new(),
            error: None,
            packets: 0,
        })
    }

    /// Flushes the file; returns the first write error, if any happened.
    fn flush_all(&mut self) -> io::Result<u64> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.out.flush()?;
        Ok(self.packets)
    }

    fn flow(&mut self, key: &FlowKey, ts: Timestamp) -> &mut FlowSeq {
        if !self.flows.contains_key(key) {
            // Handshake: SYN, SYN-ACK, ACK.
            let (c, s) = (1_000u32, 2_000u32);
            self.segment(key, Direction::ToServer, ts, c - 1, 0, Flags::SYN, &[]);
            self.segment(key, Direction::ToClient, ts, s - 1, c, Flags::SYN_ACK, &[]);
            self.segment(key, Direction::ToServer, ts, c, s, Flags::ACK, &[]);
            self.flows.insert(
                *key,
                FlowSeq {
                    client: c,
                    server: s,
                },
            );
        }
        // Inserted just above when absent.
        self.flows.get_mut(key).expect("flow present")
    }

    /// Sends `payload` in `dir` as one or more segments.
    fn data(&mut self, key: &FlowKey, dir: Direction, ts: Timestamp, payload: &[u8]) {
        let (mut seq, ack) = {
            let f = self.flow(key, ts);
            match dir {
                Direction::ToServer => (f.client, f.server),
                Direction::ToClient => (f.server, f.client),
            }
        };
        for chunk in payload.chunks(MAX_SEGMENT) {
            self.segment(key, dir, ts, seq, ack, Flags::PSH_ACK, chunk);
            seq = seq.wrapping_add(chunk.len() as u32);
        }
        if let Some(f) = self.flows.get_mut(key) {
            match dir {
                Direction::ToServer => f.client = seq,
                Direction::ToClient => f.server = seq,
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn segment(
        &mut self,
        key: &FlowKey,
        dir: Direction,
        ts: Timestamp,
        seq: u32,
        ack: u32,
        flags: Flags,
        payload: &[u8],
    ) {
        if self.error.is_some() {
            return;
        }
        let (src, dst, smac, dmac) = match dir {
            Direction::ToServer => (key.client, key.server, CLIENT_MAC, SERVER_MAC),
            Direction::ToClient => (key.server, key.client, SERVER_MAC, CLIENT_MAC),
        };
        self.packet.clear();
        if let Err(e) = build(
            &mut self.packet,
            src,
            dst,
            smac,
            dmac,
            seq,
            ack,
            flags,
            payload,
        ) {
            self.error = Some(io::Error::other(e));
            return;
        }
        let r = write_record(&mut self.out, ts, &self.packet);
        match r {
            Ok(()) => self.packets += 1,
            Err(e) => self.error = Some(e),
        }
    }
}

impl MessageTap for PcapWriter {
    fn finish(&mut self) -> io::Result<u64> {
        self.flush_all()
    }

    fn message(&mut self, key: &FlowKey, dir: Direction, ts: Timestamp, msg: &[u8]) {
        let mut payload = std::mem::take(&mut self.payload);
        payload.clear();
        // Direct TCP transport header: 0x00, then a 24-bit length (MS-SMB2 §2.1).
        let len = (msg.len() as u32).min(0x00ff_ffff);
        payload.push(0);
        payload.extend_from_slice(&len.to_be_bytes()[1..]);
        payload.extend_from_slice(msg);
        self.data(key, dir, ts, &payload);
        self.payload = payload;
    }

    fn control(&mut self, key: &FlowKey, dir: Direction, ts: Timestamp, kind: u8, body: &[u8]) {
        // NetBIOS session header (RFC 1002 §4.3.1): type, flags (length bit 16), length.
        let len = body.len().min(0x1_ffff) as u32;
        let mut payload = vec![kind, ((len >> 16) & 1) as u8];
        payload.extend_from_slice(&(len as u16).to_be_bytes());
        payload.extend_from_slice(&body[..len as usize]);
        self.data(key, dir, ts, &payload);
    }

    fn close(&mut self, key: &FlowKey, ts: Timestamp) {
        let Some(f) = self.flows.remove(key) else {
            return;
        };
        let (c, s) = (f.client, f.server);
        self.segment(key, Direction::ToServer, ts, c, s, Flags::FIN_ACK, &[]);
        self.segment(
            key,
            Direction::ToClient,
            ts,
            s,
            c.wrapping_add(1),
            Flags::FIN_ACK,
            &[],
        );
        let (c1, s1) = (c.wrapping_add(1), s.wrapping_add(1));
        self.segment(key, Direction::ToServer, ts, c1, s1, Flags::ACK, &[]);
    }
}

#[derive(Clone, Copy)]
struct Flags {
    syn: bool,
    ack: bool,
    psh: bool,
    fin: bool,
}

impl Flags {
    const SYN: Flags = Flags {
        syn: true,
        ack: false,
        psh: false,
        fin: false,
    };
    const SYN_ACK: Flags = Flags {
        syn: true,
        ack: true,
        psh: false,
        fin: false,
    };
    const ACK: Flags = Flags {
        syn: false,
        ack: true,
        psh: false,
        fin: false,
    };
    const PSH_ACK: Flags = Flags {
        syn: false,
        ack: true,
        psh: true,
        fin: false,
    };
    const FIN_ACK: Flags = Flags {
        syn: false,
        ack: true,
        psh: false,
        fin: true,
    };
}

/// Ethernet + IPv4/IPv6 + TCP with checksums, into `out`.
#[allow(clippy::too_many_arguments)]
fn build(
    out: &mut Vec<u8>,
    src: SocketAddr,
    dst: SocketAddr,
    smac: [u8; 6],
    dmac: [u8; 6],
    seq: u32,
    ack: u32,
    flags: Flags,
    payload: &[u8],
) -> Result<(), String> {
    let eth = PacketBuilder::ethernet2(smac, dmac);
    let ip = match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => eth.ipv4(s.octets(), d.octets(), 64),
        (IpAddr::V6(s), IpAddr::V6(d)) => eth.ipv6(s.octets(), d.octets(), 64),
        _ => return Err("mixed IPv4/IPv6 flow".into()),
    };
    let mut tcp = ip.tcp(src.port(), dst.port(), seq, 65_535);
    if flags.syn {
        tcp = tcp.syn();
    }
    if flags.ack {
        tcp = tcp.ack(ack);
    }
    if flags.psh {
        tcp = tcp.psh();
    }
    if flags.fin {
        tcp = tcp.fin();
    }
    tcp.write(out, payload).map_err(|e| e.to_string())
}

fn write_record(out: &mut impl Write, ts: Timestamp, packet: &[u8]) -> io::Result<()> {
    let secs = (ts.0 / 1_000_000_000) as u32;
    let nanos = (ts.0 % 1_000_000_000) as u32;
    out.write_all(&secs.to_le_bytes())?;
    out.write_all(&nanos.to_le_bytes())?;
    out.write_all(&(packet.len() as u32).to_le_bytes())?;
    out.write_all(&(packet.len() as u32).to_le_bytes())?;
    out.write_all(packet)
}
