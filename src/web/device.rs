//! `/devices/{serial}`: one device — its state, meters, supplies with bars
//! and forecasts, charts of pages per day and of each toner's level, events,
//! failures and readings; an operator enters a reading here. Everything
//! comes through the API's own functions.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{Days, NaiveDate};
use maud::{Markup, html};
use serde::Deserialize;

use super::chart::{Chart, Series};
use super::layout::{Section, count, level_bar, message_page, page, when_text};
use super::session::{OperatorPage, ViewerPage};
use crate::answer::DeviceDetail;
use crate::http::AppState;
use crate::meters::Meter;

/// The days the pages-per-day chart shows.
const CHART_DAYS: u64 = 90;

pub async fn device(
    page_of: ViewerPage,
    State(state): State<AppState>,
    Path(serial): Path<String>,
) -> Response {
    render(&page_of.session, &state, serial, None).await
}

/// What the reading form sends.
#[derive(Debug, Clone, Deserialize)]
pub struct ReadingForm {
    csrf: String,
    taken_at: String,
    meter: String,
    value: String,
    source: Option<String>,
    /// The box "store it all the same" (`on` when ticked).
    accept_implausible: Option<String>,
}

pub async fn enter_reading(
    page_of: OperatorPage,
    State(state): State<AppState>,
    Path(serial): Path<String>,
    Form(form): Form<ReadingForm>,
) -> Response {
    if let Some(refused) = page_of.csrf_refusal(&form.csrf) {
        return refused;
    }
    let value = match form.value.trim().parse::<i64>() {
        Ok(v) => serde_json::Value::from(v),
        Err(_) => serde_json::Value::from(form.value.trim()),
    };
    let body = crate::http::NewReading {
        taken_at: form.taken_at.clone(),
        meters: BTreeMap::from([(form.meter.trim().to_owned(), value)]),
        source: form.source.clone().filter(|s| !s.is_empty()),
        accept_implausible: Some(form.accept_implausible.as_deref() == Some("on")),
    };
    let outcome =
        crate::http::enter_reading(&state, &page_of.session.name, serial.clone(), &body).await;
    match outcome {
        Ok((_, entered)) => {
            let said = if entered.stored > 0 {
                format!(
                    "Stored {} value(s) taken at {} ({}).",
                    entered.stored, entered.taken_at, entered.source
                )
            } else {
                "Already stored: nothing changed.".to_owned()
            };
            let note = Note {
                ok: true,
                text: said,
                form: None,
            };
            render_with_status(&page_of.session, &state, serial, Some(note), StatusCode::OK).await
        }
        Err(e) => {
            let status = e.status();
            let mut text = e.message.clone();
            if e.code == crate::answer::ErrorCode::ImplausibleReading {
                text.push_str(" — if the value is right (read off the device's display), tick \"Store it all the same\" and send it again.");
            }
            // The form comes back filled in, to correct and send again.
            let note = Note {
                ok: false,
                text,
                form: Some(form),
            };
            render_with_status(&page_of.session, &state, serial, Some(note), status).await
        }
    }
}

/// What the reading form's last sending did, and what it sent when it was
/// refused.
struct Note {
    ok: bool,
    text: String,
    form: Option<ReadingForm>,
}

async fn render(
    session: &super::session::Session,
    state: &AppState,
    serial: String,
    note: Option<Note>,
) -> Response {
    render_with_status(session, state, serial, note, StatusCode::OK).await
}

async fn render_with_status(
    session: &super::session::Session,
    state: &AppState,
    serial: String,
    note: Option<Note>,
    status: StatusCode,
) -> Response {
    let detail = match crate::http::device_detail(state, serial.clone()).await {
        Ok(d) => d,
        Err(e) if e.status() == StatusCode::NOT_FOUND => {
            return (
                StatusCode::NOT_FOUND,
                message_page(session, "No such device", &e.message),
            )
                .into_response();
        }
        Err(e) => {
            return (e.status(), message_page(session, "Error", &e.message)).into_response();
        }
    };
    let today = state.today();
    let charts = match charts(state, &serial, today).await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("the charts of {serial}: {}", e.message);
            Vec::new()
        }
    };
    let operator = session.role >= crate::config::Role::Operator;
    let body = body(
        &detail,
        state,
        &charts,
        operator,
        &session.csrf,
        note.as_ref(),
    );
    let title = format!(
        "{} · {}",
        detail.summary.serial,
        detail.summary.model.as_deref().unwrap_or("unknown model")
    );
    (status, page(session, Section::Fleet, &title, body)).into_response()
}

