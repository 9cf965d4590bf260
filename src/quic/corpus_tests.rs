//! Interop against the third-party corpus (`$SMBSCOPE_CORPUS`, else `../shared/corpus`; skipped
//! with a notice when absent). Expected values are from `MANIFEST.md` rows 8-15, 48-49 and
//! 74-80 (Zeek quic.log baselines, Suricata test.yaml, tshark 4.0.17 observations).
//!
//! A small passive decoder lives here, test-only: it follows one QUIC connection through its
//! datagrams, derives Initial keys (re-deriving after a Retry), reassembles CRYPTO per level and
//! direction, takes the ClientHello random and the ServerHello suite, and opens Handshake and
//! 1-RTT packets with key-log secrets.

use std::net::IpAddr;
use std::path::Path;

use super::crypto_stream::StreamBuf;
use super::frame::{Frame, frames};
use super::keylog::{KeyLog, Label};
use super::packet::{Packet, PacketType, split_datagram};
use super::protect::{Keys, OpenError, Suite, verify_retry};
use super::{corpus_dir, hex};
use crate::capture::OfflineCapture;
use crate::flow::{Transport, decode};

/// One UDP datagram of a capture.
struct Dgram {
    src: (IpAddr, u16),
    dst: (IpAddr, u16),
    payload: Vec<u8>,
}

fn udp_datagrams(path: &Path) -> Vec<Dgram> {
    let mut cap = OfflineCapture::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = Vec::new();
    while let Some(frame) = cap.next_frame().unwrap() {
        let Ok(pkt) = decode(frame.linktype, frame.data) else {
            continue;
        };
        if let Transport::Udp {
            src_port,
            dst_port,
            payload,
        } = pkt.transport
        {
            out.push(Dgram {
                src: (pkt.src, src_port),
                dst: (pkt.dst, dst_port),
                payload: payload.to_vec(),
            });
        }
    }
    out
}

/// Encryption levels with CRYPTO streams.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Level {
    Initial = 0,
    Handshake = 1,
    OneRtt = 2,
}

const CLIENT: usize = 0;
const SERVER: usize = 1;

/// What the decoder saw on one connection.
#[derive(Default, Debug)]
struct Seen {
    /// Packets opened, by [direction][level].
    opened: [[usize; 3]; 2],
    /// Protected packets that did not open (no keys yet, or BadTag).
    failed: usize,
    /// Datagrams that carried at least one STREAM frame.
    stream_datagrams: usize,
    /// Bytes of STREAM data per direction.
    stream_bytes: [usize; 2],
    /// Stream 0 data of each direction, in order (capped).
    stream0: [Vec<u8>; 2],
    retries: usize,
    client_hellos: usize,
    retry_verified: usize,
    /// DCIDs the client's Initials used.
    client_initial_dcids: Vec<Vec<u8>>,
    alerts: Vec<u8>,
}

/// A passive follower of one QUIC connection.
struct Conn {
    client: (IpAddr, u16),
    version: u32,
    /// The DCID Initial keys derive from (the Retry's SCID after a Retry).
    initial_dcid: Vec<u8>,
    initial: [Keys; 2],
    handshake: [Option<Keys>; 2],
    one_rtt: [Option<Keys>; 2],
    largest: [[Option<u64>; 3]; 2],
    crypto: [[StreamBuf; 3]; 2],
    client_scid_len: Option<usize>,
    server_scid_len: Option<usize>,
    client_hello: Option<Vec<u8>>,
    suite: Option<Suite>,
    keylog: Option<KeyLog>,
    seen: Seen,
}

impl Conn {
    fn new(first: &Dgram, keylog: Option<KeyLog>) -> Option<Conn> {
        let pkt = split_datagram(&first.payload, None).next()?.ok()?;
        if pkt.ty != PacketType::Initial {
            return None;
        }
        Some(Conn {
            client: first.src,
            version: pkt.version,
            initial_dcid: pkt.dcid.to_vec(),
            initial: [
                Keys::initial(pkt.version, pkt.dcid, true),
                Keys::initial(pkt.version, pkt.dcid, false),
            ],
            handshake: [None, None],
            one_rtt: [None, None],
            largest: [[None; 3]; 2],
            crypto: std::array::from_fn(|_| std::array::from_fn(|_| StreamBuf::new(64 * 1024))),
            client_scid_len: Some(pkt.scid.len()),
            server_scid_len: None,
            client_hello: None,
            suite: None,
            keylog,
            seen: Seen::default(),
        })
    }

