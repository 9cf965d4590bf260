//! The facts the inspector reports about a server certificate, read from its DER with the
//! `x509-parser` crate: names, validity, SHA-1 thumbprint (the value Windows shows and SMB over
//! QUIC certificate mappings use), key and signature algorithms.
//!
//! Nothing here reads the clock: validity checks take the capture time as an argument.
//! Signatures are not verified; `self_signed` compares names and key identifiers only.

use std::net::IpAddr;

use sha1::{Digest, Sha1};
use x509_parser::asn1_rs::{Any, Tag, ToDer};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;
use x509_parser::x509::{AlgorithmIdentifier, X509Name};

/// What the inspector reports about one X.509 certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// RFC 4514 string, most specific attribute first (`CN=host,O=Org,C=US`), exactly as
    /// `openssl x509 -nameopt RFC2253,-esc_msb` prints it (Windows shows the same order with
    /// `, ` between RDNs).
    pub subject: String,
    /// Same format as `subject`.
    pub issuer: String,
    /// The first commonName of the subject, if any.
    pub common_name: Option<String>,
    /// subjectAltName dNSName entries, in order.
    pub dns_names: Vec<String>,
    /// subjectAltName iPAddress entries, in order.
    pub ip_addresses: Vec<IpAddr>,
    /// Unix seconds.
    pub not_before: i64,
    /// Unix seconds.
    pub not_after: i64,
    /// SHA-1 of the DER, 40 uppercase hex digits without separators, as Windows shows it.
    pub sha1_thumbprint: String,
    /// The serial number's bytes in uppercase hex, leading zero bytes dropped (as `openssl x509
    /// -serial` prints a positive serial).
    pub serial: String,
    /// Subject and issuer names are byte-identical and, when both key identifiers are present,
    /// they match. (The signature itself is not checked.)
    pub self_signed: bool,
    /// `RSA 2048`, `EC P-256`, `Ed25519`, …; an unknown algorithm is its dotted OID.
    pub key_algorithm: String,
    /// OpenSSL's name (`sha256WithRSAEncryption`, `ecdsa-with-SHA256`, …) or the dotted OID.
    pub signature_algorithm: String,
}

impl CertInfo {
    /// Decodes one DER certificate. Bytes after the certificate are an error.
    pub fn parse(der: &[u8]) -> Result<CertInfo, String> {
        let (rest, cert) = X509Certificate::from_der(der).map_err(|e| format!("x509: {e}"))?;
        if !rest.is_empty() {
            return Err(format!("x509: {} bytes after the certificate", rest.len()));
        }
        let tbs = &cert.tbs_certificate;
        let mut dns_names = Vec::new();
        let mut ip_addresses = Vec::new();
        for ext in tbs.iter_extensions() {
            if let ParsedExtension::SubjectAlternativeName(san) = ext.parsed_extension() {
                for name in &san.general_names {
                    match name {
                        GeneralName::DNSName(d) => dns_names.push((*d).to_string()),
                        GeneralName::IPAddress(b) => ip_addresses.extend(ip_from_bytes(b)),
                        _ => {}
                    }
                }
            }
        }
        let common_name = tbs
            .subject()
            .iter_common_name()
            .next()
            .map(|cn| attribute_text(cn.attr_value()).unwrap_or_else(|| hex(cn.as_slice())));
        Ok(CertInfo {
            subject: rfc4514(tbs.subject()),
            issuer: rfc4514(tbs.issuer()),
            common_name,
            dns_names,
            ip_addresses,
            not_before: tbs.validity().not_before.timestamp(),
            not_after: tbs.validity().not_after.timestamp(),
            sha1_thumbprint: hex(&Sha1::digest(der)),
            serial: serial(tbs.raw_serial()),
            self_signed: self_signed(&cert),
            key_algorithm: key_algorithm(&cert),
            signature_algorithm: signature_algorithm(&cert.signature_algorithm),
        })
    }

    /// `unix` is after notAfter.
    pub fn expired_at(&self, unix: i64) -> bool {
        unix > self.not_after
    }

