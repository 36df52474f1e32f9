//! Local dates and the instants they stand for: every date of the contract is
//! a Europe/Oslo date, every boundary its local midnight
//! (docs/contract-rules.md). A date given to a command means 00:00 Oslo; a
//! local time that does not exist or occurs twice is refused without an
//! offset.

use chrono::{DateTime, Datelike, Days, LocalResult, Months, NaiveDate, NaiveDateTime, TimeZone};
use chrono_tz::Europe::Oslo;
use chrono_tz::Tz;

use crate::timestamp::Timestamp;

/// Milliseconds in an hour and a day of real time.
pub const HOUR_MS: i64 = 3_600_000;
pub const DAY_MS: i64 = 24 * HOUR_MS;

/// 00:00 Europe/Oslo on `date`. Oslo changes its clocks at 02:00 and 03:00,
/// so midnight always exists exactly once.
pub fn midnight(date: NaiveDate) -> Timestamp {
    let ms = local_instant(date.and_hms_opt(0, 0, 0).unwrap_or_default())
        .map(|t| t.timestamp_millis())
        .unwrap_or_else(|_| {
            date.and_hms_opt(0, 0, 0)
                .unwrap_or_default()
                .and_utc()
                .timestamp_millis()
        });
    Timestamp::from_millis(ms)
}

/// The Oslo local time as an instant; an error names a time that does not
/// exist or occurs twice (DST).
pub fn local_instant(local: NaiveDateTime) -> Result<DateTime<Tz>, String> {
    match Oslo.from_local_datetime(&local) {
        LocalResult::Single(t) => Ok(t),
        LocalResult::Ambiguous(_, _) => Err(format!(
            "{local} occurs twice in Europe/Oslo (clocks go back): give it with an offset"
        )),
        LocalResult::None => Err(format!(
            "{local} does not exist in Europe/Oslo (clocks go forward): give it with an offset"
        )),
    }
}

/// The Oslo date of an instant.
pub fn local_date(at: Timestamp) -> NaiveDate {
    Oslo.timestamp_millis_opt(at.millis())
        .single()
        .map(|t| t.date_naive())
        .unwrap_or_default()
}

/// `date` plus `months` calendar months; a day missing in the target month
/// becomes its last day (2025-01-31 + 1 month = 2025-02-28).
pub fn add_months(date: NaiveDate, months: u32) -> NaiveDate {
    date.checked_add_months(Months::new(months))
        .unwrap_or(NaiveDate::MAX)
}

/// The day before `date`.
pub fn day_before(date: NaiveDate) -> NaiveDate {
    date.checked_sub_days(Days::new(1)).unwrap_or(date)
}

/// The same local wall-clock time `days` calendar days before the instant
/// `at` (the start of the trailing window). A wall-clock time that does not
/// exist that day is taken an hour later; one that occurs twice, the first.
pub fn calendar_days_before(at: Timestamp, days: u64) -> Timestamp {
    let Some(t) = Oslo.timestamp_millis_opt(at.millis()).single() else {
        return at - days as i64 * DAY_MS;
    };
    let local = t.naive_local();
    let Some(earlier) = local.checked_sub_days(Days::new(days)) else {
        return Timestamp::MIN;
    };
    match Oslo.from_local_datetime(&earlier) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => {
            Timestamp::from_millis(t.timestamp_millis())
        }
        LocalResult::None => Oslo
            .from_local_datetime(&(earlier + chrono::Duration::hours(1)))
            .earliest()
            .map_or(at - days as i64 * DAY_MS, |t| {
                Timestamp::from_millis(t.timestamp_millis())
            }),
    }
}

/// The last day of the month `date` is in.
pub fn last_of_month(date: NaiveDate) -> NaiveDate {
    let first = date.with_day(1).unwrap_or(date);
    day_before(add_months(first, 1))
}

