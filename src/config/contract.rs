//! Checks `[[contract]]` tables and resolves them into [`Contract`]s: dates,
//! exact money (never a TOML float), price versions, memberships — and that no
//! serial is in two contracts at once.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Deserialize;
use toml::Spanned;

use super::{ConfigError, Ctx};
use crate::contract::{Billing, Contract, Membership, Nok, PriceVersion, Prices};
use crate::serial::Serial;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawContract {
    id: Spanned<String>,
    devices: Spanned<Vec<Spanned<toml::Value>>>,
    start: Spanned<toml::Value>,
    term_months: Spanned<i64>,
    billing: Spanned<String>,
    committed_bw: Option<Spanned<i64>>,
    committed_colour: Option<Spanned<i64>>,
    minimum_bw: Option<Spanned<i64>>,
    minimum_colour: Option<Spanned<i64>>,
    fixed_fee_monthly: Option<Spanned<toml::Value>>,
    deviation_threshold_pct: Option<Spanned<toml::Value>>,
    defer_at_or_below: Option<Spanned<toml::Value>>,
    estimation_fee: Option<Spanned<toml::Value>>,
    renewal_uplift_pct: Option<Spanned<toml::Value>>,
    terminated_on: Option<Spanned<toml::Value>>,
    trailing_days: Option<Spanned<i64>>,
    #[serde(default)]
    price: Vec<Spanned<RawPrice>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPrice {
    from: Spanned<toml::Value>,
    bw: Spanned<toml::Value>,
    colour: Spanned<toml::Value>,
    bw_a3: Option<Spanned<toml::Value>>,
    colour_a3: Option<Spanned<toml::Value>>,
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
        let id = r.id.get_ref().trim().to_owned();
        if id.is_empty() {
            return Err(self.at(&r.id, &format!("{t}.id"), "must not be empty"));
        }
        let start = self.date(&r.start, &format!("{t}.start"))?;
        let term = *r.term_months.get_ref();
        if term <= 0 || term % 12 != 0 {
            return Err(self.at(&r.term_months, &format!("{t}.term_months"), format!("{term} is not a whole number of years (12, 24, 36, …): contract years and renewal years must line up")));
        }
        let billing = match r.billing.get_ref().as_str() {
            "advance" => Billing::Advance,
            "arrears" => Billing::Arrears,
            other => {
                return Err(self.at(
                    &r.billing,
                    &format!("{t}.billing"),
                    format!("`{other}` is not advance or arrears"),
                ));
            }
        };
        let devices = self.memberships(&t, &r.devices, start)?;
        let prices = self.price_versions(&t, raw, start)?;
        let terminated_on = match &r.terminated_on {
            Some(v) => {
                let d = self.date(v, &format!("{t}.terminated_on"))?;
                if d < start {
                    return Err(self.at(
                        v,
                        &format!("{t}.terminated_on"),
                        format!("{d} is before the start {start}"),
                    ));
                }
                Some(d)
            }
            None => None,
        };
        Ok(Contract {
            id,
            devices,
            start,
            term_months: term as u32,
            billing,
            committed_bw: self.pages(&r.committed_bw, &format!("{t}.committed_bw"))?,
            committed_colour: self.pages(&r.committed_colour, &format!("{t}.committed_colour"))?,
            minimum_bw: self
                .pages(&r.minimum_bw, &format!("{t}.minimum_bw"))?
                .unwrap_or(0),
            minimum_colour: self
                .pages(&r.minimum_colour, &format!("{t}.minimum_colour"))?
                .unwrap_or(0),
            fixed_fee_monthly: self.money(
                &r.fixed_fee_monthly,
                &format!("{t}.fixed_fee_monthly"),
                "0",
            )?,
            deviation_threshold_pct: self.decimal(
                &r.deviation_threshold_pct,
                &format!("{t}.deviation_threshold_pct"),
                "15",
            )?,
            defer_at_or_below: self.money(
                &r.defer_at_or_below,
                &format!("{t}.defer_at_or_below"),
                "100.00",
            )?,
            estimation_fee: self.money(&r.estimation_fee, &format!("{t}.estimation_fee"), "0")?,
            renewal_uplift_pct: self.decimal(
                &r.renewal_uplift_pct,
                &format!("{t}.renewal_uplift_pct"),
                "30",
            )?,
            terminated_on,
            trailing_days: match &r.trailing_days {
                None => 90,
                Some(d) if (1..=3660).contains(d.get_ref()) => *d.get_ref() as u32,
                Some(d) => {
                    return Err(self.at(
                        d,
                        &format!("{t}.trailing_days"),
                        "must be between 1 and 3660",
                    ));
                }
            },
            prices,
        })
    }

    /// A date: a TOML local date (`2025-01-01`) or a string `"2025-01-01"`.
    fn date(&self, v: &Spanned<toml::Value>, key: &str) -> Result<NaiveDate, ConfigError> {
        let text = match v.get_ref() {
            toml::Value::String(s) => s.trim().to_owned(),
            toml::Value::Datetime(dt) if dt.date.is_some() && dt.time.is_none() => dt.to_string(),
            other => {
                return Err(self.at(
                    v,
                    key,
                    format!("`{other}` is not a date like \"2025-01-01\""),
                ));
            }
        };
        NaiveDate::parse_from_str(&text, "%Y-%m-%d").map_err(|_| {
            self.at(
                v,
                key,
                format!("`{text}` is not a date like \"2025-01-01\""),
            )
        })
    }

    fn pages(&self, v: &Option<Spanned<i64>>, key: &str) -> Result<Option<u64>, ConfigError> {
        match v {
            None => Ok(None),
            Some(n) if *n.get_ref() >= 0 => Ok(Some(*n.get_ref() as u64)),
            Some(n) => Err(self.at(n, key, format!("{} is negative", n.get_ref()))),
        }
    }

    /// An exact, non-negative decimal: a string or an integer, never a float.
    fn exact(&self, v: &Spanned<toml::Value>, key: &str) -> Result<Decimal, ConfigError> {
        let d = match v.get_ref() {
            toml::Value::String(s) => Decimal::from_str_exact(s.trim()).map_err(|_| {
                self.at(
                    v,
                    key,
                    format!("`{s}` is not a decimal number like \"0.0450\""),
                )
            })?,
            toml::Value::Integer(i) => Decimal::from(*i),
            toml::Value::Float(f) => {
                return Err(self.at(v, key, format!("{f} is a TOML float, which is not exact: write it as a string, e.g. \"{f}\"")));
            }
            other => {
                return Err(self.at(
                    v,
                    key,
                    format!(
                        "`{other}` is not a decimal number: write it as a string like \"0.0450\""
                    ),
                ));
            }
        };
        if d.is_sign_negative() && !d.is_zero() {
            return Err(self.at(v, key, format!("{d} is negative")));
        }
        Ok(d)
    }

    fn decimal(
        &self,
        v: &Option<Spanned<toml::Value>>,
        key: &str,
        default: &str,
    ) -> Result<Decimal, ConfigError> {
        match v {
            None => Ok(Decimal::from_str_exact(default).unwrap_or_default()),
            Some(v) => self.exact(v, key),
        }
    }

    fn money(
        &self,
        v: &Option<Spanned<toml::Value>>,
        key: &str,
        default: &str,
    ) -> Result<Nok, ConfigError> {
        let d = self.decimal(v, key, default)?;
        if d.normalize().scale() > 2 {
            let spanned = v.as_ref().map(|s| s.span().start).unwrap_or(0);
            return Err(ConfigError {
                file: self.file.clone(),
                line: Some(self.line(spanned)),
                key: key.to_owned(),
                message: format!("{d} has more than 2 decimals (øre)"),
            });
        }
        Ok(Nok(d))
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
            let empty = || self.at(v, &key, "the serial must not be empty");
            let m = match v.get_ref() {
                toml::Value::String(s) => Membership {
                    serial: Serial::parse(s).map_err(|_| empty())?,
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
                Serial::parse(s).map_err(|_| self.at(v, key, "the serial must not be empty"))?
            }
            _ => return Err(self.at(v, &format!("{key}.serial"), "is required (a string)")),
        };
        let date = |name: &str| -> Result<Option<NaiveDate>, ConfigError> {
            table
                .get(name)
                .map(|d| self.date(&Spanned::new(v.span(), d.clone()), &format!("{key}.{name}")))
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
        for (j, p) in list.iter().enumerate() {
            let key = format!("{t}.price[{j}]");
            let r = p.get_ref();
            let optional = |v: &Option<Spanned<toml::Value>>, name: &str| {
                v.as_ref()
                    .map(|v| self.exact(v, &format!("{key}.{name}")))
                    .transpose()
            };
            let version = PriceVersion {
                from: self.date(&r.from, &format!("{key}.from"))?,
                prices: Prices {
                    bw: self.exact(&r.bw, &format!("{key}.bw"))?,
                    colour: self.exact(&r.colour, &format!("{key}.colour"))?,
                    bw_a3: optional(&r.bw_a3, "bw_a3")?,
                    colour_a3: optional(&r.colour_a3, "colour_a3")?,
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
        let mut seen: Vec<(&str, NaiveDate, Option<NaiveDate>, &str)> = Vec::new();
        for (i, c) in contracts.iter().enumerate() {
            for m in &c.devices {
                let from = m.from.unwrap_or(c.start);
                let until = match (m.until, c.end()) {
                    (Some(u), Some(e)) => Some(u.min(e)),
                    (u, e) => u.or(e),
                };
                for (serial, f2, u2, other) in &seen {
                    let overlap = *serial == m.serial.as_str()
                        && until.is_none_or(|u| *f2 < u)
                        && u2.is_none_or(|u| from < u);
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
                seen.push((&m.serial, from, until, &c.id));
            }
        }
        Ok(())
    }
}
