//! Logon attacks across connections: brute force, password spray, lockouts, and a success
//! after a burst of failures.
//!
//! Every final SESSION_SETUP response becomes a [`LogonNote`]. The notes of a run go to one
//! [`LogonTracker`], which keeps a sliding window of capture time per client, per (client,
//! user) and per server, and raises each finding once per window and key:
//!
//! * `logon.bruteforce`: one client, one user, [`LogonPolicy::bruteforce`] failures within the
//!   window;
//! * `logon.spray`: one client, [`LogonPolicy::spray`] distinct users failing within the window;
//!   or the same number of users failing on one server from two or more clients, none of which
//!   reached the threshold alone (a distributed spray);
//! * `logon.lockout`: the server answered STATUS_ACCOUNT_LOCKED_OUT for a user;
//! * `logon.success_after_failures`: a logon succeeded (or was refused for a reason that means
//!   the password was right, like STATUS_PASSWORD_EXPIRED) from a client that a brute force or
//!   spray finding named within the window.
//!
//! Failures are STATUS_LOGON_FAILURE, STATUS_WRONG_PASSWORD, STATUS_NO_SUCH_USER and
//! STATUS_ACCOUNT_LOCKED_OUT (a client that goes on guessing a locked account is still
//! guessing).
//!
//! Memory is bounded: at most [`LogonPolicy::max_clients`] clients and as many servers are
//! tracked (least recently seen forgotten first, with one `logon_state_full` anomaly per
//! window), and at most [`MAX_USERS`] users per client and per server (more are counted).
//! In the sharded analysis the shards send their notes to the merger, which runs the one
//! tracker in frame order, so the findings do not depend on how connections were sharded.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::num::NonZeroUsize;

use lru::LruCache;

use crate::event::{AnomalyRecord, Finding, Record};
use crate::flow::FlowKey;
use crate::rules::{self, Mandates, RuleId};
use crate::smb::NtStatus;
use crate::wire::Timestamp;

/// Thresholds and bounds of the logon-attack findings (`--logon-window`,
/// `--bruteforce-threshold`, `--spray-threshold`, `--logon-max-clients`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogonPolicy {
    /// The sliding window, in seconds of capture time.
    pub window_secs: u64,
    /// Failed logons of one user from one client within the window for `logon.bruteforce`.
    pub bruteforce: u32,
    /// Distinct users failing within the window for `logon.spray`.
    pub spray: u32,
    /// Clients (and servers) tracked at once.
    pub max_clients: usize,
}

impl Default for LogonPolicy {
    fn default() -> Self {
        LogonPolicy {
            window_secs: 300,
            bruteforce: 10,
            spray: 10,
            max_clients: 10_000,
        }
    }
}

/// Users remembered per client and per server (enough for any sane spray threshold; a larger
/// threshold is capped to this).
pub const MAX_USERS: usize = 256;
/// Locked-out (server, user) pairs remembered.
const MAX_LOCKOUTS: usize = 4096;
/// Names listed in a finding's summary.
const SHOWN: usize = 5;

/// One final SESSION_SETUP response.
#[derive(Debug, Clone)]
pub(crate) struct LogonNote {
    pub key: FlowKey,
    pub server_name: Option<String>,
    pub user: Option<String>,
    pub domain: Option<String>,
    pub status: NtStatus,
    /// Guest or anonymous: a success that proves no password.
    pub keyless: bool,
    pub ts: Timestamp,
}

impl LogonNote {
    /// `DOMAIN\user` (as the client sent it), `None` when no user name was visible (Kerberos,
    /// encrypted, anonymous).
    fn who(&self) -> Option<String> {
        let user = self.user.as_deref().filter(|u| !u.is_empty())?;
        Some(match self.domain.as_deref().filter(|d| !d.is_empty()) {
            Some(d) => format!("{d}\\{user}"),
            None => user.to_owned(),
        })
    }
}

fn is_failure(s: NtStatus) -> bool {
    matches!(
        s,
        NtStatus::LOGON_FAILURE
            | NtStatus::WRONG_PASSWORD
            | NtStatus::NO_SUCH_USER
            | NtStatus::ACCOUNT_LOCKED_OUT
    )
}

