//! Fuzz entry points for the whole engine: arbitrary frames, or arbitrary bytes carried as the
//! payload of a synthetic TCP 445 connection (so fuzzing reaches SMB without first having to
//! invent Ethernet, IP and TCP headers). Neither may panic, whatever the input.

use etherparse::PacketBuilder;

use super::{Config, Engine};
use crate::capture::Frame;
use crate::flow::{Limits, dlt};
use crate::wire::Timestamp;

/// The link types a selector byte picks from.
const LINKTYPES: [i32; 11] = [
    dlt::EN10MB,
    dlt::NULL,
    dlt::PPP,
    dlt::RAW,
    dlt::RAW_BSD,
    dlt::LINKTYPE_RAW,
    dlt::LOOP,
    dlt::LINUX_SLL,
    dlt::IPV4,
    dlt::IPV6,
    dlt::LINUX_SLL2,
];

/// `data` is a sequence of (link type selector byte, big-endian u16 length, frame bytes); each
/// frame goes to [`Engine::handle_frame`] one millisecond after the previous one (a selector
/// with the top bit set jumps an hour, so idle expiry runs too). Then `finish`, and every
/// record is drained.
pub fn fuzz_frames(data: &[u8]) {
    let mut engine = fuzz_engine();
    let mut ts = Timestamp::from_secs(1_700_000_000);
    let mut rest = data;
    while let Some((&[sel, hi, lo], tail)) = rest.split_first_chunk::<3>() {
        let len = usize::from(u16::from_be_bytes([hi, lo])).min(tail.len());
        let (frame, tail) = tail.split_at(len);
        rest = tail;
        let step = if sel & 0x80 != 0 { 3_600_000 } else { 1 };
        ts = Timestamp(ts.0.saturating_add(step * 1_000_000));
        feed(
            &mut engine,
            ts,
            LINKTYPES[usize::from(sel & 0x7f) % LINKTYPES.len()],
            frame,
        );
    }
    drain_to_end(&mut engine);
}

/// `data` is a sequence of (control byte, big-endian u16 length, payload). Each payload becomes
/// one Ethernet/IPv4 segment of a TCP connection 10.0.0.1:50000 -> 10.0.0.2:445 whose handshake
/// was seen. Control bit 0 picks the direction (set = server to client); bit 1 sends the payload
/// as a UDP datagram to port 443 instead (SMB over QUIC; then bits 2-5 pick the client's port
/// and address and a 40 s wait, so QUIC path attribution and expiry are reached); bit 2 skips 1000 sequence numbers
/// (a gap); bit 3 resends the payload at the previous sequence number (overlap); bit 4 adds FIN.
pub fn fuzz_tcp445(data: &[u8]) {
    let mut engine = fuzz_engine();
    let mut ts = Timestamp::from_secs(1_700_000_000);
    let mut seq = [1_000u32, 5_000u32];
    let mut prev = seq;
    let mut next_ts = || {
        ts = Timestamp(ts.0 + 1_000_000);
        ts
    };
    // Handshake.
    let syn = tcp_frame(false, seq[0], 0, Flags::Syn, &[]);
    feed(&mut engine, next_ts(), dlt::EN10MB, &syn);
    let synack = tcp_frame(true, seq[1], seq[0] + 1, Flags::SynAck, &[]);
    feed(&mut engine, next_ts(), dlt::EN10MB, &synack);
    seq = [seq[0] + 1, seq[1] + 1];
    let ack = tcp_frame(false, seq[0], seq[1], Flags::Ack, &[]);
    feed(&mut engine, next_ts(), dlt::EN10MB, &ack);

    let mut rest = data;
    while let Some((&[ctl, hi, lo], tail)) = rest.split_first_chunk::<3>() {
        let len = usize::from(u16::from_be_bytes([hi, lo])).min(tail.len());
        let (payload, tail) = tail.split_at(len);
        rest = tail;
        let d = usize::from(ctl & 1);
        let frame = if ctl & 2 != 0 {
            // QUIC paths: bits 2-3 pick the client port, bit 4 the client address (a NAT
            // rebinding, a migration, or connections sharing a server), bit 5 waits 40 s
            // (idle timeouts of connections and of unattributed paths).
            if ctl & 32 != 0 {
                for _ in 0..40_000 {
                    next_ts();
                }
            }
            let port = 50_001 + u16::from((ctl >> 2) & 3);
            let client = [10, 0, 0, 1 + ((ctl >> 4) & 1)];
            udp_frame(d == 1, client, port, payload)
        } else {
            if ctl & 4 != 0 {
                seq[d] = seq[d].wrapping_add(1000);
            }
            let s = if ctl & 8 != 0 { prev[d] } else { seq[d] };
            let flags = if ctl & 16 != 0 {
                Flags::Fin
            } else {
                Flags::Ack
            };
            let f = tcp_frame(d == 1, s, seq[1 - d], flags, payload);
            prev[d] = s;
            seq[d] = s.wrapping_add(payload.len() as u32);
            f
        };
        feed(&mut engine, next_ts(), dlt::EN10MB, &frame);
    }
    drain_to_end(&mut engine);
}

