//! Reading back: a device's readings at every poll (rebuilt from the stored
//! changes), its events and failures.

use std::collections::HashMap;

use super::db::params;
use chrono::{DateTime, Utc};

use super::{Error, Reader, Source, Store, instant, millis};
use crate::meters::{Meter, MeterSet, MeterValue, ValueKind};
use crate::record::{Event, Failure, FailureCause, Reading, Withdrawn};
use crate::serial::Serial;
use crate::supplies::Supply;

impl Reader {
    /// Every reading of a device between `from` and `to` (inclusive), oldest
    /// first; None when the serial is unknown. A poll's meters are the latest
    /// polled values at or before it, for exactly the meters it returned.
    pub fn readings(
        &self,
        serial: &str,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<Option<Vec<Reading>>, Error> {
        let Some(device) = self.device_id(serial)? else {
            return Ok(None);
        };
        let (from, to) = (from.map_or(i64::MIN, millis), to.map_or(i64::MAX, millis));
        let history = self
            .meter_history(device, to)
            .map_err(self.err("read meter values"))?;
        let keys = self.entry_keys().map_err(self.err("read entries"))?;
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT at, entry_id, meters, device_status, printer_status, errors FROM polls
                 WHERE device_id = ?1 AND at BETWEEN ?2 AND ?3 ORDER BY at",
            )
            .map_err(self.err("read polls"))?;
        let rows = stmt
            .query_map(params![device, from, to], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get::<_, Option<i64>>(5)?,
                ))
            })
            .map_err(self.err("read polls"))?;
        let mut out = Vec::new();
        for row in rows {
            let (at, entry, mask, device_status, printer_status, errors) =
                row.map_err(self.err("read polls"))?;
            let mut meters = MeterSet::new();
            for meter in Meter::ALL
                .into_iter()
                .filter(|m| mask & (1 << m.code()) != 0)
            {
                if let Some((value, kind)) = history.get(&meter).and_then(|h| latest_at(h, at)) {
                    meters.insert(MeterValue { meter, value, kind });
                }
            }
            out.push(Reading {
                at: instant(at),
                source: Source::Polled,
                entry_key: keys.get(&entry).cloned(),
                meters,
                device_status,
                printer_status,
                errors: errors.and_then(|e| u16::try_from(e).ok()),
                entered_by: None,
                withdrawn: Vec::new(),
            });
        }
        out.extend(
            self.entered_readings(device, from, to)
                .map_err(self.err("read entered readings"))?,
        );
        out.sort_by_key(|r| r.at);
        Ok(Some(out))
    }

    /// Readings entered by people between `from` and `to`, one per instant
    /// and source: the values in force, and those withdrawn with who took
    /// them back and why.
    fn entered_readings(&self, device: i64, from: i64, to: i64) -> super::db::Result<Vec<Reading>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT e.at, e.source, e.meter, e.value, e.entered_by, w.at, w.by, w.reason
             FROM entered_readings e LEFT JOIN reading_withdrawals w ON w.reading_id = e.id
             WHERE e.device_id = ?1 AND e.at BETWEEN ?2 AND ?3 ORDER BY e.at, e.source, e.id",
        )?;
        let rows = stmt.query_map(params![device, from, to], |r| {
            Ok((
                (r.get::<_, i64>(0)?, r.get::<_, i64>(1)?),
                (r.get::<_, i64>(2)?, r.get::<_, i64>(3)?),
                r.get::<_, Option<String>>(4)?,
                (
                    r.get::<_, Option<i64>>(5)?,
                    r.get::<_, Option<String>>(6)?,
                    r.get::<_, Option<String>>(7)?,
                ),
            ))
        })?;
        let mut out: Vec<Reading> = Vec::new();
        for row in rows {
            let ((at, source), (meter, value), entered_by, withdrawal) = row?;
            let (Some(source), Some(meter)) = (Source::from_code(source), Meter::from_code(meter))
            else {
                continue;
            };
            let reading = match out.last_mut() {
                Some(last) if last.at == instant(at) && last.source == source => last,
                _ => {
                    out.push(Reading {
                        at: instant(at),
                        source,
                        entry_key: None,
                        meters: MeterSet::new(),
                        device_status: None,
                        printer_status: None,
                        errors: None,
                        entered_by: None,
                        withdrawn: Vec::new(),
                    });
                    out.last_mut().expect("just pushed")
                }
            };
            let value = value as u64;
            match withdrawal {
                (Some(w_at), Some(by), Some(reason)) => reading.withdrawn.push(Withdrawn {
                    meter,
                    value,
                    entered_by,
                    at: instant(w_at),
                    by,
                    reason,
                }),
                _ => {
                    reading.entered_by = reading.entered_by.take().or(entered_by);
                    reading.meters.insert(MeterValue {
                        meter,
                        value,
                        kind: ValueKind::Manual,
                    });
                }
            }
        }
        Ok(out)
    }

    /// Polled values of every meter up to `to`, per meter in time order.
    fn meter_history(&self, device: i64, to: i64) -> super::db::Result<HashMap<Meter, History>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT meter, at, value, kind FROM meter_values
             WHERE device_id = ?1 AND source = 0 AND at <= ?2 ORDER BY meter, at",
        )?;
        let mut out: HashMap<Meter, Vec<(i64, u64, ValueKind)>> = HashMap::new();
        let rows = stmt.query_map(params![device, to], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })?;
        for row in rows {
            let (meter, at, value, kind) = row?;
            if let Some(meter) = Meter::from_code(meter) {
                let kind = ValueKind::from_code(kind).unwrap_or(ValueKind::Integer);
                out.entry(meter).or_default().push((at, value as u64, kind));
            }
        }
        Ok(out)
    }

    /// The events of a device, oldest first.
    pub fn events(&self, serial: &Serial) -> Result<Vec<Event>, Error> {
        let Some(device) = self.device_id(serial)? else {
            return Ok(Vec::new());
        };
        let mut stmt = self
            .conn
            .prepare_cached("SELECT at, kind, meter, before, after, detail FROM events WHERE device_id = ?1 ORDER BY id")
            .map_err(self.err("read events"))?;
        let rows = stmt
            .query_map(params![device], |r| {
                Ok(Event {
                    at: instant(r.get(0)?),
                    serial: Some(serial.clone()),
                    kind: r.get(1)?,
                    meter: r.get::<_, Option<i64>>(2)?.and_then(Meter::from_code),
                    before: r.get::<_, Option<i64>>(3)?.map(|v| v as u64),
                    after: r.get::<_, Option<i64>>(4)?.map(|v| v as u64),
                    detail: r.get(5)?,
                })
            })
            .map_err(self.err("read events"))?;
        rows.collect::<Result<_, _>>()
            .map_err(self.err("read events"))
    }

    /// The serials known to the database.
    pub fn serials(&self) -> Result<Vec<String>, Error> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT serial FROM devices ORDER BY serial")
            .map_err(self.err("read serials"))?;
        let rows = stmt
            .query_map([], |r| r.get(0))
            .map_err(self.err("read serials"))?;
        rows.collect::<Result<_, _>>()
            .map_err(self.err("read serials"))
    }

    /// Failed and partial polls with the key of their entry, oldest first.
    pub fn failures(&self) -> Result<Vec<(String, Failure)>, Error> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT f.at, e.key, f.cause, f.detail FROM poll_failures f JOIN entries e ON e.id = f.entry_id ORDER BY f.id",
            )
            .map_err(self.err("read failures"))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get(1)?,
                    Failure {
                        at: instant(r.get(0)?),
                        cause: cause_column(r, 2)?,
                        detail: r.get(3)?,
                    },
                ))
            })
            .map_err(self.err("read failures"))?;
        rows.collect::<Result<_, _>>()
            .map_err(self.err("read failures"))
    }

    /// Entry ids and their keys.
    fn entry_keys(&self) -> super::db::Result<HashMap<i64, String>> {
        let mut stmt = self.conn.prepare_cached("SELECT id, key FROM entries")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect()
    }
}

