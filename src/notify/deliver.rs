//! Sends the stored notifications: a webhook's JSON signed with HMAC-SHA256
//! of its body, a mail through `[smtp]`. A failed attempt is tried again
//! after 2 s, 4 s, 8 s, … (at most an hour apart) until a day has passed
//! since the notification was made; then it is given up and logged. Every
//! attempt is recorded, so a restart goes on where the last one stopped.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use std::sync::atomic::{AtomicU64, Ordering};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use tokio::sync::watch;

use super::message::Message;
use crate::clock::Clock;
use crate::config::Config;
use crate::storage::{PendingNotification, Store};
use crate::timestamp::Timestamp;

/// The first wait before an attempt is made again; each later one doubles.
const FIRST_RETRY_MS: i64 = 2_000;
/// The longest wait between attempts.
const MAX_RETRY_MS: i64 = 60 * 60 * 1000;
/// How long a notification is tried.
const GIVE_UP_AFTER_MS: i64 = 24 * 60 * 60 * 1000;
/// How long a webhook's receiver may take to answer.
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest the deliverer sleeps before it looks again.
const MAX_SLEEP: Duration = Duration::from_secs(30);

/// The header that carries the body's signature: `sha256=` and the hex
/// HMAC-SHA256 of the body under the `[[notify]]`'s secret.
pub const SIGNATURE_HEADER: &str = "X-Telleverk-Signature";
/// The header that carries the notification's id, the same in every
/// attempt: a receiver drops a repeat by it.
pub const DELIVERY_HEADER: &str = "X-Telleverk-Delivery";

/// The wait after the `attempts`-th failed attempt.
pub fn retry_after_ms(attempts: u32) -> i64 {
    let doublings = attempts.saturating_sub(1).min(30);
    FIRST_RETRY_MS
        .saturating_mul(1_i64 << doublings)
        .min(MAX_RETRY_MS)
}

/// `sha256=` and the hex HMAC-SHA256 of `body` keyed by `secret`.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// Whether `header` (an `X-Telleverk-Signature` value) signs `body` under
/// `secret`: what a receiver checks before it trusts a notification. The
/// comparison takes the same time wherever the first difference is.
pub fn verify(secret: &[u8], body: &[u8], header: &str) -> bool {
    let Some(hex) = header.trim().strip_prefix("sha256=") else {
        return false;
    };
    if hex.len() != 64 || !hex.is_ascii() {
        return false;
    }
    let bytes: Option<Vec<u8>> = (0..32)
        .map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
        .collect();
    let Some(bytes) = bytes else { return false };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key");
    mac.update(body);
    mac.verify_slice(&bytes).is_ok()
}

/// When a pending notification is next due.
fn due_at(p: &PendingNotification) -> Timestamp {
    match p.last_attempt {
        None => p.created_at,
        Some(last) => last + retry_after_ms(p.attempts),
    }
}

/// What the deliverer did since start, for `/metrics`.
#[derive(Debug, Default)]
pub struct Counts {
    pub delivered: AtomicU64,
    /// Attempts that failed (each retry counts).
    pub failed_attempts: AtomicU64,
    pub given_up: AtomicU64,
    /// Notifications waiting for their next attempt now.
    pub pending: AtomicU64,
}

