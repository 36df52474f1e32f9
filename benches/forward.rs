//! Many sites (issue 22): what a central server's ingest costs, how fast a
//! site that was cut off catches up, and what its outbox grows by.
//!
//! - `forward_central`: 50 sites × 200 devices, a round every 5 minutes,
//!   an hour of it (12 rounds per site), each batch replayed through
//!   `Store::ingest` as the central's `POST /api/v1/ingest` does (its JSON
//!   parsed first), on SQLite and on PostgreSQL: polls and values a second,
//!   this process's CPU, and the store's bytes per poll.
//! - `forward_catch_up`: a site of 1 000 devices cut off for 24 hours (288
//!   rounds queued in its outbox) forwards over HTTP to a central `serve`
//!   on PostgreSQL: how long until the central has it all, and the outbox's
//!   bytes for the day.
//! - `forward_history` (in the same run): the same day stored without an
//!   outbox becomes another site: how long its plan takes, and how fast its
//!   history, made from the stored rows, reaches the same central.
//!
//! The fleets change as fleets do: a device in three prints between
//! rounds (its counters go up), one in ten of those has a toner a percent
//! lower; the rest poll unchanged.

#![allow(clippy::disallowed_methods)] // benchmarks measure real time

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use telleverk::clock::Clock;
use telleverk::database::{Database, Server, SslMode};
use telleverk::meters::{Meter, MeterSet, MeterValue, ValueKind};
use telleverk::record::{DeviceReading, Outcome, PollRecord, RoundEnd, RoundRecord};
use telleverk::secret::Secret;
use telleverk::storage::Store;
use telleverk::supplies::Supply;
use telleverk::wire::{Batch, Item, PROTOCOL, Poll, Round};

use super::ingest::pg_cluster;

const SITES: usize = 50;
const SITE_DEVICES: usize = 200;
const HOUR_ROUNDS: usize = 12;
const ROUND_MINUTES: i64 = 5;
const CATCH_UP_DEVICES: usize = 1_000;
const DAY_ROUNDS: usize = 288;
const METERS: [Meter; 11] = [
    Meter::Total,
    Meter::BwTotal,
    Meter::ColourTotal,
    Meter::BwCopy,
    Meter::BwPrint,
    Meter::ColourCopy,
    Meter::ColourPrint,
    Meter::BwLarge,
    Meter::ColourLarge,
    Meter::Duplex,
    Meter::ScanTotal,
];
const SUPPLIES: u32 = 6;

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 6, 0, 0).unwrap()
}

