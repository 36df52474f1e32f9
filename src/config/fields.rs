//! The values a config file holds, each checking itself as serde reads it:
//! a value that is wrong is an error naming the key and line (the key path
//! and span come from the reader), never a silent default. Defaults are typed
//! values, never text parsed at run time.

use std::fmt;
use std::time::Duration;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use crate::contract::Nok;

/// Text with its surrounding whitespace removed, never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text(pub String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Text, D::Error> {
        let text = String::deserialize(d)?;
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(de::Error::custom("must not be empty"));
        }
        Ok(Text(trimmed.to_owned()))
    }
}

/// Text as written, but not empty or only whitespace (a path, a user name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NonEmpty(pub String);

impl<'de> Deserialize<'de> for NonEmpty {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<NonEmpty, D::Error> {
        let text = String::deserialize(d)?;
        if text.trim().is_empty() {
            return Err(de::Error::custom("must not be empty"));
        }
        Ok(NonEmpty(text))
    }
}

/// A duration like "15m" or "2s", from `min` to `max`; `why` says why
/// those bounds, in the message of a value outside them.
fn duration_within<'de, D: Deserializer<'de>>(
    d: D,
    min: Duration,
    max: Duration,
    why: &str,
) -> Result<Duration, D::Error> {
    /// What was written: text, or anything else (a bare number, a table).
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Written {
        Text(String),
        Other(de::IgnoredAny),
    }
    let Written::Text(text) = Written::deserialize(d)? else {
        return Err(de::Error::custom(
            "a duration is text in quotes with its unit, like \"2s\", \"15m\" or \"1h 30m\"",
        ));
    };
    let duration = humantime::parse_duration(text.trim()).map_err(|e| {
        de::Error::custom(format!(
            "`{text}` is not a duration like \"15m\" or \"2s\": {e}"
        ))
    })?;
    if duration.is_zero() {
        return Err(de::Error::custom("must be greater than zero"));
    }
    if duration < min || duration > max {
        return Err(de::Error::custom(format!(
            "`{}` is outside {} to {}: {why}",
            text.trim(),
            humantime::format_duration(min),
            humantime::format_duration(max)
        )));
    }
    Ok(duration)
}

/// A duration newtype whose value must lie within bounds, each refusal
/// saying why: `bounded_duration!(Name, min, max, "why")`.
macro_rules! bounded_duration {
    ($(#[$doc:meta])* $name:ident, $min:expr, $max:expr, $why:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $name(pub Duration);

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<$name, D::Error> {
                duration_within(d, $min, $max, $why).map($name)
            }
        }
    };
}

bounded_duration!(
    /// `[collector] interval`: from 1 s to 366 days.
    PollInterval,
    Duration::from_secs(1),
    Duration::from_secs(366 * 86_400),
    "more often than every second only loads the printers and the database \
     (counters change by pages; 15m is usual), and a round less than once a year \
     is a typo"
);

bounded_duration!(
    /// `[discovery] rediscover`: from 1 s to 366 days.
    Rediscover,
    Duration::from_secs(1),
    Duration::from_secs(366 * 86_400),
    "printers move when someone re-cables an office (24h is usual); a scan \
     less than once a year is a typo"
);

bounded_duration!(
    /// `[collector] device_timeout`, one device's whole poll: from 100 ms
    /// to 1 hour.
    DeviceTimeout,
    Duration::from_millis(100),
    Duration::from_secs(3_600),
    "a bizhub's whole poll takes three requests; shorter cuts good polls short, \
     and a round that waits an hour for one device has stopped polling the others"
);

bounded_duration!(
    /// `[http] header_read_timeout` and `request_timeout`: from 100 ms to 1 h.
    HttpTimeout,
    Duration::from_millis(100),
    Duration::from_secs(3_600),
    "shorter cuts off clients on a slow network, and a client may hold a \
     connection this long"
);

