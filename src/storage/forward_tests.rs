//! A site's outbox replayed at a central store: the same series, exactly
//! once, in order; a gap refused; entries kept apart per site.

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::db::params;
use super::manual::{Entering, Withdrawal};
use super::{Database, IngestError, Store};
use crate::import::ImportRow;
use crate::meters::{Meter, MeterSet, MeterValue, Source, ValueKind};
use crate::record::{DeviceReading, Outcome, PollRecord, Reading, RoundEnd, RoundRecord};
use crate::serial::Serial;
use crate::wire::{Batch, PROTOCOL};

fn t(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 8, 0, 0).unwrap() + Duration::minutes(minutes)
}

fn serial(s: &str) -> Serial {
    Serial::parse(s).unwrap()
}

fn poll(entry: &str, s: &str, at: DateTime<Utc>, total: u64, bw: u64) -> PollRecord {
    let mut meters = MeterSet::new();
    for (meter, value) in [(Meter::Total, total), (Meter::BwTotal, bw)] {
        meters.insert(MeterValue {
            meter,
            value,
            kind: ValueKind::Counter32,
        });
    }
    PollRecord {
        at,
        entry_key: entry.into(),
        address: format!("{entry}:161"),
        outcome: Outcome::Ok(Box::new(DeviceReading {
            serial: serial(s),
            meters,
            ..DeviceReading::default()
        })),
    }
}

fn round(at: DateTime<Utc>) -> RoundRecord {
    RoundRecord {
        started: at,
        ended: at + Duration::seconds(2),
        interval_ms: Some(300_000),
        entries: 2,
        end: RoundEnd::Completed,
    }
}

fn site_store(dir: &std::path::Path, name: &str) -> Store {
    let mut store = Store::open(Database::File(dir.join(format!("{name}.db")))).unwrap();
    assert_eq!(store.set_outbox(true).unwrap(), None, "nothing stored yet");
    store
}

/// What the site stored: rounds, a meter that went down, a failure, an
/// entered reading and its withdrawal.
fn site_history(site: &mut Store) {
    site.write_polled_round(
        &round(t(0)),
        &[
            poll("10.0.0.5", "AA1", t(0), 1000, 800),
            poll("10.0.0.6", "BB2", t(0), 50, 50),
        ],
    )
    .unwrap();
    site.write_polled_round(
        &round(t(5)),
        &[
            poll("10.0.0.5", "AA1", t(5), 1010, 805),
            PollRecord {
                at: t(5),
                entry_key: "10.0.0.6".into(),
                address: "10.0.0.6:161".into(),
                outcome: Outcome::Failed {
                    cause: crate::record::FailureCause::Timeout,
                    detail: "no answer".into(),
                },
            },
        ],
    )
    .unwrap();
    // Down: a suspected reset.
    site.write_polled_round(&round(t(10)), &[poll("10.0.0.5", "AA1", t(10), 3, 2)])
        .unwrap();
    let entering = Entering {
        by: "ola",
        at: t(11),
        accept_implausible: true,
        shown: Default::default(),
    };
    let rows = [
        ImportRow {
            line: 1,
            serial: serial("BB2"),
            at: t(8),
            meter: Meter::BwTotal,
            value: 60,
            source: Source::Manual,
        },
        ImportRow {
            line: 2,
            serial: serial("CC3"),
            at: t(8),
            meter: Meter::Total,
            value: 7,
            source: Source::Vendor,
        },
    ];
    site.import_readings(&rows, entering).unwrap();
    site.withdraw_reading(&Withdrawal {
        serial: &serial("BB2"),
        meter: Meter::BwTotal,
        at: t(8),
        source: Source::Manual,
        by: "kari",
        reason: "typo",
        when: t(12),
        shown: Default::default(),
    })
    .unwrap();
    site.write_polled_round(
        &round(t(15)),
        &[
            poll("10.0.0.5", "AA1", t(15), 5, 3),
            poll("10.0.0.6", "BB2", t(15), 70, 70),
        ],
    )
    .unwrap();
}

fn batch(site: &str, first: u64, items: Vec<crate::wire::Item>, backlog: u64) -> Batch {
    Batch {
        protocol: PROTOCOL,
        site: site.into(),
        version: "0.1.0".into(),
        stream: "s1".into(),
        backlog,
        first,
        items,
    }
}

