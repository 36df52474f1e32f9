//! Storage's own checks: a database of an older schema keeps every reading
//! people entered when it is migrated; two processes on one database do not
//! trip over a device the other one added.

use chrono::{TimeZone, Utc};
use rusqlite::{Connection, params};

use super::manual::Entering;
use super::{MIGRATIONS, Reader, Store};
use crate::import::ImportRow;
use crate::meters::{Meter, MeterSet, MeterValue, Source, ValueKind};
use crate::record::{DeviceReading, Outcome, PollRecord};
use crate::serial::Serial;

#[path = "../../tests/support/pg_cluster.rs"]
mod pg_cluster;

#[test]
fn a_wrong_password_or_a_server_that_is_down_is_a_clear_error_naming_the_url() {
    use crate::database::{Server, SslMode};
    use crate::secret::Secret;
    let url = pg_cluster::cluster().database();
    let wrong = Server::new(&url, Some(Secret::new("not-it".into())), SslMode::Disable).unwrap();
    let e = Store::open(super::Database::Server(wrong))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains(&url), "{e}");
    assert!(e.contains("password authentication failed"), "{e}");
    assert!(!e.contains("not-it"), "{e}");
    // Nothing listens on a port just freed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let down_url = format!("postgresql://telleverk@127.0.0.1:{port}/telleverk");
    let down = Server::new(&down_url, None, SslMode::Disable).unwrap();
    let e = Reader::open(super::Database::Server(down))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains(&down_url) && e.contains("connect"), "{e}");
}

/// A new empty PostgreSQL database of the test cluster.
pub(super) fn postgres_database() -> super::Database {
    let cluster = pg_cluster::cluster();
    let server = crate::database::Server::new(
        &cluster.database(),
        Some(crate::secret::Secret::new(pg_cluster::PASSWORD.to_owned())),
        crate::database::SslMode::Disable,
    )
    .unwrap();
    super::Database::Server(server)
}

/// A poll of `serial` through the entry `printer` that read `meters`.
fn polled(serial: &Serial, at: chrono::DateTime<Utc>, meters: MeterSet) -> PollRecord {
    PollRecord {
        at,
        entry_key: "printer".into(),
        address: "127.0.0.1:161".into(),
        outcome: Outcome::Ok(Box::new(DeviceReading {
            serial: serial.clone(),
            meters,
            ..DeviceReading::default()
        })),
    }
}

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
            shown: Default::default(),
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
    serving
        .write_round(&[polled(&serial, polled_at, meters)])
        .unwrap();
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
        shown: Default::default(),
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
fn a_write_waits_out_another_connection_s_lock_then_fails_busy_changing_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("busy.db");
    let mut store = Store::open(&path).unwrap();
    let mut locker = Connection::open(&path).unwrap();
    let tx = locker
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .unwrap();
    let row = ImportRow {
        line: 2,
        serial: Serial::parse("BUSY-1").unwrap(),
        at: Utc.with_ymd_and_hms(2026, 6, 1, 10, 0, 0).unwrap(),
        meter: Meter::BwTotal,
        value: 1_000,
        source: Source::Manual,
    };
    let entering = Entering {
        by: "test",
        at: Utc.with_ymd_and_hms(2026, 6, 2, 10, 0, 0).unwrap(),
        accept_implausible: false,
        shown: Default::default(),
    };
    #[allow(clippy::disallowed_methods)] // the test measures the wait itself
    let waited = std::time::Instant::now();
    let refused = store.import_readings(std::slice::from_ref(&row), entering);
    let err = match refused {
        Err(super::ImportError::Storage(e)) => e,
        other => panic!("expected a busy storage error, got {other:?}"),
    };
    assert!(err.is_busy(), "{err}");
    assert!(
        waited.elapsed() >= super::BUSY_TIMEOUT,
        "it waited the busy timeout"
    );
    let round = store.write_round(&[]);
    assert!(round.is_err_and(|e| e.is_busy()));
    tx.rollback().unwrap();
    let summary = store.import_readings(&[row], entering).unwrap();
    assert_eq!(summary.stored, 1);
}

