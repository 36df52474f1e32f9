//! The simulated fleet's commands: `telleverk simulate` serves it for other
//! tools; `telleverk demo` serves it in-process on fast simulated time and
//! polls it into a database of its own.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Datelike, NaiveTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Europe::Oslo;
use tokio::sync::watch;

use super::InputError;
use crate::clock::{self, Clock};
use crate::collector::{self, Round};
use crate::config;
use crate::output;
use crate::sim::model::{Fleet, Quirk};
use crate::sim::{Polling, Versions, agent, config_text};
use crate::storage::{Purpose, Store};

/// What `telleverk simulate` was asked for (its command-line arguments).
#[derive(Debug, Clone, clap::Args)]
pub struct Simulate {
    /// How many devices (told apart by community, or by v3 context); with
    /// --addresses, one an address (default: as many as addresses).
    #[arg(long, required_unless_present = "addresses")]
    pub devices: Option<usize>,
    #[arg(long, default_value = "127.0.0.1:16100")]
    pub listen: String,
    /// Serve one device on each address of this range instead (e.g.
    /// 127.0.3.1-40, on --listen's port), all answering --community, as a
    /// network of printers does: for `telleverk discover`.
    #[arg(long)]
    pub addresses: Option<String>,
    /// The v1/v2c community of every device with --addresses.
    #[arg(long, default_value = "public", requires = "addresses")]
    pub community: String,
    /// With --addresses, move a device to a free address of the range this
    /// often (each device in turn, to the next free address after its
    /// own), as when someone re-cables an office: for following moves.
    #[arg(long, requires = "addresses", value_parser = humantime::parse_duration)]
    pub move_every: Option<Duration>,
    /// The reply delay of every healthy device.
    #[arg(long, default_value = "50ms", value_parser = humantime::parse_duration)]
    pub delay: Duration,
    /// The reply delay of the slow devices: near the written config's 2 s timeout.
    #[arg(long, default_value = "1500ms", value_parser = humantime::parse_duration)]
    pub slow_delay: Duration,
    /// The same seed gives the same fleet.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Write a telleverk config that polls the fleet to this file, with an
    /// API port, an admin token (printed once) and a contract over the
    /// fleet.
    #[arg(long)]
    pub write_config: Option<PathBuf>,
    /// Overwrite the --write-config file when it exists.
    #[arg(long)]
    pub force: bool,
    /// Every device healthy: no slow, resetting or booting device.
    #[arg(long)]
    pub no_quirks: bool,
    /// The SNMP version(s) the written config polls with.
    #[arg(long = "snmp-version", value_enum, default_value = "2c")]
    pub versions: Versions,
    /// Simulated time at the start (RFC 3339; default now).
    #[arg(long)]
    pub start: Option<DateTime<Utc>>,
    /// Simulated time runs this many times as fast as real time (0 stands still).
    #[arg(long, default_value_t = 1)]
    pub speed: u32,
}

/// The timeout the written config gives the collector.
const WRITTEN_TIMEOUT: Duration = Duration::from_secs(2);

/// `telleverk simulate`: serves the fleet until `shutdown`.
/// A TCP port on 127.0.0.1 that was free a moment ago, for the written
/// config's API.
fn free_tcp_port() -> anyhow::Result<u16> {
    let socket = std::net::TcpListener::bind("127.0.0.1:0")
        .context("cannot find a free TCP port on 127.0.0.1")?;
    Ok(socket.local_addr()?.port())
}

