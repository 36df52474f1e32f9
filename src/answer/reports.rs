//! The report files as JSON (the counter report, the vendor's billing
//! import) and what a report run did.

use serde::Serialize;
use utoipa::ToSchema;

use super::date_schema;

/// The counter report as JSON.
#[derive(Debug, Serialize, ToSchema)]
pub struct CounterReport {
    #[schema(schema_with = date_schema)]
    pub from: String,
    #[schema(schema_with = date_schema)]
    pub to: String,
    pub devices: Vec<CounterDevice>,
}

/// One device of the counter report.
#[derive(Debug, Serialize, ToSchema)]
pub struct CounterDevice {
    pub serial: String,
    pub model: Option<String>,
    pub location: Option<String>,
    pub contract: Option<String>,
    /// Polled only because discovery found it on the network: no
    /// `[[device]]` entry names it yet.
    pub discovered: bool,
    /// Uptime on working days over the period, in % (2 decimals); null
    /// without evidence (never polled, or read by hand).
    pub uptime_pct: Option<String>,
    /// The site that polls it; null where there are no sites.
    pub site: Option<String>,
    pub meters: Vec<CounterMeter>,
    pub a4_equivalents: A4Equivalents,
}

/// A meter's values at both ends and the use between.
#[derive(Debug, Serialize, ToSchema)]
pub struct CounterMeter {
    pub meter: String,
    pub from: Option<EndValue>,
    pub to: Option<EndValue>,
    /// Null when either end has no value.
    pub usage: Option<i64>,
    /// Two decimals, as text.
    pub pages_per_day: Option<String>,
    /// Why `from` or `to` is null, in words (the meter's first reading came
    /// later, or a single reading gives no rate); null when both are there.
    pub note: Option<String>,
}

/// A meter's value at one end of the report.
#[derive(Debug, Serialize, ToSchema)]
pub struct EndValue {
    pub value: u64,
    /// exact, bracketed, interpolation or extrapolation.
    pub method: String,
}

/// A device's A4-equivalent pages (an A3 page counts as two).
#[derive(Debug, Serialize, ToSchema)]
pub struct A4Equivalents {
    pub bw: Option<i64>,
    pub colour: Option<i64>,
}

/// One row of the vendor's billing import.
#[derive(Debug, Serialize, ToSchema)]
pub struct VendorRow {
    pub serial: String,
    /// Empty when the device never said.
    pub model: String,
    pub contract: String,
    /// bw_total, colour_total, bw_large or colour_large.
    pub meter: String,
    #[schema(schema_with = date_schema)]
    pub reading_date: String,
    pub value: u64,
    /// polled, manual, vendor, final, start; several joined by `+`.
    pub source: String,
    /// exact, bracketed, interpolation or extrapolation.
    pub method: String,
}

/// What a report run did.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunAnswer {
    pub report: String,
    /// YYYY-MM (counters: the month before today) or YYYY-MM-DD (vendor-billing: today).
    pub period: String,
    /// The file written.
    pub file: String,
    /// Null: the report is not mailed; true: sent; false: the send failed
    /// (`mail_error` says why; telleverk tries again at its next start).
    pub mailed: Option<bool>,
    pub mail_error: Option<String>,
}
