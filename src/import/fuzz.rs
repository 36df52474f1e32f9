//! Fuzzing (proptest): a readings file is untrusted, so parsing any bytes,
//! and files of well-formed rows with hostile cells (every column, any
//! order, both delimiters, quotes, huge numbers, odd dates and text), gives
//! rows or an error that names a line, and never panics.

use chrono::{DateTime, Utc};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;

use super::{CsvError, parse_readings};

/// The instant the parser is asked at: every case gets a past, a near and a
/// future reading.
fn now() -> DateTime<Utc> {
    "2026-06-29T08:00:00Z".parse().expect("an instant")
}

/// A cell: a plausible value of some column, an edge, or any text.
fn cell() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => select(vec![
            "AA2J021004711", "A1", "", " ", "\"", "\"\"", "\"a,b\"", "\"a\nb\"", "=1+1", "-0",
            "\u{feff}serial", "bw_total", "colour_total", "total", "bw_large", "no_meter",
            "manual", "vendor", "final", "start", "polled", "0", "-1", "999999999999",
            "1000000000000", "18446744073709551616", "1e3", "0x10", "1_000", "١٢٣",
            "2025-07-01", "2025-02-29", "2024-02-29", "1999-12-31", "2100-01-01",
            "2026-03-29 02:30", "2026-10-25 02:30", "2026-06-29 10:04", "2026-06-29 10:06",
            "2026-06-29T08:04:59Z", "2026-06-29T23:59:60Z", "2025-07-01T12:00:00+14:00",
            "2025-07-01T12:00:00-99:00", "2025-07-01T25:00:00Z", "+002025-07-01",
        ])
        .prop_map(str::to_owned),
        1 => "\\PC{0,24}",
        1 => "[0-9]{1,24}",
        1 => "20[0-9]{2}-[0-1][0-9]-[0-3][0-9]( [0-2][0-9]:[0-5][0-9])?",
    ]
}

/// A header: the columns in some order, some left out or repeated.
fn header() -> impl Strategy<Value = Vec<String>> {
    let names = [
        "serial", "taken_at", "meter", "value", "source", "SERIAL", " value ", "x",
    ];
    prop_oneof![
        3 => Just(["serial", "taken_at", "meter", "value", "source"].map(str::to_owned).to_vec()),
        2 => Just(names[..5].to_vec()).prop_shuffle().prop_map(|h| h.iter().map(|s| s.to_string()).collect()),
        1 => vec(select(names.to_vec()), 0..7).prop_map(|h| h.iter().map(|s| s.to_string()).collect()),
    ]
}

/// A file of rows: a header, then rows of cells, joined by `;` or `,`, with
/// `\n` or `\r\n`, maybe a BOM.
fn structured() -> impl Strategy<Value = String> {
    (
        any::<bool>(),
        select(vec![",", ";", "\t"]),
        select(vec!["\n", "\r\n", "\r"]),
        header(),
        vec(vec(cell(), 0..7), 0..30),
    )
        .prop_map(|(bom, delimiter, end, header, rows)| {
            let mut text = String::from(if bom { "\u{feff}" } else { "" });
            text.push_str(&header.join(delimiter));
            for row in rows {
                text.push_str(end);
                text.push_str(&row.join(delimiter));
            }
            text
        })
}

fn check(result: &Result<super::Parsed, CsvError>, text: &str) -> Result<(), TestCaseError> {
    if let Err(e) = result {
        let lines = text.split(['\n', '\r']).count().max(1);
        prop_assert!(e.line <= lines + 1, "line {} of {lines}: {e}", e.line);
    }
    Ok(())
}

proptest! {
    #[test]
    fn fuzz_parsing_any_bytes_as_readings_never_panics(bytes in vec(any::<u8>(), 0..400)) {
        let text = String::from_utf8_lossy(&bytes);
        check(&parse_readings(&text, now(), &crate::display::Display::default()), &text)?;
    }

    #[test]
    fn fuzz_parsing_hostile_rows_never_panics(text in structured()) {
        check(&parse_readings(&text, now(), &crate::display::Display::default()), &text)?;
    }
}
