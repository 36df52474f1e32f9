//! What a database held before it first queued an item for the central
//! server, forwarded first: when a database with polls or entered readings
//! becomes a site, its outbox starts with a plan of that history
//! (`outbox_history`), numbered before anything queued after it, so the
//! central replays the history in order and then goes on with the live
//! items, as if the database had always been a site.
//!
//! The plan holds no copies: each item is made from the stored rows when it
//! is sent. A poll is stored as the values that changed, so a poll's reading
//! is made again from the values in force at its instant (each meter's and
//! supply's latest row at or before it, the device's latest description);
//! replayed through the central's writer it stores the same changes, and
//! the same judgements of meters that went down. What the store does not
//! keep is not sent: an entry's address at the time (its latest is), and a
//! site's rounds themselves (their polls are).

use std::collections::HashMap;

use super::db::{Conn, OptionalExtension, Tx, params};
use crate::wire::{Entered, Failed, Item, Poll, Reading, SupplyRow, Withdrawn};

/// Polls and failed polls of one span of time: spans of [`SPAN_MS`] (a
/// second: no site polls more in one second than a request carries) joined
/// until an item holds about [`ITEM_POLLS`].
const SPAN_MS: i64 = 1000;
const ITEM_POLLS: i64 = 1000;

/// What the plan holds: counts for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backfill {
    /// Successful polls and failed polls, and the instants of the first and
    /// last (Unix ms).
    pub polls: u64,
    pub failed: u64,
    pub first: Option<i64>,
    pub last: Option<i64>,
    /// Entered readings and withdrawals.
    pub entered: u64,
    pub withdrawn: u64,
    /// Items planned.
    pub items: u64,
}

/// One item of the plan.
#[derive(Debug, Clone, Copy)]
pub(super) enum Planned {
    Polls { from: i64, to: i64 },
    Entered(i64),
    Withdrawn(i64),
}

/// The plan of a database's whole history, read but not yet written.
pub(super) struct Scanned {
    items: Vec<Planned>,
    counts: Backfill,
}

/// Reads the whole history of the database into a plan; None when it
/// holds nothing to forward. Reads only: the outbox is made with
/// [`write`], in a transaction that checks nothing was stored since.
pub(super) fn scan(tx: &Conn) -> super::db::Result<Option<Scanned>> {
    let (polls, first_ok, last_ok): (i64, Option<i64>, Option<i64>) = tx
        .prepare_cached("SELECT count(*), min(at), max(at) FROM polls")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    let (failed, first_failed, last_failed): (i64, Option<i64>, Option<i64>) = tx
        .prepare_cached(
            "SELECT count(*), min(at), max(at) FROM poll_failures WHERE device_id IS NULL",
        )?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    let first = first_ok.into_iter().chain(first_failed).min();
    let last = last_ok.into_iter().chain(last_failed).max();

    let mut items: Vec<Planned> = Vec::new();
    if let Some(last) = last {
        // Each stored span with its count, in order; joined into items.
        let mut spans = tx.prepare_cached(
            "SELECT span, count(*) FROM (
                 SELECT at / ?1 AS span FROM polls
                 UNION ALL SELECT at / ?1 AS span FROM poll_failures WHERE device_id IS NULL
             ) s GROUP BY span ORDER BY span",
        )?;
        let mut rows = spans.query(params![SPAN_MS])?;
        let mut open: Option<(i64, i64)> = None;
        while let Some(row) = rows.next()? {
            let (span, count): (i64, i64) = (row.get(0)?, row.get(1)?);
            let (from, held) = open.unwrap_or((span * SPAN_MS, 0));
            if held > 0 && held + count > ITEM_POLLS {
                items.push(Planned::Polls {
                    from,
                    to: span * SPAN_MS,
                });
                open = Some((span * SPAN_MS, count));
            } else {
                open = Some((from, held + count));
            }
        }
        if let Some((from, _)) = open {
            // The last item ends after the last instant stored now: what is
            // stored from now on is queued as it is stored.
            items.push(Planned::Polls { from, to: last + 1 });
        }
    }

    // Entered readings and withdrawals in the order they were made (readings
    // entered before telleverk kept when, first).
    let mut manual: Vec<(i64, u8, i64)> = Vec::new();
    {
        let mut stmt = tx.prepare_cached(
            "SELECT id, coalesce(entered_at, -9223372036854775807) FROM entered_readings",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            manual.push((row.get(1)?, 0, row.get(0)?));
        }
    }
    let entered = manual.len() as u64;
    {
        let mut stmt = tx.prepare_cached("SELECT reading_id, at FROM reading_withdrawals")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            manual.push((row.get(1)?, 1, row.get(0)?));
        }
    }
    let withdrawn = manual.len() as u64 - entered;
    manual.sort_unstable();
    items.extend(manual.into_iter().map(|(_, kind, id)| match kind {
        0 => Planned::Entered(id),
        _ => Planned::Withdrawn(id),
    }));
    if items.is_empty() {
        return Ok(None);
    }
    let counts = Backfill {
        polls: polls as u64,
        failed: failed as u64,
        first,
        last,
        entered,
        withdrawn,
        items: items.len() as u64,
    };
    Ok(Some(Scanned { items, counts }))
}

