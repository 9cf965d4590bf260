//! TLS 1.3 handshake messages as QUIC carries them in CRYPTO frames (RFC 8446 §4, RFC 9001 §4).
//!
//! QUIC has no TLS record layer: each encryption level's CRYPTO stream is a plain sequence of
//! handshake messages, `msg_type u8 ‖ length u24 BE ‖ body`. [`handshake_messages`] splits
//! reassembled stream bytes into messages; the `parse` functions decode the bodies the inspector
//! needs: [`ClientHello`] (Initial), [`ServerHello`] (Initial), [`EncryptedExtensions`],
//! [`CertificateMsg`] and [`CompressedCertificate`] (Handshake level).
//!
//! All multi-byte TLS fields are big-endian. Every length read from the wire is bounds-checked;
//! a malformed message is an error with [`Layer::Tls`] and the byte offset inside the body handed
//! to `parse`, never a panic. The decoded structs own small `Vec`s: this is not the hot path.
//! Wire values (cipher suites, groups, extension types, GREASE included) are kept as sent.

use crate::wire::{Layer, ParseError, Reader, Result};

/// Handshake message types (RFC 8446 §4, and RFC 8879 for compressed_certificate).
pub mod msg_type {
    pub const CLIENT_HELLO: u8 = 1;
    pub const SERVER_HELLO: u8 = 2;
    pub const NEW_SESSION_TICKET: u8 = 4;
    pub const END_OF_EARLY_DATA: u8 = 5;
    pub const ENCRYPTED_EXTENSIONS: u8 = 8;
    pub const CERTIFICATE: u8 = 11;
    pub const CERTIFICATE_REQUEST: u8 = 13;
    pub const CERTIFICATE_VERIFY: u8 = 15;
    pub const FINISHED: u8 = 20;
    pub const KEY_UPDATE: u8 = 24;
    /// RFC 8879 §4.
    pub const COMPRESSED_CERTIFICATE: u8 = 25;
    pub const MESSAGE_HASH: u8 = 254;

    /// The RFC name of a handshake message type.
    pub fn name(t: u8) -> Option<&'static str> {
        Some(match t {
            CLIENT_HELLO => "client_hello",
            SERVER_HELLO => "server_hello",
            NEW_SESSION_TICKET => "new_session_ticket",
            END_OF_EARLY_DATA => "end_of_early_data",
            ENCRYPTED_EXTENSIONS => "encrypted_extensions",
            CERTIFICATE => "certificate",
            CERTIFICATE_REQUEST => "certificate_request",
            CERTIFICATE_VERIFY => "certificate_verify",
            FINISHED => "finished",
            KEY_UPDATE => "key_update",
            COMPRESSED_CERTIFICATE => "compressed_certificate",
            MESSAGE_HASH => "message_hash",
            _ => return None,
        })
    }
}

/// Extension types this module decodes (IANA "TLS ExtensionType Values").
pub mod ext_type {
    /// RFC 6066 §3.
    pub const SERVER_NAME: u16 = 0x0000;
    /// RFC 8446 §4.2.3.
    pub const SIGNATURE_ALGORITHMS: u16 = 0x000d;
    /// RFC 7301.
    pub const ALPN: u16 = 0x0010;
    /// RFC 8446 §4.2.1.
    pub const SUPPORTED_VERSIONS: u16 = 0x002b;
    /// RFC 8446 §4.2.8.
    pub const KEY_SHARE: u16 = 0x0033;
    /// RFC 9001 §8.2.
    pub const QUIC_TRANSPORT_PARAMETERS: u16 = 0x0039;
    /// The codepoint QUIC drafts 27–32 used for transport parameters (same encoding).
    pub const QUIC_TRANSPORT_PARAMETERS_DRAFT: u16 = 0xffa5;
}

/// ServerHello.random of a HelloRetryRequest: SHA-256("HelloRetryRequest") (RFC 8446 §4.1.3).
pub const HELLO_RETRY_REQUEST_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// Splits reassembled handshake bytes into `(msg_type, body)` pairs. Returns the messages and
/// how many bytes they used: a message cut off at the end is left for the caller to keep and
/// retry when more bytes arrive. (A u24 length allows 16 MiB; the caller bounds its buffer.)
pub fn handshake_messages(buf: &[u8]) -> (Vec<(u8, &[u8])>, usize) {
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some(head) = buf.get(pos..pos + 4) {
        let len = u32::from_be_bytes([0, head[1], head[2], head[3]]) as usize;
        let Some(body) = buf.get(pos + 4..pos + 4 + len) else {
            break;
        };
        out.push((head[0], body));
        pos += 4 + len;
    }
    (out, pos)
}

