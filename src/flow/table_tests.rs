//! The flow table with a recording handler: orientation, open/close exactly once, control
//! packets, midstream, limits, expiry.

use std::net::{IpAddr, Ipv4Addr};

use super::*;
use crate::flow::framing::tests::msg;

#[derive(Debug, Clone, PartialEq)]
enum Ev {
    Open(FlowKey, bool),
    Msg(u32, Direction, Vec<u8>, bool),
    Ctl(u32, Direction, u8, usize),
    Anom(Option<u32>, AnomalyKind, u64),
    Close(u32, CloseReason, Timestamp),
}

#[derive(Debug, Default)]
struct RecH {
    ev: Vec<Ev>,
    next: u32,
}

impl RecH {
    fn msgs(&self) -> Vec<(Direction, u8)> {
        self.ev
            .iter()
            .filter_map(|e| match e {
                Ev::Msg(_, d, m, _) => Some((*d, *m.last().unwrap())),
                _ => None,
            })
            .collect()
    }
    fn closes(&self) -> Vec<(u32, CloseReason)> {
        self.ev
            .iter()
            .filter_map(|e| match e {
                Ev::Close(c, r, _) => Some((*c, *r)),
                _ => None,
            })
            .collect()
    }
    fn anomalies(&self) -> Vec<AnomalyKind> {
        self.ev
            .iter()
            .filter_map(|e| match e {
                Ev::Anom(_, k, _) => Some(*k),
                _ => None,
            })
            .collect()
    }
}

impl StreamHandler for RecH {
    type Conn = u32;
    fn open(&mut self, key: &FlowKey, _ts: Timestamp, midstream: bool) -> u32 {
        self.ev.push(Ev::Open(*key, midstream));
        self.next += 1;
        self.next - 1
    }
    fn message(
        &mut self,
        c: &mut u32,
        _k: &FlowKey,
        d: Direction,
        _t: Timestamp,
        m: &[u8],
        p: Extent,
    ) {
        self.ev.push(Ev::Msg(
            *c,
            d,
            m.to_vec(),
            matches!(p, Extent::Truncated { .. }),
        ));
    }
    fn nbss_control(
        &mut self,
        c: &mut u32,
        _k: &FlowKey,
        d: Direction,
        _t: Timestamp,
        kind: u8,
        b: &[u8],
    ) {
        self.ev.push(Ev::Ctl(*c, d, kind, b.len()));
    }
    fn anomaly(&mut self, c: Option<&mut u32>, _k: &FlowKey, _t: Timestamp, a: Anomaly) {
        self.ev.push(Ev::Anom(c.map(|c| *c), a.kind, a.bytes));
    }
    fn close(&mut self, c: u32, _k: &FlowKey, ts: Timestamp, r: CloseReason) {
        self.ev.push(Ev::Close(c, r, ts));
    }
}

const CLIENT: [u8; 4] = [192, 168, 0, 10];
const SERVER: [u8; 4] = [192, 168, 0, 1];
const SYN: u8 = 1;
const ACK: u8 = 2;
const FIN: u8 = 4;
const RST: u8 = 8;

fn t(secs: u64) -> Timestamp {
    Timestamp::from_secs(secs)
}

/// A TCP packet; `to_server` picks the direction between CLIENT:cport and SERVER:sport.
fn pkt(to_server: bool, cport: u16, sport: u16, seq: u32, flags: u8, payload: &[u8]) -> Packet<'_> {
    let (c, s) = (
        IpAddr::V4(Ipv4Addr::from(CLIENT)),
        IpAddr::V4(Ipv4Addr::from(SERVER)),
    );
    let (src, dst, sp, dp) = if to_server {
        (c, s, cport, sport)
    } else {
        (s, c, sport, cport)
    };
    Packet {
        src,
        dst,
        transport: Transport::Tcp(TcpSeg {
            src_port: sp,
            dst_port: dp,
            seq,
            ack: 0,
            syn: flags & SYN != 0,
            ack_flag: flags & ACK != 0,
            fin: flags & FIN != 0,
            rst: flags & RST != 0,
            payload,
        }),
        truncated: false,
    }
}

