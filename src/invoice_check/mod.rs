//! Checking the vendor's invoice against telleverk's own: every vendor
//! invoice is matched with ours of the same kind and period, its lines
//! summed per class and unit price and compared with our lines, its
//! readings with our values at the period's ends, its estimation fees with
//! ours of the same date. Each difference is a finding: a `dispute` to send
//! the vendor, or a `note`, with the vendor's figure, ours, the difference
//! in pages and in NOK (what they charged minus what we compute, rounded to
//! øre) and our boundary values as evidence.
//!
//! Pure: takes the parsed file and our invoices, returns findings.

mod answer;
mod parse;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::NaiveDate;
use rust_decimal::Decimal;

pub use answer::{
    DISPUTE_HEADER, Meta, changes, check_answer, disputes_csv, unrefunded_answer, unrefunded_note,
};
pub use parse::{VendorClass, VendorInvoice, VendorLine, parse_invoices};

use crate::billing::{BoundaryValue, Invoice, InvoiceKind, LineClass};
use crate::contract::dates::local_date;
use crate::contract::{Contract, Nok, Overflow, midnight, money};
use crate::meters::Meter;
use crate::timestamp::Timestamp;

/// `[invoice_check]`: how far a count may be off before it is a dispute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tolerance {
    pub pages: u64,
    /// Percent of our figure.
    pub pct: Decimal,
}

impl Default for Tolerance {
    fn default() -> Tolerance {
        Tolerance {
            pages: 0,
            pct: Decimal::new(5, 1),
        }
    }
}

impl Tolerance {
    /// Whether `diff` lies within the tolerance of `ours`.
    fn allows(&self, diff: Decimal, ours: Decimal) -> bool {
        let pct = ours
            .abs()
            .checked_mul(self.pct)
            .map_or(Decimal::MAX, |p| p / Decimal::ONE_HUNDRED);
        diff.abs() <= Decimal::from(self.pages).max(pct)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FindingKind {
    Arithmetic,
    Price,
    Pages,
    Reading,
    EstimatedReading,
    EstimationFee,
    UnexpectedLine,
    MissingLine,
}

impl FindingKind {
    pub fn name(self) -> &'static str {
        match self {
            FindingKind::Arithmetic => "arithmetic",
            FindingKind::Price => "price",
            FindingKind::Pages => "pages",
            FindingKind::Reading => "reading",
            FindingKind::EstimatedReading => "estimated_reading",
            FindingKind::EstimationFee => "estimation_fee",
            FindingKind::UnexpectedLine => "unexpected_line",
            FindingKind::MissingLine => "missing_line",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    Dispute,
    Note,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Dispute => "dispute",
            Severity::Note => "note",
        }
    }
}

/// One difference between the vendor's invoice and ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The vendor's invoice number.
    pub invoice: String,
    /// The line of the file it is about (the first of a summed group);
    /// None for a line of ours the vendor has not.
    pub line: Option<usize>,
    pub kind: FindingKind,
    pub severity: Severity,
    pub class: Option<VendorClass>,
    pub serial: Option<String>,
    pub meter: Option<Meter>,
    /// The vendor's figure and ours: pages, a unit price, an amount or a
    /// reading, as the kind says.
    pub theirs: Option<Decimal>,
    pub ours: Option<Decimal>,
    pub delta_pages: Option<Decimal>,
    /// What the vendor charged minus what we compute, rounded to øre.
    pub delta_nok: Nok,
    /// Our values it rests on.
    pub evidence: Vec<BoundaryValue>,
    pub message: String,
}

impl Finding {
    /// A finding of `invoice` with its figures still to fill in.
    fn new(invoice: &str, line: Option<usize>, kind: FindingKind, severity: Severity) -> Finding {
        Finding {
            invoice: invoice.to_owned(),
            line,
            kind,
            severity,
            class: None,
            serial: None,
            meter: None,
            theirs: None,
            ours: None,
            delta_pages: None,
            delta_nok: Nok::ZERO,
            evidence: Vec::new(),
            message: String::new(),
        }
    }
}

