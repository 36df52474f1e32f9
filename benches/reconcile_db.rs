//! Why: `telleverk reconcile` must answer from a real database quickly because
//! it reads only the readings around each boundary, never the whole table. The
//! issue's target: 100 devices with 5 years of 15-minute polls in working
//! hours, end to end (process start to JSON printed), under 5 s.
//!
//! Sizes: 100 devices polled every 15 minutes 08:00–16:00 Oslo on weekdays
//! from 2025-01-01 to 2029-12-31 (≈ 33 polls a day, ≈ 4.3 M polls, four
//! changed meters each), written through `Store::write_round` like the
//! collector writes. The database is kept in `target/bench-data/` and reused
//! while the generator is unchanged (it takes a few minutes to build).

#![allow(clippy::disallowed_methods)] // benchmarks and tests measure real time

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};
use chrono_tz::Europe::Oslo;
use telleverk::billing::BILLING_METERS;
use telleverk::meters::{MeterSet, MeterValue, ValueKind};
use telleverk::record::{DeviceReading, Outcome, PollRecord};
use telleverk::storage::Store;

const DEVICES: usize = 100;
const VERSION: &str = "v1";

pub fn run() -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    let _ = std::fs::create_dir_all(&dir);
    let db = dir.join(format!("reconcile-{DEVICES}x5y-{VERSION}.db"));
    let mut report = String::new();
    if !db.exists() {
        let t = Instant::now();
        let polls = generate(&db, DEVICES, d(2025, 1, 1), d(2030, 1, 1), Hours::Working);
        report.push_str(&format!(
            "generated {polls} polls in {:.0} s\n",
            t.elapsed().as_secs_f64()
        ));
    }
    let size = std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0);
    let config = write_config(&dir, &db, DEVICES, "reconcile-bench.toml");
    let (times, output) = three_runs(
        &config,
        &[
            "reconcile",
            "--contract",
            "FLEET",
            "--at",
            "2029-12-15",
            "--json",
        ],
    );
    let output_len = output.len();
    report.push_str(&format!(
        "telleverk reconcile --json, end to end on SQLite: {DEVICES} devices, 5 years of 15-minute polls in working hours\n\
         database {:.0} MB; output {output_len} bytes\n\
         wall time min {:.3} s, median {:.3} s of 3 (target < 5 s)",
        size as f64 / 1e6,
        times[0],
        times[1]
    ));
    report
}

/// The database of `devices` polled every 15 minutes around the clock for
/// the `months` whole months before this one, named `PREFIX-…` in
/// `target/bench-data/` and made when missing; with its first day, this
/// month's first day and what making it took.
pub fn months_db(
    prefix: &str,
    devices: usize,
    months: u32,
) -> (PathBuf, NaiveDate, NaiveDate, String) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    let _ = std::fs::create_dir_all(&dir);
    let today = chrono::Local::now().date_naive();
    let this_month = today.with_day(1).unwrap_or(today);
    let first = this_month
        .checked_sub_months(chrono::Months::new(months))
        .unwrap_or(this_month);
    let db = dir.join(format!("{prefix}-{first}-{VERSION}.db"));
    let mut report = String::new();
    if !db.exists() {
        let t = Instant::now();
        let polls = generate(&db, devices, first, this_month, Hours::AroundTheClock);
        report.push_str(&format!(
            "generated {polls} polls in {:.0} s\n",
            t.elapsed().as_secs_f64()
        ));
    }
    (db, first, this_month, report)
}

/// Runs `telleverk ARGS --config CONFIG` three times, as a user would;
/// returns the wall times, fastest first, and the last run's output.
pub fn three_runs(config: &Path, args: &[&str]) -> (Vec<f64>, Vec<u8>) {
    let mut times = Vec::new();
    let mut output = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_telleverk"))
            .args(args)
            .arg("--config")
            .arg(config)
            .output()
            .expect("run telleverk");
        times.push(t.elapsed().as_secs_f64());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        output = out.stdout;
    }
    times.sort_by(f64::total_cmp);
    (times, output)
}

pub fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap_or_default()
}

