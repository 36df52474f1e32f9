//! Configuration: the TOML file as written (serde, unknown keys rejected), then
//! checked and resolved into [`Config`] — paths made absolute, secrets read from
//! the environment and wrapped so they never print, profiles loaded.
//!
//! Every error names the file, the key and, where known, the line.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::contract::Contract;
use crate::profile::{Profiles, load_profiles};
use crate::secret::Secret;
use crate::serial::Serial;
use crate::snmp::{Credentials, Version};

/// The configuration could not be loaded. Exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{file}{}: {key}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct ConfigError {
    pub file: String,
    pub line: Option<usize>,
    pub key: String,
    pub message: String,
}

/// One `[[device]]` entry: an SNMP endpoint, not necessarily one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceEntry {
    /// Position in the file, 0-based.
    pub index: usize,
    /// `host:port` (IPv6 hosts in brackets).
    pub address: String,
    pub version: Version,
    pub credentials: Credentials,
    pub serial: Option<Serial>,
    pub location: Option<String>,
    pub large_counts_double: bool,
    pub profile: Option<String>,
    /// The stable identity of this entry across restarts; contains no secret.
    pub key: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collector {
    pub interval: Duration,
    pub concurrency: usize,
    pub timeout: Duration,
    pub retries: u32,
}

/// The resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub file: PathBuf,
    pub storage_path: PathBuf,
    pub collector: Collector,
    pub devices: Vec<DeviceEntry>,
    /// `[[device]]` entries with a serial and no address: read by hand.
    pub hand_read: Vec<HandDevice>,
    pub contracts: Vec<Contract>,
    pub profiles: Profiles,
    pub http: Http,
    pub alerts: crate::alerts::Thresholds,
    pub smtp: Option<Smtp>,
    pub reports: Vec<Report>,
}

/// A device read by hand (no SNMP address): only its per-device settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandDevice {
    pub serial: Serial,
    pub location: Option<String>,
    pub large_counts_double: bool,
}

impl DeviceEntry {
    /// How the entry authenticates, without its secrets.
    pub fn credentials_redacted(&self) -> String {
        match &self.credentials {
            Credentials::Community(_) => "community (redacted)".to_owned(),
            Credentials::V3(v3) => format!("v3 user {} (passwords redacted)", v3.user),
        }
    }
}

impl Config {
    /// The `[[report]]` with this name.
    pub fn report(&self, name: &str) -> Option<&Report> {
        self.reports.iter().find(|r| r.name == name)
    }

    /// The contract with this id.
    pub fn contract(&self, id: &str) -> Option<&Contract> {
        self.contracts.iter().find(|c| c.id == id)
    }

    /// Where a device stands: the location of the entry it answers through,
    /// else of an entry or hand-read device bound to its serial.
    pub fn location(&self, serial: &str, entry_key: Option<&str>) -> Option<String> {
        let by_entry = entry_key
            .and_then(|k| self.devices.iter().find(|d| d.key == k))
            .and_then(|d| d.location.clone());
        by_entry
            .or_else(|| {
                self.devices
                    .iter()
                    .find(|d| d.serial.as_deref() == Some(serial))
                    .and_then(|d| d.location.clone())
            })
            .or_else(|| {
                self.hand_read
                    .iter()
                    .find(|d| d.serial == serial)
                    .and_then(|d| d.location.clone())
            })
    }

    /// Every serial the config names: bound entries, hand-read devices and
    /// contract members (unsorted, may repeat).
    pub fn serials(&self) -> Vec<Serial> {
        let mut out: Vec<Serial> = self
            .devices
            .iter()
            .filter_map(|d| d.serial.clone())
            .collect();
        out.extend(self.hand_read.iter().map(|d| d.serial.clone()));
        out.extend(
            self.contracts
                .iter()
                .flat_map(|c| c.devices.iter().map(|m| m.serial.clone())),
        );
        out
    }