impl Counts {
    fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// The store errors of delivery (a failed send is an attempt, not this).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Storage(#[from] crate::storage::Error),
    #[error("cannot make the HTTP client for webhooks: {0}")]
    Client(String),
    #[error("the store task panicked: {0}")]
    Panicked(#[from] tokio::task::JoinError),
}

/// Sends the stored notifications, shared by `serve` and the tests.
pub struct Deliverer {
    config: Arc<Config>,
    store: Arc<Mutex<Store>>,
    clock: Clock,
    client: reqwest::Client,
    /// Told when new notifications are stored.
    pub wake: Arc<tokio::sync::Notify>,
    /// The notifications not yet delivered nor given up, as last read, and
    /// the last stored one read: after the first read of all, only the new
    /// ones are read.
    pending: tokio::sync::Mutex<(Vec<PendingNotification>, i64)>,
    counts: Arc<Counts>,
}

impl Deliverer {
    pub fn new(
        config: Arc<Config>,
        store: Arc<Mutex<Store>>,
        clock: Clock,
        wake: Arc<tokio::sync::Notify>,
        counts: Arc<Counts>,
    ) -> Result<Deliverer, Error> {
        // reqwest is built without a crypto provider: ring, which lettre
        // uses too. Installed once per process; a second call is refused
        // harmlessly.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(WEBHOOK_TIMEOUT)
            .user_agent(concat!("telleverk/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Client(e.to_string()))?;
        Ok(Deliverer {
            config,
            store,
            clock,
            client,
            wake,
            pending: tokio::sync::Mutex::default(),
            counts,
        })
    }

    /// Delivers until `shutdown` turns true: each notification when due,
    /// woken early when new ones are stored. The database failing never
    /// stops it: it looks again a little later.
    pub async fn run(&self, mut shutdown: watch::Receiver<bool>) {
        loop {
            let wait = match self.deliver_due(&shutdown).await {
                Ok(Some(next)) => {
                    let ms = (next - self.clock.timestamp()).max(0);
                    self.clock
                        .real_duration(chrono::Duration::milliseconds(ms))
                        .min(MAX_SLEEP)
                }
                Ok(None) => MAX_SLEEP,
                Err(e) => {
                    tracing::warn!(
                        "cannot deliver notifications now ({e}); trying again in {MAX_SLEEP:?}"
                    );
                    MAX_SLEEP
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.wake.notified() => {}
                changed = shutdown.changed() => {
                    if changed.is_err() || *shutdown.borrow() {
                        return;
                    }
                }
            }
        }
    }

    /// Makes one attempt at each notification that is due, oldest first;
    /// returns when the next one not yet due is. After a destination fails
    /// once, its other notifications wait for the next pass (a receiver that
    /// is down costs one attempt a pass, not one for each notification
    /// behind it), and a stop ends the pass between two attempts.
    pub async fn deliver_due(
        &self,
        shutdown: &watch::Receiver<bool>,
    ) -> Result<Option<Timestamp>, Error> {
        let mut guard = self.pending.lock().await;
        let (pending, read_to) = &mut *guard;
        let after = *read_to;
        let new = self
            .with_store(move |s| s.pending_notifications(after))
            .await?;
        if let Some(last) = new.last() {
            *read_to = last.seq;
        }
        pending.extend(new);
        let mut next: Option<Timestamp> = None;
        let mut soon = |at: Timestamp| next = Some(next.map_or(at, |n: Timestamp| n.min(at)));
        let mut failing: Vec<(String, String)> = Vec::new();
        let mut result = Ok(());
        for p in pending.iter_mut() {
            if *shutdown.borrow() {
                break;
            }
            let due = due_at(p);
            if due > self.clock.timestamp() {
                soon(due);
                continue;
            }
            if failing
                .iter()
                .any(|(d, c)| *d == p.destination && *c == p.channel)
            {
                soon(self.clock.timestamp() + FIRST_RETRY_MS);
                continue;
            }
            let attempt = self.attempt(p).await;
            let at = self.clock.timestamp();
            let (error, gave_up) = match &attempt {
                Ok(()) => (None, false),
                Err(Failure::Retry(e)) => (Some(e.as_str()), at - p.created_at >= GIVE_UP_AFTER_MS),
                Err(Failure::Final(e)) => (Some(e.as_str()), true),
            };
            p.attempts += 1;
            p.last_attempt = Some(at);
            // Settled in memory whether or not the attempt is recorded: a
            // delivery the database did not take is sent again only after
            // a restart (at least once), never at once.
            p.settled = error.is_none() || gave_up;
            Counts::add(match (error, gave_up) {
                (None, _) => &self.counts.delivered,
                (Some(_), true) => &self.counts.given_up,
                (Some(_), false) => &self.counts.failed_attempts,
            });
            let to = crate::config::shown_destination(&p.destination);
            match (error, gave_up) {
                (None, _) => {
                    tracing::info!(id = %p.id, channel = %p.channel, to = %to, attempts = p.attempts, "notification delivered")
                }
                (Some(e), true) => {
                    tracing::error!(id = %p.id, channel = %p.channel, to = %to, attempts = p.attempts, "notification given up: {e}")
                }
                (Some(e), false) => {
                    soon(at + retry_after_ms(p.attempts));
                    failing.push((p.destination.clone(), p.channel.clone()));
                    tracing::warn!(id = %p.id, channel = %p.channel, to = %to, attempts = p.attempts, "notification not delivered (tried again later): {e}");
                }
            }
            let (id, error) = (p.id.clone(), error.map(str::to_owned));
            let recorded = self
                .with_store(move |s| s.record_attempt(&id, at, error.as_deref(), gave_up))
                .await;
            if let Err(e) = recorded {
                result = Err(e);
                break;
            }
        }
        pending.retain(|p| !p.settled);
        self.counts
            .pending
            .store(pending.len() as u64, Ordering::Relaxed);
        result.map(|()| next)
    }

    async fn attempt(&self, p: &PendingNotification) -> Result<(), Failure> {
        match p.channel.as_str() {
            "webhook" => {
                let webhook = self
                    .config
                    .notify
                    .iter()
                    .filter_map(|n| n.webhook.as_ref())
                    .find(|w| w.url == p.destination)
                    .ok_or_else(|| {
                        Failure::Final("no [[notify]] has this webhook_url any more".to_owned())
                    })?;
                let sign = signature(webhook.secret.expose().as_bytes(), p.body.as_bytes());
                let answer = self
                    .client
                    .post(&webhook.url)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .header(SIGNATURE_HEADER, sign)
                    .header(DELIVERY_HEADER, &p.id)
                    .body(p.body.clone())
                    .send()
                    .await
                    .map_err(|e| {
                        let shown = crate::config::shown_destination(&webhook.url);
                        Failure::Retry(format!("POST {shown}: {}", error_chain(&e.without_url())))
                    })?;
                let status = answer.status();
                if status.is_success() {
                    Ok(())
                } else {
                    Err(Failure::Retry(format!(
                        "POST {} answered {status}",
                        crate::config::shown_destination(&webhook.url)
                    )))
                }
            }
            "email" => {
                let notify = self
                    .config
                    .notify
                    .iter()
                    .find(|n| n.mail_destination().as_deref() == Some(p.destination.as_str()))
                    .ok_or_else(|| {
                        Failure::Final("no [[notify]] mails these addresses any more".to_owned())
                    })?;
                let smtp =
                    self.config.smtp.as_ref().ok_or_else(|| {
                        Failure::Final("no [smtp] table in the config".to_owned())
                    })?;
                let message: Message = serde_json::from_str(&p.body).map_err(|e| {
                    Failure::Final(format!("the stored body is not a notification: {e}"))
                })?;
                let mail = mail(smtp, &notify.email_to, &message).map_err(Failure::Final)?;
                crate::scheduler::mail::deliver(smtp, mail)
                    .await
                    .map_err(Failure::Retry)
            }
            other => Err(Failure::Final(format!("unknown channel `{other}`"))),
        }
    }

    async fn with_store<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, crate::storage::Error> + Send + 'static,
    ) -> Result<T, Error> {
        crate::storage::with_store_blocking(&self.store, f).await
    }
}

/// Why an attempt failed: worth trying again, or not.
enum Failure {
    Retry(String),
    Final(String),
}

/// An error with its sources (reqwest's own text leaves out the cause).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

/// The mail of a notification; its Message-ID is made of the notification's
/// id, so a mail sent again is the same mail to the reader's client.
fn mail(
    smtp: &crate::config::Smtp,
    to: &[String],
    message: &Message,
) -> Result<lettre::Message, String> {
    use crate::scheduler::mail::mailbox;
    let mut builder = lettre::Message::builder()
        .from(mailbox(&smtp.from)?)
        .subject(message.subject())
        .message_id(Some(format!("<{}@telleverk>", message.id())));
    for address in to {
        builder = builder.to(mailbox(address)?);
    }
    builder
        .body(message.text())
        .map_err(|e| format!("cannot build the mail: {e}"))
}
