//! `/contracts`, `/contracts/{id}` and `/contracts/{id}/uptime`: each
//! contract's periods against its commitment with the 15 % band, the notice
//! deadline, the invoices due and to come with their lines, the boundary
//! values with how each was found, gaps and events; uptime against the
//! promise on a page of its own (it reads every poll). All from the API's
//! own functions.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use chrono::{Days, NaiveDate};
use maud::{Markup, html};

use super::chart::{Chart, Series};
use super::layout::{Section, count, message_page, money, page, url_encode, when_text};
use super::session::{Session, ViewerPage};
use crate::alerts::{Alert, Kind};
use crate::answer::{ClassStanding, ContractItem, Invoice, PeriodStanding, PeriodUse, UsePoint};
use crate::display::Display;
use crate::http::{ApiError, AppState};

/// How far ahead the invoices to come reach.
const AHEAD_DAYS: u64 = 200;
/// Rows shown of a long list (boundary values, gaps, events).
const LONG: usize = 200;
/// Rows shown of each kind of the contract's open alerts.
const ALERTS_PER_KIND: usize = 20;

pub async fn list(page_of: ViewerPage, State(state): State<AppState>) -> Response {
    let items: Vec<ContractItem> = state
        .config
        .contracts
        .iter()
        .map(ContractItem::from)
        .collect();
    let body = html! {
        @if items.is_empty() { p class="message" { "No contracts in the config." } }
        @else {
            table {
                thead { tr {
                    th scope="col" { "Contract" } th scope="col" { "Billing" } th scope="col" { "Start" }
                    th scope="col" class="num" { "Months" } th scope="col" class="num" { "Devices" }
                    th scope="col" class="num" { "Committed b/w a year" } th scope="col" class="num" { "Committed colour a year" }
                } }
                tbody { @for c in &items {
                    tr {
                        th scope="row" { a href=(format!("/contracts/{}", url_encode(&c.id))) { (c.id) } }
                        td { (c.billing) } td { (date(&c.start)) } td class="num" { (c.term_months) }
                        td class="num" { (c.devices.len()) }
                        td class="num" { (c.committed_bw.map_or_else(|| "-".into(), |n| count(&state.config.display, n))) }
                        td class="num" { (c.committed_colour.map_or_else(|| "-".into(), |n| count(&state.config.display, n))) }
                    }
                } }
            }
        }
    };
    page(&page_of.session, Section::Contracts, "Contracts", body).into_response()
}

/// `2026-11-30` as `30.11.2026`.
fn date(text: &str) -> String {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_or_else(|_| text.to_owned(), |d| d.format("%d.%m.%Y").to_string())
}

fn refused(session: &Session, e: &ApiError) -> Response {
    (e.status(), message_page(session, "Contract", &e.message)).into_response()
}

