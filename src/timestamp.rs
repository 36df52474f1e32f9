//! An instant in time as telleverk stores and computes with it: whole
//! milliseconds since the Unix epoch, UTC. Dates and Oslo time live in
//! `contract::dates`; durations are plain milliseconds (`i64`). Pure.

use std::fmt;
use std::ops::{Add, Sub};

use chrono::{DateTime, Utc};

/// An instant: Unix milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(i64);

impl Timestamp {
    /// Earlier than every real instant (an open start).
    pub const MIN: Timestamp = Timestamp(i64::MIN);
    /// Later than every real instant (an open end).
    pub const MAX: Timestamp = Timestamp(i64::MAX);

    pub const fn from_millis(ms: i64) -> Timestamp {
        Timestamp(ms)
    }

    /// Milliseconds since the Unix epoch.
    pub const fn millis(self) -> i64 {
        self.0
    }

    /// A chrono time, to the millisecond.
    pub fn from_datetime(at: DateTime<Utc>) -> Timestamp {
        Timestamp(at.timestamp_millis())
    }

    pub fn to_datetime(self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.0).unwrap_or_default()
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(at: DateTime<Utc>) -> Timestamp {
        Timestamp::from_datetime(at)
    }
}

/// An instant `ms` milliseconds later (saturating).
impl Add<i64> for Timestamp {
    type Output = Timestamp;
    fn add(self, ms: i64) -> Timestamp {
        Timestamp(self.0.saturating_add(ms))
    }
}

/// An instant `ms` milliseconds earlier (saturating).
impl Sub<i64> for Timestamp {
    type Output = Timestamp;
    fn sub(self, ms: i64) -> Timestamp {
        Timestamp(self.0.saturating_sub(ms))
    }
}

/// The milliseconds from `other` to `self`.
impl Sub for Timestamp {
    type Output = i64;
    fn sub(self, other: Timestamp) -> i64 {
        self.0 - other.0
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::Timestamp;
    use chrono::{TimeZone, Utc};

    #[test]
    fn a_timestamp_is_unix_milliseconds() {
        let at = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let t = Timestamp::from_datetime(at);
        assert_eq!(t.millis(), 1_767_225_600_000);
        assert_eq!(t.to_datetime(), at);
        assert_eq!((t + 1_000) - t, 1_000);
        assert_eq!(t - 1_000, Timestamp::from_millis(1_767_225_599_000));
        assert!(Timestamp::MIN < t && t < Timestamp::MAX);
        assert_eq!(Timestamp::MAX + 1, Timestamp::MAX);
    }
}
