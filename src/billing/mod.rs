//! The money: usage per contract and period from the judged meter series,
//! invoices (a-konto, settlement, arrears, A3) with deferral, and the 15 % rule
//! (docs/contract-rules.md; ARCHITECTURE.md, the billing decisions).
//!
//! Pure: takes the contract, the devices' readings and a date; returns
//! invoices and findings. A billing discrepancy is data, not an error. It never
//! reads the clock, a socket or the database.

mod cumulative;
mod invoice;
mod json;
mod reconcile;
mod text;

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;

pub use crate::contract::Overflow;
use crate::contract::{Class, Contract, Membership, PeriodKind, midnight};
use crate::estimate::{Boundary, value_at};
use crate::meters::series::{Point, Series, sort_points};
use crate::meters::{DeviceColour, Meter, Source, ValueKind, complete_points};
use crate::serial::Serial;
use crate::timestamp::Timestamp;

pub use cumulative::{PeriodUse, chart_dates, cumulative_use};
pub use invoice::{Invoice, InvoiceKind, Line, LineClass, Status, invoices};
pub use json::{boundary_answer, invoices_answer, standing_answer};
pub use reconcile::{
    ClassStanding, PeriodStanding, Standing, period_standings, reconcile, running_standings,
};
pub use text::{invoices_text, standing_text};

/// The four meters billing reads, in this order.
pub const BILLING_METERS: [Meter; 4] = [
    Meter::BwTotal,
    Meter::BwLarge,
    Meter::ColourTotal,
    Meter::ColourLarge,
];

/// The meters a [`DeviceHistory`] is built from: the billing meters, and
/// `total` for a mono device without `bw_total`.
pub const HISTORY_METERS: [Meter; 5] = [
    Meter::BwTotal,
    Meter::BwLarge,
    Meter::ColourTotal,
    Meter::ColourLarge,
    Meter::Total,
];

/// What the engine knows of one device: its readings of the billing meters.
#[derive(Debug, Clone, Default)]
pub struct DeviceHistory {
    pub serial: Serial,
    /// The device counts each large page twice in its own totals.
    pub large_counts_double: bool,
    /// Points of [`BILLING_METERS`], each sorted.
    pub meters: [Vec<Point>; 4],
    /// It has `total` readings but nothing that splits them into b/w and
    /// colour, and it is not known to be mono: its pages are a gap.
    pub no_colour_split: bool,
}

impl DeviceHistory {
    /// As [`DeviceHistory::with_colour`] for a device nothing more is known
    /// of than its readings.
    pub fn new(
        serial: &Serial,
        large_counts_double: bool,
        points: HashMap<Meter, Vec<Point>>,
    ) -> DeviceHistory {
        DeviceHistory::with_colour(serial, large_counts_double, DeviceColour::Unknown, points)
    }

    /// Builds the history from points of any meters, derived as every
    /// reading is (`meters::derive`): entered readings per instant and
    /// source; `bw_total = total − colour_total` for a colour device without a
    /// b/w meter; `total` as `bw_total` only for a device known to be mono.
    /// `colour` is what is known of the device besides these readings (its
    /// supplies, its config); a colour meter among them makes it colour.
    pub fn with_colour(
        serial: &Serial,
        large_counts_double: bool,
        colour: DeviceColour,
        points: HashMap<Meter, Vec<Point>>,
    ) -> DeviceHistory {
        let mut points = derive_entered(points, colour);
        let colour = if points.iter().any(|(m, p)| m.is_colour() && !p.is_empty()) {
            DeviceColour::Colour
        } else {
            colour
        };
        let mut meters: [Vec<Point>; 4] = Default::default();
        for (slot, meter) in BILLING_METERS.iter().enumerate() {
            meters[slot] = points.remove(meter).unwrap_or_default();
        }
        let total = points.remove(&Meter::Total).unwrap_or_default();
        if meters[0].is_empty() {
            meters[0] = match colour {
                DeviceColour::Mono => total.clone(),
                _ => total_less_colour(&total, &meters[2]),
            };
        }
        for m in &mut meters {
            sort_points(m);
        }
        DeviceHistory {
            serial: serial.clone(),
            large_counts_double,
            no_colour_split: meters[0].is_empty() && !total.is_empty(),
            meters,
        }
    }
}

