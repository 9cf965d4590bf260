//! SPNEGO (RFC 4178) as carried in SMB security blobs, the GSS-API framing around it
//! (RFC 2743 §3.1), and the visible parts of a Kerberos AP-REQ (RFC 4120 §5.5.1, RFC 4121 §4.1).
//!
//! A passive observer cannot decrypt the authenticator, so the client principal is hidden; the
//! ticket's realm, service name and encryption types are in the clear.

use super::der::{self, Der, Tlv, tag};
use super::ntlmssp;
use crate::wire::{Layer, ParseError, Result};

/// Mechanism OIDs, as dotted strings.
pub mod oid {
    /// SPNEGO (RFC 4178 §3).
    pub const SPNEGO: &str = "1.3.6.1.5.5.2";
    /// NTLMSSP ([MS-SPNG] 1.9 / [MS-NLMP]).
    pub const NTLMSSP: &str = "1.3.6.1.4.1.311.2.2.10";
    /// Kerberos V5 (RFC 4121 §4.1).
    pub const KERBEROS: &str = "1.2.840.113554.1.2.2";
    /// Microsoft's mis-encoded Kerberos OID ([MS-SPNG] 3.1.5.2).
    pub const MS_KERBEROS: &str = "1.2.840.48018.1.2.2";
    /// Kerberos user-to-user (draft-ietf-cat-user2user).
    pub const KERBEROS_U2U: &str = "1.2.840.113554.1.2.2.3";
    /// NEGOEX ([MS-NEGOEX] 1.9).
    pub const NEGOEX: &str = "1.3.6.1.4.1.311.2.2.30";
    /// IAKERB (draft-ietf-kitten-iakerb §3): Kerberos with KDC messages proxied through the
    /// application; macOS uses it for its local KDC (LKDC).
    pub const IAKERB: &str = "1.3.6.1.5.2.5";
}

/// Kerberos GSS-API token identifiers (RFC 4121 §4.1, RFC 1964 §1.1).
pub mod krb5_tok_id {
    /// KRB_AP_REQ.
    pub const AP_REQ: [u8; 2] = [0x01, 0x00];
    /// KRB_AP_REP.
    pub const AP_REP: [u8; 2] = [0x02, 0x00];
    /// KRB_ERROR.
    pub const ERROR: [u8; 2] = [0x03, 0x00];
    /// IAKERB_PROXY: an IAKERB-HEADER, then a KDC request or reply (draft-ietf-kitten-iakerb §3).
    pub const IAKERB_PROXY: [u8; 2] = [0x05, 0x01];
}

/// Kerberos encryption types (RFC 3961 §8, RFC 3962, RFC 4757, RFC 8009).
pub mod etype {
    pub const DES_CBC_CRC: i32 = 1;
    pub const DES_CBC_MD5: i32 = 3;
    pub const AES128_CTS_HMAC_SHA1_96: i32 = 17;
    pub const AES256_CTS_HMAC_SHA1_96: i32 = 18;
    pub const AES128_CTS_HMAC_SHA256_128: i32 = 19;
    pub const AES256_CTS_HMAC_SHA384_192: i32 = 20;
    pub const RC4_HMAC: i32 = 23;
    pub const RC4_HMAC_EXP: i32 = 24;

    /// The usual name of an etype, e.g. "aes256-cts-hmac-sha1-96".
    pub fn name(etype: i32) -> Option<&'static str> {
        Some(match etype {
            DES_CBC_CRC => "des-cbc-crc",
            DES_CBC_MD5 => "des-cbc-md5",
            AES128_CTS_HMAC_SHA1_96 => "aes128-cts-hmac-sha1-96",
            AES256_CTS_HMAC_SHA1_96 => "aes256-cts-hmac-sha1-96",
            AES128_CTS_HMAC_SHA256_128 => "aes128-cts-hmac-sha256-128",
            AES256_CTS_HMAC_SHA384_192 => "aes256-cts-hmac-sha384-192",
            RC4_HMAC => "rc4-hmac",
            RC4_HMAC_EXP => "rc4-hmac-exp",
            _ => return None,
        })
    }
}

