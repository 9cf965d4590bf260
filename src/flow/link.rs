//! Link / IP / transport decode of one captured frame, zero-copy, on top of etherparse's lax
//! slicer (which tolerates frames cut by the snapshot length).

use std::net::{IpAddr, Ipv4Addr};

use etherparse::err::packet::SliceError;
use etherparse::{
    EtherType, LaxIpPayloadSlice, LaxNetSlice, LaxSlicedPacket, TcpSlice, TransportSlice, UdpSlice,
    ip_number,
};

use crate::wire::{Layer, ParseError};

/// libpcap link-layer header types (DLT_* / LINKTYPE_* values) that [`decode`] understands.
pub mod dlt {
    /// BSD loopback: 4-byte address family in the capturing host's byte order.
    pub const NULL: i32 = 0;
    /// Ethernet II, with optional 802.1Q / 802.1ad VLAN tags.
    pub const EN10MB: i32 = 1;
    /// PPP (RFC 1661), optionally with HDLC-like address/control bytes `ff 03` (RFC 1662).
    pub const PPP: i32 = 9;
    /// Raw IP (DLT_RAW on most platforms).
    pub const RAW: i32 = 12;
    /// Raw IP (DLT_RAW on some BSDs).
    pub const RAW_BSD: i32 = 14;
    /// Raw IP (LINKTYPE_RAW, as written to pcap files).
    pub const LINKTYPE_RAW: i32 = 101;
    /// OpenBSD loopback: 4-byte address family in network byte order.
    pub const LOOP: i32 = 108;
    /// Linux "cooked" capture v1 (16-byte header).
    pub const LINUX_SLL: i32 = 113;
    /// Raw IPv4 only.
    pub const IPV4: i32 = 228;
    /// Raw IPv6 only.
    pub const IPV6: i32 = 229;
    /// Linux "cooked" capture v2 (20-byte header).
    pub const LINUX_SLL2: i32 = 276;
}

/// One decoded IP packet, borrowing the frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub transport: Transport<'a>,
    /// The frame was cut short (snaplen) or is a first IP fragment: the payload is a prefix
    /// of what was sent.
    pub truncated: bool,
}

/// A [`Packet`] without its borrow of the frame: the payload is kept as a place in the frame's
/// bytes, so that the decoded packet can go to another thread that reads the same bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Detached {
    /// The packet, with an empty payload.
    packet: Packet<'static>,
    /// Where the payload is in the frame's bytes.
    payload: (u32, u32),
}

impl Packet<'_> {
    /// This packet without its borrow of `data`, the frame's bytes it was decoded from
    /// ([`Detached::attach`] gives it back); `None` when its payload is not within `data`.
    pub fn detach(&self, data: &[u8]) -> Option<Detached> {
        let (transport, payload) = match self.transport {
            Transport::Tcp(seg) => (
                Transport::Tcp(TcpSeg {
                    payload: &[],
                    ..seg
                }),
                seg.payload,
            ),
            Transport::Udp {
                src_port,
                dst_port,
                payload,
            } => (
                Transport::Udp {
                    src_port,
                    dst_port,
                    payload: &[],
                },
                payload,
            ),
            Transport::Other => (Transport::Other, &[][..]),
        };
        let place = if matches!(transport, Transport::Other) {
            (0, 0)
        } else {
            // Addresses only, compared: no pointer is made from them.
            let off = payload.as_ptr().addr().checked_sub(data.as_ptr().addr())?;
            let end = off.checked_add(payload.len())?;
            if end > data.len() {
                return None;
            }
            (u32::try_from(off).ok()?, u32::try_from(end).ok()?)
        };
        Some(Detached {
            packet: Packet {
                src: self.src,
                dst: self.dst,
                transport,
                truncated: self.truncated,
            },
            payload: place,
        })
    }
}

impl Detached {
    /// The packet again, over `data`: the bytes of the frame it was detached from.
    pub fn attach<'a>(&self, data: &'a [u8]) -> Packet<'a> {
        let payload = data
            .get(self.payload.0 as usize..self.payload.1 as usize)
            .unwrap_or_default();
        let transport = match self.packet.transport {
            Transport::Tcp(seg) => Transport::Tcp(TcpSeg { payload, ..seg }),
            Transport::Udp {
                src_port, dst_port, ..
            } => Transport::Udp {
                src_port,
                dst_port,
                payload,
            },
            Transport::Other => Transport::Other,
        };
        Packet {
            transport,
            ..self.packet
        }
    }
}

