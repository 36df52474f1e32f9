//! Checks `[http]` (listen address, connection limits, API tokens) and
//! `[alerts]`.
//!
//! Only a token's SHA-256 digest is kept: a token in the config is written
//! as its hash, or read from an environment variable and hashed at once.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer};
use sha2::{Digest, Sha256};
use toml::Spanned;

use super::fields::{Choice, HttpTimeout, Named, Text, Within};
use super::{ConfigError, Ctx};
use crate::alerts::Thresholds;

/// What a token may do. Each role from `viewer` on may do everything the
/// roles before it may; a `collector` may only forward a site's readings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// A site's collector: only `POST /api/v1/ingest`, for its one site.
    Collector,
    /// Read everything.
    Viewer,
    /// Also enter readings.
    Operator,
    /// Also run reports and see the configuration.
    Admin,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Collector => "collector",
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "collector" => Some(Role::Collector),
            "viewer" => Some(Role::Viewer),
            "operator" => Some(Role::Operator),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// An API token: its name, role and SHA-256 digest.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    pub name: String,
    pub role: Role,
    pub hash: [u8; 32],
    /// The one site a `collector` forwards for.
    pub site: Option<String>,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Token({}, {})", self.name, self.role.name())
    }
}

/// The resolved `[http]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Http {
    pub listen: SocketAddr,
    pub tokens: Vec<Token>,
    pub limits: Limits,
    /// Web sessions end after this long unused (default 8h).
    pub session_idle: Duration,
    /// Session cookies are `Secure` (set behind a TLS proxy, or when
    /// serving TLS itself).
    pub secure_cookies: bool,
    /// `tls_cert` and `tls_key`: serve HTTPS with this certificate chain
    /// and private key (PEM), checked to hold one of each.
    pub tls: Option<TlsFiles>,
}

/// The PEM files the server's TLS is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: std::path::PathBuf,
    pub key: std::path::PathBuf,
}

/// The default of `[http] session_idle`.
pub const DEFAULT_SESSION_IDLE: Duration = Duration::from_secs(8 * 3600);

/// What one client may hold of the server: connections, time and memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// A connection that sends no complete request head within this long
    /// (idle ones too) is closed.
    pub header_read_timeout: Duration,
    /// A request not answered within this long (its body included) is
    /// answered 503.
    pub request_timeout: Duration,
    /// The largest request body; a larger one is answered 413.
    pub max_body_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_connections: 1024,
            header_read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            max_body_bytes: 1 << 20,
        }
    }
}

/// The default listen address: loopback only.
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8080);

/// The shortest token accepted from the environment.
const MIN_TOKEN_LEN: usize = 20;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHttp {
    listen: Option<Listen>,
    max_connections: Option<Within<1, 65_536>>,
    header_read_timeout: Option<HttpTimeout>,
    request_timeout: Option<HttpTimeout>,
    max_body_bytes: Option<Within<1024, 1_073_741_824>>,
    session_idle: Option<super::fields::SessionIdle>,
    #[serde(default)]
    secure_cookies: bool,
    tls_cert: Option<Spanned<String>>,
    tls_key: Option<Spanned<String>>,
    #[serde(default)]
    token: Vec<Spanned<RawToken>>,
}

/// An address and port to listen on.
#[derive(Debug, Clone, Copy)]
struct Listen(SocketAddr);

