//! The human report: per server, its sessions with posture columns, then the findings grouped
//! by severity (identical findings folded together), then anomalies and totals.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};
use std::net::SocketAddr;

use super::Sink;
use crate::event::{
    AnomalyRecord, ConnectionRecord, EventRecord, Finding, Record, SessionRecord, Severity, Summary,
};

/// Names and files listed per session before "and N more".
const LIST_MAX: usize = 8;
/// Anomaly lines kept for the report (all are counted in the summary).
const ANOMALIES_MAX: usize = 50;
/// QUIC events kept for the report.
const EVENTS_MAX: usize = 1000;

/// Collects records, then prints the report at [`Sink::finish`].
pub struct TextSink<W: Write> {
    out: W,
    conns: Vec<ConnectionRecord>,
    sessions: Vec<SessionRecord>,
    findings: Vec<Finding>,
    anomalies: Vec<AnomalyRecord>,
    events: Vec<EventRecord>,
}

impl<W: Write> TextSink<W> {
    pub fn new(out: W) -> Self {
        TextSink {
            out,
            conns: Vec::new(),
            sessions: Vec::new(),
            findings: Vec::new(),
            anomalies: Vec::new(),
            events: Vec::new(),
        }
    }

    pub fn into_inner(self) -> W {
        self.out
    }

    fn servers(&mut self) -> io::Result<()> {
        let mut by_server: BTreeMap<SocketAddr, Vec<usize>> = BTreeMap::new();
        for (i, c) in self.conns.iter().enumerate() {
            by_server.entry(c.server).or_default().push(i);
        }
        for idx in by_server.values_mut() {
            idx.sort_by(|&a, &b| {
                self.conns[a]
                    .first_seen
                    .total_cmp(&self.conns[b].first_seen)
            });
        }
        // Each connection's sessions, by its two endpoints, found once: looking them up per
        // connection in the whole list took connections x sessions steps.
        let mut sessions_of: HashMap<(SocketAddr, SocketAddr), Vec<&SessionRecord>> =
            HashMap::new();
        for s in &self.sessions {
            sessions_of.entry((s.client, s.server)).or_default().push(s);
        }
        if by_server.is_empty() {
            writeln!(self.out, "No SMB traffic found.")?;
        }
        for (server, idx) in &by_server {
            let name = idx
                .iter()
                .find_map(|&i| self.conns[i].server_name.clone())
                .map(|n| format!(" ({n})"))
                .unwrap_or_default();
            writeln!(
                self.out,
                "Server {server}{name}: {} connection(s)",
                idx.len()
            )?;
            let mut rows = vec![header_row()];
            let mut details = Vec::new();
            for &i in idx {
                let c = &self.conns[i];
                let sessions = sessions_of
                    .get(&(c.client, c.server))
                    .map_or(&[][..], Vec::as_slice);
                if sessions.is_empty() {
                    rows.push(conn_row(c, None));
                }
                for &s in sessions {
                    rows.push(conn_row(c, Some(s)));
                    details.extend(session_details(s));
                }
            }
            write_table(&mut self.out, &rows)?;
            for d in details {
                writeln!(self.out, "    {d}")?;
            }
            writeln!(self.out)?;
        }
        Ok(())
    }

    fn events(&mut self) -> io::Result<()> {
        if self.events.is_empty() {
            return Ok(());
        }
        writeln!(self.out, "QUIC connections and SMB over QUIC events:")?;
        for e in &self.events {
            let name = e.server_name.as_deref().unwrap_or("(no SNI)");
            writeln!(
                self.out,
                "  [{}] {} {} -> {} ({name}) QUIC v{} ALPN {} {}",
                e.event_id.map_or("quic".to_owned(), |i| i.to_string()),
                e.message.trim_end_matches('.'),
                e.client_address,
                e.server_address,
                e.quic_version,
                e.alpn_selected.clone().unwrap_or_else(|| e.alpn.join(",")),
                e.tls_cipher.as_deref().unwrap_or(""),
            )?;
            if e.client_addresses.len() > 1 {
                writeln!(
                    self.out,
                    "      client moved: {}",
                    e.client_addresses.join(" -> ")
                )?;
            }
            if let Some(c) = &e.certificate {
                writeln!(
                    self.out,
                    "      certificate: {} (SAN {}{}), issuer {}, valid until {}, SHA-1 {}",
                    c.subject,
                    c.dns_names.join(","),
                    if c.ip_addresses.is_empty() {
                        String::new()
                    } else {
                        format!(" IP {}", c.ip_addresses.join(","))
                    },
                    c.issuer,
                    c.not_after,
                    c.sha1_thumbprint
                )?;
            }
            if let Some(r) = &e.reason {
                writeln!(self.out, "      {r}")?;
            }
        }
        writeln!(self.out)
    }

