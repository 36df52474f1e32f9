//! Storage: the only module with SQL. One SQLite file (WAL, synchronous=FULL),
//! migrated at start-up; every poll round written in one transaction;
//! append-only — readings are never updated or deleted.
//!
//! Growth follows change, not polls: a meter or supply value is stored only when
//! it differs from the device's previous value, and every poll records which
//! meters it returned, so the meters at any poll are exactly what was polled.

mod alerts;
mod around;
mod backfill;
mod cache;
pub(crate) mod db;
mod discovery;
mod fleet;
mod fleet_rows;
mod invoice_checks;
mod manual;
mod outbox;
mod pg;
mod read;
mod runs;
mod sites;
mod tls;
mod uptime;
mod write;

use std::path::Path;

pub use crate::database::Database;
use crate::database::Server;

use chrono::{DateTime, TimeZone, Utc};
use db::{Behavior, Conn, OptionalExtension, params};

pub use crate::meters::Source;
pub use alerts::{
    AlertEvent, AlertHistoryFilter, AlertWrite, DigestMark, EventRef, NewNotification,
    PendingNotification,
};
pub use backfill::Backfill;
pub use discovery::{Added, Discovered, Known, Move};
pub use fleet::{DeviceRow, EntryRow, Identity, OwnReader, Pool};
pub use fleet_rows::{FleetRows, Refreshed};
pub use invoice_checks::{NewCheck, StoredCheck};
pub use manual::{
    Conflict, Disputed, Entering, Implausible, ImportError, ImportSummary, WithdrawError,
    Withdrawal,
};
pub use outbox::Queued;
pub use runs::{NewRun, ReportRun};
pub use sites::{IngestError, Ingested, SiteRow};
pub use tls::verified_client;
pub use uptime::{RoundRow, SupplyRow, UptimeRows};
pub use write::RoundSummary;

use cache::Cache;

use crate::serial::Serial;

/// A serial as stored: a column every serial was written to from a [`Serial`],
/// read back as it was stored ([`Serial::stored`]) so that a rule added since
/// never makes a stored device unreadable.
impl db::FromCell for Serial {
    fn from_cell(cell: db::Cell<'_>) -> Result<Self, String> {
        String::from_cell(cell).map(|text| Serial::stored(&text))
    }
}

impl db::ToValue for Serial {
    fn value(&self) -> db::Value<'_> {
        db::Value::Text(self.as_str())
    }
}

impl db::Typed for Serial {
    const TY: db::Ty = db::Ty::Text;
}

/// A storage failure. Exit code 1.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("database {path}: {action}: {source}")]
    Database {
        path: String,
        action: &'static str,
        #[source]
        source: db::Error,
    },
    #[error(
        "database {path} has schema version {found}, newer than this telleverk knows ({known}); use a newer telleverk"
    )]
    TooNew {
        path: String,
        found: i64,
        known: i64,
    },
    #[error(
        "database {path} is a {found} database; {wanted} readings never go into it: give another path"
    )]
    Purpose {
        path: String,
        found: String,
        wanted: Purpose,
    },
    #[error(
        "database {path} has schema version {found}, older than this telleverk's ({known}); `telleverk serve` or `poll` migrates it"
    )]
    NotMigrated {
        path: String,
        found: i64,
        known: i64,
    },
    #[error("database {path}: cannot make it readable by its owner only: {source}")]
    Permissions {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("database {path}: cannot create its folder: {source}")]
    Folder {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// How long a statement waits for another connection's lock (an import, a
/// second `serve`) before it fails as busy. `serve` then keeps the round in
/// memory and stores it with the next one; an API write answers 503.
pub const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

impl Error {
    /// The database was locked by another connection past [`BUSY_TIMEOUT`]:
    /// trying again later may succeed.
    pub fn is_busy(&self) -> bool {
        matches!(self, Error::Database { source, .. } if source.is_busy())
    }
}

/// What a database holds: the readings of real devices, or the demo's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Production,
    Demo,
}

impl Purpose {
    pub fn name(self) -> &'static str {
        match self {
            Purpose::Production => "production",
            Purpose::Demo => "demo",
        }
    }
}

