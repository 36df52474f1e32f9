//! A site's outbox: what it stored and has yet to forward to the central
//! server, in order. Each write transaction that stores something the
//! central keeps (a round, entered readings, a withdrawal) adds one item in
//! the same transaction, numbered one more than the last; an item goes once
//! the central has confirmed it. The readings themselves stay in the store:
//! the outbox holds a copy of each item, deflated.
//!
//! The central counts a site's items per stream: a random id made with the
//! outbox. Item 1 of a stream is the local item after its `base`, so a
//! database that must start a new stream (restored from a backup: the
//! central has items of its stream this copy never numbered) numbers its
//! unconfirmed items from 1 again without renumbering a row.

use std::io::{Read, Write};

use super::backfill::Backfill;
use super::db::{Conn, OptionalExtension, Tx, params};
use super::{Error, Store};
use crate::wire::Item;

/// Items not yet confirmed, as the forwarder takes them; numbers are the
/// stream's (local number − base).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    /// The stream these numbers belong to.
    pub stream: String,
    /// The last item the central confirmed (0: none yet).
    pub forwarded: u64,
    /// The last item this database has numbered: the central can have
    /// applied no item of this stream after it.
    pub numbered: u64,
    /// Every item after `forwarded`.
    pub backlog: u64,
    /// The first of them, up to the size asked for; at least one when any.
    pub items: Vec<(u64, Item)>,
}

/// The outbox's state: the last local number confirmed, the stream, and
/// its base. None before the first item.
struct State {
    through: i64,
    stream: String,
    base: i64,
}

fn state(conn: &Conn) -> super::db::Result<Option<State>> {
    conn.prepare_cached("SELECT through, stream, base FROM outbox_forwarded WHERE id = 1")?
        .query_row([], |r| {
            Ok(State {
                through: r.get(0)?,
                stream: r.get(1)?,
                base: r.get(2)?,
            })
        })
        .optional()
}

