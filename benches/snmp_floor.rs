//! Why: issue 15 §2 asks ≤ 30 µs of the poller's CPU per SNMP request. This
//! bench measures what async-snmp's client costs on its own for exactly
//! telleverk's requests, beside `telleverk poll --once`, so the two figures
//! come from the same simulator at the same time.
//!
//! It starts `telleverk simulate` (10 000 devices, no reply delay, no
//! quirks) and then, in turns, RUNS times each: a round of the crate alone
//! and a `poll --once` round. The crate's round sends what telleverk sends a
//! v2c bizhub (checked byte for byte against `poll --once` with strace): one
//! GET of the 28 scalars it asks before it knows the profile, then GETBULK
//! walks of the six supplies columns (non-repeaters 0, max-repetitions 48 ÷
//! the columns still open) until every column ends; one shared
//! `UdpTransport`, a client per device built as telleverk builds it, a
//! current-thread runtime, 1 024 devices in flight. Nothing is done with
//! the answers. CPU is the process's user + system time around the polling
//! (10 ms ticks), divided by the requests sent.

#![allow(clippy::disallowed_methods)] // benchmarks measure real time

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_snmp::{
    Auth, Client, ClientBuilder, EngineCache, Oid, Retry, UdpHandle, UdpTransport, Value,
};
use tokio::task::JoinSet;

const DEVICES: usize = 10_000;
const IN_FLIGHT: usize = 1_024;
const MAX_BULK_VARBINDS: u32 = 48;

/// What telleverk asks first of every entry (identity, status, the Printer-MIB
/// life count and the bizhub counters), in its order.
const SCALARS: [&str; 28] = [
    "1.3.6.1.2.1.1.1.0",
    "1.3.6.1.2.1.1.2.0",
    "1.3.6.1.2.1.25.3.2.1.3.1",
    "1.3.6.1.2.1.25.3.2.1.5.1",
    "1.3.6.1.2.1.25.3.5.1.1.1",
    "1.3.6.1.2.1.25.3.5.1.2.1",
    "1.3.6.1.2.1.43.5.1.1.17.1",
    "1.3.6.1.2.1.43.10.2.1.4.1.1",
    "1.3.6.1.4.1.18334.1.1.1.1.6.2.1.0",
    "1.3.6.1.4.1.18334.1.1.1.5.7.2.1.1.0",
    "1.3.6.1.4.1.18334.1.1.1.5.7.2.1.3.0",
    "1.3.6.1.4.1.18334.1.1.1.5.7.2.1.5.0",
    "1.3.6.1.4.1.18334.1.1.1.5.7.2.2.1.5.1.1",
    "1.3.6.1.4.1.18334.1.1.1.5.7.2.2.1.5.1.2",
    "1.3.6.1.4.1.18334.1.1.1.5.7.2.2.1.5.2.1",
    "1.3.6.1.4.1.18334.1.1.1.5.7.2.2.1.5.2.2",
    "1.3.6.1.4.1.18334.1.1.1.5.7.2.2.1.5.3.1",
    "1.3.6.1.4.1.18334.1.1.1.5.7.2.2.1.5.3.2",
    "1.3.6.1.4.1.18334.1.1.1.5.7.2.2.1.5.4.1",
    "1.3.6.1.4.1.18334.1.1.1.5.7.2.2.1.5.4.2",
    "1.3.6.1.4.1.18334.1.1.1.5.7.2.2.1.7.1.1",
    "1.3.6.1.4.1.18334.1.1.1.5.7.2.2.1.7.1.2",
    "1.3.6.1.4.1.18334.1.1.1.5.7.2.2.1.7.2.1",
    "1.3.6.1.4.1.18334.1.1.1.5.7.2.2.1.7.2.2",
    "1.3.6.1.4.1.18334.1.1.1.5.7.2.2.1.7.3.1",
    "1.3.6.1.4.1.18334.1.1.1.5.7.2.2.1.7.3.2",
    "1.3.6.1.4.1.18334.1.1.1.5.7.2.2.1.7.4.1",
    "1.3.6.1.4.1.18334.1.1.1.5.7.2.2.1.7.4.2",
];

