//! NTLMSSP messages ([MS-NLMP] 2.2.1): NEGOTIATE, CHALLENGE and AUTHENTICATE, their AV pairs
//! (2.2.2.1) and the NTLMv2 client blob (2.2.2.7), as zero-copy views.
//!
//! Only what a passive observer needs: who authenticated, with which NTLM variant, which flags,
//! and the raw pieces (responses, session key, MIC) that key recovery needs later.

use crate::wire::{Layer, ParseError, Result, le16, le32, le64, slice_at};
use crate::wire_enum;

/// Every NTLMSSP message starts with these 8 bytes ([MS-NLMP] 2.2.1.1).
pub const SIGNATURE: &[u8; 8] = b"NTLMSSP\0";

/// MessageType values ([MS-NLMP] 2.2.1.1-3).
pub mod message_type {
    /// NEGOTIATE_MESSAGE (2.2.1.1).
    pub const NEGOTIATE: u32 = 0x0000_0001;
    /// CHALLENGE_MESSAGE (2.2.1.2).
    pub const CHALLENGE: u32 = 0x0000_0002;
    /// AUTHENTICATE_MESSAGE (2.2.1.3).
    pub const AUTHENTICATE: u32 = 0x0000_0003;
}

/// NEGOTIATE flags ([MS-NLMP] 2.2.2.5).
pub mod flags {
    /// NTLMSSP_NEGOTIATE_UNICODE (A): strings are UTF-16LE.
    pub const NEGOTIATE_UNICODE: u32 = 0x0000_0001;
    /// NTLM_NEGOTIATE_OEM (B).
    pub const NEGOTIATE_OEM: u32 = 0x0000_0002;
    /// NTLMSSP_REQUEST_TARGET (C).
    pub const REQUEST_TARGET: u32 = 0x0000_0004;
    /// NTLMSSP_NEGOTIATE_SIGN (D).
    pub const NEGOTIATE_SIGN: u32 = 0x0000_0010;
    /// NTLMSSP_NEGOTIATE_SEAL (E).
    pub const NEGOTIATE_SEAL: u32 = 0x0000_0020;
    /// NTLMSSP_NEGOTIATE_DATAGRAM (F).
    pub const NEGOTIATE_DATAGRAM: u32 = 0x0000_0040;
    /// NTLMSSP_NEGOTIATE_LM_KEY (G).
    pub const NEGOTIATE_LM_KEY: u32 = 0x0000_0080;
    /// NTLMSSP_NEGOTIATE_NTLM (H).
    pub const NEGOTIATE_NTLM: u32 = 0x0000_0200;
    /// Anonymous connection (J), set in AUTHENTICATE for anonymous logons (3.2.5.1.2).
    pub const ANONYMOUS: u32 = 0x0000_0800;
    /// NTLMSSP_NEGOTIATE_OEM_DOMAIN_SUPPLIED (K).
    pub const OEM_DOMAIN_SUPPLIED: u32 = 0x0000_1000;
    /// NTLMSSP_NEGOTIATE_OEM_WORKSTATION_SUPPLIED (L).
    pub const OEM_WORKSTATION_SUPPLIED: u32 = 0x0000_2000;
    /// NTLMSSP_NEGOTIATE_ALWAYS_SIGN (M).
    pub const NEGOTIATE_ALWAYS_SIGN: u32 = 0x0000_8000;
    /// NTLMSSP_TARGET_TYPE_DOMAIN (N).
    pub const TARGET_TYPE_DOMAIN: u32 = 0x0001_0000;
    /// NTLMSSP_TARGET_TYPE_SERVER (O).
    pub const TARGET_TYPE_SERVER: u32 = 0x0002_0000;
    /// NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY (P): NTLMv1 with ESS when the response is 24 bytes.
    pub const EXTENDED_SESSIONSECURITY: u32 = 0x0008_0000;
    /// NTLMSSP_NEGOTIATE_IDENTIFY (Q).
    pub const NEGOTIATE_IDENTIFY: u32 = 0x0010_0000;
    /// NTLMSSP_REQUEST_NON_NT_SESSION_KEY (R).
    pub const REQUEST_NON_NT_SESSION_KEY: u32 = 0x0040_0000;
    /// NTLMSSP_NEGOTIATE_TARGET_INFO (S).
    pub const TARGET_INFO: u32 = 0x0080_0000;
    /// NTLMSSP_NEGOTIATE_VERSION (T): the 8-byte VERSION field is meaningful.
    pub const VERSION: u32 = 0x0200_0000;
    /// NTLMSSP_NEGOTIATE_128 (U).
    pub const NEGOTIATE_128: u32 = 0x2000_0000;
    /// NTLMSSP_NEGOTIATE_KEY_EXCH (V): EncryptedRandomSessionKey is used.
    pub const KEY_EXCH: u32 = 0x4000_0000;
    /// NTLMSSP_NEGOTIATE_56 (W).
    pub const NEGOTIATE_56: u32 = 0x8000_0000;
}

