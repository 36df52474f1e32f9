//! Parsing and validation of a CSV file of meter readings, entered by hand or
//! sent by the vendor, for `telleverk import-readings`.
//!
//! The file has a header naming the columns `serial`, `taken_at`, `meter`,
//! `value` and optionally `source`, in any order, separated by `,` or `;`.
//! The whole file is checked before anything is returned: the first bad row
//! is an error that names its line and column, and a file with an error gives
//! nothing to import. A reading later than now (with 5 minutes of clock
//! skew) is refused, and so are a manual and a vendor reading of one meter
//! at one instant that disagree.
//!
//! Pure: takes the file's text and the time it is, returns values. It never
//! opens a file, reads the clock or touches the database.

use std::collections::HashMap;
use std::sync::LazyLock;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use csv::StringRecord;

use crate::contract::dates::local_instant;
use crate::display::Display;
use crate::meters::{Meter, Source};
use crate::serial::{Serial, excerpt};

/// The columns of the file; the last one may be left out.
const COLUMNS: [&str; 5] = ["serial", "taken_at", "meter", "value", "source"];

/// The header as the error messages show it.
const EXPECTED_HEADER: &str = "serial,taken_at,meter,value[,source]";

/// How far in the future an entered reading may lie: clocks differ.
pub const CLOCK_SKEW_MS: i64 = 5 * 60 * 1000;

/// Where each column is: the index of serial, taken_at, meter, value and
/// (when given) source, and how many columns a row has.
#[derive(Debug, Clone, Copy)]
struct Layout {
    at: [Option<usize>; 5],
    width: usize,
}

/// What is wrong with the file, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column `{column}`: {message}")]
pub struct CsvError {
    /// The 1-based line in the file; the header is line 1.
    pub line: usize,
    /// The column's name, or `(row)` or `(header)`.
    pub column: String,
    pub message: String,
}

/// One reading of one meter from the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRow {
    /// The 1-based line in the file the reading came from.
    pub line: usize,
    pub serial: Serial,
    pub at: DateTime<Utc>,
    pub meter: Meter,
    pub value: u64,
    pub source: Source,
}

/// The readings of a valid file, in file order, without repeated rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub rows: Vec<ImportRow>,
    /// How many rows repeated an earlier row exactly and were left out.
    pub duplicates_skipped: usize,
}

/// Parses and checks a whole file of readings at `now`. The first bad row is
/// the error; rows that repeat an earlier row exactly are skipped and counted.
/// A refusal shows an instant as `shown` does.
pub fn parse_readings(text: &str, now: DateTime<Utc>, shown: &Display) -> Result<Parsed, CsvError> {
    let (_, records) = csv_records(text)?;
    let mut records = records.into_iter();
    let layout = match records.next() {
        Some((line, header)) => check_header(&header, line)?,
        None => {
            let message = format!("the file is empty: expected the header `{EXPECTED_HEADER}`");
            return Err(header_error(1, message));
        }
    };
    let mut seen = Seen::default();
    let mut parsed = Parsed {
        rows: Vec::new(),
        duplicates_skipped: 0,
    };
    for (line, record) in records {
        let row = parse_row(&record, line, layout)?;
        check_not_future(&row, now, shown)?;
        if seen.admit(&row)? {
            parsed.rows.push(row);
        } else {
            parsed.duplicates_skipped += 1;
        }
    }
    Ok(parsed)
}

/// The records of a CSV file's text, each with the 1-based line it starts
/// on, blank lines left out, and the delimiter: `;` when the first line
/// has one, else `,`. A BOM is left out; a quoted field left open is an
/// error naming its line. The first record is the header.
pub fn csv_records(text: &str) -> Result<(u8, Vec<(usize, StringRecord)>), CsvError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let delimiter = delimiter(text);
    if let Some(line) = unterminated_quote(text, delimiter) {
        return Err(CsvError {
            line,
            column: "(row)".to_owned(),
            message: "a quoted field starts here and its closing quote `\"` is missing \
                      (a quote inside a quoted field is written `\"\"`)"
                .to_owned(),
        });
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    let mut out = Vec::new();
    for record in reader.records() {
        let record = record.map_err(read_error)?;
        if is_blank(&record) {
            continue;
        }
        out.push((line_of(&record, text), record));
    }
    Ok((delimiter, out))
}

/// The text of a file of readings, which must be UTF-8; else the line and
/// the character in it where the first byte that is not UTF-8 stands.
pub fn utf8_text(bytes: &[u8]) -> Result<&str, CsvError> {
    std::str::from_utf8(bytes).map_err(|e| {
        let good = &bytes[..e.valid_up_to()];
        let line_start = good.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        let before = String::from_utf8_lossy(&good[line_start..]).chars().count();
        CsvError {
            line: good.iter().filter(|b| **b == b'\n').count() + 1,
            column: "(row)".to_owned(),
            message: format!(
                "character {} of the line is not UTF-8 text (byte 0x{:02X}): save the file as UTF-8",
                before + 1,
                bytes[e.valid_up_to()]
            ),
        }
    })
}