/// The written config's API and money: a free port, an admin token (its
/// hash) and an arrears contract over every simulated device from the first
/// of this month, at list prices.
fn service_text(fleet: &Fleet, port: u16, token: &str, today: chrono::NaiveDate) -> String {
    let hash = crate::config::hash_text(&crate::config::token_hash(token));
    let serials: Vec<String> = fleet
        .devices
        .iter()
        .map(|d| format!("\"{}\"", d.serial))
        .collect();
    let start = today.with_day(1).unwrap_or(today);
    format!(
        "\n[http]\nlisten = \"127.0.0.1:{port}\"\n\n\
         [[http.token]]\nname = \"simulate\"\nrole = \"admin\"\nhash = \"{hash}\"\n\n\
         [[contract]]\nid = \"SIM\"\ndevices = [{}]\nstart = \"{start}\"\nterm_months = 36\n\
         billing = \"arrears\"\nfixed_fee_monthly = \"150.00\"\n\n\
         [[contract.price]]\nfrom = \"{start}\"\nbw = \"0.0450\"\ncolour = \"0.4500\"\n",
        serials.join(", ")
    )
}

/// The first address after `from` (wrapping round) that no device is at.
fn next_free(at: &[usize], from: usize, addresses: usize) -> usize {
    (1..addresses)
        .map(|step| (from + step) % addresses)
        .find(|a| !at.contains(a))
        .unwrap_or(from)
}

pub async fn simulate(
    args: Simulate,
    mut shutdown: watch::Receiver<bool>,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let addresses = match &args.addresses {
        Some(text) => {
            let range = crate::discover::Range::parse(text)
                .map_err(|e| InputError(format!("--addresses: {e}")))?;
            if range.len() > 4_096 {
                return Err(InputError(format!(
                    "--addresses: {text} is {} addresses; at most 4 096 are served",
                    range.len()
                ))
                .into());
            }
            if args.write_config.is_some() {
                return Err(InputError(
                    "--write-config writes entries for one address; with --addresses, \
                     `telleverk discover --write` writes them"
                        .into(),
                )
                .into());
            }
            let port = args
                .listen
                .rsplit_once(':')
                .map_or("16100", |(_, p)| p)
                .to_owned();
            let hosts: Vec<String> = range
                .hosts()
                .map(|h| crate::discover::address(&h, port.parse().unwrap_or(16100)))
                .collect();
            Some(hosts)
        }
        None => None,
    };
    let devices = match (args.devices, &addresses) {
        (Some(n), Some(a)) if n > a.len() => {
            return Err(InputError(format!(
                "--devices {n} is more than the {} addresses of --addresses",
                a.len()
            ))
            .into());
        }
        (Some(n), _) => n,
        (None, Some(a)) => a.len(),
        (None, None) => 0,
    };
    if devices == 0 {
        return Err(InputError("--devices must be at least 1".into()).into());
    }
    if let Some(path) = args
        .write_config
        .as_ref()
        .filter(|p| p.exists() && !args.force)
    {
        return Err(InputError(format!(
            "{} exists: give --force to overwrite it, or another file",
            path.display()
        ))
        .into());
    }
    let clock = Clock::simulated(args.start.unwrap_or_else(clock::now), args.speed);
    let fleet = Fleet::new(args.seed, devices, clock.now(), !args.no_quirks);
    let options = agent::Options {
        listen: args.listen.clone(),
        delay: args.delay,
        slow_delay: args.slow_delay,
    };
    if let Some(addresses) = &addresses {
        if args.move_every.is_some() && devices >= addresses.len() {
            return Err(InputError(format!(
                "--move-every needs a free address to move to: give fewer --devices than the {} addresses",
                addresses.len()
            ))
            .into());
        }
        let mut running =
            agent::start_each(&fleet, clock, &options, addresses, &args.community).await?;
        writeln!(
            out,
            "serving {devices} simulated bizhubs, one an address from {} to {}, community {:?} \
             (seed {}, reply delay {})",
            running
                .first()
                .map_or_else(String::new, |r| r.address.to_string()),
            running
                .last()
                .map_or_else(String::new, |r| r.address.to_string()),
            args.community,
            args.seed,
            humantime::format_duration(args.delay),
        )?;
        for d in &fleet.devices {
            writeln!(out, "  {} {}", d.serial, d.model.name)?;
        }
        writeln!(out, "Ctrl-C stops")?;
        out.flush()?;
        if let Some(every) = args.move_every {
            let mut at: Vec<usize> = (0..devices).collect();
            let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            for turn in 0.. {
                tokio::select! {
                    _ = ticker.tick() => {}
                    _ = shutdown.wait_for(|stop| *stop) => break,
                }
                let i = turn % devices;
                let to = next_free(&at, at[i], addresses.len());
                let old = std::mem::replace(
                    &mut running[i],
                    agent::start_one(&fleet, i, clock, &options, &addresses[to], &args.community)
                        .await?,
                );
                old.stop().await;
                writeln!(
                    out,
                    "moved {} from {} to {}",
                    fleet.devices[i].serial, addresses[at[i]], addresses[to]
                )?;
                out.flush()?;
                at[i] = to;
            }
        } else {
            let _ = shutdown.wait_for(|stop| *stop).await;
        }
        for r in running {
            r.stop().await;
        }
        return Ok(());
    }
    let running = agent::start(fleet.clone(), clock, &options).await?;
    writeln!(
        out,
        "serving {} simulated bizhubs on {} (seed {}, reply delay {}, quirks {})",
        devices,
        running.address,
        args.seed,
        humantime::format_duration(args.delay),
        if !args.no_quirks {
            format!(
                "on: slow devices answer after {}",
                humantime::format_duration(args.slow_delay)
            )
        } else {
            "off".to_owned()
        }
    )?;
    writeln!(
        out,
        "v3 user {} (SHA-256 {:?}, AES-128 {:?}), contexts dev-00001 … {}; \
         v1/v2c communities: see the written config",
        agent::V3_USER,
        agent::V3_AUTH_PASSWORD,
        agent::V3_PRIV_PASSWORD,
        fleet.devices.last().map_or("", |d| d.context.as_str()),
    )?;
    if let Some(path) = &args.write_config {
        let polling = Polling {
            storage: "telleverk-sim.db".into(),
            interval: Duration::from_secs(60),
            concurrency: 256,
            timeout: WRITTEN_TIMEOUT,
            versions: args.versions,
        };
        let token = super::new_token()?;
        let start = clock.now().with_timezone(&Oslo).date_naive();
        let mut text = config_text(&fleet, running.address, &polling);
        text.push_str(&service_text(&fleet, free_tcp_port()?, &token, start));
        write_atomically(path, &text)?;
        writeln!(
            out,
            "config written to {}: its API listens on the port in [http] \
             (telleverk serve --config {0}), with an admin token shown only now:\n{token}",
            path.display()
        )?;
    }
    writeln!(out, "Ctrl-C stops")?;
    out.flush()?;
    let _ = shutdown.wait_for(|stop| *stop).await;
    running.stop().await;
    Ok(())
}

