//! `[site]` and `[upstream]`: this telleverk as one site of many, forwarding
//! what it stores to a central server.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::{ConfigError, Ctx, SecretUse};
use crate::secret::Secret;

/// What a site name may be, as the errors say it.
pub const NAME_RULE: &str =
    "is not a site name: 1 to 40 lowercase letters, digits and `-`, not starting with `-`";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSite {
    name: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawUpstream {
    url: Spanned<String>,
    token_env: Spanned<String>,
    ca_file: Option<Spanned<String>>,
}

/// `[upstream]`: the central server a site forwards to.
#[derive(Debug, Clone)]
pub struct Upstream {
    /// `http://` or `https://`, host and port, without a trailing `/`.
    pub url: String,
    /// The site's `collector` token at the central.
    pub token: Secret,
    /// A PEM file of the CA that signed the central's certificate, when it
    /// is not one the system trusts.
    pub ca_file: Option<PathBuf>,
}

impl Ctx<'_> {
    pub(super) fn site(
        &self,
        site: Option<&Spanned<RawSite>>,
        upstream: Option<&Spanned<RawUpstream>>,
        base: &Path,
    ) -> Result<(Option<String>, Option<Upstream>), ConfigError> {
        let name = match site {
            None => None,
            Some(s) => {
                let name = &s.get_ref().name;
                if !crate::wire::site_name_ok(name.get_ref()) {
                    return Err(self.at(
                        name,
                        "site.name",
                        format!("`{}` {NAME_RULE}", name.get_ref()),
                    ));
                }
                Some(name.get_ref().clone())
            }
        };
        let Some(raw) = upstream else {
            return Ok((name, None));
        };
        if name.is_none() {
            return Err(self.at(
                raw,
                "site.name",
                "is required with [upstream]: the central server keeps each site's entries apart by it",
            ));
        }
        let u = raw.get_ref();
        let url = self.upstream_url(&u.url)?;
        let ca_file = match &u.ca_file {
            None => None,
            Some(_) if url.starts_with("http://") => {
                return Err(self.at(
                    &u.url,
                    "upstream.ca_file",
                    "checks the central's certificate, which only an https:// url has",
                ));
            }
            Some(given) => {
                let path = base.join(given.get_ref());
                if !path.is_file() {
                    return Err(self.at(
                        given,
                        "upstream.ca_file",
                        format!("{} is not a file", path.display()),
                    ));
                }
                Some(path)
            }
        };
        let token = self
            .env_secret(&u.token_env, "upstream.token_env", SecretUse::Upstream)
            .map(|t| Secret::new(t.trim().to_owned()))
            .unwrap_or_else(|| Secret::new(super::UNSET_SECRET.to_owned()));
        Ok((
            name,
            Some(Upstream {
                url,
                token,
                ca_file,
            }),
        ))
    }

    fn upstream_url(&self, given: &Spanned<String>) -> Result<String, ConfigError> {
        let bad = |why: &str| {
            self.at(
                given,
                "upstream.url",
                format!("`{}` {why}", given.get_ref()),
            )
        };
        let url = reqwest::Url::parse(given.get_ref().trim()).map_err(|e| {
            bad(&format!(
                "is not a URL ({e}): give one like \"https://central.example:8080\""
            ))
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad("is not an http:// or https:// URL"));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(bad("names no host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad(
                "holds credentials: the token comes from `upstream.token_env`",
            ));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(bad(
                "has a query or fragment: give the server's address only",
            ));
        }
        Ok(url.as_str().trim_end_matches('/').to_owned())
    }
}
