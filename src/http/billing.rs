//! `/api/v1/contracts`: the contracts of the config, and the billing engine's
//! answers — the same JSON as `telleverk reconcile --json` and
//! `telleverk invoices --json`. The schema types here only describe that JSON
//! for the OpenAPI document; `billing::json` makes it.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::{IntoParams, ToSchema};

use super::auth::Viewer;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::{AppState, blocking, params};
use crate::billing;
use crate::contract::{Billing, Contract};

/// A contract as configured.
#[derive(Serialize, ToSchema)]
pub struct ContractItem {
    pub id: String,
    /// advance or arrears.
    pub billing: String,
    pub start: String,
    pub term_months: u32,
    pub devices: Vec<MemberItem>,
    pub committed_bw: Option<u64>,
    pub committed_colour: Option<u64>,
    pub minimum_bw: u64,
    pub minimum_colour: u64,
    /// NOK, two decimals.
    pub fixed_fee_monthly: String,
    pub deviation_threshold_pct: String,
    pub defer_at_or_below: String,
    pub estimation_fee: String,
    pub renewal_uplift_pct: String,
    pub terminated_on: Option<String>,
    pub prices: Vec<PriceItem>,
}

#[derive(Serialize, ToSchema)]
pub struct MemberItem {
    pub serial: String,
    pub from: Option<String>,
    pub until: Option<String>,
}

/// A dated price version (NOK per page, at least 4 decimals).
#[derive(Serialize, ToSchema)]
pub struct PriceItem {
    pub from: String,
    pub bw: String,
    pub colour: String,
    pub bw_a3: Option<String>,
    pub colour_a3: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ContractList {
    pub items: Vec<ContractItem>,
}

fn contract_item(c: &Contract) -> ContractItem {
    let price = billing::price_text;
    ContractItem {
        id: c.id.clone(),
        billing: match c.billing {
            Billing::Advance => "advance",
            Billing::Arrears => "arrears",
        }
        .to_owned(),
        start: c.start.to_string(),
        term_months: c.term_months,
        devices: c
            .devices
            .iter()
            .map(|m| MemberItem {
                serial: m.serial.clone(),
                from: m.from.map(|d| d.to_string()),
                until: m.until.map(|d| d.to_string()),
            })
            .collect(),
        committed_bw: c.committed_bw,
        committed_colour: c.committed_colour,
        minimum_bw: c.minimum_bw,
        minimum_colour: c.minimum_colour,
        fixed_fee_monthly: c.fixed_fee_monthly.to_string(),
        deviation_threshold_pct: c.deviation_threshold_pct.to_string(),
        defer_at_or_below: c.defer_at_or_below.to_string(),
        estimation_fee: c.estimation_fee.to_string(),
        renewal_uplift_pct: c.renewal_uplift_pct.to_string(),
        terminated_on: c.terminated_on.map(|d| d.to_string()),
        prices: c
            .prices
            .iter()
            .map(|v| PriceItem {
                from: v.from.to_string(),
                bw: price(v.prices.bw),
                colour: price(v.prices.colour),
                bw_a3: v.prices.bw_a3.map(price),
                colour_a3: v.prices.colour_a3.map(price),
            })
            .collect(),
    }
}

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
        items: state.config.contracts.iter().map(contract_item).collect(),
    })
}

