//! One-line records: Wireshark's `smb2_seskey_list`, smbscope's `session=... key=...`, a
//! `--credentials` line; and the merging of a file's entries by session id.

use std::collections::HashMap;

use zeroize::Zeroizing;

use super::{
    ALL_KINDS, Credential, CredentialSecret, Fail, KeyKind, Secret, SessionKeys, decode_hex,
    hex_key,
};

/// One `smb2_seskey_list` record (without the `uat:` prefix).
pub(super) fn parse_uat(rec: &str, line: usize, path: &str) -> Result<(usize, SessionKeys), Fail> {
    let fields: Vec<&str> = rec.split(',').map(unquote).collect();
    if fields.len() != 4 {
        return Err(Fail::new(
            line,
            format!(
                "Wireshark smb2_seskey_list record has {} fields; expected 4 (session id, \
                 session key, server-to-client key, client-to-server key)",
                fields.len()
            ),
        ));
    }
    let id = wire_session_id(fields[0]).map_err(|r| Fail::new(line, r))?;
    let mut e = SessionKeys::new(id, format!("{path}:{line}"));
    let slots = [
        (KeyKind::Session, fields[1]),
        (KeyKind::S2c, fields[2]),
        (KeyKind::C2s, fields[3]),
    ];
    for (kind, hex) in slots {
        if !hex.is_empty() {
            *kind.slot(&mut e) = Some(hex_key(kind, hex).map_err(|r| Fail::new(line, r))?);
        }
    }
    if !e.has_any() {
        return Err(Fail::new(line, "record gives no key"));
    }
    Ok((line, e))
}

/// A UAT field without surrounding blanks and double quotes.
fn unquote(f: &str) -> &str {
    let f = f.trim();
    f.strip_prefix('"')
        .and_then(|g| g.strip_suffix('"'))
        .map_or(f, str::trim)
}

/// One line of smbscope's own `session=... key=...` format.
pub(super) fn parse_plain(t: &str, line: usize, path: &str) -> Result<(usize, SessionKeys), Fail> {
    let mut id = None;
    let mut e = SessionKeys::new(0, format!("{path}:{line}"));
    for tok in t.split_ascii_whitespace() {
        if tok.starts_with('#') {
            break;
        }
        let Some((name, value)) = tok.split_once('=') else {
            return Err(Fail::new(line, "expected name=value fields"));
        };
        let kind = match name.to_ascii_lowercase().as_str() {
            "session" => {
                if id.is_some() {
                    return Err(Fail::new(line, "session= given twice"));
                }
                id = Some(plain_session_id(value).map_err(|r| Fail::new(line, r))?);
                continue;
            }
            "key" => KeyKind::Session,
            "c2s" => KeyKind::C2s,
            "s2c" => KeyKind::S2c,
            "signing" => KeyKind::Signing,
            _ => {
                return Err(Fail::new(
                    line,
                    "unknown field; expected session=, key=, c2s=, s2c= or signing=",
                ));
            }
        };
        let slot = kind.slot(&mut e);
        if slot.is_some() {
            return Err(Fail::new(line, format!("{} given twice", kind.name())));
        }
        *slot = Some(hex_key(kind, value).map_err(|r| Fail::new(line, r))?);
    }
    e.session_id = id.ok_or_else(|| Fail::new(line, "no session= field"))?;
    if !e.has_any() {
        return Err(Fail::new(
            line,
            "no key given (key=, c2s=, s2c= or signing=)",
        ));
    }
    Ok((line, e))
}

/// The session id of the Wireshark form: 16 hex digits, the wire bytes in order.
fn wire_session_id(s: &str) -> Result<u64, &'static str> {
    const WHAT: &str =
        "session id must be the 8 wire bytes as 16 hex digits (e.g. 3900000000400000)";
    if s.len() != 16 {
        return Err(WHAT);
    }
    let bytes: [u8; 8] = decode_hex(s)
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or(WHAT)?;
    Ok(u64::from_le_bytes(bytes))
}

/// `0x<hex>` (the number) or `wire:<16 hex>` (the wire bytes).
fn plain_session_id(v: &str) -> Result<u64, &'static str> {
    if let Some(w) = v.strip_prefix("wire:") {
        return wire_session_id(w);
    }
    let digits = v
        .strip_prefix("0x")
        .or_else(|| v.strip_prefix("0X"))
        .ok_or("session= takes 0x<SessionId as printed by smbscope> or wire:<16 hex digits>")?;
    if digits.is_empty() || digits.len() > 16 || !digits.bytes().all(|c| c.is_ascii_hexdigit()) {
        return Err("session=0x needs 1 to 16 hex digits");
    }
    u64::from_str_radix(digits, 16).map_err(|_| "session=0x needs 1 to 16 hex digits")
}

/// One `--credentials` line.
pub(super) fn parse_credential(line: &str) -> Result<Credential, &'static str> {
    let Some((who, pass)) = line.split_once(':') else {
        return Err("expected [DOMAIN\\]USER:PASSWORD or [DOMAIN\\]USER:$NT$<32 hex digits>");
    };
    let who = who.trim();
    let (domain, user) = if let Some((d, u)) = who.split_once('\\') {
        (Some(d.trim()), u.trim())
    } else if let Some((u, d)) = who.rsplit_once('@') {
        (Some(d.trim()), u.trim())
    } else {
        (None, who)
    };
    if user.is_empty() {
        return Err("no user name before ':'");
    }
    if domain.is_some_and(str::is_empty) {
        return Err("empty domain (drop the separator to give none)");
    }
    let secret = match pass
        .strip_prefix("$NT$")
        .or_else(|| pass.strip_prefix("$nt$"))
    {
        Some(hex) => {
            let bytes = Zeroizing::new(
                decode_hex(hex.trim_end())
                    .map_err(|_| "NT hash must be 32 hex digits after $NT$")?,
            );
            let hash: [u8; 16] = bytes
                .as_slice()
                .try_into()
                .map_err(|_| "NT hash must be 32 hex digits after $NT$")?;
            CredentialSecret::NtHash(hash)
        }
        None => CredentialSecret::Password(Secret::from(pass.as_bytes())),
    };
    Ok(Credential {
        domain: domain.map(str::to_string),
        user: user.to_string(),
        secret,
    })
}

/// Entries of one file merged by session id.
#[derive(Default)]
pub(super) struct Merger {
    pub(super) out: Vec<SessionKeys>,
    /// Per entry of `out`, for each key kind, the line that gave it.
    lines: Vec<[usize; 4]>,
    index: HashMap<u64, usize>,
}

impl Merger {
    pub(super) fn add(&mut self, line: usize, mut new: SessionKeys) -> Result<(), Fail> {
        let i = match self.index.get(&new.session_id) {
            Some(&i) => i,
            None => {
                self.index.insert(new.session_id, self.out.len());
                self.out
                    .push(SessionKeys::new(new.session_id, new.source.clone()));
                self.lines.push([0; 4]);
                self.out.len() - 1
            }
        };
        for (k, kind) in ALL_KINDS.into_iter().enumerate() {
            let Some(v) = kind.slot(&mut new).take() else {
                continue;
            };
            let slot = kind.slot(&mut self.out[i]);
            match slot {
                Some(old) if *old != v => {
                    return Err(Fail::new(
                        line,
                        format!(
                            "{} for session 0x{:016x} differs from the one given at line {}",
                            kind.name(),
                            new.session_id,
                            self.lines[i][k]
                        ),
                    ));
                }
                Some(_) => {}
                None => {
                    *slot = Some(v);
                    self.lines[i][k] = line;
                }
            }
        }
        Ok(())
    }
}
