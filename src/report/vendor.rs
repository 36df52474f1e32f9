//! The leasing vendor's billing import: one row per device in a contract on
//! the date and per billing meter it has, with the value at 00:00 Europe/Oslo
//! that day, how it was found and the sources it rests on. An estimate is
//! never silent: `method` says interpolation or extrapolation.
//!
//! Until the vendor specifies its format, exactly: `;`, UTF-8 with BOM,
//! header `serial;model;contract;meter;reading_date;value;source;method`.

use crate::answer;
use chrono::NaiveDate;

use super::{CsvStyle, csv_bytes, text_cell, value_with_sources};
use crate::billing::{BILLING_METERS, DeviceHistory};
use crate::contract::{Contract, Membership, midnight};
use crate::estimate::Method;
use crate::meters::Meter;

pub const HEADER: [&str; 8] = [
    "serial",
    "model",
    "contract",
    "meter",
    "reading_date",
    "value",
    "source",
    "method",
];

/// One row of the import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorRow {
    pub serial: String,
    /// Empty when the device never said.
    pub model: String,
    pub contract: String,
    pub meter: Meter,
    pub reading_date: NaiveDate,
    pub value: u64,
    /// The sources of the readings the value rests on: polled, manual,
    /// vendor, final, start, joined by `+` when several.
    pub source: String,
    pub method: Method,
}

/// Whether a device is in a contract on `date`: joined on or before it and
/// not gone before it (a device leaving that day gives its closing reading).
pub fn member_on(contract: &Contract, serial: &str, date: NaiveDate) -> bool {
    contract
        .devices
        .iter()
        .any(|m| m.serial == serial && membership_on(contract, m, date))
}

/// Whether one membership of `contract` holds on `date` (see [`member_on`]).
pub fn membership_on(contract: &Contract, m: &Membership, date: NaiveDate) -> bool {
    date >= contract.start
        && contract.end().is_none_or(|e| date <= e)
        && m.from.is_none_or(|f| f <= date)
        && m.until.is_none_or(|u| date <= u)
}

/// The rows of one device of `contract` on `date`, by meter name. A meter
/// with no reading at all (or none before the date) has no row.
pub fn device_rows(
    contract: &Contract,
    history: &DeviceHistory,
    model: Option<&str>,
    date: NaiveDate,
) -> Vec<VendorRow> {
    let at = midnight(date);
    let mut rows: Vec<VendorRow> = BILLING_METERS
        .iter()
        .zip(&history.meters)
        .filter_map(|(meter, points)| {
            let (boundary, source) = value_with_sources(points, at, contract.trailing_days)?;
            Some(VendorRow {
                serial: history.serial.to_string(),
                model: model.unwrap_or_default().to_owned(),
                contract: contract.id.clone(),
                meter: *meter,
                reading_date: date,
                value: boundary.value,
                source,
                method: boundary.method,
            })
        })
        .collect();
    rows.sort_by(|a, b| a.meter.name().cmp(b.meter.name()));
    rows
}

/// Sorts rows by serial, meter name and contract.
pub fn sort_rows(rows: &mut [VendorRow]) {
    rows.sort_by(|a, b| {
        (a.serial.as_str(), a.meter.name(), a.contract.as_str()).cmp(&(
            b.serial.as_str(),
            b.meter.name(),
            b.contract.as_str(),
        ))
    });
}

/// A row's fields: the free-text ones (serial, model, contract) neutralised
/// for spreadsheets ([`text_cell`]), the fixed ones exactly as agreed.
fn fields(r: &VendorRow) -> Vec<String> {
    vec![
        text_cell(&r.serial),
        text_cell(&r.model),
        text_cell(&r.contract),
        r.meter.name().to_owned(),
        r.reading_date.to_string(),
        r.value.to_string(),
        r.source.clone(),
        r.method.name().to_owned(),
    ]
}

/// The CSV file: always `;` (the vendor's format, whatever a report's
/// `csv_delimiter` says), UTF-8 with BOM.
pub fn vendor_csv(rows: &[VendorRow]) -> Vec<u8> {
    let rows: Vec<Vec<String>> = rows.iter().map(fields).collect();
    csv_bytes(CsvStyle::Semicolon, &HEADER, &rows)
}

/// The JSON: an array of objects with the CSV's field names; `value` a number.
pub fn vendor_answer(rows: &[VendorRow]) -> Vec<answer::VendorRow> {
    rows.iter()
        .map(|r| answer::VendorRow {
            serial: r.serial.clone(),
            model: r.model.clone(),
            contract: r.contract.clone(),
            meter: r.meter.name().to_owned(),
            reading_date: r.reading_date.to_string(),
            value: r.value,
            source: r.source.clone(),
            method: r.method.name().to_owned(),
        })
        .collect()
}

#[cfg(test)]
mod tests;