/// A device's readings with the entry keys as the site names them.
fn readings(store: &Store, s: &str, site: Option<&str>) -> Vec<Reading> {
    let mut all = store.readings(s, None, None).unwrap().unwrap_or_default();
    if let Some(site) = site {
        let prefix = format!("{site}/");
        // The central says who entered a reading at which site.
        let suffix = format!("@{site}");
        let local = |who: &mut String| {
            *who = who.strip_suffix(&suffix).unwrap_or(who).to_owned();
        };
        for r in &mut all {
            r.entry_key = r
                .entry_key
                .take()
                .map(|k| k.strip_prefix(&prefix).map(str::to_owned).unwrap_or(k));
            if let Some(by) = &mut r.entered_by {
                local(by);
            }
            for w in &mut r.withdrawn {
                if let Some(by) = &mut w.entered_by {
                    local(by);
                }
                local(&mut w.by);
            }
        }
    }
    all
}

/// An event as both stores must tell it: when, what, and the values.
type Told = (DateTime<Utc>, String, Option<u64>, Option<u64>);

fn events(store: &Store, s: &str) -> Vec<Told> {
    store
        .events(&serial(s))
        .unwrap()
        .into_iter()
        .map(|e| (e.at, e.kind, e.before, e.after))
        .collect()
}

/// The readings and events of site_history's devices are alike at the
/// central and at the site.
fn same_series(central: &Store, site: &Store) {
    for s in ["AA1", "BB2", "CC3"] {
        assert_eq!(
            readings(central, s, Some("bergen")),
            readings(site, s, None),
            "{s}'s readings at the central and at the site"
        );
        assert_eq!(events(central, s), events(site, s), "{s}'s events");
    }
}

fn forwarded_once(central: Database) {
    let dir = tempfile::tempdir().unwrap();
    let mut site = site_store(dir.path(), "bergen");
    site_history(&mut site);
    let queued = site.queued(usize::MAX).unwrap().unwrap();
    assert_eq!(queued.forwarded, 0);
    assert_eq!(queued.backlog, 6, "four rounds, an import, a withdrawal");
    let seqs: Vec<u64> = queued.items.iter().map(|i| i.0).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5, 6]);
    let queued_stream = queued.stream.clone();
    let items: Vec<_> = queued.items.into_iter().map(|i| i.1).collect();

    let mut central = Store::open(central).unwrap();
    // The first three, then the first three again (their answer was lost),
    // then from the second on: each item applied exactly once.
    let done = central
        .ingest(&batch("bergen", 1, items[..3].to_vec(), 6), t(20))
        .unwrap();
    assert_eq!((done.through, done.applied), (3, 3));
    let again = central
        .ingest(&batch("bergen", 1, items[..3].to_vec(), 6), t(21))
        .unwrap();
    assert_eq!((again.through, again.applied), (3, 0));
    // A gap is refused with the item expected, and changes nothing.
    let gap = central.ingest(&batch("bergen", 5, items[4..].to_vec(), 2), t(21));
    assert!(
        matches!(
            gap,
            Err(IngestError::Gap {
                first: 5,
                expected: 4
            })
        ),
        "{gap:?}"
    );
    let rest = central
        .ingest(&batch("bergen", 2, items[1..].to_vec(), 5), t(22))
        .unwrap();
    assert_eq!((rest.through, rest.applied), (6, 3));

    same_series(&central, &site);
    assert!(
        events(&central, "AA1")
            .iter()
            .any(|e| e.1 == "suspected_reset"),
        "{:?}",
        events(&central, "AA1")
    );
    let withdrawn = readings(&central, "BB2", Some("bergen"));
    assert!(
        withdrawn.iter().any(|r| r.withdrawn.len() == 1),
        "{withdrawn:?}"
    );
    assert_eq!(
        central.failures().unwrap().len(),
        site.failures().unwrap().len()
    );

    let sites = central.sites().unwrap();
    assert_eq!(sites.len(), 1);
    assert_eq!(
        (
            sites[0].name.as_str(),
            sites[0].through,
            sites[0].backlog,
            sites[0].entries
        ),
        ("bergen", 6, 0, 2)
    );
    assert_eq!(sites[0].first_contact, t(20));
    assert_eq!(sites[0].last_contact, t(22));

    // Confirmed: the outbox empties, and the numbering goes on.
    site.forwarded(&queued_stream, 6).unwrap();
    let empty = site.queued(usize::MAX).unwrap().unwrap();
    assert_eq!(
        (empty.forwarded, empty.backlog, empty.items.len()),
        (6, 0, 0)
    );
    site.write_polled_round(&round(t(20)), &[poll("10.0.0.5", "AA1", t(20), 9, 5)])
        .unwrap();
    let next = site.queued(usize::MAX).unwrap().unwrap();
    assert_eq!(next.items.iter().map(|i| i.0).collect::<Vec<_>>(), [7]);

    // Another site's printer at the same address is another entry.
    let other = central
        .ingest(
            &batch(
                "oslo",
                1,
                vec![crate::wire::Item::Round {
                    round: None,
                    polls: vec![crate::wire::Poll::of(&poll("10.0.0.5", "DD4", t(30), 1, 1))],
                }],
                1,
            ),
            t(30),
        )
        .unwrap();
    assert_eq!(other.through, 1);
    let entry = |serial: &str| {
        central.readings(serial, None, None).unwrap().unwrap()[0]
            .entry_key
            .clone()
    };
    assert_eq!(entry("AA1").as_deref(), Some("bergen/10.0.0.5"));
    assert_eq!(entry("DD4").as_deref(), Some("oslo/10.0.0.5"));
    let counted: Vec<(String, u64)> = central
        .sites()
        .unwrap()
        .into_iter()
        .map(|s| (s.name, s.entries))
        .collect();
    assert_eq!(counted, [("bergen".into(), 2), ("oslo".into(), 1)]);
    assert!(
        events(&central, "DD4").is_empty(),
        "no swap: oslo's 10.0.0.5 is not bergen's"
    );
}