#[test]
fn the_database_and_its_wal_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let path = dir.path().join("new.db");
    let mut store = Store::open(&path).unwrap();
    store.write_round(&[]).unwrap();
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&dir.path().join("new.db-wal")), 0o600);
    drop(store);
    // One an older telleverk left world-readable is closed at the next open.
    let old = dir.path().join("old.db");
    drop(Store::open(&old).unwrap());
    std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).unwrap();
    drop(Store::open(&old).unwrap());
    assert_eq!(mode(&old), 0o600);
}

#[test]
fn old_unkeyed_community_fingerprints_leave_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let mut store = Store::open(&path).unwrap();
    let conn = Connection::open(&path).unwrap();
    // What an older telleverk stored: two entries keyed by the unkeyed
    // fingerprint of their community, and an event naming both.
    let old = [
        "10.0.0.1:161 v2c community#0123456789ab",
        "10.0.0.2:161 v2c community#ba9876543210",
    ];
    for (id, key) in old.iter().enumerate() {
        conn.execute(
            "INSERT INTO entries (id, key, address, first_seen) VALUES (?1, ?2, '10.0.0.1:161', 0)",
            params![id as i64 + 1, key],
        )
        .unwrap();
    }
    conn.execute(
        "INSERT INTO devices (id, serial, first_seen) VALUES (1, 'S1', 0)",
        [],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO events (at, entry_id, device_id, kind, detail) VALUES (5, 2, 1, 'move', ?1)",
        params![format!("serial S1 moved from {} to {}", old[0], old[1])],
    )
    .unwrap();
    // The config still has the first entry (now keyed without the
    // community); the second is gone.
    let renames = [(old[0].to_owned(), "10.0.0.1:161 v2c".to_owned())];
    assert_eq!(store.rekey_entries(&renames).unwrap(), 2);
    let keys: Vec<String> = conn
        .prepare("SELECT key FROM entries ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        keys,
        [
            "10.0.0.1:161 v2c",
            "10.0.0.2:161 v2c community (entry 2, no longer configured)"
        ]
    );
    let detail: String = conn
        .query_row("SELECT detail FROM events", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        detail,
        "serial S1 moved from 10.0.0.1:161 v2c to 10.0.0.2:161 v2c community (entry 2, no longer configured)"
    );
    // Nothing left to do the next time.
    assert_eq!(store.rekey_entries(&renames).unwrap(), 0);
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

/// The fleet view's own connection tells a change by any writer — this
/// process's store, another process — from no change, so a quiet minute
/// reads nothing and a change is never missed.
#[test]
fn an_own_reader_tells_whether_anything_was_committed_since_it_last_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("watched.db");
    let mut store = Store::open(&path).unwrap();
    let mut own = super::OwnReader::new(&path);
    let devices = |own: &mut super::OwnReader| {
        own.read(|r, changed| {
            let mut rows = super::FleetRows::default();
            r.refresh_fleet(&mut rows)?;
            Ok::<_, super::Error>((changed, rows.rows().len()))
        })
        .unwrap()
    };
    assert_eq!(devices(&mut own), (true, 0), "the first read");
    assert_eq!(devices(&mut own), (false, 0), "nothing written since");
    let record = |serial: &str, hour| PollRecord {
        at: Utc.with_ymd_and_hms(2026, 11, 30, hour, 0, 0).unwrap(),
        entry_key: serial.into(),
        address: "127.0.0.1:161".into(),
        outcome: Outcome::Ok(Box::new(DeviceReading {
            serial: Serial::parse(serial).unwrap(),
            ..DeviceReading::default()
        })),
    };
    store.write_round(&[record("ONE", 8)]).unwrap();
    assert_eq!(devices(&mut own), (true, 1), "the store's round");
    assert_eq!(devices(&mut own), (false, 1));
    // Another connection, as another process would have.
    Store::open(&path)
        .unwrap()
        .write_round(&[record("TWO", 9)])
        .unwrap();
    assert_eq!(devices(&mut own), (true, 2), "another connection's round");
    // A read that failed is not taken as seen: the next one reads again.
    store.write_round(&[record("THREE", 10)]).unwrap();
    let failed: Result<(), super::Error> = own.read(|r, changed| {
        assert!(changed);
        Err(r.err("fail on purpose")(super::db::Error::Invalid(
            "on purpose".into(),
        )))
    });
    assert!(failed.is_err());
    assert_eq!(devices(&mut own), (true, 3));
}

mod fleet_rows {
    //! The fleet's rows read only where they changed are the rows a read
    //! of everything gives, after any sequence of writes.

