//! The SMB1 commands that decide security posture: NEGOTIATE, SESSION_SETUP_ANDX,
//! TREE_CONNECT_ANDX and NT_CREATE_ANDX. Each parser takes the message [`Header`] (for the
//! string encoding) and one [`AndxBlock`] of its chain.

use super::{AndxBlock, Header, Strings, action, capabilities, err, word16, word32};
use crate::smb::ntlmssp::{NtlmKind, latin1, utf16le};
use crate::wire::{Layer, Reader, Result, le16, le32, le64};

/// Offsets in the parameter words of each command.
mod field {
    // NEGOTIATE response, NT LM 0.12 ([MS-CIFS] 2.2.4.52.2), offsets in the words.
    pub const NEG_DIALECT_INDEX: usize = 0;
    pub const NT_SECURITY_MODE: usize = 2;
    pub const NT_MAX_MPX: usize = 3;
    pub const NT_MAX_BUFFER: usize = 7;
    pub const NT_SESSION_KEY: usize = 15;
    pub const NT_CAPABILITIES: usize = 19;
    pub const NT_SYSTEM_TIME: usize = 23;
    pub const NT_CHALLENGE_LEN: usize = 33;
    pub const NT_GUID_LEN: usize = 16;
    // NEGOTIATE response, LANMAN 2.1.
    pub const LM_SECURITY_MODE: usize = 2;
    pub const LM_MAX_BUFFER: usize = 4;
    pub const LM_MAX_MPX: usize = 6;
    pub const LM_SESSION_KEY: usize = 12;
    pub const LM_KEY_LEN: usize = 22;
    // SESSION_SETUP_ANDX request ([MS-CIFS] 2.2.4.53.1, [MS-SMB] 2.2.4.6.1).
    pub const SS_MAX_BUFFER: usize = 4;
    pub const SS_MAX_MPX: usize = 6;
    pub const SS_VC_NUMBER: usize = 8;
    pub const SS_SESSION_KEY: usize = 10;
    pub const SS_BLOB_LEN: usize = 14; // WordCount 12
    pub const SS12_CAPABILITIES: usize = 20;
    pub const SS_OEM_PW_LEN: usize = 14; // WordCount 13 (and 10)
    pub const SS_UNICODE_PW_LEN: usize = 16;
    pub const SS13_CAPABILITIES: usize = 22;
    // SESSION_SETUP_ANDX response.
    pub const SSR_ACTION: usize = 4;
    pub const SSR_BLOB_LEN: usize = 6;
    // TREE_CONNECT_ANDX request/response.
    pub const TC_FLAGS: usize = 4;
    pub const TC_PASSWORD_LEN: usize = 6;
    pub const TCR_OPTIONAL_SUPPORT: usize = 4;
    pub const TCR_MAX_ACCESS: usize = 6;
    pub const TCR_GUEST_MAX_ACCESS: usize = 10;
    // NT_CREATE_ANDX request ([MS-CIFS] 2.2.4.64.1).
    pub const NC_NAME_LEN: usize = 5;
    pub const NC_FLAGS: usize = 7;
    pub const NC_ROOT_FID: usize = 11;
    pub const NC_DESIRED_ACCESS: usize = 15;
    pub const NC_EXT_ATTRIBUTES: usize = 27;
    pub const NC_SHARE_ACCESS: usize = 31;
    pub const NC_DISPOSITION: usize = 35;
    pub const NC_OPTIONS: usize = 39;
}

/// NEGOTIATE request ([MS-CIFS] 2.2.4.52.1): the offered dialect strings, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiateRequest {
    pub dialects: Vec<String>,
}

impl NegotiateRequest {
    pub fn parse<'a>(_h: &Header<'a>, block: &AndxBlock<'a>) -> Result<Self> {
        let mut r = Reader::new(block.bytes, Layer::Smb1);
        let mut dialects = Vec::new();
        while !r.is_empty() {
            if r.u8()? != 0x02 {
                return Err(r.err("dialect BufferFormat is not 0x02"));
            }
            let rest = r.rest();
            let end = rest
                .iter()
                .position(|&b| b == 0)
                .ok_or(r.err("unterminated dialect"))?;
            dialects.push(latin1(&rest[..end]));
            r.skip(end + 1)?;
        }
        Ok(NegotiateRequest { dialects })
    }
}