#[test]
fn a_site_s_outbox_replayed_at_a_central_sqlite_store_gives_the_same_series_once() {
    let dir = tempfile::tempdir().unwrap();
    forwarded_once(Database::File(dir.path().join("central.db")));
}

#[test]
fn a_site_s_outbox_replayed_at_a_central_postgresql_store_gives_the_same_series_once() {
    forwarded_once(super::tests::postgres_database());
}

#[test]
fn a_device_that_moves_between_sites_is_one_series_with_a_move_event() {
    let dir = tempfile::tempdir().unwrap();
    let mut central = Store::open(Database::File(dir.path().join("central.db"))).unwrap();
    let item = |entry: &str, at, total| crate::wire::Item::Round {
        round: None,
        polls: vec![crate::wire::Poll::of(&poll(entry, "MV1", at, total, total))],
    };
    central
        .ingest(
            &batch("oslo", 1, vec![item("10.0.0.9", t(0), 100)], 1),
            t(1),
        )
        .unwrap();
    central
        .ingest(
            &batch("bergen", 1, vec![item("10.1.0.3", t(60), 150)], 1),
            t(61),
        )
        .unwrap();
    let kinds: Vec<String> = events(&central, "MV1").into_iter().map(|e| e.1).collect();
    assert_eq!(kinds, ["move"]);
    let detail = &central.events(&serial("MV1")).unwrap()[0].detail;
    assert!(
        detail.contains("oslo/10.0.0.9") && detail.contains("bergen/10.1.0.3"),
        "{detail}"
    );
    let totals: Vec<u64> = readings(&central, "MV1", None)
        .iter()
        .filter_map(|r| r.meters.value(Meter::Total))
        .collect();
    assert_eq!(totals, [100, 150]);
}

