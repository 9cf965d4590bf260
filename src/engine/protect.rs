//! Message protection: establishing a session's keys, verifying each signature, decrypting
//! TRANSFORM messages (their plaintext goes back through the same decoder), and the findings
//! about signatures and encryption.

use super::crypto::{self, ConnParams, Decrypted, Lookup, NoKeys};
use super::findings::{session_rule, user_label};
use super::state::{ConnState, MAX_INVALID_REFS, MessageRef, SessionState};
use super::{Emitter, smb2};
use crate::flow::Direction;
use crate::rules::{Context, RuleId};
use crate::smb::compress;
use crate::smb::header::{Command, Header, split_compound};
use crate::smb::krb_logon::MissingServiceKey;
use crate::smb::transform::TransformHeader;
use crate::wire::Timestamp;

/// Looks up the keys of session `sid` once (at the end of its setup, or on first need for a
/// session whose setup was not captured).
pub(crate) fn establish(em: &mut Emitter<'_>, conn: &mut ConnState, sid: u64, ts: Timestamp) {
    lookup_keys(em, conn, sid, ts);
    // The logon's NTLM responses and Kerberos ciphertexts only serve to derive the session
    // key, which is done now: an established session does not keep them (hundreds of bytes,
    // or a whole ticket, per idle connection).
    if let Some(s) = conn.session_mut(sid) {
        s.auth.ntlm = None;
        s.auth.krb = None;
    }
}

fn lookup_keys(em: &mut Emitter<'_>, conn: &mut ConnState, sid: u64, ts: Timestamp) {
    if em.config.keys.is_empty() {
        return;
    }
    let params = ConnParams::of(conn);
    let challenge = conn.smb1_challenge;
    let Some(s) = conn.session_mut(sid) else {
        return;
    };
    s.crypto_tried = true;
    let challenge = s.ntlm_challenge.or(challenge);
    match crypto::lookup(
        &em.config.keys,
        sid,
        &params,
        &s.auth,
        challenge,
        s.preauth.as_ref(),
    ) {
        Lookup::Found(c) => {
            // The ticket names the Kerberos user, which the wire does not show.
            if let Some(k) = &c.krb_client {
                s.auth.user.get_or_insert_with(|| k.user.clone());
                s.auth.domain.get_or_insert_with(|| k.realm.clone());
                if let Some(t) = s.auth.krb_ticket.as_deref_mut() {
                    t.authtime = k.authtime.as_deref().map(Into::into);
                    t.endtime = k.endtime.as_deref().map(Into::into);
                }
            }
            s.crypto = Some(c);
            s.no_keys = None;
        }
        Lookup::None(why) => {
            if let NoKeys::WrongPassword { user } = &why {
                let detail = format!(
                    "the password given for {user} does not match the captured NTLM response of \
                     session 0x{sid:016x}; its signatures and encryption cannot be checked"
                );
                let key = conn.key;
                em.anomaly(&key, "credentials_mismatch", detail, 0, ts);
            }
            if let NoKeys::NoServiceKey(MissingServiceKey {
                principal,
                kvno,
                enctype,
            }) = &why
            {
                let kvno = kvno.map_or("none".to_owned(), |k| k.to_string());
                let detail = format!(
                    "no key of the keytab decrypts the Kerberos ticket of session 0x{sid:016x}: \
                     the keytab lacks {principal} kvno {kvno} {}; its signatures and encryption \
                     cannot be checked",
                    crate::crypto::keytab::enctype::name(*enctype)
                );
                let key = conn.key;
                em.anomaly(&key, "keytab_missing_key", detail, 0, ts);
            }
            if let Some(s) = conn.session_mut(sid) {
                s.no_keys = Some(why);
            }
        }
    }
}