fn body(
    d: &DeviceDetail,
    state: &AppState,
    charts: &[Chart],
    operator: bool,
    csrf: &str,
    note: Option<&Note>,
) -> Markup {
    let shown = &state.config.display;
    let s = &d.summary;
    html! {
        div class="grid" {
            section aria-labelledby="state" {
                h2 id="state" { "State" }
                dl class="facts" {
                    dt { "Location" } dd { (s.location.as_deref().unwrap_or("-")) }
                    @if let Some(site) = &s.site { dt { "Site" } dd { (site) } }
                    dt { "Address" } dd { (s.address.as_deref().unwrap_or("-")) }
                    dt { "Last reading" } dd { (s.last_reading_at.as_deref().map_or_else(|| "never".to_owned(), |t| when_text(shown, t))) }
                    dt { "Reachable" } dd { (match s.reachable { Some(true) => "yes", Some(false) => "no", None => "read by hand" }) }
                    @if let Some(st) = &d.status {
                        dt { "Device" } dd { (st.device) }
                        dt { "Printer" } dd { (st.printer) }
                        dt { "Errors" } dd { @if st.errors.is_empty() { "none" } @else { (st.errors.join(", ")) } }
                    }
                }
            }
            section aria-labelledby="meters" {
                h2 id="meters" { "Meters" }
                table {
                    thead { tr { th scope="col" { "Meter" } th scope="col" class="num" { "Value" } } }
                    tbody {
                        @for (name, value) in &d.meters {
                            tr { td { (name) } td class="num" { (count(shown, *value)) } }
                        }
                    }
                }
            }
        }
        section aria-labelledby="supplies" {
            h2 id="supplies" { "Supplies" }
            table {
                thead { tr {
                    th scope="col" { "Supply" } th scope="col" { "Level" } th scope="col" { "Empty on" }
                    th scope="col" { "Coverage (6 months)" }
                } }
                tbody {
                    @for o in &d.supply_forecasts {
                        @let supply = d.supplies.iter().find(|s| s.index == o.index);
                        tr {
                            td { (o.description) }
                            td { (level_bar(o.colour.as_deref(), supply.map_or(-2, |s| s.level), o.percent)) }
                            td {
                                @if let Some(on) = &o.empty_on { (on) " (" (o.working_days.unwrap_or(0)) " working days)" }
                                @else if let Some(why) = &o.no_forecast { span class="muted" { (why.replace('_', " ")) } }
                            }
                            td {
                                @if let Some(c) = &o.coverage {
                                    @if let Some(pct) = &c.implied_pct {
                                        (pct.0) " % against " (c.assumed_pct) " %"
                                        @if c.above_contract { " — " strong class="status-bad" { "above the contract" } }
                                        @else if c.over_tolerance { " — " span class="status-warn" { "heading above" } }
                                    } @else if let Some(why) = &c.no_coverage {
                                        span class="muted" { (why.replace('_', " ")) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="charts" {
            h2 id="charts" { "Charts" }
            @for c in charts { (c.render()) }
        }
        @if !d.alerts.is_empty() {
            section aria-labelledby="alerts" {
                h2 id="alerts" { "Open alerts" }
                ul { @for a in &d.alerts { li { strong { (a.kind) } ": " (a.message) } } }
            }
        }
        section aria-labelledby="enter" {
            h2 id="enter" { "Enter a reading" }
            @if let Some(n) = note {
                p class=(if n.ok { "ok" } else { "error" }) role="status" { (n.text) }
            }
            @if operator {
                form class="reading" method="post" action=(format!("/devices/{}/readings", super::layout::url_encode(&s.serial))) {
                    input type="hidden" name="csrf" value=(csrf);
                    label for="taken_at" { "Taken at" }
                    @let sent = note.and_then(|n| n.form.as_ref());
                    input id="taken_at" name="taken_at" required placeholder="YYYY-MM-DD HH:MM (Oslo)" value=[sent.map(|f| f.taken_at.as_str())];
                    label for="meter" { "Meter" }
                    select id="meter" name="meter" {
                        @for m in Meter::ALL {
                            option value=(m.name()) selected[sent.is_some_and(|f| f.meter == m.name())] { (m.name()) }
                        }
                    }
                    label for="value" { "Value" }
                    input id="value" name="value" required inputmode="numeric" value=[sent.map(|f| f.value.as_str())];
                    label for="source" { "Source" }
                    select id="source" name="source" {
                        @for src in ["manual", "vendor"] {
                            option value=(src) selected[sent.is_some_and(|f| f.source.as_deref() == Some(src))] { (src) }
                        }
                    }
                    label for="accept_implausible" { "Store it all the same" }
                    span {
                        input id="accept_implausible" type="checkbox" name="accept_implausible" aria-describedby="accept-help";
                        " "
                        span id="accept-help" class="muted" { "even if the value breaks the device's polled counts (only after checking it on the device)" }
                    }
                    button class="primary" type="submit" { "Store the reading" }
                }
            } @else {
                p class="muted" { "Entering readings needs the operator role." }
            }
        }
        section aria-labelledby="events" {
            h2 id="events" { "Events" }
            @if d.events.is_empty() { p class="muted" { "None." } }
            @else {
                table {
                    thead { tr { th scope="col" { "At" } th scope="col" { "Kind" } th scope="col" { "Meter" } th scope="col" { "Detail" } } }
                    tbody { @for e in d.events.iter().rev().take(50) {
                        tr { td { (when_text(shown, &e.at)) } td { (e.kind) } td { (e.meter.as_deref().unwrap_or("-")) } td { (e.detail) } }
                    } }
                }
            }
        }
        section aria-labelledby="failures" {
            h2 id="failures" { "Recent poll failures" }
            @if d.failures.is_empty() { p class="muted" { "None." } }
            @else {
                table {
                    thead { tr { th scope="col" { "At" } th scope="col" { "Cause" } th scope="col" { "Detail" } } }
                    tbody { @for f in &d.failures { tr { td { (when_text(shown, &f.at)) } td { (f.cause) } td { (f.detail) } } } }
                }
            }
        }
    }
}

/// The pages-per-day chart (b/w and colour, the last 90 days) and each
/// toner's level with its replacements.
async fn charts(
    state: &AppState,
    serial: &str,
    today: NaiveDate,
) -> Result<Vec<Chart>, crate::http::ApiError> {
    let st = state.clone();
    let serial = serial.to_owned();
    let (days, levels) = tokio::task::spawn_blocking(move || {
        st.pool.read(|r| {
            let first = today
                .checked_sub_days(Days::new(CHART_DAYS))
                .unwrap_or(today);
            let days = crate::gather::charts::pages_per_day(r, &st.config, &serial, first, today)?;
            let levels = crate::gather::charts::toner_levels(r, &serial, first)?;
            Ok::<_, crate::http::ApiError>((days, levels))
        })
    })
    .await??;
    let x = |d: NaiveDate| (d - today).num_days() as f64;
    let labels = |first: NaiveDate| {
        let mid = first + (today - first) / 2;
        vec![
            (x(first), first.format("%d.%m").to_string()),
            (x(mid), mid.format("%d.%m").to_string()),
            (x(today), today.format("%d.%m").to_string()),
        ]
    };
    let first = today
        .checked_sub_days(Days::new(CHART_DAYS))
        .unwrap_or(today);
    let pages = Chart {
        caption: format!("A4-equivalent pages per day, {first} to {today}"),
        series: vec![
            Series {
                name: "b/w".into(),
                colour: "#222222",
                points: days
                    .iter()
                    .map(|d| (x(d.day), d.bw.map(|n| n as f64)))
                    .collect(),
                dashed: false,
            },
            Series {
                name: "colour".into(),
                colour: "#c2006d",
                points: days
                    .iter()
                    .map(|d| (x(d.day), d.colour.map(|n| n as f64)))
                    .collect(),
                dashed: false,
            },
        ],
        x_labels: labels(first),
        marks: Vec::new(),
        y_at_least: 10.0,
        y_unit: "pages",
    };
    let day_of =
        |ms: i64| crate::contract::dates::local_date(crate::timestamp::Timestamp::from_millis(ms));
    let toner = Chart {
        caption: format!("Toner levels in %, {first} to {today} (dashed: a new cartridge)"),
        series: levels
            .iter()
            .map(|t| Series {
                name: t.name.clone(),
                colour: colour_of(t.colour.as_deref()),
                points: t
                    .levels
                    .iter()
                    .map(|(at, p)| {
                        let d = day_of(*at);
                        let frac =
                            (*at - crate::contract::midnight(d).millis()) as f64 / 86_400_000.0;
                        (x(d) + frac, p.map(|p| p as f64))
                    })
                    .collect(),
                dashed: false,
            })
            .collect(),
        x_labels: labels(first),
        marks: levels
            .iter()
            .flat_map(|t| {
                t.replaced
                    .iter()
                    .map(move |at| (x(day_of(*at)), format!("{} replaced", t.name)))
            })
            .collect(),
        y_at_least: 100.0,
        y_unit: "%",
    };
    Ok(vec![pages, toner])
}

fn colour_of(colour: Option<&str>) -> &'static str {
    match colour {
        Some("black") => "#222222",
        Some("cyan") => "#0093c9",
        Some("magenta") => "#c2006d",
        Some("yellow") => "#c79a00",
        _ => "#6b7480",
    }
}
