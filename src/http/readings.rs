//! `/api/v1/devices/{serial}/readings`: a device's readings with their
//! source and who entered them, readings entered by people (checked as the
//! CSV import checks them), and withdrawals of entered readings.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::{IntoParams, ToSchema};

use super::auth::{Operator, Viewer};
use super::devices::known;
use super::error::{ApiError, ApiResult};
use super::params;
use super::{AppState, blocking};
use crate::answer::{Entered, ErrorBody, ErrorCode, ReadingItem, ReadingPage, WithdrawnItem};
use crate::display::Display;
use crate::import::{ImportRow, MAX_ENTERED_VALUE, not_future, parse_taken_at};
use crate::meters::{Meter, Source};
use crate::record::Reading;
use crate::serial::Serial;
use crate::storage::{Entering, ImportError, WithdrawError, Withdrawal};

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

fn reading_item(r: &Reading, shown: &Display) -> ReadingItem {
    ReadingItem {
        taken_at: shown.instant(r.at.into()),
        source: r.source.name().to_owned(),
        meters: r
            .meters
            .iter()
            .map(|m| (m.meter.name().to_owned(), m.value))
            .collect(),
        entered_by: r.entered_by.clone(),
        withdrawn: r
            .withdrawn
            .iter()
            .map(|w| WithdrawnItem::new(w, shown.instant(w.at.into())))
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
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<ReadingsQuery>, QueryRejection>,
) -> ApiResult<Json<ReadingPage>> {
    let Path(serial) = path?;
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
    let shown = &state.config.display;
    let next = all.get(limit).map(|r| shown.instant(r.at.into()));
    Ok(Json(ReadingPage {
        serial,
        items: all
            .iter()
            .take(limit)
            .map(|r| reading_item(r, shown))
            .collect(),
        next,
    }))
}

/// A reading entered by a person.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "taken_at": "2026-06-01T16:00:00+02:00",
    "meters": {"bw_total": 12345, "colour_total": 2345},
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
    /// Store values that break the device's polled series all the same
    /// (below a value polled before, above one polled after).
    pub accept_implausible: Option<bool>,
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
        (status = 409, description = "A different value is stored for the same serial, meter, instant and source, a manual and a vendor reading disagree, or the value breaks the device's polled series (`implausible_reading`: send `accept_implausible` to store it all the same)", body = ErrorBody),
        (status = 422, description = "An invalid reading: unknown meter, bad value, ambiguous local time, a time in the future", body = ErrorBody),
    )
)]
pub async fn enter_reading(
    caller: Operator,
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<NewReading>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<Entered>)> {
    let Path(serial) = path?;
    let Json(body) = body?;
    let (status, entered) = enter(&state, &caller.name, serial, &body).await?;
    Ok((status, Json(entered)))
}

/// Enters a reading `by` a token's holder, as the API and the device page
/// do: 201 when something was stored, 200 when it all was already.
pub(crate) async fn enter(
    state: &AppState,
    by: &str,
    serial: String,
    body: &NewReading,
) -> ApiResult<(StatusCode, Entered)> {
    known(&state.view(), &serial)?;
    let shown = state.config.display;
    let rows = import_rows(&serial, body, state.clock.now(), &shown)?;
    let source = rows[0].source;
    let taken_at = rows[0].at;
    let store = state.store.clone();
    let who = by.to_owned();
    let by = who.clone();
    let now = state.clock.now();
    let accept_implausible = body.accept_implausible.unwrap_or(false);
    let summary = blocking(move || {
        let mut store = store.lock().expect("store lock");
        let entering = Entering {
            by: &by,
            at: now,
            accept_implausible,
            shown,
        };
        store
            .import_readings(&rows, entering)
            .map_err(|e| refused(e, taken_at, &shown))
    })
    .await?;
    tracing::info!(token = %who, %serial, stored = summary.stored, "reading entered");
    state.changed.notify_one();
    let status = if summary.stored > 0 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Entered {
            serial,
            taken_at: shown.instant(taken_at.into()),
            source: source.name().to_owned(),
            stored: summary.stored,
            already_stored: summary.already_stored,
            warnings: summary.warnings,
        },
    ))
}

