//! Which alerts are open: from a device's latest state, a contract's standing
//! and today's date. Pure: the caller gathers the facts and says what time it
//! is; an alert is data, never an error.

use chrono::NaiveDate;

use crate::answer::AlertItem;
use crate::billing::PeriodStanding;
use crate::contract::dates::{DAY_MS, midnight};
use crate::contract::{Class, Contract, Membership, PeriodKind};
use crate::record::FailureCause;
use crate::serial::Serial;
use crate::supplies::Supply;
use crate::timestamp::Timestamp;

/// When an alert opens: the `[alerts]` table of the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// A supply at or below this percentage is low.
    pub supply_low_pct: u32,
    /// Warn when a device has no reading this close to a billing boundary.
    pub reading_due_days: u32,
    /// Warn this many days before a notice deadline.
    pub notice_warning_days: u32,
    /// Warn when a supply is forecast to run out within this many working
    /// days.
    pub forecast_days: u32,
    /// Warn when a toner's implied coverage exceeds the contract's 5 % by
    /// more than this share of it, in %.
    pub coverage_tolerance_pct: u32,
    /// A site that has not forwarded for this long is silent (a central
    /// server's alert).
    pub site_silent: std::time::Duration,
}

impl Default for Thresholds {
    fn default() -> Thresholds {
        Thresholds {
            supply_low_pct: 10,
            reading_due_days: 3,
            notice_warning_days: 90,
            forecast_days: 7,
            coverage_tolerance_pct: 15,
            site_silent: std::time::Duration::from_secs(3600),
        }
    }
}

/// What an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    SupplyEmpty,
    SupplyLow,
    DeviceDown,
    Unreachable,
    Stale,
    ReadingDue,
    ProjectedBreach,
    NoticeDeadline,
    NoMeters,
    SupplyEmptySoon,
    CoverageAboveContract,
    UptimeBelowPromise,
    SiteSilent,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::SupplyEmpty => "supply_empty",
            Kind::SupplyLow => "supply_low",
            Kind::DeviceDown => "device_down",
            Kind::Unreachable => "unreachable",
            Kind::Stale => "stale",
            Kind::ReadingDue => "reading_due",
            Kind::ProjectedBreach => "projected_breach",
            Kind::NoticeDeadline => "notice_deadline",
            Kind::NoMeters => "no_meters",
            Kind::SupplyEmptySoon => "supply_empty_soon",
            Kind::CoverageAboveContract => "coverage_above_contract",
            Kind::UptimeBelowPromise => "uptime_below_promise",
            Kind::SiteSilent => "site_silent",
        }
    }

    /// The kind of this name.
    pub fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    pub const ALL: [Kind; 13] = [
        Kind::SupplyEmpty,
        Kind::SupplyLow,
        Kind::DeviceDown,
        Kind::Unreachable,
        Kind::Stale,
        Kind::ReadingDue,
        Kind::ProjectedBreach,
        Kind::NoticeDeadline,
        Kind::NoMeters,
        Kind::SupplyEmptySoon,
        Kind::CoverageAboveContract,
        Kind::UptimeBelowPromise,
        Kind::SiteSilent,
    ];
}

/// One open alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub kind: Kind,
    pub serial: Option<Serial>,
    pub contract: Option<String>,
    /// What of the device or contract it is about, beside its kind: the
    /// supply, the billing boundary, the period; empty when the kind says
    /// it all. With kind, serial and contract it makes the alert's
    /// identity ([`Alert::key`]), which a changing message never moves.
    pub subject: String,
    /// When the condition began, where known.
    pub since: Option<Timestamp>,
    pub message: String,
}

impl Alert {
    /// The alert's identity: the same condition of the same thing has the
    /// same key from one check to the next, whatever its message says now
    /// (a toner at 8 % then at 7 % is one alert).
    pub fn key(&self) -> String {
        format!(
            "{}|{}|{}|{}",
            self.kind.name(),
            self.serial.as_ref().map(Serial::as_str).unwrap_or_default(),
            self.contract.as_deref().unwrap_or_default(),
            self.subject
        )
    }

    /// The alert as every answer shows it.
    pub fn answer(&self, shown: &crate::display::Display) -> AlertItem {
        AlertItem {
            kind: self.kind.name().to_owned(),
            serial: self.serial.as_ref().map(Serial::to_string),
            contract: self.contract.clone(),
            subject: self.subject.clone(),
            since: self.since.map(|t| shown.instant(t)),
            message: self.message.clone(),
        }
    }
}

