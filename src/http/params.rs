//! Query parameters: taken as text and parsed here, so every error names the
//! parameter and says what was expected.

use chrono::{DateTime, NaiveDate, Utc};

use super::error::ApiError;
use crate::import::parse_taken_at;

/// A date, `YYYY-MM-DD` (meaning 00:00 Europe/Oslo).
pub fn date(name: &str, text: &str) -> Result<NaiveDate, ApiError> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .ok()
        .filter(|d| (1970..=9999).contains(&chrono::Datelike::year(d)))
        .ok_or_else(|| ApiError::parameter(name, format!("`{text}` is not a date (YYYY-MM-DD)")))
}

/// An optional date.
pub fn opt_date(name: &str, value: &Option<String>) -> Result<Option<NaiveDate>, ApiError> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => date(name, v).map(Some),
    }
}

/// An optional instant: RFC 3339, or a date or `YYYY-MM-DD HH:MM` in
/// Europe/Oslo time (as the CSV import takes them).
pub fn opt_instant(name: &str, value: &Option<String>) -> Result<Option<DateTime<Utc>>, ApiError> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => parse_taken_at(v)
            .map(Some)
            .map_err(|m| ApiError::parameter(name, m)),
    }
}

/// An optional whole number within `1..=max`.
pub fn limit(
    name: &str,
    value: &Option<String>,
    default: usize,
    max: usize,
) -> Result<usize, ApiError> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(default),
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                ApiError::parameter(name, format!("`{v}` is not a whole number from 1 to {max}"))
            }),
    }
}
