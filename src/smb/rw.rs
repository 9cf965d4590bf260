//! SMB2 READ, WRITE and IOCTL requests/responses ([MS-SMB2] §2.2.19-22, §2.2.31-32), the ERROR
//! response (§2.2.2) and the FSCTL_VALIDATE_NEGOTIATE_INFO payloads (§2.2.31.4, §2.2.32.6).
//!
//! READ/WRITE are the hot path: the parsers read only the fixed part, never allocate, and work
//! on a message whose data part is missing (the engine may hold only the first bytes of a large
//! WRITE). The data itself is available, clamped to what is present, through `data(h)`.

use crate::smb::header::{Command, HEADER_LEN, Header};
use crate::smb::negotiate::Dialect;
use crate::smb::status::NtStatus;
use crate::smb::util::{bytes16_at, u8_at, u16_at, u32_at, u64_at};
use crate::wire::{Layer, ParseError, Result};

/// A few FSCTL/IOCTL codes ([MS-SMB2] §2.2.31, [MS-FSCC] §2.3).
pub mod fsctl {
    /// FSCTL_DFS_GET_REFERRALS.
    pub const DFS_GET_REFERRALS: u32 = 0x0006_0194;
    /// FSCTL_DFS_GET_REFERRALS_EX.
    pub const DFS_GET_REFERRALS_EX: u32 = 0x0006_01B0;
    /// FSCTL_PIPE_PEEK.
    pub const PIPE_PEEK: u32 = 0x0011_400C;
    /// FSCTL_PIPE_WAIT.
    pub const PIPE_WAIT: u32 = 0x0011_0018;
    /// FSCTL_PIPE_TRANSCEIVE (DCE/RPC over named pipes).
    pub const PIPE_TRANSCEIVE: u32 = 0x0011_C017;
    /// FSCTL_SRV_COPYCHUNK.
    pub const SRV_COPYCHUNK: u32 = 0x0014_40F2;
    /// FSCTL_SRV_COPYCHUNK_WRITE.
    pub const SRV_COPYCHUNK_WRITE: u32 = 0x0014_80F2;
    /// FSCTL_SRV_ENUMERATE_SNAPSHOTS.
    pub const SRV_ENUMERATE_SNAPSHOTS: u32 = 0x0014_4064;
    /// FSCTL_SRV_REQUEST_RESUME_KEY.
    pub const SRV_REQUEST_RESUME_KEY: u32 = 0x0014_0078;
    /// FSCTL_SRV_READ_HASH.
    pub const SRV_READ_HASH: u32 = 0x0014_41BB;
    /// FSCTL_LMR_REQUEST_RESILIENCY.
    pub const LMR_REQUEST_RESILIENCY: u32 = 0x0014_01D4;
    /// FSCTL_QUERY_NETWORK_INTERFACE_INFO (multichannel).
    pub const QUERY_NETWORK_INTERFACE_INFO: u32 = 0x0014_01FC;
    /// FSCTL_VALIDATE_NEGOTIATE_INFO (secure dialect negotiation, 3.0/3.0.2; §3.3.5.15.12).
    pub const VALIDATE_NEGOTIATE_INFO: u32 = 0x0014_0204;
}

/// IOCTL request Flags (§2.2.31).
pub mod ioctl_flags {
    /// SMB2_0_IOCTL_IS_FSCTL: an FSCTL (otherwise an IOCTL).
    pub const IS_FSCTL: u32 = 0x0000_0001;
}

/// SMB2 READ request (§2.2.19): the fixed part only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadRequest {
    /// Bytes requested.
    pub length: u32,
    /// File offset.
    pub offset: u64,
    pub file_id: [u8; 16],
    pub minimum_count: u32,
    /// Flags (3.0.2+: SMB2_READFLAG_READ_UNBUFFERED 0x01, 3.1.1: REQUEST_COMPRESSED 0x02).
    pub flags: u8,
}

