//! The vendor's invoice as a CSV file: `;` or `,`, decimal comma or point,
//! an optional BOM, the header in English or Norwegian, one line of an
//! invoice per row (several invoices may share a file). The whole file is
//! read before anything is returned; the first bad cell is the error, with
//! its line and column.

use std::collections::HashMap;

use chrono::NaiveDate;
use csv::StringRecord;
use rust_decimal::Decimal;

use crate::billing::InvoiceKind;
use crate::import::{CsvError, csv_records, header_error};
use crate::meters::Meter;
use crate::serial::excerpt;

/// What a line of the vendor's invoice bills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum VendorClass {
    Fixed,
    Bw,
    Colour,
    BwA3,
    ColourA3,
    EstimationFee,
    Other,
}

impl VendorClass {
    pub const ALL: [VendorClass; 7] = [
        VendorClass::Fixed,
        VendorClass::Bw,
        VendorClass::Colour,
        VendorClass::BwA3,
        VendorClass::ColourA3,
        VendorClass::EstimationFee,
        VendorClass::Other,
    ];

    pub fn name(self) -> &'static str {
        match self {
            VendorClass::Fixed => "fixed",
            VendorClass::Bw => "bw",
            VendorClass::Colour => "colour",
            VendorClass::BwA3 => "bw_a3",
            VendorClass::ColourA3 => "colour_a3",
            VendorClass::EstimationFee => "estimation_fee",
            VendorClass::Other => "other",
        }
    }

    /// The meter a device's readings on a line of this class are of.
    pub fn meter(self) -> Option<Meter> {
        match self {
            VendorClass::Bw => Some(Meter::BwTotal),
            VendorClass::Colour => Some(Meter::ColourTotal),
            VendorClass::BwA3 => Some(Meter::BwLarge),
            VendorClass::ColourA3 => Some(Meter::ColourLarge),
            _ => None,
        }
    }
}

/// One line of the vendor's invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorLine {
    /// The 1-based line of the file.
    pub line: usize,
    pub class: VendorClass,
    pub description: String,
    /// None: a pooled line.
    pub serial: Option<String>,
    /// Pages; months on a fixed-fee line; fees on an estimation-fee line.
    pub pages: Decimal,
    pub unit_price: Decimal,
    pub amount: Decimal,
    pub reading_from: Option<u64>,
    pub reading_to: Option<u64>,
    /// Whether `reading_to` is the vendor's estimate.
    pub estimated: bool,
}

/// One invoice of the vendor, its lines in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorInvoice {
    pub number: String,
    pub issue_date: NaiveDate,
    pub kind: InvoiceKind,
    pub period_from: NaiveDate,
    /// The last day, inclusive, as invoices print it.
    pub period_to: NaiveDate,
    /// The contract the file names, if it has the column.
    pub contract: Option<String>,
    pub lines: Vec<VendorLine>,
}

impl VendorInvoice {
    /// The day after the period: where telleverk's period ends.
    pub fn period_end(&self) -> NaiveDate {
        self.period_to.succ_opt().unwrap_or(self.period_to)
    }
}

/// The columns, each with the names it may have in the header.
const COLUMNS: [(&str, &[&str]); 15] = [
    (
        "invoice",
        &["invoice", "fakturanr", "fakturanummer", "invoice_number"],
    ),
    ("issue_date", &["issue_date", "fakturadato", "dato"]),
    ("kind", &["kind", "type", "fakturatype"]),
    ("period_from", &["period_from", "periode_fra"]),
    ("period_to", &["period_to", "periode_til"]),
    ("class", &["class", "klasse"]),
    ("description", &["description", "beskrivelse", "tekst"]),
    ("serial", &["serial", "serienr", "serienummer"]),
    ("pages", &["pages", "antall", "quantity"]),
    ("unit_price", &["unit_price", "enhetspris", "pris"]),
    ("amount", &["amount", "beløp", "belop", "sum"]),
    (
        "reading_from",
        &["reading_from", "målerstand_fra", "malerstand_fra"],
    ),
    (
        "reading_to",
        &["reading_to", "målerstand_til", "malerstand_til"],
    ),
    ("estimated", &["estimated", "estimert"]),
    ("contract", &["contract", "kontrakt", "avtale"]),
];

/// The columns a file must have.
const REQUIRED: usize = 11;

