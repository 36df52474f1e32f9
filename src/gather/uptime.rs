//! A device's uptime per month from what the database holds: its polls and
//! failures as observations (each holding three poll intervals at most,
//! the interval of the round it was in), failures in the collector's own
//! outages (a round where every one of three or more devices failed) left
//! out.

use chrono::{Months, NaiveDate};
use rust_decimal::Decimal;

use crate::answer::{Uptime, UptimeMonth};
use crate::contract::Contract;

use crate::config::Config;
use crate::contract::midnight;
use crate::record::FailureCause;
use crate::storage::{Error, Reader, RoundRow};
use crate::timestamp::Timestamp;
use crate::uptime::{self, Observation, Tally};

/// How many poll intervals a poll's state holds at most.
const HOLDS: i64 = 3;

/// The tallies of `serial` in `months` (their first days, oldest first),
/// counting no time after `now`.
pub fn device_uptime(
    reader: &Reader,
    config: &Config,
    serial: &str,
    months: &[NaiveDate],
    now: Timestamp,
) -> Result<Vec<Tally>, Error> {
    let (Some(first), Some(last)) = (months.first(), months.last()) else {
        return Ok(Vec::new());
    };
    let next = last.checked_add_months(Months::new(1)).unwrap_or(*last);
    let window = Window::new(config, *first, next, now);
    let rounds = reader.rounds_between(window.from, window.end)?;
    let observations = observations(reader, serial, &window, &rounds)?;
    Ok(uptime::tally(&observations, &config.calendar, months, now))
}

/// The instants a device's evidence is read between (Unix ms): from a
/// while before the first day (a poll there may hold into it) to the end
/// or now.
pub struct Window {
    from: i64,
    end: i64,
    /// The poll interval of the config, for polls outside any round.
    default_ms: i64,
}

/// How far before a period a poll is looked for at most.
const LOOKBACK_MS: i64 = 7 * 24 * 3_600_000;

impl Window {
    pub fn new(config: &Config, first: NaiveDate, next: NaiveDate, now: Timestamp) -> Window {
        let default_ms =
            i64::try_from(config.collector.interval.as_millis()).unwrap_or(i64::MAX / 8);
        Window {
            from: midnight(first).millis() - HOLDS.saturating_mul(default_ms).min(LOOKBACK_MS),
            end: midnight(next).min(now).millis(),
            default_ms,
        }
    }

    /// The rounds of the window, read once for all devices.
    pub fn rounds(&self, reader: &Reader) -> Result<Vec<RoundRow>, Error> {
        reader.rounds_between(self.from, self.end)
    }
}

/// The tally of `serial` over the days `[from, to)` (the counter report's
/// period), with the window's `rounds` read once for all devices.
pub fn uptime_between(
    reader: &Reader,
    config: &Config,
    serial: &str,
    (from, to): (NaiveDate, NaiveDate),
    window: &Window,
    rounds: &[RoundRow],
) -> Result<Tally, Error> {
    let observations = observations(reader, serial, window, rounds)?;
    let until = Timestamp::from_millis(window.end);
    Ok(uptime::tally_days(
        &observations,
        &config.calendar,
        from,
        to,
        until,
    ))
}

/// A device's observations in the window, by instant.
fn observations(
    reader: &Reader,
    serial: &str,
    window: &Window,
    rounds: &[RoundRow],
) -> Result<Vec<Observation>, Error> {
    let default_ms = window.default_ms;
    let rows = reader.uptime_rows(serial, window.from, window.end)?;
    // The round an instant fell in: its interval, and whether it was an outage.
    let round_of = |at: i64| {
        let i = rounds.partition_point(|r| r.0 <= at);
        i.checked_sub(1).map(|i| rounds[i]).filter(|r| at <= r.1)
    };
    let hold = |at: i64| HOLDS * round_of(at).and_then(|r| r.2).unwrap_or(default_ms);
    let mut observations: Vec<Observation> = rows
        .polls
        .iter()
        .map(|&(at, status)| Observation {
            at: Timestamp::from_millis(at),
            state: Some(uptime::answered(status)),
            hold_ms: hold(at),
        })
        .collect();
    for &(at, cause) in &rows.failures {
        // Partial and meterless polls answered (their poll row is the
        // evidence); an aborted poll never asked.
        if matches!(
            cause,
            FailureCause::Partial | FailureCause::NoMeters | FailureCause::Aborted
        ) {
            continue;
        }
        let outage = round_of(at).is_some_and(|r| r.3);
        observations.push(Observation {
            at: Timestamp::from_millis(at),
            state: if outage { None } else { uptime::failed(cause) },
            hold_ms: hold(at),
        });
    }
    observations.sort_by_key(|o| o.at);
    Ok(observations)
}

/// Hours of a millisecond count, 2 decimals.
fn hours(ms: i64) -> String {
    let mut h = (Decimal::from(ms) / Decimal::from(3_600_000))
        .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    h.rescale(2);
    h.to_string()
}

fn month_answer(t: &Tally, label: String) -> UptimeMonth {
    UptimeMonth {
        month: label,
        working_hours: hours(t.working_ms),
        up_hours: hours(t.up_ms),
        down_hours: hours(t.down_ms),
        uptime_pct: t.uptime_pct().map(|p| p.to_string()),
        evidence_pct: t.evidence_pct().map(|p| p.to_string()),
    }
}

/// A device's uptime in `months` as answered, held to `contract`'s promise.
pub fn uptime_answer(
    reader: &Reader,
    config: &Config,
    serial: &str,
    contract: Option<&Contract>,
    months: &[NaiveDate],
    now: Timestamp,
) -> Result<Uptime, Error> {
    let tallies = device_uptime(reader, config, serial, months, now)?;
    let total = Tally::sum(&tallies);
    let label = |d: &NaiveDate| d.format("%Y-%m").to_string();
    let span = match (months.first(), months.last()) {
        (Some(a), Some(b)) if a != b => format!("{} – {}", label(a), label(b)),
        (Some(a), _) => label(a),
        _ => String::new(),
    };
    let promised = contract.and_then(|c| c.uptime_pct);
    Ok(Uptime {
        serial: serial.to_owned(),
        contract: contract.map(|c| c.id.clone()),
        promised_pct: promised.map(|p| p.normalize().to_string()),
        months: tallies
            .iter()
            .map(|t| month_answer(t, label(&t.month)))
            .collect(),
        breach: promised
            .zip(total.uptime_exact())
            .is_some_and(|(promise, got)| got < promise),
        total: month_answer(&total, span),
    })
}

/// The uptime of many devices (each with the contract it is held to), read
/// on one connection to the database at `path` per core: uptime reads every
/// poll of the months, so the cores share the devices.
pub fn uptime_answers(
    path: &crate::storage::Database,
    config: &Config,
    devices: &[(String, Option<&Contract>)],
    months: &[NaiveDate],
    now: Timestamp,
) -> Result<Vec<Uptime>, Error> {
    crate::storage::Pool::new(path).read_each(devices, |reader, (serial, c)| {
        uptime_answer(reader, config, serial, *c, months, now)
    })
}
