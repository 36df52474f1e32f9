//! `/api/v1/contracts/{id}/invoice-checks`: checking the vendor's invoice
//! file against the contract's own invoices (operator), and the checks kept
//! (viewer), each also as the dispute list in CSV.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_DISPOSITION;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa::openapi::path::{Parameter, ParameterIn};

use super::auth::{Operator, Viewer};
use super::billing::find;
use super::error::{ApiError, ApiResult};
use super::{AppState, blocking, params};
use crate::answer::{ErrorBody, ErrorCode, InvoiceCheck, InvoiceCheckItem, InvoiceCheckList};
use crate::gather::invoice_checks::{InvoiceCheckError, check_and_store, stored_check};
use crate::invoice_check::disputes_csv;

/// An a-konto invoice as a vendor writes it (`;`, decimal comma).
const EXAMPLE: &str = "fakturanr;fakturadato;type;periode_fra;periode_til;klasse;beskrivelse;serienr;antall;enhetspris;beløp\n\
    7;01.01.2026;a_konto;01.01.2026;30.06.2026;fixed;Faste avgifter;;6;200,00;1 200,00\n\
    7;01.01.2026;a_konto;01.01.2026;30.06.2026;bw;Sort/hvitt;;30 000;0,0450;1 350,00\n";

impl From<InvoiceCheckError> for ApiError {
    fn from(e: InvoiceCheckError) -> ApiError {
        match e {
            InvoiceCheckError::Storage(s) => s.into(),
            InvoiceCheckError::Overflow(o) => {
                ApiError::new(ErrorCode::BillingFailed, o.to_string())
            }
            e if e.is_input() => ApiError::new(ErrorCode::InvalidInvoice, e.to_string()),
            e => ApiError::internal(e),
        }
    }
}

/// Checks the vendor's invoice file (the body, CSV: `;` or `,`, decimal
/// comma or point, the header in English or Norwegian) against the
/// contract's own invoices from the stored readings, and keeps the check.
#[utoipa::path(
    post,
    path = "/api/v1/contracts/{id}/invoice-checks",
    tag = "contracts",
    params(("id" = String, Path, description = "The contract's id", example = "K1")),
    request_body(content = String, content_type = "text/csv", description = "The vendor's invoice file", example = json!(EXAMPLE)),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Checked and kept: the findings", body = InvoiceCheck),
        (status = 401, description = "No token or an unknown one", body = ErrorBody),
        (status = 403, description = "The token's role may not check invoices", body = ErrorBody),
        (status = 404, description = "No such contract", body = ErrorBody),
        (status = 413, description = "The file is larger than `[http] max_body_bytes`", body = ErrorBody),
        (status = 422, description = "The file cannot be read (`invalid_invoice`: the line and column are named) or is another contract's; nothing was kept", body = ErrorBody),
        (status = 500, description = "The contract's money could not be computed (`billing_failed`), or another failure (`internal`)", body = ErrorBody),
        (status = 503, description = "The database stayed locked (`busy`)", body = ErrorBody),
    )
)]
pub async fn check_invoice(
    caller: Operator,
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<InvoiceCheck>)> {
    let Path(id) = path?;
    let contract = find(&state, &id)?;
    let st = state.clone();
    let by = caller.name.clone();
    let at = state.clock.now().into();
    let check = blocking(move || {
        let mut store = st.store.lock().expect("store lock");
        check_and_store(&mut store, &st.config, &contract, &body, &by, at).map_err(ApiError::from)
    })
    .await?;
    tracing::info!(token = %caller.name, contract = %id, check = check.id, disputed = %check.disputed, "invoice checked");
    // The contracts' alerts may name an estimate this check found.
    state.changed.notify_one();
    Ok((StatusCode::CREATED, Json(check)))
}

/// The checks of a contract, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/contracts/{id}/invoice-checks",
    tag = "contracts",
    params(("id" = String, Path, description = "The contract's id", example = "K1")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The checks", body = InvoiceCheckList),
        (status = 401, description = "No token or an unknown one", body = ErrorBody),
        (status = 404, description = "No such contract", body = ErrorBody),
    )
)]
pub async fn checks(
    _caller: Viewer,
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<InvoiceCheckList>> {
    let Path(id) = path?;
    find(&state, &id)?;
    let st = state.clone();
    let stored = blocking(move || {
        st.pool
            .read(|r| r.invoice_checks(&id).map_err(ApiError::from))
    })
    .await?;
    let mut items = Vec::with_capacity(stored.len());
    for s in stored {
        let c = stored_check(&s.answer)?;
        let findings = c.invoices.iter().flat_map(|i| &i.findings);
        let disputes = findings.clone().filter(|f| f.severity == "dispute").count();
        items.push(InvoiceCheckItem {
            id: c.id,
            checked_at: c.checked_at.clone(),
            checked_by: c.checked_by.clone(),
            file_sha256: c.file_sha256.clone(),
            invoices: c.invoices.iter().map(|i| i.invoice.clone()).collect(),
            vendor_total: c.vendor_total.clone(),
            disputed: c.disputed.clone(),
            disputes,
            notes: findings.count() - disputes,
        });
    }
    Ok(Json(InvoiceCheckList { items }))
}

#[derive(Deserialize)]
pub struct FormatQuery {
    format: Option<String>,
}

impl IntoParams for FormatQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![params::query(
            "format",
            false,
            "json (the default): the check; csv: its disputes for the vendor (`;`, decimal comma, BOM)",
            params::choice_schema(&["json", "csv"]),
            Some(serde_json::json!("csv")),
        )]
    }
}

/// One check: its findings with the evidence, and what changed since the
/// check of the same file before it.
#[utoipa::path(
    get,
    path = "/api/v1/contracts/{id}/invoice-checks/{check}",
    tag = "contracts",
    params(
        ("id" = String, Path, description = "The contract's id", example = "K1"),
        ("check" = i64, Path, description = "The check's number", example = 1),
        FormatQuery
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The check", content(
            (InvoiceCheck = "application/json"),
            (String = "text/csv")
        )),
        (status = 400, description = "A bad parameter", body = ErrorBody),
        (status = 401, description = "No token or an unknown one", body = ErrorBody),
        (status = 404, description = "No such contract or check", body = ErrorBody),
    )
)]
pub async fn check(
    _caller: Viewer,
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    query: Result<Query<FormatQuery>, QueryRejection>,
) -> ApiResult<Response> {
    let Path((id, number)) = path?;
    let Query(q) = query?;
    find(&state, &id)?;
    let format = params::choice(
        "format",
        q.format.as_deref().unwrap_or("json"),
        &["json", "csv"],
    )?;
    let no_check = || ApiError::not_found(format!("no invoice check `{number}` of contract {id}"));
    let n: i64 = number.parse().map_err(|_| no_check())?;
    let st = state.clone();
    let contract = id.clone();
    let stored = blocking(move || {
        st.pool
            .read(|r| r.invoice_check(&contract, n).map_err(ApiError::from))
    })
    .await?
    .ok_or_else(no_check)?;
    let c = stored_check(&stored.answer)?;
    if format == "csv" {
        let disposition = format!("attachment; filename=\"disputes_{id}_{n}.csv\"");
        return Ok((
            [
                (
                    axum::http::header::CONTENT_TYPE,
                    "text/csv; charset=utf-8".to_owned(),
                ),
                (CONTENT_DISPOSITION, disposition),
            ],
            disputes_csv(&c),
        )
            .into_response());
    }
    Ok(Json(c).into_response())
}