#[test]
fn an_item_that_breaks_the_protocol_names_itself_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut central = Store::open(Database::File(dir.path().join("central.db"))).unwrap();
    let mut p = crate::wire::Poll::of(&poll("10.0.0.5", "AA1", t(0), 1, 1));
    p.reading.as_mut().unwrap().serial = "=cmd()".into();
    let good = crate::wire::Item::Round {
        round: None,
        polls: vec![crate::wire::Poll::of(&poll("10.0.0.5", "AA1", t(0), 1, 1))],
    };
    let bad = crate::wire::Item::Round {
        round: None,
        polls: vec![p],
    };
    let e = central
        .ingest(&batch("bergen", 1, vec![good, bad], 2), t(1))
        .unwrap_err();
    assert!(
        matches!(&e, IngestError::Invalid { seq: 2, message } if message.contains("reading.serial")),
        "{e}"
    );
    assert!(central.sites().unwrap().is_empty());
    assert!(central.readings("AA1", None, None).unwrap().is_none());
    // Numbers at the end of their range: refused or held, never a panic.
    let bad = crate::wire::Item::Round {
        round: None,
        polls: vec![{
            let mut p = crate::wire::Poll::of(&poll("10.0.0.5", "AA1", t(0), 1, 1));
            p.reading.as_mut().unwrap().serial = "=cmd()".into();
            p
        }],
    };
    let e = central
        .ingest(&batch("bergen", u64::MAX, vec![bad.clone(), bad], 2), t(1))
        .unwrap_err();
    assert!(
        matches!(e, IngestError::Invalid { seq: u64::MAX, .. }),
        "{e}"
    );
    let e = central
        .ingest(&batch("bergen", u64::MAX, Vec::new(), 0), t(1))
        .unwrap_err();
    assert!(matches!(e, IngestError::Gap { expected: 1, .. }), "{e}");
    central
        .ingest(&batch("bergen", 1, Vec::new(), u64::MAX), t(1))
        .unwrap();
    assert_eq!(central.sites().unwrap()[0].backlog, i64::MAX as u64);
}

#[test]
fn a_site_restored_from_a_backup_sends_what_the_central_lacks_as_a_new_stream_and_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let mut central = Store::open(Database::File(dir.path().join("central.db"))).unwrap();
    let mut site = site_store(dir.path(), "bergen");
    let rounds = |n: i64| {
        (
            round(t(5 * n)),
            vec![poll("10.0.0.5", "AA1", t(5 * n), 1000 + n as u64 * 10, 800)],
        )
    };
    let (r, p) = rounds(0);
    site.write_polled_round(&r, &p).unwrap();
    // The backup: the site's database after its first round.
    let backup = dir.path().join("backup.db");
    rusqlite::Connection::open(dir.path().join("bergen.db"))
        .unwrap()
        .execute("VACUUM INTO ?1", [backup.to_str().unwrap()])
        .unwrap();
    for n in 1..3 {
        let (r, p) = rounds(n);
        site.write_polled_round(&r, &p).unwrap();
    }
    let sent = site.queued(usize::MAX).unwrap().unwrap();
    let stream = sent.stream.clone();
    let mut b = batch(
        "bergen",
        1,
        sent.items.into_iter().map(|i| i.1).collect(),
        3,
    );
    b.stream = stream.clone();
    assert_eq!(central.ingest(&b, t(20)).unwrap().through, 3);
    drop(site);

    // The restored copy polls on: its second item is another round than
    // the central's second.
    let mut restored = Store::open(Database::File(backup)).unwrap();
    assert_eq!(restored.set_outbox(true).unwrap(), None, "it has an outbox");
    restored
        .write_polled_round(&round(t(30)), &[poll("10.0.0.5", "AA1", t(30), 2000, 900)])
        .unwrap();
    let again = restored.queued(usize::MAX).unwrap().unwrap();
    assert_eq!(
        (again.stream.as_str(), again.numbered),
        (stream.as_str(), 2)
    );
    let mut b = batch(
        "bergen",
        1,
        again.items.into_iter().map(|i| i.1).collect(),
        2,
    );
    b.stream = stream.clone();
    let answer = central.ingest(&b, t(31)).unwrap();
    // The central has item 3 of the stream, which this copy never numbered:
    // taken as had, its round at 30 min would be lost.
    assert!(answer.through > again.numbered && answer.applied == 0);
    let fresh = restored.new_stream().unwrap();
    assert_ne!(fresh, stream);
    let renumbered = restored.queued(usize::MAX).unwrap().unwrap();
    assert_eq!(
        (
            renumbered.forwarded,
            renumbered.numbered,
            renumbered.items.len()
        ),
        (0, 2, 2)
    );
    let mut b = batch(
        "bergen",
        1,
        renumbered.items.into_iter().map(|i| i.1).collect(),
        2,
    );
    b.stream = fresh.clone();
    assert_eq!(central.ingest(&b, t(32)).unwrap().through, 2);
    // Every round once: the first (sent again) skipped, the new one kept.
    let totals: Vec<u64> = readings(&central, "AA1", None)
        .iter()
        .filter_map(|r| r.meters.value(Meter::Total))
        .collect();
    assert_eq!(totals, [1000, 1010, 1020, 2000]);
    restored.forwarded(&fresh, 2).unwrap();
    let done = restored.queued(usize::MAX).unwrap().unwrap();
    assert_eq!((done.backlog, done.forwarded), (0, 2));
    assert_eq!(central.sites().unwrap()[0].stream, fresh);
}

