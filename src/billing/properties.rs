//! Properties of the engine over random readings (proptest): whatever the
//! readings, a year's use is the sum of its halves, a reading added at a
//! boundary with the value estimated there changes no line but the
//! estimation fee, and a later reading changes nothing before the last one.

use std::collections::HashMap;

use chrono::NaiveDate;
use proptest::prelude::*;
use rust_decimal::Decimal;

use super::*;
use crate::contract::tests::{d, k1};
use crate::contract::{Nok, dates::DAY_MS};
use crate::meters::ValueKind;
use crate::serial::Serial;

/// [`super::invoices`] of a contract whose numbers fit (every case here).
fn invoices(c: &Contract, h: &[DeviceHistory], until: NaiveDate) -> Vec<Invoice> {
    super::invoices(c, h, until).expect("no overflow")
}

/// [`super::reconcile`] of a contract whose numbers fit (every case here).
fn reconcile(c: &Contract, h: &[DeviceHistory], at: NaiveDate) -> Standing {
    super::reconcile(c, h, at).expect("no overflow")
}

const SERIAL: &str = "AA2M021115700";

/// Readings: (day from 2025-01-01, 00:00 Oslo + hours, four meter values).
type Rows = Vec<(i64, i64, [u64; 4])>;

/// A device history from rows of the four billing meters.
fn history(rows: &Rows) -> DeviceHistory {
    let start = midnight(d("2025-01-01"));
    let mut points: HashMap<Meter, Vec<Point>> = HashMap::new();
    for (day, hour, values) in rows {
        for (meter, value) in BILLING_METERS.iter().zip(values) {
            points.entry(*meter).or_default().push(Point {
                at: start + day * DAY_MS + hour * 3_600_000,
                value: *value,
                source: Source::Manual,
                kind: ValueKind::Integer,
            });
        }
    }
    DeviceHistory::new(&Serial::parse(SERIAL).unwrap(), false, points)
}

/// Counters that grow by random amounts on random days over two years; with
/// `drops`, some readings fall (resets, glitches, spikes and all).
fn rows(drops: bool) -> impl Strategy<Value = Rows> {
    let step = (0u64..4_000, 0u64..100, 0u64..1_000, 0u64..40, 0u8..20);
    proptest::collection::btree_map(0i64..730, (0i64..24, step), 1..40).prop_map(move |days| {
        let mut v = [10_000u64, 500, 2_000, 50];
        let mut out = Vec::new();
        for (day, (hour, (bw, bw_large, colour, colour_large, fall))) in days {
            v = [
                v[0] + bw,
                v[1] + bw_large,
                v[2] + colour,
                v[3] + colour_large,
            ];
            let mut values = v;
            if drops && fall == 0 {
                values = [v[0] / 3, v[1] / 3, v[2] / 3, v[3] / 3];
            }
            out.push((day, hour, values));
        }
        out
    })
}

