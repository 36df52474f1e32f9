//! Gathering: reads the database and the config into the inputs of the pure
//! core — a contract's device histories for billing, the fleet view, the
//! counter report and the vendor export — for every caller alike (the CLI,
//! the API, the scheduler, next the pages).
//!
//! Below `http` and `scheduler`, above `storage`, `config` and the pure core:
//! it never imports `app`, `http` or `scheduler`, and holds no SQL.

pub mod charts;
pub mod fleet;
pub mod invoice_checks;
pub mod reports;
pub mod supplies;
pub mod uptime;

use std::collections::{HashMap, HashSet};

use crate::meters::series::Point;
use crate::meters::{DeviceColour, Meter, Source};

use chrono::NaiveDate;

use crate::billing::{self, DeviceHistory, HISTORY_METERS};
use crate::config::{Config, DeviceEntry, HandDevice};
use crate::contract::{Contract, Membership, midnight};
use crate::report::vendor::membership_on;
use crate::serial::Serial;
use crate::storage::{Pool, Reader};
use crate::timestamp::Timestamp;

pub use fleet::{DeviceView, FleetView};
pub use reports::{ReportError, counter_report, report_bytes, vendor_rows};

/// The config's devices by entry key and serial, and the contracts' members
/// by serial: [`Config::location`], [`Config::large_counts_double`] and
/// `member_on` answered for a whole fleet without scanning the config once
/// per device (10 000 devices made that 10^8 comparisons).
pub struct FleetIndex<'a> {
    by_key: HashMap<&'a str, &'a DeviceEntry>,
    /// The first entry bound to each serial (entries that share a serial
    /// agree on its settings: the config checks it).
    by_serial: HashMap<&'a str, &'a DeviceEntry>,
    /// The first hand-read device of each serial.
    hand_read: HashMap<&'a str, &'a HandDevice>,
    /// Serials of which some entry or hand-read device counts large pages twice.
    counts_double: HashSet<&'a str>,
    /// Serials marked `mono = true`.
    mono: HashSet<&'a str>,
    /// Each serial's memberships, in the config's order of contracts.
    memberships: HashMap<&'a str, Vec<(&'a Contract, &'a Membership)>>,
}

impl<'a> FleetIndex<'a> {
    pub fn new(config: &'a Config) -> FleetIndex<'a> {
        let mut index = FleetIndex {
            by_key: HashMap::with_capacity(config.devices.len()),
            by_serial: HashMap::new(),
            hand_read: HashMap::with_capacity(config.hand_read.len()),
            counts_double: HashSet::new(),
            mono: HashSet::new(),
            memberships: HashMap::new(),
        };
        for d in &config.devices {
            index.by_key.entry(d.key.as_str()).or_insert(d);
            if let Some(serial) = d.serial.as_deref() {
                index.by_serial.entry(serial).or_insert(d);
                if d.large_counts_double {
                    index.counts_double.insert(serial);
                }
                if d.mono {
                    index.mono.insert(serial);
                }
            }
        }
        for d in &config.hand_read {
            index.hand_read.entry(d.serial.as_str()).or_insert(d);
            if d.large_counts_double {
                index.counts_double.insert(d.serial.as_str());
            }
            if d.mono {
                index.mono.insert(d.serial.as_str());
            }
        }
        for c in &config.contracts {
            for m in &c.devices {
                index
                    .memberships
                    .entry(m.serial.as_str())
                    .or_default()
                    .push((c, m));
            }
        }
        index
    }

    /// As [`Config::location`].
    pub fn location(&self, serial: &str, entry_key: Option<&str>) -> Option<String> {
        let by_entry = entry_key
            .and_then(|k| self.by_key.get(k))
            .and_then(|d| d.location.clone());
        by_entry
            .or_else(|| self.by_serial.get(serial).and_then(|d| d.location.clone()))
            .or_else(|| self.hand_read.get(serial).and_then(|d| d.location.clone()))
    }

    /// As [`Config::large_counts_double`].
    pub fn large_counts_double(&self, serial: &str) -> bool {
        self.counts_double.contains(serial)
    }

    /// As [`Config::mono`].
    pub fn mono(&self, serial: &str) -> bool {
        self.mono.contains(serial)
    }

    /// Whether the device is polled only because discovery found it: its
    /// latest poll came through a discovered entry, and no `[[device]]`
    /// names its serial yet.
    pub fn discovered(&self, serial: &str, entry_key: Option<&str>) -> bool {
        entry_key.is_some_and(crate::config::is_discovered_key)
            && !self.by_serial.contains_key(serial)
            && !self.hand_read.contains_key(serial)
    }

    /// Whether an SNMP entry is bound to this serial.
    pub fn bound(&self, serial: &str) -> bool {
        self.by_serial.contains_key(serial)
    }

    /// As `report::vendor::member_on`.
    pub fn member_on(&self, contract: &Contract, serial: &str, date: NaiveDate) -> bool {
        self.memberships(serial)
            .any(|(c, m)| std::ptr::eq(c, contract) && membership_on(c, m, date))
    }

    /// The first contract (in config order) the device is in on `date`.
    fn contract_on(&self, serial: &str, date: NaiveDate) -> Option<&'a Contract> {
        self.memberships(serial)
            .find(|(c, m)| membership_on(c, m, date))
            .map(|(c, _)| c)
    }

