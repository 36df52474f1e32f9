//! Data-driven tests of the money: contracts and readings in, invoice lines
//! and standings out, every expected figure worked out by hand in a comment.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use rust_decimal::Decimal;

use super::*;
use crate::contract::dates::local_instant;
use crate::contract::tests::{d, dec, k1, k2};
use crate::contract::{Nok, PriceVersion};
use crate::meters::ValueKind;
use crate::serial::Serial;
use crate::timestamp::Timestamp;

/// [`super::invoices`] of a contract whose numbers fit (every case here).
fn invoices(c: &Contract, h: &[DeviceHistory], until: NaiveDate) -> Vec<Invoice> {
    super::invoices(c, h, until).expect("no overflow")
}

/// [`super::reconcile`] of a contract whose numbers fit (every case here).
fn reconcile(c: &Contract, h: &[DeviceHistory], at: NaiveDate) -> Standing {
    super::reconcile(c, h, at).expect("no overflow")
}

pub(crate) const SERIAL: &str = "AA2M021115700";

pub(crate) fn t(local: &str) -> Timestamp {
    let s = if local.len() == 10 {
        format!("{local} 00:00")
    } else {
        local.to_owned()
    };
    let naive = NaiveDateTime::parse_from_str(&s, "%Y-%m-%d %H:%M").unwrap();
    Timestamp::from_millis(local_instant(naive).unwrap().timestamp_millis())
}

/// Readings of (bw_total, bw_large, colour_total, colour_large) at local times.
pub(crate) fn history(serial: &str, rows: &[(&str, [u64; 4])]) -> DeviceHistory {
    history_from(serial, rows, Source::Manual)
}

fn history_from(serial: &str, rows: &[(&str, [u64; 4])], source: Source) -> DeviceHistory {
    let mut points: HashMap<Meter, Vec<Point>> = HashMap::new();
    for (at, values) in rows {
        for (meter, value) in BILLING_METERS.iter().zip(values) {
            points.entry(*meter).or_default().push(Point {
                at: t(at),
                value: *value,
                source,
                kind: ValueKind::Integer,
            });
        }
    }
    DeviceHistory::new(&Serial::parse(serial).unwrap(), false, points)
}

pub(crate) fn k1_readings() -> Vec<DeviceHistory> {
    vec![history(
        SERIAL,
        &[
            ("2025-01-01", [100_000, 5_000, 20_000, 1_000]),
            ("2025-07-01", [131_000, 6_000, 27_500, 1_500]),
            ("2026-01-01", [158_000, 6_900, 33_000, 1_800]),
        ],
    )]
}

/// (kind, issue date, total, status) of every invoice.
fn summary(invoices: &[Invoice]) -> Vec<(&'static str, String, String, Status)> {
    invoices
        .iter()
        .map(|i| {
            (
                i.kind.name(),
                i.issue_date.to_string(),
                i.total.to_string(),
                i.status,
            )
        })
        .collect()
}

/// (class, pages, unit price, amount) of every line.
fn lines(inv: &Invoice) -> Vec<(&'static str, Option<String>, String, String)> {
    inv.lines
        .iter()
        .map(|l| {
            (
                l.class.name(),
                l.pages.map(|p| p.normalize().to_string()),
                l.unit_price.normalize().to_string(),
                l.amount.to_string(),
            )
        })
        .collect()
}

fn s(x: &str) -> String {
    x.to_owned()
}

fn ps(x: &str) -> Option<String> {
    Some(x.to_owned())
}

/// (actual, projected, deviation, breach) of a class standing.
fn class(c: &ClassStanding) -> (u64, Option<u64>, Option<String>, bool) {
    (
        c.actual,
        c.projected,
        c.deviation_pct.map(|d| d.to_string()),
        c.breach,
    )
}

#[test]
fn k1_invoices_a_konto_and_settlement() {
    let inv = invoices(&k1(), &k1_readings(), d("2026-01-01"));
    assert_eq!(
        summary(&inv),
        [
            // 1 200.00 + 30 000 × 0.045 + 6 000 × 0.45 = 5 250.00
            ("a_konto", s("2025-01-01"), s("5250.00"), Status::Due),
            ("a_konto", s("2025-07-01"), s("5250.00"), Status::Due),
            // b/w 59 900 − 60 000 prepaid: nothing; colour 13 800 − 12 000 =
            // 1 800 × 0.45 = 810.00. Settlement before the next a-konto.
            ("settlement", s("2026-01-01"), s("810.00"), Status::Due),
            ("a_konto", s("2026-01-01"), s("5250.00"), Status::Due),
        ]
    );
    assert_eq!(
        lines(&inv[0]),
        [
            ("fixed", None, s("200"), s("1200.00")),
            ("bw", ps("30000"), s("0.045"), s("1350.00")),
            ("colour", ps("6000"), s("0.45"), s("2700.00")),
        ]
    );
    assert_eq!(
        lines(&inv[2]),
        [
            ("bw", ps("0"), s("0.045"), s("0.00")),
            ("colour", ps("1800"), s("0.45"), s("810.00")),
        ]
    );
    assert!(inv[0].boundary_values.is_empty());
    // The settlement shows both ends of the year: 4 meters at 2025-01-01 and
    // 4 at 2026-01-01, all read exactly.
    let values = &inv[2].boundary_values;
    let at: Vec<Timestamp> = values.iter().map(|v| v.boundary.at).collect();
    assert_eq!(at, [[t("2025-01-01"); 4], [t("2026-01-01"); 4]].concat());
    assert_eq!(
        (values[0].boundary.value, values[4].boundary.value),
        (100_000, 158_000)
    );
    assert!(
        values
            .iter()
            .all(|v| v.boundary.method == crate::estimate::Method::Exact)
    );
    assert!(!inv[2].estimated);
}

