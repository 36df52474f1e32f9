//! What the device page draws: A4-equivalent pages per day from the
//! readings (the counter report's values at each midnight), and each
//! toner's levels with its replacements.

use chrono::NaiveDate;

use super::reports::{DEFAULT_TRAILING_DAYS, contract_of};
use super::{FleetIndex, Readings};
use crate::config::Config;
use crate::contract::dates::midnight;
use crate::meters::complete_points;
use crate::report::counters::{CounterInput, REPORT_METERS, device_counters};
use crate::serial::Serial;
use crate::storage::{Error, Reader};
use crate::supplies::forecast::{Level, replacements};
use crate::timestamp::Timestamp;

/// One day's A4-equivalent pages; None where the readings do not reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayPages {
    pub day: NaiveDate,
    pub bw: Option<i128>,
    pub colour: Option<i128>,
}

/// Pages per day of `serial` from `first` to the day before `today`:
/// days before its first reading or after its last have none.
pub fn pages_per_day(
    reader: &Reader,
    config: &Config,
    serial: &str,
    first: NaiveDate,
    today: NaiveDate,
) -> Result<Vec<DayPages>, Error> {
    let Ok(serial) = Serial::parse(serial) else {
        return Ok(Vec::new());
    };
    let index = FleetIndex::new(config);
    let days: Vec<NaiveDate> = first.iter_days().take_while(|d| *d <= today).collect();
    let instants: Vec<Timestamp> = days.iter().copied().map(midnight).collect();
    let trailing_days = contract_of(&index, &serial, first, today)
        .map_or(DEFAULT_TRAILING_DAYS, |c| c.trailing_days);
    let (points, colour) = Readings {
        serial: &serial,
        mono: index.mono(&serial),
        meters: &REPORT_METERS,
        instants: &instants,
        trailing_days,
    }
    .read(reader)?;
    let points = complete_points(points, colour, &REPORT_METERS);
    let all = || points.values().flatten().map(|p| p.at);
    let (Some(earliest), Some(latest)) = (all().min(), all().max()) else {
        return Ok(Vec::new());
    };
    let input = CounterInput {
        serial: &serial,
        model: None,
        location: None,
        contract: None,
        discovered: false,
        uptime_pct: None,
        site: None,
        large_counts_double: index.large_counts_double(&serial),
        trailing_days,
        points: &points,
    };
    Ok(days
        .windows(2)
        .map(|pair| {
            let (day, next) = (pair[0], pair[1]);
            // Only days whose both midnights lie within the readings.
            if midnight(day) < earliest || midnight(next) > latest {
                return DayPages {
                    day,
                    bw: None,
                    colour: None,
                };
            }
            let c = device_counters(&input, day, next);
            DayPages {
                day,
                bw: c.a4_bw,
                colour: c.a4_colour,
            }
        })
        .collect())
}

/// A toner's levels (instant in ms, % or None for −1/−2/−3) and when it
/// was replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TonerLevels {
    pub name: String,
    pub colour: Option<String>,
    pub levels: Vec<(i64, Option<i64>)>,
    pub replaced: Vec<i64>,
}

/// Each toner of `serial` with its levels since `first`.
pub fn toner_levels(
    reader: &Reader,
    serial: &str,
    first: NaiveDate,
) -> Result<Vec<TonerLevels>, Error> {
    let Ok(parsed) = Serial::parse(serial) else {
        return Ok(Vec::new());
    };
    let Some(row) = reader.device(&parsed)? else {
        return Ok(Vec::new());
    };
    let rows = reader.supply_history(serial, midnight(first).millis())?;
    Ok(row
        .supplies
        .iter()
        .filter(|s| matches!(s.kind.as_str(), "toner" | "toner_cartridge"))
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
            TonerLevels {
                name: s.description.clone(),
                colour: s.colour.clone(),
                replaced: replacements(&levels)
                    .into_iter()
                    .map(|i| levels[i].at.millis())
                    .collect(),
                levels: levels.iter().map(|l| (l.at.millis(), l.percent)).collect(),
            }
        })
        .collect())
}
