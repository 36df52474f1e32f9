//! The fleet's latest rows, kept between reads: after a change, a read
//! reads only what changed since the one before.
//!
//! Everything a [`DeviceRow`] is made of is found by something that only
//! grows: new devices and failures by their ids, readings people entered by
//! the largest id and the number of withdrawals, and a device's new polls
//! by their instant, each poll saying whether it also stored a model or
//! supply rows (`polls.stored`). So after a round of 10 000 devices a read
//! looks for each device's new polls (one index search each) and reads the
//! supplies and model only of the devices whose poll stored them.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::db::params;

use super::fleet::{PollPart, failure_row, poll_part};
use super::{DeviceRow, EntryRow, Error, Reader, STORED_INFO, STORED_SUPPLIES};
use crate::record::{Failure, FailureCause};
use crate::serial::Serial;
use crate::timestamp::Timestamp;

/// The latest row of every device and entry, as last read, with what the
/// next read needs to find the changes.
#[derive(Debug, Default)]
pub struct FleetRows {
    read: bool,
    /// By device id.
    devices: HashMap<i64, Kept>,
    /// By entry id.
    entries: HashMap<i64, EntryRow>,
    /// The largest device and failure ids seen.
    max_device: i64,
    max_failure: i64,
    /// The largest entered reading id and the number of withdrawals seen.
    entered: (Option<i64>, i64),
    /// What the latest read did.
    last: Refreshed,
}

/// What one read did, and what it found changed: what the contracts'
/// standings rest on (readings up to a date) may only have changed where
/// it found readings entered or withdrawn, new devices, or polls at
/// instants before a date.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Refreshed {
    /// Whether it read everything (the first read): anything may have changed.
    pub full: bool,
    /// Devices whose row changed (all of them on a full read).
    pub changed: usize,
    /// Devices new to the database.
    pub new_devices: usize,
    /// Readings were entered or withdrawn.
    pub entered: bool,
    /// The earliest instant of the polls stored since the read before.
    pub earliest_poll: Option<Timestamp>,
}

#[derive(Debug)]
struct Kept {
    row: Arc<DeviceRow>,
    /// The latest poll.
    poll: Option<PollPart>,
}

impl FleetRows {
    /// Every device's row, by serial.
    pub fn rows(&self) -> Vec<Arc<DeviceRow>> {
        let mut rows: Vec<Arc<DeviceRow>> = self.devices.values().map(|k| k.row.clone()).collect();
        rows.sort_unstable_by(|a, b| a.serial.cmp(&b.serial));
        rows
    }

    /// Every entry with its latest failure.
    pub fn entries(&self) -> impl Iterator<Item = &EntryRow> {
        self.entries.values()
    }

    /// What the latest read did.
    pub fn last(&self) -> Refreshed {
        self.last
    }
}

/// The changes a read found before it reads the devices again.
#[derive(Default)]
struct Found {
    /// Entries with a new latest failure, or a new key or address.
    entries: HashSet<i64>,
    /// Devices whose latest entered reading may have changed.
    entered: HashSet<i64>,
}

impl Reader {
    /// Brings `rows` up to date: everything on the first read, after that
    /// only what changed.
    pub fn refresh_fleet(&self, rows: &mut FleetRows) -> Result<(), Error> {
        let result = if rows.read {
            self.fleet_changes(rows)
        } else {
            self.fleet_all(rows)
        };
        result.map_err(|e| {
            // Half a read is no base for the next one.
            *rows = FleetRows::default();
            self.err("read the fleet")(e)
        })
    }

    fn fleet_all(&self, rows: &mut FleetRows) -> super::db::Result<()> {
        *rows = FleetRows::default();
        for (id, (key, address)) in self.entry_map()? {
            let last_failure = self.last_failure(id)?;
            rows.entries.insert(
                id,
                EntryRow {
                    key,
                    address,
                    last_failure,
                },
            );
        }
        rows.max_failure = self.max_failure()?;
        rows.entered = self.entered_mark()?;
        for (id, serial) in self.devices_after(0)? {
            let kept = self.kept(id, serial, &rows.entries)?;
            rows.devices.insert(id, kept);
            rows.max_device = rows.max_device.max(id);
        }
        rows.read = true;
        rows.last = Refreshed {
            full: true,
            changed: rows.devices.len(),
            ..Refreshed::default()
        };
        Ok(())
    }

