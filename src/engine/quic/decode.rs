//! Per-packet work of a QUIC connection: removing protection (installing handshake and 1-RTT
//! keys from the key log, following key updates), walking the frames, parsing the TLS
//! handshake (certificates too, compressed ones included), feeding stream 0 to the SMB decoder,
//! and building the event records.

use super::paths::version_name;
use super::{Level, QuicConn};
use crate::engine::SmbHandler;
use crate::engine::state::ConnState;
use crate::event::{CertificateRecord, ClientHelloRecord, EventRecord, VersionNegotiationRecord};
use crate::flow::framing::Events;
use crate::flow::{AnomalyKind, Direction, Extent, FlowKey, StreamHandler};
use crate::quic::cert::CertInfo;
use crate::quic::frame::{self, Frame};
use crate::quic::keylog::{KeyLog, Label};
use crate::quic::packet::Packet;
use crate::quic::protect::{Keys, Suite};
use crate::quic::tls::{self, ClientHello, EncryptedExtensions, ServerHello, msg_type};
use crate::wire::Timestamp;

pub(super) fn dir_index(dir: Direction) -> usize {
    match dir {
        Direction::ToServer => 0,
        Direction::ToClient => 1,
    }
}

/// Removes protection from `pkt`; installs handshake/1-RTT keys from the key log on demand.
pub(super) fn open(
    c: &mut QuicConn,
    keylog: &KeyLog,
    level: Level,
    dir: Direction,
    pkt: &Packet<'_>,
    out: &mut Vec<u8>,
) -> bool {
    let d = dir_index(dir);
    let l = level as usize;
    if c.levels[l].keys[d].is_none() && level != Level::Initial {
        install_keys(c, keylog, level);
    }
    let largest = c.largest_pn[l][d];
    let lk = &mut c.levels[l];
    let Some(keys) = lk.keys[d].as_ref() else {
        return false;
    };
    // 1-RTT key update (RFC 9001 §6): a flipped key phase uses the next generation. The phase
    // bit is under header protection, which is the same in every phase.
    let phase = level == Level::App && keys.first_byte(pkt).is_ok_and(|b| b & 0x04 != 0);
    let opened = if level == Level::App && phase != lk.phase[d] {
        let next = lk.next[d].get_or_insert_with(|| keys.next_phase());
        match next.open(pkt, largest, out) {
            Ok(o) => {
                let n = lk.next[d].take();
                lk.keys[d] = n;
                lk.phase[d] = phase;
                Ok(o)
            }
            Err(e) => Err(e),
        }
    } else {
        keys.open(pkt, largest, out)
    };
    match opened {
        Ok(o) => {
            c.largest_pn[l][d] = Some(largest.map_or(o.pn, |p| p.max(o.pn)));
            true
        }
        Err(_) => false,
    }
}

/// Handshake or 1-RTT keys from the key log, by the ClientHello's random.
fn install_keys(c: &mut QuicConn, keylog: &KeyLog, level: Level) {
    let Some(random) = c.client_hello.as_ref().map(|ch| ch.random) else {
        return;
    };
    let suite = c
        .server_hello
        .as_ref()
        .and_then(|sh| Suite::from_codepoint(sh.cipher_suite))
        .unwrap_or(Suite::Aes128Gcm);
    let (cl, sl) = match level {
        Level::Handshake => (Label::ClientHandshake, Label::ServerHandshake),
        Level::App => (Label::ClientTraffic0, Label::ServerTraffic0),
        Level::Initial => return,
    };
    let version = c.version;
    let keys = [cl, sl].map(|label| {
        keylog
            .get(&random, label)
            .and_then(|secret| Keys::from_secret(version, suite, secret))
    });
    let lk = &mut c.levels[level as usize];
    for (i, k) in keys.into_iter().enumerate() {
        if lk.keys[i].is_none() {
            lk.keys[i] = k;
        }
    }
}