wire_enum! {
    /// AV_PAIR AvId ([MS-NLMP] 2.2.2.1).
    pub struct AvId(u16) {
        EOL = 0x0000 => "MsvAvEOL",
        NB_COMPUTER_NAME = 0x0001 => "MsvAvNbComputerName",
        NB_DOMAIN_NAME = 0x0002 => "MsvAvNbDomainName",
        DNS_COMPUTER_NAME = 0x0003 => "MsvAvDnsComputerName",
        DNS_DOMAIN_NAME = 0x0004 => "MsvAvDnsDomainName",
        DNS_TREE_NAME = 0x0005 => "MsvAvDnsTreeName",
        FLAGS = 0x0006 => "MsvAvFlags",
        TIMESTAMP = 0x0007 => "MsvAvTimestamp",
        SINGLE_HOST = 0x0008 => "MsvAvSingleHost",
        TARGET_NAME = 0x0009 => "MsvAvTargetName",
        CHANNEL_BINDINGS = 0x000A => "MsvAvChannelBindings",
    }
}

/// MsvAvFlags bits ([MS-NLMP] 2.2.2.1).
pub mod av_flags {
    /// The account authentication is constrained.
    pub const CONSTRAINED: u32 = 0x0000_0001;
    /// The AUTHENTICATE message carries a MIC.
    pub const MIC_PRESENT: u32 = 0x0000_0002;
    /// The client's target SPN came from an untrusted source.
    pub const UNTRUSTED_SPN: u32 = 0x0000_0004;
}

/// Byte offsets of the fixed parts ([MS-NLMP] 2.2.1.1-3, 2.2.2.7).
mod field {
    pub const MESSAGE_TYPE: usize = 8;
    // NEGOTIATE_MESSAGE
    pub const NEG_FLAGS: usize = 12;
    pub const NEG_DOMAIN: usize = 16;
    pub const NEG_WORKSTATION: usize = 24;
    pub const NEG_VERSION: usize = 32;
    // CHALLENGE_MESSAGE
    pub const CHAL_TARGET_NAME: usize = 12;
    pub const CHAL_FLAGS: usize = 20;
    pub const CHAL_SERVER_CHALLENGE: usize = 24;
    pub const CHAL_TARGET_INFO: usize = 40;
    pub const CHAL_VERSION: usize = 48;
    pub const CHAL_MIN: usize = 32;
    // AUTHENTICATE_MESSAGE
    pub const AUTH_LM: usize = 12;
    pub const AUTH_NT: usize = 20;
    pub const AUTH_DOMAIN: usize = 28;
    pub const AUTH_USER: usize = 36;
    pub const AUTH_WORKSTATION: usize = 44;
    pub const AUTH_SESSION_KEY: usize = 52;
    pub const AUTH_FLAGS: usize = 60;
    pub const AUTH_VERSION: usize = 64;
    pub const AUTH_MIC: usize = 72;
    pub const AUTH_MIN: usize = 64;
    // A buffer descriptor: Len u16 @0, MaxLen u16 @2, Offset u32 @4.
    pub const BUF_LEN: usize = 0;
    pub const BUF_OFFSET: usize = 4;
    pub const BUF_SIZE: usize = 8;
    pub const VERSION_LEN: usize = 8;
    pub const MIC_LEN: usize = 16;
    // NTLMv2_CLIENT_CHALLENGE inside the NT response, after the 16-byte NTProofStr.
    pub const V2_RESP_TYPE: usize = 16;
    pub const V2_TIMESTAMP: usize = 24;
    pub const V2_CLIENT_CHALLENGE: usize = 32;
    pub const V2_AV_PAIRS: usize = 44;
    // NTLMv1 responses are exactly this long.
    pub const V1_RESPONSE_LEN: usize = 24;
}