impl std::fmt::Display for Purpose {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

const MIGRATIONS: [&str; 13] = [
    include_str!("schema.sql"),
    include_str!("schema2.sql"),
    include_str!("schema3.sql"),
    include_str!("schema4.sql"),
    include_str!("schema5.sql"),
    include_str!("schema6.sql"),
    include_str!("schema7.sql"),
    include_str!("schema8.sql"),
    include_str!("schema9.sql"),
    include_str!("schema10.sql"),
    include_str!("schema11.sql"),
    include_str!("schema12.sql"),
    include_str!("schema13.sql"),
];

/// A reader's check of the schema version it `found`: the one this telleverk
/// knows, or an error that says which way it is off.
fn current_version(shown: &str, found: i64) -> Result<(), Error> {
    let known = MIGRATIONS.len() as i64;
    if found > known {
        return Err(Error::TooNew {
            path: shown.to_owned(),
            found,
            known,
        });
    }
    if found < known {
        return Err(Error::NotMigrated {
            path: shown.to_owned(),
            found,
            known,
        });
    }
    Ok(())
}

/// Bits of `polls.stored` (schema 7): what a poll stored beside its row.
const STORED_INFO: i64 = 1;
const STORED_SUPPLIES: i64 = 2;

/// Runs `f` on the shared writer from async code: short inserts and reads,
/// on a blocking thread, so that waiting for the lock (the collector
/// writing a round) or the database never stalls the runtime's workers.
pub async fn with_store_blocking<T, E>(
    store: &std::sync::Arc<std::sync::Mutex<Store>>,
    f: impl FnOnce(&mut Store) -> Result<T, Error> + Send + 'static,
) -> Result<T, E>
where
    T: Send + 'static,
    E: From<Error> + From<tokio::task::JoinError>,
{
    let store = store.clone();
    tokio::task::spawn_blocking(move || f(&mut store.lock().expect("store lock")))
        .await?
        .map_err(Into::into)
}

/// An open database with the in-memory state the collector compares against.
/// Every read of [`Reader`] works on it too.
pub struct Store {
    db: Reader,
    cache: Cache,
    /// SQLite's `data_version` when the cache last matched the database: a
    /// different one means another connection (an import, a second `poll`)
    /// committed since, and the cache is loaded again before a round is
    /// compared against it.
    synced: i64,
    /// Every write also queues its item for the central server.
    outbox: bool,
}

/// A connection that reads: the API's readers share nothing with the
/// collector's [`Store`] but the file (SQLite's WAL lets them read while it
/// writes).
pub struct Reader {
    conn: Conn,
    path: String,
}

impl std::ops::Deref for Store {
    type Target = Reader;
    fn deref(&self) -> &Reader {
        &self.db
    }
}

impl Store {
    /// Opens (creating if needed) and migrates the database: an SQLite
    /// file, or a PostgreSQL database (whose tables are created here).
    pub fn open(at: impl Into<Database>) -> Result<Store, Error> {
        let (conn, shown) = match at.into() {
            Database::File(path) => (Store::open_file(&path)?, path.display().to_string()),
            Database::Server(server) => {
                let shown = server_shown(&server);
                (pg::open(&server, &shown, pg::Open::Write)?, shown)
            }
        };
        let sql = |action| sql_error(&shown, action);
        let cache = Cache::load(&conn).map_err(sql("load the latest values"))?;
        let synced = data_version(&conn).map_err(sql("read the data version"))?;
        Ok(Store {
            db: Reader { conn, path: shown },
            cache,
            synced,
            outbox: false,
        })
    }

