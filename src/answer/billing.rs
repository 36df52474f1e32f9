//! Contracts, invoices and standings: `telleverk invoices --json`,
//! `telleverk reconcile --json` and `/api/v1/contracts…`. Amounts and prices
//! are decimal strings, pages and percentages numbers, dates `YYYY-MM-DD`,
//! instants RFC 3339 in Oslo time.

use serde::Serialize;
use utoipa::ToSchema;

use super::{Number, date_schema};
use crate::contract::{Billing, Contract, price_text};

/// `telleverk invoices --json`: every invoice of a contract up to a date.
#[derive(Debug, Serialize, ToSchema)]
pub struct Invoices {
    pub contract: String,
    pub invoices: Vec<Invoice>,
}

/// One invoice as the vendor will send it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Invoice {
    /// a_konto, a3, settlement or arrears.
    pub kind: String,
    #[schema(schema_with = date_schema)]
    pub period_start: String,
    /// The day after the period (exclusive).
    #[schema(schema_with = date_schema)]
    pub period_end: String,
    #[schema(schema_with = date_schema)]
    pub issue_date: String,
    pub lines: Vec<InvoiceLine>,
    /// NOK carried in from deferred invoices, two decimals.
    pub carried_in: String,
    /// NOK, two decimals.
    pub total: String,
    /// due or deferred.
    pub status: String,
    /// Whether a closing value is an estimate.
    pub estimated: bool,
    /// The values at every instant that splits the invoice's money.
    pub boundary_values: Vec<BoundaryValue>,
}

/// A line of an invoice.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvoiceLine {
    pub description: String,
    /// fixed, bw, colour, bw_a3, colour_a3 or estimation_fee.
    pub class: String,
    /// A4-equivalent pages (null for fees).
    pub pages: Option<Number>,
    /// NOK per page (at least 4 decimals), or per month / per fee (2 decimals).
    pub unit_price: String,
    /// NOK, rounded half away from zero to øre.
    pub amount: String,
    /// Fixed fees: the months billed.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    pub months: Option<u32>,
}

/// A meter's value at an instant and how it was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
pub struct BoundaryValue {
    pub serial: String,
    /// RFC 3339.
    pub at: String,
    pub meter: String,
    pub value: u64,
    /// exact, bracketed, interpolation or extrapolation.
    pub method: String,
    /// The readings the value rests on.
    pub basis: Vec<Basis>,
}

/// A reading a value rests on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
pub struct Basis {
    /// RFC 3339.
    pub taken_at: String,
    pub value: u64,
    /// polled, manual, vendor, final or start.
    pub source: String,
}

/// A period's use so far, counted from its start at dates within it, as
/// the contract's page draws it against the commitment.
#[derive(Debug, Clone, Serialize)]
pub struct PeriodUse {
    /// `quarter`, `half` or `year`.
    pub kind: String,
    pub start: String,
    pub end: String,
    pub running: bool,
    /// The start (0 pages) first; a running period ends at its actual.
    pub points: Vec<UsePoint>,
}

/// A4-equivalent pages counted from a period's start to 00:00 of a date.
#[derive(Debug, Clone, Serialize)]
pub struct UsePoint {
    pub date: String,
    pub bw: u64,
    pub colour: u64,
}

/// `telleverk reconcile --json`: a contract's standing on a date.
#[derive(Debug, Serialize, ToSchema)]
pub struct Standing {
    pub contract: String,
    #[schema(schema_with = date_schema)]
    pub at: String,
    pub periods: Vec<PeriodStanding>,
    /// The last day written notice can be given; null when the contract ends anyway.
    pub notice_deadline: Option<String>,
    pub renewal: Option<Renewal>,
    /// The day the contract ends after notice; null while it renews.
    pub ends: Option<String>,
    pub boundary_values: Vec<BoundaryValue>,
    pub gaps: Vec<Gap>,
    pub events: Vec<SeriesEvent>,
    /// From the vendor's invoices checked: each reading the vendor
    /// estimated above the value measured later, with what it cost (an
    /// estimate is never refunded), oldest first.
    pub unrefunded_estimates: Vec<UnrefundedEstimate>,
}

/// An estimate the vendor billed above the value measured later.
#[derive(Debug, Serialize, ToSchema)]
pub struct UnrefundedEstimate {
    /// The vendor's invoice number.
    pub invoice: String,
    #[schema(schema_with = date_schema)]
    pub issue_date: String,
    pub serial: String,
    pub meter: String,
    /// The boundary estimated (00:00 Europe/Oslo).
    #[schema(schema_with = date_schema)]
    pub at: String,
    /// The vendor's estimated reading.
    pub estimated: u64,
    /// Our measured value there, with its readings.
    pub measured: BoundaryValue,
    /// NOK per page, as the vendor billed it.
    pub unit_price: String,
    /// NOK: (estimated − measured) × unit price, to øre.
    pub cost: String,
}