/// One parsed NTLMSSP message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Message<'a> {
    Negotiate(Negotiate<'a>),
    Challenge(Challenge<'a>),
    Authenticate(Authenticate<'a>),
}

/// Parses an NTLMSSP token; `token` starts with [`SIGNATURE`].
pub fn parse(token: &[u8]) -> Result<Message<'_>> {
    if token.get(..SIGNATURE.len()) != Some(&SIGNATURE[..]) {
        return Err(ParseError::new(Layer::Ntlmssp, 0, "no NTLMSSP signature"));
    }
    let ty = le32(token, field::MESSAGE_TYPE).ok_or(err(field::MESSAGE_TYPE, "truncated"))?;
    match ty {
        message_type::NEGOTIATE => Negotiate::parse(token).map(Message::Negotiate),
        message_type::CHALLENGE => Challenge::parse(token).map(Message::Challenge),
        message_type::AUTHENTICATE => Authenticate::parse(token).map(Message::Authenticate),
        _ => Err(err(field::MESSAGE_TYPE, "unknown message type")),
    }
}

/// Finds the first NTLMSSP token in a GSS-API/SPNEGO blob and returns the slice from there.
pub fn find(blob: &[u8]) -> Option<&[u8]> {
    let at = blob.windows(SIGNATURE.len()).position(|w| w == SIGNATURE)?;
    blob.get(at..)
}

/// NEGOTIATE_MESSAGE ([MS-NLMP] 2.2.1.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiate<'a> {
    pub flags: u32,
    /// OEM domain name, if supplied (usually empty).
    pub domain: &'a [u8],
    /// OEM workstation name, if supplied (usually empty).
    pub workstation: &'a [u8],
    /// VERSION (2.2.2.10), when NTLMSSP_NEGOTIATE_VERSION is set and it fits.
    pub version: Option<[u8; 8]>,
}

impl<'a> Negotiate<'a> {
    /// Parses a NEGOTIATE_MESSAGE. Very old clients send only the first 16 bytes; then the
    /// domain and workstation are empty.
    pub fn parse(msg: &'a [u8]) -> Result<Self> {
        let flags = le32(msg, field::NEG_FLAGS).ok_or(err(field::NEG_FLAGS, "truncated"))?;
        let (domain, d_off) = opt_buffer(msg, field::NEG_DOMAIN)?;
        let (workstation, w_off) = opt_buffer(msg, field::NEG_WORKSTATION)?;
        let payload = min_offset(&[(domain, d_off), (workstation, w_off)], msg.len());
        let version = version_at(msg, flags, field::NEG_VERSION, payload);
        Ok(Negotiate {
            flags,
            domain,
            workstation,
            version,
        })
    }
}

/// CHALLENGE_MESSAGE ([MS-NLMP] 2.2.1.2), with the TargetInfo AV pairs decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge<'a> {
    pub flags: u32,
    pub server_challenge: [u8; 8],
    /// TargetName: UTF-16LE if NEGOTIATE_UNICODE, else OEM.
    pub target_name: String,
    /// Raw TargetInfo (AV pairs); empty if absent.
    pub target_info: &'a [u8],
    /// MsvAvNbComputerName.
    pub nb_computer: Option<String>,
    /// MsvAvNbDomainName.
    pub nb_domain: Option<String>,
    /// MsvAvDnsComputerName.
    pub dns_computer: Option<String>,
    /// MsvAvDnsDomainName.
    pub dns_domain: Option<String>,
    /// MsvAvDnsTreeName.
    pub dns_tree: Option<String>,
    /// MsvAvTimestamp (FILETIME).
    pub timestamp: Option<u64>,
    /// VERSION (2.2.2.10) of the server.
    pub version: Option<[u8; 8]>,
}