fn write_atomically(path: &Path, text: &str) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.as_file().sync_all())
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Simulated time in the demo: one real second is half an hour, so a working
/// week (Monday 07:00 to Friday 17:00) takes under four minutes.
const DEMO_SPEED: u32 = 1800;
/// The variable the demo's `[[notify]]` names for its webhook key; the demo
/// answers it itself (a fresh key each run), whatever the environment holds.
const DEMO_SECRET_VAR: &str = "TELLEVERK_DEMO_WEBHOOK_SECRET";
const DEMO_SEED: u64 = 1;
/// Where the demo serves its web pages (another free port when taken).
const DEMO_WEB: &str = "127.0.0.1:8080";
/// The reply delays of the live demo: a healthy device, the slow one.
const DEMO_DELAY: Duration = Duration::from_millis(20);
const DEMO_SLOW_DELAY: Duration = Duration::from_millis(750);

/// `telleverk demo`: the fleet on fast simulated time, polled every two
/// seconds into `db`, a table printed each round, until `shutdown`.
pub async fn demo(
    devices: usize,
    db: &Path,
    history_weeks: u32,
    mut shutdown: watch::Receiver<bool>,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    if devices == 0 {
        return Err(InputError("--devices must be at least 1".into()).into());
    }
    let db = std::path::absolute(db).with_context(|| format!("bad path {}", db.display()))?;
    let mut store = Store::open(&db)?;
    store.claim(Purpose::Demo)?;
    let fresh = store.latest_poll()?.is_none();
    let origin = demo_origin(clock::now(), store.latest_poll()?);
    // Standing still until the history (if any) is polled, then running.
    let steer = clock::Steer::start(origin, 0);
    let clock = Clock::Steered(steer);
    let fleet = Fleet::new(DEMO_SEED, devices, origin, true);
    let options = agent::Options {
        listen: "127.0.0.1:0".into(),
        delay: DEMO_DELAY,
        slow_delay: DEMO_SLOW_DELAY,
    };
    let running = agent::start(fleet.clone(), clock, &options).await?;
    let folder = tempfile::tempdir().context("cannot make a temporary folder")?;
    let config_path = folder.path().join("telleverk-demo.toml");
    let polling = Polling {
        storage: db.display().to_string(),
        interval: Duration::from_secs(2),
        concurrency: 64,
        timeout: Duration::from_secs(1),
        versions: Versions::Mixed,
    };
    // The web pages, with a token for this run only.
    let token = super::new_token()?;
    let web = match tokio::net::TcpListener::bind(DEMO_WEB).await {
        Ok(l) => l,
        Err(_) => tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("cannot listen for the demo's web pages on 127.0.0.1")?,
    };
    let web_address = web.local_addr()?;
    // Alerts are told to a log sink: a webhook receiver in this process
    // that checks each signature and prints what it was told.
    let sink = LogSink::start(super::new_token()?, shutdown.clone()).await?;
    let config_body = format!(
        "{}\n[http]\nlisten = \"{web_address}\"\n\n[[http.token]]\nname = \"demo\"\nrole = \"operator\"\nhash = \"{}\"\n\n\
         [[notify]]\nwebhook_url = \"{}\"\nwebhook_secret_env = \"{DEMO_SECRET_VAR}\"\n",
        config_text(&fleet, running.address, &polling),
        config::hash_text(&config::token_hash(&token)),
        sink.url
    );
    write_atomically(&config_path, &config_body)?;
    let config = Arc::new(config::parse(&config_path, &config_body, &|name| {
        if name == DEMO_SECRET_VAR {
            Some(sink.secret.clone())
        } else {
            std::env::var(name).ok()
        }
    })?);
    store.rekey_entries(&super::legacy_keys(&config))?;
    writeln!(
        out,
        "telleverk demo: {devices} simulated bizhubs on {}, polled every 2 s into {}\n\
         simulated time starts {} and runs {DEMO_SPEED}× (1 s = 30 min); Ctrl-C stops\n\
         web pages: http://{web_address}/ — log in with the token {token} (operator; this run only)",
        running.address,
        db.display(),
        oslo_time(origin),
    )?;
    out.flush()?;
    let snmp = Arc::new(super::snmp_client(&config, &store)?);
    let store = Arc::new(Mutex::new(store));
    // The config polls the fleet's devices in order: entry i is device i.
    let notes: Vec<Option<&str>> = fleet
        .devices
        .iter()
        .map(|d| {
            d.quirk.map(|q| match q {
                Quirk::Slow => "slow: answers in 0.75 s",
                Quirk::Reset => "resets its counters once",
                Quirk::Boots => "boots once: one reading of zeros",
            })
        })
        .collect();
    if fresh && history_weeks > 0 {
        let history = History {
            config: &config,
            snmp: &snmp,
            store: &store,
            steer,
            agent: &running,
        };
        history
            .poll(origin, history_weeks, &mut shutdown, out)
            .await?;
        if *shutdown.borrow() {
            running.stop().await;
            writeln!(out, "demo stopped; its readings stay in {}", db.display())?;
            return Ok(());
        }
        print_coverage(&config, out)?;
    }
    steer.set(origin, DEMO_SPEED);
    let state = Arc::new(crate::http::Inner::new(
        config.clone(),
        store.clone(),
        clock,
    ));
    let pages = tokio::spawn(crate::http::serve(web, state.clone(), shutdown.clone()));
    let deliverer = state.deliverer()?;
    let deliveries = tokio::spawn({
        let shutdown = shutdown.clone();
        async move { deliverer.run(shutdown).await }
    });
    let told = sink.lines.clone();
    let mut round = 0;
    let entries = Arc::new(config.devices.clone());
    let result = collector::run(
        config,
        tokio::sync::watch::channel(entries).1,
        snmp,
        store,
        clock,
        shutdown,
        |r: Round<'_>| {
            round += 1;
            state.changed.notify_one();
            let _ = print_round(out, round, clock.now(), &r, &notes).and_then(|()| out.flush());
            let lines = std::mem::take(&mut *told.lock().expect("sink lock"));
            for line in lines {
                let _ = writeln!(out, "  notified: {line}");
            }
        },
    )
    .await;
    if let Ok(Err(e)) = pages.await {
        tracing::error!("the demo's web pages: {e}");
    }
    let _ = deliveries.await;
    running.stop().await;
    writeln!(out, "demo stopped; its readings stay in {}", db.display())?;
    Ok(result?)
}

