//! SMB2 TREE_CONNECT request and response ([MS-SMB2] §2.2.9, §2.2.10).

use crate::smb::header::Header;
use crate::smb::util::{buffer_at, u8_at, u16_at, u32_at, utf16le_to_string};
use crate::wire::{Layer, Result};
use crate::wire_enum;

/// TREE_CONNECT request Flags (§2.2.9; 3.1.1 only, Reserved before).
pub mod request_flags {
    /// SMB2_TREE_CONNECT_FLAG_CLUSTER_RECONNECT.
    pub const CLUSTER_RECONNECT: u16 = 0x0001;
    /// SMB2_TREE_CONNECT_FLAG_REDIRECT_TO_OWNER.
    pub const REDIRECT_TO_OWNER: u16 = 0x0002;
    /// SMB2_TREE_CONNECT_FLAG_EXTENSION_PRESENT: the Buffer starts with a
    /// TREE_CONNECT_Request_Extension (§2.2.9.1).
    pub const EXTENSION_PRESENT: u16 = 0x0004;
}

wire_enum! {
    /// ShareType of a TREE_CONNECT response (§2.2.10).
    pub struct ShareType(u8) {
        DISK = 0x01 => "DISK",
        PIPE = 0x02 => "PIPE",
        PRINT = 0x03 => "PRINT",
    }
}

/// ShareFlags of a TREE_CONNECT response (§2.2.10).
pub mod share_flags {
    /// SMB2_SHAREFLAG_MANUAL_CACHING (caching policy value, under CACHING_MASK).
    pub const MANUAL_CACHING: u32 = 0x0000_0000;
    /// SMB2_SHAREFLAG_AUTO_CACHING.
    pub const AUTO_CACHING: u32 = 0x0000_0010;
    /// SMB2_SHAREFLAG_VDO_CACHING.
    pub const VDO_CACHING: u32 = 0x0000_0020;
    /// SMB2_SHAREFLAG_NO_CACHING.
    pub const NO_CACHING: u32 = 0x0000_0030;
    /// The bits that hold the caching policy.
    pub const CACHING_MASK: u32 = 0x0000_0030;
    /// SMB2_SHAREFLAG_DFS.
    pub const DFS: u32 = 0x0000_0001;
    /// SMB2_SHAREFLAG_DFS_ROOT.
    pub const DFS_ROOT: u32 = 0x0000_0002;
    /// SMB2_SHAREFLAG_RESTRICT_EXCLUSIVE_OPENS.
    pub const RESTRICT_EXCLUSIVE_OPENS: u32 = 0x0000_0100;
    /// SMB2_SHAREFLAG_FORCE_SHARED_DELETE.
    pub const FORCE_SHARED_DELETE: u32 = 0x0000_0200;
    /// SMB2_SHAREFLAG_ALLOW_NAMESPACE_CACHING.
    pub const ALLOW_NAMESPACE_CACHING: u32 = 0x0000_0400;
    /// SMB2_SHAREFLAG_ACCESS_BASED_DIRECTORY_ENUM.
    pub const ACCESS_BASED_DIRECTORY_ENUM: u32 = 0x0000_0800;
    /// SMB2_SHAREFLAG_FORCE_LEVELII_OPLOCK.
    pub const FORCE_LEVELII_OPLOCK: u32 = 0x0000_1000;
    /// SMB2_SHAREFLAG_ENABLE_HASH_V1.
    pub const ENABLE_HASH_V1: u32 = 0x0000_2000;
    /// SMB2_SHAREFLAG_ENABLE_HASH_V2.
    pub const ENABLE_HASH_V2: u32 = 0x0000_4000;
    /// SMB2_SHAREFLAG_ENCRYPT_DATA: the share requires encryption (3.x).
    pub const ENCRYPT_DATA: u32 = 0x0000_8000;
    /// SMB2_SHAREFLAG_IDENTITY_REMOTING.
    pub const IDENTITY_REMOTING: u32 = 0x0004_0000;
    /// SMB2_SHAREFLAG_COMPRESS_DATA.
    pub const COMPRESS_DATA: u32 = 0x0010_0000;
    /// SMB2_SHAREFLAG_ISOLATED_TRANSPORT.
    pub const ISOLATED_TRANSPORT: u32 = 0x0020_0000;
}