impl<'de> Deserialize<'de> for Listen {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Listen, D::Error> {
        let text = String::deserialize(d)?;
        text.trim().parse().map(Listen).map_err(|_| {
            de::Error::custom(format!(
                "`{text}` is not an address and port like \"127.0.0.1:8080\" or \"[::1]:8080\""
            ))
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawToken {
    name: Text,
    role: Choice<Role>,
    hash: Option<Spanned<String>>,
    token_env: Option<Spanned<String>>,
    site: Option<Spanned<String>>,
}

impl Named for Role {
    const NAMES: &'static [(&'static str, Self)] = &[
        ("collector", Role::Collector),
        ("viewer", Role::Viewer),
        ("operator", Role::Operator),
        ("admin", Role::Admin),
    ];
    const EXPECTED: &'static str =
        "a role: use \"viewer\", \"operator\", \"admin\" or \"collector\"";
}

/// `[alerts]`, each value checked as it is read.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawAlerts {
    supply_low_pct: Within<0, 100>,
    reading_due_days: Within<0, 90>,
    notice_warning_days: Within<0, 3660>,
    forecast_days: Within<0, 260>,
    coverage_tolerance_pct: Within<0, 1000>,
    site_silent: Option<super::fields::SiteSilent>,
}

impl Default for RawAlerts {
    fn default() -> RawAlerts {
        let d = Thresholds::default();
        RawAlerts {
            supply_low_pct: Within(i64::from(d.supply_low_pct)),
            reading_due_days: Within(i64::from(d.reading_due_days)),
            notice_warning_days: Within(i64::from(d.notice_warning_days)),
            forecast_days: Within(i64::from(d.forecast_days)),
            coverage_tolerance_pct: Within(i64::from(d.coverage_tolerance_pct)),
            site_silent: None,
        }
    }
}

impl RawAlerts {
    pub(super) fn thresholds(&self) -> Thresholds {
        Thresholds {
            supply_low_pct: self.supply_low_pct.get() as u32,
            reading_due_days: self.reading_due_days.get() as u32,
            notice_warning_days: self.notice_warning_days.get() as u32,
            forecast_days: self.forecast_days.get() as u32,
            coverage_tolerance_pct: self.coverage_tolerance_pct.get() as u32,
            site_silent: self
                .site_silent
                .map_or(Thresholds::default().site_silent, |d| d.0),
        }
    }
}

/// The SHA-256 digest of a token.
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// A digest as the config writes it: `sha256:` and 64 lowercase hex digits.
pub fn hash_text(hash: &[u8; 32]) -> String {
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

fn parse_hash(text: &str) -> Option<[u8; 32]> {
    let hex = text.trim().strip_prefix("sha256:").unwrap_or(text.trim());
    if hex.len() != 64 || !hex.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

impl Ctx<'_> {
    pub(super) fn http(&self, raw: &RawHttp, base: &std::path::Path) -> Result<Http, ConfigError> {
        let listen = raw.listen.map_or(DEFAULT_LISTEN, |l| l.0);
        let mut tokens: Vec<Token> = Vec::new();
        for (i, t) in raw.token.iter().enumerate() {
            let token = self.token(i, t)?;
            let table = format!("http.token[{i}]");
            if let Some(other) = tokens.iter().position(|o| o.name == token.name) {
                return Err(self.at(
                    t,
                    &format!("{table}.name"),
                    format!("`{}` is also the name of http.token[{other}]", token.name),
                ));
            }
            if let Some(other) = tokens.iter().position(|o| o.hash == token.hash) {
                return Err(self.at(
                    t,
                    &table,
                    format!("the same token as http.token[{other}]: give every user their own"),
                ));
            }
            tokens.push(token);
        }
        Ok(Http {
            listen,
            tokens,
            limits: self.limits(raw)?,
            session_idle: raw.session_idle.map_or(DEFAULT_SESSION_IDLE, |d| d.0),
            secure_cookies: raw.secure_cookies || raw.tls_cert.is_some(),
            tls: self.tls_files(raw, base)?,
        })
    }

    /// `tls_cert` and `tls_key`, both or neither, each a PEM file that holds
    /// what it should.
    fn tls_files(
        &self,
        raw: &RawHttp,
        base: &std::path::Path,
    ) -> Result<Option<TlsFiles>, ConfigError> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let (cert, key) = match (&raw.tls_cert, &raw.tls_key) {
            (None, None) => return Ok(None),
            (Some(c), Some(k)) => (c, k),
            (Some(c), None) => {
                return Err(self.at(
                    c,
                    "http.tls_key",
                    "is required with tls_cert: the certificate's private key (PEM)",
                ));
            }
            (None, Some(k)) => {
                return Err(self.at(
                    k,
                    "http.tls_cert",
                    "is required with tls_key: the server's certificate chain (PEM)",
                ));
            }
        };
        let file = |given: &Spanned<String>, key: &str| {
            let path = base.join(given.get_ref());
            if path.is_file() {
                Ok(path)
            } else {
                Err(self.at(given, key, format!("{} is not a file", path.display())))
            }
        };
        let cert_path = file(cert, "http.tls_cert")?;
        let key_path = file(key, "http.tls_key")?;
        let certs = CertificateDer::pem_file_iter(&cert_path)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| {
                self.at(
                    cert,
                    "http.tls_cert",
                    format!("{}: {e}", cert_path.display()),
                )
            })?;
        if certs.is_empty() {
            return Err(self.at(
                cert,
                "http.tls_cert",
                format!(
                    "{}: no certificate in it (PEM, BEGIN CERTIFICATE)",
                    cert_path.display()
                ),
            ));
        }
        PrivateKeyDer::from_pem_file(&key_path).map_err(|e| {
            self.at(
                key,
                "http.tls_key",
                format!("{}: no private key read ({e})", key_path.display()),
            )
        })?;
        Ok(Some(TlsFiles {
            cert: cert_path,
            key: key_path,
        }))
    }