/// negState values of NegTokenResp (RFC 4178 §4.2.2).
pub mod neg_state {
    pub const ACCEPT_COMPLETED: u8 = 0;
    pub const ACCEPT_INCOMPLETE: u8 = 1;
    pub const REJECT: u8 = 2;
    pub const REQUEST_MIC: u8 = 3;
}

/// Application tags of the Kerberos messages (RFC 4120 §5.10).
mod krb_tag {
    use super::tag::app;
    pub const TICKET: u8 = app(1);
    pub const AP_REQ: u8 = app(14);
    pub const AP_REP: u8 = app(15);
    pub const KRB_ERROR: u8 = app(30);
    /// msg-type of an AP-REQ.
    pub const AP_REQ_MSG_TYPE: i64 = 14;
}

/// A security mechanism named by OID.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Mech {
    /// 1.3.6.1.4.1.311.2.2.10
    Ntlmssp,
    /// 1.2.840.113554.1.2.2
    Kerberos,
    /// 1.2.840.48018.1.2.2
    MsKerberos,
    /// 1.2.840.113554.1.2.2.3
    KerberosU2U,
    /// 1.3.6.1.4.1.311.2.2.30
    NegoEx,
    /// Any other OID, dotted.
    /// IAKERB, `1.3.6.1.5.2.5`.
    Iakerb,
    Other(String),
}

impl Mech {
    /// The mechanism for a dotted OID string.
    pub fn from_oid(s: &str) -> Mech {
        match s {
            oid::NTLMSSP => Mech::Ntlmssp,
            oid::KERBEROS => Mech::Kerberos,
            oid::MS_KERBEROS => Mech::MsKerberos,
            oid::KERBEROS_U2U => Mech::KerberosU2U,
            oid::NEGOEX => Mech::NegoEx,
            oid::IAKERB => Mech::Iakerb,
            other => Mech::Other(other.to_owned()),
        }
    }

    /// The dotted OID.
    pub fn oid(&self) -> &str {
        match self {
            Mech::Ntlmssp => oid::NTLMSSP,
            Mech::Kerberos => oid::KERBEROS,
            Mech::MsKerberos => oid::MS_KERBEROS,
            Mech::KerberosU2U => oid::KERBEROS_U2U,
            Mech::NegoEx => oid::NEGOEX,
            Mech::Iakerb => oid::IAKERB,
            Mech::Other(s) => s,
        }
    }

    /// Any of the Kerberos OIDs.
    pub fn is_kerberos(&self) -> bool {
        matches!(
            self,
            Mech::Kerberos | Mech::MsKerberos | Mech::KerberosU2U | Mech::Iakerb
        )
    }
}

/// A security blob, as found in SMB NEGOTIATE and SESSION_SETUP messages.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum GssToken<'a> {
    /// NegTokenInit (from a NEGOTIATE response / first SESSION_SETUP), with mech OIDs in order
    /// and the optional inner mechToken.
    Init {
        mechs: Vec<Mech>,
        mech_token: Option<&'a [u8]>,
    },
    /// NegTokenResp: negState (see [`neg_state`]), supportedMech, responseToken.
    Resp {
        state: Option<u8>,
        mech: Option<Mech>,
        response_token: Option<&'a [u8]>,
    },
    /// A raw NTLMSSP token not wrapped in SPNEGO.
    RawNtlmssp(&'a [u8]),
    /// A raw Kerberos GSS token (0x60 with a krb5 OID) not in SPNEGO.
    RawKerberos(&'a [u8]),
}

impl<'a> GssToken<'a> {
    /// The token an authentication mechanism consumes: the mechToken, the responseToken or
    /// the raw token. Feed it to [`inner`].
    pub fn auth_token(&self) -> Option<&'a [u8]> {
        match *self {
            GssToken::Init { mech_token, .. } => mech_token,
            GssToken::Resp { response_token, .. } => response_token,
            GssToken::RawNtlmssp(t) | GssToken::RawKerberos(t) => Some(t),
        }
    }
}

