//! The encrypted parts of a Kerberos exchange, once decrypted (RFC 4120 §5.3, §5.5.1, §5.5.2):
//! the EncTicketPart (the ticket's session key, the client principal, its times), the
//! Authenticator (its subkey) and the AP-REP (its enc-part, and the EncAPRepPart's subkey).
//! Keys are returned in [`Zeroizing`] buffers and never printed by `Debug`.

use std::fmt;

use zeroize::Zeroizing;

use crate::smb::der::{self, Der, Tlv, tag};
use crate::wire::{Layer, ParseError, Result};

const ENC_TICKET_PART: u8 = tag::app(3);
const AUTHENTICATOR: u8 = tag::app(2);
const AP_REP: u8 = tag::app(15);
const ENC_AP_REP_PART: u8 = tag::app(27);
/// GeneralizedTime (X.680 §46), KerberosTime's encoding.
const GENERALIZED_TIME: u8 = 0x18;

/// An EncryptionKey (keytype and key bytes).
pub struct EncryptionKey {
    pub keytype: i32,
    pub value: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncryptionKey")
            .field("keytype", &self.keytype)
            .field("len", &self.value.len())
            .finish_non_exhaustive()
    }
}

/// The decrypted ticket.
#[derive(Debug)]
pub struct EncTicketPart {
    pub key: EncryptionKey,
    pub crealm: String,
    /// The client principal, components joined by '/'.
    pub cname: String,
    /// KerberosTime strings as sent (`20260101120000Z`).
    pub authtime: String,
    pub endtime: String,
}

/// A KerberosTime (`YYYYMMDDHHMMSSZ`, RFC 4120 5.2.3) as RFC 3339 (`YYYY-MM-DDTHH:MM:SSZ`);
/// `None` for anything else.
pub fn rfc3339(t: &str) -> Option<String> {
    let b = t.as_bytes();
    if b.len() != 15 || b[14] != b'Z' || !b[..14].iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(format!(
        "{}-{}-{}T{}:{}:{}Z",
        &t[0..4],
        &t[4..6],
        &t[6..8],
        &t[8..10],
        &t[10..12],
        &t[12..14]
    ))
}

/// The decrypted Authenticator.
#[derive(Debug)]
pub struct Authenticator {
    pub crealm: String,
    pub cname: String,
    pub subkey: Option<EncryptionKey>,
}

/// An AP-REP's enc-part (still encrypted under the ticket's session key, key usage 12).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApRep {
    pub enc_type: i32,
    pub cipher: Vec<u8>,
}

fn l() -> Layer {
    Layer::Kerberos
}

fn int32(t: Tlv<'_>) -> Result<i32> {
    i32::try_from(der::integer(t, l())?)
        .map_err(|_| ParseError::new(l(), t.offset, "Int32 out of range"))
}

fn encryption_key(d: &Der<'_>, seq: Tlv<'_>) -> Result<EncryptionKey> {
    let mut k = d.nested(seq)?;
    let keytype = int32(k.explicit(0, tag::INTEGER)?)?;
    let value = Zeroizing::new(k.explicit(1, tag::OCTET_STRING)?.value.to_vec());
    Ok(EncryptionKey { keytype, value })
}

fn principal(d: &Der<'_>, seq: Tlv<'_>) -> Result<String> {
    let mut p = d.nested(seq)?;
    p.explicit(0, tag::INTEGER)?;
    let list = p.explicit(1, tag::SEQUENCE)?;
    let mut s = p.nested(list)?;
    let mut parts = Vec::new();
    while !s.is_empty() && parts.len() < 16 {
        parts.push(der::string(s.expect(tag::GENERAL_STRING)?));
    }
    Ok(parts.join("/"))
}

/// Skips optional context-tagged fields until `[n]`.
fn skip_to(d: &mut Der<'_>, n: u8) -> Result<()> {
    while let Some(t) = d.peek_tag() {
        if t == tag::ctx(n) {
            return Ok(());
        }
        d.read()?;
    }
    Err(d.err("missing field"))
}

fn time(d: &mut Der<'_>, n: u8) -> Result<String> {
    skip_to(d, n)?;
    Ok(der::string(d.explicit(n, GENERALIZED_TIME)?))
}

