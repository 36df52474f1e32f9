//! The JSON lines of the command line: one per polled entry
//! (`telleverk poll --once --json`) and one per stored reading
//! (`telleverk readings --json`). Instants are RFC 3339 UTC with
//! milliseconds, as stored.

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::devices::WithdrawnItem;
use crate::record::FailureCause;
use crate::supplies::Supply;

/// One line of `poll --once --json`.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum PollLine {
    Ok(Box<PolledDevice>),
    Failed(FailedPoll),
}

/// An entry that answered.
#[derive(Debug, Serialize)]
pub struct PolledDevice {
    pub address: String,
    pub serial: String,
    pub model: Option<String>,
    /// "ok"; or "partial" (something was missing or wrong: see `warnings`)
    /// or "no_meters" (the device answered, no counter did), both stored.
    pub status: &'static str,
    pub at: String,
    pub meters: MeterValues,
    /// Left out when the supplies table could not be read. Each supply
    /// without its table index.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "supplies_without_index"
    )]
    pub supplies: Option<Vec<Supply>>,
    pub device_status: &'static str,
    pub printer_status: &'static str,
    pub printer_errors: Vec<String>,
    /// What was missing or wrong (a partial poll); left out when nothing was.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// An entry that did not answer.
#[derive(Debug, Serialize)]
pub struct FailedPoll {
    pub address: String,
    /// Always "error".
    pub status: &'static str,
    pub error: FailureCause,
    pub detail: String,
}

/// One line of `readings --json`.
#[derive(Debug, Serialize)]
pub struct ReadingLine {
    pub serial: String,
    pub taken_at: String,
    pub source: &'static str,
    /// The entry it was polled through; null for an entered reading.
    pub entry: Option<String>,
    pub meters: MeterValues,
    pub device_status: &'static str,
    pub printer_errors: Vec<String>,
    /// Who entered it; null for a poll.
    pub entered_by: Option<String>,
    /// Values entered at this instant and source and withdrawn since.
    pub withdrawn: Vec<WithdrawnItem>,
}

/// Meter name → value, in the order given (the meters' own order).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MeterValues(pub Vec<(&'static str, u64)>);

impl Serialize for MeterValues {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

/// The supplies of a poll line: each [`Supply`] without its table index.
fn supplies_without_index<S: Serializer>(
    supplies: &Option<Vec<Supply>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    let mut lines = Vec::new();
    for supply in supplies.iter().flatten() {
        let mut line = serde_json::to_value(supply).map_err(serde::ser::Error::custom)?;
        if let Some(fields) = line.as_object_mut() {
            fields.remove("index");
        }
        lines.push(line);
    }
    lines.serialize(s)
}