impl<'a> Challenge<'a> {
    /// Parses a CHALLENGE_MESSAGE. A malformed AV pair list stops decoding at the bad pair;
    /// the pairs before it are kept.
    pub fn parse(msg: &'a [u8]) -> Result<Self> {
        if msg.len() < field::CHAL_MIN {
            return Err(err(msg.len(), "truncated CHALLENGE"));
        }
        let flags = le32(msg, field::CHAL_FLAGS).ok_or(err(field::CHAL_FLAGS, "truncated"))?;
        let mut server_challenge = [0u8; 8];
        server_challenge.copy_from_slice(slice_at(
            msg,
            field::CHAL_SERVER_CHALLENGE,
            8,
            Layer::Ntlmssp,
        )?);
        let (name, n_off) = buffer(msg, field::CHAL_TARGET_NAME)?;
        let (target_info, t_off) = opt_buffer(msg, field::CHAL_TARGET_INFO)?;
        let payload = min_offset(&[(name, n_off), (target_info, t_off)], msg.len());
        let mut c = Challenge {
            flags,
            server_challenge,
            target_name: text(name, flags),
            target_info,
            nb_computer: None,
            nb_domain: None,
            dns_computer: None,
            dns_domain: None,
            dns_tree: None,
            timestamp: None,
            version: version_at(msg, flags, field::CHAL_VERSION, payload),
        };
        for (id, value) in av_pairs(target_info).map_while(|p| p.ok()) {
            match id {
                AvId::NB_COMPUTER_NAME => c.nb_computer = Some(av_string(value)),
                AvId::NB_DOMAIN_NAME => c.nb_domain = Some(av_string(value)),
                AvId::DNS_COMPUTER_NAME => c.dns_computer = Some(av_string(value)),
                AvId::DNS_DOMAIN_NAME => c.dns_domain = Some(av_string(value)),
                AvId::DNS_TREE_NAME => c.dns_tree = Some(av_string(value)),
                AvId::TIMESTAMP => c.timestamp = le64(value, 0),
                _ => {}
            }
        }
        Ok(c)
    }
}

/// AUTHENTICATE_MESSAGE ([MS-NLMP] 2.2.1.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticate<'a> {
    pub flags: u32,
    pub lm_response: &'a [u8],
    pub nt_response: &'a [u8],
    /// DomainName: UTF-16LE if NEGOTIATE_UNICODE, else OEM.
    pub domain: String,
    pub user: String,
    pub workstation: String,
    pub encrypted_random_session_key: &'a [u8],
    /// VERSION, present when NEGOTIATE_VERSION is set and the payload starts after it.
    pub version: Option<[u8; 8]>,
    /// MIC, present when the payload starts at or after offset 88.
    pub mic: Option<[u8; 16]>,
    /// The whole message (the MIC is computed over it with the MIC field zeroed).
    pub raw: &'a [u8],
}

/// Which NTLM variant an AUTHENTICATE carries ([MS-NLMP] 3.3.1, 3.3.2, 3.2.5.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NtlmKind {
    /// Empty user and NT response (LM response empty or one zero byte), or the ANONYMOUS flag.
    Anonymous,
    /// 24-byte NT response without extended session security.
    NtlmV1,
    /// 24-byte NT response with NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY.
    NtlmV1Ess,
    /// NT response longer than 24 bytes.
    NtlmV2,
    /// Anything else (e.g. LM-only).
    Unknown,
}

impl<'a> Authenticate<'a> {
    /// Parses an AUTHENTICATE_MESSAGE.
    pub fn parse(msg: &'a [u8]) -> Result<Self> {
        if msg.len() < field::AUTH_MIN {
            return Err(err(msg.len(), "truncated AUTHENTICATE"));
        }
        let flags = le32(msg, field::AUTH_FLAGS).ok_or(err(field::AUTH_FLAGS, "truncated"))?;
        let lm = buffer(msg, field::AUTH_LM)?;
        let nt = buffer(msg, field::AUTH_NT)?;
        let domain = buffer(msg, field::AUTH_DOMAIN)?;
        let user = buffer(msg, field::AUTH_USER)?;
        let ws = buffer(msg, field::AUTH_WORKSTATION)?;
        let key = buffer(msg, field::AUTH_SESSION_KEY)?;
        let payload = min_offset(&[lm, nt, domain, user, ws, key], msg.len());
        let mic = if payload >= field::AUTH_MIC + field::MIC_LEN {
            msg.get(field::AUTH_MIC..field::AUTH_MIC + field::MIC_LEN)
                .and_then(|m| m.try_into().ok())
        } else {
            None
        };
        Ok(Authenticate {
            flags,
            lm_response: lm.0,
            nt_response: nt.0,
            domain: text(domain.0, flags),
            user: text(user.0, flags),
            workstation: text(ws.0, flags),
            encrypted_random_session_key: key.0,
            version: version_at(msg, flags, field::AUTH_VERSION, payload),
            mic,
            raw: msg,
        })
    }

