//! Checks of the vendor's invoices: `telleverk check-invoice --json` and
//! `/api/v1/contracts/{id}/invoice-checks…`. Amounts, prices, pages and
//! readings are decimal strings (exact); instants RFC 3339 in Oslo time.
//! A check is stored as this JSON, so it reads back as it was answered.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::billing::BoundaryValue;
use super::date_schema;

/// One check of a vendor's file against the contract's own invoices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct InvoiceCheck {
    /// The check's number, for `…/invoice-checks/{check}`.
    pub id: i64,
    pub contract: String,
    /// When it was checked (RFC 3339).
    pub checked_at: String,
    /// Who checked it: a token's name, or the OS user.
    pub checked_by: String,
    /// The SHA-256 of the file, hex: the same file checked again has the same.
    pub file_sha256: String,
    /// NOK: the vendor's invoices in the file, summed.
    pub vendor_total: String,
    /// NOK: our invoices they were matched with, summed.
    pub our_total: String,
    /// NOK: the positive differences of the disputes, summed.
    pub disputed: String,
    pub invoices: Vec<CheckedInvoice>,
    /// The earlier check of the same file this one is compared with.
    pub previous: Option<i64>,
    /// What changed since `previous` (new readings since): findings new,
    /// gone or with another difference. Empty for the first check.
    pub changes: Vec<Change>,
}

/// One invoice of the vendor, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CheckedInvoice {
    /// The vendor's invoice number.
    pub invoice: String,
    /// a_konto, settlement, arrears or a3.
    pub kind: String,
    #[schema(schema_with = date_schema)]
    pub issue_date: String,
    #[schema(schema_with = date_schema)]
    pub period_from: String,
    /// The period's last day, included, as the vendor prints it.
    #[schema(schema_with = date_schema)]
    pub period_to: String,
    /// NOK.
    pub vendor_total: String,
    /// NOK; null when telleverk has no invoice of that kind and period.
    pub our_total: Option<String>,
    /// NOK: the positive differences of its disputes, summed.
    pub disputed: String,
    pub findings: Vec<FindingItem>,
}

/// One difference between the vendor's invoice and ours.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FindingItem {
    /// The line of the vendor's file (the first of a summed group); null
    /// for a line of ours the vendor does not have.
    pub line: Option<usize>,
    /// arithmetic, price, pages, reading, estimated_reading,
    /// estimation_fee, unexpected_line or missing_line.
    pub kind: String,
    /// dispute (send it to the vendor) or note.
    pub severity: String,
    /// fixed, bw, colour, bw_a3, colour_a3, estimation_fee or other.
    pub class: Option<String>,
    pub serial: Option<String>,
    pub meter: Option<String>,
    /// The vendor's figure: pages, a unit price, an amount or a reading, as
    /// the kind says.
    pub theirs: Option<String>,
    /// Ours, of the same.
    pub ours: Option<String>,
    pub delta_pages: Option<String>,
    /// NOK the vendor charged minus what we compute, to øre.
    pub delta_nok: String,
    pub message: String,
    /// Our values it rests on, with how each was found.
    pub evidence: Vec<BoundaryValue>,
}

/// A finding that is new, gone or changed since the check before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Change {
    /// new, gone or changed.
    pub change: String,
    pub invoice: String,
    pub kind: String,
    pub class: Option<String>,
    pub serial: Option<String>,
    pub meter: Option<String>,
    /// Δ NOK before; null for a new finding.
    pub before: Option<String>,
    /// Δ NOK now; null for a finding gone.
    pub after: Option<String>,
    pub message: String,
}

/// The checks of a contract, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvoiceCheckList {
    pub items: Vec<InvoiceCheckItem>,
}

/// A check in the list.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvoiceCheckItem {
    pub id: i64,
    pub checked_at: String,
    pub checked_by: String,
    pub file_sha256: String,
    /// The vendor's invoice numbers in the file.
    pub invoices: Vec<String>,
    pub vendor_total: String,
    pub disputed: String,
    pub disputes: usize,
    pub notes: usize,
}
