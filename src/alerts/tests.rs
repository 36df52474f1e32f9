//! Data-driven tests of the open alerts.

use super::*;
use crate::contract::tests::{d, k1, k2};
use crate::serial::Serial;
use crate::timestamp::Timestamp;

const SERIAL: &str = "AA2M021115700";
const MIN: i64 = 60_000;

fn supply(description: &str, level: i64, max: i64) -> Supply {
    Supply {
        index: 1,
        description: description.into(),
        kind: "toner".into(),
        colour: None,
        level,
        max,
        percent: crate::supplies::percent(level, max),
    }
}

fn kinds(alerts: &[Alert]) -> Vec<&'static str> {
    alerts.iter().map(|a| a.kind.name()).collect()
}

#[test]
fn device_alerts_follow_supplies_answers_and_status() {
    let supplies = [
        supply("Black toner", 10, 100), // 10 % is low at 10
        supply("Cyan toner", 11, 100),  // 11 % is not
        supply("Waste toner", 0, 100),  // empty
        supply("Fuser", -3, 100),       // "some remaining": no percentage, no alert
    ];
    let now = Timestamp::from_millis(1_000 * MIN);
    let serial = Serial::parse(SERIAL).unwrap();
    let base = DeviceFacts {
        serial: &serial,
        polled: true,
        last_poll: Some(now - 10 * MIN),
        failure: None,
        device_status: Some(2),
        no_meters: false,
        supplies: &supplies,
    };
    let settings = Thresholds::default();
    // (case, facts, expected kinds)
    let cases: Vec<(&str, DeviceFacts, Vec<&str>)> = vec![
        (
            "answering",
            base.clone(),
            vec!["supply_low", "supply_empty"],
        ),
        (
            "down",
            DeviceFacts {
                device_status: Some(5),
                supplies: &[],
                ..base.clone()
            },
            vec!["device_down"],
        ),
        (
            "failed after the last poll",
            DeviceFacts {
                failure: Some((now - MIN, crate::record::FailureCause::Timeout)),
                supplies: &[],
                ..base.clone()
            },
            vec!["unreachable"],
        ),
        (
            // 2 intervals of 15 minutes is 30 minutes: 31 is stale, 30 is not.
            "stale",
            DeviceFacts {
                last_poll: Some(now - 31 * MIN),
                supplies: &[],
                ..base.clone()
            },
            vec!["stale"],
        ),
        (
            "just within two intervals",
            DeviceFacts {
                last_poll: Some(now - 30 * MIN),
                supplies: &[],
                ..base.clone()
            },
            vec![],
        ),
        (
            "never polled",
            DeviceFacts {
                last_poll: None,
                supplies: &[],
                ..base.clone()
            },
            vec!["stale"],
        ),
        (
            "answers without meters",
            DeviceFacts {
                no_meters: true,
                supplies: &[],
                ..base.clone()
            },
            vec!["no_meters"],
        ),
        (
            "answers without meters, then stops answering: unreachable says it",
            DeviceFacts {
                no_meters: true,
                failure: Some((now - MIN, crate::record::FailureCause::Timeout)),
                supplies: &[],
                ..base.clone()
            },
            vec!["unreachable"],
        ),
        (
            "read by hand: no poll alerts",
            DeviceFacts {
                polled: false,
                last_poll: None,
                supplies: &[],
                ..base.clone()
            },
            vec![],
        ),
    ];
    for (case, facts, expected) in cases {
        let got = device_alerts(&facts, &settings, 15 * MIN, now);
        assert_eq!(kinds(&got), expected, "{case}");
        assert!(
            got.iter().all(|a| a.serial.as_deref() == Some(SERIAL)),
            "{case}"
        );
    }
}

#[test]
fn a_reading_is_due_near_a_billing_boundary() {
    // K1 is advance: halves end 2025-07-01 and 2026-01-01. reading_due_days 3.
    let settings = Thresholds::default();
    let serial = Serial::parse(SERIAL).unwrap();
    let at = |s: &str| midnight(d(s));
    let cases = [
        // (today, last reading, open?)
        ("2025-06-27", None, false), // 4 days before: not yet
        ("2025-06-28", None, true),  // 3 days before
        ("2025-06-28", Some(at("2025-06-28")), false), // read within the window
        ("2025-06-28", Some(at("2025-06-27") + 1), true), // read before it
        ("2025-07-03", Some(at("2025-06-20")), true), // 2 days after: still open
        ("2025-07-04", Some(at("2025-06-20")), true), // 3 days after
        ("2025-07-05", Some(at("2025-06-20")), false), // too late: an estimate
        ("2025-07-02", Some(at("2025-07-01") + 5), false), // read after the boundary
    ];
    for (today, last, open) in cases {
        let got = reading_due(&k1(), &serial, last, &settings, d(today));
        assert_eq!(got.is_some(), open, "today {today}, last {last:?}: {got:?}");
        if let Some(a) = got {
            assert_eq!(a.contract.as_deref(), Some("K1"));
            assert!(a.message.contains("2025-07-01"), "{}", a.message);
        }
    }
    // Not a member: no alert.
    assert_eq!(
        reading_due(
            &k1(),
            &Serial::parse("OTHER").unwrap(),
            None,
            &settings,
            d("2025-06-30")
        ),
        None
    );
    // K2 is arrears from 2025-03-15: quarters end 2025-06-15.
    assert!(
        reading_due(
            &k2(),
            &k2().devices[0].serial,
            None,
            &settings,
            d("2025-06-13")
        )
        .is_some()
    );
    assert!(
        reading_due(
            &k2(),
            &k2().devices[0].serial,
            None,
            &settings,
            d("2025-06-11")
        )
        .is_none()
    );
}

#[test]
fn the_notice_deadline_warns_ahead() {
    // K1's term ends 2029-12-31: notice at the latest 2029-08-31 (4 whole
    // calendar months before). The warning opens 90 days before that.
    let k = k1();
    let (_, deadline) = k.next_deadline(d("2029-01-01")).unwrap();
    assert_eq!(deadline, d("2029-08-31"));
    let settings = Thresholds::default();
    let open_from = deadline - chrono::Days::new(90);
    let open = notice_deadline(&k, &settings, open_from).expect("open 90 days before");
    assert!(
        open.message.contains("by 2029-08-31 (90 days)"),
        "{}",
        open.message
    );
    assert!(
        open.message.contains("end the contract at 2030-01-01"),
        "{}",
        open.message
    );
    assert!(notice_deadline(&k, &settings, open_from - chrono::Days::new(1)).is_none());
    assert!(notice_deadline(&k, &settings, deadline).is_some());
    let after = notice_deadline(&k, &settings, deadline + chrono::Days::new(1));
    assert!(
        after.is_none(),
        "past the deadline the next one is a year away: {after:?}"
    );
    let mut terminated = k1();
    terminated.terminated_on = Some(d("2029-06-01"));
    assert_eq!(notice_deadline(&terminated, &settings, deadline), None);
}
