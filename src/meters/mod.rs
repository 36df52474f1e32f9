//! Canonical meter names, the derivation of the totals a device does not report
//! itself, and the judgement of a meter that went down (reset, wrap or glitch).
//!
//! Pure: takes values, returns values. It never reads the clock, a socket or the
//! database.

use std::fmt;
use std::str::FromStr;

use crate::oid::Syntax;

pub mod derive;
pub mod series;

pub use derive::{DeviceColour, Parts, complete_points};

/// A canonical meter (docs/contract-rules.md, "Meters"). The discriminant
/// is the stable code stored in the database: never reorder, only append.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Meter {
    Total = 0,
    BwTotal = 1,
    ColourTotal = 2,
    BwCopy = 3,
    BwPrint = 4,
    ColourCopy = 5,
    ColourPrint = 6,
    BwLarge = 7,
    ColourLarge = 8,
    Duplex = 9,
    ScanTotal = 10,
    SingleColourCopy = 11,
    SingleColourPrint = 12,
    TwoColourCopy = 13,
    TwoColourPrint = 14,
}

impl Meter {
    /// Every meter, in code order.
    pub const ALL: [Meter; 15] = [
        Meter::Total,
        Meter::BwTotal,
        Meter::ColourTotal,
        Meter::BwCopy,
        Meter::BwPrint,
        Meter::ColourCopy,
        Meter::ColourPrint,
        Meter::BwLarge,
        Meter::ColourLarge,
        Meter::Duplex,
        Meter::ScanTotal,
        Meter::SingleColourCopy,
        Meter::SingleColourPrint,
        Meter::TwoColourCopy,
        Meter::TwoColourPrint,
    ];

    /// The canonical name, as used in profiles, JSON and CSV.
    pub fn name(self) -> &'static str {
        match self {
            Meter::Total => "total",
            Meter::BwTotal => "bw_total",
            Meter::ColourTotal => "colour_total",
            Meter::BwCopy => "bw_copy",
            Meter::BwPrint => "bw_print",
            Meter::ColourCopy => "colour_copy",
            Meter::ColourPrint => "colour_print",
            Meter::BwLarge => "bw_large",
            Meter::ColourLarge => "colour_large",
            Meter::Duplex => "duplex",
            Meter::ScanTotal => "scan_total",
            Meter::SingleColourCopy => "single_colour_copy",
            Meter::SingleColourPrint => "single_colour_print",
            Meter::TwoColourCopy => "two_colour_copy",
            Meter::TwoColourPrint => "two_colour_print",
        }
    }

    /// The stable database code.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The meter with this database code.
    pub fn from_code(code: i64) -> Option<Meter> {
        Meter::ALL
            .iter()
            .copied()
            .find(|m| i64::from(m.code()) == code)
    }

    /// True for the meters that count colour pages (used to tell a mono device).
    pub fn is_colour(self) -> bool {
        matches!(
            self,
            Meter::ColourTotal
                | Meter::ColourCopy
                | Meter::ColourPrint
                | Meter::ColourLarge
                | Meter::SingleColourCopy
                | Meter::SingleColourPrint
                | Meter::TwoColourCopy
                | Meter::TwoColourPrint
        )
    }
}

impl fmt::Display for Meter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The name is not one of the canonical meters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown meter `{0}` (known: total, bw_total, colour_total, bw_copy, bw_print, colour_copy, colour_print, bw_large, colour_large, duplex, scan_total, single_colour_copy, single_colour_print, two_colour_copy, two_colour_print)"
)]
pub struct UnknownMeter(pub String);

impl FromStr for Meter {
    type Err = UnknownMeter;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Meter::ALL
            .iter()
            .copied()
            .find(|m| m.name() == s)
            .ok_or_else(|| UnknownMeter(s.to_owned()))
    }
}

/// What kind of number a stored value is: the SNMP type it arrived as, or how
/// telleverk obtained it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueKind {
    Integer = 0,
    Counter32 = 1,
    Counter64 = 2,
    Gauge32 = 3,
    Derived = 4,
    Manual = 5,
}

impl From<Syntax> for ValueKind {
    fn from(syntax: Syntax) -> ValueKind {
        match syntax {
            Syntax::Integer => ValueKind::Integer,
            Syntax::Counter32 => ValueKind::Counter32,
            Syntax::Counter64 => ValueKind::Counter64,
            Syntax::Gauge32 => ValueKind::Gauge32,
        }
    }
}

