//! NBSS framing: any chunking gives the same messages; garbage, gaps and oversized messages
//! are reported and recovered from.

use super::*;

/// Records framing events (shared with the reassembly tests).
#[derive(Debug, Default)]
pub(crate) struct Rec {
    /// Each message, and whether it was cut at `max_message`.
    pub msgs: Vec<(Vec<u8>, bool)>,
    pub extents: Vec<Extent>,
    /// The answer to [`Events::wanted`] (None: the default, all of it), and the heads asked
    /// about with their lengths.
    pub keep: Option<u32>,
    pub asked: Vec<(Vec<u8>, u32)>,
    pub controls: Vec<(u8, Vec<u8>)>,
    pub anomalies: Vec<(AnomalyKind, u64)>,
}

impl Rec {
    pub fn kinds(&self) -> Vec<AnomalyKind> {
        self.anomalies.iter().map(|a| a.0).collect()
    }
}

impl Events for Rec {
    fn message(&mut self, msg: &[u8], extent: Extent) {
        self.msgs
            .push((msg.to_vec(), matches!(extent, Extent::Truncated { .. })));
        self.extents.push(extent);
    }
    fn wanted(&mut self, head: &[u8], len: u32) -> u32 {
        self.asked.push((head.to_vec(), len));
        self.keep.unwrap_or(len)
    }
    fn control(&mut self, kind: u8, body: &[u8]) {
        self.controls.push((kind, body.to_vec()));
    }
    fn anomaly(&mut self, kind: AnomalyKind, _detail: &'static str, bytes: u64) {
        self.anomalies.push((kind, bytes));
    }
}

/// An NBSS session message whose body is `id 'S' 'M' 'B'` then `fill` up to `body_len`.
pub(crate) fn msg(id: u8, body_len: usize, fill: u8) -> Vec<u8> {
    let mut v = vec![0];
    v.extend_from_slice(&(body_len as u32).to_be_bytes()[1..]);
    v.extend_from_slice(&[id, b'S', b'M', b'B']);
    v.resize(4 + body_len, fill);
    v
}

const CAP: usize = 16 << 20;

fn feed_chunks(chunks: &[&[u8]], cap: usize) -> Rec {
    let mut f = Framer::default();
    let mut rec = Rec::default();
    for c in chunks {
        f.feed(c, cap, &mut rec);
    }
    f.finish(&mut rec);
    rec
}

fn stream() -> Vec<u8> {
    let mut s = msg(0xfe, 64, 1);
    s.extend_from_slice(&[0x85, 0, 0, 0]); // keepalive
    s.extend_from_slice(&msg(0xff, 40, 2));
    s.extend_from_slice(&msg(0xfd, 100, 3));
    s.extend_from_slice(&msg(0xfc, 16, 4));
    s
}

fn check_stream(rec: &Rec) {
    assert!(rec.anomalies.is_empty(), "{:?}", rec.anomalies);
    let lens: Vec<usize> = rec.msgs.iter().map(|m| m.0.len()).collect();
    assert_eq!(lens, [64, 40, 100, 16]);
    assert!(rec.msgs.iter().all(|m| m.0[1..4] == *b"SMB" && !m.1));
    assert_eq!(rec.controls, [(0x85, vec![])]);
}

#[test]
fn several_messages_in_one_segment() {
    check_stream(&feed_chunks(&[&stream()], CAP));
}

#[test]
fn any_split_into_three_gives_the_same_messages() {
    let s = stream();
    for i in 0..=s.len() {
        for j in i..=s.len() {
            check_stream(&feed_chunks(&[&s[..i], &s[i..j], &s[j..]], CAP));
        }
    }
}

#[test]
fn byte_by_byte() {
    let s = stream();
    let chunks: Vec<&[u8]> = s.chunks(1).collect();
    check_stream(&feed_chunks(&chunks, CAP));
}

