//! NSS key log files (SSLKEYLOGFILE; RFC 9850): TLS 1.3 secrets by ClientHello.random.
//!
//! ```text
//! # comment
//! CLIENT_HANDSHAKE_TRAFFIC_SECRET <64 hex: ClientHello.random> <64 or 96 hex: secret>
//! ```
//!
//! Lines may end in CRLF; a literal backslash after the secret (as some pcapng Decryption
//! Secrets Blocks carry) is ignored; the draft-era `QUIC_`-prefixed labels are accepted; other
//! labels (TLS 1.2 `CLIENT_RANDOM`, ECH, …) are skipped without a warning. `Debug` never prints
//! a secret.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt;

use zeroize::Zeroizing;

/// Length of ClientHello.random.
const RANDOM_LEN: usize = 32;
/// Secret lengths TLS 1.3 uses: SHA-256 and SHA-384 outputs.
const SECRET_LENS: [usize; 2] = [32, 48];
/// Prefix of the labels draft-era QUIC stacks wrote.
const QUIC_PREFIX: &str = "QUIC_";
/// Number of [`Label`]s.
const LABELS: usize = 6;

/// Which TLS 1.3 secret a key-log line carries (RFC 9850 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Label {
    /// CLIENT_EARLY_TRAFFIC_SECRET: client 0-RTT packets.
    ClientEarly,
    /// CLIENT_HANDSHAKE_TRAFFIC_SECRET: client Handshake packets.
    ClientHandshake,
    /// SERVER_HANDSHAKE_TRAFFIC_SECRET: server Handshake packets.
    ServerHandshake,
    /// CLIENT_TRAFFIC_SECRET_0: client 1-RTT packets, key phase 0.
    ClientTraffic0,
    /// SERVER_TRAFFIC_SECRET_0: server 1-RTT packets, key phase 0.
    ServerTraffic0,
    /// EXPORTER_SECRET: not needed for decryption.
    Exporter,
}

impl Label {
    /// The label for a key-log name, with or without the `QUIC_` prefix.
    pub fn from_name(name: &str) -> Option<Label> {
        let name = name.strip_prefix(QUIC_PREFIX).unwrap_or(name);
        Some(match name {
            "CLIENT_EARLY_TRAFFIC_SECRET" => Label::ClientEarly,
            "CLIENT_HANDSHAKE_TRAFFIC_SECRET" => Label::ClientHandshake,
            "SERVER_HANDSHAKE_TRAFFIC_SECRET" => Label::ServerHandshake,
            "CLIENT_TRAFFIC_SECRET_0" => Label::ClientTraffic0,
            "SERVER_TRAFFIC_SECRET_0" => Label::ServerTraffic0,
            "EXPORTER_SECRET" => Label::Exporter,
            _ => return None,
        })
    }

