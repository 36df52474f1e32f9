//! The counter report as an Excel workbook: a bold header row frozen above
//! the data, an autofilter, real dates and numbers with number formats, so
//! sums and filters work without cleaning up text. Text is always written as
//! text (shared strings), never as a formula.

use chrono::NaiveDate;
use rust_xlsxwriter::{Format, Workbook, Worksheet, XlsxError};

use super::counters::{DeviceCounters, HEADER, per_day};
use super::starts_like_formula;

/// Column widths, in characters, in the order of [`HEADER`].
const WIDTHS: [f64; 18] = [
    16.0, 16.0, 22.0, 10.0, 13.0, 11.0, 12.0, 13.0, 11.0, 12.0, 13.0, 10.0, 14.0, 13.0, 60.0, 11.0,
    11.0, 12.0,
];

/// The workbook's bytes.
pub fn counters_xlsx(
    from: NaiveDate,
    to: NaiveDate,
    devices: &[DeviceCounters],
) -> Result<Vec<u8>, String> {
    build(from, to, devices).map_err(|e| format!("cannot write the workbook: {e}"))
}

fn build(from: NaiveDate, to: NaiveDate, devices: &[DeviceCounters]) -> Result<Vec<u8>, XlsxError> {
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.set_name("counters")?;
    let bold = Format::new().set_bold();
    for (col, (name, width)) in HEADER.iter().zip(WIDTHS).enumerate() {
        let col = col as u16;
        sheet.write_with_format(0, col, *name, &bold)?;
        sheet.set_column_width(col, width)?;
    }
    sheet.set_freeze_panes(1, 0)?;
    let formats = Formats {
        date: Format::new().set_num_format("yyyy-mm-dd"),
        count: Format::new().set_num_format("#,##0"),
        decimal: Format::new().set_num_format("#,##0.00"),
    };
    // Text a spreadsheet would read as a formula keeps Excel's quote prefix,
    // so editing the cell leaves it text.
    let quoted = Format::new().set_quote_prefix();
    let mut row = 1u32;
    for d in devices {
        for u in &d.meters {
            write_text(sheet, row, 0, Some(&d.serial), &quoted)?;
            write_text(sheet, row, 1, d.model.as_deref(), &quoted)?;
            write_text(sheet, row, 2, d.location.as_deref(), &quoted)?;
            write_text(sheet, row, 3, d.contract.as_deref(), &quoted)?;
            write_text(sheet, row, 4, Some(u.meter.name()), &quoted)?;
            sheet.write_with_format(row, 5, &from, &formats.date)?;
            write_count(
                sheet,
                row,
                6,
                u.from.as_ref().map(|b| b.value as f64),
                &formats,
            )?;
            write_text(
                sheet,
                row,
                7,
                u.from.as_ref().map(|b| b.method.name()),
                &quoted,
            )?;
            sheet.write_with_format(row, 8, &to, &formats.date)?;
            write_count(
                sheet,
                row,
                9,
                u.to.as_ref().map(|b| b.value as f64),
                &formats,
            )?;
            write_text(
                sheet,
                row,
                10,
                u.to.as_ref().map(|b| b.method.name()),
                &quoted,
            )?;
            write_count(sheet, row, 11, u.usage.map(|n| n as f64), &formats)?;
            write_count(sheet, row, 12, u.a4_equivalents.map(|n| n as f64), &formats)?;
            if let Some(p) = u.usage.and_then(|n| per_day(n, from, to)) {
                let value: f64 = p.to_string().parse().unwrap_or(0.0);
                sheet.write_with_format(row, 13, value, &formats.decimal)?;
            }
            write_text(sheet, row, 14, u.note.as_deref(), &quoted)?;
            write_text(sheet, row, 15, d.discovered.then_some("yes"), &quoted)?;
            if let Some(p) = d.uptime_pct {
                let value: f64 = p.to_string().parse().unwrap_or(0.0);
                sheet.write_with_format(row, 16, value, &formats.decimal)?;
            }
            write_text(sheet, row, 17, d.site.as_deref(), &quoted)?;
            row += 1;
        }
    }
    sheet.autofilter(0, 0, row.saturating_sub(1).max(1), HEADER.len() as u16 - 1)?;
    workbook.save_to_buffer()
}

struct Formats {
    date: Format,
    count: Format,
    decimal: Format,
}

/// A text cell: always a string (a shared string), never a formula, whatever
/// it starts with; one a spreadsheet would read as a formula also gets the
/// quote prefix (`quoted`), as a `'` typed before it would.
fn write_text(
    sheet: &mut Worksheet,
    row: u32,
    col: u16,
    text: Option<&str>,
    quoted: &Format,
) -> Result<(), XlsxError> {
    if let Some(t) = text.filter(|t| !t.is_empty()) {
        if starts_like_formula(t) {
            sheet.write_string_with_format(row, col, t, quoted)?;
        } else {
            sheet.write_string(row, col, t)?;
        }
    }
    Ok(())
}

fn write_count(
    sheet: &mut Worksheet,
    row: u32,
    col: u16,
    value: Option<f64>,
    f: &Formats,
) -> Result<(), XlsxError> {
    if let Some(v) = value {
        sheet.write_with_format(row, col, v, &f.count)?;
    }
    Ok(())
}
