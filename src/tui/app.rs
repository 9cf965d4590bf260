//! The TUI's state: what the engine reported, and what the user chose to look at.
//!
//! Records go in with [`App::apply`] (and open connections with [`App::apply_snapshot`]);
//! key presses go in as [`Action`]s with [`App::on_action`]. Nothing here reads a clock or
//! the terminal, so a screen is a pure function of an `App` (see [`super::view`]).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;

use crate::event::{ConnectionRecord, Finding, Record, SessionId, SessionRecord, Severity};

/// Most lines kept in the event pane.
pub const MAX_EVENTS: usize = 1000;
/// Most connections kept; beyond it the oldest closed one is forgotten.
pub const MAX_CONNECTIONS: usize = 5000;
/// Most findings kept per connection (rules fire once per connection or session, so this
/// only bounds pathological input).
const MAX_FINDINGS_PER_CONN: usize = 256;

/// A connection: (client, server) addresses.
pub type ConnKey = (SocketAddr, SocketAddr);

/// One table row: a session, or a connection that has none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RowKey {
    pub conn: ConnKey,
    pub session: Option<SessionId>,
}

/// What the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    /// Enter: open the detail view, close it, or apply the filter being typed.
    Enter,
    /// Esc: leave the detail view or help, or clear the filter.
    Back,
    StartFilter,
    FilterChar(char),
    FilterBackspace,
    CycleSort,
    ToggleInsecure,
    TogglePause,
    ToggleHelp,
    Quit,
}

/// What the screen shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Table,
    /// The detail view of the selected row, scrolled down this many lines.
    Detail {
        scroll: u16,
    },
    /// Typing a filter (shown in the footer).
    Filter,
    Help,
}

/// Row order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    /// Worst finding first.
    #[default]
    Severity,
    Client,
    Server,
    User,
}

impl Sort {
    pub fn label(self) -> &'static str {
        match self {
            Sort::Severity => "severity",
            Sort::Client => "client",
            Sort::Server => "server",
            Sort::User => "user",
        }
    }

    fn next(self) -> Sort {
        match self {
            Sort::Severity => Sort::Client,
            Sort::Client => Sort::Server,
            Sort::Server => Sort::User,
            Sort::User => Sort::Severity,
        }
    }
}

/// Capture counters, as the loop last measured them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Stats {
    pub packets: u64,
    pub bytes: u64,
    pub packet_rate: f64,
    pub byte_rate: f64,
    pub kernel_drops: u64,
    pub queue_drops: u64,
    /// The replay reached its end (or the live capture stopped).
    pub finished: bool,
}

/// A connection and its sessions.
#[derive(Debug, Clone)]
pub struct ConnEntry {
    pub record: ConnectionRecord,
    pub sessions: BTreeMap<SessionId, SessionRecord>,
    /// Order of first appearance (eviction picks the oldest closed one).
    seq: u64,
}

impl ConnEntry {
    /// The engine saw the connection end (FIN, RST, idle, evicted); not at end of input.
    pub fn closed(&self) -> bool {
        !matches!(self.record.close, "open" | "end_of_input")
    }
}

/// One line of the event pane.
#[derive(Debug, Clone)]
pub struct EventLine {
    pub ts: f64,
    pub severity: Option<Severity>,
    /// Rule id, or the QUIC event's kind.
    pub what: String,
    pub event_id: Option<u32>,
    pub text: String,
}

/// Everything the engine reported.
#[derive(Debug, Clone, Default)]
pub struct Data {
    pub conns: HashMap<ConnKey, ConnEntry>,
    pub findings: HashMap<ConnKey, Vec<Finding>>,
    /// Newest last.
    pub events: VecDeque<EventLine>,
    next_seq: u64,
}

/// The whole TUI state.
#[derive(Debug, Clone)]
pub struct App {
    /// "interface lo", "file captures/mixed.pcap".
    pub source: String,
    pub stats: Stats,
    /// What is shown. While paused it stays frozen and records go to `behind`.
    pub data: Data,
    behind: Option<Data>,
    pub mode: Mode,
    pub selected: Option<RowKey>,
    pub filter: String,
    pub filter_input: String,
    pub sort: Sort,
    pub insecure_only: bool,
    pub quit: bool,
}

impl App {
    pub fn new(source: impl Into<String>) -> App {
        App {
            source: source.into(),
            stats: Stats::default(),
            data: Data::default(),
            behind: None,
            mode: Mode::Table,
            selected: None,
            filter: String::new(),
            filter_input: String::new(),
            sort: Sort::default(),
            insecure_only: false,
            quit: false,
        }
    }

    /// An app holding every record of a finished run (tests, replays).
    pub fn from_records(source: &str, records: impl IntoIterator<Item = Record>) -> App {
        let mut app = App::new(source);
        for r in records {
            app.apply(r);
        }
        app
    }

    pub fn paused(&self) -> bool {
        self.behind.is_some()
    }

    /// Takes one record from the engine.
    pub fn apply(&mut self, r: Record) {
        self.target().apply(r);
    }

