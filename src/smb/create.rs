//! SMB2 CREATE request and response ([MS-SMB2] §2.2.13, §2.2.14). Create contexts are not
//! decoded.

use crate::smb::header::Header;
use crate::smb::util::{buffer_at, bytes16_at, u8_at, u16_at, u32_at, u64_at, utf16le_to_string};
use crate::wire::{Layer, Result};

/// CreateDisposition values (§2.2.13).
pub mod create_disposition {
    /// FILE_SUPERSEDE.
    pub const SUPERSEDE: u32 = 0x0000_0000;
    /// FILE_OPEN.
    pub const OPEN: u32 = 0x0000_0001;
    /// FILE_CREATE.
    pub const CREATE: u32 = 0x0000_0002;
    /// FILE_OPEN_IF.
    pub const OPEN_IF: u32 = 0x0000_0003;
    /// FILE_OVERWRITE.
    pub const OVERWRITE: u32 = 0x0000_0004;
    /// FILE_OVERWRITE_IF.
    pub const OVERWRITE_IF: u32 = 0x0000_0005;
}

/// A few CreateOptions bits (§2.2.13).
pub mod create_options {
    /// FILE_DIRECTORY_FILE.
    pub const DIRECTORY_FILE: u32 = 0x0000_0001;
    /// FILE_WRITE_THROUGH.
    pub const WRITE_THROUGH: u32 = 0x0000_0002;
    /// FILE_NON_DIRECTORY_FILE.
    pub const NON_DIRECTORY_FILE: u32 = 0x0000_0040;
    /// FILE_DELETE_ON_CLOSE.
    pub const DELETE_ON_CLOSE: u32 = 0x0000_1000;
    /// FILE_OPEN_REPARSE_POINT.
    pub const OPEN_REPARSE_POINT: u32 = 0x0020_0000;
}

/// CreateAction values (§2.2.14).
pub mod create_action {
    /// FILE_SUPERSEDED.
    pub const SUPERSEDED: u32 = 0x0000_0000;
    /// FILE_OPENED.
    pub const OPENED: u32 = 0x0000_0001;
    /// FILE_CREATED.
    pub const CREATED: u32 = 0x0000_0002;
    /// FILE_OVERWRITTEN.
    pub const OVERWRITTEN: u32 = 0x0000_0003;
}

/// A few access-mask bits ([MS-SMB2] §2.2.13.1) for DesiredAccess / MaximalAccess.
pub mod access_mask {
    /// FILE_READ_DATA / FILE_LIST_DIRECTORY.
    pub const FILE_READ_DATA: u32 = 0x0000_0001;
    /// FILE_WRITE_DATA / FILE_ADD_FILE.
    pub const FILE_WRITE_DATA: u32 = 0x0000_0002;
    /// FILE_APPEND_DATA / FILE_ADD_SUBDIRECTORY.
    pub const FILE_APPEND_DATA: u32 = 0x0000_0004;
    /// FILE_EXECUTE / FILE_TRAVERSE.
    pub const FILE_EXECUTE: u32 = 0x0000_0020;
    /// DELETE.
    pub const DELETE: u32 = 0x0001_0000;
    /// WRITE_DAC.
    pub const WRITE_DAC: u32 = 0x0004_0000;
    /// WRITE_OWNER.
    pub const WRITE_OWNER: u32 = 0x0008_0000;
    /// MAXIMUM_ALLOWED.
    pub const MAXIMUM_ALLOWED: u32 = 0x0200_0000;
    /// GENERIC_ALL.
    pub const GENERIC_ALL: u32 = 0x1000_0000;
    /// GENERIC_WRITE.
    pub const GENERIC_WRITE: u32 = 0x4000_0000;
    /// GENERIC_READ.
    pub const GENERIC_READ: u32 = 0x8000_0000;
}

/// SMB2 CREATE request (§2.2.13).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateRequest {
    /// The file name relative to the share, decoded from UTF-16LE; empty = the share root.
    pub name: String,
    /// See [`access_mask`].
    pub desired_access: u32,
    /// See [`create_disposition`].
    pub create_disposition: u32,
    /// See [`create_options`].
    pub create_options: u32,
    /// RequestedOplockLevel (0x09 batch, 0xFF lease, ...).
    pub requested_oplock_level: u8,
    /// ImpersonationLevel (0 anonymous .. 3 delegate).
    pub impersonation_level: u32,
    pub file_attributes: u32,
    pub share_access: u32,
}

