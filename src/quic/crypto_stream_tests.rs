use super::*;

fn stream(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
}

#[test]
fn in_order_and_consume() {
    let mut s = StreamBuf::new(100);
    assert_eq!(s.readable(), b"");
    s.insert(0, b"hello ").unwrap();
    s.insert(6, b"world").unwrap();
    assert_eq!(s.readable(), b"hello world");
    assert_eq!(s.buffered(), 11);
    s.consume(6);
    assert_eq!(s.readable(), b"world");
    assert_eq!(s.read_offset(), 6);
    s.consume(100);
    assert_eq!(s.readable(), b"");
    assert_eq!(s.read_offset(), 11);
    assert_eq!(s.buffered(), 0);
    // Data already consumed is ignored.
    s.insert(0, b"hello").unwrap();
    assert_eq!(s.buffered(), 0);
}

#[test]
fn out_of_order_with_holes() {
    let mut s = StreamBuf::new(100);
    s.insert(6, b"world").unwrap();
    assert_eq!(s.readable(), b"");
    assert_eq!(s.buffered(), 5);
    s.insert(3, b"lo").unwrap();
    assert_eq!(s.readable(), b"");
    s.insert(0, b"hel").unwrap();
    assert_eq!(s.readable(), b"hello");
    s.insert(5, b" ").unwrap();
    assert_eq!(s.readable(), b"hello world");
}

#[test]
fn overlaps_keep_the_first_copy() {
    let mut s = StreamBuf::new(100);
    s.insert(2, b"CD").unwrap();
    s.insert(0, b"abcdef").unwrap();
    assert_eq!(s.readable(), b"abCDef");
    s.insert(4, b"XXXXgh").unwrap();
    assert_eq!(s.readable(), b"abCDefXXgh");
    s.insert(0, b"zzzzzzzzzz").unwrap();
    assert_eq!(s.readable(), b"abCDefXXgh");
    s.consume(3);
    s.insert(1, b"yyyyyyyyyyyy").unwrap();
    assert_eq!(s.readable(), b"DefXXghyyy");
}

#[test]
fn window_bound_and_overflow() {
    let mut s = StreamBuf::new(10);
    assert_eq!(s.insert(10, b"x"), Err(Overflow { offset: 10 }));
    assert_eq!(s.buffered(), 0);
    // Partly inside: the inside part is kept.
    assert_eq!(s.insert(5, b"0123456789"), Err(Overflow { offset: 10 }));
    assert_eq!(s.buffered(), 5);
    s.insert(0, b"abcde").unwrap();
    assert_eq!(s.readable(), b"abcde01234");
    s.consume(4);
    // The window moved with the read position.
    s.insert(10, b"5678").unwrap();
    assert_eq!(s.readable(), b"e012345678");
    assert!(s.buf.len() <= 10);
    // Offsets near u64::MAX.
    assert!(s.insert(u64::MAX - 1, b"abc").is_err());
    assert!(s.insert(u64::MAX, b"").is_err());
    let mut s = StreamBuf::new(0);
    assert!(s.insert(0, b"a").is_err());
    assert_eq!(s.readable(), b"");
}

#[test]
fn range_count_is_bounded() {
    let mut s = StreamBuf::new(10_000);
    for i in 0..MAX_RANGES as u64 {
        s.insert(1 + 2 * i, b"x").unwrap();
    }
    assert_eq!(s.ranges.len(), MAX_RANGES);
    // A new separate range is refused; one touching a held range is fine.
    assert!(s.insert(5000, b"x").is_err());
    s.insert(2 * MAX_RANGES as u64, b"y").unwrap();
    s.insert(0, &vec![b'z'; 2 * MAX_RANGES + 1]).unwrap();
    assert_eq!(s.ranges.len(), 1);
    assert_eq!(s.readable().len(), 2 * MAX_RANGES + 1);
}

#[test]
fn random_fragments_reassemble_within_bounds() {
    let data = stream(5000);
    let max = 1500;
    let mut x = 0x1234_5678_9abc_def1u64;
    let mut rnd = move |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    let mut s = StreamBuf::new(max);
    let mut out = Vec::new();
    let mut rounds = 0;
    while out.len() < data.len() {
        rounds += 1;
        assert!(rounds < 100_000);
        // A fragment near the read position, sometimes overlapping, sometimes beyond the window.
        let base = s.read_offset();
        let off = (base + rnd(max as u64 + 200)).saturating_sub(rnd(100));
        let len = 1 + rnd(300);
        let off = off.min(data.len() as u64 - 1);
        let end = (off + len).min(data.len() as u64);
        let r = s.insert(off, &data[off as usize..end as usize]);
        if end <= base + max as u64 {
            assert!(r.is_ok());
        }
        assert!(s.buf.len() <= max, "window bound");
        assert!(s.buffered() <= max);
        let take = (rnd(3) as usize) * s.readable().len() / 2;
        out.extend_from_slice(&s.readable()[..take]);
        s.consume(take);
        let cut = out.len();
        assert_eq!(&out[..], &data[..cut]);
    }
    assert_eq!(out, data);
    assert_eq!(s.buffered(), 0);
}