    use chrono::{DateTime, Duration, TimeZone, Utc};
    use proptest::prelude::*;

    use super::super::manual::{Entering, Withdrawal};
    use super::super::{FleetRows, Reader, Store};
    use crate::import::ImportRow;
    use crate::meters::{Meter, MeterSet, MeterValue, Source, ValueKind};
    use crate::record::{DeviceReading, FailureCause, Outcome, PollRecord};
    use crate::serial::Serial;
    use crate::supplies::Supply;

    /// One device's poll in a round: which device, through which entry,
    /// and what it said.
    #[derive(Debug, Clone)]
    struct Poll {
        serial: usize,
        entry: usize,
        /// 0 failed, 1 answered, 2 answered with a problem, 3 no meters.
        outcome: u8,
        level: i64,
        model: u8,
        status: i64,
        supplies: u8,
    }

    #[derive(Debug, Clone)]
    enum Op {
        /// A round of polls, by this process or (`other`) another one.
        Round { polls: Vec<Poll>, other: bool },
        /// A reading entered by hand, `back` minutes before now.
        Enter {
            serial: usize,
            value: u64,
            back: i64,
        },
        /// The `nth` entered reading still standing withdrawn.
        Withdraw { nth: usize },
    }

    fn op() -> impl Strategy<Value = Op> {
        let poll = (
            0..6usize,
            0..4usize,
            0..4u8,
            0..4i64,
            0..2u8,
            2..6i64,
            0..3u8,
        )
            .prop_map(
                |(serial, entry, outcome, level, model, status, supplies)| Poll {
                    serial,
                    entry,
                    outcome,
                    level,
                    model,
                    status,
                    supplies,
                },
            );
        prop_oneof![
            4 => (prop::collection::vec(poll, 0..6), any::<bool>())
                .prop_map(|(polls, other)| Op::Round { polls, other }),
            1 => (0..7usize, 1..1_000u64, 0..600i64)
                .prop_map(|(serial, value, back)| Op::Enter { serial, value, back }),
            1 => (0..4usize).prop_map(|nth| Op::Withdraw { nth }),
        ]
    }

    fn serial(i: usize) -> Serial {
        Serial::parse(&format!("SER-{i}")).unwrap()
    }

    /// [`Op::Round`]: `polls` a second apart from `now`, written by `store`
    /// or, when `other`, by another store of the same database.
    fn write(
        store: &mut Store,
        db: &super::super::Database,
        polls: &[Poll],
        other: bool,
        now: DateTime<Utc>,
    ) -> crate::storage::RoundSummary {
        let records: Vec<PollRecord> = polls
            .iter()
            .enumerate()
            .map(|(i, p)| record(p, now + Duration::seconds(i as i64)))
            .collect();
        if other {
            Store::open(db).unwrap().write_round(&records).unwrap()
        } else {
            store.write_round(&records).unwrap()
        }
    }

