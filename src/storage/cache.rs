//! The latest stored state of every device and entry, kept in memory so a round
//! can decide what changed without reading the database. Loaded once at open;
//! updated only after a round's transaction commits.

use std::collections::HashMap;

use super::db::{Conn, params};

use crate::meters::{Meter, PendingDrop, ValueKind};
use crate::supplies::Supply;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct InfoRow {
    pub model: Option<String>,
    pub sys_descr: Option<String>,
    pub sys_object_id: Option<String>,
    pub profile: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub(super) struct DeviceState {
    /// Last polled value of each meter, by meter code.
    pub meters: [Option<(u64, ValueKind)>; Meter::ALL.len()],
    pub pending: HashMap<Meter, PendingDrop>,
    /// Each supply index's latest stored row, as a [`fingerprint`]: the
    /// cache only needs to tell a changed row, and 10 000 devices' rows in
    /// full were about 25 MB of a 10 000-device service.
    pub supplies: HashMap<u32, u64>,
    pub info: Option<InfoRow>,
    pub last_entry: Option<i64>,
    pub last_poll: Option<i64>,
}

#[derive(Debug, Clone, Copy, Default)]
pub(super) struct EntryState {
    pub id: i64,
    pub last_device: Option<i64>,
}

#[derive(Debug, Clone, Default)]
pub(super) struct Cache {
    pub entries: HashMap<String, EntryState>,
    pub devices: HashMap<String, i64>,
    pub state: HashMap<i64, DeviceState>,
    pub supply_sets: HashMap<String, i64>,
}

impl Cache {
    pub fn load(conn: &Conn) -> super::db::Result<Cache> {
        let mut cache = Cache::default();
        let mut stmt = conn.prepare("SELECT id, key FROM entries")?;
        for row in stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))? {
            let (id, key) = row?;
            cache.entries.insert(
                key,
                EntryState {
                    id,
                    last_device: None,
                },
            );
        }
        let mut stmt = conn.prepare("SELECT id, serial FROM devices")?;
        for row in stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))? {
            let (id, serial) = row?;
            cache.devices.insert(serial, id);
            cache.state.insert(id, load_device(conn, id)?);
        }
        let mut stmt = conn.prepare("SELECT id, indices FROM supply_sets")?;
        for row in stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))? {
            let (id, indices) = row?;
            cache.supply_sets.insert(indices, id);
        }
        load_pending(conn, &mut cache)?;
        // Each entry's last device: the latest it changed to (schema 11).
        let mut last = conn.prepare_cached(
            "SELECT device_id FROM entry_devices WHERE entry_id = ?1 ORDER BY at DESC LIMIT 1",
        )?;
        for e in cache.entries.values_mut() {
            let mut rows = last.query(params![e.id])?;
            if let Some(r) = rows.next()? {
                e.last_device = Some(r.get(0)?);
            }
        }
        Ok(cache)
    }
}

fn load_device(conn: &Conn, id: i64) -> super::db::Result<DeviceState> {
    let mut st = DeviceState::default();
    let mut last = conn.prepare_cached(
        "SELECT value, kind FROM meter_values WHERE device_id = ?1 AND meter = ?2 AND source = 0
         ORDER BY at DESC LIMIT 1",
    )?;
    for meter in Meter::ALL {
        let mut rows = last.query(params![id, meter.code()])?;
        if let Some(r) = rows.next()? {
            let kind = ValueKind::from_code(r.get(1)?).unwrap_or(ValueKind::Integer);
            st.meters[usize::from(meter.code())] = Some((r.get::<_, i64>(0)? as u64, kind));
        }
    }
    let mut poll = conn.prepare_cached(
        "SELECT at, entry_id FROM polls WHERE device_id = ?1 ORDER BY at DESC LIMIT 1",
    )?;
    let mut rows = poll.query(params![id])?;
    if let Some(r) = rows.next()? {
        st.last_poll = Some(r.get(0)?);
        st.last_entry = Some(r.get(1)?);
    }
    for supply in super::fleet::latest_supplies(conn, id)? {
        st.supplies.insert(supply.index, fingerprint(&supply));
    }
    let mut info = conn.prepare_cached(
        "SELECT model, sys_descr, sys_object_id, profile FROM device_info
         WHERE device_id = ?1 ORDER BY at DESC LIMIT 1",
    )?;
    let mut rows = info.query(params![id])?;
    if let Some(r) = rows.next()? {
        st.info = Some(InfoRow {
            model: r.get(0)?,
            sys_descr: r.get(1)?,
            sys_object_id: r.get(2)?,
            profile: r.get(3)?,
        });
    }
    Ok(st)
}

/// What the cache keeps of a supply row: a 64-bit digest of every stored
/// field (SipHash with fixed keys, the same in every process). Two different
/// rows share one with a chance of about 1 in 2^64, so a change is missed
/// practically never; `percent` follows from level and max.
pub(super) fn fingerprint(s: &Supply) -> u64 {
    use std::hash::{Hash, Hasher};
    #[allow(deprecated)]
    let mut h = std::hash::SipHasher::new_with_keys(0x7465_6c6c, 0x7665_726b);
    (&s.index, &s.description, &s.kind, &s.colour, s.level, s.max).hash(&mut h);
    h.finish()
}

/// A drop is pending while its device and meter's latest reset/wrap/glitch event
/// is a suspicion.
fn load_pending(conn: &Conn, cache: &mut Cache) -> super::db::Result<()> {
    let mut stmt = conn.prepare(
        "SELECT device_id, meter, kind, before, after FROM events
         WHERE kind IN ('suspected_reset', 'suspected_wrap', 'confirmed_reset', 'confirmed_wrap', 'glitch')
         ORDER BY id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, i64>(3)?,
            r.get::<_, i64>(4)?,
        ))
    })?;
    for row in rows {
        let (device, meter, kind, before, after) = row?;
        let (Some(meter), Some(st)) = (Meter::from_code(meter), cache.state.get_mut(&device))
        else {
            continue;
        };
        if kind.starts_with("suspected") {
            st.pending.insert(
                meter,
                PendingDrop {
                    before: before as u64,
                    low: after as u64,
                    wrap: kind == "suspected_wrap",
                },
            );
        } else {
            st.pending.remove(&meter);
        }
    }
    Ok(())
}
