//! The central server's side of forwarding: a site's batch replayed through
//! this store in one transaction, exactly once, in the site's order; and
//! what the central knows of each site.
//!
//! Each batch that applied something is a row of `site_contacts`: the last
//! item of its stream applied after it is the highest `through`, so a batch
//! sent again (its answer lost) changes nothing, and one that leaves a gap
//! is refused with the number expected. Every accepted request, one that
//! applied nothing too, is the site's last contact (`site_seen`); a refused
//! one is not.
//!
//! What a site may change is its own: its entries (keyed `site/key`), its
//! rounds (`site_rounds`, apart from the central's own), and the readings
//! its people entered (`entered_by` is `who@site`); a reading the central's
//! own people entered is never replaced or withdrawn by a site's.

use chrono::{DateTime, Utc};

use super::db::{Tx, params};
use super::write::{Writer, begin, commit, round_counts};
use super::{Error, Reader, Store, millis};
use crate::display::Display;
use crate::import::ImportRow;
use crate::record::{PollRecord, RoundRecord};
use crate::wire::{Batch, EnteredReading, Item, site_entry_key};

/// What an accepted batch did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ingested {
    /// The last item of the site now applied.
    pub through: u64,
    /// Items of this batch applied now (the rest were applied before).
    pub applied: u64,
}

/// A batch the central did not take; nothing of it was stored.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("the batch starts at item {first}, but the central has applied items through {}: send from item {expected}", expected.saturating_sub(1))]
    Gap { first: u64, expected: u64 },
    #[error("item {seq}: {message}")]
    Invalid { seq: u64, message: String },
    #[error(transparent)]
    Storage(#[from] Error),
}

/// A site as the central knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteRow {
    pub name: String,
    pub first_contact: DateTime<Utc>,
    pub last_contact: DateTime<Utc>,
    /// The last item applied.
    pub through: u64,
    /// Items the site had still to send after its last request.
    pub backlog: u64,
    /// The stream of its items the central counts now.
    pub stream: String,
    /// The site's telleverk version, as it last said.
    pub version: String,
    /// Entries of the site the central has polls of.
    pub entries: u64,
}

/// An item made ready to apply: checked, entries keyed per site.
enum Replay {
    Round(Option<RoundRecord>, Vec<PollRecord>),
    Readings {
        by: String,
        at: DateTime<Utc>,
        rows: Vec<EnteredReading>,
    },
    /// The reading's key (its value unused), who withdrew it, when and why.
    Withdrawal {
        reading: EnteredReading,
        by: String,
        when: DateTime<Utc>,
        reason: String,
    },
}

fn replay(site: &str, item: &Item) -> Result<Replay, crate::wire::Invalid> {
    Ok(match item {
        Item::Round { round, polls } => Replay::Round(
            round.as_ref().map(crate::wire::Round::record).transpose()?,
            polls
                .iter()
                .map(|p| p.record(site_entry_key(site, &p.entry)))
                .collect::<Result<_, _>>()?,
        ),
        Item::Readings { by, at, readings } => Replay::Readings {
            by: by.clone(),
            at: DateTime::from_timestamp_millis(*at).ok_or_else(|| {
                crate::wire::Invalid(format!("readings.at: {at} is not an instant"))
            })?,
            rows: readings
                .iter()
                .map(crate::wire::entered)
                .collect::<Result<_, _>>()?,
        },
        Item::Withdrawal(w) => {
            let (serial, meter, at, source, when) = w.key()?;
            Replay::Withdrawal {
                reading: EnteredReading {
                    serial,
                    meter,
                    at,
                    source,
                    value: 0,
                },
                by: w.by.clone(),
                when,
                reason: w.reason.clone(),
            }
        }
    })
}

