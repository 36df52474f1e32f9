//! The alerts' projections read the readings around the running periods'
//! boundaries only, and come out as the full standing has them.

use chrono::{Duration, TimeZone, Utc};

use super::{histories, histories_at};
use crate::billing::running_dates;
use crate::billing::{period_standings, running_standings};
use crate::meters::{Meter, MeterSet, MeterValue, ValueKind};
use crate::record::{DeviceReading, Outcome, PollRecord};
use crate::serial::Serial;
use crate::storage::{Reader, Store};

/// Two devices under one contract from 2025-01-01: RUN-1 throughout, RUN-2
/// from March to mid-October 2025.
const CONFIG: &str = r#"
[storage]
path = "fleet.db"

[[device]]
serial = "RUN-1"

[[device]]
serial = "RUN-2"

[[contract]]
id = "K"
devices = ["RUN-1", { serial = "RUN-2", from = "2025-03-01", until = "2025-10-15" }]
start = "2025-01-01"
term_months = 36
billing = "advance"
committed_bw = 20000
committed_colour = 2000

[[contract.price]]
from = "2025-01-01"
bw = "0.0450"
colour = "0.4500"
"#;

/// One poll of both devices at `at`, their counters at `bw` and `colour`
/// (RUN-2 at three times those).
fn round(at: chrono::DateTime<Utc>, bw: u64, colour: u64) -> Vec<PollRecord> {
    let mut round = Vec::new();
    for (serial, share) in [("RUN-1", 1), ("RUN-2", 3)] {
        let mut meters = MeterSet::new();
        for (meter, value) in [
            (Meter::BwTotal, bw * share),
            (Meter::ColourTotal, colour * share),
        ] {
            meters.insert(MeterValue {
                meter,
                value,
                kind: ValueKind::Counter32,
            });
        }
        round.push(PollRecord {
            at,
            entry_key: format!("printer-{serial}"),
            address: "127.0.0.1:161".into(),
            outcome: Outcome::Ok(Box::new(DeviceReading {
                serial: Serial::parse(serial).unwrap(),
                meters,
                ..DeviceReading::default()
            })),
        });
    }
    round
}

/// The config in `dir` and a database with a reading a day for 14 months
/// from 2025-01-01 (the last on 2026-03-01), busier in the second
/// half-year, with a fortnight without readings in March 2025. Returns the
/// config and the last counters.
fn seeded(dir: &std::path::Path) -> (crate::config::Config, u64, u64) {
    let path = dir.join("telleverk.toml");
    let config = crate::config::parse(&path, CONFIG, &|_| None).unwrap();
    let mut store = Store::open(&config.storage).unwrap();
    let first = Utc.with_ymd_and_hms(2025, 1, 1, 9, 30, 0).unwrap();
    let (mut bw, mut colour) = (10_000u64, 1_000u64);
    for day in 0..425 {
        let at = first + Duration::days(day);
        bw += if day < 181 { 40 } else { 95 } + (day as u64 * 7) % 13;
        colour += if day < 181 { 3 } else { 9 };
        if (60..74).contains(&day) {
            continue;
        }
        store.write_round(&round(at, bw, colour)).unwrap();
    }
    (config, bw, colour)
}

#[test]
fn running_periods_read_around_their_own_boundaries_match_the_full_standing() {
    let dir = tempfile::tempdir().unwrap();
    let (config, _, _) = seeded(dir.path());
    let reader = Reader::open(&config.storage).unwrap();
    let contract = &config.contracts[0];
    let mut projected = 0;
    for date in [
        "2025-01-01",
        "2025-01-20",
        "2025-03-10",
        "2025-06-30",
        "2025-07-01",
        "2025-09-15",
        "2025-10-15",
        "2025-11-02",
        "2025-12-31",
        "2026-01-01",
        "2026-02-20",
    ] {
        let date = date.parse().unwrap();
        let all = histories(&reader, &config, contract, date).unwrap();
        let full: Vec<_> = period_standings(contract, &all, date)
            .unwrap()
            .into_iter()
            .filter(|p| p.running)
            .collect();
        let around =
            histories_at(&reader, &config, contract, &running_dates(contract, date)).unwrap();
        let light = running_standings(contract, &around, date).unwrap();
        assert_eq!(light, full, "on {date}");
        assert_eq!(
            light.len(),
            2,
            "a half-year and a contract year run on {date}"
        );
        projected += light.iter().filter(|p| p.bw.projected.is_some()).count();
    }
    assert!(projected >= 12, "most dates project: {projected}");
}