/// Parses a security blob: a GSS-API InitialContextToken with SPNEGO or Kerberos inside, a bare
/// NegotiationToken (`[0]` NegTokenInit or `[1]` NegTokenResp), or a raw NTLMSSP token.
pub fn parse(blob: &[u8]) -> Result<GssToken<'_>> {
    if blob.starts_with(ntlmssp::SIGNATURE) {
        return Ok(GssToken::RawNtlmssp(blob));
    }
    let mut d = Der::new(blob, Layer::Spnego);
    match d.peek_tag() {
        Some(tag::GSS_INITIAL) => {
            let (mech, rest) = gss_initial(&mut d)?;
            match mech.as_str() {
                oid::SPNEGO => negotiation_token(&mut rest.with_layer(Layer::Spnego)),
                oid::KERBEROS | oid::MS_KERBEROS | oid::KERBEROS_U2U => {
                    Ok(GssToken::RawKerberos(blob))
                }
                _ => Err(ParseError::new(
                    Layer::Spnego,
                    0,
                    "unknown GSS-API mechanism",
                )),
            }
        }
        Some(_) => negotiation_token(&mut d),
        None => Err(d.err("empty security blob")),
    }
}

/// What authentication an inner token (mechToken / responseToken) carries.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Inner<'a> {
    Ntlmssp(ntlmssp::Message<'a>),
    KerberosApReq(ApReq),
    KerberosApRep,
    KerberosError,
    /// An IAKERB proxied KDC exchange; `realm` is the IAKERB-HEADER target realm.
    KerberosIakerb {
        realm: String,
    },
    Unknown,
}

/// Classifies an inner token: raw NTLMSSP, or a Kerberos GSS-API token (0x60, krb5 OID,
/// tok_id 01 00 AP-REQ / 02 00 AP-REP / 03 00 KRB-ERROR), or a bare Kerberos message.
/// Anything that fails to parse is [`Inner::Unknown`].
pub fn inner(token: &[u8]) -> Inner<'_> {
    if token.starts_with(ntlmssp::SIGNATURE) {
        return ntlmssp::parse(token).map_or(Inner::Unknown, Inner::Ntlmssp);
    }
    let mut d = Der::new(token, Layer::Kerberos);
    let body = match d.peek_tag() {
        Some(tag::GSS_INITIAL) => match gss_initial(&mut d) {
            Ok((mech, rest)) if Mech::from_oid(&mech).is_kerberos() => {
                match rest.rest().split_first_chunk::<2>() {
                    Some((&krb5_tok_id::AP_REQ, body)) => body,
                    Some((&krb5_tok_id::AP_REP, _)) => return Inner::KerberosApRep,
                    Some((&krb5_tok_id::ERROR, _)) => return Inner::KerberosError,
                    Some((&krb5_tok_id::IAKERB_PROXY, header)) => {
                        return iakerb_realm(header)
                            .map_or(Inner::Unknown, |realm| Inner::KerberosIakerb { realm });
                    }
                    _ => return Inner::Unknown,
                }
            }
            _ => return Inner::Unknown,
        },
        _ => token,
    };
    match body.first().copied() {
        Some(krb_tag::AP_REQ) => ApReq::parse(body).map_or(Inner::Unknown, Inner::KerberosApReq),
        Some(krb_tag::AP_REP) => Inner::KerberosApRep,
        Some(krb_tag::KRB_ERROR) => Inner::KerberosError,
        _ => Inner::Unknown,
    }
}

/// IAKERB-HEADER ::= SEQUENCE { target-realm [1] UTF8String, cookie [2] OCTET STRING OPTIONAL }
/// (draft-ietf-kitten-iakerb §3).
fn iakerb_realm(buf: &[u8]) -> Result<String> {
    let mut top = Der::new(buf, Layer::Kerberos);
    let seq = top.expect(tag::SEQUENCE)?;
    let mut d = top.nested(seq)?;
    Ok(der::string(d.explicit(1, UTF8_STRING)?))
}

/// UTF8String (X.680 §8.4).
const UTF8_STRING: u8 = 0x0C;