/// A decoded ClientHello body (RFC 8446 §4.1.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClientHello {
    pub random: [u8; 32],
    pub session_id: Vec<u8>,
    pub cipher_suites: Vec<u16>,
    /// The first host_name of server_name (RFC 6066 §3); invalid UTF-8 is replaced, not refused.
    pub sni: Option<String>,
    /// Offered protocols in order (RFC 7301).
    pub alpn: Vec<String>,
    pub supported_versions: Vec<u16>,
    /// The groups of the offered key shares, in order.
    pub key_share_groups: Vec<u16>,
    pub signature_algorithms: Vec<u16>,
    pub transport_parameters: Option<TransportParameters>,
    /// Every extension type, in the order sent (duplicates included; the first one is decoded).
    pub extensions: Vec<u16>,
}

impl ClientHello {
    /// Decodes a ClientHello body (after the 4-byte handshake header). A body that ends right
    /// after the compression methods is a valid extension-less (TLS 1.2-style) hello.
    pub fn parse(body: &[u8]) -> Result<ClientHello> {
        let mut r = Reader::new(body, Layer::Tls);
        let mut ch = ClientHello::default();
        r.u16_be()?; // legacy_version
        ch.random = r.array()?;
        ch.session_id = session_id(&mut r)?.to_vec();
        let mut suites = vec16(&mut r)?;
        if suites.is_empty() || !suites.remaining().is_multiple_of(2) {
            return Err(suites.err("bad cipher_suites length"));
        }
        while !suites.is_empty() {
            ch.cipher_suites.push(suites.u16_be()?);
        }
        if vec8(&mut r)?.is_empty() {
            return Err(r.err("no compression methods"));
        }
        let mut seen = Seen::default();
        for (typ, mut data) in optional_extensions(&mut r)? {
            ch.extensions.push(typ);
            match typ {
                _ if !seen.first(typ) => data.skip(data.remaining())?,
                ext_type::SERVER_NAME => ch.sni = server_name(&mut data)?,
                ext_type::ALPN => ch.alpn = alpn_list(&mut data)?,
                ext_type::SUPPORTED_VERSIONS => {
                    let list = vec8(&mut data)?;
                    ch.supported_versions = u16_list(list)?;
                }
                ext_type::SIGNATURE_ALGORITHMS => {
                    let list = vec16(&mut data)?;
                    ch.signature_algorithms = u16_list(list)?;
                }
                ext_type::KEY_SHARE => {
                    let mut list = vec16(&mut data)?;
                    while !list.is_empty() {
                        ch.key_share_groups.push(list.u16_be()?);
                        vec16(&mut list)?;
                    }
                }
                ext_type::QUIC_TRANSPORT_PARAMETERS | ext_type::QUIC_TRANSPORT_PARAMETERS_DRAFT => {
                    ch.transport_parameters = Some(transport_parameters(&mut data)?);
                }
                _ => data.skip(data.remaining())?,
            }
            if !data.is_empty() {
                return Err(data.err("trailing bytes in extension"));
            }
        }
        Ok(ch)
    }
}

/// A decoded ServerHello body (RFC 8446 §4.1.3), HelloRetryRequest included.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServerHello {
    pub random: [u8; 32],
    pub cipher_suite: u16,
    /// supported_versions: the version the server chose (0x0304 for TLS 1.3).
    pub selected_version: Option<u16>,
    /// The random is [`HELLO_RETRY_REQUEST_RANDOM`].
    pub is_hello_retry_request: bool,
    /// key_share: the server's group (in a HelloRetryRequest, the group it asks for).
    pub key_share_group: Option<u16>,
    /// Every extension type, in the order sent.
    pub extensions: Vec<u16>,
}