fn table() -> TcpTable<RecH> {
    TcpTable::new(RecH::default(), Limits::default(), SmbPorts::default())
}

/// Handshake, one request and one response, FIN both ways.
fn conversation(tb: &mut TcpTable<RecH>, cport: u16, start: u64) {
    let req = msg(0xfe, 100, 1);
    let resp = msg(0xfe, 200, 2);
    let (ci, si) = (1000u32, 5000u32);
    tb.handle_packet(t(start), &pkt(true, cport, 445, ci, SYN, &[]));
    tb.handle_packet(t(start), &pkt(false, cport, 445, si, SYN | ACK, &[]));
    tb.handle_packet(t(start), &pkt(true, cport, 445, ci + 1, ACK, &[]));
    tb.handle_packet(t(start + 1), &pkt(true, cport, 445, ci + 1, ACK, &req));
    tb.handle_packet(
        t(start + 1),
        &pkt(false, cport, 445, si + 1, ACK, &resp[..150]),
    );
    tb.handle_packet(
        t(start + 1),
        &pkt(false, cport, 445, si + 151, ACK, &resp[150..]),
    );
    tb.handle_packet(
        t(start + 2),
        &pkt(true, cport, 445, ci + 105, FIN | ACK, &[]),
    );
    tb.handle_packet(
        t(start + 2),
        &pkt(false, cport, 445, si + 205, FIN | ACK, &[]),
    );
    tb.handle_packet(t(start + 2), &pkt(true, cport, 445, ci + 106, ACK, &[]));
}

#[test]
fn full_conversation_closes_once_with_fin() {
    let mut tb = table();
    conversation(&mut tb, 50000, 10);
    let h = tb.handler();
    assert!(
        matches!(h.ev[0], Ev::Open(k, false) if k.server.port() == 445 && k.client.port() == 50000)
    );
    assert_eq!(
        h.msgs(),
        [(Direction::ToServer, 1), (Direction::ToClient, 2)]
    );
    assert_eq!(h.closes(), [(0, CloseReason::Fin)]);
    assert!(h.anomalies().is_empty());
    assert_eq!(tb.flow_count(), 0);
    tb.finish(t(100));
    assert_eq!(tb.handler().closes().len(), 1, "closed exactly once");
    let st = tb.stats();
    assert_eq!(
        (st.flows_opened, st.flows_closed, st.messages, st.peak_flows),
        (1, 1, 2, 1)
    );
}

#[test]
fn rst_closes_and_late_packets_do_not_reopen() {
    let mut tb = table();
    let req = msg(0xfe, 100, 1);
    tb.handle_packet(t(1), &pkt(true, 40000, 445, 1, SYN, &[]));
    tb.handle_packet(t(1), &pkt(true, 40000, 445, 2, ACK, &req));
    tb.handle_packet(t(2), &pkt(false, 40000, 445, 9, RST, &[]));
    tb.handle_packet(t(2), &pkt(true, 40000, 445, 106, ACK, &[]));
    tb.handle_packet(t(2), &pkt(false, 40000, 445, 9, RST | ACK, &[]));
    tb.finish(t(3));
    assert_eq!(tb.handler().closes(), [(0, CloseReason::Rst)]);
    assert_eq!(tb.stats().flows_opened, 1);
}

/// suricata-verify/smb-filename__input.pcap frame 91: the server's Echo response arrives after
/// the client's RST. It must not open a one-message mid-stream flow; after the linger time a
/// new flow on the same ports may.
#[test]
fn late_data_after_rst_is_dropped_for_a_while() {
    let mut tb = table();
    let req = msg(0xfe, 100, 1);
    let late = msg(0xfe, 80, 2);
    tb.handle_packet(t(1), &pkt(true, 40001, 445, 1, SYN, &[]));
    tb.handle_packet(t(1), &pkt(true, 40001, 445, 2, ACK, &req));
    tb.handle_packet(t(2), &pkt(true, 40001, 445, 106, RST | ACK, &[]));
    tb.handle_packet(t(2), &pkt(false, 40001, 445, 9, ACK, &late));
    assert_eq!(tb.stats().flows_opened, 1);
    assert_eq!(tb.stats().late_segments, 1);
    tb.handle_packet(t(20), &pkt(false, 40001, 445, 500, ACK, &late));
    assert_eq!(
        tb.stats().flows_opened,
        2,
        "after the linger a new flow opens"
    );
    tb.finish(t(21));
}