    /// Classifies the response: anonymous, NTLMv1, NTLMv1 with ESS, or NTLMv2.
    pub fn kind(&self) -> NtlmKind {
        let lm_empty = self.lm_response.is_empty() || self.lm_response == [0];
        let anon_flag = self.flags & flags::ANONYMOUS != 0;
        if self.user.is_empty() && self.nt_response.is_empty() && (lm_empty || anon_flag) {
            return NtlmKind::Anonymous;
        }
        match self.nt_response.len() {
            field::V1_RESPONSE_LEN if self.flags & flags::EXTENDED_SESSIONSECURITY != 0 => {
                NtlmKind::NtlmV1Ess
            }
            field::V1_RESPONSE_LEN => NtlmKind::NtlmV1,
            n if n > field::V1_RESPONSE_LEN => NtlmKind::NtlmV2,
            _ => NtlmKind::Unknown,
        }
    }

    /// The decoded NTLMv2 client blob, if the NT response is an NTLMv2 one.
    pub fn ntlmv2(&self) -> Option<Ntlmv2Info<'a>> {
        ntlmv2_client_info(self.nt_response)
    }
}

/// The NTLMv2 client challenge blob inside an NTLMv2 NT response ([MS-NLMP] 2.2.2.8, 2.2.2.7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ntlmv2Info<'a> {
    /// NTProofStr: the first 16 bytes of the response.
    pub nt_proof_str: [u8; 16],
    /// TimeStamp (FILETIME) chosen by the client.
    pub timestamp: u64,
    /// ChallengeFromClient.
    pub client_challenge: [u8; 8],
    /// The AV pairs as sent (to MsvAvEOL and whatever padding follows).
    pub av_pairs: &'a [u8],
    /// MsvAvTargetName: the SPN the client meant, e.g. "cifs/fileserver" or "cifs/192.0.2.1".
    pub target_name: Option<String>,
    /// MsvAvFlags, see [`av_flags`].
    pub av_flags: Option<u32>,
    /// MsvAvChannelBindings (an MD5 hash; all zero when the client had none).
    pub channel_bindings: Option<[u8; 16]>,
}

/// Decodes the NTLMv2 client blob of `nt_response`; `None` if it is not an NTLMv2 response.
pub fn ntlmv2_client_info(nt_response: &[u8]) -> Option<Ntlmv2Info<'_>> {
    if nt_response.len() <= field::V1_RESPONSE_LEN
        || nt_response.get(field::V2_RESP_TYPE) != Some(&1)
    {
        return None;
    }
    let av = nt_response.get(field::V2_AV_PAIRS..)?;
    let mut info = Ntlmv2Info {
        nt_proof_str: nt_response.get(..16)?.try_into().ok()?,
        timestamp: le64(nt_response, field::V2_TIMESTAMP)?,
        client_challenge: nt_response
            .get(field::V2_CLIENT_CHALLENGE..field::V2_CLIENT_CHALLENGE + 8)?
            .try_into()
            .ok()?,
        av_pairs: av,
        target_name: None,
        av_flags: None,
        channel_bindings: None,
    };
    for (id, value) in av_pairs(av).map_while(|p| p.ok()) {
        match id {
            AvId::TARGET_NAME => info.target_name = Some(av_string(value)),
            AvId::FLAGS => info.av_flags = le32(value, 0),
            AvId::CHANNEL_BINDINGS => info.channel_bindings = value.try_into().ok(),
            _ => {}
        }
    }
    Some(info)
}

