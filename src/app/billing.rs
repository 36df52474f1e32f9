//! The billing commands: `import-readings`, `invoices`, `reconcile`. Thin:
//! read the database, hand values to the pure engine, print.

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;

use anyhow::Context;
use chrono::NaiveDate;

use super::{InputError, known_list, open_production_store, open_store};
use crate::billing;
use crate::config::Config;
use crate::contract::Contract;
use crate::gather::histories;
use crate::import::{parse_readings, parse_taken_at, utf8_text};
use crate::meters::{Meter, Source};
use crate::serial::Serial;
use crate::storage::{Entering, ImportError, Store, WithdrawError, Withdrawal};

/// `telleverk import-readings`: validates the whole file, then stores it in
/// one transaction (all or nothing), as entered by the OS user.
pub fn import_readings(
    config: &Config,
    file: &Path,
    accept_implausible: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let bytes = std::fs::read(file)
        .map_err(|e| InputError(format!("{}: cannot read: {e}", file.display())))?;
    let text = utf8_text(&bytes)
        .map_err(|e| InputError(format!("{}: {e}; nothing was imported", file.display())))?;
    let parsed = parse_readings(text, crate::clock::now(), &config.display)
        .map_err(|e| InputError(format!("{}: {e}; nothing was imported", file.display())))?;
    let mut store = open_production_store(config)?;
    let mut known: HashSet<String> = store.serials()?.into_iter().collect();
    known.extend(config.serials().into_iter().map(String::from));
    if let Some(row) = parsed
        .rows
        .iter()
        .find(|r| !known.contains(r.serial.as_str()))
    {
        return Err(InputError(format!(
            "{}: line {}, column `serial`: `{}` is no device telleverk knows: name it in a \
             [[device]] (serial = \"…\") or a contract of {} first; nothing was imported",
            file.display(),
            row.line,
            row.serial,
            config.file.display()
        ))
        .into());
    }
    let entering = Entering {
        by: &os_user(),
        at: crate::clock::now(),
        accept_implausible,
        shown: config.display,
    };
    let summary = store
        .import_readings(&parsed.rows, entering)
        .map_err(|e| match e {
            ImportError::Storage(s) => anyhow::Error::from(s),
            refused => InputError(format!("{}: {refused}", file.display())).into(),
        })?;
    writeln!(
        out,
        "imported {} readings from {} ({} already stored, {} repeated in the file, {} new devices)",
        summary.stored,
        file.display(),
        summary.already_stored,
        parsed.duplicates_skipped,
        summary.new_devices
    )?;
    for warning in &summary.warnings {
        writeln!(out, "warning: {warning}")?;
    }
    Ok(())
}

/// The user running the command: who entered a reading from the command
/// line.
fn os_user() -> String {
    ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|var| std::env::var(var).ok().filter(|u| !u.trim().is_empty()))
        .unwrap_or_else(|| "unknown OS user".to_owned())
}

/// The key of an entered reading, as given on the command line.
pub struct ReadingKey<'a> {
    pub serial: &'a str,
    pub meter: &'a str,
    pub at: &'a str,
    pub source: &'a str,
}

/// `telleverk withdraw-reading`: withdraws an entered reading (a row of its
/// own with who, when and why; nothing is deleted).
pub fn withdraw_reading(
    config: &Config,
    key: &ReadingKey<'_>,
    reason: &str,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let serial = Serial::parse(key.serial).map_err(|e| InputError(format!("--serial: {e}")))?;
    let meter: Meter = key
        .meter
        .parse()
        .map_err(|e| InputError(format!("--meter: {e}")))?;
    let at = parse_taken_at(key.at).map_err(|e| InputError(format!("--at: {e}")))?;
    let source: Source = key
        .source
        .parse()
        .map_err(|e: String| InputError(format!("--source: {e}")))?;
    if reason.trim().is_empty() {
        return Err(InputError("--reason: say why the reading is withdrawn".into()).into());
    }
    let mut store = existing_store(config)?;
    let by = os_user();
    let withdrawal = Withdrawal {
        serial: &serial,
        meter,
        at,
        source,
        by: &by,
        reason: reason.trim(),
        when: crate::clock::now(),
        shown: config.display,
    };
    let taken = store.withdraw_reading(&withdrawal).map_err(|e| match e {
        WithdrawError::Storage(s) => anyhow::Error::from(s),
        refused => InputError(refused.to_string()).into(),
    })?;
    writeln!(
        out,
        "withdrew {serial} {meter} {} at {} ({}{}); billing ignores it from now on",
        taken.value,
        key.at,
        source.name(),
        taken
            .entered_by
            .map(|who| format!(", entered by {who}"))
            .unwrap_or_default()
    )?;
    Ok(())
}

