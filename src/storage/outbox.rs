//! A site's outbox: what it stored and has yet to forward to the central
//! server, in order. Each write transaction that stores something the
//! central keeps (a round, entered readings, a withdrawal) adds one item in
//! the same transaction, numbered one more than the last; an item goes once
//! the central has confirmed it. The readings themselves stay in the store:
//! the outbox holds a copy of each item, deflated.

use std::io::{Read, Write};

use super::db::{OptionalExtension, Tx, params};
use super::{Error, Store};
use crate::wire::Item;

/// Items not yet confirmed, as the forwarder takes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    /// The last item the central confirmed (0: none yet).
    pub forwarded: u64,
    /// Every item after `forwarded`.
    pub backlog: u64,
    /// The first of them, up to the size asked for; at least one when any.
    pub items: Vec<(u64, Item)>,
}

/// Adds `item` to the outbox in the transaction that stored it; returns its
/// sequence number.
pub(super) fn push(tx: &Tx<'_>, at: i64, item: &Item) -> super::db::Result<u64> {
    let last: Option<i64> = tx
        .prepare_cached("SELECT max(seq) FROM outbox")?
        .query_row([], |r| r.get(0))?;
    let seq = last.unwrap_or(0).max(forwarded(tx)?) + 1;
    let json = serde_json::to_vec(item)
        .map_err(|e| super::db::Error::Invalid(format!("cannot write an outbox item: {e}")))?;
    let mut deflate = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
    deflate
        .write_all(&json)
        .map_err(|e| super::db::Error::Invalid(format!("cannot deflate an outbox item: {e}")))?;
    let body = deflate
        .finish()
        .map_err(|e| super::db::Error::Invalid(format!("cannot deflate an outbox item: {e}")))?;
    tx.prepare_cached("INSERT INTO outbox (seq, at, body) VALUES (?1, ?2, ?3)")?
        .execute(params![seq, at, body])?;
    Ok(seq as u64)
}

fn forwarded(conn: &super::db::Conn) -> super::db::Result<i64> {
    Ok(conn
        .prepare_cached("SELECT through FROM outbox_forwarded WHERE id = 1")?
        .query_row([], |r| r.get(0))
        .optional()?
        .unwrap_or(0))
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
    /// (a site with `[upstream]`).
    pub fn set_outbox(&mut self, on: bool) {
        self.outbox = on;
    }

    /// The items not yet confirmed, the first of them up to about
    /// `max_bytes` deflated (always at least one).
    pub fn queued(&self, max_bytes: usize) -> Result<Queued, Error> {
        let err = self.err("read the outbox");
        let conn = &self.db.conn;
        let forwarded = forwarded(conn).map_err(&err)?;
        let backlog: i64 = conn
            .prepare_cached("SELECT count(*) FROM outbox WHERE seq > ?1")
            .and_then(|mut s| s.query_row(params![forwarded], |r| r.get(0)))
            .map_err(&err)?;
        let mut items = Vec::new();
        let mut size = 0;
        let mut stmt = conn
            .prepare_cached("SELECT seq, body FROM outbox WHERE seq > ?1 ORDER BY seq LIMIT 10000")
            .map_err(&err)?;
        let mut rows = stmt.query(params![forwarded]).map_err(&err)?;
        while let Some(row) = rows.next().map_err(&err)? {
            let seq: i64 = row.get(0).map_err(&err)?;
            let body: Vec<u8> = row.get(1).map_err(&err)?;
            if !items.is_empty() && size + body.len() > max_bytes {
                break;
            }
            size += body.len();
            items.push((seq as u64, item(seq, &body).map_err(&err)?));
        }
        Ok(Queued {
            forwarded: forwarded as u64,
            backlog: backlog as u64,
            items,
        })
    }

    /// The central confirmed every item through `through`: they leave the
    /// outbox (the numbering goes on after them).
    pub fn forwarded(&mut self, through: u64) -> Result<(), Error> {
        let path = self.db.path.clone();
        let sql = |action| super::sql_error(&path, action);
        let tx = self
            .db
            .conn
            .transaction_with_behavior(super::db::Behavior::Immediate)
            .map_err(sql("begin confirming the outbox"))?;
        let before = super::data_version(&tx).map_err(sql("read the data version"))?;
        let through = i64::try_from(through).unwrap_or(i64::MAX);
        let known = forwarded(&tx).map_err(sql("read the outbox"))?;
        if through > known {
            tx.execute(
                "INSERT INTO outbox_forwarded (id, through) VALUES (1, ?1) ON CONFLICT (id) DO NOTHING",
                params![through],
            )
            .map_err(sql("confirm the outbox"))?;
            tx.execute(
                "UPDATE outbox_forwarded SET through = ?1 WHERE id = 1",
                params![through],
            )
            .map_err(sql("confirm the outbox"))?;
            tx.execute("DELETE FROM outbox WHERE seq <= ?1", params![through])
                .map_err(sql("empty the outbox"))?;
        }
        let version = super::write::commit(tx, &path, "commit the outbox")?;
        if self.synced == before {
            self.synced = version;
        }
        Ok(())
    }
}
