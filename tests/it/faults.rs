//! A bad day for `serve`: a database another process keeps locked, and a
//! fleet where good devices sit among broken ones. The service stays up,
//! reads every good device every round, keeps every round within its bound,
//! and names every fault.

use std::collections::BTreeMap;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

use serde_json::json;

use super::agents::{GarbageAgent, GarbageMode, Proxy, snmpsim};
use super::api::{App, OPERATOR, VIEWER};
use super::cli::{Workdir, v2c};

/// The rounds stored: (started, ended, entries, answered, failed, aborted,
/// ending), oldest first.
type RoundRow = (i64, i64, i64, i64, i64, i64, String);

fn rounds(db: &std::path::Path) -> Vec<RoundRow> {
    let Ok(conn) = rusqlite::Connection::open(db) else {
        return Vec::new();
    };
    let read = || -> rusqlite::Result<Vec<RoundRow>> {
        let mut stmt = conn.prepare(
            "SELECT started, ended, entries, answered, failed, aborted, ending FROM rounds ORDER BY started",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        })?;
        rows.collect()
    };
    read().unwrap_or_default()
}

fn wait_for_rounds(db: &std::path::Path, n: usize, within: Duration) -> Vec<RoundRow> {
    let deadline = Instant::now() + within;
    loop {
        let found = rounds(db);
        if found.len() >= n {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "fewer than {n} rounds stored in {within:?}: {found:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn head(collector: &str) -> String {
    App::head().replacen(
        "[collector]\ninterval = \"1s\"\ntimeout = \"1s\"\nretries = 0\n",
        collector,
        1,
    )
}

#[test]
fn serve_keeps_polling_and_loses_no_round_while_another_process_locks_the_database() {
    let port = snmpsim().port;
    let work = Workdir::new();
    let config = work.config_with(&App::head(), &v2c(port, "bizhub-c300i"));
    let app = App::start(&config, chrono::Utc::now(), 1);
    let db = work.db();
    wait_for_rounds(&db, 1, Duration::from_secs(20));

    // Another process (an import, say) takes the write lock for more than
    // twice the busy timeout (5 s): a round's write fails busy at least once
    // and the collector polls on meanwhile.
    let mut locker = rusqlite::Connection::open(&db).unwrap();
    let tx = locker
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .unwrap();
    let locked_at = chrono::Utc::now().timestamp_millis();
    let locked = Instant::now();
    let before = rounds(&db).len();
    // The API still answers from its own read connections…
    assert_eq!(app.get("/healthz", VIEWER).status, 200);
    // …and a reading entered meanwhile is refused as busy, changing nothing.
    let reading =
        json!({"taken_at": "2026-06-28", "meters": {"bw_total": 1000}, "source": "manual"});
    let busy = app.post("/api/v1/devices/AA2J021004711/readings", OPERATOR, &reading);
    assert_eq!(busy.status, 503, "{}", busy.text);
    assert_eq!(busy.body["error"]["code"], "busy", "{}", busy.text);
    std::thread::sleep(Duration::from_secs(12).saturating_sub(locked.elapsed()));
    assert_eq!(rounds(&db).len(), before, "nothing is written while locked");
    tx.commit().unwrap();
    let unlocked_at = chrono::Utc::now().timestamp_millis();
    drop(locker);

    // The rounds polled while the lock was held are stored once it is let go,
    // in order, and polling goes on.
    let deadline = Instant::now() + Duration::from_secs(20);
    let during = loop {
        let all = rounds(&db);
        let during: Vec<RoundRow> = all
            .iter()
            .filter(|r| r.0 >= locked_at && r.0 <= unlocked_at)
            .cloned()
            .collect();
        if during.len() >= 2 && all.iter().any(|r| r.0 > unlocked_at) {
            break during;
        }
        assert!(
            Instant::now() < deadline,
            "rounds polled during the lock were not stored: {all:?} (lock {locked_at}..{unlocked_at})"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        during.iter().all(|r| r.3 == 1 && r.6 == "completed"),
        "{during:?}"
    );
    let stored = app.post("/api/v1/devices/AA2J021004711/readings", OPERATOR, &reading);
    assert_eq!(stored.status, 201, "{}", stored.text);
    app.stop().expect("serve ran on and stopped cleanly");
}

#[test]
fn good_devices_are_read_every_round_within_its_bound_among_faulty_ones() {
    let sim = snmpsim().port;
    let garbage = GarbageAgent::start(GarbageMode::BrokenReply);
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    // Answers at once, but each table request takes 3 s: longer than the
    // device's whole deadline (2 s), shorter than one request's timeout (5 s).
    let slow = Proxy::with_delays(sim, false, Duration::ZERO, Duration::from_secs(3));
    let good = [
        ("bizhub-c300i", "AA2J021004711"),
        ("bizhub-4050i", "AAK6021017342"),
        ("hp-laserjet", "PHCBB41297"),
    ];
    let mut devices: String = good.iter().map(|(c, _)| v2c(sim, c)).collect();
    devices.push_str(&v2c(garbage.port, "public"));
    devices.push_str(&v2c(silent_port, "public"));
    devices.push_str(&v2c(slow.port, "bizhub-gaps"));
    devices.push_str(&format!(
        "[[device]]\naddress = \"127.0.0.1:{sim}\"\n[device.v3]\nuser = \"telleverk-sha256-aes\"\nauth_protocol = \"sha256\"\nauth_password = \"not-the-password\"\nprivacy_protocol = \"aes128\"\nprivacy_password = \"privpass-aes128\"\ncontext = \"bizhub-c300i\"\n"
    ));
    let work = Workdir::new();
    let collector =
        "[collector]\ninterval = \"3s\"\ntimeout = \"5s\"\nretries = 0\ndevice_timeout = \"2s\"\n";
    let config = work.config_with(&head(collector), &devices);
    let app = App::start(&config, chrono::Utc::now(), 1);
    let db = work.db();
    let stored = wait_for_rounds(&db, 3, Duration::from_secs(40));
    app.stop().unwrap();

    // Every round: 7 entries, the three good ones and the slow one stored
    // (partial), within the device deadline and a little bookkeeping.
    for r in &stored[..3] {
        assert_eq!((r.2, r.6.as_str()), (7, "completed"), "{r:?}");
        assert_eq!(r.3, 4, "answered: {r:?}");
        assert!(r.1 - r.0 <= 2_000 + 1_500, "a round took {} ms", r.1 - r.0);
    }
    let conn = rusqlite::Connection::open(&db).unwrap();
    for (_, serial) in good {
        for r in &stored[..3] {
            let polls: i64 = conn
                .query_row(
                    "SELECT count(*) FROM polls p JOIN devices d ON d.id = p.device_id
                     WHERE d.serial = ?1 AND p.at >= ?2 AND p.at <= ?3",
                    rusqlite::params![serial, r.0, r.1 + 1],
                    |row| row.get(0),
                )
                .unwrap();
            assert_eq!(polls, 1, "{serial} in round {r:?}");
        }
    }
    // Every fault is named, by its entry's address.
    let mut causes: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut stmt = conn
        .prepare(
            "SELECT e.address, f.cause, f.detail FROM poll_failures f JOIN entries e ON e.id = f.entry_id",
        )
        .unwrap();
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?)))
        .unwrap();
    for row in rows {
        let (address, cause, detail) = row.unwrap();
        causes.entry(address).or_default().push((cause, detail));
    }
    let of = |port: u16| {
        causes
            .get(&format!("127.0.0.1:{port}"))
            .cloned()
            .unwrap_or_default()
    };
    let silent_causes = of(silent_port);
    assert!(silent_causes.len() >= 3, "{causes:?}");
    assert!(
        silent_causes
            .iter()
            .all(|(c, d)| c == "timeout" && d.contains("device_timeout")),
        "{silent_causes:?}"
    );
    let garbage_causes = of(garbage.port);
    assert!(garbage_causes.len() >= 3, "{causes:?}");
    assert!(
        garbage_causes
            .iter()
            .all(|(c, _)| c == "timeout" || c == "malformed"),
        "{garbage_causes:?}"
    );
    let slow_causes = of(slow.port);
    assert!(slow_causes.len() >= 3, "{causes:?}");
    assert!(
        slow_causes.iter().all(|(c, d)| c == "partial"
            && d.contains("supplies table not read")
            && d.contains("device_timeout")),
        "{slow_causes:?}"
    );
    let v3 = of(sim);
    assert!(v3.len() >= 3, "{causes:?}");
    assert!(
        v3.iter().all(|(c, _)| c == "authentication"),
        "the wrong v3 password: {v3:?}"
    );
}

