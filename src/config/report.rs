//! Checks `[smtp]` and `[[report]]`: the mail server and the scheduled
//! reports, each written to a folder and perhaps mailed.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::{self, Deserializer};
use toml::Spanned;

use super::fields::{Choice, Named, NonEmpty, Text, Within};
use super::{ConfigError, Ctx};
use crate::report::CsvStyle;
use crate::report::schedule::{Format, Kind, Schedule, valid_name};
use crate::secret::Secret;

/// How the connection to the mail server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain, then STARTTLS (required); port 587 by default.
    StartTls,
    /// TLS from the start; port 465 by default.
    Tls,
    /// No encryption (a relay on the local network); port 25 by default.
    None,
}

impl SmtpTls {
    pub fn name(self) -> &'static str {
        match self {
            SmtpTls::StartTls => "starttls",
            SmtpTls::Tls => "tls",
            SmtpTls::None => "none",
        }
    }
}

/// The resolved `[smtp]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Smtp {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    /// The user and password to log in with, if the server wants a login.
    pub login: Option<(String, Secret)>,
    /// The sender address, e.g. `telleverk@example.com` or
    /// `Telleverk <telleverk@example.com>`.
    pub from: String,
}

/// A resolved `[[report]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub name: String,
    pub schedule: Schedule,
    pub kind: Kind,
    pub format: Format,
    pub csv_style: CsvStyle,
    /// Absolute: `directory` of the config, relative to the config's folder.
    pub directory: PathBuf,
    pub email_to: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSmtp {
    host: Text,
    port: Option<Within<1, 65_535>>,
    #[serde(default = "starttls")]
    tls: Choice<SmtpTls>,
    username: Option<Spanned<Text>>,
    password_env: Option<Spanned<String>>,
    from: Spanned<Mailbox>,
}

fn starttls() -> Choice<SmtpTls> {
    Choice(SmtpTls::StartTls)
}

impl Named for SmtpTls {
    const NAMES: &'static [(&'static str, Self)] = &[
        ("starttls", SmtpTls::StartTls),
        ("tls", SmtpTls::Tls),
        ("none", SmtpTls::None),
    ];
    const EXPECTED: &'static str = "\"starttls\", \"tls\" or \"none\"";
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawReport {
    name: ReportName,
    schedule: Schedule,
    kind: Choice<Kind>,
    format: Option<Spanned<String>>,
    #[serde(default = "semicolon")]
    csv_delimiter: Choice<CsvStyle>,
    directory: Option<NonEmpty>,
    email_to: Option<Spanned<Vec<Mailbox>>>,
}

fn semicolon() -> Choice<CsvStyle> {
    Choice(CsvStyle::Semicolon)
}

impl Named for Kind {
    const NAMES: &'static [(&'static str, Self)] = &[
        ("counters", Kind::Counters),
        ("vendor-billing", Kind::VendorBilling),
    ];
    const EXPECTED: &'static str = "\"counters\" or \"vendor-billing\"";
}

impl Named for CsvStyle {
    const NAMES: &'static [(&'static str, Self)] =
        &[(";", CsvStyle::Semicolon), (",", CsvStyle::Comma)];
    const EXPECTED: &'static str = "\";\" or \",\"";
}

/// A five-field cron schedule, read in Europe/Oslo.
impl<'de> Deserialize<'de> for Schedule {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Schedule, D::Error> {
        let text = String::deserialize(d)?;
        Schedule::parse(&text).map_err(de::Error::custom)
    }
}

/// A report's name: it becomes part of file names and URLs.
#[derive(Debug, Clone)]
struct ReportName(String);

impl<'de> Deserialize<'de> for ReportName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ReportName, D::Error> {
        let name = String::deserialize(d)?;
        if !valid_name(&name) {
            return Err(de::Error::custom(format!(
                "`{name}` cannot name a report: use letters, digits, `-`, `_` and `.` \
                 (it becomes part of file names and URLs)"
            )));
        }
        Ok(ReportName(name))
    }
}

/// A mail address (or `Name <address>`) lettre accepts, trimmed.
#[derive(Debug, Clone)]
pub(super) struct Mailbox(pub(super) String);

