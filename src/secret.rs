//! Secrets (communities, passwords, tokens read from the environment): a
//! value that never appears in Debug output, so no log line or error can
//! carry it by accident. Pure.

use std::fmt;

/// A secret (community, password): its value never appears in Debug or Display.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Secret {
        Secret(value)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}