/// Refusals that Windows only gives once the password checked out ([MS-NLMP] 3.3.3 leaves
/// account restrictions to the server, which checks them after the password).
fn password_was_right(s: NtStatus) -> bool {
    matches!(
        s,
        NtStatus::PASSWORD_EXPIRED
            | NtStatus::PASSWORD_MUST_CHANGE
            | NtStatus::ACCOUNT_DISABLED
            | NtStatus::ACCOUNT_EXPIRED
            | NtStatus::ACCOUNT_RESTRICTION
            | NtStatus::INVALID_LOGON_HOURS
            | NtStatus::INVALID_WORKSTATION
    )
}

#[derive(Debug, Default)]
struct UserFails {
    /// The user as the client spelt it.
    name: String,
    /// Failure times within the window (at most the brute-force threshold).
    times: VecDeque<Timestamp>,
    last: Timestamp,
    fired: Option<Timestamp>,
}

#[derive(Debug, Default)]
struct ClientState {
    users: HashMap<String, UserFails>,
    /// Distinct users beyond [`MAX_USERS`] (not remembered, so only counted).
    more_users: u64,
    spray_fired: Option<Timestamp>,
    /// A brute-force or spray finding named this client.
    attacked: Option<Timestamp>,
    success_fired: Option<Timestamp>,
}

#[derive(Debug, Default)]
struct ServerState {
    /// Last failure per user (as the client spelt it), and the client that sent it.
    users: HashMap<String, (Timestamp, IpAddr, String)>,
    more_users: u64,
    fired: Option<Timestamp>,
}

/// The logon-attack state of a run. See the module documentation.
#[derive(Debug)]
pub(crate) struct LogonTracker {
    policy: LogonPolicy,
    window: u64,
    clients: LruCache<IpAddr, ClientState>,
    servers: LruCache<IpAddr, ServerState>,
    lockouts: LruCache<(IpAddr, String), Timestamp>,
    full_reported: Option<Timestamp>,
    /// Clients and servers forgotten because the tables were full.
    pub evicted: u64,
}

fn within(since: Option<Timestamp>, now: Timestamp, window: u64) -> bool {
    since.is_some_and(|t| now.0.abs_diff(t.0) < window)
}

fn names(list: &[String], more: u64) -> String {
    let total = list.len() as u64 + more;
    let mut shown: Vec<&str> = list.iter().map(String::as_str).collect();
    shown.sort_unstable();
    let mut s = shown[..shown.len().min(SHOWN)].join(", ");
    if total > shown.len().min(SHOWN) as u64 {
        s.push_str(", …");
    }
    s
}

fn secs(from: Timestamp, to: Timestamp) -> f64 {
    to.0.saturating_sub(from.0) as f64 / 1e9
}

impl LogonTracker {
    pub fn new(policy: LogonPolicy) -> Self {
        let cap = NonZeroUsize::new(policy.max_clients.max(1)).unwrap_or(NonZeroUsize::MIN);
        let lock_cap = NonZeroUsize::new(MAX_LOCKOUTS).unwrap_or(NonZeroUsize::MIN);
        LogonTracker {
            policy,
            window: policy.window_secs.max(1).saturating_mul(1_000_000_000),
            clients: LruCache::new(cap),
            servers: LruCache::new(cap),
            lockouts: LruCache::new(lock_cap),
            full_reported: None,
            evicted: 0,
        }
    }