bounded_duration!(
    /// `[http] session_idle`, how long a web session lasts unused: from
    /// 1 minute to 30 days.
    SessionIdle,
    Duration::from_secs(60),
    Duration::from_secs(30 * 86_400),
    "a session that ends within a minute logs people out while they read, \
     and one unused for a month should log in again"
);

bounded_duration!(
    /// `[alerts] site_silent`, how long a site may forward nothing before
    /// the central says so: from 1 minute to 30 days.
    SiteSilent,
    Duration::from_secs(60),
    Duration::from_secs(30 * 86_400),
    "a site forwards after every round, so a minute is the shortest that \
     is not noise, and a site silent for a month is long past an alert"
);

bounded_duration!(
    /// `[collector] timeout`, per SNMP request: from 10 ms to 60 s.
    SnmpTimeout,
    Duration::from_millis(10),
    Duration::from_secs(60),
    "a device answers within milliseconds to a few seconds; shorter gives up on \
     answers on their way, and a device silent for a minute is not answering \
     (a longer wait, times the retries, only holds up its poll)"
);

/// A whole number from `MIN` to `MAX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Within<const MIN: i64, const MAX: i64>(pub i64);

impl<const MIN: i64, const MAX: i64> Within<MIN, MAX> {
    /// The value as an unsigned number (`MIN` is never negative where this is used).
    pub fn get(self) -> u64 {
        u64::try_from(self.0).unwrap_or(0)
    }
}

impl<'de, const MIN: i64, const MAX: i64> Deserialize<'de> for Within<MIN, MAX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Within<MIN, MAX>, D::Error> {
        let n = i64::deserialize(d)?;
        if !(MIN..=MAX).contains(&n) {
            return Err(de::Error::custom(format!(
                "must be between {MIN} and {MAX}"
            )));
        }
        Ok(Within(n))
    }
}

/// A count of pages: a whole number, never negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count(pub u64);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Count, D::Error> {
        let n = i64::deserialize(d)?;
        u64::try_from(n)
            .map(Count)
            .map_err(|_| de::Error::custom(format!("{n} is negative")))
    }
}

/// An exact decimal, never negative: a string (`"0.0450"`) or an integer,
/// never a TOML float (which is not exact).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exact(pub Decimal);

impl<'de> Deserialize<'de> for Exact {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Exact, D::Error> {
        let value = d.deserialize_any(ExactVisitor)?;
        if value.is_sign_negative() && !value.is_zero() {
            return Err(de::Error::custom(format!("{value} is negative")));
        }
        Ok(Exact(value))
    }
}

struct ExactVisitor;

impl Visitor<'_> for ExactVisitor {
    type Value = Decimal;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a decimal number written as a string like \"0.0450\"")
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Decimal, E> {
        Decimal::from_str_exact(s.trim())
            .map_err(|_| E::custom(format!("`{s}` is not a decimal number like \"0.0450\"")))
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Decimal, E> {
        Ok(Decimal::from(n))
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Decimal, E> {
        Ok(Decimal::from(n))
    }

    fn visit_f64<E: de::Error>(self, f: f64) -> Result<Decimal, E> {
        Err(E::custom(format!(
            "{f} is a TOML float, which is not exact: write it as a string, e.g. \"{f}\""
        )))
    }
}

/// The largest unit price, in NOK a page. No page costs anywhere near it, and
/// it keeps every amount computable: any 64-bit count of pages (under
/// 1.9 × 10¹⁹) times this price, raised by the largest renewal uplift,
/// stays far below rust_decimal's 7.9 × 10²⁸.
pub const MAX_UNIT_PRICE: i64 = 1_000_000;

/// The largest fee or amount, in NOK: beyond any contract, and its sums over
/// every invoice of a contract stay far below rust_decimal's 7.9 × 10²⁸.
pub const MAX_AMOUNT: i64 = 1_000_000_000_000;

/// The largest percentage (a deviation threshold, a renewal uplift): ten
/// times the price or the commitment is beyond any contract's terms.
pub const MAX_PERCENT: i64 = 1_000;

/// An exact decimal from 0 to `max`; `what` says what the bound is and why.
fn at_most<'de, D: Deserializer<'de>>(d: D, max: i64, what: &str) -> Result<Decimal, D::Error> {
    let Exact(value) = Exact::deserialize(d)?;
    if value > Decimal::from(max) {
        return Err(de::Error::custom(format!(
            "{value} is more than {max} {what}"
        )));
    }
    Ok(value)
}

/// A unit price in NOK a page: exact, never negative, at most
/// [`MAX_UNIT_PRICE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Price(pub Decimal);

impl<'de> Deserialize<'de> for Price {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Price, D::Error> {
        at_most(
            d,
            MAX_UNIT_PRICE,
            "NOK a page, the largest unit price telleverk takes (a typo? no page costs that much, \
             and larger prices could overflow the invoice arithmetic)",
        )
        .map(Price)
    }
}

/// A percentage: exact, never negative, at most [`MAX_PERCENT`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Percent(pub Decimal);

impl<'de> Deserialize<'de> for Percent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Percent, D::Error> {
        at_most(
            d,
            MAX_PERCENT,
            "%, the largest percentage telleverk takes (a typo? no contract's terms come near it)",
        )
        .map(Percent)
    }
}