#[test]
fn k1_standing_and_the_15_percent_rule() {
    let st = reconcile(&k1(), &k1_readings(), d("2026-01-01"));
    let rows: Vec<_> = st
        .periods
        .iter()
        .map(|p| {
            (
                p.period.kind.name(),
                p.period.start.to_string(),
                p.running,
                class(&p.bw),
                class(&p.colour),
            )
        })
        .collect();
    let c = |a, dev: &str, breach| (a, None, Some(dev.to_owned()), breach);
    assert_eq!(
        rows,
        [
            // b/w 31 000 + 1 000 = 32 000 of 30 000: +6.67 %; colour 7 500 +
            // 500 = 8 000 of 6 000: +33.33 %, a breach.
            (
                "half",
                s("2025-01-01"),
                false,
                c(32_000, "6.67", false),
                c(8_000, "33.33", true)
            ),
            // b/w 27 000 + 900 = 27 900: −7.00 %; colour 5 500 + 300 = 5 800: −3.33 %.
            (
                "half",
                s("2025-07-01"),
                false,
                c(27_900, "-7.00", false),
                c(5_800, "-3.33", false)
            ),
            // b/w 59 900 of 60 000: −0.17 %; colour 13 800 of 12 000: exactly
            // +15.00 %, inside.
            (
                "year",
                s("2025-01-01"),
                false,
                c(59_900, "-0.17", false),
                c(13_800, "15.00", false)
            ),
            // The half running on 2026-01-01 has no reading after its start:
            // nothing used, no projection.
            (
                "half",
                s("2026-01-01"),
                true,
                (0, None, None, false),
                (0, None, None, false)
            ),
            (
                "year",
                s("2026-01-01"),
                true,
                (0, None, None, false),
                (0, None, None, false)
            ),
        ]
    );
    assert_eq!(st.notice.map(|n| n.0.to_string()), Some(s("2029-08-31")));
    // 0.045 × 1.3 = 0.0585; 0.45 × 1.3 = 0.585
    assert_eq!(st.renewal_prices.map(|p| p.bw), Some(dec("0.0585")));
    assert!(st.gaps.is_empty() && st.events.is_empty());
}

fn k2_readings() -> Vec<DeviceHistory> {
    vec![history(
        SERIAL,
        &[
            ("2025-03-15", [10_000, 400, 2_000, 100]),
            ("2025-06-15", [14_200, 600, 2_350, 130]),
        ],
    )]
}

#[test]
fn k2_arrears_with_a3_priced() {
    let inv = invoices(&k2(), &k2_readings(), d("2025-06-15"));
    assert_eq!(
        summary(&inv),
        [("arrears", s("2025-06-15"), s("1310.00"), Status::Due)]
    );
    assert_eq!(
        lines(&inv[0]),
        [
            // b/w A4: 4 200 − 200 = 4 000 × 0.05 = 200.00; A3 200 × 0.10 = 20.00
            ("bw", ps("4000"), s("0.05"), s("200.00")),
            ("bw_a3", ps("200"), s("0.1"), s("20.00")),
            // colour A4: 350 − 30 = 320 × 0.50 = 160.00; A3 30 × 1.00 = 30.00
            ("colour", ps("320"), s("0.5"), s("160.00")),
            ("colour_a3", ps("30"), s("1"), s("30.00")),
            ("fixed", None, s("300"), s("900.00")),
        ]
    );
    let st = reconcile(&k2(), &k2_readings(), d("2025-06-15"));
    let q = &st.periods[0];
    assert_eq!((q.period.kind.name(), q.running), ("quarter", false));
    // 4 000 of 16 000 / 4 = 4 000: 0.00 %; 320 of 400: −20.00 %, a breach.
    assert_eq!(class(&q.bw), (4_000, None, Some(s("0.00")), false));
    assert_eq!(class(&q.colour), (320, None, Some(s("-20.00")), true));
}

#[test]
fn running_period_is_projected_by_run_rate() {
    // K1 from 2025-01-01; on 2025-04-01 the last reading is 2025-03-01 (59 days,
    // 1 416 real hours in; no DST yet). b/w 6 000 + 0 large → 6 000 ×
    // 4 343 h (the half: 181 days, less 1 h for DST) / 1 416 h = 18 402.54 →
    // 18 403; of 30 000: −38.66 %, a breach.
    let h = vec![history(
        SERIAL,
        &[
            ("2025-01-01", [0, 0, 0, 0]),
            ("2025-03-01", [6_000, 0, 1_000, 0]),
            // After the date asked: not used for the running period.
            ("2025-05-01", [90_000, 0, 9_000, 0]),
        ],
    )];
    let st = reconcile(&k1(), &h, d("2025-04-01"));
    let half = &st.periods[0];
    assert!(half.running);
    assert_eq!(half.bw.actual, 6_000);
    assert_eq!(half.bw.projected, Some(18_403));
    assert_eq!(
        half.bw.deviation_pct.map(|d| d.to_string()),
        Some(s("-38.66"))
    );
    assert!(half.bw.breach);
    // colour 1 000 × 4 343 / 1 416 = 3 067.09 → 3 067 of 6 000: −48.88 %.
    assert_eq!(half.colour.projected, Some(3_067));
}

#[test]
fn less_than_a_day_into_the_period_gives_no_projection() {
    let h = vec![history(
        SERIAL,
        &[
            ("2025-01-01", [0, 0, 0, 0]),
            ("2025-01-01 20:00", [50, 0, 0, 0]),
        ],
    )];
    let st = reconcile(&k1(), &h, d("2025-01-02"));
    assert_eq!(class(&st.periods[0].bw), (50, None, None, false));
}

#[test]
fn a_reset_inside_a_period_counts_both_counters_and_reports_the_gap() {
    // Arrears K2 quarter 2025-03-15 – 06-15 with A3 priced; no large pages.
    // Old counter 10 000 → 12 000 (2025-05-01), reset, new counter 300
    // (2025-05-02), 1 500 (2025-06-15). b/w A4 = 2 000 + 1 500 = 3 500 × 0.05
    // = 175.00; 1 day of pages between is unmeasured.
    let h = vec![history(
        SERIAL,
        &[
            ("2025-03-15", [10_000, 0, 0, 0]),
            ("2025-05-01", [12_000, 0, 0, 0]),
            ("2025-05-02", [300, 0, 0, 0]),
            ("2025-06-15", [1_500, 0, 0, 0]),
        ],
    )];
    let inv = invoices(&k2(), &h, d("2025-06-15"));
    assert_eq!(
        lines(&inv[0])[0],
        ("bw", ps("3500"), s("0.05"), s("175.00"))
    );
    let st = reconcile(&k2(), &h, d("2025-06-15"));
    let reset_gaps: Vec<_> = st
        .gaps
        .iter()
        .filter(|g| g.meter == Meter::BwTotal)
        .collect();
    assert_eq!(reset_gaps.len(), 1);
    assert_eq!(
        (reset_gaps[0].from, reset_gaps[0].to),
        (t("2025-05-01"), t("2025-05-02"))
    );
    assert_eq!(reset_gaps[0].reason, "counter reset");
    assert!(
        st.events
            .iter()
            .any(|e| e.event.kind.name() == "reset" && e.meter == Meter::BwTotal)
    );
}

