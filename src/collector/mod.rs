//! Polling: one task per device entry, at most `concurrency` at once, each bounded
//! by its own SNMP timeouts so a slow or broken device never holds up others;
//! a round's results go to storage in one write.

pub mod discovery;
#[cfg(test)]
mod fuzz;
mod panics;
mod poll;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::MissedTickBehavior;

pub use poll::poll_entry;

use crate::clock::Clock;
use crate::config::{Config, DeviceEntry};
use crate::record::{FailureCause, Outcome, PollRecord, RoundEnd, RoundRecord};
use crate::snmp::Snmp;
use crate::storage::{RoundSummary, Store};

/// The profile each entry answered with last time, so the next poll can read
/// identity and meters in one request.
pub type ProfileHints = Arc<Mutex<HashMap<String, String>>>;

/// A round's polls, in config order, and how the round went.
pub struct Polled {
    pub records: Vec<PollRecord>,
    pub started: DateTime<Utc>,
    pub ended: DateTime<Utc>,
    pub end: RoundEnd,
}

impl Polled {
    /// The round as stored, at `interval` (None for `poll --once`).
    pub fn round(&self, entries: usize, interval: Option<Duration>) -> RoundRecord {
        RoundRecord {
            started: self.started,
            ended: self.ended,
            interval_ms: interval.map(|i| i64::try_from(i.as_millis()).unwrap_or(i64::MAX)),
            entries,
            end: self.end,
        }
    }
}

/// Polls every entry once and returns the records in config order. At most
/// `concurrency` polls run at once, and a poll's task is made only when it can
/// start, so a round's memory follows the concurrency, not the fleet. Every
/// entry gets a record: a poll task that panics is the entry's `internal`
/// failure; when `shutdown` fires, the polls still running are abandoned and
/// they and the entries not yet started are recorded `aborted`.
pub async fn poll_round(
    config: &Arc<Config>,
    entries: &[DeviceEntry],
    snmp: &Arc<Snmp>,
    hints: &ProfileHints,
    clock: Clock,
    shutdown: &mut watch::Receiver<bool>,
) -> Polled {
    let poll = |entry: DeviceEntry| {
        let (config, snmp, hints) = (config.clone(), snmp.clone(), hints.clone());
        async move {
            let hint = hints.lock().expect("hints lock").get(&entry.key).cloned();
            let (record, used) = poll_entry(
                &snmp,
                &entry,
                &config.profiles,
                hint.as_deref(),
                &clock,
                config.collector.device_timeout,
            )
            .await;
            let mut hints = hints.lock().expect("hints lock");
            match used {
                Some(profile) => hints.insert(entry.key.clone(), profile),
                None => hints.remove(&entry.key),
            };
            record
        }
    };
    round_of(entries, config.collector.concurrency, clock, shutdown, poll).await
}