/// The frames of one decrypted packet.
pub(super) fn frames(
    h: &mut SmbHandler,
    c: &mut QuicConn,
    level: Level,
    dir: Direction,
    ts: Timestamp,
    plain: &[u8],
    new_cids: &mut Vec<Vec<u8>>,
) {
    let d = dir_index(dir);
    let mut stream_seen = false;
    for f in frame::frames(plain) {
        let Ok(f) = f else {
            break;
        };
        if matches!(f, Frame::Stream { .. }) {
            stream_seen = true;
        }
        match f {
            Frame::Crypto { offset, data } => {
                let buf = &mut c.crypto[level as usize][d];
                if buf.insert(offset, data).is_ok() {
                    handshake(c, level, dir);
                }
            }
            // SMB over QUIC uses the first client-initiated bidirectional stream (SPECS §2);
            // other protocols' streams are only counted.
            Frame::Stream {
                id: 0,
                offset,
                data,
                fin: _,
            } if c.is_smb() && c.stream[d].insert(offset, data).is_ok() => {
                smb_stream(h, c, dir, ts);
            }
            Frame::ConnectionClose {
                error_code,
                reason,
                application,
                ..
            } => {
                let who = if dir == Direction::ToServer {
                    "client"
                } else {
                    "server"
                };
                let text = String::from_utf8_lossy(reason).into_owned();
                let alert = (!application && (0x100..0x200).contains(&error_code))
                    .then(|| (error_code - 0x100) as u8);
                let desc = match alert {
                    Some(a) => format!(
                        "the {who} closed the connection with TLS alert {} ({a})",
                        tls::alert_description(a)
                    ),
                    None => format!(
                        "the {who} closed the connection (error {error_code:#x}{})",
                        if text.is_empty() {
                            String::new()
                        } else {
                            format!(": {text}")
                        }
                    ),
                };
                c.close_seen.get_or_insert(ts);
                if c.established {
                    c.closed.get_or_insert(desc);
                } else {
                    c.failed.get_or_insert(desc);
                }
            }
            Frame::HandshakeDone => c.handshake_done = true,
            Frame::NewConnectionId {
                cid, reset_token, ..
            } => {
                new_cids.push(cid.to_vec());
                add_reset_token(&mut c.reset_tokens, reset_token, dir);
            }
            _ => {}
        }
    }
    if stream_seen {
        c.counts.with_stream_data += 1;
    }
}

/// Remembers a stateless reset token issued by the sender of `dir` (bounded).
fn add_reset_token(tokens: &mut Vec<([u8; 16], Direction)>, token: [u8; 16], dir: Direction) {
    if tokens.len() < super::MAX_RESET_TOKENS && !tokens.contains(&(token, dir)) {
        tokens.push((token, dir));
    }
}

/// Parses the TLS handshake messages now contiguous at `level`.
fn handshake(c: &mut QuicConn, level: Level, dir: Direction) {
    let d = dir_index(dir);
    let buf = &mut c.crypto[level as usize][d];
    let (msgs, used) = tls::handshake_messages(buf.readable());
    for (ty, body) in msgs {
        match ty {
            msg_type::CLIENT_HELLO => {
                if let Ok(ch) = ClientHello::parse(body) {
                    c.client_hello.get_or_insert(ch);
                }
            }
            msg_type::SERVER_HELLO => {
                if let Ok(sh) = ServerHello::parse(body) {
                    c.server_hello.get_or_insert(sh);
                }
            }
            msg_type::ENCRYPTED_EXTENSIONS => {
                if let Ok(ee) = EncryptedExtensions::parse(body) {
                    let token = ee
                        .transport_parameters
                        .as_ref()
                        .and_then(|tp| tp.stateless_reset_token);
                    if let Some(t) = token {
                        add_reset_token(&mut c.reset_tokens, t, Direction::ToClient);
                    }
                    c.extensions.get_or_insert(ee);
                }
            }
            msg_type::CERTIFICATE => {
                if let Some(info) = leaf_certificate(body) {
                    c.cert.get_or_insert(info);
                }
            }
            msg_type::COMPRESSED_CERTIFICATE => {
                let inflated = tls::CompressedCertificate::parse(body)
                    .ok()
                    .and_then(|cc| inflate_certificate(&cc));
                if let Some(info) = inflated.as_deref().and_then(leaf_certificate) {
                    c.cert.get_or_insert(info);
                }
            }
            _ => {}
        }
    }
    buf.consume(used);
}

/// The leaf certificate of a Certificate message body.
fn leaf_certificate(body: &[u8]) -> Option<CertInfo> {
    let cm = tls::CertificateMsg::parse(body).ok()?;
    CertInfo::parse(cm.certificates.first()?).ok()
}

/// Largest decompressed certificate message accepted (RFC 8879 caps it at 2^24; chains are far
/// smaller).
const MAX_CERT_MSG: u32 = 1 << 20;

/// Decompresses an RFC 8879 CompressedCertificate (zlib 1, brotli 2) into a Certificate
/// message body, bounded by the declared length.
fn inflate_certificate(cc: &tls::CompressedCertificate<'_>) -> Option<Vec<u8>> {
    use std::io::Read;
    if cc.uncompressed_length > MAX_CERT_MSG {
        return None;
    }
    let limit = u64::from(cc.uncompressed_length);
    let mut out = Vec::with_capacity(cc.uncompressed_length as usize);
    let read = match cc.algorithm {
        1 => flate2::read::ZlibDecoder::new(cc.compressed)
            .take(limit)
            .read_to_end(&mut out),
        2 => brotli_decompressor::Decompressor::new(cc.compressed, 4096)
            .take(limit)
            .read_to_end(&mut out),
        _ => return None,
    };
    (read.is_ok() && out.len() == cc.uncompressed_length as usize).then_some(out)
}