/// Iterates AV pairs ([MS-NLMP] 2.2.2.1) up to MsvAvEOL (not yielded) or the end of the buffer.
/// A pair running past the end yields one error and ends the iteration.
pub fn av_pairs(buf: &[u8]) -> AvPairs<'_> {
    AvPairs {
        buf,
        pos: 0,
        done: false,
    }
}

/// Iterator made by [`av_pairs`].
#[derive(Debug, Clone)]
pub struct AvPairs<'a> {
    buf: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> Iterator for AvPairs<'a> {
    type Item = Result<(AvId, &'a [u8])>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.pos >= self.buf.len() {
            return None;
        }
        let at = self.pos;
        let parsed = le16(self.buf, at).zip(at.checked_add(2).and_then(|p| le16(self.buf, p)));
        let Some((id, len)) = parsed else {
            self.done = true;
            return Some(Err(err(at, "truncated AV pair")));
        };
        if id == AvId::EOL.0 {
            self.done = true;
            return None;
        }
        let start = at + 4;
        match slice_at(self.buf, start, usize::from(len), Layer::Ntlmssp) {
            Ok(value) => {
                self.pos = start + value.len();
                Some(Ok((AvId(id), value)))
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// Formats a VERSION field (2.2.2.10) as "major.minor.build/rev", e.g. "10.0.19041/15".
pub fn version_string(v: &[u8; 8]) -> String {
    format!(
        "{}.{}.{}/{}",
        v[0],
        v[1],
        u16::from_le_bytes([v[2], v[3]]),
        v[7]
    )
}

/// Decodes UTF-16LE lossily; an odd trailing byte is dropped. Never panics.
pub(super) fn utf16le(b: &[u8]) -> String {
    char::decode_utf16(b.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])))
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

/// Decodes an OEM string as Latin-1 (exact for ASCII, which is what the wire carries in
/// practice).
pub(super) fn latin1(b: &[u8]) -> String {
    b.iter().map(|&c| char::from(c)).collect()
}

/// An AV pair string (always UTF-16LE), without the trailing NULs some servers add.
fn av_string(b: &[u8]) -> String {
    let mut s = utf16le(b);
    s.truncate(s.trim_end_matches('\0').len());
    s
}

fn text(b: &[u8], flags: u32) -> String {
    if flags & flags::NEGOTIATE_UNICODE != 0 {
        utf16le(b)
    } else {
        latin1(b)
    }
}

fn err(offset: usize, reason: &'static str) -> ParseError {
    ParseError::new(Layer::Ntlmssp, offset, reason)
}

/// Reads the buffer descriptor at `at` and returns (bytes, offset). An empty buffer is
/// accepted whatever its offset says.
fn buffer(msg: &[u8], at: usize) -> Result<(&[u8], usize)> {
    let len = le16(msg, at + field::BUF_LEN).ok_or(err(at, "truncated buffer field"))?;
    let off = le32(msg, at + field::BUF_OFFSET).ok_or(err(at, "truncated buffer field"))?;
    let off = usize::try_from(off).map_err(|_| err(at, "buffer offset overflow"))?;
    if len == 0 {
        return Ok((&[], off));
    }
    Ok((slice_at(msg, off, usize::from(len), Layer::Ntlmssp)?, off))
}

/// Like [`buffer`], but a descriptor cut off by the end of the message means "absent".
fn opt_buffer(msg: &[u8], at: usize) -> Result<(&[u8], usize)> {
    if msg.len() < at + field::BUF_SIZE {
        return Ok((&[], usize::MAX));
    }
    buffer(msg, at)
}

/// Where the variable payload starts: the lowest offset of a non-empty buffer, or the end of
/// the message when every buffer is empty.
fn min_offset(bufs: &[(&[u8], usize)], msg_len: usize) -> usize {
    bufs.iter()
        .filter(|(b, _)| !b.is_empty())
        .map(|&(_, off)| off)
        .min()
        .unwrap_or(msg_len)
}

/// VERSION at `at` if the flag is set and the payload starts after it.
fn version_at(msg: &[u8], flags: u32, at: usize, payload: usize) -> Option<[u8; 8]> {
    if flags & flags::VERSION == 0 || payload < at + field::VERSION_LEN {
        return None;
    }
    msg.get(at..at + field::VERSION_LEN)?.try_into().ok()
}

#[cfg(test)]
pub(crate) mod tests;
