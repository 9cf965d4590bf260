//! Drawing: a screen is a function of the [`App`] only; nothing here changes state.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Clear, Paragraph, Row, Table, TableState, Wrap};

use super::app::{App, Mode, RowKey};
use super::detail;
use crate::event::{Finding, SessionRecord, Severity};

/// Width from which the table shows every column in full.
const WIDE: u16 = 116;

/// Draws the whole screen.
pub fn draw(app: &App, f: &mut Frame) {
    let area = f.area();
    let [header, body, footer] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_header(app, f, header);
    match app.mode {
        Mode::Detail { scroll } => detail::draw(app, f, body, scroll),
        _ => {
            let events_h = (body.height / 3).clamp(3, 12);
            let [table, events] =
                Layout::vertical([Constraint::Min(3), Constraint::Length(events_h)]).areas(body);
            draw_table(app, f, table);
            draw_events(app, f, events);
        }
    }
    draw_footer(app, f, footer);
    if app.mode == Mode::Help {
        draw_help(f, area);
    }
}

/// Colour of a severity.
pub fn severity_style(s: Option<Severity>) -> Style {
    match s {
        Some(Severity::High) => Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
        Some(Severity::Medium) => Style::default().fg(Color::Yellow),
        Some(Severity::Low) => Style::default().fg(Color::Cyan),
        _ => Style::default(),
    }
}

/// The table column a rule's finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    Server,
    Dialect,
    Signing,
    Encryption,
    Auth,
    Guest,
}

/// Which column a rule colours (`None`: only the row's marker).
pub fn rule_column(rule: &str) -> Option<Column> {
    Some(match rule {
        "smb1" | "dialect.legacy" => Column::Dialect,
        "signing.not_required"
        | "session.unsigned"
        | "signature.invalid"
        | "signature.missing"
        | "signature.invalid_status" => Column::Signing,
        "session.unencrypted"
        | "encryption.refused"
        | "unencrypted.when.required"
        | "decrypt.failed" => Column::Encryption,
        "ntlmv1" | "anonymous" | "auth.by_ip" | "auth.ntlm_fallback" | "kerberos.rc4"
        | "logon.failed" => Column::Auth,
        "guest" => Column::Guest,
        r if r.starts_with("quic.") || r == "tcp445.exposed" => Column::Server,
        _ => return None,
    })
}

fn column_style(findings: &[&Finding], col: Column) -> Style {
    let worst = findings
        .iter()
        .filter(|f| rule_column(f.rule) == Some(col))
        .map(|f| f.severity)
        .max();
    severity_style(worst)
}

fn draw_header(app: &App, f: &mut Frame, area: Rect) {
    let s = &app.stats;
    let mut top = vec![
        Span::styled(
            " smbscope ",
            Style::default().add_modifier(Modifier::REVERSED),
        ),
        Span::raw(format!(" {}", app.source)),
    ];
    if s.finished {
        top.push(Span::styled("  [end]", Style::default().fg(Color::Green)));
    }
    if app.paused() {
        top.push(Span::styled(
            "  PAUSED",
            Style::default()
                .fg(Color::Black)
                .bg(Color::Yellow)
                .add_modifier(Modifier::BOLD),
        ));
    }
    let drops = s.kernel_drops + s.queue_drops;
    let drop_style = if drops > 0 {
        Style::default().fg(Color::Red)
    } else {
        Style::default()
    };
    let sessions: usize = app.data.conns.values().map(|c| c.sessions.len()).sum();
    let second = vec![
        Span::raw(format!(
            " pkts {} ({}/s)  bytes {} ({}/s)  ",
            s.packets,
            human(s.packet_rate),
            human(s.bytes as f64),
            human(s.byte_rate)
        )),
        Span::styled(
            format!("drops k{} q{}", s.kernel_drops, s.queue_drops),
            drop_style,
        ),
        Span::raw(format!(
            "  conns {} sess {}",
            app.data.conns.len(),
            sessions
        )),
    ];
    f.render_widget(
        Paragraph::new(vec![Line::from(top), Line::from(second)]),
        area,
    );
}

fn draw_table(app: &App, f: &mut Frame, area: Rect) {
    let rows = app.rows();
    let wide = area.width >= WIDE;
    let mut title = format!(" Sessions {} | sort: {} ", rows.len(), app.sort.label());
    if !app.filter.is_empty() {
        title.push_str(&format!("| filter: {} ", app.filter));
    }
    if app.insecure_only {
        title.push_str("| insecure only ");
    }
    let header: [&str; 10] = if wide {
        [
            "",
            "Client",
            "Server",
            "T",
            "Dialect",
            "Sign C/S",
            "Encryption",
            "Auth",
            "Guest",
            "User",
        ]
    } else {
        [
            "", "Client", "Server", "T", "Dial", "Sign C/S", "Encrypt", "Auth", "Gst", "User",
        ]
    };
    let widths = if wide {
        [
            Constraint::Length(1),
            Constraint::Length(21),
            Constraint::Length(18),
            Constraint::Length(4),
            Constraint::Length(7),
            Constraint::Length(13),
            Constraint::Length(19),
            Constraint::Length(9),
            Constraint::Length(5),
            Constraint::Min(10),
        ]
    } else {
        [
            Constraint::Length(1),
            Constraint::Length(15),
            Constraint::Length(8),
            Constraint::Length(4),
            Constraint::Length(5),
            Constraint::Length(9),
            Constraint::Length(10),
            Constraint::Length(6),
            Constraint::Length(3),
            Constraint::Min(8),
        ]
    };
    let body: Vec<Row> = rows.iter().map(|r| table_row(app, *r, wide)).collect();
    let table = Table::new(body, widths)
        .header(Row::new(header).style(Style::default().add_modifier(Modifier::BOLD)))
        .column_spacing(1)
        .block(Block::default().borders(Borders::ALL).title(title))
        .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED));
    let mut state = TableState::default().with_selected(app.selected_index(&rows));
    // The state is a throw-away copy: scrolling follows the selection on every draw.
    f.render_stateful_widget(table, area, &mut state);
}