#[test]
fn netbios_session_request_on_port_139() {
    let mut tb = table();
    let mut req = vec![0x81, 0, 0, 68];
    req.extend_from_slice(&[0x20; 68]);
    tb.handle_packet(t(1), &pkt(true, 1025, 139, 10, SYN, &[]));
    tb.handle_packet(t(1), &pkt(true, 1025, 139, 11, ACK, &req));
    tb.handle_packet(t(1), &pkt(false, 1025, 139, 70, ACK, &[0x82, 0, 0, 0]));
    tb.handle_packet(t(1), &pkt(true, 1025, 139, 83, ACK, &msg(0xff, 40, 7)));
    tb.finish(t(2));
    let h = tb.handler();
    let ctl: Vec<_> =
        h.ev.iter()
            .filter(|e| matches!(e, Ev::Ctl(..)))
            .cloned()
            .collect();
    assert_eq!(
        ctl,
        [
            Ev::Ctl(0, Direction::ToServer, 0x81, 68),
            Ev::Ctl(0, Direction::ToClient, 0x82, 0)
        ]
    );
    assert_eq!(h.msgs(), [(Direction::ToServer, 7)]);
    assert_eq!(h.closes(), [(0, CloseReason::EndOfInput)]);
    assert_eq!(tb.stats().control_packets, 2);
}

#[test]
fn midstream_start_inside_a_message_resyncs() {
    let mut tb = table();
    let mut s = msg(0xfe, 300, 1);
    s.extend_from_slice(&msg(0xfe, 64, 2));
    // Capture starts 100 bytes into message 1, server to client.
    tb.handle_packet(t(1), &pkt(false, 50001, 445, 7000, ACK, &s[100..]));
    tb.finish(t(2));
    let h = tb.handler();
    assert!(matches!(h.ev[0], Ev::Open(_, true)));
    assert_eq!(h.msgs(), [(Direction::ToClient, 2)]);
    assert!(h.ev.contains(&Ev::Anom(Some(0), AnomalyKind::ResyncSkipped, 204)));
}

#[test]
fn oversized_message_through_the_table() {
    let lim = Limits {
        max_message: 1000,
        ..Limits::default()
    };
    let mut tb = TcpTable::new(RecH::default(), lim, SmbPorts::default());
    let mut s = msg(0xfe, 5000, 1);
    s.extend_from_slice(&msg(0xfe, 64, 2));
    tb.handle_packet(t(1), &pkt(true, 3000, 445, 0, SYN, &[]));
    for (i, c) in s.chunks(1448).enumerate() {
        tb.handle_packet(t(1), &pkt(true, 3000, 445, 1 + (i * 1448) as u32, ACK, c));
    }
    let h = tb.handler();
    let partial: Vec<_> =
        h.ev.iter()
            .filter_map(|e| {
                if let Ev::Msg(_, _, m, p) = e {
                    Some((m.len(), *p))
                } else {
                    None
                }
            })
            .collect();
    assert_eq!(partial, [(1000, true), (64, false)]);
    assert_eq!(h.anomalies(), [AnomalyKind::MessageTooLarge]);
    assert_eq!(tb.stats().partial_messages, 1);
}

#[test]
fn idle_flows_expire_by_capture_time() {
    let lim = Limits {
        idle_timeout_secs: 60,
        ..Limits::default()
    };
    let mut tb = TcpTable::new(RecH::default(), lim, SmbPorts::default());
    tb.handle_packet(t(100), &pkt(true, 1111, 445, 0, SYN, &[]));
    tb.handle_packet(t(130), &pkt(true, 2222, 445, 0, SYN, &[]));
    // Another flow's packets move capture time on; the scan runs every idle/10 = 6 s.
    tb.handle_packet(t(150), &pkt(true, 3333, 445, 0, SYN, &[]));
    assert!(tb.handler().closes().is_empty());
    tb.handle_packet(t(165), &pkt(true, 3333, 445, 1, ACK, &msg(0xfe, 64, 1)));
    assert_eq!(tb.handler().closes(), [(0, CloseReason::Idle)]);
    assert!(
        tb.handler()
            .ev
            .contains(&Ev::Close(0, CloseReason::Idle, t(160)))
    );
    tb.expire(t(191));
    assert_eq!(
        tb.handler().closes(),
        [(0, CloseReason::Idle), (1, CloseReason::Idle)]
    );
    tb.finish(t(200));
    assert_eq!(tb.handler().closes().len(), 3);
    assert_eq!(tb.flow_count(), 0);
}

