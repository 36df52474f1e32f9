//! The billing commands: `import-readings`, `invoices`, `reconcile`. Thin:
//! read the database, hand values to the pure engine, print.

use std::io::Write;
use std::path::Path;

use chrono::NaiveDate;

use super::{InputError, known_list, open_production_store, open_store};
use crate::billing;
use crate::config::Config;
use crate::contract::Contract;
use crate::gather::histories;
use crate::import::parse_readings;
use crate::storage::{ImportError, Store};

/// `telleverk import-readings`: validates the whole file, then stores it in
/// one transaction (all or nothing).
pub fn import_readings(config: &Config, file: &Path, out: &mut dyn Write) -> anyhow::Result<()> {
    let bytes = std::fs::read(file)
        .map_err(|e| InputError(format!("{}: cannot read: {e}", file.display())))?;
    let text = String::from_utf8(bytes)
        .map_err(|e| InputError(format!("{}: not UTF-8 text: {e}", file.display())))?;
    let parsed = parse_readings(&text)
        .map_err(|e| InputError(format!("{}: {e}; nothing was imported", file.display())))?;
    let mut store = open_production_store(config)?;
    let summary = store.import_readings(&parsed.rows).map_err(|e| match e {
        ImportError::Conflict(c) => {
            anyhow::Error::from(InputError(format!("{}: {c}", file.display())))
        }
        ImportError::Storage(s) => s.into(),
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
    let invoices = billing::invoices(contract, &histories, until);
    if json {
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&billing::invoices_answer(id, &invoices))?
        )?;
    } else {
        write!(out, "{}", billing::invoices_text(id, &invoices))?;
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
    let histories = histories(&*existing_store(config)?, config, contract, at)?;
    let standing = billing::reconcile(contract, &histories, at);
    if json {
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&billing::standing_answer(&standing))?
        )?;
    } else {
        write!(out, "{}", billing::standing_text(&standing))?;
    }
    Ok(())
}

pub fn find_contract<'a>(config: &'a Config, id: &str) -> anyhow::Result<&'a Contract> {
    config.contract(id).ok_or_else(|| {
        let known: Vec<&str> = config.contracts.iter().map(|c| c.id.as_str()).collect();
        InputError(format!(
            "no contract `{id}` in {} (known: {})",
            config.file.display(),
            known_list(&known)
        ))
        .into()
    })
}

/// The configured database, which must exist.
fn existing_store(config: &Config) -> anyhow::Result<Store> {
    if !config.storage_path.exists() {
        return Err(InputError(format!(
            "no database at {} yet: poll or import readings first",
            config.storage_path.display()
        ))
        .into());
    }
    open_store(config)
}