    fn handle(&mut self, d: &Dgram) {
        let dir = if d.src == self.client {
            CLIENT
        } else if d.dst == self.client {
            SERVER
        } else {
            return;
        };
        // Short headers carry the peer's SCID as DCID.
        let short_len = if dir == CLIENT {
            self.server_scid_len
        } else {
            self.client_scid_len
        };
        let mut out = Vec::new();
        let mut had_stream = false;
        for pkt in split_datagram(&d.payload, short_len).map_while(Result::ok) {
            if pkt.ty == PacketType::Retry {
                self.retry(&pkt);
                continue;
            }
            if pkt.is_long() {
                if dir == SERVER && self.server_scid_len.is_none() {
                    self.server_scid_len = Some(pkt.scid.len());
                }
                if dir == CLIENT && pkt.ty == PacketType::Initial {
                    self.seen.client_initial_dcids.push(pkt.dcid.to_vec());
                }
            }
            let Some(level) = level_of(pkt.ty) else {
                continue;
            };
            match self.open(dir, level, &pkt, &mut out) {
                Ok(pn) => {
                    self.seen.opened[dir][level as usize] += 1;
                    let l = &mut self.largest[dir][level as usize];
                    *l = Some(l.map_or(pn, |x| x.max(pn)));
                    had_stream |= self.frames(dir, level, &out);
                }
                Err(_) => self.seen.failed += 1,
            }
        }
        if had_stream {
            self.seen.stream_datagrams += 1;
        }
    }

    fn open(
        &mut self,
        dir: usize,
        level: Level,
        pkt: &Packet<'_>,
        out: &mut Vec<u8>,
    ) -> Result<u64, OpenError> {
        let largest = self.largest[dir][level as usize];
        let keys = match level {
            Level::Initial => {
                if pkt.version != self.initial[dir].version() {
                    // Compatible version negotiation (RFC 9368): same DCID, other salt.
                    self.initial[dir] =
                        Keys::initial(pkt.version, &self.initial_dcid, dir == CLIENT);
                }
                &self.initial[dir]
            }
            Level::Handshake => self.handshake[dir].as_ref().ok_or(OpenError::Unsupported)?,
            Level::OneRtt => {
                let keys = self.one_rtt[dir].as_ref().ok_or(OpenError::Unsupported)?;
                // Key phase 1 after one key update; this corpus has no second update.
                if keys.first_byte(pkt)? & 0x04 != 0 {
                    let next = keys.next_phase();
                    return next.open(pkt, largest, out).map(|o| o.pn);
                }
                keys
            }
        };
        keys.open(pkt, largest, out).map(|o| o.pn)
    }

    /// Walks the frames; returns whether a STREAM frame was among them.
    fn frames(&mut self, dir: usize, level: Level, payload: &[u8]) -> bool {
        let mut had_stream = false;
        for f in frames(payload) {
            match f.unwrap_or_else(|e| panic!("frame error {e} at {level:?}")) {
                Frame::Crypto { offset, data } => {
                    self.crypto[dir][level as usize]
                        .insert(offset, data)
                        .expect("CRYPTO within 64 KiB");
                }
                Frame::Stream {
                    id, offset, data, ..
                } => {
                    had_stream = true;
                    self.seen.stream_bytes[dir] += data.len();
                    let s0 = &mut self.seen.stream0[dir];
                    if id == 0 && offset as usize == s0.len() && s0.len() < 4096 {
                        s0.extend_from_slice(data);
                    }
                }
                f @ Frame::ConnectionClose { .. } => {
                    if let Some(a) = f.tls_alert() {
                        self.seen.alerts.push(a);
                    }
                }
                _ => {}
            }
        }
        self.after_crypto(dir, level);
        had_stream
    }