pub async fn contract(
    page_of: ViewerPage,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Response {
    let session = &page_of.session;
    let today = state.today();
    let until = today
        .checked_add_days(Days::new(AHEAD_DAYS))
        .unwrap_or(today);
    let crate::http::ContractPage {
        standing,
        invoices,
        uses,
    } = match crate::http::contract_page(&state, &id, today, until).await {
        Ok(page) => page,
        Err(e) => return refused(session, &e),
    };
    let view = state.view();
    let contract = state.config.contract(&id);
    let members: std::collections::HashSet<&str> = contract
        .map(|c| c.devices.iter().map(|m| m.serial.as_str()).collect())
        .unwrap_or_default();
    let open: Vec<&Alert> = view
        .alerts
        .iter()
        .filter(|a| match (&a.contract, &a.serial) {
            (Some(c), _) => *c == id,
            (None, Some(s)) => members.contains(s.as_str()),
            (None, None) => false,
        })
        .collect();
    let of_kind = |kind: Kind| open.iter().filter(|a| a.kind == kind).count();
    let checked = view.contracts_checked_at.is_some();
    let promised = contract.and_then(|c| c.uptime_pct);
    let shown = &state.config.display;
    let threshold = state
        .config
        .contract(&id)
        .map(|c| c.deviation_threshold_pct.to_string())
        .unwrap_or_else(|| "15".into());
    let band: f64 = threshold.parse().unwrap_or(15.0);
    let (due, to_come): (Vec<&Invoice>, Vec<&Invoice>) = invoices.invoices.iter().partition(|i| {
        NaiveDate::parse_from_str(&i.issue_date, "%Y-%m-%d").is_ok_and(|d| d <= today)
    });
    let days_left = standing
        .notice_deadline
        .as_deref()
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .map(|d| (d - today).num_days());
    let body = html! {
        dl class="facts" {
            dt { "On" } dd { (today.format("%d.%m.%Y")) }
            dt { "Notice deadline" } dd {
                @if let Some(d) = &standing.notice_deadline {
                    (date(d)) @if let Some(n) = days_left { " — " strong { (n) " days left" } }
                } @else { "none: the contract ends anyway" }
            }
            @if let Some(r) = &standing.renewal { dt { "Renews" } dd { (date(&r.date)) } }
            @if let Some(e) = &standing.ends { dt { "Ends" } dd { (date(e)) } }
            dt { "Uptime" } dd {
                @if let Some(p) = promised {
                    @let below = of_kind(Kind::UptimeBelowPromise);
                    @if !checked { "not checked yet" }
                    @else if below == 0 { "no device below the " (p) " % promised" }
                    @else { strong class="status-bad" { (below) " of " (members.len()) " devices below the " (p) " % promised" } }
                    " over the last 6 whole months — "
                } @else { "none promised — " }
                a href=(format!("/contracts/{}/uptime", url_encode(&id))) { "each device's uptime against the promise" }
            }
            dt { "Toner coverage" } dd {
                @let above = of_kind(Kind::CoverageAboveContract);
                @if !checked { "not checked yet" }
                @else if above == 0 { "no toner above the contract's 5 % by more than the tolerance" }
                @else { strong class="status-bad" { (above) " toners above the contract's 5 %: extra supplies will be invoiced" } }
            }
        }
        section aria-labelledby="contract-alerts" {
            h2 id="contract-alerts" { "Open alerts of the contract and its devices" }
            @if open.is_empty() { p class="muted" { "None." } }
            @else { (super::alerts::grouped(shown, &open, 3, false, ALERTS_PER_KIND)) }
        }
        section aria-labelledby="periods" {
            h2 id="periods" { "Periods against the commitment (±" (threshold) " % band)" }
            table id="periods-table" {
                thead { tr {
                    th scope="col" { "Period" } th scope="col" { "Class" }
                    th scope="col" class="num" { "Committed" } th scope="col" class="num" { "Actual" }
                    th scope="col" class="num" { "Projected" } th scope="col" { "Deviation" } th scope="col" { "" }
                } }
                tbody {
                    @for p in &standing.periods {
                        @for (class, c) in [("b/w", &p.bw), ("colour", &p.colour)] {
                            tr {
                                td { (p.kind) " " (date(&p.start)) " – " (date(&p.end)) @if p.running { " (running)" } }
                                td { (class) }
                                td class="num" { (c.committed.map_or_else(|| "-".into(), |n| shown.number(n.0))) }
                                td class="num" { (count(shown, c.actual)) }
                                td class="num" { (c.projected.map_or_else(|| "-".into(), |n| count(shown, n))) }
                                td { (deviation(c, band)) }
                                td { @if c.breach { strong class="status-bad" { "breach: warn the vendor" } } }
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="use" {
            h2 id="use" { "Use so far against the commitment" }
            div class="charts" { @for u in &uses { (use_chart(shown, u, &standing.periods, band)) } }
        }
        section aria-labelledby="invoices" {
            h2 id="invoices" { "Invoices" }
            h3 { "Due (issued up to today)" }
            (invoice_table(shown, &due))
            h3 { "To come (the next " (AHEAD_DAYS) " days; later values are estimates)" }
            (invoice_table(shown, &to_come))
        }
        section aria-labelledby="boundaries" {
            h2 id="boundaries" { "Boundary values" }
            p class="muted" { "Each meter's value at each period boundary and how it was found: exact (a reading at 00:00), bracketed, interpolation or extrapolation." }
            @if standing.boundary_values.is_empty() { p class="muted" { "None yet." } }
            @else { table {
                thead { tr { th scope="col" { "Device" } th scope="col" { "At" } th scope="col" { "Meter" } th scope="col" class="num" { "Value" } th scope="col" { "Method" } } }
                tbody { @for b in standing.boundary_values.iter().take(LONG) {
                    tr {
                        td { a href=(format!("/devices/{}", url_encode(&b.serial))) { (b.serial) } }
                        td { (when_text(shown, &b.at)) } td { (b.meter) }
                        td class="num" { (count(shown, b.value)) }
                        td { span class={"badge " (b.method)} { (b.method) } }
                    }
                } }
            } }
            @if standing.boundary_values.len() > LONG { p class="muted" { "… and " (standing.boundary_values.len() - LONG) " more (the API has them all)." } }
        }
        section aria-labelledby="gaps" {
            h2 id="gaps" { "Gaps" }
            @if standing.gaps.is_empty() { p class="muted" { "None." } }
            @else { table {
                thead { tr { th scope="col" { "Device" } th scope="col" { "Meter" } th scope="col" { "From" } th scope="col" { "To" } th scope="col" { "Why" } } }
                tbody { @for g in standing.gaps.iter().take(LONG) {
                    tr { td { (g.serial) } td { (g.meter) } td { (when_text(shown, &g.from)) } td { (when_text(shown, &g.to)) } td { (g.reason) } }
                } }
            } }
        }
        section aria-labelledby="events" {
            h2 id="events" { "Counter events" }
            @if standing.events.is_empty() { p class="muted" { "None." } }
            @else { table {
                thead { tr { th scope="col" { "Device" } th scope="col" { "Meter" } th scope="col" { "At" } th scope="col" { "Kind" } th scope="col" class="num" { "Before" } th scope="col" class="num" { "After" } } }
                tbody { @for e in standing.events.iter().take(LONG) {
                    tr { td { (e.serial) } td { (e.meter) } td { (when_text(shown, &e.at)) } td { (e.kind) } td class="num" { (count(shown, e.before)) } td class="num" { (count(shown, e.after)) } }
                } }
            } }
        }
    };
    page(session, Section::Contracts, &format!("Contract {id}"), body).into_response()
}

/// A class as its chart draws it: name, colour, standing, its pages at a point.
type ChartedClass<'a> = (
    &'a str,
    &'static str,
    Option<&'a ClassStanding>,
    fn(&UsePoint) -> u64,
);

/// A period's cumulative use against its commitment: each committed class
/// in % of its share of the year (the commitment a straight line from 0 to
/// 100 %, the band's limits dashed), the running period's projection dashed
/// to its end. Without any commitment, pages.
fn use_chart(shown: &Display, u: &PeriodUse, periods: &[PeriodStanding], band: f64) -> Markup {
    let day = |text: &str| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok();
    let (Some(start), Some(end)) = (day(&u.start), day(&u.end)) else {
        return html! {};
    };
    let x = |d: NaiveDate| (d - start).num_days() as f64;
    let standing = periods
        .iter()
        .find(|p| p.kind == u.kind && p.start == u.start);
    let classes: [ChartedClass; 2] = [
        ("b/w", "#222222", standing.map(|s| &s.bw), |p| p.bw),
        ("colour", "#c2006d", standing.map(|s| &s.colour), |p| {
            p.colour
        }),
    ];
    let committed = |c: Option<&ClassStanding>| {
        c.and_then(|c| c.committed.as_ref())
            .and_then(|n| n.0.to_string().parse::<f64>().ok())
            .filter(|n| *n > 0.0)
    };
    let in_pct = classes.iter().any(|(_, _, c, _)| committed(*c).is_some());
    let mut series = Vec::new();
    for (name, colour, class, pages) in classes {
        let scale = match (in_pct, committed(class)) {
            (true, Some(c)) => 100.0 / c,
            (true, None) => continue,
            (false, _) => 1.0,
        };
        let points: Vec<(f64, Option<f64>)> = u
            .points
            .iter()
            .filter_map(|p| day(&p.date).map(|d| (x(d), Some(pages(p) as f64 * scale))))
            .collect();
        let last = points.last().copied();
        series.push(Series {
            name: (*name).into(),
            colour,
            points,
            dashed: false,
        });
        if let (true, Some(projected), Some(last)) =
            (u.running, class.and_then(|c| c.projected), last)
        {
            series.push(Series {
                name: format!("{name} projected"),
                colour,
                points: vec![last, (x(end), Some(projected as f64 * scale))],
                dashed: true,
            });
        }
    }
    if in_pct {
        for (name, colour, top, dashed) in [
            ("commitment".to_owned(), "#6b7480", 100.0, false),
            (format!("−{band} %"), "#b25000", 100.0 - band, true),
            (format!("+{band} %"), "#b25000", 100.0 + band, true),
        ] {
            series.push(Series {
                name,
                colour,
                points: vec![(0.0, Some(0.0)), (x(end), Some(top))],
                dashed,
            });
        }
    }
    let unit = if in_pct { "% of commitment" } else { "pages" };
    let mut x_labels = vec![(0.0, start.format("%d.%m.%Y").to_string())];
    // Today's date under its point, unless it would run into the start's
    // or the end's.
    let room = x(end) * 0.2;
    if let Some(now) = u
        .points
        .last()
        .and_then(|p| day(&p.date))
        .filter(|now| u.running && x(*now) > room && x(end) - x(*now) > room)
    {
        x_labels.push((x(now), now.format("%d.%m.%Y").to_string()));
    }
    x_labels.push((x(end), end.format("%d.%m.%Y").to_string()));
    let Some(last) = u.points.last() else {
        return html! {};
    };
    let chart = Chart {
        caption: format!(
            "{} {} – {}{}: A4-equivalent pages so far, b/w {} and colour {}, in {unit}",
            u.kind,
            start.format("%d.%m.%Y"),
            end.format("%d.%m.%Y"),
            if u.running { " (running)" } else { "" },
            count(shown, last.bw),
            count(shown, last.colour),
        ),
        series,
        x_labels,
        marks: Vec::new(),
        y_at_least: if in_pct { 100.0 + band } else { 10.0 },
        y_unit: if in_pct { "%" } else { "pages" },
    };
    chart.render()
}

/// The deviation in % on a scale from −2× to +2× the band, the band shaded.
fn deviation(c: &ClassStanding, band: f64) -> Markup {
    let Some(d) = c.deviation_pct else {
        return html! { span class="muted" { "no commitment" } };
    };
    let span = band * 2.0;
    let x = |v: f64| 50.0 + (v.clamp(-span, span) / span) * 50.0;
    let class = if c.breach { "out" } else { "in" };
    html! {
        span class="band" role="img" aria-label=(format!("deviation {d:+.2} %, band ±{band} %")) {
            span class="zone" style=(format!("left:{:.1}%;width:{:.1}%", x(-band), x(band) - x(-band))) {}
            span class={"mark " (class)} style=(format!("left:{:.1}%", x(d))) {}
        }
        span class="bar-text" { (format!("{d:+.2} %")) }
    }
}

/// A unit price (`0.0450`) in the locale's form (`0,0450`), every decimal
/// kept.
fn price(shown: &Display, text: &str) -> String {
    text.parse::<rust_decimal::Decimal>()
        .map_or_else(|_| text.to_owned(), |d| shown.number(d))
}

fn invoice_table(shown: &Display, invoices: &[&Invoice]) -> Markup {
    html! {
        @if invoices.is_empty() { p class="muted" { "None." } }
        @else { table class="invoices" {
            thead { tr {
                th scope="col" { "Issued" } th scope="col" { "Kind" } th scope="col" { "Period" }
                th scope="col" { "Lines" } th scope="col" class="num" { "Total" } th scope="col" { "" }
            } }
            tbody { @for i in invoices {
                tr {
                    td { (date(&i.issue_date)) } td { (i.kind.replace('_', "-")) }
                    td { (date(&i.period_start)) " – " (date(&i.period_end)) }
                    td { ul class="lines" { @for l in &i.lines {
                        li { (l.description) ": " @if let Some(p) = &l.pages { (shown.number(p.0)) " × " } (price(shown, &l.unit_price)) " = " (money(shown, &l.amount)) }
                    } } }
                    td class="num" { (money(shown, &i.total)) }
                    td { (i.status) @if i.estimated { ", estimated" } }
                }
            } }
        } }
    }
}

pub async fn uptime(
    page_of: ViewerPage,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Response {
    let months = crate::uptime::months_before(state.today(), 6);
    let items = match crate::http::contract_uptime(&state, &id, months).await {
        Ok(i) => i,
        Err(e) => return refused(&page_of.session, &e),
    };
    let body = html! {
        p { "Uptime on working days (Monday–Friday 08:00–16:00 Oslo, no public holidays) over the last 6 whole months, from the polls." }
        table {
            thead { tr {
                th scope="col" { "Device" } th scope="col" class="num" { "Uptime" } th scope="col" class="num" { "Evidence" }
                th scope="col" class="num" { "Promised" } th scope="col" { "" }
            } }
            tbody { @for u in &items {
                tr {
                    td { a href=(format!("/devices/{}", url_encode(&u.serial))) { (u.serial) } }
                    td class="num" { (u.total.uptime_pct.as_deref().map_or_else(|| "-".to_owned(), |p| format!("{p} %"))) }
                    td class="num" { (u.total.evidence_pct.as_deref().map_or_else(|| "-".to_owned(), |p| format!("{p} %"))) }
                    td class="num" { (u.promised_pct.as_deref().map_or_else(|| "-".to_owned(), |p| format!("{p} %"))) }
                    td { @if u.breach { strong class="status-bad" { "below the promise" } } }
                }
            } }
        }
    };
    page(
        &page_of.session,
        Section::Contracts,
        &format!("Contract {id}: uptime"),
        body,
    )
    .into_response()
}