    /// Takes in one logon; the findings and anomalies it raises go to `out`.
    pub fn note(&mut self, n: &LogonNote, mandates: Mandates, out: &mut Vec<Record>) {
        let failure = is_failure(n.status);
        let success = (n.status == NtStatus::SUCCESS && !n.keyless) || password_was_right(n.status);
        if !failure && !success {
            return;
        }
        let client_ip = n.key.client.ip();
        let server_ip = n.key.server.ip();
        if !self.clients.contains(&client_ip) {
            self.make_room(n, out);
        }
        let window = self.window;
        let who = n.who();
        let client = self
            .clients
            .get_or_insert_mut(client_ip, ClientState::default);
        if success {
            if within(client.attacked, n.ts, window) && !within(client.success_fired, n.ts, window)
            {
                client.success_fired = Some(n.ts);
                let how = if n.status == NtStatus::SUCCESS {
                    "succeeded".to_owned()
                } else {
                    format!(
                        "was refused with {}, which means its password was right",
                        n.status
                    )
                };
                let summary = format!(
                    "The logon as {} from {client_ip} to {server_ip} {how}, after this client's \
                     brute force or password spray (within the {} s window): the guessing worked",
                    who.as_deref().unwrap_or("an unnamed user"),
                    self.policy.window_secs
                );
                out.push(finding(
                    RuleId::LogonSuccessAfterFailures,
                    n,
                    who,
                    summary,
                    mandates,
                ));
            }
            return;
        }
        // A failure.
        let Some(who) = who else {
            return;
        };
        let key = who.to_lowercase();
        let cap = MAX_USERS.min(self.policy.spray.max(1) as usize * 4).max(16);
        client
            .users
            .retain(|_, u| n.ts.0.saturating_sub(u.last.0) < window);
        let bf = self.policy.bruteforce.max(1) as usize;
        let fresh = !client.users.contains_key(&key);
        if fresh && client.users.len() >= cap {
            client.more_users += 1;
        } else {
            let u = client.users.entry(key.clone()).or_default();
            if u.name.is_empty() {
                u.name = who.clone();
            }
            u.last = n.ts;
            while u
                .times
                .front()
                .is_some_and(|t| n.ts.0.saturating_sub(t.0) >= window)
            {
                u.times.pop_front();
            }
            if u.times.len() >= bf {
                u.times.pop_front();
            }
            u.times.push_back(n.ts);
            if u.times.len() >= bf && !within(u.fired, n.ts, window) {
                u.fired = Some(n.ts);
                client.attacked = Some(n.ts);
                let first = u.times.front().copied().unwrap_or(n.ts);
                let summary = format!(
                    "{} failed logons for {who} from {client_ip} to {server_ip} within {:.1} s \
                     (threshold {bf} in {} s; last status {})",
                    u.times.len(),
                    secs(first, n.ts),
                    self.policy.window_secs,
                    n.status
                );
                out.push(finding(
                    RuleId::LogonBruteforce,
                    n,
                    Some(who.clone()),
                    summary,
                    mandates,
                ));
            }
        }
        let sp = self.policy.spray.max(1) as u64;
        let distinct = client.users.len() as u64 + client.more_users;
        let mut client_sprayed = false;
        if distinct >= sp && !within(client.spray_fired, n.ts, window) {
            client.spray_fired = Some(n.ts);
            client.attacked = Some(n.ts);
            client_sprayed = true;
            let list: Vec<String> = client.users.values().map(|u| u.name.clone()).collect();
            let first = client
                .users
                .values()
                .map(|u| u.times.front().copied().unwrap_or(u.last))
                .min()
                .unwrap_or(n.ts);
            let summary = format!(
                "Failed logons for {distinct} distinct users ({}) from {client_ip} to \
                 {server_ip} within {:.1} s (threshold {sp} users in {} s)",
                names(&list, client.more_users),
                secs(first, n.ts),
                self.policy.window_secs
            );
            out.push(finding(RuleId::LogonSpray, n, None, summary, mandates));
        }
        if n.status == NtStatus::ACCOUNT_LOCKED_OUT {
            let k = (server_ip, key.clone());
            let fired = self.lockouts.get(&k).copied();
            if !within(fired, n.ts, window) {
                self.lockouts.put(k, n.ts);
                let summary = format!(
                    "{server_ip} answered STATUS_ACCOUNT_LOCKED_OUT for {who} (logon from \
                     {client_ip}): the account is locked"
                );
                out.push(finding(
                    RuleId::LogonLockout,
                    n,
                    Some(who.clone()),
                    summary,
                    mandates,
                ));
            }
        }
        self.server_failure(n, key, who, client_sprayed, mandates, out);
    }