/// Derives the readings people entered, each instant and source as one
/// reading; polled points pass as they are (they were derived when polled).
fn derive_entered(
    mut points: HashMap<Meter, Vec<Point>>,
    colour: DeviceColour,
) -> HashMap<Meter, Vec<Point>> {
    let entered = |p: &Point| p.source != Source::Polled;
    if !points.values().flatten().any(entered) {
        return points;
    }
    let mut people: HashMap<Meter, Vec<Point>> = HashMap::new();
    for (meter, list) in points.iter_mut() {
        let (theirs, polled): (Vec<Point>, Vec<Point>) = list.drain(..).partition(entered);
        *list = polled;
        if !theirs.is_empty() {
            people.insert(*meter, theirs);
        }
    }
    let wanted: Vec<Meter> = BILLING_METERS.into_iter().chain([Meter::Total]).collect();
    for (meter, derived) in complete_points(people, colour, &wanted) {
        points.entry(meter).or_default().extend(derived);
    }
    points.retain(|meter, _| wanted.contains(meter));
    points
}

/// `total − colour_total` at every instant (and source) where the device
/// read both: the b/w pages of a colour device without a b/w meter.
fn total_less_colour(total: &[Point], colour: &[Point]) -> Vec<Point> {
    let colour_at: HashMap<(Timestamp, Source), u64> =
        colour.iter().map(|p| ((p.at, p.source), p.value)).collect();
    total
        .iter()
        .filter(|p| p.kind != ValueKind::Derived)
        .filter_map(|p| {
            let c = colour_at.get(&(p.at, p.source))?;
            Some(Point {
                value: p.value.checked_sub(*c)?,
                kind: ValueKind::Derived,
                ..*p
            })
        })
        .collect()
}

/// The dates whose meter values an answer on `date` (invoices until it, or the
/// standing on it) can ask for: storage reads the readings around these.
pub fn needed_dates(contract: &Contract, date: NaiveDate) -> Vec<NaiveDate> {
    let mut dates = vec![date];
    for kind in [contract.billing_period(), PeriodKind::Year] {
        for p in contract.periods_until(kind, date) {
            dates.extend([p.start, p.end]);
        }
    }
    dates.extend(contract.prices.iter().map(|v| v.from));
    dates.push(contract.renewal_date());
    for m in &contract.devices {
        dates.extend(m.from.iter().chain(m.until.iter()));
    }
    dates.sort();
    dates.dedup();
    dates
}

/// The dates the periods running on `date` need: their starts, the members'
/// joining and leaving dates up to `date`, and `date` (a projection uses
/// readings up to `date` only, so nothing later). What the alerts'
/// projections read, where an answer on `date` reads [`needed_dates`].
pub fn running_dates(contract: &Contract, date: NaiveDate) -> Vec<NaiveDate> {
    let mut dates = vec![date];
    for kind in [contract.billing_period(), PeriodKind::Year] {
        for p in contract.periods_until(kind, date) {
            if p.start <= date && date < p.end {
                dates.push(p.start);
            }
        }
    }
    for m in &contract.devices {
        dates.extend(m.from.iter().chain(m.until.iter()));
    }
    dates.retain(|d| *d <= date);
    dates.sort();
    dates.dedup();
    dates
}

/// A meter value at a boundary, as shown with an invoice or a standing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundaryValue {
    pub serial: Serial,
    pub meter: Meter,
    pub boundary: Boundary,
    /// The readings it rests on: (at, value, source).
    pub basis: Vec<(Timestamp, u64, Source)>,
}

/// Pages no reading measured, or a window without readings.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct GapFound {
    pub serial: Serial,
    pub meter: Meter,
    pub from: Timestamp,
    pub to: Timestamp,
    pub reason: &'static str,
}

/// The pages of one class in a window, summed over the devices.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClassPages {
    /// Pages counted towards the commitment: A4-equivalents, or A4 pages
    /// only where the class has an A3 price.
    pub counted: u64,
    /// A3 pages, where the class has an A3 price (else 0).
    pub a3: u64,
}

