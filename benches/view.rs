//! Why: `serve` keeps a fleet view of 10 000 devices and must bring it up to
//! date after every round without reading the year behind it again (issue
//! 15 §2: the rebuild after a change < 0.5 s CPU, reading only what changed).
//!
//! On a copy of api_seed's database (10 000 devices, a year of readings)
//! this bench times, on one thread as `serve` runs them: the view's first
//! build (everything read), a build with nothing changed, a round of 10 000
//! polls stored as the collector stores it (each device's counters up a few
//! pages, one toner in ten a percent lower, one device in a hundred not
//! answering), the build after that round (only what changed read), and the
//! contracts' alerts: checked once (the running periods around their own
//! boundaries, beside the check of every period as it was before), and not
//! due again after a round of today.

#![allow(clippy::disallowed_methods)] // benchmarks measure real time

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use chrono::{Duration, TimeZone, Utc};
use telleverk::billing;
use telleverk::contract::dates::local_date;
use telleverk::gather::{self, fleet};
use telleverk::meters::{MeterSet, MeterValue};
use telleverk::record::{DeviceReading, FailureCause, Outcome, PollRecord};
use telleverk::storage::{OwnReader, Reader, Store};
use telleverk::timestamp::Timestamp;

/// Runs `f` and returns its result with its wall and CPU time in ms (the
/// process's CPU: every build runs on this thread alone).
fn timed<T>(f: impl FnOnce() -> T) -> (T, f64, f64) {
    let cpu = telleverk::process::cpu_seconds().unwrap_or(0.0);
    let t = Instant::now();
    let out = f();
    let wall = t.elapsed().as_secs_f64() * 1000.0;
    let cpu = (telleverk::process::cpu_seconds().unwrap_or(0.0) - cpu) * 1000.0;
    (out, wall, cpu)
}

