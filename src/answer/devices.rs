//! Devices: the fleet list, one device in full, its readings and what an
//! entered reading did (`/api/v1/devices…`). Instants are RFC 3339 in Oslo
//! time.

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;

use super::system::AlertItem;
use crate::record::{FailureCause, Withdrawn};
use crate::supplies::Supply;

/// A page of devices.
#[derive(Debug, Serialize, ToSchema)]
pub struct DevicePage {
    pub items: Vec<DeviceSummary>,
    /// The serial to pass as `after` for the next page; null on the last.
    pub next: Option<String>,
}

/// A device in the list.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceSummary {
    pub serial: String,
    pub model: Option<String>,
    pub location: Option<String>,
    /// The address it last answered on.
    pub address: Option<String>,
    /// The latest reading of any source (RFC 3339, Europe/Oslo offset).
    pub last_reading_at: Option<String>,
    /// Whether its latest poll was answered; null for a device read by hand.
    pub reachable: Option<bool>,
    /// No successful poll within two poll intervals; null for a device read by hand.
    pub stale: Option<bool>,
    /// Polled only because discovery found it on the network
    /// (`[discovery] auto_add`): no `[[device]]` entry names it yet.
    pub discovered: bool,
    /// The supply with the lowest percentage.
    pub lowest_supply: Option<Supply>,
    pub open_alerts: usize,
    /// The site that polls it (`[site] name` of the telleverk that polled
    /// it); null where there are no sites.
    pub site: Option<String>,
}

/// One device in full.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceDetail {
    #[serde(flatten)]
    pub summary: DeviceSummary,
    /// The entry (SNMP endpoint) it last answered through.
    pub entry: Option<String>,
    /// The latest successful poll.
    pub last_poll_at: Option<String>,
    pub status: Option<DeviceStatus>,
    /// Meter name → value at the latest reading.
    pub meters: BTreeMap<String, u64>,
    pub supplies: Vec<Supply>,
    /// Each supply with when it is forecast to run out (from its levels
    /// against working time), or why there is no forecast.
    pub supply_forecasts: Vec<super::uptime::SupplyOutlook>,
    pub alerts: Vec<AlertItem>,
    /// Resets, glitches, wraps, swaps, moves and serial mismatches, oldest first.
    pub events: Vec<EventItem>,
    /// The latest failed or partial polls of its entry (at most 20), newest first.
    pub failures: Vec<FailureItem>,
}

/// A device's state at its latest poll.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceStatus {
    /// hrDeviceStatus by name.
    pub device: String,
    /// hrPrinterStatus by name.
    pub printer: String,
    /// hrPrinterDetectedErrorState bits by name.
    pub errors: Vec<String>,
}

/// Something that happened to a device.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventItem {
    pub at: String,
    /// swap, move, serial_mismatch, suspected_reset, confirmed_reset,
    /// suspected_wrap, confirmed_wrap, glitch.
    pub kind: String,
    pub meter: Option<String>,
    pub before: Option<u64>,
    pub after: Option<u64>,
    pub detail: String,
}

/// A failed or partial poll.
#[derive(Debug, Serialize, ToSchema)]
pub struct FailureItem {
    pub at: String,
    pub cause: FailureCause,
    pub detail: String,
}

/// A device's readings.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReadingPage {
    pub serial: String,
    pub items: Vec<ReadingItem>,
    /// The `from` for the next page (the time of the first reading left
    /// out); null when all are here.
    pub next: Option<String>,
}

/// One reading.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReadingItem {
    pub taken_at: String,
    /// polled, manual, vendor, final or start.
    pub source: String,
    /// Meter name → value, the values in force.
    pub meters: BTreeMap<String, u64>,
    /// Who entered it (a token's name, an OS user); null for a poll and for
    /// readings entered before telleverk kept it.
    pub entered_by: Option<String>,
    /// Values entered at this instant and source and withdrawn since.
    pub withdrawn: Vec<WithdrawnItem>,
}

/// An entered value taken back; billing ignores it.
#[derive(Debug, Serialize, ToSchema)]
pub struct WithdrawnItem {
    pub meter: String,
    pub value: u64,
    pub entered_by: Option<String>,
    /// RFC 3339.
    pub withdrawn_at: String,
    pub withdrawn_by: String,
    pub reason: String,
}

impl WithdrawnItem {
    /// `w` as answered, its instant already written the caller's way (Oslo
    /// time in the API, UTC on the command line).
    pub fn new(w: &Withdrawn, withdrawn_at: String) -> Self {
        WithdrawnItem {
            meter: w.meter.name().to_owned(),
            value: w.value,
            entered_by: w.entered_by.clone(),
            withdrawn_at,
            withdrawn_by: w.by.clone(),
            reason: w.reason.clone(),
        }
    }
}

/// What an entered reading did.
#[derive(Debug, Serialize, ToSchema)]
pub struct Entered {
    pub serial: String,
    pub taken_at: String,
    pub source: String,
    /// Meter values stored now.
    pub stored: usize,
    /// Meter values stored before with the same value (nothing changed).
    pub already_stored: usize,
    /// Values stored though they break the polled series (sent with
    /// `accept_implausible`), each with the polls it contradicts.
    pub warnings: Vec<String>,
}