impl ValueKind {
    pub fn name(self) -> &'static str {
        match self {
            ValueKind::Integer => "integer",
            ValueKind::Counter32 => "counter32",
            ValueKind::Counter64 => "counter64",
            ValueKind::Gauge32 => "gauge32",
            ValueKind::Derived => "derived",
            ValueKind::Manual => "manual",
        }
    }

    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn from_code(code: i64) -> Option<ValueKind> {
        [
            ValueKind::Integer,
            ValueKind::Counter32,
            ValueKind::Counter64,
            ValueKind::Gauge32,
            ValueKind::Derived,
            ValueKind::Manual,
        ]
        .into_iter()
        .find(|k| i64::from(k.code()) == code)
    }
}

/// Where a reading came from: a poll, or a person — by hand, from the vendor,
/// or a technician's `final` and `start` at a board swap. The discriminant is
/// the stable code stored in the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    Polled = 0,
    Manual = 1,
    Vendor = 2,
    Final = 3,
    Start = 4,
}

impl Source {
    /// The other source whose reading of the same meter at the same instant
    /// must agree with this one's: a manual reading and the vendor's.
    pub fn disputed_by(self) -> Option<Source> {
        match self {
            Source::Manual => Some(Source::Vendor),
            Source::Vendor => Some(Source::Manual),
            _ => None,
        }
    }
}

impl Source {
    pub fn name(self) -> &'static str {
        match self {
            Source::Polled => "polled",
            Source::Manual => "manual",
            Source::Vendor => "vendor",
            Source::Final => "final",
            Source::Start => "start",
        }
    }

    pub fn from_code(code: i64) -> Option<Source> {
        [
            Source::Polled,
            Source::Manual,
            Source::Vendor,
            Source::Final,
            Source::Start,
        ]
        .into_iter()
        .find(|s| *s as i64 == code)
    }
}

impl FromStr for Source {
    type Err = String;
    /// The sources a person may give (not `polled`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "manual" => Ok(Source::Manual),
            "vendor" => Ok(Source::Vendor),
            "final" => Ok(Source::Final),
            "start" => Ok(Source::Start),
            other => Err(format!(
                "unknown source `{other}` (use manual, vendor, final or start)"
            )),
        }
    }
}

/// One meter value as read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MeterValue {
    pub meter: Meter,
    pub value: u64,
    pub kind: ValueKind,
}

/// A device's meters at one reading, at most one value per meter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MeterSet {
    values: Vec<MeterValue>,
}

impl MeterSet {
    pub fn new() -> MeterSet {
        MeterSet::default()
    }

    /// Sets a meter, replacing an earlier value of the same meter.
    pub fn insert(&mut self, value: MeterValue) {
        match self.values.iter_mut().find(|v| v.meter == value.meter) {
            Some(slot) => *slot = value,
            None => self.values.push(value),
        }
        self.values.sort_by_key(|v| v.meter);
    }

    pub fn get(&self, meter: Meter) -> Option<MeterValue> {
        self.values.iter().copied().find(|v| v.meter == meter)
    }

    pub fn value(&self, meter: Meter) -> Option<u64> {
        self.get(meter).map(|v| v.value)
    }

    pub fn iter(&self) -> impl Iterator<Item = MeterValue> + '_ {
        self.values.iter().copied()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True when the device reported no colour meter at all.
    pub fn is_mono(&self) -> bool {
        !self.values.iter().any(|v| v.meter.is_colour())
    }

    /// The sum of every value in the set, or None when it passes
    /// [`MAX_VALUE`]: no reading of a real device comes near.
    pub fn checked_total(&self) -> Option<u64> {
        let values: Vec<u64> = self.values.iter().map(|v| v.value).collect();
        checked_sum(&values)
    }

    fn insert_derived(&mut self, meter: Meter, value: Option<u64>) {
        if let Some(value) = value {
            self.insert(MeterValue {
                meter,
                value,
                kind: ValueKind::Derived,
            });
        }
    }
}

/// A drop that has not been confirmed or ruled out yet: the value before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingDrop {
    /// The last value before the drop.
    pub before: u64,
    /// The low value that was read.
    pub low: u64,
    /// True when the drop looked like a Counter32 wrap.
    pub wrap: bool,
}

/// What a new reading of one meter says about the counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Judgement {
    /// The meter went down: a suspected reset (or wrap), to be confirmed by the
    /// next reading.
    SuspectedReset {
        before: u64,
        low: u64,
    },
    SuspectedWrap {
        before: u64,
        low: u64,
    },
    /// The reading after a drop is below the value before it: the reset (or
    /// wrap) is confirmed.
    ConfirmedReset {
        before: u64,
        low: u64,
    },
    ConfirmedWrap {
        before: u64,
        low: u64,
    },
    /// The reading after a drop is back at or above the value before it: the
    /// low reading was a glitch, left out of usage.
    Glitch {
        before: u64,
        low: u64,
    },
}

/// The largest count a meter can hold: what storage keeps (SQLite's signed
/// 64-bit integer). A value beyond it, read or summed, is no page count.
pub const MAX_VALUE: u64 = i64::MAX as u64;

