//! What discovery learnt of the network: the address each entry was last
//! found at (an entry follows its device when it moves), and the devices
//! `serve` polls because discovery found them (`[discovery] auto_add`).

use std::collections::HashMap;

use super::db::{Behavior, OptionalExtension, Tx, params};
use chrono::{DateTime, Utc};

use super::cache::EntryState;
use super::{Error, Store, instant, millis};
use crate::record::Event;
use crate::serial::Serial;

/// A device discovery found that no config entry polled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovered {
    pub serial: Serial,
    /// Where it was last found.
    pub address: String,
    /// The `[discovery]` credential that answered, by name.
    pub credential: String,
    pub model: Option<String>,
    pub found: DateTime<Utc>,
}

/// What the database knows of the entries' whereabouts.
#[derive(Debug, Clone, Default)]
pub struct Known {
    /// Entry key → the address it was last found at.
    pub addresses: HashMap<String, String>,
    /// Entry key → the serial that last answered through it.
    pub serials: HashMap<String, Serial>,
    /// Every device discovered, oldest first.
    pub discovered: Vec<Discovered>,
}

/// An entry's device answers at another address now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Move {
    pub entry_key: String,
    pub serial: Serial,
    pub from: String,
    pub to: String,
}

/// A device to poll from now on though no config entry names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Added {
    /// The key of the entry it is polled through (by its serial).
    pub entry_key: String,
    pub serial: Serial,
    pub address: String,
    pub credential: String,
    pub model: Option<String>,
}

impl Store {
    /// The addresses entries were last found at, the serial each last
    /// answered with, and the devices discovered.
    pub fn known(&self) -> Result<Known, Error> {
        let read = || -> super::db::Result<Known> {
            let mut known = Known::default();
            let mut stmt = self
                .conn
                .prepare_cached("SELECT key, address FROM entries")?;
            for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get(1)?)))? {
                let (key, address) = row?;
                known.addresses.insert(key, address);
            }
            let serials: HashMap<i64, &String> =
                self.cache.devices.iter().map(|(s, id)| (*id, s)).collect();
            for (key, entry) in &self.cache.entries {
                if let Some(serial) = entry.last_device.and_then(|d| serials.get(&d)) {
                    known.serials.insert(key.clone(), Serial::stored(serial));
                }
            }
            let mut stmt = self.conn.prepare_cached(
                "SELECT d.serial, e.address, d.credential, d.model, d.found
                 FROM discovered d JOIN entries e ON e.id = d.entry_id ORDER BY d.found, d.serial",
            )?;
            for row in stmt.query_map([], |r| {
                Ok(Discovered {
                    serial: r.get(0)?,
                    address: r.get(1)?,
                    credential: r.get(2)?,
                    model: r.get(3)?,
                    found: instant(r.get(4)?),
                })
            })? {
                known.discovered.push(row?);
            }
            Ok(known)
        };
        read().map_err(self.err("read what discovery found"))
    }

    /// Stores a scan's outcome in one transaction: each moved entry's new
    /// address with a `move` event, and each device added. Returns the
    /// events.
    pub fn record_discovery(
        &mut self,
        at: DateTime<Utc>,
        moves: &[Move],
        added: &[Added],
    ) -> Result<Vec<Event>, Error> {
        if moves.is_empty() && added.is_empty() {
            return Ok(Vec::new());
        }
        let path = self.db.path.clone();
        let ms = millis(at);
        let tx = self
            .db
            .conn
            .transaction_with_behavior(Behavior::Immediate)
            .map_err(super::sql_error(
                &path,
                "begin storing what discovery found",
            ))?;
        let mut new_entries = Vec::new();
        let mut new_devices = Vec::new();
        let mut events = Vec::new();
        let written = (|| -> super::db::Result<()> {
            for m in moves {
                let (entry, created) = entry_at(&tx, &m.entry_key, &m.to, ms)?;
                if created {
                    new_entries.push((m.entry_key.clone(), entry));
                }
                let (device, created) = super::device_row(&tx, &m.serial, ms)?;
                if created {
                    new_devices.push((m.serial.to_string(), device));
                }
                let detail = format!(
                    "serial {} moved from {} to {} (found there by discovery; {} is polled there from now on)",
                    m.serial, m.from, m.to, m.entry_key
                );
                events.push(event(&tx, ms, entry, device, &m.serial, detail)?);
            }
            for a in added {
                let (entry, created) = entry_at(&tx, &a.entry_key, &a.address, ms)?;
                if created {
                    new_entries.push((a.entry_key.clone(), entry));
                }
                // Found once: what it was found with first stays.
                tx.prepare_cached(
                    "INSERT OR IGNORE INTO discovered (entry_id, serial, credential, model, found) VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![entry, a.serial.as_str(), a.credential, a.model, ms])?;
            }
            Ok(())
        })();
        written.map_err(super::sql_error(&path, "store what discovery found"))?;
        tx.commit()
            .map_err(super::sql_error(&path, "commit what discovery found"))?;
        for (key, id) in new_entries {
            self.cache.entries.insert(
                key,
                EntryState {
                    id,
                    last_device: None,
                },
            );
        }
        for (serial, id) in new_devices {
            self.cache.devices.insert(serial, id);
            self.cache.state.entry(id).or_default();
        }
        Ok(events)
    }
}

/// The entry of `key`, its address set to `address` (created there when
/// new). True when it was created.
fn entry_at(tx: &Tx<'_>, key: &str, address: &str, at: i64) -> super::db::Result<(i64, bool)> {
    let id: Option<i64> = tx
        .prepare_cached("SELECT id FROM entries WHERE key = ?1")?
        .query_row(params![key], |r| r.get(0))
        .optional()?;
    match id {
        Some(id) => {
            tx.prepare_cached("UPDATE entries SET address = ?2 WHERE id = ?1")?
                .execute(params![id, address])?;
            Ok((id, false))
        }
        None => {
            let id = tx
                .prepare_cached(
                    "INSERT INTO entries (key, address, first_seen) VALUES (?1, ?2, ?3) RETURNING id",
                )?
                .query_row(params![key, address, at], |r| r.get(0))?;
            Ok((id, true))
        }
    }
}

fn event(
    tx: &Tx<'_>,
    at: i64,
    entry: i64,
    device: i64,
    serial: &Serial,
    detail: String,
) -> super::db::Result<Event> {
    tx.prepare_cached(
        "INSERT INTO events (at, entry_id, device_id, kind, detail) VALUES (?1, ?2, ?3, 'move', ?4)",
    )?
    .execute(params![at, entry, device, detail])?;
    Ok(Event {
        at: instant(at),
        serial: Some(serial.clone()),
        kind: "move".into(),
        meter: None,
        before: None,
        after: None,
        detail,
    })
}