/// The demo's history: its fleet polled over SNMP at 08:00, 12:00 and 16:00
/// (Oslo) of every working day of the weeks before the live demo starts,
/// with the clock set to each instant, so a fresh demo database has months
/// of readings (cartridges used, uptime) in seconds.
struct History<'a> {
    config: &'a config::Config,
    snmp: &'a Arc<crate::snmp::Snmp>,
    store: &'a Arc<Mutex<Store>>,
    steer: &'static clock::Steer,
    agent: &'a agent::Running,
}

/// The hours of the day the history polls at; each round's interval is
/// the time to the next, so every working hour has evidence.
const HISTORY_HOURS: [u32; 3] = [8, 12, 16];

impl History<'_> {
    async fn poll(
        &self,
        origin: DateTime<Utc>,
        weeks: u32,
        shutdown: &mut watch::Receiver<bool>,
        out: &mut dyn Write,
    ) -> anyhow::Result<()> {
        let started = clock::Stopwatch::start();
        // No waiting for the slow device: its slowness is for the live rounds.
        self.agent.set_delays(Duration::ZERO, Duration::ZERO);
        let config = Arc::new(self.config.clone());
        let entries = config.devices.clone();
        let hints = collector::ProfileHints::default();
        let calendar = crate::uptime::Calendar::default();
        let last = origin.with_timezone(&Oslo).date_naive();
        let first = last - TimeDelta::weeks(i64::from(weeks));
        writeln!(
            out,
            "history: polling the fleet at 08:00, 12:00 and 16:00 of every working day from {first} to {}",
            last.pred_opt().unwrap_or(last)
        )?;
        out.flush()?;
        let (mut rounds, mut polls) = (0usize, 0usize);
        let mut day = first;
        while day < last && !*shutdown.borrow() {
            if calendar.is_working_day(day) {
                for hour in HISTORY_HOURS {
                    if *shutdown.borrow() {
                        break;
                    }
                    let Some(at) = Oslo
                        .from_local_datetime(&day.and_time(NaiveTime::MIN))
                        .earliest()
                        .map(|t| t.with_timezone(&Utc) + TimeDelta::hours(i64::from(hour)))
                    else {
                        continue;
                    };
                    self.steer.set(at, 0);
                    let polled = collector::poll_round(
                        &config,
                        &entries,
                        self.snmp,
                        &hints,
                        Clock::Steered(self.steer),
                        shutdown,
                    )
                    .await;
                    let round = polled.round(entries.len(), Some(Duration::from_secs(4 * 3600)));
                    polls += polled.records.len();
                    collector::store_round(self.store, round, polled.records).await?;
                    rounds += 1;
                }
            }
            day = day.succ_opt().unwrap_or(last);
            if day.weekday() == chrono::Weekday::Mon {
                write!(out, ".")?;
                out.flush()?;
            }
        }
        self.agent.set_delays(DEMO_DELAY, DEMO_SLOW_DELAY);
        writeln!(
            out,
            "\nhistory: {rounds} rounds, {polls} polls in {:.1} s",
            started.elapsed().as_secs_f64()
        )?;
        Ok(())
    }
}

