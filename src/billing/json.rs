//! The JSON shapes of invoices and standings (the `--json` output and, later,
//! the API): amounts and prices as decimal strings, pages and percentages as
//! numbers, dates as `YYYY-MM-DD`, instants as RFC 3339 in Oslo time.

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::{Value, json};

use super::reconcile::EventFound;
use super::{BoundaryValue, ClassStanding, GapFound, Invoice, LineClass, Standing, Status};
use crate::contract::dates::rfc3339;
use crate::contract::{Nok, Prices};

/// `{"contract": …, "invoices": […]}`.
pub fn invoices_json(contract: &str, invoices: &[Invoice]) -> Value {
    json!({
        "contract": contract,
        "invoices": invoices.iter().map(invoice_json).collect::<Vec<_>>(),
    })
}

fn invoice_json(inv: &Invoice) -> Value {
    let lines: Vec<Value> = inv
        .lines
        .iter()
        .map(|l| {
            let mut line = json!({
                "description": l.description,
                "class": l.class.name(),
                "pages": l.pages.map_or(Value::Null, number),
                "unit_price": match l.class {
                    LineClass::Fixed | LineClass::EstimationFee => Nok(l.unit_price).to_string(),
                    _ => price_text(l.unit_price),
                },
                "amount": l.amount.to_string(),
            });
            if let Some(months) = l.months {
                line["months"] = json!(months);
            }
            line
        })
        .collect();
    json!({
        "kind": inv.kind.name(),
        "period_start": inv.period_start.to_string(),
        "period_end": inv.period_end.to_string(),
        "issue_date": inv.issue_date.to_string(),
        "lines": lines,
        "carried_in": inv.carried_in.to_string(),
        "total": inv.total.to_string(),
        "status": match inv.status { Status::Due => "due", Status::Deferred => "deferred" },
        "estimated": inv.estimated,
        "boundary_values": inv.boundary_values.iter().map(boundary_json).collect::<Vec<_>>(),
    })
}

/// A unit price keeps at least 4 decimals as configured prices are written
/// (`0.0450`), more when an uplift makes them longer.
pub fn price_text(price: Decimal) -> String {
    let mut p = price.normalize();
    if p.scale() < 4 {
        p.rescale(4);
    }
    p.to_string()
}

fn boundary_json(v: &BoundaryValue) -> Value {
    json!({
        "serial": v.serial,
        "at": rfc3339(v.boundary.at),
        "meter": v.meter.name(),
        "value": v.boundary.value,
        "method": v.boundary.method.name(),
        "basis": v.basis.iter().map(|(at, value, source)| json!({
            "taken_at": rfc3339(*at),
            "value": value,
            "source": source.name(),
        })).collect::<Vec<_>>(),
    })
}

/// The standing as in `telleverk reconcile --json`.
pub fn standing_json(s: &Standing) -> Value {
    let periods: Vec<Value> = s
        .periods
        .iter()
        .map(|p| {
            json!({
                "kind": p.period.kind.name(),
                "start": p.period.start.to_string(),
                "end": p.period.end.to_string(),
                "running": p.running,
                "bw": class_json(&p.bw),
                "colour": class_json(&p.colour),
            })
        })
        .collect();
    json!({
        "contract": s.contract,
        "at": s.at.to_string(),
        "periods": periods,
        "notice_deadline": s.notice.map(|(deadline, _)| deadline.to_string()),
        "renewal": s.notice.zip(s.renewal_prices).map(|((_, date), prices)| json!({
            "date": date.to_string(),
            "prices": prices_json(&prices),
        })),
        "ends": s.ends.map(|e| e.to_string()),
        "boundary_values": s.boundary_values.iter().map(boundary_json).collect::<Vec<_>>(),
        "gaps": s.gaps.iter().map(gap_json).collect::<Vec<_>>(),
        "events": s.events.iter().map(event_json).collect::<Vec<_>>(),
    })
}

fn class_json(c: &ClassStanding) -> Value {
    json!({
        "committed": c.committed.map_or(Value::Null, number),
        "actual": c.actual,
        "projected": c.projected,
        // Always a float, so 15 % reads 15.0 like 6.67 does.
        "deviation_pct": c.deviation_pct.and_then(|d| d.to_f64()),
        "breach": c.breach,
    })
}

fn prices_json(p: &Prices) -> Value {
    let mut v = json!({ "bw": price_text(p.bw), "colour": price_text(p.colour) });
    if let Some(a3) = p.bw_a3 {
        v["bw_a3"] = json!(price_text(a3));
    }
    if let Some(a3) = p.colour_a3 {
        v["colour_a3"] = json!(price_text(a3));
    }
    v
}

fn gap_json(g: &GapFound) -> Value {
    json!({
        "serial": g.serial,
        "meter": g.meter.name(),
        "from": rfc3339(g.from),
        "to": rfc3339(g.to),
        "reason": g.reason,
    })
}

fn event_json(e: &EventFound) -> Value {
    json!({
        "serial": e.serial,
        "meter": e.meter.name(),
        "at": rfc3339(e.event.at),
        "kind": e.event.kind.name(),
        "before": e.event.before,
        "after": e.event.after,
    })
}

/// A decimal as a JSON number: an integer when whole.
fn number(d: Decimal) -> Value {
    let d = d.normalize();
    if d.scale() == 0
        && let Ok(i) = i64::try_from(d.mantissa())
    {
        return json!(i);
    }
    d.to_string()
        .parse::<serde_json::Number>()
        .map_or(Value::Null, Value::Number)
}
