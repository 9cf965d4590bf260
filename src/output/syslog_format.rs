//! Syslog message formatting: RFC 5424 and RFC 3164 lines, timestamps, escaping, framing.
//!
//! Everything that comes from the wire (user and server names, summaries that quote them) is
//! cleaned here: control characters become spaces, so no record can forge a second syslog line,
//! and each field is capped so a message stays small.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use super::{Facility, SD_ID, SyslogFormat};
use crate::event::{AnomalyRecord, Finding};

/// Longest user or server name, anomaly detail or other free-text parameter, in bytes.
const MAX_PARAM: usize = 256;
/// Longest MSG text, in bytes.
const MAX_TEXT: usize = 1024;

/// Builds the syslog messages (without transport framing) of one sink.
#[derive(Debug, Clone)]
pub(crate) struct Formatter {
    pub(crate) format: SyslogFormat,
    pub(crate) facility: Facility,
    /// Already cleaned: printable ASCII, at most 255 bytes, `-` when unknown.
    hostname: String,
    /// Already cleaned: printable ASCII, at most 48 bytes.
    app_name: String,
    procid: u32,
}

/// Parameters of one message, in order: name and (uncleaned) value.
type Params = Vec<(&'static str, String)>;

impl Formatter {
    pub(crate) fn new(
        format: SyslogFormat,
        facility: Facility,
        hostname: &str,
        app_name: &str,
        procid: u32,
    ) -> Self {
        let app_name = match format {
            // RFC 3164 §4.1.3: the TAG is at most 32 characters; `[` and `:` end it.
            SyslogFormat::Rfc3164 => token(app_name, 32, "[]:"),
            SyslogFormat::Rfc5424 => token(app_name, 48, ""),
        };
        Formatter {
            format,
            facility,
            hostname: token(hostname, 255, ""),
            app_name,
            procid,
        }
    }

    /// A finding, at the severity [`super::severity_code`] maps it to, stamped with its capture
    /// time, MSGID the rule id.
    pub(crate) fn finding(&self, f: &Finding) -> Vec<u8> {
        let mut p: Params = vec![
            ("rule", f.rule.to_string()),
            ("severity", f.severity.as_str().to_string()),
        ];
        if let Some(id) = f.event_id {
            p.push(("event_id", id.to_string()));
        }
        p.push(("client", f.client.to_string()));
        p.push(("server", f.server.to_string()));
        if let Some(s) = f.session_id {
            p.push(("session_id", s.to_string()));
        }
        let optional = [
            ("user", f.user.as_deref()),
            ("server_name", f.server_name.as_deref()),
            ("side", f.side),
            ("mandate", f.mandate),
        ];
        for (name, value) in optional {
            if let Some(v) = value {
                p.push((name, v.to_string()));
            }
        }
        let sev = super::severity_code(f.severity);
        self.message(sev, Some(f.ts), f.rule, &p, &f.summary)
    }

    /// An anomaly, as a warning with MSGID `anomaly`.
    pub(crate) fn anomaly(&self, a: &AnomalyRecord) -> Vec<u8> {
        let mut p: Params = vec![
            ("anomaly", a.kind.to_string()),
            ("client", a.client.to_string()),
            ("server", a.server.to_string()),
        ];
        if a.bytes > 0 {
            p.push(("bytes", a.bytes.to_string()));
        }
        let text = format!("anomaly {}: {}", a.kind, a.detail);
        self.message(super::WARNING, Some(a.ts), "anomaly", &p, &text)
    }

    /// An informational message with MSGID `summary`, stamped with the wall clock.
    pub(crate) fn summary(&self, text: &str, p: &[(&'static str, String)]) -> Vec<u8> {
        self.message(super::INFO, None, "summary", p, text)
    }

    /// One message. `ts` is capture time in seconds since the epoch; `None`, or a time that
    /// cannot be shown, takes the wall clock.
    pub(crate) fn message(
        &self,
        severity: u8,
        ts: Option<f64>,
        msgid: &str,
        params: &[(&'static str, String)],
        text: &str,
    ) -> Vec<u8> {
        let pri = self.facility.pri(severity);
        let time = ts.and_then(civil).or_else(|| civil(wall_clock()));
        let text = clean(text, MAX_TEXT);
        let mut out = String::with_capacity(256 + text.len());
        match self.format {
            SyslogFormat::Rfc5424 => {
                let stamp = time.map(|t| t.rfc3339()).unwrap_or_else(|| "-".into());
                let _ = write!(
                    out,
                    "<{pri}>1 {stamp} {} {} {} {} ",
                    self.hostname,
                    self.app_name,
                    self.procid,
                    token(msgid, 32, "")
                );
                structured_data(&mut out, params);
                if !text.is_empty() {
                    out.push(' ');
                    out.push_str(&text);
                }
            }
            SyslogFormat::Rfc3164 => {
                let stamp = time
                    .map(|t| t.rfc3164())
                    .unwrap_or_else(|| "Jan  1 00:00:00".into());
                let _ = write!(
                    out,
                    "<{pri}>{stamp} {} {}[{}]:",
                    self.hostname, self.app_name, self.procid
                );
                for (name, value) in params {
                    out.push(' ');
                    key_value(&mut out, name, &clean(value, MAX_PARAM));
                }
                if params.is_empty() {
                    out.push(' ');
                    out.push_str(&text);
                } else if !text.is_empty() {
                    out.push(' ');
                    key_value(&mut out, "msg", &text);
                }
            }
        }
        out.into_bytes()
    }
}

/// RFC 6587 §3.4.1 octet-counting: `MSG-LEN SP SYSLOG-MSG`.
pub(crate) fn octet_counted(msg: &[u8]) -> Vec<u8> {
    let len = msg.len().to_string();
    let mut out = Vec::with_capacity(len.len() + 1 + msg.len());
    out.extend_from_slice(len.as_bytes());
    out.push(b' ');
    out.extend_from_slice(msg);
    out
}

/// RFC 6587 §3.4.2 non-transparent framing: the message then LF (our messages hold none).
pub(crate) fn newline_terminated(msg: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(msg.len() + 1);
    out.extend_from_slice(msg);
    out.push(b'\n');
    out
}

/// `[smbscope@32473 name="value" ...]`, or `-` without parameters (RFC 5424 §6.3).
pub(crate) fn structured_data(out: &mut String, params: &[(&'static str, String)]) {
    if params.is_empty() {
        out.push('-');
        return;
    }
    out.push('[');
    out.push_str(SD_ID);
    for (name, value) in params {
        out.push(' ');
        out.push_str(name);
        out.push_str("=\"");
        sd_escape(out, &clean(value, MAX_PARAM));
        out.push('"');
    }
    out.push(']');
}

/// RFC 5424 §6.3.3: `"`, `\` and `]` in a PARAM-VALUE are escaped with a backslash.
pub(crate) fn sd_escape(out: &mut String, value: &str) {
    for c in value.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
}

/// `name=value`, the value quoted (with `\` escapes) when it is empty or holds a space, `"`,
/// `\` or `=`.
fn key_value(out: &mut String, name: &str, value: &str) {
    out.push_str(name);
    out.push('=');
    let plain = !value.is_empty() && !value.chars().any(|c| matches!(c, ' ' | '"' | '\\' | '='));
    if plain {
        out.push_str(value);
        return;
    }
    out.push('"');
    for c in value.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

/// Control characters (line breaks included) become spaces; at most `max` bytes, cut at a
/// character boundary.
pub(crate) fn clean(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max));
    for c in s.chars() {
        let c = if c.is_control() { ' ' } else { c };
        if out.len() + c.len_utf8() > max {
            break;
        }
        out.push(c);
    }
    out
}

/// A header token: printable US-ASCII without space (nor any character of `also`), at most `max` bytes;
/// others become `_`; empty becomes `-` (the NILVALUE).
pub(crate) fn token(s: &str, max: usize, also: &str) -> String {
    let t: String = s
        .chars()
        .take(max)
        .map(|c| {
            if c.is_ascii_graphic() && !also.contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if t.is_empty() { "-".into() } else { t }
}

/// Seconds since the epoch, now.
pub(crate) fn wall_clock() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// A UTC calendar time with microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    micros: u32,
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

impl Civil {
    /// `2026-11-22T15:04:05.123456Z`.
    pub(crate) fn rfc3339(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
            self.year, self.month, self.day, self.hour, self.minute, self.second, self.micros
        )
    }

    /// `Nov 22 15:04:05` (day padded with a space: `Nov  2`); UTC.
    pub(crate) fn rfc3164(&self) -> String {
        let month = MONTHS
            .get(self.month.saturating_sub(1) as usize)
            .copied()
            .unwrap_or("Jan");
        format!(
            "{month} {:>2} {:02}:{:02}:{:02}",
            self.day, self.hour, self.minute, self.second
        )
    }
}

/// The UTC calendar time of `ts` seconds since the epoch, rounded to the microsecond; `None`
/// before 1970, from year 10000 on, or for a non-finite time.
pub(crate) fn civil(ts: f64) -> Option<Civil> {
    // 253402300800 = 10000-01-01T00:00:00Z.
    if !ts.is_finite() || !(0.0..253_402_300_800.0).contains(&ts) {
        return None;
    }
    // In range, so the product fits an i64 (< 2.6e17).
    let micros_total = (ts * 1e6).round() as i64;
    let secs = micros_total.div_euclid(1_000_000);
    let micros = micros_total.rem_euclid(1_000_000) as u32;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400) as u32;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    if year > 9999 {
        return None;
    }
    Some(Civil {
        year,
        month,
        day,
        hour: sod / 3600,
        minute: sod / 60 % 60,
        second: sod % 60,
        micros,
    })
}
