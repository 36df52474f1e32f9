//! Uptime on working days (§4.7): each poll of a device is evidence of its
//! state (up, down, or none) that holds until its next poll, at most three
//! poll intervals; the working time of each state is summed per calendar
//! month. Uptime = up ÷ (up + down), to 2 decimals, with the share of
//! working time that had evidence.
//!
//! Pure: takes the observations and the calendar, returns figures.

pub mod calendar;

use chrono::{Datelike, Months, NaiveDate};
use rust_decimal::{Decimal, RoundingStrategy};

pub use calendar::{Calendar, WorkingTime, easter_sunday, holidays};

use crate::contract::midnight;
use crate::record::FailureCause;
use crate::timestamp::Timestamp;

/// What a poll says of the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Up,
    Down,
}

/// The state an answered poll shows: running(2), warning(3), unknown(1) or
/// no status are up; testing(4) and down(5) are down.
pub fn answered(device_status: Option<i64>) -> State {
    match device_status {
        Some(4 | 5) => State::Down,
        _ => State::Up,
    }
}

/// The state a failed poll shows: no answer (`timeout`, `unreachable`,
/// `refused`) is down; any other failure is a setup fault, no evidence.
pub fn failed(cause: FailureCause) -> Option<State> {
    match cause {
        FailureCause::Timeout | FailureCause::Unreachable | FailureCause::Refused => {
            Some(State::Down)
        }
        _ => None,
    }
}

/// One poll of a device: when, what it showed (None: no evidence), and
/// how long that holds at most (3 × the poll interval in force).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observation {
    pub at: Timestamp,
    pub state: Option<State>,
    pub hold_ms: i64,
}

/// A device's working time in one month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    /// The month's first day.
    pub month: NaiveDate,
    pub working_ms: i64,
    pub up_ms: i64,
    pub down_ms: i64,
}

impl Tally {
    /// Up ÷ (up + down) in %, to 2 decimals; None without evidence.
    pub fn uptime_pct(&self) -> Option<Decimal> {
        pct(self.up_ms, self.up_ms + self.down_ms)
    }

    /// The share of working time with evidence, in %, to 2 decimals.
    pub fn evidence_pct(&self) -> Option<Decimal> {
        pct(self.up_ms + self.down_ms, self.working_ms)
    }

    /// The exact uptime, for comparing with a promise.
    pub fn uptime_exact(&self) -> Option<Decimal> {
        let all = self.up_ms + self.down_ms;
        (all > 0).then(|| Decimal::from(self.up_ms) * Decimal::ONE_HUNDRED / Decimal::from(all))
    }

    /// These months summed (times, not a mean of percentages).
    pub fn sum(months: &[Tally]) -> Tally {
        Tally {
            month: months.first().map_or_else(NaiveDate::default, |m| m.month),
            working_ms: months.iter().map(|m| m.working_ms).sum(),
            up_ms: months.iter().map(|m| m.up_ms).sum(),
            down_ms: months.iter().map(|m| m.down_ms).sum(),
        }
    }
}

/// `part` of `whole` in %, to 2 decimals (half away from zero), always
/// written with both.
fn pct(part: i64, whole: i64) -> Option<Decimal> {
    (whole > 0).then(|| {
        let mut p = (Decimal::from(part) * Decimal::ONE_HUNDRED / Decimal::from(whole))
            .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
        p.rescale(2);
        p
    })
}

/// The first days of the `count` whole months before the month of
/// `today`, oldest first.
pub fn months_before(today: NaiveDate, count: u32) -> Vec<NaiveDate> {
    let this = today.with_day(1).unwrap_or(today);
    (1..=count)
        .rev()
        .filter_map(|back| this.checked_sub_months(Months::new(back)))
        .collect()
}

/// Each month's tally (the months by their first day), from observations
/// sorted by instant. The state of an observation holds until the next
/// one, at most its `hold_ms`; time after `until` (now) is not counted.
/// The spans of evidence and the working days are swept side by side, so
/// the cost follows the observations, with no time zone work per poll.
pub fn tally(
    observations: &[Observation],
    calendar: &Calendar,
    months: &[NaiveDate],
    until: Timestamp,
) -> Vec<Tally> {
    let spans = spans(observations);
    months
        .iter()
        .map(|&month| {
            let next = month.checked_add_months(Months::new(1)).unwrap_or(month);
            period(&spans, calendar, month, next, until)
        })
        .collect()
}

/// The tally of the days `[from, to)` (its `month` is `from`), as [`tally`]
/// counts a month.
pub fn tally_days(
    observations: &[Observation],
    calendar: &Calendar,
    from: NaiveDate,
    to: NaiveDate,
    until: Timestamp,
) -> Tally {
    period(&spans(observations), calendar, from, to, until)
}

fn period(
    spans: &[(i64, i64, State)],
    calendar: &Calendar,
    first: NaiveDate,
    next: NaiveDate,
    until: Timestamp,
) -> Tally {
    let (start, end) = (midnight(first), midnight(next).min(until));
    let mut t = Tally {
        month: first,
        working_ms: 0,
        up_ms: 0,
        down_ms: 0,
    };
    let mut i = spans.partition_point(|s| s.1 <= start.millis());
    let mut day = first;
    while day < next {
        if let Some((open, close)) = calendar.hours(day) {
            let (open, close) = (open.max(start).millis(), close.min(end).millis());
            if close > open {
                t.working_ms += close - open;
                let mut j = i;
                while j < spans.len() && spans[j].0 < close {
                    let (a, b) = (spans[j].0.max(open), spans[j].1.min(close));
                    if b > a {
                        match spans[j].2 {
                            State::Up => t.up_ms += b - a,
                            State::Down => t.down_ms += b - a,
                        }
                    }
                    j += 1;
                }
                while i < spans.len() && spans[i].1 <= close {
                    i += 1;
                }
            }
        }
        match day.succ_opt() {
            Some(d) => day = d,
            None => break,
        }
    }
    t
}

/// The spans of evidence `(from, to, state)` in Unix ms, by instant, the
/// neighbours of one state joined.
fn spans(observations: &[Observation]) -> Vec<(i64, i64, State)> {
    let mut out: Vec<(i64, i64, State)> = Vec::new();
    for (i, o) in observations.iter().enumerate() {
        let Some(state) = o.state else { continue };
        let from = o.at.millis();
        let held = from.saturating_add(o.hold_ms);
        let to = observations
            .get(i + 1)
            .map_or(held, |n| n.at.millis().min(held));
        if to <= from {
            continue;
        }
        match out.last_mut() {
            Some(last) if last.2 == state && last.1 == from => last.1 = to,
            _ => out.push((from, to, state)),
        }
    }
    out
}

#[cfg(test)]
mod tests;