#[test]
fn flow_table_full_reports_without_state() {
    let lim = Limits {
        max_flows: 2,
        ..Limits::default()
    };
    let mut tb = TcpTable::new(RecH::default(), lim, SmbPorts::default());
    for port in [1, 2, 3] {
        tb.handle_packet(t(1), &pkt(true, port, 445, 0, SYN, &[]));
    }
    let h = tb.handler();
    assert_eq!(h.ev.iter().filter(|e| matches!(e, Ev::Open(..))).count(), 2);
    assert!(h.ev.contains(&Ev::Anom(None, AnomalyKind::FlowTableFull, 0)));
    assert_eq!(tb.stats().anomaly_count(AnomalyKind::FlowTableFull), 1);
}

#[test]
fn non_smb_and_non_tcp_are_ignored() {
    let mut tb = table();
    tb.handle_packet(t(1), &pkt(true, 5000, 80, 0, SYN, &[]));
    let udp = Packet {
        src: IpAddr::V4(Ipv4Addr::from(CLIENT)),
        dst: IpAddr::V4(Ipv4Addr::from(SERVER)),
        transport: Transport::Udp {
            src_port: 5000,
            dst_port: 445,
            payload: b"x",
        },
        truncated: false,
    };
    tb.handle_packet(t(1), &udp);
    // A pure ACK of an unknown flow does not create one.
    tb.handle_packet(t(1), &pkt(true, 5000, 445, 0, ACK, &[]));
    assert!(tb.handler().ev.is_empty());
    assert_eq!(tb.stats().flows_opened, 0);
    // User-added port.
    let mut tb = TcpTable::new(
        RecH::default(),
        Limits::default(),
        SmbPorts::default().with(8445),
    );
    tb.handle_packet(t(1), &pkt(true, 5000, 8445, 0, SYN, &[]));
    assert_eq!(tb.stats().flows_opened, 1);
}

#[test]
fn port_reuse_evicts_the_old_flow() {
    let mut tb = table();
    tb.handle_packet(t(1), &pkt(true, 6000, 445, 100, SYN, &[]));
    tb.handle_packet(t(1), &pkt(true, 6000, 445, 100, SYN, &[])); // retransmitted SYN
    tb.handle_packet(t(2), &pkt(true, 6000, 445, 90_000, SYN, &[]));
    tb.finish(t(3));
    assert_eq!(
        tb.handler().closes(),
        [(0, CloseReason::Evicted), (1, CloseReason::EndOfInput)]
    );
}

#[test]
fn both_ports_smb_server_is_the_syn_receiver() {
    let mut tb = table();
    // 445 -> 139 SYN: the receiver (139) is the server.
    tb.handle_packet(t(1), &pkt(true, 445, 139, 1, SYN, &[]));
    tb.handle_packet(t(1), &pkt(false, 445, 139, 1, SYN | ACK, &[]));
    tb.finish(t(2));
    let h = tb.handler();
    assert!(matches!(h.ev[0], Ev::Open(k, false) if k.server.port() == 139));
    assert_eq!(h.ev.iter().filter(|e| matches!(e, Ev::Open(..))).count(), 1);
}

