//! Each supply's forecast from its stored levels: the rows since the
//! history window, a forecast per supply with a percentage.

use crate::answer::SupplyOutlook;
use crate::storage::{Error, Reader};
use crate::supplies::Supply;
use crate::supplies::forecast::{Level, days_to_empty};
use crate::timestamp::Timestamp;
use crate::uptime::WorkingTime;

/// How far back a supply's levels are read: a cartridge lasts months.
const HISTORY_MS: i64 = 366 * 24 * 3_600_000;

/// The forecasts of `latest` (a device's supplies as last read), from its
/// stored levels, at `now`, on `time` ([`crate::supplies::forecast::working_time`]).
pub fn outlooks(
    reader: &Reader,
    time: &WorkingTime,
    serial: &str,
    latest: &[Supply],
    now: Timestamp,
) -> Result<Vec<SupplyOutlook>, Error> {
    let rows = reader.supply_history(serial, now.millis() - HISTORY_MS)?;
    Ok(latest
        .iter()
        .map(|s| {
            let levels: Vec<Level> = rows
                .iter()
                .filter(|r| r.0 == s.index)
                .map(|&(_, at, level, max)| Level {
                    at: Timestamp::from_millis(at),
                    level,
                    percent: crate::supplies::percent(level, max),
                })
                .collect();
            let forecast = days_to_empty(&levels, time, now);
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
            }
        })
        .collect())
}
