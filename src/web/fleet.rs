//! `/`: the fleet at a glance — counts, then every device in a table that
//! can be searched, filtered, sorted and paged on the server. Rows come
//! from the fleet view the API's device list uses; the counters of the
//! rows shown are read for the page alone.

use std::cmp::Ordering;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::layout::{Section, count, level_bar, page, url_encode};
use super::session::ViewerPage;
use crate::alerts::is_stale;
use crate::gather::DeviceView;
use crate::http::AppState;
use crate::meters::Meter;
use crate::timestamp::Timestamp;

/// Rows a page.
pub const PAGE_SIZE: usize = 50;

#[derive(Debug, Default, Deserialize)]
pub struct FleetQuery {
    q: Option<String>,
    status: Option<String>,
    site: Option<String>,
    sort: Option<String>,
    dir: Option<String>,
    page: Option<String>,
}

/// What a device's row says of its state, and how it is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Answering,
    Warning,
    Error,
    Stale,
    Unreachable,
    ByHand,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Status::Answering => "answering",
            Status::Warning => "warning",
            Status::Error => "in error",
            Status::Stale => "stale",
            Status::Unreachable => "unreachable",
            Status::ByHand => "read by hand",
        }
    }

    fn class(self) -> &'static str {
        match self {
            Status::Answering | Status::ByHand => "status-ok",
            Status::Warning | Status::Stale => "status-warn",
            Status::Error | Status::Unreachable => "status-bad",
        }
    }

    fn of(d: &DeviceView, now: Timestamp, interval_ms: i64) -> Status {
        if !d.polled {
            return Status::ByHand;
        }
        if !d.reachable() {
            return Status::Unreachable;
        }
        if is_stale(d.row.last_poll.map(Timestamp::from), interval_ms, now) {
            return Status::Stale;
        }
        match d.row.device_status {
            Some(5) => Status::Error,
            Some(3) => Status::Warning,
            _ if d.row.errors.unwrap_or(0) != 0 => Status::Warning,
            _ => Status::Answering,
        }
    }
}

/// The lowest toner level in %, None without one.
fn lowest_toner(d: &DeviceView) -> Option<i64> {
    d.row
        .supplies
        .iter()
        .filter(|s| matches!(s.kind.as_str(), "toner" | "toner_cartridge"))
        .filter_map(|s| s.percent)
        .min()
}

/// The columns a table sorts by.
const SORTS: [&str; 10] = [
    "serial", "model", "location", "site", "status", "last", "toner", "alerts", "bw", "colour",
];