    /// Not yet expired at `unix`, but will be within `secs` seconds.
    pub fn expires_within(&self, unix: i64, secs: i64) -> bool {
        !self.expired_at(unix) && self.not_after < unix.saturating_add(secs)
    }

    /// `unix` is before notBefore.
    pub fn not_yet_valid_at(&self, unix: i64) -> bool {
        unix < self.not_before
    }

    /// The certificate names an IP address: an iPAddress SAN, or a commonName that parses as one.
    pub fn names_ip(&self) -> bool {
        !self.ip_addresses.is_empty()
            || self
                .common_name
                .as_deref()
                .is_some_and(|cn| cn.parse::<IpAddr>().is_ok())
    }
}

// ---- helpers ----

/// Short names of RFC 4514 §3, then the ones OpenSSL also prints by name.
fn attribute_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.6" => "C",
        "2.5.4.9" => "STREET",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        "2.5.4.4" => "SN",
        "2.5.4.5" => "serialNumber",
        "2.5.4.12" => "title",
        "2.5.4.15" => "businessCategory",
        "2.5.4.17" => "postalCode",
        "2.5.4.42" => "GN",
        "2.5.4.97" => "organizationIdentifier",
        "1.2.840.113549.1.9.1" => "emailAddress",
        "1.3.6.1.4.1.311.60.2.1.1" => "jurisdictionL",
        "1.3.6.1.4.1.311.60.2.1.2" => "jurisdictionST",
        "1.3.6.1.4.1.311.60.2.1.3" => "jurisdictionC",
        _ => return None,
    })
}

/// RFC 4514 §2: RDNs last to first, `+` inside a multi-valued RDN, values escaped; a value that
/// is not a string, or an attribute without a short name, is written `OID=#<hex DER>`. Like
/// OpenSSL's RFC2253 output, the attributes of a multi-valued RDN are reversed too.
fn rfc4514(name: &X509Name<'_>) -> String {
    let rdns: Vec<String> = name
        .iter_rdn()
        .map(|rdn| {
            let mut parts: Vec<String> = rdn
                .iter()
                .map(|atv| {
                    let oid = atv.attr_type().to_id_string();
                    let value = atv.attr_value();
                    match (attribute_name(&oid), attribute_text(value)) {
                        (Some(short), Some(text)) => format!("{short}={}", escape(&text)),
                        (short, _) => {
                            let der = value.to_der_vec().unwrap_or_default();
                            format!("{}=#{}", short.unwrap_or(&oid), hex(&der))
                        }
                    }
                })
                .collect();
            parts.reverse();
            parts.join("+")
        })
        .collect();
    rdns.into_iter().rev().collect::<Vec<_>>().join(",")
}

/// The text of a directory string; `None` for a non-string value or a malformed one.
fn attribute_text(value: &Any<'_>) -> Option<String> {
    let data = value.data;
    match value.tag() {
        Tag::Utf8String
        | Tag::PrintableString
        | Tag::Ia5String
        | Tag::NumericString
        | Tag::VisibleString => std::str::from_utf8(data).ok().map(str::to_string),
        // T.61 in practice carries Latin-1.
        Tag::TeletexString => Some(data.iter().map(|&b| char::from(b)).collect()),
        Tag::BmpString => {
            if !data.len().is_multiple_of(2) {
                return None;
            }
            let units = data
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]));
            char::decode_utf16(units)
                .collect::<Result<String, _>>()
                .ok()
        }
        Tag::UniversalString => {
            if !data.len().is_multiple_of(4) {
                return None;
            }
            data.chunks_exact(4)
                .map(|c| char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
                .collect()
        }
        _ => None,
    }
}

