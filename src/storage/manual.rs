//! Readings entered by people (manual, vendor, technician `final`/`start`):
//! stored with who entered them, checked against what is stored and against
//! the device's polled series, withdrawn without deleting anything; and the
//! meter points billing reads back.
//!
//! A key — device, meter, instant, source — has at most one reading that is
//! not withdrawn. A manual and a vendor reading of one meter at one instant
//! must agree.

use std::collections::HashMap;

use super::db::{OptionalExtension, Tx, params};
use chrono::{DateTime, Utc};

use super::{Error, Reader, Store, data_version, millis};
use crate::display::Display;
use crate::import::ImportRow;
use crate::meters::series::Point;
use crate::meters::{Meter, Source};
use crate::record::Withdrawn;
use crate::serial::Serial;
use crate::timestamp::Timestamp;

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImportSummary {
    pub stored: usize,
    /// Readings already stored with the same value.
    pub already_stored: usize,
    pub new_devices: usize,
    /// Values stored though they break the polled series (accepted), each
    /// with the polls it contradicts.
    pub warnings: Vec<String>,
}

/// Who enters readings, when, and whether values that break the polled
/// series are taken all the same.
#[derive(Debug, Clone, Copy)]
pub struct Entering<'a> {
    /// A token's name, or the OS user of the command line.
    pub by: &'a str,
    pub at: DateTime<Utc>,
    pub accept_implausible: bool,
    /// How the refusals show an instant.
    pub shown: Display,
}

/// An imported reading disagrees with a stored one under the same key
/// (serial, meter, instant, source): nothing was imported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {}; nothing was imported", self.what(&self.at))]
pub struct Conflict {
    pub line: usize,
    pub serial: Serial,
    pub meter: Meter,
    pub at: String,
    pub source_name: &'static str,
    pub stored: u64,
    pub given: u64,
}

/// A manual and a vendor reading of one meter at one instant disagree.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {}; nothing was imported", self.what(&self.at))]
pub struct Disputed {
    pub line: usize,
    pub serial: Serial,
    pub meter: Meter,
    pub at: String,
    pub source_name: &'static str,
    pub given: u64,
    pub other_source: &'static str,
    pub other: u64,
}

/// An entered value breaks the device's polled series: below a value polled
/// before it, or above one polled after it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "line {line}: {}; check the value, or import it with --accept-implausible; nothing was imported",
    self.what(&self.at)
)]
pub struct Implausible {
    pub line: usize,
    pub serial: Serial,
    pub meter: Meter,
    pub at: String,
    pub given: u64,
    /// The polls it contradicts, as "polled 27352 at 2026-11-30T09:15:00Z (before it)".
    pub polls: Vec<String>,
}

// What each refusal says, with the instant written by the caller (the CSV
// same display zone); the CLI and the API add what to do.

impl Conflict {
    pub fn what(&self, at: &str) -> String {
        format!(
            "{} {} at {at} ({}) is already stored as {}, not {}",
            self.serial, self.meter, self.source_name, self.stored, self.given
        )
    }
}

impl Disputed {
    pub fn what(&self, at: &str) -> String {
        format!(
            "{} {} at {at}: {} ({}) disagrees with the stored {} reading {}; withdraw one of them first",
            self.serial, self.meter, self.given, self.source_name, self.other_source, self.other
        )
    }
}

impl Implausible {
    pub fn what(&self, at: &str) -> String {
        format!(
            "{} {} {} at {at} breaks the polled series: {}",
            self.serial,
            self.meter,
            self.given,
            self.polls.join(", ")
        )
    }
}