    /// Takes the engine's picture of the open connections.
    pub fn apply_snapshot(&mut self, open: Vec<(ConnectionRecord, Vec<SessionRecord>)>) {
        let data = self.target();
        for (c, sessions) in open {
            data.upsert_conn(c);
            for s in sessions {
                data.upsert_session(s);
            }
        }
    }

    /// The visible rows, filtered and sorted.
    pub fn rows(&self) -> Vec<RowKey> {
        let d = &self.data;
        let needle = self.filter.to_lowercase();
        let mut rows: Vec<(RowKey, Option<Severity>)> = Vec::new();
        for (key, c) in &d.conns {
            let mut push = |session: Option<SessionId>| {
                let row = RowKey {
                    conn: *key,
                    session,
                };
                let worst = self.worst(row);
                if self.insecure_only && worst.is_none_or(|s| s < Severity::Medium) {
                    return;
                }
                if !needle.is_empty() && !self.matches(row, &needle) {
                    return;
                }
                rows.push((row, worst));
            };
            if c.sessions.is_empty() {
                push(None);
            }
            for id in c.sessions.keys() {
                push(Some(*id));
            }
        }
        let user = |r: &RowKey| self.session(*r).and_then(|s| s.user.clone());
        let server = |r: &RowKey| {
            let name = d
                .conns
                .get(&r.conn)
                .and_then(|c| c.record.server_name.clone());
            (name, r.conn.1)
        };
        match self.sort {
            Sort::Severity => rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0))),
            Sort::Client => rows.sort_by_key(|r| r.0),
            Sort::Server => rows.sort_by(|a, b| {
                server(&a.0)
                    .cmp(&server(&b.0))
                    .then(a.0.conn.0.cmp(&b.0.conn.0))
                    .then(a.0.session.cmp(&b.0.session))
            }),
            Sort::User => rows.sort_by(|a, b| user(&a.0).cmp(&user(&b.0)).then(a.0.cmp(&b.0))),
        }
        rows.into_iter().map(|(r, _)| r).collect()
    }

    /// The selected row's index in `rows` (the first row when the selection is not visible).
    pub fn selected_index(&self, rows: &[RowKey]) -> Option<usize> {
        if rows.is_empty() {
            return None;
        }
        Some(
            self.selected
                .and_then(|s| rows.iter().position(|r| *r == s))
                .unwrap_or(0),
        )
    }

    pub fn conn(&self, row: RowKey) -> Option<&ConnEntry> {
        self.data.conns.get(&row.conn)
    }

    pub fn session(&self, row: RowKey) -> Option<&SessionRecord> {
        self.conn(row)?.sessions.get(&row.session?)
    }

    /// The findings of a row: its session's, and its connection's (those without a session).
    pub fn findings(&self, row: RowKey) -> impl Iterator<Item = &Finding> {
        self.data
            .findings
            .get(&row.conn)
            .into_iter()
            .flatten()
            .filter(move |f| f.session_id.is_none() || f.session_id == row.session)
    }

    /// The event lines shown (newest last): all, or those matching the filter.
    pub fn events(&self) -> impl DoubleEndedIterator<Item = &EventLine> {
        let needle = self.filter.to_lowercase();
        self.data.events.iter().filter(move |e| {
            needle.is_empty()
                || e.what.to_lowercase().contains(&needle)
                || e.text.to_lowercase().contains(&needle)
                || e.event_id.is_some_and(|i| i.to_string() == needle)
        })
    }

    /// The worst severity among a row's findings.
    pub fn worst(&self, row: RowKey) -> Option<Severity> {
        self.findings(row).map(|f| f.severity).max()
    }

    /// Reacts to a key.
    pub fn on_action(&mut self, a: Action) {
        if a == Action::Quit {
            self.quit = true;
            return;
        }
        match self.mode {
            Mode::Filter => self.on_filter_action(a),
            Mode::Help => {
                if matches!(a, Action::Back | Action::Enter | Action::ToggleHelp) {
                    self.mode = Mode::Table;
                }
            }
            Mode::Detail { scroll } => match a {
                Action::Back | Action::Enter => self.mode = Mode::Table,
                Action::Down => self.mode = Mode::Detail { scroll: scroll + 1 },
                Action::Up => {
                    self.mode = Mode::Detail {
                        scroll: scroll.saturating_sub(1),
                    }
                }
                Action::PageDown => {
                    self.mode = Mode::Detail {
                        scroll: scroll + 10,
                    }
                }
                Action::PageUp => {
                    self.mode = Mode::Detail {
                        scroll: scroll.saturating_sub(10),
                    }
                }
                Action::Top => self.mode = Mode::Detail { scroll: 0 },
                Action::TogglePause => self.toggle_pause(),
                Action::ToggleHelp => self.mode = Mode::Help,
                _ => {}
            },
            Mode::Table => match a {
                Action::Up => self.move_by(-1),
                Action::Down => self.move_by(1),
                Action::PageUp => self.move_by(-10),
                Action::PageDown => self.move_by(10),
                Action::Top => self.move_by(isize::MIN / 2),
                Action::Bottom => self.move_by(isize::MAX / 2),
                Action::Enter => {
                    let rows = self.rows();
                    if let Some(i) = self.selected_index(&rows) {
                        self.selected = Some(rows[i]);
                        self.mode = Mode::Detail { scroll: 0 };
                    }
                }
                Action::Back => self.filter.clear(),
                Action::StartFilter => {
                    self.filter_input = self.filter.clone();
                    self.mode = Mode::Filter;
                }
                Action::CycleSort => self.sort = self.sort.next(),
                Action::ToggleInsecure => self.insecure_only = !self.insecure_only,
                Action::TogglePause => self.toggle_pause(),
                Action::ToggleHelp => self.mode = Mode::Help,
                _ => {}
            },
        }
    }

    fn on_filter_action(&mut self, a: Action) {
        match a {
            Action::FilterChar(c) => self.filter_input.push(c),
            Action::FilterBackspace => {
                self.filter_input.pop();
            }
            Action::Enter => {
                self.filter = self.filter_input.trim().to_string();
                self.mode = Mode::Table;
            }
            Action::Back => {
                self.filter.clear();
                self.filter_input.clear();
                self.mode = Mode::Table;
            }
            _ => {}
        }
    }

    /// Pausing freezes the view; records keep arriving into a copy that is shown on resume.
    fn toggle_pause(&mut self) {
        match self.behind.take() {
            Some(d) => self.data = d,
            None => self.behind = Some(self.data.clone()),
        }
    }

    fn move_by(&mut self, delta: isize) {
        let rows = self.rows();
        let Some(i) = self.selected_index(&rows) else {
            return;
        };
        let last = rows.len() as isize - 1;
        let j = (i as isize).saturating_add(delta).clamp(0, last) as usize;
        self.selected = Some(rows[j]);
    }

    fn matches(&self, row: RowKey, needle: &str) -> bool {
        let has = |s: &str| s.to_lowercase().contains(needle);
        let conn = self.conn(row);
        let server = conn.is_some_and(|c| {
            has(&c.record.server.to_string()) || c.record.server_name.as_deref().is_some_and(has)
        });
        let user = self.session(row).is_some_and(|s| {
            s.user.as_deref().is_some_and(has) || s.domain.as_deref().is_some_and(has)
        });
        server
            || user
            || self
                .findings(row)
                .any(|f| has(f.rule) || f.event_id.is_some_and(|i| i.to_string() == needle))
    }

    fn target(&mut self) -> &mut Data {
        match &mut self.behind {
            Some(d) => d,
            None => &mut self.data,
        }
    }
}

