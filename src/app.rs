//! Wiring: each command as a function that takes its inputs (config, output
//! stream, shutdown signal) and runs the modules together.

use std::io::Write;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use async_snmp::{DesSaltState, PersistedDesSaltState};
use chrono::{DateTime, Utc};
use tokio::sync::watch;

use crate::clock::Clock;
use crate::collector::{self, ProfileHints};
use crate::config::{Config, SecretUse};
use crate::output;
use crate::scheduler::MailStatus;
use crate::snmp::{Credentials, Options, PrivProtocol, Snmp};
use crate::storage::{Purpose, Store};

/// A usage or input error (exit code 2), as opposed to a runtime failure (1).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InputError(pub String);

mod billing;
mod discover;
mod fleet;

pub use billing::{
    ReadingKey, check_invoice, find_contract, import_readings, invoices, reconcile, supplies,
    uptime, withdraw_reading,
};
pub use discover::{Discover, discover};
pub use fleet::{Simulate, demo, simulate};

/// The names an error offers instead: "a, b" or "none".
/// What is known instead of `given`: every name when there are a few, else
/// the three closest to it and how many there are.
fn known_list<S: AsRef<str>>(given: &str, names: &[S]) -> String {
    const ALL_UP_TO: usize = 5;
    if names.is_empty() {
        return "none".to_owned();
    }
    let mut names: Vec<&str> = names.iter().map(AsRef::as_ref).collect();
    if names.len() <= ALL_UP_TO {
        return names.join(", ");
    }
    let given = given.to_lowercase();
    names.sort_by_key(|n| (strsim::damerau_levenshtein(&given, &n.to_lowercase()), *n));
    format!("closest {}; {} in all", names[..3].join(", "), names.len())
}

/// Opens the configured database, in a folder that exists.
pub fn open_store(config: &Config) -> anyhow::Result<Store> {
    check_storage_path(config, false)?;
    let mut store = Store::open(&config.storage)?;
    outbox_for(config, &mut store)?;
    Ok(store)
}

/// Opens the configured database to write real readings into: never a demo's.
fn open_production_store(config: &Config) -> anyhow::Result<Store> {
    open_claimed(config, false)
}

/// The configured database claimed for real readings (`polls`: by `poll`
/// or `serve`, which may make the default one), then its outbox.
fn open_claimed(config: &Config, polls: bool) -> anyhow::Result<Store> {
    check_storage_path(config, polls)?;
    let mut store = Store::open(&config.storage)?;
    store.claim(Purpose::Production)?;
    outbox_for(config, &mut store)?;
    store.rekey_entries(&legacy_keys(config))?;
    Ok(store)
}

/// Each community entry's key in an older database, and its key now.
pub fn legacy_keys(config: &Config) -> Vec<(String, String)> {
    config
        .devices
        .iter()
        .filter_map(|d| Some((d.legacy_key()?, d.key.clone())))
        .collect()
}

/// As [`open_production_store`] for `poll` and `serve`, which may create
/// the folder of the default database on their first run.
fn open_polling_store(config: &Config) -> anyhow::Result<Store> {
    open_claimed(config, true)
}

/// A site (`[upstream]`) queues what it stores for the central server,
/// whichever command stores it; a database with history that has never
/// forwarded plans that history first, and the log says so. A database that
/// forwarded before and now runs without `[upstream]` is warned about: what
/// it stores then is never forwarded.
fn outbox_for(config: &Config, store: &mut Store) -> anyhow::Result<()> {
    if let Some(b) = store.set_outbox(config.upstream.is_some())? {
        let local = |ms: Option<i64>| {
            ms.and_then(chrono::DateTime::from_timestamp_millis)
                .map(|at| {
                    at.with_timezone(&chrono_tz::Europe::Oslo)
                        .format("%Y-%m-%d %H:%M")
                        .to_string()
                })
                .unwrap_or_else(|| "-".to_owned())
        };
        tracing::info!(
            polls = b.polls,
            failed_polls = b.failed,
            from = %local(b.first),
            to = %local(b.last),
            entered_readings = b.entered,
            withdrawals = b.withdrawn,
            items = b.items,
            "this database's history is queued to forward to the central server, before anything stored from now"
        );
    } else if config.upstream.is_none() && store.has_outbox()? {
        tracing::warn!(
            database = %config.storage.shown(),
            "this database forwarded to a central server before, and this config has no [upstream]: \
             what is stored now is never forwarded, and the central's series of these devices will have a gap"
        );
    }
    Ok(())
}