/// The supplies columns telleverk walks.
const COLUMNS: [&str; 6] = [
    "1.3.6.1.2.1.43.11.1.1.3",
    "1.3.6.1.2.1.43.11.1.1.5",
    "1.3.6.1.2.1.43.11.1.1.6",
    "1.3.6.1.2.1.43.11.1.1.8",
    "1.3.6.1.2.1.43.11.1.1.9",
    "1.3.6.1.2.1.43.12.1.1.4.1",
];

/// Stops the simulator however the bench ends.
struct Simulator(Child);

impl Drop for Simulator {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn run() -> String {
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    let bin = env!("CARGO_BIN_EXE_telleverk");
    let work = tempfile::tempdir().expect("a scratch folder");
    let sim_config = work.path().join("sim.toml");
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("a free port")
        .port();
    let _sim = Simulator(
        Command::new(bin)
            .args(["simulate", "--devices", &DEVICES.to_string()])
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--delay", "0ms", "--no-quirks", "--write-config"])
            .arg(&sim_config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the simulator"),
    );
    let started = Instant::now();
    while std::fs::metadata(&sim_config).map_or(true, |m| m.len() == 0) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the simulator did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(300));
    let text = std::fs::read_to_string(&sim_config).expect("the simulator's config");
    let poll_config = work.path().join("poll.toml");
    let db = work.path().join("poll.db");
    let rewritten: Vec<String> = text
        .lines()
        .map(|l| {
            if l.starts_with("concurrency = ") {
                format!("concurrency = {IN_FLIGHT}")
            } else if l.starts_with("path = ") {
                format!("path = \"{}\"", db.display())
            } else {
                l.to_owned()
            }
        })
        .collect();
    std::fs::write(&poll_config, rewritten.join("\n")).expect("write the poll config");
    let devices = devices(&text);

    let mut out = format!(
        "snmp_floor: {} simulated devices, no reply delay, {IN_FLIGHT} in flight, {runs} rounds each, in turns\n",
        devices.len()
    );
    let (mut crate_us, mut telleverk_us) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let (line, us) = crate_round(&devices);
        let _ = writeln!(out, "async-snmp alone: {line}");
        crate_us.push(us);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
        }
        let polled = Command::new(bin)
            .args(["poll", "--once", "--config"])
            .arg(&poll_config)
            .output()
            .expect("run poll --once");
        let text = String::from_utf8_lossy(&polled.stdout);
        let round = text
            .lines()
            .find(|l| l.starts_with("round:"))
            .unwrap_or("")
            .to_owned();
        let us = poll_us(&round, devices.len());
        let _ = writeln!(
            out,
            "telleverk poll --once: {us:.1} µs per request; {round}"
        );
        telleverk_us.push(us);
    }
    let _ = writeln!(
        out,
        "CPU per request, min / median: async-snmp alone {}, telleverk {} (µs)",
        min_median(&mut crate_us),
        min_median(&mut telleverk_us)
    );
    out
}

/// Each simulated device's address and community, from its config.
fn devices(text: &str) -> Vec<(SocketAddr, String)> {
    let mut out = Vec::new();
    let mut address = None;
    for line in text.lines() {
        let value = || line.split('"').nth(1).unwrap_or_default().to_owned();
        if line.starts_with("address = ") {
            address = value().parse().ok();
        } else if line.starts_with("community = ")
            && let Some(a) = address
        {
            out.push((a, value()));
        }
    }
    out
}

/// The polling CPU per request of `poll --once`'s round line ("…; 2.95
/// requests per entry; CPU 2.40 s (polling 1.47 s), …").
fn poll_us(round: &str, devices: usize) -> f64 {
    let number_before = |marker: &str| -> Option<f64> {
        let (before, _) = round.split_once(marker)?;
        before.rsplit([' ', '(']).next()?.parse().ok()
    };
    let after = |marker: &str| -> Option<f64> {
        let (_, rest) = round.split_once(marker)?;
        rest.split([' ', ')']).next()?.parse().ok()
    };
    match (number_before(" requests per entry"), after("(polling ")) {
        (Some(per_entry), Some(polling)) => polling * 1e6 / (per_entry * devices as f64),
        _ => f64::NAN,
    }
}

fn min_median(values: &mut [f64]) -> String {
    values.sort_by(f64::total_cmp);
    let median = values.get(values.len() / 2).copied().unwrap_or(f64::NAN);
    format!(
        "{:.1} / {median:.1}",
        values.first().copied().unwrap_or(f64::NAN)
    )
}

