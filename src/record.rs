//! The records that cross modules: what one poll of an entry found
//! ([`PollRecord`]), a device's meters at one instant as read back
//! ([`Reading`]), what happened to a device ([`Event`]) and why a poll
//! failed ([`Failure`], [`FailureCause`]). The collector makes poll records,
//! storage keeps and returns them, the commands and the API show them.
//!
//! Pure data: no I/O, no SQL, no SNMP.

use std::fmt;

use chrono::{DateTime, Utc};

use crate::meters::{Meter, MeterSet, Source};
use crate::serial::Serial;
use crate::supplies::Supply;

/// One poll round, as stored beside its polls: when it ran, at which
/// interval, over how many entries, and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundRecord {
    pub started: DateTime<Utc>,
    pub ended: DateTime<Utc>,
    /// The interval in force (`serve`, the demo); None for `poll --once`.
    pub interval_ms: Option<i64>,
    /// The entries the round set out to poll.
    pub entries: usize,
    pub end: RoundEnd,
}

/// How a round ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoundEnd {
    /// Every entry's poll finished (answered, failed or timed out).
    Completed,
    /// The service stopped: the polls still running, and those not started,
    /// are recorded `aborted`.
    Stopped,
}

impl RoundEnd {
    pub fn name(self) -> &'static str {
        match self {
            RoundEnd::Completed => "completed",
            RoundEnd::Stopped => "stopped",
        }
    }
}

/// The result of polling one device entry once.
#[derive(Debug, Clone)]
pub struct PollRecord {
    /// When the device's answer arrived.
    pub at: DateTime<Utc>,
    pub entry_key: String,
    pub address: String,
    pub outcome: Outcome,
}

#[derive(Debug, Clone)]
pub enum Outcome {
    Ok(Box<DeviceReading>),
    Failed { cause: FailureCause, detail: String },
}

impl DeviceReading {
    /// The failure a stored poll also records: `no_meters` when it read no
    /// meter, `partial` when something was missing or wrong, else none.
    pub fn failure_cause(&self) -> Option<FailureCause> {
        if self.meters.is_empty() {
            Some(FailureCause::NoMeters)
        } else if !self.problems.is_empty() {
            Some(FailureCause::Partial)
        } else {
            None
        }
    }
}

/// What a successful poll read.
#[derive(Debug, Clone, Default)]
pub struct DeviceReading {
    pub serial: Serial,
    /// The serial the config names for this entry, when it differs.
    pub configured_serial: Option<Serial>,
    pub model: Option<String>,
    pub sys_descr: Option<String>,
    pub sys_object_id: Option<String>,
    pub profile: Option<String>,
    pub meters: MeterSet,
    /// None when the supplies table could not be read.
    pub supplies: Option<Vec<Supply>>,
    pub device_status: Option<i64>,
    pub printer_status: Option<i64>,
    pub errors: Option<u16>,
    /// What was missing or wrong; a non-empty list records a `partial` failure.
    pub problems: Vec<String>,
}

/// Why a poll failed, as stored, counted and shown (by [`FailureCause::name`]).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum FailureCause {
    /// No (valid) answer in time; includes a wrong v1/v2c community.
    Timeout,
    /// The transport said the port is closed (ICMP port unreachable). Seen
    /// only where the socket learns it: on the shared unconnected socket a
    /// closed port reads `timeout`.
    Refused,
    /// Another network failure: no route, name not resolved.
    Unreachable,
    /// An SNMPv3 report: wrong digest, unknown user, decryption error.
    Authentication,
    /// An answer that could not be decoded or does not fit the request.
    Malformed,
    /// The agent answered with an error status (genErr, noAccess, …).
    AgentError,
    /// No device profile matches the device's sysObjectID.
    NoProfile,
    /// The device reports no serial and the config names none.
    NoSerial,
    /// The poll was stored but missed a table, had values of the wrong type,
    /// or ran past the device's deadline after the meters were read.
    Partial,
    /// The device answered but returned no meters at all: the poll is stored
    /// (status, supplies) but is no reading of any counter.
    NoMeters,
    /// The service stopped while the poll was running; nothing it read was kept.
    Aborted,
    /// telleverk itself failed while polling the device (a bug): the poll
    /// task panicked.
    Internal,
}

impl FailureCause {
    pub const ALL: [FailureCause; 12] = [
        FailureCause::Timeout,
        FailureCause::Refused,
        FailureCause::Unreachable,
        FailureCause::Authentication,
        FailureCause::Malformed,
        FailureCause::AgentError,
        FailureCause::NoProfile,
        FailureCause::NoSerial,
        FailureCause::Partial,
        FailureCause::NoMeters,
        FailureCause::Aborted,
        FailureCause::Internal,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FailureCause::Timeout => "timeout",
            FailureCause::Refused => "refused",
            FailureCause::Unreachable => "unreachable",
            FailureCause::Authentication => "authentication",
            FailureCause::Malformed => "malformed",
            FailureCause::AgentError => "agent_error",
            FailureCause::NoProfile => "no_profile",
            FailureCause::NoSerial => "no_serial",
            FailureCause::Partial => "partial",
            FailureCause::NoMeters => "no_meters",
            FailureCause::Aborted => "aborted",
            FailureCause::Internal => "internal",
        }
    }

    /// The cause of a name, as stored.
    pub fn parse(name: &str) -> Option<FailureCause> {
        FailureCause::ALL.into_iter().find(|c| c.name() == name)
    }
}

impl fmt::Display for FailureCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A failed (or partial) poll of an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub at: DateTime<Utc>,
    pub cause: FailureCause,
    pub detail: String,
}

/// Something that happened to a device or entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub at: DateTime<Utc>,
    pub serial: Option<Serial>,
    /// swap, move, serial_mismatch, suspected_reset, confirmed_reset,
    /// suspected_wrap, confirmed_wrap, glitch.
    pub kind: String,
    pub meter: Option<Meter>,
    pub before: Option<u64>,
    pub after: Option<u64>,
    pub detail: String,
}

/// A device's meters at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    pub at: DateTime<Utc>,
    pub source: Source,
    /// The entry it was polled through (polled readings only).
    pub entry_key: Option<String>,
    /// The values in force (a withdrawn value is not among them).
    pub meters: MeterSet,
    pub device_status: Option<i64>,
    pub printer_status: Option<i64>,
    pub errors: Option<u16>,
    /// Who entered it (entered readings; unknown for those entered before
    /// telleverk kept it).
    pub entered_by: Option<String>,
    /// Values entered at this instant and source, and withdrawn since.
    pub withdrawn: Vec<Withdrawn>,
}

/// An entered value taken back: kept, with who took it back, when and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Withdrawn {
    pub meter: Meter,
    pub value: u64,
    pub entered_by: Option<String>,
    pub at: DateTime<Utc>,
    pub by: String,
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::FailureCause;

    #[test]
    fn every_cause_reads_back_from_its_name() {
        for cause in FailureCause::ALL {
            assert_eq!(FailureCause::parse(cause.name()), Some(cause));
        }
        assert_eq!(
            FailureCause::parse("agent_error"),
            Some(FailureCause::AgentError)
        );
        assert_eq!(FailureCause::parse("Timeout"), None);
        // Serialized as stored.
        for cause in FailureCause::ALL {
            let json = serde_json::to_string(&cause).unwrap();
            assert_eq!(json, format!("\"{}\"", cause.name()));
        }
    }
}