/// RFC 4514 §2.4 escaping; other control characters become `\XX` too.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        match c {
            '"' | '+' | ',' | ';' | '<' | '>' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            ' ' if i == 0 || i == last => out.push_str("\\ "),
            '#' if i == 0 => out.push_str("\\#"),
            c if c.is_control() => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("\\{b:02X}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

fn ip_from_bytes(b: &[u8]) -> Option<IpAddr> {
    match b.len() {
        4 => <[u8; 4]>::try_from(b).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(b).ok().map(IpAddr::from),
        _ => None,
    }
}

fn serial(raw: &[u8]) -> String {
    let first = raw.iter().position(|&b| b != 0).unwrap_or(raw.len());
    let digits = &raw[first..];
    if digits.is_empty() {
        "00".to_string()
    } else {
        hex(digits)
    }
}

fn self_signed(cert: &X509Certificate<'_>) -> bool {
    let tbs = &cert.tbs_certificate;
    if tbs.subject().as_raw() != tbs.issuer().as_raw() {
        return false;
    }
    let mut ski = None;
    let mut aki = None;
    for ext in tbs.iter_extensions() {
        match ext.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(k) => ski = Some(k.0),
            ParsedExtension::AuthorityKeyIdentifier(a) => {
                aki = a.key_identifier.as_ref().map(|k| k.0)
            }
            _ => {}
        }
    }
    match (ski, aki) {
        (Some(s), Some(a)) => s == a,
        _ => true,
    }
}

fn key_algorithm(cert: &X509Certificate<'_>) -> String {
    let spki = cert.tbs_certificate.public_key();
    let oid = spki.algorithm.algorithm.to_id_string();
    match oid.as_str() {
        "1.2.840.113549.1.1.1" => match spki.parsed() {
            Ok(PublicKey::RSA(rsa)) => format!("RSA {}", bit_length(rsa.modulus)),
            _ => "RSA".to_string(),
        },
        "1.2.840.113549.1.1.10" => "RSA-PSS".to_string(),
        "1.2.840.10045.2.1" => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|c| c.to_id_string());
            match curve.as_deref() {
                Some("1.2.840.10045.3.1.7") => "EC P-256".to_string(),
                Some("1.3.132.0.34") => "EC P-384".to_string(),
                Some("1.3.132.0.35") => "EC P-521".to_string(),
                Some("1.3.132.0.10") => "EC secp256k1".to_string(),
                Some(other) => format!("EC {other}"),
                None => "EC".to_string(),
            }
        }
        "1.3.101.112" => "Ed25519".to_string(),
        "1.3.101.113" => "Ed448".to_string(),
        "1.2.840.10040.4.1" => "DSA".to_string(),
        _ => oid,
    }
}

/// Bits in a big-endian unsigned integer.
fn bit_length(be: &[u8]) -> usize {
    match be.iter().position(|&b| b != 0) {
        Some(i) => (be.len() - i) * 8 - be[i].leading_zeros() as usize,
        None => 0,
    }
}

fn signature_algorithm(alg: &AlgorithmIdentifier<'_>) -> String {
    let oid = alg.algorithm.to_id_string();
    let name = match oid.as_str() {
        "1.2.840.113549.1.1.4" => "md5WithRSAEncryption",
        "1.2.840.113549.1.1.5" => "sha1WithRSAEncryption",
        "1.2.840.113549.1.1.10" => "rsassaPss",
        "1.2.840.113549.1.1.11" => "sha256WithRSAEncryption",
        "1.2.840.113549.1.1.12" => "sha384WithRSAEncryption",
        "1.2.840.113549.1.1.13" => "sha512WithRSAEncryption",
        "1.2.840.113549.1.1.14" => "sha224WithRSAEncryption",
        "1.2.840.10045.4.1" => "ecdsa-with-SHA1",
        "1.2.840.10045.4.3.1" => "ecdsa-with-SHA224",
        "1.2.840.10045.4.3.2" => "ecdsa-with-SHA256",
        "1.2.840.10045.4.3.3" => "ecdsa-with-SHA384",
        "1.2.840.10045.4.3.4" => "ecdsa-with-SHA512",
        "1.3.101.112" => "ED25519",
        "1.3.101.113" => "ED448",
        "1.2.840.10040.4.3" => "dsaWithSHA1",
        "2.16.840.1.101.3.4.3.2" => "dsa_with_SHA256",
        _ => return oid,
    };
    name.to_string()
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02X}");
        s
    })
}

#[cfg(test)]
#[path = "cert_tests.rs"]
mod tests;