impl ReadRequest {
    /// Parses the fixed part of the request body of `h` (no allocation).
    pub fn parse(h: &Header<'_>) -> Result<Self> {
        h.fixed_body(field::READ_REQ_STRUCTURE_SIZE)?;
        let raw = h.raw();
        Ok(ReadRequest {
            length: u32_at(raw, field::READ_REQ_LENGTH, Layer::Smb2)?,
            offset: u64_at(raw, field::READ_REQ_OFFSET, Layer::Smb2)?,
            file_id: bytes16_at(raw, field::READ_REQ_FILE_ID, Layer::Smb2)?,
            minimum_count: u32_at(raw, field::READ_REQ_MINIMUM_COUNT, Layer::Smb2)?,
            flags: u8_at(raw, field::READ_REQ_FLAGS, Layer::Smb2)?,
        })
    }
}

/// SMB2 READ response (§2.2.20): the fixed part only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadResponse {
    /// Bytes of data returned.
    pub data_length: u32,
    /// DataOffset, from the start of the header.
    pub data_offset: u8,
    pub data_remaining: u32,
}

impl ReadResponse {
    /// What [`ReadResponse::parse`] reads of a message: the header and the fixed part.
    pub const PARSED_LEN: usize = HEADER_LEN + (field::READ_RSP_STRUCTURE_SIZE & !1) as usize;

    /// Parses the fixed part of the response body of `h` (no allocation).
    pub fn parse(h: &Header<'_>) -> Result<Self> {
        h.fixed_body(field::READ_RSP_STRUCTURE_SIZE)?;
        let raw = h.raw();
        Ok(ReadResponse {
            data_offset: u8_at(raw, field::READ_RSP_DATA_OFFSET, Layer::Smb2)?,
            data_length: u32_at(raw, field::READ_RSP_DATA_LENGTH, Layer::Smb2)?,
            data_remaining: u32_at(raw, field::READ_RSP_DATA_REMAINING, Layer::Smb2)?,
        })
    }

    /// The part of the data present in `h` (clamped; empty if the offset is past the end).
    pub fn data<'a>(&self, h: &Header<'a>) -> &'a [u8] {
        clamp(
            h.raw(),
            u64::from(self.data_offset),
            u64::from(self.data_length),
        )
    }
}

/// SMB2 WRITE request (§2.2.21): the fixed part only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteRequest {
    /// Bytes to write.
    pub length: u32,
    /// File offset.
    pub offset: u64,
    pub file_id: [u8; 16],
    /// DataOffset, from the start of the header.
    pub data_offset: u16,
    /// Flags (SMB2_WRITEFLAG_WRITE_THROUGH 0x1, WRITE_UNBUFFERED 0x2).
    pub flags: u32,
}

impl WriteRequest {
    /// What [`WriteRequest::parse`] reads of a message: the header and the fixed part.
    pub const PARSED_LEN: usize = HEADER_LEN + (field::WRITE_REQ_STRUCTURE_SIZE & !1) as usize;

    /// Parses the fixed part of the request body of `h` (no allocation); the data may be absent.
    pub fn parse(h: &Header<'_>) -> Result<Self> {
        h.fixed_body(field::WRITE_REQ_STRUCTURE_SIZE)?;
        let raw = h.raw();
        Ok(WriteRequest {
            data_offset: u16_at(raw, field::WRITE_REQ_DATA_OFFSET, Layer::Smb2)?,
            length: u32_at(raw, field::WRITE_REQ_LENGTH, Layer::Smb2)?,
            offset: u64_at(raw, field::WRITE_REQ_OFFSET, Layer::Smb2)?,
            file_id: bytes16_at(raw, field::WRITE_REQ_FILE_ID, Layer::Smb2)?,
            flags: u32_at(raw, field::WRITE_REQ_FLAGS, Layer::Smb2)?,
        })
    }

    /// The part of the data present in `h` (clamped; empty if the offset is past the end).
    pub fn data<'a>(&self, h: &Header<'a>) -> &'a [u8] {
        clamp(h.raw(), u64::from(self.data_offset), u64::from(self.length))
    }
}