pub async fn fleet(
    page_of: ViewerPage,
    State(state): State<AppState>,
    Query(q): Query<FleetQuery>,
) -> Response {
    let view = state.view();
    let now = state.clock.timestamp();
    let interval = state.poll_interval_ms();
    let low = i64::from(state.config.alerts.supply_low_pct);
    let status: Vec<Status> = view
        .devices
        .iter()
        .map(|d| Status::of(d, now, interval))
        .collect();
    // The counts at the top, over the whole fleet.
    let total = view.devices.len();
    let answering = status
        .iter()
        .filter(|s| matches!(s, Status::Answering | Status::Warning))
        .count();
    let low_supplies = view
        .devices
        .iter()
        .filter(|d| lowest_toner(d).is_some_and(|p| p <= low))
        .count();
    let in_error = status
        .iter()
        .filter(|s| matches!(s, Status::Error | Status::Warning))
        .count();
    let stale = status
        .iter()
        .filter(|s| matches!(s, Status::Stale | Status::Unreachable))
        .count();

    // Search, filter, sort, page.
    let search = q.q.as_deref().unwrap_or("").trim().to_lowercase();
    let wanted = q.status.as_deref().unwrap_or("all");
    // The sites (a central server's fleet, or a site's own): a column and
    // a filter of their own.
    let mut sites: Vec<&str> = view
        .devices
        .iter()
        .filter_map(|d| d.site.as_deref())
        .collect();
    sites.sort_unstable();
    sites.dedup();
    let site = q
        .site
        .as_deref()
        .filter(|s| sites.contains(s))
        .unwrap_or("");
    let mut rows: Vec<(usize, &DeviceView)> = view
        .devices
        .iter()
        .enumerate()
        .filter(|(i, d)| {
            let text = search.is_empty()
                || d.row.serial.as_str().to_lowercase().contains(&search)
                || d.row
                    .model
                    .as_deref()
                    .is_some_and(|m| m.to_lowercase().contains(&search))
                || d.location
                    .as_deref()
                    .is_some_and(|l| l.to_lowercase().contains(&search))
                || d.site.as_deref().is_some_and(|s| s.contains(&search));
            let at_site = site.is_empty() || d.site.as_deref() == Some(site);
            let s = status[*i];
            let filter = match wanted {
                "answering" => matches!(s, Status::Answering | Status::Warning),
                "problem" => !matches!(s, Status::Answering | Status::ByHand),
                "low" => lowest_toner(d).is_some_and(|p| p <= low),
                "alerts" => d.open_alerts > 0,
                _ => true,
            };
            text && filter && at_site
        })
        .collect();
    let sort = q
        .sort
        .as_deref()
        .filter(|s| SORTS.contains(s))
        .unwrap_or("serial");
    let descending = q.dir.as_deref() == Some("desc");
    let mut counters: Vec<Option<(Option<u64>, Option<u64>)>> = vec![None; view.devices.len()];
    if sort == "bw" || sort == "colour" {
        // Sorting by a counter needs every row's: read them all.
        let serials: Vec<(usize, String)> = rows
            .iter()
            .map(|(i, d)| (*i, d.row.serial.to_string()))
            .collect();
        for (i, c) in read_counters(&state, serials).await {
            counters[i] = Some(c);
        }
    }
    // The view is in serial order already: sort only when asked otherwise.
    let by_serial = sort == "serial" && !descending;
    if !by_serial {
        rows.sort_by(|(ia, a), (ib, b)| {
            let order = match sort {
                "model" => a.row.model.cmp(&b.row.model),
                "location" => a.location.cmp(&b.location),
                "site" => a.site.cmp(&b.site),
                "status" => status[*ia].cmp(&status[*ib]),
                "last" => a
                    .row
                    .last_poll
                    .max(a.row.last_entered)
                    .cmp(&b.row.last_poll.max(b.row.last_entered)),
                "toner" => lowest_toner(a).cmp(&lowest_toner(b)),
                "alerts" => a.open_alerts.cmp(&b.open_alerts),
                "bw" => counters[*ia]
                    .and_then(|c| c.0)
                    .cmp(&counters[*ib].and_then(|c| c.0)),
                "colour" => counters[*ia]
                    .and_then(|c| c.1)
                    .cmp(&counters[*ib].and_then(|c| c.1)),
                _ => Ordering::Equal,
            };
            let order = order.then_with(|| a.row.serial.cmp(&b.row.serial));
            if descending { order.reverse() } else { order }
        });
    }
    let pages = rows.len().div_ceil(PAGE_SIZE).max(1);
    let page_no = q
        .page
        .as_deref()
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(1)
        .clamp(1, pages);
    let shown: Vec<(usize, &DeviceView)> = rows
        .iter()
        .skip((page_no - 1) * PAGE_SIZE)
        .take(PAGE_SIZE)
        .copied()
        .collect();
    let missing: Vec<(usize, String)> = shown
        .iter()
        .filter(|(i, _)| counters[*i].is_none())
        .map(|(i, d)| (*i, d.row.serial.to_string()))
        .collect();
    for (i, c) in read_counters(&state, missing).await {
        counters[i] = Some(c);
    }
    let shown_at = &state.config.display;
    let link = |sort_by: &str, label: &str| {
        let dir = if sort == sort_by && !descending {
            "desc"
        } else {
            "asc"
        };
        let href = format!(
            "/?q={}&status={}&site={}&sort={sort_by}&dir={dir}",
            url_encode(&search),
            url_encode(wanted),
            url_encode(site)
        );
        let current = (sort == sort_by).then_some(if descending {
            "descending"
        } else {
            "ascending"
        });
        let class = matches!(sort_by, "bw" | "colour" | "alerts").then_some("num");
        html! {
            th scope="col" class=[class] aria-sort=[current] {
                a href=(href) { (label) @if let Some(c) = current { @if c == "descending" { " ▼" } @else { " ▲" } } }
            }
        }
    };
    let page_href = |n: usize| {
        format!(
            "/?q={}&status={}&site={}&sort={sort}&dir={}&page={n}",
            url_encode(&search),
            url_encode(wanted),
            url_encode(site),
            if descending { "desc" } else { "asc" }
        )
    };
    let body = html! {
        ul class="counts" {
            li { span class="n" { (count(shown_at, total as i64)) } "devices" }
            li { span class="n" { (count(shown_at, answering as i64)) } "answering" }
            li class=(if low_supplies > 0 { "warn" } else { "" }) { span class="n" { (count(shown_at, low_supplies as i64)) } "low or empty toner" }
            li class=(if in_error > 0 { "bad" } else { "" }) { span class="n" { (count(shown_at, in_error as i64)) } "in error or warning" }
            li class=(if stale > 0 { "bad" } else { "" }) { span class="n" { (count(shown_at, stale as i64)) } "stale or unreachable" }
        }
        form class="filters" method="get" action="/" role="search" {
            label { "Search" input type="search" name="q" value=(search) placeholder="serial, model, location or site"; }
            @if !sites.is_empty() {
                label { "Site"
                    select name="site" {
                        option value="" selected[site.is_empty()] { "every site" }
                        @for s in &sites {
                            option value=(s) selected[site == *s] { (s) }
                        }
                    }
                }
            }
            label { "Show"
                select name="status" {
                    @for (value, text) in [("all", "all devices"), ("answering", "answering"), ("problem", "with a problem"), ("low", "low toner"), ("alerts", "with open alerts")] {
                        option value=(value) selected[wanted == value] { (text) }
                    }
                }
            }
            input type="hidden" name="sort" value=(sort);
            button type="submit" { "Apply" }
        }
        p class="muted" { (count(shown_at, rows.len() as i64)) " of " (count(shown_at, total as i64)) " devices match." }
        table id="fleet" {
            caption class="skip" { "Devices" }
            thead { tr {
                (link("serial", "Serial"))
                (link("model", "Model"))
                (link("location", "Location"))
                @if !sites.is_empty() { (link("site", "Site")) }
                (link("status", "Status"))
                (link("last", "Last reading"))
                (link("bw", "B/W"))
                (link("colour", "Colour"))
                (link("toner", "Toner"))
                (link("alerts", "Alerts"))
            } }
            tbody {
                @for (i, d) in &shown {
                    (row(d, status[*i], counters[*i], now, !sites.is_empty(), &state))
                }
            }
        }
        nav class="pager" aria-label="Pages" {
            @if page_no > 1 { a href=(page_href(page_no - 1)) rel="prev" { "← Previous" } }
            span { "Page " (page_no) " of " (pages) }
            @if page_no < pages { a href=(page_href(page_no + 1)) rel="next" { "Next →" } }
        }
    };
    page(&page_of.session, Section::Fleet, "Fleet", body).into_response()
}

