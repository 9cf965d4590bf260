use super::*;
use crate::quic::hex;
use crate::quic::protect::tests::{
    V1_A2_PACKET, V1_A3_PACKET, V1_A4_RETRY, V1_A5_PACKET, V2_A2_PACKET,
};

#[test]
fn rfc9000_a1_varint_examples() {
    // RFC 9000 Appendix A.1 (and §16's table).
    for (enc, val, len) in [
        ("c2197c5eff14e88c", 151_288_809_941_952_652u64, 8),
        ("9d7f3e7d", 494_878_333, 4),
        ("7bbd", 15_293, 2),
        ("25", 37, 1),
        ("4025", 37, 2),
    ] {
        let b = hex(enc);
        assert_eq!(varint_at(&b, 0).unwrap(), (val, len), "{enc}");
        let mut r = Reader::new(&b, Layer::Quic);
        assert_eq!(varint(&mut r).unwrap(), val);
        assert!(r.is_empty());
        for n in 0..b.len() {
            let e = varint_at(&b[..n], 0).unwrap_err();
            assert_eq!(e.layer, Layer::Quic);
        }
    }
    assert_eq!(
        varint_at(&hex("ffffffffffffffff"), 0).unwrap().0,
        VARINT_MAX
    );
    assert!(varint_at(&[0x25], 1).is_err());
}

#[test]
fn long_header_fields() {
    let d = hex(V1_A2_PACKET);
    let pkts: Vec<_> = split_datagram(&d, None).collect();
    assert_eq!(pkts.len(), 1);
    let p = pkts[0].as_ref().unwrap();
    assert_eq!(p.ty, PacketType::Initial);
    assert_eq!(p.version, VERSION_1);
    assert_eq!(p.dcid, &hex("8394c8f03e515708")[..]);
    assert!(p.scid.is_empty());
    assert!(p.token.is_empty());
    assert_eq!(p.raw.len(), 1200);
    assert!(p.is_long());
    assert!(looks_like_quic(&d));

    let d = hex(V2_A2_PACKET);
    let p = split_datagram(&d, None).next().unwrap().unwrap();
    assert_eq!((p.ty, p.version), (PacketType::Initial, VERSION_2));
}

#[test]
fn v2_type_bits_differ_from_v1() {
    use PacketType::*;
    let v1: Vec<_> = (0..4)
        .map(|b| PacketType::from_long_bits(VERSION_1, b))
        .collect();
    let v2: Vec<_> = (0..4)
        .map(|b| PacketType::from_long_bits(VERSION_2, b))
        .collect();
    assert_eq!(
        v1,
        [Some(Initial), Some(ZeroRtt), Some(Handshake), Some(Retry)]
    );
    assert_eq!(
        v2,
        [Some(Retry), Some(Initial), Some(ZeroRtt), Some(Handshake)]
    );
    assert_eq!(PacketType::from_long_bits(0xff00_001d, 2), Some(Handshake));
    assert_eq!(PacketType::from_long_bits(0x5130_3436, 0), None);
    assert!(!Retry.is_protected() && !VersionNegotiation.is_protected());
    assert!(OneRtt.is_protected());
    assert_eq!(OneRtt.as_str(), "1-rtt");
}

#[test]
fn coalesced_packets_split() {
    // A server Initial followed by a short-header packet (different connections, but the
    // split is mechanical).
    let mut d = hex(V1_A3_PACKET);
    let first_len = d.len();
    d.extend_from_slice(&hex(V1_A5_PACKET));
    let pkts: Vec<_> = split_datagram(&d, Some(0)).map(Result::unwrap).collect();
    assert_eq!(pkts.len(), 2);
    assert_eq!(pkts[0].raw.len(), first_len);
    assert_eq!(pkts[1].ty, PacketType::OneRtt);
    assert_eq!(pkts[1].raw, &hex(V1_A5_PACKET)[..]);
    assert_eq!(pkts[1].version, 0);

    // Unknown short-header DCID length: the Initial, then an error item, then nothing.
    let items: Vec<_> = split_datagram(&d, None).collect();
    assert_eq!(items.len(), 2);
    assert!(items[0].is_ok());
    let e = items[1].as_ref().unwrap_err();
    assert_eq!((e.layer, e.offset), (Layer::Quic, first_len));

    // Trailing zero padding ends the datagram quietly.
    let mut d = hex(V1_A3_PACKET);
    d.extend_from_slice(&[0; 40]);
    let items: Vec<_> = split_datagram(&d, Some(8)).collect();
    assert_eq!(items.len(), 1);
    assert!(items[0].is_ok());
}

#[test]
fn short_header_dcid() {
    let mut d = vec![0x41u8];
    d.extend_from_slice(&[0xaa; 8]);
    d.extend_from_slice(&[0x55; 30]);
    let p = split_datagram(&d, Some(8)).next().unwrap().unwrap();
    assert_eq!(p.dcid, &[0xaa; 8]);
    assert_eq!(p.pn_offset, 9);
    assert!(p.scid.is_empty());
    assert!(split_datagram(&d, Some(21)).next().unwrap().is_err());
    assert!(split_datagram(&d[..5], Some(8)).next().unwrap().is_err());
}