/// `data` is a sequence of (control byte, big-endian u16 length, UDP payload): QUIC datagrams
/// between clients 10.0.0.1-4 (control bits 4-5) on ports 50001-50004 (bits 2-3) and the
/// server 10.0.0.2:443, so that connection-ID and path attribution, migration inference,
/// Version Negotiation offers and shared paths are reached. Bit 0 picks the direction (set =
/// server to client), bit 1 waits 40 s first (idle timeouts), bit 6 an hour, bit 7 repeats the
/// datagram (a duplicate). Seeded with the datagrams of whole real connections.
pub fn fuzz_quic_paths(data: &[u8]) {
    let mut engine = fuzz_engine();
    let mut ts = Timestamp::from_secs(1_700_000_000);
    let mut rest = data;
    while let Some((&[ctl, hi, lo], tail)) = rest.split_first_chunk::<3>() {
        let len = usize::from(u16::from_be_bytes([hi, lo])).min(tail.len());
        let (payload, tail) = tail.split_at(len);
        rest = tail;
        let wait: u64 = if ctl & 64 != 0 {
            3_600_000
        } else if ctl & 2 != 0 {
            40_000
        } else {
            1
        };
        ts = Timestamp(ts.0.saturating_add(wait * 1_000_000));
        let port = 50_001 + u16::from((ctl >> 2) & 3);
        let client = [10, 0, 0, [1, 3, 4, 5][usize::from((ctl >> 4) & 3)]];
        let frame = udp_frame(ctl & 1 != 0, client, port, payload);
        for _ in 0..=(ctl >> 7) {
            feed(&mut engine, ts, dlt::EN10MB, &frame);
        }
    }
    drain_to_end(&mut engine);
}

/// An engine with small limits, so fuzzing finds logic bugs rather than slow paths.
fn fuzz_engine() -> Engine {
    Engine::new(Config {
        limits: Limits {
            max_flows: 64,
            max_message: 1 << 20,
            ..Limits::default()
        },
        max_queued_records: 1_000,
        ..Config::default()
    })
}

fn feed(engine: &mut Engine, ts: Timestamp, linktype: i32, data: &[u8]) {
    let frame = Frame {
        ts,
        linktype,
        data,
        orig_len: u32::try_from(data.len()).unwrap_or(u32::MAX),
    };
    engine.handle_frame(&frame);
    while engine.poll_record().is_some() {}
}

fn drain_to_end(engine: &mut Engine) {
    engine.finish();
    while engine.poll_record().is_some() {}
    let _ = engine.summary();
}

#[derive(Clone, Copy)]
enum Flags {
    Syn,
    SynAck,
    Ack,
    Fin,
}

const CLIENT: [u8; 4] = [10, 0, 0, 1];
const SERVER: [u8; 4] = [10, 0, 0, 2];

fn tcp_frame(from_server: bool, seq: u32, ack: u32, flags: Flags, payload: &[u8]) -> Vec<u8> {
    let (src, dst, sport, dport) = if from_server {
        (SERVER, CLIENT, 445, 50_000)
    } else {
        (CLIENT, SERVER, 50_000, 445)
    };
    let mut b = PacketBuilder::ethernet2([2; 6], [4; 6])
        .ipv4(src, dst, 64)
        .tcp(sport, dport, seq, 65_535);
    b = match flags {
        Flags::Syn => b.syn(),
        Flags::SynAck => b.syn().ack(ack),
        Flags::Ack => b.ack(ack).psh(),
        Flags::Fin => b.ack(ack).fin(),
    };
    // Payloads are at most 65_535 bytes (a u16 length): an IPv4 packet may then be too long,
    // and is cut to fit.
    let payload = &payload[..payload.len().min(65_000)];
    let mut out = Vec::with_capacity(b.size(payload.len()));
    // Writing to a Vec cannot fail and the payload was cut to fit an IPv4 packet.
    b.write(&mut out, payload)
        .expect("payload fits an IPv4 packet");
    out
}

fn udp_frame(from_server: bool, client: [u8; 4], port: u16, payload: &[u8]) -> Vec<u8> {
    let (src, dst, sport, dport) = if from_server {
        (SERVER, client, 443, port)
    } else {
        (client, SERVER, port, 443)
    };
    let b = PacketBuilder::ethernet2([2; 6], [4; 6])
        .ipv4(src, dst, 64)
        .udp(sport, dport);
    let payload = &payload[..payload.len().min(65_000)];
    let mut out = Vec::with_capacity(b.size(payload.len()));
    // Writing to a Vec cannot fail and the payload was cut to fit an IPv4 packet.
    b.write(&mut out, payload)
        .expect("payload fits an IPv4 packet");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both entry points, once, on the client's first messages of `captures/guest.pcap`'s
    /// kind: an NBSS-framed SMB2 NEGOTIATE request and a frame of each link type.
    #[test]
    fn fuzz_entry_points_run_once() {
        let mut msg = vec![0xFE, b'S', b'M', b'B', 64, 0];
        msg.resize(64, 0);
        msg.extend_from_slice(&[36, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        msg.extend_from_slice(&[0; 24]);
        msg.extend_from_slice(&0x0311u16.to_le_bytes());
        let mut stream = vec![0, 0, 0, msg.len() as u8];
        stream.extend_from_slice(&msg);
        let mut input = vec![0, 0, stream.len() as u8];
        input.extend_from_slice(&stream);
        fuzz_tcp445(&input);

        let frame = tcp_frame(false, 1, 1, Flags::Ack, &stream);
        let mut frames = Vec::new();
        for sel in 0..LINKTYPES.len() as u8 {
            frames.push(sel);
            frames.extend_from_slice(&(frame.len() as u16).to_be_bytes());
            frames.extend_from_slice(&frame);
        }
        fuzz_frames(&frames);
    }
}
