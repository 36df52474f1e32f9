//! The tracker on a real SQLite file: what opens and closes, when a notice
//! is due (two rounds), and which notifications each notice makes.

use std::path::Path;

use super::deliver::{retry_after_ms, signature, verify};
use super::track::Tracker;
use crate::alerts::{Alert, Kind};
use crate::config::Config;
use crate::record::{RoundEnd, RoundRecord};
use crate::serial::Serial;
use crate::storage::{AlertHistoryFilter, Store};
use crate::timestamp::Timestamp;

fn config(dir: &Path) -> Config {
    let text = "[collector]\ninterval = \"5m\"\n\
                [smtp]\nhost = \"mail.example.com\"\nfrom = \"telleverk@example.com\"\n\
                [[notify]]\nkinds = [\"supply_empty\"]\nemail_to = [\"drift@example.com\"]\n\
                [[notify]]\nwebhook_url = \"http://127.0.0.1:9/hook\"\nwebhook_secret_env = \"S\"\n\
                [[notify]]\nwebhook_url = \"http://127.0.0.1:9/digest\"\nwebhook_secret_env = \"S\"\n\
                digest = \"0 7 * * *\"\n";
    crate::config::parse(&dir.join("telleverk.toml"), text, &|_| Some("k".into())).unwrap()
}

fn empty_toner(serial: &str, percent: u32) -> Alert {
    Alert {
        kind: Kind::SupplyEmpty,
        serial: Some(Serial::parse(serial).unwrap()),
        contract: None,
        subject: "Toner (K)".into(),
        since: None,
        message: format!("Toner (K) is at {percent} %"),
    }
}

fn round(store: &mut Store, at: Timestamp) {
    let at = at.to_datetime();
    store
        .write_polled_round(
            &RoundRecord {
                started: at,
                ended: at,
                interval_ms: Some(300_000),
                entries: 0,
                end: RoundEnd::Completed,
            },
            &[],
        )
        .unwrap();
}

/// A check of the alerts with the latest round stored as the view's.
fn track(
    tracker: &mut Tracker,
    store: &mut Store,
    config: &Config,
    alerts: &[Alert],
    unsure: impl Fn(Kind) -> bool,
    now: Timestamp,
) -> Result<super::track::Tracked, crate::storage::Error> {
    let round = store.latest_round()?;
    tracker.track(store, config, alerts, round, unsure, now)
}

const T0: Timestamp = Timestamp::from_millis(1_780_000_000_000);
const MINUTE: i64 = 60_000;