impl Data {
    fn apply(&mut self, r: Record) {
        match r {
            Record::Connection(c) => self.upsert_conn(c),
            Record::Session(s) => self.upsert_session(s),
            Record::Finding(f) => {
                self.push_event(EventLine {
                    ts: f.ts,
                    severity: Some(f.severity),
                    what: f.rule.to_string(),
                    event_id: f.event_id,
                    text: format!("{} {}", f.client, f.summary),
                });
                let list = self.findings.entry((f.client, f.server)).or_default();
                if list.len() < MAX_FINDINGS_PER_CONN {
                    list.push(f);
                }
            }
            Record::Event(e) | Record::Quic(e) => {
                let server = e
                    .server_name
                    .clone()
                    .unwrap_or(e.server_address.to_string());
                self.push_event(EventLine {
                    ts: e.ts,
                    severity: None,
                    what: format!("quic/{}", e.transport),
                    event_id: e.event_id,
                    text: format!("{} {} -> {server}", e.message, e.client_address),
                });
            }
            // Anomalies are in the summary counts of the other outputs; the pane is for
            // posture.
            _ => {}
        }
    }

    fn push_event(&mut self, e: EventLine) {
        if self.events.len() >= MAX_EVENTS {
            self.events.pop_front();
        }
        self.events.push_back(e);
    }

    fn upsert_conn(&mut self, c: ConnectionRecord) {
        let key = (c.client, c.server);
        if let Some(e) = self.conns.get_mut(&key) {
            e.record = c;
            return;
        }
        if self.conns.len() >= MAX_CONNECTIONS {
            self.evict_one();
        }
        self.next_seq += 1;
        self.conns.insert(
            key,
            ConnEntry {
                record: c,
                sessions: BTreeMap::new(),
                seq: self.next_seq,
            },
        );
    }

    fn upsert_session(&mut self, s: SessionRecord) {
        // A session record follows its connection's (or arrives in the same snapshot).
        if let Some(e) = self.conns.get_mut(&(s.client, s.server)) {
            e.sessions.insert(s.session_id, s);
        }
    }

    /// Forgets the oldest closed connection, or the oldest one when none is closed.
    fn evict_one(&mut self) {
        let victim = self
            .conns
            .iter()
            .min_by_key(|(_, e)| (!e.closed(), e.seq))
            .map(|(k, _)| *k);
        if let Some(k) = victim {
            self.conns.remove(&k);
            self.findings.remove(&k);
        }
    }
}