/// A mistyped `[storage] path` is an error (exit 2) that names it, never a
/// new empty database in folders made for it: the path must not be a
/// folder, and its folder must exist — unless `polls` (the first `poll` or
/// `serve`) and the path is the default one.
fn check_storage_path(config: &Config, polls: bool) -> Result<(), InputError> {
    let Some(path) = config.storage.file() else {
        return Ok(());
    };
    let shown = path.display();
    if path.is_dir() {
        return Err(InputError(format!(
            "[storage] path {shown} in {} is a folder: give the database's file, e.g. {}",
            config.file.display(),
            path.join("telleverk.db").display()
        )));
    }
    let folder = path.parent().filter(|f| !f.as_os_str().is_empty());
    let may_create = polls && path == crate::config::default_storage_path(&config.file);
    match folder {
        Some(folder) if !folder.is_dir() && !may_create => Err(InputError(format!(
            "[storage] path {shown} in {}: the folder {} does not exist; correct the path, \
             or create the folder first",
            config.file.display(),
            folder.display()
        ))),
        _ => Ok(()),
    }
}

/// An error and its causes as one line, each fact once: a cause whose text
/// the message before it already holds (an error type that writes its
/// source into its own message) is not repeated.
pub fn error_text(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

/// Whether an error is the user's to fix (exit code 2): a bad config, a bad
/// argument, or a database that is for something else.
pub fn is_input_error(e: &anyhow::Error) -> bool {
    e.is::<crate::config::ConfigError>()
        || e.is::<InputError>()
        || matches!(
            e.downcast_ref::<crate::storage::Error>(),
            Some(crate::storage::Error::Purpose { .. })
        )
}

/// The SNMP client for a config; DES privacy gets its durable salt state from
/// the database.
pub fn snmp_client(config: &Config, store: &Store) -> anyhow::Result<Snmp> {
    let options = Options {
        timeout: config.collector.timeout,
        retries: config.collector.retries,
        ..Options::default()
    };
    let uses_des = config.devices.iter().any(|d| {
        matches!(&d.credentials, Credentials::V3(v3) if matches!(v3.privacy, Some((PrivProtocol::Des, _))))
    });
    let des = if uses_des {
        Some(des_state(store)?)
    } else {
        None
    };
    Ok(Snmp::new(options, des))
}

/// Advances the stored DES salt epoch so no salt is ever used twice, even
/// across restarts.
fn des_state(store: &Store) -> anyhow::Result<DesSaltState> {
    let previous = store.des_epoch()?;
    let cas = |p: &PersistedDesSaltState| -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        match store.set_des_epoch(previous, p.engine_boots()) {
            Ok(true) => Ok(()),
            Ok(false) => Err("another telleverk moved the DES salt epoch at the same time".into()),
            Err(e) => Err(Box::new(e)),
        }
    };
    let state = match previous {
        None => DesSaltState::install(cas),
        Some(epoch) => DesSaltState::restart(
            PersistedDesSaltState::new(epoch).context("stored DES salt epoch")?,
            cas,
        ),
    };
    state.context("cannot set up SNMPv3 DES privacy")
}