    fn open_file(path: &Path) -> Result<Conn, Error> {
        let shown = path.display().to_string();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| Error::Folder {
                path: shown.clone(),
                source,
            })?;
        }
        owner_only(path).map_err(|source| Error::Permissions {
            path: shown.clone(),
            source,
        })?;
        let sql = |action| sql_error(&shown, action);
        let mut conn = lite(rusqlite::Connection::open(path)).map_err(sql("open"))?;
        lite(conn.busy_timeout(BUSY_TIMEOUT)).map_err(sql("set busy timeout"))?;
        lite(conn.pragma_update(None, "journal_mode", "WAL")).map_err(sql("switch to WAL"))?;
        lite(conn.pragma_update(None, "synchronous", "FULL"))
            .map_err(sql("set synchronous=FULL"))?;
        migrate(&mut conn, &shown)?;
        Ok(Conn::sqlite(conn))
    }

    /// Gives entries an older telleverk keyed by an unkeyed fingerprint of
    /// their community the key the config gives them now (`renames`: old
    /// key, new key), and every other such key a name without it; the
    /// events that named the old keys are rewritten with the new ones. The
    /// one rewrite of stored history, so that nothing derived from a secret
    /// stays readable in the database. Returns how many entries changed.
    pub fn rekey_entries(&mut self, renames: &[(String, String)]) -> Result<usize, Error> {
        let path = self.db.path.clone();
        let sql = |action| sql_error(&path, action);
        let tx = self
            .db
            .conn
            .transaction_with_behavior(Behavior::Immediate)
            .map_err(sql("begin re-keying entries"))?;
        let changed = rekey(&tx, renames).map_err(sql("re-key entries"))?;
        tx.commit().map_err(sql("commit re-keyed entries"))?;
        if changed > 0 {
            self.cache = Cache::load(&self.db.conn).map_err(sql("load the latest values"))?;
            self.synced = data_version(&self.db.conn).map_err(sql("read the data version"))?;
            tracing::info!(
                entries = changed,
                "entry keys with an unkeyed community fingerprint were replaced"
            );
        }
        Ok(changed)
    }

    /// Marks the database as being for `purpose`, or fails when it is for the
    /// other one. A database from before marking counts as production when it
    /// holds polls.
    pub fn claim(&self, purpose: Purpose) -> Result<(), Error> {
        let found: Option<String> = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'purpose'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(self.err("read the database's purpose"))?;
        let found = match found {
            Some(found) => found,
            None => {
                let polled: bool = self
                    .conn
                    .query_row("SELECT EXISTS (SELECT 1 FROM polls)", [], |r| r.get(0))
                    .map_err(self.err("read the database's purpose"))?;
                if polled {
                    Purpose::Production.name().to_owned()
                } else {
                    purpose.name().to_owned()
                }
            }
        };
        if found != purpose.name() {
            return Err(Error::Purpose {
                path: self.db.path.clone(),
                found,
                wanted: purpose,
            });
        }
        self.conn
            .execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('purpose', ?1)",
                params![found],
            )
            .map_err(self.err("record the database's purpose"))?;
        Ok(())
    }

    /// The path of the database file, as shown in messages.
    pub fn path(&self) -> &str {
        &self.db.path
    }
}

/// How much of the database a pool's connection maps into memory: all of
/// it, up to SQLite's own limit (2 GiB as built here).
const READ_MMAP_BYTES: i64 = 1 << 36;

impl Reader {
    /// [`Reader::open`], reading through a map of the file rather than a
    /// system call per page: a contract's boundary values are tens of
    /// thousands of seeks across the file (benches/README.md,
    /// contract_page: 0.31 s a page without, 0.25 s with).
    pub fn open_mapped(at: impl Into<Database>) -> Result<Reader, Error> {
        let reader = Reader::open(at)?;
        if let Some(conn) = reader.conn.as_sqlite() {
            lite(conn.pragma_update(None, "mmap_size", READ_MMAP_BYTES))
                .map_err(reader.err("map the database to read"))?;
        }
        Ok(reader)
    }

    /// Opens an existing database to read: no migration and no writes. A
    /// database that is missing or of another schema version is an error.
    pub fn open(at: impl Into<Database>) -> Result<Reader, Error> {
        let path = match at.into() {
            Database::File(path) => path,
            Database::Server(server) => {
                let shown = server_shown(&server);
                let conn = pg::open(&server, &shown, pg::Open::Read)?;
                return Ok(Reader { conn, path: shown });
            }
        };
        let shown = path.display().to_string();
        let sql = |action| sql_error(&shown, action);
        let conn = lite(rusqlite::Connection::open_with_flags(
            &path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        ))
        .map_err(sql("open to read"))?;
        lite(conn.busy_timeout(BUSY_TIMEOUT)).map_err(sql("set busy timeout"))?;
        lite(conn.pragma_update(None, "query_only", true))
            .map_err(sql("make the connection read-only"))?;
        let version: i64 = lite(conn.pragma_query_value(None, "user_version", |r| r.get(0)))
            .map_err(sql("read the schema version"))?;
        current_version(&shown, version)?;
        Ok(Reader {
            conn: Conn::sqlite(conn),
            path: shown,
        })
    }

