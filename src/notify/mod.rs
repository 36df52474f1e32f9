//! Alerts that reach people. Each check of the alerts ([`Tracker::track`],
//! after every build of the fleet view) writes what opened and closed to
//! the alert history; an opening that has stayed open for another poll
//! round becomes a notice (so an alert that flaps within a round tells
//! nobody), and so does the closing of an alert whose opening was told.
//! Each notice becomes a stored notification for every `[[notify]]` that
//! wants its kind — or waits for that entry's digest — and [`deliver`]
//! sends the stored notifications by mail and signed webhook, trying again
//! with backoff for a day. Everything is stored before it is sent: a
//! restart loses nothing, and a notification sent again carries its id.

pub mod deliver;
mod message;
mod track;

pub use deliver::Deliverer;
pub use message::{AlertBody, Message};
pub use track::Tracker;

/// A fresh idempotency id: 16 random bytes in hex.
fn new_id() -> String {
    let mut bytes = [0u8; 16];
    // The system's randomness failing is beyond repair; the time and a
    // counter still make the id unique within this database.
    if getrandom::fill(&mut bytes).is_err() {
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let t = crate::clock::now()
            .timestamp_nanos_opt()
            .unwrap_or_default();
        bytes[..8].copy_from_slice(&t.to_be_bytes());
        bytes[8..].copy_from_slice(&n.to_be_bytes());
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests;
