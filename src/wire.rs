//! What a site sends the central server: the forwarding protocol.
//!
//! A site keeps, beside every write it forwards, one [`Item`] in its outbox:
//! a stored round as the collector polled it, readings people entered, or a
//! withdrawal. Items are numbered per site from 1 without gaps; a [`Batch`]
//! carries consecutive items, and the central replays each through its own
//! store exactly as the site stored it, so both keep the same series.
//!
//! The types here are the protocol, not the store: a change to them that an
//! older peer cannot read raises [`PROTOCOL`].
//!
//! Pure data and checks: no I/O.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::meters::{Meter, MeterSet, MeterValue, Source, ValueKind};
use crate::record::{DeviceReading, FailureCause, Outcome, PollRecord, RoundEnd, RoundRecord};
use crate::serial::Serial;
use crate::supplies::{Supply, percent};

/// The version of this protocol. A central answers a batch of another
/// version with `409 protocol` and the version it speaks.
pub const PROTOCOL: u32 = 1;

/// One request to `POST /api/v1/ingest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Batch {
    pub protocol: u32,
    /// The sending site's `[site] name`; must be the one its token is bound to.
    pub site: String,
    /// The sending telleverk's version.
    pub version: String,
    /// The stream the items are numbered in: a random id the site's
    /// database made with its outbox (a new one when it was restored from
    /// a backup).
    pub stream: String,
    /// Items the site had not yet forwarded when it sent this (these included).
    pub backlog: u64,
    /// The sequence number of `items[0]`; the rest follow without gaps.
    pub first: u64,
    pub items: Vec<Item>,
}

/// What one stored transaction at a site wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Item {
    /// A poll round: the round's own row (none for a round stored without
    /// one) and every poll record in it.
    Round {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        round: Option<Round>,
        polls: Vec<Poll>,
    },
    /// Readings people entered, in one import.
    Readings {
        by: String,
        /// When they were entered, Unix ms.
        at: i64,
        readings: Vec<Entered>,
    },
    /// An entered reading withdrawn.
    Withdrawal(Withdrawn),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Round {
    pub started: i64,
    pub ended: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_ms: Option<i64>,
    pub entries: u64,
    /// "completed" or "stopped".
    pub end: String,
}

/// One poll record; instants in Unix ms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Poll {
    pub at: i64,
    /// The entry's key at the site.
    pub entry: String,
    pub address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<Failed>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reading: Option<Reading>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Failed {
    pub cause: String,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reading {
    pub serial: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configured_serial: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sys_descr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sys_object_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// `[meter code, value, value kind code]` each.
    pub meters: Vec<(u8, u64, u8)>,
    /// `[index, description, kind, colour, level, max]` each; none when the
    /// supplies table could not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supplies: Option<Vec<SupplyRow>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_status: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub printer_status: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<u16>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}

/// A supply: `[index, description, kind, colour, level, max]`.
pub type SupplyRow = (u32, String, String, Option<String>, i64, i64);

/// A withdrawal's key, checked: serial, meter, instant, source; and when.
pub type WithdrawalKey = (Serial, Meter, DateTime<Utc>, Source, DateTime<Utc>);

/// An entered reading: `[serial, meter code, at ms, source code, value]`.
pub type Entered = (String, u8, i64, u8, u64);

/// A withdrawal: the reading's key, who, when (Unix ms) and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Withdrawn {
    pub serial: String,
    pub meter: u8,
    pub at: i64,
    pub source: u8,
    pub by: String,
    pub when: i64,
    pub reason: String,
}

/// An item that does not hold what the protocol says: names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

fn invalid(what: impl Into<String>) -> Invalid {
    Invalid(what.into())
}

fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

fn instant(ms: i64, what: &str) -> Result<DateTime<Utc>, Invalid> {
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| invalid(format!("{what}: {ms} is not an instant")))
}

fn serial(text: &str, what: &str) -> Result<Serial, Invalid> {
    Serial::parse(text).map_err(|e| invalid(format!("{what}: {e}")))
}

impl Round {
    pub fn of(r: &RoundRecord) -> Round {
        Round {
            started: millis(r.started),
            ended: millis(r.ended),
            interval_ms: r.interval_ms,
            entries: r.entries as u64,
            end: r.end.name().to_owned(),
        }
    }