/// One vendor invoice checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub number: String,
    pub kind: InvoiceKind,
    pub issue_date: NaiveDate,
    pub period_from: NaiveDate,
    pub period_to: NaiveDate,
    pub vendor_total: Nok,
    /// Our invoice's total (its lines); None when we have no such invoice.
    pub our_total: Option<Nok>,
    /// The sum of the positive Δ NOK of its disputes.
    pub disputed: Nok,
    pub findings: Vec<Finding>,
}

/// The file could not be checked against this contract.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    #[error(
        "line {line}: invoice {invoice} is for contract `{named}`, not `{checked}`: check it against its own contract"
    )]
    WrongContract {
        line: usize,
        invoice: String,
        named: String,
        checked: String,
    },
    #[error(transparent)]
    Overflow(#[from] Overflow),
}

/// The last day of the vendor's period our invoices must reach: the
/// largest period end or issue date of the file.
pub fn needed_until(vendor: &[VendorInvoice]) -> Option<NaiveDate> {
    vendor
        .iter()
        .map(|v| v.period_end().max(v.issue_date))
        .max()
}

/// Checks every vendor invoice against `ours` (all of the contract's
/// invoices up to [`needed_until`]).
pub fn check(
    contract: &Contract,
    vendor: &[VendorInvoice],
    ours: &[Invoice],
    tolerance: &Tolerance,
) -> Result<Vec<Checked>, CheckError> {
    for v in vendor {
        if let Some(named) = v.contract.as_ref().filter(|c| **c != contract.id) {
            return Err(CheckError::WrongContract {
                line: v.lines[0].line,
                invoice: v.number.clone(),
                named: named.clone(),
                checked: contract.id.clone(),
            });
        }
    }
    let values = Values::of(ours);
    let members: HashSet<&str> = contract.devices.iter().map(|m| m.serial.as_str()).collect();
    let mut out = Vec::with_capacity(vendor.len());
    for v in vendor {
        let matched = ours.iter().find(|o| {
            o.kind == v.kind && o.period_start == v.period_from && o.period_end == v.period_end()
        });
        let mut c = Check {
            v,
            tolerance,
            values: &values,
            members: &members,
            findings: Vec::new(),
        };
        c.arithmetic()?;
        let our_total = match matched {
            Some(o) => {
                c.lines(o)?;
                c.readings();
                Some(money::sum(o.lines.iter().map(|l| l.amount), || {
                    format!("the total of our {} invoice", o.kind.name())
                })?)
            }
            None => {
                c.no_invoice_of_ours()?;
                None
            }
        };
        out.push(Checked {
            number: v.number.clone(),
            kind: v.kind,
            issue_date: v.issue_date,
            period_from: v.period_from,
            period_to: v.period_to,
            vendor_total: Nok::round(sum(v.lines.iter().map(|l| l.amount), "the vendor's total")?),
            our_total,
            disputed: Nok::ZERO,
            findings: c.findings,
        });
    }
    fees(vendor, ours, &values, &members, &mut out)?;
    for c in &mut out {
        c.findings
            .sort_by_key(|f| (f.line.unwrap_or(usize::MAX), f.kind));
        c.disputed = Nok::round(sum(
            c.findings
                .iter()
                .filter(|f| f.severity == Severity::Dispute && f.delta_nok.0 > Decimal::ZERO)
                .map(|f| f.delta_nok.0),
            "the disputed amount",
        )?);
    }
    Ok(out)
}

fn sum(values: impl IntoIterator<Item = Decimal>, what: &str) -> Result<Decimal, Overflow> {
    values
        .into_iter()
        .try_fold(Decimal::ZERO, |a, b| money::add(a, b, || what.to_owned()))
}

fn mul(a: Decimal, b: Decimal, what: &str) -> Result<Decimal, Overflow> {
    money::mul(a, b, || what.to_owned())
}

fn sub(a: Decimal, b: Decimal, what: &str) -> Result<Decimal, Overflow> {
    a.checked_sub(b).ok_or_else(|| Overflow(what.to_owned()))
}

/// Our boundary values by (serial, meter, instant), from all our invoices.
struct Values<'a> {
    by_key: HashMap<(&'a str, Meter, Timestamp), &'a BoundaryValue>,
}

