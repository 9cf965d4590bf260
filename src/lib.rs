//! # smbscope
//!
//! A passive inspector of SMB security posture: for every SMB connection and session in a capture
//! (or on a live interface) it tells the dialect, whether signing was required and used, whether
//! traffic was encrypted, whether the session was guest or anonymous, and which authentication was
//! used; then it turns that posture into findings with fixes.
//!
//! Data moves one way:
//!
//! ```text
//! capture/  frames in (pcap/pcapng files, gzip too) -> Frame { ts, linktype, data }
//! flow/     link/IP decode (etherparse) -> TCP: flow table -> per-direction reassembly -> NBSS
//!           framing; UDP: handed to the QUIC tracker
//! quic/     QUIC packets, protection, frames, CRYPTO reassembly, key logs; TLS and X.509
//! smb/      sans-IO dissectors over borrowed slices: SMB1, SMB2/3, compression, NTLMSSP, SPNEGO
//! crypto/   SP800-108 KDF, preauth hash, signing, AEAD, NTLM keys, key and credential files
//! engine/   Engine::handle_frame(frame) updates posture state per connection -> session -> tree,
//!           verifies signatures, decrypts; rules turn state into findings as facts appear
//! output/   sinks that format records: text report, JSON lines, syslog, decrypted pcap
//! ```
//!
//! The core never reads a clock, a socket or a file: time is the capture timestamp, and output is
//! drained as [`event::Record`]s.
//!
//! No `unsafe` code but in `capture/mapped.rs` (mapping a capture file for the parallel
//! readers, giving its pages back, and prefetching what they read next), which allows it for
//! its three calls and documents their invariants.
#![deny(unsafe_code)]

pub mod capture;
pub mod cli;
pub mod crypto;
pub mod engine;
pub mod event;
pub mod flow;
pub mod options;
pub mod output;
pub mod quic;
pub mod rules;
pub mod sensor;
pub mod smb;
pub mod tui;
pub mod wire;

#[cfg(test)]
mod test_rng;