    pub fn record(&self) -> Result<RoundRecord, Invalid> {
        let end = match self.end.as_str() {
            "completed" => RoundEnd::Completed,
            "stopped" => RoundEnd::Stopped,
            other => {
                return Err(invalid(format!(
                    "round.end: `{other}` is not completed or stopped"
                )));
            }
        };
        // As `[collector] interval` allows: 1 s to 366 days.
        if let Some(ms) = self
            .interval_ms
            .filter(|ms| !(1_000..=366 * 86_400_000).contains(ms))
        {
            return Err(invalid(format!(
                "round.interval_ms: {ms} is not 1 s to 366 days"
            )));
        }
        if self.entries > 10_000_000 {
            return Err(invalid(format!(
                "round.entries: {} is more than 10 000 000",
                self.entries
            )));
        }
        Ok(RoundRecord {
            started: instant(self.started, "round.started")?,
            ended: instant(self.ended, "round.ended")?,
            interval_ms: self.interval_ms,
            entries: self.entries as usize,
            end,
        })
    }
}

impl Poll {
    pub fn of(r: &PollRecord) -> Poll {
        let (failed, reading) = match &r.outcome {
            Outcome::Failed { cause, detail } => (
                Some(Failed {
                    cause: cause.name().to_owned(),
                    detail: detail.clone(),
                }),
                None,
            ),
            Outcome::Ok(d) => (None, Some(Reading::of(d))),
        };
        Poll {
            at: millis(r.at),
            entry: r.entry_key.clone(),
            address: r.address.clone(),
            failed,
            reading,
        }
    }

    /// The poll record, its entry keyed `entry_key`.
    pub fn record(&self, entry_key: String) -> Result<PollRecord, Invalid> {
        let outcome = match (&self.failed, &self.reading) {
            (Some(f), None) => Outcome::Failed {
                cause: FailureCause::parse(&f.cause).ok_or_else(|| {
                    invalid(format!(
                        "failed.cause: `{}` is not a failure cause",
                        f.cause
                    ))
                })?,
                detail: f.detail.clone(),
            },
            (None, Some(r)) => Outcome::Ok(Box::new(r.record()?)),
            _ => {
                return Err(invalid(format!(
                    "the poll of `{}` needs one of `failed` and `reading`",
                    self.entry
                )));
            }
        };
        if self.entry.trim().is_empty() {
            return Err(invalid("poll.entry is empty"));
        }
        Ok(PollRecord {
            at: instant(self.at, "poll.at")?,
            entry_key,
            address: self.address.clone(),
            outcome,
        })
    }
}

impl Reading {
    fn of(d: &DeviceReading) -> Reading {
        Reading {
            serial: d.serial.to_string(),
            configured_serial: d.configured_serial.as_ref().map(ToString::to_string),
            model: d.model.clone(),
            sys_descr: d.sys_descr.clone(),
            sys_object_id: d.sys_object_id.clone(),
            profile: d.profile.clone(),
            meters: d
                .meters
                .iter()
                .map(|m| (m.meter.code(), m.value, m.kind.code()))
                .collect(),
            supplies: d.supplies.as_ref().map(|list| {
                list.iter()
                    .map(|s| {
                        (
                            s.index,
                            s.description.clone(),
                            s.kind.clone(),
                            s.colour.clone(),
                            s.level,
                            s.max,
                        )
                    })
                    .collect()
            }),
            device_status: d.device_status,
            printer_status: d.printer_status,
            errors: d.errors,
            problems: d.problems.clone(),
        }
    }

    fn record(&self) -> Result<DeviceReading, Invalid> {
        let mut meters = MeterSet::new();
        for &(code, value, kind) in &self.meters {
            let meter = Meter::from_code(i64::from(code))
                .ok_or_else(|| invalid(format!("reading.meters: {code} is not a meter code")))?;
            if meters.get(meter).is_some() {
                return Err(invalid(format!("reading.meters: {meter} is given twice")));
            }
            let kind = ValueKind::from_code(i64::from(kind)).ok_or_else(|| {
                invalid(format!("reading.meters: {kind} is not a value kind code"))
            })?;
            meters.insert(MeterValue { meter, value, kind });
        }
        if let Some(list) = &self.supplies {
            let mut seen = std::collections::HashSet::new();
            if let Some(dup) = list.iter().find(|s| !seen.insert(s.0)) {
                return Err(invalid(format!(
                    "reading.supplies: index {} is given twice",
                    dup.0
                )));
            }
        }
        let supplies = self.supplies.as_ref().map(|list| {
            list.iter()
                .map(|(index, description, kind, colour, level, max)| Supply {
                    index: *index,
                    description: description.clone(),
                    kind: kind.clone(),
                    colour: colour.clone(),
                    level: *level,
                    max: *max,
                    percent: percent(*level, *max),
                })
                .collect()
        });
        Ok(DeviceReading {
            serial: serial(&self.serial, "reading.serial")?,
            configured_serial: self
                .configured_serial
                .as_deref()
                .map(|s| serial(s, "reading.configured_serial"))
                .transpose()?,
            model: self.model.clone(),
            sys_descr: self.sys_descr.clone(),
            sys_object_id: self.sys_object_id.clone(),
            profile: self.profile.clone(),
            meters,
            supplies,
            device_status: self.device_status,
            printer_status: self.printer_status,
            errors: self.errors,
            problems: self.problems.clone(),
        })
    }
}

