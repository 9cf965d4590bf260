//! Reassembly of one direction: order, retransmission, overlap, gaps, limits, wraparound.

use super::*;
use crate::flow::framing::tests::{Rec, msg};

fn limits() -> Limits {
    Limits::default()
}

fn seg(seq: u32, payload: &[u8]) -> SegmentIn<'_> {
    SegmentIn {
        seq,
        syn: false,
        fin: false,
        payload,
        truncated: false,
    }
}

fn syn(seq: u32) -> SegmentIn<'static> {
    SegmentIn {
        seq,
        syn: true,
        fin: false,
        payload: &[],
        truncated: false,
    }
}

/// Three messages of different sizes, each body tagged by its fill byte.
fn stream() -> Vec<u8> {
    let mut s = msg(0xfe, 300, 1);
    s.extend_from_slice(&msg(0xfe, 500, 2));
    s.extend_from_slice(&msg(0xfe, 64, 3));
    s
}

fn tags(rec: &Rec) -> Vec<u8> {
    rec.msgs.iter().map(|m| *m.0.last().unwrap()).collect()
}

/// Splits `data` (starting at `isn + 1`) into segments at the given offsets.
fn segments(isn: u32, data: &[u8], cuts: &[usize]) -> Vec<(u32, Vec<u8>)> {
    let mut bounds = vec![0];
    bounds.extend_from_slice(cuts);
    bounds.push(data.len());
    bounds
        .windows(2)
        .map(|w| {
            (
                isn.wrapping_add(1).wrapping_add(w[0] as u32),
                data[w[0]..w[1]].to_vec(),
            )
        })
        .collect()
}

fn run(isn: u32, order: &[usize], segs: &[(u32, Vec<u8>)], lim: &Limits) -> (HalfStream, Rec) {
    let mut h = HalfStream::default();
    let mut rec = Rec::default();
    h.segment(&syn(isn), lim, &mut rec);
    for &i in order {
        h.segment(&seg(segs[i].0, &segs[i].1), lim, &mut rec);
    }
    (h, rec)
}

#[test]
fn in_order_and_split_across_three_segments() {
    let s = stream();
    let segs = segments(1000, &s, &[100, 250]); // first message split in three
    let (_, rec) = run(1000, &[0, 1, 2], &segs, &limits());
    assert_eq!(tags(&rec), [1, 2, 3]);
    assert!(rec.anomalies.is_empty());
}

#[test]
fn out_of_order_every_permutation() {
    let s = stream();
    let segs = segments(5, &s, &[200, 400, 700]);
    let perms = [
        [0, 1, 2, 3],
        [3, 2, 1, 0],
        [1, 0, 3, 2],
        [2, 0, 3, 1],
        [1, 2, 3, 0],
    ];
    for p in perms {
        let (h, rec) = run(5, &p, &segs, &limits());
        assert_eq!(tags(&rec), [1, 2, 3], "order {p:?}");
        assert!(rec.anomalies.is_empty());
        assert_eq!(h.ooo_bytes(), 0);
    }
}

#[test]
fn retransmissions_are_dropped() {
    let s = stream();
    let segs = segments(5, &s, &[200, 400, 700]);
    let (_, rec) = run(5, &[0, 0, 1, 0, 2, 1, 2, 3, 3, 1], &segs, &limits());
    assert_eq!(tags(&rec), [1, 2, 3]);
    assert!(rec.anomalies.is_empty());
    // A retransmission that also carries new bytes is trimmed.
    let mut h = HalfStream::default();
    let mut rec = Rec::default();
    h.segment(&syn(5), &limits(), &mut rec);
    h.segment(&seg(6, &s[..150]), &limits(), &mut rec);
    h.segment(&seg(6, &s[..400]), &limits(), &mut rec);
    h.segment(&seg(6 + 100, &s[100..]), &limits(), &mut rec);
    assert_eq!(tags(&rec), [1, 2, 3]);
}

#[test]
fn conflicting_overlap_keeps_the_first_copy() {
    let s = stream();
    let segs = segments(5, &s, &[200, 400, 700]);
    let mut h = HalfStream::default();
    let mut rec = Rec::default();
    h.segment(&syn(5), &limits(), &mut rec);
    // Segment 2 buffered, then a conflicting copy overlapping it partly.
    h.segment(&seg(segs[2].0, &segs[2].1), &limits(), &mut rec);
    let mut evil = s[350..450].to_vec();
    evil.iter_mut().for_each(|b| *b = 0xee);
    h.segment(&seg(6 + 350, &evil), &limits(), &mut rec);
    h.segment(&seg(6 + 350, &evil), &limits(), &mut rec); // reported once only
    // In-order data that runs into buffered bytes and disagrees: buffered copy wins too.
    let mut seg0 = s[..450].to_vec();
    seg0[420] ^= 0xff;
    h.segment(&seg(6, &seg0), &limits(), &mut rec);
    h.segment(&seg(segs[3].0, &segs[3].1), &limits(), &mut rec);
    assert_eq!(rec.kinds(), [AnomalyKind::Overlap]);
    assert_eq!(rec.anomalies[0].1, 50); // 400..450 overlapped the buffered copy
    assert_eq!(tags(&rec), [1, 2, 3]);
    // Message 2's body starts at stream offset 308: the evil copy came first for 350..400 (it
    // filled a hole), the buffered segment came first for 400..450.
    let body = &rec.msgs[1].0;
    assert!(body[350 - 308..400 - 308].iter().all(|&b| b == 0xee));
    assert!(body[400 - 308..].iter().all(|&b| b == 2), "first copy kept");
}