fn find(state: &AppState, id: &str) -> ApiResult<Contract> {
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
        (status = 200, description = "The standing (as `telleverk reconcile --json`)", body = StandingSchema),
        (status = 400, description = "A bad parameter", body = ErrorBody),
        (status = 401, description = "No token or an unknown one", body = ErrorBody),
        (status = 404, description = "No such contract", body = ErrorBody),
    )
)]
pub async fn reconciliation(
    _caller: Viewer,
    State(state): State<AppState>,
    Path(id): Path<String>,
    query: Result<Query<AtQuery>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let Query(q) = query?;
    let at = params::opt_date("at", &q.at)?.unwrap_or_else(|| state.today());
    let contract = find(&state, &id)?;
    let st = state.clone();
    let standing = blocking(move || {
        st.pool.read(|r| {
            let histories = crate::gather::histories(r, &st.config, &contract, at)?;
            Ok::<_, ApiError>(billing::standing_json(&billing::reconcile(
                &contract, &histories, at,
            )))
        })
    })
    .await?;
    Ok(Json(standing))
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
        (status = 200, description = "The invoices (as `telleverk invoices --json`)", body = InvoicesSchema),
        (status = 400, description = "A bad parameter", body = ErrorBody),
        (status = 401, description = "No token or an unknown one", body = ErrorBody),
        (status = 404, description = "No such contract", body = ErrorBody),
    )
)]
pub async fn invoices(
    _caller: Viewer,
    State(state): State<AppState>,
    Path(id): Path<String>,
    query: Result<Query<UntilQuery>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let Query(q) = query?;
    let until = params::opt_date("until", &q.until)?.unwrap_or_else(|| state.today());
    let contract = find(&state, &id)?;
    let st = state.clone();
    let invoices = blocking(move || {
        st.pool.read(|r| {
            let histories = crate::gather::histories(r, &st.config, &contract, until)?;
            let invoices = billing::invoices(&contract, &histories, until);
            Ok::<_, ApiError>(billing::invoices_json(&contract.id, &invoices))
        })
    })
    .await?;
    Ok(Json(invoices))
}

// The shapes `billing::json` writes, for the OpenAPI document only.

/// `telleverk reconcile --json`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct StandingSchema {
    contract: String,
    at: String,
    periods: Vec<PeriodSchema>,
    notice_deadline: Option<String>,
    renewal: Option<RenewalSchema>,
    ends: Option<String>,
    boundary_values: Vec<BoundarySchema>,
    gaps: Vec<GapSchema>,
    events: Vec<SeriesEventSchema>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
struct PeriodSchema {
    /// quarter, half or year.
    kind: String,
    start: String,
    end: String,
    running: bool,
    bw: ClassSchema,
    colour: ClassSchema,
}

#[derive(ToSchema)]
#[allow(dead_code)]
struct ClassSchema {
    /// The period's share of the annual commitment; null when none.
    committed: Option<f64>,
    actual: u64,
    projected: Option<u64>,
    deviation_pct: Option<f64>,
    breach: bool,
}

#[derive(ToSchema)]
#[allow(dead_code)]
struct RenewalSchema {
    date: String,
    prices: PricesSchema,
}

#[derive(ToSchema)]
#[allow(dead_code)]
struct PricesSchema {
    bw: String,
    colour: String,
    #[schema(required = false)]
    bw_a3: Option<String>,
    #[schema(required = false)]
    colour_a3: Option<String>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
struct BoundarySchema {
    serial: String,
    at: String,
    meter: String,
    value: u64,
    /// exact, bracketed, interpolation or extrapolation.
    method: String,
    basis: Vec<BasisSchema>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
struct BasisSchema {
    taken_at: String,
    value: u64,
    source: String,
}

#[derive(ToSchema)]
#[allow(dead_code)]
struct GapSchema {
    serial: String,
    meter: String,
    from: String,
    to: String,
    reason: String,
}

#[derive(ToSchema)]
#[allow(dead_code)]
struct SeriesEventSchema {
    serial: String,
    meter: String,
    at: String,
    kind: String,
    before: u64,
    after: u64,
}

/// `telleverk invoices --json`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct InvoicesSchema {
    contract: String,
    invoices: Vec<InvoiceSchema>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
struct InvoiceSchema {
    /// a_konto, a3, settlement or arrears.
    kind: String,
    period_start: String,
    period_end: String,
    issue_date: String,
    lines: Vec<LineSchema>,
    carried_in: String,
    total: String,
    /// due or deferred.
    status: String,
    estimated: bool,
    boundary_values: Vec<BoundarySchema>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
struct LineSchema {
    description: String,
    class: String,
    pages: Option<f64>,
    unit_price: String,
    amount: String,
    #[schema(required = false)]
    months: Option<u32>,
}
