//! The detail view of one row: negotiate parameters, trees, counts, files, findings with fixes.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::app::App;
use super::view::{clock, severity_style};

/// Draws the selected row's detail, scrolled down `scroll` lines.
pub fn draw(app: &App, f: &mut Frame, area: Rect, scroll: u16) {
    let lines = match app.selected {
        Some(row) => lines(app, row),
        None => vec![Line::raw("nothing selected")],
    };
    let title = match app.selected.and_then(|r| r.session) {
        Some(id) => format!(" Session {id} "),
        None => " Connection ".to_string(),
    };
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0))
            .block(Block::default().borders(Borders::ALL).title(title)),
        area,
    );
}

fn heading(s: &str) -> Line<'static> {
    Line::styled(
        s.to_string(),
        Style::default().add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
    )
}

fn kv(k: &str, v: impl Into<String>) -> Line<'static> {
    Line::from(vec![
        Span::styled(
            format!("{k:>18}: "),
            Style::default().add_modifier(Modifier::BOLD),
        ),
        Span::raw(v.into()),
    ])
}

fn list(v: &[String]) -> String {
    if v.is_empty() {
        "-".into()
    } else {
        v.join(", ")
    }
}

fn lines(app: &App, row: super::app::RowKey) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    let Some(conn) = app.conn(row) else {
        return vec![Line::raw("connection no longer tracked")];
    };
    let c = &conn.record;
    let yn = |b: bool| if b { "yes" } else { "no" };
    out.push(heading("Connection"));
    out.push(kv(
        "client -> server",
        format!(
            "{} -> {}{} over {}",
            c.client,
            c.server,
            c.server_name
                .as_ref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default(),
            c.transport.to_uppercase()
        ),
    ));
    out.push(kv(
        "state",
        format!(
            "{}{}{}",
            c.close,
            if c.midstream { ", midstream" } else { "" },
            if c.negotiated {
                ""
            } else {
                ", NEGOTIATE not seen"
            }
        ),
    ));
    out.push(kv(
        "dialect",
        format!(
            "{} (client offered: {})",
            c.dialect.as_deref().unwrap_or("?"),
            list(&c.client_dialects)
        ),
    ));
    out.push(kv(
        "signing C/S",
        format!(
            "enabled {}/{}, required {}/{}, algorithm {}",
            yn(c.client_signing_enabled),
            yn(c.server_signing_enabled),
            yn(c.client_signing_required),
            yn(c.server_signing_required),
            c.signing_algorithm.unwrap_or("-")
        ),
    ));
    out.push(kv(
        "cipher",
        format!(
            "{} (client offered: {})",
            c.cipher.unwrap_or("none"),
            list(&c.client_ciphers)
        ),
    ));
    if !c.compression.is_empty() {
        out.push(kv("compression", list(&c.compression)));
    }
    out.push(kv(
        "messages",
        format!(
            "{} ({} encrypted, {} compressed), bytes {} to server, {} to client",
            c.messages,
            c.encrypted_messages,
            c.compressed_messages,
            c.bytes_to_server,
            c.bytes_to_client
        ),
    ));
    if let Some(s) = app.session(row) {
        out.push(Line::raw(""));
        out.push(heading("Session"));
        let user = match (&s.domain, &s.user) {
            (Some(d), Some(u)) if !d.is_empty() => format!("{d}\\{u}"),
            (_, Some(u)) if u.is_empty() => "(empty)".into(),
            (_, Some(u)) => u.clone(),
            (_, None) => "-".into(),
        };
        out.push(kv(
            "user",
            format!(
                "{user}{}",
                s.workstation
                    .as_ref()
                    .map(|w| format!(" from {w}"))
                    .unwrap_or_default()
            ),
        ));
        let mut auth = s.auth.to_string();
        if let Some(r) = &s.kerberos_realm {
            auth.push_str(&format!(" realm {r}"));
        }
        if let Some(sv) = &s.kerberos_service {
            auth.push_str(&format!(" service {sv}"));
        }
        out.push(kv("auth", auth));
        if let Some(te) = &s.kerberos_ticket_enctype {
            let mut k = format!("ticket {te}");
            if let Some(se) = &s.kerberos_session_key_enctype {
                k.push_str(&format!(", session key {se}"));
            }
            if let (Some(a), Some(e)) = (&s.kerberos_authtime, &s.kerberos_endtime) {
                k.push_str(&format!(", auth {a}, ends {e}"));
            }
            out.push(kv("kerberos", k));
        }
        out.push(kv(
            "state",
            format!(
                "{} ({}), guest {}, anonymous {}",
                s.state,
                s.setup_status.as_deref().unwrap_or("-"),
                yn(s.guest),
                yn(s.anonymous)
            ),
        ));
        out.push(kv(
            "encryption",
            format!(
                "session ENCRYPT_DATA {}, client requires signing {}",
                yn(s.encrypt_data),
                yn(s.client_signing_required)
            ),
        ));
        out.push(kv(
            "messages",
            format!(
                "signed {}, unsigned {}, encrypted {}",
                s.messages.signed, s.messages.unsigned, s.messages.encrypted
            ),
        ));
        out.push(kv(
            "signatures",
            format!(
                "valid {}, invalid {}, unverified {} (key: {})",
                s.signatures.valid,
                s.signatures.invalid,
                s.signatures.unverified,
                s.key_source.unwrap_or("none")
            ),
        ));
        out.push(kv(
            "decrypted",
            format!("ok {}, failed {}", s.decrypted.ok, s.decrypted.failed),
        ));
        for t in &s.trees {
            out.push(kv(
                "tree",
                format!(
                    "{} [{}]{}{}",
                    t.path,
                    t.share_type.unwrap_or("?"),
                    if t.encrypt_data { " ENCRYPTED" } else { "" },
                    t.status
                        .as_ref()
                        .filter(|s| *s != "STATUS_SUCCESS")
                        .map(|s| format!(" {s}"))
                        .unwrap_or_default()
                ),
            ));
        }
        let mut files = list(&s.files);
        if s.files_dropped > 0 {
            files.push_str(&format!(" (+{} more)", s.files_dropped));
        }
        out.push(kv("files", files));
        out.push(kv(
            "bytes",
            format!("read {}, written {}", s.bytes_read, s.bytes_written),
        ));
        if !s.statuses.is_empty() {
            let st: Vec<String> = s
                .statuses
                .iter()
                .map(|(k, v)| format!("{k} x{v}"))
                .collect();
            out.push(kv("statuses", st.join(", ")));
        }
    }
    out.push(Line::raw(""));
    let mut findings: Vec<_> = app.findings(row).collect();
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    out.push(heading(&format!("Findings ({})", findings.len())));
    for f in findings {
        let id = f
            .event_id
            .map(|i| format!(" [event {i}]"))
            .unwrap_or_default();
        let side = f.side.map(|s| format!(" ({s})")).unwrap_or_default();
        out.push(Line::from(vec![
            Span::styled(
                format!(
                    "{} {}{id}{side}",
                    f.severity.as_str().to_uppercase(),
                    f.rule
                ),
                severity_style(Some(f.severity)),
            ),
            Span::raw(format!("  at {}", clock(f.ts))),
        ]));
        out.push(Line::raw(format!("    {}", f.summary)));
        out.push(Line::styled(
            format!("    fix: {}", f.fix),
            Style::default().add_modifier(Modifier::ITALIC),
        ));
    }
    out
}
