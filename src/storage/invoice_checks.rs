//! Checks of the vendor's invoices: the file kept once by its SHA-256, each
//! check a row of its own with its answer (JSON the caller makes).

use super::db::{Behavior, OptionalExtension, params};
use chrono::{DateTime, Utc};

use super::{Error, Reader, Store, instant, millis};

/// A check to store.
pub struct NewCheck<'a> {
    pub contract: &'a str,
    pub sha256: &'a str,
    pub bytes: &'a [u8],
    pub at: DateTime<Utc>,
    pub by: &'a str,
}

/// A stored check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheck {
    pub id: i64,
    pub sha256: String,
    pub at: DateTime<Utc>,
    /// The answer as it was made, JSON.
    pub answer: String,
}

impl Store {
    /// Stores a check in one transaction: the file (once), and the row
    /// whose answer `answer` makes from the check's number and the answer
    /// of the last check of the same file and contract, if any.
    pub fn add_invoice_check<E>(
        &mut self,
        new: &NewCheck<'_>,
        answer: impl FnOnce(i64, Option<&StoredCheck>) -> Result<String, E>,
    ) -> Result<Result<String, E>, Error> {
        let path = self.db.path.clone();
        let sql = |action| super::sql_error(&path, action);
        let tx = self
            .db
            .conn
            .transaction_with_behavior(Behavior::Immediate)
            .map_err(sql("begin storing an invoice check"))?;
        let previous =
            last_of(&tx, new.contract, new.sha256).map_err(sql("read the last check"))?;
        let id: i64 = tx
            .query_row(
                "SELECT COALESCE(MAX(id), 0) + 1 FROM invoice_checks",
                [],
                |r| r.get(0),
            )
            .map_err(sql("number the check"))?;
        let text = match answer(id, previous.as_ref()) {
            Ok(text) => text,
            Err(e) => return Ok(Err(e)),
        };
        tx.execute(
            "INSERT OR IGNORE INTO invoice_files (sha256, bytes, first_checked) VALUES (?1, ?2, ?3)",
            params![new.sha256, new.bytes, millis(new.at)],
        )
        .map_err(sql("store the invoice file"))?;
        tx.execute(
            "INSERT INTO invoice_checks (id, contract, sha256, checked_at, checked_by, answer) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![id, new.contract, new.sha256, millis(new.at), new.by, text],
        )
        .map_err(sql("store the invoice check"))?;
        tx.commit().map_err(sql("commit the invoice check"))?;
        Ok(Ok(text))
    }
}

fn check_row(r: &super::db::Row<'_>) -> super::db::Result<StoredCheck> {
    Ok(StoredCheck {
        id: r.get(0)?,
        sha256: r.get(1)?,
        at: instant(r.get(2)?),
        answer: r.get(3)?,
    })
}

fn last_of(
    conn: &super::db::Conn,
    contract: &str,
    sha256: &str,
) -> super::db::Result<Option<StoredCheck>> {
    conn.prepare_cached(
        "SELECT id, sha256, checked_at, answer FROM invoice_checks
         WHERE contract = ?1 AND sha256 = ?2 ORDER BY id DESC LIMIT 1",
    )?
    .query_row(params![contract, sha256], check_row)
    .optional()
}

impl Reader {
    /// The number of the latest check of any contract (0: none yet).
    pub fn last_invoice_check(&self) -> Result<i64, Error> {
        self.conn
            .query_row("SELECT COALESCE(MAX(id), 0) FROM invoice_checks", [], |r| {
                r.get(0)
            })
            .map_err(self.err("read the latest invoice check"))
    }

    /// The checks of a contract, newest first.
    pub fn invoice_checks(&self, contract: &str) -> Result<Vec<StoredCheck>, Error> {
        let read = || -> super::db::Result<Vec<StoredCheck>> {
            self.conn
                .prepare_cached(
                    "SELECT id, sha256, checked_at, answer FROM invoice_checks
                     WHERE contract = ?1 ORDER BY id DESC",
                )?
                .query_map(params![contract], check_row)?
                .collect()
        };
        read().map_err(self.err("read the invoice checks"))
    }

    /// One check of a contract.
    pub fn invoice_check(&self, contract: &str, id: i64) -> Result<Option<StoredCheck>, Error> {
        self.conn
            .prepare_cached(
                "SELECT id, sha256, checked_at, answer FROM invoice_checks WHERE contract = ?1 AND id = ?2",
            )
            .and_then(|mut s| s.query_row(params![contract, id], check_row).optional())
            .map_err(self.err("read an invoice check"))
    }

    /// The files checked against a contract, each once, oldest first.
    pub fn invoice_files(&self, contract: &str) -> Result<Vec<(String, Vec<u8>)>, Error> {
        let read = || -> super::db::Result<Vec<(String, Vec<u8>)>> {
            self.conn
                .prepare_cached(
                    "SELECT f.sha256, f.bytes FROM invoice_files f
                     WHERE f.sha256 IN (SELECT sha256 FROM invoice_checks WHERE contract = ?1)
                     ORDER BY f.first_checked, f.sha256",
                )?
                .query_map(params![contract], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        };
        read().map_err(self.err("read the invoice files"))
    }
}
