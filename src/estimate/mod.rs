//! The value of a meter at a boundary instant (docs/contract-rules.md,
//! "Values at boundaries and estimates"): an exact reading, else linear
//! interpolation in real time between the readings either side — measured
//! (`bracketed`) when both lie within 24 hours, an estimate otherwise — else
//! extrapolation from the last reading at the trailing average rate. Never
//! backwards before the first reading, never from no reading at all or from
//! a single one. Whole pages, half-up.
//!
//! Pure: works on a judged [`Series`]; never reads the clock or the database.

use crate::contract::dates::{DAY_MS, calendar_days_before};
use crate::meters::series::Series;
use crate::timestamp::Timestamp;

/// How a boundary value was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Exact,
    Bracketed,
    Interpolation,
    Extrapolation,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::Exact => "exact",
            Method::Bracketed => "bracketed",
            Method::Interpolation => "interpolation",
            Method::Extrapolation => "extrapolation",
        }
    }

    /// Interpolation and extrapolation are estimates; exact and bracketed are
    /// measured.
    pub fn is_estimate(self) -> bool {
        matches!(self, Method::Interpolation | Method::Extrapolation)
    }
}

/// A meter's value at an instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Boundary {
    pub at: Timestamp,
    /// The value on the counter that was running then.
    pub value: u64,
    /// The cumulative count (see [`Series`]): differences are usage.
    pub cum: i128,
    pub method: Method,
    /// Indices of the points it rests on.
    pub basis: Vec<usize>,
}

/// The value at `at`, or None before the first reading (or with none), and
/// after the last reading when it is the only one (one reading gives no rate).
pub fn value_at(series: &Series, at: Timestamp, trailing_days: u32) -> Option<Boundary> {
    let before = series.at_or_before(at)?;
    let b = series.points[before];
    if b.at == at {
        return Some(Boundary {
            at,
            value: b.value,
            cum: series.cum(before),
            method: Method::Exact,
            basis: vec![before],
        });
    }
    match series.at_or_after(at) {
        Some(after) => Some(interpolate(series, before, after, at)),
        None if series.first() == Some(before) => None,
        None => Some(extrapolate(series, before, at, trailing_days)),
    }
}

fn interpolate(series: &Series, before: usize, after: usize, at: Timestamp) -> Boundary {
    let (tb, ta) = (series.points[before].at, series.points[after].at);
    let (cb, ca) = (series.cum(before), series.cum(after));
    let cum = cb + div_round((ca - cb) * i128::from(at - tb), i128::from(ta - tb));
    let bracketed = at - tb <= DAY_MS && ta - at <= DAY_MS;
    Boundary {
        at,
        value: raw_value(series, cum, before, after),
        cum,
        method: if bracketed {
            Method::Bracketed
        } else {
            Method::Interpolation
        },
        basis: vec![before, after],
    }
}

/// From the last reading `last` at the rate since the same wall-clock time
/// `trailing_days` before it (the value there interpolated), or since the first
/// reading when the history is shorter.
fn extrapolate(series: &Series, last: usize, at: Timestamp, trailing_days: u32) -> Boundary {
    let tl = series.points[last].at;
    let cl = series.cum(last);
    let anchor_at = calendar_days_before(tl, u64::from(trailing_days));
    let first = series.first().unwrap_or(last);
    // The rate is (cl − anchor value) / (tl − anchor time), with the anchor
    // value num/den kept exact: pages·den over time·den.
    let (anchor_t, pages_num, den, mut basis) = if series.points[first].at >= anchor_at {
        let tf = series.points[first].at;
        (tf, cl - series.cum(first), 1, vec![first])
    } else {
        let b = series.at_or_before(anchor_at).unwrap_or(first);
        let a = series.at_or_after(anchor_at).unwrap_or(last);
        let (tb, ta) = (series.points[b].at, series.points[a].at);
        let (cb, ca) = (series.cum(b), series.cum(a));
        if ta == tb {
            (anchor_at, cl - cb, 1, vec![b])
        } else {
            let span = i128::from(ta - tb);
            // cl − (cb + (ca − cb)(anchor − tb)/span), times span.
            let num = (cl - cb) * span - (ca - cb) * i128::from(anchor_at - tb);
            (anchor_at, num, span, vec![b, a])
        }
    };
    let elapsed = i128::from(tl - anchor_t);
    let cum = if elapsed <= 0 {
        cl
    } else {
        cl + div_round(pages_num * i128::from(at - tl), den * elapsed)
    };
    basis.retain(|i| *i != last);
    basis.push(last);
    basis.dedup();
    Boundary {
        at,
        value: raw_value(series, cum, last, last),
        cum,
        method: Method::Extrapolation,
        basis,
    }
}

/// The counter's own value for a cumulative count between points `before`
/// and `after`: on the later counter where it had started, else the earlier.
fn raw_value(series: &Series, cum: i128, before: usize, after: usize) -> u64 {
    let on_after = cum - series.offset(after);
    let raw = if on_after >= 0 {
        on_after
    } else {
        cum - series.offset(before)
    };
    u64::try_from(raw.rem_euclid(1 << 64)).unwrap_or(0)
}

/// `num / den` rounded half away from zero; `den` > 0.
pub fn div_round(num: i128, den: i128) -> i128 {
    let q = (2 * num.abs() + den) / (2 * den);
    if num < 0 { -q } else { q }
}

#[cfg(test)]
mod tests;
