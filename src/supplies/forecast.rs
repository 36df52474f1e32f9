//! When a supply runs out: replacements found in its level history, and a
//! least-squares line of level against working time (the uptime calendar:
//! toner is used when people work) since the last replacement, the date it
//! reaches 0, with an 80 % interval from the slope's standard error.
//!
//! Pure: takes the levels, returns dates or why there is none.

use chrono::NaiveDate;

use crate::contract::dates::local_date;
use crate::timestamp::Timestamp;
use crate::uptime::{Calendar, WorkingTime};

/// A level as stored: when it was first read, raw and as a percentage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Level {
    pub at: Timestamp,
    /// As reported (−1 no limit, −2 unknown, −3 some remaining).
    pub level: i64,
    /// level ÷ max in %, None for the negative levels.
    pub percent: Option<i64>,
}

/// A rise of this many points or more between two readings is a new
/// cartridge.
const REPLACED_RISE: i64 = 30;
/// From "some remaining" or a low level to at least this: a new cartridge.
const REPLACED_AT_LEAST: i64 = 70;
/// Below this a level is low.
const LOW: i64 = 10;

/// The indices of the levels that start a new cartridge: a rise of 30
/// points or more, or from −3 ("some remaining") or a low level to 70 % or
/// more.
pub fn replacements(levels: &[Level]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut before: Option<&Level> = None;
    for (i, l) in levels.iter().enumerate() {
        if let (Some(b), Some(now)) = (before, l.percent) {
            let rose = b.percent.is_some_and(|p| now - p >= REPLACED_RISE);
            let from_low = b.level == -3 || b.percent.is_some_and(|p| p < LOW);
            if rose || (from_low && now >= REPLACED_AT_LEAST) {
                out.push(i);
            }
        }
        if l.percent.is_some() || l.level == -3 {
            before = Some(l);
        }
    }
    out
}

/// Why a supply has no forecast.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoForecast {
    /// Fewer than two distinct levels, or less than 5 working days between
    /// them, since the last replacement.
    TooFewLevels,
    /// The level is −3: "some remaining", no figure to follow.
    SomeRemaining,
    /// The level is −2: unknown.
    Unknown,
    /// The supply reports no limit (−1), or a level that is not falling.
    NotFalling,
    /// A new cartridge was put in and has not fallen yet.
    JustReplaced,
}

impl NoForecast {
    pub fn name(self) -> &'static str {
        match self {
            NoForecast::TooFewLevels => "too_few_levels",
            NoForecast::SomeRemaining => "some_remaining",
            NoForecast::Unknown => "unknown_level",
            NoForecast::NotFalling => "not_falling",
            NoForecast::JustReplaced => "just_replaced",
        }
    }
}

/// When a supply is forecast to be empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Forecast {
    /// The day the line reaches 0 (Oslo).
    pub empty_on: NaiveDate,
    /// The 80 % interval (with three or more levels; the slope's standard
    /// error): the earliest and latest days. `latest` is None when the
    /// slowest slope in the interval never reaches 0.
    pub interval: Option<(NaiveDate, Option<NaiveDate>)>,
    /// Working days from now to `empty_on` (0 when it is past).
    pub working_days: u32,
    /// The levels the line was fitted to.
    pub levels: usize,
}

/// The least number of working days the levels must span.
const SPAN_WORKING_DAYS: i64 = 5;
const WORKING_DAY_MS: i64 = 8 * 3_600_000;

/// The working time around `now` a fleet's forecasts are worked out on:
/// a year before it to four years after.
pub fn working_time(calendar: &Calendar, now: Timestamp) -> WorkingTime {
    let today = local_date(now);
    let first = today
        .checked_sub_days(chrono::Days::new(400))
        .unwrap_or(today);
    let last = today
        .checked_add_days(chrono::Days::new(4 * 366))
        .unwrap_or(today);
    WorkingTime::new(calendar, first, last)
}

