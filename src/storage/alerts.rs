//! The alert history (each opening and closing, append-only), the notices
//! people are told of, and the notifications that carry them with every
//! attempt to deliver one.

use super::db::{OptionalExtension, params};

use super::{Error, Reader, Store};
use crate::timestamp::Timestamp;

/// An opening or closing as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertEvent {
    pub id: i64,
    /// The alert's identity (`alerts::Alert::key`).
    pub key: String,
    pub kind: String,
    pub serial: Option<String>,
    pub contract: Option<String>,
    pub subject: String,
    pub opened: bool,
    /// When telleverk saw the change.
    pub at: Timestamp,
    /// When the condition began, where the check knew it.
    pub since: Option<Timestamp>,
    pub message: String,
    /// The latest poll round stored when it was seen.
    pub round: Option<i64>,
    /// The notice that told of it, if one did.
    pub notice: Option<i64>,
}

/// An event a notice tells of: one stored before, or one of this write's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventRef {
    Stored(i64),
    New(usize),
}

/// A notification to store before it is first sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNotification {
    pub id: String,
    pub destination: String,
    /// `email` or `webhook`.
    pub channel: &'static str,
    /// The notice of this write it tells of (an index into
    /// [`AlertWrite::notices`]); None for a digest.
    pub notice: Option<usize>,
    pub body: String,
}

/// Where a digest's schedule stands after `due_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestMark {
    pub destination: String,
    pub channel: &'static str,
    pub due_at: Timestamp,
    /// The last notice it covered.
    pub through_notice: i64,
    /// The digest sent, if there was anything to tell.
    pub notification: Option<String>,
}

/// What one check of the alerts stores, in one transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertWrite {
    /// The events to store: their `id`, `at` and `notice` are the write's
    /// to give (whatever they hold here).
    pub events: Vec<AlertEvent>,
    pub notices: Vec<EventRef>,
    pub notifications: Vec<NewNotification>,
    pub digests: Vec<DigestMark>,
}

impl AlertWrite {
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
            && self.notices.is_empty()
            && self.notifications.is_empty()
            && self.digests.is_empty()
    }
}

/// The ids a write gave its events and notices, in its order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertWritten {
    pub events: Vec<i64>,
    pub notices: Vec<i64>,
}

/// Which events [`Reader::alert_history`] returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertHistoryFilter {
    pub kind: Option<String>,
    pub serial: Option<String>,
    pub contract: Option<String>,
    /// Only events before this id (the page before).
    pub before: Option<i64>,
    /// Only openings (true) or only closings (false).
    pub opened: Option<bool>,
}

/// A notification not yet delivered nor given up, with its attempts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingNotification {
    /// Its place in the order notifications were stored.
    pub seq: i64,
    pub id: String,
    pub destination: String,
    pub channel: String,
    pub created_at: Timestamp,
    pub body: String,
    pub attempts: u32,
    pub last_attempt: Option<Timestamp>,
    /// Delivered or given up since it was read (the reader's own mark).
    pub settled: bool,
}

const EVENT_COLUMNS: &str = "e.id, e.alert, e.kind, e.serial, e.contract, e.subject, e.opened, \
     e.at, e.since, e.message, e.round, (SELECT n.id FROM alert_notices n WHERE n.event = e.id)";

fn event_row(row: &super::db::Row<'_>) -> super::db::Result<AlertEvent> {
    Ok(AlertEvent {
        id: row.get(0)?,
        key: row.get(1)?,
        kind: row.get(2)?,
        serial: row.get(3)?,
        contract: row.get(4)?,
        subject: row.get(5)?,
        opened: row.get::<_, i64>(6)? == 1,
        at: Timestamp::from_millis(row.get(7)?),
        since: row.get::<_, Option<i64>>(8)?.map(Timestamp::from_millis),
        message: row.get(9)?,
        round: row.get(10)?,
        notice: row.get(11)?,
    })
}

