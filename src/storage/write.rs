//! Writing one poll round: every record of the round in one transaction.

use std::collections::HashMap;

use super::db::{Appender, Behavior, OptionalExtension, Tx, Ty, params};
use chrono::{DateTime, Utc};

use super::cache::{DeviceState, EntryState, InfoRow};
use super::{Error, STORED_INFO, STORED_SUPPLIES, Source, Store, millis};
use crate::meters::{Judgement, Meter, MeterSet, judge};
use crate::record::{DeviceReading, Event, FailureCause, Outcome, PollRecord, RoundRecord};
use crate::serial::Serial;
use crate::supplies::Supply;

/// What a round stored.
#[derive(Debug, Clone, Default)]
pub struct RoundSummary {
    pub polls: usize,
    pub failures: usize,
    pub meter_values: usize,
    pub supply_values: usize,
    pub events: Vec<Event>,
}

/// Changes to the cache, applied only once the transaction has committed.
#[derive(Default)]
pub(super) struct Pending {
    entries: HashMap<String, EntryState>,
    devices: HashMap<String, i64>,
    state: HashMap<i64, DeviceState>,
    supply_sets: HashMap<String, i64>,
}

impl Store {
    /// Stores a round of poll results in one transaction. The states of the
    /// devices polled move from the cache into the round and back once it has
    /// committed (no copy of the fleet's state per round); if the round fails,
    /// the cache is loaded afresh from what the database holds.
    pub fn write_round(&mut self, records: &[PollRecord]) -> Result<RoundSummary, Error> {
        self.write(None, records)
    }

    /// Stores a round the collector polled: its polls as
    /// [`Store::write_round`] does, and the round's own row, in one
    /// transaction.
    pub fn write_polled_round(
        &mut self,
        round: &RoundRecord,
        records: &[PollRecord],
    ) -> Result<RoundSummary, Error> {
        self.write(Some(round), records)
    }

    fn write(
        &mut self,
        round: Option<&RoundRecord>,
        records: &[PollRecord],
    ) -> Result<RoundSummary, Error> {
        let path = self.db.path.clone();
        let sql = |action| super::sql_error(&path, action);
        let outbox = self.outbox;
        let written = (|| {
            let tx = begin(&mut self.db.conn, &mut self.cache, &mut self.synced, &path)?;
            if let Some(round) = round {
                insert_round(&tx, round, records).map_err(sql("store the round"))?;
            }
            let mut w = Writer::new(&tx, &mut self.cache, None);
            for record in records {
                w.record(record).map_err(sql("store a poll"))?;
            }
            let (pending, summary) = w.finish().map_err(sql("store the polls"))?;
            if outbox {
                let item = crate::wire::Item::Round {
                    round: round.map(crate::wire::Round::of),
                    polls: records.iter().map(crate::wire::Poll::of).collect(),
                };
                let at = round
                    .map(|r| r.ended)
                    .or_else(|| records.iter().map(|r| r.at).max());
                super::outbox::push(&tx, at.map_or(0, millis), &item)
                    .map_err(sql("queue the round for the central server"))?;
            }
            let version = commit(tx, &path, "commit a round")?;
            Ok((pending, summary, version))
        })();
        match written {
            Ok((pending, summary, version)) => {
                self.settle(pending, version);
                Ok(summary)
            }
            Err(e) => {
                self.reload_after_failure();
                Err(e)
            }
        }
    }

    /// Takes what a write transaction did into the cache once it has
    /// committed, with the data version the commit left.
    pub(super) fn settle(&mut self, pending: Pending, version: i64) {
        self.synced = version;
        self.cache.entries.extend(pending.entries);
        self.cache.devices.extend(pending.devices);
        self.cache.state.extend(pending.state);
        self.cache.supply_sets.extend(pending.supply_sets);
    }

    /// The cache after a write that failed: read again from the database.
    pub(super) fn reload_after_failure(&mut self) {
        self.cache = super::cache::Cache::load(&self.db.conn).unwrap_or_else(|reload| {
            tracing::error!(
                "cannot reload {} after a failed write: {reload}",
                self.db.path
            );
            super::cache::Cache::default()
        });
        // Not known to match: the next round loads it again.
        self.synced = i64::MIN;
    }
}