    /// The distributed spray: many users failing on one server, from several clients.
    fn server_failure(
        &mut self,
        n: &LogonNote,
        user: String,
        name: String,
        client_sprayed: bool,
        mandates: Mandates,
        out: &mut Vec<Record>,
    ) {
        let server_ip = n.key.server.ip();
        let client_ip = n.key.client.ip();
        if !self.servers.contains(&server_ip) && self.servers.len() >= self.servers.cap().get() {
            self.evicted += 1;
        }
        let window = self.window;
        let s = self
            .servers
            .get_or_insert_mut(server_ip, ServerState::default);
        s.users
            .retain(|_, (t, _, _)| n.ts.0.saturating_sub(t.0) < window);
        if s.users.contains_key(&user) || s.users.len() < MAX_USERS {
            s.users.insert(user, (n.ts, client_ip, name));
        } else {
            s.more_users += 1;
        }
        let distinct = s.users.len() as u64 + s.more_users;
        if distinct < u64::from(self.policy.spray.max(1)) || within(s.fired, n.ts, window) {
            return;
        }
        let mut clients: Vec<IpAddr> = s.users.values().map(|(_, c, _)| *c).collect();
        clients.sort_unstable();
        clients.dedup();
        // One client alone is the per-client spray; so is a client that reached it now.
        if clients.len() < 2 || client_sprayed {
            return;
        }
        s.fired = Some(n.ts);
        let list: Vec<String> = s.users.values().map(|(_, _, name)| name.clone()).collect();
        let first = s.users.values().map(|(t, _, _)| *t).min().unwrap_or(n.ts);
        let shown: Vec<String> = clients.iter().take(SHOWN).map(|c| c.to_string()).collect();
        let more = if clients.len() > SHOWN { ", …" } else { "" };
        let summary = format!(
            "Failed logons for {distinct} distinct users ({}) on {server_ip} from {} clients \
             ({}{more}) within {:.1} s: a spray spread over several clients (threshold {} \
             users in {} s)",
            names(&list, s.more_users),
            clients.len(),
            shown.join(", "),
            secs(first, n.ts),
            self.policy.spray,
            self.policy.window_secs
        );
        out.push(finding(RuleId::LogonSpray, n, None, summary, mandates));
        for c in clients {
            if let Some(cs) = self.clients.peek_mut(&c) {
                cs.attacked = Some(n.ts);
            }
        }
    }

    /// Before a new client is tracked: when the table is full the least recently seen client
    /// is forgotten, with one anomaly per window saying so.
    fn make_room(&mut self, n: &LogonNote, out: &mut Vec<Record>) {
        if self.clients.len() < self.clients.cap().get() {
            return;
        }
        self.evicted += 1;
        if within(self.full_reported, n.ts, self.window) {
            return;
        }
        self.full_reported = Some(n.ts);
        out.push(Record::Anomaly(AnomalyRecord {
            kind: "logon_state_full",
            client: n.key.client,
            server: n.key.server,
            detail: format!(
                "failed logons from more than {} client addresses: the least recently seen are \
                 forgotten, so slow attacks from them may be missed (--logon-max-clients)",
                self.policy.max_clients
            ),
            bytes: 0,
            ts: n.ts.as_secs_f64(),
        }));
    }
}

fn finding(
    rule: RuleId,
    n: &LogonNote,
    user: Option<String>,
    summary: String,
    mandates: Mandates,
) -> Record {
    let meta = rule.rule();
    let (severity, mandate) = rules::severity(rule, mandates, rules::Context::default());
    Record::Finding(Finding {
        rule: meta.name,
        severity,
        event_id: meta.event_id,
        client: n.key.client,
        server: n.key.server,
        session_id: None,
        user,
        server_name: n.server_name.clone(),
        side: meta.side,
        summary,
        fix: meta.fix,
        mandate,
        ts: n.ts.as_secs_f64(),
    })
}

#[cfg(test)]
#[path = "logon_tests.rs"]
mod tests;