/// A share of time promised, in percent: exact, from 0 to 100.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Share(pub Decimal);

impl<'de> Deserialize<'de> for Share {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Share, D::Error> {
        at_most(d, 100, "%: a share of working time is at most all of it").map(Share)
    }
}

/// An amount of NOK: exact, never negative, at most 2 decimals (øre), at
/// most [`MAX_AMOUNT`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Money(pub Nok);

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Money, D::Error> {
        let value = at_most(
            d,
            MAX_AMOUNT,
            "NOK, the largest amount telleverk takes (a typo? no contract comes near it, \
             and larger amounts could overflow the invoice arithmetic)",
        )?;
        if value.normalize().scale() > 2 {
            return Err(de::Error::custom(format!(
                "{value} has more than 2 decimals (øre)"
            )));
        }
        Ok(Money(Nok(value)))
    }
}

/// A date: a TOML local date (`2025-01-01`) or the string `"2025-01-01"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Date(pub NaiveDate);

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        parse_date(&toml::Value::deserialize(d)?)
            .map(Date)
            .map_err(de::Error::custom)
    }
}

/// A date from a TOML value: a local date or a `YYYY-MM-DD` string.
pub fn parse_date(value: &toml::Value) -> Result<NaiveDate, String> {
    let text = match value {
        toml::Value::String(s) => s.trim().to_owned(),
        toml::Value::Datetime(dt) if dt.date.is_some() && dt.time.is_none() => dt.to_string(),
        other => return Err(format!("`{other}` is not a date like \"2025-01-01\"")),
    };
    NaiveDate::parse_from_str(&text, "%Y-%m-%d")
        .map_err(|_| format!("`{text}` is not a date like \"2025-01-01\""))
}

/// A time zone by its IANA name (`Europe/Oslo`, `UTC`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Zone(pub chrono_tz::Tz);

impl<'de> Deserialize<'de> for Zone {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Zone, D::Error> {
        let text = String::deserialize(d)?;
        let given = text.trim();
        if let Ok(zone) = given.parse::<chrono_tz::Tz>() {
            return Ok(Zone(zone));
        }
        let lower = given.to_lowercase();
        let closest = chrono_tz::TZ_VARIANTS
            .iter()
            .map(|z| z.name())
            .min_by_key(|name| {
                (
                    strsim::damerau_levenshtein(&lower, &name.to_lowercase()),
                    *name,
                )
            })
            .filter(|name| strsim::damerau_levenshtein(&lower, &name.to_lowercase()) <= 3);
        let hint = match closest {
            Some(name) => format!("; did you mean `{name}`?"),
            None => String::new(),
        };
        Err(de::Error::custom(format!(
            "`{}` is not a time zone: use an IANA name such as \"Europe/Oslo\" or \"UTC\"{hint}",
            crate::serial::excerpt(given)
        )))
    }
}