    /// The standard (unprefixed) key-log name.
    pub fn as_str(self) -> &'static str {
        match self {
            Label::ClientEarly => "CLIENT_EARLY_TRAFFIC_SECRET",
            Label::ClientHandshake => "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
            Label::ServerHandshake => "SERVER_HANDSHAKE_TRAFFIC_SECRET",
            Label::ClientTraffic0 => "CLIENT_TRAFFIC_SECRET_0",
            Label::ServerTraffic0 => "SERVER_TRAFFIC_SECRET_0",
            Label::Exporter => "EXPORTER_SECRET",
        }
    }

    fn index(self) -> usize {
        match self {
            Label::ClientEarly => 0,
            Label::ClientHandshake => 1,
            Label::ServerHandshake => 2,
            Label::ClientTraffic0 => 3,
            Label::ServerTraffic0 => 4,
            Label::Exporter => 5,
        }
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

type Secret = Zeroizing<Vec<u8>>;

/// The secrets of a key log, by ClientHello.random and label.
#[derive(Clone, Default)]
pub struct KeyLog {
    map: HashMap<[u8; RANDOM_LEN], [Option<Secret>; LABELS]>,
}

impl KeyLog {
    /// Parses key-log text. Returns the secrets and one warning per line that could not be used
    /// ("line N: …"); lines with unknown labels, comments and blank lines are skipped silently.
    /// When a line repeats a (random, label) pair with a different secret, the first one is
    /// kept and a warning names the line.
    pub fn parse(text: &str) -> (KeyLog, Vec<String>) {
        let mut log = KeyLog::default();
        let mut warnings = Vec::new();
        for (i, line) in text.split('\n').enumerate() {
            let n = i + 1;
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut fields = line.split_ascii_whitespace();
            let (Some(name), Some(random), Some(secret)) =
                (fields.next(), fields.next(), fields.next())
            else {
                if line
                    .split_ascii_whitespace()
                    .next()
                    .and_then(Label::from_name)
                    .is_some()
                {
                    warnings.push(format!("line {n}: expected LABEL RANDOM SECRET"));
                }
                continue;
            };
            let Some(label) = Label::from_name(name) else {
                continue;
            };
            let trailing: Vec<&str> = fields.collect();
            if !(trailing.is_empty() || trailing == ["\\"]) {
                warnings.push(format!("line {n}: unexpected text after the secret"));
                continue;
            }
            let secret = secret.strip_suffix('\\').unwrap_or(secret);
            let Some(random) = decode_hex(random).and_then(|r| <[u8; 32]>::try_from(r).ok()) else {
                warnings.push(format!(
                    "line {n}: client random is not {} hex digits",
                    2 * RANDOM_LEN
                ));
                continue;
            };
            let Some(secret) = decode_hex(secret).filter(|s| SECRET_LENS.contains(&s.len())) else {
                warnings.push(format!("line {n}: secret is not 64 or 96 hex digits"));
                continue;
            };
            if !log.insert(random, label, Zeroizing::new(secret)) {
                warnings.push(format!(
                    "line {n}: conflicting {label} for a client random already seen; keeping the first"
                ));
            }
        }
        (log, warnings)
    }

    /// Adds `other`'s secrets; for a (random, label) pair both hold, this log's secret stays.
    pub fn merge(&mut self, other: KeyLog) {
        for (random, secrets) in other.map {
            for (idx, secret) in secrets.into_iter().enumerate() {
                if let Some(s) = secret {
                    let slots = self.map.entry(random).or_default();
                    if slots[idx].is_none() {
                        slots[idx] = Some(s);
                    }
                }
            }
        }
    }

    /// The secret logged for `client_random` under `label`.
    pub fn get(&self, client_random: &[u8; 32], label: Label) -> Option<&[u8]> {
        self.map.get(client_random)?[label.index()]
            .as_ref()
            .map(|s| s.as_slice())
    }

    /// Number of (client random, label) secrets held.
    pub fn len(&self) -> usize {
        self.map
            .values()
            .map(|s| s.iter().filter(|x| x.is_some()).count())
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The client randoms with at least one secret.
    pub fn client_randoms(&self) -> impl Iterator<Item = &[u8; 32]> {
        self.map.keys()
    }

    /// Stores a secret; `false` when a different one is already held for the pair.
    fn insert(&mut self, random: [u8; RANDOM_LEN], label: Label, secret: Secret) -> bool {
        let slots = match self.map.entry(random) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => e.insert(Default::default()),
        };
        match &slots[label.index()] {
            Some(old) => old.as_slice() == secret.as_slice(),
            None => {
                slots[label.index()] = Some(secret);
                true
            }
        }
    }
}

impl fmt::Debug for KeyLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "KeyLog {{ client_randoms: {}, secrets: {}, <redacted> }}",
            self.map.len(),
            self.len()
        )
    }
}

/// Decodes an even-length hex string (either case).
fn decode_hex(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    if !b.len().is_multiple_of(2) {
        return None;
    }
    b.chunks_exact(2)
        .map(|p| Some((nibble(p[0])? << 4) | nibble(p[1])?))
        .collect()
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
#[path = "keylog_tests.rs"]
mod tests;
