//! The vendor import pinned byte for byte.

use crate::serial::Serial;
use crate::timestamp::Timestamp;
use std::collections::HashMap;

use super::*;
use crate::contract::Membership;
use crate::contract::dates::{DAY_MS, HOUR_MS};
use crate::contract::tests::{d, k1};
use crate::meters::Source;
use crate::meters::ValueKind;
use crate::meters::series::Point;

fn point(at: Timestamp, value: u64, source: Source) -> Point {
    Point {
        at,
        value,
        source,
        kind: if source == Source::Polled {
            ValueKind::Counter32
        } else {
            ValueKind::Manual
        },
    }
}

/// At 2026-07-01 00:00 Oslo (22:00 UTC the day before):
/// - bw_total polled 10 h before (1 000) and 8 h after (1 180): 1 000 + 180 × 10/18
///   = 1 100, both within 24 hours: bracketed;
/// - colour_total entered by hand exactly then: 500, exact, manual;
/// - bw_large polled 30 and 10 days before (100, 120): 1 page a day, so 130 by
///   extrapolation;
/// - colour_large never read: no row.
fn history() -> DeviceHistory {
    let at = midnight(d("2026-07-01"));
    let mut points = HashMap::new();
    points.insert(
        Meter::BwTotal,
        vec![
            point(at - 10 * HOUR_MS, 1_000, Source::Polled),
            point(at + 8 * HOUR_MS, 1_180, Source::Polled),
        ],
    );
    points.insert(Meter::ColourTotal, vec![point(at, 500, Source::Manual)]);
    points.insert(
        Meter::BwLarge,
        vec![
            point(at - 30 * DAY_MS, 100, Source::Polled),
            point(at - 10 * DAY_MS, 120, Source::Polled),
        ],
    );
    DeviceHistory::new(&Serial::parse("AA2M021115700").unwrap(), false, points)
}

#[test]
fn the_import_is_exactly_the_agreed_format() {
    let mut rows = device_rows(&k1(), &history(), Some("bizhub C300i"), d("2026-07-01"));
    sort_rows(&mut rows);
    let csv = String::from_utf8(vendor_csv(&rows)).unwrap();
    assert_eq!(
        csv,
        "\u{feff}serial;model;contract;meter;reading_date;value;source;method\r\n\
         AA2M021115700;bizhub C300i;K1;bw_large;2026-07-01;130;polled;extrapolation\r\n\
         AA2M021115700;bizhub C300i;K1;bw_total;2026-07-01;1100;polled;bracketed\r\n\
         AA2M021115700;bizhub C300i;K1;colour_total;2026-07-01;500;manual;exact\r\n"
    );
    let json = serde_json::to_value(vendor_answer(&rows)).unwrap();
    assert_eq!(
        json[1],
        serde_json::json!({"serial": "AA2M021115700", "model": "bizhub C300i", "contract": "K1",
            "meter": "bw_total", "reading_date": "2026-07-01", "value": 1100, "source": "polled",
            "method": "bracketed"})
    );
}

#[test]
fn mixed_sources_are_named_and_an_unknown_model_is_empty() {
    // Interpolated between a vendor reading 3 days before and a poll 1 day after.
    let at = midnight(d("2026-07-01"));
    let mut points = HashMap::new();
    points.insert(
        Meter::BwTotal,
        vec![
            point(at - 3 * DAY_MS, 1_000, Source::Vendor),
            point(at + DAY_MS, 1_400, Source::Polled),
        ],
    );
    let h = DeviceHistory::new(&Serial::parse("X1").unwrap(), false, points);
    let rows = device_rows(&k1(), &h, None, d("2026-07-01"));
    let csv = String::from_utf8(vendor_csv(&rows)).unwrap();
    // 1 000 + 400 × 3/4 = 1 300.
    assert!(
        csv.ends_with("\r\nX1;;K1;bw_total;2026-07-01;1300;vendor+polled;interpolation\r\n"),
        "{csv}"
    );
}

#[test]
fn membership_on_the_date() {
    let mut k = k1();
    k.devices.push(Membership {
        serial: Serial::parse("LATE").unwrap(),
        from: Some(d("2026-03-01")),
        until: Some(d("2026-07-01")),
    });
    let cases = [
        ("AA2M021115700", "2024-12-31", false), // before the contract
        ("AA2M021115700", "2025-01-01", true),
        ("LATE", "2026-02-28", false),
        ("LATE", "2026-03-01", true),
        ("LATE", "2026-07-01", true), // leaves that day: its closing reading
        ("LATE", "2026-07-02", false),
        ("NOBODY", "2026-03-01", false),
    ];
    for (serial, date, expected) in cases {
        assert_eq!(member_on(&k, serial, d(date)), expected, "{serial} {date}");
    }
}

#[test]
fn free_text_fields_that_look_like_formulas_get_a_quote_and_fixed_columns_stay_exact() {
    let row = |serial: &str, model: &str, contract: &str| VendorRow {
        serial: serial.to_owned(),
        model: model.to_owned(),
        contract: contract.to_owned(),
        meter: Meter::BwTotal,
        reading_date: d("2026-07-01"),
        value: 1100,
        source: "polled+manual".to_owned(),
        method: Method::Bracketed,
    };
    let rows = [
        row("=1+2", "-bizhub", "@K1"),
        row("+47", "\u{9}tab", "\u{d}cr"),
        row("A7PU-1", "bizhub =C300i", "K1"),
    ];
    let csv = String::from_utf8(vendor_csv(&rows)).unwrap();
    assert_eq!(
        csv,
        "\u{feff}serial;model;contract;meter;reading_date;value;source;method\r\n\
         '=1+2;'-bizhub;'@K1;bw_total;2026-07-01;1100;polled+manual;bracketed\r\n\
         '+47;'\ttab;\"'\rcr\";bw_total;2026-07-01;1100;polled+manual;bracketed\r\n\
         A7PU-1;bizhub =C300i;K1;bw_total;2026-07-01;1100;polled+manual;bracketed\r\n"
    );
    let json = serde_json::to_value(vendor_answer(&rows)).unwrap();
    assert_eq!(json[0]["serial"], "=1+2");
}