/// Checks the signature of one plaintext SMB2 message with the SIGNED flag.
pub(crate) fn verify_smb2(
    em: &mut Emitter<'_>,
    conn: &mut ConnState,
    dir: Direction,
    ts: Timestamp,
    h: &Header<'_>,
    sid: u64,
) {
    if !h.is_signed() || h.signature().iter().all(|&b| b == 0) {
        return;
    }
    if conn.session(sid).is_some_and(|s| !s.crypto_tried) {
        establish(em, conn, sid, ts);
    }
    let Some(s) = conn.session_mut(sid) else {
        return;
    };
    let verdict = s.crypto.as_mut().and_then(|c| c.verify(h.raw()));
    match verdict {
        None => s.signatures.unverified += 1,
        Some(true) => s.signatures.valid += 1,
        Some(false) => {
            s.signatures.invalid += 1;
            if s.invalid_signatures.len() < MAX_INVALID_REFS {
                s.invalid_signatures.push(MessageRef {
                    message_id: h.message_id(),
                    command: h.command().to_string(),
                    direction: dir.as_str(),
                    ts: ts.as_secs_f64(),
                });
            }
            // A failure after good signatures is not a wrong key: say so at once.
            if s.signatures.valid > 0 {
                invalid_rule(em, conn, sid, ts);
            }
        }
    }
}

/// One TRANSFORM message: counted, and decrypted when the session's keys are known; the
/// plaintext (decompressed if needed) is decoded like any other message.
pub(crate) fn transform(
    em: &mut Emitter<'_>,
    conn: &mut ConnState,
    dir: Direction,
    ts: Timestamp,
    msg: &[u8],
) {
    conn.encrypted += 1;
    let th = match TransformHeader::parse(msg) {
        Ok(th) => th,
        Err(e) => return smb2::malformed(em, conn, ts, "malformed_transform", e.to_string()),
    };
    let sid = th.session_id();
    let max = em.config.max_sessions_per_conn;
    let Some(s) = conn.session_or_insert(sid, SessionState::Unknown, max) else {
        return;
    };
    s.counts.encrypted += 1;
    if !s.crypto_tried {
        establish(em, conn, sid, ts);
    }
    let Some(s) = conn.session_mut(sid) else {
        return;
    };
    let Some(c) = s.crypto.as_mut() else {
        return;
    };
    let mut plain = std::mem::take(&mut em.scratch.plain);
    match c.decrypt(dir, msg, &mut plain) {
        Decrypted::NoKey => {}
        Decrypted::Ok => {
            s.decrypted.ok += 1;
            if let Some(tap) = em.tap.as_deref_mut() {
                tap.message(&conn.key, dir, ts, &plain);
            }
            em.tapped = true;
            inner(em, conn, dir, ts, &plain);
        }
        Decrypted::Failed(e) => {
            s.decrypted.failed += 1;
            let ok = s.decrypted.ok;
            let who = user_label(s.auth.domain.as_deref(), s.auth.user.as_deref());
            let likely = if ok == 0 {
                "a wrong key is likely"
            } else {
                "after good ones: the message was altered in transit"
            };
            session_rule(
                em,
                conn,
                sid,
                RuleId::DecryptFailed,
                Context::default(),
                format!(
                    "An encrypted {} message of {who}'s session failed to decrypt ({e}); {likely}",
                    match dir {
                        Direction::ToServer => "client",
                        Direction::ToClient => "server",
                    }
                ),
                ts,
            );
        }
    }
    em.scratch.plain = plain;
}

/// Decrypted plaintext: decompress if it is a COMPRESSION_TRANSFORM, then decode each
/// compounded message as an encrypted one.
fn inner(em: &mut Emitter<'_>, conn: &mut ConnState, dir: Direction, ts: Timestamp, plain: &[u8]) {
    let mut inflated = std::mem::take(&mut em.scratch.inflated);
    let msg = if plain.first() == Some(&0xFC) {
        match compress::decompress_message(plain, em.config.limits.max_message, &mut inflated) {
            Ok(()) => &inflated[..],
            Err(e) => {
                smb2::malformed(em, conn, ts, "decompression_failed", e.to_string());
                em.scratch.inflated = inflated;
                return;
            }
        }
    } else {
        plain
    };
    for item in split_compound(msg) {
        match item {
            Ok(h) => smb2::message(em, conn, dir, ts, &h, true),
            Err(e) => {
                smb2::malformed(em, conn, ts, "malformed_smb2", e.to_string());
                break;
            }
        }
    }
    em.scratch.inflated = inflated;
}