impl<'a> Values<'a> {
    fn of(ours: &'a [Invoice]) -> Values<'a> {
        let mut by_key = HashMap::new();
        for o in ours {
            for v in &o.boundary_values {
                by_key
                    .entry((v.serial.as_str(), v.meter, v.boundary.at))
                    .or_insert(v);
            }
        }
        Values { by_key }
    }

    fn at(&self, serial: &str, meter: Meter, at: Timestamp) -> Option<&'a BoundaryValue> {
        self.by_key.get(&(serial, meter, at)).copied()
    }

    /// Every value of `serial` at `at`.
    fn all_at(&self, serial: &str, at: Timestamp) -> Vec<BoundaryValue> {
        let mut found: Vec<BoundaryValue> = Meter::ALL
            .iter()
            .filter_map(|m| self.at(serial, *m, at).cloned())
            .collect();
        found.sort_by_key(|v| v.meter);
        found
    }
}

/// A vendor class as ours.
fn our_class(class: LineClass) -> VendorClass {
    match class {
        LineClass::Bw => VendorClass::Bw,
        LineClass::Colour => VendorClass::Colour,
        LineClass::BwA3 => VendorClass::BwA3,
        LineClass::ColourA3 => VendorClass::ColourA3,
        LineClass::Fixed => VendorClass::Fixed,
        LineClass::EstimationFee => VendorClass::EstimationFee,
    }
}

/// Lines of one class and unit price, summed.
#[derive(Debug, Clone)]
struct Group<'a> {
    price: Decimal,
    pages: Decimal,
    amount: Decimal,
    /// The vendor's lines in it (none on our side).
    lines: Vec<&'a VendorLine>,
}

struct Check<'a> {
    v: &'a VendorInvoice,
    tolerance: &'a Tolerance,
    values: &'a Values<'a>,
    members: &'a HashSet<&'a str>,
    findings: Vec<Finding>,
}

impl<'a> Check<'a> {
    fn finding(&self, line: Option<usize>, kind: FindingKind, severity: Severity) -> Finding {
        Finding::new(&self.v.number, line, kind, severity)
    }

    fn start(&self) -> Timestamp {
        midnight(self.v.period_from)
    }

    fn end(&self) -> Timestamp {
        midnight(self.v.period_end())
    }

    /// amount = pages × unit price (months × price for fixed fees), to øre.
    fn arithmetic(&mut self) -> Result<(), Overflow> {
        for l in &self.v.lines {
            let right = Nok::round(mul(l.pages, l.unit_price, "pages × unit price")?);
            if l.amount != right.0 {
                let delta = Nok::round(sub(l.amount, right.0, "the amount's difference")?);
                let mut f = self.finding(Some(l.line), FindingKind::Arithmetic, Severity::Dispute);
                f.class = Some(l.class);
                f.serial.clone_from(&l.serial);
                f.theirs = Some(l.amount);
                f.ours = Some(right.0);
                f.delta_nok = delta;
                f.message = format!(
                    "{} × {} is {right}, not {}",
                    l.pages.normalize(),
                    l.unit_price.normalize(),
                    Nok(l.amount)
                );
                self.findings.push(f);
            }
        }
        Ok(())
    }

    /// A line for a device outside the contract, of a class we never bill
    /// (`other`), or on an invoice we do not have.
    fn unexpected(&mut self, l: &VendorLine, why: String) {
        let mut f = self.finding(Some(l.line), FindingKind::UnexpectedLine, Severity::Dispute);
        f.class = Some(l.class);
        f.serial.clone_from(&l.serial);
        f.theirs = Some(l.amount);
        f.delta_nok = Nok::round(l.amount);
        f.message = why;
        self.findings.push(f);
    }

    fn no_invoice_of_ours(&mut self) -> Result<(), Overflow> {
        let why = format!(
            "telleverk has no {} invoice for {} – {} (the last day included) in this contract",
            self.v.kind.name(),
            self.v.period_from,
            self.v.period_to
        );
        let lines: Vec<&VendorLine> = self.v.lines.iter().collect();
        for l in lines {
            self.unexpected(l, why.clone());
        }
        Ok(())
    }

