//! Why: supply forecasts and real coverage are worked out for a whole fleet
//! when the alerts are checked. The target: forecasts and coverage
//! of 10 000 devices < 1 s in memory.
//!
//! Sizes: 10 000 devices with 9 supplies each, six months of levels
//! stored as they change (a new level every working day, 1 to 4 points
//! down, a replacement at 5 %): 90 000 supplies, 11.8 M levels; each
//! supply's days to empty (replacements, the line against working time,
//! the 80 % interval) and its coverage (the model's rated yield looked up,
//! cartridges used, paid for, implied coverage, above the contract or
//! not), on one thread, on one working-time table.

use std::time::Instant;

use telleverk::supplies::coverage::Coverage;
use telleverk::supplies::forecast::{Level, days_to_empty, working_time};
use telleverk::supplies::yields::{COLOURS, Yields};
use telleverk::timestamp::Timestamp;
use telleverk::uptime::Calendar;

const DEVICES: usize = 10_000;
const SUPPLIES: usize = 9;

/// One supply's levels: falling about `rate` points a working day from a
/// start, replaced at 5 %, over 130 working days from 2026-06-01.
fn levels(seed: usize, calendar: &Calendar) -> Vec<Level> {
    let mut out = Vec::new();
    let mut day = chrono::NaiveDate::from_ymd_opt(2026, 6, 1).unwrap_or_default();
    let rate = 1 + (seed % 3) as i64;
    let mut level = 40 + (seed % 60) as i64;
    let mut n = 0usize;
    while out.len() < 2_000 && n < 183 {
        if calendar.is_working_day(day) {
            let at = telleverk::contract::midnight(day).millis() + 9 * 3_600_000;
            level -= rate + ((seed + n) % 2) as i64;
            if level < 5 {
                level = 100;
            }
            out.push(Level {
                at: Timestamp::from_millis(at),
                level,
                percent: Some(level),
            });
        }
        n += 1;
        day = day.succ_opt().unwrap_or(day);
    }
    out
}

pub fn run() -> String {
    let calendar = Calendar::default();
    let t = Instant::now();
    let all: Vec<Vec<Level>> = (0..DEVICES * SUPPLIES)
        .map(|i| levels(i, &calendar))
        .collect();
    let made = t.elapsed().as_secs_f64();
    let count: usize = all.iter().map(Vec::len).sum();
    let now = telleverk::contract::midnight(
        chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap_or_default(),
    );
    let time = working_time(&calendar, now);
    let mut times = Vec::new();
    let yields = Yields::built_in();
    let models = ["bizhub C300i", "bizhub C4050i", "bizhub C450i"];
    let (mut forecasts, mut covered, mut above) = (0, 0, 0);
    for _ in 0..3 {
        let t = Instant::now();
        (forecasts, covered, above) = (0, 0, 0);
        for (i, levels) in all.iter().enumerate() {
            if days_to_empty(levels, &time, now).is_ok() {
                forecasts += 1;
            }
            let model = models[(i / SUPPLIES) % models.len()];
            let Some(rated) = yields.find(model, COLOURS[i % SUPPLIES % 4]) else {
                continue;
            };
            // Pages over the window: 40 to 120 % of what the levels used.
            let pages = 20_000 + (i as i128 % 5) * 10_000;
            let c = Coverage::of(levels, pages, rated.pages, 15);
            if c.implied_pct().is_some() {
                covered += 1;
            }
            if c.above_contract() {
                above += 1;
            }
        }
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    format!(
        "supply forecasts in memory: {DEVICES} devices × {SUPPLIES} supplies, {count} levels (made in {made:.1} s)\n\
         {forecasts} forecasts; {covered} toners with a coverage (a rated yield known), {above} above the contract\n\
         wall time min {:.3} s, median {:.3} s of 3 (target < 1 s)",
        times[0], times[1]
    )
}
