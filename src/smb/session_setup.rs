//! SMB2 SESSION_SETUP request and response ([MS-SMB2] §2.2.5, §2.2.6).
//!
//! The security buffers are borrowed GSS tokens (SPNEGO, raw NTLMSSP or Kerberos) for the
//! `spnego` / `ntlmssp` dissectors. Offsets count from the start of the SMB2 header.

use crate::smb::header::Header;
use crate::smb::util::{buffer_at, u8_at, u16_at, u32_at, u64_at};
use crate::wire::{Layer, Result};

/// SESSION_SETUP request Flags (§2.2.5).
pub mod request_flags {
    /// SMB2_SESSION_FLAG_BINDING: bind an existing session to a new channel (multichannel).
    pub const BINDING: u8 = 0x01;
}

/// SESSION_SETUP response SessionFlags (§2.2.6).
pub mod session_flags {
    /// SMB2_SESSION_FLAG_IS_GUEST: the user was mapped to Guest.
    pub const IS_GUEST: u16 = 0x0001;
    /// SMB2_SESSION_FLAG_IS_NULL: anonymous session.
    pub const IS_NULL: u16 = 0x0002;
    /// SMB2_SESSION_FLAG_ENCRYPT_DATA: the server requires encryption for the session (3.x).
    pub const ENCRYPT_DATA: u16 = 0x0004;
}

/// SMB2 SESSION_SETUP request (§2.2.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionSetupRequest<'a> {
    /// See [`request_flags`] (3.x; 0 before).
    pub flags: u8,
    /// SIGNING_ENABLED 0x01 / SIGNING_REQUIRED 0x02, as in
    /// [`negotiate::security_mode`](super::negotiate::security_mode).
    pub security_mode: u8,
    /// Only SMB2_GLOBAL_CAP_DFS is meaningful here.
    pub capabilities: u32,
    /// Must be 0.
    pub channel: u32,
    pub previous_session_id: u64,
    /// The GSS token.
    pub security_buffer: &'a [u8],
}

impl<'a> SessionSetupRequest<'a> {
    /// Parses the request body of `h`. A security buffer outside the message is an error.
    pub fn parse(h: &Header<'a>) -> Result<Self> {
        h.fixed_body(field::REQ_STRUCTURE_SIZE)?;
        let raw = h.raw();
        let off = u16_at(raw, field::REQ_SECBUF_OFFSET, Layer::Smb2)?;
        let len = u16_at(raw, field::REQ_SECBUF_LENGTH, Layer::Smb2)?;
        Ok(SessionSetupRequest {
            flags: u8_at(raw, field::REQ_FLAGS, Layer::Smb2)?,
            security_mode: u8_at(raw, field::REQ_SECURITY_MODE, Layer::Smb2)?,
            capabilities: u32_at(raw, field::REQ_CAPABILITIES, Layer::Smb2)?,
            channel: u32_at(raw, field::REQ_CHANNEL, Layer::Smb2)?,
            previous_session_id: u64_at(raw, field::REQ_PREVIOUS_SESSION_ID, Layer::Smb2)?,
            security_buffer: buffer_at(raw, usize::from(off), usize::from(len), Layer::Smb2)?,
        })
    }

    /// SMB2_SESSION_FLAG_BINDING is set.
    pub fn is_binding(&self) -> bool {
        self.flags & request_flags::BINDING != 0
    }
}

/// SMB2 SESSION_SETUP response (§2.2.6). Also the body of STATUS_MORE_PROCESSING_REQUIRED
/// responses (not an ERROR response there, §3.3.4.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionSetupResponse<'a> {
    /// See [`session_flags`].
    pub session_flags: u16,
    /// The GSS token.
    pub security_buffer: &'a [u8],
}

impl<'a> SessionSetupResponse<'a> {
    /// Parses the response body of `h`. A security buffer outside the message is an error.
    pub fn parse(h: &Header<'a>) -> Result<Self> {
        h.fixed_body(field::RSP_STRUCTURE_SIZE)?;
        let raw = h.raw();
        let off = u16_at(raw, field::RSP_SECBUF_OFFSET, Layer::Smb2)?;
        let len = u16_at(raw, field::RSP_SECBUF_LENGTH, Layer::Smb2)?;
        Ok(SessionSetupResponse {
            session_flags: u16_at(raw, field::RSP_SESSION_FLAGS, Layer::Smb2)?,
            security_buffer: buffer_at(raw, usize::from(off), usize::from(len), Layer::Smb2)?,
        })
    }

    /// SMB2_SESSION_FLAG_IS_GUEST.
    pub fn is_guest(&self) -> bool {
        self.session_flags & session_flags::IS_GUEST != 0
    }

    /// SMB2_SESSION_FLAG_IS_NULL (anonymous). Some servers leave it clear for anonymous
    /// sessions; the NTLMSSP AUTHENTICATE message is the reliable signal.
    pub fn is_null(&self) -> bool {
        self.session_flags & session_flags::IS_NULL != 0
    }

    /// SMB2_SESSION_FLAG_ENCRYPT_DATA.
    pub fn encrypt_data(&self) -> bool {
        self.session_flags & session_flags::ENCRYPT_DATA != 0
    }
}

/// Byte offsets from the start of the SMB2 header (§2.2.5, §2.2.6).
mod field {
    pub const REQ_STRUCTURE_SIZE: u16 = 25;
    pub const REQ_FLAGS: usize = 66;
    pub const REQ_SECURITY_MODE: usize = 67;
    pub const REQ_CAPABILITIES: usize = 68;
    pub const REQ_CHANNEL: usize = 72;
    pub const REQ_SECBUF_OFFSET: usize = 76;
    pub const REQ_SECBUF_LENGTH: usize = 78;
    pub const REQ_PREVIOUS_SESSION_ID: usize = 80;

