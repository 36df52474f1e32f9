//! Checks `[smtp]` and `[[report]]`: the mail server and the scheduled
//! reports, each written to a folder and perhaps mailed.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

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
    host: Option<Spanned<String>>,
    port: Option<Spanned<i64>>,
    tls: Option<Spanned<String>>,
    username: Option<Spanned<String>>,
    password_env: Option<Spanned<String>>,
    from: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawReport {
    name: Option<Spanned<String>>,
    schedule: Option<Spanned<String>>,
    kind: Option<Spanned<String>>,
    format: Option<Spanned<String>>,
    csv_delimiter: Option<Spanned<String>>,
    directory: Option<Spanned<String>>,
    email_to: Option<Spanned<Vec<Spanned<String>>>>,
}

/// Whether `text` is a mail address (or `Name <address>`) lettre accepts.
fn mailbox(text: &str) -> bool {
    text.parse::<lettre::message::Mailbox>().is_ok()
}

impl Ctx<'_> {
    pub(super) fn smtp(&self, raw: &Spanned<RawSmtp>) -> Result<Smtp, ConfigError> {
        let s = raw.get_ref();
        let required = |v: &Option<Spanned<String>>, key: &str| match v {
            Some(v) if !v.get_ref().trim().is_empty() => Ok(v.get_ref().trim().to_owned()),
            Some(v) => Err(self.at(v, &format!("smtp.{key}"), "must not be empty")),
            None => Err(self.at(raw, &format!("smtp.{key}"), "is required")),
        };
        let host = required(&s.host, "host")?;
        let tls = match &s.tls {
            None => SmtpTls::StartTls,
            Some(t) => match t.get_ref().trim() {
                "starttls" => SmtpTls::StartTls,
                "tls" => SmtpTls::Tls,
                "none" => SmtpTls::None,
                other => {
                    return Err(self.at(
                        t,
                        "smtp.tls",
                        format!("`{other}` is not \"starttls\", \"tls\" or \"none\""),
                    ));
                }
            },
        };
        let port = match &s.port {
            None => match tls {
                SmtpTls::StartTls => 587,
                SmtpTls::Tls => 465,
                SmtpTls::None => 25,
            },
            Some(p) => u16::try_from(*p.get_ref())
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| self.at(p, "smtp.port", "must be between 1 and 65535"))?,
        };
        let from = required(&s.from, "from")?;
        if !mailbox(&from) {
            let at = s.from.as_ref().expect("from is given");
            return Err(self.at(at, "smtp.from", format!("`{from}` is not a mail address")));
        }
        let login = match (&s.username, &s.password_env) {
            (None, None) => None,
            (Some(u), Some(var)) => {
                let password = (self.env)(var.get_ref()).ok_or_else(|| {
                    self.at(
                        var,
                        "smtp.password_env",
                        format!("environment variable `{}` is not set", var.get_ref()),
                    )
                })?;
                Some((u.get_ref().trim().to_owned(), Secret::new(password)))
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
            host,
            port,
            tls,
            login,
            from,
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
        fn given<'a>(
            ctx: &Ctx<'_>,
            raw: &Spanned<RawReport>,
            v: &'a Option<Spanned<String>>,
            key: String,
        ) -> Result<&'a Spanned<String>, ConfigError> {
            v.as_ref().ok_or_else(|| ctx.at(raw, &key, "is required"))
        }
        let name = given(self, raw, &r.name, key("name"))?;
        if !valid_name(name.get_ref()) {
            return Err(self.at(
                name,
                &key("name"),
                format!(
                    "`{}` cannot name a report: use letters, digits, `-`, `_` and `.` \
                     (it becomes part of file names and URLs)",
                    name.get_ref()
                ),
            ));
        }
        let schedule = given(self, raw, &r.schedule, key("schedule"))?;
        let schedule = Schedule::parse(schedule.get_ref())
            .map_err(|m| self.at(schedule, &key("schedule"), m))?;
        let kind_text = given(self, raw, &r.kind, key("kind"))?;
        let kind = Kind::parse(kind_text.get_ref().trim()).ok_or_else(|| {
            self.at(
                kind_text,
                &key("kind"),
                format!(
                    "`{}` is not \"counters\" or \"vendor-billing\"",
                    kind_text.get_ref()
                ),
            )
        })?;
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
        let csv_style = match &r.csv_delimiter {
            None => CsvStyle::Semicolon,
            Some(d) => CsvStyle::parse(d.get_ref()).ok_or_else(|| {
                self.at(
                    d,
                    &key("csv_delimiter"),
                    format!("`{}` is not \";\" or \",\"", d.get_ref()),
                )
            })?,
        };
        let directory = match &r.directory {
            None => base.join("reports"),
            Some(d) if d.get_ref().trim().is_empty() => {
                return Err(self.at(d, &key("directory"), "must not be empty"));
            }
            Some(d) => base.join(d.get_ref()),
        };
        // Absolute: the runs record where their files are, and a mail is
        // sent again from there by a later process.
        let directory = std::path::absolute(&directory).unwrap_or(directory);
        let mut email_to = Vec::new();
        if let Some(list) = &r.email_to {
            if smtp.is_none() && !list.get_ref().is_empty() {
                return Err(self.at(
                    list,
                    &key("email_to"),
                    "needs an [smtp] table to send through",
                ));
            }
            for address in list.get_ref() {
                let text = address.get_ref().trim();
                if !mailbox(text) {
                    return Err(self.at(
                        address,
                        &key("email_to"),
                        format!("`{text}` is not a mail address"),
                    ));
                }
                email_to.push(text.to_owned());
            }
        }
        Ok(Report {
            name: name.get_ref().clone(),
            schedule,
            kind,
            format,
            csv_style,
            directory,
            email_to,
        })
    }
}