/// What is known of one device now.
#[derive(Debug, Clone)]
pub struct DeviceFacts<'a> {
    pub serial: &'a Serial,
    /// True when telleverk polls it (false: read by hand).
    pub polled: bool,
    /// The latest successful poll.
    pub last_poll: Option<Timestamp>,
    /// A failure of its entry after the latest poll: (at, cause).
    pub failure: Option<(Timestamp, FailureCause)>,
    /// hrDeviceStatus at the latest poll (5: down).
    pub device_status: Option<i64>,
    /// Its latest poll answered but read no meter.
    pub no_meters: bool,
    pub supplies: &'a [Supply],
}

/// hrDeviceStatus `down`.
const HR_DOWN: i64 = 5;

/// A device's open alerts at `now`; `interval_ms` is the
/// poll interval (stale after two without an answer).
pub fn device_alerts(
    f: &DeviceFacts<'_>,
    settings: &Thresholds,
    interval_ms: i64,
    now: Timestamp,
) -> Vec<Alert> {
    let alert = |kind, subject: &str, since, message: String| Alert {
        kind,
        serial: Some(f.serial.clone()),
        contract: None,
        subject: subject.to_owned(),
        since,
        message,
    };
    let mut out = Vec::new();
    for s in f.supplies {
        let name = if s.description.is_empty() {
            s.kind.as_str()
        } else {
            s.description.as_str()
        };
        // The supply's index tells apart two that share a name (four
        // toners without a description, two waste boxes).
        let subject = format!("{name} #{}", s.index);
        match s.percent {
            Some(0) => out.push(alert(
                Kind::SupplyEmpty,
                &subject,
                None,
                format!("{name} is empty"),
            )),
            Some(p) if p <= i64::from(settings.supply_low_pct) => out.push(alert(
                Kind::SupplyLow,
                &subject,
                None,
                format!("{name} is at {p} % (low at {} %)", settings.supply_low_pct),
            )),
            _ => {}
        }
    }
    if !f.polled {
        return out;
    }
    if let Some((at, cause)) = f.failure {
        out.push(alert(
            Kind::Unreachable,
            "",
            Some(at),
            format!("no answer since the last poll: {cause}"),
        ));
    } else {
        if f.device_status == Some(HR_DOWN) {
            out.push(alert(
                Kind::DeviceDown,
                "",
                f.last_poll,
                "the device reports itself down".to_owned(),
            ));
        }
        if f.no_meters {
            out.push(alert(
                Kind::NoMeters,
                "",
                f.last_poll,
                "the device answers but returned no meter at its latest poll: its profile reads no counter it has".to_owned(),
            ));
        }
    }
    match f.last_poll {
        Some(at) if is_stale(Some(at), interval_ms, now) => out.push(alert(
            Kind::Stale,
            "",
            Some(at),
            format!("no successful poll in {} minutes", (now - at) / 60_000),
        )),
        None => out.push(alert(
            Kind::Stale,
            "",
            None,
            "never polled successfully".to_owned(),
        )),
        _ => {}
    }
    out
}

/// No successful poll within two poll intervals before `now` (or none ever).
pub fn is_stale(last_poll: Option<Timestamp>, interval_ms: i64, now: Timestamp) -> bool {
    last_poll.is_none_or(|at| now - at > 2 * interval_ms)
}

/// The billing boundaries of a contract (the ends of its billing periods)
/// from `from` on, up to `until`.
fn boundaries(contract: &Contract, from: NaiveDate, until: NaiveDate) -> Vec<NaiveDate> {
    let kind = contract.billing_period();
    let end = contract.end();
    (0..)
        .map(|k| contract.period(kind, k).end)
        .skip_while(|b| *b < from)
        .take_while(|b| *b <= until && end.is_none_or(|e| *b <= e))
        .collect()
}

/// A device without a reading within `reading_due_days` before a billing
/// boundary that is at most that many days away (or passed less than that
/// many days ago): its value at the boundary will be an estimate unless
/// someone reads it. `last_reading` is the device's latest reading of any
/// source (Unix milliseconds).
pub fn reading_due(
    contract: &Contract,
    serial: &Serial,
    last_reading: Option<Timestamp>,
    settings: &Thresholds,
    today: NaiveDate,
) -> Option<Alert> {
    let members = contract.devices.iter().filter(|m| m.serial == *serial);
    ReadingDue::on(contract, settings, today)?.alert(serial, members, last_reading)
}

