use super::*;
use crate::serial::Serial;

pub(crate) fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

pub(crate) fn dec(s: &str) -> Decimal {
    Decimal::from_str_exact(s).unwrap()
}

pub(crate) fn prices(bw: &str, colour: &str) -> Prices {
    Prices {
        bw: dec(bw),
        colour: dec(colour),
        bw_a3: None,
        colour_a3: None,
    }
}

/// The worked example K1: advance, 60 months from 2025-01-01, 60 000 b/w and 12 000
/// colour a year, 0.0450 / 0.4500, 200.00 a month.
pub(crate) fn k1() -> Contract {
    Contract {
        id: "K1".into(),
        devices: vec![Membership {
            serial: Serial::parse("AA2M021115700").unwrap(),
            from: None,
            until: None,
        }],
        start: d("2025-01-01"),
        term_months: 60,
        billing: Billing::Advance,
        committed_bw: Some(60_000),
        committed_colour: Some(12_000),
        minimum_bw: 0,
        minimum_colour: 0,
        fixed_fee_monthly: "200.00".parse().unwrap(),
        deviation_threshold_pct: dec("15"),
        defer_at_or_below: "100.00".parse().unwrap(),
        estimation_fee: Nok::ZERO,
        renewal_uplift_pct: dec("30"),
        terminated_on: None,
        trailing_days: 90,
        uptime_pct: None,
        prices: vec![PriceVersion {
            from: d("2025-01-01"),
            prices: prices("0.0450", "0.4500"),
        }],
    }
}

/// The worked example K2: arrears, 36 months from 2025-03-15, A3 priced.
pub(crate) fn k2() -> Contract {
    Contract {
        id: "K2".into(),
        start: d("2025-03-15"),
        term_months: 36,
        billing: Billing::Arrears,
        committed_bw: Some(16_000),
        committed_colour: Some(1_600),
        fixed_fee_monthly: "300.00".parse().unwrap(),
        prices: vec![PriceVersion {
            from: d("2025-03-15"),
            prices: Prices {
                bw_a3: Some(dec("0.1000")),
                colour_a3: Some(dec("1.0000")),
                ..prices("0.0500", "0.5000")
            },
        }],
        ..k1()
    }
}

#[test]
fn periods_count_from_the_start_and_clamp_short_months() {
    let mut c = k1();
    c.start = d("2024-08-31");
    let q = c.periods_until(PeriodKind::Quarter, d("2025-06-01"));
    let starts: Vec<String> = q.iter().map(|p| p.start.to_string()).collect();
    // 2024-08-31 + 3 = 11-30, + 6 = 2025-02-28, + 9 = 05-31: always from the start.
    assert_eq!(
        starts,
        ["2024-08-31", "2024-11-30", "2025-02-28", "2025-05-31"]
    );
    assert_eq!(q[2].end, d("2025-05-31"));
}

#[test]
fn periods_stop_at_the_date_asked_and_at_the_end() {
    let c = k1();
    let halves = c.periods_until(PeriodKind::Half, d("2026-01-01"));
    assert_eq!(halves.len(), 3);
    assert_eq!(halves[2].start, d("2026-01-01"));
    let mut ended = k1();
    // Notice on the deadline: ends at the end of the term, 2030-01-01.
    ended.terminated_on = Some(d("2029-08-31"));
    assert_eq!(ended.end(), Some(d("2030-01-01")));
    assert_eq!(
        ended.periods_until(PeriodKind::Year, d("2031-06-01")).len(),
        5
    );
    // A day late: it renews for one year.
    ended.terminated_on = Some(d("2029-09-01"));
    assert_eq!(ended.end(), Some(d("2031-01-01")));
    assert_eq!(
        ended.periods_until(PeriodKind::Year, d("2031-06-01")).len(),
        6
    );
}

#[test]
fn next_deadline_moves_to_the_renewal_year_once_passed() {
    let c = k1();
    assert_eq!(
        c.next_deadline(d("2029-08-31")),
        Some((d("2030-01-01"), d("2029-08-31")))
    );
    assert_eq!(
        c.next_deadline(d("2029-09-01")),
        Some((d("2031-01-01"), d("2030-08-31")))
    );
}

#[test]
fn renewal_raises_every_price_once_from_the_first_renewal() {
    let mut c = k1();
    c.prices.push(PriceVersion {
        from: d("2027-01-01"),
        prices: prices("0.0500", "0.5000"),
    });
    assert_eq!(c.prices_on(d("2026-12-31")).unwrap().bw, dec("0.0450"));
    assert_eq!(c.prices_on(d("2027-01-01")).unwrap().bw, dec("0.0500"));
    // 0.0500 × 1.30 = 0.065; 0.5 × 1.3 = 0.65; the same in the second renewal year.
    assert_eq!(c.prices_on(d("2030-01-01")).unwrap().bw, dec("0.065"));
    assert_eq!(c.prices_on(d("2031-06-01")).unwrap().colour, dec("0.65"));
}

#[test]
fn price_segments_cut_at_versions_and_renewal() {
    let mut c = k1();
    c.prices.push(PriceVersion {
        from: d("2025-04-01"),
        prices: prices("0.0460", "0.4600"),
    });
    let s = c.price_segments(d("2025-01-01"), d("2025-07-01")).unwrap();
    assert_eq!(s.len(), 2);
    assert_eq!((s[0].0, s[0].1), (d("2025-01-01"), d("2025-04-01")));
    assert_eq!(s[1].2.bw, dec("0.0460"));
    let r = c.price_segments(d("2029-07-01"), d("2030-07-01")).unwrap();
    assert_eq!(r.len(), 2);
    assert_eq!(r[1].0, d("2030-01-01"));
    // 0.046 × 1.3 = 0.0598
    assert_eq!(r[1].2.bw, dec("0.0598"));
}

#[test]
fn membership_windows_clip_to_the_period() {
    let c = k1();
    let m = Membership {
        serial: Serial::parse("X").unwrap(),
        from: Some(d("2025-03-01")),
        until: Some(d("2025-09-01")),
    };
    assert_eq!(
        c.window(&m, d("2025-01-01"), d("2025-07-01")),
        Some((d("2025-03-01"), d("2025-07-01")))
    );
    assert_eq!(
        c.window(&m, d("2025-07-01"), d("2026-01-01")),
        Some((d("2025-07-01"), d("2025-09-01")))
    );
    assert_eq!(c.window(&m, d("2026-01-01"), d("2026-07-01")), None);
}
