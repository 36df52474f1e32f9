//! The readings billing needs, and no more: around each boundary instant, around
//! each counter drop the collector recorded, around the trailing window's
//! start, the first and last polls, and every reading a person entered with the
//! polls either side of it. The engine judges these exactly as it would judge
//! every poll: every drop, its neighbours and every boundary's neighbours are
//! among them, and between two of them the counter only grows.

use std::collections::HashMap;

use rusqlite::params;

use super::{Error, Reader, Source};
use crate::contract::dates::calendar_days_before;
use crate::meters::series::{Point, sort_points};
use crate::meters::{DeviceColour, Meter, ValueKind};
use crate::supplies;
use crate::timestamp::Timestamp;

/// Event kinds that mark a drop in polled values.
const DROP_EVENTS: &str =
    "'suspected_reset','confirmed_reset','suspected_wrap','confirmed_wrap','glitch'";

impl Reader {
    /// The points of `meters` a device's billing needs at `instants`, with
    /// `trailing_days` of history behind an extrapolation.
    pub fn billing_points(
        &self,
        serial: &str,
        meters: &[Meter],
        instants: &[Timestamp],
        trailing_days: u32,
    ) -> Result<HashMap<Meter, Vec<Point>>, Error> {
        self.per_meter(
            serial,
            meters,
            "read the readings around the boundaries",
            |device, meter| self.points_around(device, meter, instants, trailing_days),
        )
    }

    /// Every reading people entered of `meters` (the parts a total is derived
    /// from, say): few, so all of them.
    pub fn entered_points(
        &self,
        serial: &str,
        meters: &[Meter],
    ) -> Result<HashMap<Meter, Vec<Point>>, Error> {
        self.per_meter(serial, meters, "read entered readings", |device, meter| {
            self.entered(device, meter)
        })
    }

    /// `read`'s points of each of `meters` that has any; none for a device
    /// the database does not know.
    fn per_meter(
        &self,
        serial: &str,
        meters: &[Meter],
        action: &'static str,
        read: impl Fn(i64, Meter) -> rusqlite::Result<Vec<Point>>,
    ) -> Result<HashMap<Meter, Vec<Point>>, Error> {
        let mut out = HashMap::new();
        let Some(device) = self.device_id(serial)? else {
            return Ok(out);
        };
        for meter in meters {
            let points = read(device, *meter).map_err(self.err(action))?;
            if !points.is_empty() {
                out.insert(*meter, points);
            }
        }
        Ok(out)
    }

    /// What the database says of a device's colour: a colour meter in any
    /// reading, or its latest supplies (a non-black one: colour; black ones
    /// only: mono).
    pub fn device_colour(&self, serial: &str) -> Result<DeviceColour, Error> {
        let Some(device) = self.device_id(serial)? else {
            return Ok(DeviceColour::Unknown);
        };
        let colour_codes: Vec<String> = Meter::ALL
            .iter()
            .filter(|m| m.is_colour())
            .map(|m| m.code().to_string())
            .collect();
        let codes = colour_codes.join(",");
        let sql = format!(
            "SELECT EXISTS (SELECT 1 FROM meter_values WHERE device_id = ?1 AND meter IN ({codes}))
                 OR EXISTS (SELECT 1 FROM entered_readings WHERE device_id = ?1 AND meter IN ({codes}))"
        );
        let read = || -> rusqlite::Result<DeviceColour> {
            let colour_meter: bool = self
                .conn
                .prepare_cached(&sql)?
                .query_row(params![device], |r| r.get(0))?;
            if colour_meter {
                return Ok(DeviceColour::Colour);
            }
            Ok(supplies::device_colour(&self.latest_supplies(device)?))
        };
        read().map_err(self.err("read what a device prints"))
    }