/// The reading-due check of one contract on one day, its boundary found
/// once for every device (a fleet's build asks it 10 000 times).
pub struct ReadingDue<'a> {
    contract: &'a Contract,
    boundary: NaiveDate,
    /// Readings from this instant on are in time for the boundary.
    wanted_from: Timestamp,
    window: chrono::Days,
    /// What the last estimate cost, when the vendor's invoices say.
    note: Option<&'a str>,
}

impl<'a> ReadingDue<'a> {
    /// None when no billing boundary is within `reading_due_days` of `today`.
    pub fn on(
        contract: &'a Contract,
        settings: &Thresholds,
        today: NaiveDate,
    ) -> Option<ReadingDue<'a>> {
        let days = i64::from(settings.reading_due_days);
        let window = chrono::Days::new(settings.reading_due_days.into());
        let from = today.checked_sub_days(window)?;
        let until = today.checked_add_days(window)?;
        let boundary = *boundaries(contract, from, until).first()?;
        Some(ReadingDue {
            contract,
            boundary,
            wanted_from: midnight(boundary) - days * DAY_MS,
            window,
            note: None,
        })
    }

    /// The same check, its alerts also naming what the last estimate cost
    /// (the vendor's estimate not refunded).
    pub fn with_note(self, note: Option<&'a str>) -> ReadingDue<'a> {
        ReadingDue { note, ..self }
    }

    /// Whether this is the check of `contract`.
    pub fn is_of(&self, contract: &Contract) -> bool {
        std::ptr::eq(self.contract, contract)
    }

    /// The alert for `serial`, whose memberships of this contract are
    /// `members`, when it is a member at the boundary and its last reading
    /// is older than the window before it.
    pub fn alert<'m>(
        &self,
        serial: &Serial,
        mut members: impl Iterator<Item = &'m Membership>,
        last_reading: Option<Timestamp>,
    ) -> Option<Alert> {
        let boundary = self.boundary;
        let member = members
            .any(|m| m.from.is_none_or(|f| f < boundary) && m.until.is_none_or(|u| boundary <= u));
        if !member || last_reading.is_some_and(|at| at >= self.wanted_from) {
            return None;
        }
        Some(Alert {
            kind: Kind::ReadingDue,
            serial: Some(serial.clone()),
            contract: Some(self.contract.id.clone()),
            subject: boundary.to_string(),
            since: Some(self.wanted_from),
            message: format!(
                "no reading since {} and the billing boundary {boundary} is near: \
                 without one its value will be estimated{}",
                boundary.checked_sub_days(self.window).unwrap_or(boundary),
                self.note.map(|n| format!("; {n}")).unwrap_or_default()
            ),
        })
    }
}

/// The notice deadline, when it is at most `notice_warning_days` away.
pub fn notice_deadline(
    contract: &Contract,
    settings: &Thresholds,
    today: NaiveDate,
) -> Option<Alert> {
    let (expiry, deadline) = contract.next_deadline(today)?;
    let left = (deadline - today).num_days();
    if left > i64::from(settings.notice_warning_days) {
        return None;
    }
    Some(Alert {
        kind: Kind::NoticeDeadline,
        serial: None,
        contract: Some(contract.id.clone()),
        subject: deadline.to_string(),
        since: None,
        message: format!(
            "written notice to end the contract at {expiry} must be given by {deadline} \
             ({left} days); otherwise it renews for a year at raised prices"
        ),
    })
}