/// A new stream's id: 128 random bits as hex.
fn new_stream_id() -> super::db::Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| super::db::Error::Invalid(format!("no random stream id: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The highest number given: a queued item's, or a planned one's.
fn last_numbered(conn: &Conn) -> super::db::Result<Option<i64>> {
    let queued: Option<i64> = conn
        .prepare_cached("SELECT max(seq) FROM outbox")?
        .query_row([], |r| r.get(0))?;
    let planned: Option<i64> = conn
        .prepare_cached("SELECT max(seq) FROM outbox_history")?
        .query_row([], |r| r.get(0))?;
    Ok(queued.max(planned))
}

/// Adds `item` to the outbox in the transaction that stored it; returns its
/// local number. The first item makes the outbox's stream.
pub(super) fn push(tx: &Tx<'_>, at: i64, item: &Item) -> super::db::Result<u64> {
    let through = match state(tx)? {
        Some(s) => s.through,
        None => {
            tx.execute(
                "INSERT INTO outbox_forwarded (id, through, stream, base) VALUES (1, 0, ?1, 0)",
                params![new_stream_id()?],
            )?;
            0
        }
    };
    let seq = last_numbered(tx)?.unwrap_or(0).max(through) + 1;
    let json = serde_json::to_vec(item)
        .map_err(|e| super::db::Error::Invalid(format!("cannot write an outbox item: {e}")))?;
    let mut deflate = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
    let body = deflate
        .write_all(&json)
        .and_then(|()| deflate.finish())
        .map_err(|e| super::db::Error::Invalid(format!("cannot deflate an outbox item: {e}")))?;
    tx.prepare_cached("INSERT INTO outbox (seq, at, body) VALUES (?1, ?2, ?3)")?
        .execute(params![seq, at, body])?;
    Ok(seq as u64)
}

fn item(seq: i64, body: &[u8]) -> super::db::Result<Item> {
    let mut json = Vec::new();
    flate2::read::DeflateDecoder::new(body)
        .read_to_end(&mut json)
        .map_err(|e| {
            super::db::Error::Invalid(format!("outbox item {seq} cannot be inflated: {e}"))
        })?;
    serde_json::from_slice(&json)
        .map_err(|e| super::db::Error::Invalid(format!("outbox item {seq} cannot be read: {e}")))
}

impl Store {
    /// From now on every write also queues its item for the central server
    /// (a site with `[upstream]`). A database that holds polls or entered
    /// readings and has never queued an item gets its outbox now, with the
    /// plan of that history first: returned, to be said in the log.
    pub fn set_outbox(&mut self, on: bool) -> Result<Option<Backfill>, Error> {
        self.outbox = on;
        if !on || self.has_outbox()? {
            return Ok(None);
        }
        // The history is read outside the write lock (a big one takes a
        // while), then written if nothing was stored since; else read
        // again inside it.
        let (seen, scanned) = {
            let err = self.err("read the history to forward");
            let seen = super::data_version(&self.db.conn).map_err(&err)?;
            (seen, super::backfill::scan(&self.db.conn).map_err(&err)?)
        };
        let mut scanned = Some(scanned);
        let mut planned = None;
        self.outbox_write("plan the history to forward", |tx| {
            // Another process may have made the outbox since.
            if state(tx)?.is_some() {
                return Ok(());
            }
            let plan = match scanned.take() {
                Some(plan) if super::data_version(tx)? == seen => plan,
                _ => super::backfill::scan(tx)?,
            };
            if let Some(plan) = plan {
                planned = Some(super::backfill::write(tx, plan)?);
                tx.execute(
                    "INSERT INTO outbox_forwarded (id, through, stream, base) VALUES (1, 0, ?1, 0)",
                    params![new_stream_id()?],
                )?;
            }
            Ok(())
        })?;
        Ok(planned)
    }

    /// Whether this database has ever queued an item for a central server.
    pub fn has_outbox(&self) -> Result<bool, Error> {
        Ok(state(&self.db.conn)
            .map_err(self.err("read the outbox"))?
            .is_some())
    }

    /// The items not yet confirmed, the first of them up to about
    /// `max_bytes` deflated (always at least one). None before the first
    /// item was queued.
    pub fn queued(&self, max_bytes: usize) -> Result<Option<Queued>, Error> {
        let err = self.err("read the outbox");
        let conn = &self.db.conn;
        let Some(st) = state(conn).map_err(&err)? else {
            return Ok(None);
        };
        let numbered = last_numbered(conn)
            .map_err(&err)?
            .unwrap_or(0)
            .max(st.through);
        let count = |table| {
            conn.prepare_cached(table)
                .and_then(|mut s| s.query_row(params![st.through], |r| r.get::<_, i64>(0)))
        };
        let backlog = count("SELECT count(*) FROM outbox WHERE seq > ?1").map_err(&err)?
            + count("SELECT count(*) FROM outbox_history WHERE seq > ?1").map_err(&err)?;
        let mut items = Vec::new();
        let mut size = 0;
        // The history planned comes first: its numbers are all before the
        // queued items'.
        let planned = super::backfill::planned(conn, st.through, 10_000).map_err(&err)?;
        if !planned.is_empty() {
            let known = super::backfill::Known::read(conn).map_err(&err)?;
            for (seq, p) in planned {
                if !items.is_empty() && size >= max_bytes {
                    break;
                }
                let item = super::backfill::item(conn, &known, p).map_err(&err)?;
                // Counted as about a quarter of its JSON, as deflated.
                size += serde_json::to_vec(&item).map_or(0, |j| j.len() / 4);
                items.push(((seq - st.base) as u64, item));
            }
        }
        let history_left = count("SELECT count(*) FROM outbox_history WHERE seq > ?1")
            .map_err(&err)?
            > items.len() as i64;
        // Queued items go once no planned one is left.
        let limit = if history_left { 0 } else { 10_000 };
        let mut stmt = conn
            .prepare_cached("SELECT seq, body FROM outbox WHERE seq > ?1 ORDER BY seq LIMIT ?2")
            .map_err(&err)?;
        let mut rows = stmt.query(params![st.through, limit]).map_err(&err)?;
        while let Some(row) = rows.next().map_err(&err)? {
            let seq: i64 = row.get(0).map_err(&err)?;
            let body: Vec<u8> = row.get(1).map_err(&err)?;
            if !items.is_empty() && size + body.len() > max_bytes {
                break;
            }
            size += body.len();
            items.push(((seq - st.base) as u64, item(seq, &body).map_err(&err)?));
        }
        Ok(Some(Queued {
            forwarded: (st.through - st.base) as u64,
            numbered: (numbered - st.base) as u64,
            stream: st.stream,
            backlog: backlog as u64,
            items,
        }))
    }

    /// The central confirmed every item of `stream` through `through`:
    /// they leave the outbox (the numbering goes on after them). A stream
    /// that is no longer this database's, or a number it never gave, changes
    /// nothing.
    pub fn forwarded(&mut self, stream: &str, through: u64) -> Result<(), Error> {
        self.outbox_write("confirm the outbox", |tx| {
            let Some(st) = state(tx)? else {
                return Ok(());
            };
            let numbered = last_numbered(tx)?.unwrap_or(0).max(st.through);
            let local = i64::try_from(through)
                .ok()
                .and_then(|t| t.checked_add(st.base))
                .filter(|l| *l <= numbered);
            let Some(local) = local.filter(|l| *l > st.through && stream == st.stream) else {
                return Ok(());
            };
            tx.execute(
                "UPDATE outbox_forwarded SET through = ?1 WHERE id = 1",
                params![local],
            )?;
            tx.execute("DELETE FROM outbox WHERE seq <= ?1", params![local])?;
            tx.execute("DELETE FROM outbox_history WHERE seq <= ?1", params![local])?;
            Ok(())
        })
    }

    /// Starts a new stream from the first unconfirmed item: the central has
    /// items of the current stream this database never numbered (it was
    /// restored from a backup, or copied). Returns the new stream's id.
    pub fn new_stream(&mut self) -> Result<String, Error> {
        let mut made = String::new();
        self.outbox_write("start a new outbox stream", |tx| {
            let stream = new_stream_id()?;
            tx.execute(
                "UPDATE outbox_forwarded SET stream = ?1, base = through WHERE id = 1",
                params![stream],
            )?;
            made = stream;
            Ok(())
        })?;
        Ok(made)
    }

    /// Runs `f` in a write transaction of its own.
    fn outbox_write(
        &mut self,
        action: &'static str,
        f: impl FnOnce(&Tx<'_>) -> super::db::Result<()>,
    ) -> Result<(), Error> {
        let path = self.db.path.clone();
        let sql = |action| super::sql_error(&path, action);
        let tx = self
            .db
            .conn
            .transaction_with_behavior(super::db::Behavior::Immediate)
            .map_err(sql(action))?;
        let before = super::data_version(&tx).map_err(sql("read the data version"))?;
        f(&tx).map_err(sql(action))?;
        let version = super::write::commit(tx, &path, action)?;
        if self.synced == before {
            self.synced = version;
        }
        Ok(())
    }
}
