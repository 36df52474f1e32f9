//! Health, the configuration (secrets redacted), the OpenAPI document, and
//! the JSON answers for unknown paths and methods.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::Uri;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::json;
use utoipa::IntoParams;
use utoipa::openapi::path::{Parameter, ParameterIn};

use super::auth::{Admin, Viewer};
use super::error::{ApiError, ApiResult};
use super::{AppState, blocking, params};
use crate::alerts::Alert;
use crate::answer::{
    AlertEventItem, AlertHistory, AlertList, AlertSettingsView, CollectorView, ConfigView,
    DeviceEntryView, ErrorBody, ErrorCode, Health, HttpView, NotifyView, ReportView, SmtpView,
    TokenView,
};
use crate::serial::Serial;
use crate::storage::AlertHistoryFilter;

/// Whether the service is up (no token needed).
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "system",
    responses((status = 200, description = "The service is up", body = Health))
)]
pub async fn healthz(State(state): State<AppState>) -> Json<Health> {
    let view = state.view();
    Json(Health {
        status: "ok".to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        devices: view.devices.len(),
        view_built_at: view.built_at.map(|t| state.config.display.instant(t)),
        contracts_checked_at: view
            .contracts_checked_at
            .map(|t| state.config.display.instant(t)),
    })
}

/// Every open alert: supplies low or empty, devices down, unreachable or
/// stale, readings due near a billing boundary, projected breaches of the
/// deviation threshold, notice deadlines near.
#[utoipa::path(
    get,
    path = "/api/v1/alerts",
    tag = "alerts",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The open alerts", body = AlertList),
        (status = 401, description = "No token or an unknown one", body = ErrorBody),
    )
)]
pub async fn alerts(_caller: Viewer, State(state): State<AppState>) -> Json<AlertList> {
    let view = state.view();
    let mut items: Vec<&Alert> = view.alerts.iter().collect();
    items.sort_by(|a, b| (a.kind, &a.serial, &a.contract).cmp(&(b.kind, &b.serial, &b.contract)));
    Json(AlertList {
        items: items
            .into_iter()
            .map(|a| a.answer(&state.config.display))
            .collect(),
    })
}

/// The configuration in force, secrets redacted (admin).
#[utoipa::path(
    get,
    path = "/api/v1/config",
    tag = "system",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The configuration", body = ConfigView),
        (status = 401, description = "No token or an unknown one", body = ErrorBody),
        (status = 403, description = "Only an admin may see the configuration", body = ErrorBody),
    )
)]
pub async fn config(_caller: Admin, State(state): State<AppState>) -> Json<ConfigView> {
    let c = &state.config;
    Json(ConfigView {
        file: c.file.display().to_string(),
        database: c.storage.shown(),
        collector: CollectorView {
            interval_seconds: c.collector.interval.as_secs(),
            concurrency: c.collector.concurrency,
            timeout_ms: c.collector.timeout.as_millis() as u64,
            retries: c.collector.retries,
        },
        devices: c
            .devices
            .iter()
            .map(|d| DeviceEntryView {
                address: d.address.clone(),
                version: d.version.name().to_owned(),
                credentials: d.credentials_redacted(),
                serial: d.serial.as_ref().map(Serial::to_string),
                location: d.location.clone(),
                profile: d.profile.clone(),
                large_counts_double: d.large_counts_double,
            })
            .collect(),
        hand_read: c.hand_read.iter().map(|d| d.serial.to_string()).collect(),
        contracts: c.contracts.iter().map(|k| k.id.clone()).collect(),
        http: HttpView {
            listen: c.http.listen.to_string(),
            max_connections: c.http.limits.max_connections,
            header_read_timeout_ms: c.http.limits.header_read_timeout.as_millis() as u64,
            request_timeout_ms: c.http.limits.request_timeout.as_millis() as u64,
            max_body_bytes: c.http.limits.max_body_bytes,
            tokens: c
                .http
                .tokens
                .iter()
                .map(|t| TokenView {
                    name: t.name.clone(),
                    role: t.role.name().to_owned(),
                })
                .collect(),
        },
        alerts: AlertSettingsView {
            supply_low_pct: c.alerts.supply_low_pct,
            reading_due_days: c.alerts.reading_due_days,
            notice_warning_days: c.alerts.notice_warning_days,
            forecast_days: c.alerts.forecast_days,
            coverage_tolerance_pct: c.alerts.coverage_tolerance_pct,
            site_silent: humantime::format_duration(c.alerts.site_silent).to_string(),
        },
        smtp: c.smtp.as_ref().map(|s| SmtpView {
            host: s.host.clone(),
            port: s.port,
            tls: s.tls.name().to_owned(),
            username: s.login.as_ref().map(|(user, _)| user.clone()),
            from: s.from.clone(),
        }),
        reports: c
            .reports
            .iter()
            .map(|r| ReportView {
                name: r.name.clone(),
                schedule: r.schedule.text().to_owned(),
                kind: r.kind.name().to_owned(),
                format: r.format.name().to_owned(),
                csv_delimiter: (r.csv_style.delimiter() as char).to_string(),
                directory: r.directory.display().to_string(),
                email_to: r.email_to.clone(),
            })
            .collect(),
        notify: c
            .notify
            .iter()
            .map(|n| NotifyView {
                kinds: n.kinds.iter().map(|k| k.name().to_owned()).collect(),
                email_to: n.email_to.clone(),
                webhook_url: n
                    .webhook
                    .as_ref()
                    .map(|w| crate::config::shown_destination(&w.url)),
                digest: n.digest.as_ref().map(|d| d.text().to_owned()),
            })
            .collect(),
    })
}

