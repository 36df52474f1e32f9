use chrono::{DateTime, TimeZone, Utc};

use super::*;

fn oslo(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Oslo.with_ymd_and_hms(y, m, d, h, min, 0)
        .single()
        .expect("an unambiguous local time")
        .with_timezone(&Utc)
}

fn fleet(n: usize) -> Fleet {
    // Monday 2026-11-16 07:00 Oslo.
    Fleet::new(7, n, oslo(2026, 11, 16, 7, 0), true)
}

fn sum(cells: &[[u64; 2]; 4]) -> u64 {
    cells.iter().flatten().sum()
}

#[test]
fn split_by_hand() {
    let mut d = fleet(1).devices[0].clone();
    (d.colour_pm, d.copy_pm, d.a3_pm) = (300, 200, 100);
    // 1000 pages: colour 300 (bw 700); full colour 300 × 0.92 = 276; single
    // 24 × 0.6 = 14.4 → 14; two-colour 24 − 14 = 10. Copy share 0.2: bw 140 +
    // 560, full 55 (55.2) + 221, single 2 (2.8) + 12, two 2 + 8. A3 0.1 of
    // each: bw 14 + 56, full 5 (5.5) + 22 (22.1), single 0 + 1, two 0 + 0.
    let (cells, large) = d.split(1000);
    assert_eq!(cells, [[140, 560], [55, 221], [2, 12], [2, 8]]);
    assert_eq!(large, [[14, 56], [5, 22], [0, 1], [0, 0]]);
}

#[test]
fn counters_never_go_down_and_always_sum_to_the_total() {
    let f = fleet(20);
    for d in f.devices.iter().filter(|d| d.quirk != Some(Quirk::Reset)) {
        let mut last: Option<State> = None;
        for step in 0..(7 * 24 * 60 / 7) {
            let at = f.start + TimeDelta::minutes(7 * step);
            let s = f.state(d, at, false);
            assert_eq!(sum(&s.cells), s.pages, "{} at {at}", d.serial);
            for m in 0..4 {
                for func in 0..2 {
                    assert!(s.large[m][func] <= s.cells[m][func]);
                    if let Some(prev) = &last {
                        assert!(
                            s.cells[m][func] >= prev.cells[m][func],
                            "{} at {at}",
                            d.serial
                        );
                        assert!(s.large[m][func] >= prev.large[m][func]);
                    }
                }
            }
            if let Some(prev) = &last {
                assert!(s.duplex >= prev.duplex && s.scans >= prev.scans);
            }
            last = Some(s);
        }
    }
}

#[test]
fn pages_only_in_working_hours() {
    let f = fleet(3);
    let d = &f.devices[0];
    let pages = |at| f.state(d, at, false).pages;
    // Friday 16:00 to Monday 08:00 nothing is printed.
    let friday_end = pages(oslo(2026, 11, 20, 16, 0));
    assert_eq!(pages(oslo(2026, 11, 21, 11, 0)), friday_end);
    assert_eq!(pages(oslo(2026, 11, 22, 23, 59)), friday_end);
    assert_eq!(pages(oslo(2026, 11, 23, 8, 0)), friday_end);
    // Tuesday night to Wednesday 08:00 neither.
    assert_eq!(
        pages(oslo(2026, 11, 17, 17, 0)),
        pages(oslo(2026, 11, 18, 7, 30))
    );
    // Half a working day is half the day's pages (rounded down).
    let day = (oslo(2026, 11, 18, 12, 0).with_timezone(&Oslo).date_naive() - epoch()).num_days();
    let whole = d.pages_on(f.seed, day as u64);
    assert_eq!(
        pages(oslo(2026, 11, 18, 12, 0)) - pages(oslo(2026, 11, 18, 8, 0)),
        whole / 2
    );
    assert!(whole >= d.daily_pages / 2 && whole <= d.daily_pages * 3 / 2);
    assert!(f.state(d, oslo(2026, 11, 18, 12, 0), false).working);
    assert!(!f.state(d, oslo(2026, 11, 21, 12, 0), false).working);
}

#[test]
fn the_same_seed_gives_the_same_fleet() {
    let at = oslo(2026, 11, 18, 13, 17);
    let a = Fleet::new(42, 30, at, true);
    let b = Fleet::new(42, 30, at, true);
    let c = Fleet::new(43, 30, at, true);
    for i in 0..30 {
        assert_eq!(a.devices[i].serial, b.devices[i].serial);
        assert_eq!(
            a.state(&a.devices[i], at, false),
            b.state(&b.devices[i], at, false)
        );
    }
    let differs = (0..30).filter(|i| {
        a.state(&a.devices[*i], at, false).pages != c.state(&c.devices[*i], at, false).pages
    });
    assert!(differs.count() > 25);
    let mut serials: Vec<&str> = a.devices.iter().map(|d| d.serial.as_str()).collect();
    serials.sort();
    serials.dedup();
    assert_eq!(serials.len(), 30);
}

