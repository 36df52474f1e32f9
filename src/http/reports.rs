//! `/api/v1/reports/counters` and `/api/v1/exports/vendor-billing`: the
//! counter report and the vendor's billing import, as JSON or CSV files.

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use utoipa::openapi::RefOr;
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{IntoParams, ToSchema};

use super::auth::{Admin, Viewer};
use super::error::{ApiError, ApiResult};
use super::{AppState, blocking, params};
use crate::answer::{CounterReport, ErrorBody, ErrorCode, RunAnswer, VendorRow};
use crate::report::schedule::{Format, Kind};
use crate::report::{CsvStyle, counters_file, vendor_file};
use crate::scheduler::MailStatus;

#[derive(Deserialize)]
pub struct CountersQuery {
    from: Option<String>,
    to: Option<String>,
    format: Option<String>,
    csv_delimiter: Option<String>,
    site: Option<String>,
}

impl IntoParams for CountersQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![
            params::query(
                "from",
                true,
                "The first day (values at 00:00 Europe/Oslo)",
                params::date_schema(),
                Some(json!("2026-05-01")),
            ),
            params::query(
                "to",
                true,
                "The day after the last, later than `from`",
                params::date_schema(),
                Some(json!("2026-06-01")),
            ),
            params::query(
                "format",
                false,
                "json (the default), csv or xlsx",
                params::format_schema(Kind::Counters),
                Some(json!("csv")),
            ),
            params::query(
                "csv_delimiter",
                false,
                "CSV only: \";\" (the default, decimal comma) or \",\" (decimal point)",
                params::choice_schema(&params::CSV_DELIMITERS),
                None,
            ),
            params::site_query(),
        ]
    }
}

/// A format of a report kind, from the query (`default` when left out).
fn format_of(kind: Kind, value: Option<&str>, default: Format) -> ApiResult<Format> {
    let names: Vec<&str> = kind.formats().iter().map(|f| f.name()).collect();
    let name = params::choice("format", value.unwrap_or(default.name()), &names)?;
    Ok(Format::parse(name).unwrap_or(default))
}

/// An answer of a report's bytes: JSON as such, a file otherwise.
fn answer(format: Format, name: String, bytes: Vec<u8>) -> Response {
    let content_type = [(CONTENT_TYPE, format.content_type().to_owned())];
    if format == Format::Json {
        return (content_type, bytes).into_response();
    }
    let disposition = format!("attachment; filename=\"{name}.{}\"", format.name());
    (content_type, [(CONTENT_DISPOSITION, disposition)], bytes).into_response()
}

/// Per device: each meter's value at `from` and at `to` with how it was found
/// (exact, bracketed, interpolation, extrapolation), the use between,
/// A4-equivalents (an A3 page counts as two) and the contract.
#[utoipa::path(
    get,
    path = "/api/v1/reports/counters",
    tag = "reports",
    params(CountersQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The report", content(
            (CounterReport = "application/json"),
            (String = "text/csv"),
            (XlsxFile = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        )),
        (status = 400, description = "A bad parameter", body = ErrorBody),
        (status = 401, description = "No token or an unknown one", body = ErrorBody),
    )
)]
pub async fn counters(
    _caller: Viewer,
    State(state): State<AppState>,
    query: Result<Query<CountersQuery>, QueryRejection>,
) -> ApiResult<Response> {
    counters_download(&state, query).await
}

/// The counter report as a file, as the API and the reports page send it.
pub(crate) async fn counters_download(
    state: &AppState,
    query: Result<Query<CountersQuery>, QueryRejection>,
) -> ApiResult<Response> {
    let Query(q) = query?;
    let from = params::required_date("from", &q.from)?;
    let to = params::required_date("to", &q.to)?;
    if to <= from {
        return Err(ApiError::parameter(
            "to",
            format!("{to} is not after `from` ({from})"),
        ));
    }
    let delimiter = params::choice(
        "csv_delimiter",
        q.csv_delimiter.as_deref().unwrap_or(";"),
        &params::CSV_DELIMITERS,
    )?;
    let style = CsvStyle::parse(delimiter).unwrap_or(CsvStyle::Semicolon);
    let format = format_of(Kind::Counters, q.format.as_deref(), Format::Json)?;
    let site = params::site(&q.site)?.map(str::to_owned);
    let st = state.clone();
    let devices = blocking(move || {
        st.pool.read(|r| {
            crate::gather::counter_report(r, &st.config, from, to, site.as_deref())
                .map_err(ApiError::from)
        })
    })
    .await?;
    let bytes = counters_file(format, style, from, to, &devices).map_err(ApiError::internal)?;
    Ok(answer(format, format!("counters_{from}_{to}"), bytes))
}

