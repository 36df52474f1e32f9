//! `/api/v1/devices`: the list (from the fleet view), one device, its
//! readings, and readings entered by people.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::{IntoParams, ToSchema};

use super::auth::{Operator, Viewer};
use super::error::{ApiError, ApiResult};
use super::params;
use super::{AppState, blocking};
use crate::alerts::Alert;
use crate::answer::{
    AlertItem, DeviceDetail, DevicePage, DeviceStatus, DeviceSummary, Entered, EventItem,
    FailureItem, ReadingItem, ReadingPage,
};
use crate::answer::{ErrorBody, ErrorCode};
use crate::contract::dates::rfc3339;
use crate::gather::{DeviceView, FleetView};
use crate::import::{ImportRow, MAX_ENTERED_VALUE, parse_taken_at};
use crate::meters::{Meter, Source};
use crate::record::Reading;
use crate::serial::Serial;
use crate::status;
use crate::storage::ImportError;
use crate::timestamp::Timestamp;

#[derive(Deserialize)]
pub struct ListQuery {
    limit: Option<String>,
    after: Option<String>,
}

impl IntoParams for ListQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![
            params::query(
                "limit",
                false,
                "Devices per page, 1 to 1000 (default 100)",
                params::limit_schema(1000),
                Some(json!(100)),
            ),
            params::query(
                "after",
                false,
                "Start after this serial (the `next` of the previous page)",
                params::text_schema(),
                None,
            ),
        ]
    }
}

/// The devices, by serial, a page at a time.
#[utoipa::path(
    get,
    path = "/api/v1/devices",
    tag = "devices",
    params(ListQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of devices", body = DevicePage),
        (status = 400, description = "A bad parameter", body = ErrorBody),
        (status = 401, description = "No token or an unknown one", body = ErrorBody),
    )
)]
pub async fn list(
    _caller: Viewer,
    State(state): State<AppState>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> ApiResult<Json<DevicePage>> {
    let Query(q) = query?;
    let limit = params::limit("limit", &q.limit, 100, 1000)?;
    let view = state.view();
    let now = state.clock.timestamp();
    let interval = state.config.collector.interval.as_millis() as i64;
    let start = match q.after.as_deref() {
        Some(after) => view
            .devices
            .partition_point(|d| d.row.serial.as_str() <= after),
        None => 0,
    };
    let page = &view.devices[start.min(view.devices.len())..];
    let items: Vec<DeviceSummary> = page
        .iter()
        .take(limit)
        .map(|d| summary(d, now, interval))
        .collect();
    let next = (page.len() > limit).then(|| page[limit - 1].row.serial.to_string());
    Ok(Json(DevicePage { items, next }))
}

fn summary(d: &DeviceView, now: Timestamp, interval: i64) -> DeviceSummary {
    let last = d.row.last_poll.max(d.row.last_entered);
    DeviceSummary {
        serial: d.row.serial.to_string(),
        model: d.row.model.clone(),
        location: d.location.clone(),
        address: d.row.address.clone(),
        last_reading_at: last.map(|t| rfc3339(t.into())),
        reachable: d.polled.then(|| d.reachable()),
        stale: d
            .polled
            .then(|| crate::alerts::is_stale(d.row.last_poll.map(Timestamp::from), interval, now)),
        lowest_supply: d
            .row
            .supplies
            .iter()
            .filter(|s| s.percent.is_some())
            .min_by_key(|s| s.percent)
            .cloned(),
        open_alerts: d.open_alerts,
    }
}

/// Looks a serial up in the view: 404 when neither the database nor the
/// config knows it.
fn known<'a>(view: &'a FleetView, serial: &str) -> ApiResult<&'a DeviceView> {
    view.device(serial)
        .ok_or_else(|| ApiError::not_found(format!("no device with serial `{serial}`")))
}