    /// True when the device with this serial counts large pages twice.
    pub fn large_counts_double(&self, serial: &str) -> bool {
        self.devices
            .iter()
            .any(|d| d.serial.as_deref() == Some(serial) && d.large_counts_double)
            || self
                .hand_read
                .iter()
                .any(|d| d.serial == serial && d.large_counts_double)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    storage: RawStorage,
    #[serde(default)]
    collector: RawCollector,
    #[serde(default)]
    profiles: RawProfiles,
    #[serde(default)]
    device: Vec<Spanned<RawDevice>>,
    #[serde(default)]
    contract: Vec<Spanned<contract::RawContract>>,
    #[serde(default)]
    http: http::RawHttp,
    #[serde(default)]
    alerts: http::RawAlerts,
    smtp: Option<Spanned<report::RawSmtp>>,
    #[serde(default)]
    report: Vec<Spanned<report::RawReport>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStorage {
    path: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCollector {
    interval: Option<Spanned<String>>,
    concurrency: Option<Spanned<i64>>,
    timeout: Option<Spanned<String>>,
    retries: Option<Spanned<i64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfiles {
    dir: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDevice {
    address: Option<Spanned<String>>,
    version: Option<Spanned<String>>,
    community: Option<Spanned<String>>,
    community_env: Option<Spanned<String>>,
    serial: Option<Spanned<String>>,
    location: Option<String>,
    large_counts_double: Option<Spanned<bool>>,
    profile: Option<Spanned<String>>,
    v3: Option<Spanned<RawV3>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawV3 {
    user: Option<Spanned<String>>,
    auth_protocol: Option<Spanned<String>>,
    auth_password: Option<Spanned<String>>,
    auth_password_env: Option<Spanned<String>>,
    privacy_protocol: Option<Spanned<String>>,
    privacy_password: Option<Spanned<String>>,
    privacy_password_env: Option<Spanned<String>>,
    context: Option<String>,
    accept_unauthenticated_reports: Option<bool>,
}

/// Reads, checks and resolves a configuration file.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: path.display().to_string(),
        line: None,
        key: "(file)".into(),
        message: format!("cannot read: {e}"),
    })?;
    parse(path, &text, &|name| std::env::var(name).ok())
}

/// Checks and resolves configuration text; `env` looks up environment variables.
pub fn parse(
    path: &Path,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let ctx = Ctx {
        file: path.display().to_string(),
        text,
        env,
    };
    let raw: RawConfig = toml::from_str(text).map_err(|e| ctx.toml_error(&e))?;
    let base = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let storage_path = match &raw.storage.path {
        Some(p) if p.get_ref().trim().is_empty() => {
            return Err(ctx.at(p, "storage.path", "must not be empty"));
        }
        Some(p) => base.join(p.get_ref()),
        None => base.join("telleverk.db"),
    };
    let collector = ctx.collector(&raw.collector)?;
    let profiles_dir = raw.profiles.dir.as_ref().map(|d| base.join(d.get_ref()));
    let profiles = load_profiles(profiles_dir.as_deref()).map_err(|e| ConfigError {
        file: ctx.file.clone(),
        line: raw.profiles.dir.as_ref().map(|d| ctx.line(d.span().start)),
        key: "profiles.dir".into(),
        message: e.to_string(),
    })?;
    let mut devices = Vec::new();
    let mut hand_read = Vec::new();
    for (index, raw_device) in raw.device.iter().enumerate() {
        match ctx.hand_device(index, raw_device)? {
            Some(hand) => hand_read.push(hand),
            None => devices.push(ctx.device(index, raw_device, &profiles)?),
        }
    }
    ctx.check_devices(&devices, &raw.device)?;
    let contracts = ctx.contracts(&raw.contract)?;
    let http = ctx.http(&raw.http)?;
    let alerts = ctx.alerts(&raw.alerts)?;
    let smtp = raw.smtp.as_ref().map(|s| ctx.smtp(s)).transpose()?;
    let reports = ctx.reports(&raw.report, smtp.as_ref(), &base)?;
    Ok(Config {
        file: path.to_path_buf(),
        storage_path,
        collector,
        devices,
        hand_read,
        contracts,
        profiles,
        http,
        alerts,
        smtp,
        reports,
    })
}

struct Ctx<'a> {
    file: String,
    text: &'a str,
    env: &'a dyn Fn(&str) -> Option<String>,
}

impl Ctx<'_> {
    fn line(&self, offset: usize) -> usize {
        self.text[..offset.min(self.text.len())]
            .matches('\n')
            .count()
            + 1
    }

    fn at<T>(&self, spanned: &Spanned<T>, key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.file.clone(),
            line: Some(self.line(spanned.span().start)),
            key: key.to_owned(),
            message: message.into(),
        }
    }