/// Share Capabilities of a TREE_CONNECT response (§2.2.10).
pub mod share_capabilities {
    /// SMB2_SHARE_CAP_DFS.
    pub const DFS: u32 = 0x0000_0008;
    /// SMB2_SHARE_CAP_CONTINUOUS_AVAILABILITY.
    pub const CONTINUOUS_AVAILABILITY: u32 = 0x0000_0010;
    /// SMB2_SHARE_CAP_SCALEOUT.
    pub const SCALEOUT: u32 = 0x0000_0020;
    /// SMB2_SHARE_CAP_CLUSTER.
    pub const CLUSTER: u32 = 0x0000_0040;
    /// SMB2_SHARE_CAP_ASYMMETRIC.
    pub const ASYMMETRIC: u32 = 0x0000_0080;
    /// SMB2_SHARE_CAP_REDIRECT_TO_OWNER.
    pub const REDIRECT_TO_OWNER: u32 = 0x0000_0100;
}

/// SMB2 TREE_CONNECT request (§2.2.9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeConnectRequest {
    /// See [`request_flags`].
    pub flags: u16,
    /// The UNC path `\\server\share`, decoded from UTF-16LE.
    pub path: String,
}

impl TreeConnectRequest {
    /// Parses the request body of `h`; a path outside the message is an error.
    ///
    /// With SMB2_TREE_CONNECT_FLAG_EXTENSION_PRESENT, implementations disagree on what
    /// PathOffset counts from: MS-SMB2 §2.2.9 says the header, ksmbd takes the start of the
    /// extension (the Buffer). The path sits after the 16-byte extension header either way, so
    /// an offset below 72 + 16 is taken relative to the Buffer, any other one to the header.
    pub fn parse(h: &Header<'_>) -> Result<Self> {
        h.fixed_body(field::REQ_STRUCTURE_SIZE)?;
        let raw = h.raw();
        let flags = u16_at(raw, field::REQ_FLAGS, Layer::Smb2)?;
        let mut off = usize::from(u16_at(raw, field::REQ_PATH_OFFSET, Layer::Smb2)?);
        let len = usize::from(u16_at(raw, field::REQ_PATH_LENGTH, Layer::Smb2)?);
        if flags & request_flags::EXTENSION_PRESENT != 0 && off < field::REQ_EXT_PATH {
            off += field::REQ_BUFFER;
        }
        let path = buffer_at(raw, off, len, Layer::Smb2)?;
        Ok(TreeConnectRequest {
            flags,
            path: utf16le_to_string(path),
        })
    }

    /// The share name: the path after its last `\` (or `/`), e.g. `IPC$`.
    pub fn share_name(&self) -> &str {
        self.path
            .rsplit(['\\', '/'])
            .next()
            .unwrap_or(self.path.as_str())
    }

    /// Whether this connects to the IPC$ share (named pipes), case-insensitively.
    pub fn is_ipc(&self) -> bool {
        self.share_name().eq_ignore_ascii_case("IPC$")
    }
}

/// SMB2 TREE_CONNECT response (§2.2.10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeConnectResponse {
    /// 1 disk, 2 pipe, 3 print; see [`ShareType`] and [`share_kind`](Self::share_kind).
    pub share_type: u8,
    /// See [`share_flags`].
    pub share_flags: u32,
    /// See [`share_capabilities`].
    pub capabilities: u32,
    /// The access mask granted to the user on the share.
    pub maximal_access: u32,
}

impl TreeConnectResponse {
    /// Parses the response body of `h`.
    pub fn parse(h: &Header<'_>) -> Result<Self> {
        h.fixed_body(field::RSP_STRUCTURE_SIZE)?;
        let raw = h.raw();
        Ok(TreeConnectResponse {
            share_type: u8_at(raw, field::RSP_SHARE_TYPE, Layer::Smb2)?,
            share_flags: u32_at(raw, field::RSP_SHARE_FLAGS, Layer::Smb2)?,
            capabilities: u32_at(raw, field::RSP_CAPABILITIES, Layer::Smb2)?,
            maximal_access: u32_at(raw, field::RSP_MAXIMAL_ACCESS, Layer::Smb2)?,
        })
    }

    /// The share type as an enum.
    pub fn share_kind(&self) -> ShareType {
        ShareType(self.share_type)
    }

    /// SMB2_SHAREFLAG_ENCRYPT_DATA: the server encrypts all traffic on this share.
    pub fn encrypt_data(&self) -> bool {
        self.share_flags & share_flags::ENCRYPT_DATA != 0
    }
}

/// Byte offsets from the start of the SMB2 header (§2.2.9, §2.2.9.1, §2.2.10).
mod field {
    pub const REQ_STRUCTURE_SIZE: u16 = 9;
    pub const REQ_FLAGS: usize = 66;
    pub const REQ_PATH_OFFSET: usize = 68;
    pub const REQ_PATH_LENGTH: usize = 70;
    /// Start of the Buffer (and of a TREE_CONNECT_Request_Extension).
    pub const REQ_BUFFER: usize = 72;
    /// PathName inside the extension: after TreeConnectContextOffset u32,
    /// TreeConnectContextCount u16 and 10 reserved bytes.
    pub const REQ_EXT_PATH: usize = REQ_BUFFER + 16;