/// SMB2 WRITE response (§2.2.22).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteResponse {
    /// Bytes written.
    pub count: u32,
}

impl WriteResponse {
    /// Parses the response body of `h`.
    pub fn parse(h: &Header<'_>) -> Result<Self> {
        h.fixed_body(field::WRITE_RSP_STRUCTURE_SIZE)?;
        Ok(WriteResponse {
            count: u32_at(h.raw(), field::WRITE_RSP_COUNT, Layer::Smb2)?,
        })
    }
}

/// SMB2 IOCTL request (§2.2.31): the fixed part; the input buffer via [`input`](Self::input).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IoctlRequest {
    /// CtlCode; see [`fsctl`].
    pub ctl_code: u32,
    /// All 0xFF for requests not on a file (e.g. VALIDATE_NEGOTIATE_INFO).
    pub file_id: [u8; 16],
    /// See [`ioctl_flags`].
    pub flags: u32,
    /// InputOffset, from the start of the header.
    pub input_offset: u32,
    pub input_count: u32,
    pub max_output_response: u32,
}

impl IoctlRequest {
    /// Parses the fixed part of the request body of `h`.
    pub fn parse(h: &Header<'_>) -> Result<Self> {
        h.fixed_body(field::IOCTL_REQ_STRUCTURE_SIZE)?;
        let raw = h.raw();
        Ok(IoctlRequest {
            ctl_code: u32_at(raw, field::IOCTL_CTL_CODE, Layer::Smb2)?,
            file_id: bytes16_at(raw, field::IOCTL_FILE_ID, Layer::Smb2)?,
            flags: u32_at(raw, field::IOCTL_REQ_FLAGS, Layer::Smb2)?,
            input_offset: u32_at(raw, field::IOCTL_INPUT_OFFSET, Layer::Smb2)?,
            input_count: u32_at(raw, field::IOCTL_INPUT_COUNT, Layer::Smb2)?,
            max_output_response: u32_at(raw, field::IOCTL_REQ_MAX_OUTPUT, Layer::Smb2)?,
        })
    }

    /// The input buffer, if it lies wholly inside `h`.
    pub fn input<'a>(&self, h: &Header<'a>) -> Option<&'a [u8]> {
        exact(h.raw(), self.input_offset, self.input_count)
    }
}

/// SMB2 IOCTL response (§2.2.32): the fixed part; the output buffer via
/// [`output`](Self::output).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IoctlResponse {
    pub ctl_code: u32,
    pub file_id: [u8; 16],
    /// OutputOffset, from the start of the header.
    pub output_offset: u32,
    pub output_count: u32,
}

impl IoctlResponse {
    /// Parses the fixed part of the response body of `h`.
    pub fn parse(h: &Header<'_>) -> Result<Self> {
        h.fixed_body(field::IOCTL_RSP_STRUCTURE_SIZE)?;
        let raw = h.raw();
        Ok(IoctlResponse {
            ctl_code: u32_at(raw, field::IOCTL_CTL_CODE, Layer::Smb2)?,
            file_id: bytes16_at(raw, field::IOCTL_FILE_ID, Layer::Smb2)?,
            output_offset: u32_at(raw, field::IOCTL_RSP_OUTPUT_OFFSET, Layer::Smb2)?,
            output_count: u32_at(raw, field::IOCTL_RSP_OUTPUT_COUNT, Layer::Smb2)?,
        })
    }

    /// The output buffer, if it lies wholly inside `h`.
    pub fn output<'a>(&self, h: &Header<'a>) -> Option<&'a [u8]> {
        exact(h.raw(), self.output_offset, self.output_count)
    }
}

/// VALIDATE_NEGOTIATE_INFO request payload (§2.2.31.4): the IOCTL input buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidateNegotiateInfoRequest {
    pub capabilities: u32,
    pub guid: [u8; 16],
    pub security_mode: u16,
    pub dialects: Vec<Dialect>,
}

