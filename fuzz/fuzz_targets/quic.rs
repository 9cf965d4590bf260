//! QUIC datagrams (Initial protection, frames, CRYPTO reassembly), the TLS handshake parsers
//! and X.509 certificate summaries; and the same bytes as a sequence of datagrams through the
//! engine's QUIC connection table (attribution by ID, by path and by migration), see
//! [`smbscope::engine::fuzz_quic_paths`].
#![no_main]

use libfuzzer_sys::fuzz_target;
use smbscope::quic::{self, cert::CertInfo, tls};

fuzz_target!(|data: &[u8]| {
    quic::fuzz_datagram(data);
    smbscope::engine::fuzz_quic_paths(data);
    let (msgs, _used) = tls::handshake_messages(data);
    for (kind, body) in msgs {
        match kind {
            tls::msg_type::CLIENT_HELLO => drop(tls::ClientHello::parse(body)),
            tls::msg_type::SERVER_HELLO => drop(tls::ServerHello::parse(body)),
            tls::msg_type::ENCRYPTED_EXTENSIONS => drop(tls::EncryptedExtensions::parse(body)),
            tls::msg_type::CERTIFICATE => {
                if let Ok(c) = tls::CertificateMsg::parse(body) {
                    for der in c.certificates {
                        let _ = CertInfo::parse(der);
                    }
                }
            }
            tls::msg_type::COMPRESSED_CERTIFICATE => drop(tls::CompressedCertificate::parse(body)),
            _ => {}
        }
    }
    let _ = tls::ClientHello::parse(data);
    let _ = tls::ServerHello::parse(data);
    let _ = tls::EncryptedExtensions::parse(data);
    let _ = tls::TransportParameters::parse(data);
    if let Ok(c) = CertInfo::parse(data) {
        let _ = (
            c.names_ip(),
            c.expired_at(0),
            c.expires_within(i64::MAX, i64::MAX),
        );
        let _ = c.not_yet_valid_at(i64::MIN);
    }
});