/// `telleverk invoices`.
pub fn invoices(
    config: &Config,
    id: &str,
    until: NaiveDate,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let contract = find_contract(config, id)?;
    let histories = histories(&*existing_store(config)?, config, contract, until)?;
    let invoices = billing::invoices(contract, &histories, until)
        .with_context(|| format!("contract {id}: cannot compute its invoices"))?;
    if json {
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&billing::invoices_answer(
                id,
                &invoices,
                &config.display
            ))?
        )?;
    } else {
        write!(
            out,
            "{}",
            billing::invoices_text(id, &invoices, &config.display)
        )?;
    }
    Ok(())
}

/// `telleverk reconcile`.
pub fn reconcile(
    config: &Config,
    id: &str,
    at: NaiveDate,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let contract = find_contract(config, id)?;
    let store = existing_store(config)?;
    let histories = histories(&store, config, contract, at)?;
    let standing = billing::reconcile(contract, &histories, at)
        .with_context(|| format!("contract {id}: cannot compute its standing"))?;
    let unrefunded = crate::gather::invoice_checks::unrefunded_estimates(&store, config, contract)?;
    if json {
        let mut answer = billing::standing_answer(&standing, &config.display);
        answer.unrefunded_estimates =
            crate::invoice_check::unrefunded_answer(&unrefunded, &config.display);
        writeln!(out, "{}", serde_json::to_string_pretty(&answer)?)?;
    } else {
        write!(
            out,
            "{}",
            billing::standing_text(&standing, &config.display)
        )?;
        if !unrefunded.is_empty() {
            writeln!(
                out,
                "Estimates billed above what was measured since (never refunded):"
            )?;
            for u in &unrefunded {
                writeln!(
                    out,
                    "  {} {} at {}: estimated {}, measured {} ({}), {} × {} = {} (invoice {})",
                    u.serial,
                    u.meter.name(),
                    u.at,
                    u.theirs,
                    u.ours.boundary.value,
                    u.ours.boundary.method.name(),
                    u.theirs - u.ours.boundary.value,
                    crate::contract::price_text(u.unit_price),
                    u.cost,
                    u.invoice
                )?;
            }
        }
    }
    Ok(())
}

/// `telleverk check-invoice`: checks the vendor's file against the
/// contract's own invoices, keeps the check, and prints its findings.
pub fn check_invoice(
    config: &Config,
    id: &str,
    file: &Path,
    json: bool,
    csv: Option<&Path>,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let contract = find_contract(config, id)?;
    let bytes = std::fs::read(file)
        .map_err(|e| InputError(format!("{}: cannot read: {e}", file.display())))?;
    let mut store = existing_store(config)?;
    let check = crate::gather::invoice_checks::check_and_store(
        &mut store,
        config,
        contract,
        &bytes,
        &os_user(),
        crate::timestamp::Timestamp::from(crate::clock::now()),
    )
    .map_err(|e| {
        if e.is_input() {
            InputError(format!("{}: {e}", file.display())).into()
        } else {
            anyhow::Error::from(e)
        }
    })?;
    if let Some(path) = csv {
        std::fs::write(path, crate::invoice_check::disputes_csv(&check))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&check)?)?;
    } else {
        write!(out, "{}", crate::output::invoice_check_text(&check))?;
        if let Some(path) = csv {
            writeln!(out, "disputes written to {}", path.display())?;
        }
    }
    Ok(())
}