/// A round polled today changes nothing the contracts' standings on today
/// rest on (readings up to its midnight), so the view does not check them
/// again; readings entered, and a new day, do.
#[test]
fn the_contracts_are_checked_again_only_when_their_standings_may_have_changed() {
    use crate::gather::fleet::{Memory, build, check_contracts};
    use crate::storage::OwnReader;

    let dir = tempfile::tempdir().unwrap();
    let (config, bw, colour) = seeded(dir.path());
    let path = config.storage.file().unwrap().to_path_buf();
    let contract = &config.contracts[0];
    let today: chrono::NaiveDate = "2026-03-02".parse().unwrap();
    let mut own = OwnReader::new(&path);
    let mut memory = Memory::default();
    let interval = i64::try_from(config.collector.interval.as_millis()).unwrap();
    let at = |h, m| {
        crate::timestamp::Timestamp::from(Utc.with_ymd_and_hms(2026, 3, 2, h, m, 0).unwrap())
    };
    let view = own
        .read(|r, changed| build(r, changed, &config, interval, at(8, 0), &mut memory))
        .unwrap();
    assert!(memory.contracts_stale(today), "never checked");
    own.read(|r, changed| {
        Ok::<_, crate::storage::Error>(check_contracts(
            r,
            changed,
            &config,
            at(8, 0),
            &mut memory,
            &view,
        ))
    })
    .unwrap();
    assert!(!memory.contracts_stale(today));
    let standings = |reader: &Reader| {
        let histories =
            histories_at(reader, &config, contract, &running_dates(contract, today)).unwrap();
        running_standings(contract, &histories, today).unwrap()
    };
    let reader = Reader::open(&path).unwrap();
    let before = standings(&reader);

    // Today's round: the standings stay as they were, and are not checked.
    let mut store = Store::open(&path).unwrap();
    let polled = Utc.with_ymd_and_hms(2026, 3, 2, 8, 15, 0).unwrap();
    store
        .write_round(&round(polled, bw + 500, colour + 80))
        .unwrap();
    own.read(|r, changed| build(r, changed, &config, interval, at(8, 16), &mut memory))
        .unwrap();
    assert_eq!(memory.last_read().earliest_poll, Some(polled.into()));
    assert!(!memory.contracts_stale(today), "a round of today");
    assert_eq!(standings(&reader), before);

    // A reading entered by hand (of yesterday): checked again.
    let entered = crate::import::ImportRow {
        line: 2,
        serial: Serial::parse("RUN-1").unwrap(),
        at: Utc.with_ymd_and_hms(2026, 3, 1, 18, 0, 0).unwrap(),
        meter: Meter::BwTotal,
        value: bw + 100,
        source: crate::meters::Source::Manual,
    };
    let entering = crate::storage::Entering {
        by: "test",
        at: polled,
        accept_implausible: false,
        shown: Default::default(),
    };
    store.import_readings(&[entered], entering).unwrap();
    own.read(|r, changed| build(r, changed, &config, interval, at(8, 17), &mut memory))
        .unwrap();
    assert!(memory.last_read().entered);
    assert!(memory.contracts_stale(today), "a reading entered");
    assert_ne!(standings(&reader), before, "the entered reading counts");

    // Checked, then the next day: checked again.
    let view = own
        .read(|r, changed| build(r, changed, &config, interval, at(8, 18), &mut memory))
        .unwrap();
    own.read(|r, changed| {
        Ok::<_, crate::storage::Error>(check_contracts(
            r,
            changed,
            &config,
            at(8, 18),
            &mut memory,
            &view,
        ))
    })
    .unwrap();
    assert!(!memory.contracts_stale(today));
    assert!(memory.contracts_stale(today.succ_opt().unwrap()));
}