#[test]
fn session_request_on_port_139() {
    let mut s = vec![0x81, 0, 0, 68];
    s.extend_from_slice(&[0x20; 68]);
    s.extend_from_slice(&[0x82, 0, 0, 0]);
    s.extend_from_slice(&msg(0xff, 35, 0));
    let rec = feed_chunks(&[&s[..10], &s[10..]], CAP);
    assert_eq!(rec.controls.len(), 2);
    assert_eq!(rec.controls[0].0, 0x81);
    assert_eq!(rec.controls[0].1.len(), 68);
    assert_eq!(rec.controls[1], (0x82, vec![]));
    assert_eq!(rec.msgs.len(), 1);
}

#[test]
fn oversized_message_is_delivered_partial_then_skipped() {
    let cap = 64;
    let mut s = msg(0xfe, 200, 9);
    s.extend_from_slice(&msg(0xfe, 64, 1));
    for split in [1, 6, 40, 68, 69, 150, 204, 210] {
        let rec = feed_chunks(&[&s[..split], &s[split..]], cap);
        assert_eq!(
            rec.anomalies,
            [(AnomalyKind::MessageTooLarge, 200)],
            "split {split}"
        );
        assert_eq!(rec.msgs.len(), 2);
        assert_eq!((rec.msgs[0].0.len(), rec.msgs[0].1), (64, true));
        assert_eq!((rec.msgs[1].0.len(), rec.msgs[1].1), (64, false));
    }
}

#[test]
fn garbage_is_reported_and_skipped() {
    let mut s = b"GET / HTTP/1.1\r\n".to_vec();
    s.extend_from_slice(&msg(0xfe, 64, 1));
    for split in 0..s.len() {
        let rec = feed_chunks(&[&s[..split], &s[split..]], CAP);
        assert_eq!(
            rec.kinds(),
            [AnomalyKind::BadNbss, AnomalyKind::ResyncSkipped],
            "{split}"
        );
        assert_eq!(rec.anomalies[1].1, 16);
        assert_eq!(rec.msgs.len(), 1, "split {split}");
    }
    // A session message that is not SMB.
    let mut s = vec![0, 0, 0, 8];
    s.extend_from_slice(b"NOTSMB!!");
    s.extend_from_slice(&msg(0xfe, 64, 1));
    let rec = feed_chunks(&[&s], CAP);
    assert_eq!(
        rec.kinds(),
        [AnomalyKind::BadNbss, AnomalyKind::ResyncSkipped]
    );
    assert_eq!(rec.msgs.len(), 1);
}

#[test]
fn gap_inside_a_known_message_keeps_sync() {
    let a = msg(0xfe, 300, 1);
    let b = msg(0xfe, 64, 2);
    let mut f = Framer::default();
    let mut rec = Rec::default();
    f.feed(&a[..100], CAP, &mut rec);
    f.gap(50);
    f.feed(&a[150..], CAP, &mut rec);
    f.feed(&b, CAP, &mut rec);
    assert!(rec.anomalies.is_empty());
    assert_eq!(rec.msgs.len(), 1);
    assert_eq!(rec.msgs[0].0[4], 2);
}

#[test]
fn gap_at_a_boundary_resyncs() {
    let mut s = msg(0xfe, 64, 1);
    s.extend_from_slice(&msg(0xfe, 80, 2));
    s.extend_from_slice(&msg(0xfe, 64, 3));
    let mut f = Framer::default();
    let mut rec = Rec::default();
    f.feed(&s[..68], CAP, &mut rec);
    f.gap(10); // loses the start of the second message
    f.feed(&s[78..], CAP, &mut rec);
    assert_eq!(rec.msgs.len(), 2);
    assert_eq!(rec.msgs[1].0[4], 3);
    assert_eq!(rec.anomalies, [(AnomalyKind::ResyncSkipped, 74)]);
}

