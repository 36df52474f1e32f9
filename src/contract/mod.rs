//! Service contracts (docs/contract-rules.md): who is covered when, the billing
//! periods, the price in force on a day, renewal and the notice deadline.
//!
//! Pure: takes values, returns values. It never reads the clock, a socket or the
//! database. A [`Contract`] is built by `config` and already checked there
//! (price versions sorted and starting on the start date, term in whole years).

pub mod dates;
pub mod money;

use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::serial::Serial;

pub use dates::{add_months, midnight};
pub use money::{Nok, Overflow, price_text};

/// How the contract bills pages (§4.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Billing {
    /// A-konto every 6 months, settlement every contract year.
    Advance,
    /// Actual use every 3 months, afterwards.
    Arrears,
}

/// The two colour classes of pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    Bw,
    Colour,
}

impl Class {
    pub const BOTH: [Class; 2] = [Class::Bw, Class::Colour];

    pub fn name(self) -> &'static str {
        match self {
            Class::Bw => "bw",
            Class::Colour => "colour",
        }
    }

    pub fn a3_name(self) -> &'static str {
        match self {
            Class::Bw => "bw_a3",
            Class::Colour => "colour_a3",
        }
    }
}

/// A device in a contract from `from` (inclusive) until `until` (exclusive);
/// open ends are the contract's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub serial: Serial,
    pub from: Option<NaiveDate>,
    pub until: Option<NaiveDate>,
}

/// Per-page prices; an A3 price present means A3 pages of that class are
/// billed at it and not doubled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prices {
    pub bw: Decimal,
    pub colour: Decimal,
    pub bw_a3: Option<Decimal>,
    pub colour_a3: Option<Decimal>,
}

impl Prices {
    pub fn a4(&self, class: Class) -> Decimal {
        match class {
            Class::Bw => self.bw,
            Class::Colour => self.colour,
        }
    }

    pub fn a3(&self, class: Class) -> Option<Decimal> {
        match class {
            Class::Bw => self.bw_a3,
            Class::Colour => self.colour_a3,
        }
    }

    /// Every price multiplied by `factor` (unrounded: unit prices never are).
    fn scaled(&self, factor: Decimal) -> Result<Prices, Overflow> {
        let times = |p: Decimal| money::mul(p, factor, || format!("the price {p} × {factor}"));
        Ok(Prices {
            bw: times(self.bw)?,
            colour: times(self.colour)?,
            bw_a3: self.bw_a3.map(times).transpose()?,
            colour_a3: self.colour_a3.map(times).transpose()?,
        })
    }
}

/// A dated base price version (index adjustment, §1.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PriceVersion {
    pub from: NaiveDate,
    pub prices: Prices,
}

/// A service contract as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contract {
    pub id: String,
    pub devices: Vec<Membership>,
    pub start: NaiveDate,
    pub term_months: u32,
    pub billing: Billing,
    /// Committed A4-equivalent pages per contract year; None: no commitment.
    pub committed_bw: Option<u64>,
    pub committed_colour: Option<u64>,
    pub minimum_bw: u64,
    pub minimum_colour: u64,
    pub fixed_fee_monthly: Nok,
    pub deviation_threshold_pct: Decimal,
    pub defer_at_or_below: Nok,
    pub estimation_fee: Nok,
    pub renewal_uplift_pct: Decimal,
    pub terminated_on: Option<NaiveDate>,
    /// Calendar days of history behind an extrapolation (default 90).
    pub trailing_days: u32,
    /// The uptime promised per device on working days, in % (§4.7).
    pub uptime_pct: Option<Decimal>,
    /// Sorted by `from`; the first starts on `start`.
    pub prices: Vec<PriceVersion>,
}

/// The kinds of period the contract is checked and billed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PeriodKind {
    Quarter,
    Half,
    Year,
}

impl PeriodKind {
    pub fn months(self) -> u32 {
        match self {
            PeriodKind::Quarter => 3,
            PeriodKind::Half => 6,
            PeriodKind::Year => 12,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            PeriodKind::Quarter => "quarter",
            PeriodKind::Half => "half",
            PeriodKind::Year => "year",
        }
    }

    /// How many of this period make a year (the commitment's divisor).
    pub fn per_year(self) -> u32 {
        12 / self.months()
    }
}

/// A period `[start, end)` of local dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub kind: PeriodKind,
    pub start: NaiveDate,
    pub end: NaiveDate,
}

impl Contract {
    pub fn committed(&self, class: Class) -> Option<u64> {
        match class {
            Class::Bw => self.committed_bw,
            Class::Colour => self.committed_colour,
        }
        .filter(|c| *c > 0)
    }