/// The line of a quoted field whose closing quote is missing, if any: the
/// reader would take the rest of the file as that one field. A quote opens
/// a field only at its start, and `""` inside it is a quote, as the reader
/// reads them.
fn unterminated_quote(text: &str, delimiter: u8) -> Option<usize> {
    let (mut line, mut opened_on) = (1, None);
    let mut at_field_start = true;
    let mut bytes = text.bytes().peekable();
    while let Some(b) = bytes.next() {
        match (opened_on, b) {
            (Some(_), b'"') if bytes.peek() == Some(&b'"') => {
                bytes.next();
            }
            (Some(_), b'"') => opened_on = None,
            (None, b'"') if at_field_start => opened_on = Some(line),
            _ => {}
        }
        if b == b'\n' {
            line += 1;
        }
        at_field_start = opened_on.is_none() && (b == delimiter || b == b'\n' || b == b'\r');
    }
    opened_on
}

/// The regular expression of a date, `YYYY-MM-DD`, in the years 2000 to 2099:
/// it admits exactly the calendar's days (29 February in leap years only).
macro_rules! date_re {
    () => {
        concat!(
            "(?:20[0-9]{2}-(?:",
            "(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])",
            "|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)",
            "|02-(?:0[1-9]|1[0-9]|2[0-8]))",
            "|20(?:[02468][048]|[13579][26])-02-29)"
        )
    };
}

/// An hour and minute, `HH:MM`.
macro_rules! hour_minute_re {
    () => {
        "(?:[01][0-9]|2[0-3]):[0-5][0-9]"
    };
}

/// The text of a date (a day in 2000–2099). The API's OpenAPI document gives
/// this same pattern, so what it promises and what is accepted are one rule.
pub const DATE_PATTERN: &str = concat!("^", date_re!(), "$");

/// The text of a time of reading: a date; a date and `HH:MM` (Europe/Oslo);
/// or RFC 3339 with `T` (or `t`), seconds, up to 9 decimals and `Z` (or `z`)
/// or an offset.
pub const TIME_PATTERN: &str = concat!(
    "^",
    date_re!(),
    "(?: ",
    hour_minute_re!(),
    "|[Tt]",
    hour_minute_re!(),
    ":[0-5][0-9](?:\\.[0-9]{1,9})?(?:[Zz]|[+-]",
    hour_minute_re!(),
    "))?$"
);

/// The largest meter value a person or a file may give: 10¹² − 1 pages. No
/// printer comes near it; a larger number is a typo.
pub const MAX_ENTERED_VALUE: u64 = 999_999_999_999;

static DATE_RE: LazyLock<regex_lite::Regex> =
    LazyLock::new(|| regex_lite::Regex::new(DATE_PATTERN).expect("DATE_PATTERN is valid"));
static TIME_RE: LazyLock<regex_lite::Regex> =
    LazyLock::new(|| regex_lite::Regex::new(TIME_PATTERN).expect("TIME_PATTERN is valid"));

/// Parses a date written `YYYY-MM-DD` (2000–2099), nothing around it.
pub fn parse_date(text: &str) -> Result<NaiveDate, String> {
    DATE_RE
        .is_match(text)
        .then(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())
        .flatten()
        .ok_or_else(|| {
            format!(
                "`{}` is not a date (YYYY-MM-DD, 2000 to 2099)",
                excerpt(text)
            )
        })
}

/// Parses a time of reading: RFC 3339 with an offset, `YYYY-MM-DD` (00:00
/// Europe/Oslo) or `YYYY-MM-DD HH:MM` (Europe/Oslo), in 2000–2099, nothing
/// around it. A local time that does not exist or occurs twice is an error
/// that asks for an offset.
pub fn parse_taken_at(text: &str) -> Result<DateTime<Utc>, String> {
    if text.is_empty() {
        return Err("the time is empty".to_owned());
    }
    let not_a_time = || {
        format!(
            "`{}` is not a time: use RFC 3339 with an offset \
             (2025-07-01T00:00:00+02:00), YYYY-MM-DD or YYYY-MM-DD HH:MM \
             (Europe/Oslo), in the years 2000 to 2099",
            excerpt(text)
        )
    };
    if !TIME_RE.is_match(text) {
        return Err(not_a_time());
    }
    // RFC 3339 allows a lower-case `t` and `z`.
    let upper = text.to_ascii_uppercase();
    let text = upper.as_str();
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return local_to_utc(date.and_time(chrono::NaiveTime::MIN));
    }
    if let Ok(local) = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M") {
        return local_to_utc(local);
    }
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| not_a_time())
}

/// A Europe/Oslo wall-clock time as an instant.
fn local_to_utc(local: NaiveDateTime) -> Result<DateTime<Utc>, String> {
    local_instant(local).map(|t| t.with_timezone(&Utc))
}

/// The delimiter of the file: `;` when the header line has one, else `,`.
fn delimiter(text: &str) -> u8 {
    let header = text.lines().next().unwrap_or("");
    if header.contains(';') { b';' } else { b',' }
}

