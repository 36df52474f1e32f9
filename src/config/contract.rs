//! Checks `[[contract]]` tables and resolves them into [`Contract`]s: dates,
//! exact money (never a TOML float), price versions, memberships — and that no
//! serial is in two contracts at once. Each value checks itself as it is read
//! (`fields`); what is checked here spans several values.

use std::collections::HashMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Deserialize;
use toml::Spanned;

use super::fields::{Choice, Count, Date, Money, Percent, Price, Share, Text, Within, parse_date};
use super::{ConfigError, Ctx};
use crate::contract::{Billing, Contract, Membership, Nok, PriceVersion, Prices};
use crate::serial::{Serial, SerialError};

/// A `[[contract]]` as written: every value checked as it is read, every
/// default a typed value.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawContract {
    id: Spanned<Text>,
    devices: Spanned<Vec<Spanned<toml::Value>>>,
    start: Date,
    term_months: Spanned<i64>,
    billing: Choice<Billing>,
    committed_bw: Option<Count>,
    committed_colour: Option<Count>,
    #[serde(default = "no_pages")]
    minimum_bw: Count,
    #[serde(default = "no_pages")]
    minimum_colour: Count,
    #[serde(default = "no_money")]
    fixed_fee_monthly: Money,
    #[serde(default = "fifteen_pct")]
    deviation_threshold_pct: Percent,
    #[serde(default = "hundred_nok")]
    defer_at_or_below: Money,
    #[serde(default = "no_money")]
    estimation_fee: Money,
    #[serde(default = "thirty_pct")]
    renewal_uplift_pct: Percent,
    terminated_on: Option<Spanned<Date>>,
    #[serde(default = "ninety_days")]
    trailing_days: Within<1, 3660>,
    uptime_pct: Option<Share>,
    #[serde(default)]
    price: Vec<Spanned<RawPrice>>,
}

/// A `[[contract.price]]`: a dated version of the base prices.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPrice {
    from: Spanned<Date>,
    bw: Price,
    colour: Price,
    bw_a3: Option<Price>,
    colour_a3: Option<Price>,
}

// The defaults the contract terms give (docs/contract-rules.md), as values.
fn no_pages() -> Count {
    Count(0)
}

fn no_money() -> Money {
    Money(Nok(Decimal::ZERO))
}

/// The 15 % rule.
fn fifteen_pct() -> Percent {
    Percent(Decimal::from(15))
}

/// An invoice of NOK 100.00 or less may be deferred.
fn hundred_nok() -> Money {
    Money(Nok(Decimal::new(10_000, 2)))
}

/// Per-page prices rise 30 % on renewal.
fn thirty_pct() -> Percent {
    Percent(Decimal::from(30))
}

/// The trailing window behind an extrapolation.
fn ninety_days() -> Within<1, 3660> {
    Within(90)
}

