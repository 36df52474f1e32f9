//! Alerts that reach people: the running service tells a real SMTP sink
//! (aiosmtpd) and a local HTTP receiver of every alert that opens and
//! closes. The receiver refuses the first tries; the service is stopped in
//! the middle of a retry and started again; each notification keeps its
//! id, its body and a valid signature through all of it.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;

use telleverk::clock::Clock;

use super::agents::free_udp_port;
use super::api::{App, VIEWER};
use super::cli::{Workdir, v2c};
use super::failures::Simulator;
use super::reports::{SmtpSink, free_port};

const SECRET: &str = "the-receiver-s-shared-secret";

/// One request the receiver took, and what it answered.
#[derive(Debug, Clone)]
struct Hook {
    headers: HashMap<String, String>,
    body: String,
    status: u16,
}

impl Hook {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a webhook body is JSON")
    }

    fn id(&self) -> &str {
        &self.headers["x-telleverk-delivery"]
    }
}

/// A webhook receiver on 127.0.0.1: it refuses (503) the next `fail`
/// requests, or every request while `down`, and keeps every request.
struct HookSink {
    port: u16,
    hooks: Arc<Mutex<Vec<Hook>>>,
    fail: Arc<AtomicUsize>,
    down: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
}

impl HookSink {
    fn start() -> HookSink {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let sink = HookSink {
            port,
            hooks: Arc::default(),
            fail: Arc::default(),
            down: Arc::default(),
            stop: Arc::default(),
        };
        let (hooks, fail, down, stop) = (
            sink.hooks.clone(),
            sink.fail.clone(),
            sink.down.clone(),
            sink.stop.clone(),
        );
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let refuse = down.load(Ordering::SeqCst)
                    || fail
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                        .is_ok();
                if let Some(hook) = answer(stream, if refuse { 503 } else { 200 }) {
                    hooks.lock().unwrap().push(hook);
                }
            }
        });
        sink
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    fn hooks(&self) -> Vec<Hook> {
        self.hooks.lock().unwrap().clone()
    }

    /// Waits until a request satisfies `ok`, and returns it.
    fn wait_for(&self, what: &str, ok: impl Fn(&Hook) -> bool) -> Hook {
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            if let Some(h) = self.hooks().into_iter().find(|h| ok(h)) {
                return h;
            }
            assert!(
                Instant::now() < deadline,
                "no webhook {what} came; took: {:#?}",
                self.hooks()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for HookSink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Reads one HTTP/1.1 request and answers `status`.
fn answer(stream: TcpStream, status: u16) -> Option<Hook> {
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    if !line.starts_with("POST /hook ") {
        return None;
    }
    let mut headers = HashMap::new();
    loop {
        line.clear();
        reader.read_line(&mut line).ok()?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (name, value) = l.split_once(':')?;
        headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
    }
    let length: usize = headers.get("content-length")?.parse().ok()?;
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    let reason = if status == 200 {
        "OK"
    } else {
        "Service Unavailable"
    };
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 {status} {reason}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    )
    .ok()?;
    Some(Hook {
        headers,
        body: String::from_utf8(body).ok()?,
        status,
    })
}

/// The signature the receiver expects: the HMAC-SHA256 of the body.
fn expected_signature(body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

/// Checks every request of one notification: the same body and id each
/// time, and a valid signature.
fn assert_one_notification(hooks: &[Hook], id: &str) -> Vec<Hook> {
    let of: Vec<Hook> = hooks.iter().filter(|h| h.id() == id).cloned().collect();
    assert!(!of.is_empty());
    for h in &of {
        assert_eq!(h.body, of[0].body, "every attempt sends the same body");
        assert_eq!(h.json()["id"], id, "the body carries the delivery id");
        assert_eq!(h.headers["content-type"], "application/json");
        assert_eq!(
            h.headers["x-telleverk-signature"],
            expected_signature(&h.body),
            "the signature is the HMAC-SHA256 of the body"
        );
    }
    of
}

fn is_unreachable(h: &Hook, event: &str) -> bool {
    let v = h.json();
    v["type"] == "alert" && v["event"] == event && v["alert"]["kind"] == "unreachable"
}

/// The config: one device at `udp` (nothing answers there at first), mail
/// of `unreachable` to facilities, every kind to the webhook.
fn notify_config(
    work: &Workdir,
    udp: u16,
    smtp: u16,
    hook: &HookSink,
    extra: &str,
) -> telleverk::config::Config {
    let text = format!(
        "{}\n[smtp]\nhost = \"127.0.0.1\"\nport = {smtp}\ntls = \"none\"\n\
         from = \"Telleverk <telleverk@example.com>\"\n\n{}\n\
         [[notify]]\nkinds = [\"unreachable\"]\nemail_to = [\"facilities@example.com\"]\n\n\
         [[notify]]\nwebhook_url = \"{}\"\nwebhook_secret_env = \"TELLEVERK_HOOK_SECRET\"\n{extra}",
        App::head(),
        v2c(udp, "public"),
        hook.url()
    );
    let path = work.config_with(&text, "");
    // As written: with the store of the backend the tests run on.
    let written = std::fs::read_to_string(&path).unwrap();
    telleverk::config::parse(&path, &written, &|name| {
        (name == "TELLEVERK_HOOK_SECRET")
            .then(|| SECRET.to_owned())
            .or_else(|| crate::backend::env(name))
    })
    .expect("the notify config loads")
}

#[test]
fn alerts_reach_mail_and_a_signed_webhook_through_failures_and_a_restart() {
    let work = Workdir::new();
    let smtp_port = free_port();
    let smtp = SmtpSink::start(smtp_port, work.path().join("mail"));
    let hook = HookSink::start();
    let udp = free_udp_port();
    hook.fail.store(2, Ordering::SeqCst);
    let app = App::start_config(
        notify_config(&work, udp, smtp_port, &hook, ""),
        Clock::System,
    );

    // The device never answers: `unreachable` opens, is told once it has
    // stayed open for another round, and gets through on the third try.
    let opened = hook.wait_for("opening delivered", |h| {
        h.status == 200 && is_unreachable(h, "opened")
    });
    let tries = assert_one_notification(&hook.hooks(), opened.id());
    let statuses: Vec<u16> = tries.iter().map(|h| h.status).collect();
    assert_eq!(statuses, [503, 503, 200], "refused twice, then taken");
    // /metrics counts the attempts (the two refusals at least, and the
    // webhook's and the mail's deliveries).
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = app.request("GET", "/metrics", None, None).text;
        let count = |result: &str| -> u64 {
            let line = format!("telleverk_notifications_total{{result=\"{result}\"}} ");
            text.lines()
                .find_map(|l| l.strip_prefix(line.as_str()))
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("no {line} in {text}"))
        };
        if count("failed") >= 2 && count("delivered") >= 2 {
            assert!(text.contains("telleverk_notifications_pending "), "{text}");
            break;
        }
        assert!(Instant::now() < deadline, "{text}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let body = opened.json();
    assert!(
        body["alert"]["since"]
            .as_str()
            .is_some_and(|s| !s.is_empty())
    );

    // The history has the opening, told; the open alert shows since when.
    let history = app.wait_for("/api/v1/alerts/history?kind=unreachable", |b| {
        b["items"].as_array().is_some_and(|i| !i.is_empty())
    });
    let first = &history["items"][0];
    assert_eq!(first["event"], "opened");
    assert_eq!(first["told"], true);
    assert_eq!(body["alert"]["history_id"], first["id"]);
    let alerts = app.get("/api/v1/alerts", VIEWER).body;
    let items = alerts["items"].as_array().unwrap();
    assert!(!items.is_empty());
    for a in items {
        assert!(
            a["since"].is_string(),
            "every open alert says since when: {a}"
        );
    }

    // The mail of it, with the notification's id as its Message-ID.
    let mails = smtp.wait_for(1);
    let mail = &mails[0].envelope;
    assert_eq!(mail["to"][0], "facilities@example.com");
    assert!(
        mail["subject"]
            .as_str()
            .unwrap()
            .contains("unreachable opened"),
        "{mail}"
    );
    assert!(
        mail["text"].as_str().unwrap().contains("never answered"),
        "{mail}"
    );

    // The receiver goes down; the device comes up: the closing is told,
    // refused, and the service stops in the middle of its retries.
    hook.down.store(true, Ordering::SeqCst);
    let _device =
        Simulator::start_with(udp, &["--addresses", "127.0.0.1", "--community", "public"]);
    let refused = hook.wait_for("closing attempted", |h| is_unreachable(h, "closed"));
    app.stop().expect("the service stops cleanly");
    let closing_id = refused.id().to_owned();

    // Started again, it sends the same notification, with its old id.
    hook.down.store(false, Ordering::SeqCst);
    let app = App::start_config(
        notify_config(&work, udp, smtp_port, &hook, ""),
        Clock::System,
    );
    let closed = hook.wait_for("closing delivered", |h| {
        h.status == 200 && is_unreachable(h, "closed")
    });
    assert_eq!(
        closed.id(),
        closing_id,
        "the restart sends the stored notification"
    );
    assert_one_notification(&hook.hooks(), &closing_id);
    let delivered: Vec<String> = hook
        .hooks()
        .iter()
        .filter(|h| h.status == 200 && (is_unreachable(h, "opened") || is_unreachable(h, "closed")))
        .map(|h| h.id().to_owned())
        .collect();
    assert_eq!(
        delivered.len(),
        2,
        "each notification is delivered once: {delivered:?}"
    );
    let closed_body = closed.json();
    assert!(closed_body["alert"]["closed_at"].is_string());
    assert_eq!(closed_body["alert"]["since"], body["alert"]["since"]);

    // The closing is mailed too, and the history has both, told.
    let mails = smtp.wait_for(2);
    assert!(
        mails[1].envelope["subject"]
            .as_str()
            .unwrap()
            .contains("unreachable closed"),
        "{}",
        mails[1].envelope
    );
    let ids: Vec<&str> = mails
        .iter()
        .map(|m| m.envelope["message_id"].as_str().unwrap())
        .collect();
    assert_ne!(ids[0], ids[1]);
    let history = app.wait_for("/api/v1/alerts/history?kind=unreachable", |b| {
        b["items"].as_array().is_some_and(|i| i.len() >= 2)
    });
    assert_eq!(history["items"][0]["event"], "closed");
    assert_eq!(history["items"][0]["told"], true);
    assert_eq!(history["items"][1]["event"], "opened");
    let closings = app.get(
        "/api/v1/alerts/history?event=closed&kind=unreachable",
        VIEWER,
    );
    let items = closings.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", closings.text);
    assert_eq!(items[0]["event"], "closed");
    let bad = app.get("/api/v1/alerts/history?event=shut", VIEWER);
    assert_eq!(bad.status, 400);
    assert!(bad.text.contains("event"), "{}", bad.text);
    app.stop().expect("the service stops cleanly");
}

/// A digest tells once on its schedule what opened since the last one,
/// and no message per alert goes to its destination.
#[test]
fn a_digest_sends_one_summary_on_its_schedule() {
    let work = Workdir::new();
    let smtp_port = free_port();
    let hook = HookSink::start();
    let udp = free_udp_port();
    let config = notify_config(&work, udp, smtp_port, &hook, "digest = \"* * * * *\"\n");
    // A round a second of real time (the collector's ticker), a minute of
    // the simulated clock the digest's schedule follows.
    let origin = "2026-03-02T07:00:00Z".parse().unwrap();
    let app = App::start_config(config, Clock::simulated(origin, 60));
    let digest = hook.wait_for("digest", |h| {
        let v = h.json();
        v["type"] == "digest"
            && v["opened"]
                .as_array()
                .is_some_and(|o| o.iter().any(|a| a["kind"] == "unreachable"))
    });
    assert_one_notification(&hook.hooks(), digest.id());
    let v = digest.json();
    assert!(
        v["open"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["kind"] == "unreachable")
    );
    assert!(
        hook.hooks().iter().all(|h| h.json()["type"] == "digest"),
        "a digest's destination gets no message per alert"
    );
    app.stop().expect("the service stops cleanly");
}