/// Each toner's real coverage over the history, as `telleverk supplies`
/// shows it: the normal users and those heading for extra-supply invoices.
fn print_coverage(config: &config::Config, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut items = super::billing::supply_items(config, None)?;
    // Each black toner with a rated yield, and the colour toners heading
    // above the contract.
    let (mut unrated, mut colour) = (0, 0);
    for d in &mut items {
        d.supplies.retain(|s| match &s.coverage {
            None => false,
            Some(c) if c.no_coverage.is_some() => {
                unrated += 1;
                false
            }
            Some(c) if s.colour.as_deref() != Some("black") && !c.over_tolerance => {
                colour += 1;
                false
            }
            Some(_) => true,
        });
    }
    write!(out, "{}", output::coverage_text(&items))?;
    writeln!(
        out,
        "and {colour} colour toners within the contract, {unrated} toners without a rated yield (telleverk supplies shows each)"
    )?;
    Ok(())
}

/// Where simulated time starts: Monday 07:00 (Oslo) two weeks back, so a long
/// demo still stays in the past; or just after the demo database's latest
/// poll, so a second run carries on where the first stopped.
fn demo_origin(now: DateTime<Utc>, latest: Option<DateTime<Utc>>) -> DateTime<Utc> {
    let today = now.with_timezone(&Oslo).date_naive() - TimeDelta::days(14);
    let monday = today - TimeDelta::days(i64::from(today.weekday().num_days_from_monday()));
    let seven = NaiveTime::from_hms_opt(7, 0, 0).expect("a valid time");
    let start = Oslo
        .from_local_datetime(&monday.and_time(seven))
        .earliest()
        .map_or(now, |t| t.with_timezone(&Utc));
    match latest {
        Some(latest) if latest >= start => latest + TimeDelta::minutes(1),
        _ => start,
    }
}