/// The transport layer of a [`Packet`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport<'a> {
    Tcp(TcpSeg<'a>),
    Udp {
        src_port: u16,
        dst_port: u16,
        payload: &'a [u8],
    },
    /// Anything else: another IP protocol, a non-first IP fragment, a transport header cut by
    /// snaplen, or a frame that carries no IP at all (then the addresses are unspecified).
    Other,
}

/// A TCP segment: the header fields reassembly needs and the payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpSeg<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub syn: bool,
    /// The ACK flag (`ack` is only meaningful when set).
    pub ack_flag: bool,
    pub fin: bool,
    pub rst: bool,
    pub payload: &'a [u8],
}

/// Decodes one frame of link type `linktype` (a [`dlt`] value) down to TCP/UDP.
///
/// Frames that carry no IP (ARP, LLDP, an unknown loopback address family) decode to
/// `Transport::Other` with unspecified addresses. `Err` means the frame claims a supported
/// link type or IP but is too short or malformed there, or the link type is unsupported.
/// The IP length fields bound the payload, so Ethernet padding never reaches it.
pub fn decode(linktype: i32, data: &[u8]) -> Result<Packet<'_>, ParseError> {
    let (sliced, base) = match linktype {
        dlt::EN10MB => {
            let p = LaxSlicedPacket::from_ethernet(data)
                .map_err(|_| ParseError::new(Layer::Link, 0, "truncated ethernet header"))?;
            (p, 0)
        }
        dlt::LINUX_SLL => {
            let (et, rest) = cooked(data, sll::LEN, sll::PROTOCOL, "truncated linux sll header")?;
            (LaxSlicedPacket::from_ether_type(et, rest), sll::LEN)
        }
        dlt::LINUX_SLL2 => {
            let (et, rest) = cooked(
                data,
                sll2::LEN,
                sll2::PROTOCOL,
                "truncated linux sll2 header",
            )?;
            (LaxSlicedPacket::from_ether_type(et, rest), sll2::LEN)
        }
        dlt::NULL | dlt::LOOP => {
            let af = data.get(..loopback::LEN).ok_or(ParseError::new(
                Layer::Link,
                0,
                "truncated loopback header",
            ))?;
            let af = [af[0], af[1], af[2], af[3]];
            let af = if linktype == dlt::LOOP {
                u32::from_be_bytes(af)
            } else {
                // Host byte order of the capturing machine: accept either.
                let le = u32::from_le_bytes(af);
                if le > 0xffff {
                    u32::from_be_bytes(af)
                } else {
                    le
                }
            };
            if !loopback::is_ip(af) {
                return Ok(not_ip());
            }
            (
                from_ip(&data[loopback::LEN..], loopback::LEN, None)?,
                loopback::LEN,
            )
        }
        dlt::PPP => {
            let start = if data.starts_with(&ppp::ADDRESS_CONTROL) {
                2
            } else {
                0
            };
            let proto = data.get(start..start + 2).ok_or(ParseError::new(
                Layer::Link,
                0,
                "truncated ppp header",
            ))?;
            let version = match u16::from_be_bytes([proto[0], proto[1]]) {
                ppp::IPV4 => 4,
                ppp::IPV6 => 6,
                _ => return Ok(not_ip()),
            };
            let base = start + 2;
            (from_ip(&data[base..], base, Some(version))?, base)
        }
        dlt::RAW | dlt::RAW_BSD | dlt::LINKTYPE_RAW => (from_ip(data, 0, None)?, 0),
        dlt::IPV4 => (from_ip(data, 0, Some(4))?, 0),
        dlt::IPV6 => (from_ip(data, 0, Some(6))?, 0),
        _ => return Err(ParseError::new(Layer::Link, 0, "unsupported link type")),
    };
    convert(sliced, base)
}

/// Linux cooked capture v1 header (see pcap-linktype(7), LINKTYPE_LINUX_SLL).
mod sll {
    pub const LEN: usize = 16;
    /// Protocol type (an EtherType for IP), big-endian.
    pub const PROTOCOL: usize = 14;
}

/// Linux cooked capture v2 header (LINKTYPE_LINUX_SLL2).
mod sll2 {
    pub const LEN: usize = 20;
    /// Protocol type, big-endian, first in v2.
    pub const PROTOCOL: usize = 0;
}

