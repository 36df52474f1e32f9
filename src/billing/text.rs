//! Plain-text renderings of invoices and standings for the terminal.

use std::fmt::Write;

use super::{BoundaryValue, ClassStanding, Invoice, Standing, Status};
use crate::contract::dates::rfc3339;
use crate::contract::price_text;

/// Every invoice with its lines, totals and any estimated closing values.
pub fn invoices_text(contract: &str, invoices: &[Invoice]) -> String {
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
                .map(|p| p.normalize().to_string())
                .unwrap_or_default();
            let price = match l.pages {
                Some(_) => price_text(l.unit_price),
                None => format!("{:.2}", l.unit_price),
            };
            let _ = writeln!(
                out,
                "  {:<62} {:>9} × {:>8} = {:>11}",
                l.description,
                pages,
                price,
                l.amount.to_string()
            );
        }
        if !inv.carried_in.is_zero() {
            let _ = writeln!(
                out,
                "  {:<62} {:>35}",
                "carried in from deferred invoices",
                inv.carried_in.to_string()
            );
        }
        let _ = writeln!(
            out,
            "  {:<62} {:>35}",
            format!("total ({status})"),
            inv.total.to_string()
        );
        for v in inv
            .boundary_values
            .iter()
            .filter(|v| v.boundary.method.is_estimate())
        {
            let _ = writeln!(out, "  {}", boundary_line(v));
        }
    }
    out
}

/// The periods against the commitment, deadlines, estimates, gaps and events.
pub fn standing_text(s: &Standing) -> String {
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
        let _ = writeln!(out, "{}", boundary_line(v));
    }
    for g in &s.gaps {
        let _ = writeln!(
            out,
            "gap: {} {} {} – {}: {}",
            g.serial,
            g.meter,
            rfc3339(g.from),
            rfc3339(g.to),
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
            rfc3339(e.event.at),
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

fn boundary_line(v: &BoundaryValue) -> String {
    format!(
        "estimate: {} {} at {} = {} by {}",
        v.serial,
        v.meter,
        rfc3339(v.boundary.at),
        v.boundary.value,
        v.boundary.method.name()
    )
}