/// The clear-text parts of a Kerberos AP-REQ (RFC 4120 §5.5.1) and its Ticket (§5.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApReq {
    /// Ticket realm, e.g. "EXAMPLE.COM".
    pub realm: String,
    /// Ticket service name, components joined by '/', e.g. "cifs/fileserver.example.com".
    pub sname: String,
    /// sname name-type (2 = NT-SRV-INST).
    pub sname_type: i32,
    /// Ticket enc-part etype (see [`etype`]): 18 aes256, 17 aes128, 23 rc4-hmac.
    pub enc_type: i32,
    /// Ticket enc-part kvno, when present.
    pub kvno: Option<u32>,
    /// Authenticator etype (the session key's type).
    pub authenticator_enc_type: i32,
    /// APOptions as a big-endian u32 (bit 0 = 0x8000_0000 reserved, 0x4000_0000
    /// use-session-key, 0x2000_0000 mutual-required).
    pub ap_options: u32,
    /// The Ticket's enc-part cipher (an EncTicketPart, under the service's long-term key,
    /// key usage 2).
    pub ticket_cipher: Vec<u8>,
    /// The Authenticator's cipher (under the ticket's session key, key usage 11).
    pub authenticator_cipher: Vec<u8>,
}

impl ApReq {
    /// Parses an AP-REQ starting at its `[APPLICATION 14]` tag.
    pub fn parse(buf: &[u8]) -> Result<ApReq> {
        let l = Layer::Kerberos;
        let mut top = Der::new(buf, l);
        let app = top.expect(krb_tag::AP_REQ)?;
        let seq = top.nested(app)?.expect(tag::SEQUENCE)?;
        let mut d = top.nested(seq)?;
        d.explicit(0, tag::INTEGER)?; // pvno
        let ty = d.explicit(1, tag::INTEGER)?;
        if der::integer(ty, l)? != krb_tag::AP_REQ_MSG_TYPE {
            return Err(ParseError::new(l, ty.offset, "msg-type is not AP-REQ"));
        }
        let opts = d.explicit(2, tag::BIT_STRING)?;
        let ap_options = opts
            .value
            .iter()
            .skip(1) // unused-bits count
            .take(4)
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | (u32::from(b) << (24 - 8 * i)));

        // Ticket ::= [APPLICATION 1] SEQUENCE { tkt-vno [0], realm [1], sname [2], enc-part [3] }
        let ticket = d.explicit(3, krb_tag::TICKET)?;
        let tseq = d.nested(ticket)?.expect(tag::SEQUENCE)?;
        let mut t = d.nested(tseq)?;
        t.explicit(0, tag::INTEGER)?; // tkt-vno
        let realm = der::string(t.explicit(1, tag::GENERAL_STRING)?);
        let (sname_type, sname) = principal_name(&mut t, 2)?;
        let enc = t.explicit(3, tag::SEQUENCE)?;
        let (enc_type, kvno, ticket_cipher) = encrypted_data(&t, enc)?;

        let auth = d.explicit(4, tag::SEQUENCE)?;
        let (authenticator_enc_type, _, authenticator_cipher) = encrypted_data(&d, auth)?;
        Ok(ApReq {
            realm,
            sname,
            sname_type,
            enc_type,
            kvno,
            authenticator_enc_type,
            ap_options,
            ticket_cipher: ticket_cipher.to_vec(),
            authenticator_cipher: authenticator_cipher.to_vec(),
        })
    }
}

/// Reads a GSS-API InitialContextToken header (RFC 2743 §3.1): returns the mechanism OID and
/// a reader over the mechanism-specific bytes that follow it.
fn gss_initial<'a>(d: &mut Der<'a>) -> Result<(String, Der<'a>)> {
    let outer = d.expect(tag::GSS_INITIAL)?;
    let mut inside = d.nested(outer)?;
    let mech = inside.expect(tag::OID)?;
    Ok((der::oid(mech, d.layer())?, inside))
}

