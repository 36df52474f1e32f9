//! What the database keeps across polls, restarts and device changes, against
//! net-snmp's snmpd serving values a test changes between polls.

use std::time::{Duration, Instant};

use serde_json::json;
use telleverk::serial::Serial;
use telleverk::storage::Store;

use super::agents::{Proxy, Snmpd, SnmpdOptions, recording};
use super::cli::{Workdir, text, v2c};

const TOTAL: &str = "1.3.6.1.4.1.18334.1.1.1.5.7.2.1.1.0";
const BW_PRINT: &str = "1.3.6.1.4.1.18334.1.1.1.5.7.2.2.1.5.1.2";
const SERIAL: &str = "1.3.6.1.2.1.43.5.1.1.17.1";

/// The recording with some values replaced.
fn with(base: &str, changes: &[(&str, &str)]) -> String {
    base.lines()
        .map(|line| {
            let oid = line.split('|').next().unwrap_or_default();
            match changes.iter().find(|(o, _)| *o == oid) {
                Some((_, value)) => {
                    let tag = line.split('|').nth(1).unwrap_or("2");
                    format!("{oid}|{tag}|{value}")
                }
                None => line.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

fn c300i_snmpd() -> Snmpd {
    let mut options = SnmpdOptions::from_recording("bizhub-c300i");
    options.communities = vec!["public".into()];
    Snmpd::start(options)
}

fn events(w: &Workdir, serial: &str) -> Vec<(String, Option<u64>, Option<u64>)> {
    let store = Store::open(w.db()).unwrap();
    store
        .events(&Serial::parse(serial).unwrap())
        .unwrap()
        .into_iter()
        .map(|e| (e.kind, e.before, e.after))
        .collect()
}

#[test]
fn a_glitch_that_recovers_and_a_drop_that_stays_are_told_apart() {
    let agent = c300i_snmpd();
    let base = recording("bizhub-c300i");
    let w = Workdir::new();
    w.config(&v2c(agent.port, "public"));
    let serial = "AA2J021004711";
    let mut polled = Vec::new();
    // 1: normal. 2: the device answers 0 while booting. 3: back to normal,
    // printing on. 4: the counter drops to 120. 5: it stays low and counts on.
    let steps = [
        ("85614", "48211"),
        ("0", "0"),
        ("85620", "48217"),
        ("120", "100"),
        ("130", "110"),
    ];
    for (total, bw_print) in steps {
        agent.set_values(&with(&base, &[(TOTAL, total), (BW_PRINT, bw_print)]));
        let p = w.poll().remove(0);
        assert_eq!(p["status"], "ok", "{p}");
        polled.push(p);
    }
    assert_eq!(
        events(&w, serial),
        vec![
            ("suspected_reset".into(), Some(85_614), Some(0)),
            ("suspected_reset".into(), Some(61_084), Some(12_873)), // bw_total = 12 873 + 0
            ("suspected_reset".into(), Some(48_211), Some(0)),
            ("glitch".into(), Some(85_614), Some(0)),
            ("glitch".into(), Some(61_084), Some(12_873)),
            ("glitch".into(), Some(48_211), Some(0)),
            ("suspected_reset".into(), Some(85_620), Some(120)),
            ("suspected_reset".into(), Some(61_090), Some(12_973)),
            ("suspected_reset".into(), Some(48_217), Some(100)),
            ("confirmed_reset".into(), Some(85_620), Some(120)),
            ("confirmed_reset".into(), Some(61_090), Some(12_973)),
            ("confirmed_reset".into(), Some(48_217), Some(100)),
        ]
    );
    // Every reading is kept, the glitch included, and reading the database at
    // each poll gives exactly what was polled.
    let readings = w.readings(serial);
    assert_eq!(readings.len(), 5);
    for (r, p) in readings.iter().zip(&polled) {
        assert_eq!(r["meters"], p["meters"]);
        assert_eq!(r["taken_at"], p["at"]);
        assert_eq!(r["source"], "polled");
    }
    assert_eq!(readings[1]["meters"]["total"], 0);
}

#[test]
fn unchanged_meters_are_stored_once_but_read_at_every_poll_and_survive_restarts() {
    let agent = c300i_snmpd();
    let w = Workdir::new();
    w.config(&v2c(agent.port, "public"));
    let first = w.poll().remove(0);
    let second = w.poll().remove(0);
    assert_eq!(first["meters"], second["meters"]);
    // Each poll is its own process: the database is reopened every time.
    let base = recording("bizhub-c300i");
    agent.set_values(&with(&base, &[(TOTAL, "85615"), (BW_PRINT, "48212")]));
    let third = w.poll().remove(0);
    let readings = w.readings("AA2J021004711");
    assert_eq!(readings.len(), 3);
    assert_eq!(readings[0]["meters"], first["meters"]);
    assert_eq!(readings[1]["meters"], first["meters"]);
    assert_eq!(readings[2]["meters"], third["meters"]);
    assert_eq!(readings[2]["meters"]["bw_total"], 61_085);
    let conn = rusqlite::Connection::open(w.db()).unwrap();
    let rows = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
    // 15 meters at the first poll; the third changed total, bw_print, bw_total.
    assert_eq!(rows("SELECT count(*) FROM meter_values"), 15 + 3);
    assert_eq!(rows("SELECT count(*) FROM polls"), 3);
    assert_eq!(rows("SELECT count(*) FROM supply_values"), 11);
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn a_new_serial_at_an_entry_is_a_swap_and_a_known_one_elsewhere_a_move() {
    let a = c300i_snmpd();
    let mut options = SnmpdOptions::from_recording("bizhub-4050i");
    options.communities = vec!["public".into()];
    let b = Snmpd::start(options);
    let w = Workdir::new();
    w.config(&format!(
        "{}{}",
        v2c(a.port, "public"),
        v2c(b.port, "public")
    ));
    w.poll();
    // The C300i is replaced by another device at entry A...
    let base = recording("bizhub-c300i");
    a.set_values(&with(&base, &[(SERIAL, "AA2J021009999")]));
    // ...and turns up at entry B, where the 4050i answered.
    b.set_values(&base);
    let polled = w.poll();
    assert_eq!(polled[0]["serial"], "AA2J021009999");
    assert_eq!(polled[1]["serial"], "AA2J021004711");
    let kinds = |serial| {
        events(&w, serial)
            .into_iter()
            .map(|e| e.0)
            .collect::<Vec<_>>()
    };
    assert_eq!(kinds("AA2J021009999"), vec!["swap"]);
    assert_eq!(kinds("AA2J021004711"), vec!["swap", "move"]);
    let store = Store::open(w.db()).unwrap();
    let moved = store
        .events(&Serial::parse("AA2J021004711").unwrap())
        .unwrap();
    assert!(
        moved[1].detail.contains(&format!("127.0.0.1:{}", a.port)),
        "{}",
        moved[1].detail
    );
    assert!(moved[1].detail.contains(&format!("127.0.0.1:{}", b.port)));
    // Nothing was merged: the 4050i keeps its own reading.
    assert_eq!(w.readings("AAK6021017342").len(), 1);
}

#[test]
fn a_profile_that_does_not_match_is_no_profile() {
    let mut options = SnmpdOptions::from_recording("bizhub-c300i");
    options.communities = vec!["public".into()];
    options.sys_object_id = "1.3.6.1.2.1.99.7".into();
    let agent = Snmpd::start(options);
    let w = Workdir::new();
    w.config(&v2c(agent.port, "public"));
    let p = &w.poll()[0];
    assert_eq!(p["status"], "error");
    assert_eq!(p["error"], "no_profile");
    assert!(p["detail"].as_str().unwrap().contains("1.3.6.1.2.1.99.7"));
    // The entry's own `profile` forces one.
    w.config(&format!(
        "{}profile = \"konica-minolta-bizhub\"\n",
        v2c(agent.port, "public")
    ));
    let p = &w.poll()[0];
    assert_eq!(p["status"], "ok", "{p}");
    assert_eq!(p["meters"]["total"], 85_614);
}

#[test]
fn config_errors_exit_2_and_poll_nothing() {
    let w = Workdir::new();
    w.config_with("[collector]\ninterval = \"15m\"\nbogus = 1\n", "");
    let out = w.run(&["poll", "--once", "--config", "telleverk.toml"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("telleverk.toml:3"), "{err}");
    assert!(err.contains("bogus"), "{err}");
    assert!(!w.db().exists());
    let out = w.run(&["poll", "--once", "--config", "missing.toml"]);
    assert_eq!(out.status.code(), Some(2));
    let out = w.run(&["poll", "--config", "telleverk.toml"]);
    assert_eq!(out.status.code(), Some(2), "usage: --once is required");
    // No devices: polls nothing and says so.
    w.config("");
    let out = w.run(&["poll", "--once", "--config", "telleverk.toml"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("no devices configured"));
    // An unknown serial is an input error.
    w.config(&v2c(1, "public"));
    std::fs::write(w.db(), b"").unwrap();
    let out = w.run(&["readings", "--config", "telleverk.toml", "--serial", "NOPE"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

#[test]
fn a_database_that_is_not_sqlite_is_a_runtime_failure_and_is_left_alone() {
    let w = Workdir::new();
    w.config(&v2c(1, "public"));
    std::fs::write(w.db(), b"this is not a database, and it must stay as it is").unwrap();
    let out = w.run(&["poll", "--once", "--config", "telleverk.toml"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(
        std::fs::read(w.db()).unwrap(),
        b"this is not a database, and it must stay as it is"
    );
}

#[test]
fn serve_polls_on_schedule_and_stops_cleanly_on_sigterm() {
    let agent = c300i_snmpd();
    let w = Workdir::new();
    w.config_with(
        "[collector]\ninterval = \"1s\"\ntimeout = \"1s\"\nretries = 0\n",
        &v2c(agent.port, "public"),
    );
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_telleverk"))
        .args(["serve", "--config", "telleverk.toml"])
        .current_dir(w.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let polls = || {
        rusqlite::Connection::open(w.db())
            .and_then(|c| c.query_row("SELECT count(*) FROM polls", [], |r| r.get::<_, i64>(0)))
            .unwrap_or(0)
    };
    while polls() < 3 {
        assert!(
            Instant::now() < deadline,
            "serve stored fewer than 3 polls in 20 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "serve did not stop"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
    let readings = w.readings("AA2J021004711");
    assert!(readings.len() >= 3);
    assert!(
        readings
            .iter()
            .all(|r| r["meters"]["total"] == json!(85_614))
    );
}

#[test]
fn a_failed_table_walk_still_stores_the_reading_and_records_partial() {
    let agent = c300i_snmpd();
    let proxy = Proxy::start(agent.port, true, Duration::ZERO);
    let w = Workdir::new();
    w.config(&v2c(proxy.port, "public"));
    let p = &w.poll()[0];
    assert_eq!(p["status"], "partial", "{p}");
    assert_eq!(p["meters"]["total"], 85_614);
    assert!(p.get("supplies").is_none(), "{p}");
    assert!(
        p["warnings"][0]
            .as_str()
            .unwrap()
            .contains("supplies table not read"),
        "{p}"
    );
    assert_eq!(w.readings("AA2J021004711").len(), 1);
    let store = Store::open(w.db()).unwrap();
    let failures = store.failures().unwrap();
    assert_eq!(failures.len(), 1);
    assert_eq!(
        failures[0].1.cause,
        telleverk::record::FailureCause::Partial
    );
    assert!(store.supplies("AA2J021004711").unwrap().is_empty());
}

#[test]
fn a_configured_serial_that_disagrees_with_the_device_is_recorded_not_obeyed() {
    let agent = c300i_snmpd();
    let w = Workdir::new();
    w.config(&format!(
        "{}serial = \"AA2J000000000\"\n",
        v2c(agent.port, "public")
    ));
    let p = &w.poll()[0];
    // The device's own serial identifies it; the disagreement is an event.
    assert_eq!(p["serial"], "AA2J021004711");
    let e = events(&w, "AA2J021004711");
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].0, "serial_mismatch");
}

#[test]
fn a_slow_device_delays_nobody_past_its_own_timeout() {
    let agent = c300i_snmpd();
    let slow = Proxy::start(agent.port, false, Duration::from_secs(4));
    let w = Workdir::new();
    w.config(&format!(
        "{}{}",
        v2c(slow.port, "public"),
        v2c(agent.port, "public")
    ));
    let started = chrono::Utc::now();
    let polled = w.poll();
    let finished = chrono::Utc::now();
    assert_eq!(polled[0]["error"], "timeout");
    assert_eq!(polled[1]["status"], "ok");
    // The healthy device was read long before the slow one's 1 s timeout ran
    // out, and the round ended with that timeout, not the 4 s delay.
    let at: chrono::DateTime<chrono::Utc> = polled[1]["at"].as_str().unwrap().parse().unwrap();
    assert!(
        at - started < chrono::Duration::milliseconds(900),
        "healthy device read after {}",
        at - started
    );
    assert!(
        finished - started < chrono::Duration::milliseconds(3500),
        "round took {}",
        finished - started
    );
}