impl ValidateNegotiateInfoRequest {
    /// Parses the IOCTL input buffer (offsets in errors count from `input[0]`).
    pub fn parse(input: &[u8]) -> Result<Self> {
        let count = u16_at(input, vni::DIALECT_COUNT, Layer::Smb2)?;
        let list = input
            .get(vni::DIALECTS..)
            .and_then(|d| d.get(..2 * usize::from(count)))
            .ok_or(ParseError::new(
                Layer::Smb2,
                vni::DIALECTS,
                "dialect list truncated",
            ))?;
        Ok(ValidateNegotiateInfoRequest {
            capabilities: u32_at(input, vni::CAPABILITIES, Layer::Smb2)?,
            guid: bytes16_at(input, vni::GUID, Layer::Smb2)?,
            security_mode: u16_at(input, vni::SECURITY_MODE, Layer::Smb2)?,
            dialects: list
                .chunks_exact(2)
                .map(|p| Dialect(u16::from_le_bytes([p[0], p[1]])))
                .collect(),
        })
    }
}

/// VALIDATE_NEGOTIATE_INFO response payload (§2.2.32.6): the IOCTL output buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidateNegotiateInfoResponse {
    pub capabilities: u32,
    pub guid: [u8; 16],
    pub security_mode: u16,
    pub dialect: Dialect,
}

impl ValidateNegotiateInfoResponse {
    /// Parses the IOCTL output buffer (24 bytes).
    pub fn parse(output: &[u8]) -> Result<Self> {
        Ok(ValidateNegotiateInfoResponse {
            capabilities: u32_at(output, vni::CAPABILITIES, Layer::Smb2)?,
            guid: bytes16_at(output, vni::GUID, Layer::Smb2)?,
            security_mode: u16_at(output, vni::SECURITY_MODE, Layer::Smb2)?,
            dialect: Dialect(u16_at(output, vni::DIALECT_COUNT, Layer::Smb2)?),
        })
    }
}

/// SMB2 ERROR response (§2.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorResponse<'a> {
    /// ErrorContextCount (3.1.1; 0 before).
    pub error_context_count: u8,
    /// ErrorData: ByteCount bytes (error contexts in 3.1.1, symlink data, ...), possibly empty.
    pub error_data: &'a [u8],
}

impl<'a> ErrorResponse<'a> {
    /// Parses an ERROR response body (StructureSize 9). The one-byte ErrorData that should
    /// follow a zero ByteCount may be missing.
    pub fn parse(h: &Header<'a>) -> Result<Self> {
        h.fixed_body(field::ERROR_STRUCTURE_SIZE)?;
        let raw = h.raw();
        let count = u32_at(raw, field::ERROR_BYTE_COUNT, Layer::Smb2)?;
        let error_data = usize::try_from(count)
            .ok()
            .and_then(|n| raw.get(field::ERROR_DATA..)?.get(..n))
            .ok_or(ParseError::new(
                Layer::Smb2,
                field::ERROR_BYTE_COUNT,
                "ErrorData past the end",
            ))?;
        Ok(ErrorResponse {
            error_context_count: u8_at(raw, field::ERROR_CONTEXT_COUNT, Layer::Smb2)?,
            error_data,
        })
    }
}

/// Whether the body of response `h` is an ERROR response (§2.2.2) rather than the command's own
/// response: a non-success status, except where §3.3.4.4 says the normal response is sent
/// (STATUS_MORE_PROCESSING_REQUIRED for SESSION_SETUP; STATUS_BUFFER_OVERFLOW for READ, IOCTL,
/// QUERY_INFO and CHANGE_NOTIFY; IOCTL/READ bodies whose StructureSize is their own).
/// Interim STATUS_PENDING responses carry an ERROR body too.
pub fn is_error_response(h: &Header<'_>) -> bool {
    if !h.is_response() {
        return false;
    }
    let status = h.status();
    let cmd = h.command();
    if status == NtStatus::SUCCESS
        || (cmd == Command::SESSION_SETUP && status == NtStatus::MORE_PROCESSING_REQUIRED)
        || (status == NtStatus::BUFFER_OVERFLOW
            && matches!(cmd, Command::QUERY_INFO | Command::CHANGE_NOTIFY))
    {
        return false;
    }
    // IOCTL (49) / READ (17) answers with an error status keep their own StructureSize.
    h.body().first_chunk::<2>().map(|b| u16::from_le_bytes(*b)) == Some(field::ERROR_STRUCTURE_SIZE)
}