impl CreateRequest {
    /// Parses the request body of `h`; a name outside the message is an error.
    pub fn parse(h: &Header<'_>) -> Result<Self> {
        h.fixed_body(field::REQ_STRUCTURE_SIZE)?;
        let raw = h.raw();
        let off = u16_at(raw, field::REQ_NAME_OFFSET, Layer::Smb2)?;
        let len = u16_at(raw, field::REQ_NAME_LENGTH, Layer::Smb2)?;
        let name = buffer_at(raw, usize::from(off), usize::from(len), Layer::Smb2)?;
        Ok(CreateRequest {
            name: utf16le_to_string(name),
            desired_access: u32_at(raw, field::REQ_DESIRED_ACCESS, Layer::Smb2)?,
            create_disposition: u32_at(raw, field::REQ_CREATE_DISPOSITION, Layer::Smb2)?,
            create_options: u32_at(raw, field::REQ_CREATE_OPTIONS, Layer::Smb2)?,
            requested_oplock_level: u8_at(raw, field::REQ_OPLOCK_LEVEL, Layer::Smb2)?,
            impersonation_level: u32_at(raw, field::REQ_IMPERSONATION_LEVEL, Layer::Smb2)?,
            file_attributes: u32_at(raw, field::REQ_FILE_ATTRIBUTES, Layer::Smb2)?,
            share_access: u32_at(raw, field::REQ_SHARE_ACCESS, Layer::Smb2)?,
        })
    }
}

/// SMB2 CREATE response (§2.2.14).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CreateResponse {
    /// SMB2_FILEID: Persistent (8 bytes) then Volatile (8 bytes), wire order.
    pub file_id: [u8; 16],
    /// See [`create_action`].
    pub create_action: u32,
    pub end_of_file: u64,
    pub allocation_size: u64,
    pub oplock_level: u8,
    pub file_attributes: u32,
}

impl CreateResponse {
    /// Parses the response body of `h`.
    pub fn parse(h: &Header<'_>) -> Result<Self> {
        h.fixed_body(field::RSP_STRUCTURE_SIZE)?;
        let raw = h.raw();
        Ok(CreateResponse {
            file_id: bytes16_at(raw, field::RSP_FILE_ID, Layer::Smb2)?,
            create_action: u32_at(raw, field::RSP_CREATE_ACTION, Layer::Smb2)?,
            end_of_file: u64_at(raw, field::RSP_END_OF_FILE, Layer::Smb2)?,
            allocation_size: u64_at(raw, field::RSP_ALLOCATION_SIZE, Layer::Smb2)?,
            oplock_level: u8_at(raw, field::RSP_OPLOCK_LEVEL, Layer::Smb2)?,
            file_attributes: u32_at(raw, field::RSP_FILE_ATTRIBUTES, Layer::Smb2)?,
        })
    }
}

/// Byte offsets from the start of the SMB2 header (§2.2.13, §2.2.14).
mod field {
    pub const REQ_STRUCTURE_SIZE: u16 = 57;
    pub const REQ_OPLOCK_LEVEL: usize = 67;
    pub const REQ_IMPERSONATION_LEVEL: usize = 68;
    pub const REQ_DESIRED_ACCESS: usize = 88;
    pub const REQ_FILE_ATTRIBUTES: usize = 92;
    pub const REQ_SHARE_ACCESS: usize = 96;
    pub const REQ_CREATE_DISPOSITION: usize = 100;
    pub const REQ_CREATE_OPTIONS: usize = 104;
    pub const REQ_NAME_OFFSET: usize = 108;
    pub const REQ_NAME_LENGTH: usize = 110;

    pub const RSP_STRUCTURE_SIZE: u16 = 89;
    pub const RSP_OPLOCK_LEVEL: usize = 66;
    pub const RSP_CREATE_ACTION: usize = 68;
    pub const RSP_ALLOCATION_SIZE: usize = 104;
    pub const RSP_END_OF_FILE: usize = 112;
    pub const RSP_FILE_ATTRIBUTES: usize = 120;
    pub const RSP_FILE_ID: usize = 128;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smb::testutil::{check_prefixes, hex, nbss_payload};