/// Checks the header, read on `line`, and returns where each column is. The
/// header must be the first line; its names may come in any order.
fn check_header(record: &StringRecord, line: usize) -> Result<Layout, CsvError> {
    if line != 1 {
        let message = format!("the first line is empty: expected the header `{EXPECTED_HEADER}`");
        return Err(header_error(1, message));
    }
    let found: Vec<&str> = record.iter().collect();
    let bad = |why: String| {
        header_error(
            line,
            format!(
                "{why}: expected the columns `{EXPECTED_HEADER}` (in any order), found `{}`",
                excerpt(&found.join(","))
            ),
        )
    };
    let mut layout = Layout {
        at: [None; 5],
        width: found.len(),
    };
    for (i, name) in found.iter().enumerate() {
        let Some(column) = COLUMNS.iter().position(|c| c.eq_ignore_ascii_case(name)) else {
            return Err(bad(format!("`{}` is not a column", excerpt(name))));
        };
        if layout.at[column].replace(i).is_some() {
            return Err(bad(format!("`{}` is named twice", excerpt(name))));
        }
    }
    if let Some(missing) = (0..4).find(|c| layout.at[*c].is_none()) {
        return Err(bad(format!("the column `{}` is missing", COLUMNS[missing])));
    }
    Ok(layout)
}

/// An error in the header.
pub(crate) fn header_error(line: usize, message: String) -> CsvError {
    CsvError {
        line,
        column: "(header)".to_owned(),
        message,
    }
}

/// An error of the CSV reader itself, at the record it stopped on.
fn read_error(error: csv::Error) -> CsvError {
    let line = error.position().map_or(1, |p| to_line(p.line()));
    CsvError {
        line,
        column: "(row)".to_owned(),
        message: error.to_string(),
    }
}

/// Whether a record holds nothing: an empty line, or one of only spaces and
/// delimiters as spreadsheets write them.
fn is_blank(record: &StringRecord) -> bool {
    record.iter().all(str::is_empty)
}

/// The 1-based line a record starts on. The reader gives the position where
/// it began to look for the record, so the line breaks it passed over first
/// (empty lines, the `\n` of a `\r\n`) are counted here.
fn line_of(record: &StringRecord, text: &str) -> usize {
    let Some(position) = record.position() else {
        return 1;
    };
    let start = usize::try_from(position.byte()).unwrap_or(usize::MAX);
    let passed_over = text
        .as_bytes()
        .get(start..)
        .unwrap_or_default()
        .iter()
        .take_while(|b| matches!(b, b'\r' | b'\n'))
        .filter(|b| **b == b'\n')
        .count();
    to_line(position.line()) + passed_over
}

/// A line number from the CSV reader as a `usize`.
fn to_line(line: u64) -> usize {
    usize::try_from(line).unwrap_or(usize::MAX)
}

/// Parses one row, on `line`, of a file laid out as its header says.
fn parse_row(record: &StringRecord, line: usize, layout: Layout) -> Result<ImportRow, CsvError> {
    if record.len() != layout.width {
        let names: Vec<&str> = (0..layout.width)
            .filter_map(|i| layout.at.iter().position(|at| *at == Some(i)))
            .map(|c| COLUMNS[c])
            .collect();
        return Err(CsvError {
            line,
            column: "(row)".to_owned(),
            message: format!(
                "expected {} fields ({}), found {}",
                layout.width,
                names.join(", "),
                record.len()
            ),
        });
    }
    let cell = |column: usize| layout.at[column].and_then(|i| record.get(i)).unwrap_or("");
    let fail = |column: &'static str| {
        move |message: String| CsvError {
            line,
            column: column.to_owned(),
            message,
        }
    };
    Ok(ImportRow {
        line,
        serial: parse_serial(cell(0)).map_err(fail("serial"))?,
        at: parse_taken_at(cell(1).trim()).map_err(fail("taken_at"))?,
        meter: parse_meter(cell(2)).map_err(fail("meter"))?,
        value: parse_value(cell(3)).map_err(fail("value"))?,
        source: parse_source(cell(4)).map_err(fail("source"))?,
    })
}

/// A reading later than `now` (beyond the clock skew) is a mistake: no
/// meter can be read in the future.
fn check_not_future(row: &ImportRow, now: DateTime<Utc>, shown: &Display) -> Result<(), CsvError> {
    not_future(row.at, now, |t| shown.instant(t.into())).map_err(|message| CsvError {
        line: row.line,
        column: "taken_at".to_owned(),
        message,
    })
}

/// Refuses an instant in the future at `now`, beyond the clock skew, with
/// both instants written by `shown` (the CSV's UTC, the API's Oslo time).
pub fn not_future(
    at: DateTime<Utc>,
    now: DateTime<Utc>,
    shown: impl Fn(DateTime<Utc>) -> String,
) -> Result<(), String> {
    if at.timestamp_millis() > now.timestamp_millis() + CLOCK_SKEW_MS {
        return Err(format!(
            "{} is in the future (it is {} now): a reading cannot be taken later than now",
            shown(at),
            shown(now)
        ));
    }
    Ok(())
}

