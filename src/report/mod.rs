//! Reports as bytes: the counter report and the vendor's billing import, as
//! CSV (for Norwegian Excel by default), JSON and XLSX.
//!
//! Pure: takes readings and dates, returns rows and bytes; never reads the
//! clock, the database or a file.

pub mod counters;
pub mod schedule;
pub mod vendor;
pub mod xlsx;

use crate::estimate::{Boundary, value_at};
use crate::meters::Source;
use crate::meters::series::{Point, Series};
use crate::timestamp::Timestamp;

/// The byte-order mark Excel needs to read UTF-8.
pub const BOM: &str = "\u{feff}";

/// How numbers and fields are written in a CSV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsvStyle {
    /// `;` between fields and a decimal comma (Norwegian Excel).
    Semicolon,
    /// `,` between fields and a decimal point.
    Comma,
}

impl CsvStyle {
    /// The style of a `csv_delimiter` setting: ";" or ",".
    pub fn parse(text: &str) -> Option<CsvStyle> {
        match text {
            ";" => Some(CsvStyle::Semicolon),
            "," => Some(CsvStyle::Comma),
            _ => None,
        }
    }

    pub fn delimiter(self) -> u8 {
        match self {
            CsvStyle::Semicolon => b';',
            CsvStyle::Comma => b',',
        }
    }

    /// A decimal number as this style writes it.
    pub fn decimal(self, text: &str) -> String {
        match self {
            CsvStyle::Semicolon => text.replace('.', ","),
            CsvStyle::Comma => text.to_owned(),
        }
    }
}

/// A free-text cell (a serial, model, location or contract) for a file a
/// spreadsheet opens: text starting with a character a spreadsheet reads as
/// the start of a formula (`=`, `+`, `-`, `@`, tab, carriage return) gets a
/// `'` in front, as OWASP recommends against CSV injection, so it shows as
/// the text it is and never runs. Numbers, dates and the names telleverk
/// writes itself never go through here: they keep their exact form.
pub fn text_cell(text: &str) -> String {
    if starts_like_formula(text) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

/// Whether a spreadsheet would read `text` as the start of a formula.
pub fn starts_like_formula(text: &str) -> bool {
    text.starts_with(['=', '+', '-', '@', '\t', '\r'])
}

/// Writes rows as CSV with a BOM; every field is already text.
pub fn csv_bytes(style: CsvStyle, header: &[&str], rows: &[Vec<String>]) -> Vec<u8> {
    let mut out = BOM.as_bytes().to_vec();
    {
        let mut writer = csv::WriterBuilder::new()
            .delimiter(style.delimiter())
            .terminator(csv::Terminator::CRLF)
            .from_writer(&mut out);
        // Writing to a Vec cannot fail.
        let _ = writer.write_record(header);
        for row in rows {
            let _ = writer.write_record(row);
        }
        let _ = writer.flush();
    }
    out
}

/// A meter's value at `at` and the sources of the readings it rests on
/// (distinct, in time order, joined by `+`).
pub fn value_with_sources(
    points: &[Point],
    at: Timestamp,
    trailing_days: u32,
) -> Option<(Boundary, String)> {
    let series = Series::new(points);
    let boundary = value_at(&series, at, trailing_days)?;
    let mut sources: Vec<Source> = Vec::new();
    for i in &boundary.basis {
        let s = series.points[*i].source;
        if !sources.contains(&s) {
            sources.push(s);
        }
    }
    let names: Vec<&str> = sources.iter().map(|s| s.name()).collect();
    Some((boundary, names.join("+")))
}

/// The counter report as a file of `format` (`style` for CSV): compact JSON,
/// CSV or an XLSX workbook.
pub fn counters_file(
    format: schedule::Format,
    style: CsvStyle,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
    devices: &[counters::DeviceCounters],
) -> Result<Vec<u8>, String> {
    Ok(match format {
        schedule::Format::Json => json_bytes(&counters::counters_answer(from, to, devices)),
        schedule::Format::Csv => counters::counters_csv(style, from, to, devices),
        schedule::Format::Xlsx => xlsx::counters_xlsx(from, to, devices)?,
    })
}

/// The vendor's billing import as a file: compact JSON, else the agreed CSV
/// (it has no XLSX; `Kind::VendorBilling.formats()` says so).
pub fn vendor_file(format: schedule::Format, rows: &[vendor::VendorRow]) -> Vec<u8> {
    match format {
        schedule::Format::Json => json_bytes(&vendor::vendor_answer(rows)),
        _ => vendor::vendor_csv(rows),
    }
}

/// Compact JSON of an answer.
fn json_bytes(answer: &impl serde::Serialize) -> Vec<u8> {
    // Serializing these plain types to a Vec cannot fail.
    serde_json::to_vec(answer).unwrap_or_default()
}