/// An entered reading as the central stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnteredReading {
    pub serial: Serial,
    pub meter: Meter,
    pub at: DateTime<Utc>,
    pub source: Source,
    pub value: u64,
}

/// The entered reading of a wire row.
pub fn entered(row: &Entered) -> Result<EnteredReading, Invalid> {
    let (serial_text, meter, at, source, value) = row;
    Ok(EnteredReading {
        serial: serial(serial_text, "readings.serial")?,
        meter: Meter::from_code(i64::from(*meter))
            .ok_or_else(|| invalid(format!("readings.meter: {meter} is not a meter code")))?,
        at: instant(*at, "readings.at")?,
        source: entered_source(*source, "readings.source")?,
        value: *value,
    })
}

fn entered_source(code: u8, what: &str) -> Result<Source, Invalid> {
    match Source::from_code(i64::from(code)) {
        Some(Source::Polled) | None => Err(invalid(format!(
            "{what}: {code} is not the code of an entered source"
        ))),
        Some(s) => Ok(s),
    }
}

impl Withdrawn {
    /// The withdrawal's key, checked: serial, meter, instant, source.
    pub fn key(&self) -> Result<WithdrawalKey, Invalid> {
        Ok((
            serial(&self.serial, "withdrawal.serial")?,
            Meter::from_code(i64::from(self.meter)).ok_or_else(|| {
                invalid(format!(
                    "withdrawal.meter: {} is not a meter code",
                    self.meter
                ))
            })?,
            instant(self.at, "withdrawal.at")?,
            entered_source(self.source, "withdrawal.source")?,
            instant(self.when, "withdrawal.when")?,
        ))
    }
}

