//! A device's serial number: how telleverk knows a device, wherever it was
//! read (from the device over SNMP, the config, a CSV file, the API). Pure.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;

/// A serial number: text with no surrounding whitespace and no control
/// character (a NUL, a line break, a tab), never empty, and not starting with
/// a character a spreadsheet reads as the start of a formula.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Serial(String);

/// The text is not a serial number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SerialError {
    #[error("the serial number is empty")]
    Empty,
    #[error("the serial number `{0}` holds a control character")]
    Control(String),
    #[error(
        "the serial number `{0}` starts with `{1}`, which a spreadsheet reads as a formula: \
         a serial may not start with =, +, - or @"
    )]
    FormulaStart(String, char),
}

/// The first characters a spreadsheet reads as the start of a formula
/// (OWASP, CSV injection); tab and carriage return are control characters,
/// refused anywhere.
pub const FORMULA_STARTS: [char; 4] = ['=', '+', '-', '@'];

/// How many characters of a value an error message repeats.
pub const SHOWN_CHARS: usize = 60;

/// A value as an error message repeats it: whole when short, else its first
/// [`SHOWN_CHARS`] characters, `…` and its length — a 10 MiB field must not
/// make a 10 MB message. (Every module may use it: it sits beside `Serial`,
/// the value most often repeated.)
pub fn excerpt(text: &str) -> String {
    match text.char_indices().nth(SHOWN_CHARS) {
        None => text.to_owned(),
        Some((end, _)) => format!(
            "{}… ({} characters)",
            text.get(..end).unwrap_or(text),
            text.chars().count()
        ),
    }
}

impl Serial {
    /// A serial from text, surrounding whitespace removed. The door every
    /// serial comes in by (the config, the readings CSV, the API, a device's
    /// answer): a serial goes into reports people open in spreadsheets, so
    /// one a spreadsheet would run as a formula is refused here.
    pub fn parse(text: &str) -> Result<Serial, SerialError> {
        let text = text.trim();
        let Some(first) = text.chars().next() else {
            return Err(SerialError::Empty);
        };
        if text.chars().any(char::is_control) {
            return Err(SerialError::Control(
                excerpt(text).escape_debug().to_string(),
            ));
        }
        if FORMULA_STARTS.contains(&first) {
            return Err(SerialError::FormulaStart(excerpt(text), first));
        }
        Ok(Serial(text.to_owned()))
    }

    /// A serial read back from the database: taken as it was stored. Every
    /// stored serial was checked when it was written, by the rules of its
    /// day; a rule added since (a first character spreadsheets read as a
    /// formula) must not make a stored device unreadable.
    pub fn stored(text: &str) -> Serial {
        Serial(text.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A serial in a config file: checked as it is read.
impl<'de> serde::Deserialize<'de> for Serial {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Serial, D::Error> {
        let text = String::deserialize(d)?;
        Serial::parse(&text).map_err(|e| match e {
            SerialError::Empty => serde::de::Error::custom("must not be empty"),
            other => serde::de::Error::custom(other),
        })
    }
}

impl Deref for Serial {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for Serial {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Serial {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Serial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for Serial {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Serial {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for Serial {
    fn eq(&self, other: &String) -> bool {
        &self.0 == other
    }
}

impl From<Serial> for String {
    fn from(s: Serial) -> String {
        s.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_serial_is_trimmed_text_and_never_empty() {
        assert_eq!(Serial::parse("  AA2J021004711 ").unwrap(), "AA2J021004711");
        assert_eq!(Serial::parse("SN,1").unwrap().as_str(), "SN,1");
        assert_eq!(Serial::parse(" \t "), Err(SerialError::Empty));
        assert_eq!(Serial::parse(""), Err(SerialError::Empty));
        assert_eq!(
            Serial::parse("A7PU0110\0"),
            Err(SerialError::Control("A7PU0110\\0".into()))
        );
        assert!(Serial::parse("A\nB").is_err());
    }

    #[test]
    fn a_serial_that_a_spreadsheet_would_read_as_a_formula_is_refused() {
        for text in ["=1+2", "+4799", "-A7PU", "@SUM(A1)", " \t=cmd", "\r=cmd"] {
            let e = Serial::parse(text).unwrap_err();
            let first = text.trim().chars().next().unwrap();
            assert_eq!(
                e.to_string(),
                format!(
                    "the serial number `{}` starts with `{first}`, which a spreadsheet reads as \
                     a formula: a serial may not start with =, +, - or @",
                    text.trim()
                )
            );
        }
        // Inside a serial they are harmless.
        assert_eq!(Serial::parse("A7PU-011=+@").unwrap(), "A7PU-011=+@");
    }

    #[test]
    fn a_stored_serial_is_read_back_whatever_the_rules_say_now() {
        assert_eq!(Serial::stored("=1+2"), "=1+2");
        assert_eq!(Serial::stored("-A7PU").as_str(), "-A7PU");
    }
}
