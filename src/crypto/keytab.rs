//! MIT keytab files (`--keytab`): the format `ktutil`, `samba-tool domain exportkeytab` and
//! `ktpass` write. Format versions 0x0501 (host byte order, little-endian here) and 0x0502
//! (big-endian), holes (negative record sizes), the 8-bit key version number and the 32-bit
//! one that overrides it. Layout from MIT krb5 `doc/formats/keytab_file_format.rst`.
//!
//! Key bytes are never printed: [`KeytabEntry`]'s `Debug` shows the principal, kvno and
//! enctype only, and the key is wiped on drop.

use std::fmt;

use zeroize::Zeroizing;

/// Kerberos encryption types (RFC 3961 §8, RFC 3962, RFC 4757, RFC 8009).
pub mod enctype {
    pub const DES_CBC_CRC: i32 = 1;
    pub const DES_CBC_MD5: i32 = 3;
    pub const AES128_CTS_HMAC_SHA1_96: i32 = 17;
    pub const AES256_CTS_HMAC_SHA1_96: i32 = 18;
    pub const AES128_CTS_HMAC_SHA256_128: i32 = 19;
    pub const AES256_CTS_HMAC_SHA384_192: i32 = 20;
    pub const RC4_HMAC: i32 = 23;
    /// rc4-hmac-exp (RFC 4757 section 4, export strength).
    pub const RC4_HMAC_EXP: i32 = 24;

    /// The name `klist -e` prints.
    pub fn name(e: i32) -> String {
        match e {
            DES_CBC_CRC => "des-cbc-crc".into(),
            DES_CBC_MD5 => "des-cbc-md5".into(),
            AES128_CTS_HMAC_SHA1_96 => "aes128-cts-hmac-sha1-96".into(),
            AES256_CTS_HMAC_SHA1_96 => "aes256-cts-hmac-sha1-96".into(),
            AES128_CTS_HMAC_SHA256_128 => "aes128-cts-hmac-sha256-128".into(),
            AES256_CTS_HMAC_SHA384_192 => "aes256-cts-hmac-sha384-192".into(),
            RC4_HMAC => "arcfour-hmac".into(),
            other => format!("enctype {other}"),
        }
    }
}

/// One key of a keytab.
#[derive(Clone)]
pub struct KeytabEntry {
    pub realm: String,
    /// Principal name components (`host`, `server.example.com`).
    pub components: Vec<String>,
    pub name_type: u32,
    /// When the key was written (seconds since the epoch).
    pub timestamp: u32,
    /// Key version number (the 32-bit field when present and non-zero, else the 8-bit one).
    pub kvno: u32,
    pub enctype: i32,
    key: Zeroizing<Vec<u8>>,
}

impl KeytabEntry {
    /// `host/server.example.com@REALM`.
    pub fn principal(&self) -> String {
        format!("{}@{}", self.components.join("/"), self.realm)
    }

    /// The key bytes (for decryption only; never log them).
    pub fn key(&self) -> &[u8] {
        &self.key
    }
}

impl fmt::Debug for KeytabEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeytabEntry")
            .field("principal", &self.principal())
            .field("kvno", &self.kvno)
            .field("enctype", &enctype::name(self.enctype))
            .finish_non_exhaustive()
    }
}

/// A keytab that does not parse: what and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("keytab: {what} at byte {offset}")]
pub struct KeytabError {
    pub offset: usize,
    pub what: &'static str,
}

/// Every key of one or more keytab files.
#[derive(Debug, Default, Clone)]
pub struct Keytab {
    pub entries: Vec<KeytabEntry>,
}

struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
    big_endian: bool,
}

impl<'a> Cursor<'a> {
    fn err(&self, what: &'static str) -> KeytabError {
        KeytabError {
            offset: self.pos,
            what,
        }
    }

    fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], KeytabError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len());
        let Some(end) = end else {
            return Err(self.err(what));
        };
        let b = &self.data[self.pos..end];
        self.pos = end;
        Ok(b)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, KeytabError> {
        Ok(self.bytes(1, what)?[0])
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, KeytabError> {
        let b: [u8; 2] = self
            .bytes(2, what)?
            .try_into()
            .map_err(|_| self.err(what))?;
        Ok(if self.big_endian {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, KeytabError> {
        let b: [u8; 4] = self
            .bytes(4, what)?
            .try_into()
            .map_err(|_| self.err(what))?;
        Ok(if self.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }

    fn string(&mut self, what: &'static str) -> Result<String, KeytabError> {
        let n = usize::from(self.u16(what)?);
        Ok(String::from_utf8_lossy(self.bytes(n, what)?).into_owned())
    }
}

impl Keytab {
    /// Parses one keytab file's bytes and adds its keys.
    pub fn add(&mut self, data: &[u8]) -> Result<usize, KeytabError> {
        let mut c = Cursor {
            data,
            pos: 0,
            big_endian: true,
        };
        if c.u8("file format byte")? != 5 {
            return Err(KeytabError {
                offset: 0,
                what: "not a keytab (the first byte is not 5)",
            });
        }
        let version = c.u8("version")?;
        c.big_endian = match version {
            2 => true,
            1 => false,
            _ => {
                return Err(KeytabError {
                    offset: 1,
                    what: "unknown keytab version (expected 0x0501 or 0x0502)",
                });
            }
        };
        let mut added = 0;
        while c.pos < data.len() {
            let size = c.u32("record size")? as i32;
            if size < 0 {
                // A hole left by a deleted entry.
                c.bytes(size.unsigned_abs() as usize, "hole")?;
                continue;
            }
            if size == 0 {
                // Zero padding at the end of some files.
                break;
            }
            let body = c.bytes(size as usize, "record shorter than its size")?;
            let mut r = Cursor {
                data: body,
                pos: 0,
                big_endian: c.big_endian,
            };
            let entry = parse_entry(&mut r, version).map_err(|e| KeytabError {
                offset: c.pos - body.len() + e.offset,
                what: e.what,
            })?;
            self.entries.push(entry);
            added += 1;
        }
        Ok(added)
    }

    /// The keys of the service `components@realm` with this enctype, newest kvno first
    /// (principal names compare case-insensitively in the realm, exactly in the components).
    pub fn find<'a>(
        &'a self,
        realm: &'a str,
        components: &'a [String],
        enctype: i32,
    ) -> impl Iterator<Item = &'a KeytabEntry> + 'a {
        self.entries.iter().filter(move |e| {
            e.enctype == enctype
                && e.realm.eq_ignore_ascii_case(realm)
                && e.components.len() == components.len()
                && e.components
                    .iter()
                    .zip(components)
                    .all(|(a, b)| a.eq_ignore_ascii_case(b))
        })
    }
}

fn parse_entry(r: &mut Cursor<'_>, version: u8) -> Result<KeytabEntry, KeytabError> {
    let mut count = usize::from(r.u16("component count")?);
    if version == 1 {
        // 0x0501 counts the realm too.
        count = count.saturating_sub(1);
    }
    if count > 32 {
        return Err(r.err("more than 32 principal components"));
    }
    let realm = r.string("realm")?;
    let mut components = Vec::with_capacity(count);
    for _ in 0..count {
        components.push(r.string("principal component")?);
    }
    let name_type = if version == 1 { 0 } else { r.u32("name type")? };
    let timestamp = r.u32("timestamp")?;
    let vno8 = r.u8("key version")?;
    let enctype = i32::from(r.u16("enctype")? as i16);
    let n = usize::from(r.u16("key length")?);
    let key = Zeroizing::new(r.bytes(n, "key")?.to_vec());
    // The optional 32-bit kvno, when at least 4 bytes remain.
    let kvno = match r.data.len() - r.pos >= 4 {
        true => match r.u32("kvno")? {
            0 => u32::from(vno8),
            v => v,
        },
        false => u32::from(vno8),
    };
    Ok(KeytabEntry {
        realm,
        components,
        name_type,
        timestamp,
        kvno,
        enctype,
        key,
    })
}

#[cfg(test)]
#[path = "keytab_tests.rs"]
mod tests;
