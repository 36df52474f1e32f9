//! Why: the web page of a contract (issue 19) shows its standing, its
//! invoices due and to come, boundary values, gaps and events; facilities
//! staff open it for a contract of 1 000 devices. The target: the
//! page of a contract of 1 000 devices with a year of 15-minute polls, server
//! time < 300 ms.
//!
//! Sizes: 1 000 devices polled every 15 minutes around the clock for the
//! twelve whole months before this one (≈ 35 M polls, the `reconcile_db`
//! generator through `Store::write_round`), kept in `target/bench-data/` for
//! the months it was made for (about half an hour to make). One advance
//! contract `FLEET` over all of them that starts a month after the first
//! polled day, so that on the first of this month its year has run eleven
//! months and its half five: the most dates its charts of use are counted
//! at. `telleverk serve` on it, once its own first check of the contracts
//! is done, logged in with a viewer's session cookie as a browser is; the
//! page fetched 20 times after one warm-up fetch.

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{Months, NaiveDate};

use super::reconcile_db::{months_db, serial};

const DEVICES: usize = 1_000;
const FETCHES: usize = 20;

pub fn run() -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    let (db, first, this_month, mut report) =
        months_db(&format!("contract-{DEVICES}x1y"), DEVICES, 12);
    let size = std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0);
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let start = first.checked_add_months(Months::new(1)).unwrap_or(first);
    let (config, token) = write_config(&dir, &db, start, port);
    let mut serve = Server(
        Command::new(env!("CARGO_BIN_EXE_telleverk"))
            .args(["serve", "--config"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start telleverk serve"),
    );
    let base = format!("http://127.0.0.1:{port}");
    wait_for(&mut serve, &base);
    let cookie = log_in(&base, &token);
    let page = format!("{base}/contracts/FLEET");
    let (first_time, bytes) = fetch(&page, &cookie);
    let mut times: Vec<f64> = (0..FETCHES).map(|_| fetch(&page, &cookie).0).collect();
    times.sort_by(f64::total_cmp);
    report.push_str(&format!(
        "GET /contracts/FLEET on `telleverk serve` (SQLite): {DEVICES} devices, a year ({first} – {}) of 15-minute polls around the clock\n\
         database {:.0} MB; page {bytes} bytes of HTML\n\
         first fetch {first_time:.3} s; then min {:.3} s, median {:.3} s, max {:.3} s of {FETCHES} (target < 0.300 s)",
        this_month.pred_opt().unwrap_or(this_month),
        size as f64 / 1e6,
        times[0],
        times[FETCHES / 2],
        times[FETCHES - 1],
    ));
    report
}

/// Stops `telleverk serve` when the bench ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for(serve: &mut Server, base: &str) {
    let agent = ureq::agent();
    for _ in 0..12_000 {
        let checked = agent
            .get(format!("{base}/healthz"))
            .call()
            .ok()
            .and_then(|mut r| r.body_mut().read_to_string().ok())
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
            .is_some_and(|health| !health["contracts_checked_at"].is_null());
        if checked {
            return;
        }
        if let Ok(Some(status)) = serve.0.try_wait() {
            let mut err = String::new();
            if let Some(mut e) = serve.0.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            panic!("telleverk serve stopped ({status}): {err}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("telleverk serve had not checked its contracts after 600 s");
}

/// Logs in through the form; returns the session cookie (`name=value`).
fn log_in(base: &str, token: &str) -> String {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .max_redirects(0)
        .http_status_as_error(false)
        .build()
        .into();
    let answer = agent
        .post(format!("{base}/login"))
        .send_form([("token", token), ("next", "/")])
        .expect("POST /login");
    answer
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("telleverk_session="))
        .and_then(|v| v.split(';').next())
        .expect("a session cookie")
        .to_owned()
}

/// One fetch of the page: seconds and bytes.
fn fetch(url: &str, cookie: &str) -> (f64, usize) {
    let t = Instant::now();
    let mut answer = ureq::get(url)
        .header("Cookie", cookie)
        .call()
        .expect("the contract page");
    let body = answer
        .body_mut()
        .with_config()
        .limit(100_000_000)
        .read_to_string()
        .expect("the page's HTML");
    let secs = t.elapsed().as_secs_f64();
    assert!(
        body.contains("id=\"periods-table\""),
        "not the contract page: {}",
        body.chars().take(400).collect::<String>()
    );
    (secs, body.len())
}

/// The config: the database, one advance contract over every device that
/// starts on the first polled day, `[http]` on `port` with a viewer token.
/// Returns its path and the token.
fn write_config(dir: &Path, db: &Path, start: NaiveDate, port: u16) -> (PathBuf, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_telleverk"))
        .args(["token", "new", "--name", "bench", "--role", "viewer"])
        .output()
        .expect("telleverk token new");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let token = text
        .split_whitespace()
        .find(|w| w.starts_with("tlv_"))
        .expect("a token")
        .to_owned();
    let entry = text
        .split_once("[[http.token]]")
        .map(|(_, rest)| format!("[[http.token]]{rest}"))
        .expect("a token entry");
    let devices: Vec<String> = (0..DEVICES).map(|i| format!("\"{}\"", serial(i))).collect();
    let config = format!(
        "[storage]\npath = \"{}\"\n\n[http]\nlisten = \"127.0.0.1:{port}\"\n\n{entry}\n\
         [[contract]]\nid = \"FLEET\"\ndevices = [{}]\nstart = \"{start}\"\nterm_months = 36\n\
         billing = \"advance\"\ncommitted_bw = 100000000\ncommitted_colour = 30000000\n\
         fixed_fee_monthly = \"20000.00\"\n\n[[contract.price]]\nfrom = \"{start}\"\nbw = \"0.0450\"\ncolour = \"0.4500\"\n",
        db.display(),
        devices.join(", ")
    );
    let path = dir.join("contract-page-bench.toml");
    std::fs::write(&path, config).expect("write bench config");
    (path, token)
}
