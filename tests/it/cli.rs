//! Running the real `telleverk` binary on a temporary folder: configs, the
//! database file, exit codes and JSON output.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use telleverk::database::Database;

use crate::backend::{self, Backend};

/// A temporary folder holding a config and its database.
pub struct Workdir {
    pub dir: tempfile::TempDir,
    /// The PostgreSQL database of this folder's configs when the tests run
    /// on PostgreSQL (its URL); None on SQLite (the file [`Workdir::db`]).
    pub server: Option<String>,
}

impl Workdir {
    /// A folder on the backend the tests run on ([`Backend::chosen`]).
    pub fn new() -> Workdir {
        Workdir::on(Backend::chosen())
    }

    /// A folder whose configs store on `backend`.
    pub fn on(backend: Backend) -> Workdir {
        Workdir {
            dir: tempfile::tempdir().expect("temp dir"),
            server: (backend == Backend::Postgresql).then(backend::new_database),
        }
    }

    /// The store of this folder's configs.
    pub fn database(&self) -> Database {
        match &self.server {
            Some(url) => backend::server(url),
            None => Database::File(self.db()),
        }
    }

    /// The `[storage]` table that points a config at a PostgreSQL database
    /// (nothing on SQLite, whose default file is [`Workdir::db`]).
    pub fn storage_toml(&self) -> String {
        self.server
            .as_deref()
            .map(backend::storage_toml)
            .unwrap_or_default()
    }

    /// Points the config `name` in this folder at this folder's store: on
    /// PostgreSQL its `[storage] path = "telleverk.db"` becomes the URL.
    pub fn point_config(&self, name: &str) {
        if self.server.is_none() {
            return;
        }
        let path = self.path().join(name);
        let text = std::fs::read_to_string(&path).expect("read config");
        let file = "[storage]\npath = \"telleverk.db\"\n";
        assert_eq!(
            text.matches(file).count(),
            1,
            "{name} names telleverk.db once"
        );
        std::fs::write(&path, text.replace(file, &self.storage_toml())).expect("write config");
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn db(&self) -> PathBuf {
        self.path().join("telleverk.db")
    }

    /// Writes `telleverk.toml` with short timeouts and the given device entries.
    pub fn config(&self, devices: &str) -> PathBuf {
        self.config_with("[collector]\ntimeout = \"1s\"\nretries = 0\n", devices)
    }

    pub fn config_with(&self, head: &str, devices: &str) -> PathBuf {
        let path = self.path().join("telleverk.toml");
        let text = format!("{head}\n{devices}\n");
        // A config that names its own storage keeps it.
        let storage = if text.contains("[storage]") {
            String::new()
        } else {
            self.storage_toml()
        };
        std::fs::write(&path, text + &storage).expect("write config");
        path
    }

    /// Runs telleverk with these arguments.
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_telleverk"))
            .args(args)
            .current_dir(self.path())
            .env("RUST_LOG", "warn")
            .env(backend::PASSWORD_ENV, backend::password())
            .output()
            .expect("run telleverk")
    }

    /// `poll --once --json`, which must exit 0; one object per entry.
    pub fn poll(&self) -> Vec<Value> {
        let out = self.run(&["poll", "--once", "--json", "--config", "telleverk.toml"]);
        assert_eq!(out.status.code(), Some(0), "poll failed: {}", text(&out));
        json_lines(&out)
    }

    /// `readings --json` of one serial.
    pub fn readings(&self, serial: &str) -> Vec<Value> {
        let out = self.run(&[
            "readings",
            "--json",
            "--config",
            "telleverk.toml",
            "--serial",
            serial,
        ]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "readings failed: {}",
            text(&out)
        );
        json_lines(&out)
    }
}

pub fn json_lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// Stdout and stderr, for assertion messages.
pub fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A `[[device]]` entry polling `community` at `port` on 127.0.0.1.
pub fn v2c(port: u16, community: &str) -> String {
    format!("[[device]]\naddress = \"127.0.0.1:{port}\"\ncommunity = \"{community}\"\n")
}

/// The meters of a poll result as (name, value) pairs, sorted.
pub fn meters(v: &Value) -> Vec<(String, u64)> {
    let mut m: Vec<(String, u64)> = v["meters"]
        .as_object()
        .unwrap_or_else(|| panic!("no meters in {v}"))
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().expect("a count")))
        .collect();
    m.sort();
    m
}

/// Hand-written expected meters, sorted like [`meters`].
pub fn expect(pairs: &[(&str, u64)]) -> Vec<(String, u64)> {
    let mut m: Vec<(String, u64)> = pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect();
    m.sort();
    m
}

/// The error a command printed, and its exit code.
fn failure(w: &Workdir, args: &[&str]) -> (Option<i32>, String) {
    let out = w.run(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code(), stderr)
}

