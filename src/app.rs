//! Wiring: each command as a function that takes its inputs (config, output
//! stream, shutdown signal) and runs the modules together.

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use async_snmp::{DesSaltState, PersistedDesSaltState};
use chrono::{DateTime, Utc};
use tokio::sync::watch;

use crate::clock::Clock;
use crate::collector::{self, ProfileHints};
use crate::config::{Config, Credentials, PrivProtocol};
use crate::output;
use crate::snmp::{Options, Snmp};
use crate::storage::{Purpose, Store};

/// A usage or input error (exit code 2), as opposed to a runtime failure (1).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InputError(pub String);

mod billing;
mod fleet;

pub use billing::{import_readings, invoices, reconcile};
pub use fleet::{Simulate, demo, simulate};

/// Opens the configured database.
pub fn open_store(config: &Config) -> anyhow::Result<Store> {
    Ok(Store::open(&config.storage_path)?)
}

/// Opens the configured database to write real readings into: never a demo's.
fn open_production_store(config: &Config) -> anyhow::Result<Store> {
    let store = open_store(config)?;
    store.claim(Purpose::Production)?;
    Ok(store)
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

/// `telleverk poll --once`: one round over every entry, stored, then a
/// summary (a table, or one JSON object per entry and line).
pub async fn poll_once(config: Config, json: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    if config.devices.is_empty() {
        writeln!(
            out,
            "no devices configured in {}: nothing polled",
            config.file.display()
        )?;
        return Ok(());
    }
    let store = open_production_store(&config)?;
    let snmp = Arc::new(snmp_client(&config, &store)?);
    let store = Arc::new(Mutex::new(store));
    let config = Arc::new(config);
    let (_keep, mut never) = watch::channel(false);
    let started = std::time::Instant::now();
    let records = collector::poll_round(
        &config,
        &snmp,
        &ProfileHints::default(),
        Clock::System,
        &mut never,
    )
    .await;
    let polled = started.elapsed();
    let (summary, records) = collector::store_round(&store, records).await?;
    if json {
        for r in &records {
            writeln!(out, "{}", output::poll_json(r))?;
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
            polled.as_secs_f64(),
            (started.elapsed() - polled).as_secs_f64(),
            snmp.requests() as f64 / records.len() as f64,
            resources()
        )?;
        for e in &summary.events {
            let serial = e.serial.as_deref().unwrap_or("-");
            writeln!(out, "event: {} {serial}: {}", e.kind, e.detail)?;
        }
    }
    Ok(())
}

/// "CPU 1.23 s, peak RSS 45.6 MB" for this process, when the system says.
fn resources() -> String {
    let cpu = crate::process::cpu_seconds().map_or("CPU ?".into(), |s| format!("CPU {s:.2} s"));
    let rss = crate::process::peak_rss_bytes().map_or("peak RSS ?".into(), |b| {
        format!("peak RSS {:.1} MB", b as f64 / 1e6)
    });
    format!("{cpu}, {rss}")
}

/// `telleverk serve`: polls every interval until `shutdown` turns true, then
/// finishes the write in flight and returns.
pub async fn serve(config: Config, shutdown: watch::Receiver<bool>) -> anyhow::Result<()> {
    let store = open_production_store(&config)?;
    let snmp = Arc::new(snmp_client(&config, &store)?);
    let store = Arc::new(Mutex::new(store));
    tracing::info!(
        devices = config.devices.len(),
        interval = ?config.collector.interval,
        database = %config.storage_path.display(),
        "telleverk serving"
    );
    collector::run(
        Arc::new(config),
        snmp,
        store,
        Clock::System,
        shutdown,
        collector::log_round,
    )
    .await
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
    if !Path::new(&config.storage_path).exists() {
        return Err(InputError(format!(
            "no database at {} yet: run `telleverk poll --once` first",
            config.storage_path.display()
        ))
        .into());
    }
    let store = open_store(config)?;
    let Some(readings) = store.readings(serial, from, to)? else {
        let known = store.serials();
        return Err(InputError(format!(
            "no device with serial `{serial}` in {} (known: {})",
            config.storage_path.display(),
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        ))
        .into());
    };
    if json {
        for r in &readings {
            writeln!(out, "{}", output::reading_json(serial, r))?;
        }
    } else {
        write!(out, "{}", output::readings_table(&readings))?;
    }
    Ok(())
}