#[test]
fn a_site_never_replaces_or_withdraws_a_reading_the_central_s_own_people_entered() {
    let dir = tempfile::tempdir().unwrap();
    let mut central = Store::open(Database::File(dir.path().join("central.db"))).unwrap();
    let row = |value| ImportRow {
        line: 1,
        serial: serial("BB2"),
        at: t(8),
        meter: Meter::BwTotal,
        value,
        source: Source::Manual,
    };
    let own = Entering {
        by: "head-office",
        at: t(9),
        accept_implausible: false,
        shown: Default::default(),
    };
    central.import_readings(&[row(60)], own).unwrap();
    let items = vec![
        crate::wire::Item::Readings {
            by: "ola".into(),
            at: millis_of(t(10)),
            readings: vec![("BB2".into(), Meter::BwTotal.code(), millis_of(t(8)), 1, 61)],
        },
        crate::wire::Item::Withdrawal(crate::wire::Withdrawn {
            serial: "BB2".into(),
            meter: Meter::BwTotal.code(),
            at: millis_of(t(8)),
            source: 1,
            by: "ola".into(),
            when: millis_of(t(11)),
            reason: "mine".into(),
        }),
    ];
    let done = central
        .ingest(&batch("bergen", 1, items, 2), t(12))
        .unwrap();
    assert_eq!(done.applied, 2);
    let readings = central.readings("BB2", None, None).unwrap().unwrap();
    let manual: Vec<_> = readings
        .iter()
        .filter(|r| r.source == Source::Manual)
        .collect();
    assert_eq!(manual.len(), 1, "{readings:?}");
    assert_eq!(manual[0].meters.value(Meter::BwTotal), Some(60));
    assert_eq!(manual[0].entered_by.as_deref(), Some("head-office"));
    assert!(manual[0].withdrawn.is_empty(), "{readings:?}");
}