#[test]
fn a_zero_while_booting_is_left_out() {
    // Polls: 10 000 at the start, 0 while booting on 2025-04-01, 11 000 the
    // next day, 14 000 at the end: 4 000 pages, the zero is a glitch.
    let h = vec![history_from(
        SERIAL,
        &[
            ("2025-03-15", [10_000, 0, 0, 0]),
            ("2025-04-01 08:00", [0, 0, 0, 0]),
            ("2025-04-02", [11_000, 0, 0, 0]),
            ("2025-06-15", [14_000, 0, 0, 0]),
        ],
        Source::Polled,
    )];
    let inv = invoices(&k2(), &h, d("2025-06-15"));
    assert_eq!(
        lines(&inv[0])[0],
        ("bw", ps("4000"), s("0.05"), s("200.00"))
    );
    let st = reconcile(&k2(), &h, d("2025-06-15"));
    assert!(st.events.iter().any(|e| e.event.kind.name() == "glitch"));
    assert!(st.gaps.is_empty());
}

#[test]
fn a_mid_period_price_change_splits_the_usage() {
    // K2 with a new version from 2025-05-01: b/w 0.0600. Readings 10 000 on
    // 03-15, 12 000 on 05-01, 14 000 on 06-15 (no large pages):
    // 2 000 × 0.05 = 100.00 and 2 000 × 0.06 = 120.00.
    let mut c = k2();
    let mut p = c.prices[0].prices;
    p.bw = dec("0.0600");
    c.prices.push(PriceVersion {
        from: d("2025-05-01"),
        prices: p,
    });
    let h = vec![history(
        SERIAL,
        &[
            ("2025-03-15", [10_000, 0, 0, 0]),
            ("2025-05-01", [12_000, 0, 0, 0]),
            ("2025-06-15", [14_000, 0, 0, 0]),
        ],
    )];
    let inv = invoices(&c, &h, d("2025-06-15"));
    let bw: Vec<_> = lines(&inv[0]).into_iter().filter(|l| l.0 == "bw").collect();
    assert_eq!(
        bw,
        [
            ("bw", ps("2000"), s("0.05"), s("100.00")),
            ("bw", ps("2000"), s("0.06"), s("120.00"))
        ]
    );
}

#[test]
fn settlement_prices_excess_when_printed_and_minimum_at_year_end() {
    // K1 with a price change on 2025-07-01 (b/w 0.0500, colour 0.5000) and a
    // colour minimum of 20 000. Prepaid 60 000 b/w covers the first pages:
    // first half 50 000, second 30 000 → excess 0 in H1 (10 000 prepaid left),
    // 20 000 in H2 × 0.05 = 1 000.00. Colour 8 000 + 5 000 = 13 000 used; 12 000
    // prepaid covers H1's 8 000 and 4 000 of H2: 1 000 × 0.50 = 500.00; then
    // the minimum 20 000 − 13 000 = 7 000 × 0.50 (year-end price) = 3 500.00.
    let mut c = k1();
    c.minimum_colour = 20_000;
    let p = crate::contract::Prices {
        bw: dec("0.0500"),
        colour: dec("0.5000"),
        bw_a3: None,
        colour_a3: None,
    };
    c.prices.push(PriceVersion {
        from: d("2025-07-01"),
        prices: p,
    });
    let h = vec![history(
        SERIAL,
        &[
            ("2025-01-01", [0, 0, 0, 0]),
            ("2025-07-01", [50_000, 0, 8_000, 0]),
            ("2026-01-01", [80_000, 0, 13_000, 0]),
        ],
    )];
    let inv = invoices(&c, &h, d("2026-01-01"));
    let settlement = inv
        .iter()
        .find(|i| i.kind == InvoiceKind::Settlement)
        .unwrap();
    assert_eq!(
        lines(settlement),
        [
            ("bw", ps("0"), s("0.045"), s("0.00")),
            ("bw", ps("20000"), s("0.05"), s("1000.00")),
            ("colour", ps("0"), s("0.45"), s("0.00")),
            ("colour", ps("1000"), s("0.5"), s("500.00")),
            ("colour", ps("7000"), s("0.5"), s("3500.00")),
        ]
    );
    assert_eq!(settlement.total.to_string(), "5000.00");
    // The a-konto of the second half uses the version in force then:
    // 1 200 + 30 000 × 0.05 + 6 000 × 0.5 = 5 700.00.
    assert_eq!(inv[1].total.to_string(), "5700.00");
}

#[test]
fn small_invoices_are_deferred_and_carried() {
    // Arrears, no fixed fee, 0.05 per page: quarters of 1 000, 1 000 and 3 000
    // pages = 50.00 (deferred), 50.00 + 50.00 = 100.00 (at the limit:
    // deferred), 150.00 + 100.00 = 250.00 due.
    let mut c = k2();
    c.fixed_fee_monthly = Nok::ZERO;
    c.prices[0].prices.bw_a3 = None;
    c.prices[0].prices.colour_a3 = None;
    let h = vec![history(
        SERIAL,
        &[
            ("2025-03-15", [0, 0, 0, 0]),
            ("2025-06-15", [1_000, 0, 0, 0]),
            ("2025-09-15", [2_000, 0, 0, 0]),
            ("2025-12-15", [5_000, 0, 0, 0]),
        ],
    )];
    let inv = invoices(&c, &h, d("2025-12-15"));
    assert_eq!(
        summary(&inv),
        [
            ("arrears", s("2025-06-15"), s("50.00"), Status::Deferred),
            ("arrears", s("2025-09-15"), s("100.00"), Status::Deferred),
            ("arrears", s("2025-12-15"), s("250.00"), Status::Due),
        ]
    );
    assert_eq!(inv[2].carried_in.to_string(), "100.00");
}