impl EncTicketPart {
    pub fn parse(buf: &[u8]) -> Result<EncTicketPart> {
        let mut top = Der::new(buf, l());
        let app = top.expect(ENC_TICKET_PART)?;
        let seq = top.nested(app)?.expect(tag::SEQUENCE)?;
        let mut d = top.nested(seq)?;
        d.explicit(0, tag::BIT_STRING)?; // flags
        let k = d.explicit(1, tag::SEQUENCE)?;
        let key = encryption_key(&d, k)?;
        let crealm = der::string(d.explicit(2, tag::GENERAL_STRING)?);
        let c = d.explicit(3, tag::SEQUENCE)?;
        let cname = principal(&d, c)?;
        let authtime = time(&mut d, 5)?;
        let endtime = time(&mut d, 7)?;
        Ok(EncTicketPart {
            key,
            crealm,
            cname,
            authtime,
            endtime,
        })
    }
}

impl Authenticator {
    pub fn parse(buf: &[u8]) -> Result<Authenticator> {
        let mut top = Der::new(buf, l());
        let app = top.expect(AUTHENTICATOR)?;
        let seq = top.nested(app)?.expect(tag::SEQUENCE)?;
        let mut d = top.nested(seq)?;
        d.explicit(0, tag::INTEGER)?; // authenticator-vno
        let crealm = der::string(d.explicit(1, tag::GENERAL_STRING)?);
        let c = d.explicit(2, tag::SEQUENCE)?;
        let cname = principal(&d, c)?;
        let mut subkey = None;
        while let Some(t) = d.peek_tag() {
            if t == tag::ctx(6) {
                let k = d.explicit(6, tag::SEQUENCE)?;
                subkey = Some(encryption_key(&d, k)?);
                break;
            }
            d.read()?;
        }
        Ok(Authenticator {
            crealm,
            cname,
            subkey,
        })
    }
}

impl ApRep {
    /// Parses an AP-REP starting at its `[APPLICATION 15]` tag.
    pub fn parse(buf: &[u8]) -> Result<ApRep> {
        let mut top = Der::new(buf, l());
        let app = top.expect(AP_REP)?;
        let seq = top.nested(app)?.expect(tag::SEQUENCE)?;
        let mut d = top.nested(seq)?;
        d.explicit(0, tag::INTEGER)?; // pvno
        let ty = d.explicit(1, tag::INTEGER)?;
        if der::integer(ty, l())? != 15 {
            return Err(ParseError::new(l(), ty.offset, "msg-type is not AP-REP"));
        }
        let enc = d.explicit(2, tag::SEQUENCE)?;
        let mut e = d.nested(enc)?;
        let enc_type = int32(e.explicit(0, tag::INTEGER)?)?;
        e.explicit_opt(1, tag::INTEGER)?;
        let cipher = e.explicit(2, tag::OCTET_STRING)?.value.to_vec();
        Ok(ApRep { enc_type, cipher })
    }

    /// The AP-REP inside a krb5 mechanism token: after the RFC 1964 §1.1 token id 02 00
    /// (with or without the GSS framing before it), or the token itself when it is bare.
    pub fn from_gss_token(token: &[u8]) -> Option<ApRep> {
        token
            .windows(3)
            .enumerate()
            .filter(|(_, w)| *w == [0x02, 0x00, AP_REP])
            .find_map(|(i, _)| ApRep::parse(&token[i + 2..]).ok())
            .or_else(|| ApRep::parse(token).ok())
    }

    /// The subkey of a decrypted EncAPRepPart (`[APPLICATION 27]`), if it carries one.
    pub fn subkey(plain: &[u8]) -> Result<Option<EncryptionKey>> {
        let mut top = Der::new(plain, l());
        let app = top.expect(ENC_AP_REP_PART)?;
        let seq = top.nested(app)?.expect(tag::SEQUENCE)?;
        let mut d = top.nested(seq)?;
        while let Some(t) = d.peek_tag() {
            if t == tag::ctx(2) {
                let k = d.explicit(2, tag::SEQUENCE)?;
                return encryption_key(&d, k).map(Some);
            }
            d.read()?;
        }
        Ok(None)
    }
}

#[cfg(test)]
mod time_tests {
    use super::rfc3339;

    #[test]
    fn kerberos_times() {
        assert_eq!(
            rfc3339("20261207033445Z").as_deref(),
            Some("2026-12-07T03:34:45Z")
        );
        for bad in [
            "",
            "20261207033445",
            "2026120703344Z",
            "2026120703344xZ",
            "20261207033445ZZ",
        ] {
            assert_eq!(rfc3339(bad), None, "{bad}");
        }
    }
}