impl ServerHello {
    /// Decodes a ServerHello body (after the 4-byte handshake header).
    pub fn parse(body: &[u8]) -> Result<ServerHello> {
        let mut r = Reader::new(body, Layer::Tls);
        let mut sh = ServerHello::default();
        r.u16_be()?; // legacy_version
        sh.random = r.array()?;
        sh.is_hello_retry_request = sh.random == HELLO_RETRY_REQUEST_RANDOM;
        session_id(&mut r)?;
        sh.cipher_suite = r.u16_be()?;
        r.u8()?; // legacy_compression_method
        let mut seen = Seen::default();
        for (typ, mut data) in optional_extensions(&mut r)? {
            sh.extensions.push(typ);
            match typ {
                _ if !seen.first(typ) => data.skip(data.remaining())?,
                ext_type::SUPPORTED_VERSIONS => sh.selected_version = Some(data.u16_be()?),
                ext_type::KEY_SHARE => {
                    sh.key_share_group = Some(data.u16_be()?);
                    if !sh.is_hello_retry_request {
                        vec16(&mut data)?;
                    }
                }
                _ => data.skip(data.remaining())?,
            }
            if !data.is_empty() {
                return Err(data.err("trailing bytes in extension"));
            }
        }
        Ok(sh)
    }
}

/// A decoded EncryptedExtensions body (RFC 8446 §4.3.1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EncryptedExtensions {
    /// The protocol the server selected (RFC 7301 §3.1: a list of exactly one).
    pub alpn: Option<String>,
    pub transport_parameters: Option<TransportParameters>,
    /// Every extension type, in the order sent.
    pub extensions: Vec<u16>,
}

impl EncryptedExtensions {
    /// Decodes an EncryptedExtensions body (after the 4-byte handshake header).
    pub fn parse(body: &[u8]) -> Result<EncryptedExtensions> {
        let mut r = Reader::new(body, Layer::Tls);
        let mut ee = EncryptedExtensions::default();
        let mut seen = Seen::default();
        for (typ, mut data) in extensions(&mut r)? {
            ee.extensions.push(typ);
            match typ {
                _ if !seen.first(typ) => data.skip(data.remaining())?,
                ext_type::ALPN => {
                    let at = data.pos();
                    let list = alpn_list(&mut data)?;
                    if list.len() != 1 {
                        return Err(ParseError::new(Layer::Tls, at, "ALPN reply not one name"));
                    }
                    ee.alpn = list.into_iter().next();
                }
                ext_type::QUIC_TRANSPORT_PARAMETERS | ext_type::QUIC_TRANSPORT_PARAMETERS_DRAFT => {
                    ee.transport_parameters = Some(transport_parameters(&mut data)?);
                }
                _ => data.skip(data.remaining())?,
            }
            if !data.is_empty() {
                return Err(data.err("trailing bytes in extension"));
            }
        }
        Ok(ee)
    }
}

/// A TLS 1.3 Certificate message (RFC 8446 §4.4.2): the DER certificates, borrowed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CertificateMsg<'a> {
    /// certificate_request_context: empty in a server's Certificate.
    pub request_context: &'a [u8],
    /// DER X.509 certificates, leaf first. Per-entry extensions are checked and skipped.
    pub certificates: Vec<&'a [u8]>,
}

impl<'a> CertificateMsg<'a> {
    /// Decodes a Certificate body (after the 4-byte handshake header).
    pub fn parse(body: &'a [u8]) -> Result<CertificateMsg<'a>> {
        let mut r = Reader::new(body, Layer::Tls);
        let request_context = vec8(&mut r)?.rest();
        let mut list = vec24(&mut r)?;
        end(&r)?;
        let mut certificates = Vec::new();
        while !list.is_empty() {
            let at = list.pos();
            let cert = vec24(&mut list)?.rest();
            if cert.is_empty() {
                return Err(ParseError::new(Layer::Tls, at, "empty certificate"));
            }
            certificates.push(cert);
            vec16(&mut list)?; // per-certificate extensions
        }
        Ok(CertificateMsg {
            request_context,
            certificates,
        })
    }
}

/// A CompressedCertificate message (RFC 8879 §4). The inspector does not decompress it: the
/// leaf certificate of such a handshake is not available.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompressedCertificate<'a> {
    /// 1 zlib, 2 brotli, 3 zstd ([`cert_compression_name`]).
    pub algorithm: u16,
    pub uncompressed_length: u32,
    pub compressed: &'a [u8],
}

