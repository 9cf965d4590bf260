//! Key material a run is given: the `--keys` and `--credentials` file formats, and the
//! [`KeyStore`] that holds them for signature checks and SMB 3.x decryption.
//!
//! Key bytes live in [`Secret`]s, which print as `<redacted N bytes>` and are zeroed when
//! dropped. No error message ever contains key material: errors name the file, the line and
//! what is wrong, never the offending text.
//!
//! # `--keys FILE`
//!
//! One file may mix the three formats below; every line (or Samba dump block) is recognised
//! on its own. Blank lines and lines whose first non-blank character is `#` are ignored.
//! Entries for the same session merge, so one line may give the session key and another the
//! cipher keys; the same key given twice for one session with different values is an error.
//!
//! ## smbscope's own format (recommended)
//!
//! One session per line, whitespace-separated `name=value` fields in any order:
//!
//! ```text
//! # SessionId as smbscope prints it, session key of an NTLM logon
//! session=0x0000400000000039 key=e79161ded03bda1449b2c8e58f753953
//! # only the cipher keys of an AES-256 session, plus the signing key
//! session=0x000000006db9fdd6 c2s=014fccd4a53554bf5b54b27a32512b35fca262b90e088a5efa7d6c952418578b s2c=1d34170138a77dac4abbe0149253c8b977a71f399081cda6cbaf62359670c1c5 signing=87920b5436afb071e655302117666fc9
//! # the session id as the 8 bytes seen on the wire (Wireshark's form)
//! session=wire:3900000000400000 key=e79161ded03bda1449b2c8e58f753953
//! ```
//!
//! * `session=0x<hex>`: the SessionId **as a number**, exactly as smbscope's text and JSON
//!   output print it (`0x` and 1 to 16 hex digits). `session=wire:<16 hex>` takes the 8 bytes
//!   in wire (little-endian) order instead. A bare number is refused: the two byte orders
//!   are too easy to mix up.
//! * `key=`: Session.SessionKey, 16 bytes (32 are accepted: a Kerberos AES-256 GSS key, of
//!   which SMB uses the first 16). The signing and cipher keys are derived from it, which for
//!   3.1.1 needs the logon (the preauth hash) in the capture.
//! * `c2s=`: the client-to-server cipher key (MS-SMB2 `SMBC2SCipherKey`, "ServerIn "; the
//!   server's decryption key), 16 bytes for AES-128 or 32 for AES-256.
//! * `s2c=`: the server-to-client cipher key (`SMBS2CCipherKey`, "ServerOut"), 16 or 32 bytes.
//! * `signing=`: Session.SigningKey (SMB 3.x), 16 bytes.
//!
//! At least one key is required. A token starting with `#` ends the line.
//!
//! ## Wireshark `smb2_seskey_list`
//!
//! The records of Wireshark's SMB2 "secret session keys" table (Preferences > Protocols >
//! SMB2), one per line, four comma-separated fields, each optionally in double quotes:
//!
//! ```text
//! 3900000000400000,e79161ded03bda1449b2c8e58f753953,"",""
//! "3900000000400000","","b02f5de25e0562075c3dc329fa2aa396","7201623a31754e6581864581209dd3d2"
//! uat:smb2_seskey_list:1900009c003c0000,9a9ea16a0cdbeb6064772318073f172f,"",""
//! ```
//!
//! The fields are: the session id as the 8 **wire** bytes (16 hex digits, little-endian:
//! `3900000000400000` is SessionId 0x0000400000000039); the session key (16 or 32 bytes);
//! the server-to-client key; the client-to-server key (16 or 32 bytes each). Any of the
//! three keys may be empty (`""`). The `uat:smb2_seskey_list:` prefix of tshark's `-o`
//! option is accepted. Wireshark's own tests pass some AES-256 keys in swapped slots and
//! Wireshark tries both orders; the parser keeps the slots as written, and a decryptor that
//! fails with one order may try the other.
//!
//! ## Samba `debug encryption = yes` dump
//!
//! The key dump of Samba's smbd or smbclient, pasted from a log:
//!
//! ```text
//! debug encryption: dumping generated session keys
//! Session Id    [0000] EB D2 FF 69 00 00 00 00                             ...i....
//! Session Key   [0000] 16 23 2F F8 0E 07 B5 CD   B6 36 19 0D BF 0E 89 A7   .#/..... .6......
//! Signing Key   [0000] A5 AE BC 18 D8 91 6B B7   F2 BA D8 ED 09 40 09 B1   ......k. .....@..
//! App Key       [0000] 91 BE 1B A6 20 D4 52 E8   C2 16 DD 90 44 E8 B0 83   .... .R. ....D...
//! ServerIn Key  [0000] 2C 21 4D 55 4E 44 75 8D   B2 DF E8 02 C9 AD 2F 97   ,!MUNDu. ....../.
//! [0010] 6C AA F8 A5 3D 6F 1C 50   8F 4C 9A 96 2F BC 85 07   l...=o.P .L../...
//! ServerOut Key [0000] 3F 0D 39 76 F8 97 FA 1D   16 49 45 B4 90 02 76 2A   ?.9v.... .IE...v*
//! [0010] E3 D6 52 B8 97 B0 89 6F   1E DD BB 95 3C AE 6A 7A   ..R....o ....<.jz
//! ```
//!
//! * A label may follow any log prefix (timestamp, process, source location); `[0010]`,
//!   `[0020]` continuation lines may carry prefixes too. The hex dump's ASCII column is
//!   ignored.
//! * `Session Id` starts a block, and its 8 bytes are in wire order.
//! * Labels: `Session Key`; `Signing Key`; `App Key` (read and ignored); `ServerIn Key` =
//!   client-to-server; `ServerOut Key` = server-to-client. ServerIn/ServerOut name the
//!   traffic direction (MS-SMB2's KDF contexts) and mean the same in smbd's and smbclient's
//!   dumps.
//! * `Encryption Key` / `Decryption Key` are also accepted, but they depend on who wrote the
//!   dump: the server encrypts server-to-client traffic, the client client-to-server. They
//!   are read from the **server's** point of view (`Decryption Key` = client-to-server,
//!   `Encryption Key` = server-to-client); with a client's dump the two come out swapped,
//!   which a decryptor that tries both orders (as Wireshark does) still handles.
//! * The Linux kernel's form (`CIFS: VFS: Session Id    91 02 00 fc bd c8 b2 00`, `%*ph`
//!   bytes on one line without an offset) is read the same way.
//! * Lines around a dump are accepted: `debug encryption: ...`, `... dumping generated ...`,
//!   `Signing Algo:`, `Cipher Algo:`, `Cipher type`, and Samba's `[YYYY/MM/DD hh:mm:ss...]`
//!   debug headers.
//!
//! ## Key lengths
//!
//! Session key 16 or 32 bytes; client-to-server and server-to-client keys 16 or 32; signing
//! key 16. Any other length is an error.
//!
//! # `--credentials FILE`
//!
//! One account per line; blank lines and `#` comment lines are ignored:
//!
//! ```text
//! SMBSCOPE\alice:Alice-Passw0rd!
//! bob@SMBSCOPE.LOCAL:Bob-Pässwörd!9
//! carol:$NT$a4f49c406510bdcab6824ee7c30fd852
//! ```
//!
//! * `[DOMAIN\]USER` or `USER@REALM` (user and domain), then `:`. The user and domain are
//!   trimmed of surrounding whitespace.
//! * The password is everything after the **first** `:`, byte for byte: it may contain `:`,
//!   spaces (leading and trailing ones included) and any UTF-8. Only a line's trailing `\r`
//!   (a CRLF file) is removed.
//! * A password of the form `$NT$<32 hex digits>` is an NT hash (MD4 of the UTF-16LE
//!   password) instead. A password that really begins with `$NT$` cannot be written.

