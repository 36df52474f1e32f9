//! Uptime from observations, with the arithmetic by hand.

use chrono::{DateTime, Utc};

use super::*;

fn d(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

fn t(text: &str) -> Timestamp {
    Timestamp::from(text.parse::<DateTime<Utc>>().unwrap())
}

const QUARTER: i64 = 15 * 60 * 1000;

/// Polls every 15 minutes from `from` to `to` (UTC), each down when
/// `down(at)` says.
fn polls(from: &str, to: &str, down: impl Fn(Timestamp) -> bool) -> Vec<Observation> {
    let (mut at, end) = (t(from), t(to));
    let mut out = Vec::new();
    while at < end {
        out.push(Observation {
            at,
            state: Some(if down(at) { State::Down } else { State::Up }),
            hold_ms: 3 * QUARTER,
        });
        at = Timestamp::from_millis(at.millis() + QUARTER);
    }
    out
}

#[test]
fn example_u1_may_2026_is_70_83_percent() {
    // Polls every 15 minutes around the clock; failing from Monday
    // 2026-05-11 10:00 up to and including 2026-05-19 11:45 Oslo (CEST,
    // UTC+2), answering again at 12:00. Lost: 11 May 6 h, 12, 13, 15 May
    // 8 h each (14 May is Ascension Day), 18 May 8 h, 19 May 4 h = 42 h of
    // 144 h: (144 − 42) ÷ 144 = 70.83 %.
    let (fails, back) = (t("2026-05-11T08:00:00Z"), t("2026-05-19T10:00:00Z"));
    let obs = polls("2026-04-30T22:00:00Z", "2026-05-31T22:00:00Z", |at| {
        at >= fails && at < back
    });
    let months = tally(
        &obs,
        &Calendar::default(),
        &[d("2026-05-01")],
        t("2026-06-15T00:00:00Z"),
    );
    let may = months[0];
    assert_eq!(may.working_ms, 144 * 3_600_000);
    assert_eq!(may.down_ms, 42 * 3_600_000);
    assert_eq!(may.up_ms, 102 * 3_600_000);
    assert_eq!(may.uptime_pct().unwrap().to_string(), "70.83");
    assert_eq!(may.evidence_pct().unwrap().to_string(), "100.00");
}

#[test]
fn evidence_holds_three_intervals_and_setup_faults_are_none() {
    // One poll at 08:00 Oslo (06:00Z) on Monday 2026-05-11, up, holding 45
    // minutes; then nothing: 45 minutes of the month's 144 working hours
    // had evidence (0.52 %), all of it up.
    let one = [Observation {
        at: t("2026-05-11T06:00:00Z"),
        state: Some(State::Up),
        hold_ms: 3 * QUARTER,
    }];
    let m = tally(
        &one,
        &Calendar::default(),
        &[d("2026-05-01")],
        t("2026-06-15T00:00:00Z"),
    )[0];
    assert_eq!((m.up_ms, m.down_ms), (45 * 60_000, 0));
    assert_eq!(m.uptime_pct().unwrap().to_string(), "100.00");
    assert_eq!(
        m.evidence_pct().unwrap().to_string(),
        "0.52",
        "45 min of 144 h"
    );
    // An authentication failure is no evidence: the span it starts is
    // counted nowhere.
    let mut obs = polls("2026-05-11T06:00:00Z", "2026-05-11T14:00:00Z", |_| false);
    obs[4].state = failed(FailureCause::Authentication);
    let m = tally(
        &obs,
        &Calendar::default(),
        &[d("2026-05-01")],
        t("2026-06-15T00:00:00Z"),
    )[0];
    assert_eq!((m.up_ms, m.down_ms), (8 * 3_600_000 - QUARTER, 0));
    assert_eq!(failed(FailureCause::Timeout), Some(State::Down));
    assert_eq!(answered(Some(5)), State::Down);
    assert_eq!(answered(Some(3)), State::Up);
    // Six whole months before 2026-11-30: June to November is not whole;
    // May to October are.
    assert_eq!(
        months_before(d("2026-11-30"), 6),
        [
            d("2026-05-01"),
            d("2026-06-01"),
            d("2026-07-01"),
            d("2026-08-01"),
            d("2026-09-01"),
            d("2026-10-01")
        ]
    );
}

mod sweep {
    use proptest::prelude::*;

    use super::*;

    const MINUTE: i64 = 60_000;

    /// Minute by minute: each working minute takes the state of the last
    /// observation at or before it, while that holds.
    fn brute(obs: &[Observation], calendar: &Calendar, month: NaiveDate) -> (i64, i64, i64) {
        let (start, end) = (midnight(month).millis(), midnight(d("2026-06-01")).millis());
        let (mut working, mut up, mut down) = (0, 0, 0);
        let mut m = start;
        while m < end {
            let at = Timestamp::from_millis(m);
            if calendar.working_ms(at, Timestamp::from_millis(m + MINUTE)) == MINUTE {
                working += MINUTE;
                let last = obs.iter().rev().find(|o| o.at.millis() <= m);
                if let Some(o) = last.filter(|o| m < o.at.millis() + o.hold_ms) {
                    match o.state {
                        Some(State::Up) => up += MINUTE,
                        Some(State::Down) => down += MINUTE,
                        None => {}
                    }
                }
            }
            m += MINUTE;
        }
        (working, up, down)
    }

    fn observation() -> impl Strategy<Value = (i64, Option<bool>, i64)> {
        // Minutes into May 2026 (a week around Ascension Day mostly).
        (
            14_000i64..26_000,
            proptest::option::of(any::<bool>()),
            1i64..600,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn the_sweep_counts_what_minute_by_minute_counts(raw in proptest::collection::vec(observation(), 0..24)) {
            let start = midnight(d("2026-05-01")).millis();
            let mut obs: Vec<Observation> = raw
                .iter()
                .map(|&(minute, state, hold)| Observation {
                    at: Timestamp::from_millis(start + minute * MINUTE),
                    state: state.map(|up| if up { State::Up } else { State::Down }),
                    hold_ms: hold * MINUTE,
                })
                .collect();
            obs.sort_by_key(|o| o.at);
            obs.dedup_by_key(|o| o.at);
            let calendar = Calendar::new([d("2026-05-12")]);
            let m = tally(&obs, &calendar, &[d("2026-05-01")], t("2026-07-01T00:00:00Z"))[0];
            prop_assert_eq!((m.working_ms, m.up_ms, m.down_ms), brute(&obs, &calendar, d("2026-05-01")));
        }
    }
}