impl<'a> CompressedCertificate<'a> {
    /// Decodes a CompressedCertificate body (after the 4-byte handshake header).
    pub fn parse(body: &'a [u8]) -> Result<CompressedCertificate<'a>> {
        let mut r = Reader::new(body, Layer::Tls);
        let algorithm = r.u16_be()?;
        let uncompressed_length = r.u24_be()?;
        let compressed = vec24(&mut r)?.rest();
        if compressed.is_empty() {
            return Err(r.err("empty compressed certificate"));
        }
        end(&r)?;
        Ok(CompressedCertificate {
            algorithm,
            uncompressed_length,
            compressed,
        })
    }
}

/// QUIC transport parameters (RFC 9000 §18.2): the ones the inspector uses, and the ids of the
/// rest. Ids and lengths are QUIC varints.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TransportParameters {
    /// 0x00, server only.
    pub original_destination_connection_id: Option<Vec<u8>>,
    /// 0x0f: equals the SCID of the sender's first Initial (may be empty).
    pub initial_source_connection_id: Option<Vec<u8>>,
    /// 0x10, server only, after a Retry.
    pub retry_source_connection_id: Option<Vec<u8>>,
    /// 0x01, milliseconds; 0 means none.
    pub max_idle_timeout: Option<u64>,
    /// 0x0e.
    pub active_connection_id_limit: Option<u64>,
    /// 0x0c.
    pub disable_active_migration: bool,
    /// 0x02, server only: the token of a Stateless Reset for the server's first connection ID.
    pub stateless_reset_token: Option<[u8; 16]>,
    /// Ids of every other parameter, in order (GREASE `31 * N + 27` included).
    pub others: Vec<u64>,
}

impl TransportParameters {
    /// Decodes the body of a quic_transport_parameters extension.
    pub fn parse(buf: &[u8]) -> Result<TransportParameters> {
        transport_parameters(&mut Reader::new(buf, Layer::Tls))
    }
}

/// The IANA name of a cipher suite: the TLS 1.3 ones and the common TLS 1.2 ones a
/// ClientHello offers beside them. GREASE and others give `None`.
pub fn cipher_suite_name(id: u16) -> Option<&'static str> {
    Some(match id {
        0x1301 => "TLS_AES_128_GCM_SHA256",
        0x1302 => "TLS_AES_256_GCM_SHA384",
        0x1303 => "TLS_CHACHA20_POLY1305_SHA256",
        0x1304 => "TLS_AES_128_CCM_SHA256",
        0x1305 => "TLS_AES_128_CCM_8_SHA256",
        0x000a => "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
        0x002f => "TLS_RSA_WITH_AES_128_CBC_SHA",
        0x0035 => "TLS_RSA_WITH_AES_256_CBC_SHA",
        0x009c => "TLS_RSA_WITH_AES_128_GCM_SHA256",
        0x009d => "TLS_RSA_WITH_AES_256_GCM_SHA384",
        0x009e => "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
        0x009f => "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
        0x00ff => "TLS_EMPTY_RENEGOTIATION_INFO_SCSV",
        0x5600 => "TLS_FALLBACK_SCSV",
        0xc009 => "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
        0xc00a => "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
        0xc013 => "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
        0xc014 => "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
        0xc023 => "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
        0xc024 => "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
        0xc027 => "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
        0xc028 => "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
        0xc02b => "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        0xc02c => "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        0xc02f => "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        0xc030 => "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        0xcca8 => "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        0xcca9 => "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        _ => return None,
    })
}

/// The name of a TLS alert description (RFC 8446 §6; the codes marked `_RESERVED` there keep
/// their TLS 1.2 names). Unknown codes give `"unknown"`.
pub fn alert_description(code: u8) -> &'static str {
    match code {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        21 => "decryption_failed",
        22 => "record_overflow",
        30 => "decompression_failure",
        40 => "handshake_failure",
        41 => "no_certificate",
        42 => "bad_certificate",
        43 => "unsupported_certificate",
        44 => "certificate_revoked",
        45 => "certificate_expired",
        46 => "certificate_unknown",
        47 => "illegal_parameter",
        48 => "unknown_ca",
        49 => "access_denied",
        50 => "decode_error",
        51 => "decrypt_error",
        60 => "export_restriction",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        90 => "user_canceled",
        100 => "no_renegotiation",
        109 => "missing_extension",
        110 => "unsupported_extension",
        111 => "certificate_unobtainable",
        112 => "unrecognized_name",
        113 => "bad_certificate_status_response",
        114 => "bad_certificate_hash_value",
        115 => "unknown_psk_identity",
        116 => "certificate_required",
        120 => "no_application_protocol",
        _ => "unknown",
    }
}