/// A failure's cause from its column: a name this telleverk knows.
pub(super) fn cause_column(r: &super::db::Row<'_>, idx: usize) -> super::db::Result<FailureCause> {
    let name: String = r.get(idx)?;
    FailureCause::parse(&name).ok_or_else(|| super::db::Error::Column {
        index: idx,
        message: format!("`{name}` is not a failure cause"),
    })
}

impl Reader {
    /// The latest value of each of `meters` (of any source) of each of
    /// `serials`, in the order asked, by serial, in one statement; a serial
    /// the database does not know is left out, a meter never stored is None.
    pub fn latest_values(
        &self,
        serials: &[String],
        meters: &[Meter],
    ) -> Result<HashMap<String, Vec<Option<u64>>>, Error> {
        if serials.is_empty() || meters.is_empty() {
            return Ok(HashMap::new());
        }
        let columns: Vec<String> = meters
            .iter()
            .map(|m| {
                format!(
                    "(SELECT value FROM meter_values v WHERE v.device_id = d.id AND v.meter = {} ORDER BY v.at DESC LIMIT 1)",
                    m.code()
                )
            })
            .collect();
        let marks = vec!["?"; serials.len()].join(", ");
        let sql = format!(
            "SELECT d.serial, {} FROM devices d WHERE d.serial IN ({marks})",
            columns.join(", ")
        );
        let read = || -> super::db::Result<HashMap<String, Vec<Option<u64>>>> {
            let mut q = self.conn.prepare(&sql)?;
            let rows = q.query_map(super::db::params_from_iter(serials.iter()), |r| {
                let values = (1..=meters.len())
                    .map(|i| {
                        Ok(r.get::<_, Option<i64>>(i)?
                            .and_then(|v| u64::try_from(v).ok()))
                    })
                    .collect::<super::db::Result<Vec<_>>>()?;
                Ok((r.get::<_, String>(0)?, values))
            })?;
            rows.collect()
        };
        read().map_err(self.err("read the devices' latest meter values"))
    }
}

impl Store {
    /// The latest supply rows of a device, by index (none for a serial
    /// the database does not know).
    pub fn supplies(&self, serial: &str) -> Result<Vec<Supply>, Error> {
        let Some(id) = self.cache.devices.get(serial) else {
            return Ok(Vec::new());
        };
        super::fleet::latest_supplies(&self.db.conn, *id)
            .map_err(self.err("read a device's supplies"))
    }
}

/// A meter's stored values: (at, value, kind), oldest first.
type History = Vec<(i64, u64, ValueKind)>;

/// The latest (value, kind) at or before `at` in a time-ordered history.
fn latest_at(history: &[(i64, u64, ValueKind)], at: i64) -> Option<(u64, ValueKind)> {
    let n = history.partition_point(|(t, _, _)| *t <= at);
    n.checked_sub(1).map(|i| (history[i].1, history[i].2))
}
