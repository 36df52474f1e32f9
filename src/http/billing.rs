//! `/api/v1/contracts`: the contracts of the config, and the billing engine's
//! answers — the same JSON as `telleverk reconcile --json` and
//! `telleverk invoices --json`, from the same types ([`crate::answer`]).

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use chrono::NaiveDate;
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

/// A contract's standing on `at`, as the API shows it.
async fn standing(state: &AppState, id: &str, at: NaiveDate) -> ApiResult<answer::Standing> {
    let asked = Asked {
        at: Some(at),
        ..Asked::default()
    };
    let answers = answers(state, id, asked).await?;
    answers
        .standing
        .ok_or_else(|| ApiError::internal("no standing was asked for"))
}

/// What a contract's page shows of its billing.
pub(crate) struct ContractPage {
    pub standing: answer::Standing,
    /// Issued up to the date asked for.
    pub invoices: answer::Invoices,
    /// The running half (or quarter) and year, counted every second month.
    pub uses: Vec<answer::PeriodUse>,
}

/// A contract's standing on `today`, its invoices issued up to `until` and
/// its running periods' use so far, from one read of its devices' readings.
pub(crate) async fn contract_page(
    state: &AppState,
    id: &str,
    today: NaiveDate,
    until: NaiveDate,
) -> ApiResult<ContractPage> {
    let asked = Asked {
        at: Some(today),
        until: Some(until),
        uses: true,
    };
    match answers(state, id, asked).await? {
        Answers {
            standing: Some(standing),
            invoices: Some(invoices),
            uses,
        } => Ok(ContractPage {
            standing,
            invoices,
            uses,
        }),
        _ => Err(ApiError::internal("no standing or invoices")),
    }
}

/// What to answer of a contract.
#[derive(Default)]
struct Asked {
    /// The standing on this date (and, with `uses`, the running periods'
    /// use so far).
    at: Option<NaiveDate>,
    /// The invoices issued up to this date.
    until: Option<NaiveDate>,
    uses: bool,
}

#[derive(Default)]
struct Answers {
    standing: Option<answer::Standing>,
    invoices: Option<answer::Invoices>,
    uses: Vec<answer::PeriodUse>,
}

/// What was asked, computed from the readings around every date any of it
/// needs, read on one connection per core.
async fn answers(state: &AppState, id: &str, asked: Asked) -> ApiResult<Answers> {
    let contract = find(state, id)?;
    let st = state.clone();
    blocking(move || {
        let mut dates: Vec<NaiveDate> = [asked.at, asked.until]
            .into_iter()
            .flatten()
            .flat_map(|d| billing::needed_dates(&contract, d))
            .collect();
        if let (true, Some(at)) = (asked.uses, asked.at) {
            dates.extend(billing::chart_dates(&contract, at));
        }
        dates.sort_unstable();
        dates.dedup();
        let histories = crate::gather::histories_shared(&st.pool, &st.config, &contract, &dates)?;
        let shown = &st.config.display;
        let failed = |e| ApiError::billing(&contract.id, e);
        // The invoices on another core while this one works out the
        // standing: both only read the histories.
        std::thread::scope(|scope| {
            let invoices = asked.until.map(|until| {
                let (contract, histories) = (&contract, &histories);
                scope.spawn(move || {
                    billing::invoices(contract, histories, until)
                        .map(|i| billing::invoices_answer(&contract.id, &i, shown))
                })
            });
            let mut out = Answers::default();
            if let Some(at) = asked.at {
                let standing = billing::reconcile(&contract, &histories, at).map_err(failed)?;
                if asked.uses {
                    out.uses =
                        billing::cumulative_use(&contract, &histories, at, &standing.periods)
                            .map_err(failed)?
                            .iter()
                            .map(billing::PeriodUse::answer)
                            .collect();
                }
                let unrefunded = st.pool.read(|r| {
                    Ok::<_, ApiError>(crate::gather::invoice_checks::unrefunded_estimates(
                        r, &st.config, &contract,
                    )?)
                })?;
                let mut answer = billing::standing_answer(&standing, shown);
                answer.unrefunded_estimates =
                    crate::invoice_check::unrefunded_answer(&unrefunded, shown);
                out.standing = Some(answer);
            }
            if let Some(worker) = invoices {
                let invoices = worker.join().expect("the invoices do not panic");
                out.invoices = Some(invoices.map_err(failed)?);
            }
            Ok::<_, ApiError>(out)
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

/// A contract's invoices issued up to `until`, as the API shows them.
async fn contract_invoices(
    state: &AppState,
    id: &str,
    until: NaiveDate,
) -> ApiResult<answer::Invoices> {
    let asked = Asked {
        until: Some(until),
        ..Asked::default()
    };
    let answers = answers(state, id, asked).await?;
    answers
        .invoices
        .ok_or_else(|| ApiError::internal("no invoices were asked for"))
}
