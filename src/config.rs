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
pub use crate::database::Database;
use crate::database::{Server, SslMode};
use crate::profile::{Profiles, load_profiles};
use crate::secret::Secret;
use crate::serial::Serial;
use crate::snmp::{AuthProtocol, Credentials, PrivProtocol, Version};
use fields::{Choice, DeviceTimeout, NonEmpty, PollInterval, SnmpTimeout, Within};

/// The configuration could not be loaded. Exit code 2.
#[derive(Debug, Clone, thiserror::Error)]
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
    /// Marked as printing black only: its `total` may stand for `bw_total`.
    pub mono: bool,
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
    /// The most one device's whole poll may take; a round never waits longer.
    pub device_timeout: Duration,
}

/// The resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub file: PathBuf,
    /// `[storage]`: an SQLite file (`path`, the default) or a PostgreSQL
    /// database (`url`).
    pub storage: Database,
    pub collector: Collector,
    pub devices: Vec<DeviceEntry>,
    /// `[[device]]` entries with a serial and no address: read by hand.
    pub hand_read: Vec<HandDevice>,
    pub contracts: Vec<Contract>,
    pub profiles: Profiles,
    /// Rated toner yields: built in (`mibs/yields/`) and from the `yields/`
    /// folder of `[profiles] dir`.
    pub yields: crate::supplies::yields::Yields,
    pub http: Http,
    pub alerts: crate::alerts::Thresholds,
    pub smtp: Option<Smtp>,
    pub reports: Vec<Report>,
    /// `[[notify]]`: who is told of alerts, and how.
    pub notify: Vec<Notify>,
    /// `[display]`: the zone instants are shown in, and how numbers are written.
    pub display: crate::display::Display,
    /// `[discovery]`: what `telleverk discover` tries.
    pub discovery: Discovery,
    /// `[invoice_check]`: the tolerance of pages and readings.
    pub invoice_check: crate::invoice_check::Tolerance,
    /// `[calendar]`: the working calendar of uptime.
    pub calendar: crate::uptime::Calendar,
    /// `[site] name`: this telleverk is one site of many.
    pub site: Option<String>,
    /// `[upstream]`: the central server this site forwards to.
    pub upstream: Option<Upstream>,
    /// Secrets named by an environment variable that is not set. A command
    /// that uses them calls [`Config::require`] first; one that does not
    /// (`invoices`, `reconcile`, `import-readings`, …) runs without them.
    pub unset_secrets: Vec<Unset>,
}

/// What a secret is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretUse {
    /// SNMP communities and v3 passwords: `poll`, `serve`.
    Devices,
    /// The communities of `[discovery]`: `discover`.
    Discovery,
    /// API tokens from `token_env`: `serve`.
    Api,
    /// The SMTP password: `serve`, `report run`.
    Mail,
    /// The webhook keys of `[[notify]]`: `serve`.
    Notify,
    /// The `collector` token of `[upstream]`: `serve`.
    Upstream,
}

/// A secret whose environment variable is not set, with the error a
/// command that needs it reports.
#[derive(Debug, Clone)]
pub struct Unset {
    pub used_by: SecretUse,
    pub error: ConfigError,
}

/// What stands for a secret whose variable is not set: never sent, since a
/// command that would send it stops at [`Config::require`].
const UNSET_SECRET: &str = "(the variable is not set)";

impl Config {
    /// The first secret of `uses` that is not set, as the config error it is.
    pub fn require(&self, uses: &[SecretUse]) -> Result<(), ConfigError> {
        match self
            .unset_secrets
            .iter()
            .find(|u| uses.contains(&u.used_by))
        {
            Some(unset) => Err(unset.error.clone()),
            None => Ok(()),
        }
    }
}