    pub const RSP_STRUCTURE_SIZE: u16 = 16;
    pub const RSP_SHARE_TYPE: usize = 66;
    pub const RSP_SHARE_FLAGS: usize = 68;
    pub const RSP_CAPABILITIES: usize = 72;
    pub const RSP_MAXIMAL_ACCESS: usize = 76;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smb::testutil::{build, check_prefixes, nbss_payload};

    // suricata-verify/smb3-01__input.pcap frame 7: TREE_CONNECT \\WS2016\encrypted (signed).
    const SMB3_01_F7: &str = "0000006efe534d4240000100000000000300020008000000000000000300000000000000d5000000000000003d0000940048000071ad17fd1d838197048999eb7b906ce309000000480024005c005c005700530032003000310036005c0065006e0063007200790070007400650064000000";
    // suricata-verify/smb3-01__input.pcap frame 8: its response, ShareFlags ENCRYPT_DATA.
    const SMB3_01_F8: &str = "00000050fe534d4240000100000000000300020009000000000000000300000000000000d5000000010000003d00009400480000c657089883f9f8fe765feebaf883e202100001000080000000000000ff011f00";

    #[test]
    fn real_request() {
        let m = nbss_payload(SMB3_01_F7);
        let r = TreeConnectRequest::parse(&Header::parse(&m).unwrap()).unwrap();
        assert_eq!(r.path, r"\\WS2016\encrypted");
        assert_eq!(r.flags, 0);
        assert_eq!(r.share_name(), "encrypted");
        assert!(!r.is_ipc());
        check_prefixes(&m, m.len() - 2, |h| TreeConnectRequest::parse(h).is_ok());
    }

    #[test]
    fn real_response() {
        let m = nbss_payload(SMB3_01_F8);
        let r = TreeConnectResponse::parse(&Header::parse(&m).unwrap()).unwrap();
        assert_eq!(r.share_kind(), ShareType::DISK);
        assert_eq!(r.share_flags, share_flags::ENCRYPT_DATA);
        assert!(r.encrypt_data());
        assert_eq!(r.capabilities, 0);
        assert_eq!(r.maximal_access, 0x001f_01ff);
        check_prefixes(&m, m.len(), |h| TreeConnectResponse::parse(h).is_ok());
    }

    fn request_with(flags: u16, path_offset: u16, buffer: &[u8]) -> Vec<u8> {
        let path_len = 10u16; // "\\a\b" = 5 UTF-16 units
        let mut b = vec![9, 0];
        b.extend_from_slice(&flags.to_le_bytes());
        b.extend_from_slice(&path_offset.to_le_bytes());
        b.extend_from_slice(&path_len.to_le_bytes());
        b.extend_from_slice(buffer);
        build(3, 0, 0, &b)
    }

    #[test]
    fn extension_present_layouts() {
        let path: Vec<u8> = r"\\a\b".encode_utf16().flat_map(u16::to_le_bytes).collect();
        // Extension: TreeConnectContextOffset, count 0, 10 reserved bytes, then PathName.
        let mut ext = vec![0u8; 16];
        ext.extend_from_slice(&path);
        for off in [88u16, 16] {
            let m = request_with(request_flags::EXTENSION_PRESENT, off, &ext);
            let r = TreeConnectRequest::parse(&Header::parse(&m).unwrap()).unwrap();
            assert_eq!(r.path, r"\\a\b", "PathOffset {off}");
            assert_eq!(r.share_name(), "b");
        }
        // Without the flag, the path sits at 72.
        let m = request_with(0, 72, &path);
        let r = TreeConnectRequest::parse(&Header::parse(&m).unwrap()).unwrap();
        assert_eq!(r.path, r"\\a\b");
        // Out of bounds: error.
        let m = request_with(0, 80, &path);
        assert!(TreeConnectRequest::parse(&Header::parse(&m).unwrap()).is_err());
    }

    #[test]
    fn ipc_and_names() {
        let r = TreeConnectRequest {
            flags: 0,
            path: r"\\10.160.65.202\ipc$".into(),
        };
        assert!(r.is_ipc());
        let r = TreeConnectRequest {
            flags: 0,
            path: "noslash".into(),
        };
        assert_eq!(r.share_name(), "noslash");
        assert_eq!(ShareType::PIPE.to_string(), "PIPE");
    }
}