/// PPP framing (RFC 1661 section 2, RFC 1662 section 3.1).
mod ppp {
    /// All-stations address and unnumbered-information control, when present.
    pub const ADDRESS_CONTROL: [u8; 2] = [0xff, 0x03];
    pub const IPV4: u16 = 0x0021;
    pub const IPV6: u16 = 0x0057;
}

/// BSD loopback header (LINKTYPE_NULL / LINKTYPE_LOOP): the address family.
mod loopback {
    pub const LEN: usize = 4;
    const AF_INET: u32 = 2;
    /// AF_INET6 on NetBSD/OpenBSD (24), FreeBSD (28) and macOS (30).
    const AF_INET6: [u32; 3] = [24, 28, 30];

    pub fn is_ip(af: u32) -> bool {
        af == AF_INET || AF_INET6.contains(&af)
    }
}

/// Splits a Linux cooked header of `len` bytes with a big-endian protocol at `proto`.
fn cooked<'a>(
    data: &'a [u8],
    len: usize,
    proto: usize,
    reason: &'static str,
) -> Result<(EtherType, &'a [u8]), ParseError> {
    let (hdr, rest) = data
        .split_at_checked(len)
        .ok_or(ParseError::new(Layer::Link, 0, reason))?;
    let et = u16::from_be_bytes([hdr[proto], hdr[proto + 1]]);
    Ok((EtherType(et), rest))
}

/// Raw IP starting at `data` (frame offset `base`), optionally of a required version.
fn from_ip(
    data: &[u8],
    base: usize,
    version: Option<u8>,
) -> Result<LaxSlicedPacket<'_>, ParseError> {
    let first = *data
        .first()
        .ok_or(ParseError::new(Layer::Ip, base, "truncated ip header"))?;
    if version.is_some_and(|v| v != first >> 4) {
        return Err(ParseError::new(
            Layer::Ip,
            base,
            "ip version does not match link type",
        ));
    }
    LaxSlicedPacket::from_ip(data).map_err(|e| match e {
        etherparse::err::ip::LaxHeaderSliceError::Len(_) => {
            ParseError::new(Layer::Ip, base, "truncated ip header")
        }
        etherparse::err::ip::LaxHeaderSliceError::Content(_) => {
            ParseError::new(Layer::Ip, base, "bad ip header")
        }
    })
}

/// A frame that carries no IP.
fn not_ip<'a>() -> Packet<'a> {
    Packet {
        src: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        dst: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        transport: Transport::Other,
        truncated: false,
    }
}

/// Walks the IPv6 extension headers in `exts` (the first one of type `next`), bounds-checking
/// each, and tells whether the packet is not a non-first fragment (RFC 8200 §4.5: a Fragment
/// header with a nonzero Fragment Offset). The walk stops at the end of `exts`, at a header that
/// does not fit, or at a protocol that is not an extension header.
fn ipv6_first_fragment(mut next: u8, mut exts: &[u8]) -> bool {
    /// IPv6 extension header protocol numbers (IANA).
    mod ext {
        pub const HOP_BY_HOP: u8 = 0;
        pub const ROUTING: u8 = 43;
        pub const FRAGMENT: u8 = 44;
        pub const AUTH: u8 = 51;
        pub const DEST_OPTIONS: u8 = 60;
    }
    while let Some(&[nh, len, b2, b3]) = exts.first_chunk::<4>() {
        let size = match next {
            ext::HOP_BY_HOP | ext::ROUTING | ext::DEST_OPTIONS => (usize::from(len) + 1) * 8,
            ext::FRAGMENT => {
                // Fragment Offset: the top 13 bits of bytes 2..4.
                if u16::from_be_bytes([b2, b3]) >> 3 != 0 {
                    return false;
                }
                8
            }
            ext::AUTH => (usize::from(len) + 2) * 4,
            _ => break,
        };
        let Some(rest) = exts.get(size..) else { break };
        exts = rest;
        next = nh;
    }
    true
}