/// A device read by hand (no SNMP address): only its per-device settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandDevice {
    pub serial: Serial,
    pub location: Option<String>,
    pub large_counts_double: bool,
    /// Marked as printing black only.
    pub mono: bool,
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

    /// True when the device with this serial is marked mono (`mono = true`).
    pub fn mono(&self, serial: &str) -> bool {
        self.devices
            .iter()
            .any(|d| d.serial.as_deref() == Some(serial) && d.mono)
            || self.hand_read.iter().any(|d| d.serial == serial && d.mono)
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
    #[serde(default)]
    notify: Vec<Spanned<notify::RawNotify>>,
    #[serde(default)]
    display: RawDisplay,
    #[serde(default)]
    discovery: RawDiscovery,
    #[serde(default)]
    invoice_check: RawInvoiceCheck,
    #[serde(default)]
    calendar: RawCalendar,
    site: Option<Spanned<site::RawSite>>,
    upstream: Option<Spanned<site::RawUpstream>>,
}

/// `[calendar]`: days without working hours beyond the public holidays.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCalendar {
    #[serde(default)]
    closed: Vec<fields::Date>,
}

/// `[invoice_check]`: how far a count may be off before it is disputed.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawInvoiceCheck {
    tolerance_pages: Within<0, 1_000_000_000>,
    tolerance_pct: fields::Percent,
}

impl Default for RawInvoiceCheck {
    fn default() -> RawInvoiceCheck {
        let t = crate::invoice_check::Tolerance::default();
        RawInvoiceCheck {
            tolerance_pages: Within(i64::try_from(t.pages).unwrap_or(0)),
            tolerance_pct: fields::Percent(t.pct),
        }
    }
}

/// `[discovery]`: the credentials and pace of `telleverk discover`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawDiscovery {
    communities: Vec<Spanned<String>>,
    community_env: Vec<Spanned<String>>,
    v3: Vec<Spanned<RawV3>>,
    concurrency: Within<1, 65_536>,
    timeout: SnmpTimeout,
    retries: Within<0, 10>,
    ranges: Vec<Spanned<String>>,
    port: Within<1, 65_535>,
    rediscover: Option<Spanned<fields::Rediscover>>,
    auto_add: Option<Spanned<bool>>,
}

impl Default for RawDiscovery {
    fn default() -> RawDiscovery {
        RawDiscovery {
            communities: Vec::new(),
            community_env: Vec::new(),
            v3: Vec::new(),
            concurrency: Within(256),
            timeout: SnmpTimeout(Duration::from_secs(1)),
            retries: Within(0),
            ranges: Vec::new(),
            port: Within(161),
            rediscover: None,
            auto_add: None,
        }
    }
}

/// How often `serve` scans `[discovery] ranges` unless `rediscover` says.
pub const DEFAULT_REDISCOVER: Duration = Duration::from_secs(24 * 3_600);

/// `[discovery]` resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovery {
    /// Each credential to try, in order: the v1/v2c communities (named
    /// `communities[0]`, or `$VARIABLE` for one of `community_env`), then
    /// the `[[discovery.v3]]` users (`v3[0]`). A found device names its
    /// credential so, never by the secret.
    pub credentials: Vec<(String, Version, Credentials)>,
    pub concurrency: usize,
    pub timeout: Duration,
    pub retries: u32,
    /// The ranges `serve` scans on schedule (empty: it never scans).
    pub ranges: Vec<crate::discover::Range>,
    /// The UDP port asked on every address.
    pub port: u16,
    /// How often `serve` scans the ranges.
    pub rediscover: Duration,
    /// Whether `serve` polls the Konica Minolta MFPs it finds that no
    /// entry polls (marked `discovered` until a person adds them).
    pub auto_add: bool,
}

impl Discovery {
    /// The credential named `name` (`communities[0]`, `$VARIABLE`, `v3[0]`).
    pub fn credential(&self, name: &str) -> Option<&(String, Version, Credentials)> {
        self.credentials.iter().find(|(n, _, _)| n == name)
    }
}

/// The key of the entry `serve` polls a discovered device through: by its
/// serial, so it follows the device from address to address.
pub fn discovered_key(serial: &str) -> String {
    format!("{DISCOVERED_PREFIX}{serial}")
}

/// Whether an entry key is a discovered device's ([`discovered_key`]).
pub fn is_discovered_key(key: &str) -> bool {
    key.starts_with(DISCOVERED_PREFIX)
}

const DISCOVERED_PREFIX: &str = "discovered:";