/// One device: latest meters, supplies, status, alerts, events and failures.
#[utoipa::path(
    get,
    path = "/api/v1/devices/{serial}",
    tag = "devices",
    params(("serial" = String, Path, description = "The device's serial number", example = "AA2J021004711")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The device", body = DeviceDetail),
        (status = 401, description = "No token or an unknown one", body = ErrorBody),
        (status = 404, description = "No such serial", body = ErrorBody),
    )
)]
pub async fn detail(
    _caller: Viewer,
    State(state): State<AppState>,
    Path(serial): Path<String>,
) -> ApiResult<Json<DeviceDetail>> {
    let view = state.view();
    let device = known(&view, &serial)?.clone();
    let now = state.clock.timestamp();
    let interval = state.config.collector.interval.as_millis() as i64;
    let alerts: Vec<AlertItem> = view
        .alerts
        .iter()
        .filter(|a| a.serial.as_deref() == Some(serial.as_str()))
        .map(Alert::answer)
        .collect();
    let st = state.clone();
    let (latest, events, failures) = blocking(move || {
        st.pool.read(|r| {
            let latest = r
                .readings(
                    &device.row.serial,
                    device.row.last_poll.max(device.row.last_entered),
                    None,
                )?
                .unwrap_or_default();
            let events = r.events(&device.row.serial)?;
            let failures = match &device.row.entry_key {
                Some(key) => r.entry_failures(key, 20)?,
                None => Vec::new(),
            };
            Ok::<_, ApiError>((latest, events, failures))
        })
    })
    .await?;
    let device = known(&view, &serial)?;
    let mut meters = BTreeMap::new();
    for reading in &latest {
        for mv in reading.meters.iter() {
            meters.insert(mv.meter.name().to_owned(), mv.value);
        }
    }
    Ok(Json(DeviceDetail {
        summary: summary(device, now, interval),
        entry: device.row.entry_key.clone(),
        last_poll_at: device.row.last_poll.map(|t| rfc3339(t.into())),
        status: device.row.last_poll.map(|_| DeviceStatus {
            device: status::device_status_name(device.row.device_status).to_owned(),
            printer: status::printer_status_name(device.row.printer_status).to_owned(),
            errors: status::error_names(device.row.errors.unwrap_or(0)),
        }),
        meters,
        supplies: device.row.supplies.clone(),
        alerts,
        events: events
            .into_iter()
            .map(|e| EventItem {
                at: rfc3339(e.at.into()),
                kind: e.kind,
                meter: e.meter.map(|m| m.name().to_owned()),
                before: e.before,
                after: e.after,
                detail: e.detail,
            })
            .collect(),
        failures: failures
            .into_iter()
            .map(|f| FailureItem {
                at: rfc3339(f.at.into()),
                cause: f.cause,
                detail: f.detail,
            })
            .collect(),
    }))
}

#[derive(Deserialize)]
pub struct ReadingsQuery {
    from: Option<String>,
    to: Option<String>,
    limit: Option<String>,
}

impl IntoParams for ReadingsQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![
            params::query(
                "from",
                false,
                "Readings at or after this time",
                params::time_schema(),
                Some(json!("2025-01-01")),
            ),
            params::query(
                "to",
                false,
                "Readings at or before this time",
                params::time_schema(),
                Some(json!("2030-01-01")),
            ),
            params::query(
                "limit",
                false,
                "At most this many readings, oldest first: 1 to 10000 (default 1000)",
                params::limit_schema(10_000),
                None,
            ),
        ]
    }
}

fn reading_item(r: &Reading) -> ReadingItem {
    ReadingItem {
        taken_at: rfc3339(r.at.into()),
        source: r.source.name().to_owned(),
        meters: r
            .meters
            .iter()
            .map(|m| (m.meter.name().to_owned(), m.value))
            .collect(),
    }
}

/// A device's readings with their source, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/devices/{serial}/readings",
    tag = "devices",
    params(("serial" = String, Path, description = "The device's serial number", example = "AA2J021004711"), ReadingsQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The readings", body = ReadingPage),
        (status = 400, description = "A bad parameter", body = ErrorBody),
        (status = 401, description = "No token or an unknown one", body = ErrorBody),
        (status = 404, description = "No such serial", body = ErrorBody),
    )
)]
pub async fn readings(
    _caller: Viewer,
    State(state): State<AppState>,
    Path(serial): Path<String>,
    query: Result<Query<ReadingsQuery>, QueryRejection>,
) -> ApiResult<Json<ReadingPage>> {
    let Query(q) = query?;
    let from = params::opt_instant("from", &q.from)?;
    let to = params::opt_instant("to", &q.to)?;
    let limit = params::limit("limit", &q.limit, 1000, 10_000)?;
    known(&state.view(), &serial)?;
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        // Nothing is at or after `from` and at or before `to`.
        return Ok(Json(ReadingPage {
            serial,
            items: Vec::new(),
            next: None,
        }));
    }
    let st = state.clone();
    let key = serial.clone();
    let all = blocking(move || {
        st.pool
            .read(|r| Ok::<_, ApiError>(r.readings(&key, from, to)?.unwrap_or_default()))
    })
    .await?;
    let next = all.get(limit).map(|r| rfc3339(r.at.into()));
    Ok(Json(ReadingPage {
        serial,
        items: all.iter().take(limit).map(reading_item).collect(),
        next,
    }))
}

