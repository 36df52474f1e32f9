//! Gathers what the counter report and the vendor export need from the
//! database and the config, and hands it to the pure `report` formatters.
//! [`FleetIndex`] looks the config up for a whole fleet (the reports and the
//! API's fleet view).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::NaiveDate;

use crate::billing::{DeviceHistory, HISTORY_METERS};
use crate::config::{Config, DeviceEntry, HandDevice};
use crate::contract::{Contract, Membership, midnight};
use crate::report::counters::{CounterInput, DeviceCounters, REPORT_METERS, device_counters};
use crate::report::vendor::{VendorRow, device_rows, membership_on, sort_rows};
use crate::storage::{Error, Identity, Reader};

/// The trailing window of a device outside every contract.
const DEFAULT_TRAILING_DAYS: u32 = 90;

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
            memberships: HashMap::new(),
        };
        for d in &config.devices {
            index.by_key.entry(d.key.as_str()).or_insert(d);
            if let Some(serial) = d.serial.as_deref() {
                index.by_serial.entry(serial).or_insert(d);
                if d.large_counts_double {
                    index.counts_double.insert(serial);
                }
            }
        }
        for d in &config.hand_read {
            index.hand_read.entry(d.serial.as_str()).or_insert(d);
            if d.large_counts_double {
                index.counts_double.insert(d.serial.as_str());
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

    fn memberships(&self, serial: &str) -> impl Iterator<Item = (&'a Contract, &'a Membership)> {
        self.memberships.get(serial).into_iter().flatten().copied()
    }
}

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
        let serials: BTreeSet<&str> = contract
            .devices
            .iter()
            .map(|m| m.serial.as_str())
            .filter(|s| index.member_on(contract, s, date))
            .collect();
        for serial in serials {
            let points =
                reader.billing_points(serial, &HISTORY_METERS, &at, contract.trailing_days)?;
            let history = DeviceHistory::new(serial, index.large_counts_double(serial), points);
            let model = identities.get(serial).and_then(|i| i.model.as_deref());
            rows.extend(device_rows(contract, &history, model, date));
        }
    }
    sort_rows(&mut rows);
    Ok(rows)
}

/// The contract a device is in over `[from, to)`: the one it is in on
/// `from`, else on the period's last day.
fn contract_of<'a>(
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
/// config knows, by serial.
pub fn counter_report(
    reader: &Reader,
    config: &Config,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<DeviceCounters>, Error> {
    let mut identities: BTreeMap<String, Identity> = reader.identities()?;
    for serial in config.serials() {
        identities.entry(serial).or_default();
    }
    let index = FleetIndex::new(config);
    let instants = [midnight(from), midnight(to)];
    let mut out = Vec::with_capacity(identities.len());
    for (serial, identity) in &identities {
        let contract = contract_of(&index, serial, from, to);
        let trailing_days = contract.map_or(DEFAULT_TRAILING_DAYS, |c| c.trailing_days);
        let points = reader.billing_points(serial, &REPORT_METERS, &instants, trailing_days)?;
        let location = index.location(serial, identity.entry_key.as_deref());
        out.push(device_counters(
            &CounterInput {
                serial,
                model: identity.model.as_deref(),
                location: location.as_deref(),
                contract: contract.map(|c| c.id.as_str()),
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
