//! TCP reassembly and NBSS framing throughput of [`TcpTable`], on synthetic segments built with
//! etherparse: one client-to-server SMB2 stream of 512 KiB cut into 1460-byte segments, with
//! small (100-byte) or large (64 KiB, spread over 45 segments) messages, delivered in order,
//! with each pair of segments swapped, or with every fourth segment sent twice.
//!
//! Frames are decoded before timing, so only the flow table, reassembly and framing are timed.
//! Throughput is the stream's bytes (NBSS headers included, retransmitted copies not counted).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use etherparse::PacketBuilder;
use smbscope::flow::{
    Anomaly, CloseReason, Direction, Extent, FlowKey, Limits, Packet, SmbPorts, StreamHandler,
    TcpTable, decode, dlt,
};
use smbscope::wire::Timestamp;

const CLIENT: [u8; 4] = [10, 0, 0, 1];
const SERVER: [u8; 4] = [10, 0, 0, 2];
const CLIENT_PORT: u16 = 50_000;
const MSS: usize = 1460;
const STREAM_BYTES: usize = 512 * 1024;
/// Initial sequence numbers; the client's is chosen so the stream wraps past 2^32.
const CLIENT_ISN: u32 = u32::MAX - 100_000;
const SERVER_ISN: u32 = 7;

/// Counts what the table delivers.
#[derive(Default, Debug, PartialEq, Eq)]
struct Count {
    messages: u64,
    bytes: u64,
    partial: u64,
    anomalies: u64,
    closed: u64,
}

impl StreamHandler for Count {
    type Conn = ();
    fn open(&mut self, _: &FlowKey, _: Timestamp, _: bool) {}
    fn message(
        &mut self,
        _: &mut (),
        _: &FlowKey,
        _: Direction,
        _: Timestamp,
        msg: &[u8],
        extent: Extent,
    ) {
        self.messages += 1;
        self.bytes += msg.len() as u64;
        self.partial += u64::from(extent != Extent::Whole);
    }
    fn nbss_control(
        &mut self,
        _: &mut (),
        _: &FlowKey,
        _: Direction,
        _: Timestamp,
        _: u8,
        _: &[u8],
    ) {
    }
    fn anomaly(&mut self, _: Option<&mut ()>, _: &FlowKey, _: Timestamp, _: Anomaly) {
        self.anomalies += 1;
    }
    fn close(&mut self, _: (), _: &FlowKey, _: Timestamp, _: CloseReason) {
        self.closed += 1;
    }
}

/// An NBSS-framed SMB2 WRITE-like message of `len` bytes after the 4-byte NBSS header.
fn smb2_message(len: usize, n: u64) -> Vec<u8> {
    assert!(len >= 64);
    let mut m = Vec::with_capacity(4 + len);
    m.extend_from_slice(&(len as u32).to_be_bytes());
    m.extend_from_slice(b"\xfeSMB");
    m.extend_from_slice(&64u16.to_le_bytes());
    m.resize(4 + 12, 0);
    m.extend_from_slice(&9u16.to_le_bytes()); // WRITE
    m.resize(4 + 24, 0);
    m.extend_from_slice(&n.to_le_bytes()); // MessageId
    m.resize(4 + 64, 0);
    m.extend((0..len - 64).map(|i| (i * 7 + n as usize) as u8));
    m
}

/// Messages of `len` bytes until the stream holds at least [`STREAM_BYTES`]; returns the stream
/// and the number of messages.
fn stream(len: usize) -> (Vec<u8>, u64) {
    let mut s = Vec::with_capacity(STREAM_BYTES + len + 4);
    let mut n = 0;
    while s.len() < STREAM_BYTES {
        s.extend_from_slice(&smb2_message(len, n));
        n += 1;
    }
    (s, n)
}

#[derive(Clone, Copy)]
enum Delivery {
    InOrder,
    /// Segments 1,0,3,2,5,4,...
    SwapPairs,
    /// Every fourth segment is sent a second time right after the first copy.
    Retransmit,
}

