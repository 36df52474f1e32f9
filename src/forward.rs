//! A site's forwarder: sends its outbox to the central server, in order,
//! until the central has confirmed every item; retries with backoff while
//! the central cannot be reached, and goes on when it can. Polling never
//! waits for it: the outbox is in the site's own database.
//!
//! With nothing to send it still says it is there once a minute (an empty
//! batch), so the central can tell a quiet site from a silent one.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, watch};

use crate::clock::Clock;
use crate::config::Upstream;
use crate::storage::{Queued, Store};
use crate::wire::{Batch, PROTOCOL};

/// About how much of the outbox (deflated) one request carries.
const BATCH_BYTES: usize = 256 << 10;
/// How long a request may take, its answer included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// The first wait after a failure; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// How often a site with nothing to send says it is there.
const HEARTBEAT: Duration = Duration::from_secs(60);

/// The forwarder could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("[upstream] {0}")]
    Client(String),
}

/// What the central said to a batch.
#[derive(Debug, PartialEq, Eq)]
enum Answer {
    /// Items through this one are applied.
    Through(u64),
    /// The central expects this item next.
    Expected(u64),
    /// Sending again will not help until someone acts (a token, a version);
    /// the message says what.
    Refused(String),
    /// The central or the network failed; sending again may work.
    Failed(String),
}

#[derive(serde::Deserialize)]
struct Accepted {
    through: u64,
}

#[derive(serde::Deserialize)]
struct Refusal {
    error: RefusalDetail,
}

#[derive(serde::Deserialize)]
struct RefusalDetail {
    code: String,
    message: String,
    expected: Option<u64>,
}

pub struct Forwarder {
    site: String,
    url: String,
    upstream: Upstream,
    store: Arc<Mutex<Store>>,
    client: reqwest::Client,
    clock: Clock,
    wake: Arc<Notify>,
}

impl Forwarder {
    pub fn new(
        site: &str,
        upstream: &Upstream,
        store: Arc<Mutex<Store>>,
        clock: Clock,
        wake: Arc<Notify>,
    ) -> Result<Forwarder, Error> {
        // reqwest is built without a crypto provider: ring, as the webhook
        // and mail clients use. Installed once per process; a second call
        // is refused harmlessly.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("telleverk/", env!("CARGO_PKG_VERSION")));
        if upstream.url.starts_with("https://") {
            let tls =
                crate::storage::verified_client(upstream.ca_file.as_deref(), "upstream.ca_file")
                    .map_err(Error::Client)?;
            builder = builder.tls_backend_preconfigured(tls);
        }
        let client = builder.build().map_err(|e| Error::Client(e.to_string()))?;
        Ok(Forwarder {
            site: site.to_owned(),
            url: format!("{}/api/v1/ingest", upstream.url),
            upstream: upstream.clone(),
            store,
            client,
            clock,
            wake,
        })
    }