    /// [`Op::Withdraw`]: the manual b/w reading of device `s` at `at`
    /// withdrawn at `now`.
    fn withdraw(
        store: &mut Store,
        s: usize,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<crate::record::Withdrawn, crate::storage::WithdrawError> {
        store.withdraw_reading(&Withdrawal {
            serial: &serial(s),
            meter: Meter::BwTotal,
            at,
            source: Source::Manual,
            by: "test",
            reason: "a typo",
            when: now,
            shown: Default::default(),
        })
    }

    /// [`Op::Enter`]: a manual b/w reading of device `s`, `back` minutes
    /// before `now`, entered at `now`. Its time, and how the entering went.
    fn enter(
        store: &mut Store,
        s: usize,
        value: u64,
        back: i64,
        now: DateTime<Utc>,
    ) -> (
        DateTime<Utc>,
        Result<crate::storage::ImportSummary, crate::storage::ImportError>,
    ) {
        let at = now - Duration::minutes(back);
        let row = ImportRow {
            line: 2,
            serial: serial(s),
            at,
            meter: Meter::BwTotal,
            value,
            source: Source::Manual,
        };
        let entering = Entering {
            by: "test",
            at: now,
            accept_implausible: true,
            shown: Default::default(),
        };
        (at, store.import_readings(&[row], entering))
    }

    fn record(p: &Poll, at: DateTime<Utc>) -> PollRecord {
        let entry = format!("entry-{}", p.entry);
        let outcome = if p.outcome == 0 {
            Outcome::Failed {
                cause: FailureCause::Timeout,
                detail: format!("no answer at {at}"),
            }
        } else {
            let mut meters = MeterSet::new();
            if p.outcome != 3 {
                meters.insert(MeterValue {
                    meter: Meter::BwTotal,
                    value: 1_000 + at.timestamp() as u64 % 1_000,
                    kind: ValueKind::Counter32,
                });
            }
            let supplies = (0..p.supplies)
                .map(|i| Supply {
                    index: u32::from(i) + 1,
                    description: format!("Toner {i}"),
                    kind: "toner".into(),
                    colour: None,
                    level: p.level * 10 + i64::from(i),
                    max: 100,
                    percent: Some(p.level * 10 + i64::from(i)),
                })
                .collect();
            Outcome::Ok(Box::new(DeviceReading {
                serial: serial(p.serial),
                model: Some(format!("bizhub C{}", 250 + u32::from(p.model))),
                meters,
                supplies: (p.supplies > 0).then_some(supplies),
                device_status: Some(p.status),
                problems: if p.outcome == 2 {
                    vec!["the supplies table did not answer".into()]
                } else {
                    Vec::new()
                },
                ..DeviceReading::default()
            }))
        };
        PollRecord {
            at,
            entry_key: entry.clone(),
            address: format!("127.0.0.1:{}", 1_000 + p.entry),
            outcome,
        }
    }

    fn everything(reader: &Reader) -> FleetRows {
        let mut rows = FleetRows::default();
        reader.refresh_fleet(&mut rows).unwrap();
        assert!(rows.last().full);
        rows
    }

    fn same(a: &FleetRows, b: &FleetRows, step: usize) {
        let rows = |f: &FleetRows| f.rows().iter().map(|r| (**r).clone()).collect::<Vec<_>>();
        assert_eq!(rows(a), rows(b), "devices after step {step}");
        let entries = |f: &FleetRows| {
            let mut e: Vec<_> = f.entries().cloned().collect();
            e.sort_by(|x, y| x.key.cmp(&y.key));
            e
        };
        assert_eq!(entries(a), entries(b), "entries after step {step}");
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
        #[test]
        fn reading_only_changes_gives_what_reading_all_gives(ops in prop::collection::vec(op(), 1..24)) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("fleet.db");
            let mut store = Store::open(&path).unwrap();
            let reader = Reader::open(&path).unwrap();
            let mut kept = FleetRows::default();
            reader.refresh_fleet(&mut kept).unwrap();
            let mut now = Utc.with_ymd_and_hms(2026, 11, 30, 8, 0, 0).unwrap();
            let mut entered: Vec<(usize, DateTime<Utc>)> = Vec::new();
            for (step, op) in ops.iter().enumerate() {
                now += Duration::minutes(15);
                match op {
                    Op::Round { polls, other } => {
                        write(&mut store, &path.clone().into(), polls, *other, now);
                    }
                    Op::Enter { serial: s, value, back } => {
                        let (at, done) = enter(&mut store, *s, *value, *back, now);
                        if done.is_ok() {
                            entered.push((*s, at));
                        }
                    }
                    Op::Withdraw { nth } => {
                        if entered.is_empty() {
                            continue;
                        }
                        let (s, at) = entered.remove(nth % entered.len());
                        withdraw(&mut store, s, at, now).unwrap();
                    }
                }
                reader.refresh_fleet(&mut kept).unwrap();
                prop_assert!(!kept.last().full, "step {} read everything", step);
                same(&kept, &everything(&reader), step);
            }
        }
    }

