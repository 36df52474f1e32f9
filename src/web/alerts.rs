//! `/alerts`: the open alerts, grouped by kind, each linking to its device
//! (or naming its contract), and the ones closed lately from the alert
//! history. The alerts are the fleet view's, as the API's.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};

use super::layout::{Section, page, url_encode};
use super::session::ViewerPage;
use crate::alerts::Alert;
use crate::display::Display;
use crate::http::AppState;
use crate::storage::AlertHistoryFilter;

/// How many closed alerts the page shows.
const CLOSED_SHOWN: usize = 50;

pub async fn alerts(page_of: ViewerPage, State(state): State<AppState>) -> Response {
    let view = state.view();
    let all: Vec<&Alert> = view.alerts.iter().collect();
    let st = state.clone();
    let closed = tokio::task::spawn_blocking(move || {
        st.pool.read(|r| {
            let filter = AlertHistoryFilter {
                opened: Some(false),
                ..AlertHistoryFilter::default()
            };
            r.alert_history(&filter, CLOSED_SHOWN)
        })
    })
    .await;
    let closed = match closed {
        Ok(Ok(events)) => Ok(events),
        Ok(Err(e)) => Err(e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    let shown = &state.config.display;
    let body = html! {
        @if all.is_empty() {
            p class="message" { "No open alerts." }
        }
        (grouped(shown, &all, 2, true, usize::MAX))
        section aria-labelledby="closed" {
            h2 id="closed" { "Closed lately" }
            @match &closed {
                Err(e) => { p class="message" { "The alert history cannot be read now: " (e) } }
                Ok(events) if events.is_empty() => { p class="muted" { "No alert has closed yet." } }
                Ok(events) => {
                    table {
                        thead { tr {
                            th scope="col" { "Device or contract" } th scope="col" { "Kind" }
                            th scope="col" { "Open since" } th scope="col" { "Closed" } th scope="col" { "What it said" }
                        } }
                        tbody {
                            @for e in events {
                                tr {
                                    td {
                                        @if let Some(s) = &e.serial {
                                            a href=(format!("/devices/{}", url_encode(s))) { (s) }
                                        } @else if let Some(c) = &e.contract {
                                            a href=(format!("/contracts/{}", url_encode(c))) { "contract " (c) }
                                        } @else { "-" }
                                    }
                                    td { (e.kind.replace('_', " ")) }
                                    td { (e.since.map_or_else(|| "-".to_owned(), |t| super::layout::when(shown, t))) }
                                    td { (super::layout::when(shown, e.at)) }
                                    td { (e.message) }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    page(&page_of.session, Section::Alerts, "Open alerts", body).into_response()
}

/// Alerts in a table per kind, headed at `level` (2: `h2`), at most
/// `per_kind` rows of each (the rest counted, on the alerts page); with
/// `anchors`, a device's first alert is the target of `#serial` (the fleet
/// page links there).
pub fn grouped(
    shown: &Display,
    alerts: &[&Alert],
    level: u8,
    anchors: bool,
    per_kind: usize,
) -> Markup {
    let mut kinds: Vec<&str> = alerts.iter().map(|a| a.kind.name()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    let by_kind: Vec<(&str, Vec<&Alert>)> = kinds
        .iter()
        .map(|kind| {
            let these = alerts
                .iter()
                .filter(|a| a.kind.name() == *kind)
                .copied()
                .collect();
            (*kind, these)
        })
        .collect();
    let mut seen = std::collections::HashSet::new();
    let first: Vec<Vec<bool>> = by_kind
        .iter()
        .map(|(_, these)| {
            these
                .iter()
                .map(|a| anchors && a.serial.as_ref().is_some_and(|s| seen.insert(s.as_str())))
                .collect()
        })
        .collect();
    html! {
        @for ((kind, these), first) in by_kind.iter().zip(&first) {
            @let id = format!("kind-{kind}");
            @let title = html! { (kind.replace('_', " ")) " (" (these.len()) ")" };
            section aria-labelledby=(id) {
                @if level <= 2 { h2 id=(id) { (title) } } @else { h3 id=(id) { (title) } }
                table {
                    thead { tr { th scope="col" { "Device or contract" } th scope="col" { "Since" } th scope="col" { "What" } } }
                    tbody {
                        @for (a, first) in these.iter().zip(first).take(per_kind) {
                            tr {
                                td {
                                    @if let Some(s) = &a.serial {
                                        a id=[first.then_some(s.as_str())] href=(format!("/devices/{}", url_encode(s.as_str()))) { (s.as_str()) }
                                    } @else if let Some(c) = &a.contract {
                                        a href=(format!("/contracts/{}", url_encode(c))) { "contract " (c) }
                                    } @else { "-" }
                                }
                                td { (a.since.map_or_else(|| "-".to_owned(), |t| super::layout::when(shown, t))) }
                                td { (a.message) }
                            }
                        }
                    }
                }
                @if these.len() > per_kind {
                    p class="muted" { "… and " (these.len() - per_kind) " more on " a href="/alerts" { "the alerts page" } "." }
                }
            }
        }
    }
}