/// Reads the vendor's invoices from the file's text.
pub fn parse_invoices(text: &str) -> Result<Vec<VendorInvoice>, CsvError> {
    let (delimiter, records) = csv_records(text)?;
    let mut records = records.into_iter();
    let Some((line, header)) = records.next() else {
        return Err(header_error(
            1,
            format!("the file is empty: expected a header with {}", required()),
        ));
    };
    let at = layout(&header, line)?;
    let rows: Vec<(usize, StringRecord)> = records.collect();
    if rows.is_empty() {
        return Err(header_error(
            line,
            "the file has a header and no lines".into(),
        ));
    }
    // Decimal comma when a `;` file writes any figure with a comma.
    let comma = delimiter == b';'
        && rows.iter().any(|(_, r)| {
            ["pages", "unit_price", "amount"]
                .iter()
                .any(|c| cell(r, &at, c).contains(','))
        });
    let mut invoices: Vec<VendorInvoice> = Vec::new();
    let mut by_number: HashMap<String, usize> = HashMap::new();
    for (line, record) in rows {
        let row = Row {
            record: &record,
            at: &at,
            line,
            comma,
        };
        let number = row.required("invoice")?.to_owned();
        let head = VendorInvoice {
            number: number.clone(),
            issue_date: row.date("issue_date")?,
            kind: row.parsed("kind", kind)?,
            period_from: row.date("period_from")?,
            period_to: row.date("period_to")?,
            contract: row.optional("contract").map(str::to_owned),
            lines: Vec::new(),
        };
        if head.period_to < head.period_from {
            return Err(row.error(
                "period_to",
                format!(
                    "the period ends ({}) before it starts ({})",
                    head.period_to, head.period_from
                ),
            ));
        }
        let class = row.parsed("class", vendor_class)?;
        let pages = row.number("pages")?;
        let reading_from = row.reading("reading_from")?;
        let reading_to = row.reading("reading_to")?;
        let estimated = match row.optional("estimated") {
            None => false,
            Some(t) => yes_no(t).map_err(|m| row.error("estimated", m))?,
        };
        let vendor_line = VendorLine {
            line,
            class,
            description: row.optional("description").unwrap_or_default().to_owned(),
            serial: row.optional("serial").map(str::to_owned),
            pages,
            unit_price: row.number("unit_price")?,
            amount: row.number("amount")?,
            reading_from,
            reading_to,
            estimated,
        };
        match by_number.get(&number) {
            Some(&i) => {
                let first = &invoices[i];
                for (column, same) in [
                    ("issue_date", first.issue_date == head.issue_date),
                    ("kind", first.kind == head.kind),
                    ("period_from", first.period_from == head.period_from),
                    ("period_to", first.period_to == head.period_to),
                    ("contract", first.contract == head.contract),
                ] {
                    if !same {
                        return Err(row.error(
                            column,
                            format!(
                                "invoice {number} says otherwise on line {}: every line of an invoice has the same {column}",
                                first.lines[0].line
                            ),
                        ));
                    }
                }
                invoices[i].lines.push(vendor_line);
            }
            None => {
                by_number.insert(number, invoices.len());
                invoices.push(VendorInvoice {
                    lines: vec![vendor_line],
                    ..head
                });
            }
        }
    }
    Ok(invoices)
}

fn required() -> String {
    COLUMNS[..REQUIRED]
        .iter()
        .map(|(c, _)| format!("`{c}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Where each column is, by its English name.
fn layout(header: &StringRecord, line: usize) -> Result<HashMap<&'static str, usize>, CsvError> {
    if line != 1 {
        return Err(header_error(
            1,
            format!(
                "the first line is empty: expected a header with {}",
                required()
            ),
        ));
    }
    let mut at = HashMap::new();
    for (i, name) in header.iter().enumerate() {
        let name = name.trim().to_lowercase().replace([' ', '-'], "_");
        let Some((column, _)) = COLUMNS
            .iter()
            .find(|(_, names)| names.contains(&name.as_str()))
        else {
            // Columns of the vendor's own are left alone.
            continue;
        };
        if at.insert(*column, i).is_some() {
            return Err(header_error(
                line,
                format!("the column `{column}` is named twice"),
            ));
        }
    }
    if let Some((missing, names)) = COLUMNS[..REQUIRED]
        .iter()
        .find(|(c, _)| !at.contains_key(c))
    {
        return Err(header_error(
            line,
            format!(
                "the column `{missing}` is missing (named {}); the header needs {}",
                names.join(" or "),
                required()
            ),
        ));
    }
    Ok(at)
}

fn cell<'r>(record: &'r StringRecord, at: &HashMap<&str, usize>, column: &str) -> &'r str {
    at.get(column)
        .and_then(|i| record.get(*i))
        .unwrap_or("")
        .trim()
}