    fn limits(&self, raw: &RawHttp) -> Result<Limits, ConfigError> {
        let d = Limits::default();
        Ok(Limits {
            max_connections: raw
                .max_connections
                .map_or(d.max_connections, |n| n.get() as usize),
            header_read_timeout: raw
                .header_read_timeout
                .map_or(d.header_read_timeout, |t| t.0),
            request_timeout: raw.request_timeout.map_or(d.request_timeout, |t| t.0),
            max_body_bytes: raw
                .max_body_bytes
                .map_or(d.max_body_bytes, |n| n.get() as usize),
        })
    }

    fn token(&self, i: usize, raw: &Spanned<RawToken>) -> Result<Token, ConfigError> {
        let table = format!("http.token[{i}]");
        let t = raw.get_ref();
        let name = t.name.0.clone();
        let role = t.role.0;
        let site = match (&t.site, role) {
            (None, Role::Collector) => {
                return Err(self.at(
                    raw,
                    &format!("{table}.site"),
                    "is required for a collector: the one site whose readings it may forward",
                ));
            }
            (None, _) => None,
            (Some(site), Role::Collector) => {
                if !crate::wire::site_name_ok(site.get_ref()) {
                    return Err(self.at(site, &format!("{table}.site"), super::site::NAME_RULE));
                }
                Some(site.get_ref().clone())
            }
            (Some(site), _) => {
                return Err(self.at(
                    site,
                    &format!("{table}.site"),
                    format!(
                        "binds a collector to its site; a {} token reads every site",
                        role.name()
                    ),
                ));
            }
        };
        let hash = match (&t.hash, &t.token_env) {
            (Some(h), None) => parse_hash(h.get_ref()).ok_or_else(|| {
                self.at(
                    h,
                    &format!("{table}.hash"),
                    "is not a SHA-256 digest (\"sha256:\" and 64 hex digits): `telleverk token new` prints one",
                )
            })?,
            (None, Some(var)) => {
                let key = format!("{table}.token_env");
                let Some(value) = self.env_secret(var, &key, super::SecretUse::Api) else {
                    // No token hashes to all zeros: this one lets nobody in
                    // (and `serve` does not start without the variable).
                    return Ok(Token {
                        name,
                        role,
                        hash: [0; 32],
                        site,
                    });
                };
                if value.trim().len() < MIN_TOKEN_LEN {
                    return Err(self.at(
                        var,
                        &key,
                        format!(
                            "the token in `{}` is shorter than {MIN_TOKEN_LEN} characters: `telleverk token new` makes a strong one",
                            var.get_ref()
                        ),
                    ));
                }
                token_hash(value.trim())
            }
            (Some(h), Some(_)) => {
                return Err(self.at(
                    h,
                    &format!("{table}.hash"),
                    "give `hash` or `token_env`, not both",
                ));
            }
            (None, None) => {
                return Err(self.at(
                    raw,
                    &format!("{table}.hash"),
                    "is required (or `token_env`)",
                ));
            }
        };
        Ok(Token {
            name,
            role,
            hash,
            site,
        })
    }
}
