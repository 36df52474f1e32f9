//! Gathers what the counter report and the vendor export need from the
//! database and the config, and hands it to the pure `report` formatters;
//! [`report_bytes`] makes a report's file.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;

use super::{FleetIndex, Readings};
use crate::billing::{DeviceHistory, HISTORY_METERS};
use crate::config::{Config, Report};
use crate::contract::{Contract, midnight};
use crate::meters::complete_points;
use crate::report::counters::{CounterInput, DeviceCounters, REPORT_METERS, device_counters};
use crate::report::schedule::{Kind, Period};
use crate::report::vendor::{VendorRow, device_rows, sort_rows};
use crate::report::{counters_file, vendor_file};
use crate::serial::Serial;
use crate::storage::{Error, Identity, Reader};

/// The trailing window of a device outside every contract.
pub(super) const DEFAULT_TRAILING_DAYS: u32 = 90;

/// The vendor's billing import on `date`: every device in a contract that
/// day, every billing meter it has, sorted by serial and meter.
pub fn vendor_rows(
    reader: &Reader,
    config: &Config,
    date: NaiveDate,
) -> Result<Vec<VendorRow>, Error> {
    let identities = reader.identities()?;
    let index = FleetIndex::new(config);
    let at = [midnight(date)];
    let mut rows = Vec::new();
    for contract in &config.contracts {
        let serials: BTreeSet<&Serial> = contract
            .devices
            .iter()
            .map(|m| &m.serial)
            .filter(|s| index.member_on(contract, s, date))
            .collect();
        for serial in serials {
            let (points, colour) = Readings {
                serial,
                mono: index.mono(serial),
                meters: &HISTORY_METERS,
                instants: &at,
                trailing_days: contract.trailing_days,
            }
            .read(reader)?;
            let history = DeviceHistory::with_colour(
                serial,
                index.large_counts_double(serial),
                colour,
                points,
            );
            let model = identities
                .get(serial.as_str())
                .and_then(|i| i.model.as_deref());
            rows.extend(device_rows(contract, &history, model, date));
        }
    }
    sort_rows(&mut rows);
    Ok(rows)
}

/// The contract a device is in over `[from, to)`: the one it is in on
/// `from`, else on the period's last day.
pub(super) fn contract_of<'a>(
    index: &FleetIndex<'a>,
    serial: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Option<&'a Contract> {
    let last = to.pred_opt().unwrap_or(to);
    index
        .contract_on(serial, from)
        .or_else(|| index.contract_on(serial, last))
}

/// The counter report from `from` to `to`: every device the database or the
/// config knows, by serial; only the devices `site` polls when given.
pub fn counter_report(
    reader: &Reader,
    config: &Config,
    from: NaiveDate,
    to: NaiveDate,
    site: Option<&str>,
) -> Result<Vec<DeviceCounters>, Error> {
    let mut identities: BTreeMap<Serial, Identity> = reader.identities()?;
    for serial in config.serials() {
        identities.entry(serial).or_default();
    }
    let index = FleetIndex::new(config);
    let instants = [midnight(from), midnight(to)];
    let mut out = Vec::with_capacity(identities.len());
    // Uptime over the period, the rounds read once for every device.
    let window = super::uptime::Window::new(config, from, to, midnight(to));
    let rounds = window.rounds(reader)?;
    for (serial, identity) in &identities {
        let polled_by = identity
            .entry_key
            .as_deref()
            .and_then(crate::wire::site_of_entry)
            .or(config.site.as_deref());
        if site.is_some_and(|s| polled_by != Some(s)) {
            continue;
        }
        let contract = contract_of(&index, serial, from, to);
        let trailing_days = contract.map_or(DEFAULT_TRAILING_DAYS, |c| c.trailing_days);
        let (points, colour) = Readings {
            serial,
            mono: index.mono(serial),
            meters: &REPORT_METERS,
            instants: &instants,
            trailing_days,
        }
        .read(reader)?;
        // Every value derivable from what was read, as for billing.
        let points = complete_points(points, colour, &REPORT_METERS);
        let location = index.location(serial, identity.entry_key.as_deref());
        let uptime =
            super::uptime::uptime_between(reader, config, serial, (from, to), &window, &rounds)?;
        out.push(device_counters(
            &CounterInput {
                serial,
                model: identity.model.as_deref(),
                location: location.as_deref(),
                contract: contract.map(|c| c.id.as_str()),
                discovered: index.discovered(serial, identity.entry_key.as_deref()),
                uptime_pct: uptime.uptime_pct(),
                site: polled_by,
                large_counts_double: index.large_counts_double(serial),
                trailing_days,
                points: &points,
            },
            from,
            to,
        ));
    }
    Ok(out)
}

/// The bytes of a `[[report]]`'s file for `period`.
pub fn report_bytes(
    reader: &Reader,
    config: &Config,
    report: &Report,
    period: Period,
) -> Result<Vec<u8>, ReportError> {
    Ok(match (report.kind, period) {
        (Kind::Counters, Period::Month { from, to }) => {
            let devices = counter_report(reader, config, from, to, None)?;
            counters_file(report.format, report.csv_style, from, to, &devices)
                .map_err(ReportError::Format)?
        }
        (Kind::VendorBilling, Period::Day(at)) => {
            vendor_file(report.format, &vendor_rows(reader, config, at)?)
        }
        (kind, period) => {
            return Err(ReportError::Format(format!(
                "a {} report has no period {period:?}",
                kind.name()
            )));
        }
    })
}

/// A report's file could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Storage(#[from] Error),
    /// The formatter failed (an XLSX that could not be written).
    #[error("{0}")]
    Format(String),
}