/// NEGOTIATE response ([MS-CIFS] 2.2.4.52.2, [MS-SMB] 2.2.4.5.2): NT LM 0.12 (WordCount 17),
/// LANMAN (WordCount 13), or core / no dialect (WordCount 1, index 0xFFFF = none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiateResponse<'a> {
    pub word_count: u8,
    /// Index into the request's dialect list; 0xFFFF when none was acceptable.
    pub dialect_index: u16,
    /// See [`security_mode`](super::security_mode).
    pub security_mode: u8,
    /// See [`capabilities`]; 0 for pre-NT dialects.
    pub capabilities: u32,
    pub max_mpx_count: u16,
    pub max_buffer_size: u32,
    pub session_key: u32,
    /// SystemTime (FILETIME), NT LM 0.12 only.
    pub system_time: Option<u64>,
    /// ServerGUID (extended security only).
    pub server_guid: Option<[u8; 16]>,
    /// SecurityBlob (extended security only; may be empty).
    pub security_blob: &'a [u8],
    /// 8-byte challenge (non-extended security).
    pub challenge: Option<[u8; 8]>,
    /// DomainName (non-extended NT LM 0.12) or PrimaryDomain (LANMAN).
    pub domain_name: Option<String>,
    /// ServerName (non-extended NT LM 0.12, optional).
    pub server_name: Option<String>,
}

impl<'a> NegotiateResponse<'a> {
    pub fn parse(h: &Header<'a>, block: &AndxBlock<'a>) -> Result<Self> {
        let w = block.words;
        let mut s = Strings::new(h, block);
        let mut out = NegotiateResponse {
            word_count: u8::try_from(block.word_count()).unwrap_or(u8::MAX),
            dialect_index: word16(block, field::NEG_DIALECT_INDEX)?,
            security_mode: 0,
            capabilities: 0,
            max_mpx_count: 0,
            max_buffer_size: 0,
            session_key: 0,
            system_time: None,
            server_guid: None,
            security_blob: &[],
            challenge: None,
            domain_name: None,
            server_name: None,
        };
        match block.word_count() {
            1 => {}
            17 => {
                out.security_mode = w[field::NT_SECURITY_MODE];
                out.max_mpx_count = word16(block, field::NT_MAX_MPX)?;
                out.max_buffer_size = word32(block, field::NT_MAX_BUFFER)?;
                out.session_key = word32(block, field::NT_SESSION_KEY)?;
                out.capabilities = word32(block, field::NT_CAPABILITIES)?;
                out.system_time = le64(w, field::NT_SYSTEM_TIME);
                if out.capabilities & capabilities::CAP_EXTENDED_SECURITY != 0 {
                    out.server_guid = s.take(field::NT_GUID_LEN)?.try_into().ok();
                    out.security_blob = s.rest();
                } else {
                    let len = w[field::NT_CHALLENGE_LEN];
                    out.challenge = s.take(usize::from(len))?.try_into().ok();
                    // Windows does not align these strings.
                    out.domain_name = s.opt_string_unaligned();
                    out.server_name = s.opt_string_unaligned();
                }
            }
            13 => {
                out.security_mode = w[field::LM_SECURITY_MODE];
                out.max_buffer_size = u32::from(word16(block, field::LM_MAX_BUFFER)?);
                out.max_mpx_count = word16(block, field::LM_MAX_MPX)?;
                out.session_key = word32(block, field::LM_SESSION_KEY)?;
                let len = word16(block, field::LM_KEY_LEN)?;
                out.challenge = s.take(usize::from(len))?.try_into().ok();
                out.domain_name = (!s.is_empty()).then(|| s.oem());
            }
            _ => return Err(err(block.offset, "unexpected NEGOTIATE response WordCount")),
        }
        Ok(out)
    }

    /// Whether the server chose extended (GSS-API) security.
    pub fn extended_security(&self) -> bool {
        self.capabilities & capabilities::CAP_EXTENDED_SECURITY != 0
    }
}

/// SESSION_SETUP_ANDX request: WordCount 12 (extended security, [MS-SMB] 2.2.4.6.1), 13
/// (NT LM 0.12 challenge/response, [MS-CIFS] 2.2.4.53.1) or 10 (LANMAN).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSetupRequest<'a> {
    pub word_count: u8,
    pub max_buffer_size: u16,
    pub max_mpx_count: u16,
    pub vc_number: u16,
    pub session_key: u32,
    /// Client capabilities (0 for WordCount 10).
    pub capabilities: u32,
    /// GSS-API blob (WordCount 12).
    pub security_blob: Option<&'a [u8]>,
    /// AccountName (WordCount 13/10).
    pub account: Option<String>,
    /// PrimaryDomain (WordCount 13/10).
    pub domain: Option<String>,
    pub native_os: Option<String>,
    pub native_lanman: Option<String>,
    pub oem_password_len: u16,
    pub unicode_password_len: u16,
    /// OEMPassword / CaseInsensitivePassword (the LM response; plaintext without encryption).
    pub oem_password: &'a [u8],
    /// UnicodePassword / CaseSensitivePassword (the NT response).
    pub unicode_password: &'a [u8],
}

