//! What commands print: poll summaries and readings as tables for people and
//! JSON lines for programs.
//!
//! Pure: values in, text out.

use crate::answer::{FailedPoll, MeterValues, PollLine, PolledDevice, ReadingLine, WithdrawnItem};
use crate::display::Display;
use crate::meters::MeterSet;
use crate::record::{Outcome, PollRecord, Reading};
use crate::status;
use crate::supplies::Supply;

/// One poll as a JSON line of `poll --once --json`.
pub fn poll_line(r: &PollRecord, shown: &Display) -> PollLine {
    match &r.outcome {
        Outcome::Failed { cause, detail } => PollLine::Failed(FailedPoll {
            address: r.address.clone(),
            status: "error",
            error: *cause,
            detail: detail.clone(),
        }),
        Outcome::Ok(d) => PollLine::Ok(Box::new(PolledDevice {
            address: r.address.clone(),
            serial: d.serial.to_string(),
            model: d.model.clone(),
            status: d.failure_cause().map_or("ok", |c| c.name()),
            at: shown.instant(r.at.into()),
            meters: meter_values(&d.meters),
            supplies: d.supplies.clone(),
            device_status: status::device_status_name(d.device_status),
            printer_status: status::printer_status_name(d.printer_status),
            printer_errors: status::error_names(d.errors.unwrap_or(0)),
            warnings: d.problems.clone(),
        })),
    }
}

/// Meters by name in their own order; absent meters are left out.
pub fn meter_values(meters: &MeterSet) -> MeterValues {
    MeterValues(meters.iter().map(|m| (m.meter.name(), m.value)).collect())
}