/// `telleverk check-config FILE`: what a valid config sets up, in a few
/// lines (loading it checked everything).
pub fn check_config(config: &Config, out: &mut dyn Write) -> anyhow::Result<()> {
    let c = &config.collector;
    let db_state = match config.storage.file() {
        None => "PostgreSQL: the first poll or serve creates its tables",
        Some(db) if db.exists() => "exists",
        Some(_) => "not made yet: the first poll or serve makes it",
    };
    let by_version =
        |v: crate::snmp::Version| config.devices.iter().filter(|d| d.version == v).count();
    let roles = |r: &str| {
        config
            .http
            .tokens
            .iter()
            .filter(|t| t.role.name() == r)
            .count()
    };
    let contracts: Vec<&str> = config.contracts.iter().map(|c| c.id.as_str()).collect();
    let reports: Vec<&str> = config.reports.iter().map(|r| r.name.as_str()).collect();
    let none_or = |list: &[&str]| {
        if list.is_empty() {
            "none".to_owned()
        } else {
            list.join(", ")
        }
    };
    writeln!(out, "{} is valid", config.file.display())?;
    writeln!(out, "  database:  {} ({db_state})", config.storage.shown())?;
    writeln!(
        out,
        "  polling:   every {}, {} at once, {} a request × {} tries, at most {} a device",
        humantime::format_duration(c.interval),
        c.concurrency,
        humantime::format_duration(c.timeout),
        c.retries + 1,
        humantime::format_duration(c.device_timeout)
    )?;
    writeln!(
        out,
        "  devices:   {} polled (v1 {}, v2c {}, v3 {}), {} read by hand",
        config.devices.len(),
        by_version(crate::snmp::Version::V1),
        by_version(crate::snmp::Version::V2c),
        by_version(crate::snmp::Version::V3),
        config.hand_read.len()
    )?;
    writeln!(out, "  contracts: {}", none_or(&contracts))?;
    writeln!(
        out,
        "  web API:   {}, {} tokens (viewer {}, operator {}, admin {}, collector {})",
        config.http.listen,
        config.http.tokens.len(),
        roles("viewer"),
        roles("operator"),
        roles("admin"),
        roles("collector")
    )?;
    let sites: Vec<&str> = config
        .http
        .tokens
        .iter()
        .filter_map(|t| t.site.as_deref())
        .collect();
    if !sites.is_empty() {
        writeln!(
            out,
            "  central:   takes batches from sites {}",
            sites.join(", ")
        )?;
    }
    match (&config.site, &config.upstream) {
        (Some(site), Some(up)) => writeln!(
            out,
            "  site:      {site}, forwards to {}{}",
            up.url,
            up.ca_file
                .as_ref()
                .map(|f| format!(" (CA {})", f.display()))
                .unwrap_or_default()
        )?,
        (Some(site), None) => {
            writeln!(out, "  site:      {site}, forwards nowhere (no [upstream])")?
        }
        _ => {}
    }
    writeln!(out, "  reports:   {}", none_or(&reports))?;
    for n in &config.notify {
        let kinds = if n.kinds.len() == crate::alerts::Kind::ALL.len() {
            "every kind".to_owned()
        } else {
            n.kinds
                .iter()
                .map(|k| k.name())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let to: Vec<String> = n
            .email_to
            .iter()
            .cloned()
            .chain(
                n.webhook
                    .as_ref()
                    .map(|w| format!("webhook {}", crate::config::shown_destination(&w.url))),
            )
            .collect();
        let how = match &n.digest {
            Some(d) => format!("a digest on \"{}\"", d.text()),
            None => "each alert".to_owned(),
        };
        writeln!(out, "  notify:    {} of {kinds}, {how}", to.join(", "))?;
    }
    let d = &config.discovery;
    if !d.credentials.is_empty() || !d.ranges.is_empty() {
        let scans = if d.ranges.is_empty() {
            "serve scans no ranges".to_owned()
        } else {
            format!(
                "serve scans {} addresses on port {} every {}{}",
                d.ranges
                    .iter()
                    .map(crate::discover::Range::len)
                    .sum::<u64>(),
                d.port,
                humantime::format_duration(d.rediscover),
                if d.auto_add {
                    ", polls new bizhubs (auto_add)"
                } else {
                    ""
                }
            )
        };
        writeln!(
            out,
            "  discovery: {} credentials; {scans}",
            d.credentials.len()
        )?;
    }
    for unset in &config.unset_secrets {
        let who = match unset.used_by {
            SecretUse::Devices => "poll and serve need it",
            SecretUse::Api => "serve needs it",
            SecretUse::Mail => "serve and report run need it",
            SecretUse::Notify => "serve needs it to sign webhooks",
            SecretUse::Upstream => "serve needs it to forward to the central server",
            SecretUse::Discovery if config.discovery.ranges.is_empty() => "discover needs it",
            SecretUse::Discovery => "discover and serve need it",
        };
        writeln!(out, "  not set here: {} ({who})", unset.error)?;
    }
    Ok(())
}

/// `telleverk poll --once`: one round over every entry, stored, then a
/// summary (a table, or one JSON object per entry and line).
pub async fn poll_once(config: Config, json: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    config.require(&[SecretUse::Devices])?;
    if config.devices.is_empty() && !config.discovery.auto_add {
        writeln!(
            out,
            "no devices configured in {}: nothing polled",
            config.file.display()
        )?;
        return Ok(());
    }
    let store = open_polling_store(&config)?;
    // The config's entries where they were last found, and the devices
    // discovery added.
    let entries = collector::discovery::targets_after(&config, &store)?;
    let snmp = Arc::new(snmp_client(&config, &store)?);
    let store = Arc::new(Mutex::new(store));
    let config = Arc::new(config);
    let (_keep, mut never) = watch::channel(false);
    let started = crate::clock::Stopwatch::start();
    // The CPU of the poll alone (not start-up or storing), for benches/poll_cpu.sh.
    let cpu_before = crate::process::cpu_seconds();
    let polled = collector::poll_round(
        &config,
        &entries,
        &snmp,
        &ProfileHints::default(),
        Clock::System,
        &mut never,
    )
    .await;
    let round = polled.round(entries.len(), None);
    let polled_in = started.elapsed();
    let polling_cpu = cpu_before
        .zip(crate::process::cpu_seconds())
        .map(|(before, after)| after - before);
    let (summary, records) = collector::store_round(&store, round, polled.records).await?;
    if json {
        for r in &records {
            writeln!(
                out,
                "{}",
                serde_json::to_string(&output::poll_line(r, &config.display))?
            )?;
        }
    } else {
        write!(out, "{}", output::poll_table(&records))?;
        writeln!(
            out,
            "{} of {} entries answered; stored {} meter values, {} supply values, {} events",
            summary.polls,
            records.len(),
            summary.meter_values,
            summary.supply_values,
            summary.events.len()
        )?;
        writeln!(
            out,
            "round: polled in {:.2} s, stored in {:.2} s; {:.2} requests per entry; {}",
            polled_in.as_secs_f64(),
            (started.elapsed() - polled_in).as_secs_f64(),
            snmp.requests() as f64 / records.len() as f64,
            resources(polling_cpu)
        )?;
        for e in &summary.events {
            let serial = e.serial.as_deref().unwrap_or("-");
            writeln!(out, "event: {} {serial}: {}", e.kind, e.detail)?;
        }
    }
    Ok(())
}

/// "CPU 1.23 s (polling 0.98 s), peak RSS 45.6 MB" for this process, when the
/// system says.
fn resources(polling: Option<f64>) -> String {
    let cpu = crate::process::cpu_seconds().map_or("CPU ?".into(), |s| format!("CPU {s:.2} s"));
    let cpu = match polling {
        Some(p) => format!("{cpu} (polling {p:.2} s)"),
        None => cpu,
    };
    let rss = crate::process::peak_rss_bytes().map_or("peak RSS ?".into(), |b| {
        format!("peak RSS {:.1} MB", b as f64 / 1e6)
    });
    format!("{cpu}, {rss}")
}

/// `telleverk serve`: binds `[http] listen`, then runs as [`serve_on`].
pub async fn serve(config: Config, shutdown: watch::Receiver<bool>) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(config.http.listen)
        .await
        .with_context(|| format!("cannot listen on {} ([http] listen)", config.http.listen))?;
    serve_on(config, listener, Clock::System, shutdown).await
}