impl<'a> SessionSetupRequest<'a> {
    pub fn parse(h: &Header<'a>, block: &AndxBlock<'a>) -> Result<Self> {
        let mut s = Strings::new(h, block);
        let wc = block.word_count();
        let mut out = SessionSetupRequest {
            word_count: u8::try_from(wc).unwrap_or(u8::MAX),
            max_buffer_size: word16(block, field::SS_MAX_BUFFER)?,
            max_mpx_count: word16(block, field::SS_MAX_MPX)?,
            vc_number: word16(block, field::SS_VC_NUMBER)?,
            session_key: word32(block, field::SS_SESSION_KEY)?,
            capabilities: 0,
            security_blob: None,
            account: None,
            domain: None,
            native_os: None,
            native_lanman: None,
            oem_password_len: 0,
            unicode_password_len: 0,
            oem_password: &[],
            unicode_password: &[],
        };
        match wc {
            12 => {
                out.capabilities = word32(block, field::SS12_CAPABILITIES)?;
                let len = word16(block, field::SS_BLOB_LEN)?;
                out.security_blob = Some(s.take(usize::from(len))?);
            }
            13 | 10 => {
                out.oem_password_len = word16(block, field::SS_OEM_PW_LEN)?;
                if wc == 13 {
                    out.unicode_password_len = word16(block, field::SS_UNICODE_PW_LEN)?;
                    out.capabilities = word32(block, field::SS13_CAPABILITIES)?;
                }
                out.oem_password = s.take(usize::from(out.oem_password_len))?;
                out.unicode_password = s.take(usize::from(out.unicode_password_len))?;
                out.account = s.opt_string();
                out.domain = s.opt_string();
            }
            _ => return Err(err(block.offset, "unexpected SESSION_SETUP WordCount")),
        }
        out.native_os = s.opt_string();
        out.native_lanman = s.opt_string();
        Ok(out)
    }

    /// For non-extended (WordCount 13/10) logons: which challenge/response was sent. `None`
    /// for extended security (look inside the blob instead).
    ///
    /// Anonymous: empty account, no CaseSensitivePassword, CaseInsensitivePassword empty or one
    /// zero byte. NTLMv1: a 24-byte CaseSensitivePassword; NTLMv1 ESS ("NTLM2 session
    /// response") when the 24-byte LM field is an 8-byte client challenge and 16 zeros. NTLMv2:
    /// longer than 24 bytes.
    pub fn ntlm_kind(&self) -> Option<NtlmKind> {
        if self.security_blob.is_some() {
            return None;
        }
        let account_empty = self.account.as_deref().is_none_or(str::is_empty);
        let lm = self.oem_password;
        Some(match self.unicode_password.len() {
            0 if account_empty && (lm.is_empty() || lm == [0]) => NtlmKind::Anonymous,
            24 if lm.len() == 24 && lm[8..].iter().all(|&b| b == 0) => NtlmKind::NtlmV1Ess,
            24 => NtlmKind::NtlmV1,
            n if n > 24 => NtlmKind::NtlmV2,
            _ => NtlmKind::Unknown,
        })
    }
}

/// SESSION_SETUP_ANDX response: WordCount 3 ([MS-CIFS] 2.2.4.53.2) or 4 (extended security,
/// [MS-SMB] 2.2.4.6.2). Error responses (WordCount 0) are an error here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSetupResponse<'a> {
    /// See [`action`]: bit 0 GUEST.
    pub action: u16,
    pub security_blob: Option<&'a [u8]>,
    pub native_os: Option<String>,
    pub native_lanman: Option<String>,
    pub primary_domain: Option<String>,
}

impl<'a> SessionSetupResponse<'a> {
    pub fn parse(h: &Header<'a>, block: &AndxBlock<'a>) -> Result<Self> {
        let mut s = Strings::new(h, block);
        let action = word16(block, field::SSR_ACTION)?;
        let security_blob = match block.word_count() {
            3 => None,
            4 => Some(s.take(usize::from(word16(block, field::SSR_BLOB_LEN)?))?),
            _ => {
                return Err(err(
                    block.offset,
                    "unexpected SESSION_SETUP response WordCount",
                ));
            }
        };
        Ok(SessionSetupResponse {
            action,
            security_blob,
            native_os: s.opt_string(),
            native_lanman: s.opt_string(),
            primary_domain: s.opt_string(),
        })
    }

    pub fn is_guest(&self) -> bool {
        self.action & action::GUEST != 0
    }
}

/// TREE_CONNECT_ANDX request ([MS-CIFS] 2.2.4.55.1): e.g. path `\\server\share`, service
/// "?????" / "A:" / "IPC".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeConnectRequest {
    pub path: String,
    pub service: String,
    /// See [`tree_connect_flags`](super::tree_connect_flags).
    pub flags: u16,
    /// Share-level password length (0 or 1 with user-level security).
    pub password_len: u16,
}