/// One membership's judged series and the boundary values computed so far.
struct Member<'a> {
    membership: &'a Membership,
    /// The membership's `from` and `until` as instants (open: MIN, MAX).
    from: Timestamp,
    until: Timestamp,
    history: &'a DeviceHistory,
    series: [Series<'a>; 4],
    /// Per meter slot: (instant, value there), sorted by instant.
    memo: [Vec<(Timestamp, Option<Boundary>)>; 4],
}

/// Usage of one contract, worked out lazily from the devices' series.
pub(crate) struct Engine<'a> {
    pub contract: &'a Contract,
    members: Vec<Member<'a>>,
    pub gaps: Vec<GapFound>,
    /// The gaps found so far by (serial, slot, from, to, reason), so each is
    /// listed once without searching the list (tens of thousands of gaps on
    /// a fleet made that search most of a standing's time).
    gaps_seen: HashSet<(&'a str, usize, Timestamp, Timestamp, &'static str)>,
}

impl<'a> Engine<'a> {
    /// Devices of the contract without a history have no readings at all.
    pub fn new(
        contract: &'a Contract,
        histories: &'a [DeviceHistory],
        empty: &'a DeviceHistory,
    ) -> Engine<'a> {
        let by_serial: HashMap<&str, &DeviceHistory> =
            histories.iter().map(|h| (h.serial.as_str(), h)).collect();
        let mut members: Vec<Member> = contract
            .devices
            .iter()
            .map(|m| {
                let history = by_serial.get(m.serial.as_str()).copied().unwrap_or(empty);
                Member {
                    membership: m,
                    from: m.from.map_or(Timestamp::MIN, midnight),
                    until: m.until.map_or(Timestamp::MAX, midnight),
                    history,
                    series: std::array::from_fn(|i| Series::empty(&history.meters[i])),
                    memo: Default::default(),
                }
            })
            .collect();
        let dates = key_dates(contract);
        in_parallel(&mut members, |m| {
            m.series = std::array::from_fn(|i| Series::new(&m.history.meters[i]));
            m.prefetch(contract, &dates);
        });
        Engine {
            contract,
            members,
            gaps: Vec::new(),
            gaps_seen: HashSet::new(),
        }
    }

    /// Instants of the part of `[from, to)` member `idx` is in the contract.
    /// The part of `[from, to)` (instants) member `idx` is in the contract.
    fn window(&self, idx: usize, from: Timestamp, to: Timestamp) -> Option<(Timestamp, Timestamp)> {
        let m = &self.members[idx];
        let (s, e) = (from.max(m.from), to.min(m.until));
        (s < e).then_some((s, e))
    }

    fn boundary(&mut self, idx: usize, slot: usize, at: Timestamp) -> Option<&Boundary> {
        let trailing = self.contract.trailing_days;
        let m = &mut self.members[idx];
        memoised(&mut m.memo[slot], &m.series[slot], at, trailing).as_ref()
    }

    fn serial(&self, idx: usize) -> &Serial {
        &self.members[idx].membership.serial
    }

    fn gap(
        &mut self,
        idx: usize,
        slot: usize,
        from: Timestamp,
        to: Timestamp,
        reason: &'static str,
    ) {
        let serial: &'a str = self.members[idx].membership.serial.as_str();
        if self.gaps_seen.insert((serial, slot, from, to, reason)) {
            self.gaps.push(GapFound {
                serial: self.serial(idx).clone(),
                meter: BILLING_METERS[slot],
                from,
                to,
                reason,
            });
        }
    }

    /// Pages of one meter in `[s, e)`. Before the first reading nothing is
    /// invented: use counts from it, and the time before is a gap.
    fn usage(&mut self, idx: usize, slot: usize, s: Timestamp, e: Timestamp) -> u64 {
        let series = &self.members[idx].series[slot];
        if series.is_empty() {
            if self.members[idx].history.no_colour_split && slot != 1 && slot != 3 {
                // Pages that cannot be told b/w or colour: never billed as b/w.
                self.gap(idx, slot, s, e, "no_colour_split");
                return 0;
            }
            if self.has_readings(idx) {
                // The device never reports this meter: it has none.
                return 0;
            }
            self.gap(idx, slot, s, e, "no readings");
            return 0;
        }
        let start = match self.boundary(idx, slot, s).map(|b| b.cum) {
            Some(cum) => cum,
            None => {
                let series = &self.members[idx].series[slot];
                let first = series.first().map(|i| (series.points[i].at, series.cum(i)));
                match first {
                    Some((at, cum)) if at < e => {
                        self.gap(idx, slot, s, at, "before the first reading");
                        cum
                    }
                    _ => {
                        self.gap(idx, slot, s, e, "no readings");
                        return 0;
                    }
                }
            }
        };
        let end = match self.boundary(idx, slot, e).map(|b| b.cum) {
            Some(cum) => cum,
            None => {
                // One reading and none after: use counts to it, and the time
                // after it is unmeasured.
                let series = &self.members[idx].series[slot];
                match series
                    .at_or_before(e)
                    .map(|i| (series.points[i].at, series.cum(i)))
                {
                    Some((at, cum)) => {
                        if at < e {
                            self.gap(idx, slot, at, e, "one reading: no rate");
                        }
                        cum
                    }
                    None => start,
                }
            }
        };
        u64::try_from(end - start).unwrap_or(0)
    }

    fn has_readings(&self, idx: usize) -> bool {
        let history = self.members[idx].history;
        history.no_colour_split || history.meters.iter().any(|m| !m.is_empty())
    }

    /// Pages of a class in `[from, to)` over every device; an overflow when
    /// the sum does not fit in 64 bits.
    pub fn class_pages(
        &mut self,
        class: Class,
        from_date: NaiveDate,
        to_date: NaiveDate,
    ) -> Result<ClassPages, Overflow> {
        let (from, to) = (midnight(from_date), midnight(to_date));
        let mut total = ClassPages::default();
        let too_many = || {
            Overflow(format!(
                "the number of {} pages {from_date} – {to_date}",
                class.name()
            ))
        };
        for idx in 0..self.members.len() {
            let Some((s, e)) = self.window(idx, from, to) else {
                continue;
            };
            let (total_slot, large_slot) = slots(class);
            let all = self.usage(idx, total_slot, s, e);
            let large = self.usage(idx, large_slot, s, e);
            let p = self.count(idx, class, all, large).ok_or_else(too_many)?;
            total.counted = total.counted.checked_add(p.counted).ok_or_else(too_many)?;
            total.a3 = total.a3.checked_add(p.a3).ok_or_else(too_many)?;
        }
        Ok(total)
    }

    /// The A3 rule (§4.9.1) for one device's usage of a class; None when the
    /// count does not fit in 64 bits.
    fn count(&self, idx: usize, class: Class, all: u64, large: u64) -> Option<ClassPages> {
        let double = self.members[idx].history.large_counts_double;
        Some(if self.contract.a3_priced(class) {
            let a4 = all.saturating_sub(if double { large.checked_mul(2)? } else { large });
            ClassPages {
                counted: a4,
                a3: large,
            }
        } else {
            ClassPages {
                counted: if double { all } else { all.checked_add(large)? },
                a3: 0,
            }
        })
    }

    /// The values at every instant that splits the money of `[from, to)`:
    /// each device's start and end in it and every price change between, by
    /// instant, serial and meter.
    pub fn split_values(
        &mut self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<BoundaryValue>, Overflow> {
        let cuts: Vec<Timestamp> = self
            .contract
            .price_segments(from, to)?
            .into_iter()
            .map(|(start, _, _)| midnight(start))
            .collect();
        let (from, to) = (midnight(from), midnight(to));
        let mut out = Vec::new();
        for idx in 0..self.members.len() {
            let Some((s, e)) = self.window(idx, from, to) else {
                continue;
            };
            let mut instants = vec![s, e];
            instants.extend(cuts.iter().copied().filter(|c| s < *c && *c < e));
            for at in instants {
                out.extend(self.values_at(idx, at));
            }
        }
        let slot = |m: Meter| BILLING_METERS.iter().position(|b| *b == m);
        out.sort_by(|a, b| {
            (a.boundary.at, &a.serial, slot(a.meter)).cmp(&(
                b.boundary.at,
                &b.serial,
                slot(b.meter),
            ))
        });
        out.dedup_by(|a, b| {
            (a.boundary.at, &a.serial, a.meter) == (b.boundary.at, &b.serial, b.meter)
        });
        Ok(out)
    }

    /// The values of every meter a member has at `at`.
    fn values_at(&mut self, idx: usize, at: Timestamp) -> Vec<BoundaryValue> {
        let mut out = Vec::new();
        for (slot, meter) in BILLING_METERS.into_iter().enumerate() {
            if let Some(boundary) = self.boundary(idx, slot, at).cloned() {
                let series = &self.members[idx].series[slot];
                let basis = boundary
                    .basis
                    .iter()
                    .map(|i| {
                        let p = series.points[*i];
                        (p.at, p.value, p.source)
                    })
                    .collect();
                out.push(BoundaryValue {
                    serial: self.serial(idx).clone(),
                    meter,
                    boundary,
                    basis,
                });
            }
        }
        out
    }

    pub fn n_members(&self) -> usize {
        self.members.len()
    }
}

