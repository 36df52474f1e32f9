//! Health, alerts, the configuration (secrets redacted) and the API's error
//! answer.

use serde::Serialize;
use utoipa::ToSchema;

/// Liveness.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always "ok" when the service answers.
    pub status: String,
    pub version: String,
    /// Devices in the fleet view.
    pub devices: usize,
    /// When the fleet view was last built (RFC 3339); null before the first build.
    pub view_built_at: Option<String>,
    /// When the contracts' alerts (projected breaches) were last checked:
    /// the service answers once the devices are read, and the check follows
    /// in the background; null until it has run.
    pub contracts_checked_at: Option<String>,
}

/// The open alerts.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertList {
    pub items: Vec<AlertItem>,
}

/// An open alert.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertItem {
    /// supply_empty, supply_low, device_down, unreachable, stale,
    /// reading_due, projected_breach, notice_deadline, no_meters,
    /// supply_empty_soon, coverage_above_contract, uptime_below_promise,
    /// site_silent.
    pub kind: String,
    pub serial: Option<String>,
    pub contract: Option<String>,
    /// What of the device or contract it is about beside its kind (the
    /// supply, the billing boundary, the class and period; the site of
    /// `site_silent`); empty when the kind says it all.
    pub subject: String,
    /// When the condition began (RFC 3339): as the check knows it, else
    /// when telleverk first saw the alert open. Null only in the first
    /// moments after a start, before the history is read.
    pub since: Option<String>,
    pub message: String,
}

/// Openings and closings of alerts, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertHistory {
    pub items: Vec<AlertEventItem>,
    /// The `before` of the next (older) page; null on the last.
    pub next_before: Option<i64>,
}

/// An alert opening or closing, as the history keeps it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertEventItem {
    /// Its place in the history (grows with time).
    pub id: i64,
    /// `opened` or `closed`.
    pub event: String,
    /// When telleverk saw it (RFC 3339).
    pub at: String,
    pub kind: String,
    pub serial: Option<String>,
    pub contract: Option<String>,
    pub subject: String,
    /// When the condition began (RFC 3339).
    pub since: Option<String>,
    /// The alert's message when it opened.
    pub message: String,
    /// Whether people were told of it (`[[notify]]`): an opening once it
    /// stayed open for two rounds, and the closing of one told.
    pub told: bool,
}

/// The configuration as resolved, without secrets.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConfigView {
    pub file: String,
    pub database: String,
    pub collector: CollectorView,
    pub devices: Vec<DeviceEntryView>,
    /// Devices read by hand.
    pub hand_read: Vec<String>,
    /// Contract ids (GET /api/v1/contracts has them in full).
    pub contracts: Vec<String>,
    pub http: HttpView,
    pub alerts: AlertSettingsView,
    /// The mail server; never its password.
    pub smtp: Option<SmtpView>,
    pub reports: Vec<ReportView>,
    /// Who is told of alerts; never a webhook's secret.
    pub notify: Vec<NotifyView>,
}

/// A `[[notify]]`.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotifyView {
    /// The alert kinds it is told of.
    pub kinds: Vec<String>,
    pub email_to: Vec<String>,
    /// Scheme, host and port only: a hook's path often holds a token.
    pub webhook_url: Option<String>,
    /// Cron, Europe/Oslo: one summary on this schedule instead of a
    /// message per alert.
    pub digest: Option<String>,
}

/// `[smtp]`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SmtpView {
    pub host: String,
    pub port: u16,
    /// starttls, tls or none.
    pub tls: String,
    /// The user it logs in as; the password is never shown.
    pub username: Option<String>,
    pub from: String,
}

/// A `[[report]]`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportView {
    pub name: String,
    /// Cron, Europe/Oslo.
    pub schedule: String,
    /// counters or vendor-billing.
    pub kind: String,
    /// csv, xlsx or json.
    pub format: String,
    pub csv_delimiter: String,
    pub directory: String,
    pub email_to: Vec<String>,
}

/// `[collector]`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CollectorView {
    pub interval_seconds: u64,
    pub concurrency: usize,
    pub timeout_ms: u64,
    pub retries: u32,
}

/// A `[[device]]` entry polled over SNMP.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceEntryView {
    pub address: String,
    /// 1, 2c or 3.
    pub version: String,
    /// Always "(redacted)" for a community; the v3 user name otherwise.
    pub credentials: String,
    pub serial: Option<String>,
    pub location: Option<String>,
    pub profile: Option<String>,
    pub large_counts_double: bool,
}

/// `[http]`.
#[derive(Debug, Serialize, ToSchema)]
pub struct HttpView {
    pub listen: String,
    pub max_connections: usize,
    pub header_read_timeout_ms: u64,
    pub request_timeout_ms: u64,
    pub max_body_bytes: usize,
    /// Token names and roles; never a token or its hash.
    pub tokens: Vec<TokenView>,
}

/// A `[[http.token]]`.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenView {
    pub name: String,
    pub role: String,
}

/// `[alerts]`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertSettingsView {
    pub supply_low_pct: u32,
    pub reading_due_days: u32,
    pub notice_warning_days: u32,
    pub forecast_days: u32,
    pub coverage_tolerance_pct: u32,
    /// How long a site may forward nothing before `site_silent` (e.g. "1h").
    pub site_silent: String,
}

/// `{"error": {"code": …, "message": …}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable and machine-readable.
    pub code: ErrorCode,
    /// What is wrong, for a person.
    pub message: String,
    /// `out_of_sequence` only: the item the site's next batch must start at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<u64>,
}

/// The stable codes of the API's errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: a query parameter is missing or malformed.
    BadParameter,
    /// 400: the body is not JSON of the expected shape.
    BadBody,
    /// 401: no token, or one nobody has.
    Unauthorized,
    /// 403: the token's role may not do this.
    Forbidden,
    /// 404: no such path, device, contract or report.
    NotFound,
    /// 405: the path does not take this method.
    MethodNotAllowed,
    /// 413: the body is larger than `[http] max_body_bytes`.
    PayloadTooLarge,
    /// 409: a different value is stored under the same key.
    Conflict,
    /// 422: a reading that cannot be stored.
    InvalidReading,
    /// 422: a vendor's invoice file that cannot be read or is not this
    /// contract's (the message names the line and column).
    InvalidInvoice,
    /// 409: a reading that breaks the device's polled series; send it with
    /// `accept_implausible` to store it all the same.
    ImplausibleReading,
    /// 500: a report could not be written (the message says why).
    ReportFailed,
    /// 500: a contract's invoices or standing could not be computed (an
    /// amount too large; the message says which).
    BillingFailed,
    /// 500: anything else; the log has the cause.
    Internal,
    /// 503: the database stayed locked by another process (an import);
    /// nothing was changed, the same request may be sent again.
    Busy,
    /// 409: a site's batch leaves a gap after the items the central has
    /// applied (`expected` says where to start).
    OutOfSequence,
    /// 409: the site speaks another version of the forwarding protocol (the
    /// message says which side to upgrade).
    Protocol,
    /// 422: an item of a site's batch does not hold what the protocol says.
    InvalidBatch,
    /// 503: the request was not answered within `[http] request_timeout`
    /// (its body came too slowly, or the answer took too long).
    Timeout,
}
