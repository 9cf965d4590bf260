//! Samba's `debug encryption = yes` key dump, and the Linux kernel's `%*ph` variant of it.
//!
//! Samba prints each value with `dump_data()` (lib/util/util.c `dump_data_block16`): the
//! offset as `[%04X]`, then 16 slots of `" %02X"` or three blanks with two extra blanks
//! before the ninth, then three blanks and the ASCII column. That fixed layout is read
//! first; a line whose blanks were changed on the way (a log shipper, a mail client) is read
//! as whitespace-separated pairs of hex digits up to the first wide gap.

use zeroize::Zeroizing;

use super::{Fail, KeyKind, SessionKeys, checked_key};

/// What a labelled value is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    SessionId,
    Key(KeyKind),
    /// The application key: read (it may continue on more lines) and dropped.
    App,
}

/// Labels, matched case-insensitively at a word start and followed by a blank or `:`.
const LABELS: &[(&str, Field)] = &[
    ("Session Id", Field::SessionId),
    ("Session Key", Field::Key(KeyKind::Session)),
    ("Signing Key", Field::Key(KeyKind::Signing)),
    ("App Key", Field::App),
    ("Application Key", Field::App),
    ("ServerIn Key", Field::Key(KeyKind::C2s)),
    ("ServerOut Key", Field::Key(KeyKind::S2c)),
    // The server's view: it decrypts client-to-server traffic (see the module docs).
    ("Decryption Key", Field::Key(KeyKind::C2s)),
    ("Encryption Key", Field::Key(KeyKind::S2c)),
];

/// Text that may surround a dump and ends the current block.
const BLOCK_HEADERS: &[&str] = &["debug encryption", "dumping generated", "generated smb3"];
/// Text that may sit inside a dump.
const INFO_LINES: &[&str] = &["signing algo", "cipher algo", "cipher type"];

/// Parser state across the lines of a file.
pub(super) struct Dump<'p> {
    /// The file's name, for [`SessionKeys::source`].
    path: &'p str,
    block: Option<Block>,
    value: Option<Value>,
}

/// The keys after one `Session Id` line.
struct Block {
    line: usize,
    id: Option<u64>,
    keys: SessionKeys,
}

/// A labelled value whose hex dump may continue on the next lines.
struct Value {
    field: Field,
    label: &'static str,
    line: usize,
    bytes: Zeroizing<Vec<u8>>,
}

