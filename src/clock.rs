//! The one place that reads the system clock. Everything else takes the time
//! as an argument.

use chrono::{DateTime, Utc};

/// Now, in UTC, to the millisecond: the precision every instant is stored at.
pub fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now)
}
