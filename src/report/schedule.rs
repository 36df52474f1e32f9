//! Scheduled reports: what a `[[report]]` makes (kind and format), when it is
//! due (a cron schedule in Europe/Oslo), which runs were missed, what period
//! a run covers and the name of its file.
//!
//! Pure: every time is an argument.

use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};
use chrono_tz::Europe::Oslo;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

/// What a report holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The counter report of the previous month.
    Counters,
    /// The vendor's billing import at the run date.
    VendorBilling,
}

impl Kind {
    pub fn parse(text: &str) -> Option<Kind> {
        match text {
            "counters" => Some(Kind::Counters),
            "vendor-billing" => Some(Kind::VendorBilling),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Counters => "counters",
            Kind::VendorBilling => "vendor-billing",
        }
    }

    /// The formats this kind is written in.
    pub fn formats(self) -> &'static [Format] {
        match self {
            Kind::Counters => &[Format::Csv, Format::Xlsx, Format::Json],
            Kind::VendorBilling => &[Format::Csv, Format::Json],
        }
    }
}

/// The file format of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Xlsx,
    Json,
}

impl Format {
    pub fn parse(text: &str) -> Option<Format> {
        match text {
            "csv" => Some(Format::Csv),
            "xlsx" => Some(Format::Xlsx),
            "json" => Some(Format::Json),
            _ => None,
        }
    }

    /// The name, which is also the file's extension.
    pub fn name(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
            Format::Json => "json",
        }
    }

    /// The media type of the file.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Format::Json => "application/json",
        }
    }
}

/// A five-field cron schedule (minute hour day-of-month month day-of-week),
/// read in Europe/Oslo time.
#[derive(Debug, Clone)]
pub struct Schedule {
    cron: Cron,
    text: String,
}

impl PartialEq for Schedule {
    fn eq(&self, other: &Schedule) -> bool {
        self.text == other.text
    }
}

impl Schedule {
    /// Parses `minute hour day month weekday`, e.g. `0 6 1 * *`.
    pub fn parse(text: &str) -> Result<Schedule, String> {
        let fields = text.split_whitespace().count();
        if fields != 5 {
            return Err(format!(
                "`{text}` has {fields} fields: give five (minute hour day-of-month month \
                 day-of-week), e.g. \"0 6 1 * *\""
            ));
        }
        let cron = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .build()
            .parse(text)
            .map_err(|e| format!("`{text}` is not a cron schedule: {e}"))?;
        // A schedule that never comes (e.g. 30 February) is refused now.
        let probe = DateTime::from_timestamp(946_684_800, 0).expect("2000-01-01 is a time");
        if cron
            .find_next_occurrence(&probe.with_timezone(&Oslo), false)
            .is_err()
        {
            return Err(format!("`{text}` never comes"));
        }
        Ok(Schedule {
            cron,
            text: text.trim().to_owned(),
        })
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// The first time it is due after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron
            .find_next_occurrence(&after.with_timezone(&Oslo), false)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    /// The times it was due after `after` and up to `now`, oldest first: at
    /// most `max` (the latest), and how many earlier ones were left out.
    pub fn due(
        &self,
        after: DateTime<Utc>,
        now: DateTime<Utc>,
        max: usize,
    ) -> (Vec<DateTime<Utc>>, usize) {
        let mut times = Vec::new();
        let mut skipped = 0;
        let mut cursor = after;
        while let Some(t) = self.next_after(cursor).filter(|t| *t <= now) {
            if times.len() == max {
                times.remove(0);
                skipped += 1;
            }
            times.push(t);
            cursor = t;
        }
        (times, skipped)
    }
}

/// What a run covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// The counter report: `from` (the first of a month) up to `to` (the
    /// first of the next), values at 00:00 Europe/Oslo.
    Month { from: NaiveDate, to: NaiveDate },
    /// The vendor import: values at 00:00 of this day.
    Day(NaiveDate),
}

impl Period {
    /// The period of a run on the local date `date`: the counter report
    /// covers the month before; the vendor import is at that date.
    pub fn of_run(kind: Kind, date: NaiveDate) -> Period {
        match kind {
            Kind::Counters => {
                let to = date.with_day(1).expect("every month has a first day");
                let from = to - Months::new(1);
                Period::Month { from, to }
            }
            Kind::VendorBilling => Period::Day(date),
        }
    }

    /// `YYYY-MM` of a month, `YYYY-MM-DD` of a day.
    pub fn label(self) -> String {
        match self {
            Period::Month { from, .. } => from.format("%Y-%m").to_string(),
            Period::Day(day) => day.format("%Y-%m-%d").to_string(),
        }
    }
}

/// The file of a run: `{name}_{YYYY-MM|YYYY-MM-DD}.{ext}`.
pub fn file_name(name: &str, period: Period, format: Format) -> String {
    format!("{name}_{}.{}", period.label(), format.name())
}

/// Whether `name` can name a report: it becomes part of a file name and a
/// URL, so letters, digits, `-`, `_` and `.` only, not starting with `.`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests;
