//! Checks `[http]` (listen address, API tokens) and `[alerts]`.
//!
//! Only a token's SHA-256 digest is kept: a token in the config is written
//! as its hash, or read from an environment variable and hashed at once.

use std::net::SocketAddr;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use toml::Spanned;

use super::{ConfigError, Ctx};
use crate::alerts::Thresholds;

/// What a token may do. Each role may do everything the roles before it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
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
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        match text {
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
}

/// The default listen address: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// The shortest token accepted from the environment.
const MIN_TOKEN_LEN: usize = 20;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHttp {
    listen: Option<Spanned<String>>,
    #[serde(default)]
    token: Vec<Spanned<RawToken>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawToken {
    name: Option<Spanned<String>>,
    role: Option<Spanned<String>>,
    hash: Option<Spanned<String>>,
    token_env: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAlerts {
    supply_low_pct: Option<Spanned<i64>>,
    reading_due_days: Option<Spanned<i64>>,
    notice_warning_days: Option<Spanned<i64>>,
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
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

impl Ctx<'_> {
    pub(super) fn http(&self, raw: &RawHttp) -> Result<Http, ConfigError> {
        let listen = match &raw.listen {
            None => DEFAULT_LISTEN.parse().expect("the default listen address"),
            Some(l) => l.get_ref().trim().parse().map_err(|_| {
                self.at(
                    l,
                    "http.listen",
                    format!(
                        "`{}` is not an address and port like \"127.0.0.1:8080\" or \"[::1]:8080\"",
                        l.get_ref()
                    ),
                )
            })?,
        };
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
        Ok(Http { listen, tokens })
    }

    fn token(&self, i: usize, raw: &Spanned<RawToken>) -> Result<Token, ConfigError> {
        let table = format!("http.token[{i}]");
        let t = raw.get_ref();
        let name = match &t.name {
            Some(n) if !n.get_ref().trim().is_empty() => n.get_ref().trim().to_owned(),
            Some(n) => return Err(self.at(n, &format!("{table}.name"), "must not be empty")),
            None => return Err(self.at(raw, &format!("{table}.name"), "is required")),
        };
        let role = match &t.role {
            None => return Err(self.at(raw, &format!("{table}.role"), "is required")),
            Some(r) => Role::parse(r.get_ref().trim()).ok_or_else(|| {
                self.at(
                    r,
                    &format!("{table}.role"),
                    format!(
                        "`{}` is not a role: use \"viewer\", \"operator\" or \"admin\"",
                        r.get_ref()
                    ),
                )
            })?,
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
                let Some(value) = (self.env)(var.get_ref()) else {
                    return Err(self.at(
                        var,
                        &key,
                        format!("environment variable `{}` is not set", var.get_ref()),
                    ));
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
        Ok(Token { name, role, hash })
    }

    pub(super) fn alerts(&self, raw: &RawAlerts) -> Result<Thresholds, ConfigError> {
        let d = Thresholds::default();
        let bounded = |v: &Option<Spanned<i64>>, key: &str, max: i64, default: u32| match v {
            None => Ok(default),
            Some(v) if (0..=max).contains(v.get_ref()) => Ok(*v.get_ref() as u32),
            Some(v) => Err(self.at(v, key, format!("must be between 0 and {max}"))),
        };
        Ok(Thresholds {
            supply_low_pct: bounded(
                &raw.supply_low_pct,
                "alerts.supply_low_pct",
                100,
                d.supply_low_pct,
            )?,
            reading_due_days: bounded(
                &raw.reading_due_days,
                "alerts.reading_due_days",
                90,
                d.reading_due_days,
            )?,
            notice_warning_days: bounded(
                &raw.notice_warning_days,
                "alerts.notice_warning_days",
                3660,
                d.notice_warning_days,
            )?,
        })
    }
}
