//! Ingest: meter values stored per second through `Store::write_round`, the
//! function the collector uses, one transaction per round, synchronous=FULL.
//!
//! Why: a round must be stored well within the poll interval even for a large
//! fleet. Why these sizes: 10 000 devices is five times the 2 000-device fleet
//! the storage is sized for; 30 values per device is the 15 canonical meters
//! plus 15 supply rows of a colour bizhub, every one changed, so every value
//! is really written (the worst case: growth follows change).

#![allow(clippy::disallowed_methods)] // benchmarks and tests measure real time

use std::time::Instant;

use chrono::{Duration, TimeZone, Utc};
use telleverk::database::{Database, Server, SslMode};
use telleverk::meters::{Meter, MeterSet, MeterValue, ValueKind};
use telleverk::record::{DeviceReading, Outcome, PollRecord};
use telleverk::secret::Secret;
use telleverk::storage::Store;

#[path = "../tests/support/pg_cluster.rs"]
pub mod pg_cluster;
use telleverk::supplies::Supply;

const DEVICES: usize = 10_000;
const SUPPLIES: u32 = 15;
const ROUNDS: usize = 5;
const UNCHANGED_ROUNDS: usize = 10;

fn round(round: usize) -> Vec<PollRecord> {
    let start = Utc.with_ymd_and_hms(2026, 1, 5, 8, 0, 0).unwrap();
    let at = start + Duration::minutes(15 * round as i64);
    (0..DEVICES)
        .map(|d| {
            let mut meters = MeterSet::new();
            for (i, meter) in Meter::ALL.iter().enumerate() {
                let value = (d * 1000 + i * 100 + round * 7) as u64;
                meters.insert(MeterValue {
                    meter: *meter,
                    value,
                    kind: ValueKind::Integer,
                });
            }
            let supplies = (1..=SUPPLIES)
                .map(|idx| Supply {
                    index: idx,
                    description: format!("Supply {idx}"),
                    kind: "toner".into(),
                    colour: Some("black".into()),
                    level: 100 - round as i64,
                    max: 100,
                    percent: Some(100 - round as i64),
                })
                .collect();
            PollRecord {
                at,
                entry_key: format!(
                    "10.{}.{}.{}:161 v2c community#bench",
                    d / 65536,
                    (d / 256) % 256,
                    d % 256
                ),
                address: format!("10.0.{}.{}:161", d / 256, d % 256),
                outcome: Outcome::Ok(Box::new(DeviceReading {
                    serial: telleverk::serial::Serial::parse(&format!("A7PU{d:09}"))
                        .expect("a serial"),
                    model: Some("bizhub C300i".into()),
                    sys_object_id: Some("1.3.6.1.4.1.18334.1.2.1.2.1.143.1.3".into()),
                    profile: Some("konica-minolta-bizhub".into()),
                    meters,
                    supplies: Some(supplies),
                    device_status: Some(2),
                    printer_status: Some(3),
                    errors: Some(0),
                    ..DeviceReading::default()
                })),
            }
        })
        .collect()
}

/// On a SQLite file: WAL, synchronous=FULL.
pub fn run() -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("ingest.db");
    measure(
        "ingest",
        "a SQLite file, WAL, synchronous=FULL",
        &Database::File(path),
        &|| db_size(dir.path()),
    )
}

/// On a PostgreSQL database of a throwaway local cluster that syncs its
/// commits (fsync and synchronous_commit on, the server's defaults), over
/// TCP on 127.0.0.1.
pub fn run_postgresql() -> String {
    let cluster = pg_cluster::durable_cluster();
    let url = cluster.database();
    let password = Secret::new(pg_cluster::PASSWORD.to_owned());
    let server = Server::new(&url, Some(password), SslMode::Disable).expect("the URL");
    let size = pg_size(&url);
    measure(
        "ingest_postgresql",
        "PostgreSQL 15 on 127.0.0.1, fsync and synchronous_commit on",
        &Database::Server(server),
        &|| (size.borrow_mut())(),
    )
}