    /// Every membership of a contract the device has, with its contract.
    pub fn memberships(
        &self,
        serial: &str,
    ) -> impl Iterator<Item = (&'a Contract, &'a Membership)> {
        self.memberships.get(serial).into_iter().flatten().copied()
    }
}

/// The readings of every device of the contract that an answer on `date`
/// needs, from the database: those around the boundaries, not every poll.
pub fn histories(
    reader: &Reader,
    config: &Config,
    contract: &Contract,
    date: NaiveDate,
) -> Result<Vec<DeviceHistory>, crate::storage::Error> {
    histories_at(
        reader,
        config,
        contract,
        &billing::needed_dates(contract, date),
    )
}

/// The readings of every device of the contract around midnight of `dates`
/// (the alerts' projections read around `billing::running_dates` only).
pub fn histories_at(
    reader: &Reader,
    config: &Config,
    contract: &Contract,
    dates: &[NaiveDate],
) -> Result<Vec<DeviceHistory>, crate::storage::Error> {
    let reading = ContractReading::new(config, contract, dates);
    reader.snapshot(|r| {
        reading
            .serials
            .iter()
            .map(|serial| reading.device(r, serial))
            .collect()
    })
}

/// [`histories_at`] with the devices shared out among one connection of
/// `pool` per core: what the API and the pages read a contract with.
pub fn histories_shared(
    pool: &Pool,
    config: &Config,
    contract: &Contract,
    dates: &[NaiveDate],
) -> Result<Vec<DeviceHistory>, crate::storage::Error> {
    let reading = ContractReading::new(config, contract, dates);
    pool.read_each(&reading.serials, |r, serial| reading.device(r, serial))
}

/// What a contract's histories are read with: its devices, each once and
/// in order, and the instants.
struct ContractReading<'a> {
    serials: Vec<&'a Serial>,
    instants: Vec<Timestamp>,
    index: FleetIndex<'a>,
    trailing_days: u32,
}

impl<'a> ContractReading<'a> {
    fn new(config: &'a Config, contract: &'a Contract, dates: &[NaiveDate]) -> Self {
        let mut serials: Vec<&Serial> = contract.devices.iter().map(|m| &m.serial).collect();
        serials.sort_unstable();
        serials.dedup();
        ContractReading {
            serials,
            instants: dates.iter().copied().map(midnight).collect(),
            index: FleetIndex::new(config),
            trailing_days: contract.trailing_days,
        }
    }

    fn device(
        &self,
        reader: &Reader,
        serial: &Serial,
    ) -> Result<DeviceHistory, crate::storage::Error> {
        let reading = Readings {
            serial,
            mono: self.index.mono(serial),
            meters: &HISTORY_METERS,
            instants: &self.instants,
            trailing_days: self.trailing_days,
        };
        let (points, colour) = reading.read(reader)?;
        Ok(DeviceHistory::with_colour(
            serial,
            self.index.large_counts_double(serial),
            colour,
            points,
        ))
    }
}

/// The parts people may enter a total as: read for every device, as they
/// are derived at each instant (`meters::derive`).
const PARTS: [Meter; 4] = [
    Meter::BwCopy,
    Meter::BwPrint,
    Meter::ColourCopy,
    Meter::ColourPrint,
];

/// What to read of one device for an answer.
pub(crate) struct Readings<'a> {
    pub serial: &'a Serial,
    /// Marked `mono = true` in the config.
    pub mono: bool,
    pub meters: &'a [Meter],
    pub instants: &'a [Timestamp],
    pub trailing_days: u32,
}

impl Readings<'_> {
    /// The points of the meters around the instants, with the parts people
    /// entered, and what is known of the device's colour (asked of the
    /// database only when the points leave it open).
    pub fn read(
        &self,
        reader: &Reader,
    ) -> Result<(HashMap<Meter, Vec<Point>>, DeviceColour), crate::storage::Error> {
        let mut points =
            reader.billing_points(self.serial, self.meters, self.instants, self.trailing_days)?;
        let parts = reader.entered_points(self.serial, &PARTS)?;
        let open = !parts.is_empty()
            || points.get(&Meter::BwTotal).is_none_or(Vec::is_empty)
            || points
                .values()
                .flatten()
                .any(|p| p.source != Source::Polled);
        for (meter, list) in parts {
            points.entry(meter).or_default().extend(list);
        }
        let marked = if self.mono {
            DeviceColour::Mono
        } else {
            DeviceColour::Unknown
        };
        let colour = if open {
            reader.device_colour(self.serial)?.and(marked)
        } else {
            marked
        };
        Ok((points, colour))
    }
}

#[cfg(test)]
mod tests;