fn millis_of(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

/// A poll of `serial` at `entry` with more than meters: a description,
/// supplies, statuses, what was missing, and the serial the config names.
fn full_poll(entry: &str, s: &str, at: DateTime<Utc>, total: u64, toner: i64) -> PollRecord {
    let mut p = poll(entry, s, at, total, total / 2);
    if let Outcome::Ok(d) = &mut p.outcome {
        d.model = Some(format!("bizhub C{}i", 250 + toner % 3));
        d.sys_descr = Some("KONICA MINOLTA bizhub".into());
        d.sys_object_id = Some("1.3.6.1.4.1.18334.1.2.1.2.2.301".into());
        d.profile = Some("konica-minolta-bizhub".into());
        d.supplies = Some(vec![
            crate::supplies::Supply {
                index: 1,
                description: "Toner (Black)".into(),
                kind: "toner".into(),
                colour: Some("black".into()),
                level: toner,
                max: 100,
                percent: Some(toner),
            },
            crate::supplies::Supply {
                index: 4,
                description: "Waste Toner Box".into(),
                kind: "waste_toner".into(),
                colour: None,
                level: -3,
                max: -2,
                percent: None,
            },
        ]);
        d.device_status = Some(if toner < 10 { 3 } else { 2 });
        d.printer_status = Some(3);
        d.errors = Some(if toner < 10 { 0x40 } else { 0 });
    }
    p
}

fn with<F: FnOnce(&mut DeviceReading)>(mut p: PollRecord, f: F) -> PollRecord {
    if let Outcome::Ok(d) = &mut p.outcome {
        f(d);
    }
    p
}

/// A history with every kind of stored row: changes and repeats, supplies
/// and descriptions that change, a partial poll and one that read no meter,
/// a failed poll, a meter that went down and one that came back (a glitch),
/// a swap, a serial the config names otherwise, a move, entered readings
/// and a withdrawal; and enough rounds for more than one item.
fn rich_history(store: &mut Store) {
    site_history(store);
    let mut minute = 30;
    for n in 0..40u64 {
        let at = t(minute);
        let mut polls = vec![full_poll(
            "10.0.0.5",
            "AA1",
            at,
            100 + n * 7,
            90 - n as i64 * 2,
        )];
        polls.push(match n {
            5 => PollRecord {
                at,
                entry_key: "10.0.0.6".into(),
                address: "10.0.0.6:161".into(),
                outcome: Outcome::Failed {
                    cause: crate::record::FailureCause::Refused,
                    detail: "port closed".into(),
                },
            },
            // The low reading of a glitch, then back.
            8 => poll("10.0.0.6", "BB2", at, 3, 3),
            // Another device answers at 10.0.0.6: a swap; and back.
            12 | 13 => poll("10.0.0.6", "DD4", at, 500 + n, 400),
            // BB2 moves to 10.0.0.7.
            20..=25 => poll("10.0.0.7", "BB2", at, 200 + n, 100 + n),
            _ => poll("10.0.0.6", "BB2", at, 100 + n, 100 + n),
        });
        match n {
            3 => {
                polls[0] = with(polls[0].clone(), |d| {
                    d.problems = vec!["colour_total: noSuchName".into()]
                })
            }
            4 => {
                polls[0] = with(polls[0].clone(), |d| {
                    d.meters = MeterSet::new();
                    d.supplies = None;
                })
            }
            6 => {
                polls[0] = with(polls[0].clone(), |d| {
                    d.configured_serial = Some(serial("AA9"))
                })
            }
            _ => {}
        }
        // Many entries in the later rounds: more polls than one item holds.
        if n >= 30 {
            for e in 0..120u64 {
                polls.push(poll(
                    &format!("10.0.1.{e}"),
                    &format!("EE{e}"),
                    at,
                    1000 + e + n,
                    500 + e,
                ));
            }
        }
        store.write_polled_round(&round(at), &polls).unwrap();
        minute += 5;
    }
}

/// Every stored row that tells a series, with the site's own names: what
/// both stores must hold alike.
fn dump(store: &Store, site: Option<&str>) -> Vec<String> {
    let conn = store.db.conn.as_sqlite().expect("SQLite");
    let queries = [
        "SELECT d.serial, p.at, e.key, p.meters, coalesce(s.indices, '-'), p.device_status, p.printer_status, p.errors, p.stored
         FROM polls p JOIN devices d ON d.id = p.device_id JOIN entries e ON e.id = p.entry_id
         LEFT JOIN supply_sets s ON s.id = p.supply_set ORDER BY 1, 2",
        "SELECT d.serial, m.meter, m.at, m.source, m.value, m.kind FROM meter_values m
         JOIN devices d ON d.id = m.device_id ORDER BY 1, 2, 3, 4",
        "SELECT d.serial, s.idx, s.at, s.description, s.kind, s.colour, s.level, s.max
         FROM supply_values s JOIN devices d ON d.id = s.device_id ORDER BY 1, 2, 3",
        "SELECT d.serial, i.at, i.model, i.sys_descr, i.sys_object_id, i.profile
         FROM device_info i JOIN devices d ON d.id = i.device_id ORDER BY 1, 2",
        "SELECT e.key, f.at, d.serial, f.cause, f.detail FROM poll_failures f
         JOIN entries e ON e.id = f.entry_id LEFT JOIN devices d ON d.id = f.device_id ORDER BY 1, 2, 4",
        "SELECT v.at, e.key, d.serial, v.kind, v.meter, v.before, v.after, v.detail FROM events v
         LEFT JOIN entries e ON e.id = v.entry_id LEFT JOIN devices d ON d.id = v.device_id
         ORDER BY 1, 2, 3, 4, 5",
        "SELECT d.serial, r.meter, r.at, r.source, r.value, r.entered_by, r.entered_at, w.at, w.by, w.reason
         FROM entered_readings r JOIN devices d ON d.id = r.device_id
         LEFT JOIN reading_withdrawals w ON w.reading_id = r.id ORDER BY 1, 2, 3, 4, 7",
        "SELECT e.key, d.serial, x.at FROM entry_devices x JOIN entries e ON e.id = x.entry_id
         JOIN devices d ON d.id = x.device_id ORDER BY 1, 3",
        "SELECT serial, first_seen FROM devices ORDER BY 1",
    ];
    let mut out = Vec::new();
    for (table, sql) in queries.iter().enumerate() {
        let mut stmt = conn.prepare(sql).unwrap();
        let columns = stmt.column_count();
        let mut rows = stmt.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            let mut line = format!("{table}:");
            for i in 0..columns {
                let cell = match row.get_ref(i).unwrap() {
                    rusqlite::types::ValueRef::Null => "NULL".to_owned(),
                    rusqlite::types::ValueRef::Integer(n) => n.to_string(),
                    rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                    other => format!("{other:?}"),
                };
                line.push_str(&cell);
                line.push('|');
            }
            if let Some(site) = site {
                line = line
                    .replace(&format!("{site}/"), "")
                    .replace(&format!("@{site}"), "");
            }
            out.push(line);
        }
    }
    out
}