impl Reader {
    /// The openings of every alert open now (its latest event opened it).
    pub fn open_alert_events(&self) -> Result<Vec<AlertEvent>, Error> {
        let sql = super::sql_error(&self.path, "read the open alerts");
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {EVENT_COLUMNS} FROM alert_events e \
                 JOIN (SELECT max(id) AS id FROM alert_events GROUP BY alert) latest \
                   ON latest.id = e.id \
                 WHERE e.opened = 1 ORDER BY e.id"
            ))
            .map_err(&sql)?;
        let rows = stmt.query_map([], event_row).map_err(&sql)?;
        rows.collect::<Result<_, _>>().map_err(sql)
    }

    /// Openings and closings, newest first, at most `limit`.
    pub fn alert_history(
        &self,
        filter: &AlertHistoryFilter,
        limit: usize,
    ) -> Result<Vec<AlertEvent>, Error> {
        let sql = super::sql_error(&self.path, "read the alert history");
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {EVENT_COLUMNS} FROM alert_events e \
                 WHERE (?1 IS NULL OR e.kind = ?1) AND (?2 IS NULL OR e.serial = ?2) \
                   AND (?3 IS NULL OR e.contract = ?3) AND (?4 IS NULL OR e.id < ?4) \
                   AND (?6 IS NULL OR e.opened = ?6) \
                 ORDER BY e.id DESC LIMIT ?5"
            ))
            .map_err(&sql)?;
        let rows = stmt
            .query_map(
                params![
                    filter.kind,
                    filter.serial,
                    filter.contract,
                    filter.before,
                    i64::try_from(limit).unwrap_or(i64::MAX),
                    filter.opened
                ],
                event_row,
            )
            .map_err(&sql)?;
        rows.collect::<Result<_, _>>().map_err(sql)
    }

    /// The id of the latest poll round stored.
    pub fn latest_round(&self) -> Result<Option<i64>, Error> {
        self.conn
            .query_row("SELECT max(id) FROM rounds", [], |r| r.get(0))
            .map_err(super::sql_error(&self.path, "read the latest round"))
    }

    /// The latest notice's id (0 when none).
    pub fn latest_notice(&self) -> Result<i64, Error> {
        self.conn
            .query_row("SELECT coalesce(max(id), 0) FROM alert_notices", [], |r| {
                r.get(0)
            })
            .map_err(super::sql_error(&self.path, "read the latest notice"))
    }

    /// The notices after `after`, oldest first, with the events they tell of.
    pub fn notices_after(&self, after: i64) -> Result<Vec<AlertEvent>, Error> {
        let sql = super::sql_error(&self.path, "read the notices");
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {EVENT_COLUMNS} FROM alert_notices n JOIN alert_events e ON e.id = n.event \
                 WHERE n.id > ?1 ORDER BY n.id"
            ))
            .map_err(&sql)?;
        let rows = stmt.query_map(params![after], event_row).map_err(&sql)?;
        rows.collect::<Result<_, _>>().map_err(sql)
    }

    /// Where a digest's schedule stands: the latest due time it was marked
    /// at and the last notice it covered.
    pub fn last_digest(
        &self,
        destination: &str,
        channel: &str,
    ) -> Result<Option<(Timestamp, i64)>, Error> {
        self.conn
            .query_row(
                "SELECT due_at, through_notice FROM digests \
                 WHERE destination = ?1 AND channel = ?2 ORDER BY due_at DESC, rowid DESC LIMIT 1",
                params![destination, channel],
                |r| Ok((Timestamp::from_millis(r.get(0)?), r.get(1)?)),
            )
            .optional()
            .map_err(super::sql_error(&self.path, "read a digest's schedule"))
    }

    /// Notifications neither delivered nor given up, stored after the one
    /// at `after` (a [`PendingNotification::seq`]; 0: all), oldest first.
    pub fn pending_notifications(&self, after: i64) -> Result<Vec<PendingNotification>, Error> {
        let sql = super::sql_error(&self.path, "read the notifications to send");
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT n.id, n.destination, n.channel, n.created_at, n.body, \
                        count(a.at), max(a.at), n.seq \
                 FROM notifications n LEFT JOIN notification_attempts a ON a.notification = n.id \
                 WHERE n.seq > ?1 AND NOT EXISTS (SELECT 1 FROM notification_attempts d \
                                   WHERE d.notification = n.id \
                                     AND (d.error IS NULL OR d.gave_up = 1)) \
                 GROUP BY n.seq ORDER BY n.seq",
            )
            .map_err(&sql)?;
        let rows = stmt
            .query_map(params![after], |r| {
                Ok(PendingNotification {
                    seq: r.get(7)?,
                    id: r.get(0)?,
                    destination: r.get(1)?,
                    channel: r.get(2)?,
                    created_at: Timestamp::from_millis(r.get(3)?),
                    body: r.get(4)?,
                    attempts: r.get::<_, i64>(5)?.try_into().unwrap_or(u32::MAX),
                    last_attempt: r.get::<_, Option<i64>>(6)?.map(Timestamp::from_millis),
                    settled: false,
                })
            })
            .map_err(&sql)?;
        rows.collect::<Result<_, _>>().map_err(sql)
    }

    /// A notification's attempts: (at, error, gave up), oldest first.
    pub fn notification_attempts(
        &self,
        id: &str,
    ) -> Result<Vec<(Timestamp, Option<String>, bool)>, Error> {
        let sql = super::sql_error(&self.path, "read a notification's attempts");
        let mut stmt = self
            .conn
            .prepare(
                "SELECT at, error, gave_up FROM notification_attempts \
                 WHERE notification = ?1 ORDER BY at, rowid",
            )
            .map_err(&sql)?;
        let rows = stmt
            .query_map(params![id], |r| {
                Ok((
                    Timestamp::from_millis(r.get(0)?),
                    r.get(1)?,
                    r.get::<_, i64>(2)? == 1,
                ))
            })
            .map_err(&sql)?;
        rows.collect::<Result<_, _>>().map_err(sql)
    }
}