    fn findings(&mut self) -> io::Result<()> {
        if self.findings.is_empty() {
            writeln!(self.out, "Findings: none.")?;
            return Ok(());
        }
        writeln!(self.out, "Findings ({}):", self.findings.len())?;
        // (severity desc, rule, side, server) -> findings
        let mut groups: BTreeMap<
            (std::cmp::Reverse<Severity>, &str, &str, SocketAddr),
            Vec<&Finding>,
        > = BTreeMap::new();
        for f in &self.findings {
            groups
                .entry((
                    std::cmp::Reverse(f.severity),
                    f.rule,
                    f.side.unwrap_or(""),
                    f.server,
                ))
                .or_default()
                .push(f);
        }
        let mut last_sev = None;
        for ((std::cmp::Reverse(sev), rule, side, server), fs) in &groups {
            if last_sev != Some(*sev) {
                writeln!(self.out, "\n  {}", sev.as_str().to_uppercase())?;
                last_sev = Some(*sev);
            }
            let first = fs[0];
            let event = first
                .event_id
                .map(|e| format!(" [event {e}]"))
                .unwrap_or_default();
            let side = if side.is_empty() {
                String::new()
            } else {
                format!(" ({side})")
            };
            let mandate = first
                .mandate
                .map(|m| format!(" [raised by --require {m}]"))
                .unwrap_or_default();
            let times = if fs.len() > 1 {
                format!(" x{}", fs.len())
            } else {
                String::new()
            };
            writeln!(
                self.out,
                "  - {rule}{side}{event}{mandate} server {server}{times}"
            )?;
            writeln!(self.out, "      {}", first.summary)?;
            let who: Vec<String> = fs
                .iter()
                .map(|f| match f.session_id {
                    Some(s) => format!("{} session {s}", f.client),
                    None => f.client.to_string(),
                })
                .collect();
            writeln!(self.out, "      seen on: {}", list(&who))?;
            writeln!(self.out, "      fix: {}", first.fix)?;
        }
        writeln!(self.out)
    }

    fn anomalies(&mut self) -> io::Result<()> {
        if self.anomalies.is_empty() {
            return Ok(());
        }
        writeln!(self.out, "Anomalies (first {}):", self.anomalies.len())?;
        for a in &self.anomalies {
            writeln!(
                self.out,
                "  - {} {} -> {}: {}{}",
                a.kind,
                a.client,
                a.server,
                a.detail,
                if a.bytes > 0 {
                    format!(" ({} bytes)", a.bytes)
                } else {
                    String::new()
                }
            )?;
        }
        writeln!(self.out)
    }
}

impl<W: Write> Sink for TextSink<W> {
    fn record(&mut self, record: &Record) -> io::Result<()> {
        match record {
            Record::Connection(c) => self.conns.push(c.clone()),
            Record::Session(s) => self.sessions.push(s.clone()),
            Record::Finding(f) => self.findings.push(f.clone()),
            // SMB over QUIC shows as its events; other QUIC connections as their summary.
            Record::Event(e) if self.events.len() < EVENTS_MAX => self.events.push(e.clone()),
            Record::Quic(e) if !e.smb && self.events.len() < EVENTS_MAX => {
                self.events.push(e.clone())
            }
            Record::Anomaly(a) if self.anomalies.len() < ANOMALIES_MAX => {
                self.anomalies.push(a.clone())
            }
            _ => {}
        }
        Ok(())
    }

    fn finish(&mut self, summary: &Summary) -> io::Result<()> {
        self.servers()?;
        self.events()?;
        self.findings()?;
        self.anomalies()?;
        let sev: Vec<String> = [
            Severity::High,
            Severity::Medium,
            Severity::Low,
            Severity::Info,
        ]
        .iter()
        .map(|s| {
            format!(
                "{} {}",
                summary.findings.get(s.as_str()).copied().unwrap_or(0),
                s
            )
        })
        .collect();
        writeln!(
            self.out,
            "Totals: {} file(s), {} frames, {} bytes, {} SMB connection(s), {} session(s), {} SMB \
             messages; findings: {}; anomalies: {}; undecodable frames: {}",
            summary.files.len(),
            summary.frames,
            summary.bytes,
            summary.connections,
            summary.sessions,
            summary.smb_messages,
            sev.join(", "),
            summary.anomalies.values().sum::<u64>(),
            summary.undecodable_frames,
        )?;
        for e in &summary.errors {
            writeln!(self.out, "Input error: {e}")?;
        }
        self.out.flush()
    }
}

