//! The fleet at a glance: per device its latest poll, model, supplies, entered
//! readings and the latest failure of the entry it answers through. Read in
//! one pass for the API's device list; the [`Pool`] hands out read connections.

use super::Database;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use super::db::{OptionalExtension, params};
use chrono::{DateTime, Utc};

use super::read::cause_column;
use super::{Error, Reader, instant};
use crate::record::{Failure, FailureCause};
use crate::serial::Serial;
use crate::supplies::{Supply, percent};

/// One device as the database last saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRow {
    pub serial: Serial,
    pub model: Option<String>,
    /// The latest successful poll.
    pub last_poll: Option<DateTime<Utc>>,
    /// The latest reading a person entered (manual, vendor, final, start).
    pub last_entered: Option<DateTime<Utc>>,
    /// The entry the latest poll came through, and its address.
    pub entry_key: Option<String>,
    pub address: Option<String>,
    /// The latest failure of that entry after the latest poll: the device
    /// has not answered since (`partial` polls answered, so they never count).
    pub failure_since: Option<Failure>,
    /// The latest poll answered but read no meter (`no_meters`).
    pub no_meters: bool,
    pub device_status: Option<i64>,
    pub printer_status: Option<i64>,
    pub errors: Option<u16>,
    pub supplies: Vec<Supply>,
}

impl DeviceRow {
    /// A device the database knows nothing of (yet): only its serial.
    pub fn unknown(serial: Serial) -> DeviceRow {
        DeviceRow {
            serial,
            model: None,
            last_poll: None,
            last_entered: None,
            entry_key: None,
            address: None,
            failure_since: None,
            no_meters: false,
            device_status: None,
            printer_status: None,
            errors: None,
            supplies: Vec::new(),
        }
    }
}

/// Who a device is: its model and the entry it last answered through.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    pub model: Option<String>,
    pub entry_key: Option<String>,
}

/// The latest state of an entry (an SNMP endpoint), answered or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryRow {
    pub key: String,
    pub address: String,
    pub last_failure: Option<Failure>,
}

impl Reader {
    /// Every device's model and latest entry, by serial, in one query.
    pub fn identities(&self) -> Result<BTreeMap<Serial, Identity>, Error> {
        (|| {
            let mut stmt = self.conn.prepare_cached(
                "SELECT d.serial,
                    (SELECT model FROM device_info WHERE device_id = d.id ORDER BY at DESC LIMIT 1),
                    (SELECT e.key FROM polls p JOIN entries e ON e.id = p.entry_id
                     WHERE p.device_id = d.id ORDER BY p.at DESC LIMIT 1)
                 FROM devices d",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, Serial>(0)?,
                    Identity {
                        model: r.get(1)?,
                        entry_key: r.get(2)?,
                    },
                ))
            })?;
            rows.collect::<super::db::Result<BTreeMap<_, _>>>()
        })()
        .map_err(self.err("read the devices' identities"))
    }

    /// The latest `limit` failures of an entry, newest first.
    pub fn entry_failures(&self, key: &str, limit: usize) -> Result<Vec<Failure>, Error> {
        (|| {
            let mut stmt = self.conn.prepare_cached(
                "SELECT f.at, f.cause, f.detail FROM poll_failures f JOIN entries e ON e.id = f.entry_id
                 WHERE e.key = ?1 ORDER BY f.at DESC, f.id DESC LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![key, limit as i64], failure_row)?;
            rows.collect::<super::db::Result<Vec<_>>>()
        })()
        .map_err(self.err("read an entry's failures"))
    }

    /// The latest failure of an entry that says something of the device: a
    /// poll the service abandoned when it stopped (`aborted`) does not.
    pub(super) fn last_failure(&self, entry: i64) -> super::db::Result<Option<Failure>> {
        self.conn
            .prepare_cached(
                "SELECT at, cause, detail FROM poll_failures WHERE entry_id = ?1 AND cause != ?2
                 ORDER BY at DESC, id DESC LIMIT 1",
            )?
            .query_row(params![entry, FailureCause::Aborted.name()], failure_row)
            .optional()
    }

    /// Entry id → (key, address).
    pub(super) fn entry_map(&self) -> super::db::Result<HashMap<i64, (String, String)>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, key, address FROM entries")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))?;
        rows.collect()
    }

    /// A device's latest poll.
    pub(super) fn latest_poll_of(&self, device: i64) -> super::db::Result<Option<PollPart>> {
        self.conn
            .prepare_cached(
                "SELECT at, entry_id, device_status, printer_status, errors, meters, stored FROM polls
                 WHERE device_id = ?1 ORDER BY at DESC LIMIT 1",
            )?
            .query_row(params![device], poll_part)
            .optional()
    }

    /// A device's latest model.
    pub(super) fn model_of(&self, device: i64) -> super::db::Result<Option<String>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT model FROM device_info WHERE device_id = ?1 ORDER BY at DESC LIMIT 1",
            )?
            .query_row(params![device], |r| r.get(0))
            .optional()?
            .flatten())
    }

    /// When the latest reading a person entered for a device (and did not
    /// withdraw) was taken.
    pub(super) fn last_entered_of(&self, device: i64) -> super::db::Result<Option<DateTime<Utc>>> {
        let at: Option<i64> = self
            .conn
            .prepare_cached(
                "SELECT MAX(e.at) FROM entered_readings e WHERE e.device_id = ?1
                 AND NOT EXISTS (SELECT 1 FROM reading_withdrawals w WHERE w.reading_id = e.id)",
            )?
            .query_row(params![device], |r| r.get(0))?;
        Ok(at.map(instant))
    }

    /// The latest row of each supply index of a device: a search for the
    /// next index, then one for its latest row, so the cost follows the
    /// supplies, not the rows a year of changes stored (testing each stored
    /// row against its index's latest took five times as long).
    pub(super) fn latest_supplies(&self, device: i64) -> super::db::Result<Vec<Supply>> {
        latest_supplies(&self.conn, device)
    }

    /// One device's row, or None when the database does not know the serial.
    pub fn device(&self, serial: &Serial) -> Result<Option<DeviceRow>, Error> {
        let Some(id) = self.device_id(serial)? else {
            return Ok(None);
        };
        (|| {
            let mut row = DeviceRow {
                model: self.model_of(id)?,
                last_entered: self.last_entered_of(id)?,
                supplies: self.latest_supplies(id)?,
                ..DeviceRow::unknown(serial.clone())
            };
            if let Some(poll) = self.latest_poll_of(id)? {
                let entry = self
                    .conn
                    .prepare_cached("SELECT key, address FROM entries WHERE id = ?1")?
                    .query_row(params![poll.entry], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?;
                let failure = self.last_failure(poll.entry)?;
                poll.apply(&mut row, entry, failure.as_ref());
            }
            Ok(Some(row))
        })()
        .map_err(self.err("read a device"))
    }
}