/// One period against the commitment.
#[derive(Debug, Serialize, ToSchema)]
pub struct PeriodStanding {
    /// quarter, half or year.
    pub kind: String,
    #[schema(schema_with = date_schema)]
    pub start: String,
    /// The day after the period (exclusive).
    #[schema(schema_with = date_schema)]
    pub end: String,
    /// The period has not ended on the date asked about.
    pub running: bool,
    pub bw: ClassStanding,
    pub colour: ClassStanding,
}

/// One colour class of a period: the 15 % rule.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClassStanding {
    /// The period's share of the annual commitment; null when none.
    pub committed: Option<Number>,
    /// A4-equivalent pages used.
    pub actual: u64,
    /// A running period's run-rate projection.
    pub projected: Option<u64>,
    /// Deviation from the commitment in per cent, two decimals.
    pub deviation_pct: Option<f64>,
    /// More than the threshold off the commitment.
    pub breach: bool,
}

/// What renewal brings.
#[derive(Debug, Serialize, ToSchema)]
pub struct Renewal {
    #[schema(schema_with = date_schema)]
    pub date: String,
    pub prices: Prices,
}

/// Per-page prices, NOK with at least 4 decimals.
#[derive(Debug, Serialize, ToSchema)]
pub struct Prices {
    pub bw: String,
    pub colour: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    pub bw_a3: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    pub colour_a3: Option<String>,
}

/// Pages no reading measures.
#[derive(Debug, Serialize, ToSchema)]
pub struct Gap {
    pub serial: String,
    pub meter: String,
    /// RFC 3339.
    pub from: String,
    /// RFC 3339.
    pub to: String,
    /// counter reset, implausible_drop (a person should look), no readings,
    /// before the first reading.
    pub reason: String,
}

/// A reset, wrap, glitch, spike or implausible drop in a meter's series.
#[derive(Debug, Serialize, ToSchema)]
pub struct SeriesEvent {
    pub serial: String,
    pub meter: String,
    /// RFC 3339.
    pub at: String,
    /// reset, suspected_reset, glitch, wrap, spike or implausible_drop.
    pub kind: String,
    pub before: u64,
    pub after: u64,
}

/// `GET /api/v1/contracts`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContractList {
    pub items: Vec<ContractItem>,
}

/// A contract as configured.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContractItem {
    pub id: String,
    /// advance or arrears.
    pub billing: String,
    #[schema(schema_with = date_schema)]
    pub start: String,
    pub term_months: u32,
    pub devices: Vec<MemberItem>,
    pub committed_bw: Option<u64>,
    pub committed_colour: Option<u64>,
    pub minimum_bw: u64,
    pub minimum_colour: u64,
    /// NOK, two decimals.
    pub fixed_fee_monthly: String,
    pub deviation_threshold_pct: String,
    pub defer_at_or_below: String,
    pub estimation_fee: String,
    pub renewal_uplift_pct: String,
    pub terminated_on: Option<String>,
    pub prices: Vec<PriceItem>,
}

/// A device's membership of a contract (`until` exclusive).
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberItem {
    pub serial: String,
    pub from: Option<String>,
    pub until: Option<String>,
}

/// A dated price version (NOK per page, at least 4 decimals).
#[derive(Debug, Serialize, ToSchema)]
pub struct PriceItem {
    #[schema(schema_with = date_schema)]
    pub from: String,
    pub bw: String,
    pub colour: String,
    pub bw_a3: Option<String>,
    pub colour_a3: Option<String>,
}

impl From<&Contract> for ContractItem {
    fn from(c: &Contract) -> ContractItem {
        ContractItem {
            id: c.id.clone(),
            billing: match c.billing {
                Billing::Advance => "advance",
                Billing::Arrears => "arrears",
            }
            .to_owned(),
            start: c.start.to_string(),
            term_months: c.term_months,
            devices: c
                .devices
                .iter()
                .map(|m| MemberItem {
                    serial: m.serial.to_string(),
                    from: m.from.map(|d| d.to_string()),
                    until: m.until.map(|d| d.to_string()),
                })
                .collect(),
            committed_bw: c.committed_bw,
            committed_colour: c.committed_colour,
            minimum_bw: c.minimum_bw,
            minimum_colour: c.minimum_colour,
            fixed_fee_monthly: c.fixed_fee_monthly.to_string(),
            deviation_threshold_pct: c.deviation_threshold_pct.to_string(),
            defer_at_or_below: c.defer_at_or_below.to_string(),
            estimation_fee: c.estimation_fee.to_string(),
            renewal_uplift_pct: c.renewal_uplift_pct.to_string(),
            terminated_on: c.terminated_on.map(|d| d.to_string()),
            prices: c
                .prices
                .iter()
                .map(|v| PriceItem {
                    from: v.from.to_string(),
                    bw: price_text(v.prices.bw),
                    colour: price_text(v.prices.colour),
                    bw_a3: v.prices.bw_a3.map(price_text),
                    colour_a3: v.prices.colour_a3.map(price_text),
                })
                .collect(),
        }
    }
}