impl Ctx<'_> {
    pub(super) fn contracts(
        &self,
        raw: &[Spanned<RawContract>],
    ) -> Result<Vec<Contract>, ConfigError> {
        let mut out: Vec<Contract> = Vec::new();
        for (i, r) in raw.iter().enumerate() {
            let c = self.contract(i, r)?;
            if let Some(other) = out.iter().position(|o| o.id == c.id) {
                return Err(self.at(
                    &r.get_ref().id,
                    &format!("contract[{i}].id"),
                    format!("`{}` is also the id of contract[{other}]", c.id),
                ));
            }
            out.push(c);
        }
        self.check_overlaps(&out, raw)?;
        Ok(out)
    }

    fn contract(&self, i: usize, raw: &Spanned<RawContract>) -> Result<Contract, ConfigError> {
        let t = format!("contract[{i}]");
        let r = raw.get_ref();
        let start = r.start.0;
        let term = *r.term_months.get_ref();
        if term <= 0 || term % 12 != 0 {
            return Err(self.at(&r.term_months, &format!("{t}.term_months"), format!("{term} is not a whole number of years (12, 24, 36, …): contract years and renewal years must line up")));
        }
        let devices = self.memberships(&t, &r.devices, start)?;
        let prices = self.price_versions(&t, raw, start)?;
        let terminated_on = match &r.terminated_on {
            Some(v) if v.get_ref().0 < start => {
                return Err(self.at(
                    v,
                    &format!("{t}.terminated_on"),
                    format!("{} is before the start {start}", v.get_ref().0),
                ));
            }
            Some(v) => Some(v.get_ref().0),
            None => None,
        };
        Ok(Contract {
            id: r.id.get_ref().0.clone(),
            devices,
            start,
            term_months: term as u32,
            billing: r.billing.0,
            committed_bw: r.committed_bw.map(|c| c.0),
            committed_colour: r.committed_colour.map(|c| c.0),
            minimum_bw: r.minimum_bw.0,
            minimum_colour: r.minimum_colour.0,
            fixed_fee_monthly: r.fixed_fee_monthly.0,
            deviation_threshold_pct: r.deviation_threshold_pct.0,
            defer_at_or_below: r.defer_at_or_below.0,
            estimation_fee: r.estimation_fee.0,
            renewal_uplift_pct: r.renewal_uplift_pct.0,
            terminated_on,
            trailing_days: r.trailing_days.get() as u32,
            uptime_pct: r.uptime_pct.map(|u| u.0),
            prices,
        })
    }

    fn memberships(
        &self,
        t: &str,
        raw: &Spanned<Vec<Spanned<toml::Value>>>,
        start: NaiveDate,
    ) -> Result<Vec<Membership>, ConfigError> {
        if raw.get_ref().is_empty() {
            return Err(self.at(
                raw,
                &format!("{t}.devices"),
                "lists no device: give at least one serial",
            ));
        }
        let mut out = Vec::new();
        for (j, v) in raw.get_ref().iter().enumerate() {
            let key = format!("{t}.devices[{j}]");
            let m = match v.get_ref() {
                toml::Value::String(s) => Membership {
                    serial: Serial::parse(s).map_err(|e| self.at(v, &key, serial_message(e)))?,
                    from: None,
                    until: None,
                },
                toml::Value::Table(table) => self.member_table(v, table, &key)?,
                _ => {
                    return Err(self.at(
                        v,
                        &key,
                        "is neither a serial nor { serial, from, until }",
                    ));
                }
            };
            if let Some(from) = m.from
                && from < start
            {
                return Err(self.at(
                    v,
                    &format!("{key}.from"),
                    format!("{from} is before the contract's start {start}"),
                ));
            }
            if let (Some(from), Some(until)) = (m.from, m.until)
                && until <= from
            {
                return Err(self.at(
                    v,
                    &format!("{key}.until"),
                    format!("{until} is not after `from` {from}"),
                ));
            }
            out.push(m);
        }
        Ok(out)
    }

    fn member_table(
        &self,
        v: &Spanned<toml::Value>,
        table: &toml::Table,
        key: &str,
    ) -> Result<Membership, ConfigError> {
        if let Some(unknown) = table
            .keys()
            .find(|k| !["serial", "from", "until"].contains(&k.as_str()))
        {
            return Err(self.at(
                v,
                key,
                format!("unknown key `{unknown}` (use serial, from, until)"),
            ));
        }
        let serial = match table.get("serial") {
            Some(toml::Value::String(s)) => {
                Serial::parse(s).map_err(|e| self.at(v, key, serial_message(e)))?
            }
            _ => return Err(self.at(v, &format!("{key}.serial"), "is required (a string)")),
        };
        let date = |name: &str| -> Result<Option<NaiveDate>, ConfigError> {
            table
                .get(name)
                .map(|d| parse_date(d).map_err(|m| self.at(v, &format!("{key}.{name}"), m)))
                .transpose()
        };
        Ok(Membership {
            serial,
            from: date("from")?,
            until: date("until")?,
        })
    }

    fn price_versions(
        &self,
        t: &str,
        raw: &Spanned<RawContract>,
        start: NaiveDate,
    ) -> Result<Vec<PriceVersion>, ConfigError> {
        let list = &raw.get_ref().price;
        if list.is_empty() {
            return Err(self.at(
                raw,
                &format!("{t}.price"),
                "is required: at least one [[contract.price]] from the start date",
            ));
        }
        let mut out: Vec<(PriceVersion, &Spanned<RawPrice>)> = Vec::new();
        for p in list {
            let r = p.get_ref();
            let version = PriceVersion {
                from: r.from.get_ref().0,
                prices: Prices {
                    bw: r.bw.0,
                    colour: r.colour.0,
                    bw_a3: r.bw_a3.map(|p| p.0),
                    colour_a3: r.colour_a3.map(|p| p.0),
                },
            };
            out.push((version, p));
        }
        out.sort_by_key(|(v, _)| v.from);
        let (first, first_raw) = &out[0];
        if first.from != start {
            return Err(self.at(
                &first_raw.get_ref().from,
                &format!("{t}.price"),
                format!(
                    "the first price version starts on {}, not on the contract's start {start}",
                    first.from
                ),
            ));
        }
        for pair in out.windows(2) {
            let ((a, _), (b, b_raw)) = (&pair[0], &pair[1]);
            if a.from == b.from {
                return Err(self.at(
                    &b_raw.get_ref().from,
                    &format!("{t}.price"),
                    format!("overlapping price versions: two start on {}", b.from),
                ));
            }
            let same_a3 = a.prices.bw_a3.is_some() == b.prices.bw_a3.is_some()
                && a.prices.colour_a3.is_some() == b.prices.colour_a3.is_some();
            if !same_a3 {
                return Err(self.at(b_raw, &format!("{t}.price"), format!("the version from {} prices A3 differently from the one before: every version must give bw_a3/colour_a3 alike", b.from)));
            }
        }
        Ok(out.into_iter().map(|(v, _)| v).collect())
    }

    /// No serial in two contracts (or twice in one) at the same time.
    fn check_overlaps(
        &self,
        contracts: &[Contract],
        raw: &[Spanned<RawContract>],
    ) -> Result<(), ConfigError> {
        // Each serial's spans so far: a lookup by serial, not a scan of every
        // member (a contract over 10 000 devices made this quadratic).
        let mut seen: HashMap<&str, Vec<Span<'_>>> = HashMap::new();
        for (i, c) in contracts.iter().enumerate() {
            for m in &c.devices {
                let from = m.from.unwrap_or(c.start);
                let until = match (m.until, c.end()) {
                    (Some(u), Some(e)) => Some(u.min(e)),
                    (u, e) => u.or(e),
                };
                let spans = seen.entry(m.serial.as_str()).or_default();
                for (f2, u2, other) in spans.iter() {
                    let overlap = until.is_none_or(|u| *f2 < u) && u2.is_none_or(|u| from < u);
                    if overlap {
                        let j = contracts.iter().position(|c| c.id == *other).unwrap_or(i);
                        let r = &raw[i].get_ref().devices;
                        let msg = if j == i {
                            format!("serial `{}` is listed twice at the same time", m.serial)
                        } else {
                            format!(
                                "serial `{}` is in contract `{other}` at the same time",
                                m.serial
                            )
                        };
                        return Err(self.at(r, &format!("contract[{i}].devices"), msg));
                    }
                }
                spans.push((from, until, &c.id));
            }
        }
        Ok(())
    }
}

/// When a serial is a member of a contract: from, until, the contract's id.
type Span<'a> = (NaiveDate, Option<NaiveDate>, &'a str);

/// What is wrong with a serial in a contract's `devices`.
fn serial_message(e: SerialError) -> String {
    match e {
        SerialError::Empty => "the serial must not be empty".to_owned(),
        other => other.to_string(),
    }
}