/// The latest b/w and colour counters of `serials` (with their index).
async fn read_counters(
    state: &AppState,
    serials: Vec<(usize, String)>,
) -> Vec<(usize, (Option<u64>, Option<u64>))> {
    if serials.is_empty() {
        return Vec::new();
    }
    let st = state.clone();
    let read = tokio::task::spawn_blocking(move || {
        st.pool.read(|r| {
            let names: Vec<String> = serials.iter().map(|(_, s)| s.clone()).collect();
            let found = r.latest_values(&names, &[Meter::BwTotal, Meter::ColourTotal])?;
            Ok::<_, crate::storage::Error>(
                serials
                    .iter()
                    .filter_map(|(i, s)| found.get(s).map(|v| (*i, (v[0], v[1]))))
                    .collect::<Vec<_>>(),
            )
        })
    })
    .await;
    match read {
        Ok(Ok(found)) => found,
        Ok(Err(e)) => {
            tracing::error!("the fleet page's counters: {e}");
            Vec::new()
        }
        Err(e) => {
            tracing::error!("the fleet page's counters: {e}");
            Vec::new()
        }
    }
}

fn row(
    d: &DeviceView,
    status: Status,
    counters: Option<(Option<u64>, Option<u64>)>,
    now: Timestamp,
    with_site: bool,
    state: &AppState,
) -> Markup {
    let shown = &state.config.display;
    let last = d.row.last_poll.max(d.row.last_entered);
    let (bw, colour) = counters.unwrap_or((None, None));
    let toners: Vec<_> = d
        .row
        .supplies
        .iter()
        .filter(|s| matches!(s.kind.as_str(), "toner" | "toner_cartridge"))
        .collect();
    let serial = d.row.serial.as_str();
    html! {
        tr {
            th scope="row" { a href=(format!("/devices/{}", url_encode(serial))) { (serial) } }
            td { (d.row.model.as_deref().unwrap_or("-")) }
            td { (d.location.as_deref().unwrap_or("-")) }
            @if with_site { td { (d.site.as_deref().unwrap_or("-")) } }
            td class=(status.class()) { (status.label()) }
            td {
                @if let Some(t) = last {
                    (super::layout::when(shown, t.into()))
                    br;
                    span class="muted" { (age(now, Timestamp::from(t))) }
                } @else { "never" }
            }
            td class="num" { (bw.map_or_else(|| "-".into(), |n| count(shown, n))) }
            td class="num" { (colour.map_or_else(|| "-".into(), |n| count(shown, n))) }
            td class="toners" {
                @for s in &toners { (level_bar(s.colour.as_deref(), s.level, s.percent)) }
            }
            td class="num" {
                @if d.open_alerts > 0 {
                    a href=(format!("/alerts#{}", url_encode(serial))) { (d.open_alerts) }
                } @else { "0" }
            }
        }
    }
}

/// How long ago `at` was, in words.
pub fn age(now: Timestamp, at: Timestamp) -> String {
    let s = (now.millis() - at.millis()).max(0) / 1000;
    match s {
        0..60 => "just now".into(),
        60..3600 => format!("{} min ago", s / 60),
        3600..86_400 => format!("{} h ago", s / 3600),
        _ => format!("{} days ago", s / 86_400),
    }
}