    fn toml_error(&self, e: &toml::de::Error) -> ConfigError {
        ConfigError {
            file: self.file.clone(),
            line: e.span().map(|s| self.line(s.start)),
            key: "(syntax)".into(),
            message: e.message().trim().to_owned(),
        }
    }

    fn duration(
        &self,
        v: &Option<Spanned<String>>,
        key: &str,
        default: Duration,
    ) -> Result<Duration, ConfigError> {
        let Some(v) = v else { return Ok(default) };
        let d = humantime::parse_duration(v.get_ref().trim()).map_err(|e| {
            self.at(
                v,
                key,
                format!(
                    "`{}` is not a duration like \"15m\" or \"2s\": {e}",
                    v.get_ref()
                ),
            )
        })?;
        if d.is_zero() {
            return Err(self.at(v, key, "must be greater than zero"));
        }
        Ok(d)
    }

    fn collector(&self, raw: &RawCollector) -> Result<Collector, ConfigError> {
        let interval = self.duration(
            &raw.interval,
            "collector.interval",
            Duration::from_secs(900),
        )?;
        let timeout = self.duration(&raw.timeout, "collector.timeout", Duration::from_secs(2))?;
        let concurrency = match &raw.concurrency {
            None => 256,
            Some(c) if (1..=65_536).contains(c.get_ref()) => *c.get_ref() as usize,
            Some(c) => {
                return Err(self.at(c, "collector.concurrency", "must be between 1 and 65536"));
            }
        };
        let retries = match &raw.retries {
            None => 1,
            Some(r) if (0..=10).contains(r.get_ref()) => *r.get_ref() as u32,
            Some(r) => return Err(self.at(r, "collector.retries", "must be between 0 and 10")),
        };
        Ok(Collector {
            interval,
            concurrency,
            timeout,
            retries,
        })
    }

    /// A literal secret or one read from the environment variable named by `KEY_env`.
    fn secret(
        &self,
        literal: &Option<Spanned<String>>,
        env_name: &Option<Spanned<String>>,
        key: &str,
        table: &str,
    ) -> Result<Option<Secret>, ConfigError> {
        match (literal, env_name) {
            (Some(l), Some(_)) => Err(self.at(
                l,
                &format!("{table}.{key}"),
                format!("give `{key}` or `{key}_env`, not both"),
            )),
            (Some(l), None) => Ok(Some(Secret::new(l.get_ref().clone()))),
            (None, Some(var)) => match (self.env)(var.get_ref()) {
                Some(value) => Ok(Some(Secret::new(value))),
                None => Err(self.at(
                    var,
                    &format!("{table}.{key}_env"),
                    format!("environment variable `{}` is not set", var.get_ref()),
                )),
            },
            (None, None) => Ok(None),
        }
    }
}

mod contract;
mod device;
mod http;
mod report;

pub use http::{Http, Role, Token, hash_text, token_hash};
pub use report::{Report, Smtp, SmtpTls};

#[cfg(test)]
mod tests;

#[cfg(test)]
mod contract_tests;