pub fn run() -> String {
    let seeded = crate::api_seed::run();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    let work = tempfile::tempdir().expect("a scratch folder");
    let db = work.path().join("view.db");
    for (from, to) in [
        ("api-10000x1y-v1.db", "view.db"),
        ("api-10000x1y-v1.db.key", "view.db.key"),
    ] {
        std::fs::copy(data.join(from), work.path().join(to)).expect("copy the bench database");
    }
    let text =
        std::fs::read_to_string(data.join("api-10000x1y-v1.toml")).expect("the bench config");
    let text = text
        .lines()
        .map(|l| {
            if l.starts_with("path = ") {
                format!("path = \"{}\"", db.display())
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let config_path = work.path().join("view.toml");
    std::fs::write(&config_path, text).expect("write the config");
    let config = telleverk::config::load(&config_path).expect("load the config");
    let mut store = Store::open(&db).expect("open the copy");
    let mut own = OwnReader::new(&db);
    let mut memory = fleet::Memory::default();
    let interval_ms = i64::try_from(config.collector.interval.as_millis()).unwrap_or(i64::MAX);
    // The day after the seeded year: a round on 2026-07-01 at 09:00.
    let now = Utc.with_ymd_and_hms(2026, 7, 1, 7, 0, 0).unwrap();
    let at = Timestamp::from(now);
    let mut out = format!("view: {seeded}\n");

    let build = |own: &mut OwnReader, memory: &mut fleet::Memory, at: Timestamp| {
        own.read(|r, changed| fleet::build(r, changed, &config, interval_ms, at, memory))
            .expect("build the view")
    };
    let (view, wall, cpu) = timed(|| build(&mut own, &mut memory, at));
    let _ = writeln!(
        out,
        "first build (everything read): {wall:.0} ms wall, {cpu:.0} ms CPU; {} devices, {} alerts",
        view.devices.len(),
        view.alerts.len()
    );
    let (_, wall, cpu) = timed(|| build(&mut own, &mut memory, at));
    let _ = writeln!(
        out,
        "build with nothing changed: {wall:.1} ms wall, {cpu:.0} ms CPU"
    );
    let check = |own: &mut OwnReader,
                 memory: &mut fleet::Memory,
                 at: Timestamp,
                 view: &fleet::FleetView| {
        own.read(|r, changed| {
            Ok::<_, telleverk::storage::Error>(fleet::check_contracts(
                r, changed, &config, at, memory, view,
            ))
        })
        .expect("check the contracts")
    };
    let (checked, wall, cpu) = timed(|| check(&mut own, &mut memory, at, &view));
    let _ = writeln!(
        out,
        "contracts checked (running periods only, as at a start, a new day or a reading entered): {wall:.0} ms wall, {cpu:.0} ms CPU; {} alerts",
        checked.alerts.len()
    );

    // The alert history after each build of `serve`: at the first check
    // every open alert opens; a minute later nothing changed.
    let mut tracker = telleverk::notify::Tracker::new();
    let minute = Timestamp::from(now + Duration::minutes(1));
    for (what, at) in [
        ("first check, every alert opened", at),
        ("a minute later, nothing changed", minute),
    ] {
        let (t, wall, cpu) = timed(|| {
            tracker
                .track(
                    &mut store,
                    &config,
                    &checked.alerts,
                    checked.round,
                    |_| false,
                    at,
                )
                .expect("track the alerts")
        });
        let _ = writeln!(
            out,
            "alert history, {what}: {wall:.0} ms wall, {cpu:.0} ms CPU; {} opened",
            t.opened
        );
    }

    // The next round: each device's latest values a little on.
    let round = next_round(&store, &view, now);
    let (summary, wall, cpu) = timed(|| store.write_round(&round).expect("store the round"));
    let _ = writeln!(
        out,
        "a round stored: {} polls, {} failures, {} meter values, {} supply values in {wall:.0} ms wall, {cpu:.0} ms CPU",
        summary.polls, summary.failures, summary.meter_values, summary.supply_values
    );
    let later = Timestamp::from(now + Duration::minutes(1));
    let (view, wall, cpu) = timed(|| build(&mut own, &mut memory, later));
    let read = memory.last_read();
    let _ = writeln!(
        out,
        "build after the round (only what changed read: {} rows changed, full read: {}): {wall:.0} ms wall, {cpu:.0} ms CPU; {} alerts",
        read.changed,
        read.full,
        view.alerts.len()
    );
    let _ = writeln!(
        out,
        "  contracts due a check after the round: {} (the standings rest on readings up to today's midnight)",
        memory.contracts_stale(local_date(later))
    );
    let reader = Reader::open(&db).expect("a reader");
    let today = local_date(later);
    let ((), wall, cpu) = timed(|| {
        for contract in &config.contracts {
            let histories =
                gather::histories(&reader, &config, contract, today).expect("read the histories");
            billing::period_standings(contract, &histories, today).expect("the standings");
        }
    });
    let _ = writeln!(
        out,
        "  for comparison, every period checked as before: {wall:.0} ms wall, {cpu:.0} ms CPU"
    );
    if let Some(peak) = telleverk::process::peak_rss_bytes() {
        let _ = writeln!(
            out,
            "peak RSS of the bench process: {:.0} MB",
            peak as f64 / 1e6
        );
    }
    out
}

/// A round an hour after the seeded year: every device's counters a few
/// pages on, one toner in ten a percent lower, one device in 100 silent.
fn next_round(
    store: &Store,
    view: &fleet::FleetView,
    now: chrono::DateTime<Utc>,
) -> Vec<PollRecord> {
    let mut round = Vec::with_capacity(view.devices.len());
    for (i, device) in view.devices.iter().enumerate() {
        let row = &device.row;
        let (Some(key), Some(address)) = (row.entry_key.clone(), row.address.clone()) else {
            continue;
        };
        let at = now + Duration::milliseconds(i as i64 * 2 / 5);
        if i % 100 == 42 {
            round.push(PollRecord {
                at,
                entry_key: key,
                address,
                outcome: Outcome::Failed {
                    cause: FailureCause::Timeout,
                    detail: "no answer".into(),
                },
            });
            continue;
        }
        let latest = store
            .readings(row.serial.as_str(), Some(now - Duration::days(30)), None)
            .expect("the latest readings")
            .and_then(|r| r.into_iter().next_back());
        let mut meters = MeterSet::new();
        for mv in latest.iter().flat_map(|r| r.meters.iter()) {
            meters.insert(MeterValue {
                value: mv.value + 7,
                ..mv
            });
        }
        let mut supplies = row.supplies.clone();
        if i % 10 == 3
            && let Some(s) = supplies.iter_mut().find(|s| s.level > 0)
        {
            s.level -= 1;
            s.percent = telleverk::supplies::percent(s.level, s.max);
        }
        round.push(PollRecord {
            at,
            entry_key: key,
            address,
            outcome: Outcome::Ok(Box::new(DeviceReading {
                serial: row.serial.clone(),
                model: row.model.clone(),
                // As api_seed polled them: the same identity, stored again
                // only when it changes.
                profile: Some("konica-minolta-bizhub".into()),
                meters,
                supplies: Some(supplies),
                device_status: Some(2),
                printer_status: Some(3),
                errors: Some(0),
                ..DeviceReading::default()
            })),
        });
    }
    round
}