    /// The lines summed per class and unit price against ours.
    fn lines(&mut self, ours: &Invoice) -> Result<(), Overflow> {
        let mut theirs: BTreeMap<VendorClass, Vec<Group<'a>>> = BTreeMap::new();
        let v = self.v;
        for l in &v.lines {
            match l.class {
                VendorClass::EstimationFee => continue,
                VendorClass::Other => {
                    self.unexpected(
                        l,
                        format!("`{}`: the contract bills no such line", l.description),
                    );
                    continue;
                }
                _ => {}
            }
            if let Some(serial) = l.serial.as_deref().filter(|s| !self.members.contains(s)) {
                self.unexpected(l, format!("{serial} is not a device of the contract"));
                continue;
            }
            add_to(
                theirs.entry(l.class).or_default(),
                l.unit_price,
                l.pages,
                l.amount,
                Some(l),
            )?;
        }
        let mut mine: BTreeMap<VendorClass, Vec<Group<'a>>> = BTreeMap::new();
        for l in ours
            .lines
            .iter()
            .filter(|l| l.class != LineClass::EstimationFee)
        {
            let pages = l
                .pages
                .or(l.months.map(Decimal::from))
                .unwrap_or(Decimal::ONE);
            add_to(
                mine.entry(our_class(l.class)).or_default(),
                l.unit_price,
                pages,
                l.amount.0,
                None,
            )?;
        }
        let classes: BTreeSet<VendorClass> = theirs.keys().chain(mine.keys()).copied().collect();
        for class in classes {
            let mut t = theirs.remove(&class).unwrap_or_default();
            let mut o = mine.remove(&class).unwrap_or_default();
            // Same price: compare pages.
            let mut i = 0;
            while i < t.len() {
                if let Some(j) = o.iter().position(|g| g.price == t[i].price) {
                    let (tg, og) = (t.remove(i), o.remove(j));
                    self.pages(class, &tg, &og, ours)?;
                } else {
                    i += 1;
                }
            }
            if t.len() == 1 && o.len() == 1 {
                let (tg, og) = (t.remove(0), o.remove(0));
                self.price(class, &tg, &og)?;
                self.pages(class, &tg, &og, ours)?;
            }
            for tg in t {
                for l in &tg.lines {
                    self.unexpected(
                        l,
                        format!(
                            "we bill no {} line at {} on this invoice",
                            class.name(),
                            tg.price.normalize()
                        ),
                    );
                }
            }
            for og in o.into_iter().filter(|g| !g.amount.is_zero()) {
                let mut f = self.finding(None, FindingKind::MissingLine, Severity::Note);
                f.class = Some(class);
                f.ours = Some(og.amount);
                f.delta_pages = Some(-og.pages);
                f.delta_nok = Nok::round(-og.amount);
                f.message = format!(
                    "our {} line of {} × {} = {} is not on the vendor's invoice",
                    class.name(),
                    og.pages.normalize(),
                    og.price.normalize(),
                    Nok(og.amount)
                );
                self.findings.push(f);
            }
        }
        Ok(())
    }

    fn price(&mut self, class: VendorClass, t: &Group<'a>, o: &Group<'a>) -> Result<(), Overflow> {
        let delta = mul(
            sub(t.price, o.price, "the price difference")?,
            t.pages,
            "the price difference × pages",
        )?;
        let mut f = self.finding(
            t.lines.first().map(|l| l.line),
            FindingKind::Price,
            Severity::Dispute,
        );
        f.class = Some(class);
        f.theirs = Some(t.price);
        f.ours = Some(o.price);
        f.delta_nok = Nok::round(delta);
        f.message = format!(
            "unit price {} where the contract's is {} ({} × {})",
            t.price.normalize(),
            o.price.normalize(),
            t.pages.normalize(),
            sub(t.price, o.price, "the price difference")?.normalize()
        );
        self.findings.push(f);
        Ok(())
    }

