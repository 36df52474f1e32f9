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
    let polled = round_of(&config, Clock::System, &mut shutdown, |entry| {
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
    })
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

#[tokio::test]
async fn a_stop_records_the_polls_running_and_those_not_started_as_aborted() {
    let config = config();
    let (stop, mut shutdown) = watch::channel(false);
    let first = config.devices[0].key.clone();
    let stopping = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        stop.send(true).unwrap();
        stop
    });
    // The first entry answers at once and the third takes its slot; the
    // second and the third never answer, so the stop finds both running.
    let polled = round_of(&config, Clock::System, &mut shutdown, |entry| {
        let quick = entry.key == first;
        async move {
            if !quick {
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
            answered(&entry)
        }
    })
    .await;
    let _stop = stopping.await.unwrap();
    assert_eq!(polled.end, RoundEnd::Stopped);
    assert_eq!(
        causes(&polled),
        vec![
            None,
            Some(FailureCause::Aborted),
            Some(FailureCause::Aborted)
        ]
    );
    let details: Vec<&str> = polled.records[1..]
        .iter()
        .map(|r| match &r.outcome {
            Outcome::Failed { detail, .. } => detail.as_str(),
            Outcome::Ok(_) => "",
        })
        .collect();
    assert!(
        details[0].contains("while this poll was running"),
        "{details:?}"
    );
    assert!(
        details[1].contains("while this poll was running"),
        "{details:?}"
    );

    // With one slot, the stop finds the first entry running and the others
    // not started.
    let mut config = config;
    config.collector.concurrency = 1;
    let (stop, mut shutdown) = watch::channel(false);
    let stopping = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        stop.send(true).unwrap();
        stop
    });
    let polled = round_of(&config, Clock::System, &mut shutdown, |entry| async move {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        answered(&entry)
    })
    .await;
    let _stop = stopping.await.unwrap();
    let details: Vec<String> = polled
        .records
        .iter()
        .map(|r| match &r.outcome {
            Outcome::Failed { cause, detail } => format!("{cause}: {detail}"),
            Outcome::Ok(_) => "ok".into(),
        })
        .collect();
    assert!(
        details[0].starts_with("aborted: the service stopped while this poll was running"),
        "{details:?}"
    );
    assert!(
        details[1].starts_with("aborted: the service stopped before this entry was polled"),
        "{details:?}"
    );
    assert!(
        details[2].starts_with("aborted: the service stopped before this entry was polled"),
        "{details:?}"
    );
    let round = polled.round(3, Some(Duration::from_secs(900)));
    assert_eq!((round.entries, round.interval_ms), (3, Some(900_000)));
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
