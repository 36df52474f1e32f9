//! Tests of a round's bookkeeping with polls the tests write themselves: a
//! poll that panics, and a stop in the middle of a round.

use std::path::Path;
use std::time::Duration;

use super::*;
use crate::record::DeviceReading;

/// Three community entries, polled two at a time.
fn config() -> Config {
    let text = r#"
[collector]
concurrency = 2
[[device]]
address = "127.0.0.1:16101"
community = "one"
[[device]]
address = "127.0.0.1:16102"
community = "two"
[[device]]
address = "127.0.0.1:16103"
community = "three"
"#;
    crate::config::parse(Path::new("/tmp/telleverk.toml"), text, &|_| None).unwrap()
}

fn answered(entry: &DeviceEntry) -> PollRecord {
    PollRecord {
        at: crate::clock::now(),
        entry_key: entry.key.clone(),
        address: entry.address.clone(),
        outcome: Outcome::Ok(Box::default()),
    }
}

fn causes(polled: &Polled) -> Vec<Option<FailureCause>> {
    polled
        .records
        .iter()
        .map(|r| match &r.outcome {
            Outcome::Ok(_) => None,
            Outcome::Failed { cause, .. } => Some(*cause),
        })
        .collect()
}

#[tokio::test]
async fn a_poll_that_panics_is_the_entry_s_internal_failure_and_the_round_goes_on() {
    let config = config();
    let (_keep, mut shutdown) = watch::channel(false);
    let second = config.devices[1].key.clone();
    let polled = round_of(
        &config.devices,
        config.collector.concurrency,
        Clock::System,
        &mut shutdown,
        |entry| {
            let panics = entry.key == second;
            async move {
                if panics {
                    let text = "KONICA MINOLTAÉ";
                    // The slice the model-name bug made: a byte index inside É.
                    let cut = text.get(..15).map(str::len);
                    panic!("a bug while polling: {cut:?}");
                }
                answered(&entry)
            }
        },
    )
    .await;
    assert_eq!(polled.end, RoundEnd::Completed);
    assert_eq!(
        causes(&polled),
        vec![None, Some(FailureCause::Internal), None]
    );
    let Outcome::Failed { detail, .. } = &polled.records[1].outcome else {
        unreachable!()
    };
    assert!(detail.contains("a bug while polling: None"), "{detail}");
    assert!(detail.contains("src/collector/tests.rs"), "{detail}");
    assert_eq!(polled.records[1].entry_key, second);
}

/// A round over `config` whose polls answer at once for `quick` entries and
/// never for the others, stopped after 200 ms; each record as
/// "cause: detail" or "ok".
async fn stopped_round(config: &Config, quick: &str) -> (Polled, Vec<String>) {
    let (stop, mut shutdown) = watch::channel(false);
    let stopping = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        stop.send(true).unwrap();
        stop
    });
    let polled = round_of(
        &config.devices,
        config.collector.concurrency,
        Clock::System,
        &mut shutdown,
        |entry| {
            let answers = entry.key == quick;
            async move {
                if !answers {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                }
                answered(&entry)
            }
        },
    )
    .await;
    let _stop = stopping.await.unwrap();
    let shown = polled
        .records
        .iter()
        .map(|r| match &r.outcome {
            Outcome::Failed { cause, detail } => format!("{cause}: {detail}"),
            Outcome::Ok(_) => "ok".into(),
        })
        .collect();
    (polled, shown)
}

#[tokio::test]
async fn a_stop_records_the_polls_running_and_those_not_started_as_aborted() {
    const RUNNING: &str = "aborted: the service stopped while this poll was running";
    const NOT_STARTED: &str = "aborted: the service stopped before this entry was polled";
    let mut config = config();
    // The first entry answers at once and the third takes its slot; the
    // second and the third never answer, so the stop finds both running.
    let first = config.devices[0].key.clone();
    let (polled, shown) = stopped_round(&config, &first).await;
    assert_eq!(polled.end, RoundEnd::Stopped);
    assert_eq!(shown[0], "ok");
    assert!(shown[1].starts_with(RUNNING), "{shown:?}");
    assert!(shown[2].starts_with(RUNNING), "{shown:?}");

    // With one slot and no answers, the stop finds the first entry running
    // and the others not started.
    config.collector.concurrency = 1;
    let (polled, shown) = stopped_round(&config, "none").await;
    assert!(shown[0].starts_with(RUNNING), "{shown:?}");
    assert!(shown[1].starts_with(NOT_STARTED), "{shown:?}");
    assert!(shown[2].starts_with(NOT_STARTED), "{shown:?}");
    let round = polled.round(3, Some(Duration::from_secs(900)));
    assert_eq!((round.entries, round.interval_ms), (3, Some(900_000)));
    assert_eq!(round.end, RoundEnd::Stopped);
    assert!(round.ended >= round.started);
}