/// A serial number: anything but empty.
fn parse_serial(text: &str) -> Result<Serial, String> {
    Serial::parse(text).map_err(|e| e.to_string())
}

/// A canonical meter name.
fn parse_meter(text: &str) -> Result<Meter, String> {
    let name = text.trim();
    if name.is_empty() {
        return Err("the meter is empty".to_owned());
    }
    // A name longer than an excerpt is no meter: the error repeats the excerpt.
    excerpt(name).parse::<Meter>().map_err(|e| e.to_string())
}

/// A count of pages: digits only, with no sign, decimals or separators.
fn parse_value(text: &str) -> Result<u64, String> {
    let digits = text.trim();
    if digits.is_empty() {
        return Err("the value is empty: give a whole number of pages".to_owned());
    }
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "`{}` is not a whole number of pages \
             (digits only: no sign, decimals or thousands separators)",
            excerpt(digits)
        ));
    }
    digits
        .parse::<u64>()
        .ok()
        .filter(|v| *v <= MAX_ENTERED_VALUE)
        .ok_or_else(|| {
            format!(
                "`{}` is too large for a meter (at most {MAX_ENTERED_VALUE})",
                excerpt(digits)
            )
        })
}

/// A source a person may give; an empty cell or a missing column is `manual`.
fn parse_source(text: &str) -> Result<Source, String> {
    match text.trim() {
        "" => Ok(Source::Manual),
        // A name longer than an excerpt is no source: the error repeats the excerpt.
        name => excerpt(name).parse::<Source>(),
    }
}

