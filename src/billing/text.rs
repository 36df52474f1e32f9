//! Plain-text renderings of invoices and standings for the terminal.

use std::fmt::Write;

use super::{BoundaryValue, ClassStanding, Invoice, Standing, Status};
use crate::contract::{Nok, price_text};
use crate::display::Display;

/// Every invoice with its lines, totals and any estimated closing values.
pub fn invoices_text(contract: &str, invoices: &[Invoice], shown: &Display) -> String {
    let mut out = String::new();
    if invoices.is_empty() {
        let _ = writeln!(out, "contract {contract}: no invoice issued yet");
        return out;
    }
    for inv in invoices {
        let status = match inv.status {
            Status::Due => "due",
            Status::Deferred => "deferred",
        };
        let _ = writeln!(
            out,
            "{} {} {} – {} (issued {}){}",
            contract,
            inv.kind.name(),
            inv.period_start,
            inv.period_end,
            inv.issue_date,
            if inv.estimated {
                ", ESTIMATED closing values"
            } else {
                ""
            }
        );
        for l in &inv.lines {
            let pages = l
                .pages
                .map(|p| shown.number(p.normalize()))
                .unwrap_or_default();
            let price = match l.pages {
                Some(_) => price_number(l.unit_price, shown),
                None => shown.number(Nok(l.unit_price).in_ore()),
            };
            let _ = writeln!(
                out,
                "  {:<62} {:>9} × {:>8} = {:>11}",
                l.description,
                pages,
                price,
                shown.number(l.amount.in_ore())
            );
        }
        if !inv.carried_in.is_zero() {
            let _ = writeln!(
                out,
                "  {:<62} {:>35}",
                "carried in from deferred invoices",
                shown.number(inv.carried_in.in_ore())
            );
        }
        let _ = writeln!(
            out,
            "  {:<62} {:>35}",
            format!("total ({status})"),
            shown.number(inv.total.in_ore())
        );
        for v in inv
            .boundary_values
            .iter()
            .filter(|v| v.boundary.method.is_estimate())
        {
            let _ = writeln!(out, "  {}", boundary_line(v, shown));
        }
    }
    out
}

/// The periods against the commitment, deadlines, estimates, gaps and events.
pub fn standing_text(s: &Standing, shown: &Display) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "contract {} on {}", s.contract, s.at);
    let _ = writeln!(
        out,
        "{:<8} {:<10} {:<10} {:<8} | {:>9} {:>9} {:>9} {:>8} | {:>9} {:>9} {:>9} {:>8}",
        "period",
        "start",
        "end",
        "",
        "bw commit",
        "actual",
        "projected",
        "dev %",
        "col commit",
        "actual",
        "projected",
        "dev %"
    );
    for p in &s.periods {
        let _ = writeln!(
            out,
            "{:<8} {:<10} {:<10} {:<8} | {} | {}",
            p.period.kind.name(),
            p.period.start.to_string(),
            p.period.end.to_string(),
            if p.running { "running" } else { "closed" },
            class_cells(&p.bw),
            class_cells(&p.colour)
        );
    }
    match (s.notice, s.ends) {
        (Some((deadline, expiry)), _) => {
            let _ = writeln!(
                out,
                "notice deadline {deadline} (the term ends {expiry} unless notice is given; then prices rise)"
            );
        }
        (None, Some(end)) => {
            let _ = writeln!(out, "notice given: the contract ends {end}");
        }
        (None, None) => {}
    }
    for v in s
        .boundary_values
        .iter()
        .filter(|v| v.boundary.method.is_estimate())
    {
        let _ = writeln!(out, "{}", boundary_line(v, shown));
    }
    for g in &s.gaps {
        let _ = writeln!(
            out,
            "gap: {} {} {} – {}: {}",
            g.serial,
            g.meter,
            shown.instant(g.from),
            shown.instant(g.to),
            g.reason
        );
    }
    for e in &s.events {
        let _ = writeln!(
            out,
            "event: {} {} {} at {} ({} → {})",
            e.event.kind.name(),
            e.serial,
            e.meter,
            shown.instant(e.event.at),
            e.event.before,
            e.event.after
        );
    }
    out
}

fn class_cells(c: &ClassStanding) -> String {
    let opt = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    format!(
        "{:>9} {:>9} {:>9} {:>8}",
        opt(c.committed.map(|v| v.normalize().to_string())),
        c.actual,
        opt(c.projected.map(|v| v.to_string())),
        match c.deviation_pct {
            Some(d) if c.breach => format!("{d}!"),
            Some(d) => d.to_string(),
            None => "-".into(),
        }
    )
}

fn boundary_line(v: &BoundaryValue, shown: &Display) -> String {
    format!(
        "estimate: {} {} at {} = {} by {}",
        v.serial,
        v.meter,
        shown.instant(v.boundary.at),
        v.boundary.value,
        v.boundary.method.name()
    )
}

/// A unit price as configured (at least four decimals), in the locale's form.
fn price_number(price: rust_decimal::Decimal, shown: &Display) -> String {
    shown.number(price_text(price).parse().unwrap_or(price))
}