#[test]
fn every_twenty_devices_have_one_of_each_quirk() {
    let f = fleet(40);
    let count = |q| f.devices.iter().filter(|d| d.quirk == Some(q)).count();
    assert_eq!(count(Quirk::Slow), 2);
    assert_eq!(count(Quirk::Reset), 2);
    assert_eq!(count(Quirk::Boots), 2);
    assert_eq!(f.devices.iter().filter(|d| !d.model.colour).count(), 2);
    let healthy = Fleet::new(7, 40, f.start, false);
    assert!(healthy.devices.iter().all(|d| d.quirk.is_none()));
    assert_eq!(
        healthy.devices.iter().filter(|d| !d.model.colour).count(),
        2
    );
}

#[test]
fn the_reset_device_restarts_from_zero_once() {
    let f = fleet(20);
    let d = f
        .devices
        .iter()
        .find(|d| d.quirk == Some(Quirk::Reset))
        .unwrap();
    let before = f
        .state(d, f.reset_at() - TimeDelta::minutes(1), false)
        .pages;
    let at = f.state(d, f.reset_at(), false).pages;
    let later = f.state(d, f.reset_at() + TimeDelta::hours(3), false).pages;
    assert!(before > 10_000, "{before}");
    assert_eq!(at, 0);
    assert!(later > 0 && later < before, "{later}");
}

#[test]
fn a_booting_device_shows_zero_counters_and_a_fresh_uptime() {
    let f = fleet(20);
    let d = f
        .devices
        .iter()
        .find(|d| d.quirk == Some(Quirk::Boots))
        .unwrap();
    let s = f.state(d, f.boot_at(), true);
    assert_eq!((s.pages, sum(&s.cells), s.duplex), (0, 0, 0));
    assert_eq!(d.value(Slot::KmGeneral(1), &s), Some(Value::Int(0)));
    assert_eq!(d.value(Slot::HrPrinterStatus, &s), Some(Value::Int(5)));
    let after = f.state(d, f.boot_at() + TimeDelta::minutes(10), false);
    assert_eq!(after.uptime_s, 600);
    assert!(after.pages > 0);
}

#[test]
fn toner_drains_and_is_replaced_at_zero() {
    let f = fleet(20);
    let mut replaced = 0;
    for d in &f.devices {
        let mut last: Option<Vec<i64>> = None;
        // Four weeks in steps of 30 minutes.
        for step in 0..(28 * 24 * 2) {
            let s = f.state(d, f.start + TimeDelta::minutes(30 * step), false);
            assert!(s.supplies.iter().all(|l| (0..=100).contains(l)));
            if let Some(prev) = &last {
                for (now, before) in s.supplies.iter().zip(prev) {
                    if now > before {
                        // Only a unit at (or just about at) 0 is replaced.
                        assert!(*before <= 2 && *now >= 95, "{before} → {now}");
                        replaced += 1;
                    }
                }
            }
            last = Some(s.supplies);
        }
    }
    assert!(replaced >= 1, "no supply ran out in four weeks");
}

#[test]
fn a_mono_device_has_no_colour() {
    let f = fleet(20);
    let d = f.devices.iter().find(|d| !d.model.colour).unwrap();
    let s = f.state(d, oslo(2026, 11, 18, 12, 0), false);
    let colour = Slot::KmFunction {
        column: 5,
        colour: 2,
        function: 2,
    };
    assert_eq!(d.value(colour, &s), Some(Value::Int(-1)));
    assert_eq!(s.cells[0][0] + s.cells[0][1], s.pages);
    assert_eq!(d.value(Slot::Colorant(2), &s), None);
    assert_eq!(s.supplies.len(), 3);
    let rows = mib(false)
        .iter()
        .filter(|(_, s)| matches!(s, Slot::Supply { .. }))
        .count();
    assert_eq!(rows, 3 * 7);
}

#[test]
fn the_mib_is_in_snmp_order_without_duplicates() {
    for colour in [true, false] {
        let m = mib(colour);
        assert!(m.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(
            m.len(),
            if colour {
                12 + 77 + 4 + 3 + 16
            } else {
                12 + 21 + 1 + 3 + 16
            }
        );
    }
}
