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
    pub fn new(path: &std::path::Path) -> Mutex<Refresher> {
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
        let view = reader.read(|r, changed| build(r, changed, &st.config, now, memory))?;
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
            publish(state, view);
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
            publish(state, view);
        }
        Ok(Err(e)) => tracing::error!("cannot check the contracts' alerts: {e:#}"),
        Err(e) => tracing::error!("cannot check the contracts' alerts: {e}"),
    }
}

fn publish(state: &AppState, view: FleetView) {
    *state.view.write().expect("view lock") = Arc::new(view);
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
