//! One storage interface, two backends: the same work on a SQLite file and on
//! a PostgreSQL database gives the same answers, byte for byte — the billing
//! examples through the commands, then the API over the store they made, and
//! a poll of a real agent.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::api::{App, OPERATOR, VIEWER};
use super::backend::Backend;
use super::billing::workdir_on;
use super::cli::{Workdir, text, v2c};

/// What a step printed or answered, and the step.
type Answers = Vec<(String, Vec<u8>)>;

const CONFIG: &str = "contracts.toml";

fn cli(w: &Workdir, backend: Backend, answers: &mut Answers, args: &[&str]) {
    let out = w.run(args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{backend:?}: {args:?}: {}",
        text(&out)
    );
    answers.push((args.join(" "), out.stdout));
}

/// The billing examples' readings imported, the commands' answers, then the
/// API's over the same store.
fn billing_and_api(backend: Backend) -> Answers {
    let w = workdir_on(backend);
    let mut answers = Answers::new();
    for csv in ["k1.csv", "k2.csv", "estimates.csv", "hand-meters.csv"] {
        cli(
            &w,
            backend,
            &mut answers,
            &["import-readings", "--config", CONFIG, csv],
        );
    }
    for contract in ["K1", "K2", "K3", "F1"] {
        for (command, date) in [("invoices", "--until"), ("reconcile", "--at")] {
            let args = [
                "--config",
                CONFIG,
                "--contract",
                contract,
                date,
                "2026-01-01",
            ];
            let mut all = vec![command];
            all.extend(args);
            cli(&w, backend, &mut answers, &all);
            all.push("--json");
            cli(&w, backend, &mut answers, &all);
        }
    }
    for serial in ["AA2M021115700", "A7PU011002345", "EST-INTERP", "HAND-FUNC"] {
        let args = ["readings", "--config", CONFIG, "--serial", serial, "--json"];
        cli(&w, backend, &mut answers, &args);
    }
    let check = ["check-invoice", "--config", CONFIG, "--contract", "K1"];
    cli(
        &w,
        backend,
        &mut answers,
        &[&check[..], &["i1-vendor.csv", "--json"]].concat(),
    );
    // The check's time is its own: masked wherever it shows.
    let checked: Value = serde_json::from_slice(&answers.last().unwrap().1).unwrap();
    let checked_at = checked["checked_at"].as_str().unwrap().to_owned();

    // The service over the same store, on a clock at 29 June 2026.
    let config = std::fs::read_to_string(w.path().join(CONFIG)).unwrap();
    let path = w.config_with(&App::head(), &config);
    let origin: DateTime<Utc> = "2026-06-29T08:00:00Z".parse().unwrap();
    let app = App::start(&path, origin, 1);
    for route in [
        "/api/v1/contracts",
        "/api/v1/contracts/K1/invoices?until=2026-07-01",
        "/api/v1/contracts/K2/invoices?until=2026-07-01",
        "/api/v1/contracts/K3/reconciliation?at=2025-07-01",
        "/api/v1/contracts/K1/reconciliation?at=2026-06-29",
        "/api/v1/devices/AA2M021115700/readings?from=2025-01-01",
        "/api/v1/devices/EST-EXTRA/readings?from=2025-01-01",
        "/api/v1/reports/counters?from=2025-01-01&to=2026-01-01",
        "/api/v1/reports/counters?from=2025-01-01&to=2026-01-01&format=csv",
        "/api/v1/exports/vendor-billing?at=2025-07-01",
        "/api/v1/contracts/K1/invoice-checks/1?format=csv",
    ] {
        let answer = app.get(route, VIEWER);
        assert_eq!(answer.status, 200, "{backend:?}: {route}: {}", answer.text);
        answers.push((route.to_owned(), answer.bytes));
    }
    // A reading entered over the API, then read back by the command.
    let entered = app.post(
        "/api/v1/devices/HAND-FUNC/readings",
        OPERATOR,
        &serde_json::json!({"taken_at": "2026-06-28", "meters": {"bw_copy": 1500}, "source": "manual"}),
    );
    assert_eq!(entered.status, 201, "{backend:?}: {}", entered.text);
    app.stop().expect("clean shutdown");
    let args = [
        "readings",
        "--config",
        CONFIG,
        "--serial",
        "HAND-FUNC",
        "--json",
    ];
    cli(&w, backend, &mut answers, &args);
    for (_, bytes) in &mut answers {
        let text = String::from_utf8_lossy(bytes).replace(&checked_at, "(checked at)");
        *bytes = text.into_bytes();
    }
    answers
}