    // zeek/smb2readwrite.pcap frame 1: CREATE "pythonfile" (values from tshark -V).
    const RW_F1: &str = "000000e8fe534d424000010000000000050001000000000000000000cd04000000000000fffe00007a6c1953c01c233c0000000000000000000000000000000000000000390000090200000000000000000000000000000000000000890012008000000003000000010000006000000078001400900000005800000070007900740068006f006e00660069006c006500320000002800000010000400000018001000000044486e510000000000000000000000000000000000000000180000001000040000001800000000004d78416300000000000000001000040000001800000000005146696400000000";
    // zeek/smb2readwrite.pcap frame 2: its response.
    const RW_F2: &str = "000000f0fe534d424000010000000000050001000100000000000000cd04000000000000fffe00007a6c1953c01c233c0000000000000000000000000000000000000000590009000100000080261aedcabfd40140afd907cbbfd4016f871aedcabfd4016f871aedcabfd4010000100000000000100000000000000080000000000000002e8c2fc5000000004d57ffae000000009800000058000000200000001000040000001800080000004d78416300000000000000009f011700000000001000040000001800200000005146696400000000ceee1d0000000000010800000000000000000000000000000000000000000000";

    #[test]
    fn real_request() {
        let m = nbss_payload(RW_F1);
        let r = CreateRequest::parse(&Header::parse(&m).unwrap()).unwrap();
        assert_eq!(r.name, "pythonfile");
        assert_eq!(r.desired_access, 0x0012_0089);
        assert_eq!(r.create_disposition, create_disposition::OPEN);
        assert_eq!(r.create_options, 0x60);
        assert_eq!(r.requested_oplock_level, 0x09);
        assert_eq!(r.impersonation_level, 2);
        assert_eq!((r.file_attributes, r.share_access), (0x80, 3));
        // Fixed part 56 bytes + the 20-byte name at 120.
        check_prefixes(&m, 140, |h| CreateRequest::parse(h).is_ok());
    }

    #[test]
    fn real_response() {
        let m = nbss_payload(RW_F2);
        let r = CreateResponse::parse(&Header::parse(&m).unwrap()).unwrap();
        assert_eq!(r.create_action, create_action::OPENED);
        assert_eq!(r.end_of_file, 16);
        assert_eq!(r.allocation_size, 1_048_576);
        assert_eq!(r.oplock_level, 0x09);
        assert_eq!(r.file_attributes, 0x80);
        assert_eq!(r.file_id[..], hex("2e8c2fc5000000004d57ffae00000000")[..]);
        check_prefixes(&m, 64 + 88, |h| CreateResponse::parse(h).is_ok());
    }

    #[test]
    fn share_root_and_compound() {
        // zeek/smb2readwrite.pcap frame 28: CREATE with an empty name (share root).
        let m = nbss_payload(
            "000000c0fe534d424000010000000000050001000000000000000000d904000000000000fffe00007a6c1953c01c233c0000000000000000000000000000000000000000390000000200000000000000000000000000000000000000800000000000000007000000010000000000200078000000800000004000000000007900740068002800000010000400000018001000000044486e510000000000000000000000000000000000000000000000001000040000001800000000004d78416300000000",
        );
        let r = CreateRequest::parse(&Header::parse(&m).unwrap()).unwrap();
        assert_eq!(r.name, "");
        // zeek/smb2-multiple-pdus.pcap frame 1: first message of a compound.
        let m = nbss_payload(
            "000001b8fe534d4240000100000000000500000100000000f80000009803000000000000fffe0000b9b6e317fb8c8dbc0000000000000000000000000000000000000000390000ff020000000000000000000000000000000000000080001100800000000000000001000000000000007800180090000000680000007400650073007400660069006c0065002e00740078007400180000001000040000000000000000004d784163000000000000000010000400000018003400000052714c7300000000aa380037c6de80a30ba559d4e8af6dc500000000040000000000000000000000ddcaa13c97574b0189d461e272e0e4d10000000000000000fe534d4240000100000000001100000104000000680000009903000000000000fffe0000b9b6e317fb8c8dbc00000000000000000000000000000000000000002100010d010000006000000000000000ffffffffffffffffffffffffffffffff0100000000000000fe534d4240000100000000000600000104000000000000009a03000000000000fffe0000b9b6e317fb8c8dbc00000000000000000000000000000000000000001800000000000000ffffffffffffffffffffffffffffffff",
        );
        let r = CreateRequest::parse(&Header::parse(&m).unwrap()).unwrap();
        assert_eq!(r.name, "testfile.txt");
        assert_eq!(r.desired_access & access_mask::DELETE, access_mask::DELETE);
    }
}