/// The sum of `values`, or None when it passes [`MAX_VALUE`].
pub fn checked_sum(values: &[u64]) -> Option<u64> {
    values
        .iter()
        .try_fold(0u64, |sum, v| sum.checked_add(*v))
        .filter(|sum| *sum <= MAX_VALUE)
}

/// Judges a new reading `new` of a meter of `kind` whose previous reading was
/// `previous` (None: first reading), with `pending` an unconfirmed drop.
/// Returns what happened and the pending drop after this reading.
pub fn judge(
    previous: Option<u64>,
    pending: Option<PendingDrop>,
    new: u64,
    kind: ValueKind,
) -> (Vec<Judgement>, Option<PendingDrop>) {
    let mut found = Vec::new();
    if let Some(drop) = pending {
        if new >= drop.before {
            found.push(Judgement::Glitch {
                before: drop.before,
                low: drop.low,
            });
            return (found, None);
        }
        found.push(if drop.wrap {
            Judgement::ConfirmedWrap {
                before: drop.before,
                low: drop.low,
            }
        } else {
            Judgement::ConfirmedReset {
                before: drop.before,
                low: drop.low,
            }
        });
    }
    let Some(previous) = previous else {
        return (found, None);
    };
    // After a confirmed drop, `previous` is the low reading and counting goes on
    // from there; a fresh drop below it starts a new suspicion.
    if new >= previous {
        return (found, None);
    }
    let wrap = is_wrap(previous, new, kind);
    found.push(if wrap {
        Judgement::SuspectedWrap {
            before: previous,
            low: new,
        }
    } else {
        Judgement::SuspectedReset {
            before: previous,
            low: new,
        }
    });
    let pending = PendingDrop {
        before: previous,
        low: new,
        wrap,
    };
    (found, Some(pending))
}

/// A Counter32 that drops from the upper half of its range into the lower half
/// has wrapped (docs/contract-rules.md); INTEGER counters never wrap.
pub fn is_wrap(before: u64, after: u64, kind: ValueKind) -> bool {
    const HALF: u64 = 1 << 31;
    kind == ValueKind::Counter32 && (HALF..1 << 32).contains(&before) && after < HALF
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_codes_are_stable() {
        for (i, m) in Meter::ALL.iter().enumerate() {
            assert_eq!(m.name().parse::<Meter>().unwrap(), *m);
            assert_eq!(usize::from(m.code()), i);
            assert_eq!(Meter::from_code(i as i64), Some(*m));
        }
        assert!("bw".parse::<Meter>().is_err());
    }

    #[test]
    fn a_drop_then_recovery_is_a_glitch() {
        let (j, pending) = judge(Some(1000), None, 0, ValueKind::Integer);
        assert_eq!(
            j,
            vec![Judgement::SuspectedReset {
                before: 1000,
                low: 0
            }]
        );
        let (j, pending) = judge(Some(0), pending, 1000, ValueKind::Integer);
        assert_eq!(
            j,
            vec![Judgement::Glitch {
                before: 1000,
                low: 0
            }]
        );
        assert_eq!(pending, None);
    }

    #[test]
    fn a_drop_that_stays_low_is_a_confirmed_reset() {
        let (_, pending) = judge(Some(1000), None, 10, ValueKind::Integer);
        let (j, pending) = judge(Some(10), pending, 25, ValueKind::Integer);
        assert_eq!(
            j,
            vec![Judgement::ConfirmedReset {
                before: 1000,
                low: 10
            }]
        );
        assert_eq!(pending, None);
    }

    #[test]
    fn counter32_wrap_needs_upper_to_lower_half() {
        assert!(is_wrap(4_294_967_000, 100, ValueKind::Counter32));
        assert!(!is_wrap(4_294_967_000, 100, ValueKind::Integer));
        assert!(!is_wrap(1_000_000, 100, ValueKind::Counter32));
        let (j, pending) = judge(Some(4_294_967_000), None, 100, ValueKind::Counter32);
        assert!(matches!(j[0], Judgement::SuspectedWrap { .. }));
        let (j, _) = judge(Some(100), pending, 300, ValueKind::Counter32);
        assert!(matches!(j[0], Judgement::ConfirmedWrap { .. }));
    }

    #[test]
    fn a_second_drop_after_a_confirmed_one_is_suspected_again() {
        let (_, pending) = judge(Some(1000), None, 500, ValueKind::Integer);
        let (j, pending) = judge(Some(500), pending, 100, ValueKind::Integer);
        assert_eq!(j.len(), 2);
        assert!(matches!(j[0], Judgement::ConfirmedReset { .. }));
        assert_eq!(
            j[1],
            Judgement::SuspectedReset {
                before: 500,
                low: 100
            }
        );
        assert_eq!(pending.unwrap().before, 500);
    }
}