    fn fleet_changes(&self, rows: &mut FleetRows) -> super::db::Result<()> {
        let mut found = Found::default();
        let before_entered = rows.entered;
        self.entry_changes(rows, &mut found)?;
        self.entered_changes(rows, &mut found)?;
        let entered = !found.entered.is_empty() || rows.entered != before_entered;
        let mut changed = 0;
        let mut earliest: Option<i64> = None;
        let mut polls = self.conn.prepare_cached(
            "SELECT at, entry_id, device_status, printer_status, errors, meters, stored FROM polls
             WHERE device_id = ?1 AND at > ?2 ORDER BY at",
        )?;
        for (id, kept) in rows.devices.iter_mut() {
            let after = kept.poll.map_or(i64::MIN, |p| p.at);
            let mut latest: Option<PollPart> = None;
            let mut stored = 0;
            for poll in polls.query_map(params![id, after], poll_part)? {
                let poll = poll?;
                stored |= poll.stored.unwrap_or(STORED_INFO | STORED_SUPPLIES);
                earliest = Some(earliest.map_or(poll.at, |e| e.min(poll.at)));
                latest = Some(poll);
            }
            let entry = latest.or(kept.poll).map(|p| p.entry);
            let entry_changed = entry.is_some_and(|e| found.entries.contains(&e));
            let entered = found.entered.contains(id);
            if latest.is_none() && stored == 0 && !entry_changed && !entered {
                continue;
            }
            let mut row = DeviceRow::clone(&kept.row);
            if stored & STORED_INFO != 0 {
                row.model = self.model_of(*id)?;
            }
            if stored & STORED_SUPPLIES != 0 {
                row.supplies = self.latest_supplies(*id)?;
            }
            if entered {
                row.last_entered = self.last_entered_of(*id)?;
            }
            if let Some(p) = latest.or(kept.poll) {
                apply_poll(&p, &mut row, &rows.entries);
                kept.poll = Some(p);
            }
            if row != *kept.row {
                kept.row = Arc::new(row);
                changed += 1;
            }
        }
        let mut new_devices = 0;
        for (id, serial) in self.devices_after(rows.max_device)? {
            let kept = self.kept(id, serial, &rows.entries)?;
            rows.devices.insert(id, kept);
            rows.max_device = rows.max_device.max(id);
            new_devices += 1;
        }
        rows.last = Refreshed {
            full: false,
            changed: changed + new_devices,
            new_devices,
            entered,
            earliest_poll: earliest.map(Timestamp::from_millis),
        };
        Ok(())
    }

    /// Entries' new keys, addresses and failures since the last read.
    fn entry_changes(&self, rows: &mut FleetRows, found: &mut Found) -> super::db::Result<()> {
        for (id, (key, address)) in self.entry_map()? {
            match rows.entries.get_mut(&id) {
                Some(e) if e.key == key && e.address == address => {}
                Some(e) => {
                    (e.key, e.address) = (key, address);
                    found.entries.insert(id);
                }
                None => {
                    rows.entries.insert(
                        id,
                        EntryRow {
                            key,
                            address,
                            last_failure: None,
                        },
                    );
                }
            }
        }
        let mut stmt = self.conn.prepare_cached(
            "SELECT at, cause, detail, id, entry_id FROM poll_failures WHERE id > ?1 ORDER BY id",
        )?;
        let new = stmt.query_map(params![rows.max_failure], |r| {
            Ok((failure_row(r)?, r.get::<_, i64>(3)?, r.get::<_, i64>(4)?))
        })?;
        for failure in new {
            let (failure, id, entry) = failure?;
            rows.max_failure = rows.max_failure.max(id);
            if failure.cause == FailureCause::Aborted {
                continue;
            }
            let Some(e) = rows.entries.get_mut(&entry) else {
                continue;
            };
            // Latest by instant, then by id: a new failure wins a tie.
            if e.last_failure.as_ref().is_none_or(|f| failure.at >= f.at) {
                e.last_failure = Some(failure);
                found.entries.insert(entry);
            }
        }
        Ok(())
    }

    /// The devices whose latest entered reading may have changed: those of
    /// new entered readings, or of every entered reading after a withdrawal.
    fn entered_changes(&self, rows: &mut FleetRows, found: &mut Found) -> super::db::Result<()> {
        let mark = self.entered_mark()?;
        if mark == rows.entered {
            return Ok(());
        }
        // Ids start at 1: after a withdrawal, every device with one.
        let after = if mark.1 != rows.entered.1 {
            0
        } else {
            rows.entered.0.unwrap_or(0)
        };
        let ids = self
            .conn
            .prepare_cached("SELECT DISTINCT device_id FROM entered_readings WHERE id > ?1")?
            .query_map(params![after], |r| r.get::<_, i64>(0))?
            .collect::<super::db::Result<Vec<_>>>()?;
        found.entered.extend(ids);
        rows.entered = mark;
        Ok(())
    }

    /// One device's row read in full.
    fn kept(
        &self,
        id: i64,
        serial: Serial,
        entries: &HashMap<i64, EntryRow>,
    ) -> super::db::Result<Kept> {
        let mut row = DeviceRow {
            model: self.model_of(id)?,
            last_entered: self.last_entered_of(id)?,
            supplies: self.latest_supplies(id)?,
            ..DeviceRow::unknown(serial)
        };
        let poll = self.latest_poll_of(id)?;
        if let Some(p) = &poll {
            apply_poll(p, &mut row, entries);
        }
        Ok(Kept {
            row: Arc::new(row),
            poll,
        })
    }

    fn devices_after(&self, id: i64) -> super::db::Result<Vec<(i64, Serial)>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, serial FROM devices WHERE id > ?1 ORDER BY id")?;
        let rows = stmt.query_map(params![id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect()
    }

    fn max_failure(&self) -> super::db::Result<i64> {
        self.conn
            .query_row("SELECT COALESCE(MAX(id), 0) FROM poll_failures", [], |r| {
                r.get(0)
            })
    }

    /// The largest entered reading id and the number of withdrawals.
    fn entered_mark(&self) -> super::db::Result<(Option<i64>, i64)> {
        self.conn.query_row(
            "SELECT (SELECT MAX(id) FROM entered_readings), (SELECT count(*) FROM reading_withdrawals)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    }
}

/// Puts a poll into a row with its entry as last read.
fn apply_poll(p: &PollPart, row: &mut DeviceRow, entries: &HashMap<i64, EntryRow>) {
    let entry = entries.get(&p.entry);
    let failure: Option<&Failure> = entry.and_then(|e| e.last_failure.as_ref());
    p.apply(
        row,
        entry.map(|e| (e.key.clone(), e.address.clone())),
        failure,
    );
}