/// Writes the plan, numbered from 1, in the transaction that makes the
/// outbox; returns its counts.
pub(super) fn write(tx: &Tx<'_>, plan: Scanned) -> super::db::Result<Backfill> {
    let Scanned { items, counts } = plan;
    let mut insert = tx.prepare_cached(
        "INSERT INTO outbox_history (seq, from_at, to_at, entered, withdrawn) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for (i, item) in items.iter().enumerate() {
        let (from, to, entered, withdrawn) = match *item {
            Planned::Polls { from, to } => (Some(from), Some(to), None, None),
            Planned::Entered(id) => (None, None, Some(id), None),
            Planned::Withdrawn(id) => (None, None, None, Some(id)),
        };
        insert.execute(params![i as i64 + 1, from, to, entered, withdrawn])?;
    }
    Ok(counts)
}

/// The planned items numbered after `through` (local numbers), in order, at
/// most `limit`.
pub(super) fn planned(
    conn: &Conn,
    through: i64,
    limit: i64,
) -> super::db::Result<Vec<(i64, Planned)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, from_at, to_at, entered, withdrawn FROM outbox_history
         WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    )?;
    let mut rows = stmt.query(params![through, limit])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let seq: i64 = row.get(0)?;
        let (from, to, entered, withdrawn): (Option<i64>, Option<i64>, Option<i64>, Option<i64>) =
            (row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?);
        let item = match (from.zip(to), entered, withdrawn) {
            (Some((from, to)), _, _) => Planned::Polls { from, to },
            (None, Some(id), _) => Planned::Entered(id),
            (None, None, Some(id)) => Planned::Withdrawn(id),
            (None, None, None) => {
                return Err(super::db::Error::Invalid(format!(
                    "outbox_history row {seq} plans nothing"
                )));
            }
        };
        out.push((seq, item));
    }
    Ok(out)
}

/// The entries and supply sets, read once for the items of one batch.
#[derive(Default)]
pub(super) struct Known {
    entries: HashMap<i64, (String, String)>,
    devices: Vec<(i64, String)>,
    supply_sets: HashMap<i64, Vec<u32>>,
}

impl Known {
    pub(super) fn read(conn: &Conn) -> super::db::Result<Known> {
        let mut known = Known::default();
        let mut stmt = conn.prepare_cached("SELECT id, key, address FROM entries")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            known
                .entries
                .insert(row.get(0)?, (row.get(1)?, row.get(2)?));
        }
        let mut stmt = conn.prepare_cached("SELECT id, serial FROM devices ORDER BY id")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            known.devices.push((row.get(0)?, row.get(1)?));
        }
        let mut stmt = conn.prepare_cached("SELECT id, indices FROM supply_sets")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let (id, text): (i64, String) = (row.get(0)?, row.get(1)?);
            let indices = text
                .split(',')
                .filter(|s| !s.is_empty())
                .map(|s| {
                    s.parse().map_err(|_| {
                        super::db::Error::Invalid(format!("supply set {id}: `{text}`"))
                    })
                })
                .collect::<super::db::Result<Vec<u32>>>()?;
            known.supply_sets.insert(id, indices);
        }
        Ok(known)
    }

    fn entry(&self, id: i64) -> Option<&(String, String)> {
        let found = self.entries.get(&id);
        if found.is_none() {
            tracing::warn!(
                "history to forward: a poll names entry {id}, which is not stored: the poll is not sent"
            );
        }
        found
    }
}