mod records;
mod samba;
mod store;

use std::fmt;
use std::io::Read;
use std::path::Path;

use zeroize::{Zeroize, Zeroizing};

use records::{Merger, parse_credential, parse_plain, parse_uat};
pub use store::KeyStore;

/// Bytes of key material. Its `Debug` and `Display` print `<redacted N bytes>`, never the
/// bytes, and it is zeroed when dropped.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// Takes ownership of `bytes`.
    pub fn new(bytes: Vec<u8>) -> Secret {
        Secret(bytes)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<Vec<u8>> for Secret {
    fn from(bytes: Vec<u8>) -> Secret {
        Secret(bytes)
    }
}

impl From<&[u8]> for Secret {
    fn from(bytes: &[u8]) -> Secret {
        Secret(bytes.to_vec())
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<redacted {} bytes>", self.0.len())
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// The keys known for one SMB2/3 session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionKeys {
    /// The SessionId as a number (`u64::from_le_bytes` of the 8 header bytes), as smbscope
    /// prints it.
    pub session_id: u64,
    /// Session.SessionKey: 16 bytes, or 32 (a Kerberos AES-256 key; SMB uses the first 16).
    pub session_key: Option<Secret>,
    /// Client-to-server cipher key (`SMBC2SCipherKey`, "ServerIn "), 16 or 32 bytes.
    pub c2s: Option<Secret>,
    /// Server-to-client cipher key (`SMBS2CCipherKey`, "ServerOut"), 16 or 32 bytes.
    pub s2c: Option<Secret>,
    /// Session.SigningKey (SMB 3.x), 16 bytes.
    pub signing: Option<Secret>,
    /// Where the entry came from, `"file:line"` (the first line, if several merged).
    pub source: String,
}

impl SessionKeys {
    /// An entry without keys.
    pub fn new(session_id: u64, source: String) -> SessionKeys {
        SessionKeys {
            session_id,
            session_key: None,
            c2s: None,
            s2c: None,
            signing: None,
            source,
        }
    }

    fn has_any(&self) -> bool {
        self.session_key.is_some()
            || self.c2s.is_some()
            || self.s2c.is_some()
            || self.signing.is_some()
    }
}

/// An account from `--credentials`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credential {
    /// `None` when the line gave no domain: the credential then fits any domain.
    pub domain: Option<String>,
    pub user: String,
    pub secret: CredentialSecret,
}

impl fmt::Display for Credential {
    /// `DOMAIN\user` or `user`; never the secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.domain {
            Some(d) => write!(f, "{d}\\{}", self.user),
            None => f.write_str(&self.user),
        }
    }
}