/// A plaintext (not encrypted) message after authentication: `signature.missing` when the
/// session requires signing and it is unsigned, `unencrypted.when.required` when the session
/// or its tree requires encryption.
pub(crate) fn plaintext_rules(
    em: &mut Emitter<'_>,
    conn: &mut ConnState,
    ts: Timestamp,
    h: &Header<'_>,
    sid: u64,
    tid: Option<u32>,
) {
    let cmd = h.command();
    let signing_required = conn.signing_required();
    let Some(s) = conn.session_mut(sid) else {
        return;
    };
    if s.keyless() || s.state != SessionState::Established {
        return;
    }
    let tree_encrypted = tid.and_then(|t| s.tree(t)).is_some_and(|t| t.encrypt_data);
    let must_encrypt = (s.encrypt_data || tree_encrypted) && cmd != Command::SESSION_SETUP;
    let rule = if must_encrypt {
        s.unencrypted_when_required += 1;
        RuleId::UnencryptedWhenRequired
    } else if signing_required && !h.is_signed() {
        s.missing_signatures += 1;
        RuleId::SignatureMissing
    } else {
        return;
    };
    // Per message: build the text only for the first occurrence, which is all that is reported.
    if s.fired & rule.bit() != 0 {
        return;
    }
    let who = user_label(s.auth.domain.as_deref(), s.auth.user.as_deref());
    let response = if h.is_response() {
        "response"
    } else {
        "request"
    };
    let summary = if rule == RuleId::UnencryptedWhenRequired {
        let scope = if s.encrypt_data { "session" } else { "share" };
        format!(
            "A plaintext {cmd} {response} on {who}'s session, whose {scope} requires encryption \
             (MessageId {})",
            h.message_id()
        )
    } else {
        format!(
            "An unsigned {cmd} {response} on {who}'s session, which requires signing \
             (MessageId {})",
            h.message_id()
        )
    };
    session_rule(em, conn, sid, rule, Context::default(), summary, ts);
}

/// Fires `signature.invalid` for session `sid`, judging from its tallies whether the key is
/// wrong (every signature fails) or messages were altered (some verify, some do not).
pub(crate) fn invalid_rule(em: &mut Emitter<'_>, conn: &mut ConnState, sid: u64, ts: Timestamp) {
    let Some(s) = conn.session(sid) else {
        return;
    };
    let (valid, invalid) = (s.signatures.valid, s.signatures.invalid);
    if invalid == 0 {
        return;
    }
    let who = user_label(s.auth.domain.as_deref(), s.auth.user.as_deref());
    let first = s
        .invalid_signatures
        .first()
        .map(|m| {
            format!(
                " (first: {} MessageId {} {})",
                m.command, m.message_id, m.direction
            )
        })
        .unwrap_or_default();
    let source = s.crypto.as_ref().map_or("", |c| c.source.as_str());
    let summary = if valid == 0 {
        format!(
            "None of the {invalid} signed messages of {who}'s session verified with the key from \
             --{source}: the key is most likely wrong{first}"
        )
    } else {
        format!(
            "{invalid} of {} signed messages of {who}'s session failed verification while the \
             others verified: likely tampering{first}",
            valid + invalid
        )
    };
    session_rule(
        em,
        conn,
        sid,
        RuleId::SignatureInvalid,
        Context::default(),
        summary,
        ts,
    );
}

/// Connection end: signature failures not yet reported.
pub(crate) fn on_close(em: &mut Emitter<'_>, conn: &mut ConnState, ts: Timestamp) {
    let sids: Vec<u64> = conn
        .sessions
        .iter()
        .filter(|s| s.signatures.invalid > 0)
        .map(|s| s.id)
        .collect();
    for sid in sids {
        invalid_rule(em, conn, sid, ts);
    }
}