/// `[display]`: Europe/Oslo and Norwegian number forms unless set.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawDisplay {
    timezone: fields::Zone,
    locale: Choice<crate::display::Locale>,
}

impl Default for RawDisplay {
    fn default() -> RawDisplay {
        let d = crate::display::Display::default();
        RawDisplay {
            timezone: fields::Zone(d.timezone),
            locale: Choice(d.locale),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStorage {
    path: Option<NonEmpty>,
    /// A PostgreSQL database instead of an SQLite file.
    url: Option<Spanned<String>>,
    /// The variable that holds the PostgreSQL password.
    password_env: Option<Spanned<String>>,
    sslmode: Option<Spanned<String>>,
    /// The CA certificates (PEM) a `verify-full` server's certificate
    /// must chain to.
    sslrootcert: Option<Spanned<String>>,
}

/// `[collector]`, each value checked as it is read; what is left out has its
/// default.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawCollector {
    interval: PollInterval,
    concurrency: Within<1, 65_536>,
    timeout: SnmpTimeout,
    retries: Within<0, 10>,
    device_timeout: DeviceTimeout,
}

impl Default for RawCollector {
    fn default() -> RawCollector {
        RawCollector {
            interval: PollInterval(Duration::from_secs(900)),
            concurrency: Within(256),
            timeout: SnmpTimeout(Duration::from_secs(2)),
            retries: Within(1),
            device_timeout: DeviceTimeout(Duration::from_secs(30)),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfiles {
    dir: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDevice {
    address: Option<device::Address>,
    version: Option<Spanned<Choice<Version>>>,
    community: Option<Spanned<String>>,
    community_env: Option<Spanned<String>>,
    serial: Option<Spanned<Serial>>,
    location: Option<String>,
    large_counts_double: Option<Spanned<bool>>,
    mono: Option<Spanned<bool>>,
    profile: Option<Spanned<String>>,
    v3: Option<Spanned<RawV3>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawV3 {
    user: NonEmpty,
    auth_protocol: Option<Choice<Option<AuthProtocol>>>,
    auth_password: Option<Spanned<String>>,
    auth_password_env: Option<Spanned<String>>,
    privacy_protocol: Option<Choice<Option<PrivProtocol>>>,
    privacy_password: Option<Spanned<String>>,
    privacy_password_env: Option<Spanned<String>>,
    #[serde(default)]
    context: String,
    #[serde(default = "yes")]
    accept_unauthenticated_reports: bool,
}

fn yes() -> bool {
    true
}

/// The folder relative paths in the config file at `path` are read from.
fn folder_of(path: &Path) -> PathBuf {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf()
}

/// The database when `[storage] path` is left out: `telleverk.db` beside
/// the config file at `path`.
pub fn default_storage_path(path: &Path) -> PathBuf {
    folder_of(path).join("telleverk.db")
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
        unset: std::cell::RefCell::default(),
    };
    let raw: RawConfig = ctx.read(text)?;
    let base = folder_of(path);
    let storage = ctx.storage(&raw.storage, &base, path)?;
    let collector = Collector {
        interval: raw.collector.interval.0,
        concurrency: raw.collector.concurrency.get() as usize,
        timeout: raw.collector.timeout.0,
        retries: raw.collector.retries.get() as u32,
        device_timeout: raw.collector.device_timeout.0,
    };
    let profiles_dir = raw.profiles.dir.as_ref().map(|d| base.join(d.get_ref()));
    let profiles = load_profiles(profiles_dir.as_deref()).map_err(|e| ConfigError {
        file: ctx.file.clone(),
        line: raw.profiles.dir.as_ref().map(|d| ctx.line(d.span().start)),
        key: "profiles.dir".into(),
        message: e.to_string(),
    })?;
    let yields = crate::profile::load_yields(profiles_dir.as_deref()).map_err(|e| ConfigError {
        file: e.file.clone(),
        line: (e.line > 0).then_some(e.line),
        key: e.key.clone(),
        message: format!(
            "{} (rated toner yields, read through `profiles.dir`)",
            e.message
        ),
    })?;
    let mut devices = Vec::new();
    let mut hand_read = Vec::new();
    for (index, raw_device) in raw.device.iter().enumerate() {
        match ctx.hand_device(index, raw_device)? {
            Some(hand) => hand_read.push(hand),
            None => devices.push(ctx.device(index, raw_device, &profiles)?),
        }
    }
    // The fingerprint key sits beside the database file, or beside the
    // config where the database is a server.
    let key_beside = storage
        .file()
        .map_or_else(|| default_storage_path(path), Path::to_path_buf);
    ctx.key_entries(&mut devices, &key_beside)?;
    ctx.check_devices(&devices, &raw.device)?;
    let contracts = ctx.contracts(&raw.contract)?;
    let http = ctx.http(&raw.http, &base)?;
    let alerts = raw.alerts.thresholds();
    let smtp = raw.smtp.as_ref().map(|s| ctx.smtp(s)).transpose()?;
    let reports = ctx.reports(&raw.report, smtp.as_ref(), &base)?;
    let notify = ctx.notifies(&raw.notify, smtp.as_ref())?;
    let (site, upstream) = ctx.site(raw.site.as_ref(), raw.upstream.as_ref(), &base)?;
    Ok(Config {
        file: path.to_path_buf(),
        storage,
        collector,
        devices,
        hand_read,
        contracts,
        profiles,
        yields,
        http,
        alerts,
        smtp,
        reports,
        notify,
        display: crate::display::Display {
            timezone: raw.display.timezone.0,
            locale: raw.display.locale.0,
        },
        discovery: ctx.discovery(&raw.discovery)?,
        calendar: crate::uptime::Calendar::new(raw.calendar.closed.iter().map(|d| d.0)),
        invoice_check: crate::invoice_check::Tolerance {
            pages: raw.invoice_check.tolerance_pages.get(),
            pct: raw.invoice_check.tolerance_pct.0,
        },
        site,
        upstream,
        unset_secrets: ctx.unset.take(),
    })
}

struct Ctx<'a> {
    file: String,
    text: &'a str,
    env: &'a dyn Fn(&str) -> Option<String>,
    /// Secrets whose environment variable is not set: an error only for
    /// the commands that use them.
    unset: std::cell::RefCell<Vec<Unset>>,
}

impl Ctx<'_> {
    fn line(&self, offset: usize) -> usize {
        crate::profile::line_of(self.text, offset)
    }

    fn at<T>(&self, spanned: &Spanned<T>, key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.file.clone(),
            line: Some(self.line(spanned.span().start)),
            key: key.to_owned(),
            message: message.into(),
        }
    }

    /// Reads the file into its raw tables: every value checks itself, and an
    /// error names the key it was read at (`contract[0].start`) and its line.
    fn read(&self, text: &str) -> Result<RawConfig, ConfigError> {
        let syntax = |e: toml::de::Error| ConfigError {
            file: self.file.clone(),
            line: e.span().map(|s| self.line(s.start)),
            key: "(syntax)".into(),
            message: e.message().trim().to_owned(),
        };
        let reader = toml::de::Deserializer::parse(text).map_err(syntax)?;
        serde_path_to_error::deserialize(reader).map_err(|e| {
            let key = key_of(e.path());
            let inner = e.into_inner();
            let message = inner.message().trim().to_owned();
            let line = inner.span().map(|s| self.line(s.start));
            let message = with_suggestion(message);
            let (key, message) = match missing_field(&message) {
                Some(field) if key.is_empty() => (field.to_owned(), "is required".to_owned()),
                Some(field) => (format!("{key}.{field}"), "is required".to_owned()),
                None if key.is_empty() => ("(syntax)".to_owned(), message),
                None => (key, message),
            };
            ConfigError {
                file: self.file.clone(),
                line,
                key,
                message,
            }
        })
    }

    /// `[storage]`: `path` (an SQLite file, by default `telleverk.db`
    /// beside the config) or `url` (PostgreSQL) with `password_env` and
    /// `sslmode`.
    fn storage(&self, raw: &RawStorage, base: &Path, file: &Path) -> Result<Database, ConfigError> {
        let Some(url) = &raw.url else {
            for (key, given) in [
                ("storage.password_env", raw.password_env.as_ref()),
                ("storage.sslmode", raw.sslmode.as_ref()),
                ("storage.sslrootcert", raw.sslrootcert.as_ref()),
            ] {
                if let Some(given) = given {
                    return Err(self.at(
                        given,
                        key,
                        "is for a PostgreSQL database: give `url` too",
                    ));
                }
            }
            return Ok(Database::File(match &raw.path {
                Some(p) => base.join(&p.0),
                None => default_storage_path(file),
            }));
        };
        if raw.path.is_some() {
            return Err(self.at(
                url,
                "storage.url",
                "give either `path` (an SQLite file) or `url` (PostgreSQL), not both",
            ));
        }
        let sslmode = match &raw.sslmode {
            None => SslMode::Prefer,
            Some(mode) => SslMode::parse(mode.get_ref()).ok_or_else(|| {
                self.at(
                    mode,
                    "storage.sslmode",
                    format!("`{}` is not an sslmode: {}", mode.get_ref(), SslMode::NAMES),
                )
            })?,
        };
        let root_cert = match &raw.sslrootcert {
            None => None,
            Some(given) if sslmode != SslMode::VerifyFull => {
                return Err(self.at(
                    given,
                    "storage.sslrootcert",
                    format!(
                        "checks the server's certificate, which only sslmode = \"verify-full\" \
                         does (sslmode is `{}`)",
                        sslmode.name()
                    ),
                ));
            }
            Some(given) => {
                let path = base.join(given.get_ref());
                if !path.is_file() {
                    return Err(self.at(
                        given,
                        "storage.sslrootcert",
                        format!("{} is not a file", path.display()),
                    ));
                }
                Some(path)
            }
        };
        let password = match &raw.password_env {
            None => None,
            Some(var) => match (self.env)(var.get_ref()) {
                Some(value) => Some(Secret::new(value)),
                None => {
                    return Err(self.at(
                        var,
                        "storage.password_env",
                        format!(
                            "environment variable `{}` is not set (it holds the database's password)",
                            var.get_ref()
                        ),
                    ));
                }
            },
        };
        Server::new(url.get_ref(), password, sslmode)
            .map(|server| match root_cert {
                Some(path) => server.with_root_cert(path),
                None => server,
            })
            .map(Database::Server)
            .map_err(|message| self.at(url, "storage.url", message))
    }

    /// The value of the environment variable `var` names, or None (recorded
    /// as unset, for the commands that need it).
    fn env_secret(&self, var: &Spanned<String>, key: &str, used_by: SecretUse) -> Option<String> {
        let value = (self.env)(var.get_ref());
        if value.is_none() {
            let error = self.at(
                var,
                key,
                format!("environment variable `{}` is not set", var.get_ref()),
            );
            self.unset.borrow_mut().push(Unset { used_by, error });
        }
        value
    }

    /// `[discovery]`: its literal communities, those of its variables, then
    /// its v3 users (checked as a `[device.v3]` table is).
    fn discovery(&self, raw: &RawDiscovery) -> Result<Discovery, ConfigError> {
        let community = |c: String| Credentials::Community(Secret::new(c));
        let mut credentials: Vec<(String, Version, Credentials)> = Vec::new();
        for (i, c) in raw.communities.iter().enumerate() {
            let name = format!("communities[{i}]");
            credentials.push((name, Version::V2c, community(c.get_ref().clone())));
        }
        for (i, var) in raw.community_env.iter().enumerate() {
            let key = format!("discovery.community_env[{i}]");
            if let Some(value) = self.env_secret(var, &key, SecretUse::Discovery) {
                credentials.push((
                    format!("${}", var.get_ref()),
                    Version::V2c,
                    community(value),
                ));
            }
        }
        for (i, v3) in raw.v3.iter().enumerate() {
            let before = self.unset.borrow().len();
            let parsed = self.v3(v3, &format!("discovery.v3[{i}]"))?;
            // Its passwords' variables are discover's to need, not poll's.
            for unset in self.unset.borrow_mut().iter_mut().skip(before) {
                unset.used_by = SecretUse::Discovery;
            }
            credentials.push((format!("v3[{i}]"), Version::V3, Credentials::V3(parsed)));
        }
        let mut ranges = Vec::new();
        for (i, text) in raw.ranges.iter().enumerate() {
            let range = crate::discover::Range::parse(text.get_ref())
                .map_err(|e| self.at(text, &format!("discovery.ranges[{i}]"), e.to_string()))?;
            ranges.push(range);
        }
        let total: u64 = ranges.iter().map(crate::discover::Range::len).sum();
        if let Some(last) = raw.ranges.last()
            && total > crate::discover::MAX_ADDRESSES
        {
            return Err(self.at(
                last,
                "discovery.ranges",
                format!(
                    "the ranges hold {total} addresses, more than a /16 ({}): a scan that size \
                     takes minutes and loads the network; list the subnets the printers are on",
                    crate::discover::MAX_ADDRESSES
                ),
            ));
        }
        if ranges.is_empty() {
            let needs = |key: &str| {
                format!(
                    "`{key}` needs `ranges`: the addresses `serve` scans (e.g. ranges = [\"10.20.0.0/22\"])"
                )
            };
            if let Some(r) = &raw.rediscover {
                return Err(self.at(r, "discovery.rediscover", needs("rediscover")));
            }
            if let Some(a) = raw.auto_add.as_ref().filter(|a| *a.get_ref()) {
                return Err(self.at(a, "discovery.auto_add", needs("auto_add")));
            }
        } else if credentials.is_empty()
            && self
                .unset
                .borrow()
                .iter()
                .all(|u| u.used_by != SecretUse::Discovery)
        {
            return Err(self.at(
                &raw.ranges[0],
                "discovery.ranges",
                "`serve` scans these ranges, but [discovery] lists no credential: add \
                 `communities`, `community_env` or a [[discovery.v3]] user",
            ));
        }
        Ok(Discovery {
            credentials,
            concurrency: raw.concurrency.get() as usize,
            timeout: raw.timeout.0,
            retries: raw.retries.get() as u32,
            ranges,
            port: u16::try_from(raw.port.get()).unwrap_or(161),
            rediscover: raw
                .rediscover
                .as_ref()
                .map_or(DEFAULT_REDISCOVER, |r| r.get_ref().0),
            auto_add: raw.auto_add.as_ref().is_some_and(|a| *a.get_ref()),
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
            (None, Some(var)) => {
                let key = format!("{table}.{key}_env");
                let value = self.env_secret(var, &key, SecretUse::Devices);
                Ok(Some(Secret::new(
                    value.unwrap_or_else(|| UNSET_SECRET.to_owned()),
                )))
            }
            (None, None) => Ok(None),
        }
    }
}

mod contract;
mod device;
mod fields;
mod http;
mod notify;
mod report;
mod site;

/// An "unknown field `intervall`, expected one of `interval`, …" message
/// with the likely meant key added ("did you mean `interval`?").
fn with_suggestion(message: String) -> String {
    let Some(rest) = message.strip_prefix("unknown field `") else {
        return message;
    };
    let Some((given, expected)) = rest.split_once("`, expected") else {
        return message;
    };
    let closest = expected
        .split('`')
        .skip(1)
        .step_by(2)
        .map(|known| (strsim::damerau_levenshtein(given, known), known))
        .filter(|(distance, known)| *distance <= 2.max(known.len() / 4))
        .min();
    match closest {
        Some((_, known)) => format!("{message}; did you mean `{known}`?"),
        None => message,
    }
}

/// A key path as the reader gives it (`contract[0].price[1].bw`), without
/// the reader's own wrapper of spanned values.
fn key_of(path: &serde_path_to_error::Path) -> String {
    path.to_string()
        .split('.')
        .filter(|segment| !segment.starts_with("$__"))
        .collect::<Vec<_>>()
        .join(".")
        .trim_start_matches('.')
        .replace(".[", "[")
}

/// The field serde names in "missing field `name`".
fn missing_field(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.strip_suffix('`')
}

pub use http::{Http, Limits, Role, TlsFiles, Token, hash_text, token_hash};
pub use notify::{Notify, Webhook, shown_destination};
pub use report::{Report, Smtp, SmtpTls};
pub use site::{NAME_RULE as SITE_NAME_RULE, Upstream};

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod tests;

#[cfg(test)]
mod contract_tests;