#[test]
fn out_of_order_and_gap_through_the_table() {
    let lim = Limits {
        max_ooo_segments: 2,
        ..Limits::default()
    };
    let mut tb = TcpTable::new(RecH::default(), lim, SmbPorts::default());
    let mut s = Vec::new();
    for i in 1..=4u8 {
        s.extend_from_slice(&msg(0xfe, 96, i));
    }
    tb.handle_packet(t(1), &pkt(true, 7000, 445, 0, SYN, &[]));
    tb.handle_packet(t(1), &pkt(true, 7000, 445, 201, ACK, &s[200..300]));
    tb.handle_packet(t(1), &pkt(true, 7000, 445, 101, ACK, &s[100..200]));
    tb.handle_packet(t(1), &pkt(true, 7000, 445, 1, ACK, &s[..100]));
    // Message 4 buffered, then FIN with a hole never filled: gap at close.
    tb.handle_packet(t(2), &pkt(true, 7000, 445, 401, ACK, &msg(0xfe, 96, 5)));
    tb.handle_packet(t(2), &pkt(true, 7000, 445, 501, FIN | ACK, &[]));
    tb.handle_packet(t(2), &pkt(false, 7000, 445, 50, FIN | ACK, &[]));
    let h = tb.handler();
    assert_eq!(
        h.msgs().iter().map(|m| m.1).collect::<Vec<_>>(),
        [1, 2, 3, 5]
    );
    assert!(h.ev.contains(&Ev::Anom(Some(0), AnomalyKind::Gap, 100)));
    assert_eq!(h.closes(), [(0, CloseReason::Fin)]);
}

#[test]
fn idle_flow_state_is_small() {
    let size = std::mem::size_of::<TcpFlowState>() + std::mem::size_of::<FlowKey>();
    assert!(size < 512, "{size} bytes per idle flow");
}

use crate::test_rng::Rng;

#[test]
fn random_segments_never_panic_and_close_once() {
    let lim = Limits {
        max_flows: 8,
        idle_timeout_secs: 5,
        max_ooo_bytes: 4096,
        max_ooo_segments: 4,
        max_message: 300,
    };
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut tb = TcpTable::new(RecH::default(), lim, SmbPorts::default());
    // A plausible stream per direction to cut segments from, plus garbage.
    let mut stream = Vec::new();
    for i in 0..200u32 {
        match i % 5 {
            0 => stream.extend_from_slice(&[0x85, 0, 0, 0]),
            1 => stream.extend_from_slice(&msg(0xfe, 64 + (i as usize * 7) % 900, i as u8)),
            2 => stream.extend_from_slice(&msg(0xff, 35, 1)),
            3 => stream.extend_from_slice(&[i as u8; 13]),
            _ => stream.extend_from_slice(&msg(0xfd, 52 + i as usize, 2)),
        }
    }
    let mut seqs = [[0u32; 2]; 12];
    for n in 0..20_000u64 {
        let port = 1000 + rng.below(12) as u16;
        let to_server = rng.below(2) == 0;
        let next = &mut seqs[usize::from(port - 1000)][usize::from(to_server)];
        let jitter = rng.below(3000) as u32;
        let seq = match rng.below(4) {
            0 => next.wrapping_sub(jitter),
            1 => next.wrapping_add(jitter),
            _ => *next,
        };
        let start = (seq as usize) % stream.len();
        let len = (rng.below(1500) as usize).min(stream.len() - start);
        let flags = match rng.below(50) {
            0 => SYN,
            1 => FIN | ACK,
            2 => RST,
            3 => SYN | ACK,
            _ => ACK,
        };
        if seq == *next {
            *next = next.wrapping_add(len as u32);
        }
        let p = pkt(
            to_server,
            port,
            445,
            seq,
            flags,
            &stream[start..start + len],
        );
        tb.handle_packet(t(n / 500), &p);
    }
    tb.finish(t(1000));
    let st = tb.stats();
    assert_eq!(st.flows_opened, st.flows_closed);
    let h = tb.handler();
    let opens = h.ev.iter().filter(|e| matches!(e, Ev::Open(..))).count();
    let mut closed: Vec<u32> = h.closes().iter().map(|c| c.0).collect();
    closed.sort_unstable();
    assert_eq!(
        closed,
        (0..opens as u32).collect::<Vec<_>>(),
        "each flow closed exactly once"
    );
    assert!(h.ev.iter().all(|e| match e {
        Ev::Msg(_, _, m, p) => m.len() <= 300 && (*p || m[1..4] == *b"SMB"),
        _ => true,
    }));
    assert!(st.messages > 0);
}
