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
use crate::storage::{Error, Reader};
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
    let default_ms = i64::try_from(config.collector.interval.as_millis()).unwrap_or(i64::MAX / 8);
    let end = midnight(last.checked_add_months(Months::new(1)).unwrap_or(*last)).min(now);
    // A poll before the first month may hold into it.
    let from = midnight(*first).millis() - HOLDS * default_ms.max(24 * 3_600_000);
    let rows = reader.uptime_rows(serial, from, end.millis())?;
    // The round an instant fell in: its interval, and whether it was an outage.
    let round_of = |at: i64| {
        let i = rows.rounds.partition_point(|r| r.0 <= at);
        i.checked_sub(1)
            .map(|i| rows.rounds[i])
            .filter(|r| at <= r.1)
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
    Ok(uptime::tally(&observations, &config.calendar, months, now))
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