/// A breach of the deviation threshold projected for a running period (the
/// customer must warn the vendor).
pub fn projected_breaches(contract: &Contract, periods: &[PeriodStanding]) -> Vec<Alert> {
    let mut out = Vec::new();
    for p in periods.iter().filter(|p| p.running) {
        for (class, c) in [(Class::Bw, &p.bw), (Class::Colour, &p.colour)] {
            // Only a projection from readings can warn; with none, there is
            // nothing to project (reconcile shows the gaps).
            let (true, Some(pct), Some(projected)) = (c.breach, c.deviation_pct, c.projected)
            else {
                continue;
            };
            let kind = match p.period.kind {
                PeriodKind::Quarter => "quarter",
                PeriodKind::Half => "half-year",
                PeriodKind::Year => "contract year",
            };
            out.push(Alert {
                kind: Kind::ProjectedBreach,
                serial: None,
                contract: Some(contract.id.clone()),
                subject: format!("{} {}", class.name(), p.period.start),
                since: None,
                message: format!(
                    "{} use in the {kind} {}–{} is projected at {} pages, {pct} % from the \
                     commitment (threshold {} %): the vendor must be warned",
                    class.name(),
                    p.period.start,
                    p.period.end,
                    projected,
                    contract.deviation_threshold_pct
                ),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests;

/// A toner whose real coverage over the last 6 months is above the
/// contract's 5 % by more than the tolerance, with at least one whole
/// cartridge of evidence: extra supplies will be invoiced.
pub fn coverage_above_contract(
    serial: &Serial,
    outlook: &crate::answer::SupplyOutlook,
) -> Option<Alert> {
    let c = outlook.coverage.as_ref().filter(|c| c.above_contract)?;
    let number =
        |n: &Option<crate::answer::Number>| n.map_or_else(|| "?".into(), |n| n.0.to_string());
    Some(Alert {
        kind: Kind::CoverageAboveContract,
        serial: Some(serial.clone()),
        contract: None,
        subject: format!("{} #{}", outlook.description, outlook.index),
        since: None,
        message: format!(
            "{}{}: {} % coverage from {} to {} ({} cartridges used, {} paid for by {} A4 pages at {} each) against the contract's {} %: extra supplies will be invoiced",
            outlook.description,
            c.part
                .as_ref()
                .map(|p| format!(" ({p})"))
                .unwrap_or_default(),
            number(&c.implied_pct),
            c.from.as_deref().unwrap_or("?"),
            c.to.as_deref().unwrap_or("?"),
            c.cartridges_used.0,
            number(&c.cartridges_paid),
            c.pages.map_or_else(|| "?".into(), |p| p.to_string()),
            c.rated_yield.map_or_else(|| "?".into(), |y| y.to_string()),
            c.assumed_pct,
        ),
    })
}

/// A contract device whose uptime on working days over the last whole
/// months is below the contract's `uptime_pct` (compared exactly).
pub fn uptime_below_promise(uptime: &crate::answer::Uptime) -> Option<Alert> {
    if !uptime.breach {
        return None;
    }
    Some(Alert {
        kind: Kind::UptimeBelowPromise,
        serial: Serial::parse(&uptime.serial).ok(),
        contract: uptime.contract.clone(),
        subject: String::new(),
        since: None,
        message: format!(
            "uptime {} % on working days {} ({} of {} working hours down), below the {} % contract {} promises",
            uptime.total.uptime_pct.as_deref().unwrap_or("?"),
            uptime.total.month,
            uptime.total.down_hours,
            uptime.total.working_hours,
            uptime.promised_pct.as_deref().unwrap_or("?"),
            uptime.contract.as_deref().unwrap_or("?"),
        ),
    })
}

/// The sites (name, last contact) that have not forwarded for `limit` at
/// `now`: one `site_silent` alert each, open since its last contact.
pub fn silent_sites<'a>(
    sites: impl IntoIterator<Item = (&'a str, Timestamp)>,
    limit: std::time::Duration,
    now: Timestamp,
) -> Vec<Alert> {
    let limit_ms = i64::try_from(limit.as_millis()).unwrap_or(i64::MAX);
    sites
        .into_iter()
        .filter(|(_, last)| now.millis() - last.millis() >= limit_ms)
        .map(|(site, last)| {
            let minutes = (now.millis() - last.millis()) / 60_000;
            Alert {
                kind: Kind::SiteSilent,
                serial: None,
                contract: None,
                subject: site.to_owned(),
                since: Some(last),
                message: format!(
                    "site {site} has forwarded nothing for {} h {} min: its collector, or the network to it, is down",
                    minutes / 60,
                    minutes % 60
                ),
            }
        })
        .collect()
}

#[cfg(test)]
mod site_tests {
    use super::*;

    #[test]
    fn a_site_is_silent_once_its_last_contact_is_as_old_as_the_limit() {
        let now = Timestamp::from_millis(10 * 3_600_000);
        let hour = std::time::Duration::from_secs(3600);
        let sites = [
            ("oslo", Timestamp::from_millis(now.millis() - 3_599_999)),
            ("bergen", Timestamp::from_millis(now.millis() - 3_600_000)),
            (
                "trondheim",
                Timestamp::from_millis(now.millis() - 7_380_000),
            ),
        ];
        let open = silent_sites(sites, hour, now);
        let subjects: Vec<&str> = open.iter().map(|a| a.subject.as_str()).collect();
        assert_eq!(subjects, ["bergen", "trondheim"]);
        assert_eq!(open[1].since, Some(sites[2].1));
        assert!(
            open[1].message.contains("for 2 h 3 min"),
            "{}",
            open[1].message
        );
        assert_eq!(open[0].key(), "site_silent|||bergen");
    }
}
