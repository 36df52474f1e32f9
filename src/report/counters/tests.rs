//! The counter report pinned in both CSV styles and JSON.

use serde_json::{Value, json};

use super::*;
use crate::contract::dates::HOUR_MS;
use crate::contract::tests::{d, dec};
use crate::meters::series::Point;
use crate::meters::{Source, ValueKind};

const FROM: &str = "2026-10-01";
const TO: &str = "2026-11-01"; // 31 days

/// A colour device polled an hour either side of each midnight, 2 pages
/// apart, so the value at midnight is bracketed: start + 1.
/// b/w 10 000 → 13 100 (large 200 → 300), colour 1 000 → 1 620 (large 0),
/// total 11 000 → 14 720.
fn colour_points() -> HashMap<Meter, Vec<Point>> {
    let (t0, t1) = (midnight(d(FROM)), midnight(d(TO)));
    let polled = |at, value| Point {
        at,
        value,
        source: Source::Polled,
        kind: ValueKind::Counter32,
    };
    let around = |a: u64, b: u64| {
        vec![
            polled(t0 - HOUR_MS, a),
            polled(t0 + HOUR_MS, a + 2),
            polled(t1 - HOUR_MS, b),
            polled(t1 + HOUR_MS, b + 2),
        ]
    };
    HashMap::from([
        (Meter::Total, around(11_000, 14_720)),
        (Meter::BwTotal, around(10_000, 13_100)),
        (Meter::BwLarge, around(200, 300)),
        (Meter::ColourTotal, around(1_000, 1_620)),
        (
            Meter::ColourLarge,
            vec![polled(t0 - HOUR_MS, 0), polled(t1 + HOUR_MS, 0)],
        ),
    ])
}

/// A mono device with only `total`, read by hand on both dates: 5 000 → 5 310.
fn mono_points() -> HashMap<Meter, Vec<Point>> {
    let manual = |date, value| Point {
        at: midnight(d(date)),
        value,
        source: Source::Manual,
        kind: ValueKind::Manual,
    };
    HashMap::from([(Meter::Total, vec![manual(FROM, 5_000), manual(TO, 5_310)])])
}

fn report(double: bool) -> Vec<DeviceCounters> {
    let (colour, mono) = (colour_points(), mono_points());
    let input = |serial, points, location, contract| CounterInput {
        serial,
        model: Some("bizhub C300i"),
        location,
        contract,
        discovered: serial == "MONO1",
        uptime_pct: (serial != "MONO1").then(|| dec("99.50")),
        site: (serial != "MONO1").then_some("bergen"),
        large_counts_double: double,
        trailing_days: 90,
        points,
    };
    vec![
        device_counters(
            &input(
                "AA2J021004711",
                &colour,
                Some("Oslo; 3rd floor"),
                Some("K1"),
            ),
            d(FROM),
            d(TO),
        ),
        device_counters(&input("MONO1", &mono, None, None), d(FROM), d(TO)),
    ]
}

// usage and pages a day: total 3 720 (120.00), b/w 3 100 (100.00), b/w large
// 100 (3.2258… → 3.23), colour 620 (20.00), colour large 0; A4-equivalents
// b/w 3 100 + 100 = 3 200 and colour 620 + 0 = 620; mono 310 (10.00).
const SEMICOLON: &str = "\u{feff}serial;model;location;contract;meter;from;from_value;from_method;to;to_value;to_method;usage;a4_equivalents;pages_per_day;note;discovered;uptime_pct;site\r\n\
AA2J021004711;bizhub C300i;\"Oslo; 3rd floor\";K1;total;2026-10-01;11001;bracketed;2026-11-01;14721;bracketed;3720;;120,00;;;99,50;bergen\r\n\
AA2J021004711;bizhub C300i;\"Oslo; 3rd floor\";K1;bw_total;2026-10-01;10001;bracketed;2026-11-01;13101;bracketed;3100;3200;100,00;;;99,50;bergen\r\n\
AA2J021004711;bizhub C300i;\"Oslo; 3rd floor\";K1;bw_large;2026-10-01;201;bracketed;2026-11-01;301;bracketed;100;;3,23;;;99,50;bergen\r\n\
AA2J021004711;bizhub C300i;\"Oslo; 3rd floor\";K1;colour_total;2026-10-01;1001;bracketed;2026-11-01;1621;bracketed;620;620;20,00;;;99,50;bergen\r\n\
AA2J021004711;bizhub C300i;\"Oslo; 3rd floor\";K1;colour_large;2026-10-01;0;interpolation;2026-11-01;0;interpolation;0;;0,00;;;99,50;bergen\r\n\
MONO1;bizhub C300i;;;total;2026-10-01;5000;exact;2026-11-01;5310;exact;310;310;10,00;;yes;;\r\n";