fn table_row(app: &App, key: RowKey, wide: bool) -> Row<'static> {
    let Some(conn) = app.conn(key) else {
        return Row::new(Vec::<Cell>::new());
    };
    let c = &conn.record;
    let s = app.session(key);
    let findings: Vec<&Finding> = app.findings(key).collect();
    let worst = findings.iter().map(|f| f.severity).max();
    let marker = match worst {
        Some(Severity::High) => "!",
        Some(Severity::Medium) => "*",
        Some(Severity::Low) => "-",
        _ => " ",
    };
    let client = if wide {
        c.client.to_string()
    } else {
        compact_addr(&c.client.to_string())
    };
    let server = match (&c.server_name, wide) {
        (Some(n), true) => format!("{} ({n})", c.server),
        (Some(n), false) => n.clone(),
        (None, true) => c.server.to_string(),
        (None, false) => c.server.ip().to_string(),
    };
    let transport = if c.transport == "quic" { "QUIC" } else { "TCP" };
    let dialect = c.dialect.clone().unwrap_or_else(|| "?".into());
    let yn = |b: bool| if b { "y" } else { "n" };
    let mut signing = format!(
        "{}/{}",
        yn(c.client_signing_required || s.is_some_and(|s| s.client_signing_required)),
        yn(c.server_signing_required)
    );
    if let Some(s) = s {
        signing.push_str(&format!(" {}/{}", s.messages.signed, s.messages.unsigned));
        let sig = s.signatures;
        if sig.valid + sig.invalid > 0 {
            signing.push_str(&format!(" v{} x{}", sig.valid, sig.invalid));
        }
    }
    let encryption = encryption_cell(c.cipher, s, wide);
    let auth = match s.map(|s| s.auth) {
        None => "-",
        Some("kerberos") if !wide => "krb5",
        Some("anonymous") if !wide => "anon",
        Some("unknown") if !wide => "?",
        Some(a) => a,
    };
    let guest = match s {
        Some(s) if s.guest => "yes",
        Some(s) if s.anonymous && wide => "anon",
        Some(s) if s.anonymous => "ano",
        Some(_) => "no",
        None => "-",
    };
    let user = s.map_or(String::new(), |s| match (&s.domain, &s.user) {
        (_, None) => String::from("-"),
        (_, Some(u)) if u.is_empty() => String::from("(empty)"),
        (_, Some(u)) => u.clone(),
    });
    let user = if s.is_some_and(|s| s.state == "failed") {
        format!("{user} (failed)")
    } else {
        user
    };
    let cells = vec![
        Cell::from(marker).style(severity_style(worst)),
        Cell::from(client),
        Cell::from(server).style(column_style(&findings, Column::Server)),
        Cell::from(transport),
        Cell::from(dialect).style(column_style(&findings, Column::Dialect)),
        Cell::from(signing).style(column_style(&findings, Column::Signing)),
        Cell::from(encryption).style(column_style(&findings, Column::Encryption)),
        Cell::from(auth).style(column_style(&findings, Column::Auth)),
        Cell::from(guest).style(column_style(&findings, Column::Guest)),
        Cell::from(user),
    ];
    let row = Row::new(cells);
    if conn.closed() {
        row.style(Style::default().add_modifier(Modifier::DIM))
    } else {
        row
    }
}

/// "session AES-128-GCM" (wide) / "shr GCM128" (narrow) / "none".
fn encryption_cell(cipher: Option<&str>, s: Option<&SessionRecord>, wide: bool) -> String {
    let Some(s) = s else {
        return "-".into();
    };
    let scope = if s.encrypt_data {
        "session"
    } else if s.trees.iter().any(|t| t.encrypt_data) {
        "share"
    } else if s.messages.encrypted > 0 {
        "client"
    } else {
        return "none".into();
    };
    let cipher = cipher.unwrap_or("?");
    if wide {
        format!("{scope} {cipher}")
    } else {
        // "AES-128-GCM" -> "GCM128".
        let mut parts = cipher.split('-').skip(1);
        let short = match (parts.next(), parts.next()) {
            (Some(bits), Some(mode)) => format!("{mode}{bits}"),
            _ => cipher.to_string(),
        };
        let scope = match scope {
            "session" => "ses",
            "share" => "shr",
            _ => "cli",
        };
        format!("{scope} {short}")
    }
}