    fn pages(
        &mut self,
        class: VendorClass,
        t: &Group<'a>,
        o: &Group<'a>,
        ours: &Invoice,
    ) -> Result<(), Overflow> {
        let diff = sub(t.pages, o.pages, "the pages' difference")?;
        if diff.is_zero() {
            return Ok(());
        }
        let within = self.tolerance.allows(diff, o.pages);
        let mut f = self.finding(
            t.lines.first().map(|l| l.line),
            FindingKind::Pages,
            if within {
                Severity::Note
            } else {
                Severity::Dispute
            },
        );
        f.class = Some(class);
        f.serial = match t.lines.as_slice() {
            [one] => one.serial.clone(),
            _ => None,
        };
        f.theirs = Some(t.pages);
        f.ours = Some(o.pages);
        f.delta_pages = Some(diff);
        f.delta_nok = Nok::round(mul(diff, o.price, "the pages' difference × price")?);
        let unit = if class == VendorClass::Fixed {
            "months"
        } else {
            "pages"
        };
        f.message = format!(
            "{} {unit} billed where we count {}{}",
            t.pages.normalize(),
            o.pages.normalize(),
            if within {
                " (within the tolerance)"
            } else {
                ""
            }
        );
        // Our values at both ends for the devices billed, of this class.
        let serials: HashSet<&str> = t.lines.iter().filter_map(|l| l.serial.as_deref()).collect();
        let meters = class_meters(class);
        f.evidence = ours
            .boundary_values
            .iter()
            .filter(|b| meters.contains(&b.meter))
            .filter(|b| serials.is_empty() || serials.contains(b.serial.as_str()))
            .filter(|b| b.boundary.at == self.start() || b.boundary.at == self.end())
            .cloned()
            .collect();
        self.findings.push(f);
        Ok(())
    }

    /// The readings of each device's line against our values at the
    /// period's start and end.
    fn readings(&mut self) {
        let (start, end) = (self.start(), self.end());
        let v = self.v;
        for l in &v.lines {
            let (Some(serial), Some(meter)) = (l.serial.as_deref(), l.class.meter()) else {
                continue;
            };
            if !self.members.contains(serial) {
                continue;
            }
            let ours_from = self.values.at(serial, meter, start);
            let ours_to = self.values.at(serial, meter, end);
            let use_ours = match (ours_from, ours_to) {
                (Some(a), Some(b)) => Some(Decimal::from_i128_with_scale(
                    b.boundary.cum - a.boundary.cum,
                    0,
                )),
                _ => None,
            };
            for (theirs, ours, at) in [
                (l.reading_from, ours_from, start),
                (l.reading_to, ours_to, end),
            ] {
                let Some(theirs) = theirs else { continue };
                let mut f = self.finding(Some(l.line), FindingKind::Reading, Severity::Note);
                f.class = Some(l.class);
                f.serial = Some(serial.to_owned());
                f.meter = Some(meter);
                f.theirs = Some(Decimal::from(theirs));
                let Some(ours) = ours else {
                    f.message = format!(
                        "telleverk has no value of {serial} {} at {}: no reading around it",
                        meter.name(),
                        local_date(at)
                    );
                    self.findings.push(f);
                    continue;
                };
                if ours.boundary.value == theirs {
                    continue;
                }
                let diff = Decimal::from(theirs) - Decimal::from(ours.boundary.value);
                let within = self
                    .tolerance
                    .allows(diff, use_ours.unwrap_or(Decimal::ZERO));
                if !within {
                    f.severity = Severity::Dispute;
                }
                f.ours = Some(Decimal::from(ours.boundary.value));
                f.delta_pages = Some(diff);
                f.evidence = vec![ours.clone()];
                f.message = format!(
                    "{serial} {} at {}: {theirs} on the invoice, {} here ({}){}",
                    meter.name(),
                    local_date(at),
                    ours.boundary.value,
                    ours.boundary.method.name(),
                    if within {
                        ", within the tolerance of our use"
                    } else {
                        ""
                    }
                );
                self.findings.push(f);
            }
            if let (true, Some(theirs), Some(ours)) = (l.estimated, l.reading_to, ours_to)
                && !ours.boundary.method.is_estimate()
            {
                let mut f = self.finding(
                    Some(l.line),
                    FindingKind::EstimatedReading,
                    Severity::Dispute,
                );
                f.class = Some(l.class);
                f.serial = Some(serial.to_owned());
                f.meter = Some(meter);
                f.theirs = Some(Decimal::from(theirs));
                f.ours = Some(Decimal::from(ours.boundary.value));
                f.evidence = vec![ours.clone()];
                f.message = format!(
                    "the vendor estimated {serial} {} at {} where we measured {} ({}): send them the reading",
                    meter.name(),
                    local_date(end),
                    ours.boundary.value,
                    ours.boundary.method.name()
                );
                self.findings.push(f);
            }
        }
    }
}