#[test]
fn the_csv_for_norwegian_excel_is_pinned() {
    let csv = counters_csv(CsvStyle::Semicolon, d(FROM), d(TO), &report(false));
    assert_eq!(String::from_utf8(csv).unwrap(), SEMICOLON);
}

#[test]
fn the_comma_style_uses_a_decimal_point() {
    let csv = String::from_utf8(counters_csv(
        CsvStyle::Comma,
        d(FROM),
        d(TO),
        &report(false),
    ))
    .unwrap();
    let expected = SEMICOLON
        .replace(';', ",")
        .replace("\"Oslo, 3rd floor\"", "Oslo; 3rd floor")
        .replace("120,00", "120.00")
        .replace("100,00", "100.00")
        .replace("3,23", "3.23")
        .replace("20,00", "20.00")
        .replace("0,00", "0.00")
        .replace("10,00", "10.00")
        .replace("99,50", "99.50");
    assert_eq!(csv, expected);
}

#[test]
fn a_device_counting_large_pages_twice_is_not_doubled_again() {
    let r = report(true);
    assert_eq!(
        (r[0].a4_bw, r[0].a4_colour, r[1].a4_bw),
        (Some(3_100), Some(620), Some(310))
    );
    let r = report(false);
    assert_eq!(
        (r[0].a4_bw, r[0].a4_colour, r[1].a4_colour),
        (Some(3_200), Some(620), None)
    );
}

#[test]
fn the_json_report_names_every_method() {
    let json = serde_json::to_value(counters_answer(d(FROM), d(TO), &report(false))).unwrap();
    assert_eq!(
        json["devices"][0]["a4_equivalents"],
        json!({"bw": 3200, "colour": 620})
    );
    assert_eq!(
        json["devices"][0]["meters"][1],
        json!({"meter": "bw_total", "from": {"value": 10_001, "method": "bracketed"},
               "to": {"value": 13_101, "method": "bracketed"}, "usage": 3100, "pages_per_day": "100.00", "note": null})
    );
    assert_eq!(json["devices"][1]["contract"], Value::Null);
}

#[test]
fn before_the_first_reading_there_is_no_value_and_no_usage() {
    let late = HashMap::from([(
        Meter::Total,
        vec![Point {
            at: midnight(d("2026-10-15")),
            value: 100,
            source: Source::Polled,
            kind: ValueKind::Counter32,
        }],
    )]);
    let input = CounterInput {
        serial: "NEW1",
        model: None,
        location: None,
        contract: None,
        discovered: false,
        uptime_pct: None,
        site: None,
        large_counts_double: false,
        trailing_days: 90,
        points: &late,
    };
    let c = device_counters(&input, d(FROM), d(TO));
    assert_eq!(c.meters[0].from, None);
    assert_eq!(c.meters[0].usage, None);
    assert_eq!(c.a4_bw, None);
    // One reading gives no rate: no value at the end either.
    assert_eq!(c.meters[0].to, None);
    // The blank cells say why.
    assert_eq!(
        c.meters[0].note.as_deref(),
        Some(
            "No reading of this meter before 2026-10-01: its first is from 2026-10-15. \
             One reading of this meter (2026-10-15) before 2026-11-01 and none after it: \
             one reading gives no rate to estimate from. No usage."
        )
    );
    // Read only after the period: one reason.
    let c = device_counters(&input, d("2026-09-01"), d("2026-10-01"));
    assert_eq!(
        c.meters[0].note.as_deref(),
        Some("No reading of this meter before 2026-10-01: its first is from 2026-10-15. No usage.")
    );
    let csv = String::from_utf8(counters_csv(
        CsvStyle::Comma,
        d("2026-09-01"),
        d("2026-10-01"),
        &[c],
    ))
    .unwrap();
    assert!(
        csv.ends_with(",,,,,No reading of this meter before 2026-10-01: its first is from 2026-10-15. No usage.,,,\r\n"),
        "{csv}"
    );
}

