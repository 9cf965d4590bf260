//! Hand-built frames for every supported link type; every truncated prefix must decode to an
//! error or a flagged packet, never panic.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::*;

const C4: [u8; 4] = [10, 0, 0, 1];
const S4: [u8; 4] = [10, 0, 0, 2];
const C6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const S6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
const PSH_ACK: u8 = 0x18;
const SYN: u8 = 0x02;

fn tcp(sp: u16, dp: u16, seq: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&sp.to_be_bytes());
    v.extend_from_slice(&dp.to_be_bytes());
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend_from_slice(&7u32.to_be_bytes()); // ack
    v.push(5 << 4); // data offset: 20 bytes
    v.push(flags);
    v.extend_from_slice(&[0xff, 0xff, 0, 0, 0, 0]); // window, checksum, urgent
    v.extend_from_slice(payload);
    v
}

fn udp(sp: u16, dp: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&sp.to_be_bytes());
    v.extend_from_slice(&dp.to_be_bytes());
    v.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(payload);
    v
}

/// IPv4 header (no options) with fragment field `frag` (flags + offset) around `payload`.
fn ipv4_frag(proto: u8, frag: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0x45, 0];
    v.extend_from_slice(&((20 + payload.len()) as u16).to_be_bytes());
    v.extend_from_slice(&[0x12, 0x34]);
    v.extend_from_slice(&frag.to_be_bytes());
    v.extend_from_slice(&[64, proto, 0, 0]);
    v.extend_from_slice(&C4);
    v.extend_from_slice(&S4);
    v.extend_from_slice(payload);
    v
}

fn ipv4(proto: u8, payload: &[u8]) -> Vec<u8> {
    ipv4_frag(proto, 0x4000, payload) // DF
}

fn ipv6(next: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0x60, 0, 0, 0];
    v.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    v.extend_from_slice(&[next, 64]);
    v.extend_from_slice(&C6);
    v.extend_from_slice(&S6);
    v.extend_from_slice(payload);
    v
}