#[test]
fn a_terminated_contracts_last_invoice_is_never_deferred() {
    // K2 terminated in time: ends 2028-03-15. Its last quarter has no use and
    // no fee: 0.00, due all the same.
    let mut c = k2();
    c.fixed_fee_monthly = Nok::ZERO;
    c.terminated_on = Some(d("2027-10-01"));
    assert_eq!(c.end(), Some(d("2028-03-15")));
    let inv = invoices(&c, &[], d("2029-01-01"));
    assert_eq!(inv.len(), 12);
    assert_eq!(inv[10].status, Status::Deferred);
    assert_eq!(
        (inv[11].issue_date, inv[11].status),
        (d("2028-03-15"), Status::Due)
    );
}

#[test]
fn an_estimated_closing_value_carries_a_fee_per_device() {
    // Two devices; the second's last reading is 10 days before the quarter's
    // end, so its closing value is extrapolated: one fee line of 75.00.
    let mut c = k2();
    c.estimation_fee = "75.00".parse().unwrap();
    c.devices.push(crate::contract::Membership {
        serial: Serial::parse("B").unwrap(),
        from: None,
        until: None,
    });
    let mut h = k2_readings();
    h.push(history(
        "B",
        &[("2025-03-15", [0, 0, 0, 0]), ("2025-06-05", [820, 0, 0, 0])],
    ));
    let inv = invoices(&c, &h, d("2025-06-15"));
    assert!(inv[0].estimated);
    let fees: Vec<_> = lines(&inv[0])
        .into_iter()
        .filter(|l| l.0 == "estimation_fee")
        .collect();
    assert_eq!(fees, [("estimation_fee", None, s("75"), s("75.00"))]);
    // B: 820 pages over 82 days = 10 a day; 10 days on: 920. b/w A4 pooled:
    // 4 000 + 920 = 4 920 × 0.05 = 246.00.
    assert_eq!(
        lines(&inv[0])[0],
        ("bw", ps("4920"), s("0.05"), s("246.00"))
    );
    let b = inv[0]
        .boundary_values
        .iter()
        .find(|v| v.serial == "B" && v.meter == Meter::BwTotal && v.boundary.at == t("2025-06-15"))
        .unwrap();
    assert_eq!(
        (b.boundary.value, b.boundary.method.name()),
        (920, "extrapolation")
    );
}

#[test]
fn a_device_added_later_counts_from_its_from_date() {
    // K1 with B joining on 2025-04-01 (readings from 2025-03-01: the pages of
    // March do not count). B: 1 000 on 03-01, 2 000 on 04-01, 5 000 on 07-01 →
    // 3 000 in the first half. The first device adds 32 000: 35 000 b/w.
    let mut c = k1();
    c.devices.push(crate::contract::Membership {
        serial: Serial::parse("B").unwrap(),
        from: Some(d("2025-04-01")),
        until: None,
    });
    let mut h = k1_readings();
    h.push(history(
        "B",
        &[
            ("2025-03-01", [1_000, 0, 0, 0]),
            ("2025-04-01", [2_000, 0, 0, 0]),
            ("2025-07-01", [5_000, 0, 0, 0]),
        ],
    ));
    let st = reconcile(&c, &h, d("2025-07-01"));
    assert_eq!(st.periods[0].bw.actual, 35_000);
}

#[test]
fn a_device_without_readings_is_a_gap_not_an_invention() {
    let mut c = k1();
    c.devices.push(crate::contract::Membership {
        serial: Serial::parse("NOREAD").unwrap(),
        from: None,
        until: None,
    });
    let st = reconcile(&c, &k1_readings(), d("2025-07-01"));
    assert_eq!(st.periods[0].bw.actual, 32_000);
    let gaps: Vec<_> = st.gaps.iter().filter(|g| g.serial == "NOREAD").collect();
    assert!(!gaps.is_empty());
    assert!(gaps.iter().all(|g| g.reason == "no readings"));
}

#[test]
fn a_leap_year_contract_starting_on_29_february() {
    // Start 2024-02-29: halves start 08-29, 2025-02-28, 08-29 (always from the
    // start, clamped). Readings on those dates make each half exact.
    let mut c = k1();
    c.start = d("2024-02-29");
    c.prices[0].from = c.start;
    let h = vec![history(
        SERIAL,
        &[
            ("2024-02-29", [0, 0, 0, 0]),
            ("2024-08-29", [30_000, 0, 6_000, 0]),
            ("2025-02-28", [60_000, 0, 12_000, 0]),
        ],
    )];
    let st = reconcile(&c, &h, d("2025-02-28"));
    let rows: Vec<_> = st
        .periods
        .iter()
        .map(|p| {
            (
                p.period.kind.name(),
                p.period.start.to_string(),
                p.period.end.to_string(),
                p.bw.actual,
            )
        })
        .collect();
    assert_eq!(
        rows[..3],
        [
            ("half", s("2024-02-29"), s("2024-08-29"), 30_000),
            ("half", s("2024-08-29"), s("2025-02-28"), 30_000),
            ("year", s("2024-02-29"), s("2025-02-28"), 60_000),
        ]
    );
    assert_eq!(st.periods[0].bw.deviation_pct, Some(Decimal::ZERO));
}

#[test]
fn large_counts_double_devices_are_not_doubled_again() {
    // K1 half: 31 000 b/w including 1 000 large pages counted twice by the
    // device: A4-eq = 31 000 (not 32 000).
    let mut h = k1_readings();
    h[0].large_counts_double = true;
    let st = reconcile(&k1(), &h, d("2025-07-01"));
    assert_eq!(st.periods[0].bw.actual, 31_000);
    // With A3 priced (K2) such a device: A4 = 4 200 − 2 × 200 = 3 800.
    let mut h2 = k2_readings();
    h2[0].large_counts_double = true;
    let inv = invoices(&k2(), &h2, d("2025-06-15"));
    assert_eq!(
        lines(&inv[0])[0],
        ("bw", ps("3800"), s("0.05"), s("190.00"))
    );
}

#[test]
fn no_commitment_means_no_deviation_and_fixed_fees_only() {
    let mut c = k1();
    c.committed_bw = None;
    c.committed_colour = Some(0);
    let inv = invoices(&c, &k1_readings(), d("2025-01-01"));
    assert_eq!(lines(&inv[0]), [("fixed", None, s("200"), s("1200.00"))]);
    let st = reconcile(&c, &k1_readings(), d("2026-01-01"));
    assert_eq!(class(&st.periods[0].bw), (32_000, None, None, false));
    assert_eq!(st.periods[0].bw.committed, None);
}