    #[test]
    fn a_round_reads_again_only_the_devices_it_changed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fleet.db");
        let mut store = Store::open(&path).unwrap();
        let reader = Reader::open(&path).unwrap();
        let at = Utc.with_ymd_and_hms(2026, 11, 30, 8, 0, 0).unwrap();
        let poll = |serial, level| Poll {
            serial,
            entry: serial,
            outcome: 1,
            level,
            model: 0,
            status: 2,
            supplies: 2,
        };
        let round: Vec<PollRecord> = (0..4).map(|s| record(&poll(s, 3), at)).collect();
        store.write_round(&round).unwrap();
        let mut kept = FleetRows::default();
        reader.refresh_fleet(&mut kept).unwrap();
        assert_eq!((kept.last().full, kept.last().changed), (true, 4));
        let before = kept.rows();
        // Nothing stored: nothing changes, the rows are the same ones.
        reader.refresh_fleet(&mut kept).unwrap();
        assert_eq!((kept.last().full, kept.last().changed), (false, 0));
        assert!(std::sync::Arc::ptr_eq(&before[0], &kept.rows()[0]));
        // A round where one device's toner dropped and the others only
        // answered: every row has a new poll, one has new supplies.
        let later = at + Duration::minutes(15);
        let round: Vec<PollRecord> = (0..4)
            .map(|s| record(&poll(s, if s == 2 { 2 } else { 3 }), later))
            .collect();
        store.write_round(&round).unwrap();
        reader.refresh_fleet(&mut kept).unwrap();
        assert_eq!((kept.last().full, kept.last().changed), (false, 4));
        let rows = kept.rows();
        assert_eq!(rows[2].supplies[0].level, 20);
        assert_eq!(rows[1].supplies[0].level, 30);
        assert_eq!(rows[0].last_poll, Some(later));
        same(&kept, &everything(&reader), 0);
    }

    /// Everything the readers give of a database, written out: what two
    /// backends given the same writes must agree on, byte for byte.
    fn dump(reader: &Reader) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let rows = everything(reader);
        for row in rows.rows() {
            writeln!(out, "{row:?}").unwrap();
        }
        let mut entries: Vec<_> = rows.entries().cloned().collect();
        entries.sort_by(|x, y| x.key.cmp(&y.key));
        writeln!(out, "{entries:?}").unwrap();
        let serials = reader.serials().unwrap();
        for s in &serials {
            let serial = Serial::stored(s);
            writeln!(
                out,
                "{s} readings {:?}",
                reader.readings(s, None, None).unwrap()
            )
            .unwrap();
            writeln!(out, "{s} events {:?}", reader.events(&serial).unwrap()).unwrap();
            writeln!(out, "{s} device {:?}", reader.device(&serial).unwrap()).unwrap();
            writeln!(
                out,
                "{s} uptime {:?}",
                reader.uptime_rows(s, 0, i64::MAX).unwrap()
            )
            .unwrap();
        }
        writeln!(out, "failures {:?}", reader.failures().unwrap()).unwrap();
        writeln!(out, "identities {:?}", reader.identities().unwrap()).unwrap();
        writeln!(
            out,
            "rounds {:?}",
            reader.rounds_between(0, i64::MAX).unwrap()
        )
        .unwrap();
        writeln!(out, "latest poll {:?}", reader.latest_poll().unwrap()).unwrap();
        for e in 0..4 {
            let key = format!("entry-{e}");
            writeln!(out, "{key} {:?}", reader.entry_failures(&key, 50).unwrap()).unwrap();
        }
        out
    }

    /// `ops` on a new database at `at`, as the property above runs them,
    /// each step's reading written out.
    fn run(ops: &[Op], at: super::super::Database) -> Vec<String> {
        let mut store = Store::open(&at).unwrap();
        let reader = Reader::open(&at).unwrap();
        let mut now = Utc.with_ymd_and_hms(2026, 11, 30, 8, 0, 0).unwrap();
        let mut entered: Vec<(usize, DateTime<Utc>)> = Vec::new();
        let mut steps = Vec::new();
        for op in ops {
            now += Duration::minutes(15);
            match op {
                Op::Round { polls, other } => {
                    let summary = write(&mut store, &at, polls, *other, now);
                    steps.push(format!("{summary:?}"));
                }
                Op::Enter {
                    serial: s,
                    value,
                    back,
                } => {
                    let (at, done) = enter(&mut store, *s, *value, *back, now);
                    if done.is_ok() {
                        entered.push((*s, at));
                    }
                    steps.push(format!("{done:?}"));
                }
                Op::Withdraw { nth } => {
                    if entered.is_empty() {
                        continue;
                    }
                    let (s, at) = entered.remove(nth % entered.len());
                    let done = withdraw(&mut store, s, at, now);
                    steps.push(format!("{done:?}"));
                }
            }
            steps.push(dump(&reader));
        }
        steps
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]
        #[test]
        fn sqlite_and_postgresql_read_alike_after_the_same_writes(ops in prop::collection::vec(op(), 1..16)) {
            let dir = tempfile::tempdir().unwrap();
            let sqlite = run(&ops, super::super::Database::File(dir.path().join("fleet.db")));
            let postgres = run(&ops, super::postgres_database());
            for (step, (a, b)) in sqlite.iter().zip(&postgres).enumerate() {
                prop_assert_eq!(a, b, "step {}", step);
            }
            prop_assert_eq!(sqlite.len(), postgres.len());
        }
    }
}