fn eth(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
    v.extend_from_slice(&ethertype.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

fn vlan(tci: u16, ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = tci.to_be_bytes().to_vec();
    v.extend_from_slice(&ethertype.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

fn smb_tcp4() -> Vec<u8> {
    ipv4(6, &tcp(50000, 445, 1000, PSH_ACK, b"\0\0\0\x04\xfeSMB"))
}

fn smb_tcp6() -> Vec<u8> {
    ipv6(6, &tcp(50000, 445, 1000, PSH_ACK, b"\0\0\0\x04\xfeSMB"))
}

fn assert_smb(p: &Packet<'_>, v6: bool) {
    let (src, dst) = if v6 {
        (
            IpAddr::V6(Ipv6Addr::from(C6)),
            IpAddr::V6(Ipv6Addr::from(S6)),
        )
    } else {
        (
            IpAddr::V4(Ipv4Addr::from(C4)),
            IpAddr::V4(Ipv4Addr::from(S4)),
        )
    };
    assert_eq!((p.src, p.dst), (src, dst));
    assert!(!p.truncated);
    let Transport::Tcp(t) = p.transport else {
        panic!("not tcp: {p:?}")
    };
    assert_eq!(
        (t.src_port, t.dst_port, t.seq, t.ack),
        (50000, 445, 1000, 7)
    );
    assert!(t.ack_flag && !t.syn && !t.fin && !t.rst);
    assert_eq!(t.payload, b"\0\0\0\x04\xfeSMB");
}

/// Every valid frame used below, with its link type and whether it carries IP.
fn all_frames() -> Vec<(i32, Vec<u8>, bool)> {
    let mut sll = vec![0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x00];
    sll.extend_from_slice(&smb_tcp4());
    let mut sll2 = vec![
        0x86, 0xdd, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0,
    ];
    sll2.extend_from_slice(&smb_tcp6());
    let mut null_le = 2u32.to_le_bytes().to_vec();
    null_le.extend_from_slice(&smb_tcp4());
    let mut null_be = 2u32.to_be_bytes().to_vec();
    null_be.extend_from_slice(&smb_tcp4());
    let mut null6 = 30u32.to_le_bytes().to_vec();
    null6.extend_from_slice(&smb_tcp6());
    let mut ppp4 = vec![0xff, 0x03, 0x00, 0x21];
    ppp4.extend_from_slice(&smb_tcp4());
    let mut ppp6 = vec![0x00, 0x57];
    ppp6.extend_from_slice(&smb_tcp6());
    let mut loop4 = 2u32.to_be_bytes().to_vec();
    loop4.extend_from_slice(&smb_tcp4());
    let mut loop6 = 24u32.to_be_bytes().to_vec();
    loop6.extend_from_slice(&smb_tcp6());
    vec![
        (dlt::EN10MB, eth(0x0800, &smb_tcp4()), true),
        (dlt::EN10MB, eth(0x86dd, &smb_tcp6()), true),
        (
            dlt::EN10MB,
            eth(0x8100, &vlan(100, 0x0800, &smb_tcp4())),
            true,
        ),
        (
            dlt::EN10MB,
            eth(0x88a8, &vlan(10, 0x8100, &vlan(20, 0x86dd, &smb_tcp6()))),
            true,
        ),
        (dlt::LINUX_SLL, sll, true),
        (dlt::LINUX_SLL2, sll2, true),
        (dlt::NULL, null_le, true),
        (dlt::NULL, null_be, true),
        (dlt::NULL, null6, true),
        (dlt::LOOP, loop4, true),
        (dlt::PPP, ppp4, true),
        (dlt::PPP, ppp6, true),
        (dlt::LOOP, loop6, true),
        (dlt::RAW, smb_tcp4(), true),
        (dlt::RAW_BSD, smb_tcp6(), true),
        (dlt::LINKTYPE_RAW, smb_tcp4(), true),
        (dlt::IPV4, smb_tcp4(), true),
        (dlt::IPV6, smb_tcp6(), true),
        (
            dlt::EN10MB,
            eth(
                0x0806,
                &[
                    0, 1, 8, 0, 6, 4, 0, 1, 0, 0, 0, 0, 0, 0, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 10, 0,
                    0, 2,
                ],
            ),
            false,
        ),
    ]
}

#[test]
fn every_link_type_decodes() {
    for (lt, frame, is_ip) in all_frames() {
        let p = decode(lt, &frame).unwrap_or_else(|e| panic!("linktype {lt}: {e}"));
        if is_ip {
            let v6 = matches!(p.src, IpAddr::V6(_));
            assert_smb(&p, v6);
        } else {
            assert_eq!(p.transport, Transport::Other);
            assert!(p.src.is_unspecified());
        }
    }
}

#[test]
fn a_detached_packet_attaches_back_to_the_same_packet() {
    let mut frames = all_frames();
    frames.push((
        dlt::EN10MB,
        eth(0x0800, &ipv4(17, &udp(50_000, 443, b"quic"))),
        true,
    ));
    frames.push((
        dlt::EN10MB,
        eth(0x0800, &ipv4(6, &tcp(1, 445, 9, SYN, &[]))),
        true,
    ));
    for (lt, frame, _) in frames {
        let p = decode(lt, &frame).expect("decodes");
        let d = p.detach(&frame).expect("the payload is in the frame");
        // Another copy of the frame's bytes, as another thread would read them.
        let copy = frame.clone();
        assert_eq!(d.attach(&copy), p, "linktype {lt}");
        // Not from bytes the payload is not in.
        assert!(matches!(p.transport, Transport::Other) || p.detach(&copy).is_none());
    }
}

#[test]
fn every_truncated_prefix_is_an_error_or_flagged() {
    for (lt, frame, is_ip) in all_frames() {
        for cut in 0..frame.len() {
            match decode(lt, &frame[..cut]) {
                Err(e) => assert!(e.offset <= frame.len(), "{lt}/{cut}: {e}"),
                Ok(p) if is_ip => {
                    assert!(p.truncated, "linktype {lt} cut at {cut} not flagged: {p:?}")
                }
                Ok(_) => {}
            }
        }
    }
}

#[test]
fn ethernet_padding_never_reaches_the_payload() {
    let mut frame = eth(0x0800, &ipv4(6, &tcp(445, 50000, 5, PSH_ACK, b"\x85\0")));
    assert!(frame.len() < 60);
    frame.resize(60, 0xaa);
    let p = decode(dlt::EN10MB, &frame).unwrap();
    let Transport::Tcp(t) = p.transport else {
        panic!()
    };
    assert_eq!(t.payload, b"\x85\0");
    assert!(!p.truncated);
    // A 4-byte FCS after the IP packet is ignored the same way.
    let mut with_fcs = eth(0x0800, &smb_tcp4());
    with_fcs.extend_from_slice(&[1, 2, 3, 4]);
    assert_smb(&decode(dlt::EN10MB, &with_fcs).unwrap(), false);
}

#[test]
fn snaplen_cut_payload_is_delivered_and_flagged() {
    let frame = eth(0x0800, &ipv4(6, &tcp(50000, 445, 1, PSH_ACK, &[0x11; 100])));
    let p = decode(dlt::EN10MB, &frame[..14 + 20 + 20 + 30]).unwrap();
    assert!(p.truncated);
    let Transport::Tcp(t) = p.transport else {
        panic!()
    };
    assert_eq!(t.payload, &[0x11; 30]);
    // Cut inside the TCP header: flagged, no transport.
    let p = decode(dlt::EN10MB, &frame[..14 + 20 + 10]).unwrap();
    assert!(p.truncated);
    assert_eq!(p.transport, Transport::Other);
}

#[test]
fn ipv6_extension_headers_and_udp() {
    // Hop-by-hop (8 bytes, next = dest options), dest options (8 bytes, next = TCP).
    let mut ext = vec![60, 0, 1, 4, 0, 0, 0, 0];
    ext.extend_from_slice(&[6, 0, 1, 4, 0, 0, 0, 0]);
    ext.extend_from_slice(&tcp(50000, 445, 1000, PSH_ACK, b"\0\0\0\x04\xfeSMB"));
    assert_smb(&decode(dlt::IPV6, &ipv6(0, &ext)).unwrap(), true);

    let p_frame = ipv6(17, &udp(443, 50001, b"quic"));
    let p = decode(dlt::RAW, &p_frame).unwrap();
    assert_eq!(
        p.transport,
        Transport::Udp {
            src_port: 443,
            dst_port: 50001,
            payload: b"quic"
        }
    );
}

#[test]
fn ipv4_fragments() {
    let seg = tcp(50000, 445, 9, PSH_ACK, &[0x22; 40]);
    // First fragment: MF set, offset 0, carries the TCP header and a payload prefix.
    let first_frame = ipv4_frag(6, 0x2000, &seg[..48]);
    let first = decode(dlt::RAW, &first_frame).unwrap();
    assert!(first.truncated);
    let Transport::Tcp(t) = first.transport else {
        panic!("{first:?}")
    };
    assert_eq!((t.seq, t.payload.len()), (9, 28));
    // Later fragment (offset 6 * 8 = 48): skipped.
    let later_frame = ipv4_frag(6, 6, &seg[48..]);
    let later = decode(dlt::RAW, &later_frame).unwrap();
    assert_eq!(later.transport, Transport::Other);
}

#[test]
fn ipv6_fragments() {
    let seg = tcp(50000, 445, 9, PSH_ACK, &[0x22; 40]);
    let frag = |offset_units: u16, more: bool, body: &[u8]| {
        let mut v = vec![6, 0];
        v.extend_from_slice(&((offset_units << 3) | u16::from(more)).to_be_bytes());
        v.extend_from_slice(&[0, 0, 0, 1]);
        v.extend_from_slice(body);
        ipv6(44, &v)
    };
    let first_frame = frag(0, true, &seg[..48]);
    let first = decode(dlt::RAW, &first_frame).unwrap();
    assert!(first.truncated);
    assert!(matches!(first.transport, Transport::Tcp(t) if t.seq == 9));
    let later_frame = frag(6, false, &seg[48..]);
    let later = decode(dlt::RAW, &later_frame).unwrap();
    assert_eq!(later.transport, Transport::Other);
}

#[test]
fn errors_say_where() {
    let e = decode(999, &[0; 40]).unwrap_err();
    assert_eq!((e.layer, e.reason), (Layer::Link, "unsupported link type"));
    let e = decode(dlt::IPV4, &smb_tcp6()).unwrap_err();
    assert_eq!(e.layer, Layer::Ip);
    let e = decode(dlt::LINUX_SLL, &[0; 10]).unwrap_err();
    assert_eq!(e.layer, Layer::Link);
    let mut bad_ip = smb_tcp4();
    bad_ip[0] = 0x41; // IHL 4: shorter than the minimum header
    let e = decode(dlt::RAW, &bad_ip).unwrap_err();
    assert_eq!((e.layer, e.offset), (Layer::Ip, 0));
    let mut null = 2u32.to_le_bytes().to_vec();
    null.extend_from_slice(&bad_ip);
    assert_eq!(decode(dlt::NULL, &null).unwrap_err().offset, 4);
    // Unknown loopback family: not IP, not an error.
    let mut other = 7u32.to_le_bytes().to_vec();
    other.extend_from_slice(&[0; 20]);
    assert_eq!(
        decode(dlt::NULL, &other).unwrap().transport,
        Transport::Other
    );
}

#[test]
fn syn_flags() {
    let p_frame = ipv4(6, &tcp(50000, 445, 77, SYN, &[]));
    let p = decode(dlt::RAW, &p_frame).unwrap();
    let Transport::Tcp(t) = p.transport else {
        panic!()
    };
    assert!(t.syn && !t.ack_flag && t.payload.is_empty());
}

#[test]
fn random_bytes_never_panic() {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut buf = [0u8; 128];
    let types = [
        dlt::NULL,
        dlt::EN10MB,
        dlt::PPP,
        dlt::RAW,
        dlt::LINKTYPE_RAW,
        dlt::LOOP,
        dlt::LINUX_SLL,
        dlt::IPV4,
        dlt::IPV6,
        dlt::LINUX_SLL2,
    ];
    for i in 0..50_000usize {
        for b in buf.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        // Make IP-looking starts likely.
        let lt = types[i % types.len()];
        let ip_at = match lt {
            dlt::EN10MB => 14,
            dlt::LINUX_SLL => 16,
            dlt::LINUX_SLL2 => 20,
            dlt::NULL | dlt::LOOP | dlt::PPP => 4,
            _ => 0,
        };
        buf[ip_at] = if i % 2 == 0 { 0x45 } else { 0x60 };
        let len = (x as usize) % buf.len();
        let _ = decode(lt, &buf[..len]);
    }
}

/// Found by the `engine` fuzz target (fuzz/artifacts/engine/crash-c0da9fce…, a 165 KB frame
/// sequence; these frames are the shape it reduces to): an IPv6 extension chain whose last
/// header that parses names another extension header that is cut short or invalid. etherparse
/// 0.21's lax parse keeps the headers before the bad one, and its `Ipv6ExtensionSliceIter`
/// then reads the named next header past the end of the slice (`get_unchecked` out of bounds:
/// a panic with debug assertions, an out-of-bounds read without). `decode` walks the chain
/// itself now.
#[test]
fn ipv6_extension_chain_cut_inside_never_reads_past_it() {
    let seg = tcp(50000, 445, 9, PSH_ACK, &[0x22; 8]);
    let hop = |next: u8| vec![next, 0, 1, 4, 0, 0, 0, 0];
    for (first, chain) in [
        // Hop-by-hop naming a routing header that has 2 of its 8 bytes.
        (0u8, [hop(43), vec![6, 0]].concat()),
        // Hop-by-hop naming a second hop-by-hop (only allowed first).
        (0, [hop(0), hop(6), seg.clone()].concat()),
        // Destination options naming a fragment header cut to 3 bytes.
        (60, [hop(44), vec![6, 0, 0]].concat()),
        // Hop-by-hop naming an authentication header whose length runs past the packet.
        (0, [hop(51), vec![6, 200, 0, 0, 0, 0, 0, 0]].concat()),
        // Routing naming a fragment naming destination options cut short.
        (
            43,
            [hop(44), vec![60, 0, 0, 0, 0, 0, 0, 1], vec![6]].concat(),
        ),
    ] {
        let frame = ipv6(first, &chain);
        for n in 0..=frame.len() {
            for linktype in [dlt::RAW, dlt::IPV6] {
                let _ = decode(linktype, &frame[..n]);
            }
        }
    }
    // A later fragment behind a hop-by-hop header is still recognised as one.
    let mut later = hop(44);
    later.extend_from_slice(&[6, 0, 0, 6 << 3, 0, 0, 0, 1]);
    later.extend_from_slice(&seg[8..]);
    let later_frame = ipv6(0, &later);
    let later = decode(dlt::RAW, &later_frame).unwrap();
    assert_eq!(later.transport, Transport::Other);
}
