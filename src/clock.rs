//! The one place that reads the system clock. Everything else takes the time
//! as an argument, or a [`Clock`] when it must ask for the time itself (the
//! collector stamping a reading, the simulated fleet answering a request).

use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};
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

    /// A stopwatch that started `ago` (tests of what times out).
    #[cfg(test)]
    #[allow(clippy::disallowed_methods)]
    pub fn started_ago(ago: std::time::Duration) -> Stopwatch {
        Stopwatch(Instant::now().checked_sub(ago).unwrap_or_else(Instant::now))
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
    /// Simulated time that can be set and sped up while it runs (the demo
    /// steps it through its history, then lets it run).
    Steered(&'static Steer),
}

/// The state of a steered clock: it reads `origin_ms + real time elapsed
/// × speed`; [`Steer::set`] moves it.
#[derive(Debug)]
pub struct Steer {
    started: Instant,
    origin_ms: AtomicI64,
    speed: AtomicU32,
}

impl Steer {
    /// A steered clock reading `at`, running `speed` times as fast as real
    /// time. It lives as long as the program (a clock is `Copy`).
    pub fn start(at: DateTime<Utc>, speed: u32) -> &'static Steer {
        let steer = Box::leak(Box::new(Steer {
            started: Stopwatch::start().0,
            origin_ms: AtomicI64::new(0),
            speed: AtomicU32::new(0),
        }));
        steer.set(at, speed);
        steer
    }

    fn elapsed_ms(&self) -> i64 {
        i64::try_from(self.started.elapsed().as_millis()).unwrap_or(i64::MAX / 4)
    }

    /// From now on it reads `at` and runs `speed` times as fast.
    pub fn set(&self, at: DateTime<Utc>, speed: u32) {
        let run = self.elapsed_ms().saturating_mul(i64::from(speed));
        self.speed.store(speed, Ordering::SeqCst);
        self.origin_ms
            .store(at.timestamp_millis().saturating_sub(run), Ordering::SeqCst);
    }

    fn now(&self) -> DateTime<Utc> {
        let speed = i64::from(self.speed.load(Ordering::SeqCst));
        let ms = self
            .origin_ms
            .load(Ordering::SeqCst)
            .saturating_add(self.elapsed_ms().saturating_mul(speed));
        DateTime::from_timestamp_millis(ms).unwrap_or_default()
    }
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
            Clock::Steered(steer) => steer.now(),
        }
    }
}

impl Clock {
    /// How much time passes on this clock in `real` time: more than `real`
    /// on a fast simulated clock (the demo's 2 s rounds are an hour apart
    /// on its clock), `real` itself on the system's or one standing still.
    /// What is measured against the clock's instants — a poll interval, a
    /// round's evidence — is measured in this.
    pub fn span(&self, real: std::time::Duration) -> std::time::Duration {
        let speed = match *self {
            Clock::System => 1,
            Clock::Simulated { speed, .. } => speed,
            Clock::Steered(steer) => steer.speed.load(Ordering::SeqCst),
        };
        real.saturating_mul(speed.max(1))
    }

    /// How long, in real time, until `delta` has passed on this clock (a
    /// clock that stands still: an hour; the past: zero).
    pub fn real_duration(&self, delta: TimeDelta) -> std::time::Duration {
        let delta = delta.to_std().unwrap_or_default();
        match *self {
            Clock::System => delta,
            Clock::Simulated { speed: 0, .. } => std::time::Duration::from_secs(3600),
            Clock::Simulated { speed, .. } => delta / speed,
            Clock::Steered(steer) => match steer.speed.load(Ordering::SeqCst) {
                0 => std::time::Duration::from_secs(3600),
                speed => delta / speed,
            },
        }
    }
}

fn truncate(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(at.timestamp_millis()).unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_span_of_real_time_is_longer_on_a_fast_clock() {
        let two = std::time::Duration::from_secs(2);
        assert_eq!(Clock::System.span(two), two);
        let at: DateTime<Utc> = "2026-08-17T06:00:00Z".parse().unwrap();
        assert_eq!(
            Clock::simulated(at, 1800).span(two),
            std::time::Duration::from_secs(3600)
        );
        // A clock standing still: the span as it is.
        assert_eq!(Clock::simulated(at, 0).span(two), two);
    }

    #[test]
    fn a_steered_clock_stands_jumps_and_runs() {
        let at: DateTime<Utc> = "2026-08-17T06:00:00Z".parse().unwrap();
        let steer = Steer::start(at, 0);
        let clock = Clock::Steered(steer);
        assert_eq!(clock.now(), at);
        assert_eq!(
            clock.real_duration(TimeDelta::seconds(1)),
            std::time::Duration::from_secs(3600)
        );
        let later = at + TimeDelta::days(30);
        steer.set(later, 0);
        assert_eq!(clock.now(), later);
        steer.set(later, 1800);
        std::thread::sleep(std::time::Duration::from_millis(20));
        let now = clock.now();
        assert!(now >= later + TimeDelta::seconds(36), "{now}");
        assert!(now < later + TimeDelta::hours(1), "{now}");
        assert_eq!(
            clock.real_duration(TimeDelta::minutes(30)),
            std::time::Duration::from_secs(1)
        );
    }
}