/// `telleverk uptime`: working-day uptime per device and month.
pub fn uptime(
    config: &Config,
    contract: Option<&str>,
    serial: Option<&str>,
    months: u32,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let store = existing_store(config)?;
    let now = crate::timestamp::Timestamp::from(crate::clock::now());
    let today = crate::contract::dates::local_date(now);
    let months = crate::uptime::months_before(today, months);
    let contract_of = |s: &str| {
        config
            .contracts
            .iter()
            .find(|c| c.devices.iter().any(|m| m.serial.as_str() == s))
    };
    let serials: Vec<(String, Option<&Contract>)> = match (contract, serial) {
        (Some(id), _) => {
            let c = find_contract(config, id)?;
            let mut s: Vec<String> = c.devices.iter().map(|m| m.serial.to_string()).collect();
            s.sort();
            s.dedup();
            s.into_iter().map(|s| (s, Some(c))).collect()
        }
        (None, Some(s)) => {
            let s = Serial::parse(s).map_err(|e| InputError(format!("--serial: {e}")))?;
            vec![(s.to_string(), contract_of(&s))]
        }
        (None, None) => store
            .serials()?
            .into_iter()
            .map(|s| {
                let c = contract_of(&s);
                (s, c)
            })
            .collect(),
    };
    drop(store);
    let items =
        crate::gather::uptime::uptime_answers(&config.storage, config, &serials, &months, now)?;
    if json {
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&crate::answer::UptimeList { items })?
        )?;
    } else {
        write!(out, "{}", crate::output::uptime_text(&items))?;
    }
    Ok(())
}

/// `telleverk supplies`: each device's supplies with their forecasts.
pub fn supplies(
    config: &Config,
    serial: Option<&str>,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let items = supply_items(config, serial)?;
    if json {
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&crate::answer::SupplyList { items })?
        )?;
    } else {
        write!(out, "{}", crate::output::supplies_text(&items))?;
    }
    Ok(())
}

/// Each device's supplies (or `serial`'s) with forecasts and coverage, now.
pub fn supply_items(
    config: &Config,
    serial: Option<&str>,
) -> anyhow::Result<Vec<crate::answer::DeviceSupplies>> {
    let store = existing_store(config)?;
    let now = crate::timestamp::Timestamp::from(crate::clock::now());
    let identities = store.identities()?;
    let serials: Vec<String> = match serial {
        Some(s) => {
            let s = Serial::parse(s).map_err(|e| InputError(format!("--serial: {e}")))?;
            if !identities.contains_key(s.as_str()) {
                return Err(
                    InputError(format!("--serial: the database knows no device {s}")).into(),
                );
            }
            vec![s.to_string()]
        }
        None => identities.keys().map(|s| s.to_string()).collect(),
    };
    let time = crate::supplies::forecast::working_time(&config.calendar, now);
    let index = crate::gather::FleetIndex::new(config);
    let ctx = crate::gather::supplies::SupplyContext {
        config,
        index: &index,
        time: &time,
        now,
    };
    let mut items = Vec::with_capacity(serials.len());
    for s in serials {
        let latest = store.supplies(&s)?;
        let model = identities.get(s.as_str()).and_then(|i| i.model.clone());
        let serial = Serial::parse(&s).map_err(|e| anyhow::anyhow!("a stored serial: {e}"))?;
        items.push(crate::answer::DeviceSupplies {
            supplies: crate::gather::supplies::outlooks(
                &store,
                &ctx,
                &serial,
                model.as_deref(),
                &latest,
            )?,
            model,
            serial: s,
        });
    }
    Ok(items)
}

pub fn find_contract<'a>(config: &'a Config, id: &str) -> anyhow::Result<&'a Contract> {
    config.contract(id).ok_or_else(|| {
        let known: Vec<&str> = config.contracts.iter().map(|c| c.id.as_str()).collect();
        InputError(format!(
            "no contract `{id}` in {} (known: {})",
            config.file.display(),
            known_list(id, &known)
        ))
        .into()
    })
}

/// The configured database, which must exist.
fn existing_store(config: &Config) -> anyhow::Result<Store> {
    if config.storage.file().is_some_and(|p| !p.exists()) {
        return Err(InputError(format!(
            "no database at {} yet: poll or import readings first",
            config.storage.shown()
        ))
        .into());
    }
    open_store(config)
}
