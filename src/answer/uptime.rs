//! Uptime on working days (§4.7): `telleverk uptime --json`,
//! `/api/v1/devices/{serial}/uptime` and `/api/v1/contracts/{id}/uptime`.

use serde::Serialize;
use utoipa::ToSchema;

/// A device's uptime per month and over the months together.
#[derive(Debug, Serialize, ToSchema)]
pub struct Uptime {
    pub serial: String,
    /// The contract whose promise it is held to (its first on the day).
    pub contract: Option<String>,
    /// The contract's `uptime_pct`; null when it promises none.
    pub promised_pct: Option<String>,
    /// Each whole month, oldest first.
    pub months: Vec<UptimeMonth>,
    /// The months together: summed times, not a mean of percentages.
    pub total: UptimeMonth,
    /// The total is below the promise (compared exactly).
    pub breach: bool,
}

/// Working time in one month (or several) and how it went.
#[derive(Debug, Serialize, ToSchema)]
pub struct UptimeMonth {
    /// `YYYY-MM`, or `YYYY-MM – YYYY-MM` for the total.
    pub month: String,
    /// Working hours (Monday–Friday 08:00–16:00 Oslo, no holidays or
    /// closed days), 2 decimals.
    pub working_hours: String,
    pub up_hours: String,
    pub down_hours: String,
    /// Up ÷ (up + down) in %, 2 decimals; null without evidence.
    pub uptime_pct: Option<String>,
    /// The share of working time with evidence, in %, 2 decimals.
    pub evidence_pct: Option<String>,
}

/// The uptime of several devices.
#[derive(Debug, Serialize, ToSchema)]
pub struct UptimeList {
    pub items: Vec<Uptime>,
}

/// A supply and when it is forecast to run out.
#[derive(Debug, Serialize, ToSchema)]
pub struct SupplyOutlook {
    pub index: u32,
    pub description: String,
    /// toner, opc, developer, waste_toner, fuser, …
    pub kind: String,
    pub colour: Option<String>,
    /// Its latest level in %; null for −1/−2/−3.
    pub percent: Option<i64>,
    /// The day the level's line reaches 0 (Oslo); null with `no_forecast`.
    pub empty_on: Option<String>,
    /// The 80 % interval: the earliest and latest days (the latest null
    /// when the slowest slope never reaches 0); null with two levels only.
    pub empty_between: Option<[Option<String>; 2]>,
    /// Working days left (Monday–Friday 08:00–16:00, no holidays).
    pub working_days: Option<u32>,
    /// Why there is no forecast: too_few_levels, some_remaining,
    /// unknown_level, not_falling or just_replaced.
    pub no_forecast: Option<String>,
    /// A toner's real coverage over the last 6 months; null for the other
    /// supplies.
    pub coverage: Option<TonerCoverage>,
}

/// A toner's cartridges used against those the contract pays for, and the
/// coverage that implies (§4.3), over a window of whole days (Oslo).
#[derive(Debug, Serialize, ToSchema)]
pub struct TonerCoverage {
    /// The window: the last 6 months, or since the device's first reading.
    pub from: Option<String>,
    pub to: Option<String>,
    /// The toner's part number, from the rated yields; null without one.
    pub part: Option<String>,
    /// A4 pages one cartridge prints at 5 % coverage; null when unknown.
    pub rated_yield: Option<u32>,
    /// Where the rated yield comes from.
    pub yield_source: Option<String>,
    /// The A4-equivalent pages the toner served in the window (the black
    /// toner every page, a colour toner the colour pages).
    #[schema(value_type = Option<i64>)]
    pub pages: Option<i128>,
    /// Cartridges used by the levels: the level fallen per cartridge ÷ 100.
    pub cartridges_used: super::Number,
    /// Cartridges the contract pays for: pages ÷ rated yield.
    pub cartridges_paid: Option<super::Number>,
    /// 5 % × used ÷ paid for.
    pub implied_pct: Option<super::Number>,
    /// The contract's assumption for this toner: 5 %.
    pub assumed_pct: u32,
    /// At least one whole cartridge used in the window.
    pub enough_evidence: bool,
    /// Implied coverage above the assumption by more than
    /// `[alerts] coverage_tolerance_pct`, whatever the evidence: heading for
    /// extra supplies.
    pub over_tolerance: bool,
    /// Implied coverage above the assumption by more than
    /// `[alerts] coverage_tolerance_pct`, with enough evidence: extra
    /// supplies will be invoiced.
    pub above_contract: bool,
    /// Why there is no implied coverage: no_rated_yield (the model's toner
    /// has no yield in the yields files), unknown_model, no_pages (no page
    /// counts over the window) or no_window (no reading before today).
    pub no_coverage: Option<String>,
}

/// A device's supplies with their forecasts.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceSupplies {
    pub serial: String,
    pub model: Option<String>,
    pub supplies: Vec<SupplyOutlook>,
}

/// Every device's supplies.
#[derive(Debug, Serialize, ToSchema)]
pub struct SupplyList {
    pub items: Vec<DeviceSupplies>,
}