/// Begins a write transaction with the cache matching the database.
///
/// IMMEDIATE: the write lock is taken (waiting out the busy timeout) before
/// anything is read, so a round never fails half-way on a lock another
/// process took meanwhile. Should another connection have committed since
/// the cache last matched the database, what it stored (entries, devices,
/// values) is read in before anything is compared against it.
pub(super) fn begin<'c>(
    conn: &'c mut super::db::Conn,
    cache: &mut super::cache::Cache,
    synced: &mut i64,
    path: &str,
) -> Result<Tx<'c>, Error> {
    let sql = |action| super::sql_error(path, action);
    let tx = conn
        .transaction_with_behavior(Behavior::Immediate)
        .map_err(sql("begin a round"))?;
    let version = super::data_version(&tx).map_err(sql("read the data version"))?;
    if version != *synced {
        *cache = super::cache::Cache::load(&tx).map_err(sql("load the latest values"))?;
        *synced = version;
        tracing::debug!("another connection wrote to {path}: latest values read again");
    }
    Ok(tx)
}

/// Commits, and returns the data version as the commit leaves it: on
/// PostgreSQL every commit counts, this one's too (on SQLite only others').
pub(super) fn commit(tx: Tx<'_>, path: &str, action: &'static str) -> Result<i64, Error> {
    let sql = |action| super::sql_error(path, action);
    let version = super::data_version(&tx).map_err(sql("read the data version"))?;
    tx.commit().map_err(sql(action))?;
    Ok(version)
}

/// A round's counts, from its records: answered, failed, aborted.
pub(super) fn round_counts(records: &[PollRecord]) -> (i64, i64, i64) {
    let (mut answered, mut failed, mut aborted) = (0, 0, 0);
    for r in records {
        match &r.outcome {
            Outcome::Ok(_) => answered += 1,
            Outcome::Failed {
                cause: FailureCause::Aborted,
                ..
            } => aborted += 1,
            Outcome::Failed { .. } => failed += 1,
        }
    }
    (answered, failed, aborted)
}

/// The round's row: its counts come from its records.
fn insert_round(tx: &Tx<'_>, round: &RoundRecord, records: &[PollRecord]) -> super::db::Result<()> {
    let (answered, failed, aborted) = round_counts(records);
    tx.prepare_cached(
        "INSERT INTO rounds (started, ended, interval_ms, entries, answered, failed, aborted, ending)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        millis(round.started),
        millis(round.ended),
        round.interval_ms,
        round.entries as i64,
        answered,
        failed,
        aborted,
        round.end.name()
    ])?;
    Ok(())
}

pub(super) struct Writer<'a> {
    tx: &'a Tx<'a>,
    cache: &'a mut super::cache::Cache,
    pending: Pending,
    summary: RoundSummary,
    /// The site whose entries this writes (at the central server): each new
    /// entry is marked as that site's.
    site: Option<i64>,
    /// The round's polls and changed values (on PostgreSQL inserted
    /// together before the commit).
    polls: Appender,
    meter_values: Appender,
    supply_values: Appender,
}

const POLL_COLUMNS: &[(&str, Ty)] = &[
    ("device_id", Ty::Int),
    ("at", Ty::Int),
    ("entry_id", Ty::Int),
    ("meters", Ty::Int),
    ("supply_set", Ty::Int),
    ("device_status", Ty::Int),
    ("printer_status", Ty::Int),
    ("errors", Ty::Int),
    ("stored", Ty::Int),
];
const METER_VALUE_COLUMNS: &[(&str, Ty)] = &[
    ("device_id", Ty::Int),
    ("meter", Ty::Int),
    ("at", Ty::Int),
    ("source", Ty::Int),
    ("value", Ty::Int),
    ("kind", Ty::Int),
];
const SUPPLY_VALUE_COLUMNS: &[(&str, Ty)] = &[
    ("device_id", Ty::Int),
    ("idx", Ty::Int),
    ("at", Ty::Int),
    ("description", Ty::Text),
    ("kind", Ty::Text),
    ("colour", Ty::Text),
    ("level", Ty::Int),
    ("max", Ty::Int),
];