/// Runs the collector and the API side by side until `shutdown` turns true:
/// the collector finishes the write in flight, the API the requests in flight.
pub async fn serve_on(
    config: Config,
    listener: tokio::net::TcpListener,
    clock: Clock,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    config.require(&[
        SecretUse::Devices,
        SecretUse::Api,
        SecretUse::Mail,
        SecretUse::Notify,
        SecretUse::Upstream,
    ])?;
    if !config.discovery.ranges.is_empty() {
        config.require(&[SecretUse::Discovery])?;
    }
    let store = open_polling_store(&config)?;
    let (entries, polled) = watch::channel(Arc::new(collector::discovery::targets_after(
        &config, &store,
    )?));
    let snmp = Arc::new(snmp_client(&config, &store)?);
    let store = Arc::new(Mutex::new(store));
    let config = Arc::new(config);
    let state = Arc::new(crate::http::Inner::new(
        config.clone(),
        store.clone(),
        clock,
    ));
    tracing::info!(
        devices = config.devices.len(),
        discovered = polled.borrow().len() - config.devices.len(),
        interval = ?config.collector.interval,
        database = %config.storage.shown(),
        api = %listener.local_addr()?,
        tokens = config.http.tokens.len(),
        "telleverk serving"
    );
    if config.http.tokens.is_empty() {
        tracing::warn!("no [[http.token]] configured: every /api/v1 request will be refused");
    }
    let api = crate::http::serve(listener, state.clone(), shutdown.clone());
    let scheduler = state.runner.run_schedule(shutdown.clone());
    let deliverer = state.deliverer()?;
    let deliveries = deliverer.run(shutdown.clone());
    let notify = state.clone();
    let forward_wake = Arc::new(tokio::sync::Notify::new());
    let forwarder = match (&config.site, &config.upstream) {
        (Some(site), Some(upstream)) => Some(crate::forward::Forwarder::new(
            site,
            upstream,
            store.clone(),
            clock,
            forward_wake.clone(),
        )?),
        _ => None,
    };
    let forwarding = {
        let shutdown = shutdown.clone();
        async move {
            if let Some(f) = forwarder {
                f.run(shutdown).await;
            }
        }
    };
    let discovery = collector::discovery::run(
        config.clone(),
        store.clone(),
        clock,
        entries,
        shutdown.clone(),
    );
    let collector = collector::run(config, polled, snmp, store, clock, shutdown, move |round| {
        notify.metrics.record(&round);
        collector::log_round(round);
        notify.changed.notify_one();
        forward_wake.notify_one();
    });
    tokio::try_join!(
        async { api.await.context("the web API failed") },
        async { collector.await.context("the collector failed") },
        async { scheduler.await.context("the report scheduler failed") },
        async {
            discovery.await;
            Ok(())
        },
        async {
            deliveries.await;
            Ok(())
        },
        async {
            forwarding.await;
            Ok(())
        },
    )?;
    tracing::info!("telleverk stopped");
    Ok(())
}

