//! Passive QUIC v1/v2 dissection (RFC 9000, RFC 9001, RFC 9369): split a UDP datagram into its
//! packets, remove header and packet protection with Initial keys or keys from an NSS key log,
//! walk the frames, and reassemble CRYPTO (or STREAM) data by offset.
//!
//! ```text
//! UDP payload --packet::split_datagram--> Packet (header still protected)
//!   --protect::Keys::open--> plaintext frames --frame::frames--> Frame
//!   --crypto_stream::StreamBuf--> contiguous TLS handshake bytes (or stream bytes)
//! keylog::KeyLog: SSLKEYLOGFILE secrets by ClientHello.random -> protect::Keys::from_secret
//! tls: ClientHello / ServerHello / EncryptedExtensions / Certificate; cert: X.509 details
//! ```
//!
//! Everything here is sans-IO over borrowed slices; nothing panics on network bytes, and the
//! only buffers are the caller's reused ones and the bounded [`crypto_stream::StreamBuf`].

pub mod cert;
pub mod crypto_stream;
pub mod frame;
pub mod keylog;
pub mod packet;
pub mod protect;
pub mod tls;

/// Runs every parser of this module over `data` as a UDP payload: split, open with the Initial
/// keys derived from each packet's DCID, then walk the frames. A fuzz entry point; it must never
/// panic, whatever `data` holds.
pub fn fuzz_datagram(data: &[u8]) {
    let _ = packet::looks_like_quic(data);
    let mut out = Vec::new();
    let mut stream = crypto_stream::StreamBuf::new(4096);
    for pkt in packet::split_datagram(data, Some(8)).flatten() {
        for is_client in [true, false] {
            let keys = protect::Keys::initial(pkt.version, pkt.dcid, is_client);
            if keys.open(&pkt, Some(0), &mut out).is_ok() {
                for f in frame::frames(&out).map_while(Result::ok) {
                    if let frame::Frame::Crypto { offset, data } = f {
                        let _ = stream.insert(offset, data);
                    }
                    let _ = f.tls_alert();
                }
            }
        }
    }
    for f in frame::frames(data).map_while(Result::ok) {
        if let frame::Frame::Stream { offset, data, .. } = f {
            let _ = stream.insert(offset, data);
        }
    }
    let n = stream.readable().len();
    stream.consume(n);
}

#[cfg(test)]
#[path = "corpus_tests.rs"]
mod corpus_tests;

/// Test helper: decodes hex, ignoring whitespace.
#[cfg(test)]
fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    assert!(digits.len().is_multiple_of(2), "odd hex length");
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}

/// Test helper: the third-party corpus, `$SMBSCOPE_CORPUS` else `../shared/corpus` beside the
/// crate; `None` (with a notice) when absent.
#[cfg(test)]
fn corpus_dir() -> Option<std::path::PathBuf> {
    let dir = std::env::var_os("SMBSCOPE_CORPUS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus")
        });
    if dir.join("MANIFEST.md").is_file() {
        Some(dir)
    } else {
        eprintln!(
            "NOTICE: corpus not found at {} (set SMBSCOPE_CORPUS); QUIC interop checks skipped",
            dir.display()
        );
        None
    }
}