#[test]
fn a_round_after_another_process_s_round_is_compared_with_what_that_one_stored() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("two.db");
    let record = |hour, level: i64| PollRecord {
        at: Utc.with_ymd_and_hms(2026, 11, 30, hour, 0, 0).unwrap(),
        entry_key: "printer".into(),
        address: "127.0.0.1:161".into(),
        outcome: Outcome::Ok(Box::new(DeviceReading {
            serial: Serial::parse("TWO-1").unwrap(),
            supplies: Some(vec![crate::supplies::Supply {
                index: 1,
                description: "Toner (Black)".into(),
                kind: "toner".into(),
                colour: Some("black".into()),
                level,
                max: 100,
                percent: Some(level),
            }]),
            ..DeviceReading::default()
        })),
    };
    // `serve` has the database open before the entry or device exist.
    let mut serving = Store::open(&path).unwrap();
    // A `poll --once` in another process stores the first poll (the entry,
    // the device, a level of 40), then `serve` reads 30 and another process
    // 20: `serve`'s next poll at 30 differs from what is stored.
    Store::open(&path)
        .unwrap()
        .write_round(&[record(8, 40)])
        .unwrap();
    serving.write_round(&[record(9, 30)]).unwrap();
    Store::open(&path)
        .unwrap()
        .write_round(&[record(10, 20)])
        .unwrap();
    serving.write_round(&[record(11, 30)]).unwrap();
    let levels: Vec<i64> = Connection::open(&path)
        .unwrap()
        .prepare("SELECT level FROM supply_values ORDER BY at")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(levels, [40, 30, 20, 30], "every change is stored, once");
    let supplies = Store::open(&path)
        .unwrap()
        .device(&Serial::parse("TWO-1").unwrap())
        .unwrap()
        .unwrap()
        .supplies;
    assert_eq!(supplies[0].level, 30);
}

mod around {
    //! The readings around boundaries read a device at a time (each poll
    //! search shared by the meters) are the ones read meter by meter, on
    //! polls that miss meters, counters that drop and readings entered by
    //! hand.

    use chrono::{Duration, TimeZone, Utc};
    use proptest::prelude::*;

    use super::super::manual::Entering;
    use super::super::{Reader, Store};
    use crate::import::ImportRow;
    use crate::meters::{Meter, MeterSet, MeterValue, Source, ValueKind};
    use crate::serial::Serial;
    use crate::timestamp::Timestamp;

    const METERS: [Meter; 5] = [
        Meter::BwTotal,
        Meter::BwLarge,
        Meter::ColourTotal,
        Meter::ColourLarge,
        Meter::Total,
    ];

    /// A poll: which of the first four meters it returned (a mask), and
    /// how each moved: mostly up, now and then down (a reset or a glitch).
    #[derive(Debug, Clone)]
    struct Poll {
        mask: u8,
        steps: [i64; 4],
        gap_hours: i64,
    }

