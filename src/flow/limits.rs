//! [`Limits`] (memory and time bounds of the flow layer) and [`SmbPorts`].

/// Bounds on what the flow layer keeps. Every limit hit is reported as an
/// [`Anomaly`](super::Anomaly).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Most flows tracked at once; a new flow beyond it is reported
    /// ([`AnomalyKind::FlowTableFull`](super::AnomalyKind::FlowTableFull)) and ignored.
    pub max_flows: usize,
    /// A flow with no packet for this many seconds of capture time is closed (`Idle`).
    pub idle_timeout_secs: u64,
    /// Most out-of-order bytes buffered per flow direction.
    pub max_ooo_bytes: usize,
    /// Most out-of-order segments buffered per flow direction.
    pub max_ooo_segments: usize,
    /// Longest NBSS message delivered whole; longer ones are delivered truncated with
    /// [`Extent::Truncated`](super::Extent::Truncated). Values below 64 are treated as 64.
    pub max_message: usize,
}

impl Limits {
    /// Smallest effective `max_message` (enough to check an NBSS header and protocol id).
    pub const MIN_MESSAGE: usize = 64;

    /// `max_message`, raised to [`Limits::MIN_MESSAGE`].
    pub(crate) fn message_cap(&self) -> usize {
        self.max_message.max(Self::MIN_MESSAGE)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_flows: 100_000,
            idle_timeout_secs: 600,
            max_ooo_bytes: 1 << 20,
            max_ooo_segments: 64,
            // NBSS Direct-TCP lengths are 24-bit: up to 16 MiB, plus slack.
            max_message: (16 << 20) + 4096,
        }
    }
}

/// The TCP ports treated as SMB: 445 and 139 by default, plus any added with
/// [`SmbPorts::with`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmbPorts {
    ports: Vec<u16>,
}

impl SmbPorts {
    /// SMB over Direct TCP (MS-SMB2 2.1).
    pub const DIRECT_TCP: u16 = 445;
    /// SMB over NetBIOS session service (RFC 1002).
    pub const NETBIOS: u16 = 139;

    /// No ports at all.
    pub fn none() -> SmbPorts {
        SmbPorts { ports: Vec::new() }
    }

    /// These ports and another one.
    #[must_use]
    pub fn with(mut self, port: u16) -> SmbPorts {
        if !self.ports.contains(&port) {
            self.ports.push(port);
        }
        self
    }

    /// Whether `port` is an SMB port.
    pub fn contains(&self, port: u16) -> bool {
        self.ports.contains(&port)
    }

    /// The ports, in the order added.
    pub fn ports(&self) -> &[u16] {
        &self.ports
    }
}

impl Default for SmbPorts {
    fn default() -> Self {
        SmbPorts::none().with(Self::DIRECT_TCP).with(Self::NETBIOS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let l = Limits::default();
        assert_eq!(l.max_flows, 100_000);
        assert_eq!(l.max_message, 16 * 1024 * 1024 + 4096);
        assert_eq!(
            Limits {
                max_message: 3,
                ..l
            }
            .message_cap(),
            Limits::MIN_MESSAGE
        );
        let p = SmbPorts::default().with(8445).with(445);
        assert_eq!(p.ports(), &[445, 139, 8445]);
        assert!(p.contains(139) && !p.contains(80));
    }
}