/// The OpenAPI 3 document of this API.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "system",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The OpenAPI document", content_type = "application/json", body = Object),
        (status = 401, description = "No token or an unknown one", body = ErrorBody),
    )
)]
pub async fn openapi(
    _caller: Viewer,
    Extension(doc): Extension<Arc<utoipa::openapi::OpenApi>>,
) -> Json<utoipa::openapi::OpenApi> {
    Json((*doc).clone())
}

/// Any path that is not a route.
pub async fn not_found(uri: Uri) -> ApiError {
    ApiError::not_found(format!("no such path: {}", uri.path()))
}

/// A route asked with a method it does not have.
pub async fn method_not_allowed(uri: Uri) -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        format!("{} does not take this method", uri.path()),
    )
}

#[derive(Deserialize)]
pub struct HistoryQuery {
    event: Option<String>,
    kind: Option<String>,
    serial: Option<String>,
    contract: Option<String>,
    before: Option<String>,
    limit: Option<String>,
}

impl IntoParams for HistoryQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let kinds: Vec<&str> = crate::alerts::Kind::ALL.iter().map(|k| k.name()).collect();
        vec![
            params::query(
                "event",
                false,
                "Only openings or only closings",
                params::choice_schema(&["opened", "closed"]),
                None,
            ),
            params::query(
                "kind",
                false,
                "Only alerts of this kind",
                params::choice_schema(&kinds),
                None,
            ),
            params::query(
                "serial",
                false,
                "Only alerts of this device",
                params::text_schema(),
                None,
            ),
            params::query(
                "contract",
                false,
                "Only alerts of this contract",
                params::text_schema(),
                None,
            ),
            params::query(
                "before",
                false,
                "Only events before this id (the `next_before` of the previous page)",
                params::limit_schema(i64::MAX as usize),
                None,
            ),
            params::query(
                "limit",
                false,
                "Events per page, 1 to 1000 (default 100)",
                params::limit_schema(1000),
                Some(json!(100)),
            ),
        ]
    }
}

/// The alert history: every opening and closing, newest first, a page at
/// a time. A closed alert is looked up here by its kind, device or
/// contract.
#[utoipa::path(
    get,
    path = "/api/v1/alerts/history",
    tag = "alerts",
    params(HistoryQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Openings and closings, newest first", body = AlertHistory),
        (status = 400, description = "A bad parameter", body = ErrorBody),
        (status = 401, description = "No token or an unknown one", body = ErrorBody),
    )
)]
pub async fn alert_history(
    _caller: Viewer,
    State(state): State<AppState>,
    query: Result<Query<HistoryQuery>, QueryRejection>,
) -> ApiResult<Json<AlertHistory>> {
    let Query(q) = query?;
    let limit = params::limit("limit", &q.limit, 100, 1000)?;
    let kinds: Vec<&str> = crate::alerts::Kind::ALL.iter().map(|k| k.name()).collect();
    if let Some(kind) = &q.kind {
        params::choice("kind", kind, &kinds)?;
    }
    let before = match &q.before {
        None => None,
        Some(_) => Some(params::limit("before", &q.before, 1, i64::MAX as usize)? as i64),
    };
    let filter = AlertHistoryFilter {
        kind: q.kind,
        serial: q.serial,
        contract: q.contract,
        before,
        opened: match q.event.as_deref() {
            None => None,
            Some(e) => Some(params::choice("event", e, &["opened", "closed"])? == "opened"),
        },
    };
    let st = state.clone();
    let mut events = blocking(move || {
        st.pool
            .read(|r| r.alert_history(&filter, limit + 1))
            .map_err(ApiError::from)
    })
    .await?;
    let next_before = (events.len() > limit).then(|| events[limit - 1].id);
    events.truncate(limit);
    let shown = &state.config.display;
    Ok(Json(AlertHistory {
        items: events
            .into_iter()
            .map(|e| AlertEventItem {
                id: e.id,
                event: if e.opened { "opened" } else { "closed" }.to_owned(),
                at: shown.instant(e.at),
                kind: e.kind,
                serial: e.serial,
                contract: e.contract,
                subject: e.subject,
                since: e.since.map(|t| shown.instant(t)),
                message: e.message,
                told: e.notice.is_some(),
            })
            .collect(),
        next_before,
    }))
}
