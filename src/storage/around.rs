//! The readings billing needs, and no more: around each boundary instant, around
//! each counter drop the collector recorded, around the trailing window's
//! start, the first and last polls, and every reading a person entered with the
//! polls either side of it. The engine judges these exactly as it would judge
//! every poll: every drop, its neighbours and every boundary's neighbours are
//! among them, and between two of them the counter only grows.

use std::collections::HashMap;

use super::db::params;

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
        let Some(device) = self.device_id(serial)? else {
            return Ok(HashMap::new());
        };
        self.points_near(device, meters, instants, trailing_days)
            .map_err(self.err("read the readings around the boundaries"))
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
        read: impl Fn(i64, Meter) -> super::db::Result<Vec<Point>>,
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
        let read = || -> super::db::Result<DeviceColour> {
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

    /// The points of each of `meters` around the instants (as
    /// [`Reader::billing_points`]), read a device at a time: each poll
    /// near an instant is found once for all meters, and the meters'
    /// values at a poll in one statement. A meter missing from such a poll
    /// is looked for on its own, so the points are those
    /// [`Reader::points_around`] finds meter by meter (a test holds them to
    /// it).
    fn points_near(
        &self,
        device: i64,
        meters: &[Meter],
        instants: &[Timestamp],
        trailing_days: u32,
    ) -> super::db::Result<HashMap<Meter, Vec<Point>>> {
        let mut near = PollsNear::new(self, device)?;
        // A meter the latest poll returned is known; others are looked for.
        let mut known = Vec::new();
        for meter in meters {
            if near.last_has(*meter) || self.meter_known(device, *meter)? {
                known.push(*meter);
            }
        }
        let mut entered_all = self.entered_of_device(device)?;
        let mut drops_all = self.drop_times_of_device(device)?;
        // Each meter's polls, and its runs: the polls either side of one
        // instant, consecutive among the polls that returned it.
        let mut wanted: Vec<(Meter, Vec<Point>, Vec<i64>)> = Vec::with_capacity(known.len());
        let mut runs: Vec<(Meter, Vec<i64>)> = Vec::new();
        for meter in &known {
            let entered = entered_all.remove(meter).unwrap_or_default();
            let drops = drops_all.remove(meter).unwrap_or_default();
            let mut around = |t: i64, n: usize| -> super::db::Result<()> {
                let mut run = near.times(*meter, t, n, true)?;
                run.extend(near.times(*meter, t, n, false)?);
                run.sort_unstable();
                run.dedup();
                if !run.is_empty() {
                    runs.push((*meter, run));
                }
                Ok(())
            };
            for t in instants {
                around(t.millis(), 1)?;
            }
            for t in drops {
                around(t, 2)?;
            }
            for p in &entered {
                around(p.at.millis(), 2)?;
            }
            around(i64::MIN, 1)?;
            around(i64::MAX, 1)?;
            let mut polls: Vec<i64> = runs
                .iter()
                .filter(|(m, _)| m == meter)
                .flat_map(|(_, run)| run.iter().copied())
                .collect();
            polls.sort_unstable();
            polls.dedup();
            wanted.push((*meter, entered, polls));
        }
        let mut values = ValuesAt::new(self, device);
        values.read(&runs)?;
        // The trailing window starts a calendar period before the last
        // reading: the polls either side of its start, of each meter.
        let mut anchors: Vec<(Meter, Vec<i64>)> = Vec::new();
        let mut extras: Vec<(Meter, Vec<i64>)> = Vec::new();
        let mut out = HashMap::new();
        for (meter, entered, polls) in wanted {
            let mut points = values.points(meter, &polls);
            points.extend(entered);
            if let Some(last) = points.iter().map(|p| p.at).max() {
                let anchor = calendar_days_before(last, u64::from(trailing_days)).millis();
                let mut run = near.times(meter, anchor, 1, true)?;
                run.extend(near.times(meter, anchor, 1, false)?);
                run.sort_unstable();
                run.dedup();
                let mut extra = run.clone();
                extra.retain(|t| !polls.contains(t));
                if !extra.is_empty() {
                    anchors.push((meter, run));
                    extras.push((meter, extra));
                }
            }
            out.insert(meter, points);
        }
        values.read(&anchors)?;
        for (meter, extra) in &extras {
            if let Some(points) = out.get_mut(meter) {
                points.extend(values.points(*meter, extra));
            }
        }
        out.retain(|_, points: &mut Vec<Point>| {
            sort_points(points);
            points.dedup_by(|a, b| a.at == b.at && a.source == b.source);
            !points.is_empty()
        });
        Ok(out)
    }

    /// Whether the device ever had `meter`, polled or entered.
    fn meter_known(&self, device: i64, meter: Meter) -> super::db::Result<bool> {
        self.conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM meter_values WHERE device_id = ?1 AND meter = ?2)
                     OR EXISTS (SELECT 1 FROM entered_readings WHERE device_id = ?1 AND meter = ?2)",
            )?
            .query_row(params![device, meter.code()], |r| r.get(0))
    }

    /// The reference [`Reader::points_near`] is held to: the same points,
    /// found meter by meter.
    #[cfg(test)]
    pub(super) fn points_around(
        &self,
        device: i64,
        meter: Meter,
        instants: &[Timestamp],
        trailing_days: u32,
    ) -> super::db::Result<Vec<Point>> {
        // A meter the device never had: skip the poll searches, which would
        // each walk every poll looking for it.
        if !self.meter_known(device, meter)? {
            return Ok(Vec::new());
        }
        let entered = self.entered(device, meter)?;
        let mut polls: Vec<i64> = Vec::new();
        let mut around = |t: i64, n: usize| -> super::db::Result<()> {
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
        n: usize,
        before: bool,
    ) -> super::db::Result<Vec<i64>> {
        // The limit is written into the SQL: SQLite (3.53) plans with the
        // value of a bound LIMIT, so it prepares the statement again each
        // time one is bound; that was half the time of a fleet's counter
        // report (benches/README.md, api).
        let sql = if before {
            format!(
                "SELECT at FROM polls WHERE device_id = ?1 AND at <= ?2 AND (meters >> CAST(?3 AS INTEGER)) & 1 = 1 ORDER BY at DESC LIMIT {n}"
            )
        } else {
            format!(
                "SELECT at FROM polls WHERE device_id = ?1 AND at >= ?2 AND (meters >> CAST(?3 AS INTEGER)) & 1 = 1 ORDER BY at LIMIT {n}"
            )
        };
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(params![device, t, meter.code()], |r| r.get(0))?;
        rows.collect()
    }

    /// By meter, the times of the polls at which the collector saw it go
    /// down (or confirmed or ruled out such a drop).
    fn drop_times_of_device(&self, device: i64) -> super::db::Result<HashMap<Meter, Vec<i64>>> {
        let sql = format!(
            "SELECT meter, at FROM events WHERE device_id = ?1 AND meter IS NOT NULL AND kind IN ({DROP_EVENTS})"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(params![device])?;
        let mut out: HashMap<Meter, Vec<i64>> = HashMap::new();
        while let Some(row) = rows.next()? {
            if let Some(meter) = Meter::from_code(row.get(0)?) {
                out.entry(meter).or_default().push(row.get(1)?);
            }
        }
        Ok(out)
    }

    /// By meter, every reading a person entered and did not withdraw.
    fn entered_of_device(&self, device: i64) -> super::db::Result<HashMap<Meter, Vec<Point>>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT e.meter, e.at, e.source, e.value FROM entered_readings e
             WHERE e.device_id = ?1
               AND NOT EXISTS (SELECT 1 FROM reading_withdrawals w WHERE w.reading_id = e.id)",
        )?;
        let mut rows = stmt.query(params![device])?;
        let mut out: HashMap<Meter, Vec<Point>> = HashMap::new();
        while let Some(row) = rows.next()? {
            let Some(meter) = Meter::from_code(row.get(0)?) else {
                continue;
            };
            out.entry(meter).or_default().push(Point {
                at: Timestamp::from_millis(row.get(1)?),
                value: row.get::<_, i64>(3)? as u64,
                source: Source::from_code(row.get(2)?).unwrap_or(Source::Manual),
                kind: ValueKind::Manual,
            });
        }
        Ok(out)
    }

    /// Times of the polls at which the collector saw this meter go down (or
    /// confirmed or ruled out such a drop).
    #[cfg(test)]
    fn drop_times(&self, device: i64, meter: Meter) -> super::db::Result<Vec<i64>> {
        let sql = format!(
            "SELECT at FROM events WHERE device_id = ?1 AND meter = ?2 AND kind IN ({DROP_EVENTS})"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(params![device, meter.code()], |r| r.get(0))?;
        rows.collect()
    }

    /// Every reading of this meter a person entered and did not withdraw.
    fn entered(&self, device: i64, meter: Meter) -> super::db::Result<Vec<Point>> {
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
    #[cfg(test)]
    fn polled_values(
        &self,
        device: i64,
        meter: Meter,
        times: &mut Vec<i64>,
    ) -> super::db::Result<Vec<Point>> {
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

/// The polls of one device nearest to instants, each search made once for
/// all meters.
struct PollsNear<'a> {
    reader: &'a Reader,
    device: i64,
    /// The device's latest poll: an instant after it needs no search.
    last: Option<(i64, i64)>,
    /// (instant, how many, before): the polls' times and meter masks.
    found: HashMap<(i64, usize, bool), Vec<(i64, i64)>>,
}

impl<'a> PollsNear<'a> {
    /// The device's latest poll returned `meter`.
    fn last_has(&self, meter: Meter) -> bool {
        self.last.is_some_and(|(_, mask)| has_meter(mask, meter))
    }

    fn new(reader: &'a Reader, device: i64) -> super::db::Result<Self> {
        let last = nearest_polls(reader, device, i64::MAX, 1, true)?.pop();
        Ok(PollsNear {
            reader,
            device,
            last,
            found: HashMap::new(),
        })
    }

    /// Up to `n` times of polls that returned `meter`, at or before `t`
    /// (`before`) or at or after it: the nearest polls of any meters when
    /// each of them returned it, else a search for this meter alone.
    fn times(
        &mut self,
        meter: Meter,
        t: i64,
        n: usize,
        before: bool,
    ) -> super::db::Result<Vec<i64>> {
        let polls = match self.found.entry((t, n, before)) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                // After the latest poll (a boundary to come): that poll
                // before, none after.
                let polls = match self.last {
                    Some(last) if n == 1 && t > last.0 => {
                        if before {
                            vec![last]
                        } else {
                            Vec::new()
                        }
                    }
                    None => Vec::new(),
                    _ => nearest_polls(self.reader, self.device, t, n, before)?,
                };
                e.insert(polls)
            }
        };
        if polls.iter().all(|(_, mask)| has_meter(*mask, meter)) {
            return Ok(polls.iter().map(|(at, _)| *at).collect());
        }
        self.reader.poll_times(self.device, meter, t, n, before)
    }
}

