//! The fleet view: every device (from the database and the config) with its
//! location, supplies and open alerts, and every open alert of the contracts,
//! built from one read connection at one instant. The API keeps the latest
//! build and swaps a new one in whole (`http::view`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use chrono::NaiveDate;

use super::{FleetIndex, histories_at};
use crate::alerts::{self, Alert, DeviceFacts};
use crate::billing;
use crate::config::Config;
use crate::contract::dates::local_date;
use crate::serial::Serial;
use crate::storage::{DeviceRow, EntryRow, FleetRows, Reader, Refreshed};
use crate::timestamp::Timestamp;

/// The fleet as last read.
#[derive(Debug, Default, Clone)]
pub struct FleetView {
    /// By serial; shared between the builds that only add contract alerts.
    pub devices: Arc<Vec<DeviceView>>,
    /// Every open alert: devices, entries that never answered, contracts.
    pub alerts: Vec<Alert>,
    /// How many of `alerts`, from the first, are the devices' and entries'
    /// (the contracts' follow).
    device_alerts: usize,
    /// When it was built; None before the first build.
    pub built_at: Option<Timestamp>,
    /// When the contracts' alerts (projected breaches) were last checked;
    /// None until the first check, which follows the first build.
    pub contracts_checked_at: Option<Timestamp>,
    /// The latest poll round stored when the devices were read (the
    /// alert history counts rounds by it).
    pub round: Option<i64>,
    /// The last check of the contracts could not read everything (the
    /// database failed for some contract or device): an alert of a kind it
    /// checks that it lacks may still be open.
    pub contract_check_failed: bool,
}

/// Whether alerts of `kind` come from the check of the contracts (the
/// rest from each build of the devices).
pub fn checked_with_contracts(kind: alerts::Kind) -> bool {
    use alerts::Kind as K;
    matches!(
        kind,
        K::ProjectedBreach
            | K::NoticeDeadline
            | K::SupplyEmptySoon
            | K::CoverageAboveContract
            | K::UptimeBelowPromise
    )
}

/// One device in the view.
#[derive(Debug, Clone)]
pub struct DeviceView {
    /// Shared with the builds that follow until the database changes.
    pub row: Arc<DeviceRow>,
    pub location: Option<String>,
    /// Polled over SNMP (false: read by hand).
    pub polled: bool,
    /// Polled only because discovery found it (`[discovery] auto_add`).
    pub discovered: bool,
    pub open_alerts: usize,
    /// The site that polls it: the one its latest poll came from (at a
    /// central server), else this telleverk's own `[site] name`.
    pub site: Option<String>,
}

impl DeviceView {
    /// A polled device that answered its latest poll.
    pub fn reachable(&self) -> bool {
        self.row.last_poll.is_some() && self.row.failure_since.is_none()
    }
}

impl FleetView {
    /// The device with this serial.
    pub fn device(&self, serial: &str) -> Option<&DeviceView> {
        self.devices
            .binary_search_by(|d| d.row.serial.as_str().cmp(serial))
            .ok()
            .map(|i| &self.devices[i])
    }
}

/// What the builds read from the database, kept for the next build: after a
/// change only what changed is read ([`FleetRows`]), the contracts checked
/// again only when it changed or the day did. Between rounds a build reads
/// nothing and only works out the alerts that follow the clock.
#[derive(Debug, Default)]
pub struct Memory {
    /// Every device's and entry's latest row, as last read.
    rows: FleetRows,
    /// Those rows with the devices the config names but the database does
    /// not know, by serial; None when `rows` changed since.
    merged: Option<Vec<Arc<DeviceRow>>>,
    /// The database changed after the rows were last brought up to date.
    behind: bool,
    /// When everything was last read: once an hour everything is read
    /// again, so that nothing a reader of changes could miss (rows another
    /// process stored with instants before ones already read) stays.
    full_at: Option<Timestamp>,
    contracts: Option<ContractCheck>,
    /// The latest invoice check read: a new one may name an estimate not
    /// refunded, so the contracts are checked again.
    invoice_checks: i64,
}

/// How long the view goes on reading only changes before it reads all.
const FULL_READ_EVERY_MS: i64 = 60 * 60 * 1000;