    pub const RSP_STRUCTURE_SIZE: u16 = 9;
    pub const RSP_SESSION_FLAGS: usize = 66;
    pub const RSP_SECBUF_OFFSET: usize = 68;
    pub const RSP_SECBUF_LENGTH: usize = 70;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smb::NtStatus;
    use crate::smb::testutil::{build, check_prefixes, nbss_payload};

    // zeek/smb311.pcap frame 3: SESSION_SETUP request with a raw NTLMSSP NEGOTIATE (32 bytes).
    const SMB311_F3: &str = "00000078fe534d42400000000000000001008200000000000000000001000000000000000b010000000000000000000000000000000000000000000000000000000000001900000200000000000000005800200000000000000000004e544c4d5353500001000000350208e000000000000000000000000000000000";
    // zeek/smb311.pcap frame 4: STATUS_MORE_PROCESSING_REQUIRED with NTLMSSP CHALLENGE (162 bytes).
    const SMB311_F4: &str = "000000eafe534d4240000000160000c001000100010000000000000001000000000000000b01000000000000690000ac1c28000000000000000000000000000000000000090000004800a2004e544c4d53535000020000000600060038000000350289e2da16f9f1d38965030000000000000000640064003e0000000a0039380000000f46004f004f000200060046004f004f0001000400410044000400100066006f006f002e00740065007300740003001600410044002e0066006f006f002e0074006500730074000500100066006f006f002e007400650073007400070008009d9c207914a9d40100000000";

    #[test]
    fn real_request() {
        let m = nbss_payload(SMB311_F3);
        let h = Header::parse(&m).unwrap();
        let r = SessionSetupRequest::parse(&h).unwrap();
        assert_eq!(r.flags, 0);
        assert!(!r.is_binding());
        assert_eq!(r.security_mode, 2); // tshark: Signing required
        assert_eq!(
            (r.capabilities, r.channel, r.previous_session_id),
            (0, 0, 0)
        );
        assert_eq!(r.security_buffer.len(), 32);
        assert_eq!(&r.security_buffer[..8], b"NTLMSSP\0");
        check_prefixes(&m, m.len(), |h| SessionSetupRequest::parse(h).is_ok());
    }

    #[test]
    fn real_responses() {
        let m = nbss_payload(SMB311_F4);
        let h = Header::parse(&m).unwrap();
        assert_eq!(h.status(), NtStatus::MORE_PROCESSING_REQUIRED);
        let r = SessionSetupResponse::parse(&h).unwrap();
        assert_eq!(r.session_flags, 0);
        assert_eq!(r.security_buffer.len(), 162);
        assert_eq!(&r.security_buffer[..8], b"NTLMSSP\0");
        check_prefixes(&m, m.len(), |h| SessionSetupResponse::parse(h).is_ok());

        // zeek/smb311.pcap frame 6: final SUCCESS, empty security buffer at offset 0x48.
        let m = nbss_payload(
            "00000048fe534d42400000000000000001008200090000000000000002000000000000000b01000000000000690000ac1c280000a40707763fffe1927a5bf65fed0f65910900000048000000",
        );
        let r = SessionSetupResponse::parse(&Header::parse(&m).unwrap()).unwrap();
        assert!(r.security_buffer.is_empty());
        assert!(!r.is_guest() && !r.is_null() && !r.encrypt_data());
    }

    #[test]
    fn guest_flag() {
        // zeek/smb2_100_small_files.pcap frame 14: guest session (SessionFlags IS_GUEST).
        let m = nbss_payload(
            "00000048fe534d42400000000000000001008200010000000000000002000000000000001cd90000000000009e08a55000000000000000000000000000000000000000000900010048000000",
        );
        let r = SessionSetupResponse::parse(&Header::parse(&m).unwrap()).unwrap();
        assert!(r.is_guest());
        assert_eq!(r.session_flags, session_flags::IS_GUEST);
    }

    #[test]
    fn built_messages() {
        let mut b = vec![25, 0, 1, 3, 1, 0, 0, 0, 0, 0, 0, 0, 88, 0, 2, 0];
        b.extend_from_slice(&0x42u64.to_le_bytes());
        b.extend_from_slice(&[0xAA, 0xBB]);
        let m = build(1, 0, 0, &b);
        let r = SessionSetupRequest::parse(&Header::parse(&m).unwrap()).unwrap();
        assert!(r.is_binding());
        assert_eq!(r.security_mode, 3);
        assert_eq!(r.capabilities, 1);
        assert_eq!(r.previous_session_id, 0x42);
        assert_eq!(r.security_buffer, [0xAA, 0xBB]);
        let mut bad = m.clone();
        bad[78] = 3; // SecurityBufferLength 3: one byte past the end
        assert!(SessionSetupRequest::parse(&Header::parse(&bad).unwrap()).is_err());

        let m = build(1, 1, 0, &[9, 0, 6, 0, 0, 0, 0, 0]);
        let r = SessionSetupResponse::parse(&Header::parse(&m).unwrap()).unwrap();
        assert!(r.is_null() && r.encrypt_data() && !r.is_guest());
        // An ERROR response body (StructureSize 9 too) has the same shape; a wrong size fails.
        let m = build(1, 1, 0, &[17, 0, 0, 0, 0, 0, 0, 0]);
        assert!(SessionSetupResponse::parse(&Header::parse(&m).unwrap()).is_err());
    }
}