    pub fn minimum(&self, class: Class) -> u64 {
        match class {
            Class::Bw => self.minimum_bw,
            Class::Colour => self.minimum_colour,
        }
    }

    /// True when A3 pages of `class` have their own price (the same in every
    /// version: config checks it).
    pub fn a3_priced(&self, class: Class) -> bool {
        self.prices
            .first()
            .is_some_and(|v| v.prices.a3(class).is_some())
    }

    pub fn any_a3_priced(&self) -> bool {
        Class::BOTH.iter().any(|c| self.a3_priced(*c))
    }

    /// The billing period of the mode: halves (advance) or quarters (arrears).
    pub fn billing_period(&self) -> PeriodKind {
        match self.billing {
            Billing::Advance => PeriodKind::Half,
            Billing::Arrears => PeriodKind::Quarter,
        }
    }

    /// The `k`-th period of a kind, counted from the start: start + k × months.
    pub fn period(&self, kind: PeriodKind, k: u32) -> Period {
        Period {
            kind,
            start: add_months(self.start, k * kind.months()),
            end: add_months(self.start, (k + 1) * kind.months()),
        }
    }

    /// The periods of a kind that start on or before `date` and before the
    /// contract ends, oldest first.
    pub fn periods_until(&self, kind: PeriodKind, date: NaiveDate) -> Vec<Period> {
        let end = self.end();
        (0..)
            .map(|k| self.period(kind, k))
            .take_while(|p| p.start <= date && end.is_none_or(|e| p.start < e))
            .collect()
    }

    /// The end of the `j`-th term: the initial term for 0, then each renewal year.
    pub fn expiry(&self, j: u32) -> NaiveDate {
        add_months(self.start, self.term_months + 12 * j)
    }

    /// The first renewal: the day per-page prices rise.
    pub fn renewal_date(&self) -> NaiveDate {
        self.expiry(0)
    }

    /// The day the contract ends (exclusive) when notice was given: the first
    /// expiry whose deadline the notice met; None while it renews.
    pub fn end(&self) -> Option<NaiveDate> {
        let notice = self.terminated_on?;
        (0..)
            .map(|j| self.expiry(j))
            .find(|e| notice <= dates::notice_deadline(*e))
    }

    /// The next expiry whose notice deadline is on or after `date`, with that
    /// deadline; None when notice was already given.
    pub fn next_deadline(&self, date: NaiveDate) -> Option<(NaiveDate, NaiveDate)> {
        if self.terminated_on.is_some() {
            return None;
        }
        (0..)
            .map(|j| self.expiry(j))
            .map(|e| (e, dates::notice_deadline(e)))
            .find(|(_, deadline)| *deadline >= date)
    }

    /// The per-page prices in force on `date`, raised by the renewal uplift
    /// from the first renewal on (once, not compounding); an overflow when
    /// the raised price is too large to compute.
    pub fn prices_on(&self, date: NaiveDate) -> Result<Prices, Overflow> {
        let idx = self
            .prices
            .partition_point(|v| v.from <= date)
            .saturating_sub(1);
        let base = self.prices.get(idx).map_or(
            Prices {
                bw: Decimal::ZERO,
                colour: Decimal::ZERO,
                bw_a3: None,
                colour_a3: None,
            },
            |v| v.prices,
        );
        if date >= self.renewal_date() {
            let uplift = self.renewal_uplift_pct / Decimal::ONE_HUNDRED;
            let factor = money::add(Decimal::ONE, uplift, || {
                format!("the renewal uplift of {} %", self.renewal_uplift_pct)
            })?;
            base.scaled(factor)
        } else {
            Ok(base)
        }
    }

    /// `[from, to)` cut where the prices change (a new version or the first
    /// renewal), each piece with its prices, oldest first.
    pub fn price_segments(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<(NaiveDate, NaiveDate, Prices)>, Overflow> {
        let mut cuts: Vec<NaiveDate> = self
            .prices
            .iter()
            .map(|v| v.from)
            .chain(std::iter::once(self.renewal_date()))
            .filter(|d| *d > from && *d < to)
            .collect();
        cuts.sort();
        cuts.dedup();
        let mut out = Vec::new();
        let mut start = from;
        for cut in cuts.into_iter().chain(std::iter::once(to)) {
            if cut > start {
                out.push((start, cut, self.prices_on(start)?));
            }
            start = cut;
        }
        Ok(out)
    }

    /// The part of `[from, to)` a membership covers, if any.
    pub fn window(
        &self,
        m: &Membership,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Option<(NaiveDate, NaiveDate)> {
        let start = m.from.map_or(from, |f| f.max(from));
        let end = m.until.map_or(to, |u| u.min(to));
        (start < end).then_some((start, end))
    }
}

#[cfg(test)]
pub(crate) mod tests;
