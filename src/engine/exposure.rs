//! `tcp445.exposed`: a server that answers SMB over QUIC and also SMB on TCP/445. The only
//! posture fact that spans connections of different transports, so the sharded analysis
//! ([`super::parallel`]) decides it centrally from [`ExposureNote`]s, in frame order.

use std::collections::HashSet;
use std::net::IpAddr;

use crate::event::Finding;
use crate::flow::FlowKey;
use crate::rules::{self, Mandates, RuleId};
use crate::wire::Timestamp;

/// How a server was seen serving SMB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Via {
    Tcp445,
    Quic,
}

/// One sighting of a server, as a shard reports it.
#[derive(Debug, Clone)]
pub(crate) struct ExposureNote {
    pub ip: IpAddr,
    pub via: Via,
    pub key: FlowKey,
    pub server_name: Option<String>,
    pub ts: Timestamp,
}

/// Servers seen on each transport. Each set holds at most [`Exposure::MAX_SERVERS`] addresses;
/// past that, new servers are not tracked (and cannot fire).
#[derive(Debug, Default)]
pub(crate) struct Exposure {
    tcp445: HashSet<IpAddr>,
    quic: HashSet<IpAddr>,
    fired: HashSet<IpAddr>,
}

impl Exposure {
    pub const MAX_SERVERS: usize = 65_536;

    /// Records a sighting; true when it makes `ip` a server seen on both transports for the
    /// first time (the finding is due).
    pub fn note(&mut self, ip: IpAddr, via: Via) -> bool {
        let set = match via {
            Via::Tcp445 => &mut self.tcp445,
            Via::Quic => &mut self.quic,
        };
        if set.len() < Self::MAX_SERVERS {
            set.insert(ip);
        }
        if self.fired.len() >= Self::MAX_SERVERS
            || self.fired.contains(&ip)
            || !self.tcp445.contains(&ip)
            || !self.quic.contains(&ip)
        {
            return false;
        }
        self.fired.insert(ip);
        true
    }

    /// [`Exposure::note`] for a note, and the finding when it is due.
    pub fn finding_for(&mut self, n: &ExposureNote, mandates: Mandates) -> Option<Finding> {
        self.note(n.ip, n.via).then(|| exposed_finding(n, mandates))
    }
}

/// The `tcp445.exposed` finding about the connection that completed the pair.
pub(crate) fn exposed_finding(n: &ExposureNote, mandates: Mandates) -> Finding {
    transport_finding(
        RuleId::Tcp445Exposed,
        mandates,
        &n.key,
        n.server_name.clone(),
        format!("{} serves SMB over QUIC and also SMB on TCP/445", n.ip),
        n.ts,
    )
}

/// A connection-level finding about a transport rather than an SMB session.
pub(crate) fn transport_finding(
    rule: RuleId,
    mandates: Mandates,
    key: &FlowKey,
    server_name: Option<String>,
    summary: String,
    ts: Timestamp,
) -> Finding {
    let meta = rule.rule();
    let (severity, mandate) = rules::severity(rule, mandates, rules::Context::default());
    Finding {
        rule: meta.name,
        severity,
        event_id: meta.event_id,
        client: key.client,
        server: key.server,
        session_id: None,
        user: None,
        server_name,
        side: meta.side,
        summary,
        fix: meta.fix,
        mandate,
        ts: ts.as_secs_f64(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_once_when_both_transports_are_seen() {
        let mut e = Exposure::default();
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        assert!(!e.note(a, Via::Tcp445));
        assert!(!e.note(a, Via::Tcp445));
        assert!(!e.note(b, Via::Quic));
        assert!(e.note(a, Via::Quic));
        assert!(!e.note(a, Via::Quic));
        assert!(!e.note(a, Via::Tcp445));
        assert!(e.note(b, Via::Tcp445));
    }

    #[test]
    fn many_servers_stay_bounded_and_fast() {
        let mut e = Exposure::default();
        for i in 0..200_000u32 {
            let ip = IpAddr::from(i.to_be_bytes());
            assert!(!e.note(ip, Via::Tcp445));
        }
        assert_eq!(e.tcp445.len(), Exposure::MAX_SERVERS);
        let tracked = IpAddr::from(5u32.to_be_bytes());
        assert!(e.note(tracked, Via::Quic));
    }
}
