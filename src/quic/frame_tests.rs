use super::*;
use crate::quic::hex;

fn all(payload: &[u8]) -> Vec<Frame<'_>> {
    frames(payload).map(Result::unwrap).collect()
}

/// Hand-built frames (RFC 9000 §19 layouts), each with the value it must parse to.
fn samples() -> Vec<(Vec<u8>, Frame<'static>)> {
    vec![
        (hex("01"), Frame::Ping),
        (hex("1e"), Frame::HandshakeDone),
        // ACK: largest 0x20, delay 5, 1 extra range (gap 2, len 3), first range 4.
        (
            hex("02 20 05 01 04 02 03"),
            Frame::Ack {
                largest: 0x20,
                delay: 5,
                first_range: 4,
                range_count: 1,
                ranges: &[2, 3],
                ecn: None,
            },
        ),
        (
            hex("03 20 05 00 04 01 02 03"),
            Frame::Ack {
                largest: 0x20,
                delay: 5,
                first_range: 4,
                range_count: 0,
                ranges: &[],
                ecn: Some([1, 2, 3]),
            },
        ),
        (
            hex("04 04 4100 07"),
            Frame::ResetStream {
                id: 4,
                error_code: 0x100,
                final_size: 7,
            },
        ),
        (
            hex("05 08 0a"),
            Frame::StopSending {
                id: 8,
                error_code: 10,
            },
        ),
        (
            hex("06 4010 03 616263"),
            Frame::Crypto {
                offset: 16,
                data: b"abc",
            },
        ),
        (hex("07 02 aabb"), Frame::NewToken(&[0xaa, 0xbb])),
        (
            hex("0e 00 05 02 6869"),
            Frame::Stream {
                id: 0,
                offset: 5,
                data: b"hi",
                fin: false,
            },
        ),
        (
            hex("0b 04 01 7a"),
            Frame::Stream {
                id: 4,
                offset: 0,
                data: b"z",
                fin: true,
            },
        ),
        (hex("10 4400"), Frame::MaxData(0x400)),
        (hex("11 00 10"), Frame::MaxStreamData { id: 0, max: 16 }),
        (
            hex("12 4064"),
            Frame::MaxStreams {
                bidi: true,
                max: 100,
            },
        ),
        (
            hex("13 03"),
            Frame::MaxStreams {
                bidi: false,
                max: 3,
            },
        ),
        (hex("14 09"), Frame::DataBlocked(9)),
        (
            hex("15 00 09"),
            Frame::StreamDataBlocked { id: 0, limit: 9 },
        ),
        (
            hex("16 01"),
            Frame::StreamsBlocked {
                bidi: true,
                limit: 1,
            },
        ),
        (
            hex("18 01 00 04 c0c1c2c3 000102030405060708090a0b0c0d0e0f"),
            Frame::NewConnectionId {
                seq: 1,
                retire_prior_to: 0,
                cid: &[0xc0, 0xc1, 0xc2, 0xc3],
                reset_token: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
            },
        ),
        (hex("19 02"), Frame::RetireConnectionId { seq: 2 }),
        (
            hex("1a 0102030405060708"),
            Frame::PathChallenge([1, 2, 3, 4, 5, 6, 7, 8]),
        ),
        (
            hex("1b 0807060504030201"),
            Frame::PathResponse([8, 7, 6, 5, 4, 3, 2, 1]),
        ),
        // CONNECTION_CLOSE with CRYPTO_ERROR 0x131 = alert 49 (access_denied), caused by a
        // CRYPTO frame, reason "no".
        (
            hex("1c 4131 06 02 6e6f"),
            Frame::ConnectionClose {
                error_code: 0x131,
                frame_type: Some(6),
                reason: b"no",
                application: false,
            },
        ),
        (
            hex("1d 07 00"),
            Frame::ConnectionClose {
                error_code: 7,
                frame_type: None,
                reason: b"",
                application: true,
            },
        ),
        (hex("31 02 abcd"), Frame::Datagram(&[0xab, 0xcd])),
    ]
}