#[test]
fn midstream_start_inside_a_message() {
    let mut s = msg(0xfe, 200, 0x53); // 'S' fill: a near-miss pattern
    let tail_start = 77;
    s.extend_from_slice(&msg(0xfe, 64, 1));
    s.extend_from_slice(&msg(0xff, 32, 2));
    let tail = &s[tail_start..];
    for split in 0..tail.len() {
        let mut f = Framer::default();
        let mut rec = Rec::default();
        f.start_resync();
        f.feed(&tail[..split], CAP, &mut rec);
        f.feed(&tail[split..], CAP, &mut rec);
        assert_eq!(rec.msgs.len(), 2, "split {split}");
        assert_eq!(
            rec.anomalies,
            [(AnomalyKind::ResyncSkipped, 204 - 77)],
            "split {split}"
        );
    }
    // Starting exactly at a boundary costs nothing.
    let mut f = Framer::default();
    let mut rec = Rec::default();
    f.start_resync();
    f.feed(&s[204..], CAP, &mut rec);
    assert_eq!(rec.msgs.len(), 2);
    assert!(rec.anomalies.is_empty());
}

#[test]
fn resync_ignores_implausible_boundaries() {
    let mut s = vec![0, 0, 0, 10, 0xfe, b'S', b'M', b'B']; // shorter than an SMB2 header
    s.extend_from_slice(&[0, 0xff, 0xff, 0xff, 0xfe, b'S', b'M', b'B']); // longer than cap
    s.extend_from_slice(&msg(0xfe, 64, 1));
    let mut f = Framer::default();
    let mut rec = Rec::default();
    f.start_resync();
    f.feed(&s, 1 << 20, &mut rec);
    assert_eq!(rec.msgs.len(), 1);
    assert_eq!(rec.anomalies, [(AnomalyKind::ResyncSkipped, 16)]);
}

#[test]
fn end_of_stream_reports_leftovers() {
    let m = msg(0xfe, 64, 1);
    let rec = feed_chunks(&[&m[..30]], CAP);
    assert_eq!(rec.anomalies, [(AnomalyKind::IncompleteMessage, 30)]);
    let mut f = Framer::default();
    let mut rec = Rec::default();
    f.start_resync();
    f.feed(&[1; 100], CAP, &mut rec);
    f.finish(&mut rec);
    assert_eq!(rec.anomalies, [(AnomalyKind::ResyncSkipped, 100)]);
}

#[test]
fn pending_capacity_is_released() {
    let big = msg(0xfe, 200_000, 1);
    let mut f = Framer::default();
    let mut rec = Rec::default();
    for c in big.chunks(1448) {
        f.feed(c, CAP, &mut rec);
    }
    assert_eq!(rec.msgs.len(), 1);
    assert_eq!(f.pending.capacity(), 0);
}

#[test]
fn midstream_start_accepts_a_packet_start() {
    // The first bytes seen are a control packet: accepted (a resync hunt alone would skip it).
    let mut s = vec![0x82, 0, 0, 0];
    s.extend_from_slice(&msg(0xfe, 64, 1));
    let mut f = Framer::default();
    let mut rec = Rec::default();
    f.start_midstream();
    f.feed(&s, CAP, &mut rec);
    assert_eq!(rec.controls, [(0x82, vec![])]);
    assert_eq!(rec.msgs.len(), 1);
    assert!(rec.anomalies.is_empty());
    // Inside a message: hunts as usual.
    let m = msg(0xfe, 64, 0x85);
    let mut f = Framer::default();
    let mut rec = Rec::default();
    f.start_midstream();
    f.feed(&m[20..], CAP, &mut rec);
    f.feed(&msg(0xfe, 64, 2), CAP, &mut rec);
    assert_eq!(rec.msgs.len(), 1);
    assert_eq!(rec.anomalies, [(AnomalyKind::ResyncSkipped, 48)]);
}

/// An NBSS session message whose body is `id 'S' 'M' 'B'` then bytes that count up.
fn counting(id: u8, body_len: usize) -> Vec<u8> {
    let mut v = msg(id, body_len, 0);
    for (i, b) in v.iter_mut().enumerate().skip(8) {
        *b = (i % 251) as u8;
    }
    v
}

