//! The contract's standing on a date: every period so far against the
//! commitment (the 15 % rule, with a run-rate projection of the running one),
//! the notice deadline and renewal, boundary values, gaps and counter events.

use std::collections::HashSet;

use chrono::NaiveDate;
use rust_decimal::{Decimal, RoundingStrategy};

use super::{BILLING_METERS, BoundaryValue, DeviceHistory, Engine, GapFound, Member};
use crate::contract::dates::{DAY_MS, midnight};
use crate::contract::{Class, Contract, Overflow, Period, PeriodKind, Prices};
use crate::meters::Meter;
use crate::meters::series::SeriesEvent;
use crate::serial::Serial;
use crate::timestamp::Timestamp;

/// One class in one period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassStanding {
    /// The period's share of the annual commitment (exact); None: none.
    pub committed: Option<Decimal>,
    pub actual: u64,
    /// The running period at its end by run-rate; None for closed ones.
    pub projected: Option<u64>,
    /// Rounded to 2 decimals; from `actual` (closed) or `projected` (running).
    pub deviation_pct: Option<Decimal>,
    /// |deviation| is more than the threshold (tested exactly).
    pub breach: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeriodStanding {
    pub period: Period,
    pub running: bool,
    pub bw: ClassStanding,
    pub colour: ClassStanding,
}

/// A counter event found in a device's readings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFound {
    pub serial: Serial,
    pub meter: Meter,
    pub event: SeriesEvent,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    pub contract: String,
    pub at: NaiveDate,
    pub periods: Vec<PeriodStanding>,
    /// (deadline, the expiry it is for) while the contract renews.
    pub notice: Option<(NaiveDate, NaiveDate)>,
    /// The prices from that expiry on.
    pub renewal_prices: Option<Prices>,
    /// The end, when notice was given.
    pub ends: Option<NaiveDate>,
    pub boundary_values: Vec<BoundaryValue>,
    pub gaps: Vec<GapFound>,
    pub events: Vec<EventFound>,
}

/// The standing of `contract` on `at` (00:00 Oslo that day); an overflow
/// when a count or a price is too large to compute (could not run).
pub fn reconcile(
    contract: &Contract,
    histories: &[DeviceHistory],
    at: NaiveDate,
) -> Result<Standing, Overflow> {
    let empty = DeviceHistory::default();
    let mut engine = Engine::new(contract, histories, &empty);
    let out = engine.periods_on(at, false)?;
    let boundary_values = engine.standing_values(&out);
    let until = midnight(at);
    let events = engine.events(until);
    let mut gaps = engine.reset_gaps(until);
    gaps.extend(engine.gaps.iter().filter(|g| g.from < until).cloned());
    gaps.sort();
    gaps.dedup();
    let gaps = merge_gaps(gaps);
    let notice = contract
        .next_deadline(at)
        .map(|(expiry, deadline)| (deadline, expiry));
    Ok(Standing {
        contract: contract.id.clone(),
        at,
        periods: out,
        renewal_prices: notice
            .map(|(_, expiry)| contract.prices_on(expiry))
            .transpose()?,
        notice,
        ends: contract.end(),
        boundary_values,
        gaps,
        events,
    })
}

/// Only the periods of the standing on `at`, as [`reconcile`] has them,
/// without the boundary values, gaps and events that explain them: what the
/// alerts need, in a fraction of the memory (a fleet's boundary values with
/// their readings are tens of megabytes).
pub fn period_standings(
    contract: &Contract,
    histories: &[DeviceHistory],
    at: NaiveDate,
) -> Result<Vec<PeriodStanding>, Overflow> {
    let empty = DeviceHistory::default();
    Engine::new(contract, histories, &empty).periods_on(at, false)
}