impl Member<'_> {
    /// Computes the values at every date the contract will ask for, within
    /// the member's window, ahead (and on its own thread).
    fn prefetch(&mut self, contract: &Contract, dates: &[NaiveDate]) {
        let m = self.membership;
        let inside =
            |d: &NaiveDate| m.from.is_none_or(|f| *d >= f) && m.until.is_none_or(|u| *d <= u);
        let mut instants: Vec<Timestamp> = dates
            .iter()
            .filter(|d| inside(d))
            .map(|d| midnight(*d))
            .collect();
        instants.extend(m.from.iter().chain(m.until.iter()).map(|d| midnight(*d)));
        for (memo, series) in self.memo.iter_mut().zip(&self.series) {
            for at in &instants {
                memoised(memo, series, *at, contract.trailing_days);
            }
        }
    }
}

/// The value at `at` from `memo`, computed and kept on first use.
fn memoised<'m>(
    memo: &'m mut Vec<(Timestamp, Option<Boundary>)>,
    series: &Series,
    at: Timestamp,
    trailing_days: u32,
) -> &'m Option<Boundary> {
    let i = match memo.binary_search_by_key(&at, |(t, _)| *t) {
        Ok(i) => i,
        Err(i) => {
            memo.insert(i, (at, value_at(series, at, trailing_days)));
            i
        }
    };
    &memo[i].1
}