fn add_to<'a>(
    groups: &mut Vec<Group<'a>>,
    price: Decimal,
    pages: Decimal,
    amount: Decimal,
    line: Option<&'a VendorLine>,
) -> Result<(), Overflow> {
    let group = match groups.iter_mut().position(|g| g.price == price) {
        Some(i) => &mut groups[i],
        None => {
            groups.push(Group {
                price,
                pages: Decimal::ZERO,
                amount: Decimal::ZERO,
                lines: Vec::new(),
            });
            groups.last_mut().expect("just pushed")
        }
    };
    group.pages = money::add(group.pages, pages, || "the pages of a class".into())?;
    group.amount = money::add(group.amount, amount, || "the amounts of a class".into())?;
    group.lines.extend(line);
    Ok(())
}

/// The meters whose values show a class's pages.
fn class_meters(class: VendorClass) -> Vec<Meter> {
    match class {
        VendorClass::Bw => vec![Meter::BwTotal, Meter::BwLarge],
        VendorClass::Colour => vec![Meter::ColourTotal, Meter::ColourLarge],
        VendorClass::BwA3 => vec![Meter::BwLarge],
        VendorClass::ColourA3 => vec![Meter::ColourLarge],
        _ => Vec::new(),
    }
}

/// Estimation fees, across all invoices of one date on each side: a fee of
/// the vendor's for a device we charge one for agrees; one for a device we
/// measured is disputed; one of ours the vendor has not is a note.
fn fees(
    vendor: &[VendorInvoice],
    ours: &[Invoice],
    values: &Values<'_>,
    members: &HashSet<&str>,
    out: &mut [Checked],
) -> Result<(), Overflow> {
    // Ours, by date: (serial, amount, our invoice's kind and period).
    let mut our_fees: BTreeMap<NaiveDate, Vec<(String, Decimal, &Invoice)>> = BTreeMap::new();
    for o in ours {
        for l in o
            .lines
            .iter()
            .filter(|l| l.class == LineClass::EstimationFee)
        {
            let serial = l.serial.as_ref().map(|s| s.to_string()).unwrap_or_default();
            our_fees
                .entry(o.issue_date)
                .or_default()
                .push((serial, l.amount.0, o));
        }
    }
    let dates: HashSet<NaiveDate> = vendor.iter().map(|v| v.issue_date).collect();
    for (vi, v) in vendor.iter().enumerate() {
        let matched = ours.iter().any(|o| {
            o.kind == v.kind && o.period_start == v.period_from && o.period_end == v.period_end()
        });
        if !matched {
            continue; // its lines are unexpected already
        }
        let at = midnight(v.issue_date);
        let pending = our_fees.entry(v.issue_date).or_default();
        for l in v
            .lines
            .iter()
            .filter(|l| l.class == VendorClass::EstimationFee)
        {
            let mut f = Finding::new(
                &v.number,
                Some(l.line),
                FindingKind::EstimationFee,
                Severity::Dispute,
            );
            f.class = Some(l.class);
            f.serial.clone_from(&l.serial);
            f.theirs = Some(l.amount);
            f.delta_nok = Nok::round(l.amount);
            match l.serial.as_deref() {
                Some(serial) if !members.contains(serial) => {
                    f.kind = FindingKind::UnexpectedLine;
                    f.message = format!("{serial} is not a device of the contract");
                }
                Some(serial) => {
                    if let Some(i) = pending.iter().position(|(s, _, _)| s == serial) {
                        let (_, amount, _) = pending.remove(i);
                        if amount == l.amount {
                            continue;
                        }
                        f.kind = FindingKind::Price;
                        f.ours = Some(amount);
                        f.delta_nok = Nok::round(sub(l.amount, amount, "the fee's difference")?);
                        f.message = format!(
                            "an estimation fee of {} where the contract's is {}",
                            Nok(l.amount),
                            Nok(amount)
                        );
                    } else {
                        f.ours = Some(Decimal::ZERO);
                        f.evidence = values.all_at(serial, at);
                        f.message = if f.evidence.is_empty() {
                            format!(
                                "a fee for {serial} at {}, where telleverk charges none",
                                v.issue_date
                            )
                        } else {
                            let methods: Vec<&str> = f
                                .evidence
                                .iter()
                                .map(|e| e.boundary.method.name())
                                .collect::<HashSet<_>>()
                                .into_iter()
                                .collect();
                            format!(
                                "a fee for estimating {serial} at {}, where we measured it ({}): no estimate, no fee",
                                v.issue_date,
                                {
                                    let mut m = methods;
                                    m.sort_unstable();
                                    m.join(", ")
                                }
                            )
                        };
                    }
                }
                None => {
                    // A pooled fee line: as many fees as ours not matched yet.
                    let count = l.pages.max(Decimal::ZERO).trunc();
                    let ours_n = Decimal::from(pending.len()).min(count);
                    let n = usize::try_from(ours_n).unwrap_or(0);
                    pending.drain(..n);
                    let excess = count - ours_n;
                    if excess.is_zero() {
                        continue;
                    }
                    f.ours = Some(ours_n);
                    f.theirs = Some(count);
                    f.delta_pages = Some(excess);
                    f.delta_nok = Nok::round(mul(excess, l.unit_price, "fees × price")?);
                    f.message = format!("{count} estimation fees where telleverk charges {ours_n}");
                }
            }
            out[vi].findings.push(f);
        }
    }
    // Our fees of dates the file covers that the vendor did not charge.
    for (date, left) in our_fees {
        if !dates.contains(&date) {
            continue;
        }
        for (serial, amount, o) in left {
            let Some(vi) = vendor
                .iter()
                .position(|v| {
                    v.kind == o.kind
                        && v.period_from == o.period_start
                        && v.period_end() == o.period_end
                })
                .or_else(|| vendor.iter().position(|v| v.issue_date == date))
            else {
                continue;
            };
            let mut f = Finding::new(
                &vendor[vi].number,
                None,
                FindingKind::MissingLine,
                Severity::Note,
            );
            f.class = Some(VendorClass::EstimationFee);
            f.ours = Some(amount);
            f.delta_nok = Nok::round(-amount);
            f.message = format!(
                "our estimation fee for {serial} at {date} is not on the vendor's invoices"
            );
            f.serial = Some(serial);
            out[vi].findings.push(f);
        }
    }
    Ok(())
}

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod tests;