    /// Runs `f` in one read transaction, unless the connection is already
    /// in one: every query sees the same snapshot, and SQLite takes its
    /// locks once instead of once per statement (the reads of a contract's
    /// boundary values run hundreds of thousands of statements).
    pub fn snapshot<T, E: From<Error>>(
        &self,
        f: impl FnOnce(&Reader) -> Result<T, E>,
    ) -> Result<T, E> {
        if !self.conn.is_autocommit() {
            return f(self);
        }
        self.conn
            .begin(Behavior::Deferred)
            .map_err(self.err("begin a read"))?;
        let result = f(self);
        if self.conn.commit().is_err() {
            let _ = self.conn.rollback();
        }
        result
    }

    fn err(&self, action: &'static str) -> impl Fn(db::Error) -> Error + '_ {
        sql_error(&self.path, action)
    }

    /// The database id of a serial, if the database knows it.
    fn device_id(&self, serial: &str) -> Result<Option<i64>, Error> {
        self.conn
            .prepare_cached("SELECT id FROM devices WHERE serial = ?1")
            .and_then(|mut s| s.query_row(params![serial], |r| r.get(0)).optional())
            .map_err(self.err("look up a serial"))
    }

    /// The time of the latest poll stored, if any.
    pub fn latest_poll(&self) -> Result<Option<DateTime<Utc>>, Error> {
        self.conn
            .query_row("SELECT MAX(at) FROM polls", [], |r| {
                r.get::<_, Option<i64>>(0)
            })
            .map(|ms| ms.map(instant))
            .map_err(self.err("read the latest poll"))
    }
}

impl Store {
    /// Reads the durable DES salt epoch, for SNMPv3 DES privacy.
    pub fn des_epoch(&self) -> Result<Option<u32>, Error> {
        self.conn
            .query_row("SELECT engine_boots FROM des_salt WHERE id = 1", [], |r| {
                r.get::<_, i64>(0)
            })
            .optional()
            .map(|v| v.and_then(|v| u32::try_from(v).ok()))
            .map_err(self.err("read the DES salt epoch"))
    }

    /// Moves the DES salt epoch from `previous` to `next` (compare-and-set);
    /// false when another process moved it first.
    pub fn set_des_epoch(&self, previous: Option<u32>, next: u32) -> Result<bool, Error> {
        let changed = match previous {
            None => self.conn.execute(
                "INSERT OR IGNORE INTO des_salt (id, engine_boots) VALUES (1, ?1)",
                params![next],
            ),
            Some(prev) => self.conn.execute(
                "UPDATE des_salt SET engine_boots = ?2 WHERE id = 1 AND engine_boots = ?1",
                params![prev, next],
            ),
        }
        .map_err(self.err("store the DES salt epoch"))?;
        Ok(changed == 1)
    }
}

fn migrate(conn: &mut rusqlite::Connection, path: &str) -> Result<(), Error> {
    let sql = |action| sql_error(path, action);
    let version: i64 = lite(conn.pragma_query_value(None, "user_version", |r| r.get(0)))
        .map_err(sql("read the schema version"))?;
    let known = MIGRATIONS.len() as i64;
    if version > known {
        return Err(Error::TooNew {
            path: path.to_owned(),
            found: version,
            known,
        });
    }
    for (i, migration) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = lite(conn.transaction()).map_err(sql("begin a migration"))?;
        lite(tx.execute_batch(migration)).map_err(sql("migrate the schema"))?;
        lite(tx.pragma_update(None, "user_version", i as i64 + 1))
            .map_err(sql("record the schema version"))?;
        lite(tx.commit()).map_err(sql("commit a migration"))?;
    }
    Ok(())
}