/// What proves an account: its password, or its NT hash. `Debug` is redacted.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CredentialSecret {
    /// The password as UTF-8 bytes, exactly as written in the file.
    Password(Secret),
    /// `NTOWFv1` = MD4(UTF-16LE(password)).
    NtHash([u8; 16]),
}

impl Drop for CredentialSecret {
    fn drop(&mut self) {
        if let CredentialSecret::NtHash(h) = self {
            h.zeroize();
        }
    }
}

impl fmt::Debug for CredentialSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredentialSecret::Password(p) => write!(f, "Password({p:?})"),
            CredentialSecret::NtHash(_) => f.write_str("NtHash(<redacted 16 bytes>)"),
        }
    }
}

/// A key or credential file that cannot be used. `line` is 1-based; 0 means the whole file
/// (it could not be read). The reason never contains key material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFileError {
    pub path: String,
    pub line: usize,
    pub reason: String,
}

impl fmt::Display for KeyFileError {
    /// `path:line: reason`, or `path: reason` when `line` is 0.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.path, self.reason)
        } else {
            write!(f, "{}:{}: {}", self.path, self.line, self.reason)
        }
    }
}

impl std::error::Error for KeyFileError {}

/// Largest key or credential file read; anything longer is refused (a mistaken `--keys
/// /dev/zero` must not eat the memory).
pub const MAX_SECRET_FILE: u64 = 64 << 20;