/// A poll's meter mask has `meter` (as the SQL `(meters >> code) & 1`).
fn has_meter(mask: i64, meter: Meter) -> bool {
    let code = u32::from(meter.code());
    code < 64 && (mask >> code) & 1 == 1
}

/// Up to `n` polls of the device (time and meter mask) at or before `t`
/// (`before`) or at or after it, nearest first.
fn nearest_polls(
    reader: &Reader,
    device: i64,
    t: i64,
    n: usize,
    before: bool,
) -> super::db::Result<Vec<(i64, i64)>> {
    // The limit is in the SQL, as in `poll_times`: a bound one makes SQLite
    // prepare the statement again each time.
    let sql = match (before, n) {
        (true, 1) => {
            "SELECT at, meters FROM polls WHERE device_id = ?1 AND at <= ?2 ORDER BY at DESC LIMIT 1"
        }
        (true, _) => {
            "SELECT at, meters FROM polls WHERE device_id = ?1 AND at <= ?2 ORDER BY at DESC LIMIT 2"
        }
        (false, 1) => {
            "SELECT at, meters FROM polls WHERE device_id = ?1 AND at >= ?2 ORDER BY at LIMIT 1"
        }
        (false, _) => {
            "SELECT at, meters FROM polls WHERE device_id = ?1 AND at >= ?2 ORDER BY at LIMIT 2"
        }
    };
    debug_assert!(n <= 2, "billing reads at most two polls either side");
    let mut stmt = reader.conn.prepare_cached(sql)?;
    let rows = stmt.query_map(params![device, t], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

/// The polled values of a device's meters at poll times, read a run at a
/// time.
struct ValuesAt<'a> {
    reader: &'a Reader,
    device: i64,
    read: HashMap<(Meter, i64), (u64, ValueKind)>,
}

impl<'a> ValuesAt<'a> {
    fn new(reader: &'a Reader, device: i64) -> Self {
        ValuesAt {
            reader,
            device,
            read: HashMap::new(),
        }
    }

    /// Reads each meter's values at the polls of its runs. A run is `k`
    /// consecutive polls that returned the meter, and a polled value is
    /// stored only at a poll that returned it when it changed: so the
    /// latest `k` values at or before the run's last poll hold the value at
    /// each of its polls (one search, where a poll at a time took `k`).
    /// The meters of one run are read in one statement.
    fn read(&mut self, runs: &[(Meter, Vec<i64>)]) -> super::db::Result<()> {
        let mut by_run: HashMap<&[i64], Vec<Meter>> = HashMap::new();
        for (meter, run) in runs {
            if run.iter().any(|t| !self.read.contains_key(&(*meter, *t))) {
                let meters = by_run.entry(run.as_slice()).or_default();
                if !meters.contains(meter) {
                    meters.push(*meter);
                }
            }
        }
        for (run, meters) in by_run {
            let Some(last) = run.last() else { continue };
            let k = run.len();
            let sql = meters
                .iter()
                .map(|m| {
                    format!(
                        "SELECT * FROM (SELECT meter, at, value, kind FROM meter_values WHERE device_id = ?1 AND meter = {code} AND source = 0 AND at <= ?2 ORDER BY at DESC LIMIT {k}) AS m{code}",
                        code = m.code()
                    )
                })
                .collect::<Vec<_>>()
                .join(" UNION ALL ");
            let mut stmt = self.reader.conn.prepare_cached(&sql)?;
            let mut rows = stmt.query(params![self.device, last])?;
            let mut found: Vec<(i64, i64, u64, ValueKind)> = Vec::with_capacity(k * meters.len());
            while let Some(row) = rows.next()? {
                let kind = ValueKind::from_code(row.get(3)?).unwrap_or(ValueKind::Integer);
                found.push((row.get(0)?, row.get(1)?, row.get::<_, i64>(2)? as u64, kind));
            }
            // Latest first, so the first at or before a poll is its value.
            found.sort_unstable_by_key(|r| std::cmp::Reverse(r.1));
            for meter in meters {
                let code = i64::from(meter.code());
                for t in run {
                    if let Some((_, _, value, kind)) =
                        found.iter().find(|(m, at, _, _)| *m == code && at <= t)
                    {
                        self.read.insert((meter, *t), (*value, *kind));
                    }
                }
            }
        }
        Ok(())
    }
    /// The points of `meter` at `times` that have a value.
    fn points(&self, meter: Meter, times: &[i64]) -> Vec<Point> {
        times
            .iter()
            .filter_map(|t| {
                self.read.get(&(meter, *t)).map(|(value, kind)| Point {
                    at: Timestamp::from_millis(*t),
                    value: *value,
                    source: Source::Polled,
                    kind: *kind,
                })
            })
            .collect()
    }
}