/// The answer to an entered reading storage refused.
fn refused(e: ImportError, taken_at: DateTime<Utc>, shown: &Display) -> ApiError {
    let at = shown.instant(taken_at.into());
    match e {
        ImportError::Conflict(c) => ApiError::new(
            ErrorCode::Conflict,
            format!("{}; nothing was stored", c.what(&at)),
        ),
        ImportError::Disputed(d) => ApiError::new(
            ErrorCode::Conflict,
            format!("{}; nothing was stored", d.what(&at)),
        ),
        ImportError::Implausible(i) => ApiError::new(
            ErrorCode::ImplausibleReading,
            format!(
                "{}; check the value, or send `accept_implausible: true`; nothing was stored",
                i.what(&at)
            ),
        ),
        ImportError::Storage(s) => s.into(),
    }
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
fn import_rows(
    serial: &str,
    body: &NewReading,
    now: DateTime<Utc>,
    shown: &Display,
) -> ApiResult<Vec<ImportRow>> {
    let serial = Serial::parse(serial).map_err(|e| invalid(e.to_string()))?;
    let at: DateTime<Utc> =
        parse_taken_at(&body.taken_at).map_err(|m| invalid(format!("`taken_at`: {m}")))?;
    not_future(at, now, |t| shown.instant(t.into()))
        .map_err(|m| invalid(format!("`taken_at`: {m}")))?;
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

/// The key of an entered reading to withdraw, and why.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "meter": "bw_total",
    "taken_at": "2026-06-01T16:00:00+02:00",
    "source": "manual",
    "reason": "typed 10 000 too high"
}))]
pub struct NewWithdrawal {
    /// The meter, e.g. bw_total.
    #[schema(schema_with = params::meter_schema)]
    pub meter: String,
    /// When the reading was taken, as it was entered.
    #[schema(schema_with = params::time_schema)]
    pub taken_at: String,
    /// manual (default, also for null), vendor, final or start.
    #[schema(schema_with = params::source_schema)]
    pub source: Option<String>,
    /// Why it is withdrawn: kept with the withdrawal.
    #[schema(min_length = 1)]
    pub reason: String,
}

/// Withdraws a reading a person entered (operator). Nothing is deleted: a
/// withdrawal with who, when and why is kept beside it, billing ignores the
/// reading from then on, and the right value can be entered under its key.
#[utoipa::path(
    post,
    path = "/api/v1/devices/{serial}/readings/withdrawals",
    tag = "devices",
    params(("serial" = String, Path, description = "The device's serial number", example = "AA2J021004711")),
    request_body = NewWithdrawal,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Withdrawn", body = WithdrawnItem),
        (status = 400, description = "Not JSON of this shape", body = ErrorBody),
        (status = 401, description = "No token or an unknown one", body = ErrorBody),
        (status = 403, description = "The token's role may not withdraw readings", body = ErrorBody),
        (status = 404, description = "No such serial, or no entered reading in force under this key", body = ErrorBody),
        (status = 422, description = "An invalid key: unknown meter or source, a bad time, an empty reason", body = ErrorBody),
    )
)]
pub async fn withdraw_reading(
    caller: Operator,
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<NewWithdrawal>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<WithdrawnItem>)> {
    let Path(serial) = path?;
    let Json(body) = body?;
    known(&state.view(), &serial)?;
    let serial = Serial::parse(&serial).map_err(|e| invalid(e.to_string()))?;
    let meter: Meter = body
        .meter
        .parse()
        .map_err(|e| invalid(format!("`meter`: {e}")))?;
    let at = parse_taken_at(&body.taken_at).map_err(|m| invalid(format!("`taken_at`: {m}")))?;
    let source: Source = match body.source.as_deref() {
        None => Source::Manual,
        Some(s) => s.parse().map_err(|m| invalid(format!("`source`: {m}")))?,
    };
    let reason = body.reason.trim().to_owned();
    if reason.is_empty() {
        return Err(invalid("`reason`: say why the reading is withdrawn".into()));
    }
    let store = state.store.clone();
    let by = caller.name.clone();
    let now = state.clock.now();
    let (key, why) = (serial.clone(), reason.clone());
    let shown = state.config.display;
    let taken = blocking(move || {
        let mut store = store.lock().expect("store lock");
        let withdrawal = Withdrawal {
            serial: &key,
            meter,
            at,
            source,
            by: &by,
            reason: &why,
            when: now,
            shown,
        };
        store.withdraw_reading(&withdrawal).map_err(|e| match e {
            WithdrawError::Storage(s) => s.into(),
            other => ApiError::not_found(other.to_string()),
        })
    })
    .await?;
    tracing::info!(token = %caller.name, %serial, %meter, value = taken.value, "reading withdrawn");
    state.changed.notify_one();
    let withdrawn_at = state.config.display.instant(taken.at.into());
    Ok((
        StatusCode::CREATED,
        Json(WithdrawnItem::new(&taken, withdrawn_at)),
    ))
}
