//! A check as it is answered and stored, what changed since the check
//! before it, and the dispute list as CSV for a person to mail the vendor.

use std::collections::HashMap;

use rust_decimal::Decimal;

use super::{Checked, Finding};
use crate::answer::{Change, CheckedInvoice, FindingItem, InvoiceCheck, UnrefundedEstimate};
use crate::billing::boundary_answer;
use crate::contract::{Nok, Overflow, money};
use crate::display::Display;
use crate::report::{CsvStyle, csv_bytes, text_cell};
use crate::timestamp::Timestamp;

/// Who checked which file when, and the check's number.
pub struct Meta<'a> {
    pub id: i64,
    pub contract: &'a str,
    pub at: Timestamp,
    pub by: &'a str,
    pub sha256: &'a str,
}

/// The check as answered, compared with `previous` (the last check of the
/// same file), if any.
pub fn check_answer(
    checked: &[Checked],
    meta: &Meta<'_>,
    previous: Option<&InvoiceCheck>,
    shown: &Display,
) -> Result<InvoiceCheck, Overflow> {
    let invoices: Vec<CheckedInvoice> = checked.iter().map(|c| invoice_answer(c, shown)).collect();
    let total = |what: &str, amounts: &mut dyn Iterator<Item = Nok>| {
        money::sum(amounts, || what.to_owned()).map(|n| n.to_string())
    };
    Ok(InvoiceCheck {
        id: meta.id,
        contract: meta.contract.to_owned(),
        checked_at: shown.instant(meta.at),
        checked_by: meta.by.to_owned(),
        file_sha256: meta.sha256.to_owned(),
        vendor_total: total(
            "the vendor's total",
            &mut checked.iter().map(|c| c.vendor_total),
        )?,
        our_total: total("our total", &mut checked.iter().filter_map(|c| c.our_total))?,
        disputed: total(
            "the disputed amount",
            &mut checked.iter().map(|c| c.disputed),
        )?,
        changes: previous.map_or_else(Vec::new, |p| changes(&p.invoices, &invoices)),
        previous: previous.map(|p| p.id),
        invoices,
    })
}

fn figure(d: Option<Decimal>) -> Option<String> {
    d.map(|d| d.normalize().to_string())
}

fn invoice_answer(c: &Checked, shown: &Display) -> CheckedInvoice {
    CheckedInvoice {
        invoice: c.number.clone(),
        kind: c.kind.name().to_owned(),
        issue_date: c.issue_date.to_string(),
        period_from: c.period_from.to_string(),
        period_to: c.period_to.to_string(),
        vendor_total: c.vendor_total.to_string(),
        our_total: c.our_total.map(|n| n.to_string()),
        disputed: c.disputed.to_string(),
        findings: c
            .findings
            .iter()
            .map(|f| finding_answer(f, shown))
            .collect(),
    }
}

fn finding_answer(f: &Finding, shown: &Display) -> FindingItem {
    FindingItem {
        line: f.line,
        kind: f.kind.name().to_owned(),
        severity: f.severity.name().to_owned(),
        class: f.class.map(|c| c.name().to_owned()),
        serial: f.serial.clone(),
        meter: f.meter.map(|m| m.name().to_owned()),
        theirs: figure(f.theirs),
        ours: figure(f.ours),
        delta_pages: figure(f.delta_pages),
        delta_nok: f.delta_nok.to_string(),
        message: f.message.clone(),
        evidence: f
            .evidence
            .iter()
            .map(|v| boundary_answer(v, shown))
            .collect(),
    }
}

/// What a finding is about, to find it again in another check.
type Key = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<usize>,
);

fn keyed(invoices: &[CheckedInvoice]) -> Vec<(Key, &FindingItem)> {
    invoices
        .iter()
        .flat_map(|i| {
            i.findings.iter().map(move |f| {
                let key = (
                    i.invoice.clone(),
                    f.kind.clone(),
                    f.class.clone(),
                    f.serial.clone(),
                    f.meter.clone(),
                    f.line,
                );
                (key, f)
            })
        })
        .collect()
}