/// `buf[off .. off+len]` clamped to `buf` (empty when `off` is past the end).
fn clamp(buf: &[u8], off: u64, len: u64) -> &[u8] {
    let start = usize::try_from(off).unwrap_or(usize::MAX).min(buf.len());
    let end = usize::try_from(off.saturating_add(len))
        .unwrap_or(usize::MAX)
        .min(buf.len());
    buf.get(start..end).unwrap_or(&[])
}

/// `buf[off .. off+len]` if wholly inside (an empty buffer is always present).
fn exact(buf: &[u8], off: u32, len: u32) -> Option<&[u8]> {
    if len == 0 {
        return Some(&[]);
    }
    let start = usize::try_from(off).ok()?;
    let end = start.checked_add(usize::try_from(len).ok()?)?;
    buf.get(start..end)
}

/// Byte offsets from the start of the SMB2 header.
mod field {
    // READ request, §2.2.19.
    pub const READ_REQ_STRUCTURE_SIZE: u16 = 49;
    pub const READ_REQ_FLAGS: usize = 67;
    pub const READ_REQ_LENGTH: usize = 68;
    pub const READ_REQ_OFFSET: usize = 72;
    pub const READ_REQ_FILE_ID: usize = 80;
    pub const READ_REQ_MINIMUM_COUNT: usize = 96;
    // READ response, §2.2.20.
    pub const READ_RSP_STRUCTURE_SIZE: u16 = 17;
    pub const READ_RSP_DATA_OFFSET: usize = 66;
    pub const READ_RSP_DATA_LENGTH: usize = 68;
    pub const READ_RSP_DATA_REMAINING: usize = 72;
    // WRITE request, §2.2.21.
    pub const WRITE_REQ_STRUCTURE_SIZE: u16 = 49;
    pub const WRITE_REQ_DATA_OFFSET: usize = 66;
    pub const WRITE_REQ_LENGTH: usize = 68;
    pub const WRITE_REQ_OFFSET: usize = 72;
    pub const WRITE_REQ_FILE_ID: usize = 80;
    pub const WRITE_REQ_FLAGS: usize = 108;
    // WRITE response, §2.2.22.
    pub const WRITE_RSP_STRUCTURE_SIZE: u16 = 17;
    pub const WRITE_RSP_COUNT: usize = 68;
    // IOCTL request §2.2.31 / response §2.2.32 (CtlCode and FileId at the same places).
    pub const IOCTL_REQ_STRUCTURE_SIZE: u16 = 57;
    pub const IOCTL_RSP_STRUCTURE_SIZE: u16 = 49;
    pub const IOCTL_CTL_CODE: usize = 68;
    pub const IOCTL_FILE_ID: usize = 72;
    pub const IOCTL_INPUT_OFFSET: usize = 88;
    pub const IOCTL_INPUT_COUNT: usize = 92;
    pub const IOCTL_REQ_MAX_OUTPUT: usize = 108;
    pub const IOCTL_REQ_FLAGS: usize = 112;
    pub const IOCTL_RSP_OUTPUT_OFFSET: usize = 96;
    pub const IOCTL_RSP_OUTPUT_COUNT: usize = 100;
    // ERROR response, §2.2.2.
    pub const ERROR_STRUCTURE_SIZE: u16 = 9;
    pub const ERROR_CONTEXT_COUNT: usize = 66;
    pub const ERROR_BYTE_COUNT: usize = 68;
    pub const ERROR_DATA: usize = 72;
}