impl Named for crate::display::Locale {
    const NAMES: &'static [(&'static str, Self)] = &[
        ("nb-NO", crate::display::Locale::NbNo),
        ("en-GB", crate::display::Locale::EnGb),
        ("nb", crate::display::Locale::NbNo),
        ("no", crate::display::Locale::NbNo),
        ("en", crate::display::Locale::EnGb),
    ];
    const EXPECTED: &'static str = "a locale: use \"nb-NO\" (1 234,50) or \"en-GB\" (1,234.50)";
}

/// A value named by one of a fixed set of words.
pub trait Named: Sized + Copy + 'static {
    /// Every value with its name (and other spellings after the first).
    const NAMES: &'static [(&'static str, Self)];
    /// What the error says is expected, e.g. `advance or arrears`.
    const EXPECTED: &'static str;
}

/// A [`Named`] value read from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Choice<T>(pub T);

impl<'de, T: Named> Deserialize<'de> for Choice<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Choice<T>, D::Error> {
        let text = String::deserialize(d)?;
        T::NAMES
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(text.trim()))
            .map(|(_, value)| Choice(*value))
            .ok_or_else(|| de::Error::custom(format!("`{text}` is not {}", T::EXPECTED)))
    }
}

impl Named for crate::contract::Billing {
    const NAMES: &'static [(&'static str, Self)] = &[
        ("advance", crate::contract::Billing::Advance),
        ("arrears", crate::contract::Billing::Arrears),
    ];
    const EXPECTED: &'static str = "advance or arrears";
}

impl Named for crate::snmp::Version {
    const NAMES: &'static [(&'static str, Self)] = &[
        ("1", crate::snmp::Version::V1),
        ("2c", crate::snmp::Version::V2c),
        ("3", crate::snmp::Version::V3),
    ];
    const EXPECTED: &'static str = "a version: use \"1\", \"2c\" or \"3\"";
}

impl Named for Option<crate::snmp::AuthProtocol> {
    const NAMES: &'static [(&'static str, Self)] = {
        use crate::snmp::AuthProtocol as A;
        &[
            ("none", None),
            ("md5", Some(A::Md5)),
            ("sha1", Some(A::Sha1)),
            ("sha", Some(A::Sha1)),
            ("sha224", Some(A::Sha224)),
            ("sha256", Some(A::Sha256)),
            ("sha384", Some(A::Sha384)),
            ("sha512", Some(A::Sha512)),
        ]
    };
    const EXPECTED: &'static str = "one of none, md5, sha1, sha224, sha256, sha384, sha512";
}