/// The key of a reading: serial, meter, instant and source.
type Key = (Serial, Meter, DateTime<Utc>, &'static str);

/// The readings seen so far, each with its line and value.
#[derive(Default)]
struct Seen(HashMap<Key, (usize, u64)>);

impl Seen {
    /// Whether the row is new. A row that repeats an earlier one exactly is
    /// not; one that gives its key another value is an error, and so is a
    /// manual and a vendor reading of one meter at one instant that differ.
    fn admit(&mut self, row: &ImportRow) -> Result<bool, CsvError> {
        let key = (row.serial.clone(), row.meter, row.at, row.source.name());
        if let Some((line, value)) = self.0.get(&key).copied() {
            if value == row.value {
                return Ok(false);
            }
            return Err(CsvError {
                line: row.line,
                column: "value".to_owned(),
                message: format!(
                    "{} conflicts with {value} on line {line} for the same serial, \
                     meter, instant and source",
                    row.value
                ),
            });
        }
        if let Some(other) = row.source.disputed_by() {
            let key = (row.serial.clone(), row.meter, row.at, other.name());
            if let Some((line, value)) = self.0.get(&key).filter(|(_, v)| *v != row.value) {
                return Err(CsvError {
                    line: row.line,
                    column: "value".to_owned(),
                    message: format!(
                        "{} ({}) disagrees with {value} ({}) on line {line} for the same \
                         serial, meter and instant: give one of them",
                        row.value,
                        row.source.name(),
                        other.name()
                    ),
                });
            }
        }
        self.0.insert(key, (row.line, row.value));
        Ok(true)
    }
}

#[cfg(test)]
mod fuzz;

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "serial,taken_at,meter,value,source\n";

    /// The time the tests run at: after every reading they give.
    fn now() -> DateTime<Utc> {
        utc("2030-01-01T00:00:00Z")
    }

    /// The instant of an RFC 3339 text, for expected values.
    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    /// The error of a file that must not parse.
    fn error_of(text: &str) -> CsvError {
        match parse_readings(text, now(), &Display::default()) {
            Ok(parsed) => panic!("expected an error for {text:?}, got {parsed:?}"),
            Err(e) => e,
        }
    }

    /// The lines, serials, meters, values and sources of the parsed rows.
    fn summary(parsed: &Parsed) -> Vec<(usize, &str, Meter, u64, Source)> {
        parsed
            .rows
            .iter()
            .map(|r| (r.line, r.serial.as_str(), r.meter, r.value, r.source))
            .collect()
    }

    #[test]
    fn a_comma_file_gives_its_rows_in_file_order() {
        let text = format!(
            "{HEADER}A1,2025-07-01,bw_total,1200,manual\n\
             A1,2025-07-01,colour_total,300,vendor\n\
             B2,2025-07-02T12:00:00Z,total,5,final\n"
        );
        let parsed = parse_readings(&text, now(), &Display::default()).unwrap();
        assert_eq!(
            summary(&parsed),
            vec![
                (2, "A1", Meter::BwTotal, 1200, Source::Manual),
                (3, "A1", Meter::ColourTotal, 300, Source::Vendor),
                (4, "B2", Meter::Total, 5, Source::Final),
            ]
        );
        assert_eq!(parsed.rows[2].at, utc("2025-07-02T12:00:00Z"));
        assert_eq!(parsed.duplicates_skipped, 0);
    }

    #[test]
    fn a_semicolon_file_parses_like_a_comma_file() {
        let comma = format!("{HEADER}A1,2025-01-15 08:30,bw_total,1200,vendor\n");
        let semicolon = comma.replace(',', ";");
        assert!(semicolon.contains(';') && !semicolon.contains(','));
        let expected = parse_readings(&comma, now(), &Display::default()).unwrap();
        assert_eq!(
            parse_readings(&semicolon, now(), &Display::default()).unwrap(),
            expected
        );
        assert_eq!(expected.rows.len(), 1);
    }

    #[test]
    fn a_semicolon_file_may_have_commas_inside_cells() {
        let text = "serial;taken_at;meter;value\nSN,1;2025-07-01;bw_total;7\n";
        let parsed = parse_readings(text, now(), &Display::default()).unwrap();
        assert_eq!(parsed.rows[0].serial, "SN,1");
        assert_eq!(parsed.rows[0].value, 7);
    }

    #[test]
    fn a_byte_order_mark_is_skipped() {
        let text = format!("\u{feff}{HEADER}A1,2025-07-01,bw_total,1200,manual\n");
        let parsed = parse_readings(&text, now(), &Display::default()).unwrap();
        assert_eq!(
            summary(&parsed),
            vec![(2, "A1", Meter::BwTotal, 1200, Source::Manual)]
        );
    }

    #[test]
    fn the_header_ignores_case_and_spaces_and_crlf_is_accepted() {
        let text = " Serial ; TAKEN_AT;Meter ;value;Source\r\nA1;2025-07-01;duplex;3;start\r\n";
        let parsed = parse_readings(text, now(), &Display::default()).unwrap();
        assert_eq!(
            summary(&parsed),
            vec![(2, "A1", Meter::Duplex, 3, Source::Start)]
        );
    }

    #[test]
    fn the_source_column_is_optional_and_defaults_to_manual() {
        let without = "serial,taken_at,meter,value\nA1,2025-07-01,bw_total,10\n";
        let empty_cell = format!("{HEADER}A1,2025-07-01,bw_total,10,\n");
        for text in [without.to_owned(), empty_cell] {
            let parsed = parse_readings(&text, now(), &Display::default()).unwrap();
            assert_eq!(parsed.rows.len(), 1, "{text}");
            assert_eq!(parsed.rows[0].source, Source::Manual, "{text}");
        }
    }

    #[test]
    fn taken_at_forms_give_the_right_instant() {
        let cases = [
            ("2025-07-01", "2025-06-30T22:00:00Z"),
            ("2025-01-15", "2025-01-14T23:00:00Z"),
            ("2025-01-15 08:30", "2025-01-15T07:30:00Z"),
            ("2025-07-01 08:30", "2025-07-01T06:30:00Z"),
            ("2025-07-01T00:00:00+02:00", "2025-06-30T22:00:00Z"),
            ("2025-07-01T00:00:00Z", "2025-07-01T00:00:00Z"),
            ("2025-03-30 01:59", "2025-03-30T00:59:00Z"),
            ("2025-03-30 03:00", "2025-03-30T01:00:00Z"),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_taken_at(text), Ok(utc(expected)), "{text}");
        }
    }

    #[test]
    fn taken_at_column_gives_the_same_instant_as_the_helper() {
        let text = format!("{HEADER}A1,2025-01-15 08:30,bw_total,1,manual\n");
        let parsed = parse_readings(&text, now(), &Display::default()).unwrap();
        assert_eq!(parsed.rows[0].at, utc("2025-01-15T07:30:00Z"));
    }

    #[test]
    fn dst_gap_and_repeat_are_rejected_but_accepted_with_an_offset() {
        for local in ["2025-03-30 02:30", "2025-10-26 02:30"] {
            let error = parse_taken_at(local).unwrap_err();
            assert!(error.contains("give it with an offset"), "{local}: {error}");
        }
        let cases = [
            ("2025-03-30T02:30:00+01:00", "2025-03-30T01:30:00Z"),
            ("2025-10-26T02:30:00+02:00", "2025-10-26T00:30:00Z"),
            ("2025-10-26T02:30:00+01:00", "2025-10-26T01:30:00Z"),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_taken_at(text), Ok(utc(expected)), "{text}");
        }
    }

    #[test]
    fn the_date_pattern_admits_exactly_the_days_of_2000_to_2099() {
        // Every text of the shape dddd-dd-dd with a plausible year, month
        // 00–13 and day 00–32: the pattern agrees with the calendar.
        for year in [1999, 2000, 2001, 2023, 2024, 2025, 2096, 2099, 2100] {
            for month in 0..=13 {
                for day in 0..=32 {
                    let text = format!("{year:04}-{month:02}-{day:02}");
                    let real = NaiveDate::from_ymd_opt(year, month, day).is_some()
                        && (2000..=2099).contains(&year);
                    assert_eq!(parse_date(&text).is_ok(), real, "{text}");
                    assert_eq!(parse_taken_at(&text).is_ok(), real, "{text}");
                }
            }
        }
        // Every leap day of the century, and no other 29 February.
        for year in 2000..=2099 {
            let text = format!("{year}-02-29");
            let leap = NaiveDate::from_ymd_opt(year, 2, 29).is_some();
            assert_eq!(parse_date(&text).is_ok(), leap, "{text}");
        }
        for text in [
            " 2025-07-01",
            "2025-07-01 ",
            "2025-7-1",
            "+2025-07-01",
            "2025-07-01\n",
        ] {
            assert!(parse_date(text).is_err(), "{text:?} was accepted");
        }
    }

    #[test]
    fn the_time_pattern_admits_what_chrono_reads() {
        let accepted = [
            "2025-07-01T08:30:00.5Z",
            "2025-07-01T08:30:00.123456789+02:00",
            "2025-07-01T23:59:59-23:59",
            "2025-07-01 23:59",
            // RFC 3339 allows lower case.
            "2025-07-01t08:30:00Z",
            "2025-07-01T08:30:00z",
            "2025-07-01t08:30:00.5z",
        ];
        for text in accepted {
            assert!(parse_taken_at(text).is_ok(), "{text}");
        }
        assert_eq!(
            parse_taken_at("2025-07-01t08:30:00z"),
            parse_taken_at("2025-07-01T08:30:00Z")
        );
        let rejected = [
            "2025-07-01 08:30:00Z",
            "2025-07-01T08:30:60Z",
            "2025-07-01T24:00:00Z",
            "2025-07-01T08:30:00.1234567890Z",
            "2025-07-01T08:30:00+24:00",
            "2025-07-01 24:00",
            " 2025-07-01 08:30",
            "1999-12-31T23:00:00Z",
        ];
        for text in rejected {
            assert!(parse_taken_at(text).is_err(), "{text:?} was accepted");
        }
    }

    #[test]
    fn other_time_forms_are_rejected() {
        let cases = [
            "",
            "2025-07-01T00:00:00",
            "01.07.2025",
            "2025-07-01 08:30:00",
            "2025-02-30",
            "yesterday",
        ];
        for text in cases {
            assert!(parse_taken_at(text).is_err(), "{text:?} was accepted");
        }
    }

    #[test]
    fn bad_rows_name_their_line_and_column() {
        // (rows after the header, line, column, a part of the message)
        let cases = [
            (
                "A1,2025-07-01,bw_totl,1,manual",
                2,
                "meter",
                "unknown meter `bw_totl` (known: total",
            ),
            ("A1,2025-07-01,,1,manual", 2, "meter", "empty"),
            (
                "A1,2025-07-01,bw_total,-5,manual",
                2,
                "value",
                "`-5` is not a whole number",
            ),
            (
                "A1,2025-07-01,bw_total,+5,manual",
                2,
                "value",
                "`+5` is not a whole number",
            ),
            (
                "A1,2025-07-01,bw_total,12.5,manual",
                2,
                "value",
                "`12.5` is not a whole number",
            ),
            (
                "A1,2025-07-01,bw_total,12a,manual",
                2,
                "value",
                "`12a` is not a whole number of pages",
            ),
            (
                "A1,2025-07-01,bw_total,\"1,200\",manual",
                2,
                "value",
                "`1,200`",
            ),
            ("A1,2025-07-01,bw_total,,manual", 2, "value", "empty"),
            (
                "A1,2025-07-01,bw_total,1000000000000,manual",
                2,
                "value",
                "too large",
            ),
            (
                "A1,2025-07-01,bw_total,1,polled",
                2,
                "source",
                "unknown source `polled`",
            ),
            (
                "A1,2025-07-01,bw_total,1,Manual",
                2,
                "source",
                "unknown source `Manual`",
            ),
            (" ,2025-07-01,bw_total,1,manual", 2, "serial", "empty"),
            (
                "A1,2025-13-01,bw_total,1,manual",
                2,
                "taken_at",
                "`2025-13-01` is not a time",
            ),
            (
                "A1,2025-03-30 02:30,bw_total,1,manual",
                2,
                "taken_at",
                "with an offset",
            ),
            (
                "A1,2025-10-26 02:30,bw_total,1,manual",
                2,
                "taken_at",
                "with an offset",
            ),
            ("A1,2025-07-01,bw_total,1", 2, "(row)", "expected 5 fields"),
            ("A1,2025-07-01,bw_total,1,manual,x", 2, "(row)", "found 6"),
            (
                "A1,2025-07-01,bw_total,1,manual\nA1,2025-07-02,x,1,",
                3,
                "meter",
                "`x`",
            ),
            (
                "A1,2025-07-01,bw_total,1,manual\n\nA1,2025-07-02,bw_total,1",
                4,
                "(row)",
                "fields",
            ),
        ];
        for (rows, line, column, message) in cases {
            let error = error_of(&format!("{HEADER}{rows}\n"));
            assert_eq!(
                (error.line, error.column.as_str()),
                (line, column),
                "{rows}: {error}"
            );
            assert!(error.message.contains(message), "{rows}: {error}");
        }
    }

    #[test]
    fn a_wrong_header_is_an_error_on_line_1() {
        let cases = [
            "",
            "serial,time,meter,value",
            "serial,taken_at,meter",
            "serial,taken_at,meter,value,source,note",
            "serial,taken_at,meter,value,serial",
            "A1,2025-07-01,bw_total,1",
        ];
        for header in cases {
            let error = error_of(&format!("{header}\nA1,2025-07-01,bw_total,1\n"));
            assert_eq!(
                (error.line, error.column.as_str()),
                (1, "(header)"),
                "{header}"
            );
            assert!(error.message.contains(EXPECTED_HEADER), "{header}: {error}");
        }
        assert_eq!(error_of("").line, 1);
    }

    #[test]
    fn an_identical_duplicate_is_skipped_and_counted() {
        let row = "A1,2025-07-01,bw_total,1200,manual\n";
        let text = format!("{HEADER}{row}A1,2025-07-01,total,1500,manual\n{row}{row}");
        let parsed = parse_readings(&text, now(), &Display::default()).unwrap();
        assert_eq!(parsed.duplicates_skipped, 2);
        assert_eq!(
            summary(&parsed),
            vec![
                (2, "A1", Meter::BwTotal, 1200, Source::Manual),
                (3, "A1", Meter::Total, 1500, Source::Manual),
            ]
        );
    }

    #[test]
    fn the_same_instant_written_two_ways_is_a_duplicate() {
        let text = format!(
            "{HEADER}A1,2025-07-01,bw_total,1200,manual\n\
             A1,2025-06-30T22:00:00Z,bw_total,1200,manual\n"
        );
        assert_eq!(
            parse_readings(&text, now(), &Display::default())
                .unwrap()
                .duplicates_skipped,
            1
        );
    }

    #[test]
    fn a_conflicting_duplicate_names_both_lines() {
        let text = format!(
            "{HEADER}A1,2025-07-01,bw_total,1100,manual\n\
             A1,2025-07-01,bw_total,1100,vendor\n\
             A1,2025-07-01,bw_total,1200,manual\n"
        );
        assert_eq!(
            error_of(&text).to_string(),
            "line 4, column `value`: 1200 conflicts with 1100 on line 2 \
             for the same serial, meter, instant and source"
        );
    }

    #[test]
    fn different_serials_meters_instants_or_sources_are_different_keys() {
        let text = format!(
            "{HEADER}A1,2025-07-01,bw_total,1,manual\n\
             A2,2025-07-01,bw_total,2,manual\n\
             A1,2025-07-01,total,3,manual\n\
             A1,2025-07-02,bw_total,4,manual\n\
             A1,2025-07-01,bw_total,1,vendor\n"
        );
        let parsed = parse_readings(&text, now(), &Display::default()).unwrap();
        assert_eq!(parsed.rows.len(), 5);
        assert_eq!(parsed.duplicates_skipped, 0);
    }

    #[test]
    fn final_and_start_at_the_same_instant_are_both_kept() {
        let text = format!(
            "{HEADER}A1,2025-07-01,bw_total,1200,final\n\
             A1,2025-07-01,bw_total,0,start\n"
        );
        let parsed = parse_readings(&text, now(), &Display::default()).unwrap();
        assert_eq!(
            summary(&parsed),
            vec![
                (2, "A1", Meter::BwTotal, 1200, Source::Final),
                (3, "A1", Meter::BwTotal, 0, Source::Start),
            ]
        );
        assert_eq!(parsed.rows[0].at, parsed.rows[1].at);
    }

    #[test]
    fn empty_lines_are_skipped_and_line_numbers_stay_true() {
        let text = format!(
            "{HEADER}\nA1,2025-07-01,bw_total,1,manual\n\n   \n,,,,\nA1,2025-07-02,bw_total,2,manual\n\n"
        );
        let parsed = parse_readings(&text, now(), &Display::default()).unwrap();
        assert_eq!(
            summary(&parsed),
            vec![
                (3, "A1", Meter::BwTotal, 1, Source::Manual),
                (7, "A1", Meter::BwTotal, 2, Source::Manual),
            ]
        );
        let header_only = parse_readings(HEADER, now(), &Display::default()).unwrap();
        assert!(header_only.rows.is_empty());
    }

    #[test]
    fn an_error_displays_its_line_and_column() {
        let error = error_of(&format!("{HEADER}A1,2025-07-01,bw_total,12a,manual\n"));
        assert_eq!(
            error.to_string(),
            "line 2, column `value`: `12a` is not a whole number of pages \
             (digits only: no sign, decimals or thousands separators)"
        );
    }

    #[test]
    fn the_columns_may_come_in_any_order() {
        let text = "Value;METER;serial;source;taken_at\n1200;bw_total;A1;vendor;2025-07-01\n";
        let parsed = parse_readings(text, now(), &Display::default()).unwrap();
        assert_eq!(
            summary(&parsed),
            [(2, "A1", Meter::BwTotal, 1200, Source::Vendor)]
        );
        let missing = error_of("serial,meter,value\nA1,bw_total,1\n");
        assert!(
            missing.message.contains("`taken_at` is missing"),
            "{missing}"
        );
    }

    #[test]
    fn a_manual_and_a_vendor_reading_that_disagree_are_refused() {
        let text = format!(
            "{HEADER}A1,2025-07-01,bw_total,1100,vendor\n\
             A1,2025-07-01,bw_total,1150,manual\n"
        );
        assert_eq!(
            error_of(&text).to_string(),
            "line 3, column `value`: 1150 (manual) disagrees with 1100 (vendor) on line 2 \
             for the same serial, meter and instant: give one of them"
        );
        // Agreeing, they are two readings; a technician's final is no dispute.
        let agree = format!(
            "{HEADER}A1,2025-07-01,bw_total,1100,vendor\n\
             A1,2025-07-01,bw_total,1100,manual\n\
             A1,2025-07-01,bw_total,1000,final\n"
        );
        assert_eq!(
            parse_readings(&agree, now(), &Display::default())
                .unwrap()
                .rows
                .len(),
            3
        );
    }

    #[test]
    fn a_reading_from_the_future_is_refused() {
        let now = utc("2025-07-01T12:00:00Z");
        let error = parse_readings(
            &format!("{HEADER}A1,2025-07-01T13:00:00Z,total,1,manual\n"),
            now,
            &Display::default(),
        )
        .unwrap_err();
        assert_eq!((error.line, error.column.as_str()), (2, "taken_at"));
        assert!(error.message.contains("in the future"), "{error}");
        // Within 5 minutes of clock skew it is now.
        let text = format!("{HEADER}A1,2025-07-01T12:04:59Z,total,1,manual\n");
        assert!(parse_readings(&text, now, &Display::default()).is_ok());
    }

    #[test]
    fn a_serial_with_a_control_character_is_refused() {
        let error = error_of(&format!("{HEADER}A7PU0110\0,2025-07-01,total,1,manual\n"));
        assert_eq!((error.line, error.column.as_str()), (2, "serial"));
        assert!(error.message.contains("control character"), "{error}");
    }

    #[test]
    fn a_serial_a_spreadsheet_would_run_as_a_formula_is_refused() {
        let error = error_of(&format!("{HEADER}=1+2,2025-07-01,total,1,manual\n"));
        assert_eq!((error.line, error.column.as_str()), (2, "serial"));
        assert!(
            error
                .message
                .contains("starts with `=`, which a spreadsheet reads as a formula"),
            "{error}"
        );
    }

    #[test]
    fn a_huge_field_is_cut_in_the_error_to_60_characters_and_its_length() {
        let huge = "9".repeat(10 * 1024 * 1024);
        for (row, column) in [
            (format!("A1,2025-07-01,total,x{huge},manual"), "value"),
            (format!("A1,{huge},total,1,manual"), "taken_at"),
            (format!("A1,2025-07-01,{huge},1,manual"), "meter"),
            (format!("A1,2025-07-01,total,1,{huge}"), "source"),
            (format!("A\u{1}{huge},2025-07-01,total,1,manual"), "serial"),
            (format!("={huge},2025-07-01,total,1,manual"), "serial"),
        ] {
            let error = error_of(&format!("{HEADER}{row}\n"));
            assert_eq!((error.line, error.column.as_str()), (2, column));
            assert!(
                error.to_string().len() < 600,
                "{column}: {}",
                error.to_string().chars().take(600).collect::<String>()
            );
            assert!(
                error.message.contains("… (10485"),
                "{column}: {}",
                error.message
            );
        }
        let error = error_of(&format!("serial,taken_at,meter,{huge}\n"));
        assert_eq!(error.column, "(header)");
        assert!(
            error.to_string().len() < 600,
            "{}",
            error.to_string().chars().take(600).collect::<String>()
        );
    }

    #[test]
    fn a_file_that_is_not_utf8_names_the_line_and_column() {
        let mut bytes = format!("{HEADER}A1,2025-07-01,total,1,manual\nB2,").into_bytes();
        bytes.extend_from_slice(&[0xE6, 0xF8]);
        bytes.extend_from_slice(b",2025-07-01,total,1,manual\n");
        let error = utf8_text(&bytes).unwrap_err();
        assert_eq!(error.line, 3);
        assert_eq!(
            error.to_string(),
            "line 3, column `(row)`: character 4 of the line is not UTF-8 text (byte 0xE6): \
             save the file as UTF-8"
        );
        assert_eq!(utf8_text(b"serial\n").unwrap(), "serial\n");
    }

    #[test]
    fn an_unterminated_quote_is_named_with_the_line_it_starts_on() {
        let error = error_of(&format!(
            "{HEADER}A1,2025-07-01,total,1,manual\n\"B2,2025-07-01,total,1,manual\nC3,2025-07-01,total,1,manual\n"
        ));
        assert_eq!((error.line, error.column.as_str()), (3, "(row)"));
        assert_eq!(
            error.message,
            "a quoted field starts here and its closing quote `\"` is missing \
             (a quote inside a quoted field is written `\"\"`)"
        );
        // Quotes that close, and quotes inside an unquoted field, are fine.
        let text =
            format!("{HEADER}\"A,1\",2025-07-01,total,1,manual\nA\"1,2025-07-01,total,1,manual\n");
        let parsed = parse_readings(&text, now(), &Display::default()).unwrap();
        assert_eq!(parsed.rows.len(), 2);
    }
}