/// An estimate the vendor billed above what was measured later (§4.1: an
/// estimate is never refunded): what it cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unrefunded {
    pub invoice: String,
    pub issue_date: NaiveDate,
    pub serial: String,
    pub meter: Meter,
    /// The boundary the vendor estimated.
    pub at: NaiveDate,
    /// The vendor's estimated reading.
    pub theirs: u64,
    /// Our measured value there.
    pub ours: BoundaryValue,
    pub unit_price: Decimal,
    /// (theirs − ours) × the unit price, to øre.
    pub cost: Nok,
}

/// Every estimated `reading_to` of the vendor's stored invoices (`files`,
/// each as read) above the value telleverk measured at that boundary
/// (exact or bracketed, from every reading stored now), oldest boundary
/// first; a line sent in several files counts once.
pub fn unrefunded(
    files: &[Vec<VendorInvoice>],
    ours: &[Invoice],
) -> Result<Vec<Unrefunded>, Overflow> {
    let values = Values::of(ours);
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for v in files.iter().flatten() {
        let at = v.period_end();
        for l in v.lines.iter().filter(|l| l.estimated) {
            let (Some(serial), Some(meter), Some(theirs)) =
                (l.serial.as_deref(), l.class.meter(), l.reading_to)
            else {
                continue;
            };
            let Some(ours) = values.at(serial, meter, midnight(at)) else {
                continue;
            };
            if ours.boundary.method.is_estimate()
                || theirs <= ours.boundary.value
                || !seen.insert((v.number.clone(), serial.to_owned(), meter))
            {
                continue;
            }
            let pages = Decimal::from(theirs - ours.boundary.value);
            out.push(Unrefunded {
                invoice: v.number.clone(),
                issue_date: v.issue_date,
                serial: serial.to_owned(),
                meter,
                at,
                theirs,
                ours: ours.clone(),
                unit_price: l.unit_price,
                cost: Nok::round(mul(pages, l.unit_price, "an estimate's cost")?),
            });
        }
    }
    out.sort_by(|a, b| (a.at, &a.invoice, &a.serial).cmp(&(b.at, &b.invoice, &b.serial)));
    Ok(out)
}