fn header_row() -> Vec<String> {
    [
        "CLIENT",
        "SESSION",
        "USER",
        "AUTH",
        "DIALECT",
        "SIGN-REQ C/S",
        "ALG",
        "SIGNED/UNSIGNED",
        "ENCRYPTION",
        "GUEST",
        "ANON",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

fn conn_row(c: &ConnectionRecord, s: Option<&SessionRecord>) -> Vec<String> {
    let dialect = c.dialect.clone().unwrap_or_else(|| "?".into());
    let req = format!(
        "{}/{}",
        yes(c.client_signing_required),
        yes(c.server_signing_required)
    );
    let alg = c.signing_algorithm.unwrap_or("-").to_owned();
    let Some(s) = s else {
        return vec![
            c.client.to_string(),
            "-".into(),
            "-".into(),
            "-".into(),
            dialect,
            req,
            alg,
            "-".into(),
            c.cipher.unwrap_or("-").to_owned(),
            "-".into(),
            "-".into(),
        ];
    };
    let user = match (
        s.domain.as_deref().filter(|d| !d.is_empty()),
        s.user.as_deref(),
    ) {
        (_, None) => "?".to_owned(),
        (_, Some("")) => "(empty)".to_owned(),
        (Some(d), Some(u)) => format!("{d}\\{u}"),
        (None, Some(u)) => u.to_owned(),
    };
    let enc_trees = s.trees.iter().any(|t| t.encrypt_data);
    let encryption = if s.encrypt_data {
        format!("session {}", c.cipher.unwrap_or(""))
    } else if enc_trees {
        format!("share {}", c.cipher.unwrap_or(""))
    } else if s.messages.encrypted > 0 {
        format!("client {}", c.cipher.unwrap_or(""))
    } else {
        "none".to_owned()
    };
    let m = s.messages;
    let msgs = if m.encrypted > 0 {
        format!("{}/{} +{} enc", m.signed, m.unsigned, m.encrypted)
    } else {
        format!("{}/{}", m.signed, m.unsigned)
    };
    let state = if s.state == "established" {
        String::new()
    } else {
        format!(" ({})", s.state)
    };
    vec![
        c.client.to_string(),
        format!("{}{state}", s.session_id),
        user,
        s.auth.to_owned(),
        dialect,
        req,
        alg,
        msgs,
        encryption.trim().to_owned(),
        yes(s.guest).into(),
        yes(s.anonymous).into(),
    ]
}

fn session_details(s: &SessionRecord) -> Vec<String> {
    let mut out = Vec::new();
    if !s.trees.is_empty() {
        let trees: Vec<String> = s
            .trees
            .iter()
            .map(|t| {
                let mut tags = Vec::new();
                if let Some(ty) = t.share_type {
                    tags.push(ty.to_owned());
                }
                if t.encrypt_data {
                    tags.push("encrypted".into());
                }
                if let Some(st) = t.status.as_deref().filter(|s| *s != "STATUS_SUCCESS") {
                    tags.push(st.to_owned());
                }
                if tags.is_empty() {
                    t.path.clone()
                } else {
                    format!("{} [{}]", t.path, tags.join(", "))
                }
            })
            .collect();
        out.push(format!("{} trees: {}", s.session_id, list(&trees)));
    }
    if !s.files.is_empty() {
        let mut l = list(&s.files);
        if s.files_dropped > 0 {
            l.push_str(&format!(" (+{} not kept)", s.files_dropped));
        }
        out.push(format!("{} files: {l}", s.session_id));
    }
    let sig = s.signatures;
    if sig.valid + sig.invalid + sig.unverified > 0 || s.decrypted.ok + s.decrypted.failed > 0 {
        let mut parts = Vec::new();
        if sig.valid + sig.invalid + sig.unverified > 0 {
            parts.push(format!(
                "signatures {} valid, {} INVALID, {} unverified",
                sig.valid, sig.invalid, sig.unverified
            ));
        }
        if s.decrypted.ok + s.decrypted.failed > 0 {
            parts.push(format!(
                "decrypted {} of {} ({} failed)",
                s.decrypted.ok, s.messages.encrypted, s.decrypted.failed
            ));
        }
        let source = s
            .key_source
            .map(|k| format!(" [keys from --{k}]"))
            .unwrap_or_else(|| " [no key]".to_owned());
        out.push(format!("{} {}{source}", s.session_id, parts.join("; ")));
    }
    if !s.statuses.is_empty() {
        let st: Vec<String> = s
            .statuses
            .iter()
            .map(|(k, v)| format!("{k} x{v}"))
            .collect();
        out.push(format!("{} errors: {}", s.session_id, st.join(", ")));
    }
    if s.bytes_read > 0 || s.bytes_written > 0 {
        out.push(format!(
            "{} bytes read {}, written {}",
            s.session_id, s.bytes_read, s.bytes_written
        ));
    }
    out
}

/// `a, b, c and 5 more`.
fn list(items: &[String]) -> String {
    let mut s = items
        .iter()
        .take(LIST_MAX)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > LIST_MAX {
        s.push_str(&format!(" and {} more", items.len() - LIST_MAX));
    }
    s
}

fn write_table<W: Write>(out: &mut W, rows: &[Vec<String>]) -> io::Result<()> {
    let cols = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..cols)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    for r in rows {
        let mut line = String::from("  ");
        for (c, cell) in r.iter().enumerate() {
            line.push_str(cell);
            if c + 1 < cols {
                let pad = widths[c] - cell.chars().count() + 2;
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}
