//! Checks `[[notify]]`: who is told of alerts — by mail through `[smtp]`,
//! by a signed webhook, or both — which kinds, and whether one message per
//! alert or a digest on a schedule.

use serde::Deserialize;
use serde::de::{self, Deserializer};
use toml::Spanned;

use super::report::Mailbox;
use super::{ConfigError, Ctx, SecretUse, Smtp};
use crate::alerts::Kind;
use crate::report::schedule::Schedule;
use crate::secret::Secret;

/// A resolved `[[notify]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Notify {
    /// The kinds it is told of; every kind when the config names none.
    pub kinds: Vec<Kind>,
    pub email_to: Vec<String>,
    pub webhook: Option<Webhook>,
    /// Told in one summary on this schedule instead of a message per alert.
    pub digest: Option<Schedule>,
}

/// A destination as logs and errors show it: a mail destination whole, a
/// webhook's URL as scheme, host and port only (its path and query often
/// carry a token, as chat services' hooks do).
pub fn shown_destination(destination: &str) -> String {
    if destination.starts_with("mailto:") {
        return destination.to_owned();
    }
    match reqwest::Url::parse(destination) {
        Ok(url) => {
            let host = url.host_str().unwrap_or("?");
            let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
            let rest = if url.path() == "/" && url.query().is_none() {
                ""
            } else {
                "/…"
            };
            format!("{}://{host}{port}{rest}", url.scheme())
        }
        Err(_) => "(a webhook URL)".to_owned(),
    }
}

/// The address of `Name <address>`, or the text itself.
fn bare_address(text: &str) -> &str {
    match (text.rfind('<'), text.rfind('>')) {
        (Some(open), Some(close)) if open < close => text.get(open + 1..close).unwrap_or(text),
        _ => text,
    }
    .trim()
}

/// Where a webhook posts and the key it signs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    /// An http or https URL.
    pub url: String,
    /// The HMAC-SHA256 key of `X-Telleverk-Signature`.
    pub secret: Secret,
}

impl Notify {
    /// Whether it is told of alerts of `kind`.
    pub fn wants(&self, kind: Kind) -> bool {
        self.kinds.contains(&kind)
    }

    /// The mail destination, as notifications are stored: `mailto:` and the
    /// addresses, so the same addresses are one destination from one
    /// start to the next.
    pub fn mail_destination(&self) -> Option<String> {
        if self.email_to.is_empty() {
            return None;
        }
        let mut addresses: Vec<String> = self
            .email_to
            .iter()
            .map(|a| bare_address(a).to_lowercase())
            .collect();
        addresses.sort_unstable();
        addresses.dedup();
        Some(format!("mailto:{}", addresses.join(",")))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNotify {
    kinds: Option<Spanned<Vec<AlertKind>>>,
    email_to: Option<Spanned<Vec<Mailbox>>>,
    webhook_url: Option<Spanned<WebhookUrl>>,
    webhook_secret_env: Option<Spanned<String>>,
    digest: Option<Schedule>,
}

/// An alert kind by its name, as the API writes it.
#[derive(Debug, Clone, Copy)]
struct AlertKind(Kind);

impl<'de> Deserialize<'de> for AlertKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<AlertKind, D::Error> {
        let text = String::deserialize(d)?;
        let given = text.trim();
        if let Some(kind) = Kind::parse(given) {
            return Ok(AlertKind(kind));
        }
        let closest = Kind::ALL
            .iter()
            .map(|k| (strsim::damerau_levenshtein(given, k.name()), k.name()))
            .filter(|(distance, _)| *distance <= 3)
            .min();
        let hint = match closest {
            Some((_, name)) => format!("did you mean `{name}`? "),
            None => String::new(),
        };
        let names: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
        Err(de::Error::custom(format!(
            "`{}` is not an alert kind: {hint}the kinds are {}",
            crate::serial::excerpt(given),
            names.join(", ")
        )))
    }
}

/// A URL with the http or https scheme and a host.
#[derive(Debug, Clone)]
struct WebhookUrl(String);

impl<'de> Deserialize<'de> for WebhookUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<WebhookUrl, D::Error> {
        let text = String::deserialize(d)?;
        let given = text.trim();
        let shown = crate::serial::excerpt(given);
        let url = reqwest::Url::parse(given)
            .map_err(|e| de::Error::custom(format!("`{shown}` is not a URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(de::Error::custom(format!(
                "`{shown}` is not an http or https URL (its scheme is `{}`)",
                url.scheme()
            )));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(de::Error::custom(format!("`{shown}` names no host")));
        }
        Ok(WebhookUrl(url.to_string()))
    }
}