#[derive(Debug)]
struct ContractCheck {
    today: NaiveDate,
    at: Timestamp,
    alerts: Vec<Alert>,
    /// By contract: what the last estimate the vendor billed above the
    /// measured value cost, for the reading-due alerts.
    notes: HashMap<String, String>,
    /// Some read failed: the alerts may lack some that are open.
    failed: bool,
    /// False once something the standings rest on changed after the check.
    current: bool,
}

impl Memory {
    /// The database changed since the last read.
    fn changed(&mut self) {
        self.behind = true;
    }

    /// After the rows were brought up to date: the contracts' standings on
    /// `today` (readings up to its midnight) need a new check only when
    /// the read found something they rest on changed — readings entered or
    /// withdrawn, new devices, polls at instants before that midnight, or
    /// anything at all (a read of everything). A round polled today
    /// changes none of it.
    fn judge_contracts(&mut self, today: NaiveDate) {
        let read = self.rows.last();
        let before_today = read
            .earliest_poll
            .is_some_and(|at| at < crate::contract::midnight(today));
        if (read.full || read.entered || read.new_devices > 0 || before_today)
            && let Some(c) = &mut self.contracts
        {
            c.current = false;
        }
    }

    /// Whether the contracts' alerts must be checked again on `today`.
    pub fn contracts_stale(&self, today: NaiveDate) -> bool {
        self.contracts
            .as_ref()
            .is_none_or(|c| !c.current || c.today != today)
    }

    /// What the latest read of the devices did.
    pub fn last_read(&self) -> Refreshed {
        self.rows.last()
    }
}

/// The view at `now`: the devices with their alerts, read from `reader`
/// when `changed` (only what changed; all of it on the first build and
/// once an hour), and the contracts' alerts as last checked
/// ([`check_contracts`] checks them again).
pub fn build(
    reader: &Reader,
    changed: bool,
    config: &Config,
    interval_ms: i64,
    now: Timestamp,
    memory: &mut Memory,
) -> Result<FleetView, crate::storage::Error> {
    if changed {
        memory.changed();
    }
    let due_full = memory
        .full_at
        .is_none_or(|at| now.millis() - at.millis() >= FULL_READ_EVERY_MS);
    if due_full {
        memory.rows = FleetRows::default();
        memory.full_at = Some(now);
        memory.behind = true;
    }
    if memory.behind {
        memory.merged = None;
        reader.refresh_fleet(&mut memory.rows)?;
        memory.behind = false;
        memory.judge_contracts(local_date(now));
        let checks = reader.last_invoice_check()?;
        if checks != memory.invoice_checks {
            memory.invoice_checks = checks;
            if let Some(c) = &mut memory.contracts {
                c.current = false;
            }
        }
    }
    let rows = memory.merged.get_or_insert_with(|| {
        let mut rows: BTreeMap<Serial, Arc<DeviceRow>> = memory
            .rows
            .rows()
            .into_iter()
            .map(|r| (r.serial.clone(), r))
            .collect();
        for serial in config.serials() {
            rows.entry(serial.clone())
                .or_insert_with(|| Arc::new(DeviceRow::unknown(serial)));
        }
        rows.into_values().collect()
    });
    let notes = memory.contracts.as_ref().map(|c| &c.notes);
    let mut view = device_view(rows, memory.rows.entries(), config, interval_ms, now, notes);
    view.round = reader.latest_round()?;
    // A central server's sites that have gone quiet: alerts of the build,
    // as the devices' are.
    let sites = reader.sites()?;
    view.alerts.extend(alerts::silent_sites(
        sites
            .iter()
            .map(|s| (s.name.as_str(), Timestamp::from(s.last_contact))),
        config.alerts.site_silent,
        now,
    ));
    view.device_alerts = view.alerts.len();
    if let Some(c) = &memory.contracts {
        view.alerts.extend(c.alerts.iter().cloned());
        view.contracts_checked_at = Some(c.at);
        view.contract_check_failed = c.failed;
    }
    Ok(view)
}

/// Checks the contracts' alerts on the day of `now` and returns `view` with
/// them in place of the ones it had. `changed` is whether the database
/// changed since the view's devices were read: then they are read again at
/// the next build.
pub fn check_contracts(
    reader: &Reader,
    changed: bool,
    config: &Config,
    now: Timestamp,
    memory: &mut Memory,
    view: &FleetView,
) -> FleetView {
    if changed {
        memory.behind = true;
    }
    let today = local_date(now);
    let mut failed = false;
    let (mut alerts, notes) = contract_alerts(reader, config, now, &mut failed);
    alerts.extend(supply_alerts(
        reader,
        config,
        &view.devices,
        now,
        &mut failed,
    ));
    let mut next = view.clone();
    next.alerts.truncate(view.device_alerts);
    next.alerts.extend(alerts.iter().cloned());
    next.contracts_checked_at = Some(now);
    next.contract_check_failed = failed;
    // What changed since the view's rows were read is in this check's
    // snapshot; the next build reads it and judges it again.
    memory.contracts = Some(ContractCheck {
        today,
        at: now,
        alerts,
        notes,
        failed,
        current: true,
    });
    next
}