#[test]
fn each_frame_type_parses() {
    for (bytes, want) in samples() {
        let got = all(&bytes);
        assert_eq!(got, [want], "{bytes:02x?}");
    }
}

#[test]
fn frames_in_sequence_with_padding_runs() {
    let mut payload = Vec::new();
    let mut want = Vec::new();
    for (bytes, f) in samples() {
        payload.extend_from_slice(&bytes);
        want.push(f);
        payload.extend_from_slice(&[0, 0, 0]);
        want.push(Frame::Padding(3));
    }
    assert_eq!(all(&payload), want);
}

#[test]
fn every_truncated_prefix_is_an_error() {
    for (bytes, _) in samples() {
        for n in 1..bytes.len() {
            let items: Vec<_> = frames(&bytes[..n]).collect();
            assert!(
                items.last().is_some_and(Result::is_err),
                "{:02x?} prefix {n}: {items:?}",
                bytes
            );
            assert_eq!(items.iter().filter(|i| i.is_err()).count(), 1);
        }
    }
}

#[test]
fn stream_and_datagram_without_length_take_the_rest() {
    assert_eq!(
        all(&hex("0c 04 10 616263")),
        [Frame::Stream {
            id: 4,
            offset: 16,
            data: b"abc",
            fin: false
        }]
    );
    assert_eq!(
        all(&hex("08 00")),
        [Frame::Stream {
            id: 0,
            offset: 0,
            data: b"",
            fin: false
        }]
    );
    assert_eq!(all(&hex("30 0102")), [Frame::Datagram(&[1, 2])]);
}

#[test]
fn unknown_type_ends_iteration() {
    let b = hex("01 4020 01 01");
    let items: Vec<_> = frames(&b).collect();
    assert_eq!(items, [Ok(Frame::Ping), Ok(Frame::Other(0x20))]);
}

#[test]
fn limits_are_checked() {
    // CRYPTO data ending past 2^62.
    let e = frames(&hex("06 ffffffffffffffff 01 00"))
        .next()
        .unwrap()
        .unwrap_err();
    assert_eq!(e.reason, "stream offset beyond 2^62");
    // NEW_CONNECTION_ID with length 0 or 21.
    for len in ["00", "15"] {
        let b = hex(&format!("18 01 00 {len}"));
        assert!(frames(&b).next().unwrap().is_err());
    }
    // ACK claiming a huge range count stops at the end of the payload.
    let e = frames(&hex("02 01 00 bfffffffffffffff 00 01 01"))
        .next()
        .unwrap()
        .unwrap_err();
    assert_eq!(e.layer, Layer::Quic);
    // Errors stop the iterator.
    let b = hex("06 00 05 61 01 01");
    let items: Vec<_> = frames(&b).collect();
    assert_eq!(items.len(), 1);
}

#[test]
fn tls_alert_from_connection_close() {
    let b = hex("1c 4131 06 00");
    let f = all(&b)[0];
    assert_eq!(f.tls_alert(), Some(49));
    assert!(!f.is_ack_eliciting());
    let b = hex("1c 4128 00 00");
    let f = all(&b)[0];
    assert_eq!(f.tls_alert(), Some(40), "handshake_failure");
    let b = hex("1c 0a 00 00");
    let f = all(&b)[0];
    assert_eq!(f.tls_alert(), None, "PROTOCOL_VIOLATION is not an alert");
    let b = hex("1d 4131 00");
    let f = all(&b)[0];
    assert_eq!(f.tls_alert(), None, "application close");
    assert_eq!(Frame::Ping.tls_alert(), None);
    assert!(Frame::Ping.is_ack_eliciting());
}

#[test]
fn garbage_never_panics() {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut buf = Vec::new();
    for _ in 0..20_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        buf.clear();
        let mut y = x;
        for _ in 0..(x % 64) {
            y = y.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            // Bias towards small frame types and lengths.
            let b = (y >> 56) as u8;
            buf.push(if b & 0x80 != 0 { b & 0x1f } else { b });
        }
        for f in frames(&buf).flatten() {
            let _ = f.tls_alert();
        }
    }
}
