//! Why: the contract's uptime (§4.7) is averaged over the last 6 whole
//! months, from every poll. The target: uptime of 1 000 devices
//! over 6 months of 15-minute polls, end to end on SQLite (process start
//! to JSON printed), < 5 s.
//!
//! Sizes: 1 000 devices polled every 15 minutes around the clock from the
//! first day of the sixth month before this one to this month's first day
//! (≈ 17.6 M polls), written through `Store::write_round` like the
//! collector writes (the `reconcile_db` generator), kept in
//! `target/bench-data/` for the months it was made for. One contract over
//! all of them. `telleverk uptime --contract FLEET --months 6 --json`.

use std::path::Path;

use super::reconcile_db::{months_db, three_runs, write_config};

const DEVICES: usize = 1_000;

pub fn run() -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    let (db, first, this_month, mut report) =
        months_db(&format!("uptime-{DEVICES}x6m"), DEVICES, 6);
    let size = std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0);
    let config = write_config(&dir, &db, DEVICES, "uptime-bench.toml");
    let (times, output) = three_runs(
        &config,
        &["uptime", "--contract", "FLEET", "--months", "6", "--json"],
    );
    let output_len = output.len();
    let list: serde_json::Value = serde_json::from_slice(&output).expect("JSON");
    let sample = list["items"][0]["total"].to_string();
    report.push_str(&format!(
        "telleverk uptime --json, end to end on SQLite: {DEVICES} devices, 6 months ({first} – {}) of 15-minute polls around the clock\n\
         database {:.0} MB; output {output_len} bytes; first device: {sample}\n\
         wall time min {:.3} s, median {:.3} s of 3 (target < 5 s)",
        this_month.pred_opt().unwrap_or(this_month),
        size as f64 / 1e6,
        times[0],
        times[1]
    ));
    report
}
