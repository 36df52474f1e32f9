use super::*;

fn oslo(text: &str) -> DateTime<Utc> {
    let local = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap();
    local
        .and_local_timezone(Oslo)
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

fn date(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

#[test]
fn schedules_are_five_fields_in_oslo_time() {
    let s = Schedule::parse("0 6 1 * *").unwrap();
    // 06:00 in Oslo is 05:00 UTC in winter, 04:00 in summer.
    assert_eq!(
        s.next_after(oslo("2026-01-15 12:00")),
        Some(oslo("2026-02-01 06:00"))
    );
    assert_eq!(
        s.next_after(oslo("2026-06-15 12:00")).unwrap().to_rfc3339(),
        "2026-07-01T04:00:00+00:00"
    );
    // Exactly at a due time: the next one.
    assert_eq!(
        s.next_after(oslo("2026-02-01 06:00")),
        Some(oslo("2026-03-01 06:00"))
    );
    let bad = [
        ("0 6 1 *", "4 fields"),
        ("0 0 6 1 * *", "6 fields"),
        ("61 6 1 * *", "not a cron schedule"),
        ("0 6 30 2 *", "never comes"),
        ("every day", "2 fields"),
    ];
    for (text, part) in bad {
        let error = Schedule::parse(text).unwrap_err();
        assert!(error.contains(part), "{text}: {error}");
    }
}

#[test]
fn a_run_at_the_dst_gap_comes_once_after_it() {
    // 02:30 does not exist on 2026-03-29 in Oslo; it runs once, after the gap.
    let s = Schedule::parse("30 2 * * *").unwrap();
    let (times, _) = s.due(oslo("2026-03-28 12:00"), oslo("2026-03-30 12:00"), 12);
    assert_eq!(times.len(), 2, "{times:?}");
    assert_eq!(times[1], oslo("2026-03-30 02:30"));
    assert!(times[0] > oslo("2026-03-29 01:59") && times[0] <= oslo("2026-03-29 03:30"));
}

#[test]
fn missed_runs_are_the_latest_twelve_oldest_first() {
    let monthly = Schedule::parse("0 6 1 * *").unwrap();
    // None due yet.
    let (times, skipped) = monthly.due(oslo("2026-01-01 06:00"), oslo("2026-01-31 23:00"), 12);
    assert_eq!((times.len(), skipped), (0, 0));
    // Three due.
    let (times, skipped) = monthly.due(oslo("2026-01-01 06:00"), oslo("2026-04-01 06:00"), 12);
    assert_eq!(
        times,
        [
            oslo("2026-02-01 06:00"),
            oslo("2026-03-01 06:00"),
            oslo("2026-04-01 06:00")
        ]
    );
    assert_eq!(skipped, 0);
    // Twenty due: the latest twelve, oldest first, eight left out.
    let (times, skipped) = monthly.due(oslo("2024-12-15 00:00"), oslo("2026-08-15 00:00"), 12);
    assert_eq!(times.len(), 12);
    assert_eq!(skipped, 8);
    assert_eq!(times[0], oslo("2025-09-01 06:00"));
    assert_eq!(times[11], oslo("2026-08-01 06:00"));
}

#[test]
fn periods_and_file_names() {
    let cases = [
        (
            Kind::Counters,
            "2026-07-01",
            Format::Xlsx,
            "monthly_2026-06.xlsx",
        ),
        (
            Kind::Counters,
            "2026-01-01",
            Format::Csv,
            "monthly_2025-12.csv",
        ),
        (
            Kind::Counters,
            "2026-03-31",
            Format::Json,
            "monthly_2026-02.json",
        ),
        (
            Kind::VendorBilling,
            "2026-07-01",
            Format::Csv,
            "monthly_2026-07-01.csv",
        ),
    ];
    for (kind, day, format, expected) in cases {
        let period = Period::of_run(kind, date(day));
        assert_eq!(
            file_name("monthly", period, format),
            expected,
            "{kind:?} {day}"
        );
    }
    assert_eq!(
        Period::of_run(Kind::Counters, date("2026-03-31")),
        Period::Month {
            from: date("2026-02-01"),
            to: date("2026-03-01")
        }
    );
}

#[test]
fn names_kinds_and_formats() {
    for ok in ["monthly-counters", "vendor_2026", "a.b"] {
        assert!(valid_name(ok), "{ok}");
    }
    for bad in ["", ".hidden", "a/b", "with space", "ø", &"x".repeat(101)] {
        assert!(!valid_name(bad), "{bad:?}");
    }
    assert_eq!(Kind::parse("vendor-billing"), Some(Kind::VendorBilling));
    assert_eq!(Kind::parse("billing"), None);
    assert!(!Kind::VendorBilling.formats().contains(&Format::Xlsx));
    assert_eq!(Format::parse("xlsx").map(Format::name), Some("xlsx"));
}