/// Checks that each message of `msgs` (NBSS packets in stream order) was delivered whole, or,
/// when the framer asked about it (once, with its first bytes), as the first `keep` bytes
/// (kept within 64..=len); no message over `cap` is asked about.
fn check_heads(rec: &Rec, msgs: &[&[u8]], keep: u32, cap: usize) {
    assert!(rec.anomalies.is_empty(), "{:?}", rec.anomalies);
    assert_eq!(rec.msgs.len(), msgs.len());
    let mut asks = 0;
    for (i, m) in msgs.iter().enumerate() {
        let body = &m[4..];
        let len = body.len() as u32;
        let asked = rec
            .asked
            .get(asks)
            .is_some_and(|(h, l)| *l == len && h[..] == body[..HEAD_LEN]);
        if asked {
            asks += 1;
            assert!(
                body.len() <= cap,
                "message {i} over the cap was asked about"
            );
        }
        let kept = (keep as usize).clamp(64, body.len());
        let (want, extent) = if asked && kept < body.len() {
            (&body[..kept], Extent::Head { len })
        } else {
            (body, Extent::Whole)
        };
        assert_eq!(rec.extents[i], extent, "message {i}");
        assert_eq!(rec.msgs[i].0, want, "message {i}");
    }
    assert_eq!(
        asks,
        rec.asked.len(),
        "each message is asked about once at most"
    );
}

#[test]
fn a_long_message_is_cut_where_the_consumer_asks_at_any_split() {
    let a = counting(0xfe, 5000);
    let b = msg(0xfe, 64, 2);
    let c = counting(0xfd, 300);
    let s = [&a[..], &b, &c].concat();
    for keep in [10, 64, 80, 128, 200, 4999, 5000, u32::MAX] {
        let mut splits: Vec<Vec<&[u8]>> = (0..s.len()).map(|i| vec![&s[..i], &s[i..]]).collect();
        for size in [1, 7, 100, 1448] {
            splits.push(s.chunks(size).collect());
        }
        for chunks in splits {
            let mut f = Framer::default();
            let mut rec = Rec {
                keep: Some(keep),
                ..Rec::default()
            };
            for ch in &chunks {
                f.feed(ch, CAP, &mut rec);
            }
            f.finish(&mut rec);
            check_heads(&rec, &[&a, &b, &c], keep, CAP);
            // The split message is always asked about, with its first bytes.
            if !chunks[0].is_empty() && chunks[0].len() < a.len() {
                assert_eq!(rec.asked[0].1, 5000, "keep {keep}");
                assert_eq!(rec.asked[0].0, a[4..4 + HEAD_LEN]);
            }
        }
    }
}

/// Feeds `chunks` with `keep` as the consumer's answer, calling `gap(n)` for each `Err(n)`.
fn feed_with_gaps(chunks: &[Result<&[u8], u64>], keep: u32, cap: usize) -> Rec {
    let mut f = Framer::default();
    let mut rec = Rec {
        keep: Some(keep),
        ..Rec::default()
    };
    for c in chunks {
        match c {
            Ok(data) => f.feed(data, cap, &mut rec),
            Err(n) => f.gap(*n),
        }
    }
    f.finish(&mut rec);
    rec
}

