//! `/api/v1/reports/counters` and `/api/v1/exports/vendor-billing`: the
//! counter report and the vendor's billing import, as JSON or CSV files.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::auth::Viewer;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::{AppState, blocking, params};
use crate::report::CsvStyle;
use crate::report::counters::{counters_csv, counters_json};
use crate::report::vendor::{vendor_csv, vendor_json};
use crate::report::xlsx::counters_xlsx;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CountersQuery {
    /// The first day (YYYY-MM-DD; values at 00:00 Europe/Oslo).
    #[param(example = "2026-05-01")]
    from: Option<String>,
    /// The day after the last (YYYY-MM-DD), later than `from`.
    #[param(example = "2026-06-01")]
    to: Option<String>,
    /// json (default), csv or xlsx.
    #[param(example = "csv")]
    format: Option<String>,
    /// CSV only: ";" (default, decimal comma) or "," (decimal point).
    csv_delimiter: Option<String>,
}

/// The media type of an Excel workbook.
const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// The formats of the counter report.
enum Format {
    Json,
    Csv(CsvStyle),
    Xlsx,
}

/// A file answer.
fn file(content_type: &'static str, name: String, bytes: Vec<u8>) -> Response {
    (
        [
            (CONTENT_TYPE, content_type.to_owned()),
            (
                CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        bytes,
    )
        .into_response()
}

fn required_date(name: &str, value: &Option<String>) -> ApiResult<NaiveDate> {
    params::opt_date(name, value)?
        .ok_or_else(|| ApiError::parameter(name, "is required (YYYY-MM-DD)"))
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
            (CountersSchema = "application/json"),
            (String = "text/csv"),
            (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
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
    let Query(q) = query?;
    let from = required_date("from", &q.from)?;
    let to = required_date("to", &q.to)?;
    if to <= from {
        return Err(ApiError::parameter(
            "to",
            format!("{to} is not after `from` ({from})"),
        ));
    }
    let format = match q.format.as_deref().map(str::trim) {
        None | Some("") | Some("json") => Format::Json,
        Some("csv") => Format::Csv(match q.csv_delimiter.as_deref() {
            None | Some("") => CsvStyle::Semicolon,
            Some(d) => CsvStyle::parse(d).ok_or_else(|| {
                ApiError::parameter("csv_delimiter", format!("`{d}` is not \";\" or \",\""))
            })?,
        }),
        Some("xlsx") => Format::Xlsx,
        Some(other) => {
            return Err(ApiError::parameter(
                "format",
                format!("`{other}` is not json, csv or xlsx"),
            ));
        }
    };
    let st = state.clone();
    let devices = blocking(move || {
        st.pool
            .read(|r| crate::app::counter_report(r, &st.config, from, to).map_err(ApiError::from))
    })
    .await?;
    Ok(match format {
        Format::Json => Json(counters_json(from, to, &devices)).into_response(),
        Format::Csv(style) => file(
            "text/csv; charset=utf-8",
            format!("counters_{from}_{to}.csv"),
            counters_csv(style, from, to, &devices),
        ),
        Format::Xlsx => file(
            XLSX,
            format!("counters_{from}_{to}.xlsx"),
            counters_xlsx(from, to, &devices).map_err(ApiError::internal)?,
        ),
    })
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VendorQuery {
    /// The reading date (YYYY-MM-DD): values at 00:00 Europe/Oslo.
    #[param(example = "2026-07-01")]
    at: Option<String>,
    /// csv (default) or json.
    #[param(example = "json")]
    format: Option<String>,
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
            (Vec<VendorRowSchema> = "application/json"),
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
    let Query(q) = query?;
    let at = required_date("at", &q.at)?;
    let json = match q.format.as_deref().map(str::trim) {
        None | Some("") | Some("csv") => false,
        Some("json") => true,
        Some(other) => {
            return Err(ApiError::parameter(
                "format",
                format!("`{other}` is not csv or json"),
            ));
        }
    };
    let st = state.clone();
    let rows = blocking(move || {
        st.pool
            .read(|r| crate::app::vendor_rows(r, &st.config, at).map_err(ApiError::from))
    })
    .await?;
    Ok(if json {
        Json(vendor_json(&rows)).into_response()
    } else {
        file(
            "text/csv; charset=utf-8",
            format!("vendor-billing_{at}.csv"),
            vendor_csv(&rows),
        )
    })
}

// The JSON shapes `report` writes, for the OpenAPI document only.

/// The counter report as JSON.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct CountersSchema {
    from: String,
    to: String,
    devices: Vec<CounterDeviceSchema>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
struct CounterDeviceSchema {
    serial: String,
    model: Option<String>,
    location: Option<String>,
    contract: Option<String>,
    meters: Vec<CounterMeterSchema>,
    a4_equivalents: A4Schema,
}

#[derive(ToSchema)]
#[allow(dead_code)]
struct CounterMeterSchema {
    meter: String,
    from: Option<ValueSchema>,
    to: Option<ValueSchema>,
    usage: Option<i64>,
    /// Two decimals, as text.
    pages_per_day: Option<String>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
struct ValueSchema {
    value: u64,
    /// exact, bracketed, interpolation or extrapolation.
    method: String,
}

#[derive(ToSchema)]
#[allow(dead_code)]
struct A4Schema {
    bw: Option<i64>,
    colour: Option<i64>,
}

/// One row of the vendor import.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct VendorRowSchema {
    serial: String,
    model: String,
    contract: String,
    /// bw_total, colour_total, bw_large or colour_large.
    meter: String,
    reading_date: String,
    value: u64,
    /// polled, manual, vendor, final, start; several joined by `+`.
    source: String,
    /// exact, bracketed, interpolation or extrapolation.
    method: String,
}