impl Named for Option<crate::snmp::PrivProtocol> {
    const NAMES: &'static [(&'static str, Self)] = {
        use crate::snmp::PrivProtocol as P;
        &[
            ("none", None),
            ("des", Some(P::Des)),
            ("aes128", Some(P::Aes128)),
            ("aes", Some(P::Aes128)),
            ("aes192", Some(P::Aes192)),
            ("aes256", Some(P::Aes256)),
            ("aes192c", Some(P::Aes192c)),
            ("aes256c", Some(P::Aes256c)),
        ]
    };
    const EXPECTED: &'static str = "one of none, des, aes128, aes192, aes256, aes192c, aes256c";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct One<T> {
        v: T,
    }

    fn read<T: for<'de> Deserialize<'de>>(value: &str) -> Result<T, String> {
        toml::from_str::<One<T>>(&format!("v = {value}\n"))
            .map(|o| o.v)
            .map_err(|e| e.message().to_owned())
    }

    #[test]
    fn each_value_checks_itself() {
        assert_eq!(read::<Text>("\" a \"").unwrap(), Text("a".into()));
        assert!(
            read::<Text>("\"  \"")
                .unwrap_err()
                .contains("must not be empty")
        );
        assert_eq!(
            read::<PollInterval>("\"15m\"").unwrap(),
            PollInterval(Duration::from_secs(900))
        );
        assert!(
            read::<PollInterval>("\"abc\"")
                .unwrap_err()
                .contains("not a duration")
        );
        assert!(
            read::<SnmpTimeout>("\"0s\"")
                .unwrap_err()
                .contains("greater than zero")
        );
        assert_eq!(
            read::<SnmpTimeout>("\"100000000y\"").unwrap_err(),
            "`100000000y` is outside 10ms to 1m: a device answers within milliseconds to a \
             few seconds; shorter gives up on answers on their way, and a device silent for a \
             minute is not answering (a longer wait, times the retries, only holds up its poll)"
        );
        assert!(
            read::<SnmpTimeout>("\"5ms\"")
                .unwrap_err()
                .contains("is outside 10ms to 1m")
        );
        assert_eq!(
            read::<SnmpTimeout>("\"60s\"").unwrap(),
            SnmpTimeout(Duration::from_secs(60))
        );
        let e = read::<PollInterval>("\"1ms\"").unwrap_err();
        assert!(
            e.starts_with("`1ms` is outside 1s to ") && e.contains("more often than every second"),
            "{e}"
        );
        assert!(read::<PollInterval>("\"1000y\"").is_err());
        assert_eq!(
            read::<PollInterval>("\"1s\"").unwrap(),
            PollInterval(Duration::from_secs(1))
        );
        assert_eq!(read::<Within<1, 10>>("10").unwrap(), Within(10));
        assert!(
            read::<Within<1, 10>>("11")
                .unwrap_err()
                .contains("between 1 and 10")
        );
        assert_eq!(read::<Count>("0").unwrap(), Count(0));
        assert!(read::<Count>("-1").unwrap_err().contains("-1 is negative"));
        assert_eq!(read::<Exact>("\"0.0450\"").unwrap().0.to_string(), "0.0450");
        assert_eq!(read::<Exact>("15").unwrap().0, Decimal::from(15));
        assert!(read::<Exact>("0.045").unwrap_err().contains("TOML float"));
        assert!(read::<Exact>("\"-1\"").unwrap_err().contains("negative"));
        assert!(
            read::<Exact>("\"x\"")
                .unwrap_err()
                .contains("not a decimal")
        );
        assert!(
            read::<Money>("\"0.005\"")
                .unwrap_err()
                .contains("more than 2 decimals")
        );
        assert_eq!(read::<Money>("\"100.00\"").unwrap().0.to_string(), "100.00");
        assert_eq!(
            read::<Money>("\"1000000000000.00\"").unwrap().0.to_string(),
            "1000000000000.00"
        );
        assert!(
            read::<Money>("\"1000000000000.01\"")
                .unwrap_err()
                .contains("is more than 1000000000000 NOK, the largest amount")
        );
        assert_eq!(
            read::<Price>("1000000").unwrap(),
            Price(Decimal::from(1_000_000))
        );
        assert_eq!(
            read::<Price>("\"100000000000000000\"").unwrap_err(),
            "100000000000000000 is more than 1000000 NOK a page, the largest unit price \
             telleverk takes (a typo? no page costs that much, and larger prices could \
             overflow the invoice arithmetic)"
        );
        assert!(read::<Price>("\"-1\"").unwrap_err().contains("negative"));
        assert!(
            read::<Percent>("1001")
                .unwrap_err()
                .contains("is more than 1000 %")
        );
        let date = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap();
        assert_eq!(read::<Date>("2025-01-01").unwrap(), Date(date));
        assert_eq!(read::<Date>("\"2025-01-01\"").unwrap(), Date(date));
        assert!(
            read::<Date>("\"2025-13-01\"")
                .unwrap_err()
                .contains("not a date")
        );
        assert!(read::<Date>("1").unwrap_err().contains("not a date"));
    }
}
