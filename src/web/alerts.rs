//! `/alerts`: the open alerts, grouped by kind, each linking to its device
//! (or naming its contract). The alerts are the fleet view's, as the API's.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use maud::html;

use super::layout::{Section, page, url_encode};
use super::session::ViewerPage;
use crate::http::AppState;

pub async fn alerts(page_of: ViewerPage, State(state): State<AppState>) -> Response {
    let view = state.view();
    let shown = &state.config.display;
    let mut kinds: Vec<&str> = view.alerts.iter().map(|a| a.kind.name()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    let body = html! {
        @if view.alerts.is_empty() {
            p class="message" { "No open alerts." }
        }
        @for kind in &kinds {
            @let these: Vec<_> = view.alerts.iter().filter(|a| a.kind.name() == *kind).collect();
            section aria-labelledby=(format!("kind-{kind}")) {
                h2 id=(format!("kind-{kind}")) { (kind.replace('_', " ")) " (" (these.len()) ")" }
                table {
                    thead { tr { th scope="col" { "Device or contract" } th scope="col" { "Since" } th scope="col" { "What" } } }
                    tbody {
                        @for a in these {
                            tr {
                                td {
                                    @if let Some(s) = &a.serial {
                                        a id=(s.as_str()) href=(format!("/devices/{}", url_encode(s.as_str()))) { (s.as_str()) }
                                    } @else if let Some(c) = &a.contract {
                                        "contract " (c)
                                    } @else { "-" }
                                }
                                td { (a.since.map_or_else(|| "-".to_owned(), |t| super::layout::when(shown, t))) }
                                td { (a.message) }
                            }
                        }
                    }
                }
            }
        }
    };
    page(&page_of.session, Section::Alerts, "Open alerts", body).into_response()
}
