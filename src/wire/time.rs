//! Capture time, the only clock of the analysis. Below every layer that carries it
//! (capture, flow, crypto, engine), so none of them imports another for it.

use std::time::Duration;

/// A capture timestamp: nanoseconds since the Unix epoch (UTC). Capture time is the only clock
/// the analysis uses.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// From microseconds since the epoch (saturating).
    pub const fn from_micros(micros: u64) -> Timestamp {
        Timestamp(micros.saturating_mul(1_000))
    }

    /// From whole seconds since the epoch (saturating).
    pub const fn from_secs(secs: u64) -> Timestamp {
        Timestamp(secs.saturating_mul(1_000_000_000))
    }

    /// From a `(seconds, nanoseconds)` pair as libpcap reports it; negative times clamp to 0.
    pub fn from_secs_nanos(secs: i64, nanos: i64) -> Timestamp {
        let total = i128::from(secs) * 1_000_000_000 + i128::from(nanos);
        Timestamp(u64::try_from(total.max(0)).unwrap_or(u64::MAX))
    }

    /// Nanoseconds since the epoch.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Seconds since the epoch, as a float (for display and rates).
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }

    /// `self - earlier`, or zero if `earlier` is later (capture time may go backwards).
    pub const fn saturating_sub(self, earlier: Timestamp) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }

    /// `self + d` (saturating).
    pub fn saturating_add(self, d: Duration) -> Timestamp {
        Timestamp(
            self.0
                .saturating_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_helpers() {
        let t = Timestamp::from_micros(1_500_000);
        assert_eq!(t.0, 1_500_000_000);
        assert!((t.as_secs_f64() - 1.5).abs() < 1e-9);
        assert_eq!(
            t.saturating_sub(Timestamp::from_secs(1)),
            Duration::from_millis(500)
        );
        assert_eq!(Timestamp::from_secs(1).saturating_sub(t), Duration::ZERO);
        assert_eq!(Timestamp::from_secs_nanos(-5, 3), Timestamp(0));
        assert_eq!(Timestamp::from_secs_nanos(2, 7), Timestamp(2_000_000_007));
        assert_eq!(
            Timestamp(u64::MAX).saturating_add(Duration::from_secs(1)),
            Timestamp(u64::MAX)
        );
        assert_eq!(Timestamp::from_micros(u64::MAX), Timestamp(u64::MAX));
    }
}