#[test]
fn sequence_wraparound() {
    let s = stream();
    for isn in [u32::MAX - 10, u32::MAX - 300, u32::MAX, u32::MAX - 1000] {
        let segs = segments(isn, &s, &[200, 400, 700]);
        let (_, rec) = run(isn, &[1, 0, 3, 2, 2], &segs, &limits());
        assert_eq!(tags(&rec), [1, 2, 3], "isn {isn}");
        assert!(rec.anomalies.is_empty());
    }
}

#[test]
fn out_of_order_limit_makes_a_gap_and_resyncs() {
    let lim = Limits {
        max_ooo_segments: 2,
        ..limits()
    };
    let mut s = Vec::new();
    for i in 1..=8u8 {
        s.extend_from_slice(&msg(0xfe, 96, i)); // 100 bytes each
    }
    let cuts: Vec<usize> = (1..8).map(|i| i * 100).collect();
    let segs = segments(0, &s, &cuts);
    // Segment 0 is lost; 1.. arrive. At the third buffered segment the limit is hit.
    let (h, rec) = run(0, &[1, 2, 3, 4, 5, 6, 7], &segs, &lim);
    assert_eq!(rec.anomalies[0].0, AnomalyKind::OutOfOrderLimit);
    assert_eq!(rec.anomalies[1], (AnomalyKind::Gap, 100));
    assert_eq!(tags(&rec), [2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(h.ooo_bytes(), 0);
    // Byte limit too.
    let lim = Limits {
        max_ooo_bytes: 250,
        ..limits()
    };
    let (_, rec) = run(0, &[1, 2, 3, 4, 0, 5, 6, 7], &segs, &lim);
    assert_eq!(
        rec.kinds()[..2],
        [AnomalyKind::OutOfOrderLimit, AnomalyKind::Gap]
    );
    assert_eq!(tags(&rec), [2, 3, 4, 5, 6, 7, 8]);
}

#[test]
fn hole_at_the_end_is_a_gap_then_buffered_data_is_framed() {
    let mut s = msg(0xfe, 96, 1);
    s.extend_from_slice(&msg(0xfe, 96, 2));
    s.extend_from_slice(&msg(0xfe, 96, 3));
    let segs = segments(0, &s, &[100, 200]);
    let (mut h, mut rec) = run(0, &[0, 2], &segs, &limits());
    assert_eq!(tags(&rec), [1]);
    h.finish(&limits(), &mut rec);
    assert_eq!(rec.anomalies, [(AnomalyKind::Gap, 100)]);
    assert_eq!(tags(&rec), [1, 3]);
}

#[test]
fn gap_inside_a_message_keeps_sync() {
    let mut s = msg(0xfe, 996, 1);
    s.extend_from_slice(&msg(0xfe, 96, 2));
    let lim = Limits {
        max_ooo_segments: 1,
        ..limits()
    };
    // Segment 1 is lost inside message 1; segment 2 is buffered, the next one hits the limit.
    let tail = segments(0, &s, &[300, 600, 1000, 1050]);
    let (_, rec) = run(0, &[0, 2, 3, 4], &tail, &lim);
    assert_eq!(
        rec.kinds(),
        [AnomalyKind::OutOfOrderLimit, AnomalyKind::Gap]
    );
    assert_eq!(
        tags(&rec),
        [2],
        "message 1 lost, message 2 intact without resync"
    );
}

#[test]
fn midstream_first_segment_inside_a_message() {
    let s = stream();
    let mut h = HalfStream::default();
    let mut rec = Rec::default();
    h.segment(&seg(7777, &s[123..200]), &limits(), &mut rec);
    assert!(h.is_resyncing());
    h.segment(&seg(7777 + 77, &s[200..]), &limits(), &mut rec);
    assert_eq!(tags(&rec), [2, 3]);
    assert_eq!(rec.anomalies, [(AnomalyKind::ResyncSkipped, 304 - 123)]);
}

#[test]
fn snaplen_truncated_segment_gap_is_immediate() {
    let s = stream();
    let mut h = HalfStream::default();
    let mut rec = Rec::default();
    h.segment(&syn(0), &limits(), &mut rec);
    let cut = SegmentIn {
        seq: 1,
        syn: false,
        fin: false,
        payload: &s[..96],
        truncated: true,
    };
    h.segment(&cut, &limits(), &mut rec);
    // The real segment was 304 bytes; the next one starts message 2.
    h.segment(&seg(1 + 304, &s[304..]), &limits(), &mut rec);
    assert_eq!(rec.anomalies, [(AnomalyKind::Gap, 208)]);
    assert_eq!(tags(&rec), [2, 3]);
    assert_eq!(h.ooo_bytes(), 0);
}

#[test]
fn fin_tracks_lost_tail() {
    let s = stream();
    let mut h = HalfStream::default();
    let mut rec = Rec::default();
    h.segment(&syn(0), &limits(), &mut rec);
    h.segment(&seg(1, &s[..304]), &limits(), &mut rec);
    let fin = SegmentIn {
        seq: 1 + 1000,
        syn: false,
        fin: true,
        payload: &[],
        truncated: false,
    };
    h.segment(&fin, &limits(), &mut rec);
    assert!(h.fin_seen());
    h.finish(&limits(), &mut rec);
    assert_eq!(rec.anomalies, [(AnomalyKind::Gap, 696)]);
    assert_eq!(tags(&rec), [1]);
}
