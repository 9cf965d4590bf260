//! Bounds-checked, zero-copy readers over borrowed byte slices, the error type every parser
//! returns, and the macro that makes open "newtype" wire enums.

mod enums;
mod ids;
mod reader;
mod time;

pub use ids::{Cipher, SigningAlgorithm};
pub use reader::{Reader, le16, le32, le64, slice_at};
pub use time::Timestamp;

/// The protocol layer a parse error happened in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Layer {
    Link,
    Ip,
    Tcp,
    Udp,
    Nbss,
    Smb1,
    Smb2,
    Transform,
    Compression,
    Spnego,
    Kerberos,
    Ntlmssp,
    Quic,
    Tls,
    KeyFile,
}

impl Layer {
    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Link => "link",
            Layer::Ip => "ip",
            Layer::Tcp => "tcp",
            Layer::Udp => "udp",
            Layer::Nbss => "nbss",
            Layer::Smb1 => "smb1",
            Layer::Smb2 => "smb2",
            Layer::Transform => "smb2-transform",
            Layer::Compression => "smb2-compression",
            Layer::Spnego => "spnego",
            Layer::Kerberos => "kerberos",
            Layer::Ntlmssp => "ntlmssp",
            Layer::Quic => "quic",
            Layer::Tls => "tls",
            Layer::KeyFile => "key-file",
        }
    }
}

/// A parse error: where it happened and why. No allocation: the reason is static.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseError {
    pub layer: Layer,
    /// Byte offset inside the buffer handed to the parser.
    pub offset: usize,
    pub reason: &'static str,
}

impl ParseError {
    pub const fn new(layer: Layer, offset: usize, reason: &'static str) -> Self {
        ParseError {
            layer,
            offset,
            reason,
        }
    }
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} at offset {}",
            self.layer.as_str(),
            self.reason,
            self.offset
        )
    }
}

impl std::error::Error for ParseError {}

pub type Result<T> = std::result::Result<T, ParseError>;
