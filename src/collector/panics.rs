//! Panics in poll tasks: told apart from every other panic so that one is
//! recorded as the entry's `internal` failure and logged once, by the
//! collector with the entry's name, instead of printed by the default hook.

use std::sync::{Arc, Mutex, Once};

/// Where a poll task's panic message lands.
pub type Slot = Arc<Mutex<Option<String>>>;

tokio::task_local! {
    static POLLING: Slot;
}

/// Runs `poll` so that a panic inside it is written to `slot` (message and
/// place) rather than printed.
pub async fn catching<F: Future>(slot: Slot, poll: F) -> F::Output {
    install_hook();
    POLLING.scope(slot, poll).await
}

/// The message a poll task left in its slot.
pub fn message(slot: &Slot) -> String {
    slot.lock()
        .ok()
        .and_then(|m| m.clone())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

/// Chains a hook before the one in place: inside a poll task it keeps the
/// message; elsewhere the previous hook runs as before.
fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            let text = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("a panic without a message");
            let place = info
                .location()
                .map_or_else(String::new, |l| format!(" at {}:{}", l.file(), l.line()));
            let kept = POLLING.try_with(|slot| {
                if let Ok(mut slot) = slot.lock() {
                    *slot = Some(format!("{text}{place}"));
                }
            });
            if kept.is_err() {
                previous(info);
            }
        }));
    });
}
