//! Storage's own checks: a database of an older schema keeps every reading
//! people entered when it is migrated; two processes on one database do not
//! trip over a device the other one added.

use chrono::{TimeZone, Utc};
use rusqlite::{Connection, params};

use super::manual::Entering;
use super::{MIGRATIONS, Store};
use crate::import::ImportRow;
use crate::meters::{Meter, MeterSet, MeterValue, Source, ValueKind};
use crate::record::{DeviceReading, Outcome, PollRecord};
use crate::serial::Serial;

#[test]
fn entered_readings_move_to_their_own_table_and_keep_reading_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v4.db");
    {
        // A database of schema 4, as telleverk wrote it, with a manual and a
        // vendor reading in meter_values.
        let conn = Connection::open(&path).unwrap();
        for migration in &MIGRATIONS[..4] {
            conn.execute_batch(migration).unwrap();
        }
        conn.pragma_update(None, "user_version", 4).unwrap();
        conn.execute(
            "INSERT INTO devices (id, serial, first_seen) VALUES (1, 'OLD-1', 0)",
            [],
        )
        .unwrap();
        for (at, source, value) in [
            (1_000_i64, Source::Manual, 5_000_i64),
            (2_000, Source::Vendor, 6_000),
        ] {
            conn.execute(
                "INSERT INTO meter_values (device_id, meter, at, source, value, kind) VALUES (1, ?1, ?2, ?3, ?4, 5)",
                params![Meter::BwTotal.code(), at, source as i64, value],
            )
            .unwrap();
        }
    }
    let store = Store::open(&path).unwrap();
    let readings = store.readings("OLD-1", None, None).unwrap().unwrap();
    let seen: Vec<(i64, Source, Option<u64>, Option<String>)> = readings
        .iter()
        .map(|r| {
            (
                r.at.timestamp_millis(),
                r.source,
                r.meters.value(Meter::BwTotal),
                r.entered_by.clone(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (1_000, Source::Manual, Some(5_000), None),
            (2_000, Source::Vendor, Some(6_000), None),
        ]
    );
    let points = store
        .billing_points("OLD-1", &[Meter::BwTotal], &[], 90)
        .unwrap();
    assert_eq!(points[&Meter::BwTotal].len(), 2);
    let serial = Serial::parse("OLD-1").unwrap();
    assert_eq!(
        store
            .device(&serial)
            .unwrap()
            .unwrap()
            .last_entered
            .unwrap()
            .timestamp_millis(),
        2_000
    );
}

#[test]
fn a_device_another_process_added_is_found_not_added_twice() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.db");
    // `serve` opens the database (its cache knows no device), then an
    // import in another process adds the device.
    let mut serving = Store::open(&path).unwrap();
    let serial = Serial::parse("NEW-1").unwrap();
    let entered_at = Utc.with_ymd_and_hms(2026, 11, 30, 8, 0, 0).unwrap();
    {
        let mut importing = Store::open(&path).unwrap();
        let row = ImportRow {
            line: 2,
            serial: serial.clone(),
            at: entered_at,
            meter: Meter::BwTotal,
            value: 1_000,
            source: Source::Manual,
        };
        let entering = Entering {
            by: "someone",
            at: entered_at,
            accept_implausible: false,
        };
        let summary = importing.import_readings(&[row], entering).unwrap();
        assert_eq!((summary.stored, summary.new_devices), (1, 1));
    }
    // The collector in `serve` then polls it: the round is stored on the
    // same device, not refused as a second device with that serial.
    let mut meters = MeterSet::new();
    meters.insert(MeterValue {
        meter: Meter::BwTotal,
        value: 1_050,
        kind: ValueKind::Counter32,
    });
    let polled_at = Utc.with_ymd_and_hms(2026, 11, 30, 9, 0, 0).unwrap();
    let record = PollRecord {
        at: polled_at,
        entry_key: "printer".into(),
        address: "127.0.0.1:161".into(),
        outcome: Outcome::Ok(Box::new(DeviceReading {
            serial: serial.clone(),
            meters,
            ..DeviceReading::default()
        })),
    };
    serving.write_round(&[record]).unwrap();
    // And an import through `serve`'s store finds it too, adding nothing.
    let row = ImportRow {
        line: 2,
        serial: serial.clone(),
        at: polled_at,
        meter: Meter::BwTotal,
        value: 1_050,
        source: Source::Vendor,
    };
    let entering = Entering {
        by: "someone",
        at: polled_at,
        accept_implausible: false,
    };
    let summary = serving.import_readings(&[row], entering).unwrap();
    assert_eq!((summary.stored, summary.new_devices), (1, 0));
    let conn = Connection::open(&path).unwrap();
    let devices: i64 = conn
        .query_row("SELECT count(*) FROM devices", [], |r| r.get(0))
        .unwrap();
    assert_eq!(devices, 1);
    let readings = Store::open(&path)
        .unwrap()
        .readings("NEW-1", None, None)
        .unwrap()
        .unwrap();
    let values: Vec<(Source, Option<u64>)> = readings
        .iter()
        .map(|r| (r.source, r.meters.value(Meter::BwTotal)))
        .collect();
    assert_eq!(
        values,
        [
            (Source::Manual, Some(1_000)),
            (Source::Polled, Some(1_050)),
            (Source::Vendor, Some(1_050)),
        ]
    );
}

#[test]
fn a_serial_stored_before_the_spreadsheet_rule_is_still_read() {
    // `Serial::parse` now refuses a serial that starts like a formula; one
    // stored before (or reported by a device) must stay readable.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    drop(Store::open(&path).unwrap());
    Connection::open(&path)
        .unwrap()
        .execute(
            "INSERT INTO devices (id, serial, first_seen) VALUES (1, '-A7PU', 0)",
            [],
        )
        .unwrap();
    let store = Store::open(&path).unwrap();
    let identities = store.identities().unwrap();
    let serials: Vec<&str> = identities.keys().map(Serial::as_str).collect();
    assert_eq!(serials, ["-A7PU"]);
}
