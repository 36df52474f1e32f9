//! Storage's own checks: a database of an older schema keeps every reading
//! people entered when it is migrated.

use rusqlite::{Connection, params};

use super::{MIGRATIONS, Store};
use crate::meters::{Meter, Source};
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
