//! Polling: one task per device entry, at most `concurrency` at once, each bounded
//! by its own SNMP timeouts so a slow or broken device never holds up others;
//! a round's results go to storage in one write.

mod poll;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::MissedTickBehavior;

pub use poll::poll_entry;

use crate::clock::Clock;
use crate::config::Config;
use crate::record::PollRecord;
use crate::snmp::Snmp;
use crate::storage::{RoundSummary, Store};

/// The profile each entry answered with last time, so the next poll can read
/// identity and meters in one request.
pub type ProfileHints = Arc<Mutex<HashMap<String, String>>>;

/// Polls every entry once and returns the records in config order. At most
/// `concurrency` polls run at once, and a poll's task is made only when it can
/// start, so a round's memory follows the concurrency, not the fleet. When
/// `shutdown` fires, polls still running are abandoned and what finished is
/// returned.
pub async fn poll_round(
    config: &Arc<Config>,
    snmp: &Arc<Snmp>,
    hints: &ProfileHints,
    clock: Clock,
    shutdown: &mut watch::Receiver<bool>,
) -> Vec<PollRecord> {
    let mut tasks = JoinSet::new();
    let mut done: Vec<(usize, PollRecord)> = Vec::with_capacity(config.devices.len());
    let mut entries = config.devices.iter().enumerate();
    loop {
        if tasks.len() < config.collector.concurrency.max(1)
            && let Some((i, entry)) = entries.next()
        {
            let (config, snmp, hints) = (config.clone(), snmp.clone(), hints.clone());
            let entry = entry.clone();
            tasks.spawn(async move {
                let hint = hints.lock().expect("hints lock").get(&entry.key).cloned();
                let (record, used) =
                    poll_entry(&snmp, &entry, &config.profiles, hint.as_deref(), &clock).await;
                let mut hints = hints.lock().expect("hints lock");
                match used {
                    Some(profile) => hints.insert(entry.key.clone(), profile),
                    None => hints.remove(&entry.key),
                };
                (i, record)
            });
            continue;
        }
        tokio::select! {
            next = tasks.join_next() => match next {
                Some(Ok(result)) => done.push(result),
                Some(Err(e)) => tracing::error!("a poll task failed: {e}"),
                None => break,
            },
            _ = shutdown.changed() => {
                tracing::info!("stopping: {} polls abandoned", tasks.len());
                tasks.abort_all();
                break;
            }
        }
    }
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

/// The collector had to stop.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Storage(#[from] crate::storage::Error),
    #[error("the task storing a round panicked: {0}")]
    Panicked(#[from] tokio::task::JoinError),
}

/// Writes a round on a blocking thread; hands the records back.
pub async fn store_round(
    store: &Arc<Mutex<Store>>,
    records: Vec<PollRecord>,
) -> Result<(RoundSummary, Vec<PollRecord>), Error> {
    let store = store.clone();
    let (summary, records) = tokio::task::spawn_blocking(move || {
        let mut store = store.lock().expect("store lock");
        store.write_round(&records).map(|s| (s, records))
    })
    .await??;
    Ok((summary, records))
}

/// What happened in one round, for whoever watches the collector.
pub struct Round<'a> {
    pub records: &'a [PollRecord],
    pub summary: &'a RoundSummary,
    pub elapsed: std::time::Duration,
}

/// Polls every `interval` until `shutdown` fires; the round in flight then
/// stores what it has before this returns. `on_round` sees every stored round.
pub async fn run(
    config: Arc<Config>,
    snmp: Arc<Snmp>,
    store: Arc<Mutex<Store>>,
    clock: Clock,
    mut shutdown: watch::Receiver<bool>,
    mut on_round: impl FnMut(Round<'_>),
) -> Result<(), Error> {
    if config.devices.is_empty() {
        tracing::warn!("no devices configured: nothing to poll");
    }
    let hints = ProfileHints::default();
    let mut ticker = tokio::time::interval(config.collector.interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = shutdown.changed() => return Ok(()),
        }
        if *shutdown.borrow() {
            return Ok(());
        }
        let started = crate::clock::Stopwatch::start();
        let records = poll_round(&config, &snmp, &hints, clock, &mut shutdown).await;
        let (summary, records) = store_round(&store, records).await?;
        on_round(Round {
            records: &records,
            summary: &summary,
            elapsed: started.elapsed(),
        });
        if *shutdown.borrow() {
            return Ok(());
        }
    }
}

/// Logs a stored round: what `serve` does with each.
pub fn log_round(round: Round<'_>) {
    tracing::info!(
        devices = round.records.len(),
        ok = round.summary.polls,
        failures = round.summary.failures,
        meter_values = round.summary.meter_values,
        events = round.summary.events.len(),
        elapsed_ms = round.elapsed.as_millis() as u64,
        "poll round stored"
    );
}