/// Drops the port of an IPv6 address that would not fit.
fn compact_addr(a: &str) -> String {
    if a.len() <= 15 {
        a.to_string()
    } else {
        a.rsplit_once(':').map_or(a, |(h, _)| h).to_string()
    }
}

fn draw_events(app: &App, f: &mut Frame, area: Rect) {
    let lines: Vec<Line> = app
        .events()
        .rev()
        .take(area.height.saturating_sub(2) as usize)
        .map(|e| {
            let sev = e.severity.map_or("event", |s| s.as_str());
            let id = e.event_id.map(|i| format!(" [{i}]")).unwrap_or_default();
            Line::from(vec![
                Span::raw(format!("{} ", clock(e.ts))),
                Span::styled(
                    format!("{sev:<6} {}{id}", e.what),
                    severity_style(e.severity).fg(match e.severity {
                        None => Color::Magenta,
                        Some(Severity::Info) => Color::Gray,
                        _ => severity_style(e.severity).fg.unwrap_or(Color::Reset),
                    }),
                ),
                Span::raw(format!(" {}", e.text)),
            ])
        })
        .collect();
    let title = format!(" Events {} (newest first) ", app.data.events.len());
    f.render_widget(
        Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(title)),
        area,
    );
}

fn draw_footer(app: &App, f: &mut Frame, area: Rect) {
    let key = Style::default().add_modifier(Modifier::REVERSED);
    let line = match app.mode {
        Mode::Filter => Line::from(vec![
            Span::styled(" filter ", key),
            Span::raw(format!(" /{}", app.filter_input)),
            Span::styled("_", Style::default().add_modifier(Modifier::SLOW_BLINK)),
            Span::raw("   Enter apply  Esc clear"),
        ]),
        Mode::Detail { .. } => help_line(&[("Esc", "back"), ("j/k", "scroll"), ("q", "quit")]),
        _ => help_line(&[
            ("j/k", "move"),
            ("Enter", "detail"),
            ("/", "filter"),
            ("s", "sort"),
            ("f", "insecure"),
            ("p", "pause"),
            ("?", "help"),
            ("q", "quit"),
        ]),
    };
    f.render_widget(Paragraph::new(line), area);
}

fn help_line(keys: &[(&str, &str)]) -> Line<'static> {
    let mut spans = vec![Span::raw(" ")];
    for (k, what) in keys {
        spans.push(Span::styled(
            k.to_string(),
            Style::default().add_modifier(Modifier::REVERSED),
        ));
        spans.push(Span::raw(format!(" {what}  ")));
    }
    Line::from(spans)
}

const HELP: &[(&str, &str)] = &[
    ("Up/Down, j/k", "move the selection (PgUp/PgDn, g/G)"),
    ("Enter", "detail of the session (Enter/Esc back)"),
    (
        "/",
        "filter by server, user or rule; Enter applies, Esc clears",
    ),
    ("s", "sort: severity, client, server, user"),
    ("f", "only insecure sessions (a medium or high finding)"),
    ("p", "pause the view (analysis goes on)"),
    ("?", "this help (Esc closes)"),
    ("q, Ctrl-C", "quit"),
];

fn draw_help(f: &mut Frame, area: Rect) {
    let w = area.width.min(72);
    let h = (HELP.len() as u16 + 7).min(area.height);
    let popup = Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    };
    let mut lines: Vec<Line> = HELP
        .iter()
        .map(|(k, v)| {
            Line::from(vec![
                Span::styled(
                    format!("{k:>13} "),
                    Style::default().add_modifier(Modifier::BOLD),
                ),
                Span::raw(*v),
            ])
        })
        .collect();
    lines.push(Line::raw(""));
    lines.push(Line::from(vec![
        Span::styled("high", severity_style(Some(Severity::High))),
        Span::raw(" / "),
        Span::styled("medium", severity_style(Some(Severity::Medium))),
        Span::raw(" / "),
        Span::styled("low", severity_style(Some(Severity::Low))),
        Span::raw(": worst finding on the cell; dim rows: closed"),
    ]));
    lines.push(Line::raw(
        "Sign C/S: required by client/server, signed/unsigned",
    ));
    f.render_widget(Clear, popup);
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::default().borders(Borders::ALL).title(" Help ")),
        popup,
    );
}

/// Capture time as UTC time of day.
pub fn clock(ts: f64) -> String {
    let secs = if ts.is_finite() && ts > 0.0 {
        ts as u64
    } else {
        0
    };
    let d = secs % 86_400;
    format!("{:02}:{:02}:{:02}", d / 3600, d / 60 % 60, d % 60)
}

/// 1234567 -> "1.2M".
pub fn human(v: f64) -> String {
    let v = if v.is_finite() { v.max(0.0) } else { 0.0 };
    if v >= 1e9 {
        format!("{:.1}G", v / 1e9)
    } else if v >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if v >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}