/// Sends everything queued, `max_bytes` a batch, confirming each; returns
/// the batches sent.
fn forward_all(site: &mut Store, central: &mut Store, max_bytes: usize) -> usize {
    let mut sent = 0;
    loop {
        let q = site.queued(max_bytes).unwrap().unwrap();
        if q.items.is_empty() {
            return sent;
        }
        let first = q.items[0].0;
        let items: Vec<_> = q.items.into_iter().map(|i| i.1).collect();
        let mut b = batch("bergen", first, items, q.backlog);
        b.stream = q.stream.clone();
        let done = central.ingest(&b, t(600)).unwrap();
        site.forwarded(&q.stream, done.through).unwrap();
        sent += 1;
    }
}

#[test]
fn a_database_that_becomes_a_site_forwards_its_history_first_and_the_central_holds_what_it_holds() {
    let dir = tempfile::tempdir().unwrap();
    // Polled for a while as one site on its own: nothing queued.
    let mut site = Store::open(Database::File(dir.path().join("bergen.db"))).unwrap();
    rich_history(&mut site);
    assert!(!site.has_outbox().unwrap());
    assert_eq!(site.queued(usize::MAX).unwrap(), None);

    // It becomes a site: its history is planned, polls first.
    let planned = site.set_outbox(true).unwrap().expect("history to forward");
    assert_eq!(planned.entered, 2);
    assert_eq!(planned.withdrawn, 1);
    assert_eq!(planned.failed, 2);
    assert_eq!(planned.first, Some(millis_of(t(0))));
    assert!(planned.polls > 1000, "{planned:?}");
    let poll_items = planned.items - 3;
    assert!(
        poll_items >= 2,
        "more polls than one item holds: {planned:?}"
    );
    // Opened again (another command, a restart): planned once.
    assert_eq!(site.set_outbox(true).unwrap(), None);

    // What it polls now is numbered after the history.
    let now = t(40 * 5 + 60);
    site.write_polled_round(&round(now), &[full_poll("10.0.0.5", "AA1", now, 999, 5)])
        .unwrap();
    let q = site.queued(usize::MAX).unwrap().unwrap();
    assert_eq!(q.backlog, planned.items + 1);
    let seqs: Vec<u64> = q.items.iter().map(|i| i.0).collect();
    assert_eq!(seqs, (1..=planned.items + 1).collect::<Vec<_>>());
    assert!(matches!(
        q.items.last().unwrap().1,
        crate::wire::Item::Round { round: Some(_), .. }
    ));
    // In small batches: never a live item before the history's last.
    let small = site.queued(1).unwrap().unwrap();
    assert_eq!(small.items.len(), 1);

    let mut central = Store::open(Database::File(dir.path().join("central.db"))).unwrap();
    // An item a batch: the central's count is checked after each.
    let batches = forward_all(&mut site, &mut central, 1);
    assert_eq!(batches as u64, planned.items + 1);
    let here = dump(&site, None);
    let there = dump(&central, Some("bergen"));
    let diff: Vec<_> = here
        .iter()
        .filter(|l| !there.contains(l))
        .chain(there.iter().filter(|l| !here.contains(l)))
        .take(10)
        .collect();
    assert!(diff.is_empty(), "site and central differ: {diff:#?}");
    assert_eq!(here.len(), there.len());
    for kind in [
        "glitch",
        "swap",
        "move",
        "serial_mismatch",
        "suspected_reset",
    ] {
        assert!(
            here.iter().any(|l| l.contains(&format!("|{kind}|"))),
            "the history has a {kind}"
        );
    }
    // Confirmed: the plan is gone, and the numbering goes on.
    let done = site.queued(usize::MAX).unwrap().unwrap();
    assert_eq!((done.backlog, done.forwarded), (0, planned.items + 1));
    let left: i64 = site
        .db
        .conn
        .query_row("SELECT count(*) FROM outbox_history", [], |r| r.get(0))
        .unwrap();
    assert_eq!(left, 0);
    site.write_polled_round(
        &round(now + Duration::minutes(5)),
        &[poll("10.0.0.5", "AA1", now + Duration::minutes(5), 1001, 6)],
    )
    .unwrap();
    let next = site.queued(usize::MAX).unwrap().unwrap();
    assert_eq!(next.items[0].0, planned.items + 2);
}