#[test]
fn a_mono_device_bills_its_total_as_bw() {
    let mut points: HashMap<Meter, Vec<Point>> = HashMap::new();
    for (at, v) in [("2025-03-15", 1_000u64), ("2025-06-15", 3_000)] {
        points.entry(Meter::Total).or_default().push(Point {
            at: t(at),
            value: v,
            source: Source::Polled,
            kind: ValueKind::Integer,
        });
    }
    let h = vec![DeviceHistory::with_colour(
        &Serial::parse(SERIAL).unwrap(),
        false,
        crate::meters::DeviceColour::Mono,
        points,
    )];
    let inv = invoices(&k2(), &h, d("2025-06-15"));
    assert_eq!(
        lines(&inv[0])[0],
        ("bw", ps("2000"), s("0.05"), s("100.00"))
    );
    assert_eq!(lines(&inv[0])[2], ("colour", ps("0"), s("0.5"), s("0.00")));
}

/// An arrears contract at 0.0100 a b/w page and 0.1000 a colour page, no
/// fees, no commitment, from 2025-01-01: quarters are easy to read.
fn cent_a_page() -> Contract {
    Contract {
        id: "C".into(),
        start: d("2025-01-01"),
        billing: crate::contract::Billing::Arrears,
        committed_bw: None,
        committed_colour: None,
        fixed_fee_monthly: Nok::ZERO,
        prices: vec![PriceVersion {
            from: d("2025-01-01"),
            prices: crate::contract::Prices {
                bw: dec("0.0100"),
                colour: dec("0.1000"),
                bw_a3: None,
                colour_a3: None,
            },
        }],
        ..k1()
    }
}

#[test]
fn a_reading_typed_too_high_is_a_spike_not_a_new_counter() {
    // 1 000 000; 1 010 500 (typed 500 too high); 1 010 400; 1 010 450;
    // 1 020 000. Use 20 000 × 0.01 = 200.00. Read as a reset it would be
    // (1 010 500 − 1 000 000) + 1 020 000 = 1 030 500 × 0.01 = 10 305.00.
    let h = vec![history(
        SERIAL,
        &[
            ("2025-01-01", [1_000_000, 0, 0, 0]),
            ("2025-01-20", [1_010_500, 0, 0, 0]),
            ("2025-02-01", [1_010_400, 0, 0, 0]),
            ("2025-03-01", [1_010_450, 0, 0, 0]),
            ("2025-04-01", [1_020_000, 0, 0, 0]),
        ],
    )];
    let inv = invoices(&cent_a_page(), &h, d("2025-04-01"));
    assert_eq!(
        lines(&inv[0]),
        [
            ("bw", ps("20000"), s("0.01"), s("200.00")),
            ("colour", ps("0"), s("0.1"), s("0.00")),
        ]
    );
    let st = reconcile(&cent_a_page(), &h, d("2025-04-01"));
    assert!(st.events.iter().any(|e| e.event.kind.name() == "spike"));
    assert!(st.gaps.is_empty(), "{:?}", st.gaps);
}

#[test]
fn a_refurbished_board_is_a_gap_to_review_not_a_phantom_million() {
    // 1 000 000 on the old board; a refurbished one reads 300 000, then
    // 305 000: use 0 + 5 000 = 5 000 × 0.01 = 50.00, and the pages between
    // the two boards are an `implausible_drop` gap.
    let h = vec![history(
        SERIAL,
        &[
            ("2025-01-01", [1_000_000, 0, 0, 0]),
            ("2025-02-01", [300_000, 0, 0, 0]),
            ("2025-04-01", [305_000, 0, 0, 0]),
        ],
    )];
    let inv = invoices(&cent_a_page(), &h, d("2025-04-01"));
    assert_eq!(lines(&inv[0])[0], ("bw", ps("5000"), s("0.01"), s("50.00")));
    let st = reconcile(&cent_a_page(), &h, d("2025-04-01"));
    let gap = st.gaps.iter().find(|g| g.meter == Meter::BwTotal).unwrap();
    assert_eq!(
        (gap.reason, gap.from, gap.to),
        ("implausible_drop", t("2025-01-01"), t("2025-02-01"))
    );
}

/// A device that reports only `bw_total` (a mono device), at local dates.
fn mono_history(rows: &[(&str, u64)]) -> DeviceHistory {
    let points: Vec<Point> = rows
        .iter()
        .map(|(at, v)| Point {
            at: t(at),
            value: *v,
            source: Source::Manual,
            kind: ValueKind::Integer,
        })
        .collect();
    DeviceHistory::new(
        &Serial::parse(SERIAL).unwrap(),
        false,
        HashMap::from([(Meter::BwTotal, points)]),
    )
}

#[test]
fn a_running_period_counts_a_device_only_while_it_is_in_the_contract() {
    // K1's device leaves on 2025-04-01, inside the half 2025-01-01 – 07-01.
    // On 2025-06-01: its use in the contract is 0 → 15 000 (the reading on
    // the day it left); what it printed after (30 000 by 06-01) is not the
    // contract's. Its window is over, so its projection is its use: 15 000 of
    // 30 000 = −50.00 %, a breach.
    let mut k = k1();
    k.devices[0].until = Some(d("2025-04-01"));
    let h = vec![history(
        SERIAL,
        &[
            ("2025-01-01", [0, 0, 0, 0]),
            ("2025-04-01", [15_000, 0, 3_000, 0]),
            ("2025-06-01", [30_000, 0, 6_000, 0]),
        ],
    )];
    let st = reconcile(&k, &h, d("2025-06-01"));
    let half = &st.periods[0];
    assert!(half.running);
    assert_eq!(class(&half.bw), (15_000, Some(15_000), ps("-50.00"), true));
    // Colour: 3 000 of 6 000, −50.00 %.
    assert_eq!(
        class(&half.colour),
        (3_000, Some(3_000), ps("-50.00"), true)
    );
}

