//! Every invoice the vendor sends, in order: a-konto on a half's first day,
//! A3 and settlement on a period's end (advance); arrears each quarter and a
//! settlement of the minimum volume each year (arrears). Then deferral.

use std::collections::HashSet;

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::{BoundaryValue, DeviceHistory, Engine};
use crate::contract::{
    Billing, Class, Contract, Nok, Overflow, PeriodKind, Prices, dates::day_before, midnight, money,
};
use crate::serial::Serial;
use crate::timestamp::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum InvoiceKind {
    // Declared in the order of invoices issued on one date.
    Arrears,
    A3,
    Settlement,
    AKonto,
}

impl InvoiceKind {
    pub fn name(self) -> &'static str {
        match self {
            InvoiceKind::Arrears => "arrears",
            InvoiceKind::A3 => "a3",
            InvoiceKind::Settlement => "settlement",
            InvoiceKind::AKonto => "a_konto",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineClass {
    Bw,
    Colour,
    BwA3,
    ColourA3,
    Fixed,
    EstimationFee,
}

impl LineClass {
    pub fn name(self) -> &'static str {
        match self {
            LineClass::Bw => "bw",
            LineClass::Colour => "colour",
            LineClass::BwA3 => "bw_a3",
            LineClass::ColourA3 => "colour_a3",
            LineClass::Fixed => "fixed",
            LineClass::EstimationFee => "estimation_fee",
        }
    }

    fn a4(class: Class) -> LineClass {
        match class {
            Class::Bw => LineClass::Bw,
            Class::Colour => LineClass::Colour,
        }
    }

    fn a3(class: Class) -> LineClass {
        match class {
            Class::Bw => LineClass::BwA3,
            Class::Colour => LineClass::ColourA3,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub description: String,
    pub class: LineClass,
    /// None on fixed-fee and estimation-fee lines.
    pub pages: Option<Decimal>,
    pub unit_price: Decimal,
    /// Months of a fixed-fee line.
    pub months: Option<u32>,
    pub amount: Nok,
    /// The device of an estimation-fee line.
    pub serial: Option<Serial>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Due,
    Deferred,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoice {
    pub kind: InvoiceKind,
    pub period_start: NaiveDate,
    /// Exclusive.
    pub period_end: NaiveDate,
    pub issue_date: NaiveDate,
    pub lines: Vec<Line>,
    pub carried_in: Nok,
    pub total: Nok,
    pub status: Status,
    /// Some value it rests on is an estimate.
    pub estimated: bool,
    /// The values at every instant that splits its money, by instant,
    /// serial and meter.
    pub boundary_values: Vec<BoundaryValue>,
}

/// Every invoice of `contract` issued up to and including `until`, in order;
/// an overflow when an amount or a count is too large to compute (could not
/// run: never a wrong amount, never a panic).
pub fn invoices(
    contract: &Contract,
    histories: &[DeviceHistory],
    until: NaiveDate,
) -> Result<Vec<Invoice>, Overflow> {
    let empty = DeviceHistory::default();
    let mut engine = Engine::new(contract, histories, &empty);
    let mut out = Vec::new();
    match contract.billing {
        Billing::Advance => {
            for half in contract.periods_until(PeriodKind::Half, until) {
                out.push(a_konto(contract, half.start, half.end)?);
                if contract.any_a3_priced() && half.end <= until {
                    out.push(a3_invoice(&mut engine, half.start, half.end)?);
                }
            }
        }
        Billing::Arrears => {
            for quarter in contract.periods_until(PeriodKind::Quarter, until) {
                if quarter.end <= until {
                    out.push(arrears(&mut engine, quarter.start, quarter.end)?);
                }
            }
        }
    }
    let minimum = Class::BOTH.iter().any(|c| contract.minimum(*c) > 0);
    if contract.billing == Billing::Advance || minimum {
        for year in contract.periods_until(PeriodKind::Year, until) {
            if year.end <= until {
                out.push(settlement(&mut engine, year.start, year.end)?);
            }
        }
    }
    // Invoices on one date: those that close a period (A3, then settlement;
    // the quarter, then the minimum settlement), then the a-konto.
    out.sort_by_key(|i| (i.issue_date, i.kind));
    charge_estimates(contract, &mut out);
    defer(contract, &mut out)?;
    Ok(out)
}

/// One estimation fee per device and period boundary whose value is an
/// estimate, on the first invoice issued at that boundary that uses it
/// (`invoices` in their order); a device listed twice is one device. Price
/// changes and membership dates are not billing boundaries: no fee there.
fn charge_estimates(contract: &Contract, invoices: &mut [Invoice]) {
    let fee = contract.estimation_fee;
    let mut charged: HashSet<(Serial, Timestamp)> = HashSet::new();
    for inv in invoices.iter_mut() {
        if inv.issue_date != inv.period_end {
            continue;
        }
        let boundary = midnight(inv.period_end);
        let mut serials: Vec<&Serial> = inv
            .boundary_values
            .iter()
            .filter(|v| v.boundary.at == boundary && v.boundary.method.is_estimate())
            .map(|v| &v.serial)
            .collect();
        serials.sort();
        serials.dedup();
        for serial in serials {
            if fee.is_zero() || !charged.insert((serial.clone(), boundary)) {
                continue;
            }
            inv.lines.push(Line {
                description: format!(
                    "estimation fee {serial}: reading at {} estimated",
                    inv.period_end
                ),
                class: LineClass::EstimationFee,
                pages: None,
                unit_price: fee.0,
                months: None,
                amount: fee,
                serial: Some(serial.clone()),
            });
        }
    }
}

fn invoice(
    kind: InvoiceKind,
    start: NaiveDate,
    end: NaiveDate,
    issue: NaiveDate,
    lines: Vec<Line>,
) -> Invoice {
    Invoice {
        kind,
        period_start: start,
        period_end: end,
        issue_date: issue,
        lines,
        carried_in: Nok::ZERO,
        total: Nok::ZERO,
        status: Status::Due,
        estimated: false,
        boundary_values: Vec::new(),
    }
}

fn fixed_line(
    contract: &Contract,
    start: NaiveDate,
    end: NaiveDate,
    months: u32,
) -> Result<Option<Line>, Overflow> {
    let fee = contract.fixed_fee_monthly;
    if fee.is_zero() {
        return Ok(None);
    }
    let description = format!("fixed fees {start} – {end}: {months} months × {fee}");
    let amount = money::mul(fee.0, Decimal::from(months), || {
        format!("the amount of `{description}`")
    })?;
    Ok(Some(Line {
        description,
        class: LineClass::Fixed,
        pages: None,
        unit_price: fee.0,
        months: Some(months),
        amount: Nok::round(amount),
        serial: None,
    }))
}

fn page_line(
    description: String,
    class: LineClass,
    pages: Decimal,
    unit_price: Decimal,
) -> Result<Line, Overflow> {
    let amount = money::mul(pages, unit_price, || {
        format!("the amount of `{description}` ({pages} pages × {unit_price})")
    })?;
    Ok(Line {
        description,
        class,
        pages: Some(pages),
        unit_price,
        months: None,
        amount: Nok::round(amount),
        serial: None,
    })
}

/// Fixed fees for 6 months and half the committed volume at the prices in
/// force on the issue date.
fn a_konto(contract: &Contract, start: NaiveDate, end: NaiveDate) -> Result<Invoice, Overflow> {
    let prices = contract.prices_on(start)?;
    let mut lines: Vec<Line> = fixed_line(contract, start, end, 6)?.into_iter().collect();
    for class in Class::BOTH {
        if let Some(committed) = contract.committed(class) {
            let pages = Decimal::from(committed) / Decimal::TWO;
            lines.push(page_line(
                format!(
                    "{} prepaid: half of {committed} committed pages",
                    label(class)
                ),
                LineClass::a4(class),
                pages,
                prices.a4(class),
            )?);
        }
    }
    Ok(invoice(InvoiceKind::AKonto, start, end, start, lines))
}

/// A3 pages of the half at actual use, per price version.
fn a3_invoice(engine: &mut Engine, start: NaiveDate, end: NaiveDate) -> Result<Invoice, Overflow> {
    let contract = engine.contract;
    let mut lines = Vec::new();
    for class in Class::BOTH.into_iter().filter(|c| contract.a3_priced(*c)) {
        lines.extend(a3_lines(engine, class, start, end)?);
    }
    closing(engine, invoice(InvoiceKind::A3, start, end, end, lines))
}

fn a3_lines(
    engine: &mut Engine,
    class: Class,
    start: NaiveDate,
    end: NaiveDate,
) -> Result<Vec<Line>, Overflow> {
    let mut lines = Vec::new();
    for (from, to, prices) in engine.contract.price_segments(start, end)? {
        let pages = engine.class_pages(class, from, to)?.a3;
        let price = prices.a3(class).unwrap_or_default();
        lines.push(page_line(
            format!("{} A3 pages {from} – {to}", label(class)),
            LineClass::a3(class),
            Decimal::from(pages),
            price,
        )?);
    }
    Ok(lines)
}

/// Actual use of the quarter at the prices in force, plus 3 months of fees.
fn arrears(engine: &mut Engine, start: NaiveDate, end: NaiveDate) -> Result<Invoice, Overflow> {
    let contract = engine.contract;
    let mut lines = Vec::new();
    for class in Class::BOTH {
        for (from, to, prices) in contract.price_segments(start, end)? {
            let pages = engine.class_pages(class, from, to)?.counted;
            lines.push(page_line(
                format!(
                    "{} {} {from} – {to}",
                    label(class),
                    counted_label(contract, class)
                ),
                LineClass::a4(class),
                Decimal::from(pages),
                prices.a4(class),
            )?);
        }
        if contract.a3_priced(class) {
            lines.extend(a3_lines(engine, class, start, end)?);
        }
    }
    lines.extend(fixed_line(contract, start, end, 3)?);
    closing(
        engine,
        invoice(InvoiceKind::Arrears, start, end, end, lines),
    )
}

/// The contract year: pages beyond the prepaid volume (advance) at the price in
/// force when printed, the prepaid volume covering the year's first pages;
/// pages added to reach the minimum at the year-end price. No credit.
fn settlement(engine: &mut Engine, start: NaiveDate, end: NaiveDate) -> Result<Invoice, Overflow> {
    let contract = engine.contract;
    let year_end_prices = contract.prices_on(day_before(end))?;
    let mut lines = Vec::new();
    for class in Class::BOTH {
        let segments = contract.price_segments(start, end)?;
        let mut used: Vec<(NaiveDate, NaiveDate, Prices, u64)> = Vec::new();
        for (from, to, prices) in segments {
            let pages = engine.class_pages(class, from, to)?.counted;
            used.push((from, to, prices, pages));
        }
        let actual = used
            .iter()
            .try_fold(0u64, |sum, u| sum.checked_add(u.3))
            .ok_or_else(|| {
                Overflow(format!(
                    "the number of {} pages {start} – {end}",
                    class.name()
                ))
            })?;
        // Arrears billed every page already: only the minimum is settled.
        let prepaid = match contract.billing {
            Billing::Advance => contract.committed(class).unwrap_or(0),
            Billing::Arrears => actual,
        };
        if contract.billing == Billing::Advance {
            let mut left = prepaid;
            for (from, to, prices, pages) in &used {
                let beyond = pages.saturating_sub(left);
                left = left.saturating_sub(*pages);
                lines.push(page_line(
                    format!(
                        "{} pages beyond the prepaid volume {from} – {to}",
                        label(class)
                    ),
                    LineClass::a4(class),
                    Decimal::from(beyond),
                    prices.a4(class),
                )?);
            }
        }
        let shortfall = contract.minimum(class).saturating_sub(actual.max(prepaid));
        if shortfall > 0 {
            lines.push(page_line(
                format!(
                    "{} pages to the minimum volume of {} ({actual} used)",
                    label(class),
                    contract.minimum(class)
                ),
                LineClass::a4(class),
                Decimal::from(shortfall),
                year_end_prices.a4(class),
            )?);
        }
    }
    closing(
        engine,
        invoice(InvoiceKind::Settlement, start, end, end, lines),
    )
}

/// Adds the values at every instant that splits the invoice's money: each
/// device's start and end in the period and every price change between.
fn closing(engine: &mut Engine, mut inv: Invoice) -> Result<Invoice, Overflow> {
    let values = engine.split_values(inv.period_start, inv.period_end)?;
    inv.estimated = values.iter().any(|v| v.boundary.method.is_estimate());
    inv.boundary_values = values;
    Ok(inv)
}

/// Totals, carried amounts and deferral: an invoice whose total including
/// what was carried in is at or below the limit is deferred and carried into
/// the next; a terminated contract's last invoice never is.
fn defer(contract: &Contract, invoices: &mut [Invoice]) -> Result<(), Overflow> {
    let last_of_ended = contract
        .end()
        .and_then(|end| invoices.iter().rposition(|i| i.issue_date == end));
    let mut carried = Nok::ZERO;
    for (n, inv) in invoices.iter_mut().enumerate() {
        inv.carried_in = carried;
        let amounts = inv.lines.iter().map(|l| l.amount);
        inv.total = money::sum(amounts.chain([carried]), || {
            format!(
                "the total of the {} invoice of {}",
                inv.kind.name(),
                inv.issue_date
            )
        })?;
        if inv.total <= contract.defer_at_or_below && Some(n) != last_of_ended {
            inv.status = Status::Deferred;
            carried = inv.total;
        } else {
            inv.status = Status::Due;
            carried = Nok::ZERO;
        }
    }
    Ok(())
}

fn label(class: Class) -> &'static str {
    match class {
        Class::Bw => "b/w",
        Class::Colour => "colour",
    }
}

fn counted_label(contract: &Contract, class: Class) -> &'static str {
    if contract.a3_priced(class) {
        "A4 pages"
    } else {
        "A4-equivalent pages"
    }
}