/// Offsets inside the VALIDATE_NEGOTIATE_INFO payloads (§2.2.31.4, §2.2.32.6).
mod vni {
    pub const CAPABILITIES: usize = 0;
    pub const GUID: usize = 4;
    pub const SECURITY_MODE: usize = 20;
    /// DialectCount (request) / Dialect (response).
    pub const DIALECT_COUNT: usize = 22;
    pub const DIALECTS: usize = 24;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smb::testutil::{build, check_prefixes, check_raw_prefixes, hex, nbss_payload};

    // zeek/smb2readwrite.pcap frames 9/10: READ 16 bytes at 0 of "pythonfile", and the answer.
    const RW_F9: &str = "00000071fe534d424000010000000000080001000000000000000000d204000000000000fffe00007a6c1953c01c233c0000000000000000000000000000000000000000310050001000000000000000000000002e8c2fc5000000004d57ffae000000000000000000000000000000000000000000";
    const RW_F10: &str = "00000060fe534d424000010000000000080001000100000000000000d204000000000000fffe00007a6c1953c01c233c00000000000000000000000000000000000000001100500010000000000000000000000041414141414141414141414141414141";
    // zeek/smb2readwrite.pcap frame 19: WRITE Len 7000, first 200 bytes only (truncated).
    const RW_F19_HEAD: &str = "00001bc8fe534d424000010000000000090001000000000000000000d604000000000000fffe00007a6c1953c01c233c000000000000000000000000000000000000000031007000581b00000000000000000000f9d8d6ca0000000049b1670e0000000000000000000000000000000000000000424242424242424242424242424242424242424242424242424242424242424242424242424242424242424242424242424242424242424242424242424242424242424242424242424242424242424242424242";
    // suricata-verify/smb-length-5786__input.pcap frames 24/25: VALIDATE_NEGOTIATE_INFO.
    const VNI_F24: &str = "0000009afe534d4240000100000000000b00000108000000000000000a00000000000000fffe00000100000005000000fb09c2ad7a4e0f717bbec99cf685f4509c42bb403900000004021400ffffffffffffffffffffffffffffffff78000000220000000000000000000000000000002800000001000000000000007f000000294ff0988cbf5482abbade7ef764c3d30100050002021002000302031103";
    const VNI_F25: &str = "00000088fe534d4240000100000000000b00000109000000000000000a00000000000000fffe00000100000005000000fb09c2ad1316e52cedd1400ea5c6d5d6b91288a63100000004021400ffffffffffffffffffffffffffffffff70000000000000007000000018000000000000000000000066000000294ff0988cbf5482abbade7ef764c3d303000203";

    #[test]
    fn read() {
        let m = nbss_payload(RW_F9);
        let r = ReadRequest::parse(&Header::parse(&m).unwrap()).unwrap();
        assert_eq!(
            (r.length, r.offset, r.minimum_count, r.flags),
            (16, 0, 0, 0)
        );
        assert_eq!(r.file_id[..], hex("2e8c2fc5000000004d57ffae00000000")[..]);
        check_prefixes(&m, 64 + 48, |h| ReadRequest::parse(h).is_ok());

        let m = nbss_payload(RW_F10);
        let h = Header::parse(&m).unwrap();
        let r = ReadResponse::parse(&h).unwrap();
        assert_eq!(
            (r.data_length, r.data_offset, r.data_remaining),
            (16, 0x50, 0)
        );
        assert_eq!(r.data(&h), b"AAAAAAAAAAAAAAAA");
        assert!(!is_error_response(&h));
        check_prefixes(&m, 64 + 16, |h| ReadResponse::parse(h).is_ok());
        let short = Header::parse(&m[..90]).unwrap();
        assert_eq!(r.data(&short), b"AAAAAAAAAA");
    }