/// Parses a `--keys` file (see the [module documentation](self) for the formats). `path` is
/// used in errors and in [`SessionKeys::source`]. Sessions come out in order of first
/// appearance, one entry per session id.
pub fn parse_keys(text: &str, path: &str) -> Result<Vec<SessionKeys>, KeyFileError> {
    let fail = |f: Fail| KeyFileError {
        path: path.to_string(),
        line: f.line,
        reason: f.reason,
    };
    let mut merger = Merger::default();
    let mut dump = samba::Dump::new(path);
    let mut found = Vec::new();
    for (no, line) in numbered_lines(text) {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            dump.end_value().map_err(fail)?;
        } else if let Some(rest) = t.strip_prefix("uat:") {
            dump.end_block(&mut found).map_err(fail)?;
            let Some(rec) = rest.strip_prefix("smb2_seskey_list:") else {
                return Err(fail(Fail::new(
                    no,
                    "only the uat:smb2_seskey_list table holds SMB keys",
                )));
            };
            found.push(parse_uat(rec, no, path).map_err(fail)?);
        } else if dump.line(line, no, &mut found).map_err(fail)? {
            // Part of a Samba dump.
        } else {
            dump.end_block(&mut found).map_err(fail)?;
            let entry = if t.contains('=') {
                parse_plain(t, no, path)
            } else if t.contains(',') {
                parse_uat(t, no, path)
            } else {
                Err(Fail::new(
                    no,
                    "not a key line: expected `session=0x... key=...`, a Wireshark \
                     smb2_seskey_list record or a Samba key dump line",
                ))
            };
            found.push(entry.map_err(fail)?);
        }
        for (line, e) in found.drain(..) {
            merger.add(line, e).map_err(fail)?;
        }
    }
    dump.end_block(&mut found).map_err(fail)?;
    for (line, e) in found.drain(..) {
        merger.add(line, e).map_err(fail)?;
    }
    Ok(merger.out)
}

/// Parses a `--credentials` file (see the [module documentation](self)).
pub fn parse_credentials(text: &str, path: &str) -> Result<Vec<Credential>, KeyFileError> {
    let mut out = Vec::new();
    for (no, line) in numbered_lines(text) {
        let t = line.trim_start();
        if t.trim_end().is_empty() || t.starts_with('#') {
            continue;
        }
        let cred = parse_credential(line).map_err(|reason| KeyFileError {
            path: path.to_string(),
            line: no,
            reason: reason.to_string(),
        })?;
        out.push(cred);
    }
    Ok(out)
}

/// Reads a key or credential file as UTF-8 text. The second value is a warning to print
/// when the file is accessible to its group or to others (unix `mode & 0o077`); other
/// platforms never warn.
pub fn read_secret_file(path: &Path) -> Result<(String, Option<String>), KeyFileError> {
    let (bytes, warning) = read_secret_bytes(path)?;
    match std::str::from_utf8(&bytes) {
        Ok(t) => Ok((t.to_string(), warning)),
        Err(e) => {
            let line = 1 + bytes[..e.valid_up_to()]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
            Err(KeyFileError {
                path: path.display().to_string(),
                line,
                reason: "not valid UTF-8".to_string(),
            })
        }
    }
}

/// Reads a secret file's bytes (a keytab, or the text of a key file), with the same size
/// limit and permission warning as [`read_secret_file`].
pub fn read_secret_bytes(
    path: &Path,
) -> Result<(Zeroizing<Vec<u8>>, Option<String>), KeyFileError> {
    let shown = path.display().to_string();
    let fail = |line: usize, reason: String| KeyFileError {
        path: shown.clone(),
        line,
        reason,
    };
    let file = std::fs::File::open(path).map_err(|e| fail(0, format!("cannot open: {e}")))?;
    let meta = file
        .metadata()
        .map_err(|e| fail(0, format!("cannot read: {e}")))?;
    let mut bytes = Zeroizing::new(Vec::new());
    file.take(MAX_SECRET_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| fail(0, format!("cannot read: {e}")))?;
    if bytes.len() as u64 > MAX_SECRET_FILE {
        return Err(fail(
            0,
            format!("larger than {} MiB", MAX_SECRET_FILE >> 20),
        ));
    }
    Ok((bytes, permission_warning(&shown, &meta)))
}