/// The TLS alert inside a QUIC CRYPTO_ERROR code (0x0100–0x01ff, RFC 9001 §4.8).
pub fn alert_from_quic_error(code: u64) -> Option<u8> {
    (0x0100..=0x01ff)
        .contains(&code)
        .then_some((code & 0xff) as u8)
}

/// The name of a certificate compression algorithm (RFC 8879 §7.3).
pub fn cert_compression_name(id: u16) -> Option<&'static str> {
    Some(match id {
        1 => "zlib",
        2 => "brotli",
        3 => "zstd",
        _ => return None,
    })
}

/// A GREASE value (RFC 8701 §2): `0x?a?a` with both bytes equal.
pub fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && v >> 8 == v & 0xff
}

// ---- helpers ----

/// Transport parameter ids (RFC 9000 §18.2).
mod tp {
    pub const ORIGINAL_DESTINATION_CONNECTION_ID: u64 = 0x00;
    pub const MAX_IDLE_TIMEOUT: u64 = 0x01;
    pub const STATELESS_RESET_TOKEN: u64 = 0x02;
    pub const DISABLE_ACTIVE_MIGRATION: u64 = 0x0c;
    pub const ACTIVE_CONNECTION_ID_LIMIT: u64 = 0x0e;
    pub const INITIAL_SOURCE_CONNECTION_ID: u64 = 0x0f;
    pub const RETRY_SOURCE_CONNECTION_ID: u64 = 0x10;
    /// RFC 9000 §17.2: a v1 connection ID is at most 20 bytes.
    pub const MAX_CID_LEN: usize = 20;
}

fn transport_parameters(r: &mut Reader<'_>) -> Result<TransportParameters> {
    let mut tps = TransportParameters::default();
    while !r.is_empty() {
        let id = varint(r)?;
        let len = usize::try_from(varint(r)?).map_err(|_| r.err("length overflow"))?;
        let mut v = sub(r, len)?;
        match id {
            tp::ORIGINAL_DESTINATION_CONNECTION_ID
                if tps.original_destination_connection_id.is_none() =>
            {
                tps.original_destination_connection_id = Some(cid(&mut v)?);
            }
            tp::INITIAL_SOURCE_CONNECTION_ID if tps.initial_source_connection_id.is_none() => {
                tps.initial_source_connection_id = Some(cid(&mut v)?);
            }
            tp::RETRY_SOURCE_CONNECTION_ID if tps.retry_source_connection_id.is_none() => {
                tps.retry_source_connection_id = Some(cid(&mut v)?);
            }
            tp::MAX_IDLE_TIMEOUT if tps.max_idle_timeout.is_none() => {
                tps.max_idle_timeout = Some(varint(&mut v)?);
            }
            tp::ACTIVE_CONNECTION_ID_LIMIT if tps.active_connection_id_limit.is_none() => {
                tps.active_connection_id_limit = Some(varint(&mut v)?);
            }
            tp::DISABLE_ACTIVE_MIGRATION => tps.disable_active_migration = true,
            tp::STATELESS_RESET_TOKEN if tps.stateless_reset_token.is_none() => {
                tps.stateless_reset_token = Some(v.array()?);
            }
            _ => {
                tps.others.push(id);
                v.skip(v.remaining())?;
            }
        }
        if !v.is_empty() {
            return Err(v.err("trailing bytes in transport parameter"));
        }
    }
    Ok(tps)
}

fn cid(v: &mut Reader<'_>) -> Result<Vec<u8>> {
    if v.remaining() > tp::MAX_CID_LEN {
        return Err(v.err("connection id longer than 20 bytes"));
    }
    Ok(v.bytes(v.remaining())?.to_vec())
}

/// A QUIC variable-length integer (RFC 9000 §16).
fn varint(r: &mut Reader<'_>) -> Result<u64> {
    let first = r.u8()?;
    let extra = (1usize << (first >> 6)) - 1;
    let mut v = u64::from(first & 0x3f);
    for b in r.bytes(extra)? {
        v = (v << 8) | u64::from(*b);
    }
    Ok(v)
}

/// `legacy_session_id<0..32>`.
fn session_id<'a>(r: &mut Reader<'a>) -> Result<&'a [u8]> {
    let len = usize::from(r.u8()?);
    if len > 32 {
        return Err(r.err("session_id longer than 32 bytes"));
    }
    r.bytes(len)
}

