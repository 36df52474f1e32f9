//! The alerts' projections read the readings around the running periods'
//! boundaries only, and come out as the full standing has them.

use chrono::{Duration, TimeZone, Utc};

use super::{histories, running_histories};
use crate::billing::{period_standings, running_standings};
use crate::meters::{Meter, MeterSet, MeterValue, ValueKind};
use crate::record::{DeviceReading, Outcome, PollRecord};
use crate::serial::Serial;
use crate::storage::{Reader, Store};

#[test]
fn running_periods_read_around_their_own_boundaries_match_the_full_standing() {
    let dir = tempfile::tempdir().unwrap();
    let text = r#"
[storage]
path = "fleet.db"

[[device]]
serial = "RUN-1"

[[contract]]
id = "K"
devices = ["RUN-1"]
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
    let path = dir.path().join("telleverk.toml");
    let config = crate::config::parse(&path, text, &|_| None).unwrap();
    let mut store = Store::open(&config.storage_path).unwrap();
    // A reading a day for 14 months, busier in the second half-year, with
    // a fortnight without readings in March 2025.
    let first = Utc.with_ymd_and_hms(2025, 1, 1, 9, 30, 0).unwrap();
    let (mut bw, mut colour) = (10_000u64, 1_000u64);
    for day in 0..425 {
        let at = first + Duration::days(day);
        bw += if day < 181 { 40 } else { 95 } + (day as u64 * 7) % 13;
        colour += if day < 181 { 3 } else { 9 };
        if (60..74).contains(&day) {
            continue;
        }
        let mut meters = MeterSet::new();
        for (meter, value) in [(Meter::BwTotal, bw), (Meter::ColourTotal, colour)] {
            meters.insert(MeterValue {
                meter,
                value,
                kind: ValueKind::Counter32,
            });
        }
        let record = PollRecord {
            at,
            entry_key: "printer".into(),
            address: "127.0.0.1:161".into(),
            outcome: Outcome::Ok(Box::new(DeviceReading {
                serial: Serial::parse("RUN-1").unwrap(),
                meters,
                ..DeviceReading::default()
            })),
        };
        store.write_round(&[record]).unwrap();
    }
    let reader = Reader::open(&config.storage_path).unwrap();
    let contract = &config.contracts[0];
    let mut projected = 0;
    for date in [
        "2025-01-01",
        "2025-01-20",
        "2025-03-10",
        "2025-06-30",
        "2025-07-01",
        "2025-09-15",
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
        let around = running_histories(&reader, &config, contract, date).unwrap();
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
