//! `/reports`: download the counter report for a month (CSV, XLSX or JSON)
//! and the vendor's billing import for a date; an admin runs a scheduled
//! `[[report]]` now. The files are the API's own.

use axum::Form;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{Datelike, Months};
use maud::html;
use serde::Deserialize;

use super::layout::{Section, message_page, page, url_encode};
use super::session::ViewerPage;
use crate::config::Role;
use crate::http::{AppState, CountersQuery, VendorQuery};

pub async fn reports(page_of: ViewerPage, State(state): State<AppState>) -> Response {
    let today = state.today();
    let this_month = today.with_day(1).unwrap_or(today);
    let months: Vec<_> = (1..=12)
        .filter_map(|n| this_month.checked_sub_months(Months::new(n)))
        .collect();
    let admin = page_of.session.role >= Role::Admin;
    let body = html! {
        section aria-labelledby="counters" {
            h2 id="counters" { "Counter report" }
            p { "Each device's meters at the start and end of a month (00:00 Oslo), how each value was found, the use between and the A4-equivalents." }
            form class="filters" method="get" action="/reports/counters" {
                label { "Month"
                    select name="month" {
                        @for m in &months { option value=(m.format("%Y-%m")) { (m.format("%m.%Y")) } }
                    }
                }
                label { "Format"
                    select name="format" {
                        option value="csv" { "CSV" } option value="xlsx" { "Excel (XLSX)" } option value="json" { "JSON" }
                    }
                }
                button type="submit" { "Download" }
            }
        }
        section aria-labelledby="vendor" {
            h2 id="vendor" { "The vendor's billing import" }
            p { "One row per device in a contract on the date and per billing meter, at 00:00 Oslo." }
            form class="filters" method="get" action="/reports/vendor-billing" {
                label { "Date" input type="date" name="at" value=(this_month.format("%Y-%m-%d")) required; }
                label { "Format"
                    select name="format" { option value="csv" { "CSV" } option value="json" { "JSON" } }
                }
                button type="submit" { "Download" }
            }
        }
        section aria-labelledby="scheduled" {
            h2 id="scheduled" { "Scheduled reports" }
            @if state.config.reports.is_empty() { p class="muted" { "None in the config." } }
            @else {
                table {
                    thead { tr { th scope="col" { "Report" } th scope="col" { "Kind" } th scope="col" { "Schedule" } th scope="col" { "" } } }
                    tbody { @for r in &state.config.reports {
                        tr {
                            td { (r.name) } td { (r.kind.name()) } td { code { (r.schedule.text()) } }
                            td {
                                @if admin {
                                    form method="post" action=(format!("/reports/{}/run", url_encode(&r.name))) {
                                        input type="hidden" name="csrf" value=(page_of.session.csrf);
                                        button class="primary" type="submit" { "Run now" }
                                    }
                                } @else { span class="muted" { "an admin runs it now" } }
                            }
                        }
                    } }
                }
            }
        }
    };
    page(&page_of.session, Section::Reports, "Reports", body).into_response()
}

#[derive(Debug, Deserialize)]
pub struct MonthQuery {
    month: Option<String>,
    format: Option<String>,
}

/// The counter report of a month (`month=YYYY-MM`), as the API sends it.
pub async fn counters(
    page_of: ViewerPage,
    State(state): State<AppState>,
    Query(q): Query<MonthQuery>,
) -> Response {
    let from = q
        .month
        .as_deref()
        .and_then(|m| chrono::NaiveDate::parse_from_str(&format!("{m}-01"), "%Y-%m-%d").ok());
    let Some(from) = from else {
        let said = "Choose a month (YYYY-MM).";
        return (
            StatusCode::BAD_REQUEST,
            message_page(&page_of.session, "Counter report", said),
        )
            .into_response();
    };
    let to = from.checked_add_months(Months::new(1)).unwrap_or(from);
    let query = format!(
        "from={from}&to={to}&format={}",
        url_encode(q.format.as_deref().unwrap_or("csv"))
    );
    let parsed: Result<Query<CountersQuery>, QueryRejection> =
        Query::try_from_uri(&format!("/?{query}").parse().expect("a query of our own"));
    match crate::http::counters_download(&state, parsed).await {
        Ok(r) => r,
        Err(e) => (
            e.status(),
            message_page(&page_of.session, "Counter report", &e.message),
        )
            .into_response(),
    }
}

/// The vendor's billing import for a date, as the API sends it.
pub async fn vendor(
    page_of: ViewerPage,
    State(state): State<AppState>,
    query: Result<Query<VendorQuery>, QueryRejection>,
) -> Response {
    match crate::http::vendor_download(&state, query).await {
        Ok(r) => r,
        Err(e) => (
            e.status(),
            message_page(&page_of.session, "Vendor billing import", &e.message),
        )
            .into_response(),
    }
}

#[derive(Debug, Deserialize)]
pub struct RunForm {
    csrf: String,
}

/// Runs a scheduled report now (admin).
pub async fn run(
    page_of: super::session::Page<crate::http::auth::AdminRole>,
    State(state): State<AppState>,
    Path(name): Path<String>,
    Form(form): Form<RunForm>,
) -> Response {
    if let Some(refused) = page_of.csrf_refusal(&form.csrf) {
        return refused;
    }
    match crate::http::run_now(&state, &page_of.session.name, &name).await {
        Ok(done) => {
            let mail = match (done.mailed, &done.mail_error) {
                (Some(true), _) => " and mailed".to_owned(),
                (Some(false), Some(e)) => format!("; mailing it failed: {e}"),
                _ => String::new(),
            };
            let said = format!(
                "Report {} ({}) written to {}{mail}.",
                done.report, done.period, done.file
            );
            message_page(&page_of.session, "Report run", &said).into_response()
        }
        Err(e) => (
            e.status(),
            message_page(&page_of.session, "Report run", &e.message),
        )
            .into_response(),
    }
}