/// The decoded extension types already met in one message. RFC 8446 §4.2 forbids repeats; only
/// the first is decoded (the two transport-parameter codepoints count as one). A bit set, so a
/// message of 16,000 repeated extensions costs no more than one of distinct ones.
#[derive(Default)]
struct Seen(u8);

impl Seen {
    /// Whether this is the first `typ` (always true for types that are not decoded).
    fn first(&mut self, typ: u16) -> bool {
        let bit = match typ {
            ext_type::SERVER_NAME => 1,
            ext_type::SIGNATURE_ALGORITHMS => 2,
            ext_type::ALPN => 4,
            ext_type::SUPPORTED_VERSIONS => 8,
            ext_type::KEY_SHARE => 16,
            ext_type::QUIC_TRANSPORT_PARAMETERS | ext_type::QUIC_TRANSPORT_PARAMETERS_DRAFT => 32,
            _ => return true,
        };
        let first = self.0 & bit == 0;
        self.0 |= bit;
        first
    }
}

/// A hello's extensions: absent when the body ends before them (a TLS 1.2-style hello).
fn optional_extensions<'a>(r: &mut Reader<'a>) -> Result<Vec<(u16, Reader<'a>)>> {
    if r.is_empty() {
        Ok(Vec::new())
    } else {
        extensions(r)
    }
}

/// The extensions block: `u16 length` then `(type, u16 length, data)*` filling it exactly, and
/// nothing after it.
fn extensions<'a>(r: &mut Reader<'a>) -> Result<Vec<(u16, Reader<'a>)>> {
    let mut out = Vec::new();
    let mut block = vec16(r)?;
    end(r)?;
    while !block.is_empty() {
        let typ = block.u16_be()?;
        out.push((typ, vec16(&mut block)?));
    }
    Ok(out)
}

/// server_name (RFC 6066 §3): the first host_name. An empty extension (as servers send) is `None`.
fn server_name(data: &mut Reader<'_>) -> Result<Option<String>> {
    if data.is_empty() {
        return Ok(None);
    }
    let mut list = vec16(data)?;
    let mut sni = None;
    while !list.is_empty() {
        let name_type = list.u8()?;
        let name = vec16(&mut list)?.rest();
        if name_type == 0 && sni.is_none() {
            if name.is_empty() {
                return Err(list.err("empty host_name"));
            }
            sni = Some(String::from_utf8_lossy(name).into_owned());
        }
    }
    Ok(sni)
}

/// ProtocolNameList (RFC 7301 §3.1): non-empty names; invalid UTF-8 is replaced.
fn alpn_list(data: &mut Reader<'_>) -> Result<Vec<String>> {
    let mut list = vec16(data)?;
    let mut out = Vec::new();
    while !list.is_empty() {
        let name = vec8(&mut list)?.rest();
        if name.is_empty() {
            return Err(list.err("empty ALPN protocol name"));
        }
        out.push(String::from_utf8_lossy(name).into_owned());
    }
    Ok(out)
}

fn u16_list(mut list: Reader<'_>) -> Result<Vec<u16>> {
    if !list.remaining().is_multiple_of(2) {
        return Err(list.err("odd length in u16 list"));
    }
    let mut out = Vec::with_capacity(list.remaining() / 2);
    while !list.is_empty() {
        out.push(list.u16_be()?);
    }
    Ok(out)
}

/// The next `len` bytes as a reader that keeps offsets relative to the whole body.
fn sub<'a>(r: &mut Reader<'a>, len: usize) -> Result<Reader<'a>> {
    let start = r.pos();
    r.skip(len)?;
    let buf = r.buffer().get(..r.pos()).unwrap_or_default();
    Ok(Reader::at(buf, start, Layer::Tls))
}

fn vec8<'a>(r: &mut Reader<'a>) -> Result<Reader<'a>> {
    let len = r.u8()?;
    sub(r, usize::from(len))
}

fn vec16<'a>(r: &mut Reader<'a>) -> Result<Reader<'a>> {
    let len = r.u16_be()?;
    sub(r, usize::from(len))
}

fn vec24<'a>(r: &mut Reader<'a>) -> Result<Reader<'a>> {
    let len = r.u24_be()?;
    sub(r, len as usize)
}

fn end(r: &Reader<'_>) -> Result<()> {
    if r.is_empty() {
        Ok(())
    } else {
        Err(r.err("trailing bytes after message"))
    }
}

#[cfg(test)]
#[path = "tls_tests.rs"]
pub(crate) mod tests;
