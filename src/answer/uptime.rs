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
