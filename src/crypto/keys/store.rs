//! [`KeyStore`]: every key and credential of a run, looked up by session and by account.

use std::collections::HashMap;

use super::{ALL_KINDS, Credential, SessionKeys};
use crate::crypto::keytab::Keytab;

/// All keys and credentials of a run.
#[derive(Debug, Default, Clone)]
pub struct KeyStore {
    sessions: Vec<SessionKeys>,
    index: HashMap<u64, usize>,
    credentials: Vec<Credential>,
    /// Service keys (`--keytab`), for Kerberos sessions.
    pub keytab: Keytab,
}

impl KeyStore {
    /// Adds sessions. Keys for a session already known fill the fields it lacks; where both
    /// give a key, the one added first is kept (the first file on the command line wins).
    pub fn add_keys(&mut self, k: Vec<SessionKeys>) {
        for new in k {
            match self.index.get(&new.session_id) {
                Some(&i) => {
                    let old = &mut self.sessions[i];
                    let mut new = new;
                    for kind in ALL_KINDS {
                        let v = kind.slot(&mut new).take();
                        let slot = kind.slot(old);
                        if slot.is_none() {
                            *slot = v;
                        }
                    }
                }
                None => {
                    self.index.insert(new.session_id, self.sessions.len());
                    self.sessions.push(new);
                }
            }
        }
    }

    pub fn add_credentials(&mut self, c: Vec<Credential>) {
        self.credentials.extend(c);
    }

    /// The keys of the session whose SessionId, as a number, is `id`.
    pub fn session(&self, id: u64) -> Option<&SessionKeys> {
        self.index.get(&id).map(|&i| &self.sessions[i])
    }

    /// Every session, in the order first added.
    pub fn sessions(&self) -> &[SessionKeys] {
        &self.sessions
    }

    pub fn credentials(&self) -> &[Credential] {
        &self.credentials
    }

    /// The credentials that may belong to `domain\user`, in file order: the user matches
    /// case-insensitively, and the credential has no domain or a matching one. Domains match
    /// case-insensitively, and a DNS name also matches its first label (`SMBSCOPE.LOCAL`
    /// fits `SMBSCOPE`). Candidates only: the authentication exchange proves which is right.
    pub fn credentials_for<'a>(
        &'a self,
        user: &'a str,
        domain: &'a str,
    ) -> impl Iterator<Item = &'a Credential> + 'a {
        self.credentials.iter().filter(move |c| {
            eq_ci(&c.user, user)
                && c.domain
                    .as_deref()
                    .is_none_or(|d| domain_matches(d, domain))
        })
    }

    /// No sessions and no credentials.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty() && self.credentials.is_empty() && self.keytab.entries.is_empty()
    }

    pub fn len_sessions(&self) -> usize {
        self.sessions.len()
    }
}

/// Case-insensitive comparison that also folds non-ASCII letters.
fn eq_ci(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b) || a.to_lowercase() == b.to_lowercase()
}

/// `cred` (from the file) fits `wire` (from the capture): equal, or one is the first label of
/// the other's DNS name.
fn domain_matches(cred: &str, wire: &str) -> bool {
    let first = |s: &'_ str| s.split('.').next().unwrap_or("").to_string();
    eq_ci(cred, wire)
        || (!cred.contains('.') && eq_ci(cred, &first(wire)))
        || (!wire.contains('.') && eq_ci(&first(cred), wire))
}
