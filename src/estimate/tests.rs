//! Data-driven: each case is readings (Oslo local times), an instant, and the
//! value and method expected, with the arithmetic written by hand.

use super::*;
use crate::contract::dates::local_instant;
use crate::meters::series::{Point, Series};
use crate::meters::{Source, ValueKind};
use crate::timestamp::Timestamp;

fn t(local: &str) -> Timestamp {
    let s = if local.len() == 10 {
        format!("{local} 00:00")
    } else {
        local.to_owned()
    };
    let naive = chrono::NaiveDateTime::parse_from_str(&s, "%Y-%m-%d %H:%M").unwrap();
    Timestamp::from_millis(local_instant(naive).unwrap().timestamp_millis())
}

fn series(readings: &[(&str, u64)]) -> Vec<Point> {
    readings
        .iter()
        .map(|(at, value)| Point {
            at: t(at),
            value: *value,
            source: Source::Manual,
            kind: ValueKind::Integer,
        })
        .collect()
}

struct Case {
    name: &'static str,
    readings: &'static [(&'static str, u64)],
    at: &'static str,
    expected: Option<(u64, Method)>,
}

const CASES: &[Case] = &[
    Case {
        name: "worked example: interpolation, 10 of 20 days",
        readings: &[("2025-06-21", 130_000), ("2025-07-11", 132_400)],
        at: "2025-07-01",
        // 130 000 + 2 400 × 240 h / 480 h = 131 200
        expected: Some((131_200, Method::Interpolation)),
    },
    Case {
        name: "worked example: extrapolation over a spring DST change",
        readings: &[("2025-03-23", 121_000), ("2025-06-21", 130_000)],
        at: "2025-07-01",
        // 130 000 + 240 h × 9 000 / 2 159 h = 131 000.46 → 131 000
        expected: Some((131_000, Method::Extrapolation)),
    },
    Case {
        name: "worked example: interpolation in real hours, not days",
        readings: &[("2025-03-23", 121_000), ("2025-06-21", 130_000)],
        at: "2025-04-01",
        // 121 000 + 9 000 × 215 h / 2 159 h = 121 896.2 → 121 896
        expected: Some((121_896, Method::Interpolation)),
    },
    Case {
        name: "exact reading",
        readings: &[
            ("2025-06-30", 100),
            ("2025-07-01", 150),
            ("2025-07-02", 190),
        ],
        at: "2025-07-01",
        expected: Some((150, Method::Exact)),
    },
    Case {
        name: "polls a quarter of an hour either side are measured",
        readings: &[("2025-06-30 23:45", 1_000), ("2025-07-01 00:15", 1_003)],
        at: "2025-07-01",
        // 1 000 + 3 × 15/30 = 1 001.5 → 1 002 (half away from zero)
        expected: Some((1_002, Method::Bracketed)),
    },
    Case {
        name: "24 hours either side is still bracketed",
        readings: &[("2025-06-30", 1_000), ("2025-07-02", 1_200)],
        at: "2025-07-01",
        expected: Some((1_100, Method::Bracketed)),
    },
    Case {
        name: "a neighbour more than 24 hours away makes an estimate",
        readings: &[("2025-06-30", 1_000), ("2025-07-02 00:01", 1_200)],
        at: "2025-07-01",
        // 1 000 + 200 × 1 440 min / 2 881 min = 1 099.97 → 1 100
        expected: Some((1_100, Method::Interpolation)),
    },
    Case {
        name: "interpolation across the autumn DST night (25 hours)",
        readings: &[("2025-10-26", 0), ("2025-10-27", 2_500)],
        at: "2025-10-26 12:00",
        // 12:00 local is 13 real hours after midnight that day: 2 500 × 13/25 = 1 300
        expected: Some((1_300, Method::Bracketed)),
    },
    Case {
        name: "no backward extrapolation before the first reading",
        readings: &[("2025-07-02", 1_000), ("2025-07-03", 1_100)],
        at: "2025-07-01",
        expected: None,
    },
    Case {
        name: "no reading at all",
        readings: &[],
        at: "2025-07-01",
        expected: None,
    },
    Case {
        name: "one reading only gives no rate: no value after it",
        readings: &[("2025-06-01", 5_000)],
        at: "2025-07-01",
        expected: None,
    },
    Case {
        name: "one reading only, asked at it: exact",
        readings: &[("2025-06-01", 5_000)],
        at: "2025-06-01",
        expected: Some((5_000, Method::Exact)),
    },
    Case {
        name: "short history: the rate from the first reading",
        readings: &[("2025-06-01", 5_000), ("2025-06-11", 6_000)],
        at: "2025-06-21",
        // 100 pages a day for 10 days more: 7 000
        expected: Some((7_000, Method::Extrapolation)),
    },
    Case {
        name: "trailing window anchored between two readings",
        readings: &[
            ("2024-12-01", 0),
            ("2025-01-31", 6_100),
            ("2025-05-01", 15_000),
        ],
        at: "2025-05-11",
        // Anchor 2025-01-31 00:00 (90 days before 1 May) is exactly the second
        // reading: rate 8 900 pages over 2 159 h (spring DST); 240 h more:
        // 15 000 + 8 900 × 240 / 2 159 = 15 989.3 → 15 989
        expected: Some((15_989, Method::Extrapolation)),
    },
    Case {
        name: "trailing anchor interpolated",
        readings: &[
            ("2024-11-01", 0),
            ("2024-12-31", 6_000),
            ("2025-01-30", 9_000),
            ("2025-04-30", 18_000),
        ],
        at: "2025-05-10",
        // Anchor 2025-01-30 00:00 = 90 days before 30 April: the exact reading
        // 9 000, 2 159 h earlier (DST). 18 000 + 9 000 × 240 / 2 159 = 19 000.46
        expected: Some((19_000, Method::Extrapolation)),
    },
];