/// The periods running on `at` only, as [`period_standings`] has them:
/// what the alerts' projections need, from histories read around
/// [`running_dates`](super::running_dates) alone.
pub fn running_standings(
    contract: &Contract,
    histories: &[DeviceHistory],
    at: NaiveDate,
) -> Result<Vec<PeriodStanding>, Overflow> {
    let empty = DeviceHistory::default();
    Engine::new(contract, histories, &empty).periods_on(at, true)
}

impl Engine<'_> {
    /// Every period up to `at`, closed or running (or `only_running`), by end.
    fn periods_on(
        &mut self,
        at: NaiveDate,
        only_running: bool,
    ) -> Result<Vec<PeriodStanding>, Overflow> {
        let contract = self.contract;
        let mut periods: Vec<Period> = contract.periods_until(contract.billing_period(), at);
        periods.extend(contract.periods_until(PeriodKind::Year, at));
        periods.sort_by_key(|p| (p.end, p.kind.months()));
        let mut out = Vec::new();
        for period in periods {
            let running = period.start <= at && at < period.end;
            if only_running && !running {
                continue;
            }
            out.push(if running {
                self.running(period, midnight(at))?
            } else {
                self.closed(period)?
            });
        }
        Ok(out)
    }

    fn closed(&mut self, period: Period) -> Result<PeriodStanding, Overflow> {
        let class = |engine: &mut Self, class: Class| {
            let actual = engine.class_pages(class, period.start, period.end)?.counted;
            engine.standing(class, period, actual, None, false)
        };
        Ok(PeriodStanding {
            period,
            running: false,
            bw: class(self, Class::Bw)?,
            colour: class(self, Class::Colour)?,
        })
    }

    fn running(&mut self, period: Period, cutoff: Timestamp) -> Result<PeriodStanding, Overflow> {
        let bw = self.running_class(period, Class::Bw, cutoff)?;
        let colour = self.running_class(period, Class::Colour, cutoff)?;
        Ok(PeriodStanding {
            period,
            running: true,
            bw,
            colour,
        })
    }

    /// Use so far from readings at or before `cutoff`, and the projection: per
    /// device, use ÷ real time to its last reading × its window's real length;
    /// a device with no reading 24 hours into the window adds its use as is.
    fn running_class(
        &mut self,
        period: Period,
        class: Class,
        cutoff: Timestamp,
    ) -> Result<ClassStanding, Overflow> {
        let too_large = || {
            Overflow(format!(
                "the projection of {} pages {} – {}",
                class.name(),
                period.start,
                period.end
            ))
        };
        let (total_slot, large_slot) = super::slots(class);
        let (start, end) = (midnight(period.start), midnight(period.end));
        let mut actual = 0u64;
        let mut projected = Decimal::ZERO;
        let mut any_projection = false;
        for idx in 0..self.n_members() {
            let Some((s, e)) = self.window(idx, start, end) else {
                continue;
            };
            if e <= cutoff {
                // The device left the contract before the date asked about:
                // its use in the period is complete, and is its projection.
                let all = self.usage(idx, total_slot, s, e);
                let large = self.usage(idx, large_slot, s, e);
                let pages = self
                    .count(idx, class, all, large)
                    .ok_or_else(too_large)?
                    .counted;
                actual = actual.checked_add(pages).ok_or_else(too_large)?;
                projected = projected
                    .checked_add(Decimal::from(pages))
                    .ok_or_else(too_large)?;
                any_projection |= e - s >= DAY_MS;
                continue;
            }
            let used = match self.used_until(idx, total_slot, s, cutoff) {
                Some(used) => Some(used),
                // A device without this class (a mono device's colour) used
                // none of it up to its last reading.
                None if self.members[idx].series[total_slot].is_empty() => self
                    .last_reading_at(idx, cutoff)
                    .filter(|at| *at > s)
                    .map(|at| (0, at)),
                None => None,
            };
            let Some((all, last_at)) = used else {
                if self.members[idx].history.no_colour_split {
                    self.gap(idx, total_slot, s, cutoff.min(e), "no_colour_split");
                } else if !self.has_readings(idx) {
                    for slot in [total_slot, large_slot] {
                        self.gap(idx, slot, s, cutoff.min(e), "no readings");
                    }
                }
                continue;
            };
            let large = self
                .used_until(idx, large_slot, s, cutoff)
                .map_or(0, |u| u.0);
            let pages = self
                .count(idx, class, all, large)
                .ok_or_else(too_large)?
                .counted;
            actual = actual.checked_add(pages).ok_or_else(too_large)?;
            let elapsed = last_at - s;
            let device = if elapsed >= DAY_MS {
                any_projection = true;
                Decimal::from(pages)
                    .checked_mul(Decimal::from(e - s))
                    .and_then(|p| p.checked_div(Decimal::from(elapsed)))
            } else {
                Some(Decimal::from(pages))
            };
            projected = device
                .and_then(|d| projected.checked_add(d))
                .ok_or_else(too_large)?;
        }
        let projected = any_projection.then(|| {
            let rounded =
                projected.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
            u64::try_from(rounded.mantissa()).unwrap_or(0)
        });
        let mut standing = self.standing(class, period, actual, projected, true)?;
        standing.projected = projected;
        Ok(standing)
    }

    /// The time of the device's last reading of any billing meter at or
    /// before `cutoff`.
    fn last_reading_at(&self, idx: usize, cutoff: Timestamp) -> Option<Timestamp> {
        self.members[idx]
            .series
            .iter()
            .filter_map(|s| s.at_or_before(cutoff).map(|i| s.points[i].at))
            .max()
    }

    /// Pages of a meter from `s` to the last included reading at or before
    /// `cutoff` (and after `s`), with that reading's time.
    fn used_until(
        &mut self,
        idx: usize,
        slot: usize,
        s: Timestamp,
        cutoff: Timestamp,
    ) -> Option<(u64, Timestamp)> {
        let series = &self.members[idx].series[slot];
        let last = series.at_or_before(cutoff)?;
        let (last_at, last_cum) = (series.points[last].at, series.cum(last));
        if last_at <= s {
            return None;
        }
        let start = match self.boundary(idx, slot, s).map(|b| b.cum) {
            Some(cum) => cum,
            None => {
                let series = &self.members[idx].series[slot];
                series.first().map_or(last_cum, |i| series.cum(i))
            }
        };
        Some((u64::try_from(last_cum - start).unwrap_or(0), last_at))
    }

    /// The 15 % rule for one class of a period. A commitment of 0 pages has
    /// no deviation to measure (a percentage of nothing): no breach.
    fn standing(
        &self,
        class: Class,
        period: Period,
        actual: u64,
        projected: Option<u64>,
        running: bool,
    ) -> Result<ClassStanding, Overflow> {
        let committed = self
            .contract
            .committed(class)
            .map(|c| Decimal::from(c) / Decimal::from(period.kind.per_year()));
        let measured = if running { projected } else { Some(actual) };
        let (deviation_pct, breach) = match (committed, measured) {
            (Some(c), Some(m)) if !c.is_zero() => {
                let too_large = || {
                    Overflow(format!(
                        "the deviation of {} pages {} – {}",
                        class.name(),
                        period.start,
                        period.end
                    ))
                };
                let diff = Decimal::from(m) - c;
                let hundred_diff = diff
                    .checked_mul(Decimal::ONE_HUNDRED)
                    .ok_or_else(too_large)?;
                let mut pct = (hundred_diff / c)
                    .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
                pct.rescale(2);
                let allowed = self
                    .contract
                    .deviation_threshold_pct
                    .checked_mul(c)
                    .ok_or_else(too_large)?;
                (Some(pct), hundred_diff.abs() > allowed)
            }
            _ => (None, false),
        };
        Ok(ClassStanding {
            committed,
            actual,
            projected: None,
            deviation_pct,
            breach,
        })
    }

    /// The values at the start of every period and the end of every closed
    /// one, per device, ordered by instant and serial.
    fn standing_values(&mut self, periods: &[PeriodStanding]) -> Vec<BoundaryValue> {
        let spans: Vec<(Timestamp, Timestamp, bool)> = periods
            .iter()
            .map(|p| (midnight(p.period.start), midnight(p.period.end), p.running))
            .collect();
        let mut serials: Vec<&Serial> = self.members.iter().map(|m| &m.membership.serial).collect();
        serials.sort_unstable();
        serials.dedup();
        let repeated = serials.len() < self.n_members();
        let ranks: Vec<usize> = (0..self.n_members())
            .map(|idx| serials.partition_point(|s| *s < self.serial(idx)))
            .collect();
        let mut values: Vec<Option<BoundaryValue>> = Vec::new();
        let mut keys: Vec<(Timestamp, usize, usize)> = Vec::new();
        for (idx, rank) in ranks.into_iter().enumerate() {
            let mut instants: Vec<Timestamp> = Vec::new();
            for (start, end, running) in &spans {
                if let Some((s, e)) = self.window(idx, *start, *end) {
                    instants.push(s);
                    if !running {
                        instants.push(e);
                    }
                }
            }
            instants.sort_unstable();
            instants.dedup();
            for at in instants {
                for v in self.values_at(idx, at) {
                    keys.push((at, rank, values.len()));
                    values.push(Some(v));
                }
            }
        }
        keys.sort_by_key(|(at, rank, _)| (*at, *rank));
        let mut seen = HashSet::new();
        keys.into_iter()
            .filter_map(|(at, rank, i)| {
                let v = values[i].take()?;
                (!repeated || seen.insert((at, rank, v.meter))).then_some(v)
            })
            .collect()
    }

    /// Each member's judged series with the span `[from, to]` it was in the
    /// contract up to `until`, per meter slot.
    fn member_series(
        &self,
        until: Timestamp,
    ) -> impl Iterator<Item = (&Member<'_>, usize, Timestamp, Timestamp)> {
        let start = midnight(self.contract.start);
        self.members.iter().flat_map(move |m| {
            (0..BILLING_METERS.len())
                .map(move |slot| (m, slot, m.from.max(start), m.until.min(until)))
        })
    }

    /// Counter events up to `until` while the device was in the contract.
    fn events(&self, until: Timestamp) -> Vec<EventFound> {
        let mut out = Vec::new();
        for (m, slot, from, to) in self.member_series(until) {
            for e in m.series[slot]
                .events
                .iter()
                .filter(|e| e.at >= from && e.at <= to)
            {
                out.push(EventFound {
                    serial: m.membership.serial.clone(),
                    meter: BILLING_METERS[slot],
                    event: *e,
                });
            }
        }
        out.sort_by(|a, b| (a.event.at, &a.serial, a.meter).cmp(&(b.event.at, &b.serial, b.meter)));
        out
    }

    /// Reset gaps up to `until` while the device was in the contract.
    fn reset_gaps(&self, until: Timestamp) -> Vec<GapFound> {
        let mut out = Vec::new();
        for (m, slot, from, to) in self.member_series(until) {
            for g in m.series[slot].gaps_in(from, to) {
                out.push(GapFound {
                    serial: m.membership.serial.clone(),
                    meter: BILLING_METERS[slot],
                    from: g.from,
                    to: g.to,
                    reason: g.kind.name(),
                });
            }
        }
        out
    }
}

/// Joins gaps of one device, meter and reason that touch or overlap (a device
/// without readings is one gap, not one per period). `gaps` is sorted.
fn merge_gaps(gaps: Vec<GapFound>) -> Vec<GapFound> {
    let mut out: Vec<GapFound> = Vec::new();
    for g in gaps {
        match out.last_mut() {
            Some(last)
                if last.serial == g.serial
                    && last.meter == g.meter
                    && last.reason == g.reason
                    && g.from <= last.to =>
            {
                last.to = last.to.max(g.to);
            }
            _ => out.push(g),
        }
    }
    out
}