/// The devices and their alerts at `now`, from rows already read: no
/// database work.
fn device_view<'a>(
    rows: &[Arc<DeviceRow>],
    entries: impl Iterator<Item = &'a EntryRow>,
    config: &Config,
    interval: i64,
    now: Timestamp,
    notes: Option<&HashMap<String, String>>,
) -> FleetView {
    let index = FleetIndex::new(config);
    let today = local_date(now);
    let due: Vec<alerts::ReadingDue> = config
        .contracts
        .iter()
        .filter_map(|c| {
            let note = notes.and_then(|n| n.get(&c.id)).map(String::as_str);
            alerts::ReadingDue::on(c, &config.alerts, today).map(|d| d.with_note(note))
        })
        .collect();
    let mut alerts = Vec::new();
    let mut devices = Vec::with_capacity(rows.len());
    for row in rows {
        let polled = row.entry_key.is_some() || index.bound(&row.serial);
        let facts = DeviceFacts {
            serial: &row.serial,
            polled,
            last_poll: row.last_poll.map(Timestamp::from),
            failure: row.failure_since.as_ref().map(|f| (f.at.into(), f.cause)),
            device_status: row.device_status,
            no_meters: row.no_meters,
            supplies: &row.supplies,
        };
        let mut own = alerts::device_alerts(&facts, &config.alerts, interval, now);
        let last_reading = row.last_poll.max(row.last_entered).map(Timestamp::from);
        own.extend(due.iter().filter_map(|d| {
            let members = index
                .memberships(&row.serial)
                .filter(|(c, _)| d.is_of(c))
                .map(|(_, m)| m);
            d.alert(&row.serial, members, last_reading)
        }));
        devices.push(DeviceView {
            location: index.location(&row.serial, row.entry_key.as_deref()),
            polled,
            discovered: index.discovered(&row.serial, row.entry_key.as_deref()),
            open_alerts: own.len(),
            site: row
                .entry_key
                .as_deref()
                .and_then(crate::wire::site_of_entry)
                .map(str::to_owned)
                .or_else(|| config.site.clone()),
            row: row.clone(),
        });
        alerts.extend(own);
    }
    alerts.extend(silent_entries(config, entries, &devices));
    FleetView {
        devices: Arc::new(devices),
        device_alerts: alerts.len(),
        alerts,
        built_at: Some(now),
        contracts_checked_at: None,
        contract_check_failed: false,
        round: None,
    }
}

/// Configured entries that have never answered as any device: unreachable.
fn silent_entries<'a>(
    config: &Config,
    entries: impl Iterator<Item = &'a EntryRow>,
    devices: &[DeviceView],
) -> Vec<Alert> {
    let answered: HashSet<&str> = devices
        .iter()
        .filter_map(|v| v.row.entry_key.as_deref())
        .collect();
    let mut by_key: HashMap<&str, &EntryRow> = HashMap::new();
    for e in entries {
        by_key.entry(e.key.as_str()).or_insert(e);
    }
    config
        .devices
        .iter()
        .filter(|d| !answered.contains(d.key.as_str()))
        .filter_map(|d| {
            let failure = by_key.get(d.key.as_str())?.last_failure.as_ref()?;
            Some(Alert {
                kind: alerts::Kind::Unreachable,
                serial: d.serial.clone(),
                contract: None,
                subject: d.key.clone(),
                since: Some(failure.at.into()),
                message: format!("{} has never answered: {}", d.address, failure.cause),
            })
        })
        .collect()
}