#[cfg(unix)]
fn permission_warning(path: &str, meta: &std::fs::Metadata) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 == 0 {
        return None;
    }
    let what = if mode & 0o044 != 0 {
        "readable"
    } else {
        "accessible"
    };
    Some(format!(
        "{path} is {what} by others (mode {mode:04o}); key material should be private (chmod 600)"
    ))
}

#[cfg(not(unix))]
fn permission_warning(_path: &str, _meta: &std::fs::Metadata) -> Option<String> {
    None
}

// ---- helpers ----

/// An error at a line of the file being parsed (the path is added by the caller).
#[derive(Debug)]
struct Fail {
    line: usize,
    reason: String,
}

impl Fail {
    fn new(line: usize, reason: impl Into<String>) -> Fail {
        Fail {
            line,
            reason: reason.into(),
        }
    }
}

/// Which key a value is, for length checks and messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KeyKind {
    Session,
    C2s,
    S2c,
    Signing,
}

impl KeyKind {
    fn name(self) -> &'static str {
        match self {
            KeyKind::Session => "session key",
            KeyKind::C2s => "client-to-server key",
            KeyKind::S2c => "server-to-client key",
            KeyKind::Signing => "signing key",
        }
    }

    fn lengths(self) -> &'static str {
        match self {
            KeyKind::Signing => "16",
            _ => "16 or 32",
        }
    }

    fn length_ok(self, n: usize) -> bool {
        match self {
            KeyKind::Signing => n == 16,
            _ => n == 16 || n == 32,
        }
    }

    fn slot(self, e: &mut SessionKeys) -> &mut Option<Secret> {
        match self {
            KeyKind::Session => &mut e.session_key,
            KeyKind::C2s => &mut e.c2s,
            KeyKind::S2c => &mut e.s2c,
            KeyKind::Signing => &mut e.signing,
        }
    }
}

const ALL_KINDS: [KeyKind; 4] = [
    KeyKind::Session,
    KeyKind::C2s,
    KeyKind::S2c,
    KeyKind::Signing,
];

/// Checks a decoded key's length.
fn checked_key(kind: KeyKind, bytes: Vec<u8>) -> Result<Secret, String> {
    let secret = Secret::new(bytes);
    if kind.length_ok(secret.len()) {
        Ok(secret)
    } else {
        Err(format!(
            "{} is {} bytes; expected {}",
            kind.name(),
            secret.len(),
            kind.lengths()
        ))
    }
}

/// Decodes a key given as hex digits.
fn hex_key(kind: KeyKind, hex: &str) -> Result<Secret, String> {
    let bytes = decode_hex(hex).map_err(|why| format!("{}: {why}", kind.name()))?;
    checked_key(kind, bytes)
}

/// Decodes an even number of hex digits. The reason never quotes the input.
fn decode_hex(s: &str) -> Result<Vec<u8>, &'static str> {
    let b = s.as_bytes();
    if !b.iter().all(u8::is_ascii_hexdigit) {
        return Err("not hex digits");
    }
    if !b.len().is_multiple_of(2) {
        return Err("odd number of hex digits");
    }
    Ok(b.chunks_exact(2)
        .map(|p| (hex_val(p[0]) << 4) | hex_val(p[1]))
        .collect())
}

/// Value of an ASCII hex digit (0 for anything else; callers check first).
fn hex_val(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        b'A'..=b'F' => c - b'A' + 10,
        _ => 0,
    }
}

/// Lines with 1-based numbers; a UTF-8 BOM and each line's trailing `\r` removed.
fn numbered_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    text.split('\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l.strip_suffix('\r').unwrap_or(l)))
}

#[cfg(test)]
#[path = "keys_tests.rs"]
mod tests;