/// The item `p` stands for, made from the stored rows.
pub(super) fn item(conn: &Conn, known: &Known, p: Planned) -> super::db::Result<Item> {
    match p {
        Planned::Polls { from, to } => polls(conn, known, from, to),
        Planned::Entered(id) => entered(conn, id),
        Planned::Withdrawn(id) => withdrawal(conn, id),
    }
}

fn polls(conn: &Conn, known: &Known, from: i64, to: i64) -> super::db::Result<Item> {
    let mut out: Vec<(i64, i64, Poll)> = Vec::new();
    let mut stmt = conn.prepare_cached(
        "SELECT at, entry_id, meters, supply_set, device_status, printer_status, errors
         FROM polls WHERE device_id = ?1 AND at >= ?2 AND at < ?3 ORDER BY at",
    )?;
    for (device, serial) in &known.devices {
        let mut rows = stmt.query(params![device, from, to])?;
        while let Some(row) = rows.next()? {
            let at: i64 = row.get(0)?;
            let entry: i64 = row.get(1)?;
            let Some((key, address)) = known.entry(entry) else {
                continue;
            };
            let stored = Stored {
                device: *device,
                at,
                entry,
                mask: row.get(2)?,
                supply_set: row.get(3)?,
                device_status: row.get(4)?,
                printer_status: row.get(5)?,
                errors: row.get(6)?,
            };
            let reading = reading(conn, known, serial, &stored)?;
            out.push((
                at,
                entry,
                Poll {
                    at,
                    entry: key.clone(),
                    address: address.clone(),
                    failed: None,
                    reading: Some(reading),
                },
            ));
        }
    }
    let mut stmt = conn.prepare_cached(
        "SELECT at, cause, detail FROM poll_failures
         WHERE entry_id = ?1 AND at >= ?2 AND at < ?3 AND device_id IS NULL ORDER BY at, id",
    )?;
    for (entry, (key, address)) in &known.entries {
        let mut rows = stmt.query(params![entry, from, to])?;
        while let Some(row) = rows.next()? {
            let at: i64 = row.get(0)?;
            out.push((
                at,
                *entry,
                Poll {
                    at,
                    entry: key.clone(),
                    address: address.clone(),
                    failed: Some(Failed {
                        cause: row.get(1)?,
                        detail: row.get(2)?,
                    }),
                    reading: None,
                },
            ));
        }
    }
    // As they were polled: by instant; an entry's polls in their order.
    out.sort_by_key(|(at, entry, _)| (*at, *entry));
    Ok(Item::Round {
        round: None,
        polls: out.into_iter().map(|(_, _, p)| p).collect(),
    })
}

/// A device's description: model, sysDescr, sysObjectID, profile.
type Info = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// A stored poll's own row.
struct Stored {
    device: i64,
    at: i64,
    entry: i64,
    mask: i64,
    supply_set: Option<i64>,
    device_status: Option<i64>,
    printer_status: Option<i64>,
    errors: Option<i64>,
}