/// NegotiationToken ::= CHOICE { negTokenInit [0], negTokenResp [1] } (RFC 4178 §4.2).
fn negotiation_token<'a>(d: &mut Der<'a>) -> Result<GssToken<'a>> {
    let l = Layer::Spnego;
    match d.peek_tag() {
        Some(t) if t == tag::ctx(0) => {
            // NegTokenInit ::= SEQUENCE { mechTypes [0], reqFlags [1], mechToken [2],
            // mechListMIC [3] } ([MS-SPNG] NegTokenInit2 puts negHints at [3]; ignored).
            let seq = d.explicit(0, tag::SEQUENCE)?;
            let mut s = d.nested(seq)?;
            let mut mechs = Vec::new();
            if let Some(list) = s.explicit_opt(0, tag::SEQUENCE)? {
                let mut m = s.nested(list)?;
                while !m.is_empty() {
                    mechs.push(Mech::from_oid(&der::oid(m.expect(tag::OID)?, l)?));
                }
            }
            s.explicit_opt(1, tag::BIT_STRING)?;
            let mech_token = s.explicit_opt(2, tag::OCTET_STRING)?.map(|t| t.value);
            Ok(GssToken::Init { mechs, mech_token })
        }
        Some(t) if t == tag::ctx(1) => {
            // NegTokenResp ::= SEQUENCE { negState [0], supportedMech [1],
            // responseToken [2], mechListMIC [3] }
            let seq = d.explicit(1, tag::SEQUENCE)?;
            let mut s = d.nested(seq)?;
            let state = match s.explicit_opt(0, tag::ENUMERATED)? {
                Some(t) => Some(
                    u8::try_from(der::integer(t, l)?)
                        .map_err(|_| ParseError::new(l, t.offset, "negState out of range"))?,
                ),
                None => None,
            };
            let mech = match s.explicit_opt(1, tag::OID)? {
                Some(t) => Some(Mech::from_oid(&der::oid(t, l)?)),
                None => None,
            };
            let response_token = s.explicit_opt(2, tag::OCTET_STRING)?.map(|t| t.value);
            Ok(GssToken::Resp {
                state,
                mech,
                response_token,
            })
        }
        _ => Err(d.err("not a SPNEGO NegotiationToken")),
    }
}

/// PrincipalName ::= SEQUENCE { name-type [0] Int32, name-string [1] SEQUENCE OF
/// KerberosString } at context tag `[n]`; returns (name-type, "a/b/c").
fn principal_name(d: &mut Der<'_>, n: u8) -> Result<(i32, String)> {
    let l = d.layer();
    let seq = d.explicit(n, tag::SEQUENCE)?;
    let mut p = d.nested(seq)?;
    let ty = p.explicit(0, tag::INTEGER)?;
    let name_type = int32(ty, l)?;
    let list = p.explicit(1, tag::SEQUENCE)?;
    let mut s = p.nested(list)?;
    let mut name = String::new();
    while !s.is_empty() {
        if !name.is_empty() {
            name.push('/');
        }
        name.push_str(&der::string(s.expect(tag::GENERAL_STRING)?));
    }
    Ok((name_type, name))
}

/// EncryptedData ::= SEQUENCE { etype [0] Int32, kvno [1] UInt32 OPTIONAL, cipher [2] }.
fn encrypted_data<'a>(parent: &Der<'a>, seq: Tlv<'a>) -> Result<(i32, Option<u32>, &'a [u8])> {
    let l = parent.layer();
    let mut e = parent.nested(seq)?;
    let etype = int32(e.explicit(0, tag::INTEGER)?, l)?;
    let kvno = match e.explicit_opt(1, tag::INTEGER)? {
        // kvno is UInt32, but some encoders emit it as a negative Int32: keep the bits.
        Some(t) => Some(der::integer(t, l)? as u32),
        None => None,
    };
    let cipher = e.explicit(2, tag::OCTET_STRING)?.value;
    Ok((etype, kvno, cipher))
}

fn int32(t: Tlv<'_>, l: Layer) -> Result<i32> {
    i32::try_from(der::integer(t, l)?)
        .map_err(|_| ParseError::new(l, t.offset, "Int32 out of range"))
}

#[cfg(test)]
pub(crate) mod tests;
