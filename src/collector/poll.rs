//! Polling one device entry: identity, profile, scalars, supplies.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use crate::clock::Clock;
use crate::config::DeviceEntry;
use crate::meters::{DeviceColour, Parts};
use crate::oid::{Oid, Scalar};
use crate::profile::{Profile, Profiles, SuppliesSpec, sys_object_id};
use crate::record::{DeviceReading, FailureCause, Outcome, PollRecord};
use crate::serial::Serial;
use crate::snmp::Version;
use crate::snmp::{Session, Snmp};
use crate::status;
use crate::supplies::{self, RawSupply, Supply};

/// Polls one entry. `hint` is the profile it answered with last time. Returns
/// the record and the profile used (None when the poll failed before one was
/// chosen). The whole poll ends by `device_timeout`: past it, a poll that has
/// read the meters keeps them (a `partial` poll without supplies); one that
/// has not is a `timeout`.
pub async fn poll_entry(
    snmp: &Snmp,
    entry: &DeviceEntry,
    profiles: &Profiles,
    hint: Option<&str>,
    clock: &Clock,
    device_timeout: Duration,
) -> (PollRecord, Option<String>) {
    let deadline = tokio::time::Instant::now() + device_timeout;
    let over = |stage: &str| {
        format!(
            "the whole poll ran past device_timeout ({}) while {stage}",
            humantime::format_duration(device_timeout)
        )
    };
    let record = |outcome| PollRecord {
        at: clock.now(),
        entry_key: entry.key.clone(),
        address: entry.address.clone(),
        outcome,
    };
    let failed = |cause: FailureCause, detail: String| Outcome::Failed { cause, detail };
    let opened = tokio::time::timeout_at(
        deadline,
        snmp.session(&entry.address, entry.version, &entry.credentials),
    );
    let session = match opened.await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return (record(failed(e.cause, e.detail)), None),
        Err(_) => {
            let detail = over("opening the session");
            return (record(failed(FailureCause::Timeout, detail)), None);
        }
    };
    let read = tokio::time::timeout_at(deadline, scalars(&session, entry, profiles, hint, clock));
    let (profile, values, at) = match read.await {
        Ok(Ok(found)) => found,
        Ok(Err((cause, detail))) => return (record(failed(cause, detail)), None),
        Err(_) => {
            let detail = over("reading identity and meters");
            return (record(failed(FailureCause::Timeout, detail)), None);
        }
    };
    let ev = profile.evaluate(&values);
    let mut malformed = ev.malformed;
    if ev.meters.checked_total().is_none() {
        malformed.push(format!(
            "the meters together pass {}: {:?}",
            crate::meters::MAX_VALUE,
            ev.meters
                .iter()
                .map(|m| (m.meter.name(), m.value))
                .collect::<Vec<_>>()
        ));
    }
    if !malformed.is_empty() {
        let detail = format!(
            "{}; the reading is refused, never stored as a wrong number",
            malformed.join("; ")
        );
        return (
            record(failed(FailureCause::Malformed, detail)),
            Some(profile.id.clone()),
        );
    }
    let mut problems = ev.problems;
    let reported = ev.serial.as_deref().map(|s| (s, Serial::parse(s)));
    let serial = match (reported, &entry.serial) {
        (Some((_, Ok(reported))), _) => reported,
        (Some((text, Err(e))), configured) => {
            let shown = crate::serial::excerpt(text);
            let Some(configured) = configured else {
                let detail = format!(
                    "the device reports the serial {shown:?}, which cannot be used ({e}); set `serial` in its [[device]] entry"
                );
                return (
                    record(failed(FailureCause::NoSerial, detail)),
                    Some(profile.id.clone()),
                );
            };
            problems.push(format!(
                "the device reports the serial {shown:?}, which cannot be used ({e}); the configured {configured} is used"
            ));
            configured.clone()
        }
        (None, Some(configured)) => configured.clone(),
        (None, None) => {
            let detail = format!(
                "the device reports no serial number (profile {}); set `serial` in its [[device]] entry",
                profile.id
            );
            return (
                record(failed(FailureCause::NoSerial, detail)),
                Some(profile.id.clone()),
            );
        }
    };
    let supplies = match &profile.supplies {
        Some(spec) => {
            match tokio::time::timeout_at(deadline, session.columns(&spec.columns())).await {
                Ok(Ok(rows)) => Some(build_supplies(spec, &rows)),
                Ok(Err(e)) => {
                    problems.push(format!("supplies table not read: {e}"));
                    None
                }
                Err(_) => {
                    problems.push(format!(
                        "supplies table not read: {}",
                        over("walking the supplies table")
                    ));
                    None
                }
            }
        }
        None => None,
    };
    // The totals the device does not give itself, as for every reading; its
    // own supplies (and the config) say whether it is mono.
    let marked = if entry.mono {
        DeviceColour::Mono
    } else {
        DeviceColour::Unknown
    };
    let colour = marked.and(
        supplies
            .as_deref()
            .map_or(DeviceColour::Unknown, supplies::device_colour),
    );
    let mut meters = ev.meters;
    meters.derive_totals(colour, Parts::Present);
    if meters.is_empty() {
        problems.push(format!(
            "the device answered but none of profile {}'s meters did: no counter was read",
            profile.id
        ));
    }
    let reading = DeviceReading {
        configured_serial: entry.serial.clone().filter(|c| *c != serial),
        serial,
        model: ev.model,
        sys_descr: crate::profile::text_of(values.get(&crate::profile::sys_descr())),
        sys_object_id: oid_of(&values).map(|o| o.to_string()),
        profile: Some(profile.id.clone()),
        meters,
        supplies,
        device_status: ev.device_status,
        printer_status: ev.printer_status,
        errors: ev.error_octets.as_deref().map(status::error_mask),
        problems,
    };
    let mut rec = record(Outcome::Ok(Box::new(reading)));
    rec.at = at;
    (rec, Some(profile.id.clone()))
}

