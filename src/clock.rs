//! The one place that reads the system clock. Everything else takes the time
//! as an argument, or a [`Clock`] when it must ask for the time itself (the
//! collector stamping a reading, the simulated fleet answering a request).

use std::time::Instant;

use chrono::{DateTime, TimeDelta, Utc};

use crate::timestamp::Timestamp;

/// Now, in UTC, to the millisecond: the precision every instant is stored at.
#[allow(clippy::disallowed_methods)] // the one place that reads it
pub fn now() -> DateTime<Utc> {
    truncate(Utc::now())
}

/// Real time elapsed since it started, for the figures a command prints and
/// the log (never for a stored instant).
#[derive(Debug, Clone, Copy)]
pub struct Stopwatch(Instant);

impl Stopwatch {
    #[allow(clippy::disallowed_methods)] // the one place that reads it
    pub fn start() -> Stopwatch {
        Stopwatch(Instant::now())
    }

    pub fn elapsed(&self) -> std::time::Duration {
        self.0.elapsed()
    }
}

/// Where the time comes from: the system clock, or simulated time that starts
/// at a chosen instant and runs `speed` times as fast as real time (the demo
/// runs a working week in minutes; speed 0 stands still).
#[derive(Debug, Clone, Copy)]
pub enum Clock {
    System,
    Simulated {
        started: Instant,
        origin: DateTime<Utc>,
        speed: u32,
    },
}

impl Clock {
    /// Simulated time that reads `origin` now.
    pub fn simulated(origin: DateTime<Utc>, speed: u32) -> Clock {
        Clock::Simulated {
            started: Stopwatch::start().0,
            origin,
            speed,
        }
    }

    /// The current time of this clock as a [`Timestamp`].
    pub fn timestamp(&self) -> Timestamp {
        Timestamp::from_datetime(self.now())
    }

    /// The current time of this clock, to the millisecond.
    pub fn now(&self) -> DateTime<Utc> {
        match *self {
            Clock::System => now(),
            Clock::Simulated {
                started,
                origin,
                speed,
            } => {
                let real = started.elapsed();
                let ms = real.as_millis().saturating_mul(u128::from(speed));
                let ms = i64::try_from(ms).unwrap_or(i64::MAX / 4);
                truncate(origin + TimeDelta::milliseconds(ms))
            }
        }
    }
}

impl Clock {
    /// How long, in real time, until `delta` has passed on this clock (a
    /// clock that stands still: an hour; the past: zero).
    pub fn real_duration(&self, delta: TimeDelta) -> std::time::Duration {
        let delta = delta.to_std().unwrap_or_default();
        match *self {
            Clock::System => delta,
            Clock::Simulated { speed: 0, .. } => std::time::Duration::from_secs(3600),
            Clock::Simulated { speed, .. } => delta / speed,
        }
    }
}

fn truncate(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(at.timestamp_millis()).unwrap_or(at)
}