/// What a device's latest poll says of it.
#[derive(Debug, Clone, Copy)]
pub(super) struct PollPart {
    pub at: i64,
    pub entry: i64,
    device_status: Option<i64>,
    printer_status: Option<i64>,
    errors: Option<i64>,
    no_meters: bool,
    /// `polls.stored`: what else the poll stored (None: not known).
    pub stored: Option<i64>,
}

/// A row of `at, entry_id, device_status, printer_status, errors, meters,
/// stored` from polls.
pub(super) fn poll_part(r: &super::db::Row<'_>) -> super::db::Result<PollPart> {
    Ok(PollPart {
        at: r.get(0)?,
        entry: r.get(1)?,
        device_status: r.get(2)?,
        printer_status: r.get(3)?,
        errors: r.get(4)?,
        no_meters: r.get::<_, i64>(5)? == 0,
        stored: r.get(6)?,
    })
}

impl PollPart {
    /// Puts the poll into `row`, with its entry's key and address and that
    /// entry's latest failure (kept only when it came after the poll).
    pub(super) fn apply(
        &self,
        row: &mut DeviceRow,
        entry: Option<(String, String)>,
        failure: Option<&Failure>,
    ) {
        row.no_meters = self.no_meters;
        row.last_poll = Some(instant(self.at));
        (row.entry_key, row.address) = entry.unzip();
        row.failure_since = failure
            .filter(|f| f.at.timestamp_millis() > self.at)
            .cloned();
        row.device_status = self.device_status;
        row.printer_status = self.printer_status;
        row.errors = self.errors.and_then(|e| u16::try_from(e).ok());
    }
}

/// A row of `at, cause, detail` from poll_failures.
pub(super) fn failure_row(r: &super::db::Row<'_>) -> super::db::Result<Failure> {
    Ok(Failure {
        at: instant(r.get(0)?),
        cause: cause_column(r, 1)?,
        detail: r.get(2)?,
    })
}

/// Read connections to one database, opened on demand and kept for reuse.
/// They map the database file (`Reader::open_mapped`): the API's and the
/// pages' reads of a contract seek all over a database of gigabytes. The
/// pages they touch count in the process's RSS as file pages, the
/// operating system's cache, which it takes back when it needs memory.
pub struct Pool {
    path: Database,
    idle: Mutex<Vec<Reader>>,
}

/// How many idle connections a pool keeps.
const POOL_IDLE: usize = 8;

