//! `GET /metrics`: Prometheus text exposition (version 0.0.4) of the
//! collector's counters since start and the fleet view's gauges: polls,
//! failures by cause, round durations, each device's last successful poll,
//! reachability and supply levels, open alerts by kind, and the
//! notifications delivered, failed, given up and waiting.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;

use super::AppState;
use crate::collector::Round;
use crate::gather::FleetView;
use crate::record::Outcome;

/// What the collector did since the service started.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Counts>,
}

#[derive(Debug, Default, Clone)]
struct Counts {
    rounds: u64,
    polls_ok: u64,
    /// Stored polls that missed something (`partial`) or read no meter
    /// (`no_meters`), by that name.
    polls_stored_short: BTreeMap<&'static str, u64>,
    /// By the cause's name, so the lines come in name order.
    failures: BTreeMap<&'static str, u64>,
    round_seconds_total: f64,
    last_round_seconds: f64,
}

impl Metrics {
    /// Counts a stored round.
    pub fn record(&self, round: &Round<'_>) {
        let mut c = self.inner.lock().expect("metrics lock");
        c.rounds += 1;
        for r in round.records {
            match &r.outcome {
                Outcome::Ok(d) => match d.failure_cause() {
                    Some(cause) => *c.polls_stored_short.entry(cause.name()).or_default() += 1,
                    None => c.polls_ok += 1,
                },
                Outcome::Failed { cause, .. } => *c.failures.entry(cause.name()).or_default() += 1,
            }
        }
        let secs = round.elapsed.as_secs_f64();
        c.round_seconds_total += secs;
        c.last_round_seconds = secs;
    }
}

/// The Prometheus metrics (no token needed, like `/healthz`).
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "system",
    responses((status = 200, description = "Prometheus text format 0.0.4", content_type = "text/plain", body = String))
)]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let counts = state.metrics.inner.lock().expect("metrics lock").clone();
    let mut text = render(&counts, &state.view());
    notification_counts(&mut text, &state.deliveries);
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        text,
    )
}

/// A label value with `\`, `"` and newlines escaped.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn head(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn render(c: &Counts, view: &FleetView) -> String {
    let mut out = String::new();
    head(
        &mut out,
        "telleverk_poll_rounds_total",
        "counter",
        "Poll rounds stored since start.",
    );
    let _ = writeln!(out, "telleverk_poll_rounds_total {}", c.rounds);
    head(
        &mut out,
        "telleverk_polls_total",
        "counter",
        "Polls of device entries since start, by result: ok, partial and no_meters were stored, failed was not.",
    );
    let failed: u64 = c.failures.values().sum();
    let _ = writeln!(out, "telleverk_polls_total{{result=\"ok\"}} {}", c.polls_ok);
    for (result, n) in &c.polls_stored_short {
        let _ = writeln!(out, "telleverk_polls_total{{result=\"{result}\"}} {n}");
    }
    let _ = writeln!(out, "telleverk_polls_total{{result=\"failed\"}} {failed}");
    head(
        &mut out,
        "telleverk_poll_failures_total",
        "counter",
        "Failed polls since start, by cause.",
    );
    for (cause, n) in &c.failures {
        let _ = writeln!(
            out,
            "telleverk_poll_failures_total{{cause=\"{}\"}} {n}",
            label(cause)
        );
    }
    head(
        &mut out,
        "telleverk_poll_round_duration_seconds_total",
        "counter",
        "Time spent in poll rounds since start.",
    );
    let _ = writeln!(
        out,
        "telleverk_poll_round_duration_seconds_total {}",
        c.round_seconds_total
    );
    head(
        &mut out,
        "telleverk_poll_round_last_duration_seconds",
        "gauge",
        "Duration of the latest poll round.",
    );
    let _ = writeln!(
        out,
        "telleverk_poll_round_last_duration_seconds {}",
        c.last_round_seconds
    );
    device_gauges(&mut out, view);
    out
}

/// The deliverer's counters: what reached people, what is waiting.
fn notification_counts(out: &mut String, d: &crate::notify::deliver::Counts) {
    use std::sync::atomic::Ordering::Relaxed;
    head(
        out,
        "telleverk_notifications_total",
        "counter",
        "Notification attempts since start, by result: delivered, failed (tried again later), given_up (after a day of retries).",
    );
    for (result, n) in [
        ("delivered", &d.delivered),
        ("failed", &d.failed_attempts),
        ("given_up", &d.given_up),
    ] {
        let _ = writeln!(
            out,
            "telleverk_notifications_total{{result=\"{result}\"}} {}",
            n.load(Relaxed)
        );
    }
    head(
        out,
        "telleverk_notifications_pending",
        "gauge",
        "Notifications waiting for their next attempt.",
    );
    let _ = writeln!(
        out,
        "telleverk_notifications_pending {}",
        d.pending.load(Relaxed)
    );
}

fn device_gauges(out: &mut String, view: &FleetView) {
    head(
        out,
        "telleverk_device_last_success_timestamp_seconds",
        "gauge",
        "Unix time of each device's latest successful poll.",
    );
    for d in view.devices.iter() {
        if let Some(at) = d.row.last_poll {
            let _ = writeln!(
                out,
                "telleverk_device_last_success_timestamp_seconds{{serial=\"{}\"}} {:.3}",
                label(&d.row.serial),
                at.timestamp_millis() as f64 / 1000.0
            );
        }
    }
    head(
        out,
        "telleverk_device_reachable",
        "gauge",
        "1 when a polled device answered its latest poll, else 0.",
    );
    for d in view.devices.iter().filter(|d| d.polled) {
        let up = d.reachable();
        let _ = writeln!(
            out,
            "telleverk_device_reachable{{serial=\"{}\"}} {}",
            label(&d.row.serial),
            u8::from(up)
        );
    }
    head(
        out,
        "telleverk_supply_level_percent",
        "gauge",
        "Supply levels in percent (supplies that report one).",
    );
    for d in view.devices.iter() {
        for s in &d.row.supplies {
            if let Some(p) = s.percent {
                let _ = writeln!(
                    out,
                    "telleverk_supply_level_percent{{serial=\"{}\",index=\"{}\",supply=\"{}\",kind=\"{}\",colour=\"{}\"}} {p}",
                    label(&d.row.serial),
                    s.index,
                    label(&s.description),
                    label(&s.kind),
                    label(s.colour.as_deref().unwrap_or(""))
                );
            }
        }
    }
    head(
        out,
        "telleverk_open_alerts",
        "gauge",
        "Open alerts by kind.",
    );
    for kind in crate::alerts::Kind::ALL {
        let n = view.alerts.iter().filter(|a| a.kind == kind).count();
        let _ = writeln!(out, "telleverk_open_alerts{{kind=\"{}\"}} {n}", kind.name());
    }
}