/// The reading a stored poll was: the values in force at its instant.
fn reading(conn: &Conn, known: &Known, serial: &str, p: &Stored) -> super::db::Result<Reading> {
    let mut meters = Vec::new();
    let mut value = conn.prepare_cached(
        "SELECT value, kind FROM meter_values
         WHERE device_id = ?1 AND meter = ?2 AND source = 0 AND at <= ?3
         ORDER BY at DESC LIMIT 1",
    )?;
    for code in 0..63u8 {
        if p.mask & (1 << code) == 0 {
            continue;
        }
        let found: Option<(i64, u8)> = value
            .query_row(params![p.device, code, p.at], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        match found {
            Some((v, kind)) => meters.push((code, v as u64, kind)),
            None => tracing::warn!(
                "history to forward: {serial}'s poll at {} read meter {code}, which has no value stored at or before it: sent without it",
                p.at
            ),
        }
    }
    let info: Option<Info> = conn
        .prepare_cached(
            "SELECT model, sys_descr, sys_object_id, profile FROM device_info
             WHERE device_id = ?1 AND at <= ?2 ORDER BY at DESC LIMIT 1",
        )?
        .query_row(params![p.device, p.at], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .optional()?;
    let (model, sys_descr, sys_object_id, profile) = info.unwrap_or_default();
    let supplies = match p.supply_set {
        None => None,
        Some(set) => {
            let indices = match known.supply_sets.get(&set) {
                Some(i) => i.as_slice(),
                None => {
                    tracing::warn!(
                        "history to forward: {serial}'s poll at {} names supply set {set}, which is not stored: sent without supplies",
                        p.at
                    );
                    &[]
                }
            };
            let mut stmt = conn.prepare_cached(
                "SELECT description, kind, colour, level, max FROM supply_values
                 WHERE device_id = ?1 AND idx = ?2 AND at <= ?3 ORDER BY at DESC LIMIT 1",
            )?;
            let mut rows: Vec<SupplyRow> = Vec::new();
            for &idx in indices {
                if let Some(row) = stmt
                    .query_row(params![p.device, idx, p.at], |r| {
                        Ok((idx, r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                    })
                    .optional()?
                {
                    rows.push(row);
                }
            }
            Some(rows)
        }
    };
    // A poll that read nothing, or missed something, stored that beside it.
    let problems = conn
        .prepare_cached(
            "SELECT detail FROM poll_failures
             WHERE entry_id = ?1 AND at = ?2 AND device_id = ?3 AND cause IN ('partial', 'no_meters')",
        )?
        .query_row(params![p.entry, p.at, p.device], |r| r.get::<_, String>(0))
        .optional()?
        .filter(|d| !d.is_empty())
        .into_iter()
        .collect();
    // The config named another serial for the entry: the event says which.
    let configured_serial = conn
        .prepare_cached(
            "SELECT detail FROM events
             WHERE device_id = ?1 AND at = ?2 AND entry_id = ?3 AND kind = 'serial_mismatch'",
        )?
        .query_row(params![p.device, p.at, p.entry], |r| r.get::<_, String>(0))
        .optional()?
        .and_then(|d| {
            d.strip_prefix("the config names serial ")
                .and_then(|rest| rest.split_once(" for "))
                .map(|(s, _)| s.to_owned())
        });
    Ok(Reading {
        serial: serial.to_owned(),
        configured_serial,
        model,
        sys_descr,
        sys_object_id,
        profile,
        meters,
        supplies,
        device_status: p.device_status,
        printer_status: p.printer_status,
        errors: p.errors.and_then(|e| u16::try_from(e).ok()),
        problems,
    })
}

/// An entered reading's row: serial, meter, instant, source, value, who
/// and when.
type EnteredRow = (String, u8, i64, u8, i64, Option<String>, Option<i64>);

/// An item in place of one whose rows are gone: it keeps the numbering.
fn nothing(what: &str) -> Item {
    tracing::warn!("history to forward: {what} is not stored: an empty item is sent in its place");
    Item::Round {
        round: None,
        polls: Vec::new(),
    }
}

fn entered(conn: &Conn, id: i64) -> super::db::Result<Item> {
    let row: Option<EnteredRow> = conn
        .prepare_cached(
            "SELECT d.serial, e.meter, e.at, e.source, e.value, e.entered_by, e.entered_at
             FROM entered_readings e JOIN devices d ON d.id = e.device_id WHERE e.id = ?1",
        )?
        .query_row(params![id], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        })
        .optional()?;
    let Some((serial, meter, at, source, value, by, entered_at)) = row else {
        return Ok(nothing(&format!("entered reading {id}")));
    };
    let reading: Entered = (serial, meter, at, source, value as u64);
    Ok(Item::Readings {
        // Entered before telleverk kept who and when.
        by: by.unwrap_or_else(|| "unknown".to_owned()),
        at: entered_at.unwrap_or(at),
        readings: vec![reading],
    })
}

fn withdrawal(conn: &Conn, reading: i64) -> super::db::Result<Item> {
    let w = conn
        .prepare_cached(
            "SELECT d.serial, e.meter, e.at, e.source, w.by, w.at, w.reason
             FROM reading_withdrawals w
             JOIN entered_readings e ON e.id = w.reading_id
             JOIN devices d ON d.id = e.device_id
             WHERE w.reading_id = ?1",
        )?
        .query_row(params![reading], |r| {
            Ok(Withdrawn {
                serial: r.get(0)?,
                meter: r.get(1)?,
                at: r.get(2)?,
                source: r.get(3)?,
                by: r.get(4)?,
                when: r.get(5)?,
                reason: r.get(6)?,
            })
        })
        .optional()?;
    Ok(w.map_or_else(
        || nothing(&format!("the withdrawal of entered reading {reading}")),
        Item::Withdrawal,
    ))
}