#[test]
fn a_reading_without_meters_is_no_meters_and_one_with_problems_partial() {
    let mut reading = DeviceReading::default();
    assert_eq!(reading.failure_cause(), Some(FailureCause::NoMeters));
    reading.meters.insert(crate::meters::MeterValue {
        meter: crate::meters::Meter::Total,
        value: 1,
        kind: crate::meters::ValueKind::Counter32,
    });
    assert_eq!(reading.failure_cause(), None);
    reading.problems.push("supplies table not read".into());
    assert_eq!(reading.failure_cause(), Some(FailureCause::Partial));
}

/// A printer a scan found at `address`.
fn found(address: &str, serial: &str) -> discovery::Found {
    discovery::Found {
        address: address.into(),
        printer: true,
        serial: Some(serial.into()),
        model: Some("bizhub C300i".into()),
        profile: Some("konica-minolta-bizhub".into()),
        sys_object_id: Some("1.3.6.1.4.1.18334.1.2.1.2.1.48.1.3".into()),
        sys_descr: None,
        version: "2c",
        credential: "communities[0]".into(),
        configured: false,
    }
}

/// Issue 16 §3 below the service: a scan's moves and new devices are
/// stored, the entries polled after follow them (also after a restart),
/// and a discovered device a person then adds is no longer polled as one.
#[test]
fn scans_move_entries_after_their_devices_and_add_the_new_ones() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("telleverk.db");
    let text = |extra: &str| {
        format!(
            "[storage]\npath = \"{}\"\n[discovery]\ncommunities = [\"public\"]\n\
             ranges = [\"127.0.0.1-9\"]\nauto_add = true\n\
             [[device]]\naddress = \"127.0.0.1:161\"\ncommunity = \"one\"\nlocation = \"Reception\"\n{extra}",
            db.display()
        )
    };
    let config = |extra: &str| {
        crate::config::parse(Path::new("/tmp/telleverk.toml"), &text(extra), &|_| None).unwrap()
    };
    let c = config("");
    let mut store = Store::open(&db).unwrap();
    // The entry has answered as ONE at its configured address.
    let first = discovery::targets_after(&c, &store).unwrap();
    assert_eq!(first.len(), 1);
    let mut polled = answered(&first[0]);
    polled.outcome = Outcome::Ok(Box::new(DeviceReading {
        serial: crate::serial::Serial::parse("ONE").unwrap(),
        ..DeviceReading::default()
    }));
    store.write_round(&[polled]).unwrap();

    // ONE is found at .5 now; NEW is a bizhub nobody polls; HP is another
    // vendor's printer.
    let mut hp = found("127.0.0.9:161", "HP1");
    hp.sys_object_id = Some("1.3.6.1.4.1.11.2.3.9.1".into());
    let scan = [
        found("127.0.0.5:161", "ONE"),
        found("127.0.0.7:161", "NEW"),
        hp,
    ];
    let (done, next) = discovery::follow(&c, &mut store, &first, &scan, Clock::System).unwrap();
    assert_eq!(done.moved.len(), 1);
    assert_eq!(
        (done.moved[0].from.as_str(), done.moved[0].to.as_str()),
        ("127.0.0.1:161", "127.0.0.5:161")
    );
    assert_eq!(done.added.len(), 1);
    assert_eq!(done.added[0].serial.as_str(), "NEW");
    assert_eq!(done.not_polled, 1, "the HP printer");
    let shown: Vec<(&str, &str)> = next
        .iter()
        .map(|d| (d.key.as_str(), d.address.as_str()))
        .collect();
    assert_eq!(
        shown,
        [
            (first[0].key.as_str(), "127.0.0.5:161"),
            ("discovered:NEW", "127.0.0.7:161")
        ]
    );
    assert_eq!(next[0].location.as_deref(), Some("Reception"));
    assert_eq!(next[1].credentials, c.discovery.credentials[0].2);

    // The same again changes nothing; a restart polls the same entries.
    let (again, _) = discovery::follow(&c, &mut store, &next, &scan, Clock::System).unwrap();
    assert!(again.moved.is_empty() && again.added.is_empty());
    drop(store);
    let store = Store::open(&db).unwrap();
    let after_restart = discovery::targets_after(&c, &store).unwrap();
    assert_eq!(after_restart, next);
    let one = crate::serial::Serial::parse("ONE").unwrap();
    let events = store.events(&one).unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].kind, "move");
    assert!(events[0].detail.contains("127.0.0.5:161"), "{events:?}");

    // A person adds NEW to the config: it is polled through that entry
    // only. Without auto_add the discovered devices are not polled.
    let added = config(
        "[[device]]\naddress = \"127.0.0.7:161\"\ncommunity = \"public\"\nserial = \"NEW\"\n",
    );
    let keys: Vec<String> = discovery::targets_after(&added, &store)
        .unwrap()
        .into_iter()
        .map(|d| d.key)
        .collect();
    assert_eq!(keys.len(), 2);
    assert!(
        !keys.iter().any(|k| k.starts_with("discovered:")),
        "{keys:?}"
    );
    let mut off = config("");
    off.discovery.auto_add = false;
    assert_eq!(discovery::targets_after(&off, &store).unwrap().len(), 1);
}