#[test]
fn a_head_is_delivered_when_its_message_ends_and_not_if_a_gap_or_the_end_cuts_it() {
    let a = counting(0xfe, 5000);
    let b = msg(0xfe, 64, 2);
    // Whole: the head comes out only once the last byte of its message is in.
    let mut f = Framer::default();
    let mut rec = Rec {
        keep: Some(80),
        ..Rec::default()
    };
    f.feed(&a[..4003], CAP, &mut rec);
    assert!(rec.msgs.is_empty(), "held until its message ends");
    f.feed(&a[4003..], CAP, &mut rec);
    assert_eq!(rec.extents, [Extent::Head { len: 5000 }]);
    assert_eq!(rec.msgs[0].0, a[4..84]);
    // A gap inside the part passed over drops the message, as it would a gathered one, and
    // framing stays in sync; so does a gap before the head is complete.
    for (cut, lost) in [(1000, 2000), (100, 50), (132, 4871)] {
        let rec = feed_with_gaps(
            &[
                Ok(&a[..cut]),
                Err(lost),
                Ok(&a[cut + lost as usize..]),
                Ok(&b),
            ],
            80,
            CAP,
        );
        assert!(rec.anomalies.is_empty(), "{cut}: {:?}", rec.anomalies);
        assert_eq!(rec.extents, [Extent::Whole], "{cut}");
        assert_eq!(rec.msgs[0].0, b[4..]);
    }
    // A gap past the message's end resyncs, as before.
    let rec = feed_with_gaps(&[Ok(&a[..1000]), Err(4010), Ok(&b[6..])], 80, CAP);
    assert_eq!(rec.anomalies, [(AnomalyKind::ResyncSkipped, 62)]);
    assert!(rec.msgs.is_empty());
    // The stream ends inside it: an incomplete message of the bytes seen, and no head.
    for cut in [100, 132, 1000, 5003] {
        let rec = feed_with_gaps(&[Ok(&a[..cut])], 80, CAP);
        assert_eq!(
            rec.anomalies,
            [(AnomalyKind::IncompleteMessage, cut as u64)]
        );
        assert!(rec.msgs.is_empty());
    }
}

#[test]
fn an_oversized_message_is_cut_at_max_message_whatever_the_consumer_needs() {
    let a = counting(0xfe, 5000);
    let b = msg(0xfe, 64, 2);
    let s = [&a[..], &b].concat();
    for (cap, size) in [(1000, 1448), (1000, 100), (100, 7)] {
        for keep in [None, Some(80)] {
            let mut f = Framer::default();
            let mut rec = Rec {
                keep,
                ..Rec::default()
            };
            for ch in s.chunks(size) {
                f.feed(ch, cap, &mut rec);
            }
            assert!(rec.asked.is_empty());
            assert_eq!(rec.anomalies, [(AnomalyKind::MessageTooLarge, 5000)]);
            assert_eq!(
                rec.extents,
                [Extent::Truncated { len: 5000 }, Extent::Whole]
            );
            assert_eq!(rec.msgs[0].0, a[4..4 + cap]);
        }
    }
}

#[test]
fn large_messages_gather_in_the_threads_spare_buffer_and_stay_whole() {
    // Each test runs on its own thread: the spare starts empty.
    assert_eq!(SPARE.take().capacity(), 0);
    let big = |fill| msg(0xfd, 300 << 10, fill);
    let mut f = Framer::default();
    let mut rec = Rec::default();
    // Two flows interleaved: one large message each, in 8 KiB pieces, then a second one on
    // the first flow; the spare is taken by one at a time, and no message mixes bytes.
    let mut g = Framer::default();
    let mut rec_g = Rec::default();
    let (a, b) = (big(7), big(9));
    for (x, y) in a.chunks(8 << 10).zip(b.chunks(8 << 10)) {
        f.feed(x, CAP, &mut rec);
        g.feed(y, CAP, &mut rec_g);
    }
    let kept = SPARE.take();
    assert!(kept.capacity() >= 300 << 10, "a released buffer is kept");
    assert!(kept.is_empty());
    let kept_at = kept.as_ptr();
    SPARE.set(kept);
    for x in big(8).chunks(8 << 10) {
        f.feed(x, CAP, &mut rec);
    }
    let again = SPARE.take();
    assert_eq!(
        again.as_ptr(),
        kept_at,
        "the next large message used it, and gave it back"
    );
    for (r, fills) in [(&rec, &[7u8, 8][..]), (&rec_g, &[9u8][..])] {
        assert!(r.anomalies.is_empty(), "{:?}", r.anomalies);
        assert_eq!(r.msgs.len(), fills.len());
        for ((m, cut), &fill) in r.msgs.iter().zip(fills) {
            assert!(!cut);
            assert_eq!(m.len(), 300 << 10);
            assert_eq!(&m[..4], &[0xfd, b'S', b'M', b'B']);
            assert!(m[4..].iter().all(|&x| x == fill));
        }
    }
    // Idle flows keep nothing.
    f.compact();
    assert_eq!(f.pending.capacity(), 0);
}