#[test]
fn an_alert_is_told_after_two_rounds_and_a_flap_tells_nobody() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let mut store = Store::open(dir.path().join("telleverk.db")).unwrap();
    let mut tracker = Tracker::new();
    round(&mut store, T0);

    // A flap: open at one check, gone at the next, no round between.
    let flap = empty_toner("FLAP1", 0);
    let t = track(&mut tracker, &mut store, &config, &[flap], |_| false, T0).unwrap();
    assert_eq!((t.opened, t.notices), (1, 0));
    let t = track(
        &mut tracker,
        &mut store,
        &config,
        &[],
        |_| false,
        T0 + MINUTE,
    )
    .unwrap();
    assert_eq!((t.closed, t.notices, t.notifications), (1, 0, 0));

    // An alert that stays: told at the first check after another round,
    // once, to the entries that want it and not to the digest.
    let a = empty_toner("STAY1", 0);
    track(
        &mut tracker,
        &mut store,
        &config,
        std::slice::from_ref(&a),
        |_| false,
        T0 + 2 * MINUTE,
    )
    .unwrap();
    let t = track(
        &mut tracker,
        &mut store,
        &config,
        std::slice::from_ref(&a),
        |_| false,
        T0 + 3 * MINUTE,
    )
    .unwrap();
    assert_eq!(t.notices, 0, "no round came since it opened");
    round(&mut store, T0 + 5 * MINUTE);
    // Its message changes (the level moved): the same alert.
    let moved = empty_toner("STAY1", 1);
    let t = track(
        &mut tracker,
        &mut store,
        &config,
        std::slice::from_ref(&moved),
        |_| false,
        T0 + 6 * MINUTE,
    )
    .unwrap();
    assert_eq!(
        (t.opened, t.closed, t.notices, t.notifications),
        (0, 0, 1, 2)
    );
    let t = track(
        &mut tracker,
        &mut store,
        &config,
        std::slice::from_ref(&moved),
        |_| false,
        T0 + 7 * MINUTE,
    )
    .unwrap();
    assert_eq!(t.notices, 0, "told once");
    let pending = store.pending_notifications(0).unwrap();
    let mut to: Vec<(&str, &str)> = pending
        .iter()
        .map(|p| (p.channel.as_str(), p.destination.as_str()))
        .collect();
    to.sort_unstable();
    assert_eq!(
        to,
        [
            ("email", "mailto:drift@example.com"),
            ("webhook", "http://127.0.0.1:9/hook")
        ]
    );
    let body: serde_json::Value = serde_json::from_str(&pending[0].body).unwrap();
    assert_eq!(body["event"], "opened");
    assert_eq!(body["alert"]["serial"], "STAY1");
    assert_eq!(body["id"], pending[0].id.as_str());

    // Since: the history's opening, for an alert whose check knows none.
    let mut shown = vec![moved.clone()];
    tracker.fill_since(&mut shown);
    assert_eq!(shown[0].since, Some(T0 + 2 * MINUTE));

    // It closes: the closing of a told alert is told at once.
    let t = track(
        &mut tracker,
        &mut store,
        &config,
        &[],
        |_| false,
        T0 + 8 * MINUTE,
    )
    .unwrap();
    assert_eq!((t.closed, t.notices, t.notifications), (1, 1, 2));
    // Read after the two before: only the closing's two.
    let after = pending.iter().map(|p| p.seq).max().unwrap();
    let closing = store.pending_notifications(after).unwrap();
    assert_eq!(closing.len(), 2);
    assert!(closing.iter().all(|p| p.body.contains("\"closed\"")));
    // Delivered or given up, a notification is pending no more.
    store
        .record_attempt(&closing[0].id, T0, Some("refused"), false)
        .unwrap();
    store
        .record_attempt(&closing[1].id, T0, Some("refused"), true)
        .unwrap();
    let left = store.pending_notifications(after).unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!((left[0].attempts, left[0].last_attempt), (1, Some(T0)));
    store
        .record_attempt(&left[0].id, T0 + MINUTE, None, false)
        .unwrap();
    assert!(store.pending_notifications(after).unwrap().is_empty());

    // The history, newest first: append-only, each event as it was.
    let history = store
        .alert_history(&AlertHistoryFilter::default(), 100)
        .unwrap();
    let events: Vec<(&str, bool, bool)> = history
        .iter()
        .map(|e| (e.serial.as_deref().unwrap(), e.opened, e.notice.is_some()))
        .collect();
    assert_eq!(
        events,
        [
            ("STAY1", false, true),
            ("STAY1", true, true),
            ("FLAP1", false, false),
            ("FLAP1", true, false)
        ]
    );
    assert_eq!(history[1].message, "Toner (K) is at 0 %");
    assert_eq!(history[0].since, Some(T0 + 2 * MINUTE));
    let only = AlertHistoryFilter {
        serial: Some("FLAP1".into()),
        ..Default::default()
    };
    assert_eq!(store.alert_history(&only, 100).unwrap().len(), 2);

    // A new tracker (a restart) reads the open alerts back: nothing is
    // opened again.
    let b = empty_toner("AGAIN", 0);
    track(
        &mut tracker,
        &mut store,
        &config,
        std::slice::from_ref(&b),
        |_| false,
        T0 + 9 * MINUTE,
    )
    .unwrap();
    let mut restarted = Tracker::new();
    let t = track(
        &mut restarted,
        &mut store,
        &config,
        &[b],
        |_| false,
        T0 + 10 * MINUTE,
    )
    .unwrap();
    assert_eq!((t.opened, t.closed), (0, 0));

    // A check that could not read (unsure of the kind) closes nothing of
    // that kind; a sure one does.
    let t = track(
        &mut restarted,
        &mut store,
        &config,
        &[],
        |k| k == Kind::SupplyEmpty,
        T0 + 11 * MINUTE,
    )
    .unwrap();
    assert_eq!(t.closed, 0);
    let t = track(
        &mut restarted,
        &mut store,
        &config,
        &[],
        |_| false,
        T0 + 12 * MINUTE,
    )
    .unwrap();
    assert_eq!(t.closed, 1);
}