#[test]
fn a_colour_commitment_on_mono_devices_projects_zero_and_warns() {
    // K1 commits 12 000 colour pages a year (6 000 a half); its one device is
    // mono. On 2025-04-01, a day and more into the half, colour projects to 0:
    // −100.00 %, a breach. b/w: 6 000 in 1 416 h (59 days) × 4 343 h →
    // 18 403, −38.66 % as in the run-rate case.
    let h = vec![mono_history(&[("2025-01-01", 0), ("2025-03-01", 6_000)])];
    let st = reconcile(&k1(), &h, d("2025-04-01"));
    let half = &st.periods[0];
    assert_eq!(class(&half.colour), (0, Some(0), ps("-100.00"), true));
    assert_eq!(class(&half.bw), (6_000, Some(18_403), ps("-38.66"), true));
    // Less than 24 hours in: no projection, no deviation, no breach.
    let st = reconcile(&k1(), &h, d("2025-01-01"));
    assert_eq!(class(&st.periods[0].colour), (0, None, None, false));
}

#[test]
fn one_reading_gives_no_rate_so_no_estimate_and_no_fee() {
    // One reading, 1 000 on 2025-02-01, then none: the quarter's end
    // 2025-04-01 has no value (no extrapolation at a rate of 0), so no
    // estimation fee; the pages after the reading are a gap.
    let k = Contract {
        estimation_fee: "95.00".parse().unwrap(),
        ..cent_a_page()
    };
    let h = vec![history(SERIAL, &[("2025-02-01", [1_000, 0, 500, 0])])];
    let inv = invoices(&k, &h, d("2025-04-01"));
    assert_eq!(
        lines(&inv[0]),
        [
            ("bw", ps("0"), s("0.01"), s("0.00")),
            ("colour", ps("0"), s("0.1"), s("0.00")),
        ]
    );
    assert!(!inv[0].estimated);
    assert!(
        inv[0]
            .boundary_values
            .iter()
            .all(|v| v.boundary.at != t("2025-04-01")),
        "{:?}",
        inv[0].boundary_values
    );
    let st = reconcile(&k, &h, d("2025-04-01"));
    let after = st
        .gaps
        .iter()
        .find(|g| g.meter == Meter::BwTotal && g.from == t("2025-02-01"))
        .expect("a gap after the one reading");
    assert_eq!(
        (after.to, after.reason),
        (t("2025-04-01"), "one reading: no rate")
    );
}

/// K1 with A3 priced (0.1000 b/w, 1.0000 colour) and an estimation fee of
/// 95.00: on a half that ends a contract year, an A3 invoice and a
/// settlement are issued on one date.
fn k1_a3_fee() -> Contract {
    let mut k = k1();
    k.estimation_fee = "95.00".parse().unwrap();
    k.prices[0].prices.bw_a3 = Some(dec("0.1000"));
    k.prices[0].prices.colour_a3 = Some(dec("1.0000"));
    k
}

/// (kind, issue date, estimation-fee lines) of every invoice.
fn fees(invoices: &[Invoice]) -> Vec<(&'static str, String, usize)> {
    invoices
        .iter()
        .map(|i| {
            let n = i
                .lines
                .iter()
                .filter(|l| l.class == LineClass::EstimationFee)
                .count();
            (i.kind.name(), i.issue_date.to_string(), n)
        })
        .collect()
}

#[test]
fn an_estimated_boundary_costs_one_fee_on_the_first_invoice_that_uses_it() {
    // 2026-01-01 falls between readings on 2025-12-01 and 2026-02-01 (more
    // than 24 hours each side): an interpolated estimate. The A3 invoice and
    // the settlement of that date both use it: one fee, on the A3 invoice,
    // which comes first. 2025-07-01 is read exactly: no fee there.
    let h = vec![history(
        SERIAL,
        &[
            ("2025-01-01", [100_000, 5_000, 20_000, 1_000]),
            ("2025-07-01", [131_000, 6_000, 27_500, 1_500]),
            ("2025-12-01", [150_000, 6_700, 32_000, 1_750]),
            ("2026-02-01", [160_000, 7_100, 34_000, 1_850]),
        ],
    )];
    let inv = invoices(&k1_a3_fee(), &h, d("2026-01-01"));
    assert_eq!(
        fees(&inv),
        [
            ("a_konto", s("2025-01-01"), 0),
            ("a3", s("2025-07-01"), 0),
            ("a_konto", s("2025-07-01"), 0),
            ("a3", s("2026-01-01"), 1),
            ("settlement", s("2026-01-01"), 0),
            ("a_konto", s("2026-01-01"), 0),
        ]
    );
}

#[test]
fn a_device_listed_twice_is_one_device_for_the_fee() {
    // SERIAL is in K1 until 2025-04-01 and again from then, with OTHER listed
    // between. Neither is read on 2025-07-01 (readings 2025-03-01 and
    // 2025-08-01): one fee each at the half's end, none for the membership
    // date 2025-04-01, though the value there is an estimate too.
    let mut k = k1_a3_fee();
    let member = |serial: &str, from: Option<&str>, until: Option<&str>| Membership {
        serial: Serial::parse(serial).unwrap(),
        from: from.map(d),
        until: until.map(d),
    };
    k.devices = vec![
        member(SERIAL, None, Some("2025-04-01")),
        member("OTHER", None, None),
        member(SERIAL, Some("2025-04-01"), None),
    ];
    let rows = [
        ("2025-01-01", [0, 0, 0, 0]),
        ("2025-03-01", [10_000, 0, 2_000, 0]),
        ("2025-08-01", [40_000, 0, 8_000, 0]),
    ];
    let h = vec![history(SERIAL, &rows), history("OTHER", &rows)];
    let inv = invoices(&k, &h, d("2025-07-01"));
    let a3 = inv.iter().find(|i| i.kind == InvoiceKind::A3).unwrap();
    let fee_serials: Vec<&str> = a3
        .lines
        .iter()
        .filter(|l| l.class == LineClass::EstimationFee)
        .map(|l| l.description.split(' ').nth(2).unwrap())
        .collect();
    assert_eq!(fee_serials, ["AA2M021115700:", "OTHER:"]);
}