/// A stream id: 1 to 64 ASCII letters and digits.
pub fn stream_ok(stream: &str) -> bool {
    (1..=64).contains(&stream.len()) && stream.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// [`site_name_ok`] as a regular expression (the API's schema says it).
pub const SITE_PATTERN: &str = "^[a-z0-9][a-z0-9-]{0,39}$";

/// A site's name: lowercase letters, digits and `-`, 1 to 40 of them,
/// starting with a letter or digit. Checked in the config and the API.
pub fn site_name_ok(name: &str) -> bool {
    (1..=40).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
}

/// The key the central keeps a site's entry under: unique across sites,
/// since no site name holds a `/`.
pub fn site_entry_key(site: &str, key: &str) -> String {
    format!("{site}/{key}")
}

/// The site of an entry key the central keeps ([`site_entry_key`]); None
/// for an entry of its own. An own key never starts with a site name and
/// `/`: it starts with `host:port` (or `discovered:`), and a site name
/// holds no `:`.
pub fn site_of_entry(key: &str) -> Option<&str> {
    let (site, _) = key.split_once('/')?;
    site_name_ok(site).then_some(site)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading() -> DeviceReading {
        let mut meters = MeterSet::new();
        meters.insert(MeterValue {
            meter: Meter::Total,
            value: 123_456,
            kind: ValueKind::Counter32,
        });
        DeviceReading {
            serial: Serial::parse("A1UG021012345").unwrap(),
            configured_serial: None,
            model: Some("bizhub C300i".into()),
            sys_descr: None,
            sys_object_id: Some("1.3.6.1.4.1.18334.1.2.3".into()),
            profile: Some("konica-bizhub".into()),
            meters,
            supplies: Some(vec![Supply {
                index: 1,
                description: "Toner (Black)".into(),
                kind: "toner".into(),
                colour: Some("black".into()),
                level: 40,
                max: 100,
                percent: Some(40),
            }]),
            device_status: Some(2),
            printer_status: Some(3),
            errors: Some(0),
            problems: vec!["no duplex meter".into()],
        }
    }

    #[test]
    fn a_poll_crosses_the_wire_unchanged() {
        let record = PollRecord {
            at: DateTime::from_timestamp_millis(1_764_000_000_123).unwrap(),
            entry_key: "10.0.0.5".into(),
            address: "10.0.0.5:161".into(),
            outcome: Outcome::Ok(Box::new(reading())),
        };
        let text = serde_json::to_string(&Poll::of(&record)).unwrap();
        let back: Poll = serde_json::from_str(&text).unwrap();
        let again = back.record("bergen/10.0.0.5".into()).unwrap();
        assert_eq!(again.at, record.at);
        assert_eq!(again.entry_key, "bergen/10.0.0.5");
        let (Outcome::Ok(a), Outcome::Ok(b)) = (&again.outcome, &record.outcome) else {
            panic!("not a reading: {again:?}");
        };
        assert_eq!(a.meters, b.meters);
        assert_eq!(a.supplies.as_ref().unwrap()[0].percent, Some(40));
        assert_eq!(a.problems, b.problems);
        assert_eq!(a.serial, b.serial);
    }

    #[test]
    fn bad_items_name_the_field() {
        let mut p = Poll::of(&PollRecord {
            at: DateTime::from_timestamp_millis(0).unwrap(),
            entry_key: "x".into(),
            address: "x".into(),
            outcome: Outcome::Ok(Box::new(reading())),
        });
        p.reading.as_mut().unwrap().meters.push((99, 1, 1));
        let e = p.record("s/x".into()).unwrap_err();
        assert!(e.0.contains("reading.meters: 99"), "{e}");
        p.reading.as_mut().unwrap().meters.pop();
        p.failed = Some(Failed {
            cause: "timeout".into(),
            detail: String::new(),
        });
        assert!(p.record("s/x".into()).unwrap_err().0.contains("one of"));
        p.reading = None;
        p.failed.as_mut().unwrap().cause = "asleep".into();
        assert!(p.record("s/x".into()).unwrap_err().0.contains("`asleep`"));
        let w = Withdrawn {
            serial: "A1".into(),
            meter: 0,
            at: 0,
            source: 0,
            by: "x".into(),
            when: 0,
            reason: "y".into(),
        };
        assert!(w.key().unwrap_err().0.contains("withdrawal.source: 0"));
        assert!(entered(&("A1".into(), 0, 0, 1, 5)).is_ok());
    }

    #[test]
    fn an_entry_key_names_its_site_only_when_a_site_made_it() {
        assert_eq!(
            site_of_entry(&site_entry_key("bergen", "10.0.0.5:161 v2c")),
            Some("bergen")
        );
        for own in [
            "10.0.0.5:161 v2c",
            "[::1]:161 v3 user=a/b context=c/d",
            "printer.example:161 v3 user=x context=bergen/y",
            "discovered:AA1/2",
        ] {
            assert_eq!(site_of_entry(own), None, "{own}");
        }
    }

    #[test]
    fn numbers_from_a_site_are_bounded() {
        let mut r = Reading::of(&reading());
        let supply = r.supplies.as_ref().unwrap()[0].clone();
        r.supplies.as_mut().unwrap().push(supply);
        let e = r.record().unwrap_err();
        assert!(
            e.0.contains("reading.supplies: index 1 is given twice"),
            "{e}"
        );
        let mut round = Round {
            started: 0,
            ended: 1,
            interval_ms: Some(999),
            entries: 1,
            end: "completed".into(),
        };
        assert!(
            round
                .record()
                .unwrap_err()
                .0
                .contains("round.interval_ms: 999")
        );
        round.interval_ms = Some(300_000);
        round.entries = 10_000_001;
        assert!(round.record().unwrap_err().0.contains("round.entries"));
        round.entries = 200;
        assert!(round.record().is_ok());
    }

    #[test]
    fn site_names() {
        for ok in ["bergen", "oslo-2", "0"] {
            assert!(site_name_ok(ok), "{ok}");
        }
        for bad in ["", "Bergen", "a/b", "-x", "trondheim sør", &"x".repeat(41)] {
            assert!(!site_name_ok(bad), "{bad}");
        }
        let pattern = regex_lite::Regex::new(SITE_PATTERN).unwrap();
        for name in [
            "bergen",
            "oslo-2",
            "0",
            "",
            "Bergen",
            "a/b",
            "-x",
            "a b",
            &"x".repeat(40),
            &"x".repeat(41),
        ] {
            assert_eq!(pattern.is_match(name), site_name_ok(name), "{name}");
        }
    }

    #[test]
    fn a_batch_names_its_kinds() {
        let batch = Batch {
            protocol: PROTOCOL,
            site: "bergen".into(),
            version: "0.1.0".into(),
            stream: "5f3a".into(),
            backlog: 1,
            first: 7,
            items: vec![Item::Readings {
                by: "ola".into(),
                at: 5,
                readings: vec![("A1".into(), 0, 1, 1, 10)],
            }],
        };
        let text = serde_json::to_string(&batch).unwrap();
        assert!(text.contains(r#""kind":"readings""#), "{text}");
        assert_eq!(serde_json::from_str::<Batch>(&text).unwrap(), batch);
    }
}