impl<'de> Deserialize<'de> for Mailbox {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Mailbox, D::Error> {
        let text = String::deserialize(d)?;
        let text = text.trim();
        if text.is_empty() {
            return Err(de::Error::custom("must not be empty"));
        }
        text.parse::<lettre::message::Mailbox>()
            .map(|_| Mailbox(text.to_owned()))
            .map_err(|_| de::Error::custom(format!("`{text}` is not a mail address")))
    }
}

impl Ctx<'_> {
    /// An `email_to` list: the addresses, which need `[smtp]` to be sent
    /// through.
    pub(super) fn mail_list(
        &self,
        list: Option<&Spanned<Vec<Mailbox>>>,
        key: &str,
        smtp: Option<&Smtp>,
    ) -> Result<Vec<String>, ConfigError> {
        let Some(list) = list else {
            return Ok(Vec::new());
        };
        if smtp.is_none() && !list.get_ref().is_empty() {
            return Err(self.at(list, key, "needs an [smtp] table to send through"));
        }
        Ok(list.get_ref().iter().map(|m| m.0.clone()).collect())
    }

    pub(super) fn smtp(&self, raw: &Spanned<RawSmtp>) -> Result<Smtp, ConfigError> {
        let s = raw.get_ref();
        let tls = s.tls.0;
        let port = match s.port {
            Some(p) => p.get() as u16,
            None => match tls {
                SmtpTls::StartTls => 587,
                SmtpTls::Tls => 465,
                SmtpTls::None => 25,
            },
        };
        let login = match (&s.username, &s.password_env) {
            (None, None) => None,
            (Some(u), Some(var)) => {
                let password = self
                    .env_secret(var, "smtp.password_env", super::SecretUse::Mail)
                    .unwrap_or_else(|| super::UNSET_SECRET.to_owned());
                Some((u.get_ref().0.clone(), Secret::new(password)))
            }
            (Some(u), None) => {
                return Err(self.at(
                    u,
                    "smtp.password_env",
                    "is required with `username` (the variable that holds the password)",
                ));
            }
            (None, Some(var)) => {
                return Err(self.at(var, "smtp.username", "is required with `password_env`"));
            }
        };
        Ok(Smtp {
            host: s.host.0.clone(),
            port,
            tls,
            login,
            from: s.from.get_ref().0.clone(),
        })
    }

    pub(super) fn reports(
        &self,
        raw: &[Spanned<RawReport>],
        smtp: Option<&Smtp>,
        base: &Path,
    ) -> Result<Vec<Report>, ConfigError> {
        let mut reports: Vec<Report> = Vec::new();
        for (i, r) in raw.iter().enumerate() {
            let report = self.report(i, r, smtp, base)?;
            if let Some(other) = reports.iter().position(|o| o.name == report.name) {
                return Err(self.at(
                    r,
                    &format!("report[{i}].name"),
                    format!("`{}` is also the name of report[{other}]", report.name),
                ));
            }
            reports.push(report);
        }
        Ok(reports)
    }

    fn report(
        &self,
        i: usize,
        raw: &Spanned<RawReport>,
        smtp: Option<&Smtp>,
        base: &Path,
    ) -> Result<Report, ConfigError> {
        let table = format!("report[{i}]");
        let key = |k: &str| format!("{table}.{k}");
        let r = raw.get_ref();
        let kind = r.kind.0;
        let format = match &r.format {
            None => Format::Csv,
            Some(f) => Format::parse(f.get_ref().trim())
                .filter(|format| kind.formats().contains(format))
                .ok_or_else(|| {
                    let allowed: Vec<&str> = kind.formats().iter().map(|f| f.name()).collect();
                    self.at(
                        f,
                        &key("format"),
                        format!(
                            "`{}` is not a format of a {} report: use {}",
                            f.get_ref(),
                            kind.name(),
                            allowed.join(", ")
                        ),
                    )
                })?,
        };
        let directory = match &r.directory {
            None => base.join("reports"),
            Some(d) => base.join(&d.0),
        };
        // Absolute: the runs record where their files are, and a mail is
        // sent again from there by a later process.
        let directory = std::path::absolute(&directory).unwrap_or(directory);
        let email_to = self.mail_list(r.email_to.as_ref(), &key("email_to"), smtp)?;
        Ok(Report {
            name: r.name.0.clone(),
            schedule: r.schedule.clone(),
            kind,
            format,
            csv_style: r.csv_delimiter.0,
            directory,
            email_to,
        })
    }
}