    #[test]
    fn write_with_missing_data() {
        let v = hex(RW_F19_HEAD);
        let m = &v[4..];
        let h = Header::parse(m).unwrap();
        let w = WriteRequest::parse(&h).unwrap();
        assert_eq!(
            (w.length, w.offset, w.data_offset, w.flags),
            (7000, 0, 0x70, 0)
        );
        assert_eq!(w.file_id[..], hex("f9d8d6ca0000000049b1670e00000000")[..]);
        assert_eq!(w.data(&h).len(), m.len() - 0x70);
        assert!(w.data(&h).iter().all(|&b| b == b'B'));
        check_prefixes(m, 64 + 48, |h| WriteRequest::parse(h).is_ok());

        // zeek/smb2readwrite.pcap frame 21: WRITE response, Count 7000.
        let m = nbss_payload(
            "00000050fe534d424000010000000000090001000100000000000000d604000000000000fffe00007a6c1953c01c233c000000000000000000000000000000000000000011000000581b00000000000000000000",
        );
        let w = WriteResponse::parse(&Header::parse(&m).unwrap()).unwrap();
        assert_eq!(w.count, 7000);
        check_prefixes(&m, m.len(), |h| WriteResponse::parse(h).is_ok());
    }

    #[test]
    fn ioctl_validate_negotiate() {
        let m = nbss_payload(VNI_F24);
        let h = Header::parse(&m).unwrap();
        let q = IoctlRequest::parse(&h).unwrap();
        assert_eq!(q.ctl_code, fsctl::VALIDATE_NEGOTIATE_INFO);
        assert_eq!(q.file_id, [0xFF; 16]);
        assert_eq!((q.flags, q.input_offset, q.input_count), (1, 0x78, 34));
        assert_eq!(q.max_output_response, 40);
        let v = ValidateNegotiateInfoRequest::parse(q.input(&h).unwrap()).unwrap();
        assert_eq!(v.capabilities, 0x7f);
        assert_eq!(v.security_mode, 1);
        assert_eq!(v.guid[..], hex("294ff0988cbf5482abbade7ef764c3d3")[..]);
        assert_eq!(v.dialects.len(), 5);
        assert_eq!(v.dialects[4], Dialect::SMB3_1_1);
        check_raw_prefixes(q.input(&h).unwrap(), 34, |b| {
            ValidateNegotiateInfoRequest::parse(b).is_ok()
        });
        check_prefixes(&m, 64 + 56, |h| IoctlRequest::parse(h).is_ok());

        let m = nbss_payload(VNI_F25);
        let h = Header::parse(&m).unwrap();
        let r = IoctlResponse::parse(&h).unwrap();
        assert_eq!(
            (r.ctl_code, r.output_offset, r.output_count),
            (0x0014_0204, 0x70, 24)
        );
        let v = ValidateNegotiateInfoResponse::parse(r.output(&h).unwrap()).unwrap();
        assert_eq!(
            (v.capabilities, v.security_mode, v.dialect),
            (0x66, 3, Dialect::SMB3_0_2)
        );
        assert!(!is_error_response(&h));
        check_prefixes(&m, 64 + 48, |h| IoctlResponse::parse(h).is_ok());
        check_raw_prefixes(r.output(&h).unwrap(), 24, |b| {
            ValidateNegotiateInfoResponse::parse(b).is_ok()
        });
        assert!(ValidateNegotiateInfoResponse::parse(&[0; 23]).is_err());
        assert!(
            ValidateNegotiateInfoRequest::parse(&hex(
                "00000000 00000000000000000000000000000000 0000 0200 0202"
            ))
            .is_err()
        );
    }