type Found<'p> = (
    &'p Profile,
    HashMap<Oid, Scalar>,
    chrono::DateTime<chrono::Utc>,
);

/// Reads the scalars of the right profile: in one request when the hint (or the
/// entry's fixed profile) is still right, else identity first.
async fn scalars<'p>(
    session: &Session,
    entry: &DeviceEntry,
    profiles: &'p Profiles,
    hint: Option<&str>,
    clock: &Clock,
) -> Result<Found<'p>, (FailureCause, String)> {
    let fixed = entry.profile.as_deref().and_then(|id| profiles.get(id));
    let guess = fixed.or_else(|| hint.and_then(|id| profiles.get(id)));
    // Not knowing the profile yet, ask for every profile's scalars at once when
    // they fit one request; not over v1, where each OID the device lacks costs a
    // resend (noSuchName).
    let every = profiles.all_scalar_oids();
    let (first, asked_all): (Cow<[Oid]>, bool) = match guess {
        Some(p) => (p.scalar_oids().into(), false),
        None if entry.version != Version::V1 && every.len() <= session.max_oids() => {
            (every.into(), true)
        }
        None => (
            vec![crate::profile::sys_descr(), sys_object_id()].into(),
            false,
        ),
    };
    let values = get(session, &first).await?;
    let at = clock.now();
    let Some(oid) = oid_of(&values) else {
        return Err((
            FailureCause::Malformed,
            "the device did not return sysObjectID.0".to_owned(),
        ));
    };
    let profile = match fixed.or_else(|| profiles.choose(&oid)) {
        Some(p) => p,
        None => {
            let detail = format!(
                "no profile matches sysObjectID {oid}; add one to the profiles directory or set `profile` in the [[device]] entry"
            );
            return Err((FailureCause::NoProfile, detail));
        }
    };
    if asked_all || guess.is_some_and(|g| g.id == profile.id) {
        return Ok((profile, values, at));
    }
    let values = get(session, &profile.scalar_oids()).await?;
    Ok((profile, values, clock.now()))
}

async fn get(
    session: &Session,
    oids: &[Oid],
) -> Result<HashMap<Oid, Scalar>, (FailureCause, String)> {
    session.get(oids).await.map_err(|e| (e.cause, e.detail))
}

fn oid_of(values: &HashMap<Oid, Scalar>) -> Option<Oid> {
    match values.get(&sys_object_id()) {
        Some(Scalar::ObjectId(oid)) => Some(oid.clone()),
        _ => None,
    }
}

/// A description as shown: control characters removed, trimmed.
fn printable(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let kept = text.trim_matches(|c: char| c.is_whitespace() || c.is_control());
    // Most descriptions hold no control character: one copy, no filtering.
    if kept.chars().any(char::is_control) {
        let d: String = kept.chars().filter(|c| !c.is_control()).collect();
        d.trim().to_owned()
    } else {
        kept.to_owned()
    }
}

/// Turns the walked columns into supplies. Rows are told apart by their index
/// (the last arc); the colour comes from the colorant or the description,
/// never from the index.
pub fn build_supplies(spec: &SuppliesSpec, rows: &[(Oid, Scalar)]) -> Vec<Supply> {
    let mut raw: BTreeMap<u32, RawSupply> = BTreeMap::new();
    let mut colorants: Vec<(u32, String)> = Vec::new();
    for (oid, value) in rows {
        if let Some(suffix) = spec.colorants.as_ref().and_then(|c| oid.suffix(c)) {
            if let (Some(idx), Scalar::Text(t)) = (suffix.last(), value) {
                colorants.push((*idx, String::from_utf8_lossy(t).trim().to_owned()));
            }
            continue;
        }
        let Some(&[col, .., idx]) = oid.suffix(&spec.table) else {
            continue;
        };
        let row = raw.entry(idx).or_insert_with(|| RawSupply {
            index: idx,
            ..RawSupply::default()
        });
        match (col, value) {
            (SuppliesSpec::COLORANT_INDEX, Scalar::Int(v, _)) => row.colorant_index = Some(*v),
            (SuppliesSpec::TYPE, Scalar::Int(v, _)) => row.type_code = Some(*v),
            (SuppliesSpec::DESCRIPTION, Scalar::Text(t)) => {
                row.description = Some(printable(t));
            }
            (SuppliesSpec::MAX, Scalar::Int(v, _)) => row.max = Some(*v),
            (SuppliesSpec::LEVEL, Scalar::Int(v, _)) => row.level = Some(*v),
            _ => {}
        }
    }
    raw.into_values()
        .filter_map(|r| supplies::from_raw(r, &colorants))
        .map(|mut s| {
            // No type, or `other`/`unknown`: the description may say.
            if matches!(s.kind.as_str(), "other" | "unknown")
                && let Some(kind) = spec.kind_of(&s.description)
            {
                s.kind = kind.to_owned();
            }
            s
        })
        .collect()
}
