//! The one place that reads the system clock. Everything else takes the time
//! as an argument.

use chrono::{DateTime, Utc};

/// Now, in UTC.
pub fn now() -> DateTime<Utc> {
    Utc::now()
}
