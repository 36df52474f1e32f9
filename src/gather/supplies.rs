//! Each supply's forecast and each toner's real coverage from the stored
//! levels and meters: the rows since the history window, a forecast per
//! supply with a percentage, and per toner the cartridges used against
//! those paid for over the last 6 months.

use chrono::{Months, NaiveDate};

use super::reports::{DEFAULT_TRAILING_DAYS, contract_of};
use super::{FleetIndex, Readings};
use crate::answer::{Number, SupplyOutlook, TonerCoverage};
use crate::config::Config;
use crate::contract::dates::{local_date, midnight};
use crate::meters::complete_points;
use crate::report::counters::{CounterInput, REPORT_METERS, device_counters};
use crate::serial::Serial;
use crate::storage::{Error, Reader, SupplyRow};
use crate::supplies::Supply;
use crate::supplies::coverage::{ASSUMED_PCT, Coverage, pages_served};
use crate::supplies::forecast::{Level, days_to_empty};
use crate::timestamp::Timestamp;
use crate::uptime::WorkingTime;

/// How far back a supply's levels are read for a forecast: a cartridge
/// lasts months.
const HISTORY_MS: i64 = 366 * 24 * 3_600_000;
/// The window of real coverage: the last 6 months.
const COVERAGE_MONTHS: u32 = 6;

/// What every device's supplies are worked out with.
pub struct SupplyContext<'a> {
    pub config: &'a Config,
    pub index: &'a FleetIndex<'a>,
    /// [`crate::supplies::forecast::working_time`] around `now`.
    pub time: &'a WorkingTime,
    pub now: Timestamp,
}

/// The A4-equivalent pages a device printed in a window of whole days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowPages {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub bw: Option<i128>,
    pub colour: Option<i128>,
}

/// The forecasts and coverage of `latest` (a device's supplies as last
/// read), from its stored levels and meters.
pub fn outlooks(
    reader: &Reader,
    ctx: &SupplyContext<'_>,
    serial: &Serial,
    model: Option<&str>,
    latest: &[Supply],
) -> Result<Vec<SupplyOutlook>, Error> {
    let today = local_date(ctx.now);
    let toners = latest.iter().any(|s| toner_colour(s).is_some());
    let window = if toners {
        window_pages(reader, ctx.index, serial, today)?
    } else {
        None
    };
    let since = window
        .map(|w| midnight(w.from).millis())
        .unwrap_or(i64::MAX)
        .min(ctx.now.millis() - HISTORY_MS);
    let rows = reader.supply_history(serial, since)?;
    Ok(latest
        .iter()
        .map(|s| {
            let mine: Vec<&SupplyRow> = rows.iter().filter(|r| r.0 == s.index).collect();
            let recent: Vec<Level> = mine
                .iter()
                .filter(|r| r.1 >= ctx.now.millis() - HISTORY_MS)
                .map(|r| level(r))
                .collect();
            let forecast = days_to_empty(&recent, ctx.time, ctx.now);
            let coverage = toner_colour(s)
                .map(|colour| toner_coverage(ctx, model, colour, &mine, window.as_ref(), today));
            SupplyOutlook {
                index: s.index,
                description: s.description.clone(),
                kind: s.kind.clone(),
                colour: s.colour.clone(),
                percent: s.percent,
                empty_on: forecast.as_ref().ok().map(|f| f.empty_on.to_string()),
                empty_between: forecast.as_ref().ok().and_then(|f| {
                    f.interval
                        .map(|(a, b)| [Some(a.to_string()), b.map(|b| b.to_string())])
                }),
                working_days: forecast.as_ref().ok().map(|f| f.working_days),
                no_forecast: forecast.err().map(|e| e.name().to_owned()),
                coverage,
            }
        })
        .collect())
}

fn level(r: &SupplyRow) -> Level {
    let &(_, at, level, max) = r;
    Level {
        at: Timestamp::from_millis(at),
        level,
        percent: crate::supplies::percent(level, max),
    }
}

/// The colour of a toner; None for any other supply.
fn toner_colour(s: &Supply) -> Option<&str> {
    matches!(s.kind.as_str(), "toner" | "toner_cartridge")
        .then_some(s.colour.as_deref())
        .flatten()
}

