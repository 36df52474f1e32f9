//! `/api/v1/contracts`: the contracts of the config, and the billing engine's
//! answers — the same JSON as `telleverk reconcile --json` and
//! `telleverk invoices --json`, from the same types ([`crate::answer`]).

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa::openapi::path::{Parameter, ParameterIn};

use super::auth::Viewer;
use super::error::{ApiError, ApiResult};
use super::{AppState, blocking, params};
use crate::answer::{self, ContractItem, ContractList, ErrorBody};
use crate::billing;
use crate::contract::Contract;

/// The contracts.
#[utoipa::path(
    get,
    path = "/api/v1/contracts",
    tag = "contracts",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every contract of the config", body = ContractList),
        (status = 401, description = "No token or an unknown one", body = ErrorBody),
    )
)]
pub async fn contracts(_caller: Viewer, State(state): State<AppState>) -> Json<ContractList> {
    Json(ContractList {
        items: state
            .config
            .contracts
            .iter()
            .map(ContractItem::from)
            .collect(),
    })
}

pub(super) fn find(state: &AppState, id: &str) -> ApiResult<Contract> {
    state
        .config
        .contract(id)
        .cloned()
        .ok_or_else(|| ApiError::not_found(format!("no contract `{id}`")))
}

#[derive(Deserialize)]
pub struct AtQuery {
    at: Option<String>,
}

impl IntoParams for AtQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![params::query(
            "at",
            false,
            "The date (00:00 Europe/Oslo); today when left out",
            params::date_schema(),
            Some(serde_json::json!("2026-06-01")),
        )]
    }
}

/// A contract's standing on a date: every period against the commitment,
/// projections, the 15 % rule, the notice deadline, estimates, gaps, events.
#[utoipa::path(
    get,
    path = "/api/v1/contracts/{id}/reconciliation",
    tag = "contracts",
    params(("id" = String, Path, description = "The contract's id", example = "K1"), AtQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The standing (as `telleverk reconcile --json`)", body = answer::Standing),
        (status = 400, description = "A bad parameter", body = ErrorBody),
        (status = 401, description = "No token or an unknown one", body = ErrorBody),
        (status = 404, description = "No such contract", body = ErrorBody),
        (status = 500, description = "The contract's money could not be computed (`billing_failed`: an amount too large, the message says which), or another failure (`internal`)", body = ErrorBody),
    )
)]
pub async fn reconciliation(
    _caller: Viewer,
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<AtQuery>, QueryRejection>,
) -> ApiResult<Json<answer::Standing>> {
    let Path(id) = path?;
    let Query(q) = query?;
    let at = params::opt_date("at", &q.at)?.unwrap_or_else(|| state.today());
    Ok(Json(standing(&state, &id, at).await?))
}

/// A contract's standing on `at`, as the API and its web page show it.
pub(crate) async fn standing(
    state: &AppState,
    id: &str,
    at: chrono::NaiveDate,
) -> ApiResult<answer::Standing> {
    let contract = find(state, id)?;
    let st = state.clone();
    blocking(move || {
        st.pool.read(|r| {
            let histories = crate::gather::histories(r, &st.config, &contract, at)?;
            let standing = billing::reconcile(&contract, &histories, at)
                .map_err(|e| ApiError::billing(&contract.id, e))?;
            let unrefunded =
                crate::gather::invoice_checks::unrefunded_estimates(r, &st.config, &contract)?;
            let mut answer = billing::standing_answer(&standing, &st.config.display);
            answer.unrefunded_estimates =
                crate::invoice_check::unrefunded_answer(&unrefunded, &st.config.display);
            Ok::<_, ApiError>(answer)
        })
    })
    .await
}

#[derive(Deserialize)]
pub struct UntilQuery {
    until: Option<String>,
}

impl IntoParams for UntilQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![params::query(
            "until",
            false,
            "Invoices issued up to and including this date; today when left out",
            params::date_schema(),
            Some(serde_json::json!("2026-07-01")),
        )]
    }
}

/// Every invoice of a contract issued up to a date.
#[utoipa::path(
    get,
    path = "/api/v1/contracts/{id}/invoices",
    tag = "contracts",
    params(("id" = String, Path, description = "The contract's id", example = "K1"), UntilQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The invoices (as `telleverk invoices --json`)", body = answer::Invoices),
        (status = 400, description = "A bad parameter", body = ErrorBody),
        (status = 401, description = "No token or an unknown one", body = ErrorBody),
        (status = 404, description = "No such contract", body = ErrorBody),
        (status = 500, description = "The contract's money could not be computed (`billing_failed`: an amount too large, the message says which), or another failure (`internal`)", body = ErrorBody),
    )
)]
pub async fn invoices(
    _caller: Viewer,
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<UntilQuery>, QueryRejection>,
) -> ApiResult<Json<answer::Invoices>> {
    let Path(id) = path?;
    let Query(q) = query?;
    let until = params::opt_date("until", &q.until)?.unwrap_or_else(|| state.today());
    Ok(Json(contract_invoices(&state, &id, until).await?))
}

/// A contract's invoices issued up to `until`, as the API and its web page
/// show them.
pub(crate) async fn contract_invoices(
    state: &AppState,
    id: &str,
    until: chrono::NaiveDate,
) -> ApiResult<answer::Invoices> {
    let contract = find(state, id)?;
    let st = state.clone();
    blocking(move || {
        st.pool.read(|r| {
            let histories = crate::gather::histories(r, &st.config, &contract, until)?;
            let invoices = billing::invoices(&contract, &histories, until)
                .map_err(|e| ApiError::billing(&contract.id, e))?;
            Ok::<_, ApiError>(billing::invoices_answer(
                &contract.id,
                &invoices,
                &st.config.display,
            ))
        })
    })
    .await
}