/// etherparse's result to a [`Packet`]; `base` = frame offset of the sliced part.
fn convert(p: LaxSlicedPacket<'_>, base: usize) -> Result<Packet<'_>, ParseError> {
    let (src, dst, payload, first_fragment) = match &p.net {
        Some(LaxNetSlice::Ipv4(ip)) => {
            let h = ip.header();
            let first = h.fragments_offset().value() == 0;
            (
                IpAddr::V4(h.source_addr()),
                IpAddr::V4(h.destination_addr()),
                ip.payload(),
                first,
            )
        }
        Some(LaxNetSlice::Ipv6(ip)) => {
            let h = ip.header();
            // Not etherparse's extension iterator: on a lax parse that stopped inside the
            // extension chain it reads past the slice it was given (etherparse 0.21,
            // `Ipv6ExtensionSliceIter::next`; found by the `engine` fuzz target).
            let first = ip
                .extensions()
                .first_header()
                .is_none_or(|first| ipv6_first_fragment(first.0, ip.extensions().slice()));
            (
                IpAddr::V6(h.source_addr()),
                IpAddr::V6(h.destination_addr()),
                ip.payload(),
                first,
            )
        }
        Some(LaxNetSlice::Arp(_)) => return Ok(not_ip()),
        None => {
            return match p.stop_err {
                None => Ok(not_ip()),
                Some((err, layer)) => Err(stop_error(&err, layer, base)),
            };
        }
    };
    let mut pkt = Packet {
        src,
        dst,
        transport: Transport::Other,
        truncated: payload.incomplete,
    };
    if payload.fragmented {
        // No IP reassembly: a first fragment gives its transport header and a payload prefix;
        // later fragments are `Other`.
        if first_fragment {
            pkt.truncated = true;
            pkt.transport = fragment_transport(payload);
        }
        return Ok(pkt);
    }
    match (&p.transport, &p.stop_err) {
        (Some(TransportSlice::Tcp(t)), _) => pkt.transport = Transport::Tcp(tcp_seg(t)),
        (Some(TransportSlice::Udp(u)), _) => pkt.transport = udp(u),
        (_, Some((SliceError::Len(_), _))) => pkt.truncated = true,
        (_, Some((err, layer))) => return Err(stop_error(err, *layer, base)),
        _ => {}
    }
    Ok(pkt)
}

/// The transport of a first IP fragment, parsed by hand (etherparse stops at fragments).
fn fragment_transport<'a>(payload: &LaxIpPayloadSlice<'a>) -> Transport<'a> {
    match payload.ip_number {
        ip_number::TCP => match TcpSlice::from_slice(payload.payload) {
            Ok(t) => Transport::Tcp(tcp_seg(&t)),
            Err(_) => Transport::Other,
        },
        ip_number::UDP => match UdpSlice::from_slice_lax(payload.payload) {
            Ok(u) => udp(&u),
            Err(_) => Transport::Other,
        },
        _ => Transport::Other,
    }
}

fn tcp_seg<'a>(t: &TcpSlice<'a>) -> TcpSeg<'a> {
    TcpSeg {
        src_port: t.source_port(),
        dst_port: t.destination_port(),
        seq: t.sequence_number(),
        ack: t.acknowledgment_number(),
        syn: t.syn(),
        ack_flag: t.ack(),
        fin: t.fin(),
        rst: t.rst(),
        payload: t.payload(),
    }
}

fn udp<'a>(u: &UdpSlice<'a>) -> Transport<'a> {
    Transport::Udp {
        src_port: u.source_port(),
        dst_port: u.destination_port(),
        payload: u.payload(),
    }
}

/// An etherparse stop error to a [`ParseError`] naming our layer and the frame offset.
fn stop_error(err: &SliceError, layer: etherparse::err::Layer, base: usize) -> ParseError {
    use etherparse::err::Layer as L;
    let our_layer = match layer {
        L::LinuxSllHeader | L::Ethernet2Header | L::EtherPayload | L::VlanHeader => Layer::Link,
        L::MacsecHeader | L::MacsecPacket | L::Arp => Layer::Link,
        L::TcpHeader => Layer::Tcp,
        L::UdpHeader | L::UdpPayload => Layer::Udp,
        _ => Layer::Ip,
    };
    match err {
        SliceError::Len(l) => {
            let reason = match our_layer {
                Layer::Link => "truncated link header",
                Layer::Tcp => "truncated tcp header",
                Layer::Udp => "truncated udp header",
                _ => "truncated ip header",
            };
            ParseError::new(our_layer, base.saturating_add(l.layer_start_offset), reason)
        }
        SliceError::Tcp(_) => ParseError::new(Layer::Tcp, base, "bad tcp header"),
        _ => ParseError::new(our_layer, base, "bad header"),
    }
}

#[cfg(test)]
#[path = "link_tests.rs"]
mod tests;