fn oslo_time(at: DateTime<Utc>) -> String {
    at.with_timezone(&Oslo)
        .format("%a %d %b %Y %H:%M Oslo")
        .to_string()
}

fn print_round(
    out: &mut dyn Write,
    round: u64,
    now: DateTime<Utc>,
    r: &Round<'_>,
    notes: &[Option<&str>],
) -> std::io::Result<()> {
    let abandoned = r
        .records
        .iter()
        .filter(|rec| {
            matches!(
                rec.outcome,
                crate::record::Outcome::Failed {
                    cause: crate::record::FailureCause::Aborted,
                    ..
                }
            )
        })
        .count();
    let cut = if abandoned > 0 {
        format!(" · cut short by the stop: {abandoned} polls abandoned")
    } else {
        String::new()
    };
    writeln!(
        out,
        "\n── round {round} · {} (simulated) · {} of {} answered · {:.1} s{cut}",
        oslo_time(now),
        r.summary.polls,
        r.records.len(),
        r.elapsed.as_secs_f64()
    )?;
    write!(out, "{}", output::glance_table(r.records, notes))?;
    // One line per device and kind of event, however many meters it touched.
    let mut shown: Vec<(&str, &str)> = Vec::new();
    for e in &r.summary.events {
        let key = (e.kind.as_str(), e.serial.as_deref().unwrap_or(""));
        if shown.contains(&key) {
            continue;
        }
        shown.push(key);
        let more = r
            .summary
            .events
            .iter()
            .filter(|o| (o.kind.as_str(), o.serial.as_deref().unwrap_or("")) == key)
            .count()
            - 1;
        let more = match more {
            0 => String::new(),
            n => format!(" (and {n} more meters)"),
        };
        writeln!(out, "event: {} {}: {}{more}", key.1, key.0, e.detail)?;
    }
    Ok(())
}