impl Store {
    /// Applies a site's batch in one transaction: items already applied are
    /// skipped, the rest replayed in order (rounds through the same writer
    /// the collector uses, entries keyed per site), and the request noted.
    pub fn ingest(&mut self, batch: &Batch, at: DateTime<Utc>) -> Result<Ingested, IngestError> {
        if batch.first == 0 {
            return Err(IngestError::Invalid {
                seq: 0,
                message: "items are numbered from 1".into(),
            });
        }
        if !crate::wire::stream_ok(&batch.stream) {
            return Err(IngestError::Invalid {
                seq: batch.first,
                message: "stream: not 1 to 64 letters and digits".into(),
            });
        }
        let replays = batch
            .items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                replay(&batch.site, item).map_err(|e| IngestError::Invalid {
                    seq: batch.first.saturating_add(i as u64),
                    message: e.0,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let path = self.db.path.clone();
        let sql = |action| super::sql_error(&path, action);
        let tx = begin(&mut self.db.conn, &mut self.cache, &mut self.synced, &path)?;
        let site = site_id(&tx, &batch.site, millis(at)).map_err(sql("add the site"))?;
        let through =
            site_through(&tx, site, &batch.stream).map_err(sql("read the site's progress"))?;
        if batch.first > through + 1 {
            return Err(IngestError::Gap {
                first: batch.first,
                expected: through + 1,
            });
        }
        let skip = usize::try_from(through + 1 - batch.first).unwrap_or(usize::MAX);
        let fresh = replays.get(skip..).unwrap_or_default();
        let written = (|| {
            let mut w = Writer::new(&tx, &mut self.cache, Some(site));
            for r in fresh {
                apply(&mut w, site, &batch.site, r).map_err(sql("apply a site's item"))?;
            }
            let (pending, summary) = w.finish().map_err(sql("apply a site's polls"))?;
            for e in &summary.events {
                tracing::info!(site = %batch.site, "{}: {}", e.kind, e.detail);
            }
            Ok::<_, Error>(pending)
        })();
        let pending = match written {
            Ok(p) => p,
            Err(e) => {
                drop(tx);
                self.reload_after_failure();
                return Err(e.into());
            }
        };
        let now_through = through.max(batch.first + batch.items.len() as u64 - 1);
        let remaining = batch.backlog.saturating_sub(batch.items.len() as u64);
        let noted = note_contact(&tx, site, batch, at, now_through, fresh.len(), remaining)
            .map_err(sql("note the site's request"))
            .and_then(|()| commit(tx, &path, "commit a site's batch"));
        match noted {
            Ok(version) => {
                self.settle(pending, version);
                Ok(Ingested {
                    through: now_through,
                    applied: fresh.len() as u64,
                })
            }
            Err(e) => {
                self.reload_after_failure();
                Err(e.into())
            }
        }
    }
}

/// The request noted: the batch, when it applied something; the site's
/// last contact always.
fn note_contact(
    tx: &Tx<'_>,
    site: i64,
    batch: &Batch,
    at: DateTime<Utc>,
    through: u64,
    applied: usize,
    remaining: u64,
) -> super::db::Result<()> {
    let clamp = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    if applied > 0 {
        tx.prepare_cached(
            "INSERT INTO site_contacts (site_id, stream, at, through, applied) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![site, batch.stream, millis(at), clamp(through), applied as i64])?;
    }
    tx.prepare_cached(
        "INSERT INTO site_seen (site_id, at, stream, backlog, version) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (site_id) DO UPDATE SET at = excluded.at, stream = excluded.stream, backlog = excluded.backlog, version = excluded.version",
    )?
    .execute(params![
        site,
        millis(at),
        batch.stream,
        clamp(remaining),
        batch.version
    ])?;
    Ok(())
}

fn site_id(tx: &Tx<'_>, name: &str, at: i64) -> super::db::Result<i64> {
    tx.prepare_cached(
        "INSERT INTO sites (name, first_contact) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
    )?
    .execute(params![name, at])?;
    tx.prepare_cached("SELECT id FROM sites WHERE name = ?1")?
        .query_row(params![name], |r| r.get(0))
}

fn site_through(tx: &Tx<'_>, site: i64, stream: &str) -> super::db::Result<u64> {
    let through: Option<i64> = tx
        .prepare_cached(
            "SELECT max(through) FROM site_contacts WHERE site_id = ?1 AND stream = ?2",
        )?
        .query_row(params![site, stream], |r| r.get(0))?;
    Ok(through.unwrap_or(0).max(0) as u64)
}

fn apply(w: &mut Writer<'_>, site: i64, name: &str, r: &Replay) -> super::db::Result<()> {
    match r {
        Replay::Round(round, polls) => {
            if let Some(round) = round {
                site_round(w.tx(), site, round, polls)?;
            }
            for p in polls {
                // Sent again by a copy of the site's database that began a
                // new stream: the central has it already.
                if w.has_poll(p)? {
                    continue;
                }
                // Older than what the central holds of the device from
                // elsewhere (a site's history sent after the central polled
                // the device itself, a device that moved): stored, it would
                // land after that poll, out of its time.
                if let Some((last, entry)) = w.later_elsewhere(p)? {
                    if let crate::record::Outcome::Ok(d) = &p.outcome {
                        tracing::warn!(
                            "site {name}: the poll of {} at {} through {} is older than the central's latest poll of it ({} through {entry}): not stored, so the series keeps its order",
                            d.serial,
                            p.at.to_rfc3339(),
                            p.entry_key,
                            super::instant(last).to_rfc3339()
                        );
                    }
                    continue;
                }
                w.record(p)?;
            }
        }
        Replay::Readings { by, at, rows } => {
            let by = format!("{by}@{name}");
            let entering = super::manual::Entering {
                by: &by,
                at: *at,
                accept_implausible: true,
                shown: Display::default(),
            };
            for row in rows {
                let device = w.device_id(row.serial.as_str(), millis(row.at))?;
                let key_at = millis(row.at);
                match super::manual::in_force(w.tx(), device, row.meter, key_at, row.source)? {
                    Some(f) if f.value == row.value => continue,
                    Some(f) if !of_site(f.entered_by.as_deref(), name) => {
                        tracing::warn!(
                            "{} {} at {} ({}): site {name} entered {}, the central's own {} stays in force",
                            row.serial,
                            row.meter,
                            row.at,
                            row.source.name(),
                            row.value,
                            f.value
                        );
                        continue;
                    }
                    _ => {}
                }
                let import = ImportRow {
                    line: 0,
                    serial: row.serial.clone(),
                    at: row.at,
                    meter: row.meter,
                    value: row.value,
                    source: row.source,
                };
                super::manual::insert(w.tx(), device, &import, entering)?;
            }
        }
        Replay::Withdrawal {
            reading,
            by,
            when,
            reason,
        } => {
            let device = w.device_id(reading.serial.as_str(), millis(reading.at))?;
            let found = super::manual::in_force(
                w.tx(),
                device,
                reading.meter,
                millis(reading.at),
                reading.source,
            )?;
            match found {
                Some(f) if of_site(f.entered_by.as_deref(), name) => {
                    w.tx()
                        .prepare_cached(
                            "INSERT INTO reading_withdrawals (reading_id, at, by, reason) VALUES (?1, ?2, ?3, ?4)",
                        )?
                        .execute(params![f.id, millis(*when), format!("{by}@{name}"), reason])?;
                }
                _ => tracing::warn!(
                    "site {name} withdrew {} {} at {} ({}), which no reading of the site's is in force for at the central: nothing withdrawn",
                    reading.serial,
                    reading.meter,
                    reading.at,
                    reading.source.name()
                ),
            }
        }
    }
    Ok(())
}

/// Whether a reading was entered at site `name` (`who@name`).
fn of_site(entered_by: Option<&str>, name: &str) -> bool {
    entered_by.is_some_and(|by| by.rsplit_once('@').is_some_and(|(_, site)| site == name))
}

/// A site's round, kept apart from the central's own (uptime reads those):
/// once, even when sent again by a copy of the site's database.
fn site_round(
    tx: &Tx<'_>,
    site: i64,
    round: &RoundRecord,
    records: &[PollRecord],
) -> super::db::Result<()> {
    let started = millis(round.started);
    let known: i64 = tx
        .prepare_cached("SELECT count(*) FROM site_rounds WHERE site_id = ?1 AND started = ?2")?
        .query_row(params![site, started], |r| r.get(0))?;
    if known > 0 {
        return Ok(());
    }
    let (answered, failed, aborted) = round_counts(records);
    tx.prepare_cached(
        "INSERT INTO site_rounds (site_id, started, ended, interval_ms, entries, answered, failed, aborted, ending)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        site,
        started,
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

impl Reader {
    /// Every site that has forwarded to this store, by name.
    pub fn sites(&self) -> Result<Vec<SiteRow>, Error> {
        let err = self.err("read the sites");
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT s.name, s.first_contact, seen.at,
                        (SELECT coalesce(max(c.through), 0) FROM site_contacts c
                         WHERE c.site_id = s.id AND c.stream = seen.stream),
                        seen.backlog, seen.version,
                        (SELECT count(*) FROM entry_sites e WHERE e.site_id = s.id),
                        seen.stream
                 FROM sites s
                 JOIN site_seen seen ON seen.site_id = s.id
                 ORDER BY s.name",
            )
            .map_err(&err)?;
        let rows = stmt
            .query_map([], |r| {
                Ok(SiteRow {
                    name: r.get(0)?,
                    first_contact: super::instant(r.get(1)?),
                    last_contact: super::instant(r.get(2)?),
                    through: r.get::<_, i64>(3)? as u64,
                    backlog: r.get::<_, i64>(4)? as u64,
                    version: r.get(5)?,
                    entries: r.get::<_, i64>(6)? as u64,
                    stream: r.get(7)?,
                })
            })
            .map_err(&err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(&err)?;
        Ok(rows)
    }
}