/// One row being read.
struct Row<'a> {
    record: &'a StringRecord,
    at: &'a HashMap<&'static str, usize>,
    line: usize,
    comma: bool,
}

impl Row<'_> {
    fn error(&self, column: &str, message: String) -> CsvError {
        CsvError {
            line: self.line,
            column: column.to_owned(),
            message,
        }
    }

    fn optional(&self, column: &str) -> Option<&str> {
        Some(cell(self.record, self.at, column)).filter(|t| !t.is_empty())
    }

    fn required(&self, column: &str) -> Result<&str, CsvError> {
        self.optional(column)
            .ok_or_else(|| self.error(column, "is empty".into()))
    }

    fn parsed<T>(&self, column: &str, parse: fn(&str) -> Result<T, String>) -> Result<T, CsvError> {
        parse(self.required(column)?).map_err(|m| self.error(column, m))
    }

    fn date(&self, column: &str) -> Result<NaiveDate, CsvError> {
        self.parsed(column, date)
    }

    fn number(&self, column: &str) -> Result<Decimal, CsvError> {
        let text = self.required(column)?;
        number(text, self.comma).map_err(|m| self.error(column, m))
    }

    fn reading(&self, column: &str) -> Result<Option<u64>, CsvError> {
        let Some(text) = self.optional(column) else {
            return Ok(None);
        };
        let value = number(text, self.comma).map_err(|m| self.error(column, m))?;
        if value.fract() != Decimal::ZERO || value.is_sign_negative() {
            return Err(self.error(
                column,
                format!(
                    "`{}` is not a meter reading (a whole number, never negative)",
                    excerpt(text)
                ),
            ));
        }
        u64::try_from(value).map(Some).map_err(|_| {
            self.error(
                column,
                format!("`{}` is too large a reading", excerpt(text)),
            )
        })
    }
}

/// A figure as invoices write it: `1 410,00`, `1.410,00` or `0,0470` with
/// a decimal comma; `1410.00` with a decimal point; a leading `-` for
/// credit lines.
fn number(text: &str, comma: bool) -> Result<Decimal, String> {
    let bad = || {
        format!(
            "`{}` is not a number ({})",
            excerpt(text),
            if comma {
                "decimal comma, as the file's other figures: 1 410,00"
            } else {
                "decimal point: 1410.00"
            }
        )
    };
    let mut cleaned: String = text
        .chars()
        .filter(|c| !matches!(c, ' ' | '\u{a0}' | '\u{202f}'))
        .collect();
    if comma {
        cleaned = cleaned.replace('.', "").replace(',', ".");
    } else if cleaned.contains(',') {
        return Err(bad());
    }
    let digits = cleaned.strip_prefix('-').unwrap_or(&cleaned);
    let well_formed = !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit() || c == '.')
        && digits.matches('.').count() <= 1
        && !digits.starts_with('.')
        && !digits.ends_with('.');
    if !well_formed {
        return Err(bad());
    }
    cleaned.parse::<Decimal>().map_err(|_| bad())
}

/// `YYYY-MM-DD` or `DD.MM.YYYY`.
fn date(text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(text, "%d.%m.%Y"))
        .ok()
        .filter(|d| text.len() == 10 && (2000..2100).contains(&chrono::Datelike::year(d)))
        .ok_or_else(|| {
            format!(
                "`{}` is not a date (YYYY-MM-DD or DD.MM.YYYY)",
                excerpt(text)
            )
        })
}

fn kind(text: &str) -> Result<InvoiceKind, String> {
    match text.to_lowercase().replace(['-', ' '], "_").as_str() {
        "a_konto" | "akonto" => Ok(InvoiceKind::AKonto),
        "settlement" | "avregning" | "minimum" => Ok(InvoiceKind::Settlement),
        "arrears" | "etterskudd" | "kvartal" => Ok(InvoiceKind::Arrears),
        "a3" => Ok(InvoiceKind::A3),
        _ => Err(format!(
            "`{}` is not a kind of invoice: a_konto, settlement, arrears or a3",
            excerpt(text)
        )),
    }
}

fn vendor_class(text: &str) -> Result<VendorClass, String> {
    let name = text
        .to_lowercase()
        .replace(['-', ' '], "_")
        .replace("color", "colour");
    VendorClass::ALL
        .into_iter()
        .find(|c| c.name() == name)
        .ok_or_else(|| {
            format!(
                "`{}` is not a class: fixed, bw, colour, bw_a3, colour_a3, estimation_fee or other",
                excerpt(text)
            )
        })
}

