//! Checking a vendor's invoice file: read it, compute the contract's own
//! invoices up to its last period from the stored readings, check, and
//! keep the check (the file once by its SHA-256, the findings as answered).

use sha2::{Digest, Sha256};

use super::histories;
use crate::answer::InvoiceCheck;
use crate::billing;
use crate::config::Config;
use crate::contract::{Contract, Overflow};
use crate::import::{CsvError, utf8_text};
use crate::invoice_check::{self, CheckError, Checked, Meta, check_answer, parse_invoices};
use crate::storage::{NewCheck, Reader, Store};
use crate::timestamp::Timestamp;

/// Why a file could not be checked. Nothing is stored then.
#[derive(Debug, thiserror::Error)]
pub enum InvoiceCheckError {
    /// The file is no vendor invoice telleverk can read (line and column).
    #[error("{0}; nothing was stored")]
    File(#[from] CsvError),
    #[error("{0}; nothing was stored")]
    Check(#[from] CheckError),
    #[error("{0}")]
    Overflow(#[from] Overflow),
    #[error(transparent)]
    Storage(#[from] crate::storage::Error),
    #[error("a stored check does not read back as JSON: {0}")]
    Stored(String),
}

impl InvoiceCheckError {
    /// Whether the fault is the file's (a 400, exit 2), not telleverk's.
    pub fn is_input(&self) -> bool {
        matches!(
            self,
            InvoiceCheckError::File(_) | InvoiceCheckError::Check(_)
        )
    }
}

/// The SHA-256 of a file's bytes, hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The findings of a vendor's file against `contract`.
pub fn check_file(
    reader: &Reader,
    config: &Config,
    contract: &Contract,
    bytes: &[u8],
) -> Result<Vec<Checked>, InvoiceCheckError> {
    let text = utf8_text(bytes)?;
    let vendor = parse_invoices(text)?;
    let Some(until) = invoice_check::needed_until(&vendor) else {
        return Ok(Vec::new());
    };
    let histories = histories(reader, config, contract, until)?;
    let ours = billing::invoices(contract, &histories, until)?;
    Ok(invoice_check::check(
        contract,
        &vendor,
        &ours,
        &config.invoice_check,
    )?)
}

/// Checks a file and keeps the check, compared with the last check of the
/// same file; returns it as answered.
pub fn check_and_store(
    store: &mut Store,
    config: &Config,
    contract: &Contract,
    bytes: &[u8],
    by: &str,
    at: Timestamp,
) -> Result<InvoiceCheck, InvoiceCheckError> {
    let checked = check_file(store, config, contract, bytes)?;
    let sha256 = sha256_hex(bytes);
    let new = NewCheck {
        contract: &contract.id,
        sha256: &sha256,
        bytes,
        at: at.to_datetime(),
        by,
    };
    let text = store.add_invoice_check(&new, |id, previous| {
        let previous: Option<InvoiceCheck> = previous
            .map(|p| serde_json::from_str(&p.answer))
            .transpose()
            .map_err(|e| InvoiceCheckError::Stored(e.to_string()))?;
        let meta = Meta {
            id,
            contract: &contract.id,
            at,
            by,
            sha256: &sha256,
        };
        let answer = check_answer(&checked, &meta, previous.as_ref(), &config.display)?;
        serde_json::to_string(&answer).map_err(|e| InvoiceCheckError::Stored(e.to_string()))
    })??;
    serde_json::from_str(&text).map_err(|e| InvoiceCheckError::Stored(e.to_string()))
}

/// A stored check as answered.
pub fn stored_check(text: &str) -> Result<InvoiceCheck, InvoiceCheckError> {
    serde_json::from_str(text).map_err(|e| InvoiceCheckError::Stored(e.to_string()))
}

/// Every estimate the vendor billed in the files checked against
/// `contract` above the value measured since (§4.1), oldest first.
pub fn unrefunded_estimates(
    reader: &Reader,
    config: &Config,
    contract: &Contract,
) -> Result<Vec<invoice_check::Unrefunded>, InvoiceCheckError> {
    let mut files = Vec::new();
    for (_, bytes) in reader.invoice_files(&contract.id)? {
        // Each file was read when it was checked; one that no longer reads
        // (a later telleverk stricter) is left out, not an error.
        if let Ok(vendor) = utf8_text(&bytes)
            .map_err(InvoiceCheckError::from)
            .and_then(|t| Ok(parse_invoices(t)?))
        {
            files.push(vendor);
        }
    }
    let Some(until) = files
        .iter()
        .filter_map(|f| invoice_check::needed_until(f))
        .max()
    else {
        return Ok(Vec::new());
    };
    let histories = histories(reader, config, contract, until)?;
    let ours = billing::invoices(contract, &histories, until)?;
    Ok(invoice_check::unrefunded(&files, &ours)?)
}