/// The forecast of a supply from its levels (by instant), at `now`, on the
/// working time of [`working_time`].
pub fn days_to_empty(
    levels: &[Level],
    time: &WorkingTime,
    now: Timestamp,
) -> Result<Forecast, NoForecast> {
    let Some(last) = levels.last() else {
        return Err(NoForecast::TooFewLevels);
    };
    match last.level {
        -3 => return Err(NoForecast::SomeRemaining),
        -2 => return Err(NoForecast::Unknown),
        l if l < 0 => return Err(NoForecast::NotFalling),
        _ => {}
    }
    let since = replacements(levels).last().copied().unwrap_or(0);
    // The first reading at each new level since the cartridge went in.
    let mut points: Vec<(Timestamp, i64)> = Vec::new();
    for l in &levels[since..] {
        let Some(p) = l.percent else { continue };
        if points.last().is_none_or(|(_, q)| *q != p) {
            points.push((l.at, p));
        }
    }
    if points.len() < 2 {
        return Err(if since > 0 {
            NoForecast::JustReplaced
        } else {
            NoForecast::TooFewLevels
        });
    }
    let origin = points[0].0;
    // Working days from the first point, step by step (each step walks
    // only the days between two levels).
    let mut x: Vec<f64> = Vec::with_capacity(points.len());
    let mut ms = 0i64;
    for (i, (at, _)) in points.iter().enumerate() {
        if i > 0 {
            ms += time.between(points[i - 1].0, *at);
        }
        x.push(ms as f64 / WORKING_DAY_MS as f64);
    }
    let y: Vec<f64> = points.iter().map(|(_, p)| *p as f64).collect();
    if x.last().copied().unwrap_or(0.0) < SPAN_WORKING_DAYS as f64 {
        return Err(NoForecast::TooFewLevels);
    }
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let sxx: f64 = x.iter().map(|v| (v - mx).powi(2)).sum();
    let sxy: f64 = x.iter().zip(&y).map(|(a, b)| (a - mx) * (b - my)).sum();
    if sxx <= 0.0 {
        return Err(NoForecast::TooFewLevels);
    }
    let slope = sxy / sxx;
    if slope >= 0.0 {
        return Err(NoForecast::NotFalling);
    }
    // Working days from the origin to 0, for a slope.
    let zero_at = |b: f64| -> Option<f64> {
        (b < 0.0).then(|| {
            // Through the centre of the points, as the fitted line is.
            mx + (0.0 - my) / b
        })
    };
    let day_of = |days: f64| -> NaiveDate {
        let ms = (days.max(0.0) * WORKING_DAY_MS as f64).round() as i64;
        local_date(time.after(origin, ms))
    };
    let empty = zero_at(slope).unwrap_or(f64::INFINITY);
    let interval = (points.len() >= 3).then(|| {
        let sse: f64 = x
            .iter()
            .zip(&y)
            .map(|(a, b)| (b - (my + slope * (a - mx))).powi(2))
            .sum();
        let se = (sse / (n - 2.0)).sqrt() / sxx.sqrt();
        let t = t_80(points.len() - 2);
        let fast = zero_at(slope - t * se).unwrap_or(empty);
        let slow = zero_at(slope + t * se);
        (day_of(fast), slow.map(day_of))
    });
    let empty_on = day_of(empty);
    let last_at = points.last().map_or(origin, |p| p.0);
    let now_days = (ms + time.between(last_at, now)) as f64 / WORKING_DAY_MS as f64;
    let working_days = (empty - now_days).max(0.0).ceil() as u32;
    Ok(Forecast {
        empty_on,
        interval,
        working_days,
        levels: points.len(),
    })
}

