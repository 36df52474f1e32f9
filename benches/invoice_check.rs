//! Why: a facilities person feeds in the vendor's settlement invoice and
//! waits for the findings. The target: a settlement invoice of
//! 2 000 devices, one line per device and class, against a year of
//! 15-minute polls, end to end on SQLite (process start to JSON printed),
//! in < 2 s.
//!
//! Sizes: 2 000 devices polled every 15 minutes 08:00–16:00 Oslo on
//! weekdays from 2024-12-31 to 2026-01-01 (≈ 17 M polls, four changed
//! meters each: the nights and weekends add poll rows a read never
//! touches), written through `Store::write_round` like the collector
//! writes (the `reconcile_db` generator), kept in `target/bench-data/`.
//! One advance contract over all of them. The vendor's file is made from
//! telleverk's own settlement for 2025 (its boundary values): a b/w and a
//! colour line per device with both readings, the year's excess on the
//! first device's lines, and three mistakes (a reading 1 000 too high, a
//! wrong price on a line, an amount that is not pages × price), so the
//! check has findings with evidence to write.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use serde_json::Value;

use super::reconcile_db::{Hours, d, generate, serial, three_runs, write_config};

const DEVICES: usize = 2_000;
const VERSION: &str = "v1";

pub fn run() -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    let _ = std::fs::create_dir_all(&dir);
    let db = dir.join(format!("invoice-{DEVICES}x1y-{VERSION}.db"));
    let mut report = String::new();
    if !db.exists() {
        let t = Instant::now();
        let polls = generate(&db, DEVICES, d(2024, 12, 31), d(2026, 1, 2), Hours::Working);
        report.push_str(&format!(
            "generated {polls} polls in {:.0} s\n",
            t.elapsed().as_secs_f64()
        ));
    }
    let size = std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0);
    // Each run keeps its check: the checks table grows by one a run,
    // nothing a check reads changes.
    let config = write_config(&dir, &db, DEVICES, "invoice-bench.toml");
    let telleverk = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_telleverk"))
            .args(args)
            .arg("--config")
            .arg(&config)
            .output()
            .expect("run telleverk");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let ours: Value = serde_json::from_slice(&telleverk(&[
        "invoices",
        "--contract",
        "FLEET",
        "--until",
        "2026-01-01",
        "--json",
    ]))
    .expect("invoices JSON");
    let file = dir.join("invoice-bench-vendor.csv");
    let lines = vendor_file(&ours, &file);
    let file_arg = file.display().to_string();
    let (times, output) = three_runs(
        &config,
        &["check-invoice", "--contract", "FLEET", &file_arg, "--json"],
    );
    let last: Value = serde_json::from_slice(&output).expect("check JSON");
    let findings: Vec<String> = last["invoices"][0]["findings"]
        .as_array()
        .map(|f| {
            f.iter()
                .map(|f| {
                    format!(
                        "{} {}",
                        f["kind"].as_str().unwrap_or("?"),
                        f["delta_nok"].as_str().unwrap_or("?")
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let _ = write!(
        report,
        "telleverk check-invoice --json, end to end on SQLite: a settlement of {DEVICES} devices ({lines} lines) \
         against a year of 15-minute polls in working hours\n\
         database {:.0} MB; findings: {}\n\
         wall time min {:.3} s, median {:.3} s of 3 (target < 2 s)",
        size as f64 / 1e6,
        findings.join(", "),
        times[0],
        times[1]
    );
    report
}

/// The vendor's settlement for 2025 from ours: a b/w and a colour line a
/// device with its readings, three of them wrong. Returns the line count.
fn vendor_file(ours: &Value, path: &Path) -> usize {
    let settlement = ours["invoices"]
        .as_array()
        .and_then(|all| all.iter().find(|i| i["kind"] == "settlement"))
        .expect("a settlement for 2025");
    let mut values: std::collections::HashMap<(String, String, String), u64> = Default::default();
    for v in settlement["boundary_values"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let at: String = v["at"].as_str().unwrap_or("").chars().take(10).collect();
        values.insert(
            (
                v["serial"].as_str().unwrap_or("").to_owned(),
                v["meter"].as_str().unwrap_or("").to_owned(),
                at,
            ),
            v["value"].as_u64().unwrap_or(0),
        );
    }
    let excess = |class: &str| -> u64 {
        settlement["lines"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|l| l["class"] == class)
            .filter_map(|l| l["pages"].as_u64())
            .sum()
    };
    let mut text = String::from(
        "fakturanr;fakturadato;type;periode_fra;periode_til;klasse;beskrivelse;serienr;antall;enhetspris;beløp;målerstand_fra;målerstand_til;estimert\n",
    );
    let mut lines = 0;
    for i in 0..DEVICES {
        let s = serial(i);
        for (class, meter, price) in [
            ("bw", "bw_total", "0,0450"),
            ("colour", "colour_total", "0,4500"),
        ] {
            let from = values
                .get(&(s.clone(), meter.into(), "2025-01-01".into()))
                .copied()
                .unwrap_or(0);
            let mut to = values
                .get(&(s.clone(), meter.into(), "2026-01-01".into()))
                .copied()
                .unwrap_or(0);
            let mut price = price.to_owned();
            let pages = if i == 0 { excess(class) } else { 0 };
            let unit: f64 = price.replace(',', ".").parse().unwrap_or(0.0);
            let mut amount = format!("{:.2}", pages as f64 * unit).replace('.', ",");
            match (i, class) {
                (7, "bw") => to += 1_000,
                (11, "colour") => price = "0,4700".into(),
                (13, "bw") => amount = "12,00".into(),
                _ => {}
            }
            let _ = writeln!(
                text,
                "9001;01.01.2026;settlement;01.01.2025;31.12.2025;{class};{class} {s};{s};{pages};{price};{amount};{from};{to};nei"
            );
            lines += 1;
        }
    }
    std::fs::write(path, text).expect("write the vendor file");
    lines
}