/// Requests and varbinds one round sent, and the polls that failed.
#[derive(Default, Clone, Copy)]
struct Tally {
    requests: u64,
    varbinds: u64,
    failed: u64,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.requests += other.requests;
        self.varbinds += other.varbinds;
        self.failed += other.failed;
    }
}

/// One round of the crate alone; its report and µs of CPU per request.
fn crate_round(devices: &[(SocketAddr, String)]) -> (String, f64) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let transport = UdpTransport::builder()
            .bind("0.0.0.0:0")
            .recv_buffer_size(4 << 20)
            .build()
            .await
            .expect("a UDP transport");
        let engines = Arc::new(EngineCache::new());
        let parse = |list: &[&str]| -> Arc<[Oid]> {
            list.iter().map(|s| Oid::parse(s).expect("an OID")).collect()
        };
        let (scalars, columns) = (parse(&SCALARS), parse(&COLUMNS));
        let cpu = telleverk::process::cpu_seconds().unwrap_or(0.0);
        let started = Instant::now();
        let mut tasks = JoinSet::new();
        let mut total = Tally::default();
        let mut next = devices.iter();
        loop {
            if tasks.len() < IN_FLIGHT
                && let Some((address, community)) = next.next()
            {
                let client = client(&transport, *address, community, &engines);
                tasks.spawn(poll(client, scalars.clone(), columns.clone()));
                continue;
            }
            match tasks.join_next().await {
                Some(done) => total.add(done.unwrap_or(Tally {
                    failed: 1,
                    ..Tally::default()
                })),
                None => break,
            }
        }
        let wall = started.elapsed().as_secs_f64();
        let cpu = telleverk::process::cpu_seconds().unwrap_or(0.0) - cpu;
        let us = cpu * 1e6 / total.requests.max(1) as f64;
        let line = format!(
            "{us:.1} µs per request; {} requests ({:.2} a device), {} varbinds, {} failed, CPU {cpu:.2} s, wall {wall:.2} s",
            total.requests,
            total.requests as f64 / devices.len() as f64,
            total.varbinds,
            total.failed
        );
        (line, us)
    })
}

/// A v2c client as telleverk's `Snmp::session` builds one.
fn client(
    transport: &UdpTransport,
    target: SocketAddr,
    community: &str,
    engines: &Arc<EngineCache>,
) -> Option<Client<UdpHandle>> {
    ClientBuilder::new(Auth::v2c(community.as_bytes().to_vec()))
        .request_timeout(Duration::from_secs(2))
        .retry(Retry::fixed(1, Duration::ZERO).ok()?)
        .max_oids_per_request(48)
        .engine_cache(engines.clone())
        .build_with_transport(transport.handle(target).ok()?)
        .ok()
}

/// One device: the GET of the scalars, then the supplies columns walked.
async fn poll(
    client: Option<Client<UdpHandle>>,
    scalars: Arc<[Oid]>,
    columns: Arc<[Oid]>,
) -> Tally {
    let mut t = Tally::default();
    let Some(client) = client else {
        t.failed += 1;
        return t;
    };
    t.requests += 1;
    match client.get_many(&scalars).await {
        Ok(answer) => t.varbinds += answer.varbinds.len() as u64,
        Err(_) => {
            t.failed += 1;
            return t;
        }
    }
    let mut at: Vec<Oid> = columns.to_vec();
    let mut roots: Vec<Oid> = columns.to_vec();
    while !at.is_empty() {
        let repetitions = (MAX_BULK_VARBINDS / at.len() as u32).max(1);
        t.requests += 1;
        let Ok(varbinds) = client.get_bulk(&at, 0, repetitions).await else {
            t.failed += 1;
            return t;
        };
        if varbinds.is_empty() {
            t.failed += 1;
            return t;
        }
        t.varbinds += varbinds.len() as u64;
        let width = at.len();
        let mut ended = vec![false; width];
        for (i, vb) in varbinds.into_iter().enumerate() {
            let column = i % width;
            if ended[column] {
                continue;
            }
            if matches!(vb.value, Value::EndOfMibView) || !vb.oid.starts_with(&roots[column]) {
                ended[column] = true;
                continue;
            }
            at[column] = vb.oid;
        }
        let mut open = ended.iter().map(|e| !e);
        roots.retain(|_| open.next().unwrap_or(false));
        let mut open = ended.iter().map(|e| !e);
        at.retain(|_| open.next().unwrap_or(false));
    }
    t
}