/// See [`Store::rekey_entries`].
fn rekey(tx: &db::Tx<'_>, renames: &[(String, String)]) -> db::Result<usize> {
    let rename = |old: &str, new: &str| -> db::Result<()> {
        tx.execute(
            "UPDATE entries SET key = ?2 WHERE key = ?1",
            params![old, new],
        )?;
        tx.execute(
            tx.pick(
                "UPDATE events SET detail = replace(detail, ?1, ?2) WHERE instr(detail, ?1) > 0",
                "UPDATE events SET detail = replace(detail, ?1, ?2) WHERE strpos(detail, ?1) > 0",
            ),
            params![old, new],
        )?;
        Ok(())
    };
    let exists = |key: &str| -> db::Result<bool> {
        tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM entries WHERE key = ?1)",
            params![key],
            |r| r.get(0),
        )
    };
    let mut changed = 0;
    for (old, new) in renames {
        if old != new && exists(old)? && !exists(new)? {
            rename(old, new)?;
            changed += 1;
        }
    }
    // What is left of the old form (`… community#` and 12 hex digits; new
    // fingerprints start with `k`) belongs to entries no longer configured.
    let left: Vec<(i64, String)> = {
        let mut stmt = tx.prepare(tx.pick(
            "SELECT id, key FROM entries WHERE key GLOB '* community#[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]'",
            "SELECT id, key FROM entries WHERE key ~ ' community#[0-9a-f]{12}$' ORDER BY id",
        ))?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<db::Result<_>>()?
    };
    for (id, old) in left {
        let Some((endpoint, _)) = old.rsplit_once(" community#") else {
            continue;
        };
        rename(
            &old,
            &format!("{endpoint} community (entry {id}, no longer configured)"),
        )?;
        changed += 1;
    }
    Ok(changed)
}

/// Makes the database file readable and writable by its owner only (0600),
/// creating it so when missing: it holds who entered readings and the
/// devices' addresses. SQLite gives its `-wal` and `-shm` files the mode of
/// the database file; ones an older telleverk left open to others are closed
/// too.
fn owner_only(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    if !path.exists() {
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)?;
    }
    let mut name = path.as_os_str().to_owned();
    let files = ["", "-wal", "-shm"].map(|suffix| {
        name.push(suffix);
        let file = std::path::PathBuf::from(&name);
        name = path.as_os_str().to_owned();
        file
    });
    for file in files {
        let Ok(meta) = std::fs::metadata(&file) else {
            continue;
        };
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode & 0o700))?;
            tracing::info!(
                "{} was open to other users (mode {:o}); now its owner's only",
                file.display(),
                mode & 0o777
            );
        }
    }
    Ok(())
}

/// How messages name a PostgreSQL database: its URL, never a password.
fn server_shown(server: &Server) -> String {
    crate::database::shown_url(server.url())
}

/// Turns an SQLite error into an [`Error`] naming the file and what failed.
fn sql_error(path: &str, action: &'static str) -> impl Fn(db::Error) -> Error + use<> {
    let path = path.to_owned();
    move |source| Error::Database {
        path: path.clone(),
        action,
        source,
    }
}

/// The id of the device with `serial`, and whether it was added now (first
/// seen at `at`) because the database had none. Another process (an import
/// while `serve` runs) may have added it since this one's cache was filled:
/// then its row is found, not added twice.
pub(crate) fn device_row(conn: &Conn, serial: &str, at: i64) -> db::Result<(i64, bool)> {
    let added = conn
        .prepare_cached(
            "INSERT INTO devices (serial, first_seen) VALUES (?1, ?2) ON CONFLICT (serial) DO NOTHING",
        )?
        .execute(params![serial, at])?
        == 1;
    let id = conn
        .prepare_cached("SELECT id FROM devices WHERE serial = ?1")?
        .query_row(params![serial], |r| r.get(0))?;
    Ok((id, added))
}

/// SQLite's count of commits by other connections, as this one has seen
/// them: equal twice, no other connection committed in between (a
/// connection's own commits do not change it).
fn data_version(conn: &Conn) -> db::Result<i64> {
    match conn.as_sqlite() {
        Some(c) => Ok(c.pragma_query_value(None, "data_version", |r| r.get(0))?),
        None => conn.query_row("SELECT n FROM data_version", [], |r| r.get(0)),
    }
}

/// An SQLite result as storage's own.
fn lite<T>(result: rusqlite::Result<T>) -> db::Result<T> {
    result.map_err(Into::into)
}

/// Unix milliseconds of an instant.
pub(crate) fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

/// The instant of Unix milliseconds.
pub(crate) fn instant(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

#[cfg(test)]
mod forward_tests;
#[cfg(test)]
mod tests;