/// `telleverk report run`: runs a `[[report]]` now and says what it did.
/// A report that could not be written is an error; a mail that could not be
/// sent is one too, though the file stays and `serve` sends it at its start.
pub async fn report_run(config: Config, name: &str, out: &mut dyn Write) -> anyhow::Result<()> {
    config.require(&[SecretUse::Mail])?;
    let Some(report) = config.report(name).cloned() else {
        let known: Vec<&str> = config.reports.iter().map(|r| r.name.as_str()).collect();
        return Err(InputError(format!(
            "no [[report]] named `{name}` in {} (known: {})",
            config.file.display(),
            known_list(name, &known)
        ))
        .into());
    };
    let store = open_production_store(&config)?;
    let runner =
        crate::scheduler::Runner::new(Arc::new(config), Arc::new(Mutex::new(store)), Clock::System);
    let outcome = runner.run_now(&report).await?;
    let file = match &outcome.file {
        Ok(file) => file,
        Err(error) => anyhow::bail!("report `{name}` ({}) failed: {error}", outcome.period),
    };
    writeln!(
        out,
        "report `{name}` ({}) written to {}",
        outcome.period,
        file.display()
    )?;
    match &outcome.mail {
        MailStatus::NotMailed => {}
        MailStatus::Sent => writeln!(out, "mailed to {}", report.email_to.join(", "))?,
        MailStatus::Failed(e) => anyhow::bail!(
            "the file is written, but mailing it failed: {e} \
             (`telleverk serve` tries again when it starts)"
        ),
    }
    Ok(())
}