impl<'a> Writer<'a> {
    pub(super) fn new(
        tx: &'a Tx<'a>,
        cache: &'a mut super::cache::Cache,
        site: Option<i64>,
    ) -> Writer<'a> {
        Writer {
            tx,
            cache,
            pending: Pending::default(),
            summary: RoundSummary::default(),
            site,
            polls: Appender::new("polls", POLL_COLUMNS),
            meter_values: Appender::new("meter_values", METER_VALUE_COLUMNS),
            supply_values: Appender::new("supply_values", SUPPLY_VALUE_COLUMNS),
        }
    }

    /// Inserts what is still gathered, and gives what the cache takes on
    /// the commit and what was stored.
    pub(super) fn finish(mut self) -> super::db::Result<(Pending, RoundSummary)> {
        for appender in [
            &mut self.polls,
            &mut self.meter_values,
            &mut self.supply_values,
        ] {
            appender.flush(self.tx)?;
        }
        Ok((self.pending, self.summary))
    }

    /// The id of the device with `serial`, added when the store has none.
    pub(super) fn device_id(&mut self, serial: &str, at: i64) -> super::db::Result<i64> {
        let (id, st) = self.device(serial, at)?;
        self.pending.state.insert(id, st);
        Ok(id)
    }

    pub(super) fn tx(&self) -> &'a Tx<'a> {
        self.tx
    }

    /// Whether this store has the poll `r` already (the same device or
    /// entry, instant and outcome): a site's item sent again from a copy of
    /// its database that the central had applied before.
    pub(super) fn has_poll(&self, r: &PollRecord) -> super::db::Result<bool> {
        let at = millis(r.at);
        match &r.outcome {
            Outcome::Ok(d) => {
                let known = self
                    .pending
                    .devices
                    .get(d.serial.as_str())
                    .or_else(|| self.cache.devices.get(d.serial.as_str()))
                    .copied();
                let Some(device) = known else {
                    return Ok(false);
                };
                let last = self
                    .pending
                    .state
                    .get(&device)
                    .or_else(|| self.cache.state.get(&device))
                    .and_then(|s| s.last_poll);
                if last.is_none_or(|l| l < at) {
                    return Ok(false);
                }
                Ok(self
                    .tx
                    .prepare_cached("SELECT count(*) FROM polls WHERE device_id = ?1 AND at = ?2")?
                    .query_row(params![device, at], |row| row.get::<_, i64>(0))?
                    > 0)
            }
            Outcome::Failed { cause, .. } => {
                let Some(entry) = self
                    .pending
                    .entries
                    .get(&r.entry_key)
                    .or_else(|| self.cache.entries.get(&r.entry_key))
                else {
                    return Ok(false);
                };
                Ok(self
                    .tx
                    .prepare_cached(
                        "SELECT count(*) FROM poll_failures WHERE entry_id = ?1 AND at = ?2 AND cause = ?3",
                    )?
                    .query_row(params![entry.id, at, cause.name()], |row| row.get::<_, i64>(0))?
                    > 0)
            }
        }
    }

    /// When the store's latest poll of `r`'s device is later than `r` and
    /// came through an entry of another site (or the central's own, or
    /// none): the instant and that entry. Replayed, `r` would be stored
    /// just after that poll, out of its place in time; a site's own later
    /// poll is another matter (its clock went back, and the site stored it
    /// so too).
    pub(super) fn later_elsewhere(
        &self,
        r: &PollRecord,
    ) -> super::db::Result<Option<(i64, String)>> {
        let Outcome::Ok(d) = &r.outcome else {
            return Ok(None);
        };
        let Some(device) = self
            .pending
            .devices
            .get(d.serial.as_str())
            .or_else(|| self.cache.devices.get(d.serial.as_str()))
            .copied()
        else {
            return Ok(None);
        };
        let state = self
            .pending
            .state
            .get(&device)
            .or_else(|| self.cache.state.get(&device));
        let (Some(last), entry) = (
            state.and_then(|s| s.last_poll),
            state.and_then(|s| s.last_entry),
        ) else {
            return Ok(None);
        };
        if last <= millis(r.at) {
            return Ok(None);
        }
        let site: Option<i64> = match entry {
            Some(entry) => self
                .tx
                .prepare_cached("SELECT site_id FROM entry_sites WHERE entry_id = ?1")?
                .query_row(params![entry], |row| row.get(0))
                .optional()?,
            None => None,
        };
        if site.is_some() && site == self.site {
            return Ok(None);
        }
        let shown = entry.map_or_else(|| "no entry".to_owned(), |e| self.entry_key_of(e));
        Ok(Some((last, shown)))
    }

    pub(super) fn record(&mut self, r: &PollRecord) -> super::db::Result<()> {
        let entry = self.entry(&r.entry_key, &r.address, r.at)?;
        match &r.outcome {
            Outcome::Failed { cause, detail } => {
                self.failure(millis(r.at), entry.id, None, *cause, detail)?;
            }
            Outcome::Ok(reading) => self.reading(r, entry, reading)?,
        }
        Ok(())
    }

    fn entry(
        &mut self,
        key: &str,
        address: &str,
        at: DateTime<Utc>,
    ) -> super::db::Result<EntryState> {
        if let Some(e) = self
            .pending
            .entries
            .get(key)
            .or_else(|| self.cache.entries.get(key))
        {
            return Ok(*e);
        }
        let id = self
            .tx
            .prepare_cached(
                "INSERT INTO entries (key, address, first_seen) VALUES (?1, ?2, ?3) RETURNING id",
            )?
            .query_row(params![key, address, millis(at)], |r| r.get(0))?;
        if let Some(site) = self.site {
            self.tx
                .prepare_cached("INSERT INTO entry_sites (entry_id, site_id) VALUES (?1, ?2)")?
                .execute(params![id, site])?;
        }
        let e = EntryState {
            id,
            last_device: None,
        };
        self.pending.entries.insert(key.to_owned(), e);
        Ok(e)
    }

    fn device(&mut self, serial: &str, at: i64) -> super::db::Result<(i64, DeviceState)> {
        let known = self
            .pending
            .devices
            .get(serial)
            .or_else(|| self.cache.devices.get(serial));
        if let Some(id) = known.copied() {
            let st = self
                .pending
                .state
                .remove(&id)
                .or_else(|| self.cache.state.remove(&id))
                .unwrap_or_default();
            return Ok((id, st));
        }
        let (id, _) = super::device_row(self.tx, serial, at)?;
        self.pending.devices.insert(serial.to_owned(), id);
        Ok((id, DeviceState::default()))
    }

    fn reading(
        &mut self,
        r: &PollRecord,
        entry: EntryState,
        d: &DeviceReading,
    ) -> super::db::Result<()> {
        let (device, mut st) = self.device(&d.serial, millis(r.at))?;
        // Two polls of one device never share an instant.
        let at = st
            .last_poll
            .map_or(millis(r.at), |last| millis(r.at).max(last + 1));
        self.identity_events(r, at, entry, device, &st, d)?;
        let mut stored = 0;
        if self.info(device, at, &mut st, d)? {
            stored |= STORED_INFO;
        }
        let mask = self.meters(device, entry.id, at, &mut st, &d.serial, &d.meters)?;
        let supply_set = match &d.supplies {
            Some(list) => {
                let (set, any) = self.supplies(device, at, &mut st, list)?;
                if any {
                    stored |= STORED_SUPPLIES;
                }
                Some(set)
            }
            None => None,
        };
        self.polls.push(
            self.tx,
            params![
                device,
                at,
                entry.id,
                mask,
                supply_set,
                d.device_status,
                d.printer_status,
                d.errors,
                stored
            ],
        )?;
        self.summary.polls += 1;
        if entry.last_device != Some(device) {
            self.tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO entry_devices (entry_id, at, device_id) VALUES (?1, ?2, ?3)",
                )?
                .execute(params![entry.id, at, device])?;
        }
        if let Some(cause) = d.failure_cause() {
            self.failure(at, entry.id, Some(device), cause, &d.problems.join("; "))?;
        }
        st.last_poll = Some(at);
        st.last_entry = Some(entry.id);
        self.pending.state.insert(device, st);
        let mut e = entry;
        e.last_device = Some(device);
        self.pending.entries.insert(r.entry_key.clone(), e);
        Ok(())
    }

    fn identity_events(
        &mut self,
        r: &PollRecord,
        at: i64,
        entry: EntryState,
        device: i64,
        st: &DeviceState,
        d: &DeviceReading,
    ) -> super::db::Result<()> {
        if let Some(previous) = entry.last_device.filter(|p| *p != device) {
            let old = self.serial_of(previous);
            let detail = format!(
                "serial {} now answers at {} where {old} answered before",
                d.serial, r.entry_key
            );
            self.event(entry.id, device, new_event(at, &d.serial, "swap", detail))?;
        }
        if let Some(previous) = st.last_entry.filter(|p| *p != entry.id) {
            let old = self.entry_key_of(previous);
            let detail = format!("serial {} moved from {old} to {}", d.serial, r.entry_key);
            self.event(entry.id, device, new_event(at, &d.serial, "move", detail))?;
        }
        if let Some(configured) = &d.configured_serial {
            let detail = format!(
                "the config names serial {configured} for {}, but the device reports {}",
                r.entry_key, d.serial
            );
            self.event(
                entry.id,
                device,
                new_event(at, &d.serial, "serial_mismatch", detail),
            )?;
        }
        Ok(())
    }

    fn serial_of(&self, device: i64) -> String {
        self.pending
            .devices
            .iter()
            .chain(self.cache.devices.iter())
            .find(|(_, id)| **id == device)
            .map_or_else(|| format!("device #{device}"), |(s, _)| s.clone())
    }

    fn entry_key_of(&self, entry: i64) -> String {
        self.pending
            .entries
            .iter()
            .chain(self.cache.entries.iter())
            .find(|(_, e)| e.id == entry)
            .map_or_else(|| format!("entry #{entry}"), |(k, _)| k.clone())
    }

    fn info(
        &mut self,
        device: i64,
        at: i64,
        st: &mut DeviceState,
        d: &DeviceReading,
    ) -> super::db::Result<bool> {
        let info = InfoRow {
            model: d.model.clone(),
            sys_descr: d.sys_descr.clone(),
            sys_object_id: d.sys_object_id.clone(),
            profile: d.profile.clone(),
        };
        if st.info.as_ref() != Some(&info) {
            self.tx
                .prepare_cached("INSERT INTO device_info (device_id, at, model, sys_descr, sys_object_id, profile) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?
                .execute(params![device, at, info.model, info.sys_descr, info.sys_object_id, info.profile])?;
            st.info = Some(info);
            return Ok(true);
        }
        Ok(false)
    }

    /// Stores changed meters, judges drops, and returns the poll's meter mask.
    fn meters(
        &mut self,
        device: i64,
        entry: i64,
        at: i64,
        st: &mut DeviceState,
        serial: &Serial,
        meters: &MeterSet,
    ) -> super::db::Result<i64> {
        let mut mask = 0i64;
        for mv in meters.iter() {
            let slot = usize::from(mv.meter.code());
            mask |= 1 << slot;
            let previous = st.meters[slot];
            let (found, pending) = judge(
                previous.map(|p| p.0),
                st.pending.get(&mv.meter).copied(),
                mv.value,
                mv.kind,
            );
            for j in found {
                self.judgement(at, entry, device, serial, mv.meter, j)?;
            }
            match pending {
                Some(p) => st.pending.insert(mv.meter, p),
                None => st.pending.remove(&mv.meter),
            };
            if previous != Some((mv.value, mv.kind)) {
                self.meter_values.push(
                    self.tx,
                    params![
                        device,
                        mv.meter.code(),
                        at,
                        Source::Polled as i64,
                        mv.value as i64,
                        mv.kind.code()
                    ],
                )?;
                self.summary.meter_values += 1;
                st.meters[slot] = Some((mv.value, mv.kind));
            }
        }
        Ok(mask)
    }

    fn judgement(
        &mut self,
        at: i64,
        entry: i64,
        device: i64,
        serial: &Serial,
        meter: Meter,
        j: Judgement,
    ) -> super::db::Result<()> {
        let (kind, before, low, what) = match j {
            Judgement::SuspectedReset { before, low } => (
                "suspected_reset",
                before,
                low,
                "went down: suspected reset, to be confirmed by the next reading",
            ),
            Judgement::SuspectedWrap { before, low } => (
                "suspected_wrap",
                before,
                low,
                "went down from the top half of Counter32: suspected wrap",
            ),
            Judgement::ConfirmedReset { before, low } => (
                "confirmed_reset",
                before,
                low,
                "stayed below the value before the drop: reset confirmed",
            ),
            Judgement::ConfirmedWrap { before, low } => (
                "confirmed_wrap",
                before,
                low,
                "went on counting after the wrap: wrap confirmed",
            ),
            Judgement::Glitch { before, low } => (
                "glitch",
                before,
                low,
                "is back at or above the value before the drop: the low reading was a glitch",
            ),
        };
        let detail = format!("{meter} {what} ({before} → {low})");
        let mut event = new_event(at, serial, kind, detail);
        event.meter = Some(meter);
        event.before = Some(before);
        event.after = Some(low);
        self.event(entry, device, event)
    }

    fn supplies(
        &mut self,
        device: i64,
        at: i64,
        st: &mut DeviceState,
        list: &[Supply],
    ) -> super::db::Result<(i64, bool)> {
        let mut indices: Vec<u32> = list.iter().map(|s| s.index).collect();
        indices.sort_unstable();
        let key = indices
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let set = match self
            .pending
            .supply_sets
            .get(&key)
            .or_else(|| self.cache.supply_sets.get(&key))
        {
            Some(id) => *id,
            None => {
                let id = self
                    .tx
                    .prepare_cached("INSERT INTO supply_sets (indices) VALUES (?1) RETURNING id")?
                    .query_row(params![key], |r| r.get(0))?;
                self.pending.supply_sets.insert(key, id);
                id
            }
        };
        let mut any = false;
        for s in list {
            let print = super::cache::fingerprint(s);
            if st.supplies.get(&s.index) != Some(&print) {
                self.supply_values.push(
                    self.tx,
                    params![
                        device,
                        s.index,
                        at,
                        s.description,
                        s.kind,
                        s.colour,
                        s.level,
                        s.max
                    ],
                )?;
                self.summary.supply_values += 1;
                st.supplies.insert(s.index, print);
                any = true;
            }
        }
        Ok((set, any))
    }

    fn failure(
        &mut self,
        at: i64,
        entry: i64,
        device: Option<i64>,
        cause: FailureCause,
        detail: &str,
    ) -> super::db::Result<()> {
        self.tx
            .prepare_cached("INSERT INTO poll_failures (at, entry_id, device_id, cause, detail) VALUES (?1, ?2, ?3, ?4, ?5)")?
            .execute(params![at, entry, device, cause.name(), detail])?;
        self.summary.failures += 1;
        Ok(())
    }

    fn event(&mut self, entry: i64, device: i64, e: Event) -> super::db::Result<()> {
        self.tx
            .prepare_cached("INSERT INTO events (at, entry_id, device_id, kind, meter, before, after, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")?
            .execute(params![millis(e.at), entry, device, e.kind, e.meter.map(Meter::code), e.before.map(|v| v as i64), e.after.map(|v| v as i64), e.detail])?;
        self.summary.events.push(e);
        Ok(())
    }
}

/// An event without meter values; `at` in Unix milliseconds.
fn new_event(at: i64, serial: &Serial, kind: &str, detail: String) -> Event {
    Event {
        at: super::instant(at),
        serial: Some(serial.clone()),
        kind: kind.to_owned(),
        meter: None,
        before: None,
        after: None,
        detail,
    }
}