/// When the generated devices are polled.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Hours {
    /// Every 15 minutes 08:00–16:00 Oslo on weekdays.
    Working,
    /// Every 15 minutes, every day, around the clock.
    AroundTheClock,
}

/// Writes `devices`' polls every 15 minutes (`hours`) from `from` to `end`
/// (excluded), a day at a time (one transaction per day), into `db`, and
/// returns how many.
pub fn generate(db: &Path, devices: usize, from: NaiveDate, end: NaiveDate, hours: Hours) -> usize {
    let tmp = db.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut store = Store::open(&tmp).expect("open bench database");
    let mut values: Vec<[u64; 4]> = (0..devices as u64)
        .map(|i| [10_000 + i * 1_000, 100, 2_000 + i * 10, 10])
        .collect();
    let mut day = from;
    let mut polls = 0;
    while day < end {
        let weekend = matches!(day.weekday(), Weekday::Sat | Weekday::Sun);
        let (first, slots) = match hours {
            Hours::Working => (8, 33),
            Hours::AroundTheClock => (0, 96),
        };
        if !weekend || hours == Hours::AroundTheClock {
            let mut round = Vec::with_capacity(devices * slots as usize);
            for slot in 0..slots {
                let at = local(day, first, 0) + Duration::minutes(15 * slot);
                for (i, v) in values.iter_mut().enumerate() {
                    let step = 1 + (i as u64 + slot as u64) % 5;
                    *v = [
                        v[0] + step,
                        v[1] + step / 4,
                        v[2] + step / 2,
                        v[3] + step / 5,
                    ];
                    round.push(poll(i, at, *v));
                }
            }
            polls += round.len();
            store.write_round(&round).expect("write a day");
        }
        day = day.succ_opt().unwrap_or(end);
    }
    drop(store);
    for suffix in ["", "-wal", "-shm"] {
        let from = PathBuf::from(format!("{}{suffix}", tmp.display()));
        let to = PathBuf::from(format!("{}{suffix}", db.display()));
        let _ = std::fs::rename(from, to);
    }
    polls
}

fn local(day: NaiveDate, h: u32, m: u32) -> DateTime<Utc> {
    let naive = day.and_hms_opt(h, m, 0).unwrap_or_default();
    Oslo.from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

fn poll(i: usize, at: DateTime<Utc>, v: [u64; 4]) -> PollRecord {
    let mut meters = MeterSet::new();
    for (meter, value) in BILLING_METERS.iter().zip(v) {
        meters.insert(MeterValue {
            meter: *meter,
            value,
            kind: ValueKind::Counter32,
        });
    }
    PollRecord {
        at,
        entry_key: format!("10.0.{}.{}:161 v2c bench", i / 250, i % 250),
        address: format!("10.0.{}.{}:161", i / 250, i % 250),
        outcome: Outcome::Ok(Box::new(DeviceReading {
            serial: telleverk::serial::Serial::parse(&serial(i)).expect("a serial"),
            meters,
            ..Default::default()
        })),
    }
}

pub fn serial(i: usize) -> String {
    format!("BENCH{i:05}")
}

/// A config (`name` in `dir`) with one advance contract `FLEET` over the
/// first `devices` devices.
pub fn write_config(dir: &Path, db: &Path, devices: usize, name: &str) -> PathBuf {
    let devices: Vec<String> = (0..devices).map(|i| format!("\"{}\"", serial(i))).collect();
    let text = format!(
        "[storage]\npath = \"{}\"\n\n[[contract]]\nid = \"FLEET\"\ndevices = [{}]\nstart = \"2025-01-01\"\nterm_months = 60\nbilling = \"advance\"\ncommitted_bw = 2000000\ncommitted_colour = 300000\nfixed_fee_monthly = \"20000.00\"\n\n[[contract.price]]\nfrom = \"2025-01-01\"\nbw = \"0.0450\"\ncolour = \"0.4500\"\n\n[[contract.price]]\nfrom = \"2027-01-01\"\nbw = \"0.0470\"\ncolour = \"0.4700\"\n",
        db.display(),
        devices.join(", ")
    );
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write bench config");
    path
}
