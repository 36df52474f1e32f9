//! The working calendar of the contract's uptime: Monday to Friday,
//! 08:00–16:00 Europe/Oslo, without Norwegian public holidays and the days
//! the config closes. Easter by the Gregorian computus (the anonymous
//! algorithm, as Meeus gives it).

use std::collections::BTreeSet;

use chrono::{Datelike, Days, NaiveDate, NaiveTime, Weekday};

use crate::contract::dates::{local_date, local_instant};
use crate::timestamp::Timestamp;

/// Working hours start and end (Oslo wall clock).
const OPENS: u32 = 8;
const CLOSES: u32 = 16;

/// Easter Sunday of a Gregorian year.
pub fn easter_sunday(year: i32) -> NaiveDate {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, month as u32, day as u32).unwrap_or_default()
}

/// The Norwegian public holidays of a year that can fall on a weekday
/// (helligdager): 1 January, Maundy Thursday, Good Friday, Easter Monday,
/// 1 May, 17 May, Ascension Day, Whit Monday, 25 and 26 December.
pub fn holidays(year: i32) -> [NaiveDate; 10] {
    let easter = easter_sunday(year);
    let from_easter = |days: i64| easter + chrono::Duration::days(days);
    let date = |m, d| NaiveDate::from_ymd_opt(year, m, d).unwrap_or_default();
    [
        date(1, 1),
        from_easter(-3),
        from_easter(-2),
        from_easter(1),
        date(5, 1),
        date(5, 17),
        from_easter(39),
        from_easter(50),
        date(12, 25),
        date(12, 26),
    ]
}

/// The working calendar: weekdays without holidays and `closed` days.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Calendar {
    pub closed: BTreeSet<NaiveDate>,
}

impl Calendar {
    pub fn new(closed: impl IntoIterator<Item = NaiveDate>) -> Calendar {
        Calendar {
            closed: closed.into_iter().collect(),
        }
    }

    /// Whether `day` has working hours.
    pub fn is_working_day(&self, day: NaiveDate) -> bool {
        !matches!(day.weekday(), Weekday::Sat | Weekday::Sun)
            && !self.closed.contains(&day)
            && !holidays(day.year()).contains(&day)
    }

    /// The working hours of `day` as instants, when it has any.
    pub fn hours(&self, day: NaiveDate) -> Option<(Timestamp, Timestamp)> {
        if !self.is_working_day(day) {
            return None;
        }
        // 08:00 and 16:00 exist once on every day (the clocks change at
        // 02:00 and 03:00).
        let at = |h| {
            local_instant(day.and_time(NaiveTime::from_hms_opt(h, 0, 0).unwrap_or_default()))
                .map(|t| Timestamp::from_millis(t.timestamp_millis()))
                .ok()
        };
        Some((at(OPENS)?, at(CLOSES)?))
    }

    /// The instant `ms` working milliseconds after `from` (a year of
    /// working days at most, so a forecast never walks the calendar for
    /// ever).
    pub fn after_working_ms(&self, from: Timestamp, ms: i64) -> Timestamp {
        let mut left = ms.max(0);
        let mut day = local_date(from);
        for _ in 0..3_660 {
            if let Some((open, close)) = self.hours(day) {
                let start = open.max(from);
                if close > start {
                    let here = close.millis() - start.millis();
                    if left <= here {
                        return Timestamp::from_millis(start.millis() + left);
                    }
                    left -= here;
                }
            }
            match day.checked_add_days(Days::new(1)) {
                Some(next) => day = next,
                None => break,
            }
        }
        Timestamp::from_millis(from.millis().saturating_add(ms))
    }

