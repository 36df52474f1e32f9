//! `/api/v1/devices/{serial}/uptime` and `/api/v1/contracts/{id}/uptime`:
//! working-day uptime per month (§4.7), as `telleverk uptime --json`.

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa::openapi::path::{Parameter, ParameterIn};

use super::auth::Viewer;
use super::billing::find;
use super::devices::known;
use super::error::{ApiError, ApiResult};
use super::{AppState, blocking, params};
use crate::answer::{ErrorBody, Uptime, UptimeList};
use crate::gather::uptime::{uptime_answer, uptime_answers};

#[derive(Deserialize)]
pub struct MonthsQuery {
    months: Option<String>,
}

impl IntoParams for MonthsQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![params::query(
            "months",
            false,
            "How many whole months before this one (1 to 60; 6 when left out)",
            params::limit_schema(60),
            Some(serde_json::json!(6)),
        )]
    }
}

/// The months asked for, oldest first.
fn months(state: &AppState, q: &MonthsQuery) -> ApiResult<Vec<chrono::NaiveDate>> {
    let n = params::limit("months", &q.months, 6, 60)?;
    Ok(crate::uptime::months_before(state.today(), n as u32))
}

/// A device's uptime on working days (Monday–Friday 08:00–16:00 Oslo, no
/// public holidays or closed days) per month, from its polls.
#[utoipa::path(
    get,
    path = "/api/v1/devices/{serial}/uptime",
    tag = "devices",
    params(("serial" = String, Path, description = "The device's serial number", example = "AA2J021004711"), MonthsQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Its uptime", body = Uptime),
        (status = 400, description = "A bad parameter", body = ErrorBody),
        (status = 401, description = "No token or an unknown one", body = ErrorBody),
        (status = 404, description = "No such serial", body = ErrorBody),
    )
)]
pub async fn device(
    _caller: Viewer,
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<MonthsQuery>, QueryRejection>,
) -> ApiResult<Json<Uptime>> {
    let Path(serial) = path?;
    let Query(q) = query?;
    known(&state.view(), &serial)?;
    let months = months(&state, &q)?;
    let st = state.clone();
    let now = state.clock.timestamp();
    let answer = blocking(move || {
        let contract = st
            .config
            .contracts
            .iter()
            .find(|c| c.devices.iter().any(|m| m.serial.as_str() == serial));
        st.pool.read(|r| {
            uptime_answer(r, &st.config, &serial, contract, &months, now).map_err(ApiError::from)
        })
    })
    .await?;
    Ok(Json(answer))
}

/// The uptime of every device of a contract, held to its `uptime_pct`.
#[utoipa::path(
    get,
    path = "/api/v1/contracts/{id}/uptime",
    tag = "contracts",
    params(("id" = String, Path, description = "The contract's id", example = "K1"), MonthsQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Each device's uptime", body = UptimeList),
        (status = 400, description = "A bad parameter", body = ErrorBody),
        (status = 401, description = "No token or an unknown one", body = ErrorBody),
        (status = 404, description = "No such contract", body = ErrorBody),
    )
)]
pub async fn contract(
    _caller: Viewer,
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<MonthsQuery>, QueryRejection>,
) -> ApiResult<Json<UptimeList>> {
    let Path(id) = path?;
    let Query(q) = query?;
    let months = months(&state, &q)?;
    Ok(Json(UptimeList {
        items: contract_uptime(&state, &id, months).await?,
    }))
}

/// The uptime of every device of contract `id` over `months`, as the API
/// and the contract's web page show it.
pub(crate) async fn contract_uptime(
    state: &AppState,
    id: &str,
    months: Vec<chrono::NaiveDate>,
) -> ApiResult<Vec<crate::answer::Uptime>> {
    let contract = find(state, id)?;
    let st = state.clone();
    let now = state.clock.timestamp();
    blocking(move || {
        let mut serials: Vec<String> = contract
            .devices
            .iter()
            .map(|m| m.serial.to_string())
            .collect();
        serials.sort();
        serials.dedup();
        let devices: Vec<(String, Option<&crate::contract::Contract>)> =
            serials.into_iter().map(|s| (s, Some(&contract))).collect();
        uptime_answers(&st.config.storage, &st.config, &devices, &months, now)
            .map_err(ApiError::from)
    })
    .await
}