/// A summary table of a round, one row per entry.
pub fn poll_table(records: &[PollRecord]) -> String {
    let mut rows = vec![
        [
            "ADDRESS",
            "SERIAL",
            "MODEL",
            "STATUS",
            "B/W",
            "COLOUR",
            "TOTAL",
            "LOWEST SUPPLY",
            "ERRORS",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for r in records {
        rows.push(match &r.outcome {
            Outcome::Failed { cause, detail } => vec![
                r.address.clone(),
                "-".into(),
                "-".into(),
                format!("error: {cause}"),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                detail.clone(),
            ],
            Outcome::Ok(d) => {
                let n = |m| {
                    d.meters
                        .value(m)
                        .map_or("-".to_owned(), |v: u64| v.to_string())
                };
                let mut errors = status::error_names(d.errors.unwrap_or(0)).join(",");
                if let Some(cause) = d.failure_cause() {
                    errors = format!(
                        "{errors}{}{cause}",
                        if errors.is_empty() { "" } else { "," }
                    );
                }
                vec![
                    r.address.clone(),
                    d.serial.to_string(),
                    d.model.clone().unwrap_or_default(),
                    status::device_status_name(d.device_status).to_owned(),
                    n(crate::meters::Meter::BwTotal),
                    n(crate::meters::Meter::ColourTotal),
                    n(crate::meters::Meter::Total),
                    d.supplies.as_deref().map(lowest_supply).unwrap_or_default(),
                    errors,
                ]
            }
        });
    }
    table(&rows)
}

/// The demo's table, read at a glance: one row per device with its counters,
/// its lowest toner and its state.
/// `notes` says something of the entry at the same index (the demo: which
/// simulated device is slow, resets or boots); a NOTE column when any does.
pub fn glance_table(records: &[PollRecord], notes: &[Option<&str>]) -> String {
    let noted = notes.iter().any(Option::is_some);
    let mut head = ["SERIAL", "MODEL", "B/W", "COLOUR", "LOWEST TONER", "STATUS"]
        .map(String::from)
        .to_vec();
    if noted {
        head.push("NOTE".into());
    }
    let mut rows = vec![head];
    for (i, r) in records.iter().enumerate() {
        let mut row = match &r.outcome {
            Outcome::Failed { cause, .. } => vec![
                format!("({})", r.address),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                format!("no answer: {cause}"),
            ],
            Outcome::Ok(d) => {
                let n = |m| d.meters.value(m).map_or("-".to_owned(), |v| v.to_string());
                let mut state = status::device_status_name(d.device_status).to_owned();
                let errors = status::error_names(d.errors.unwrap_or(0));
                if !errors.is_empty() {
                    state = format!("{state}: {}", errors.join(", "));
                }
                vec![
                    d.serial.to_string(),
                    d.model.clone().unwrap_or_default(),
                    n(crate::meters::Meter::BwTotal),
                    n(crate::meters::Meter::ColourTotal),
                    d.supplies.as_deref().map(lowest_toner).unwrap_or_default(),
                    state,
                ]
            }
        };
        if noted {
            row.push(
                notes
                    .get(i)
                    .copied()
                    .flatten()
                    .unwrap_or_default()
                    .to_owned(),
            );
        }
        rows.push(row);
    }
    table(&rows)
}

/// "cyan 7%": the toner with the lowest percentage, if any has one.
pub fn lowest_toner(supplies: &[Supply]) -> String {
    supplies
        .iter()
        .filter(|s| s.kind.starts_with("toner"))
        .filter_map(|s| s.percent.map(|p| (p, s)))
        .min_by_key(|(p, _)| *p)
        .map(|(p, s)| format!("{} {p}%", s.colour.as_deref().unwrap_or("toner")))
        .unwrap_or_default()
}

/// "black toner 12%": the supply with the lowest percentage, if any has one.
pub fn lowest_supply(supplies: &[Supply]) -> String {
    supplies
        .iter()
        .filter_map(|s| s.percent.map(|p| (p, s)))
        .min_by_key(|(p, _)| *p)
        .map(|(p, s)| format!("{} {p}%", s.description))
        .unwrap_or_default()
}

/// Readings as a table: one row per reading, one column per meter seen.
pub fn readings_table(readings: &[Reading], shown: &Display) -> String {
    let mut meters: Vec<crate::meters::Meter> = readings
        .iter()
        .flat_map(|r| r.meters.iter().map(|m| m.meter))
        .collect();
    meters.sort();
    meters.dedup();
    let mut header = vec!["TAKEN AT".to_owned(), "SOURCE".to_owned()];
    header.extend(meters.iter().map(|m| m.name().to_uppercase()));
    let noted = readings
        .iter()
        .any(|r| r.entered_by.is_some() || !r.withdrawn.is_empty());
    if noted {
        header.push("NOTE".to_owned());
    }
    let mut rows = vec![header];
    for r in readings {
        let mut row = vec![shown.instant(r.at.into()), r.source.name().to_owned()];
        row.extend(
            meters
                .iter()
                .map(|m| r.meters.value(*m).map_or("-".to_owned(), |v| v.to_string())),
        );
        if noted {
            row.push(note(r, shown));
        }
        rows.push(row);
    }
    table(&rows)
}

/// Who entered a reading, and what of it was withdrawn, by whom and why.
fn note(r: &Reading, shown: &Display) -> String {
    let mut parts: Vec<String> = r
        .entered_by
        .iter()
        .map(|by| format!("entered by {by}"))
        .collect();
    parts.extend(r.withdrawn.iter().map(|w| {
        format!(
            "withdrawn {} {} by {} at {}: {}",
            w.meter,
            w.value,
            w.by,
            shown.instant(w.at.into()),
            w.reason
        )
    }));
    parts.join("; ")
}

/// One reading as a JSON line of `readings --json`.
pub fn reading_line(serial: &str, r: &Reading, shown: &Display) -> ReadingLine {
    ReadingLine {
        serial: serial.to_owned(),
        taken_at: shown.instant(r.at.into()),
        source: r.source.name(),
        entry: r.entry_key.clone(),
        meters: meter_values(&r.meters),
        device_status: status::device_status_name(r.device_status),
        printer_errors: status::error_names(r.errors.unwrap_or(0)),
        entered_by: r.entered_by.clone(),
        withdrawn: r
            .withdrawn
            .iter()
            .map(|w| WithdrawnItem::new(w, shown.instant(w.at.into())))
            .collect(),
    }
}

/// Left-aligned columns separated by two spaces.
pub fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let line: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(c, cell)| format!("{cell:<width$}", width = widths[c]))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// A check of the vendor's invoices as text: a summary, then each invoice
/// with its findings (what, the figures, the difference, why).
pub fn invoice_check_text(check: &crate::answer::InvoiceCheck) -> String {
    let mut out = format!(
        "check #{} of contract {} ({} invoice{}, file sha256 {}…): vendor {}, ours {}, disputed {}\n",
        check.id,
        check.contract,
        check.invoices.len(),
        if check.invoices.len() == 1 { "" } else { "s" },
        check.file_sha256.chars().take(12).collect::<String>(),
        check.vendor_total,
        check.our_total,
        check.disputed
    );
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    for i in &check.invoices {
        out.push_str(&format!(
            "\ninvoice {} {} {} – {}: vendor {}, ours {}, disputed {}\n",
            i.invoice,
            i.kind,
            i.period_from,
            i.period_to,
            i.vendor_total,
            opt(&i.our_total),
            i.disputed
        ));
        if i.findings.is_empty() {
            out.push_str("  every line agrees\n");
            continue;
        }
        let mut rows = vec![
            [
                "line", "finding", "severity", "class", "serial", "theirs", "ours", "Δ pages",
                "Δ NOK", "why",
            ]
            .map(String::from)
            .to_vec(),
        ];
        for f in &i.findings {
            rows.push(vec![
                f.line.map_or_else(|| "-".into(), |l| l.to_string()),
                f.kind.clone(),
                f.severity.clone(),
                opt(&f.class),
                opt(&f.serial),
                opt(&f.theirs),
                opt(&f.ours),
                opt(&f.delta_pages),
                f.delta_nok.clone(),
                f.message.clone(),
            ]);
        }
        for line in table(&rows).lines() {
            out.push_str("  ");
            out.push_str(line);
            out.push('\n');
        }
    }
    if let Some(previous) = check.previous {
        out.push_str(&format!(
            "\nsince check #{previous} of the same file: {}\n",
            if check.changes.is_empty() {
                "nothing changed".to_owned()
            } else {
                format!("{} findings changed", check.changes.len())
            }
        ));
        for c in &check.changes {
            out.push_str(&format!(
                "  {} {} {} {}: Δ NOK {} → {}\n",
                c.change,
                c.invoice,
                c.kind,
                c.serial.as_deref().unwrap_or(""),
                c.before.as_deref().unwrap_or("-"),
                c.after.as_deref().unwrap_or("-")
            ));
        }
    }
    out
}

/// Uptime as text: a row per device with each month's uptime, the total,
/// its evidence and the promise.
pub fn uptime_text(items: &[crate::answer::Uptime]) -> String {
    let Some(first) = items.first() else {
        return "no devices\n".into();
    };
    let mut header: Vec<String> = vec!["serial".into(), "contract".into()];
    header.extend(first.months.iter().map(|m| m.month.clone()));
    header.extend([
        "total".into(),
        "evidence".into(),
        "promised".into(),
        "".into(),
    ]);
    let mut rows = vec![header];
    let pct = |v: &Option<String>| v.as_ref().map_or_else(|| "-".into(), |p| format!("{p} %"));
    for u in items {
        let mut row = vec![
            u.serial.clone(),
            u.contract.clone().unwrap_or_else(|| "-".into()),
        ];
        row.extend(u.months.iter().map(|m| pct(&m.uptime_pct)));
        row.push(pct(&u.total.uptime_pct));
        row.push(pct(&u.total.evidence_pct));
        row.push(pct(&u.promised_pct));
        row.push(if u.breach {
            "BREACH".into()
        } else {
            String::new()
        });
        rows.push(row);
    }
    let mut out = format!(
        "uptime on working days (Mon–Fri 08:00–16:00 Oslo, no public holidays), {}\n",
        first.total.month
    );
    out.push_str(&table(&rows));
    out
}

/// Supplies as text: a row per supply with its level and forecast.
pub fn supplies_text(items: &[crate::answer::DeviceSupplies]) -> String {
    let mut rows = vec![
        [
            "serial",
            "model",
            "supply",
            "level",
            "empty on",
            "80 % between",
            "working days",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for d in items {
        for s in d
            .supplies
            .iter()
            .filter(|s| s.percent.is_some() || s.no_forecast.as_deref() != Some("not_falling"))
        {
            let between = s.empty_between.as_ref().map_or_else(String::new, |[a, b]| {
                format!(
                    "{} – {}",
                    a.as_deref().unwrap_or("?"),
                    b.as_deref().unwrap_or("never")
                )
            });
            rows.push(vec![
                d.serial.clone(),
                d.model.clone().unwrap_or_else(|| "-".into()),
                s.description.clone(),
                s.percent.map_or_else(|| "-".into(), |p| format!("{p} %")),
                s.empty_on
                    .clone()
                    .or_else(|| {
                        s.no_forecast
                            .as_ref()
                            .map(|r| format!("({})", r.replace('_', " ")))
                    })
                    .unwrap_or_default(),
                between,
                s.working_days.map(|w| w.to_string()).unwrap_or_default(),
            ]);
        }
    }
    let mut out = table(&rows);
    let coverage = coverage_text(items);
    if !coverage.is_empty() {
        out.push('\n');
        out.push_str(&coverage);
    }
    out
}

/// Each toner's real coverage under a heading; empty without toners.
pub fn coverage_text(items: &[crate::answer::DeviceSupplies]) -> String {
    let rows = coverage_rows(items);
    if rows.len() < 2 {
        return String::new();
    }
    format!(
        "real coverage per toner (§4.3): cartridges used by the levels against those the contract pays for (A4 pages ÷ rated yield at 5 %)\n{}",
        table(&rows)
    )
}

/// One row per toner with a coverage: used, paid for, implied and what it
/// means.
fn coverage_rows(items: &[crate::answer::DeviceSupplies]) -> Vec<Vec<String>> {
    let mut rows = vec![
        [
            "serial", "model", "toner", "part", "from", "to", "pages", "used", "paid for",
            "coverage", "",
        ]
        .map(String::from)
        .to_vec(),
    ];
    let dash = || "-".to_owned();
    for d in items {
        for (s, c) in d
            .supplies
            .iter()
            .filter_map(|s| s.coverage.as_ref().map(|c| (s, c)))
        {
            let verdict = match c.no_coverage.as_deref() {
                Some("no_rated_yield") => format!(
                    "no rated yield known for the {} toner of {}: no coverage",
                    s.colour.as_deref().unwrap_or("?"),
                    d.model.as_deref().unwrap_or("this model")
                ),
                Some("unknown_model") => "model unknown: no rated yield, no coverage".into(),
                Some("no_pages") => "no page counts over the window".into(),
                Some("no_window") => "no reading before today".into(),
                Some(other) => other.replace('_', " "),
                None if c.above_contract => {
                    format!("ABOVE the contract's {} %: extra supplies", c.assumed_pct)
                }
                None if c.over_tolerance => format!(
                    "heading above the contract's {} % (under one cartridge used: no alert yet)",
                    c.assumed_pct
                ),
                None if !c.enough_evidence => "within so far (under one cartridge used)".into(),
                None => "within the contract".into(),
            };
            rows.push(vec![
                d.serial.clone(),
                d.model.clone().unwrap_or_else(dash),
                s.description.clone(),
                c.part.clone().unwrap_or_else(dash),
                c.from.clone().unwrap_or_else(dash),
                c.to.clone().unwrap_or_else(dash),
                c.pages.map_or_else(dash, |p| p.to_string()),
                c.cartridges_used.0.to_string(),
                c.cartridges_paid.map_or_else(dash, |n| n.0.to_string()),
                c.implied_pct.map_or_else(dash, |n| format!("{} %", n.0)),
                verdict,
            ]);
        }
    }
    rows
}