/// A bizhub C300i on snmpd whose recorded values `edit` changes.
fn c300i_with(edit: impl Fn(&str) -> Option<String>) -> super::agents::Snmpd {
    let mut options = super::agents::SnmpdOptions::from_recording("bizhub-c300i");
    options.values = options
        .values
        .lines()
        .filter_map(&edit)
        .collect::<Vec<_>>()
        .join("\n");
    options.communities = vec!["public".into()];
    super::agents::Snmpd::start(options)
}

/// How many readings of the C300i the database holds.
fn stored_readings(w: &Workdir) -> usize {
    let store = telleverk::storage::Store::open(w.db()).unwrap();
    let readings = store.readings("AA2J021004711", None, None).unwrap();
    readings.map_or(0, |r| r.len())
}

const KM_TOTAL: &str = "1.3.6.1.4.1.18334.1.1.1.5.7.2.1.1.0|";
const KM_COUNTERS: &str = "1.3.6.1.4.1.18334.1.1.1.5.7.2.";
const LIFE_COUNT: &str = "1.3.6.1.2.1.43.10.2.1.4.";

#[test]
fn a_counter64_of_2_to_the_63_or_more_refuses_the_reading_never_stores_it_wrapped() {
    // The device's own total as a Counter64 of 2^64 − 2: read as a signed
    // 64-bit number it would be −2.
    let agent = c300i_with(|line| {
        Some(match line.strip_prefix(KM_TOTAL) {
            Some(_) => format!("{KM_TOTAL}70|18446744073709551614"),
            None => line.to_owned(),
        })
    });
    let w = Workdir::new();
    w.config(&v2c(agent.port, "public"));
    let p = &w.poll()[0];
    assert_eq!(
        (&p["status"], &p["error"]),
        (&json!("error"), &json!("malformed")),
        "{p}"
    );
    let detail = p["detail"].as_str().unwrap();
    assert!(detail.contains("18446744073709551614"), "{detail}");
    assert_eq!(stored_readings(&w), 0, "nothing is stored");

    // Two counters that each fit but whose sum does not: the derived total
    // would pass 2^63 − 1.
    let huge = i64::MAX;
    let agent = c300i_with(|line| {
        if line.starts_with(KM_TOTAL) || line.starts_with(LIFE_COUNT) {
            return None;
        }
        Some(match line.split_once('|') {
            Some((oid, rest))
                if oid.starts_with(KM_COUNTERS)
                    && rest.starts_with("2|")
                    && !rest.ends_with("|-1") =>
            {
                format!("{oid}|70|{huge}")
            }
            _ => line.to_owned(),
        })
    });
    let w = Workdir::new();
    w.config(&v2c(agent.port, "public"));
    let p = &w.poll()[0];
    assert_eq!(p["error"], "malformed", "{p}");
    assert_eq!(stored_readings(&w), 0, "nothing is stored");
}

