//! The answers of the billing engine in their one shape ([`crate::answer`]):
//! `telleverk invoices --json` and `reconcile --json`, and the API's
//! `/contracts/{id}/invoices` and `/reconciliation`.

use rust_decimal::prelude::ToPrimitive;

use super::reconcile::EventFound;
use super::{BoundaryValue, ClassStanding, GapFound, Invoice, LineClass, Standing, Status};
use crate::answer::{self, Number};
use crate::contract::{Nok, Prices, price_text};
use crate::display::Display;

/// The invoices of a contract.
pub fn invoices_answer(contract: &str, invoices: &[Invoice], shown: &Display) -> answer::Invoices {
    answer::Invoices {
        contract: contract.to_owned(),
        invoices: invoices.iter().map(|i| invoice_answer(i, shown)).collect(),
    }
}

fn invoice_answer(inv: &Invoice, shown: &Display) -> answer::Invoice {
    let lines = inv
        .lines
        .iter()
        .map(|l| answer::InvoiceLine {
            description: l.description.clone(),
            class: l.class.name().to_owned(),
            pages: l.pages.map(Number),
            unit_price: match l.class {
                LineClass::Fixed | LineClass::EstimationFee => Nok(l.unit_price).to_string(),
                _ => price_text(l.unit_price),
            },
            amount: l.amount.to_string(),
            months: l.months,
        })
        .collect();
    answer::Invoice {
        kind: inv.kind.name().to_owned(),
        period_start: inv.period_start.to_string(),
        period_end: inv.period_end.to_string(),
        issue_date: inv.issue_date.to_string(),
        lines,
        carried_in: inv.carried_in.to_string(),
        total: inv.total.to_string(),
        status: match inv.status {
            Status::Due => "due",
            Status::Deferred => "deferred",
        }
        .to_owned(),
        estimated: inv.estimated,
        boundary_values: inv
            .boundary_values
            .iter()
            .map(|v| boundary_answer(v, shown))
            .collect(),
    }
}

pub fn boundary_answer(v: &BoundaryValue, shown: &Display) -> answer::BoundaryValue {
    answer::BoundaryValue {
        serial: v.serial.to_string(),
        at: shown.instant(v.boundary.at),
        meter: v.meter.name().to_owned(),
        value: v.boundary.value,
        method: v.boundary.method.name().to_owned(),
        basis: v
            .basis
            .iter()
            .map(|(at, value, source)| answer::Basis {
                taken_at: shown.instant(*at),
                value: *value,
                source: source.name().to_owned(),
            })
            .collect(),
    }
}

/// A contract's standing.
pub fn standing_answer(s: &Standing, shown: &Display) -> answer::Standing {
    answer::Standing {
        contract: s.contract.clone(),
        at: s.at.to_string(),
        periods: s
            .periods
            .iter()
            .map(|p| answer::PeriodStanding {
                kind: p.period.kind.name().to_owned(),
                start: p.period.start.to_string(),
                end: p.period.end.to_string(),
                running: p.running,
                bw: class_answer(&p.bw),
                colour: class_answer(&p.colour),
            })
            .collect(),
        notice_deadline: s.notice.map(|(deadline, _)| deadline.to_string()),
        renewal: s
            .notice
            .zip(s.renewal_prices)
            .map(|((_, date), prices)| answer::Renewal {
                date: date.to_string(),
                prices: prices_answer(&prices),
            }),
        ends: s.ends.map(|e| e.to_string()),
        boundary_values: s
            .boundary_values
            .iter()
            .map(|v| boundary_answer(v, shown))
            .collect(),
        gaps: s.gaps.iter().map(|g| gap_answer(g, shown)).collect(),
        events: s.events.iter().map(|e| event_answer(e, shown)).collect(),
        unrefunded_estimates: Vec::new(),
    }
}

fn class_answer(c: &ClassStanding) -> answer::ClassStanding {
    answer::ClassStanding {
        committed: c.committed.map(Number),
        actual: c.actual,
        projected: c.projected,
        // Always a float, so 15 % reads 15.0 like 6.67 does.
        deviation_pct: c.deviation_pct.and_then(|d| d.to_f64()),
        breach: c.breach,
    }
}

fn prices_answer(p: &Prices) -> answer::Prices {
    answer::Prices {
        bw: price_text(p.bw),
        colour: price_text(p.colour),
        bw_a3: p.bw_a3.map(price_text),
        colour_a3: p.colour_a3.map(price_text),
    }
}

fn gap_answer(g: &GapFound, shown: &Display) -> answer::Gap {
    answer::Gap {
        serial: g.serial.to_string(),
        meter: g.meter.name().to_owned(),
        from: shown.instant(g.from),
        to: shown.instant(g.to),
        reason: g.reason.to_owned(),
    }
}

fn event_answer(e: &EventFound, shown: &Display) -> answer::SeriesEvent {
    answer::SeriesEvent {
        serial: e.serial.to_string(),
        meter: e.meter.name().to_owned(),
        at: shown.instant(e.event.at),
        kind: e.event.kind.name().to_owned(),
        before: e.event.before,
        after: e.event.after,
    }
}