#[test]
fn retry_and_version_negotiation() {
    let d = hex(V1_A4_RETRY);
    let p = split_datagram(&d, None).next().unwrap().unwrap();
    assert_eq!(p.ty, PacketType::Retry);
    assert_eq!(
        p.retry_integrity_tag.map(|t| t.to_vec()),
        Some(hex("04a265ba2eff4d829058fb3f0f2496ba"))
    );
    assert_eq!(p.pn_offset, 0);
    // A Retry with no room for its tag.
    assert!(split_datagram(&d[..20], None).next().unwrap().is_err());

    // Version Negotiation (RFC 9000 §17.2.1): random low bits, version 0, CIDs, versions.
    let mut vn = vec![0xca, 0, 0, 0, 0, 4, 1, 2, 3, 4, 3, 9, 8, 7];
    vn.extend_from_slice(&VERSION_2.to_be_bytes());
    vn.extend_from_slice(&VERSION_1.to_be_bytes());
    let p = split_datagram(&vn, None).next().unwrap().unwrap();
    assert_eq!(p.ty, PacketType::VersionNegotiation);
    assert_eq!(p.dcid, &[1, 2, 3, 4]);
    assert_eq!(p.scid, &[9, 8, 7]);
    assert_eq!(p.supported_versions, [VERSION_2, VERSION_1]);
    assert!(looks_like_quic(&vn));
    // Its fixed bit is unused too: 0 is valid there (a long header of another version with
    // the fixed bit clear is not QUIC).
    vn[0] = 0x8a;
    assert!(looks_like_quic(&vn));
    let mut other = vn.clone();
    other[1..5].copy_from_slice(&VERSION_1.to_be_bytes());
    assert!(!looks_like_quic(&other));
    vn[0] = 0xca;
    assert!(
        split_datagram(&vn[..vn.len() - 1], None)
            .next()
            .unwrap()
            .is_err()
    );
    assert!(split_datagram(&vn[..14], None).next().unwrap().is_err());
}

#[test]
fn header_errors() {
    // Unknown version: an error naming the version field.
    let mut d = hex(V1_A2_PACKET);
    d[1..5].copy_from_slice(&0x5130_3436u32.to_be_bytes());
    let e = split_datagram(&d, None).next().unwrap().unwrap_err();
    assert_eq!((e.offset, e.reason), (1, "unsupported QUIC version"));
    assert!(!looks_like_quic(&d));
    // DCID longer than 20.
    let mut d = hex(V1_A2_PACKET);
    d[5] = 21;
    let e = split_datagram(&d, None).next().unwrap().unwrap_err();
    assert_eq!(e.offset, 5);
    // Length beyond the datagram.
    let d = hex(V1_A2_PACKET);
    let e = split_datagram(&d[..1199], None)
        .next()
        .unwrap()
        .unwrap_err();
    assert_eq!(e.reason, "packet length exceeds the datagram");
    assert!(split_datagram(&[], None).next().is_none());
}

#[test]
fn looks_like_quic_heuristic() {
    assert!(looks_like_quic(&hex(V1_A5_PACKET)));
    assert!(!looks_like_quic(&[]));
    assert!(!looks_like_quic(&[0u8; 40]));
    assert!(!looks_like_quic(&[0x41u8; 10]));
    // A DNS query header has the fixed bit clear in its first byte here.
    assert!(!looks_like_quic(&hex("12340100000100000000000003777777")));
    // Greased version with plausible CIDs.
    let mut g = vec![0xc0, 0x1a, 0x2a, 0x3a, 0x4a, 0, 0];
    assert!(looks_like_quic(&g));
    g[5] = 30;
    assert!(!looks_like_quic(&g));
}

#[test]
fn every_prefix_and_garbage_never_panics() {
    for src in [V1_A2_PACKET, V1_A3_PACKET, V1_A4_RETRY, V1_A5_PACKET] {
        let d = hex(src);
        for n in 0..=d.len() {
            for dl in [None, Some(0), Some(8), Some(20), Some(300)] {
                let _ = split_datagram(&d[..n], dl).count();
            }
            let _ = looks_like_quic(&d[..n]);
        }
    }
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut buf = Vec::new();
    for _ in 0..5000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let len = (x % 200) as usize;
        buf.clear();
        let mut y = x;
        for _ in 0..len {
            y = y.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            buf.push((y >> 56) as u8);
        }
        if let Some(b) = buf.get_mut(1..5) {
            if x & 3 == 0 {
                b.copy_from_slice(&VERSION_1.to_be_bytes());
            }
        }
        for dl in [None, Some(4), Some(20)] {
            for p in split_datagram(&buf, dl).flatten() {
                assert!(p.pn_offset <= p.raw.len());
            }
        }
        let _ = looks_like_quic(&buf);
        crate::quic::fuzz_datagram(&buf);
    }
}