/// Round `r` of `devices` devices of site `site`.
fn records(site: usize, devices: usize, r: usize) -> (RoundRecord, Vec<PollRecord>) {
    let at = start() + chrono::Duration::minutes(ROUND_MINUTES * r as i64);
    let polls = (0..devices)
        .map(|d| {
            // A device in three prints between rounds.
            let busy = d % 3 == 0;
            let pages = if busy { (r * (1 + d % 7)) as u64 } else { 0 };
            let mut meters = MeterSet::new();
            for (i, meter) in METERS.iter().enumerate() {
                meters.insert(MeterValue {
                    meter: *meter,
                    value: 10_000 + (d * 37 + i * 1_000) as u64 + pages * (i as u64 % 3),
                    kind: ValueKind::Counter32,
                });
            }
            let worn = if busy && d % 10 == 0 { r as i64 / 2 } else { 0 };
            let supplies = (1..=SUPPLIES)
                .map(|idx| Supply {
                    index: idx,
                    description: format!("Toner {idx}"),
                    kind: "toner".into(),
                    colour: Some(
                        ["black", "cyan", "magenta", "yellow", "black", "black"][idx as usize - 1]
                            .into(),
                    ),
                    level: 90 - worn,
                    max: 100,
                    percent: Some(90 - worn),
                })
                .collect();
            PollRecord {
                at: at + chrono::Duration::milliseconds(d as i64 * 3),
                entry_key: format!("10.{site}.{}.{}:161 v2c", d / 256, d % 256),
                address: format!("10.{site}.{}.{}:161", d / 256, d % 256),
                outcome: Outcome::Ok(Box::new(DeviceReading {
                    serial: telleverk::serial::Serial::parse(&format!("A{site:03}K{d:07}"))
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
        .collect();
    let round = RoundRecord {
        started: at,
        ended: at + chrono::Duration::seconds(4),
        interval_ms: Some(ROUND_MINUTES * 60_000),
        entries: devices,
        end: RoundEnd::Completed,
    };
    (round, polls)
}

fn values_per_poll() -> usize {
    METERS.len() + SUPPLIES as usize
}

/// 50 sites' hour into a central store on SQLite.
pub fn run_central() -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("central.db");
    let sqlite = central(
        "SQLite file, WAL, synchronous=FULL",
        &Database::File(path),
        &|| super::ingest::db_size(dir.path()),
    );
    let cluster = pg_cluster::durable_cluster();
    let url = cluster.database();
    let server = Server::new(
        &url,
        Some(Secret::new(pg_cluster::PASSWORD.to_owned())),
        SslMode::Disable,
    )
    .expect("the URL");
    let size = super::ingest::pg_size(&url);
    let postgres = central(
        "PostgreSQL 15 on 127.0.0.1, fsync and synchronous_commit on",
        &Database::Server(server),
        &|| (size.borrow_mut())(),
    );
    format!("{sqlite}\n{postgres}")
}

fn central(on: &str, db: &Database, size: &dyn Fn() -> u64) -> String {
    let mut store = Store::open(db).expect("open");
    let mut lines = vec![format!(
        "forward_central: {SITES} sites x {SITE_DEVICES} devices, a round every {ROUND_MINUTES} min, \
         {HOUR_ROUNDS} rounds each, {} values a poll; {on}",
        values_per_poll()
    )];
    let mut steady = Duration::ZERO;
    let mut steady_cpu = 0.0;
    let mut first = Duration::ZERO;
    let mut after_first = 0;
    for r in 0..HOUR_ROUNDS {
        for site in 0..SITES {
            let (round, polls) = records(site, SITE_DEVICES, r);
            let batch = Batch {
                protocol: PROTOCOL,
                site: format!("site-{site:02}"),
                version: "0.1.0".into(),
                stream: "bench".into(),
                backlog: 1,
                first: r as u64 + 1,
                items: vec![Item::Round {
                    round: Some(Round::of(&round)),
                    polls: polls.iter().map(Poll::of).collect(),
                }],
            };
            let body = serde_json::to_vec(&batch).expect("json");
            let cpu = telleverk::process::cpu_seconds().unwrap_or(0.0);
            let t = Instant::now();
            let parsed: Batch = serde_json::from_slice(&body).expect("parse");
            let done = store.ingest(&parsed, round.ended).expect("ingest");
            let took = t.elapsed();
            assert_eq!(done.applied, 1);
            if r == 0 {
                first += took;
            } else {
                steady += took;
                steady_cpu += telleverk::process::cpu_seconds().unwrap_or(0.0) - cpu;
            }
        }
        if r == 0 {
            after_first = size();
        }
    }
    drop(store);
    let polls = (SITES * SITE_DEVICES * (HOUR_ROUNDS - 1)) as f64;
    let secs = steady.as_secs_f64();
    let needed = (SITES * SITE_DEVICES) as f64 / (ROUND_MINUTES * 60) as f64;
    lines.push(format!(
        "first rounds (new sites, entries and devices): {} polls in {:.2} s",
        SITES * SITE_DEVICES,
        first.as_secs_f64()
    ));
    lines.push(format!(
        "later rounds: {polls:.0} polls in {secs:.2} s = {:.0} polls/s = {:.0} values read/s; \
         the fleet needs {needed:.1} polls/s: {:.0}x headroom",
        polls / secs,
        polls * values_per_poll() as f64 / secs,
        polls / secs / needed
    ));
    lines.push(format!(
        "CPU of this process (JSON and ingest; the server's own not counted): {:.2} s, {:.1} µs a poll; \
         at {needed:.1} polls/s that is {:.2} % of a core",
        steady_cpu,
        steady_cpu * 1e6 / polls,
        steady_cpu / polls * needed * 100.0
    ));
    let grown = size().saturating_sub(after_first);
    lines.push(format!(
        "store growth over the later rounds: {:.1} MB, {:.0} bytes a poll (changed values included)",
        grown as f64 / 1e6,
        grown as f64 / polls
    ));
    lines.join("\n")
}

/// A site of 1 000 devices cut off for a day catches up over HTTP.
pub fn run_catch_up() -> String {
    let mut lines = Vec::new();
    let site_dir = tempfile::tempdir().expect("temp dir");
    let site_db = site_dir.path().join("site.db");
    let mut site = Store::open(Database::File(site_db.clone())).expect("open the site");
    let before_outbox = {
        let mut plain =
            Store::open(Database::File(site_dir.path().join("plain.db"))).expect("open");
        let t = Instant::now();
        // Another site's devices: it becomes site `oslo` below.
        for r in 0..DAY_ROUNDS {
            let (round, polls) = records(1, CATCH_UP_DEVICES, r);
            plain.write_polled_round(&round, &polls).expect("write");
        }
        t.elapsed()
    };
    site.set_outbox(true).expect("the outbox");
    let t = Instant::now();
    for r in 0..DAY_ROUNDS {
        let (round, polls) = records(0, CATCH_UP_DEVICES, r);
        site.write_polled_round(&round, &polls).expect("write");
    }
    let with_outbox = t.elapsed();
    let outbox_bytes: i64 = rusqlite::Connection::open(&site_db)
        .expect("open")
        .query_row("SELECT sum(length(body)) FROM outbox", [], |r| r.get(0))
        .expect("size");
    let store_bytes = std::fs::metadata(site_dir.path().join("plain.db"))
        .map(|m| m.len())
        .unwrap_or(0)
        + std::fs::metadata(site_dir.path().join("plain.db-wal"))
            .map(|m| m.len())
            .unwrap_or(0);
    let polls = (CATCH_UP_DEVICES * DAY_ROUNDS) as f64;
    lines.push(format!(
        "forward_catch_up: a site of {CATCH_UP_DEVICES} devices, a round every {ROUND_MINUTES} min, cut off for 24 h \
         ({DAY_ROUNDS} rounds, {polls:.0} polls queued)"
    ));
    lines.push(format!(
        "the day stored at the site: {:.1} s without an outbox, {:.1} s with it ({:+.0} %)",
        before_outbox.as_secs_f64(),
        with_outbox.as_secs_f64(),
        (with_outbox.as_secs_f64() / before_outbox.as_secs_f64() - 1.0) * 100.0
    ));
    lines.push(format!(
        "outbox after the day: {:.1} MB deflated ({:.0} bytes a poll; {:.1} KB a device a day), \
         beside {:.1} MB the day's readings take in the store",
        outbox_bytes as f64 / 1e6,
        outbox_bytes as f64 / polls,
        outbox_bytes as f64 / CATCH_UP_DEVICES as f64 / 1e3,
        store_bytes as f64 / 1e6
    ));

    // The central: `serve` on PostgreSQL, in this process, on a port of its own.
    let cluster = pg_cluster::durable_cluster();
    let url = cluster.database();
    let central_dir = tempfile::tempdir().expect("temp dir");
    let token = "bench-collector-token-0123456789";
    let text = format!(
        "[storage]\nurl = \"{url}\"\npassword_env = \"BENCH_DB_PASSWORD\"\nsslmode = \"disable\"\n\
         [collector]\ninterval = \"5m\"\n[http]\nlisten = \"127.0.0.1:0\"\n\
         [[http.token]]\nname = \"site\"\nrole = \"collector\"\nsite = \"bergen\"\nhash = \"{}\"\n\
         [[http.token]]\nname = \"oslo\"\nrole = \"collector\"\nsite = \"oslo\"\nhash = \"{}\"\n",
        telleverk::config::hash_text(&telleverk::config::token_hash(token)),
        telleverk::config::hash_text(&telleverk::config::token_hash(OSLO_TOKEN))
    );
    let path = central_dir.path().join("central.toml");
    std::fs::write(&path, &text).expect("write");
    let config = telleverk::config::parse(&path, &text, &|name| {
        (name == "BENCH_DB_PASSWORD").then(|| pg_cluster::PASSWORD.to_owned())
    })
    .expect("the central's config");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let port = listener.local_addr().expect("addr").port();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    // `serve` runs on a runtime of its own, as `main` runs it.
    let central = {
        let stopped = stopped.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                telleverk::app::serve_on(config, listener, Clock::System, stopped).await
            })
        })
    };
    let upstream = telleverk::config::Upstream {
        url: format!("http://127.0.0.1:{port}"),
        token: Secret::new(token.to_owned()),
        ca_file: None,
    };
    let site = Arc::new(Mutex::new(site));
    let forwarder = telleverk::forward::Forwarder::new(
        "bergen",
        &upstream,
        site.clone(),
        Clock::System,
        Arc::new(tokio::sync::Notify::new()),
    )
    .expect("forwarder");
    let cpu = telleverk::process::cpu_seconds().unwrap_or(0.0);
    let t = Instant::now();
    let forwarding = runtime.spawn(forwarder.run(stopped.clone()));
    let took = confirmed(&site_db, DAY_ROUNDS as i64, t, "the day's outbox");
    let cpu = telleverk::process::cpu_seconds().unwrap_or(0.0) - cpu;
    let history = history(&site_dir.path().join("plain.db"), port, &runtime, stopped);
    let _ = stop.send(true);
    let _ = runtime.block_on(forwarding);
    central
        .join()
        .expect("the central")
        .expect("the central stopped cleanly");
    lines.push(format!(
        "caught up over HTTP into PostgreSQL in {:.1} s ({:.0} polls/s; the day took {:.0}x less time to send than to live); \
         CPU of site and central in this process {:.1} s",
        took.as_secs_f64(),
        polls / took.as_secs_f64(),
        86_400.0 / took.as_secs_f64(),
        cpu
    ));
    lines.extend(history);
    lines.join("\n")
}

/// Waits until the central has confirmed item `through` of the site's
/// outbox in `db`; the time since `t`.
fn confirmed(db: &std::path::Path, through: i64, t: Instant, what: &str) -> Duration {
    let check = rusqlite::Connection::open(db).expect("open");
    loop {
        let now: Option<i64> = check
            .query_row(
                "SELECT through FROM outbox_forwarded WHERE id = 1",
                [],
                |r| r.get(0),
            )
            .ok();
        if now == Some(through) {
            return t.elapsed();
        }
        assert!(
            t.elapsed() < Duration::from_secs(1800),
            "{what} not forwarded within 30 min"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

const OSLO_TOKEN: &str = "bench-oslo-token-0123456789abcdef";

/// The day stored without an outbox becomes site `oslo`: its history is
/// planned, made from the stored rows as it is sent, and forwarded to the
/// same central.
fn history(
    db: &std::path::Path,
    port: u16,
    runtime: &tokio::runtime::Runtime,
    stopped: tokio::sync::watch::Receiver<bool>,
) -> Vec<String> {
    let mut site = Store::open(Database::File(db.to_owned())).expect("open the day");
    let t = Instant::now();
    let planned = site
        .set_outbox(true)
        .expect("plan")
        .expect("a history to plan");
    let plan = t.elapsed();
    let upstream = telleverk::config::Upstream {
        url: format!("http://127.0.0.1:{port}"),
        token: Secret::new(OSLO_TOKEN.to_owned()),
        ca_file: None,
    };
    let site = Arc::new(Mutex::new(site));
    let forwarder = telleverk::forward::Forwarder::new(
        "oslo",
        &upstream,
        site,
        Clock::System,
        Arc::new(tokio::sync::Notify::new()),
    )
    .expect("forwarder");
    let cpu = telleverk::process::cpu_seconds().unwrap_or(0.0);
    let t = Instant::now();
    let forwarding = runtime.spawn(forwarder.run(stopped));
    let took = confirmed(db, planned.items as i64, t, "the history");
    let cpu = telleverk::process::cpu_seconds().unwrap_or(0.0) - cpu;
    forwarding.abort();
    vec![
        format!(
            "forward_history: the same day stored without an outbox ({} polls) becomes a site: \
             planned in {:.2} s as {} items",
            planned.polls,
            plan.as_secs_f64(),
            planned.items
        ),
        format!(
            "its history made from the stored rows and forwarded over HTTP into PostgreSQL in {:.1} s \
             ({:.0} polls/s); CPU of site and central in this process {:.1} s",
            took.as_secs_f64(),
            planned.polls as f64 / took.as_secs_f64(),
            cpu
        ),
    ]
}