/// Ethernet frames: the handshake, then `data` from the client in MSS segments in `order`.
fn frames(data: &[u8], order: Delivery) -> Vec<Vec<u8>> {
    let tcp = |from_client: bool| {
        if from_client {
            PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
                .ipv4(CLIENT, SERVER, 64)
        } else {
            PacketBuilder::ethernet2([2, 0, 0, 0, 0, 2], [2, 0, 0, 0, 0, 1])
                .ipv4(SERVER, CLIENT, 64)
        }
    };
    let mut out = Vec::new();
    let mut push = |b: etherparse::PacketBuilderStep<etherparse::TcpHeader>, payload: &[u8]| {
        let mut v = Vec::with_capacity(b.size(payload.len()));
        b.write(&mut v, payload).expect("build frame");
        out.push(v);
    };
    push(
        tcp(true).tcp(CLIENT_PORT, 445, CLIENT_ISN, 65535).syn(),
        &[],
    );
    push(
        tcp(false)
            .tcp(445, CLIENT_PORT, SERVER_ISN, 65535)
            .syn()
            .ack(CLIENT_ISN.wrapping_add(1)),
        &[],
    );
    let chunks: Vec<(usize, &[u8])> = data
        .chunks(MSS)
        .enumerate()
        .map(|(i, c)| (i * MSS, c))
        .collect();
    let mut sequence: Vec<(usize, &[u8])> = Vec::with_capacity(chunks.len() * 2);
    match order {
        Delivery::InOrder => sequence.extend_from_slice(&chunks),
        Delivery::SwapPairs => {
            for pair in chunks.chunks(2) {
                sequence.extend(pair.iter().rev());
            }
        }
        Delivery::Retransmit => {
            for (i, c) in chunks.iter().enumerate() {
                sequence.push(*c);
                if i % 4 == 3 {
                    sequence.push(*c);
                }
            }
        }
    }
    for (off, payload) in sequence {
        let seq = CLIENT_ISN.wrapping_add(1).wrapping_add(off as u32);
        push(
            tcp(true)
                .tcp(CLIENT_PORT, 445, seq, 65535)
                .ack(SERVER_ISN.wrapping_add(1))
                .psh(),
            payload,
        );
    }
    out
}

/// Runs the whole stream through a fresh table.
fn run(packets: &[Packet<'_>]) -> Count {
    let mut table = TcpTable::new(Count::default(), Limits::default(), SmbPorts::default());
    let mut ts = Timestamp(1_000_000_000);
    for p in packets {
        ts = Timestamp(ts.0 + 1_000);
        table.handle_packet(ts, p);
    }
    table.finish(ts);
    table.into_handler()
}

fn reassembly(c: &mut Criterion) {
    let mut g = c.benchmark_group("reassembly");
    for (size_name, len) in [("100B", 100usize), ("64KiB", 64 * 1024)] {
        let (data, n) = stream(len);
        g.throughput(Throughput::Bytes(data.len() as u64));
        for (order_name, order) in [
            ("in_order", Delivery::InOrder),
            ("swap_pairs", Delivery::SwapPairs),
            ("retransmit_1_in_4", Delivery::Retransmit),
        ] {
            let raw = frames(&data, order);
            let packets: Vec<Packet<'_>> = raw
                .iter()
                .map(|f| decode(dlt::EN10MB, f).expect("etherparse frame decodes"))
                .collect();
            // Every message comes out whole, nothing is reported, the flow is closed once.
            let expect = Count {
                messages: n,
                bytes: n * len as u64,
                partial: 0,
                anomalies: 0,
                closed: 1,
            };
            assert_eq!(run(&packets), expect, "{size_name}/{order_name}");
            g.bench_function(format!("{size_name}_messages/{order_name}"), |b| {
                b.iter(|| run(black_box(&packets)))
            });
        }
    }
    g.finish();
}

criterion_group!(benches, reassembly);
criterion_main!(benches);
