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
//! flow/     link/IP/TCP decode (etherparse) -> flow table -> per-direction TCP reassembly -> NBSS framing
//! smb/      sans-IO dissectors over borrowed slices: SMB1, SMB2/3, NTLMSSP, SPNEGO/Kerberos
//! engine    Engine::handle_frame(ts, frame) updates posture state; rules turn it into findings
//! output/   sinks that format records: text report, JSON lines
//! ```
//!
//! The core never reads a clock, a socket or a file: time is the capture timestamp, and output is
//! drained as [`event::Record`]s.
#![forbid(unsafe_code)]

pub mod capture;
pub mod cli;
pub mod crypto;
pub mod engine;
pub mod event;
pub mod flow;
pub mod output;
pub mod rules;
pub mod sensor;
pub mod smb;
pub mod wire;
