//! How a failed poll reads: one test per class of failure (garbage replies,
//! a closed port, a wrong v3 privacy password, an unknown v3 context), each
//! checking the stored cause and that the detail gives the advice that fits
//! the entry's version and what was seen — and not advice that does not.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::thread;

use serde_json::Value;

use super::agents::{
    AuthProto, GarbageAgent, GarbageMode, PrivProto, Snmpd, SnmpdOptions, V3User, free_udp_port,
};
use super::cli::{Workdir, v2c};

/// The `[[device]]` entry of user `telleverk-sha256-aes` at `port`.
fn v3(port: u16, priv_pass: &str, context: &str) -> String {
    format!(
        "[[device]]\naddress = \"127.0.0.1:{port}\"\n[device.v3]\nuser = \"telleverk-sha256-aes\"\n\
         auth_protocol = \"sha256\"\nauth_password = \"authpass-sha256\"\n\
         privacy_protocol = \"aes128\"\nprivacy_password = \"{priv_pass}\"\ncontext = \"{context}\"\n"
    )
}

/// Polls `entries` once; every entry must fail. Returns (cause, detail) per
/// entry, and checks the stored poll says the same as the printed one.
fn failures(entries: &[String]) -> Vec<(String, String)> {
    let w = Workdir::new();
    w.config(&entries.concat());
    let polled = w.poll();
    let found: Vec<(String, String)> = polled
        .iter()
        .map(|p| {
            assert_eq!(p["status"], "error", "{p}");
            let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
            (text(&p["error"]), text(&p["detail"]))
        })
        .collect();
    let conn = rusqlite::Connection::open(w.db()).unwrap();
    let mut stmt = conn
        .prepare("SELECT cause, detail FROM poll_failures ORDER BY cause, detail")
        .unwrap();
    let stored: Vec<(String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut printed = found.clone();
    printed.sort();
    assert_eq!(stored, printed);
    found
}

fn assert_advice(detail: &str, has: &[&str], lacks: &[&str]) {
    for word in has {
        assert!(detail.contains(word), "{word:?} missing from: {detail}");
    }
    for word in lacks {
        assert!(
            !detail.contains(word),
            "{word:?} should not be in: {detail}"
        );
    }
}

fn sha256_aes_agent() -> Snmpd {
    let mut options = SnmpdOptions::from_recording("bizhub-4050i");
    options.users = vec![V3User::auth_priv(
        "telleverk-sha256-aes",
        (AuthProto::Sha256, "authpass-sha256"),
        (PrivProto::Aes128, "privpass-aes128"),
    )];
    Snmpd::start(options)
}

#[test]
fn garbage_replies_on_v2c() {
    let random = GarbageAgent::start(GarbageMode::Random);
    let broken = GarbageAgent::start(GarbageMode::BrokenReply);
    let found = failures(&[v2c(random.port, "public"), v2c(broken.port, "public")]);
    // Bytes without a request-id cannot be tied to a request on a shared
    // socket: they look like silence.
    let (cause, detail) = &found[0];
    assert_eq!(cause, "timeout", "{detail}");
    assert_advice(detail, &["community", "port is closed"], &["SNMPv3"]);
    // A reply that carries the request-id but cannot be decoded is seen.
    let (cause, detail) = &found[1];
    assert_eq!(cause, "malformed", "{detail}");
    assert_advice(detail, &["could not be decoded"], &["community"]);
    assert!(random.received() > 0 && broken.received() > 0);
}

#[test]
fn garbage_replies_on_v3() {
    let random = GarbageAgent::start(GarbageMode::Random);
    let broken = GarbageAgent::start(GarbageMode::BrokenReply);
    let found = failures(&[
        v3(random.port, "privpass-aes128", ""),
        v3(broken.port, "privpass-aes128", ""),
    ]);
    let (cause, detail) = &found[0];
    assert_eq!(cause, "timeout", "{detail}");
    assert_advice(detail, &["engine discovery", "firewall"], &["community"]);
    let (cause, detail) = &found[1];
    assert_eq!(cause, "malformed", "{detail}");
    assert_advice(detail, &["could not be decoded"], &["community"]);
}

#[test]
fn a_closed_port_reads_as_silence_with_the_reason() {
    let closed = free_udp_port();
    let found = failures(&[v2c(closed, "public"), v3(closed, "privpass-aes128", "")]);
    let (cause, detail) = &found[0];
    assert_eq!(cause, "timeout", "{detail}");
    assert_advice(
        detail,
        &["community", "port is closed", "shared socket"],
        &["SNMPv3"],
    );
    let (cause, detail) = &found[1];
    assert_eq!(cause, "timeout", "{detail}");
    assert_advice(
        detail,
        &["engine discovery", "port is closed", "shared socket"],
        &["community"],
    );
}

#[test]
fn a_wrong_v3_privacy_password_is_named() {
    // net-snmp decrypts the request with the wrong key, cannot parse the
    // result (snmpInASNParseErrs) and drops it without a report: the library
    // sees no decryptionError report, only silence after engine discovery.
    let agent = sha256_aes_agent();
    let found = failures(&[v3(agent.port, "wrong-privpass", "")]);
    let (cause, detail) = &found[0];
    assert_eq!(cause, "timeout", "{detail}");
    assert_advice(
        detail,
        &["answered SNMPv3 engine discovery", "privacy password"],
        &["community", "context"],
    );
}

#[test]
fn an_unknown_v3_context_is_named() {
    // net-snmp counts snmpUnknownContexts but sends no report: silence after
    // engine discovery, whose detail names the context among the causes.
    let agent = sha256_aes_agent();
    let found = failures(&[v3(agent.port, "privpass-aes128", "no-such-context")]);
    let (cause, detail) = &found[0];
    assert_eq!(cause, "timeout", "{detail}");
    assert_advice(
        detail,
        &["\"no-such-context\"", "`context`"],
        &["community"],
    );
    // async-snmp's agent (`telleverk simulate`) answers noSuchObject for every
    // object of an unknown context: that is the agent refusing, not a
    // malformed answer.
    let sim = Simulator::start();
    let entry = format!(
        "[[device]]\naddress = \"127.0.0.1:{}\"\n[device.v3]\nuser = \"telleverk-sim\"\n\
         auth_protocol = \"sha256\"\nauth_password = \"sim-auth-password\"\n\
         privacy_protocol = \"aes128\"\nprivacy_password = \"sim-priv-password\"\n\
         context = \"no-such-context\"\n",
        sim.port
    );
    let (cause, detail) = &failures(&[entry])[0];
    assert_eq!(cause, "agent_error", "{detail}");
    assert_advice(
        detail,
        &["does not know context \"no-such-context\"", "`context`"],
        &["community", "password"],
    );
}

/// `telleverk simulate` on a free port of 127.0.0.1, killed when dropped.
pub struct Simulator {
    child: Child,
    pub port: u16,
    _dir: Workdir,
}

impl Simulator {
    fn start() -> Simulator {
        Simulator::start_with(free_udp_port(), &["--devices", "1"])
    }

    /// `telleverk simulate` on `port` with these arguments besides
    /// `--listen`.
    pub fn start_with(port: u16, args: &[&str]) -> Simulator {
        let dir = Workdir::new();
        let mut child = Command::new(env!("CARGO_BIN_EXE_telleverk"))
            .arg("simulate")
            .args(args)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .current_dir(dir.path())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .expect("start telleverk simulate");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let ready = lines.any(|line| line.is_ok_and(|l| l.contains("Ctrl-C stops")));
        assert!(ready, "telleverk simulate ended before it was ready");
        // Keep reading, so that the simulator never blocks on a full pipe.
        thread::spawn(move || lines.for_each(drop));
        Simulator {
            child,
            port,
            _dir: dir,
        }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
