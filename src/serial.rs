//! A device's serial number: how telleverk knows a device, wherever it was
//! read (from the device over SNMP, the config, a CSV file, the API). Pure.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;

/// A serial number: text with no surrounding whitespace, never empty.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Serial(String);

/// The text is not a serial number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the serial number is empty")]
pub struct EmptySerial;

impl Serial {
    /// A serial from text, surrounding whitespace removed.
    pub fn parse(text: &str) -> Result<Serial, EmptySerial> {
        let text = text.trim();
        if text.is_empty() {
            return Err(EmptySerial);
        }
        Ok(Serial(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A serial in a config file: checked as it is read.
impl<'de> serde::Deserialize<'de> for Serial {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Serial, D::Error> {
        let text = String::deserialize(d)?;
        Serial::parse(&text).map_err(|_| serde::de::Error::custom("must not be empty"))
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
        assert_eq!(Serial::parse(" \t "), Err(EmptySerial));
        assert_eq!(Serial::parse(""), Err(EmptySerial));
    }
}