impl Pool {
    pub fn new(at: impl Into<Database>) -> Pool {
        Pool {
            path: at.into(),
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Runs `f` on a read connection (blocking: call it off the async threads)
    /// in one read transaction: every query of `f` sees the same snapshot,
    /// and SQLite takes its WAL locks once, not once per statement (a fleet's
    /// counter report runs about a million statements).
    pub fn read<T, E: From<Error>>(&self, f: impl FnOnce(&Reader) -> Result<T, E>) -> Result<T, E> {
        let reader = self.idle.lock().expect("pool lock").pop();
        let reader = match reader {
            Some(r) => r,
            None => Reader::open_mapped(&self.path)?,
        };
        reader
            .conn
            .begin(super::db::Behavior::Deferred)
            .map_err(reader.err("begin a read"))?;
        let result = f(&reader);
        // A connection whose transaction did not end is not handed out again.
        if reader.conn.commit().is_ok() {
            let mut idle = self.idle.lock().expect("pool lock");
            if idle.len() < POOL_IDLE {
                idle.push(reader);
            }
        }
        result
    }

    /// `work` on each of `items`, in order, the items shared out among one
    /// read connection per core (each in a read transaction of its own):
    /// for reads of many devices that each seek all over a large database,
    /// such as a contract's boundary values.
    pub fn read_each<I: Sync, T: Send>(
        &self,
        items: &[I],
        work: impl Fn(&Reader, &I) -> Result<T, Error> + Sync,
    ) -> Result<Vec<T>, Error> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let per = items.len().div_ceil(cores.max(1)).max(1);
        let work = &work;
        let run = |chunk: &[I]| {
            self.read(|r| {
                chunk
                    .iter()
                    .map(|i| work(r, i))
                    .collect::<Result<Vec<T>, Error>>()
            })
        };
        if items.len() <= per {
            return run(items);
        }
        std::thread::scope(|scope| {
            let mut chunks = items.chunks(per);
            let first = chunks.next().unwrap_or_default();
            let others: Vec<_> = chunks.map(|c| scope.spawn(move || run(c))).collect();
            let mut out = run(first)?;
            for worker in others {
                out.extend(worker.join().expect("a read worker does not panic")?);
            }
            Ok(out)
        })
    }
}

/// A read connection of its own for one reader that reads again and again
/// (the fleet view), which tells it whether anything was committed since it
/// last read, by any connection or process: SQLite's `data_version`
/// changes exactly then. A reader that sees no change may keep what it read.
pub struct OwnReader {
    path: Database,
    reader: Option<Reader>,
    seen: Option<i64>,
}

impl OwnReader {
    pub fn new(at: impl Into<Database>) -> OwnReader {
        OwnReader {
            path: at.into(),
            reader: None,
            seen: None,
        }
    }

    /// Runs `f` in one read transaction, telling it whether the database
    /// changed since the previous call (always on the first). The version is
    /// taken before the transaction starts, so a commit racing the read is
    /// seen again next time, never missed.
    pub fn read<T, E: From<Error>>(
        &mut self,
        f: impl FnOnce(&Reader, bool) -> Result<T, E>,
    ) -> Result<T, E> {
        if self.reader.is_none() {
            self.reader = Some(Reader::open(&self.path)?);
            self.seen = None;
        }
        let reader = self.reader.as_ref().expect("opened above");
        let version: i64 =
            super::data_version(&reader.conn).map_err(reader.err("read the database's version"))?;
        let changed = self.seen != Some(version);
        reader
            .conn
            .begin(super::db::Behavior::Deferred)
            .map_err(reader.err("begin a read"))?;
        let result = f(reader, changed);
        if reader.conn.commit().is_err() {
            // A connection whose transaction did not end is not used again.
            self.reader = None;
            self.seen = None;
        } else if result.is_ok() {
            self.seen = Some(version);
        }
        result
    }
}

/// The latest row of each supply index of a device: a search for the next
/// index, then one for its latest row, so the cost follows the supplies, not
/// the rows a year of changes stored. The fleet view and the collector's
/// cache both read supplies so.
pub(super) fn latest_supplies(
    conn: &super::db::Conn,
    device: i64,
) -> super::db::Result<Vec<Supply>> {
    let mut next = conn.prepare_cached(
        "SELECT idx FROM supply_values WHERE device_id = ?1 AND idx > ?2 ORDER BY idx LIMIT 1",
    )?;
    let mut latest = conn.prepare_cached(
        "SELECT idx, description, kind, colour, level, max FROM supply_values
         WHERE device_id = ?1 AND idx = ?2 ORDER BY at DESC LIMIT 1",
    )?;
    let mut out = Vec::new();
    let mut idx: i64 = -1;
    while let Some(found) = next
        .query_row(params![device, idx], |r| r.get::<_, i64>(0))
        .optional()?
    {
        idx = found;
        out.push(latest.query_row(params![device, idx], |r| {
            let (level, max) = (r.get(4)?, r.get(5)?);
            Ok(Supply {
                index: r.get(0)?,
                description: r.get(1)?,
                kind: r.get(2)?,
                colour: r.get(3)?,
                level,
                max,
                percent: percent(level, max),
            })
        })?);
    }
    Ok(out)
}