    fn poll() -> impl Strategy<Value = Poll> {
        (
            prop_oneof![4 => Just(0b1111u8), 1 => 0..16u8],
            prop::array::uniform4(prop_oneof![8 => 0..40i64, 1 => -500..0i64]),
            prop_oneof![4 => Just(1i64), 1 => 2..200i64],
        )
            .prop_map(|(mask, steps, gap_hours)| Poll {
                mask,
                steps,
                gap_hours,
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]
        #[test]
        fn read_by_device_is_read_by_meter(
            polls in prop::collection::vec(poll(), 0..40),
            entered in prop::collection::vec((0..4usize, 0..2_000i64, 1..5_000u64), 0..4),
            instants in prop::collection::vec(-100..3_000i64, 0..8),
            trailing_days in 1..120u32,
        ) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("around.db");
            let mut store = Store::open(&path).unwrap();
            let serial = Serial::parse("AROUND-1").unwrap();
            let start = Utc.with_ymd_and_hms(2026, 1, 5, 8, 0, 0).unwrap();
            let mut at = start;
            let mut values = [1_000i64, 100, 500, 50];
            for p in &polls {
                at += Duration::hours(p.gap_hours);
                let mut meters = MeterSet::new();
                for (i, meter) in METERS[..4].iter().enumerate() {
                    values[i] = (values[i] + p.steps[i]).max(0);
                    if p.mask >> i & 1 == 1 {
                        meters.insert(MeterValue {
                            meter: *meter,
                            value: values[i] as u64,
                            kind: ValueKind::Counter32,
                        });
                    }
                }
                store.write_round(&[super::polled(&serial, at, meters)]).unwrap();
            }
            for (meter, hours, value) in &entered {
                let row = ImportRow {
                    line: 2,
                    serial: serial.clone(),
                    at: start + Duration::hours(*hours),
                    meter: METERS[*meter],
                    value: *value,
                    source: Source::Manual,
                };
                let entering = Entering {
                    by: "test",
                    at: start + Duration::hours(3_000),
                    accept_implausible: true,
                    shown: Default::default(),
                };
                let _ = store.import_readings(&[row], entering);
            }
            let instants: Vec<Timestamp> = instants
                .iter()
                .map(|h| Timestamp::from(start + Duration::hours(*h)))
                .collect();
            let reader = Reader::open(&path).unwrap();
            let by_device = reader
                .billing_points("AROUND-1", &METERS, &instants, trailing_days)
                .unwrap();
            let device = reader.device_id("AROUND-1").unwrap();
            for meter in METERS {
                let by_meter = match device {
                    Some(d) => reader.points_around(d, meter, &instants, trailing_days).unwrap(),
                    None => Vec::new(),
                };
                prop_assert_eq!(
                    by_device.get(&meter).cloned().unwrap_or_default(),
                    by_meter,
                    "{:?}",
                    meter
                );
            }
        }
    }
}

#[test]
fn tls_encrypts_in_every_mode_but_disable_and_verify_full_checks_the_certificate() {
    use crate::database::{Server, SslMode};
    use crate::secret::Secret;
    let cluster = pg_cluster::cluster();
    let url = cluster.database();
    let server = |url: &str, mode| {
        Server::new(
            url,
            Some(Secret::new(pg_cluster::PASSWORD.to_owned())),
            mode,
        )
        .unwrap()
    };
    let encrypted = |server: Server| -> Result<bool, String> {
        let conn =
            super::pg::open(&server, &url, super::pg::Open::Write).map_err(|e| e.to_string())?;
        conn.query_row(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            [],
            |r| r.get(0),
        )
        .map_err(|e| e.to_string())
    };
    assert_eq!(encrypted(server(&url, SslMode::Disable)), Ok(false));
    assert_eq!(encrypted(server(&url, SslMode::Prefer)), Ok(true));
    assert_eq!(encrypted(server(&url, SslMode::Require)), Ok(true));
    let verified = server(&url, SslMode::VerifyFull).with_root_cert(cluster.ca.clone());
    assert_eq!(encrypted(verified), Ok(true));
    // A CA that did not sign the server's certificate.
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("other-ca.pem");
    let made = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=another CA", "-keyout"])
        .arg(dir.path().join("other-ca.key"))
        .arg("-out")
        .arg(&other)
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let e = encrypted(server(&url, SslMode::VerifyFull).with_root_cert(other)).unwrap_err();
    assert!(
        e.contains(&url) && e.contains("invalid peer certificate") && e.contains("sslrootcert"),
        "{e}"
    );
    // On the server's Unix socket there is no TLS, as with libpq.
    let socket_dir = cluster.ca.parent().unwrap().display().to_string();
    let name = url.rsplit('/').next().unwrap();
    let local = format!(
        "postgresql://postgres@/{name}?host={socket_dir}&port={}",
        cluster.port
    );
    assert_eq!(encrypted(server(&local, SslMode::Prefer)), Ok(false));
    // The certificate names 127.0.0.1, not localhost.
    let by_name = url.replace("127.0.0.1", "localhost");
    let e = encrypted(server(&by_name, SslMode::VerifyFull).with_root_cert(cluster.ca.clone()))
        .unwrap_err();
    assert!(e.contains("invalid peer certificate"), "{e}");
    // A root certificate file with no certificate in it is named.
    let empty = dir.path().join("ca.pem");
    std::fs::write(&empty, "no PEM here\n").unwrap();
    let e = encrypted(server(&url, SslMode::VerifyFull).with_root_cert(empty)).unwrap_err();
    assert!(e.contains("ca.pem: no certificate in it"), "{e}");
}