    /// Forwards until `shutdown` turns true: whenever woken (a round was
    /// stored), else every few seconds, and after a failure once its backoff
    /// has passed.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        tracing::info!(site = %self.site, central = %self.upstream.url, "forwarding to the central server");
        if self.upstream.url.starts_with("http://") && !loopback(&self.upstream.url) {
            tracing::warn!(
                "[upstream] url {} is plain HTTP: the site's token and readings cross the network unencrypted; \
                 serve the central with [http] tls_cert and use https://",
                self.upstream.url
            );
        }
        let mut backoff = FIRST_BACKOFF;
        let mut failures = 0u32;
        let mut last_sent = crate::clock::Stopwatch::start();
        let mut first = true;
        while !*shutdown.borrow() {
            let queued = match self.queued().await {
                Ok(Some(q)) => q,
                // Nothing was ever queued: nothing to say yet.
                Ok(None) => {
                    self.idle(&mut shutdown).await;
                    continue;
                }
                Err(e) => {
                    tracing::error!("cannot read the outbox: {e}");
                    self.pause(&mut shutdown, MAX_BACKOFF).await;
                    continue;
                }
            };
            let quiet = queued.items.is_empty();
            if quiet && !first && last_sent.elapsed() < HEARTBEAT {
                self.idle(&mut shutdown).await;
                continue;
            }
            first = false;
            let sent_first = queued.items.first().map_or(queued.forwarded + 1, |i| i.0);
            let count = queued.items.len();
            let (stream, numbered) = (queued.stream.clone(), queued.numbered);
            let answer = self.send(queued).await;
            last_sent = crate::clock::Stopwatch::start();
            let next = match answer {
                // The central has applied items of this stream that this
                // database never numbered: it is a copy (restored from a
                // backup) of the database the central heard from. Its
                // unconfirmed items go again as a stream of their own,
                // rather than be taken for ones the central has.
                Answer::Through(t) if t > numbered => self.diverged(t, numbered).await,
                Answer::Expected(e) if e.saturating_sub(1) > numbered => {
                    self.diverged(e - 1, numbered).await
                }
                Answer::Through(through) => self.confirm(&stream, through).await.map(|()| {
                    if failures > 0 {
                        tracing::info!(through, "the central server takes batches again");
                    }
                    tracing::debug!(
                        first = sent_first,
                        items = count,
                        through,
                        "batch forwarded"
                    );
                }),
                Answer::Expected(expected) => Err(format!(
                    "the central server expects item {expected}, but this site's outbox starts at item {sent_first} \
                     (the items before were confirmed by the central earlier and have left the outbox): \
                     was the central's database restored from a backup? Its readings from item {expected} \
                     to {} are in this site's database only",
                    sent_first.saturating_sub(1)
                )),
                Answer::Refused(why) | Answer::Failed(why) => Err(why),
            };
            match next {
                Ok(()) => {
                    failures = 0;
                    backoff = FIRST_BACKOFF;
                }
                Err(why) => {
                    failures += 1;
                    if failures == 1 || failures.is_power_of_two() {
                        tracing::warn!(
                            attempt = failures,
                            retry_in = %humantime::format_duration(backoff),
                            "cannot forward to {}: {why}",
                            self.upstream.url
                        );
                    }
                    self.pause(&mut shutdown, backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    /// Waits to be woken (a round stored), a few seconds, or the end.
    async fn idle(&self, shutdown: &mut watch::Receiver<bool>) {
        let wait = self.clock.span(Duration::from_secs(5));
        tokio::select! {
            () = self.wake.notified() => {}
            () = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => {}
        }
    }

    /// This database is not the one the central heard from: a new stream
    /// from its first unconfirmed item.
    async fn diverged(&self, central: u64, numbered: u64) -> Result<(), String> {
        let store = self.store.clone();
        let made =
            tokio::task::spawn_blocking(move || store.lock().expect("store lock").new_stream())
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| format!("cannot start a new stream: {e}"))?;
        tracing::error!(
            "the central server has items of this site through {central}, but this database numbered only {numbered}: \
             it is a copy (restored from a backup?) of the one the central heard from. Its items not yet \
             confirmed go again as stream {made}; the central skips the polls it has, and keeps what it had"
        );
        Ok(())
    }

    async fn pause(&self, shutdown: &mut watch::Receiver<bool>, wait: Duration) {
        let wait = self.clock.span(wait);
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => {}
        }
    }

    async fn queued(&self) -> Result<Option<Queued>, String> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || store.lock().expect("store lock").queued(BATCH_BYTES))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())
    }

    async fn confirm(&self, stream: &str, through: u64) -> Result<(), String> {
        let store = self.store.clone();
        let stream = stream.to_owned();
        tokio::task::spawn_blocking(move || {
            store
                .lock()
                .expect("store lock")
                .forwarded(&stream, through)
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("cannot note what the central confirmed: {e}"))
    }

    async fn send(&self, queued: Queued) -> Answer {
        let first = queued.items.first().map_or(queued.forwarded + 1, |i| i.0);
        let batch = Batch {
            protocol: PROTOCOL,
            site: self.site.clone(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            stream: queued.stream,
            backlog: queued.backlog,
            first,
            items: queued.items.into_iter().map(|(_, item)| item).collect(),
        };
        let body = match serde_json::to_vec(&batch) {
            Ok(b) => b,
            Err(e) => return Answer::Refused(format!("cannot write the batch: {e}")),
        };
        let response = self
            .client
            .post(&self.url)
            .bearer_auth(self.upstream.token.expose())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await;
        let response = match response {
            Ok(r) => r,
            Err(e) => return Answer::Failed(error_chain(&e)),
        };
        let status = response.status();
        let body = match response.bytes().await {
            Ok(b) => b,
            Err(e) => return Answer::Failed(format!("HTTP {status}: {}", error_chain(&e))),
        };
        answer(status.as_u16(), &body)
    }
}

/// Whether an URL's host is this machine.
fn loopback(url: &str) -> bool {
    reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .is_some_and(|h| {
            h == "localhost"
                || h.parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
                || h == "[::1]"
        })
}

/// What a central's answer means.
fn answer(status: u16, body: &[u8]) -> Answer {
    if status == 200 {
        return match serde_json::from_slice::<Accepted>(body) {
            Ok(a) => Answer::Through(a.through),
            Err(e) => Answer::Failed(format!(
                "the central server's answer is not one of telleverk: {e}"
            )),
        };
    }
    let refusal = serde_json::from_slice::<Refusal>(body).ok();
    let said = refusal.as_ref().map_or_else(
        || String::from_utf8_lossy(body).chars().take(200).collect(),
        |r| r.error.message.clone(),
    );
    match (status, refusal) {
        (409, Some(r)) if r.error.code == "out_of_sequence" && r.error.expected.is_some() => {
            Answer::Expected(r.error.expected.unwrap_or(1))
        }
        (401 | 403 | 409 | 413 | 422, _) => Answer::Refused(format!("HTTP {status}: {said}")),
        (404, _) => Answer::Refused(format!(
            "HTTP 404: {said} (is [upstream] url a telleverk central server of version 0.1 or later?)"
        )),
        _ => Answer::Failed(format!("HTTP {status}: {said}")),
    }
}

/// An error with its sources (reqwest's own text leaves out the cause).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let said = s.to_string();
        if !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_forwarder_is_made_for_plain_http_and_for_https_with_a_ca() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("site.db");
        let store = Arc::new(Mutex::new(
            Store::open(crate::database::Database::File(db)).unwrap(),
        ));
        let mut upstream = Upstream {
            url: "http://127.0.0.1:9".into(),
            token: crate::secret::Secret::new("tlv_x".into()),
            ca_file: None,
        };
        let make = |u: &Upstream| {
            Forwarder::new("bergen", u, store.clone(), Clock::System, Arc::default())
        };
        assert!(make(&upstream).is_ok());
        upstream.url = "https://central.example:8443".into();
        let pem = dir.path().join("not-a-ca.pem");
        std::fs::write(&pem, "no certificate here").unwrap();
        upstream.ca_file = Some(pem);
        let Err(e) = make(&upstream) else {
            panic!("a CA file without a certificate is refused");
        };
        assert!(e.to_string().contains("upstream.ca_file"), "{e}");
    }

    #[test]
    fn answers_mean_what_the_central_says() {
        assert_eq!(
            answer(200, br#"{"through":7,"applied":2,"protocol":1}"#),
            Answer::Through(7)
        );
        assert_eq!(
            answer(
                409,
                br#"{"error":{"code":"out_of_sequence","message":"m","expected":5}}"#
            ),
            Answer::Expected(5)
        );
        assert!(matches!(
            answer(409, br#"{"error":{"code":"protocol","message":"upgrade the site"}}"#),
            Answer::Refused(m) if m.contains("upgrade the site")
        ));
        assert!(matches!(answer(403, b"{}"), Answer::Refused(_)));
        assert!(matches!(answer(503, b"busy"), Answer::Failed(m) if m.contains("busy")));
        assert!(matches!(answer(200, b"<html>"), Answer::Failed(_)));
    }
}