impl<'p> Dump<'p> {
    pub(super) fn new(path: &'p str) -> Dump<'p> {
        Dump {
            path,
            block: None,
            value: None,
        }
    }

    /// Takes `line` if it belongs to a Samba dump; `Ok(false)` leaves it to the other formats
    /// (the caller then ends the block). Finished sessions are pushed to `out`.
    pub(super) fn line(
        &mut self,
        line: &str,
        no: usize,
        out: &mut Vec<(usize, SessionKeys)>,
    ) -> Result<bool, Fail> {
        let b = line.as_bytes();
        if let Some((field, label, end)) = find_label(b) {
            self.end_value()?;
            if field == Field::SessionId {
                self.end_block(out)?;
                self.block = Some(Block {
                    line: no,
                    id: None,
                    keys: SessionKeys::new(0, format!("{}:{no}", self.path)),
                });
            } else if self.block.is_none() {
                return Err(Fail::new(
                    no,
                    format!("Samba key dump: {label} line before any Session Id line"),
                ));
            }
            let bytes = value_bytes(&b[end..])
                .map_err(|why| Fail::new(no, format!("Samba key dump: {label}: {why}")))?;
            self.value = Some(Value {
                field,
                label,
                line: no,
                bytes,
            });
            return Ok(true);
        }
        if let Some(v) = &mut self.value {
            if let Some(more) = continuation(b, v.bytes.len()) {
                v.bytes.extend_from_slice(&more);
                return Ok(true);
            }
        }
        if contains_any(b, BLOCK_HEADERS) {
            self.end_block(out)?;
            return Ok(true);
        }
        if contains_any(b, INFO_LINES) || is_debug_header(line) {
            self.end_value()?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Closes the value being read: checks it and stores it in the block.
    pub(super) fn end_value(&mut self) -> Result<(), Fail> {
        let Some(v) = self.value.take() else {
            return Ok(());
        };
        // A value line is only accepted while a block is open (Session Id opens one).
        let Some(block) = &mut self.block else {
            return Ok(());
        };
        let fail = |why: String| Fail::new(v.line, format!("Samba key dump: {why}"));
        match v.field {
            Field::SessionId => {
                let id: [u8; 8] = v.bytes.as_slice().try_into().map_err(|_| {
                    fail(format!("Session Id is {} bytes; expected 8", v.bytes.len()))
                })?;
                block.id = Some(u64::from_le_bytes(id));
            }
            Field::Key(kind) => {
                let slot = kind.slot(&mut block.keys);
                if slot.is_some() {
                    return Err(fail(format!("{} given twice for one session", v.label)));
                }
                *slot = Some(checked_key(kind, v.bytes.to_vec()).map_err(fail)?);
            }
            Field::App => {}
        }
        Ok(())
    }

    /// Closes the open block and hands its session to `out`.
    pub(super) fn end_block(&mut self, out: &mut Vec<(usize, SessionKeys)>) -> Result<(), Fail> {
        self.end_value()?;
        let Some(mut block) = self.block.take() else {
            return Ok(());
        };
        let Some(id) = block.id else {
            return Err(Fail::new(
                block.line,
                "Samba key dump: Session Id has no value",
            ));
        };
        if !block.keys.has_any() {
            return Err(Fail::new(
                block.line,
                format!("Samba key dump for session 0x{id:016x} has no keys"),
            ));
        }
        block.keys.session_id = id;
        out.push((block.line, block.keys));
        Ok(())
    }
}

/// The first label in `b`: its field, canonical name and the index just after it.
fn find_label(b: &[u8]) -> Option<(Field, &'static str, usize)> {
    let mut best: Option<(usize, Field, &'static str, usize)> = None;
    for &(label, field) in LABELS {
        let n = label.len();
        let hit = (0..b.len().saturating_sub(n - 1)).find(|&p| {
            b[p..p + n].eq_ignore_ascii_case(label.as_bytes())
                && (p == 0 || !b[p - 1].is_ascii_alphanumeric())
                && matches!(b.get(p + n), Some(b' ' | b'\t' | b':'))
        });
        match (hit, best) {
            (Some(p), Some((q, ..))) if q <= p => {}
            (Some(p), _) => best = Some((p, field, label, p + n)),
            (None, _) => {}
        }
    }
    best.map(|(_, field, label, end)| (field, label, end))
}

/// The bytes after a label: Samba's `[0000] ...` hex dump or the kernel's plain `xx xx ...`.
fn value_bytes(rest: &[u8]) -> Result<Zeroizing<Vec<u8>>, &'static str> {
    let start = rest
        .iter()
        .position(|c| !matches!(c, b' ' | b'\t' | b':'))
        .ok_or("no value after the label")?;
    let rest = &rest[start..];
    if let Some(ofs) = offset_tag(rest) {
        if ofs != 0 {
            return Err("hex dump does not start at [0000]");
        }
        let bytes = dump_line(&rest[6..]);
        if bytes.is_empty() {
            return Err("no hex bytes after [0000]");
        }
        return Ok(bytes);
    }
    let mut bytes = Zeroizing::new(Vec::with_capacity(32));
    for tok in rest
        .split(u8::is_ascii_whitespace)
        .filter(|t| !t.is_empty())
    {
        match tok {
            [h, l] if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => {
                bytes.push(super::hex_val(*h) << 4 | super::hex_val(*l));
            }
            _ => return Err("expected a [0000] hex dump or hex bytes after the label"),
        }
    }
    Ok(bytes)
}

/// `[XXXX]` (four hex digits) at the start of `b`: the offset.
fn offset_tag(b: &[u8]) -> Option<usize> {
    match b {
        [b'[', a, bb, c, d, b']', ..] => hex_number(&[*a, *bb, *c, *d]),
        _ => None,
    }
}

fn hex_number(d: &[u8]) -> Option<usize> {
    d.iter().try_fold(0usize, |acc, &c| {
        c.is_ascii_hexdigit()
            .then(|| acc * 16 + usize::from(super::hex_val(c)))
    })
}

/// A `[%04X]` continuation line for a value of `have` bytes so far: the new bytes.
fn continuation(b: &[u8], have: usize) -> Option<Zeroizing<Vec<u8>>> {
    if have == 0 || !have.is_multiple_of(16) {
        return None;
    }
    (0..b.len()).filter(|&p| b[p] == b'[').find_map(|p| {
        let rest = &b[p..];
        if offset_tag(rest) != Some(have) {
            return None;
        }
        let bytes = dump_line(&rest[6..]);
        (!bytes.is_empty()).then_some(bytes)
    })
}

/// The hex bytes of one dump line after its `[XXXX]` tag; the ASCII column is ignored.
pub(super) fn dump_line(r: &[u8]) -> Zeroizing<Vec<u8>> {
    fixed_layout(r).unwrap_or_else(|| loose_layout(r))
}

/// Samba's exact column layout: slot `i` at `3 * i` (+2 from the ninth on), 50 columns, then
/// three blanks. A trimmed line reads as blanks past its end.
fn fixed_layout(r: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let at = |i: usize| r.get(i).copied().unwrap_or(b' ');
    let mut bytes = Zeroizing::new(Vec::with_capacity(16));
    let mut ended = false;
    for i in 0..16 {
        let pos = 3 * i + if i >= 8 { 2 } else { 0 };
        let (c0, h, l) = (at(pos), at(pos + 1), at(pos + 2));
        if c0 != b' ' {
            return None;
        }
        if h == b' ' && l == b' ' {
            ended = true;
        } else if !ended && h.is_ascii_hexdigit() && l.is_ascii_hexdigit() {
            bytes.push(super::hex_val(h) << 4 | super::hex_val(l));
        } else {
            return None;
        }
    }
    let gaps_blank = [24, 25, 50, 51, 52].iter().all(|&i| at(i) == b' ');
    (gaps_blank && !bytes.is_empty()).then_some(bytes)
}

/// Up to 16 whitespace-separated hex pairs, stopping at anything else or at a gap wider than
/// Samba's three blanks between the two halves (the padding before the ASCII column).
fn loose_layout(r: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut bytes = Zeroizing::new(Vec::with_capacity(16));
    let mut i = 0;
    while bytes.len() < 16 {
        let gap = r[i..]
            .iter()
            .take_while(|c| c.is_ascii_whitespace())
            .count();
        if gap == 0 || (gap > 3 && !bytes.is_empty()) {
            break;
        }
        i += gap;
        let tok_len = r[i..]
            .iter()
            .take_while(|c| !c.is_ascii_whitespace())
            .count();
        match &r[i..i + tok_len] {
            [h, l] if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => {
                bytes.push(super::hex_val(*h) << 4 | super::hex_val(*l));
            }
            _ => break,
        }
        i += tok_len;
    }
    bytes
}

fn contains_any(b: &[u8], needles: &[&str]) -> bool {
    needles.iter().any(|n| {
        let n = n.as_bytes();
        b.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
    })
}

/// Samba's debug header: `[2026/11/22 10:00:00.123456,  0] source.c:123(function)`.
fn is_debug_header(line: &str) -> bool {
    let b = line.trim_start().as_bytes();
    b.len() > 6 && b[0] == b'[' && b[1..5].iter().all(u8::is_ascii_digit) && b[5] == b'/'
}