/// `telleverk token new`: a fresh random token, printed once, and the config
/// block that holds only its hash.
/// A new API token: `tlv_` and 32 random bytes in hex.
pub(crate) fn new_token() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| anyhow::anyhow!("no randomness from the system: {e}"))?;
    Ok(std::iter::once("tlv_".to_owned())
        .chain(bytes.iter().map(|b| format!("{b:02x}")))
        .collect())
}

pub fn token_new(
    name: &str,
    role: &str,
    site: Option<&str>,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let name = name.trim();
    if name.is_empty() || name.contains('"') || name.contains('\\') {
        return Err(InputError(
            "--name must be a non-empty name without quotes or backslashes".into(),
        )
        .into());
    }
    let role = crate::config::Role::parse(role.trim()).ok_or_else(|| {
        InputError(format!(
            "--role `{role}` is not a role: use viewer, operator, admin or collector"
        ))
    })?;
    match (role, site) {
        (crate::config::Role::Collector, None) => {
            return Err(InputError(
                "--role collector needs --site: the one site whose readings it forwards".into(),
            )
            .into());
        }
        (crate::config::Role::Collector, Some(s)) if !crate::wire::site_name_ok(s) => {
            return Err(
                InputError(format!("--site `{s}` {}", crate::config::SITE_NAME_RULE)).into(),
            );
        }
        (crate::config::Role::Collector, Some(_)) | (_, None) => {}
        (_, Some(_)) => {
            return Err(InputError(
                "--site binds a collector token to its site; a viewer, operator or admin reads every site".into(),
            )
            .into());
        }
    }
    let token = new_token()?;
    let hash = crate::config::hash_text(&crate::config::token_hash(&token));
    writeln!(out, "token (shown only now; give it to {name}): {token}")?;
    writeln!(out)?;
    writeln!(out, "Paste into the config; it keeps only the hash:")?;
    writeln!(out)?;
    writeln!(out, "[[http.token]]")?;
    writeln!(out, "name = \"{name}\"")?;
    writeln!(out, "role = \"{}\"", role.name())?;
    if let Some(site) = site {
        writeln!(out, "site = \"{site}\"")?;
    }
    writeln!(out, "hash = \"{hash}\"")?;
    Ok(())
}

/// `telleverk readings`: a device's stored readings.
pub fn readings(
    config: &Config,
    serial: &str,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    if config.storage.file().is_some_and(|p| !p.exists()) {
        return Err(InputError(format!(
            "no database at {} yet: run `telleverk poll --once` first",
            config.storage.shown()
        ))
        .into());
    }
    let store = open_store(config)?;
    let Some(readings) = store.readings(serial, from, to)? else {
        let known = store.serials()?;
        return Err(InputError(format!(
            "no device with serial `{serial}` in {} (known: {})",
            config.storage.shown(),
            known_list(serial, &known)
        ))
        .into());
    };
    if json {
        for r in &readings {
            writeln!(
                out,
                "{}",
                serde_json::to_string(&output::reading_line(serial, r, &config.display))?
            )?;
        }
    } else {
        write!(
            out,
            "{}",
            output::readings_table(&readings, &config.display)
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_that_holds_its_source_is_printed_once() {
        let io = std::io::Error::new(std::io::ErrorKind::IsADirectory, "Is a directory");
        let e = anyhow::Error::from(crate::storage::Error::Folder {
            path: "/srv/db".into(),
            source: io,
        })
        .context("cannot open the database");
        assert_eq!(
            error_text(&e),
            "cannot open the database: database /srv/db: cannot create its folder: Is a directory"
        );
    }

    #[test]
    fn an_unknown_name_lists_the_few_known_or_the_closest_of_many() {
        assert_eq!(super::known_list("K3", &["K1", "K2"]), "K1, K2");
        assert_eq!(super::known_list::<&str>("K3", &[]), "none");
        let serials: Vec<String> = (0..1000).map(|i| format!("AA2J02100{i:04}")).collect();
        assert_eq!(
            super::known_list("AA2J021000O42", &serials),
            "closest AA2J021000042, AA2J021000142, AA2J021000242; 1000 in all"
        );
    }
}
