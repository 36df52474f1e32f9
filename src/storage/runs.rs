//! Runs of scheduled reports and the mails that carry their files.

use super::db::{OptionalExtension, params};
use chrono::{DateTime, Utc};

use super::{Error, Reader, Store, instant, millis};

/// A run as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRun {
    pub id: i64,
    pub name: String,
    /// The time it was due; None for a run asked for.
    pub scheduled_at: Option<DateTime<Utc>>,
    pub ran_at: DateTime<Utc>,
    pub period: String,
    /// The file written; None when the run failed.
    pub file: Option<String>,
    pub error: Option<String>,
    /// The addresses it is mailed to; empty when not mailed.
    pub mail_to: Vec<String>,
    /// When a mail of it was sent; None while not (yet) sent.
    pub mailed_at: Option<DateTime<Utc>>,
    /// The error of the latest failed attempt, when none has succeeded.
    pub mail_error: Option<String>,
}

/// A run about to be recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRun<'a> {
    pub name: &'a str,
    pub scheduled_at: Option<DateTime<Utc>>,
    pub ran_at: DateTime<Utc>,
    pub period: &'a str,
    pub file: Option<&'a str>,
    pub error: Option<&'a str>,
    pub mail_to: &'a [String],
}

const RUN_COLUMNS: &str = "r.id, r.name, r.scheduled_at, r.ran_at, r.period, r.file, r.error, \
     r.mail_to, \
     (SELECT min(m.at) FROM report_mails m WHERE m.run_id = r.id AND m.error IS NULL), \
     (SELECT m.error FROM report_mails m WHERE m.run_id = r.id ORDER BY m.at DESC, m.rowid DESC LIMIT 1)";

fn run_row(row: &super::db::Row<'_>) -> super::db::Result<ReportRun> {
    let mail_to: Option<String> = row.get(7)?;
    let mailed_at: Option<i64> = row.get(8)?;
    let last_error: Option<String> = row.get(9)?;
    Ok(ReportRun {
        id: row.get(0)?,
        name: row.get(1)?,
        scheduled_at: row.get::<_, Option<i64>>(2)?.map(instant),
        ran_at: instant(row.get(3)?),
        period: row.get(4)?,
        file: row.get(5)?,
        error: row.get(6)?,
        mail_to: mail_to
            .map(|m| m.split(", ").map(str::to_owned).collect())
            .unwrap_or_default(),
        mailed_at: mailed_at.map(instant),
        mail_error: if mailed_at.is_some() {
            None
        } else {
            last_error
        },
    })
}

impl Reader {
    /// When telleverk first knew the report `name`, if it has.
    pub fn report_since(&self, name: &str) -> Result<Option<DateTime<Utc>>, Error> {
        self.conn
            .query_row(
                "SELECT since FROM report_schedules WHERE name = ?1",
                params![name],
                |r| r.get::<_, i64>(0),
            )
            .optional()
            .map(|v| v.map(instant))
            .map_err(super::sql_error(&self.path, "read a report's schedule"))
    }

    /// The latest time the report `name` was run for on its schedule.
    pub fn last_scheduled_run(&self, name: &str) -> Result<Option<DateTime<Utc>>, Error> {
        self.conn
            .query_row(
                "SELECT max(scheduled_at) FROM report_runs WHERE name = ?1",
                params![name],
                |r| r.get::<_, Option<i64>>(0),
            )
            .map(|v| v.map(instant))
            .map_err(super::sql_error(&self.path, "read a report's last run"))
    }

    /// The runs of the report `name` (all when None), newest first, at most `limit`.
    pub fn report_runs(&self, name: Option<&str>, limit: usize) -> Result<Vec<ReportRun>, Error> {
        let sql = super::sql_error(&self.path, "read report runs");
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {RUN_COLUMNS} FROM report_runs r \
                 WHERE ?1 IS NULL OR r.name = ?1 ORDER BY r.id DESC LIMIT ?2"
            ))
            .map_err(&sql)?;
        let rows = stmt
            .query_map(params![name, limit as i64], run_row)
            .map_err(&sql)?;
        rows.collect::<Result<_, _>>().map_err(sql)
    }

    /// Runs with a file to mail that no mail has carried yet, oldest first.
    pub fn unmailed_runs(&self) -> Result<Vec<ReportRun>, Error> {
        let sql = super::sql_error(&self.path, "read unmailed report runs");
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {RUN_COLUMNS} FROM report_runs r \
                 WHERE r.mail_to IS NOT NULL AND r.file IS NOT NULL \
                 AND NOT EXISTS (SELECT 1 FROM report_mails m \
                                 WHERE m.run_id = r.id AND m.error IS NULL) \
                 ORDER BY r.id"
            ))
            .map_err(&sql)?;
        let rows = stmt.query_map([], run_row).map_err(&sql)?;
        rows.collect::<Result<_, _>>().map_err(sql)
    }
}

impl Store {
    /// Notes that telleverk knows the report `name` from `since` on (kept
    /// when it knew it before); returns the time it first knew it.
    pub fn know_report(
        &mut self,
        name: &str,
        since: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, Error> {
        self.db
            .conn
            .execute(
                "INSERT OR IGNORE INTO report_schedules (name, since) VALUES (?1, ?2)",
                params![name, millis(since)],
            )
            .map_err(super::sql_error(
                &self.db.path,
                "record a report's schedule",
            ))?;
        Ok(self.db.report_since(name)?.unwrap_or(since))
    }

    /// Records a run; returns its id.
    pub fn record_run(&mut self, run: &NewRun<'_>) -> Result<i64, Error> {
        let mail_to = (!run.mail_to.is_empty()).then(|| run.mail_to.join(", "));
        self.db
            .conn
            .query_row(
                "INSERT INTO report_runs \
                 (name, scheduled_at, ran_at, period, file, error, mail_to) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id",
                params![
                    run.name,
                    run.scheduled_at.map(millis),
                    millis(run.ran_at),
                    run.period,
                    run.file,
                    run.error,
                    mail_to
                ],
                |r| r.get(0),
            )
            .map_err(super::sql_error(&self.db.path, "record a report run"))
    }

    /// Records an attempt to mail a run's file: `error` None when it was sent.
    pub fn record_mail(
        &mut self,
        run_id: i64,
        at: DateTime<Utc>,
        error: Option<&str>,
    ) -> Result<(), Error> {
        self.db
            .conn
            .execute(
                "INSERT INTO report_mails (run_id, at, error) VALUES (?1, ?2, ?3)",
                params![run_id, millis(at), error],
            )
            .map_err(super::sql_error(&self.db.path, "record a report mail"))?;
        Ok(())
    }
}