    fn points_around(
        &self,
        device: i64,
        meter: Meter,
        instants: &[Timestamp],
        trailing_days: u32,
    ) -> rusqlite::Result<Vec<Point>> {
        // A meter the device never had: skip the poll searches, which would
        // each walk every poll looking for it.
        let known: bool = self
            .conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM meter_values WHERE device_id = ?1 AND meter = ?2)
                     OR EXISTS (SELECT 1 FROM entered_readings WHERE device_id = ?1 AND meter = ?2)",
            )?
            .query_row(params![device, meter.code()], |r| r.get(0))?;
        if !known {
            return Ok(Vec::new());
        }
        let entered = self.entered(device, meter)?;
        let mut polls: Vec<i64> = Vec::new();
        let mut around = |t: i64, n: i64| -> rusqlite::Result<()> {
            polls.extend(self.poll_times(device, meter, t, n, true)?);
            polls.extend(self.poll_times(device, meter, t, n, false)?);
            Ok(())
        };
        for t in instants {
            around(t.millis(), 1)?;
        }
        for t in self.drop_times(device, meter)? {
            around(t, 2)?;
        }
        // A reading entered by hand may itself be a drop or be followed by
        // one: the two polls after it decide between glitch and reset.
        for p in &entered {
            around(p.at.millis(), 2)?;
        }
        around(i64::MIN, 1)?;
        around(i64::MAX, 1)?;
        let mut points = self.polled_values(device, meter, &mut polls)?;
        points.extend(entered);
        // The trailing window starts a calendar period before the last reading.
        if let Some(last) = points.iter().map(|p| p.at).max() {
            let anchor = calendar_days_before(last, u64::from(trailing_days)).millis();
            let mut extra = self.poll_times(device, meter, anchor, 1, true)?;
            extra.extend(self.poll_times(device, meter, anchor, 1, false)?);
            extra.retain(|t| !polls.contains(t));
            points.extend(self.polled_values(device, meter, &mut extra)?);
        }
        sort_points(&mut points);
        points.dedup_by(|a, b| a.at == b.at && a.source == b.source);
        Ok(points)
    }

    /// Up to `n` times of polls that returned `meter`, at or before `t`
    /// (`before`) or at or after it.
    fn poll_times(
        &self,
        device: i64,
        meter: Meter,
        t: i64,
        n: i64,
        before: bool,
    ) -> rusqlite::Result<Vec<i64>> {
        // The limit is written into the SQL: SQLite (3.53) plans with the
        // value of a bound LIMIT, so it prepares the statement again each
        // time one is bound; that was half the time of a fleet's counter
        // report (benches/README.md, api).
        let sql = if before {
            format!(
                "SELECT at FROM polls WHERE device_id = ?1 AND at <= ?2 AND (meters >> ?3) & 1 = 1 ORDER BY at DESC LIMIT {n}"
            )
        } else {
            format!(
                "SELECT at FROM polls WHERE device_id = ?1 AND at >= ?2 AND (meters >> ?3) & 1 = 1 ORDER BY at LIMIT {n}"
            )
        };
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(params![device, t, meter.code()], |r| r.get(0))?;
        rows.collect()
    }

    /// Times of the polls at which the collector saw this meter go down (or
    /// confirmed or ruled out such a drop).
    fn drop_times(&self, device: i64, meter: Meter) -> rusqlite::Result<Vec<i64>> {
        let sql = format!(
            "SELECT at FROM events WHERE device_id = ?1 AND meter = ?2 AND kind IN ({DROP_EVENTS})"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(params![device, meter.code()], |r| r.get(0))?;
        rows.collect()
    }

    /// Every reading of this meter a person entered and did not withdraw.
    fn entered(&self, device: i64, meter: Meter) -> rusqlite::Result<Vec<Point>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT e.at, e.source, e.value FROM entered_readings e
             WHERE e.device_id = ?1 AND e.meter = ?2
               AND NOT EXISTS (SELECT 1 FROM reading_withdrawals w WHERE w.reading_id = e.id)",
        )?;
        let rows = stmt.query_map(params![device, meter.code()], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (at, source, value) = row?;
            out.push(Point {
                at: Timestamp::from_millis(at),
                value: value as u64,
                source: Source::from_code(source).unwrap_or(Source::Manual),
                kind: ValueKind::Manual,
            });
        }
        Ok(out)
    }

    /// The meter's value at each poll time: the latest polled value at or
    /// before it.
    fn polled_values(
        &self,
        device: i64,
        meter: Meter,
        times: &mut Vec<i64>,
    ) -> rusqlite::Result<Vec<Point>> {
        times.sort_unstable();
        times.dedup();
        let mut stmt = self.conn.prepare_cached(
            "SELECT value, kind FROM meter_values WHERE device_id = ?1 AND meter = ?2 AND source = 0 AND at <= ?3 ORDER BY at DESC LIMIT 1",
        )?;
        let mut out = Vec::with_capacity(times.len());
        for at in times.iter() {
            let mut rows = stmt.query(params![device, meter.code(), at])?;
            if let Some(row) = rows.next()? {
                out.push(Point {
                    at: Timestamp::from_millis(*at),
                    value: row.get::<_, i64>(0)? as u64,
                    source: Source::Polled,
                    kind: ValueKind::from_code(row.get(1)?).unwrap_or(ValueKind::Integer),
                });
            }
        }
        Ok(out)
    }
}