/// The last day on which written notice ends a term that expires at `expiry`
/// (exclusive: the term's last day is the day before): 4 whole calendar months
/// before expiry (§1.5). The whole months are those up to the last day when it
/// ends its month, else those before its month.
pub fn notice_deadline(expiry: NaiveDate) -> NaiveDate {
    let last_day = day_before(expiry);
    let first_of_month = last_day.with_day(1).unwrap_or(last_day);
    let months_back = if last_of_month(last_day) == last_day {
        4
    } else {
        5
    };
    let month = first_of_month
        .checked_sub_months(Months::new(months_back))
        .unwrap_or(NaiveDate::MIN);
    last_of_month(month)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn notice_deadlines_of_domain_examples() {
        // Start 2022-07-01 + 60 months: last day 2027-06-30 ends June, so March
        // to June are the 4 whole months; deadline the end of February.
        assert_eq!(notice_deadline(d("2027-07-01")), d("2027-02-28"));
        // Start 2022-07-15: last day 2027-07-14; July is not whole, so March to
        // June again.
        assert_eq!(notice_deadline(d("2027-07-15")), d("2027-02-28"));
        // Leap year: last day 2028-06-30 → February 2028 has 29 days.
        assert_eq!(notice_deadline(d("2028-07-01")), d("2028-02-29"));
        // Expiry on 1 January: last day 31 December → deadline 31 August.
        assert_eq!(notice_deadline(d("2030-01-01")), d("2029-08-31"));
    }

    #[test]
    fn months_are_added_from_the_start_and_clamped() {
        assert_eq!(add_months(d("2025-01-31"), 1), d("2025-02-28"));
        assert_eq!(add_months(d("2024-01-31"), 1), d("2024-02-29"));
        assert_eq!(add_months(d("2025-01-31"), 3), d("2025-04-30"));
        assert_eq!(add_months(d("2025-08-31"), 6), d("2026-02-28"));
        assert_eq!(add_months(d("2024-02-29"), 12), d("2025-02-28"));
    }

    #[test]
    fn midnight_is_local_and_dst_days_have_real_lengths() {
        // 2025-03-30 has 23 hours in Oslo, 2025-10-26 has 25.
        let spring = midnight(d("2025-03-31")) - midnight(d("2025-03-30"));
        let autumn = midnight(d("2025-10-27")) - midnight(d("2025-10-26"));
        assert_eq!(spring, 23 * HOUR_MS);
        assert_eq!(autumn, 25 * HOUR_MS);
        let instant = |text: &str| {
            Timestamp::from_millis(
                DateTime::parse_from_rfc3339(text)
                    .unwrap()
                    .timestamp_millis(),
            )
        };
        assert_eq!(
            midnight(d("2026-01-01")),
            instant("2026-01-01T00:00:00+01:00")
        );
        assert_eq!(
            midnight(d("2025-07-01")),
            instant("2025-07-01T00:00:00+02:00")
        );
        assert_eq!(local_date(midnight(d("2025-07-01"))), d("2025-07-01"));
    }

    #[test]
    fn trailing_window_starts_at_the_same_wall_clock_time() {
        // 2025-06-21 00:00 minus 90 calendar days is 2025-03-23 00:00, which is
        // 2 159 real hours earlier (clocks went forward on 30 March).
        let last = midnight(d("2025-06-21"));
        let anchor = calendar_days_before(last, 90);
        assert_eq!(anchor, midnight(d("2025-03-23")));
        assert_eq!(last - anchor, 2_159 * HOUR_MS);
    }

    #[test]
    fn local_times_that_do_not_exist_or_repeat_are_rejected() {
        let gap = d("2025-03-30").and_hms_opt(2, 30, 0).unwrap();
        assert!(local_instant(gap).unwrap_err().contains("does not exist"));
        let twice = d("2025-10-26").and_hms_opt(2, 30, 0).unwrap();
        assert!(local_instant(twice).unwrap_err().contains("occurs twice"));
    }
}