/// Stream bytes now contiguous: frame them into SMB messages for the SMB decoder.
fn smb_stream(h: &mut SmbHandler, c: &mut QuicConn, dir: Direction, ts: Timestamp) {
    let d = dir_index(dir);
    let key = FlowKey {
        client: c.paths[0],
        server: c.server,
    };
    if c.smb.is_none() {
        let mut conn = h.open(&key, ts, false);
        conn.transport = "quic";
        c.smb = Some(conn);
    }
    let Some(conn) = c.smb.as_mut() else {
        return;
    };
    let data = c.stream[d].readable();
    let n = data.len();
    let mut ev = SmbEvents {
        h,
        conn,
        key,
        dir,
        ts,
    };
    let cap = ev.h.message_cap();
    c.framer[d].feed(data, cap, &mut ev);
    c.stream[d].consume(n);
}

/// The connection ends: what each direction's framer still holds is reported (a message the
/// stream ended inside, or bytes passed over hunting for a boundary), as for a TCP flow.
pub(super) fn finish_smb(h: &mut SmbHandler, c: &mut QuicConn, ts: Timestamp) {
    let Some(conn) = c.smb.as_mut() else {
        return;
    };
    let key = conn.key;
    for dir in [Direction::ToServer, Direction::ToClient] {
        let mut ev = SmbEvents {
            h,
            conn,
            key,
            dir,
            ts,
        };
        c.framer[dir_index(dir)].finish(&mut ev);
    }
}

/// Framing events delivered to the SMB handler.
struct SmbEvents<'a> {
    h: &'a mut SmbHandler,
    conn: &'a mut Box<ConnState>,
    key: FlowKey,
    dir: Direction,
    ts: Timestamp,
}

impl Events for SmbEvents<'_> {
    fn message(&mut self, msg: &[u8], extent: Extent) {
        self.h
            .message(self.conn, &self.key, self.dir, self.ts, msg, extent);
    }

    fn wanted(&mut self, head: &[u8], len: u32) -> u32 {
        self.h.wanted(self.conn, self.dir, head, len)
    }

    fn control(&mut self, kind: u8, body: &[u8]) {
        self.h
            .nbss_control(self.conn, &self.key, self.dir, self.ts, kind, body);
    }

    fn anomaly(&mut self, kind: AnomalyKind, detail: &'static str, bytes: u64) {
        let a = crate::flow::Anomaly {
            kind,
            dir: Some(self.dir),
            detail,
            bytes,
        };
        self.h.anomaly(Some(self.conn), &self.key, self.ts, a);
    }
}

/// A Windows-like connectivity event for `c`.
pub(super) fn event(
    c: &QuicConn,
    id: Option<u32>,
    message: &'static str,
    reason: Option<String>,
    ts: Timestamp,
) -> EventRecord {
    let ch = c.client_hello.as_ref();
    EventRecord {
        event_id: id,
        message,
        transport: "QUIC",
        server_name: ch.and_then(|ch| ch.sni.clone()),
        server_address: c.server,
        client_address: c.client(),
        client_addresses: c.paths.iter().map(|p| p.to_string()).collect(),
        connection_id: hex(&c.orig_dcid),
        smb: c.is_smb(),
        quic_version: version_name(c.version),
        version_negotiation: c.negotiated.as_ref().map(|n| VersionNegotiationRecord {
            offered: version_name(n.offered),
            server_versions: n.server_versions.iter().map(|v| version_name(*v)).collect(),
        }),
        alpn: ch.map(|ch| ch.alpn.clone()).unwrap_or_default(),
        alpn_selected: c.extensions.as_ref().and_then(|e| e.alpn.clone()),
        tls_cipher: c
            .server_hello
            .as_ref()
            .and_then(|sh| tls::cipher_suite_name(sh.cipher_suite))
            .map(str::to_owned),
        certificate: c.cert.as_ref().map(|cert| CertificateRecord {
            subject: cert.subject.clone(),
            issuer: cert.issuer.clone(),
            dns_names: cert.dns_names.clone(),
            ip_addresses: cert.ip_addresses.iter().map(|i| i.to_string()).collect(),
            not_before: cert.not_before,
            not_after: cert.not_after,
            sha1_thumbprint: cert.sha1_thumbprint.clone(),
            self_signed: cert.self_signed,
        }),
        client_hello: ch.map(|ch| {
            let tp = ch.transport_parameters.as_ref();
            ClientHelloRecord {
                cipher_suites: ch
                    .cipher_suites
                    .iter()
                    .filter(|c| !tls::is_grease(**c))
                    .map(|c| {
                        tls::cipher_suite_name(*c)
                            .map_or_else(|| format!("{c:#06x}"), str::to_owned)
                    })
                    .collect(),
                tls_versions: ch
                    .supported_versions
                    .iter()
                    .filter(|v| !tls::is_grease(**v))
                    .map(|v| format!("{v:#06x}"))
                    .collect(),
                max_idle_timeout_ms: tp.and_then(|t| t.max_idle_timeout),
                active_connection_id_limit: tp.and_then(|t| t.active_connection_id_limit),
                disable_active_migration: tp.is_some_and(|t| t.disable_active_migration),
            }
        }),
        packets: c.counts,
        established: c.established,
        established_by: c.established_by,
        reason,
        ts: ts.as_secs_f64(),
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