#[test]
fn invoices_on_one_date_close_periods_before_the_a_konto_opens_the_next() {
    // K1 with A3 priced, read exactly: on 2026-01-01 the A3 invoice of the
    // second half (900 × 0.10 + 300 × 1.00 = 390.00), then the settlement,
    // then the a-konto of the next half.
    let h = k1_readings();
    let inv = invoices(&k1_a3_fee(), &h, d("2026-01-01"));
    assert_eq!(
        summary(&inv)[3],
        ("a3", s("2026-01-01"), s("390.00"), Status::Due)
    );
    let on_the_day: Vec<&str> = inv
        .iter()
        .filter(|i| i.issue_date == d("2026-01-01"))
        .map(|i| i.kind.name())
        .collect();
    assert_eq!(on_the_day, ["a3", "settlement", "a_konto"]);
    // Arrears with a minimum: the quarter, then the minimum settlement.
    let mut k = k2();
    k.minimum_bw = 20_000;
    let h = vec![history(
        SERIAL,
        &[
            ("2025-03-15", [10_000, 400, 2_000, 100]),
            ("2026-03-15", [14_200, 600, 2_350, 130]),
        ],
    )];
    let inv = invoices(&k, &h, d("2026-03-15"));
    let on_the_day: Vec<&str> = inv
        .iter()
        .filter(|i| i.issue_date == d("2026-03-15"))
        .map(|i| i.kind.name())
        .collect();
    assert_eq!(on_the_day, ["arrears", "settlement"]);
}

#[test]
fn a_small_closing_invoice_is_carried_into_the_one_after_it_on_the_same_date() {
    // Arrears K2 without fixed fees at 0.05: the last quarter of the first
    // year (2025-12-15 – 2026-03-15) uses 1 000 b/w pages = 50.00 ≤ 100.00:
    // deferred, and carried into the minimum settlement issued the same day
    // (20 000 − 17 000 used = 3 000 × 0.05 = 150.00 + 50.00 = 200.00).
    let mut k = k2();
    k.fixed_fee_monthly = Nok::ZERO;
    k.minimum_bw = 20_000;
    k.prices[0].prices.bw_a3 = None;
    k.prices[0].prices.colour_a3 = None;
    let h = vec![history(
        SERIAL,
        &[
            ("2025-03-15", [0, 0, 0, 0]),
            ("2025-12-15", [16_000, 0, 0, 0]),
            ("2026-03-15", [17_000, 0, 0, 0]),
        ],
    )];
    let inv = invoices(&k, &h, d("2026-03-15"));
    let last_two: Vec<_> = summary(&inv).into_iter().rev().take(2).rev().collect();
    assert_eq!(
        last_two,
        [
            ("arrears", s("2026-03-15"), s("50.00"), Status::Deferred),
            ("settlement", s("2026-03-15"), s("200.00"), Status::Due),
        ]
    );
}

#[test]
fn an_invoice_shows_the_values_at_every_instant_that_splits_its_money() {
    // Arrears K2-like at 0.01, a price change on 2025-02-15 (0.02) and a
    // second device joining on 2025-03-01: the first quarter rests on
    // SERIAL at 01-01, 02-15 (the price cut) and 04-01, and on OTHER at
    // 03-01 (its join) and 04-01. b/w only, so one meter each.
    let mut k = cent_a_page();
    k.prices.push(PriceVersion {
        from: d("2025-02-15"),
        prices: crate::contract::Prices {
            bw: dec("0.0200"),
            colour: dec("0.2000"),
            bw_a3: None,
            colour_a3: None,
        },
    });
    k.devices.push(Membership {
        serial: Serial::parse("OTHER").unwrap(),
        from: Some(d("2025-03-01")),
        until: None,
    });
    let h = vec![
        mono_history(&[
            ("2025-01-01", 0),
            ("2025-02-15", 450),
            ("2025-04-01", 1_350),
        ]),
        DeviceHistory {
            serial: Serial::parse("OTHER").unwrap(),
            ..mono_history(&[("2025-03-01", 100), ("2025-04-01", 400)])
        },
    ];
    let inv = invoices(&k, &h, d("2025-04-01"));
    let shown: Vec<(String, String, u64)> = inv[0]
        .boundary_values
        .iter()
        .map(|v| {
            (
                crate::display::Display::default().instant(v.boundary.at),
                v.serial.to_string(),
                v.boundary.value,
            )
        })
        .collect();
    assert_eq!(
        shown,
        [
            (s("2025-01-01T00:00:00+01:00"), s(SERIAL), 0),
            (s("2025-02-15T00:00:00+01:00"), s(SERIAL), 450),
            (s("2025-03-01T00:00:00+01:00"), s("OTHER"), 100),
            (s("2025-04-01T00:00:00+02:00"), s(SERIAL), 1_350),
            (s("2025-04-01T00:00:00+02:00"), s("OTHER"), 400),
        ]
    );
    // Money: 450 × 0.01 = 4.50 before the change; after it 900 + 300 =
    // 1 200 × 0.02 = 24.00.
    assert_eq!(
        lines(&inv[0])[..2],
        [
            ("bw", ps("450"), s("0.01"), s("4.50")),
            ("bw", ps("1200"), s("0.02"), s("24.00")),
        ]
    );
}

/// A device's readings of any meters, entered by hand, at local dates.
fn entered(rows: &[(&str, &[(Meter, u64)])], colour: crate::meters::DeviceColour) -> DeviceHistory {
    let mut points: HashMap<Meter, Vec<Point>> = HashMap::new();
    for (at, values) in rows {
        for (meter, value) in *values {
            points.entry(*meter).or_default().push(Point {
                at: t(at),
                value: *value,
                source: Source::Manual,
                kind: ValueKind::Manual,
            });
        }
    }
    DeviceHistory::with_colour(&Serial::parse(SERIAL).unwrap(), false, colour, points)
}

