//! telleverk's benchmarks: one binary, one module per hot path.
//!
//! `cargo bench --bench telleverk` runs them all and prints the figures; each
//! bench also writes its raw output to `benches/results/` with the commit,
//! date, `nproc` and command line.

#![allow(clippy::disallowed_methods)] // benchmarks and tests measure real time

mod api_seed;
mod billing;
mod contract_page;
mod forecast;
mod forward;
mod ingest;
mod invoice_check;
mod reconcile_db;
mod snmp_floor;
mod uptime;
mod view;

use std::io::Write;

/// A bench: its name and the function that runs it and returns its report.
type Bench = (&'static str, fn() -> String);

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // `cargo bench` passes `--bench`; a name filter may follow.
    let filter = args.iter().skip(1).find(|a| !a.starts_with("--"));
    let benches: [Bench; 13] = [
        ("ingest", ingest::run),
        ("ingest_postgresql", ingest::run_postgresql),
        ("billing", billing::run),
        ("reconcile_db", reconcile_db::run),
        ("invoice_check", invoice_check::run),
        ("uptime", uptime::run),
        ("contract_page", contract_page::run),
        ("forecast", forecast::run),
        ("api_seed", api_seed::run),
        ("view", view::run),
        ("snmp_floor", snmp_floor::run),
        ("forward_central", forward::run_central),
        ("forward_catch_up", forward::run_catch_up),
    ];
    for (name, bench) in benches {
        if filter.is_some_and(|f| !name.contains(f.as_str())) {
            continue;
        }
        let report = bench();
        println!("{report}");
        save(name, &args, &report);
    }
}

/// Writes the raw output with the facts needed to compare runs.
fn save(name: &str, args: &[String], report: &str) {
    let run = |cmd: &str, args: &[&str]| {
        std::process::Command::new(cmd)
            .args(args)
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default()
    };
    let commit = run("git", &["rev-parse", "--short", "HEAD"]);
    let date = run("date", &["-u", "+%Y-%m-%dT%H:%M:%SZ"]);
    let nproc = run("nproc", &[]);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/results");
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("{name}.txt"));
    let text = format!(
        "bench: {name}\ncommit: {commit}\ndate: {date}\nnproc: {nproc}\ncommand: {}\n\n{report}\n",
        args.join(" ")
    );
    match std::fs::File::create(&path).and_then(|mut f| f.write_all(text.as_bytes())) {
        Ok(()) => eprintln!("raw output written to {}", path.display()),
        Err(e) => eprintln!("cannot write {}: {e}", path.display()),
    }
}