#[test]
fn a_storage_path_that_is_a_folder_is_a_usage_error_said_once() {
    let w = Workdir::new();
    std::fs::create_dir(w.path().join("data")).unwrap();
    w.config_with("[storage]\npath = \"data\"\n", "");
    std::fs::write(w.path().join("r.csv"), "serial,taken_at,meter,value\n").unwrap();
    let (code, stderr) = failure(
        &w,
        &["import-readings", "--config", "telleverk.toml", "r.csv"],
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(stderr.matches("is a folder").count(), 1, "{stderr}");
    assert!(stderr.contains("data/telleverk.db"), "{stderr}");
}

#[test]
fn a_storage_path_in_a_folder_that_does_not_exist_is_refused_and_nothing_is_made() {
    let w = Workdir::new();
    w.config_with(
        "[storage]\npath = \"dta/sub/telleverk.db\"\n[collector]\ntimeout = \"1s\"\nretries = 0\n",
        "[[device]]\naddress = \"127.0.0.1:1\"\ncommunity = \"public\"\n",
    );
    std::fs::write(w.path().join("r.csv"), "serial,taken_at,meter,value\n").unwrap();
    for args in [
        &["poll", "--once", "--config", "telleverk.toml"][..],
        &["import-readings", "--config", "telleverk.toml", "r.csv"][..],
    ] {
        let (code, stderr) = failure(&w, args);
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains("the folder") && stderr.contains("dta/sub does not exist"),
            "{args:?}: {stderr}"
        );
    }
    assert!(!w.path().join("dta").exists(), "no folder was made");
}

#[test]
fn an_import_that_is_not_utf8_names_the_line_and_is_a_usage_error() {
    let w = Workdir::new();
    w.config_with("", "[[device]]\nserial = \"A1\"\n");
    let mut bytes = b"serial,taken_at,meter,value\nA1,2025-07-01,total,1\nA1,".to_vec();
    bytes.extend_from_slice(&[0xFF, b'\n']);
    std::fs::write(w.path().join("r.csv"), bytes).unwrap();
    let (code, stderr) = failure(
        &w,
        &["import-readings", "--config", "telleverk.toml", "r.csv"],
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("r.csv: line 3, column `(row)`: character 4 of the line is not UTF-8"),
        "{stderr}"
    );
}

#[test]
fn readings_take_the_time_forms_the_api_takes() {
    let w = Workdir::new();
    w.config(&v2c(super::agents::snmpsim().port, "bizhub-c300i"));
    assert_eq!(w.poll()[0]["status"], "ok");
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::Oslo)
        .date_naive()
        .to_string();
    let read = |from: &str| {
        w.run(&[
            "readings",
            "--json",
            "--config",
            "telleverk.toml",
            "--serial",
            "AA2J021004711",
            "--from",
            from,
        ])
    };
    for from in [
        today.as_str(),
        "2000-01-01 00:00",
        "2000-01-01T00:00:00+01:00",
    ] {
        let out = read(from);
        assert_eq!(out.status.code(), Some(0), "{from}: {}", text(&out));
        assert_eq!(json_lines(&out).len(), 1, "{from}");
    }
    let out = read("2099-12-31");
    assert_eq!((out.status.code(), json_lines(&out).len()), (Some(0), 0));
    let out = read("30.11.2026");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("YYYY-MM-DD HH:MM"), "{}", text(&out));

    let help = w.run(&["readings", "--help"]);
    let help = text(&help);
    assert!(help.contains("The configuration file"), "{help}");
    assert!(help.contains("One JSON object per reading"), "{help}");
}

#[test]
fn a_log_that_is_not_a_terminal_has_no_colour_codes() {
    let w = Workdir::new();
    w.config(&v2c(super::agents::free_udp_port(), "public"));
    let out = Command::new(env!("CARGO_BIN_EXE_telleverk"))
        .args(["poll", "--once", "--config", "telleverk.toml"])
        .current_dir(w.path())
        .env("RUST_LOG", "debug")
        .output()
        .expect("run telleverk");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("DEBUG"), "{log}");
    assert!(!log.contains('\u{1b}'), "{log}");
}

#[test]
fn check_config_says_what_a_valid_config_sets_up_and_names_an_error() {
    let w = Workdir::new();
    w.config(&v2c(161, "public"));
    let out = w.run(&["check-config", "telleverk.toml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let said = text(&out);
    assert!(said.contains("telleverk.toml is valid"), "{said}");
    assert!(said.contains("1 polled (v1 0, v2c 1, v3 0)"), "{said}");
    assert!(said.contains("not made yet"), "{said}");
    assert!(!w.db().exists(), "checking makes no database");

    w.config_with("[collector]\ntimeout = 2\n", "");
    let out = w.run(&["check-config", "telleverk.toml"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("collector.timeout"), "{}", text(&out));
    assert!(
        text(&out).contains("in quotes with its unit"),
        "{}",
        text(&out)
    );
}

#[test]
fn commands_that_use_no_snmp_secret_run_without_them() {
    let w = Workdir::new();
    let port = super::agents::snmpsim().port;
    w.config(&v2c(port, "bizhub-c300i"));
    assert_eq!(w.poll()[0]["status"], "ok");
    // The same entry, its community now from a variable this shell lacks.
    w.config(&format!(
        "[[device]]\naddress = \"127.0.0.1:{port}\"\ncommunity_env = \"TELLEVERK_TEST_NEVER_SET\"\n"
    ));
    std::fs::write(
        w.path().join("readings.csv"),
        "serial,taken_at,meter,value,source\nAA2J021004711,2026-01-02,total,100,vendor\n",
    )
    .unwrap();
    let out = w.run(&[
        "import-readings",
        "--config",
        "telleverk.toml",
        "readings.csv",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = w.run(&["poll", "--once", "--config", "telleverk.toml"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains(
            "device[0].community_env: environment variable `TELLEVERK_TEST_NEVER_SET` is not set"
        ),
        "{}",
        text(&out)
    );
    let out = w.run(&["check-config", "telleverk.toml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("not set here"), "{}", text(&out));
}
