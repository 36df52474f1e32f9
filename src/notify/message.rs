//! What a notification says: the JSON a webhook receives (and a mail is
//! written from), fixed when the notification is stored.

use serde::{Deserialize, Serialize};

use crate::display::Display;
use crate::storage::AlertEvent;
use crate::timestamp::Timestamp;

/// One notification's body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Message {
    /// An alert opened or closed.
    Alert {
        /// The idempotency id: the same in every attempt to deliver it.
        id: String,
        /// `opened` or `closed`.
        event: String,
        /// When telleverk made the notification (RFC 3339).
        at: String,
        alert: AlertBody,
    },
    /// A digest: what opened and closed since the last one, and what is open.
    Digest {
        id: String,
        at: String,
        /// The last digest's due time, or None for the first.
        after: Option<String>,
        opened: Vec<AlertBody>,
        closed: Vec<AlertBody>,
        open: Vec<AlertBody>,
    },
}

/// An alert as a notification tells it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertBody {
    pub kind: String,
    pub serial: Option<String>,
    pub contract: Option<String>,
    /// What of the device or contract it is about (a supply, a boundary).
    pub subject: String,
    /// When the condition began, or when telleverk first saw it.
    pub since: String,
    /// When it closed, for a closing.
    pub closed_at: Option<String>,
    pub message: String,
    /// Its event in the alert history (`GET /api/v1/alerts/history`): the
    /// opening in a message of its own, the event told in a digest.
    pub history_id: i64,
}

impl AlertBody {
    /// From the opening of an alert, and when it closed if it did.
    pub fn of(opening: &AlertEvent, closed_at: Option<Timestamp>, shown: &Display) -> AlertBody {
        AlertBody {
            kind: opening.kind.clone(),
            serial: opening.serial.clone(),
            contract: opening.contract.clone(),
            subject: opening.subject.clone(),
            since: shown.instant(opening.since.unwrap_or(opening.at)),
            closed_at: closed_at.map(|at| shown.instant(at)),
            message: opening.message.clone(),
            history_id: opening.id,
        }
    }

    /// One line for a person: kind, what, and the message.
    fn line(&self) -> String {
        let mut about = Vec::new();
        if let Some(s) = &self.serial {
            about.push(format!("device {s}"));
        }
        if let Some(c) = &self.contract {
            about.push(format!("contract {c}"));
        }
        let about = if about.is_empty() {
            String::new()
        } else {
            format!(" ({})", about.join(", "))
        };
        format!("{}{about}: {}", self.kind, self.message)
    }
}

impl Message {
    pub fn id(&self) -> &str {
        match self {
            Message::Alert { id, .. } | Message::Digest { id, .. } => id,
        }
    }

    /// One line for a log: what happened, to what.
    pub fn summary(&self) -> String {
        match self {
            Message::Alert { event, alert, .. } => format!("{event} {}", alert.line()),
            Message::Digest { .. } => self.subject(),
        }
    }

    /// The mail's subject line.
    pub fn subject(&self) -> String {
        match self {
            Message::Alert { event, alert, .. } => {
                let what = alert
                    .serial
                    .as_deref()
                    .or(alert.contract.as_deref())
                    .unwrap_or("telleverk");
                let word = if event == "closed" {
                    "closed"
                } else {
                    "opened"
                };
                format!("telleverk: {} {word} — {what}", alert.kind)
            }
            Message::Digest {
                opened,
                closed,
                open,
                ..
            } => format!(
                "telleverk digest: {} opened, {} closed, {} open",
                opened.len(),
                closed.len(),
                open.len()
            ),
        }
    }

    /// The mail's text.
    pub fn text(&self) -> String {
        let mut out = String::new();
        match self {
            Message::Alert {
                id,
                event,
                alert,
                at,
            } => {
                if event == "closed" {
                    out.push_str(&format!(
                        "Closed at {}: {}\n\nIt had been open since {}.\n",
                        alert.closed_at.as_deref().unwrap_or(at),
                        alert.line(),
                        alert.since
                    ));
                } else {
                    out.push_str(&format!("Open since {}: {}\n", alert.since, alert.line()));
                }
                out.push_str(&format!("\nNotification {id}\n"));
            }
            Message::Digest {
                id,
                at,
                after,
                opened,
                closed,
                open,
            } => {
                match after {
                    Some(after) => out.push_str(&format!("Alerts from {after} to {at}.\n")),
                    None => out.push_str(&format!("Alerts up to {at}.\n")),
                }
                for (title, list) in [("Opened", opened), ("Closed", closed), ("Open now", open)] {
                    out.push_str(&format!("\n{title} ({}):\n", list.len()));
                    if list.is_empty() {
                        out.push_str("  none\n");
                    }
                    for a in list {
                        out.push_str(&format!("  - since {}: {}\n", a.since, a.line()));
                    }
                }
                out.push_str(&format!("\nNotification {id}\n"));
            }
        }
        out.push_str("\n-- telleverk\n");
        out
    }
}