    /// Takes the ClientHello and ServerHello once complete, then derives keys from the key log.
    fn after_crypto(&mut self, dir: usize, level: Level) {
        if level != Level::Initial {
            return;
        }
        let buf = &self.crypto[dir][Level::Initial as usize];
        let Some(msg) = handshake_message(buf.readable()) else {
            return;
        };
        if dir == CLIENT && self.client_hello.is_none() {
            assert_eq!(msg[0], 0x01, "ClientHello");
            self.client_hello = Some(msg.to_vec());
            self.seen.client_hellos += 1;
        }
        if dir == SERVER && self.suite.is_none() {
            assert_eq!(msg[0], 0x02, "ServerHello");
            self.suite = server_hello_suite(msg);
            self.derive_from_keylog();
        }
    }

    fn derive_from_keylog(&mut self) {
        let (Some(log), Some(ch), Some(suite)) = (&self.keylog, &self.client_hello, self.suite)
        else {
            return;
        };
        let random: [u8; 32] = ch[6..38].try_into().unwrap();
        let v = self.version;
        let keys = |label| {
            log.get(&random, label)
                .and_then(|s| Keys::from_secret(v, suite, s))
        };
        self.handshake = [keys(Label::ClientHandshake), keys(Label::ServerHandshake)];
        self.one_rtt = [keys(Label::ClientTraffic0), keys(Label::ServerTraffic0)];
    }

    fn retry(&mut self, pkt: &Packet<'_>) {
        self.seen.retries += 1;
        if verify_retry(pkt, &self.initial_dcid) {
            self.seen.retry_verified += 1;
        }
        // The client's next Initial goes to the Retry's SCID, and keys derive from it.
        self.initial_dcid = pkt.scid.to_vec();
        self.initial = [
            Keys::initial(pkt.version, pkt.scid, true),
            Keys::initial(pkt.version, pkt.scid, false),
        ];
        self.largest = [[None; 3]; 2];
        self.client_hello = None;
        self.crypto = std::array::from_fn(|_| std::array::from_fn(|_| StreamBuf::new(64 * 1024)));
    }
}

fn level_of(ty: PacketType) -> Option<Level> {
    match ty {
        PacketType::Initial => Some(Level::Initial),
        PacketType::Handshake => Some(Level::Handshake),
        PacketType::OneRtt => Some(Level::OneRtt),
        _ => None,
    }
}

/// The first complete TLS handshake message of `buf` (type u8, length u24).
fn handshake_message(buf: &[u8]) -> Option<&[u8]> {
    let len = u32::from_be_bytes([0, *buf.get(1)?, *buf.get(2)?, *buf.get(3)?]) as usize;
    buf.get(..4 + len)
}

/// ServerHello: type, len u24, legacy_version u16, random 32, session id (u8 len), suite u16.
fn server_hello_suite(msg: &[u8]) -> Option<Suite> {
    let sid_len = usize::from(*msg.get(4 + 2 + 32)?);
    let at = 4 + 2 + 32 + 1 + sid_len;
    Suite::from_codepoint(u16::from_be_bytes([*msg.get(at)?, *msg.get(at + 1)?]))
}