/// A round of `entries`, `concurrency` at once, with `poll` as the poll of
/// one entry (the tests give their own).
async fn round_of<F>(
    entries: &[DeviceEntry],
    concurrency: usize,
    clock: Clock,
    shutdown: &mut watch::Receiver<bool>,
    poll: impl Fn(DeviceEntry) -> F,
) -> Polled
where
    F: Future<Output = PollRecord> + Send + 'static,
{
    let started = clock.now();
    let mut tasks = JoinSet::new();
    let mut running: HashMap<tokio::task::Id, (usize, panics::Slot)> = HashMap::new();
    let all = entries;
    let mut done: Vec<(usize, PollRecord)> = Vec::with_capacity(all.len());
    let mut entries = all.iter().enumerate();
    let failed = |i: usize, cause, detail: String| {
        let entry = &all[i];
        let record = PollRecord {
            at: clock.now(),
            entry_key: entry.key.clone(),
            address: entry.address.clone(),
            outcome: Outcome::Failed { cause, detail },
        };
        (i, record)
    };
    let end = loop {
        if tasks.len() < concurrency.max(1)
            && let Some((i, entry)) = entries.next()
        {
            let slot = panics::Slot::default();
            let task = panics::catching(slot.clone(), poll(entry.clone()));
            let id = tasks.spawn(task).id();
            running.insert(id, (i, slot));
            continue;
        }
        tokio::select! {
            next = tasks.join_next_with_id() => match next {
                Some(Ok((id, record))) => {
                    if let Some((i, _)) = running.remove(&id) {
                        done.push((i, record));
                    }
                }
                Some(Err(e)) => {
                    if let Some((i, slot)) = running.remove(&e.id()) {
                        let entry = &all[i];
                        let message = panics::message(&slot);
                        tracing::error!(entry = %entry.key, "polling this entry failed inside telleverk (a bug): {message}");
                        done.push(failed(i, FailureCause::Internal, format!("telleverk failed while polling this entry (a bug; please report it): {message}")));
                    }
                }
                None => break RoundEnd::Completed,
            },
            _ = shutdown.changed() => {
                tasks.abort_all();
                let (in_flight, not_started) = (running.len(), entries.len());
                tracing::info!("stopping: {in_flight} polls abandoned, {not_started} entries not polled in this round");
                for (i, _) in running.into_values() {
                    done.push(failed(i, FailureCause::Aborted, "the service stopped while this poll was running; nothing it read was kept".into()));
                }
                for (i, _) in entries {
                    done.push(failed(i, FailureCause::Aborted, "the service stopped before this entry was polled in this round".into()));
                }
                break RoundEnd::Stopped;
            }
        }
    };
    done.sort_by_key(|(i, _)| *i);
    Polled {
        records: done.into_iter().map(|(_, r)| r).collect(),
        started,
        ended: clock.now(),
        end,
    }
}

/// The collector had to stop.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Storage(#[from] crate::storage::Error),
    #[error("the task storing a round panicked: {0}")]
    Panicked(#[from] tokio::task::JoinError),
    #[error("{polls} polls of {rounds} rounds were never stored: {last}")]
    Unstored {
        polls: usize,
        rounds: usize,
        last: crate::storage::Error,
    },
}

/// Writes a round (its polls and its row in the table of rounds) on a
/// blocking thread; hands the records back.
pub async fn store_round(
    store: &Arc<Mutex<Store>>,
    round: RoundRecord,
    records: Vec<PollRecord>,
) -> Result<(RoundSummary, Vec<PollRecord>), Error> {
    let (written, _, records) = write(store, round, records).await?;
    Ok((written?, records))
}

/// Writes a round and hands it back, whether or not it was stored.
async fn write(
    store: &Arc<Mutex<Store>>,
    round: RoundRecord,
    records: Vec<PollRecord>,
) -> Result<Written, tokio::task::JoinError> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || {
        let written = store
            .lock()
            .expect("store lock")
            .write_polled_round(&round, &records);
        (written, round, records)
    })
    .await
}

type Written = (
    Result<RoundSummary, crate::storage::Error>,
    RoundRecord,
    Vec<PollRecord>,
);

/// What happened in one round, for whoever watches the collector.
pub struct Round<'a> {
    pub records: &'a [PollRecord],
    pub summary: &'a RoundSummary,
    pub elapsed: std::time::Duration,
}

/// Rounds polled but not yet stored (the database was busy or failed), in
/// the order they ran; kept in memory until a write succeeds.
struct Unstored {
    rounds: VecDeque<(RoundRecord, Vec<PollRecord>)>,
    since: Option<crate::clock::Stopwatch>,
}

/// The most polls kept in memory while the database refuses them: beyond
/// this the oldest round is dropped, with an error naming it (about 1 GB).
const MAX_UNSTORED_POLLS: usize = 1_000_000;

impl Unstored {
    fn polls(&self) -> usize {
        self.rounds.iter().map(|(_, r)| r.len()).sum()
    }

