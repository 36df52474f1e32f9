//! What uptime rests on: a device's polls (with its status), the failures
//! of the entries it was polled through, and the rounds (their interval,
//! and whether every device of one failed).

use super::db::{OptionalExtension, params};

use super::read::cause_column;
use super::{Error, Reader};
use crate::record::FailureCause;

/// A device's evidence between two instants (Unix ms).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UptimeRows {
    /// (at, hrDeviceStatus) of each successful poll, by instant.
    pub polls: Vec<(i64, Option<i64>)>,
    /// (at, cause) of each failed poll of its entries, by instant.
    pub failures: Vec<(i64, FailureCause)>,
}

/// (started, ended, interval ms, every polled device failed) of a round;
/// `interval` None for `poll --once`.
pub type RoundRow = (i64, i64, Option<i64>, bool);

/// A round where every one of this many devices or more failed is the
/// collector's own outage.
const OUTAGE_AT_LEAST: i64 = 3;

impl Reader {
    /// The polls and failures of `serial` in `[from, to)`; empty
    /// when the database does not know it.
    pub fn uptime_rows(&self, serial: &str, from: i64, to: i64) -> Result<UptimeRows, Error> {
        let Some(device) = self.device_id(serial)? else {
            return Ok(UptimeRows::default());
        };
        let read = || -> super::db::Result<UptimeRows> {
            let mut entries: Vec<i64> = Vec::new();
            let mut polls = Vec::new();
            let mut stmt = self.conn.prepare_cached(
                "SELECT at, device_status, entry_id FROM polls WHERE device_id = ?1 AND at >= ?2 AND at < ?3 ORDER BY at",
            )?;
            for row in stmt.query_map(params![device, from, to], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Option<i64>>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })? {
                let (at, status, entry) = row?;
                polls.push((at, status));
                if !entries.contains(&entry) {
                    entries.push(entry);
                }
            }
            // The entry it was last polled through before the window: a
            // device that failed all through the window has no poll in it.
            let before: Option<i64> = self
                .conn
                .prepare_cached(
                    "SELECT entry_id FROM polls WHERE device_id = ?1 AND at < ?2 ORDER BY at DESC LIMIT 1",
                )?
                .query_row(params![device, from], |r| r.get(0))
                .optional()?;
            if let Some(e) = before.filter(|e| !entries.contains(e)) {
                entries.push(e);
            }
            let mut failures = Vec::new();
            let mut stmt = self.conn.prepare_cached(
                "SELECT at, cause FROM poll_failures
                 WHERE entry_id = ?1 AND (device_id IS NULL OR device_id = ?2) AND at >= ?3 AND at < ?4",
            )?;
            for entry in entries {
                for row in stmt.query_map(params![entry, device, from, to], |r| {
                    Ok((r.get::<_, i64>(0)?, cause_column(r, 1)?))
                })? {
                    failures.push(row?);
                }
            }
            failures.sort_by_key(|f| f.0);
            Ok(UptimeRows { polls, failures })
        };
        read().map_err(self.err("read a device's uptime"))
    }

    /// The rounds that overlap `[from, to)`, by start.
    pub fn rounds_between(&self, from: i64, to: i64) -> Result<Vec<RoundRow>, Error> {
        let read = || -> super::db::Result<Vec<RoundRow>> {
            self.conn
                .prepare_cached(
                    "SELECT started, ended, interval_ms, answered = 0 AND failed >= ?3 FROM rounds
                     WHERE ended >= ?1 AND started < ?2 ORDER BY started",
                )?
                .query_map(params![from, to, OUTAGE_AT_LEAST], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })?
                .collect()
        };
        read().map_err(self.err("read the rounds"))
    }
}

/// A stored supply row: (index, at in Unix ms, level, max), by index and
/// instant.
pub type SupplyRow = (u32, i64, i64, i64);

impl Reader {
    /// Every stored row of `serial`'s supplies since `from` (Unix ms), by
    /// index and instant: a row is stored when a level changes, so each is
    /// the first reading at its level.
    pub fn supply_history(&self, serial: &str, from: i64) -> Result<Vec<SupplyRow>, Error> {
        let Some(device) = self.device_id(serial)? else {
            return Ok(Vec::new());
        };
        let read = || -> super::db::Result<Vec<SupplyRow>> {
            self.conn
                .prepare_cached(
                    "SELECT idx, at, level, max FROM supply_values WHERE device_id = ?1 AND at >= ?2 ORDER BY idx, at",
                )?
                .query_map(params![device, from], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                .collect()
        };
        read().map_err(self.err("read a device's supply levels"))
    }
}
