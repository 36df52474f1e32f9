//! How instants and numbers are shown to people: the `[display]` table.
//!
//! `timezone` is the zone every instant is shown in, by the command line and
//! the API alike (RFC 3339 with that zone's offset, so an instant is never
//! ambiguous). The contract's own dates do not move with it: a period starts
//! at 00:00 Europe/Oslo whatever is shown, and a time given without an offset
//! is read as Oslo time, like the contract's dates.
//!
//! `locale` is how numbers are written for people: amounts and page counts in
//! the terminal's invoices, and the web pages. Files for machines (CSV, the
//! vendor export, JSON) always use plain `1234.50`.

use chrono::TimeZone;
use chrono_tz::Tz;
use rust_decimal::Decimal;

use crate::timestamp::Timestamp;

/// How numbers are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Locale {
    /// Norwegian: `1 234 567,50` (a no-break space between thousands).
    #[default]
    NbNo,
    /// English: `1,234,567.50`.
    EnGb,
}

impl Locale {
    /// The config's name of the locale.
    pub fn name(self) -> &'static str {
        match self {
            Locale::NbNo => "nb-NO",
            Locale::EnGb => "en-GB",
        }
    }

    fn separators(self) -> (char, char) {
        match self {
            Locale::NbNo => ('\u{a0}', ','),
            Locale::EnGb => (',', '.'),
        }
    }
}

/// The `[display]` settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Display {
    pub timezone: Tz,
    pub locale: Locale,
}

impl Default for Display {
    fn default() -> Display {
        Display {
            timezone: chrono_tz::Europe::Oslo,
            locale: Locale::NbNo,
        }
    }
}

impl Display {
    /// An instant as RFC 3339 in the display zone, e.g.
    /// `2026-01-01T00:00:00+01:00` (milliseconds only when there are any;
    /// `Z` for UTC's zero offset is written `+00:00`).
    pub fn instant(&self, at: Timestamp) -> String {
        let ms = at.millis();
        let Some(t) = self.timezone.timestamp_millis_opt(ms).single() else {
            return ms.to_string();
        };
        // RFC 3339 written directly (the same text as the format
        // `%Y-%m-%dT%H:%M:%S%:z`, which is parsed again at every call: a
        // fleet's boundary values are tens of thousands of instants).
        let digits = if ms % 1000 == 0 {
            chrono::SecondsFormat::Secs
        } else {
            chrono::SecondsFormat::Millis
        };
        t.to_rfc3339_opts(digits, false)
    }

    /// A decimal number as people read it: thousands grouped, the locale's
    /// decimal mark, the scale kept (`1234.50` → `1 234,50`).
    pub fn number(&self, value: Decimal) -> String {
        let (group, mark) = self.locale.separators();
        let plain = value.to_string();
        let (sign, digits) = match plain.strip_prefix('-') {
            Some(rest) => ("-", rest),
            None => ("", plain.as_str()),
        };
        let (whole, fraction) = match digits.split_once('.') {
            Some((w, f)) => (w, Some(f)),
            None => (digits, None),
        };
        let mut out = String::from(sign);
        let count = whole.chars().count();
        for (i, c) in whole.chars().enumerate() {
            if i > 0 && (count - i) % 3 == 0 {
                out.push(group);
            }
            out.push(c);
        }
        if let Some(f) = fraction {
            out.push(mark);
            out.push_str(f);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn an_instant_is_shown_in_the_display_zone_with_its_offset() {
        let at = Timestamp::from_millis(1_767_222_000_000); // 2025-12-31T23:00:00Z
        let oslo = Display::default();
        assert_eq!(oslo.instant(at), "2026-01-01T00:00:00+01:00");
        let utc = Display {
            timezone: Tz::UTC,
            ..oslo
        };
        assert_eq!(utc.instant(at), "2025-12-31T23:00:00+00:00");
        let ny = Display {
            timezone: Tz::from_str("America/New_York").unwrap(),
            ..oslo
        };
        assert_eq!(ny.instant(at + 1_500), "2025-12-31T18:00:01.500-05:00");
        // Summer time in Oslo is +02:00.
        let july = Timestamp::from_millis(1_782_900_000_000); // 2026-07-01T10:00:00Z
        assert_eq!(oslo.instant(july), "2026-07-01T12:00:00+02:00");
    }

    #[test]
    fn numbers_are_grouped_with_the_locales_marks() {
        let nb = Display::default();
        let en = Display {
            locale: Locale::EnGb,
            ..nb
        };
        let d = |s: &str| Decimal::from_str(s).unwrap();
        for (given, norwegian, english) in [
            ("0", "0", "0"),
            ("999", "999", "999"),
            ("1000", "1\u{a0}000", "1,000"),
            ("1234.50", "1\u{a0}234,50", "1,234.50"),
            ("-1234567.5", "-1\u{a0}234\u{a0}567,5", "-1,234,567.5"),
            ("0.0125", "0,0125", "0.0125"),
            ("123456", "123\u{a0}456", "123,456"),
        ] {
            assert_eq!(nb.number(d(given)), norwegian, "{given}");
            assert_eq!(en.number(d(given)), english, "{given}");
        }
    }
}
