//! The frame every page shares (head, navigation, who is logged in, the
//! logout button), the one style sheet, and how values are written for
//! people: numbers in the config's locale, instants in its zone.

use maud::{DOCTYPE, Markup, html};
use rust_decimal::Decimal;

use super::session::Session;
use crate::display::Display;

/// The style sheet, compiled in and served at [`CSS_PATH`].
pub const CSS: &str = include_str!("telleverk.css");
pub const CSS_PATH: &str = "/static/telleverk.css";

/// Which part of the site a page belongs to, for the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Fleet,
    Contracts,
    Alerts,
    Reports,
    None,
}

/// A whole page: `title`, the navigation with `section` marked, `body`.
pub fn page(session: &Session, section: Section, title: &str, body: Markup) -> Markup {
    let item = |s: Section, href: &str, label: &str| {
        html! {
            li {
                @if s == section {
                    a href=(href) aria-current="page" { (label) }
                } @else {
                    a href=(href) { (label) }
                }
            }
        }
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                header class="top" {
                    a class="brand" href="/" { "telleverk" }
                    nav aria-label="Main" {
                        ul {
                            (item(Section::Fleet, "/", "Fleet"))
                            (item(Section::Contracts, "/contracts", "Contracts"))
                            (item(Section::Alerts, "/alerts", "Alerts"))
                            (item(Section::Reports, "/reports", "Reports"))
                        }
                    }
                    form class="who" method="post" action="/logout" {
                        span { (session.name) " (" (session.role.name()) ")" }
                        input type="hidden" name="csrf" value=(session.csrf);
                        button type="submit" { "Log out" }
                    }
                }
                main id="main" {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// The `<head>` of every page.
pub fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · telleverk" }
            link rel="stylesheet" href=(CSS_PATH);
        }
    }
}

/// A page that only says something (not allowed, not found).
pub fn message_page(session: &Session, title: &str, message: &str) -> maud::Markup {
    page(
        session,
        Section::None,
        title,
        html! { p class="message" { (message) } },
    )
}

/// A whole number for people: `12 345` (nb-NO) or `12,345` (en-GB).
pub fn count(shown: &Display, n: impl Into<i128>) -> String {
    let n: i128 = n.into();
    Decimal::try_from_i128_with_scale(n, 0).map_or_else(|_| n.to_string(), |d| shown.number(d))
}

/// An instant for people, in the config's zone: `30.11.2026 14:05`
/// (nb-NO) or `30 Nov 2026 14:05` (en-GB).
pub fn when(shown: &Display, at: crate::timestamp::Timestamp) -> String {
    use chrono::TimeZone;
    let Some(t) = shown.timezone.timestamp_millis_opt(at.millis()).single() else {
        return shown.instant(at);
    };
    match shown.locale {
        crate::display::Locale::NbNo => t.format("%d.%m.%Y %H:%M").to_string(),
        crate::display::Locale::EnGb => t.format("%d %b %Y %H:%M").to_string(),
    }
}

/// An answer's RFC 3339 instant for people (as [`when`]); the text as it
/// is when it is not one.
pub fn when_text(shown: &Display, text: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(text).map_or_else(
        |_| text.to_owned(),
        |t| {
            when(
                shown,
                crate::timestamp::Timestamp::from_millis(t.timestamp_millis()),
            )
        },
    )
}

/// An answer's NOK amount (`1234.50`) for people: `1 234,50 kr` (nb-NO)
/// or `1,234.50 kr` (en-GB); the text as it is when it is not a number.
pub fn money(shown: &Display, text: &str) -> String {
    text.parse::<Decimal>().map_or_else(
        |_| text.to_owned(),
        |d| format!("{}\u{a0}kr", shown.number(d)),
    )
}

/// Percent-encodes `text` for a query string.
pub fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(char::from(b));
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A supply's level as a bar: its colour, its width the percentage, the
/// percentage written beside it; −2/−3 as words, never as a number.
pub fn level_bar(colour: Option<&str>, level: i64, percent: Option<i64>) -> Markup {
    let class = colour
        .filter(|c| matches!(*c, "black" | "cyan" | "magenta" | "yellow"))
        .unwrap_or("other");
    let (width, text) = match (percent, level) {
        (Some(p), _) => (p.clamp(0, 100), format!("{p} %")),
        (None, -3) => (0, "some left".to_owned()),
        (None, -1) => (0, "no limit".to_owned()),
        _ => (0, "unknown".to_owned()),
    };
    let name = colour.unwrap_or("supply");
    html! {
        span class="bar" role="img" aria-label=(format!("{name} {text}")) {
            span class={"fill " (class)} style=(format!("width:{width}%")) {}
        }
        span class="bar-text" { (text) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_follow_the_locale() {
        let nb = Display::default();
        assert_eq!(count(&nb, 12_345), "12\u{a0}345");
        let en = Display {
            locale: crate::display::Locale::EnGb,
            ..Display::default()
        };
        assert_eq!(count(&en, 1_234_567), "1,234,567");
    }

    #[test]
    fn bars_never_show_a_sentinel_as_a_number() {
        let some = level_bar(Some("black"), -3, None).into_string();
        assert!(some.contains("some left") && !some.contains("-3"), "{some}");
        let unknown = level_bar(Some("cyan"), -2, None).into_string();
        assert!(unknown.contains("unknown"), "{unknown}");
        let half = level_bar(Some("magenta"), 50, Some(50)).into_string();
        assert!(
            half.contains("width:50%") && half.contains("50 %"),
            "{half}"
        );
    }

    #[test]
    fn query_text_is_encoded() {
        assert_eq!(
            url_encode("/devices/A 1?x=ø"),
            "/devices/A%201%3Fx%3D%C3%B8"
        );
    }
}
