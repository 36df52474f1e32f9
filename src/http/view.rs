//! The API's fleet view: the latest [`FleetView`](crate::gather::fleet::FleetView) build, rebuilt on a
//! blocking thread after every poll round, every entered reading and every
//! minute, and swapped in whole, so a request sees one consistent view and
//! never waits for the database.
//!
//! A build reads the devices again only when the database changed (its own
//! connection tells, [`OwnReader`]); the contracts' alerts, which need the
//! readings around every billing boundary, are checked after the devices are
//! in place and only when the database or the day changed. So the service
//! answers as soon as the devices are read, and a quiet minute costs no
//! database work.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use super::AppState;
use crate::gather::fleet::{FleetView, Memory, build, check_contracts};
use crate::storage::OwnReader;

/// How often the view is rebuilt when nothing else asks.
const REFRESH: Duration = Duration::from_secs(60);

/// The refresher's own connection and what it read before.
pub struct Refresher {
    reader: OwnReader,
    memory: Memory,
}

impl Refresher {
    pub fn new(path: &crate::storage::Database) -> Mutex<Refresher> {
        Mutex::new(Refresher {
            reader: OwnReader::new(path),
            memory: Memory::default(),
        })
    }
}

/// Rebuilds the devices' part of the view now; a failure is logged and the
/// old view kept. Returns whether the contracts' alerts are due a check.
pub async fn rebuild(state: &AppState) -> bool {
    let st = state.clone();
    let built = tokio::task::spawn_blocking(move || {
        let started = crate::clock::Stopwatch::start();
        let now = st.clock.timestamp();
        let mut refresher = st.refresher.lock().expect("refresher lock");
        let Refresher { reader, memory } = &mut *refresher;
        let interval = st.poll_interval_ms();
        let view =
            reader.read(|r, changed| build(r, changed, &st.config, interval, now, memory))?;
        let stale = memory.contracts_stale(crate::contract::dates::local_date(now));
        Ok::<_, crate::storage::Error>((view, stale, started.elapsed()))
    })
    .await;
    match built {
        Ok(Ok((view, stale, took))) => {
            tracing::debug!(
                devices = view.devices.len(),
                alerts = view.alerts.len(),
                ms = took.as_millis() as u64,
                "fleet view built"
            );
            publish(state, view).await;
            stale
        }
        Ok(Err(e)) => {
            tracing::error!("cannot rebuild the fleet view: {e:#}");
            false
        }
        Err(e) => {
            tracing::error!("cannot rebuild the fleet view: {e}");
            false
        }
    }
}

/// Checks the contracts' alerts and puts them into the current view.
async fn check(state: &AppState) {
    let st = state.clone();
    let checked = tokio::task::spawn_blocking(move || {
        let started = crate::clock::Stopwatch::start();
        let now = st.clock.timestamp();
        let mut refresher = st.refresher.lock().expect("refresher lock");
        let Refresher { reader, memory } = &mut *refresher;
        let current = st.view();
        let view = reader.read(|r, changed| {
            Ok::<_, crate::storage::Error>(check_contracts(
                r, changed, &st.config, now, memory, &current,
            ))
        })?;
        Ok::<_, crate::storage::Error>((view, started.elapsed()))
    })
    .await;
    match checked {
        Ok(Ok((view, took))) => {
            tracing::debug!(
                alerts = view.alerts.len(),
                ms = took.as_millis() as u64,
                "contract alerts checked"
            );
            publish(state, view).await;
        }
        Ok(Err(e)) => tracing::error!("cannot check the contracts' alerts: {e:#}"),
        Err(e) => tracing::error!("cannot check the contracts' alerts: {e}"),
    }
}

/// Puts `view` in place, after the alert history has compared it (only a
/// view whose contracts were checked holds every alert; before the first
/// check nothing is compared) and filled in when each alert began. A
/// failure of the history is logged; the view goes in place all the same.
async fn publish(state: &AppState, mut view: FleetView) {
    let st = state.clone();
    let tracked = tokio::task::spawn_blocking(move || {
        // A panic in the history's work leaves the view as it was built.
        let unwound =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| track(&st, &mut view)));
        if unwound.is_err() {
            tracing::error!("comparing the alerts with their history panicked");
        }
        view
    })
    .await;
    match tracked {
        Ok(view) => *state.view.write().expect("view lock") = Arc::new(view),
        Err(e) => tracing::error!("cannot publish the fleet view: {e}"),
    }
}

/// [`publish`]'s work on a blocking thread: the history compared, and each
/// alert's beginning filled in.
fn track(state: &AppState, view: &mut FleetView) {
    let now = state.clock.timestamp();
    // A panic in an earlier check leaves the locks poisoned, not the data
    // wrong (each check's writes are one transaction, and the tracker's
    // memory follows only what was written): go on with them.
    let mut tracker = state
        .tracker
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let tracked = {
        let mut store = state
            .store
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if view.contracts_checked_at.is_some() {
            let unsure = |kind| {
                view.contract_check_failed && crate::gather::fleet::checked_with_contracts(kind)
            };
            tracker
                .track(
                    &mut store,
                    &state.config,
                    &view.alerts,
                    view.round,
                    unsure,
                    now,
                )
                .and_then(|t| {
                    let digests = tracker.digests(&mut store, &state.config, now)?;
                    Ok((t, digests))
                })
                .map(Some)
        } else {
            tracker.ensure_loaded(&store).map(|()| None)
        }
    };
    match tracked {
        Ok(Some((t, digests))) => {
            if t.opened + t.closed + t.notices > 0 || digests > 0 {
                tracing::info!(
                    opened = t.opened,
                    closed = t.closed,
                    told = t.notices,
                    notifications = t.notifications + digests,
                    "alerts changed"
                );
            }
            if t.notifications + digests > 0 {
                state.notifications.notify_one();
            }
        }
        Ok(None) => {}
        Err(e) => tracing::error!("cannot record the alert history: {e}"),
    }
    tracker.fill_since(&mut view.alerts);
}

/// Checks the contracts when due, then rebuilds the view when told (a round
/// stored, a reading entered) and every minute, until `shutdown`.
pub async fn refresh_loop(state: AppState, mut shutdown: watch::Receiver<bool>, mut stale: bool) {
    loop {
        if stale {
            check(&state).await;
        }
        tokio::select! {
            _ = state.changed.notified() => {}
            _ = tokio::time::sleep(REFRESH) => {}
            _ = shutdown.changed() => return,
        }
        stale = rebuild(&state).await;
    }
}