    fn push(&mut self, round: RoundRecord, records: Vec<PollRecord>) {
        self.rounds.push_back((round, records));
        while self.polls() > MAX_UNSTORED_POLLS && self.rounds.len() > 1 {
            if let Some((lost, records)) = self.rounds.pop_front() {
                tracing::error!(
                    started = %lost.started,
                    polls = records.len(),
                    "the database has refused rounds for too long: the oldest round kept in memory is dropped"
                );
            }
        }
    }

    /// Stores the rounds in order until one fails; each stored round goes
    /// to `on_round`. Returns the error that stopped it, if any.
    async fn flush(
        &mut self,
        store: &Arc<Mutex<Store>>,
        on_round: &mut impl FnMut(Round<'_>),
        elapsed: std::time::Duration,
    ) -> Result<(), Error> {
        while let Some((round, records)) = self.rounds.pop_front() {
            match write(store, round, records).await? {
                (Ok(summary), _, records) => {
                    on_round(Round {
                        records: &records,
                        summary: &summary,
                        elapsed,
                    });
                    if let Some(waited) = self.since.take().filter(|_| self.rounds.is_empty()) {
                        tracing::info!(
                            waited_s = waited.elapsed().as_secs(),
                            "the database took the rounds kept in memory; nothing was lost"
                        );
                    }
                }
                (Err(e), round, records) => {
                    self.rounds.push_front((round, records));
                    self.since
                        .get_or_insert_with(crate::clock::Stopwatch::start);
                    tracing::warn!(
                        rounds = self.rounds.len(),
                        polls = self.polls(),
                        "cannot store the round ({e}); its polls stay in memory and are stored with the next round"
                    );
                    return Err(Error::Storage(e));
                }
            }
        }
        Ok(())
    }
}

/// Polls `entries` (as discovery last left them) every `interval` until
/// `shutdown` fires; the round in flight then
/// stores what it has (and what it abandoned) before this returns.
/// `on_round` sees every stored round. A database that is busy (another
/// process writing) or failing never stops the collector: the round's polls
/// stay in memory, in order, and are stored when the database takes them.
pub async fn run(
    config: Arc<Config>,
    entries: watch::Receiver<Arc<Vec<DeviceEntry>>>,
    snmp: Arc<Snmp>,
    store: Arc<Mutex<Store>>,
    clock: Clock,
    mut shutdown: watch::Receiver<bool>,
    mut on_round: impl FnMut(Round<'_>),
) -> Result<(), Error> {
    if entries.borrow().is_empty() && config.discovery.ranges.is_empty() {
        tracing::warn!("no devices configured: nothing to poll");
    }
    let hints = ProfileHints::default();
    let mut unstored = Unstored {
        rounds: VecDeque::new(),
        since: None,
    };
    let mut ticker = tokio::time::interval(config.collector.interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = shutdown.changed() => break,
        }
        if *shutdown.borrow() {
            break;
        }
        let started = crate::clock::Stopwatch::start();
        // The entries as discovery last left them.
        let now = entries.borrow().clone();
        let polled = poll_round(&config, &now, &snmp, &hints, clock, &mut shutdown).await;
        // The interval as the round's instants measure it (the clock's).
        let round = polled.round(now.len(), Some(clock.span(config.collector.interval)));
        unstored.push(round, polled.records);
        match unstored
            .flush(&store, &mut on_round, started.elapsed())
            .await
        {
            Ok(()) | Err(Error::Storage(_)) => {}
            Err(fatal) => return Err(fatal),
        }
        if *shutdown.borrow() {
            break;
        }
    }
    // Stopping: a last few tries for what the database has not taken yet.
    let mut last = None;
    for _ in 0..3 {
        match unstored
            .flush(&store, &mut on_round, std::time::Duration::ZERO)
            .await
        {
            Ok(()) => return Ok(()),
            Err(Error::Storage(e)) => last = Some(e),
            Err(fatal) => return Err(fatal),
        }
    }
    match last {
        Some(last) => Err(Error::Unstored {
            polls: unstored.polls(),
            rounds: unstored.rounds.len(),
            last,
        }),
        None => Ok(()),
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

#[cfg(test)]
mod tests;