fn yes_no(text: &str) -> Result<bool, String> {
    match text.to_lowercase().as_str() {
        "yes" | "ja" | "true" | "1" | "y" | "j" => Ok(true),
        "no" | "nei" | "false" | "0" | "n" => Ok(false),
        _ => Err(format!(
            "`{}` is neither yes nor no (ja/nei)",
            excerpt(text)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const I1: &str = "\u{feff}fakturanr;fakturadato;kind;periode_fra;periode_til;class;description;serial;antall;enhetspris;beløp;målerstand_fra;målerstand_til;estimert\r\n\
1001;01.07.2025;a_konto;01.07.2025;31.12.2025;fixed;Faste avgifter;;6;200,00;1 200,00;;;\r\n\
1001;01.07.2025;a_konto;01.07.2025;31.12.2025;bw;S/H a konto;;30 000;0,0470;1 410,00;;;\r\n";

    #[test]
    fn a_norwegian_file_reads_as_its_figures_say() {
        let invoices = parse_invoices(I1).unwrap();
        assert_eq!(invoices.len(), 1);
        let i = &invoices[0];
        assert_eq!(i.number, "1001");
        assert_eq!(i.kind, InvoiceKind::AKonto);
        assert_eq!(i.period_end(), NaiveDate::from_ymd_opt(2026, 1, 1).unwrap());
        assert_eq!(i.lines[1].pages, Decimal::from(30_000));
        assert_eq!(i.lines[1].unit_price, "0.0470".parse::<Decimal>().unwrap());
        assert_eq!(i.lines[1].amount, "1410.00".parse::<Decimal>().unwrap());
        assert_eq!(i.lines[1].line, 3);
    }

    #[test]
    fn figures_are_read_in_the_file_s_own_style() {
        assert_eq!(number("1.410,50", true), Ok("1410.50".parse().unwrap()));
        assert_eq!(number("1\u{a0}410,5", true), Ok("1410.5".parse().unwrap()));
        assert_eq!(number("-49,00", true), Ok("-49".parse().unwrap()));
        assert_eq!(number("1410.50", false), Ok("1410.50".parse().unwrap()));
        assert!(number("1,410.50", false).is_err());
        assert!(
            number("12,3x", true)
                .unwrap_err()
                .contains("`12,3x` is not a number")
        );
        assert!(number("--1", true).is_err());
        assert!(number("", false).is_err());
        assert_eq!(
            date("31.12.2025"),
            Ok(NaiveDate::from_ymd_opt(2025, 12, 31).unwrap())
        );
        assert!(date("2025-13-01").is_err());
        assert_eq!(vendor_class("Color_A3"), Ok(VendorClass::ColourA3));
    }

    #[test]
    fn a_bad_file_names_its_line_and_column() {
        let header = "invoice,issue_date,kind,period_from,period_to,class,description,serial,pages,unit_price,amount\n";
        let row = |cells: &str| format!("{header}{cells}\n");
        for (text, line, column, says) in [
            (
                row("1,2025-07-01,a_konto,2025-07-01,2025-12-31,toner,x,,1,1.00,1.00"),
                2,
                "class",
                "is not a class",
            ),
            (
                row("1,2025-07-01,a_konto,2025-07-01,2025-12-31,bw,x,,1,1.00,abc"),
                2,
                "amount",
                "is not a number",
            ),
            (
                row("1,2025-07-01,refund,2025-07-01,2025-12-31,bw,x,,1,1.00,1.00"),
                2,
                "kind",
                "not a kind",
            ),
            (
                row("1,2025-07-01,a_konto,2025-07-01,2025-06-30,bw,x,,1,1.00,1.00"),
                2,
                "period_to",
                "before it starts",
            ),
            (
                row(",2025-07-01,a_konto,2025-07-01,2025-12-31,bw,x,,1,1.00,1.00"),
                2,
                "invoice",
                "is empty",
            ),
            (
                format!(
                    "{header}1,2025-07-01,a_konto,2025-07-01,2025-12-31,bw,x,,1,1.00,1.00\n1,2025-07-02,a_konto,2025-07-01,2025-12-31,bw,x,,1,1.00,1.00\n"
                ),
                3,
                "issue_date",
                "every line of an invoice",
            ),
            (
                "invoice,issue_date\n1,2025-07-01\n".to_owned(),
                1,
                "(header)",
                "`kind` is missing",
            ),
            (header.to_owned(), 1, "(header)", "no lines"),
        ] {
            let e = parse_invoices(&text).unwrap_err();
            assert_eq!((e.line, e.column.as_str()), (line, column), "{e}");
            assert!(e.message.contains(says), "{e}");
        }
    }
}