/// A poll of `serial` through the entry `key`.
fn polled_at(key: &str, serial: &str, at: chrono::DateTime<Utc>) -> PollRecord {
    let mut record = polled(&Serial::parse(serial).unwrap(), at, MeterSet::new());
    record.entry_key = key.into();
    record
}

/// Device A polled at entry E, then moved to F; then, after the store is
/// opened again, a new device C answers at E: a swap of A for C at E, as a
/// store open all along sees it.
fn swap_after_a_move(db: super::Database, reopen: bool) -> Vec<String> {
    let t = |m: i64| {
        Utc.with_ymd_and_hms(2026, 11, 30, 8, 0, 0).unwrap() + chrono::Duration::minutes(m)
    };
    let mut store = Store::open(&db).unwrap();
    store.write_round(&[polled_at("E", "DEV-A", t(0))]).unwrap();
    store
        .write_round(&[polled_at("F", "DEV-A", t(15))])
        .unwrap();
    if reopen {
        drop(store);
        store = Store::open(&db).unwrap();
    }
    store
        .write_round(&[polled_at("E", "DEV-C", t(30))])
        .unwrap();
    let reader = Reader::open(&db).unwrap();
    ["DEV-A", "DEV-C"]
        .iter()
        .flat_map(|s| reader.events(&Serial::parse(s).unwrap()).unwrap())
        .map(|e| format!("{} {}", e.kind, e.detail))
        .collect()
}

#[test]
fn a_store_opened_again_knows_each_entry_s_last_device() {
    let dir = tempfile::tempdir().unwrap();
    let open_all_along = swap_after_a_move(dir.path().join("a.db").into(), false);
    assert!(
        open_all_along
            .iter()
            .any(|e| e == "swap serial DEV-C now answers at E where DEV-A answered before"),
        "{open_all_along:?}"
    );
    assert_eq!(
        swap_after_a_move(dir.path().join("b.db").into(), true),
        open_all_along
    );
    assert_eq!(swap_after_a_move(postgres_database(), true), open_all_along);
}

#[test]
fn schema_11_takes_each_entry_s_last_device_from_the_polls_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v10.db");
    let at = |m: i64| {
        (Utc.with_ymd_and_hms(2026, 11, 30, 8, 0, 0).unwrap() + chrono::Duration::minutes(m))
            .timestamp_millis()
    };
    {
        // Schema 10: entry E polled DEV-A, then DEV-B (swapped in).
        let conn = Connection::open(&path).unwrap();
        for migration in &MIGRATIONS[..10] {
            conn.execute_batch(migration).unwrap();
        }
        conn.pragma_update(None, "user_version", 10).unwrap();
        conn.execute_batch(
            "INSERT INTO entries (id, key, address, first_seen) VALUES (1, 'E', '10.0.0.1:161', 0);
             INSERT INTO devices (id, serial, first_seen) VALUES (1, 'DEV-A', 0), (2, 'DEV-B', 0);",
        )
        .unwrap();
        for (device, minutes) in [(1, 0), (1, 15), (2, 30)] {
            conn.execute(
                "INSERT INTO polls (device_id, at, entry_id, meters) VALUES (?1, ?2, 1, 0)",
                rusqlite::params![device, at(minutes)],
            )
            .unwrap();
        }
    }
    let mut store = Store::open(&path).unwrap();
    let t = Utc.with_ymd_and_hms(2026, 11, 30, 9, 0, 0).unwrap();
    store.write_round(&[polled_at("E", "DEV-C", t)]).unwrap();
    let events = Reader::open(&path)
        .unwrap()
        .events(&Serial::parse("DEV-C").unwrap())
        .unwrap();
    assert_eq!(
        events.iter().map(|e| e.detail.as_str()).collect::<Vec<_>>(),
        ["serial DEV-C now answers at E where DEV-B answered before"]
    );
}
