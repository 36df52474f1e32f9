//! kill -9 on PostgreSQL: `import-readings` and `serve` killed 20 times
//! each while they write leave nothing half-written — an import is all
//! there or not there at all, and every stored round has exactly the polls
//! it counts — and the next start goes on from there.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;

use telleverk::clock::Clock;
use telleverk::sim::config_text;
use telleverk::sim::model::Fleet;

use super::backend::{self, Backend};
use super::cli::{Workdir, text};
use super::simfleet::{Sim, polling};

const KILLS: usize = 20;

/// A telleverk process, killed when dropped (a failed assertion leaves no
/// process behind).
pub struct Running(Child);

impl Running {
    /// SIGKILL, and the process reaped. Whether it was still running.
    pub fn kill(mut self) -> bool {
        let running = self.0.try_wait().expect("wait").is_none();
        self.0.kill().expect("kill -9");
        self.0.wait().expect("reap");
        running
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `telleverk ARGS` in `w`, running; what it logs goes to `log.txt` there.
fn spawn(w: &Workdir, args: &[&str]) -> Running {
    spawn_env(w, args, &[])
}

/// As [`spawn`], with these environment variables too.
pub fn spawn_env(w: &Workdir, args: &[&str], vars: &[(&str, &str)]) -> Running {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(w.path().join("log.txt"))
        .unwrap();
    Command::new(env!("CARGO_BIN_EXE_telleverk"))
        .args(args)
        .current_dir(w.path())
        .env("RUST_LOG", "info")
        .env(backend::PASSWORD_ENV, backend::password())
        .envs(vars.iter().copied())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map(Running)
        .expect("start telleverk")
}

/// The end of what the processes logged.
pub fn log(w: &Workdir) -> String {
    let text = std::fs::read_to_string(w.path().join("log.txt")).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

const ROWS: usize = 4_000;

/// Readings of `serial`: its b/w and colour counters once a day for
/// [`ROWS`] / 2 days from 2001.
fn readings_csv(serial: &str) -> String {
    let start = chrono::NaiveDate::from_ymd_opt(2001, 1, 1).unwrap();
    let mut csv = String::from("serial;taken_at;meter;value;source\n");
    for day in 0..ROWS / 2 {
        let date = start + chrono::Days::new(day as u64);
        csv.push_str(&format!(
            "{serial};{date};bw_total;{};vendor\n",
            1000 + day * 37
        ));
        csv.push_str(&format!(
            "{serial};{date};colour_total;{};vendor\n",
            500 + day * 11
        ));
    }
    csv
}

/// How many readings of `serial` are stored.
fn stored(client: &mut postgres::Client, serial: &str) -> i64 {
    client
        .query_one(
            "SELECT count(*) FROM entered_readings e JOIN devices d ON d.id = e.device_id \
             WHERE d.serial = $1",
            &[&serial],
        )
        .expect("count")
        .get(0)
}

#[test]
fn import_readings_killed_20_times_on_postgresql_is_all_or_nothing() {
    let w = Workdir::on(Backend::Postgresql);
    let serials: Vec<String> = (0..=KILLS + 1).map(|i| format!("CRASH{i:04}")).collect();
    let devices: String = serials
        .iter()
        .map(|s| format!("[[device]]\nserial = \"{s}\"\nlocation = \"x\"\n"))
        .collect();
    w.config_with("", &devices);
    for s in &serials {
        std::fs::write(w.path().join(format!("{s}.csv")), readings_csv(s)).unwrap();
    }
    let mut client = backend::client(w.server.as_deref().unwrap());
    // Two imports to the end: the first makes the schema; the second says
    // how long an import takes here.
    let mut whole = Duration::ZERO;
    for serial in &serials[..2] {
        let t = Instant::now();
        let file = format!("{serial}.csv");
        let out = w.run(&["import-readings", "--config", "telleverk.toml", &file]);
        whole = t.elapsed();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        assert_eq!(stored(&mut client, serial), ROWS as i64);
    }

    let mut cut = 0;
    for (i, serial) in serials.iter().enumerate().skip(2) {
        let i = i - 1;
        let file = format!("{serial}.csv");
        let child = spawn(
            &w,
            &["import-readings", "--config", "telleverk.toml", &file],
        );
        // Spread over the import, from its start-up to near its end.
        std::thread::sleep(whole.mul_f64(0.1 + 0.8 * i as f64 / KILLS as f64));
        let running = child.kill();
        let found = stored(&mut client, serial);
        assert!(
            found == 0 || found == ROWS as i64,
            "kill {i}: {found} of {ROWS} readings of {serial} stored: half an import"
        );
        if running && found == 0 {
            cut += 1;
        }
        // What was stored before stays.
        assert_eq!(stored(&mut client, "CRASH0000"), ROWS as i64);
    }
    assert!(
        cut >= KILLS / 2,
        "only {cut} of {KILLS} kills cut an import short (an import takes {whole:?})"
    );
    // After the kills, each import goes through, once.
    for serial in &serials[2..] {
        let file = format!("{serial}.csv");
        let out = w.run(&["import-readings", "--config", "telleverk.toml", &file]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        assert_eq!(stored(&mut client, serial), ROWS as i64);
    }
}

/// How often `serve` has said it serves in the log.
fn serving(w: &Workdir) -> usize {
    std::fs::read_to_string(w.path().join("log.txt"))
        .unwrap_or_default()
        .matches("telleverk serving")
        .count()
}

/// Polls stored that no stored round counts, and values polled at no stored
/// poll: both 0 when nothing is half-written.
fn half_written(client: &mut postgres::Client) -> (i64, i64, i64) {
    let row = client
        .query_one(
            "SELECT (SELECT count(*) FROM polls), \
                    (SELECT coalesce(sum(answered), 0)::BIGINT FROM rounds), \
                    (SELECT count(*) FROM meter_values v WHERE v.source = 0 AND NOT EXISTS \
                       (SELECT 1 FROM polls p WHERE p.device_id = v.device_id AND p.at = v.at))",
            &[],
        )
        .expect("count");
    (row.get(0), row.get(1), row.get(2))
}

#[test]
fn serve_killed_20_times_during_rounds_on_postgresql_leaves_whole_rounds() {
    let w = Workdir::on(Backend::Postgresql);
    let fleet = Fleet::new(21, 60, Utc::now() - chrono::TimeDelta::days(1), false);
    let sim = Sim::start(fleet.clone(), Clock::System);
    let mut polling = polling();
    polling.concurrency = 64;
    std::fs::write(
        w.path().join("telleverk.toml"),
        config_text(&fleet, sim.address, &polling) + "\n[http]\nlisten = \"127.0.0.1:0\"\n",
    )
    .unwrap();
    w.point_config("telleverk.toml");
    let mut client = backend::client(w.server.as_deref().unwrap());
    let mut rounds_before = 0;
    let mut grew = 0;
    for i in 0..KILLS {
        let serving = serving(&w);
        let child = spawn(&w, &["serve", "--config", "telleverk.toml"]);
        // 0.7 to 3.55 s after it serves (its start-up takes longer on a busy
        // machine): in the first round's write (its first round ends about
        // 1.7 s after), or a later round.
        let deadline = Instant::now() + Duration::from_secs(30);
        while self::serving(&w) == serving {
            assert!(
                Instant::now() < deadline,
                "kill {i}: serve did not start:\n{}",
                log(&w)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(700 + 150 * i as u64));
        assert!(child.kill(), "kill {i}: serve had stopped by itself");
        let (polls, counted, loose) = half_written(&mut client);
        assert_eq!(
            (polls, loose),
            (counted, 0),
            "kill {i}: {polls} polls stored where the rounds count {counted}; {loose} values at no poll"
        );
        let rounds: i64 = client
            .query_one("SELECT count(*) FROM rounds", &[])
            .unwrap()
            .get(0);
        if rounds > rounds_before {
            grew += 1;
        }
        rounds_before = rounds;
    }
    println!("rounds were stored between {grew} of {KILLS} kills");
    assert!(
        grew >= KILLS / 2,
        "rounds were stored between only {grew} of {KILLS} kills; the log ends:\n{}",
        log(&w)
    );
    // After the kills, serve starts and stores whole rounds again.
    let child = spawn(&w, &["serve", "--config", "telleverk.toml"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let rounds: i64 = client
            .query_one("SELECT count(*) FROM rounds", &[])
            .unwrap()
            .get(0);
        if rounds > rounds_before {
            break;
        }
        assert!(Instant::now() < deadline, "no round stored after the kills");
        std::thread::sleep(Duration::from_millis(200));
    }
    child.kill();
    let (polls, counted, loose) = half_written(&mut client);
    assert_eq!((polls, loose), (counted, 0));
}

#[test]
fn report_run_killed_20_times_on_postgresql_leaves_whole_files_and_true_records() {
    use super::reports::{config, files, runs, seed};
    let w = Workdir::on(Backend::Postgresql);
    config(
        &w,
        None,
        "[[report]]\nname = \"vendor\"\nschedule = \"0 6 * * *\"\nkind = \"vendor-billing\"\n\
         format = \"csv\"\ndirectory = \"out\"\n",
    );
    seed(&w);
    let out_dir = w.path().join("out");
    let args = ["report", "run", "--config", "telleverk.toml", "vendor"];
    // One run to the end: the whole file, and how long a run takes.
    let t = Instant::now();
    let out = w.run(&args);
    let whole = t.elapsed();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let written = files(&out_dir);
    assert_eq!(written.len(), 1, "{written:?}");
    let complete = std::fs::read(out_dir.join(&written[0])).unwrap();
    let mut cut = 0;
    for i in 0..KILLS {
        let child = spawn(&w, &args);
        std::thread::sleep(whole.mul_f64(i as f64 / KILLS as f64));
        if child.kill() {
            cut += 1;
        }
        // The report's file is the whole file, never part of one; what a
        // kill leaves behind is only a hidden temporary file beside it (a
        // later write removes it once it is an hour old).
        for name in files(&out_dir) {
            if name.starts_with(&format!(".{}.", written[0])) && name.ends_with(".tmp") {
                continue;
            }
            assert_eq!(name, written[0], "kill {i}: a stray file");
            assert!(
                std::fs::read(out_dir.join(&name)).unwrap() == complete,
                "kill {i}: {name} is not the whole report"
            );
        }
        // Every run recorded names a file that is there.
        for run in runs(&w, "vendor") {
            let file = run.file.expect("a run that wrote its file");
            assert!(
                std::path::Path::new(&file).is_file() || out_dir.join(&file).is_file(),
                "kill {i}: run {} names {file}, which is not there",
                run.id
            );
        }
    }
    assert!(
        cut >= KILLS / 2,
        "only {cut} of {KILLS} kills found a run running"
    );
    let out = w.run(&args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}