/// The demo's log sink: a webhook receiver on 127.0.0.1 that checks each
/// notification's signature and keeps a line of it for the demo to print
/// after the round.
struct LogSink {
    url: String,
    secret: String,
    lines: Arc<Mutex<Vec<String>>>,
}

impl LogSink {
    async fn start(secret: String, shutdown: watch::Receiver<bool>) -> anyhow::Result<LogSink> {
        use axum::body::Bytes;
        use axum::http::{HeaderMap, StatusCode};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("cannot listen for the demo's log sink on 127.0.0.1")?;
        let url = format!("http://{}/notify", listener.local_addr()?);
        let lines: Arc<Mutex<Vec<String>>> = Arc::default();
        // The ids taken: a notification sent again (at least once) is
        // answered and not printed twice.
        let seen: Arc<Mutex<std::collections::HashSet<String>>> = Arc::default();
        let (key, kept) = (secret.clone(), lines.clone());
        let take = move |headers: HeaderMap, body: Bytes| {
            let (key, kept, seen) = (key.clone(), kept.clone(), seen.clone());
            async move {
                let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
                let signed = header(crate::notify::deliver::SIGNATURE_HEADER).unwrap_or("");
                if !crate::notify::deliver::verify(key.as_bytes(), &body, signed) {
                    let line = "refused a notification: its signature does not match";
                    kept.lock().expect("sink lock").push(line.to_owned());
                    return StatusCode::UNAUTHORIZED;
                }
                let message = match serde_json::from_slice::<crate::notify::Message>(&body) {
                    Ok(m) => m,
                    Err(e) => {
                        let line = format!("refused a notification: {e}");
                        kept.lock().expect("sink lock").push(line);
                        return StatusCode::BAD_REQUEST;
                    }
                };
                let id = header(crate::notify::deliver::DELIVERY_HEADER).unwrap_or(message.id());
                if seen.lock().expect("sink lock").insert(id.to_owned()) {
                    kept.lock().expect("sink lock").push(message.summary());
                }
                StatusCode::NO_CONTENT
            }
        };
        let router = axum::Router::new().route("/notify", axum::routing::post(take));
        let mut stop = shutdown;
        tokio::spawn(async move {
            let served = axum::serve(listener, router).with_graceful_shutdown(async move {
                let _ = stop.wait_for(|s| *s).await;
            });
            if let Err(e) = served.await {
                tracing::error!("the demo's log sink: {e}");
            }
        });
        Ok(LogSink { url, secret, lines })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_starts_on_a_monday_morning_two_weeks_back_or_after_its_last_poll() {
        // Saturday 2026-11-21 12:00 Oslo: two weeks back is Saturday 7 Nov,
        // whose Monday is 2 November; 07:00 CET is 06:00 UTC.
        let now = Utc.with_ymd_and_hms(2026, 11, 21, 11, 0, 0).unwrap();
        let start = Utc.with_ymd_and_hms(2026, 11, 2, 6, 0, 0).unwrap();
        assert_eq!(demo_origin(now, None), start);
        let earlier = Utc.with_ymd_and_hms(2026, 10, 1, 6, 0, 0).unwrap();
        assert_eq!(demo_origin(now, Some(earlier)), start);
        let later = Utc.with_ymd_and_hms(2026, 11, 4, 9, 30, 0).unwrap();
        assert_eq!(
            demo_origin(now, Some(later)),
            Utc.with_ymd_and_hms(2026, 11, 4, 9, 31, 0).unwrap()
        );
    }
}