/// The findings new, gone, or with another Δ NOK or figure of ours.
pub fn changes(before: &[CheckedInvoice], after: &[CheckedInvoice]) -> Vec<Change> {
    let old: HashMap<Key, &FindingItem> = keyed(before).into_iter().collect();
    let new: HashMap<Key, &FindingItem> = keyed(after).into_iter().collect();
    let change =
        |what: &str, key: &Key, before: Option<&FindingItem>, after: Option<&FindingItem>| Change {
            change: what.to_owned(),
            invoice: key.0.clone(),
            kind: key.1.clone(),
            class: key.2.clone(),
            serial: key.3.clone(),
            meter: key.4.clone(),
            before: before.map(|f| f.delta_nok.clone()),
            after: after.map(|f| f.delta_nok.clone()),
            message: after
                .or(before)
                .map(|f| f.message.clone())
                .unwrap_or_default(),
        };
    let mut out = Vec::new();
    for (key, f) in keyed(after) {
        match old.get(&key) {
            None => out.push(change("new", &key, None, Some(f))),
            Some(b)
                if b.delta_nok != f.delta_nok || b.ours != f.ours || b.severity != f.severity =>
            {
                out.push(change("changed", &key, Some(b), Some(f)));
            }
            Some(_) => {}
        }
    }
    for (key, f) in keyed(before) {
        if !new.contains_key(&key) {
            out.push(change("gone", &key, Some(f), None));
        }
    }
    out
}

/// The columns of the dispute list.
pub const DISPUTE_HEADER: [&str; 13] = [
    "invoice",
    "line",
    "kind",
    "class",
    "serial",
    "meter",
    "theirs",
    "ours",
    "delta_pages",
    "delta_nok",
    "message",
    "evidence",
    "checked_at",
];

/// The disputes of a check as CSV for a person to mail the vendor: `;`,
/// decimal comma, BOM; the evidence as `meter value (method) at instant`.
pub fn disputes_csv(check: &InvoiceCheck) -> Vec<u8> {
    let style = CsvStyle::Semicolon;
    let number = |v: &Option<String>| v.as_deref().map(|t| style.decimal(t)).unwrap_or_default();
    let text = |v: &Option<String>| v.as_deref().map(text_cell).unwrap_or_default();
    let mut rows = Vec::new();
    for i in &check.invoices {
        for f in i.findings.iter().filter(|f| f.severity == "dispute") {
            let evidence: Vec<String> = f
                .evidence
                .iter()
                .map(|e| {
                    format!(
                        "{} {} {} ({}) at {}",
                        e.serial, e.meter, e.value, e.method, e.at
                    )
                })
                .collect();
            rows.push(vec![
                text_cell(&i.invoice),
                f.line.map(|l| l.to_string()).unwrap_or_default(),
                f.kind.clone(),
                f.class.clone().unwrap_or_default(),
                text(&f.serial),
                f.meter.clone().unwrap_or_default(),
                number(&f.theirs),
                number(&f.ours),
                number(&f.delta_pages),
                style.decimal(&f.delta_nok),
                text_cell(&f.message),
                text_cell(&evidence.join(" | ")),
                check.checked_at.clone(),
            ]);
        }
    }
    csv_bytes(style, &DISPUTE_HEADER, &rows)
}

/// The estimates not refunded, as `reconcile` lists them.
pub fn unrefunded_answer(found: &[super::Unrefunded], shown: &Display) -> Vec<UnrefundedEstimate> {
    found
        .iter()
        .map(|u| UnrefundedEstimate {
            invoice: u.invoice.clone(),
            issue_date: u.issue_date.to_string(),
            serial: u.serial.clone(),
            meter: u.meter.name().to_owned(),
            at: u.at.to_string(),
            estimated: u.theirs,
            measured: boundary_answer(&u.ours, shown),
            unit_price: crate::contract::price_text(u.unit_price),
            cost: u.cost.to_string(),
        })
        .collect()
}

/// The last estimate not refunded, in a sentence for the reading-due alert.
pub fn unrefunded_note(last: &super::Unrefunded) -> String {
    format!(
        "last time the vendor estimated {} {} at {} as {} where {} was measured, and billed {} that is never refunded (invoice {})",
        last.serial,
        last.meter.name(),
        last.at,
        last.theirs,
        last.ours.boundary.value,
        last.cost,
        last.invoice
    )
}