/// Follows the first connection of `file` (the one the first client Initial opens).
fn follow(dir: &Path, file: &str, keylog: Option<&str>) -> Conn {
    let dgrams = udp_datagrams(&dir.join(file));
    let log = keylog.map(|k| {
        let (log, warnings) = KeyLog::parse(&std::fs::read_to_string(dir.join(k)).unwrap());
        assert!(warnings.is_empty(), "{warnings:?}");
        log
    });
    let first = dgrams
        .iter()
        .position(|d| {
            split_datagram(&d.payload, None)
                .next()
                .and_then(Result::ok)
                .is_some_and(|p| p.ty == PacketType::Initial)
        })
        .unwrap_or_else(|| panic!("{file}: no Initial"));
    let mut conn = Conn::new(&dgrams[first], log).unwrap();
    for d in &dgrams[first..] {
        conn.handle(d);
    }
    conn
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn initial_only_captures_give_the_client_hello() {
    let Some(dir) = corpus_dir() else {
        return;
    };
    // (file, version, client's first DCID, byte strings the ClientHello holds: SNI and ALPN).
    let cases: [(&str, u32, &str, &[&[u8]]); 9] = [
        (
            "zeek/quic_chromium-115.0.5790.110-api-cirrus-com.pcap",
            1,
            "95412c47018cdfe8",
            &[b"api.cirrus-ci.com", b"h3"],
        ),
        (
            "zeek/quic_curl-8.1.2-dev-http3-www-google-de.pcap",
            1,
            "815d62c70884f4b51e8ccadd5beed372",
            &[b"www.google.de", b"h3-29"],
        ),
        ("zeek/quic_quicdoq.pcap", 1, "fda05288ab9ff546", &[b"doq"]),
        (
            "zeek/quic_quicv2-http3-443.pcap",
            0x6b33_43cf,
            "bdf0c5b27927cc667e58d95b",
            &[b"h3"],
        ),
        (
            "zeek/quic_quicv2-echo-443.pcap",
            0x6b33_43cf,
            "fa603212c8688817af3d3238735bc7",
            &[b"localhost", b"quic-echo-example"],
        ),
        (
            "zeek/quic_interop_quic-go_handshake.pcap",
            1,
            "a771f6161a4072c0bf10",
            &[b"server4", b"hq-interop"],
        ),
        (
            "suricata-verify/quic-v2__input.pcap",
            0x6b33_43cf,
            "0ac503e9808eff1ca8a3e6cb2cf0a394069f",
            &[b"h3"],
        ),
        (
            "suricata-verify/quic-ietf__input.pcap",
            1,
            "345d144296b90cff",
            &[b"msquic.net", b"h3-29"],
        ),
        (
            "illustrated-quic/capture.pcap",
            1,
            "0001020304050607",
            &[b"example.ulfheim.net", b"ping/1.0"],
        ),
    ];
    for (file, version, dcid, needles) in cases {
        let conn = follow(&dir, file, None);
        assert_eq!(conn.version, version, "{file}");
        assert_eq!(conn.seen.client_initial_dcids[0], hex(dcid), "{file}");
        let ch = conn
            .client_hello
            .as_ref()
            .unwrap_or_else(|| panic!("{file}: ClientHello not reassembled"));
        assert_eq!(ch[0], 0x01, "{file}");
        for n in needles {
            assert!(contains(ch, n), "{file}: {}", String::from_utf8_lossy(n));
        }
        assert!(
            conn.seen.opened[SERVER][0] > 0,
            "{file}: a server Initial opened"
        );
        assert!(conn.suite.is_some(), "{file}: ServerHello suite");
    }
}

#[test]
fn retry_then_initial_keys_from_the_retry_scid() {
    let Some(dir) = corpus_dir() else {
        return;
    };
    let conn = follow(&dir, "zeek/quic_interop_quic-go_retry.pcap", None);
    assert_eq!(conn.seen.retries, 1);
    assert_eq!(
        conn.seen.retry_verified, 1,
        "tag checks against the first DCID"
    );
    let dcids = &conn.seen.client_initial_dcids;
    assert_eq!(dcids[0], hex("4a8294bf9201d6cf"));
    let second = dcids.iter().find(|d| **d != dcids[0]).unwrap();
    assert!(second.starts_with(&hex("1b036a11")), "{second:02x?}");
    assert_eq!(conn.initial_dcid, *second);
    let ch = conn.client_hello.as_ref().expect("ClientHello after Retry");
    assert!(contains(ch, b"server4") && contains(ch, b"hq-interop"));
    assert!(conn.seen.opened[SERVER][0] > 0);
}

#[test]
fn draft29_initials_use_the_draft_salt() {
    let Some(dir) = corpus_dir() else {
        return;
    };
    let conn = follow(&dir, "wireshark/quic_follow_multistream.pcapng", None);
    assert_eq!(conn.version, 0xff00_001d);
    let ch = conn.client_hello.as_ref().expect("ClientHello");
    assert!(contains(ch, b"www.youtube.com") && contains(ch, b"h3-29"));
}

#[test]
fn key_log_decrypts_handshake_and_one_rtt() {
    let Some(dir) = corpus_dir() else {
        return;
    };
    let conn = follow(
        &dir,
        "wireshark/quic-with-secrets.pcapng",
        Some("wireshark/quic-with-secrets.pcapng.keylog"),
    );
    let ch = conn.client_hello.as_ref().unwrap();
    assert!(contains(ch, b"cloudflare-quic.com") && contains(ch, b"h3"));
    assert!(
        conn.handshake[SERVER].is_some(),
        "secrets found by client random"
    );
    let s = &conn.seen;
    for dir in [CLIENT, SERVER] {
        assert!(s.opened[dir][Level::Handshake as usize] > 0, "{s:?}");
        assert!(s.opened[dir][Level::OneRtt as usize] > 0, "{s:?}");
    }
    // The server's Handshake CRYPTO stream starts with EncryptedExtensions (type 8).
    let hs = conn.crypto[SERVER][Level::Handshake as usize].readable();
    assert_eq!(hs.first(), Some(&0x08));
    // tshark: 17 frames with decrypted STREAM data (MANIFEST row 8).
    assert_eq!(s.stream_datagrams, 17, "{s:?}");
}

#[test]
fn illustrated_quic_ping_pong() {
    let Some(dir) = corpus_dir() else {
        return;
    };
    let conn = follow(
        &dir,
        "illustrated-quic/capture.pcap",
        Some("illustrated-quic/keylog.txt"),
    );
    assert_eq!(conn.suite, Some(Suite::Aes128Gcm));
    assert_eq!(conn.seen.stream0[CLIENT], b"ping");
    assert_eq!(conn.seen.stream0[SERVER], b"pong");
    assert_eq!(conn.seen.failed, 0, "{:?}", conn.seen);
}

#[test]
fn draft29_with_key_log_decrypts_streams() {
    let Some(dir) = corpus_dir() else {
        return;
    };
    let conn = follow(
        &dir,
        "wireshark/quic_follow_multistream.pcapng",
        Some("wireshark/quic_follow_multistream.pcapng.keylog"),
    );
    // tshark: 756 frames with decrypted STREAM frames (MANIFEST row 10).
    assert_eq!(conn.seen.stream_datagrams, 756, "{:?}", conn.seen);
}

#[test]
fn every_prefix_of_corpus_packets_fails_cleanly() {
    let Some(dir) = corpus_dir() else {
        return;
    };
    let dgrams = udp_datagrams(&dir.join("zeek/quic_quicv2-echo-443.pcap"));
    let mut out = Vec::new();
    for d in dgrams.iter().take(6) {
        let full: Vec<_> = split_datagram(&d.payload, Some(8)).flatten().collect();
        for pkt in &full {
            let keys = Keys::initial(pkt.version, pkt.dcid, true);
            for n in 0..pkt.raw.len() {
                for p in split_datagram(&pkt.raw[..n], Some(8)).flatten() {
                    assert!(keys.open(&p, None, &mut out).is_err());
                }
            }
        }
        crate::quic::fuzz_datagram(&d.payload);
    }
}

#[test]
fn fragmented_and_retried_handshakes() {
    let Some(dir) = corpus_dir() else {
        return;
    };
    let dgrams = udp_datagrams(&dir.join("wireshark/quic-fragmented-handshakes.pcapng.gz"));
    let text =
        std::fs::read_to_string(dir.join("wireshark/quic-fragmented-handshakes.pcapng.gz.keylog"))
            .unwrap();
    let (log, warnings) = KeyLog::parse(&text);
    assert!(warnings.is_empty(), "{warnings:?}");
    let mut conns: Vec<Conn> = Vec::new();
    for d in &dgrams {
        if let Some(c) = conns
            .iter_mut()
            .find(|c| c.client == d.src || c.client == d.dst)
        {
            c.handle(d);
        } else if let Some(mut c) = Conn::new(d, Some(log.clone())) {
            c.handle(d);
            conns.push(c);
        }
    }
    assert_eq!(conns.len(), 17);
    assert!(conns.iter().all(|c| c.client_hello.is_some()));
    // tshark -Y tls.handshake.type: 18 'Client Hello' (MANIFEST row 12): one per connection,
    // plus the first connection's second one after its Retry.
    let hellos: usize = conns.iter().map(|c| c.seen.client_hellos).sum();
    assert_eq!(hellos, 18);
    // The keyed connection: draft-29, a Retry, ChaCha20-Poly1305, everything opens.
    let c = &conns[0];
    assert_eq!(c.version, 0xff00_001d);
    assert_eq!(c.seen.retries, 1);
    assert_eq!(c.seen.retry_verified, 1);
    assert_eq!(c.suite, Some(Suite::ChaCha20Poly1305));
    assert_eq!(c.seen.failed, 0);
    for dir in [CLIENT, SERVER] {
        assert!(c.seen.opened[dir][Level::Handshake as usize] > 0);
        assert!(c.seen.opened[dir][Level::OneRtt as usize] > 0);
    }
}
