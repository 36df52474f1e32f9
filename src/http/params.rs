//! Query parameters: taken as text and parsed here, so every error names the
//! parameter and says what was expected; and the OpenAPI schemas that
//! describe exactly what these parsers accept.
//!
//! A parameter that is given must be valid: an empty value is an error, not
//! the default, and nothing around the value (spaces) is trimmed.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use utoipa::openapi::Required;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{AdditionalProperties, Object, ObjectBuilder, Schema, Type};

use super::error::ApiError;
use crate::import::{DATE_PATTERN, MAX_ENTERED_VALUE, TIME_PATTERN, parse_date, parse_taken_at};
use crate::meters::Meter;

/// A date, `YYYY-MM-DD` (meaning 00:00 Europe/Oslo), 2000 to 2099.
pub fn date(name: &str, text: &str) -> Result<NaiveDate, ApiError> {
    parse_date(text).map_err(|m| ApiError::parameter(name, m))
}

/// An optional date.
pub fn opt_date(name: &str, value: &Option<String>) -> Result<Option<NaiveDate>, ApiError> {
    value.as_deref().map(|v| date(name, v)).transpose()
}

/// A required date.
pub fn required_date(name: &str, value: &Option<String>) -> Result<NaiveDate, ApiError> {
    opt_date(name, value)?.ok_or_else(|| ApiError::parameter(name, "is required (YYYY-MM-DD)"))
}

/// An optional instant: RFC 3339, or a date or `YYYY-MM-DD HH:MM` in
/// Europe/Oslo time (as the CSV import takes them).
pub fn opt_instant(name: &str, value: &Option<String>) -> Result<Option<DateTime<Utc>>, ApiError> {
    value
        .as_deref()
        .map(|v| parse_taken_at(v).map_err(|m| ApiError::parameter(name, m)))
        .transpose()
}

/// An optional whole number within `1..=max`: digits only.
pub fn limit(
    name: &str,
    value: &Option<String>,
    default: usize,
    max: usize,
) -> Result<usize, ApiError> {
    let Some(v) = value.as_deref() else {
        return Ok(default);
    };
    Some(v)
        .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| (1..=max).contains(n))
        .ok_or_else(|| {
            ApiError::parameter(name, format!("`{v}` is not a whole number from 1 to {max}"))
        })
}

/// One of the given words.
pub fn choice<'a>(name: &str, value: &'a str, allowed: &[&str]) -> Result<&'a str, ApiError> {
    if allowed.contains(&value) {
        Ok(value)
    } else {
        let list = allowed
            .iter()
            .map(|a| format!("`{a}`"))
            .collect::<Vec<_>>()
            .join(", ");
        Err(ApiError::parameter(
            name,
            format!("`{value}` is not one of {list}"),
        ))
    }
}

/// A query parameter of the OpenAPI document. The query structs describe
/// their parameters with this (not utoipa's derive, which drops the
/// description, example and `required` of a parameter with its own schema).
pub fn query(
    name: &str,
    required: bool,
    description: &str,
    schema: Object,
    example: Option<Value>,
) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .required(if required {
            Required::True
        } else {
            Required::False
        })
        .description(Some(description))
        .schema(Some(schema))
        .example(example)
        .build()
}

/// The schema of `limit`: a whole number from 1 to `max`.
pub fn limit_schema(max: usize) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(1))
        .maximum(Some(max))
        .build()
}

/// The `site` query parameter: only the devices that site polls.
pub fn site_query() -> Parameter {
    query(
        "site",
        false,
        "Only the devices this site polls",
        site_schema(),
        None,
    )
}

/// The `site` parameter's value, checked: a site's name, or none.
pub fn site(value: &Option<String>) -> Result<Option<&str>, ApiError> {
    match value.as_deref() {
        Some(s) if !crate::wire::site_name_ok(s) => Err(ApiError::parameter(
            "site",
            format!("`{s}` is not a site name"),
        )),
        other => Ok(other),
    }
}

/// The schema of a site's name.
fn site_schema() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(crate::wire::SITE_PATTERN))
        .description(Some(
            "A site's name: lowercase letters, digits and -, 1 to 40",
        ))
        .build()
}

/// The schema of a free text.
pub fn text_schema() -> Object {
    ObjectBuilder::new().schema_type(Type::String).build()
}

/// The schema of a date parameter: the pattern `parse_date` checks.
pub fn date_schema() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(DATE_PATTERN))
        .description(Some("A date, YYYY-MM-DD (00:00 Europe/Oslo), 2000 to 2099"))
        .build()
}

/// The schema of a time: the pattern `parse_taken_at` checks. (A local time
/// that does not exist or occurs twice in Europe/Oslo is refused too, which
/// a pattern cannot say.)
pub fn time_schema() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(TIME_PATTERN))
        .description(Some(
            "RFC 3339 with an offset, YYYY-MM-DD or YYYY-MM-DD HH:MM (Europe/Oslo), \
             2000 to 2099; a local time that does not exist or occurs twice needs an offset",
        ))
        .build()
}

/// A string schema of these values.
pub fn choice_schema(values: &[&str]) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values.iter().copied()))
        .build()
}

/// The schema of `format`: the formats of a report kind.
pub fn format_schema(kind: crate::report::schedule::Kind) -> Object {
    let names: Vec<&str> = kind.formats().iter().map(|f| f.name()).collect();
    choice_schema(&names)
}

/// The CSV delimiters.
pub const CSV_DELIMITERS: [&str; 2] = [";", ","];
/// The sources a person may give.
pub const ENTERED_SOURCES: [&str; 4] = ["manual", "vendor", "final", "start"];

/// `source` of an entered reading: one of the sources, or null (manual).
pub fn source_schema() -> Object {
    ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::SchemaType::Array(vec![
            Type::String,
            Type::Null,
        ]))
        .enum_values(Some(
            ENTERED_SOURCES
                .iter()
                .map(|s| serde_json::Value::from(*s))
                .chain([serde_json::Value::Null]),
        ))
        .description(Some(
            "manual (the default, also for null), vendor, final or start",
        ))
        .build()
}

/// `meters` of an entered reading: at least one meter by its name, each a
/// whole number from 0 to `MAX_ENTERED_VALUE`.
/// The schema of one meter's name.
pub fn meter_schema() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(Meter::ALL.iter().map(|m| m.name())))
        .description(Some("A meter's name, e.g. bw_total"))
        .build()
}

pub fn meters_schema() -> Object {
    let value = || -> Schema {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(0))
            .maximum(Some(MAX_ENTERED_VALUE as usize))
            .into()
    };
    Meter::ALL
        .iter()
        .fold(ObjectBuilder::new().schema_type(Type::Object), |b, m| {
            b.property(m.name(), value())
        })
        .additional_properties(Some(AdditionalProperties::FreeForm(false)))
        .min_properties(Some(1))
        .description(Some("Meter name → value (a whole number of pages)"))
        .build()
}