#[test]
fn boundary_values_of_the_cases() {
    for case in CASES {
        let points = series(case.readings);
        let s = Series::new(&points);
        let got = value_at(&s, t(case.at), 90).map(|b| (b.value, b.method));
        assert_eq!(got, case.expected, "{}", case.name);
    }
}

#[test]
fn an_anchor_between_readings_is_interpolated_exactly() {
    // Readings 1 Jan 0, 1 Mar 5 900, 31 May 15 000. 90 days before 31 May is
    // 2 March 00:00; between 1 Mar (5 900) and 31 May: 24 h of 2 183 h (DST
    // included: 91 days − 1 h) → anchor 5 900 + 9 100 × 24/2 183 = 6 000.05…;
    // rate (15 000 − 6 000.05) over 2 159 h; 10 days (240 h) on:
    // 15 000 + 8 999.95 × 240 / 2 159 = 16 000.45 → 16 000.
    let points = series(&[
        ("2025-01-01", 0),
        ("2025-03-01", 5_900),
        ("2025-05-31", 15_000),
    ]);
    let s = Series::new(&points);
    let b = value_at(&s, t("2025-06-10"), 90).unwrap();
    assert_eq!((b.value, b.method), (16_000, Method::Extrapolation));
    assert_eq!(b.basis, vec![1, 2]);
}

#[test]
fn a_boundary_inside_a_reset_gap_reads_on_the_new_counter() {
    // 1 000 on 1 July, reset, 40 on 3 July, 60 on 4 July. At 2 July the
    // cumulative count lies between 1 000 and 1 040: 1 020, i.e. 20 on the new
    // counter.
    let points = series(&[
        ("2025-07-01", 1_000),
        ("2025-07-03", 40),
        ("2025-07-04", 60),
    ]);
    let s = Series::new(&points);
    let b = value_at(&s, t("2025-07-02"), 90).unwrap();
    assert_eq!((b.cum, b.value), (1_020, 20));
}

#[test]
fn rounding_is_half_away_from_zero() {
    assert_eq!(div_round(3, 2), 2);
    assert_eq!(div_round(5, 2), 3);
    assert_eq!(div_round(-3, 2), -2);
    assert_eq!(div_round(4, 3), 1);
    assert_eq!(div_round(0, 7), 0);
}