#[test]
fn entered_readings_are_derived_like_polls() {
    use crate::meters::DeviceColour::{Colour, Mono, Unknown};
    use Meter::{BwCopy, BwPrint, ColourCopy, ColourPrint, ColourTotal, Total};
    // (what, readings on 2025-01-01 and 2025-04-01, what is known, b/w and
    //  colour pages of the quarter at 0.01 and 0.10, gap reasons)
    type Case = (
        &'static str,
        [&'static [(Meter, u64)]; 2],
        crate::meters::DeviceColour,
        [&'static str; 2],
        &'static [&'static str],
    );
    let cases: [Case; 5] = [
        // b/w (1 100 + 2 200) − (1 000 + 2 000) = 300; colour (55 + 66) −
        // (50 + 60) = 11.
        (
            "read by hand on the functions",
            [
                &[
                    (BwCopy, 1_000),
                    (BwPrint, 2_000),
                    (ColourCopy, 50),
                    (ColourPrint, 60),
                ],
                &[
                    (BwCopy, 1_100),
                    (BwPrint, 2_200),
                    (ColourCopy, 55),
                    (ColourPrint, 66),
                ],
            ],
            Unknown,
            ["300", "11"],
            &[],
        ),
        // b/w = total − colour: (6 000 − 600) − (5 000 − 500) = 900; colour 100.
        (
            "own total and colour total, no b/w meter",
            [
                &[(Total, 5_000), (ColourTotal, 500)],
                &[(Total, 6_000), (ColourTotal, 600)],
            ],
            Unknown,
            ["900", "100"],
            &[],
        ),
        // A mono device read on total: 1 000 pages of b/w.
        (
            "a mono device's total",
            [&[(Total, 5_000)], &[(Total, 6_000)]],
            Mono,
            ["1000", "0"],
            &[],
        ),
        // A colour device read only on total: no split, so nothing billed as
        // b/w, and a gap for a person to fill.
        (
            "a colour device read on total only",
            [&[(Total, 5_000)], &[(Total, 6_000)]],
            Colour,
            ["0", "0"],
            &["no_colour_split"],
        ),
        // Nothing says it is mono: the same.
        (
            "an unknown device read on total only",
            [&[(Total, 5_000)], &[(Total, 6_000)]],
            Unknown,
            ["0", "0"],
            &["no_colour_split"],
        ),
    ];
    for (what, [first, second], colour, [bw, col], gaps) in cases {
        let h = vec![entered(
            &[("2025-01-01", first), ("2025-04-01", second)],
            colour,
        )];
        let inv = invoices(&cent_a_page(), &h, d("2025-04-01"));
        let pages: Vec<String> = lines(&inv[0]).into_iter().map(|l| l.1.unwrap()).collect();
        assert_eq!(pages, [bw, col], "{what}");
        let st = reconcile(&cent_a_page(), &h, d("2025-04-01"));
        let mut reasons: Vec<&str> = st.gaps.iter().map(|g| g.reason).collect();
        reasons.dedup();
        assert_eq!(reasons, gaps, "{what}");
    }
}

#[test]
fn an_entry_with_one_part_of_a_total_gives_no_total() {
    // bw_copy alone on 2025-04-01: no bw_total there (it needs bw_print
    // too), so the quarter's end is the value after the last full reading:
    // one reading only, no rate — a gap, not 1 000 pages.
    let h = vec![entered(
        &[
            (
                "2025-01-01",
                &[(Meter::BwCopy, 1_000), (Meter::BwPrint, 2_000)],
            ),
            ("2025-04-01", &[(Meter::BwCopy, 2_000)]),
        ],
        crate::meters::DeviceColour::Mono,
    )];
    let inv = invoices(&cent_a_page(), &h, d("2025-04-01"));
    assert_eq!(lines(&inv[0])[0].1, ps("0"));
}

/// The largest unit price the config allows (`config::fields::MAX_UNIT_PRICE`).
fn priciest(mut c: Contract) -> Contract {
    for v in &mut c.prices {
        v.prices = crate::contract::tests::prices("1000000", "1000000");
    }
    c
}

#[test]
fn pages_too_many_to_count_are_an_error_not_a_panic() {
    // Two devices of 10¹⁹ pages each: their sum does not fit in 64 bits.
    let mut k = priciest(k1());
    k.devices.push(Membership {
        serial: Serial::parse("B2").unwrap(),
        from: None,
        until: None,
    });
    let huge = 10_000_000_000_000_000_000;
    let rows = [
        ("2025-01-01", [0; 4]),
        ("2025-07-01", [huge, 0, 0, 0]),
        ("2026-01-01", [huge, 0, 0, 0]),
    ];
    let histories = [history(SERIAL, &rows), history("B2", &rows)];
    let e = super::invoices(&k, &histories, d("2026-01-01")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "the number of bw pages 2025-01-01 – 2026-01-01 is too large to compute: \
         check the contract's prices and the meter readings"
    );
    // One device alone fits: 10¹⁹ pages × 1 000 000 NOK is computed exactly.
    let one = super::invoices(&k, &histories[..1], d("2026-01-01")).unwrap();
    let settlement = one
        .iter()
        .find(|i| i.kind == InvoiceKind::Settlement)
        .unwrap();
    // (10¹⁹ − 60 000 prepaid) b/w pages × 1 000 000 NOK.
    assert_eq!(settlement.total.to_string(), "9999999999999940000000000.00");
}

#[test]
fn a_projection_too_large_to_compute_is_an_error_not_a_panic() {
    // 10¹⁹ pages in a month projected over the half: pages × milliseconds
    // is beyond rust_decimal.
    let rows = [
        ("2025-01-01", [0; 4]),
        ("2025-02-01", [10_000_000_000_000_000_000, 0, 0, 0]),
    ];
    let e =
        super::reconcile(&priciest(k1()), &[history(SERIAL, &rows)], d("2025-03-01")).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("the projection of bw pages 2025-01-01 – 2025-07-01 is too large"),
        "{e}"
    );
}

#[test]
fn a_commitment_of_zero_pages_has_no_deviation_and_does_not_divide_by_zero() {
    let mut k = k1();
    k.committed_bw = Some(0);
    let st = reconcile(&k, &k1_readings(), d("2026-01-01"));
    assert!(
        st.periods
            .iter()
            .all(|p| p.bw.deviation_pct.is_none() && !p.bw.breach)
    );
}

/// The alerts' lighter standing has the periods the full one has, on every
/// date of the worked examples (before, inside and after each period).
#[test]
fn period_standings_are_the_periods_of_the_full_standing() {
    for (contract, histories) in [(k1(), k1_readings()), (k2(), k2_readings())] {
        for at in [
            "2025-01-01",
            "2025-01-02",
            "2025-03-15",
            "2025-04-01",
            "2025-06-15",
            "2025-12-31",
            "2026-01-01",
            "2026-07-01",
        ] {
            let full = reconcile(&contract, &histories, d(at)).periods;
            let light = super::period_standings(&contract, &histories, d(at)).unwrap();
            assert_eq!(light, full, "{} on {at}", contract.id);
        }
    }
}