fn measure(name: &str, on: &str, database: &Database, size: &dyn Fn() -> u64) -> String {
    let mut store = Store::open(database).expect("open");
    let mut lines = vec![format!(
        "{name}: {DEVICES} devices x {} values per round ({} meters + {SUPPLIES} supply rows, all changed), one transaction per round, {on}",
        Meter::ALL.len() + SUPPLIES as usize,
        Meter::ALL.len()
    )];
    let mut rates = Vec::new();
    for r in 0..=ROUNDS {
        let records = round(r);
        let t = Instant::now();
        let summary = store.write_round(&records).expect("write");
        let secs = t.elapsed().as_secs_f64();
        let values = summary.meter_values + summary.supply_values;
        let rate = values as f64 / secs;
        let label = if r == 0 {
            "round 0 (new devices)"
        } else {
            "round"
        };
        lines.push(format!(
            "{label} {r}: {values} values in {secs:.3} s = {rate:.0} values/s"
        ));
        if r > 0 {
            rates.push(rate);
        }
    }
    rates.sort_by(|a, b| a.partial_cmp(b).unwrap());
    lines.push(format!(
        "changed rounds: min {:.0}, median {:.0} values/s (target >= 200000)",
        rates[0],
        rates[rates.len() / 2]
    ));
    drop(store);
    let changed_size = size();
    lines.push(format!(
        "database after {} changed rounds: {:.1} MB ({:.1} bytes per stored value, polls included)",
        ROUNDS + 1,
        changed_size as f64 / 1e6,
        changed_size as f64 / ((ROUNDS + 1) * DEVICES * 30) as f64
    ));
    // Polls that change nothing: only the poll rows grow.
    let mut store = Store::open(database).expect("reopen");
    let mut secs = 0.0;
    for r in 1..=UNCHANGED_ROUNDS {
        let mut records = round(ROUNDS);
        for rec in &mut records {
            rec.at += Duration::minutes(15 * r as i64);
        }
        let t = Instant::now();
        let s = store.write_round(&records).expect("write");
        secs += t.elapsed().as_secs_f64();
        assert_eq!(s.meter_values + s.supply_values, 0);
    }
    drop(store);
    let per_poll = (size() - changed_size) as f64 / (UNCHANGED_ROUNDS * DEVICES) as f64;
    lines.push(format!(
        "unchanged rounds: {UNCHANGED_ROUNDS} x {DEVICES} polls in {secs:.2} s ({:.0} polls/s), {per_poll:.1} bytes per poll",
        (UNCHANGED_ROUNDS * DEVICES) as f64 / secs
    ));
    // 2 000 devices, every 15 minutes, 10 years: 2000 x 96 x 3652.5 polls.
    let polls_10y = 2000.0 * 96.0 * 3652.5;
    lines.push(format!(
        "sizing: 2 000 devices every 15 min for 10 years = {:.0} M polls -> {:.1} GB of poll rows, plus changed values",
        polls_10y / 1e6,
        polls_10y * per_poll / 1e9
    ));
    lines.join("\n")
}

/// The bytes of the PostgreSQL database at `url`: its tables and their
/// indexes (the database's own catalogues left out).
pub fn pg_size(url: &str) -> std::cell::RefCell<impl FnMut() -> u64> {
    let mut admin = postgres::Client::connect(
        &format!("{url}?password={}", pg_cluster::PASSWORD),
        postgres::NoTls,
    )
    .expect("connect");
    std::cell::RefCell::new(move || {
        let row = admin
            .query_one(
                "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::BIGINT FROM pg_class c
                 JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname = 'public' AND c.relkind = 'r'",
                &[],
            )
            .expect("sizes");
        row.get::<_, i64>(0) as u64
    })
}

/// The database file plus its WAL, in bytes.
pub fn db_size(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum()
}
