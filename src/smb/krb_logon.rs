//! A Kerberos logon opened with a keytab: the GSS session key an SMB session derives its keys
//! from (MS-SMB2 3.2.5.3.1, 3.3.5.5.3). The ticket of the AP-REQ is decrypted with a keytab key
//! (the service's own entries first, then every key of the enctype: the checksum tells the
//! right one), then the AP-REP's subkey is taken, else the authenticator's subkey, else the
//! ticket's session key (RFC 4121 §2; key usages 2, 11 and 12 of RFC 4120 §7.5.1).

use zeroize::Zeroizing;

use crate::crypto::kerberos;
use crate::crypto::keytab::Keytab;
use crate::smb::krb::{ApRep, Authenticator, EncTicketPart, rfc3339};
use crate::smb::spnego::ApReq;

/// RFC 4120 §7.5.1 key usages.
const USAGE_TICKET: u32 = 2;
const USAGE_AUTHENTICATOR: u32 = 11;
const USAGE_AP_REP: u32 = 12;

/// The client a decrypted ticket names.
#[derive(Debug, Clone)]
pub struct KrbClient {
    pub user: String,
    pub realm: String,
    /// The ticket's auth time and end time, RFC 3339.
    pub authtime: Option<String>,
    pub endtime: Option<String>,
}

/// What an opened logon gives: the session key (redacted from `Debug`, zeroized on drop) and
/// the ticket's client.
pub struct Logon {
    pub session_key: Zeroizing<Vec<u8>>,
    pub client: KrbClient,
}

impl std::fmt::Debug for Logon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Logon")
            .field("session_key", &"<redacted>")
            .field("client", &self.client)
            .finish()
    }
}

/// No key of the keytab decrypts the ticket: the service principal, key version and enctype
/// that the keytab lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingServiceKey {
    pub principal: String,
    pub kvno: Option<u32>,
    pub enctype: i32,
}

/// Opens the logon of `ap_req` (and its `ap_rep`, when the server's answer was captured).
pub fn open(
    keytab: &Keytab,
    ap_req: &ApReq,
    ap_rep: Option<&ApRep>,
) -> Result<Logon, MissingServiceKey> {
    let ap = ap_req;
    let components: Vec<String> = ap.sname.split('/').map(str::to_owned).collect();
    let named = keytab.find(&ap.realm, &components, ap.enc_type);
    let others = keytab.entries.iter().filter(|e| e.enctype == ap.enc_type);
    let missing = || MissingServiceKey {
        principal: format!("{}@{}", ap.sname, ap.realm),
        kvno: ap.kvno,
        enctype: ap.enc_type,
    };
    let plain = named
        .chain(others)
        .find_map(|e| kerberos::decrypt(ap.enc_type, e.key(), USAGE_TICKET, &ap.ticket_cipher).ok())
        .ok_or_else(missing)?;
    let ticket = EncTicketPart::parse(&plain).map_err(|_| missing())?;
    let client = KrbClient {
        user: ticket.cname.clone(),
        realm: ticket.crealm.clone(),
        authtime: rfc3339(&ticket.authtime),
        endtime: rfc3339(&ticket.endtime),
    };
    let tk = &ticket.key.value;
    let rep_subkey = ap_rep.and_then(|rep| {
        let p = kerberos::decrypt(rep.enc_type, tk, USAGE_AP_REP, &rep.cipher).ok()?;
        ApRep::subkey(&p).ok().flatten()
    });
    let auth_subkey = || {
        let a = kerberos::decrypt(
            ap.authenticator_enc_type,
            tk,
            USAGE_AUTHENTICATOR,
            &ap.authenticator_cipher,
        )
        .ok()?;
        Authenticator::parse(&a).ok()?.subkey
    };
    let session_key = match rep_subkey.or_else(auth_subkey) {
        Some(sub) => sub.value,
        None => ticket.key.value,
    };
    Ok(Logon {
        session_key,
        client,
    })
}