/// The dates whose boundary values most answers need: billing-period
/// boundaries to the first renewal (or the end), price changes, the renewal.
/// Any other date is computed on demand.
fn key_dates(contract: &Contract) -> Vec<NaiveDate> {
    let last = contract.end().unwrap_or(contract.renewal_date());
    let mut dates: Vec<NaiveDate> = (0..)
        .map(|k| contract.period(contract.billing_period(), k).start)
        .take_while(|d| *d <= last)
        .collect();
    dates.extend(contract.prices.iter().map(|v| v.from));
    dates.push(contract.renewal_date());
    dates.sort();
    dates.dedup();
    dates
}

/// Runs `work` on every item, split over the machine's cores.
fn in_parallel<T: Send>(items: &mut [T], work: impl Fn(&mut T) + Sync) {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if threads < 2 || items.len() < 64 {
        items.iter_mut().for_each(work);
        return;
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|scope| {
        for part in items.chunks_mut(chunk) {
            let work = &work;
            scope.spawn(move || part.iter_mut().for_each(work));
        }
    });
}

/// The series slots of a class: (total, large).
fn slots(class: Class) -> (usize, usize) {
    match class {
        Class::Bw => (0, 1),
        Class::Colour => (2, 3),
    }
}

#[cfg(test)]
mod properties;
#[cfg(test)]
pub(crate) mod tests;
