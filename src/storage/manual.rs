//! Readings entered by people (manual, vendor, technician `final`/`start`)
//! and the meter points billing reads back.

use std::collections::HashMap;

use rusqlite::{OptionalExtension, params};

use super::{Error, Reader, Store, millis};
use crate::import::ImportRow;
use crate::meters::series::Point;
use crate::meters::{Meter, ValueKind};
use crate::serial::Serial;
use crate::timestamp::Timestamp;

/// What an import did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ImportSummary {
    pub stored: usize,
    /// Readings already stored with the same value.
    pub already_stored: usize,
    pub new_devices: usize,
}

/// An imported reading disagrees with a stored one under the same key
/// (serial, meter, instant, source): nothing was imported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "line {line}: {serial} {meter} at {at} ({source_name}) is already stored as {stored}, not {given}; nothing was imported"
)]
pub struct Conflict {
    pub line: usize,
    pub serial: Serial,
    pub meter: Meter,
    pub at: String,
    pub source_name: &'static str,
    pub stored: u64,
    pub given: u64,
}

/// An import failed: a conflict (input) or the database.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Conflict(#[from] Conflict),
    #[error(transparent)]
    Storage(#[from] Error),
}

impl Store {
    /// Stores readings in one transaction: all or nothing. A reading stored
    /// before with the same value is skipped; a different value is a
    /// [`Conflict`] and nothing is stored.
    pub fn import_readings(&mut self, rows: &[ImportRow]) -> Result<ImportSummary, ImportError> {
        let path = self.db.path.clone();
        let sql = |action| super::sql_error(&path, action);
        let tx = self
            .db
            .conn
            .transaction()
            .map_err(sql("begin the import"))?;
        let mut summary = ImportSummary::default();
        let mut new_devices: HashMap<&Serial, i64> = HashMap::new();
        for row in rows {
            let at = millis(row.at);
            let known = self
                .cache
                .devices
                .get(row.serial.as_str())
                .or(new_devices.get(&row.serial))
                .copied();
            let device = match known {
                Some(id) => id,
                None => {
                    tx.execute(
                        "INSERT INTO devices (serial, first_seen) VALUES (?1, ?2)",
                        params![row.serial, at],
                    )
                    .map_err(sql("add a device"))?;
                    let id = tx.last_insert_rowid();
                    new_devices.insert(&row.serial, id);
                    id
                }
            };
            let stored: Option<i64> = tx
                .query_row(
                    "SELECT value FROM meter_values WHERE device_id = ?1 AND meter = ?2 AND at = ?3 AND source = ?4",
                    params![device, row.meter.code(), at, row.source as i64],
                    |r| r.get(0),
                )
                .optional()
                .map_err(sql("look up a stored reading"))?;
            match stored {
                Some(v) if v as u64 == row.value => summary.already_stored += 1,
                Some(v) => {
                    return Err(Conflict {
                        line: row.line,
                        serial: row.serial.clone(),
                        meter: row.meter,
                        at: row.at.to_rfc3339(),
                        source_name: row.source.name(),
                        stored: v as u64,
                        given: row.value,
                    }
                    .into());
                }
                None => {
                    tx.execute(
                        "INSERT INTO meter_values (device_id, meter, at, source, value, kind) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                        params![device, row.meter.code(), at, row.source as i64, row.value as i64, ValueKind::Manual.code()],
                    )
                    .map_err(sql("store a reading"))?;
                    summary.stored += 1;
                }
            }
        }
        tx.commit().map_err(sql("commit the import"))?;
        summary.new_devices = new_devices.len();
        self.cache
            .devices
            .extend(new_devices.into_iter().map(|(s, id)| (s.to_string(), id)));
        Ok(summary)
    }
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