/// Student's t for a two-sided 80 % interval with `df` degrees of freedom
/// (the 0.90 quantile), from the published table.
fn t_80(df: usize) -> f64 {
    const TABLE: [f64; 30] = [
        3.078, 1.886, 1.638, 1.533, 1.476, 1.440, 1.415, 1.397, 1.383, 1.372, 1.363, 1.356, 1.350,
        1.345, 1.341, 1.337, 1.333, 1.330, 1.328, 1.325, 1.323, 1.321, 1.319, 1.318, 1.316, 1.315,
        1.314, 1.313, 1.311, 1.310,
    ];
    match df {
        0 => f64::INFINITY,
        1..=30 => TABLE[df - 1],
        31..=60 => 1.296,
        61..=120 => 1.289,
        _ => 1.282,
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;

    fn t(text: &str) -> Timestamp {
        Timestamp::from(text.parse::<DateTime<Utc>>().unwrap())
    }

    fn level(at: &str, percent: i64) -> Level {
        Level {
            at: t(at),
            level: percent,
            percent: Some(percent),
        }
    }

    fn d(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn a_steady_fall_reaches_zero_on_the_working_day_the_line_says() {
        // 2 points a working day down, from 60 % on Monday 2026-06-01 09:00
        // Oslo (07:00Z), read each morning for two weeks: 60, 58, … 42 on
        // Friday 06-12. 60 ÷ 2 = 30 working days from the first: Monday
        // 2026-07-13 09:00 (June has no holiday after the 1st).
        let days = [
            "2026-06-01",
            "2026-06-02",
            "2026-06-03",
            "2026-06-04",
            "2026-06-05",
            "2026-06-08",
            "2026-06-09",
            "2026-06-10",
            "2026-06-11",
            "2026-06-12",
        ];
        let levels: Vec<Level> = days
            .iter()
            .enumerate()
            .map(|(i, day)| level(&format!("{day}T07:00:00Z"), 60 - 2 * i as i64))
            .collect();
        let now = t("2026-06-12T12:00:00Z");
        let f = days_to_empty(&levels, &working_time(&Calendar::default(), now), now).unwrap();
        assert_eq!(f.empty_on, d("2026-07-13"));
        assert_eq!(f.levels, 10);
        // A perfect line: the interval is that day.
        assert_eq!(f.interval, Some((d("2026-07-13"), Some(d("2026-07-13")))));
        // From Friday 06-12 14:00 Oslo, 77 working hours after the first
        // reading: 240 − 77 = 163 h, 20 working days and 3 hours, in 21.
        assert_eq!(f.working_days, 21);
    }

    #[test]
    fn no_forecast_says_why() {
        let now = t("2026-06-20T12:00:00Z");
        let cal = working_time(&Calendar::default(), now);
        // One level, or two within a day: too few.
        assert_eq!(
            days_to_empty(&[level("2026-06-01T07:00:00Z", 50)], &cal, now),
            Err(NoForecast::TooFewLevels)
        );
        let close = [
            level("2026-06-01T07:00:00Z", 50),
            level("2026-06-01T12:00:00Z", 49),
        ];
        assert_eq!(
            days_to_empty(&close, &cal, now),
            Err(NoForecast::TooFewLevels)
        );
        // −3 and −2 end it.
        let mut some = vec![
            level("2026-06-01T07:00:00Z", 50),
            level("2026-06-10T07:00:00Z", 40),
        ];
        some.push(Level {
            at: t("2026-06-11T07:00:00Z"),
            level: -3,
            percent: None,
        });
        assert_eq!(
            days_to_empty(&some, &cal, now),
            Err(NoForecast::SomeRemaining)
        );
        some.push(Level {
            at: t("2026-06-12T07:00:00Z"),
            level: -2,
            percent: None,
        });
        assert_eq!(days_to_empty(&some, &cal, now), Err(NoForecast::Unknown));
        // A new cartridge at 100 % after 8 %: just replaced, no forecast yet.
        let replaced = [
            level("2026-06-01T07:00:00Z", 20),
            level("2026-06-08T07:00:00Z", 8),
            level("2026-06-09T07:00:00Z", 100),
        ];
        assert_eq!(replacements(&replaced), [2]);
        assert_eq!(
            days_to_empty(&replaced, &cal, now),
            Err(NoForecast::JustReplaced)
        );
        // From −3 to 75 %: also a new cartridge; a rise of 20 is not.
        let from_some = [
            Level {
                at: t("2026-06-01T07:00:00Z"),
                level: -3,
                percent: None,
            },
            level("2026-06-02T07:00:00Z", 75),
            level("2026-06-03T07:00:00Z", 95),
        ];
        assert_eq!(replacements(&from_some), [1]);
    }

    #[test]
    fn noisy_levels_get_an_interval_around_the_date() {
        // Down about 1 point a working day with ±1 of noise over 20 working
        // days from 80 %: the date about 80 working days on, the interval
        // around it.
        let mut levels = Vec::new();
        let mut day = d("2026-08-03");
        let cal = Calendar::default();
        let mut i = 0i64;
        while levels.len() < 20 {
            if cal.is_working_day(day) {
                let noise = [0, 1, -1, 0, 1][(i % 5) as usize];
                levels.push(level(&format!("{day}T07:00:00Z"), 80 - i + noise));
                i += 1;
            }
            day = day.succ_opt().unwrap();
        }
        let now = t("2026-08-31T12:00:00Z");
        let f = days_to_empty(&levels, &working_time(&cal, now), now).unwrap();
        let (early, late) = f.interval.unwrap();
        let late = late.unwrap();
        assert!(early <= f.empty_on && f.empty_on <= late, "{f:?}");
        assert!(early < late, "{f:?}");
        assert!(
            f.empty_on > d("2026-11-01") && f.empty_on < d("2027-01-15"),
            "{f:?}"
        );
    }
}

/// Cartridges used in a window (§4.3), in points of a cartridge (100: one
/// whole cartridge): per cartridge, the net level fallen from its first
/// level in the window after it went in to its last before the next
/// replacement (or the last level), summed. Levels of −1/−2/−3 are never
/// used as numbers.
pub fn used_points(levels: &[Level]) -> i64 {
    let starts = replacements(levels);
    let mut bounds: Vec<usize> = std::iter::once(0).chain(starts.iter().copied()).collect();
    bounds.push(levels.len());
    let mut fallen = 0i64;
    for pair in bounds.windows(2) {
        let known: Vec<i64> = levels[pair[0]..pair[1]]
            .iter()
            .filter_map(|l| l.percent)
            .collect();
        if let (Some(first), Some(last)) = (known.first(), known.last()) {
            fallen += (first - last).max(0);
        }
    }
    fallen
}

#[cfg(test)]
mod used {
    use super::*;

    #[test]
    fn used_points_sum_the_level_fallen_per_cartridge() {
        let l = |day: u32, p: i64| Level {
            at: Timestamp::from_millis(i64::from(day) * 86_400_000),
            level: p,
            percent: Some(p),
        };
        // 80 → 5 (75), a new one at 100 → 60 (40): 1.15 cartridges. A −3
        // in between is no number.
        let mut levels = vec![l(1, 80), l(5, 40), l(9, 5), l(10, 100), l(20, 60)];
        levels.insert(
            3,
            Level {
                at: Timestamp::from_millis(9 * 86_400_000 + 1),
                level: -3,
                percent: None,
            },
        );
        assert_eq!(used_points(&levels), 115);
        assert_eq!(used_points(&[]), 0);
    }
}