/// An import failed: an input the person must look at, or the database.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Conflict(#[from] Conflict),
    #[error(transparent)]
    Disputed(#[from] Disputed),
    #[error(transparent)]
    Implausible(#[from] Implausible),
    #[error(transparent)]
    Storage(#[from] Error),
}

/// The reading to withdraw: its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Withdrawal<'a> {
    pub serial: &'a Serial,
    pub meter: Meter,
    pub at: DateTime<Utc>,
    pub source: Source,
    pub by: &'a str,
    pub reason: &'a str,
    pub when: DateTime<Utc>,
    /// How the refusal shows an instant.
    pub shown: Display,
}

/// A withdrawal could not be made.
#[derive(Debug, thiserror::Error)]
pub enum WithdrawError {
    #[error("{serial} has no {source_name} reading of {meter} at {at} in force to withdraw")]
    NotFound {
        serial: Serial,
        meter: Meter,
        at: String,
        source_name: &'static str,
    },
    #[error("a polled value is the device's own: only readings people entered are withdrawn")]
    Polled,
    #[error(transparent)]
    Storage(#[from] Error),
}

impl Store {
    /// Stores readings in one transaction: all or nothing. A reading stored
    /// before with the same value is skipped; a different value is a
    /// [`Conflict`], a manual and a vendor reading that disagree are
    /// [`Disputed`], a value that breaks the polled series is [`Implausible`]
    /// unless accepted — and then nothing is stored.
    ///
    /// Every row is checked first, in a read transaction that keeps no
    /// writer out (`serve` goes on storing rounds); the write transaction
    /// then only writes. Should another connection have committed between
    /// the two, the rows are checked again inside the write transaction.
    pub fn import_readings(
        &mut self,
        rows: &[ImportRow],
        entering: Entering<'_>,
    ) -> Result<ImportSummary, ImportError> {
        let path = self.db.path.clone();
        let sql = |action| super::sql_error(&path, action);
        let version = data_version(&self.db.conn).map_err(sql("read the data version"))?;
        let checked = {
            let tx = self
                .db
                .conn
                .transaction()
                .map_err(sql("begin checking the import"))?;
            plan(&tx, &self.cache.devices, rows, entering).map_err(sql("check a reading"))??
        };
        let tx = self
            .db
            .conn
            .transaction_with_behavior(super::db::Behavior::Immediate)
            .map_err(sql("begin the import"))?;
        let before = data_version(&tx).map_err(sql("read the data version"))?;
        let plan = if data_version(&tx).map_err(sql("read the data version"))? == version {
            checked
        } else {
            plan(&tx, &self.cache.devices, rows, entering).map_err(sql("check a reading"))??
        };
        let mut new_devices: HashMap<&Serial, i64> = HashMap::new();
        let mut added = 0;
        for &(i, device) in &plan.store {
            let row = &rows[i];
            let device = match device.or_else(|| new_devices.get(&row.serial).copied()) {
                Some(id) => id,
                None => {
                    let (id, new) = super::device_row(&tx, row.serial.as_str(), millis(row.at))
                        .map_err(sql("add a device"))?;
                    added += usize::from(new);
                    new_devices.insert(&row.serial, id);
                    id
                }
            };
            insert(&tx, device, row, entering).map_err(sql("store a reading"))?;
        }
        if self.outbox && !plan.store.is_empty() {
            let item = crate::wire::Item::Readings {
                by: entering.by.to_owned(),
                at: millis(entering.at),
                readings: plan
                    .store
                    .iter()
                    .map(|&(i, _)| {
                        let r = &rows[i];
                        (
                            r.serial.to_string(),
                            r.meter.code(),
                            millis(r.at),
                            r.source as u8,
                            r.value,
                        )
                    })
                    .collect(),
            };
            super::outbox::push(&tx, millis(entering.at), &item)
                .map_err(sql("queue the readings for the central server"))?;
        }
        // This commit counts on PostgreSQL; it must not make the next
        // round read everything again (SQLite counts only others').
        let version = data_version(&tx).map_err(sql("read the data version"))?;
        tx.commit().map_err(sql("commit the import"))?;
        if self.synced == before {
            self.synced = version;
        }
        self.cache
            .devices
            .extend(new_devices.into_iter().map(|(s, id)| (s.to_string(), id)));
        Ok(ImportSummary {
            stored: plan.store.len(),
            already_stored: plan.already_stored,
            new_devices: added,
            warnings: plan.warnings,
        })
    }

    /// Withdraws an entered reading: a row of its own with who, when and
    /// why. Billing ignores it from then on; its key is free for the right
    /// value. Returns what was withdrawn.
    pub fn withdraw_reading(&mut self, w: &Withdrawal<'_>) -> Result<Withdrawn, WithdrawError> {
        if w.source == Source::Polled {
            return Err(WithdrawError::Polled);
        }
        let path = self.db.path.clone();
        let sql = |action| super::sql_error(&path, action);
        let not_found = || WithdrawError::NotFound {
            serial: w.serial.clone(),
            meter: w.meter,
            at: w.shown.instant(w.at.into()),
            source_name: w.source.name(),
        };
        let Some(device) = self.device_id(w.serial)? else {
            return Err(not_found());
        };
        let tx = self
            .db
            .conn
            .transaction_with_behavior(super::db::Behavior::Immediate)
            .map_err(sql("begin a withdrawal"))?;
        let before = data_version(&tx).map_err(sql("read the data version"))?;
        let live = in_force(&tx, device, w.meter, millis(w.at), w.source)
            .map_err(sql("look up a reading"))?;
        let Some(InForce {
            id,
            value,
            entered_by,
        }) = live
        else {
            return Err(not_found());
        };
        tx.execute(
            "INSERT INTO reading_withdrawals (reading_id, at, by, reason) VALUES (?1, ?2, ?3, ?4)",
            params![id, millis(w.when), w.by, w.reason],
        )
        .map_err(sql("withdraw a reading"))?;
        if self.outbox {
            let item = crate::wire::Item::Withdrawal(crate::wire::Withdrawn {
                serial: w.serial.to_string(),
                meter: w.meter.code(),
                at: millis(w.at),
                source: w.source as u8,
                by: w.by.to_owned(),
                when: millis(w.when),
                reason: w.reason.to_owned(),
            });
            super::outbox::push(&tx, millis(w.when), &item)
                .map_err(sql("queue the withdrawal for the central server"))?;
        }
        // This commit counts on PostgreSQL; it must not make the next
        // round read everything again (SQLite counts only others').
        let version = data_version(&tx).map_err(sql("read the data version"))?;
        tx.commit().map_err(sql("commit a withdrawal"))?;
        if self.synced == before {
            self.synced = version;
        }
        Ok(Withdrawn {
            meter: w.meter,
            value,
            entered_by,
            at: w.when,
            by: w.by.to_owned(),
            reason: w.reason.to_owned(),
        })
    }
}

/// What an import will write: the rows to store (by index, with the
/// device's id when the database has it), and what the checks found.
struct Plan {
    store: Vec<(usize, Option<i64>)>,
    already_stored: usize,
    warnings: Vec<String>,
}

/// A key of an entered reading within one file: serial, meter, instant,
/// source.
type FileKey = (Serial, Meter, i64, Source);

/// Checks every row against what is stored and against the rows before it
/// in the file; reads only. Ok(Err(…)) is the first refused row.
fn plan(
    conn: &super::db::Conn,
    cached: &HashMap<String, i64>,
    rows: &[ImportRow],
    entering: Entering<'_>,
) -> super::db::Result<Result<Plan, ImportError>> {
    let mut plan = Plan {
        store: Vec::new(),
        already_stored: 0,
        warnings: Vec::new(),
    };
    let mut ids: HashMap<&Serial, Option<i64>> = HashMap::new();
    let mut in_file: HashMap<FileKey, u64> = HashMap::new();
    for (i, row) in rows.iter().enumerate() {
        let device = match ids.get(&row.serial) {
            Some(id) => *id,
            None => {
                let id = match cached.get(row.serial.as_str()) {
                    Some(id) => Some(*id),
                    None => conn
                        .prepare_cached("SELECT id FROM devices WHERE serial = ?1")?
                        .query_row(params![row.serial], |r| r.get(0))
                        .optional()?,
                };
                *ids.entry(&row.serial).or_insert(id)
            }
        };
        match check(conn, device, row, entering, &in_file, &mut plan.warnings)? {
            Ok(true) => {
                let key = (row.serial.clone(), row.meter, millis(row.at), row.source);
                in_file.insert(key, row.value);
                plan.store.push((i, device));
            }
            Ok(false) => plan.already_stored += 1,
            Err(refused) => return Ok(Err(refused)),
        }
    }
    Ok(Ok(plan))
}

/// Checks one reading: Ok(true) to store, Ok(false) already stored with
/// this value, Err(…) refused. An implausible value accepted on purpose is
/// stored with a warning. `device` is None for a serial the database does
/// not know yet (nothing of it is stored); `in_file` holds the readings
/// the file stores before this one.
fn check(
    conn: &super::db::Conn,
    device: Option<i64>,
    row: &ImportRow,
    entering: Entering<'_>,
    in_file: &HashMap<FileKey, u64>,
    warnings: &mut Vec<String>,
) -> super::db::Result<Result<bool, ImportError>> {
    let at = millis(row.at);
    let at_text = || entering.shown.instant(row.at.into());
    let value_under = |source: Source| -> super::db::Result<Option<u64>> {
        if let Some(v) = in_file.get(&(row.serial.clone(), row.meter, at, source)) {
            return Ok(Some(*v));
        }
        match device {
            Some(device) => Ok(in_force(conn, device, row.meter, at, source)?.map(|f| f.value)),
            None => Ok(None),
        }
    };
    if let Some(stored) = value_under(row.source)? {
        if stored == row.value {
            return Ok(Ok(false));
        }
        return Ok(Err(Conflict {
            line: row.line,
            serial: row.serial.clone(),
            meter: row.meter,
            at: at_text(),
            source_name: row.source.name(),
            stored,
            given: row.value,
        }
        .into()));
    }
    if let Some(other) = row.source.disputed_by()
        && let Some(value) = value_under(other)?
        && value != row.value
    {
        return Ok(Err(Disputed {
            line: row.line,
            serial: row.serial.clone(),
            meter: row.meter,
            at: at_text(),
            source_name: row.source.name(),
            given: row.value,
            other_source: other.name(),
            other: value,
        }
        .into()));
    }
    if let (Some(device), Some(_)) = (device, row.source.disputed_by()) {
        let polls = contradicted_polls(conn, device, row, &entering.shown)?;
        if !polls.is_empty() {
            let implausible = Implausible {
                line: row.line,
                serial: row.serial.clone(),
                meter: row.meter,
                at: at_text(),
                given: row.value,
                polls,
            };
            if !entering.accept_implausible {
                return Ok(Err(implausible.into()));
            }
            warnings.push(format!(
                "line {}: {}; stored as accepted",
                implausible.line,
                implausible.what(&implausible.at)
            ));
        }
    }
    Ok(Ok(true))
}

/// Writes one checked reading.
pub(super) fn insert(
    tx: &Tx<'_>,
    device: i64,
    row: &ImportRow,
    entering: Entering<'_>,
) -> super::db::Result<()> {
    tx.prepare_cached(
        "INSERT INTO entered_readings (device_id, meter, at, source, value, entered_by, entered_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        device,
        row.meter.code(),
        millis(row.at),
        row.source as i64,
        row.value as i64,
        entering.by,
        millis(entering.at)
    ])?;
    Ok(())
}

/// The entered value in force under one key (not withdrawn).
pub(super) struct InForce {
    pub(super) id: i64,
    pub(super) value: u64,
    pub(super) entered_by: Option<String>,
}

/// The value in force under a key, if any: the newest entry not withdrawn.
pub(super) fn in_force(
    tx: &super::db::Conn,
    device: i64,
    meter: Meter,
    at: i64,
    source: Source,
) -> super::db::Result<Option<InForce>> {
    tx.prepare_cached(
        "SELECT e.id, e.value, e.entered_by FROM entered_readings e
         WHERE e.device_id = ?1 AND e.meter = ?2 AND e.at = ?3 AND e.source = ?4
           AND NOT EXISTS (SELECT 1 FROM reading_withdrawals w WHERE w.reading_id = e.id)
         ORDER BY e.id DESC LIMIT 1",
    )?
    .query_row(params![device, meter.code(), at, source as i64], |r| {
        Ok(InForce {
            id: r.get(0)?,
            value: r.get::<_, i64>(1)? as u64,
            entered_by: r.get(2)?,
        })
    })
    .optional()
}

/// The polls of this meter an entered value contradicts: the last one at or
/// before it, when higher; the first one at or after it, when lower.
fn contradicted_polls(
    tx: &super::db::Conn,
    device: i64,
    row: &ImportRow,
    shown: &Display,
) -> super::db::Result<Vec<String>> {
    let at = millis(row.at);
    let code = row.meter.code();
    let poll = |before: bool| -> super::db::Result<Option<(i64, u64)>> {
        let sql = if before {
            "SELECT at FROM polls WHERE device_id = ?1 AND at <= ?2 AND (meters >> CAST(?3 AS INTEGER)) & 1 = 1 ORDER BY at DESC LIMIT 1"
        } else {
            "SELECT at FROM polls WHERE device_id = ?1 AND at >= ?2 AND (meters >> CAST(?3 AS INTEGER)) & 1 = 1 ORDER BY at LIMIT 1"
        };
        let Some(t): Option<i64> = tx
            .prepare_cached(sql)?
            .query_row(params![device, at, code], |r| r.get(0))
            .optional()?
        else {
            return Ok(None);
        };
        let value: Option<i64> = tx
            .prepare_cached(
                "SELECT value FROM meter_values WHERE device_id = ?1 AND meter = ?2 AND source = 0
                 AND at <= ?3 ORDER BY at DESC LIMIT 1",
            )?
            .query_row(params![device, code, t], |r| r.get(0))
            .optional()?;
        Ok(value.map(|v| (t, v as u64)))
    };
    let mut out = Vec::new();
    if let Some((t, v)) = poll(true)?.filter(|(_, v)| *v > row.value) {
        out.push(format!(
            "polled {v} at {} (before it)",
            shown.instant(Timestamp::from_millis(t))
        ));
    }
    if let Some((t, v)) = poll(false)?.filter(|(_, v)| *v < row.value) {
        out.push(format!(
            "polled {v} at {} (after it)",
            shown.instant(Timestamp::from_millis(t))
        ));
    }
    Ok(out)
}

impl Reader {
    /// Every reading of `meters` of a device, polled and entered, per meter
    /// (billing reads fewer: see `billing_points`; this one is the yardstick).
    /// A poll is a reading of each meter it returned, at the latest polled
    /// value (every successful poll is a reading of every meter it returned).
    pub fn meter_points(
        &self,
        serial: &str,
        meters: &[Meter],
    ) -> Result<HashMap<Meter, Vec<Point>>, Error> {
        let mut out: HashMap<Meter, Vec<Point>> = HashMap::new();
        for reading in self.readings(serial, None, None)?.unwrap_or_default() {
            for mv in reading
                .meters
                .iter()
                .filter(|mv| meters.contains(&mv.meter))
            {
                out.entry(mv.meter).or_default().push(Point {
                    at: Timestamp::from_datetime(reading.at),
                    value: mv.value,
                    source: reading.source,
                    kind: mv.kind,
                });
            }
        }
        Ok(out)
    }
}