#[test]
fn a_digest_starts_its_schedule_when_first_seen_and_sends_when_due() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let mut store = Store::open(dir.path().join("telleverk.db")).unwrap();
    let mut tracker = Tracker::new();
    // 2026-05-28 20:26 UTC; the digest is due at 07:00 Oslo (05:00 UTC).
    assert_eq!(tracker.digests(&mut store, &config, T0).unwrap(), 0);
    let a = empty_toner("DIG1", 0);
    round(&mut store, T0);
    track(
        &mut tracker,
        &mut store,
        &config,
        std::slice::from_ref(&a),
        |_| false,
        T0,
    )
    .unwrap();
    round(&mut store, T0 + MINUTE);
    track(
        &mut tracker,
        &mut store,
        &config,
        std::slice::from_ref(&a),
        |_| false,
        T0 + MINUTE,
    )
    .unwrap();
    assert_eq!(
        tracker
            .digests(&mut store, &config, T0 + 2 * MINUTE)
            .unwrap(),
        0
    );
    let next_morning = T0 + 10 * 60 * MINUTE;
    assert_eq!(
        tracker.digests(&mut store, &config, next_morning).unwrap(),
        1
    );
    assert_eq!(
        tracker
            .digests(&mut store, &config, next_morning + MINUTE)
            .unwrap(),
        0
    );
    let digest = store
        .pending_notifications(0)
        .unwrap()
        .into_iter()
        .find(|p| p.destination.ends_with("/digest"))
        .unwrap();
    let body: serde_json::Value = serde_json::from_str(&digest.body).unwrap();
    assert_eq!(body["type"], "digest");
    assert_eq!(body["opened"][0]["serial"], "DIG1");
    assert_eq!(body["open"][0]["serial"], "DIG1");
    assert_eq!(body["at"], "2026-05-29T07:00:00+02:00");
}

#[test]
fn the_signature_is_hmac_sha256_of_the_body() {
    // RFC 4231, test case 2.
    assert_eq!(
        signature(b"Jefe", b"what do ya want for nothing?"),
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
    let body = b"{\"id\":\"1\"}";
    let header = signature(b"key", body);
    assert!(verify(b"key", body, &header));
    assert!(!verify(b"other key", body, &header));
    assert!(!verify(b"key", b"{\"id\":\"2\"}", &header));
    assert!(!verify(b"key", body, &header.replace("sha256=", "sha1=")));
    assert!(!verify(b"key", body, "sha256=zz"));
    assert!(!verify(
        b"key",
        body,
        &format!(
            "{}é",
            header.chars().take(header.len() - 2).collect::<String>()
        )
    ));
}

#[test]
fn retries_back_off_to_an_hour() {
    let waits: Vec<i64> = (1..=4).map(retry_after_ms).collect();
    assert_eq!(waits, [2_000, 4_000, 8_000, 16_000]);
    assert_eq!(retry_after_ms(12), 3_600_000);
    assert_eq!(retry_after_ms(u32::MAX), 3_600_000);
    // A day of retries is some thirty attempts.
    let mut spent = 0;
    let mut attempts = 0;
    while spent < 24 * 3_600_000 {
        attempts += 1;
        spent += retry_after_ms(attempts);
    }
    assert!((30..40).contains(&attempts), "{attempts}");
}

#[tokio::test]
async fn a_receiver_that_is_down_costs_one_attempt_a_pass() {
    use std::sync::atomic::Ordering;
    use std::sync::{Arc, Mutex};

    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on port 9 of the loopback: refused at once.
    let text =
        "[[notify]]\nwebhook_url = \"http://127.0.0.1:9/hook\"\nwebhook_secret_env = \"S\"\n";
    let config = crate::config::parse(&dir.path().join("telleverk.toml"), text, &|_| {
        Some("k".into())
    })
    .unwrap();
    let mut store = Store::open(dir.path().join("telleverk.db")).unwrap();
    let mut tracker = Tracker::new();
    let alerts = [empty_toner("DOWN1", 0), empty_toner("DOWN2", 0)];
    round(&mut store, T0);
    track(&mut tracker, &mut store, &config, &alerts, |_| false, T0).unwrap();
    round(&mut store, T0 + MINUTE);
    let t = track(
        &mut tracker,
        &mut store,
        &config,
        &alerts,
        |_| false,
        T0 + MINUTE,
    )
    .unwrap();
    assert_eq!(t.notifications, 2);
    let store = Arc::new(Mutex::new(store));
    let counts = Arc::new(super::deliver::Counts::default());
    let deliverer = super::Deliverer::new(
        Arc::new(config),
        store.clone(),
        crate::clock::Clock::simulated((T0 + MINUTE).to_datetime(), 1),
        Arc::default(),
        counts.clone(),
    )
    .unwrap();
    let (_stop, shutdown) = tokio::sync::watch::channel(false);
    let next = deliverer.deliver_due(&shutdown).await.unwrap();
    assert!(next.is_some(), "it tries again later");
    assert_eq!(counts.failed_attempts.load(Ordering::Relaxed), 1);
    assert_eq!(counts.pending.load(Ordering::Relaxed), 2);
    let store = store.lock().unwrap();
    let pending = store.pending_notifications(0).unwrap();
    let attempts: Vec<u32> = pending.iter().map(|p| p.attempts).collect();
    assert_eq!(attempts, [1, 0]);
    let (_, error, gave_up) = &store.notification_attempts(&pending[0].id).unwrap()[0];
    let error = error.as_deref().unwrap();
    assert!(error.starts_with("POST http://127.0.0.1:9/…: "), "{error}");
    assert!(!gave_up);
}
