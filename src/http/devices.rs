//! `/api/v1/devices`: the list (from the fleet view) and one device in full.
//! Its readings are in `readings`.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::json;
use utoipa::IntoParams;
use utoipa::openapi::path::{Parameter, ParameterIn};

use super::auth::Viewer;
use super::error::{ApiError, ApiResult};
use super::params;
use super::{AppState, blocking};
use crate::answer::{
    AlertItem, DeviceDetail, DevicePage, DeviceStatus, DeviceSummary, ErrorBody, EventItem,
    FailureItem,
};
use crate::display::Display;
use crate::gather::{DeviceView, FleetView};
use crate::status;
use crate::timestamp::Timestamp;

#[derive(Deserialize)]
pub struct ListQuery {
    limit: Option<String>,
    after: Option<String>,
    site: Option<String>,
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
            params::site_query(),
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
    let interval = state.poll_interval_ms();
    let start = match q.after.as_deref() {
        Some(after) => view
            .devices
            .partition_point(|d| d.row.serial.as_str() <= after),
        None => 0,
    };
    let site = params::site(&q.site)?;
    let mut page = view.devices[start.min(view.devices.len())..]
        .iter()
        .filter(|d| site.is_none() || d.site.as_deref() == site);
    let items: Vec<DeviceSummary> = page
        .by_ref()
        .take(limit)
        .map(|d| summary(d, now, interval, &state.config.display))
        .collect();
    let next =
        (items.len() == limit && page.next().is_some()).then(|| items[limit - 1].serial.clone());
    Ok(Json(DevicePage { items, next }))
}

fn summary(d: &DeviceView, now: Timestamp, interval: i64, shown: &Display) -> DeviceSummary {
    let last = d.row.last_poll.max(d.row.last_entered);
    DeviceSummary {
        serial: d.row.serial.to_string(),
        model: d.row.model.clone(),
        location: d.location.clone(),
        address: d.row.address.clone(),
        last_reading_at: last.map(|t| shown.instant(t.into())),
        reachable: d.polled.then(|| d.reachable()),
        stale: d
            .polled
            .then(|| crate::alerts::is_stale(d.row.last_poll.map(Timestamp::from), interval, now)),
        discovered: d.discovered,
        lowest_supply: d
            .row
            .supplies
            .iter()
            .filter(|s| s.percent.is_some())
            .min_by_key(|s| s.percent)
            .cloned(),
        open_alerts: d.open_alerts,
        site: d.site.clone(),
    }
}

/// Looks a serial up in the view: 404 when neither the database nor the
/// config knows it.
pub(super) fn known<'a>(view: &'a FleetView, serial: &str) -> ApiResult<&'a DeviceView> {
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
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<DeviceDetail>> {
    let Path(serial) = path?;
    Ok(Json(device_detail(&state, serial).await?))
}

/// One device in full, as `/api/v1/devices/{serial}` and its web page
/// show it.
pub(crate) async fn device_detail(state: &AppState, serial: String) -> ApiResult<DeviceDetail> {
    let view = state.view();
    let device = known(&view, &serial)?.clone();
    let now = state.clock.timestamp();
    let interval = state.poll_interval_ms();
    let alerts: Vec<AlertItem> = view
        .alerts
        .iter()
        .filter(|a| a.serial.as_deref() == Some(serial.as_str()))
        .map(|a| a.answer(&state.config.display))
        .collect();
    let st = state.clone();
    let (latest, events, failures, outlooks) = blocking(move || {
        st.pool.read(|r| {
            let outlooks = crate::gather::supplies::device_outlooks(
                r,
                &st.config,
                &device.row.serial,
                device.row.model.as_deref(),
                &device.row.supplies,
                now,
            )?;
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
            Ok::<_, ApiError>((latest, events, failures, outlooks))
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
    let shown = &state.config.display;
    Ok(DeviceDetail {
        summary: summary(device, now, interval, shown),
        entry: device.row.entry_key.clone(),
        last_poll_at: device.row.last_poll.map(|t| shown.instant(t.into())),
        status: device.row.last_poll.map(|_| DeviceStatus {
            device: status::device_status_name(device.row.device_status).to_owned(),
            printer: status::printer_status_name(device.row.printer_status).to_owned(),
            errors: status::error_names(device.row.errors.unwrap_or(0)),
        }),
        meters,
        supplies: device.row.supplies.clone(),
        supply_forecasts: outlooks,
        alerts,
        events: events
            .into_iter()
            .map(|e| EventItem {
                at: shown.instant(e.at.into()),
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
                at: shown.instant(f.at.into()),
                cause: f.cause,
                detail: f.detail,
            })
            .collect(),
    })
}