/// Every line but estimation fees: (class, pages, amount) by invoice.
fn lines_but_fees(invoices: &[Invoice]) -> Vec<Vec<(LineClass, Option<Decimal>, Nok)>> {
    invoices
        .iter()
        .map(|i| {
            i.lines
                .iter()
                .filter(|l| l.class != LineClass::EstimationFee)
                .map(|l| (l.class, l.pages, l.amount))
                .collect()
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn a_years_use_is_the_sum_of_its_halves(rows in rows(true)) {
        let st = reconcile(&k1(), &[history(&rows)], d("2027-01-01"));
        let closed = |kind: &str, start: NaiveDate| {
            st.periods
                .iter()
                .find(|p| p.period.kind.name() == kind && p.period.start == start)
                .unwrap()
        };
        for (year, second_half) in [("2025-01-01", "2025-07-01"), ("2026-01-01", "2026-07-01")] {
            let y = closed("year", d(year));
            let (a, b) = (closed("half", d(year)), closed("half", d(second_half)));
            prop_assert_eq!(a.bw.actual + b.bw.actual, y.bw.actual);
            prop_assert_eq!(a.colour.actual + b.colour.actual, y.colour.actual);
        }
    }

    #[test]
    fn reading_the_estimate_at_a_boundary_changes_only_the_fee(
        rows in rows(false),
        boundary_half in prop_oneof![Just(2usize), Just(4usize)],
    ) {
        // Readings at every half boundary but one, B, the end of a contract
        // year (whose values a settlement uses), which falls 20 days from
        // the readings either side of it: B is interpolated. Reading the
        // estimate there changes no line but the fee.
        let k = Contract { estimation_fee: "95.00".parse().unwrap(), ..k1() };
        let halves: Vec<i64> = (0..5).map(|n| {
            (midnight(k.period(PeriodKind::Half, n).start) - midnight(d("2025-01-01"))) / DAY_MS
        }).collect();
        let b = halves[boundary_half];
        let mut rows: Rows = rows
            .into_iter()
            .filter(|(day, _, _)| !halves.contains(day) && (day - b).abs() > 20)
            .collect();
        // Keep the readings growing: re-value them in time order after adding
        // the boundary readings (but B's).
        for day in &halves {
            if *day != b {
                rows.push((*day, 0, [0; 4]));
            }
        }
        rows.push((b - 20, 5, [0; 4]));
        rows.push((b + 20, 7, [0; 4]));
        rows.sort();
        rows.dedup_by_key(|r| (r.0, r.1));
        let mut v = [10_000u64, 500, 2_000, 50];
        for (n, row) in rows.iter_mut().enumerate() {
            let n = n as u64;
            v = [v[0] + 37 * (n % 11), v[1] + n % 3, v[2] + 7 * (n % 5), v[3] + n % 2];
            row.2 = v;
        }
        let until = d("2027-01-01");
        let before = invoices(&k, &[history(&rows)], until);
        let at = midnight(d("2025-01-01")) + b * DAY_MS;
        let estimate = before
            .iter()
            .flat_map(|i| &i.boundary_values)
            .filter(|v| v.boundary.at == at)
            .map(|v| (v.meter, v.boundary.value, v.boundary.method))
            .collect::<Vec<_>>();
        prop_assume!(estimate.iter().all(|(_, _, m)| m.is_estimate()) && estimate.len() == 4);
        let value = |meter: Meter| estimate.iter().find(|e| e.0 == meter).unwrap().1;
        rows.push((b, 0, [
            value(Meter::BwTotal),
            value(Meter::BwLarge),
            value(Meter::ColourTotal),
            value(Meter::ColourLarge),
        ]));
        rows.sort();
        let after = invoices(&k, &[history(&rows)], until);
        prop_assert_eq!(lines_but_fees(&before), lines_but_fees(&after));
        let fees = |list: &[Invoice]| list.iter().flat_map(|i| &i.lines)
            .filter(|l| l.class == LineClass::EstimationFee).count();
        prop_assert_eq!(fees(&before), fees(&after) + 1);
    }

    #[test]
    fn a_later_reading_changes_nothing_before_the_last_one(
        rows in rows(false),
        more in 0u64..50_000,
        days_after in 1i64..200,
    ) {
        let until = d("2027-07-01");
        let before = invoices(&k1(), &[history(&rows)], until);
        let (last_day, last_hour, last) = *rows.last().unwrap();
        let mut longer = rows.clone();
        longer.push((last_day + days_after, last_hour, [last[0] + more, last[1], last[2] + more / 10, last[3]]));
        let after = invoices(&k1(), &[history(&longer)], until);
        let last_at = midnight(d("2025-01-01")) + last_day * DAY_MS + last_hour * 3_600_000;
        for (b, a) in before.iter().zip(&after) {
            if midnight(b.period_end) <= last_at {
                prop_assert_eq!(&b.lines, &a.lines, "{} {}", b.kind.name(), b.period_end);
            }
        }
    }
}