fn assert_alike(sqlite: &Answers, postgresql: &Answers) {
    assert_eq!(sqlite.len(), postgresql.len());
    for ((step, a), (_, b)) in sqlite.iter().zip(postgresql) {
        assert!(
            a == b,
            "{step} answers differently:\nSQLite:\n{}\nPostgreSQL:\n{}",
            String::from_utf8_lossy(a),
            String::from_utf8_lossy(b)
        );
        assert!(!a.is_empty(), "{step} answered nothing");
    }
}

#[test]
fn the_billing_examples_and_the_api_answer_alike_on_sqlite_and_postgresql() {
    let sqlite = billing_and_api(Backend::Sqlite);
    let postgresql = billing_and_api(Backend::Postgresql);
    assert_alike(&sqlite, &postgresql);
}

/// `poll --once` of a real agent, then `readings`: the same meters (the
/// times are the polls' own).
fn polled(backend: Backend) -> Answers {
    let w = Workdir::on(backend);
    w.config(&v2c(super::agents::snmpsim().port, "bizhub-c300i"));
    let mut answers = Answers::new();
    for _ in 0..2 {
        answers.push(("poll".into(), without_times(w.poll())));
    }
    let readings = w.readings("AA2J021004711");
    answers.push(("readings".into(), without_times(readings)));
    answers
}

/// The lines with their times and durations taken out.
fn without_times(lines: Vec<Value>) -> Vec<u8> {
    let mut text = Vec::new();
    for mut line in lines {
        if let Some(object) = line.as_object_mut() {
            object.retain(|key, _| !matches!(key.as_str(), "at" | "taken_at" | "elapsed_ms"));
        }
        text.extend(line.to_string().bytes());
        text.push(b'\n');
    }
    text
}

#[test]
fn a_poll_of_a_real_agent_reads_alike_on_sqlite_and_postgresql() {
    let sqlite = polled(Backend::Sqlite);
    let postgresql = polled(Backend::Postgresql);
    assert_alike(&sqlite, &postgresql);
}

/// A config in `w` whose `[storage]` is `storage`; `readings` on it.
fn readings_with(w: &Workdir, storage: &str, password: &str) -> std::process::Output {
    std::fs::write(
        w.path().join("telleverk.toml"),
        format!("{storage}\n[[device]]\nserial = \"A1\"\n"),
    )
    .unwrap();
    std::process::Command::new(env!("CARGO_BIN_EXE_telleverk"))
        .args(["readings", "--config", "telleverk.toml", "--serial", "A1"])
        .current_dir(w.path())
        .env("TELLEVERK_DB_PASSWORD", password)
        .output()
        .unwrap()
}

#[test]
fn a_bad_url_a_wrong_password_or_a_server_that_is_down_is_named_without_the_password() {
    let w = Workdir::on(Backend::Sqlite);
    let url = super::backend::new_database();
    let port = url.split(':').nth(2).unwrap().split('/').next().unwrap();
    let with_password = |url: &str| {
        format!(
            "[storage]\nurl = \"{url}\"\npassword_env = \"TELLEVERK_DB_PASSWORD\"\nsslmode = \"disable\"\n"
        )
    };
    // Not a PostgreSQL URL, or a password written in it: the config's
    // error (2), which shows no password.
    for (bad, said) in [
        ("mysql://tv@127.0.0.1/t", "is not a PostgreSQL URL"),
        (
            "postgresql://tv:hunter2@127.0.0.1/t",
            "has a password in it",
        ),
    ] {
        let out = readings_with(&w, &format!("[storage]\nurl = \"{bad}\"\n"), "x");
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        let error = String::from_utf8_lossy(&out.stderr);
        assert!(
            error.contains(said) && error.contains("storage.url"),
            "{error}"
        );
        assert!(!error.contains("hunter2"), "{error}");
    }
    // A wrong password: a runtime failure (1) naming the URL, not the password.
    let out = readings_with(&w, &with_password(&url), "not-the-password");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let error = String::from_utf8_lossy(&out.stderr);
    assert!(
        error.contains(&url) && error.contains("password authentication failed"),
        "{error}"
    );
    assert!(!error.contains("not-the-password"), "{error}");
    // A server that is down: nothing listens on a port just freed.
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let down = url.replace(&format!(":{port}/"), &format!(":{free}/"));
    let out = readings_with(&w, &with_password(&down), super::backend::password());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let error = String::from_utf8_lossy(&out.stderr);
    assert!(
        error.contains(&down) && error.contains("connect"),
        "{error}"
    );
}