    #[test]
    fn pipe_wait_and_errors() {
        // zeek/smb2readwrite.pcap frame 44: FSCTL_PIPE_WAIT.
        let m = nbss_payload(
            "00000096fe534d4240000100000000000b0001000000000000000000e104000000000000fffe0000b40fdad6c01c233c00000000000000000000000000000000000000003900000018001100ffffffffffffffffffffffffffffffff780000001e00000000000000780000000000000000000000010000000000000085041c06d01731001000000000004d007300460074006500570064007300",
        );
        let h = Header::parse(&m).unwrap();
        let q = IoctlRequest::parse(&h).unwrap();
        assert_eq!(q.ctl_code, fsctl::PIPE_WAIT);
        assert_eq!(q.input(&h).map(<[u8]>::len), Some(30));

        // zeek/smb2readwrite.pcap frame 45: STATUS_FS_DRIVER_REQUIRED, ERROR body.
        let m = nbss_payload(
            "00000049fe534d42400001009c0100c00b0001000100000000000000e104000000000000fffe0000b40fdad6c01c233c0000000000000000000000000000000000000000090000000000000000",
        );
        let h = Header::parse(&m).unwrap();
        assert_eq!(h.status(), NtStatus::FS_DRIVER_REQUIRED);
        assert!(is_error_response(&h));
        assert!(IoctlResponse::parse(&h).is_err());
        let e = ErrorResponse::parse(&h).unwrap();
        assert_eq!((e.error_context_count, e.error_data), (0, &[][..]));
        check_prefixes(&m, 64 + 8, |h| ErrorResponse::parse(h).is_ok());

        // zeek/smb2readwrite.pcap frame 27: CREATE -> STATUS_OBJECT_NAME_NOT_FOUND.
        let m = nbss_payload(
            "00000049fe534d4240000100340000c0050001000100000000000000d804000000000000fffe00007a6c1953c01c233c0000000000000000000000000000000000000000090000000000000000",
        );
        let h = Header::parse(&m).unwrap();
        assert!(is_error_response(&h));
        // zeek/smb2readwrite.pcap frame 17: interim STATUS_PENDING (async) has an ERROR body.
        let m = nbss_payload(
            "00000049fe534d4240000000030100000f0001000300000000000000d504000000000000d504000000000000c01c233c0000000000000000000000000000000000000000090000000000000021",
        );
        assert!(is_error_response(&Header::parse(&m).unwrap()));
    }

    #[test]
    fn error_response_shapes() {
        // Zero ByteCount without the 1-byte ErrorData.
        let m = build(11, 1, 0xC000_0022, &[9, 0, 0, 0, 0, 0, 0, 0]);
        let h = Header::parse(&m).unwrap();
        assert!(ErrorResponse::parse(&h).unwrap().error_data.is_empty());
        // ByteCount 4 with 4 bytes of data, one error context.
        let m = build(5, 1, 0x8000_002D, &[9, 0, 1, 0, 4, 0, 0, 0, 1, 2, 3, 4]);
        let e = ErrorResponse::parse(&Header::parse(&m).unwrap()).unwrap();
        assert_eq!(
            (e.error_context_count, e.error_data),
            (1, &[1, 2, 3, 4][..])
        );
        // ByteCount past the end.
        let m = build(5, 1, 0xC000_0022, &[9, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0]);
        assert!(ErrorResponse::parse(&Header::parse(&m).unwrap()).is_err());
        // The exceptions of §3.3.4.4.
        let ss = build(1, 1, 0xC000_0016, &[9, 0, 0, 0, 0, 0, 0, 0]);
        assert!(!is_error_response(&Header::parse(&ss).unwrap()));
        let qi = build(0x10, 1, 0x8000_0005, &[9, 0, 0, 0, 0, 0, 0, 0]);
        assert!(!is_error_response(&Header::parse(&qi).unwrap()));
        let req = build(5, 0, 0xC000_0022, &[9, 0, 0, 0, 0, 0, 0, 0]);
        assert!(!is_error_response(&Header::parse(&req).unwrap()));
        // Buffer helpers never overflow.
        assert_eq!(clamp(&[1, 2, 3], u64::MAX, u64::MAX), &[] as &[u8]);
        assert_eq!(exact(&[1, 2, 3], u32::MAX, u32::MAX), None);
    }
}