#[test]
fn a_postgresql_database_that_becomes_a_site_plans_and_sends_its_history_too() {
    let dir = tempfile::tempdir().unwrap();
    let mut site = Store::open(super::tests::postgres_database()).unwrap();
    site_history(&mut site);
    let planned = site.set_outbox(true).unwrap().expect("history to forward");
    assert_eq!(
        (
            planned.polls,
            planned.failed,
            planned.entered,
            planned.withdrawn,
            planned.items
        ),
        (6, 1, 2, 1, 4)
    );
    let mut central = Store::open(Database::File(dir.path().join("central.db"))).unwrap();
    assert_eq!(forward_all(&mut site, &mut central, usize::MAX), 1);
    same_series(&central, &site);
}

#[test]
fn a_site_s_poll_older_than_the_central_s_latest_of_the_device_from_elsewhere_is_not_stored_out_of_its_time()
 {
    let dir = tempfile::tempdir().unwrap();
    let mut central = Store::open(Database::File(dir.path().join("central.db"))).unwrap();
    // The central polled AA1 itself, later than the site's history of it.
    central
        .write_polled_round(&round(t(60)), &[poll("10.9.9.9", "AA1", t(60), 5000, 4000)])
        .unwrap();
    // The site's clock went back once: it stored its third poll of BB2
    // just after its second, and the central must too.
    let mut site = site_store(dir.path(), "bergen");
    for (at, total) in [(t(0), 1000), (t(5), 1010)] {
        site.write_polled_round(
            &round(at),
            &[
                poll("10.0.0.5", "AA1", at, total, 800),
                poll("10.0.0.6", "BB2", at, total / 10, 50),
            ],
        )
        .unwrap();
    }
    site.write_polled_round(&round(t(2)), &[poll("10.0.0.6", "BB2", t(2), 150, 60)])
        .unwrap();
    forward_all(&mut site, &mut central, usize::MAX);

    let totals = |store: &Store, s: &str| -> Vec<(DateTime<Utc>, u64)> {
        readings(store, s, Some("bergen"))
            .iter()
            .filter_map(|r| Some((r.at, r.meters.value(Meter::Total)?)))
            .collect()
    };
    assert_eq!(
        totals(&central, "AA1"),
        [(t(60), 5000)],
        "the site's older polls of AA1 are not stored after the central's"
    );
    assert!(
        events(&central, "AA1").is_empty(),
        "{:?}",
        events(&central, "AA1")
    );
    assert_eq!(totals(&central, "BB2"), totals(&site, "BB2"));
    assert_eq!(
        totals(&site, "BB2").last().unwrap().0,
        t(5) + Duration::milliseconds(1)
    );
}

#[test]
fn a_planned_item_whose_rows_are_gone_is_sent_empty_and_the_rest_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let mut site = Store::open(Database::File(dir.path().join("bergen.db"))).unwrap();
    site_history(&mut site);
    let planned = site.set_outbox(true).unwrap().unwrap();
    // Plan rows of an entered reading and a withdrawal that are not stored
    // (as after a restore of an older copy under the plan).
    let n = planned.items as i64;
    site.db
        .conn
        .execute(
            "INSERT INTO outbox_history (seq, entered) VALUES (?1, 999)",
            params![n + 1],
        )
        .unwrap();
    site.db
        .conn
        .execute(
            "INSERT INTO outbox_history (seq, withdrawn) VALUES (?1, 999)",
            params![n + 2],
        )
        .unwrap();
    let q = site.queued(usize::MAX).unwrap().unwrap();
    assert_eq!(q.items.len() as u64, planned.items + 2);
    let empty = crate::wire::Item::Round {
        round: None,
        polls: Vec::new(),
    };
    assert_eq!(q.items[n as usize].1, empty);
    assert_eq!(q.items[n as usize + 1].1, empty);
    let mut central = Store::open(Database::File(dir.path().join("central.db"))).unwrap();
    forward_all(&mut site, &mut central, usize::MAX);
    assert_eq!(
        readings(&central, "AA1", Some("bergen")),
        readings(&site, "AA1", None)
    );
}