#[derive(Deserialize)]
pub struct VendorQuery {
    at: Option<String>,
    format: Option<String>,
}

impl IntoParams for VendorQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![
            params::query(
                "at",
                true,
                "The reading date: values at 00:00 Europe/Oslo",
                params::date_schema(),
                Some(json!("2026-07-01")),
            ),
            params::query(
                "format",
                false,
                "csv (the default) or json",
                params::format_schema(Kind::VendorBilling),
                Some(json!("json")),
            ),
        ]
    }
}

/// The vendor's billing import: one row per device in a contract on the date
/// and per billing meter it has; `;`-separated UTF-8 with BOM whatever any
/// `csv_delimiter` says. `method` tells an estimate; `source` the readings.
#[utoipa::path(
    get,
    path = "/api/v1/exports/vendor-billing",
    tag = "reports",
    params(VendorQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The import", content(
            (Vec<VendorRow> = "application/json"),
            (String = "text/csv")
        )),
        (status = 400, description = "A bad parameter", body = ErrorBody),
        (status = 401, description = "No token or an unknown one", body = ErrorBody),
    )
)]
pub async fn vendor_billing(
    _caller: Viewer,
    State(state): State<AppState>,
    query: Result<Query<VendorQuery>, QueryRejection>,
) -> ApiResult<Response> {
    vendor_download(&state, query).await
}

/// The vendor's billing import as a file, as the API and the reports page
/// send it.
pub(crate) async fn vendor_download(
    state: &AppState,
    query: Result<Query<VendorQuery>, QueryRejection>,
) -> ApiResult<Response> {
    let Query(q) = query?;
    let at = params::required_date("at", &q.at)?;
    let format = format_of(Kind::VendorBilling, q.format.as_deref(), Format::Csv)?;
    let st = state.clone();
    let rows = blocking(move || {
        st.pool
            .read(|r| crate::gather::vendor_rows(r, &st.config, at).map_err(ApiError::from))
    })
    .await?;
    Ok(answer(
        format,
        format!("vendor-billing_{at}"),
        vendor_file(format, &rows),
    ))
}

/// An Excel workbook: bytes, not JSON.
pub struct XlsxFile;

impl utoipa::PartialSchema for XlsxFile {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .content_media_type(Format::Xlsx.content_type())
            .description(Some("An Excel workbook (Office Open XML)"))
            .into()
    }
}

impl ToSchema for XlsxFile {}

/// Runs a `[[report]]` now (admin), as its schedule would today: writes its
/// file into its folder and mails it when it has `email_to`.
#[utoipa::path(
    post,
    path = "/api/v1/reports/{name}/run",
    tag = "reports",
    params(("name" = String, Path, description = "The report's name", example = "monthly-counters")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The file is written", body = RunAnswer),
        (status = 401, description = "No token or an unknown one", body = ErrorBody),
        (status = 403, description = "The token's role may not run reports", body = ErrorBody),
        (status = 404, description = "No report of this name", body = ErrorBody),
        (status = 500, description = "The file could not be written (the message says why)", body = ErrorBody),
    )
)]
pub async fn run_report(
    caller: Admin,
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<RunAnswer>> {
    let Path(name) = path?;
    Ok(Json(run_now(&state, &caller.name, &name).await?))
}

/// Runs the `[[report]]` `name` now for `by`, as the API and the reports
/// page do.
pub(crate) async fn run_now(state: &AppState, by: &str, name: &str) -> ApiResult<RunAnswer> {
    let report = state
        .config
        .report(name)
        .cloned()
        .ok_or_else(|| ApiError::not_found(format!("no report `{name}`")))?;
    tracing::info!(token = %by, report = %name, "report run asked for");
    let outcome = state
        .runner
        .run_now(&report)
        .await
        .map_err(ApiError::internal)?;
    let file = match &outcome.file {
        Ok(file) => file.display().to_string(),
        Err(error) => {
            return Err(ApiError::new(
                ErrorCode::ReportFailed,
                format!("report `{name}` ({}) failed: {}", outcome.period, error),
            ));
        }
    };
    Ok(RunAnswer {
        report: outcome.report,
        period: outcome.period,
        file,
        mailed: match outcome.mail {
            MailStatus::NotMailed => None,
            MailStatus::Sent => Some(true),
            MailStatus::Failed(_) => Some(false),
        },
        mail_error: match outcome.mail {
            MailStatus::Failed(e) => Some(e),
            _ => None,
        },
    })
}