    /// Working milliseconds in `[from, to)`.
    pub fn working_ms(&self, from: Timestamp, to: Timestamp) -> i64 {
        if to <= from {
            return 0;
        }
        let mut total = 0;
        let mut day = local_date(from);
        let last = local_date(to);
        while day <= last {
            if let Some((open, close)) = self.hours(day) {
                let (a, b) = (open.max(from), close.min(to));
                if b > a {
                    total += b.millis() - a.millis();
                }
            }
            match day.checked_add_days(Days::new(1)) {
                Some(next) => day = next,
                None => break,
            }
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn easter_matches_the_published_dates() {
        // Easter Sunday, from the published tables of the Gregorian Easter.
        for (year, date) in [
            (1900, "1900-04-15"),
            (1943, "1943-04-25"),
            (1961, "1961-04-02"),
            (2000, "2000-04-23"),
            (2008, "2008-03-23"),
            (2011, "2011-04-24"),
            (2019, "2019-04-21"),
            (2024, "2024-03-31"),
            (2025, "2025-04-20"),
            (2026, "2026-04-05"),
            (2027, "2027-03-28"),
            (2028, "2028-04-16"),
            (2029, "2029-04-01"),
            (2030, "2030-04-21"),
            (2038, "2038-04-25"),
            (2100, "2100-03-28"),
        ] {
            assert_eq!(easter_sunday(year), d(date), "{year}");
        }
    }

    #[test]
    fn norwegian_holidays_2024_to_2030() {
        // The official lists (helligdager), weekday or not.
        let expected = [
            (
                2024,
                [
                    "2024-01-01",
                    "2024-03-28",
                    "2024-03-29",
                    "2024-04-01",
                    "2024-05-01",
                    "2024-05-17",
                    "2024-05-09",
                    "2024-05-20",
                    "2024-12-25",
                    "2024-12-26",
                ],
            ),
            (
                2025,
                [
                    "2025-01-01",
                    "2025-04-17",
                    "2025-04-18",
                    "2025-04-21",
                    "2025-05-01",
                    "2025-05-17",
                    "2025-05-29",
                    "2025-06-09",
                    "2025-12-25",
                    "2025-12-26",
                ],
            ),
            (
                2026,
                [
                    "2026-01-01",
                    "2026-04-02",
                    "2026-04-03",
                    "2026-04-06",
                    "2026-05-01",
                    "2026-05-17",
                    "2026-05-14",
                    "2026-05-25",
                    "2026-12-25",
                    "2026-12-26",
                ],
            ),
            (
                2027,
                [
                    "2027-01-01",
                    "2027-03-25",
                    "2027-03-26",
                    "2027-03-29",
                    "2027-05-01",
                    "2027-05-17",
                    "2027-05-06",
                    "2027-05-17",
                    "2027-12-25",
                    "2027-12-26",
                ],
            ),
            (
                2028,
                [
                    "2028-01-01",
                    "2028-04-13",
                    "2028-04-14",
                    "2028-04-17",
                    "2028-05-01",
                    "2028-05-17",
                    "2028-05-25",
                    "2028-06-05",
                    "2028-12-25",
                    "2028-12-26",
                ],
            ),
            (
                2029,
                [
                    "2029-01-01",
                    "2029-03-29",
                    "2029-03-30",
                    "2029-04-02",
                    "2029-05-01",
                    "2029-05-17",
                    "2029-05-10",
                    "2029-05-21",
                    "2029-12-25",
                    "2029-12-26",
                ],
            ),
            (
                2030,
                [
                    "2030-01-01",
                    "2030-04-18",
                    "2030-04-19",
                    "2030-04-22",
                    "2030-05-01",
                    "2030-05-17",
                    "2030-05-30",
                    "2030-06-10",
                    "2030-12-25",
                    "2030-12-26",
                ],
            ),
        ];
        for (year, days) in expected {
            let mut got: Vec<NaiveDate> = holidays(year).to_vec();
            let mut want: Vec<NaiveDate> = days.iter().map(|t| d(t)).collect();
            got.sort();
            want.sort();
            assert_eq!(got, want, "{year}");
        }
    }

    #[test]
    fn the_working_time_table_answers_as_the_calendar_does() {
        let c = Calendar::new([d("2026-12-24")]);
        let table = WorkingTime::new(&c, d("2026-03-01"), d("2027-01-31"));
        let start = crate::contract::midnight(d("2026-03-20")).millis();
        // Instants 7 h 13 min apart (every hour of the day comes round)
        // across both DST changes, Easter and Christmas.
        let step = (7 * 60 + 13) * 60_000;
        let instants: Vec<Timestamp> = (0..900)
            .map(|i| Timestamp::from_millis(start + i * step))
            .collect();
        for pair in instants.windows(3) {
            let (a, b) = (pair[0], pair[2]);
            assert_eq!(table.between(a, b), c.working_ms(a, b), "{a:?} {b:?}");
            let ms = c.working_ms(a, b);
            let after = table.after(a, ms);
            assert_eq!(c.working_ms(a, after), ms, "{a:?} + {ms}");
            if ms > 0 {
                // (No working time after an evening is that evening for
                // the one, the next morning for the other: both right.)
                assert_eq!(c.after_working_ms(a, ms), after, "{a:?} + {ms}");
            }
        }
    }

    #[test]
    fn working_time_counts_weekday_hours_across_dst_and_holidays() {
        let c = Calendar::default();
        let day = |t: &str| crate::contract::midnight(d(t));
        // May 2026: 21 weekdays, of which 1 May, 14 May (Ascension) and 25
        // May (Whit Monday) are holidays: 18 days × 8 h = 144 h.
        assert_eq!(
            c.working_ms(day("2026-05-01"), day("2026-06-01")),
            144 * 3_600_000
        );
        // The DST days are whole 8-hour working days (Monday 2026-03-30
        // after the spring change; Monday 2026-10-26 after the autumn one).
        assert_eq!(
            c.working_ms(day("2026-03-30"), day("2026-03-31")),
            8 * 3_600_000
        );
        assert_eq!(
            c.working_ms(day("2026-10-26"), day("2026-10-27")),
            8 * 3_600_000
        );
        // The week of Sunday 2026-03-29 (the clocks go forward): 5 days.
        assert_eq!(
            c.working_ms(day("2026-03-29"), day("2026-04-05")),
            3 * 8 * 3_600_000,
            "Maundy Thursday and Good Friday"
        );
        // Christmas Eve is a working day unless the config closes it.
        assert!(c.is_working_day(d("2026-12-24")));
        let closed = Calendar::new([d("2026-12-24")]);
        assert!(!closed.is_working_day(d("2026-12-24")));
        // Part of a day: 10:00 to 12:00 on a Monday.
        let t = |s: &str| Timestamp::from(s.parse::<chrono::DateTime<chrono::Utc>>().unwrap());
        assert_eq!(
            c.working_ms(t("2026-05-11T08:00:00Z"), t("2026-05-11T10:00:00Z")),
            2 * 3_600_000
        );
        assert_eq!(
            c.working_ms(t("2026-05-11T15:00:00Z"), t("2026-05-11T20:00:00Z")),
            0
        );
    }
}

/// The working hours of a span of days, kept with their running sums, so
/// the working time between two instants, or the instant some working time
/// after another, is found by a binary search: no calendar or time-zone
/// work per question (a fleet's forecasts ask millions of them).
#[derive(Debug, Clone)]
pub struct WorkingTime {
    /// Each working day's opening and closing instants (Unix ms), in order.
    days: Vec<(i64, i64)>,
    /// The working ms of the days before each.
    before: Vec<i64>,
}

impl WorkingTime {
    /// The working days of `calendar` from `first` to `last`, both included.
    pub fn new(calendar: &Calendar, first: NaiveDate, last: NaiveDate) -> WorkingTime {
        let mut days = Vec::new();
        let mut before = Vec::new();
        let mut total = 0;
        let mut day = first;
        while day <= last {
            if let Some((open, close)) = calendar.hours(day) {
                before.push(total);
                days.push((open.millis(), close.millis()));
                total += close.millis() - open.millis();
            }
            match day.checked_add_days(Days::new(1)) {
                Some(next) => day = next,
                None => break,
            }
        }
        WorkingTime { days, before }
    }

    /// Working ms from the start of the span to `at`.
    fn upto(&self, at: i64) -> i64 {
        let i = self.days.partition_point(|d| d.1 <= at);
        let done = match self.before.get(i) {
            Some(b) => *b,
            None => {
                return self
                    .before
                    .last()
                    .map_or(0, |b| b + self.days[i - 1].1 - self.days[i - 1].0);
            }
        };
        done + (at - self.days[i].0).clamp(0, self.days[i].1 - self.days[i].0)
    }

    /// Working ms in `[from, to)` (within the span).
    pub fn between(&self, from: Timestamp, to: Timestamp) -> i64 {
        (self.upto(to.millis()) - self.upto(from.millis())).max(0)
    }

    /// The instant `ms` working ms after `from` (at the end of a day, its
    /// close); the span's end when it ends first.
    pub fn after(&self, from: Timestamp, ms: i64) -> Timestamp {
        let target = self.upto(from.millis()) + ms.max(0);
        // The day the target falls in; at a day's end, that day's close.
        let i = self.before.partition_point(|b| *b < target);
        let Some(i) = i.checked_sub(1) else {
            return from;
        };
        let (open, close) = self.days[i];
        Timestamp::from_millis((open + target - self.before[i]).min(close))
    }
}
