//! The counter report: per device, each meter's value at the start and the
//! end of a period (00:00 Europe/Oslo on each date) with how it was found,
//! the use between, the A4-equivalents of each class (an A3 page counts as
//! two A4) and pages per day.

use std::collections::HashMap;

use chrono::NaiveDate;
use rust_decimal::{Decimal, RoundingStrategy};

use super::{CsvStyle, csv_bytes, text_cell, value_with_sources};
use crate::answer::{A4Equivalents, CounterDevice, CounterMeter, CounterReport, EndValue};
use crate::contract::midnight;
use crate::estimate::Boundary;
use crate::meters::Meter;
use crate::meters::series::Point;

/// The meters the report shows, in this order.
pub const REPORT_METERS: [Meter; 5] = [
    Meter::Total,
    Meter::BwTotal,
    Meter::BwLarge,
    Meter::ColourTotal,
    Meter::ColourLarge,
];

pub const HEADER: [&str; 18] = [
    "serial",
    "model",
    "location",
    "contract",
    "meter",
    "from",
    "from_value",
    "from_method",
    "to",
    "to_value",
    "to_method",
    "usage",
    "a4_equivalents",
    "pages_per_day",
    "note",
    "discovered",
    "uptime_pct",
    "site",
];

/// What the report needs of one device.
#[derive(Debug, Clone)]
pub struct CounterInput<'a> {
    pub serial: &'a str,
    pub model: Option<&'a str>,
    pub location: Option<&'a str>,
    pub contract: Option<&'a str>,
    /// Polled only because discovery found it (no `[[device]]` names it).
    pub discovered: bool,
    /// Its uptime on working days over the period, in % to 2 decimals;
    /// None without evidence.
    pub uptime_pct: Option<Decimal>,
    /// The site that polls it (where there are sites).
    pub site: Option<&'a str>,
    pub large_counts_double: bool,
    pub trailing_days: u32,
    pub points: &'a HashMap<Meter, Vec<Point>>,
}

/// A meter's values at both ends and the use between.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeterUsage {
    pub meter: Meter,
    pub from: Option<Boundary>,
    pub to: Option<Boundary>,
    /// None when either end has no value (before the first reading).
    pub usage: Option<i128>,
    /// On the row of a class's total: that class's A4-equivalents.
    pub a4_equivalents: Option<i128>,
    /// Why a value is missing, in words; None when both ends have one.
    pub note: Option<String>,
}

/// One device of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceCounters {
    pub serial: String,
    pub model: Option<String>,
    pub location: Option<String>,
    pub contract: Option<String>,
    pub discovered: bool,
    pub uptime_pct: Option<Decimal>,
    pub site: Option<String>,
    pub meters: Vec<MeterUsage>,
    pub a4_bw: Option<i128>,
    pub a4_colour: Option<i128>,
}

/// The counters of one device between `from` and `to`.
pub fn device_counters(input: &CounterInput<'_>, from: NaiveDate, to: NaiveDate) -> DeviceCounters {
    let (t0, t1) = (midnight(from), midnight(to));
    let mut meters: Vec<MeterUsage> = REPORT_METERS
        .iter()
        .filter_map(|meter| {
            let points = input.points.get(meter).filter(|p| !p.is_empty())?;
            let start = value_with_sources(points, t0, input.trailing_days).map(|(b, _)| b);
            let end = value_with_sources(points, t1, input.trailing_days).map(|(b, _)| b);
            let usage = start.as_ref().zip(end.as_ref()).map(|(a, b)| b.cum - a.cum);
            let note = missing_note(points, (from, start.is_none()), (to, end.is_none()));
            Some(MeterUsage {
                meter: *meter,
                from: start,
                to: end,
                usage,
                a4_equivalents: None,
                note,
            })
        })
        .collect();
    let has = |m: Meter| meters.iter().any(|u| u.meter == m);
    let mono = !has(Meter::ColourTotal) && !has(Meter::ColourLarge);
    let bw_total = if !has(Meter::BwTotal) && mono {
        Meter::Total
    } else {
        Meter::BwTotal
    };
    let a4_bw = a4(
        &mut meters,
        bw_total,
        Meter::BwLarge,
        input.large_counts_double,
    );
    let a4_colour = a4(
        &mut meters,
        Meter::ColourTotal,
        Meter::ColourLarge,
        input.large_counts_double,
    );
    DeviceCounters {
        serial: input.serial.to_owned(),
        model: input.model.map(str::to_owned),
        location: input.location.map(str::to_owned),
        contract: input.contract.map(str::to_owned),
        discovered: input.discovered,
        uptime_pct: input.uptime_pct,
        site: input.site.map(str::to_owned),
        meters,
        a4_bw,
        a4_colour,
    }
}