/// One toner's coverage over the window: its levels from the one it had
/// when the window began (levels are stored when they change) to the last
/// before `to`.
fn toner_coverage(
    ctx: &SupplyContext<'_>,
    model: Option<&str>,
    colour: &str,
    rows: &[&SupplyRow],
    window: Option<&WindowPages>,
    today: NaiveDate,
) -> TonerCoverage {
    let found = model.and_then(|m| ctx.config.yields.find(m, colour));
    let mut answer = TonerCoverage {
        from: window.map(|w| w.from.to_string()),
        to: window.map(|w| w.to.to_string()),
        part: found.map(|y| y.part.clone()),
        rated_yield: found.map(|y| y.pages),
        yield_source: found.map(|y| y.source.clone()),
        pages: None,
        cartridges_used: Number(rust_decimal::Decimal::ZERO),
        cartridges_paid: None,
        implied_pct: None,
        assumed_pct: ASSUMED_PCT,
        enough_evidence: false,
        over_tolerance: false,
        above_contract: false,
        no_coverage: None,
    };
    let Some(w) = window else {
        answer.no_coverage = Some("no_window".into());
        answer.to = Some(today.to_string());
        return answer;
    };
    let (start, end) = (midnight(w.from).millis(), midnight(w.to).millis());
    let before = rows.iter().rev().find(|r| r.1 < start);
    let levels: Vec<Level> = before
        .into_iter()
        .chain(rows.iter().filter(|r| r.1 >= start && r.1 < end))
        .map(|r| level(r))
        .collect();
    let pages =
        w.bw.map(|bw| pages_served(colour, bw, w.colour.unwrap_or(0)));
    let Some(toner) = found else {
        answer.pages = pages;
        answer.cartridges_used = Number(Coverage::of(&levels, 0, 1, 0).cartridges_used());
        answer.no_coverage = Some(
            if model.is_none() {
                "unknown_model"
            } else {
                "no_rated_yield"
            }
            .into(),
        );
        return answer;
    };
    let c = Coverage::of(
        &levels,
        pages.unwrap_or(0),
        toner.pages,
        ctx.config.alerts.coverage_tolerance_pct,
    );
    answer.pages = pages;
    answer.cartridges_used = Number(c.cartridges_used());
    answer.enough_evidence = c.enough_evidence();
    if pages.is_some_and(|p| p > 0) {
        answer.cartridges_paid = Some(Number(c.cartridges_paid()));
        answer.implied_pct = c.implied_pct().map(Number);
        answer.over_tolerance = c.over_tolerance();
        answer.above_contract = c.above_contract();
    } else {
        answer.no_coverage = Some("no_pages".into());
    }
    answer
}

/// The A4-equivalent pages `serial` printed over the last 6 months to
/// `today`: from the day after its first reading when that is later, to
/// the day of its last when that is earlier; None when its readings span
/// no whole day.
pub fn window_pages(
    reader: &Reader,
    index: &FleetIndex<'_>,
    serial: &Serial,
    today: NaiveDate,
) -> Result<Option<WindowPages>, Error> {
    let six = today
        .checked_sub_months(Months::new(COVERAGE_MONTHS))
        .unwrap_or(today);
    let contract = contract_of(index, serial, six, today);
    let trailing_days = contract.map_or(DEFAULT_TRAILING_DAYS, |c| c.trailing_days);
    let read = |from: NaiveDate, to: NaiveDate| {
        Readings {
            serial,
            mono: index.mono(serial),
            meters: &REPORT_METERS,
            instants: &[midnight(from), midnight(to)],
            trailing_days,
        }
        .read(reader)
        .map(|(points, colour)| complete_points(points, colour, &REPORT_METERS))
    };
    let mut points = read(six, today)?;
    let instants = || points.values().flatten().map(|p| p.at);
    let (Some(first), Some(last)) = (instants().min(), instants().max()) else {
        return Ok(None);
    };
    // Whole days the readings span: never a value guessed past the last.
    let mut from = six;
    if first >= midnight(six) {
        from = local_date(first).succ_opt().unwrap_or(today);
    }
    let to = if last < midnight(today) {
        local_date(last)
    } else {
        today
    };
    if from >= to {
        return Ok(None);
    }
    if (from, to) != (six, today) {
        points = read(from, to)?;
    }
    let counted = device_counters(
        &CounterInput {
            serial,
            model: None,
            location: None,
            contract: None,
            discovered: false,
            uptime_pct: None,
            site: None,
            large_counts_double: index.large_counts_double(serial),
            trailing_days,
            points: &points,
        },
        from,
        to,
    );
    Ok(Some(WindowPages {
        from,
        to,
        bw: counted.a4_bw,
        colour: counted.a4_colour,
    }))
}

/// [`outlooks`] of one device at `now`, with its own context.
pub fn device_outlooks(
    reader: &Reader,
    config: &Config,
    serial: &Serial,
    model: Option<&str>,
    latest: &[Supply],
    now: Timestamp,
) -> Result<Vec<SupplyOutlook>, Error> {
    let time = crate::supplies::forecast::working_time(&config.calendar, now);
    let index = FleetIndex::new(config);
    let ctx = SupplyContext {
        config,
        index: &index,
        time: &time,
        now,
    };
    outlooks(reader, &ctx, serial, model, latest)
}