/// The supplies forecast to run out within `[alerts] forecast_days`
/// working days, checked with the contracts (a forecast moves by days, and
/// reading every device's levels at each round would cost the rounds).
fn supply_alerts(
    reader: &Reader,
    config: &Config,
    devices: &[DeviceView],
    now: Timestamp,
    failed: &mut bool,
) -> Vec<Alert> {
    let mut out = Vec::new();
    let time = crate::supplies::forecast::working_time(&config.calendar, now);
    let index = super::FleetIndex::new(config);
    let ctx = super::supplies::SupplyContext {
        config,
        index: &index,
        time: &time,
        now,
    };
    for d in devices
        .iter()
        .filter(|d| d.polled && !d.row.supplies.is_empty())
    {
        let (serial, model) = (&d.row.serial, d.row.model.as_deref());
        let outlooks = match super::supplies::outlooks(reader, &ctx, serial, model, &d.row.supplies)
        {
            Ok(o) => o,
            Err(e) => {
                tracing::error!("supply forecasts of {serial}: {e}");
                *failed = true;
                continue;
            }
        };
        out.extend(
            outlooks
                .iter()
                .filter_map(|o| alerts::coverage_above_contract(serial, o)),
        );
        for o in outlooks {
            let (Some(days), Some(on)) = (o.working_days, o.empty_on.as_deref()) else {
                continue;
            };
            if days > config.alerts.forecast_days || o.percent == Some(0) {
                continue;
            }
            out.push(Alert {
                kind: alerts::Kind::SupplyEmptySoon,
                serial: Some(d.row.serial.clone()),
                contract: None,
                subject: format!("{} #{}", o.description, o.index),
                since: None,
                message: format!(
                    "{} ({} %) is forecast to run out on {on}, in {days} working days",
                    o.description,
                    o.percent.map_or_else(|| "?".into(), |p| p.to_string())
                ),
            });
        }
    }
    out
}

/// Notice deadlines and projected breaches of every contract today, and
/// by contract what the last estimate not refunded cost.
fn contract_alerts(
    reader: &Reader,
    config: &Config,
    now: Timestamp,
    failed: &mut bool,
) -> (Vec<Alert>, HashMap<String, String>) {
    let today = local_date(now);
    let mut out = Vec::new();
    let mut notes = HashMap::new();
    for contract in &config.contracts {
        match super::invoice_checks::unrefunded_estimates(reader, config, contract) {
            Ok(found) => {
                if let Some(last) = found.iter().max_by_key(|u| u.at) {
                    notes.insert(
                        contract.id.clone(),
                        crate::invoice_check::unrefunded_note(last),
                    );
                }
            }
            Err(e) => {
                tracing::error!("estimates not refunded of contract {}: {e}", contract.id);
                *failed = true;
            }
        }
        out.extend(alerts::notice_deadline(contract, &config.alerts, today));
        if contract.start > today {
            continue;
        }
        let dates = billing::running_dates(contract, today);
        match histories_at(reader, config, contract, &dates) {
            Ok(histories) => match billing::running_standings(contract, &histories, today) {
                Ok(periods) => out.extend(alerts::projected_breaches(contract, &periods)),
                Err(e) => {
                    tracing::error!("alerts of contract {}: {e}", contract.id);
                    *failed = true;
                }
            },
            Err(e) => {
                tracing::error!("alerts of contract {}: {e}", contract.id);
                *failed = true;
            }
        }
        out.extend(uptime_alerts(reader, config, contract, now, failed));
    }
    (out, notes)
}

/// The devices of a contract that promises uptime whose uptime over the
/// last 6 whole months is below the promise. The months are past: only
/// polls stored late for them (which make the check run again) change it.
fn uptime_alerts(
    reader: &Reader,
    config: &Config,
    contract: &crate::contract::Contract,
    now: Timestamp,
    failed: &mut bool,
) -> Vec<Alert> {
    if contract.uptime_pct.is_none() {
        return Vec::new();
    }
    let months = crate::uptime::months_before(local_date(now), UPTIME_MONTHS);
    let mut serials: Vec<&str> = contract.devices.iter().map(|m| m.serial.as_str()).collect();
    serials.sort_unstable();
    serials.dedup();
    let mut out = Vec::new();
    for serial in serials {
        match super::uptime::uptime_answer(reader, config, serial, Some(contract), &months, now) {
            Ok(u) => out.extend(alerts::uptime_below_promise(&u)),
            Err(e) => {
                tracing::error!("uptime of {serial} in contract {}: {e}", contract.id);
                *failed = true;
            }
        }
    }
    out
}

/// The whole months before this one an uptime alert looks at (as the
/// contract's uptime page and `telleverk uptime` by default).
const UPTIME_MONTHS: u32 = 6;