/// Why an end of the period has no value, so a blank cell is never a
/// mystery: the meter's first reading came after that date, or there is a
/// single reading before it and one reading gives no rate to go on from.
/// Sentences without `;` or `,`, so no CSV style has to quote them.
fn missing_note(
    points: &[Point],
    (from, from_missing): (NaiveDate, bool),
    (to, to_missing): (NaiveDate, bool),
) -> Option<String> {
    let first = points.iter().map(|p| p.at).min()?;
    let first_day = crate::contract::dates::local_date(first);
    let why = |date: NaiveDate| {
        if first >= midnight(date) {
            format!("No reading of this meter before {date}: its first is from {first_day}.")
        } else {
            format!(
                "One reading of this meter ({first_day}) before {date} and none after it: \
                 one reading gives no rate to estimate from."
            )
        }
    };
    match (from_missing, to_missing) {
        (false, false) => None,
        (true, false) => Some(format!("{} No usage.", why(from))),
        (false, true) => Some(format!("{} No usage.", why(to))),
        (true, true) if first >= midnight(to) => Some(format!("{} No usage.", why(to))),
        (true, true) => Some(format!("{} {} No usage.", why(from), why(to))),
    }
}

/// A class's A4-equivalents: its pages plus its large pages once more,
/// unless the device already counts them twice. Set on the total's row.
fn a4(meters: &mut [MeterUsage], total: Meter, large: Meter, counts_double: bool) -> Option<i128> {
    let usage = |m: Meter| meters.iter().find(|u| u.meter == m).and_then(|u| u.usage);
    let pages = usage(total)?;
    let extra = if counts_double {
        0
    } else {
        usage(large).unwrap_or(0)
    };
    let a4 = pages + extra;
    if let Some(row) = meters.iter_mut().find(|u| u.meter == total) {
        row.a4_equivalents = Some(a4);
    }
    Some(a4)
}

/// Pages a day over the period, to 2 decimals (half away from zero).
pub(crate) fn per_day(usage: i128, from: NaiveDate, to: NaiveDate) -> Option<Decimal> {
    let days = (to - from).num_days();
    if days <= 0 {
        return None;
    }
    let usage = Decimal::from_i128_with_scale(usage, 0);
    let mut p = (usage / Decimal::from(days))
        .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    p.rescale(2);
    Some(p)
}

fn end_value(b: &Option<Boundary>) -> Option<EndValue> {
    b.as_ref().map(|b| EndValue {
        value: b.value,
        method: b.method.name().to_owned(),
    })
}

/// The report as JSON.
pub fn counters_answer(
    from: NaiveDate,
    to: NaiveDate,
    devices: &[DeviceCounters],
) -> CounterReport {
    CounterReport {
        from: from.to_string(),
        to: to.to_string(),
        devices: devices
            .iter()
            .map(|d| CounterDevice {
                serial: d.serial.clone(),
                model: d.model.clone(),
                location: d.location.clone(),
                contract: d.contract.clone(),
                discovered: d.discovered,
                uptime_pct: d.uptime_pct.map(|p| p.to_string()),
                site: d.site.clone(),
                meters: d
                    .meters
                    .iter()
                    .map(|u| CounterMeter {
                        meter: u.meter.name().to_owned(),
                        from: end_value(&u.from),
                        to: end_value(&u.to),
                        usage: u.usage.and_then(|n| i64::try_from(n).ok()),
                        pages_per_day: u
                            .usage
                            .and_then(|n| per_day(n, from, to))
                            .map(|p| p.to_string()),
                        note: u.note.clone(),
                    })
                    .collect(),
                a4_equivalents: A4Equivalents {
                    bw: d.a4_bw.and_then(|n| i64::try_from(n).ok()),
                    colour: d.a4_colour.and_then(|n| i64::try_from(n).ok()),
                },
            })
            .collect(),
    }
}

/// The rows of the report: one per device and meter, as text; the free-text
/// cells neutralised for spreadsheets ([`text_cell`]).
pub fn counter_rows(
    style: CsvStyle,
    from: NaiveDate,
    to: NaiveDate,
    devices: &[DeviceCounters],
) -> Vec<Vec<String>> {
    let opt = |v: Option<String>| v.unwrap_or_default();
    let text = |v: &Option<String>| v.as_deref().map(text_cell).unwrap_or_default();
    let mut rows = Vec::new();
    for d in devices {
        for u in &d.meters {
            rows.push(vec![
                text_cell(&d.serial),
                text(&d.model),
                text(&d.location),
                text(&d.contract),
                u.meter.name().to_owned(),
                from.to_string(),
                opt(u.from.as_ref().map(|b| b.value.to_string())),
                opt(u.from.as_ref().map(|b| b.method.name().to_owned())),
                to.to_string(),
                opt(u.to.as_ref().map(|b| b.value.to_string())),
                opt(u.to.as_ref().map(|b| b.method.name().to_owned())),
                opt(u.usage.map(|n| n.to_string())),
                opt(u.a4_equivalents.map(|n| n.to_string())),
                opt(u
                    .usage
                    .and_then(|n| per_day(n, from, to))
                    .map(|p| style.decimal(&p.to_string()))),
                text(&u.note),
                if d.discovered { "yes" } else { "" }.to_owned(),
                opt(d.uptime_pct.map(|p| style.decimal(&p.to_string()))),
                text(&d.site),
            ]);
        }
    }
    rows
}

/// The CSV report (BOM; `;` and decimal comma, or `,` and decimal point).
pub fn counters_csv(
    style: CsvStyle,
    from: NaiveDate,
    to: NaiveDate,
    devices: &[DeviceCounters],
) -> Vec<u8> {
    csv_bytes(style, &HEADER, &counter_rows(style, from, to, devices))
}

#[cfg(test)]
mod tests;