impl TreeConnectRequest {
    pub fn parse<'a>(h: &Header<'a>, block: &AndxBlock<'a>) -> Result<Self> {
        let mut s = Strings::new(h, block);
        let flags = word16(block, field::TC_FLAGS)?;
        let password_len = word16(block, field::TC_PASSWORD_LEN)?;
        s.take(usize::from(password_len))?;
        s.align();
        let path = s.string();
        Ok(TreeConnectRequest {
            path,
            service: s.oem(),
            flags,
            password_len,
        })
    }
}

/// TREE_CONNECT_ANDX response ([MS-CIFS] 2.2.4.55.2, [MS-SMB] 2.2.4.7.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeConnectResponse {
    /// See [`optional_support`](super::optional_support) (WordCount >= 3).
    pub optional_support: Option<u16>,
    /// "A:", "LPT1:", "IPC", "COMM" or "?????".
    pub service: String,
    pub native_file_system: String,
    /// MaximalShareAccessRights (WordCount 7).
    pub maximal_access: Option<u32>,
    /// GuestMaximalShareAccessRights (WordCount 7).
    pub guest_maximal_access: Option<u32>,
}

impl TreeConnectResponse {
    pub fn parse<'a>(h: &Header<'a>, block: &AndxBlock<'a>) -> Result<Self> {
        let wc = block.word_count();
        if wc < 2 {
            return Err(err(
                block.offset,
                "unexpected TREE_CONNECT response WordCount",
            ));
        }
        let w = block.words;
        let mut s = Strings::new(h, block);
        let service = s.oem();
        Ok(TreeConnectResponse {
            optional_support: (wc >= 3)
                .then(|| le16(w, field::TCR_OPTIONAL_SUPPORT))
                .flatten(),
            service,
            native_file_system: s.opt_string().unwrap_or_default(),
            maximal_access: (wc >= 7).then(|| le32(w, field::TCR_MAX_ACCESS)).flatten(),
            guest_maximal_access: (wc >= 7)
                .then(|| le32(w, field::TCR_GUEST_MAX_ACCESS))
                .flatten(),
        })
    }
}

/// NT_CREATE_ANDX request ([MS-CIFS] 2.2.4.64.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NtCreateRequest {
    /// FileName, relative to the tree, e.g. `\srvsvc`.
    pub name: String,
    pub flags: u32,
    pub root_directory_fid: u32,
    pub desired_access: u32,
    pub ext_file_attributes: u32,
    pub share_access: u32,
    pub create_disposition: u32,
    pub create_options: u32,
}

impl NtCreateRequest {
    pub fn parse<'a>(h: &Header<'a>, block: &AndxBlock<'a>) -> Result<Self> {
        if block.word_count() != 24 {
            return Err(err(block.offset, "unexpected NT_CREATE_ANDX WordCount"));
        }
        let name_len = usize::from(word16(block, field::NC_NAME_LEN)?);
        let mut s = Strings::new(h, block);
        s.align();
        let raw = s.rest();
        let raw = raw.get(..name_len).unwrap_or(raw);
        let mut name = if s.unicode { utf16le(raw) } else { latin1(raw) };
        name.truncate(name.trim_end_matches('\0').len());
        Ok(NtCreateRequest {
            name,
            flags: word32(block, field::NC_FLAGS)?,
            root_directory_fid: word32(block, field::NC_ROOT_FID)?,
            desired_access: word32(block, field::NC_DESIRED_ACCESS)?,
            ext_file_attributes: word32(block, field::NC_EXT_ATTRIBUTES)?,
            share_access: word32(block, field::NC_SHARE_ACCESS)?,
            create_disposition: word32(block, field::NC_DISPOSITION)?,
            create_options: word32(block, field::NC_OPTIONS)?,
        })
    }
}

/// SMB_COM_CREATE_DIRECTORY request ([MS-CIFS] 2.2.4.1.1): BufferFormat 0x04, then the
/// directory name. smbclient's `mkdir` over NT1 uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateDirectoryRequest {
    /// DirectoryName, relative to the tree, e.g. `\newdir`.
    pub name: String,
}

impl CreateDirectoryRequest {
    /// BufferFormat value for a null-terminated string ([MS-CIFS] 2.2.1.1).
    const BUFFER_FORMAT_STRING: u8 = 0x04;

    pub fn parse<'a>(h: &Header<'a>, block: &AndxBlock<'a>) -> Result<Self> {
        if block.word_count() != 0 {
            return Err(err(block.offset, "unexpected CREATE_DIRECTORY WordCount"));
        }
        let mut s = Strings::new(h, block);
        if s.take(1)? != [Self::BUFFER_FORMAT_STRING] {
            return Err(err(
                block.bytes_offset(),
                "CREATE_DIRECTORY BufferFormat is not 0x04",
            ));
        }
        s.align();
        Ok(CreateDirectoryRequest { name: s.string() })
    }
}