impl Store {
    /// Stores one check's events, notices, notifications and digest marks
    /// in one transaction, all stamped `at`.
    pub fn record_alerts(
        &mut self,
        write: &AlertWrite,
        at: Timestamp,
    ) -> Result<AlertWritten, Error> {
        let sql = super::sql_error(&self.db.path, "record the alerts");
        let tx = self
            .db
            .conn
            .transaction_with_behavior(super::db::Behavior::Immediate)
            .map_err(&sql)?;
        let mut written = AlertWritten::default();
        {
            let mut event = tx
                .prepare_cached(
                    "INSERT INTO alert_events \
                     (alert, kind, serial, contract, subject, opened, at, since, message, round) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) RETURNING id",
                )
                .map_err(&sql)?;
            for e in &write.events {
                let id = event
                    .query_row(
                        params![
                            e.key,
                            e.kind,
                            e.serial,
                            e.contract,
                            e.subject,
                            i64::from(e.opened),
                            at.millis(),
                            e.since.map(Timestamp::millis),
                            e.message,
                            e.round
                        ],
                        |r| r.get(0),
                    )
                    .map_err(&sql)?;
                written.events.push(id);
            }
            let mut notice = tx
                .prepare_cached(
                    "INSERT INTO alert_notices (event, at) VALUES (?1, ?2) RETURNING id",
                )
                .map_err(&sql)?;
            for r in &write.notices {
                let id = match *r {
                    EventRef::Stored(id) => id,
                    EventRef::New(i) => written.events[i],
                };
                let notice = notice
                    .query_row(params![id, at.millis()], |r| r.get(0))
                    .map_err(&sql)?;
                written.notices.push(notice);
            }
            let mut notification = tx
                .prepare_cached(
                    "INSERT INTO notifications (id, destination, channel, notice, created_at, body) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(&sql)?;
            for n in &write.notifications {
                notification
                    .execute(params![
                        n.id,
                        n.destination,
                        n.channel,
                        n.notice.map(|i| written.notices[i]),
                        at.millis(),
                        n.body
                    ])
                    .map_err(&sql)?;
            }
            let mut digest = tx
                .prepare_cached(
                    "INSERT INTO digests (destination, channel, due_at, through_notice, notification) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(&sql)?;
            for d in &write.digests {
                digest
                    .execute(params![
                        d.destination,
                        d.channel,
                        d.due_at.millis(),
                        d.through_notice,
                        d.notification
                    ])
                    .map_err(&sql)?;
            }
        }
        tx.commit().map_err(&sql)?;
        Ok(written)
    }

    /// Records an attempt to deliver a notification: `error` None when it
    /// was delivered, `gave_up` on the last one.
    pub fn record_attempt(
        &mut self,
        id: &str,
        at: Timestamp,
        error: Option<&str>,
        gave_up: bool,
    ) -> Result<(), Error> {
        self.db
            .conn
            .execute(
                "INSERT INTO notification_attempts (notification, at, error, gave_up) \
                 VALUES (?1, ?2, ?3, ?4)",
                params![id, at.millis(), error, i64::from(gave_up)],
            )
            .map_err(super::sql_error(
                &self.db.path,
                "record a notification attempt",
            ))?;
        Ok(())
    }
}