impl Ctx<'_> {
    pub(super) fn notifies(
        &self,
        raw: &[Spanned<RawNotify>],
        smtp: Option<&Smtp>,
    ) -> Result<Vec<Notify>, ConfigError> {
        let mut out: Vec<Notify> = Vec::new();
        for (i, n) in raw.iter().enumerate() {
            let notify = self.notify(i, n, smtp)?;
            // One receiver, one key: a notification is signed with the key
            // of the first entry that posts to its URL.
            if let (Some(hook), Some(var)) = (&notify.webhook, &n.get_ref().webhook_secret_env)
                && let Some(other) = out.iter().position(|o| {
                    o.webhook
                        .as_ref()
                        .is_some_and(|w| w.url == hook.url && w.secret != hook.secret)
                })
            {
                return Err(self.at(
                    var,
                    &format!("notify[{i}].webhook_secret_env"),
                    format!("posts to the webhook_url of notify[{other}] with another secret: one receiver checks one key"),
                ));
            }
            // A destination has one entry of each way of telling: a second
            // would send each alert twice (ids differ, so a receiver could
            // not drop them), or move the other's digest on.
            let mine: Vec<String> = notify
                .mail_destination()
                .into_iter()
                .chain(notify.webhook.as_ref().map(|w| w.url.clone()))
                .collect();
            if let Some((other, shared)) = out.iter().enumerate().find_map(|(k, o)| {
                let theirs: Vec<String> = o
                    .mail_destination()
                    .into_iter()
                    .chain(o.webhook.as_ref().map(|w| w.url.clone()))
                    .collect();
                let same_way = o.digest.is_some() == notify.digest.is_some();
                mine.iter()
                    .find(|d| same_way && theirs.contains(d))
                    .map(|d| (k, d.clone()))
            }) {
                let how = if notify.digest.is_some() {
                    "a digest"
                } else {
                    "each alert"
                };
                return Err(self.at(
                    n,
                    &format!("notify[{i}]"),
                    format!(
                        "tells {} {how} as notify[{other}] does already: give one entry the kinds of both",
                        shown_destination(&shared)
                    ),
                ));
            }
            out.push(notify);
        }
        Ok(out)
    }

    fn notify(
        &self,
        i: usize,
        raw: &Spanned<RawNotify>,
        smtp: Option<&Smtp>,
    ) -> Result<Notify, ConfigError> {
        let key = |k: &str| format!("notify[{i}].{k}");
        let n = raw.get_ref();
        let kinds = match &n.kinds {
            None => Kind::ALL.to_vec(),
            Some(list) if list.get_ref().is_empty() => {
                return Err(self.at(
                    list,
                    &key("kinds"),
                    "names no kind: leave it out to be told of every kind",
                ));
            }
            Some(list) => {
                let mut kinds: Vec<Kind> = list.get_ref().iter().map(|k| k.0).collect();
                kinds.sort_unstable();
                kinds.dedup();
                kinds
            }
        };
        let email_to = self.mail_list(n.email_to.as_ref(), &key("email_to"), smtp)?;
        let webhook = match (&n.webhook_url, &n.webhook_secret_env) {
            (None, None) => None,
            (Some(url), Some(var)) => {
                let secret = self
                    .env_secret(var, &key("webhook_secret_env"), SecretUse::Notify)
                    .unwrap_or_else(|| super::UNSET_SECRET.to_owned());
                Some(Webhook {
                    url: url.get_ref().0.clone(),
                    secret: Secret::new(secret),
                })
            }
            (Some(url), None) => {
                return Err(self.at(
                    url,
                    &key("webhook_secret_env"),
                    "is required with `webhook_url`: the variable that holds the key \
                     each body is signed with (X-Telleverk-Signature)",
                ));
            }
            (None, Some(var)) => {
                return Err(self.at(
                    var,
                    &key("webhook_url"),
                    "is required with `webhook_secret_env`",
                ));
            }
        };
        if email_to.is_empty() && webhook.is_none() {
            return Err(self.at(
                raw,
                &format!("notify[{i}]"),
                "tells nobody: give `email_to` or `webhook_url` (or both)",
            ));
        }
        Ok(Notify {
            kinds,
            email_to,
            webhook,
            digest: n.digest.clone(),
        })
    }
}
