//! The API's fleet view: the latest [`FleetView`](crate::gather::fleet::FleetView) build, rebuilt on a
//! blocking thread after every poll round, every entered reading and every
//! minute, and swapped in whole, so a request sees one consistent view and
//! never waits for the database.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::AppState;
use crate::gather::fleet::build;

/// How often the view is rebuilt when nothing else asks.
const REFRESH: Duration = Duration::from_secs(60);

/// Rebuilds the view now; a failure is logged and the old view kept.
pub async fn rebuild(state: &AppState) {
    let st = state.clone();
    let built = tokio::task::spawn_blocking(move || {
        let started = crate::clock::Stopwatch::start();
        let now = st.clock.timestamp();
        st.pool
            .read(|reader| build(reader, &st.config, now))
            .map(|view| (view, started.elapsed()))
    })
    .await;
    match built {
        Ok(Ok((view, took))) => {
            tracing::debug!(
                devices = view.devices.len(),
                alerts = view.alerts.len(),
                ms = took.as_millis() as u64,
                "fleet view built"
            );
            *state.view.write().expect("view lock") = Arc::new(view);
        }
        Ok(Err(e)) => tracing::error!("cannot rebuild the fleet view: {e:#}"),
        Err(e) => tracing::error!("cannot rebuild the fleet view: {e}"),
    }
}

/// Rebuilds the view when told (a round stored, a reading entered) and every
/// minute, until `shutdown`.
pub async fn refresh_loop(state: AppState, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = state.changed.notified() => {}
            _ = tokio::time::sleep(REFRESH) => {}
            _ = shutdown.changed() => return,
        }
        rebuild(&state).await;
    }
}