#[test]
fn a_device_that_answers_without_any_meter_is_no_meters_stored_and_alerted() {
    let agent = c300i_with(|line| {
        (!line.starts_with(KM_COUNTERS) && !line.starts_with(LIFE_COUNT)).then(|| line.to_owned())
    });
    let w = Workdir::new();
    w.config(&v2c(agent.port, "public"));
    let p = &w.poll()[0];
    assert_eq!(p["status"], "no_meters", "{p}");
    assert!(p["meters"].as_object().is_none_or(|m| m.is_empty()), "{p}");
    let warnings = p["warnings"].to_string();
    assert!(warnings.contains("none of profile"), "{warnings}");
    let store = telleverk::storage::Store::open(w.db()).unwrap();
    let failures = store.failures().unwrap();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].1.cause.name(), "no_meters");

    // serve shows it as an alert of its own.
    let config = w.config_with(&App::head(), &v2c(agent.port, "public"));
    let app = App::start(&config, chrono::Utc::now(), 1);
    let alerts = app.wait_for("/api/v1/alerts", |v| {
        v["items"].as_array().is_some_and(|a| {
            a.iter()
                .any(|x| x["kind"] == "no_meters" && x["serial"] == "AA2J021004711")
        })
    });
    assert!(alerts.to_string().contains("no meter"), "{alerts}");
}