/// A reading entered by a person.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "taken_at": "2026-06-30T16:00:00+02:00",
    "meters": {"bw_total": 123456, "colour_total": 23456},
    "source": "manual"
}))]
pub struct NewReading {
    /// RFC 3339, or YYYY-MM-DD[ HH:MM] in Europe/Oslo time (a local time that
    /// does not exist or occurs twice needs an offset).
    #[schema(schema_with = params::time_schema)]
    pub taken_at: String,
    /// Meter name → value (a whole number from 0 to 999 999 999 999).
    #[schema(schema_with = params::meters_schema)]
    pub meters: BTreeMap<String, serde_json::Value>,
    /// manual (default, also for null), vendor, final or start.
    #[schema(schema_with = params::source_schema)]
    pub source: Option<String>,
}

/// Enters a reading (operator): validated like the CSV import; a different
/// value for the same serial, meter, instant and source is a conflict.
#[utoipa::path(
    post,
    path = "/api/v1/devices/{serial}/readings",
    tag = "devices",
    params(("serial" = String, Path, description = "The device's serial number", example = "AA2J021004711")),
    request_body = NewReading,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Stored", body = Entered),
        (status = 200, description = "Already stored with the same values", body = Entered),
        (status = 400, description = "Not JSON of this shape", body = ErrorBody),
        (status = 401, description = "No token or an unknown one", body = ErrorBody),
        (status = 403, description = "The token's role may not enter readings", body = ErrorBody),
        (status = 404, description = "Neither the database nor the config knows the serial", body = ErrorBody),
        (status = 409, description = "A different value is stored for the same serial, meter, instant and source", body = ErrorBody),
        (status = 422, description = "An invalid reading: unknown meter, bad value, ambiguous local time", body = ErrorBody),
    )
)]
pub async fn enter_reading(
    caller: Operator,
    State(state): State<AppState>,
    Path(serial): Path<String>,
    body: Result<Json<NewReading>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<Entered>)> {
    let Json(body) = body?;
    known(&state.view(), &serial)?;
    let rows = import_rows(&serial, &body)?;
    let source = rows[0].source;
    let taken_at = rows[0].at;
    let store = state.store.clone();
    let summary = blocking(move || {
        let mut store = store.lock().expect("store lock");
        store.import_readings(&rows).map_err(|e| match e {
            ImportError::Conflict(c) => ApiError::new(
                ErrorCode::Conflict,
                format!(
                    "{} {} at {} ({}) is already stored as {}, not {}; nothing was stored",
                    c.serial,
                    c.meter,
                    rfc3339(taken_at.into()),
                    c.source_name,
                    c.stored,
                    c.given
                ),
            ),
            ImportError::Storage(s) => s.into(),
        })
    })
    .await?;
    tracing::info!(token = %caller.name, %serial, stored = summary.stored, "reading entered");
    state.changed.notify_one();
    let status = if summary.stored > 0 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(Entered {
            serial,
            taken_at: rfc3339(taken_at.into()),
            source: source.name().to_owned(),
            stored: summary.stored,
            already_stored: summary.already_stored,
        }),
    ))
}

fn invalid(message: String) -> ApiError {
    ApiError::new(ErrorCode::InvalidReading, message)
}

/// A JSON number that is a whole number from 0 up: `7`, or `7.0` (JSON
/// Schema counts that an integer too, and so do some clients).
fn whole_number(value: &serde_json::Value) -> Option<u64> {
    value.as_u64().or_else(|| {
        value
            .as_f64()
            .filter(|f| f.fract() == 0.0 && (0.0..=MAX_ENTERED_VALUE as f64).contains(f))
            .map(|f| f as u64)
    })
}

/// The import rows of an entered reading, checked as the CSV import checks.
fn import_rows(serial: &str, body: &NewReading) -> ApiResult<Vec<ImportRow>> {
    let serial = Serial::parse(serial).map_err(|_| invalid("the serial is empty".into()))?;
    let at: DateTime<Utc> =
        parse_taken_at(&body.taken_at).map_err(|m| invalid(format!("`taken_at`: {m}")))?;
    let source: Source = match body.source.as_deref() {
        None => Source::Manual,
        Some(s) => s.parse().map_err(|m| invalid(format!("`source`: {m}")))?,
    };
    if body.meters.is_empty() {
        return Err(invalid("`meters`: give at least one meter".into()));
    }
    let mut rows = Vec::new();
    for (name, value) in &body.meters {
        let meter: Meter = name
            .parse()
            .map_err(|e| invalid(format!("`meters`: {e}")))?;
        let value = whole_number(value)
            .filter(|v| *v <= MAX_ENTERED_VALUE)
            .ok_or_else(|| {
                invalid(format!(
                    "`meters.{name}`: {value} is not a whole number from 0 to {MAX_ENTERED_VALUE}"
                ))
            })?;
        rows.push(ImportRow {
            line: 1,
            serial: serial.clone(),
            at,
            meter,
            value,
            source,
        });
    }
    Ok(rows)
}