/// The named part of an XLSX file (a zip archive), as text.
fn xlsx_part(bytes: &[u8], name: &str) -> String {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("an xlsx is a zip");
    let mut part = archive
        .by_name(name)
        .unwrap_or_else(|_| panic!("no {name}"));
    let mut text = String::new();
    std::io::Read::read_to_string(&mut part, &mut text).unwrap();
    text
}

#[test]
fn the_workbook_is_pinned() {
    // Reviewed by hand: a bold header row (style 1) frozen above the data
    // (`pane ySplit="1"`), an autofilter over A1:R7, `yes` in column P for the discovered device, 99.5 in column Q (uptime), the site in column R, dates as Excel serials
    // (46296 = 2026-10-01, 46327 = 2026-11-01) with `yyyy-mm-dd` (style 2),
    // counts as numbers with `#,##0` (style 3), pages a day with `#,##0.00`
    // (style 4), empty cells where the CSV has empty fields.
    let bytes = crate::report::xlsx::counters_xlsx(d(FROM), d(TO), &report(false)).unwrap();
    assert_eq!(
        xlsx_part(&bytes, "xl/worksheets/sheet1.xml"),
        include_str!("snapshots/sheet1.xml")
    );
    assert_eq!(
        xlsx_part(&bytes, "xl/sharedStrings.xml"),
        include_str!("snapshots/sharedStrings.xml")
    );
    let styles = xlsx_part(&bytes, "xl/styles.xml");
    assert!(
        styles.contains(
            "<numFmts count=\"3\"><numFmt numFmtId=\"164\" formatCode=\"yyyy-mm-dd\"/>\
             <numFmt numFmtId=\"165\" formatCode=\"#,##0\"/><numFmt numFmtId=\"166\" formatCode=\"#,##0.00\"/></numFmts>"
        ),
        "{styles}"
    );
    assert!(
        styles.contains("<b/>"),
        "a bold font for the header: {styles}"
    );
}

/// A device whose serial, model, location and contract begin with what a
/// spreadsheet reads as a formula (stored before serials were checked, or
/// reported by a device): the counter report neutralises each free-text cell.
fn injected() -> Vec<DeviceCounters> {
    let mono = mono_points();
    let input = CounterInput {
        serial: "=HYPERLINK(\"http://x\")",
        model: Some("+bizhub"),
        location: Some("@SUM(A1)"),
        contract: Some("-K1"),
        discovered: false,
        uptime_pct: None,
        site: None,
        large_counts_double: false,
        trailing_days: 90,
        points: &mono,
    };
    vec![device_counters(&input, d(FROM), d(TO))]
}

#[test]
fn free_text_cells_that_look_like_formulas_get_a_quote_in_csv() {
    let csv = String::from_utf8(counters_csv(
        CsvStyle::Semicolon,
        d(FROM),
        d(TO),
        &injected(),
    ))
    .unwrap();
    let row = csv.lines().nth(1).unwrap();
    assert_eq!(
        row,
        "\"'=HYPERLINK(\"\"http://x\"\")\";'+bizhub;'@SUM(A1);'-K1;total;2026-10-01;5000;exact;2026-11-01;5310;exact;310;310;10,00;;;;"
    );
    // The JSON is no spreadsheet: its text stays exactly as it was.
    let json = serde_json::to_value(counters_answer(d(FROM), d(TO), &injected())).unwrap();
    assert_eq!(json["devices"][0]["serial"], "=HYPERLINK(\"http://x\")");
    assert_eq!(json["devices"][0]["location"], "@SUM(A1)");
}

#[test]
fn the_workbook_writes_formula_like_text_as_text_never_as_a_formula() {
    let bytes = crate::report::xlsx::counters_xlsx(d(FROM), d(TO), &injected()).unwrap();
    let sheet = xlsx_part(&bytes, "xl/worksheets/sheet1.xml");
    assert!(!sheet.contains("<f>"), "no formula cell: {sheet}");
    let strings = xlsx_part(&bytes, "xl/sharedStrings.xml");
    for text in ["=HYPERLINK(\"http://x\")", "+bizhub", "@SUM(A1)", "-K1"] {
        assert!(
            strings.contains(&format!("<t>{text}</t>")),
            "{text} as a shared string: {strings}"
        );
    }
    // Excel's quotePrefix style keeps the cell text when someone edits it.
    let styles = xlsx_part(&bytes, "xl/styles.xml");
    assert!(styles.contains("quotePrefix=\"1\""), "{styles}");
}
