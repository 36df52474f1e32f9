//! The simulated fleet (`telleverk simulate`) polled by net-snmp's tools and by
//! telleverk itself, its quirks seen as events, and `telleverk demo`.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::agents::{free_udp_port, net_snmp};
use crate::cli::{Workdir, json_lines, text};

const KM_TOTAL: &str = "1.3.6.1.4.1.18334.1.1.1.5.7.2.1.1.0";
const KM_FUNCTION_PAGES: &str = "1.3.6.1.4.1.18334.1.1.1.5.7.2.2.1.5";
const SERIAL: &str = "1.3.6.1.2.1.43.5.1.1.17.1";
const SUPPLY_LEVELS: &str = "1.3.6.1.2.1.43.11.1.1.9";

/// Wednesday 2026-11-18 10:00 Oslo: a working morning.
const WEDNESDAY_10: &str = "2026-11-18T09:00:00Z";

/// A running `telleverk` child (simulate or demo) whose stdout lines arrive on
/// a channel; stopped with SIGINT when dropped.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Running {
    fn start(work: &Workdir, args: &[&str]) -> Running {
        let mut child = Command::new(env!("CARGO_BIN_EXE_telleverk"))
            .args(args)
            .current_dir(work.path())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start telleverk");
        let lines = forward(child.stdout.take().expect("stdout"));
        Running {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits (at most `limit`) for a line containing `needle`.
    fn wait_for(&mut self, needle: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => break,
            }
        }
        panic!(
            "no line with {needle:?} in {limit:?}; got:\n{}",
            self.seen.join("\n")
        );
    }

    /// SIGINT, then the exit code and the rest of the output.
    fn interrupt(&mut self) -> (Option<i32>, String) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-INT", &pid]).status().unwrap();
        assert!(sent.success());
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "telleverk ignored SIGINT");
            std::thread::sleep(Duration::from_millis(50));
        };
        self.seen.extend(self.lines.try_iter());
        (status.code(), self.seen.join("\n"))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn forward(stdout: ChildStdout) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Starts `telleverk simulate` on a free port, writing `sim.toml` in `work`.
fn simulate(work: &Workdir, extra: &[&str]) -> (Running, u16) {
    let port = free_udp_port();
    let listen = format!("127.0.0.1:{port}");
    let mut args = vec![
        "simulate",
        "--listen",
        &listen,
        "--write-config",
        "sim.toml",
    ];
    args.extend(extra);
    let mut sim = Running::start(work, &args);
    sim.wait_for("Ctrl-C stops", Duration::from_secs(20));
    (sim, port)
}

/// The community (or v3 context) of every device in the written `sim.toml`.
fn communities(work: &Workdir) -> Vec<String> {
    let text = std::fs::read_to_string(work.path().join("sim.toml")).unwrap();
    let config: toml::Table = toml::from_str(&text).unwrap();
    config["device"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let name = d.get("community").or_else(|| d["v3"].get("context"));
            name.and_then(|n| n.as_str()).unwrap().to_owned()
        })
        .collect()
}

/// The value of one `OID = TYPE: VALUE` line of net-snmp's numeric output.
fn value_of(output: &str, oid: &str) -> String {
    output
        .lines()
        .find(|l| l.starts_with(&format!(".{oid} = ")))
        .unwrap_or_else(|| panic!("{oid} not in:\n{output}"))
        .split_once(": ")
        .map(|(_, v)| v.trim_matches('"').to_owned())
        .unwrap_or_default()
}

fn integers(output: &str) -> Vec<i64> {
    output
        .lines()
        .filter_map(|l| l.split_once("INTEGER: "))
        .map(|(_, v)| v.trim().parse().expect("an integer"))
        .collect()
}

fn poll_json(work: &Workdir, config: &str) -> Vec<Value> {
    let out = work.run(&["poll", "--once", "--json", "--config", config]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    json_lines(&out)
}

#[test]
fn net_snmp_and_telleverk_read_the_same_values_from_the_simulator() {
    let work = Workdir::new();
    let (_sim, port) = simulate(
        &work,
        &[
            "--devices",
            "20",
            "--delay",
            "5ms",
            "--slow-delay",
            "100ms",
            "--snmp-version",
            "mixed",
            "--start",
            WEDNESDAY_10,
            "--speed",
            "0",
        ],
    );
    let target = format!("127.0.0.1:{port}");
    let names = communities(&work);
    let name = |i: usize| names[i].as_str();
    // v2c: the function counters of a colour device add up to its total.
    let got = net_snmp(
        "snmpget",
        &["-v2c", "-c", name(0), &target, KM_TOTAL, SERIAL],
    );
    let total: i64 = value_of(&got, KM_TOTAL).parse().unwrap();
    let serial = value_of(&got, SERIAL);
    let cells = integers(&net_snmp(
        "snmpbulkwalk",
        &["-v2c", "-c", name(0), &target, KM_FUNCTION_PAGES],
    ));
    assert_eq!(cells.len(), 8, "4 colour modes × copy/print");
    assert_eq!(cells.iter().sum::<i64>(), total);
    // The mono device (position 1) answers -1 for every colour cell.
    let mono = integers(&net_snmp(
        "snmpbulkwalk",
        &["-v2c", "-c", name(1), &target, KM_FUNCTION_PAGES],
    ));
    assert_eq!(&mono[2..], &[-1; 6]);
    // v1 (GETNEXT walk) and v3 (context) reach their own devices.
    let v1 = net_snmp("snmpwalk", &["-v1", "-c", name(5), &target, SUPPLY_LEVELS]);
    assert_eq!(integers(&v1).len(), 11, "{v1}");
    let v3 = net_snmp(
        "snmpget",
        &[
            "-v3",
            "-l",
            "authPriv",
            "-u",
            "telleverk-sim",
            "-a",
            "SHA-256",
            "-A",
            "sim-auth-password",
            "-x",
            "AES",
            "-X",
            "sim-priv-password",
            "-n",
            "dev-00011",
            &target,
            SERIAL,
        ],
    );
    let v3_serial = value_of(&v3, SERIAL);
    assert_ne!(v3_serial, serial);

    // telleverk polls the written config: all 20 answer, with the same values.
    let polled = poll_json(&work, "sim.toml");
    assert_eq!(polled.len(), 20);
    assert!(polled.iter().all(|p| p["status"] == "ok"), "{polled:?}");
    assert_eq!(polled[0]["serial"], serial.as_str());
    assert_eq!(polled[0]["meters"]["total"], total);
    assert_eq!(polled[10]["serial"], v3_serial.as_str());
    assert!(polled[1]["meters"].get("colour_total").is_none());
    assert_eq!(polled[0]["supplies"].as_array().unwrap().len(), 11);
    let mut serials: Vec<&str> = polled
        .iter()
        .map(|p| p["serial"].as_str().unwrap())
        .collect();
    serials.sort();
    serials.dedup();
    assert_eq!(serials.len(), 20);
}

#[test]
fn the_booting_and_the_resetting_device_show_up_as_events() {
    let work = Workdir::new();
    // 1 real second = 30 simulated minutes: the boot is 2 s in, the reset 4 s.
    let started = Instant::now();
    let (_sim, _) = simulate(
        &work,
        &[
            "--devices",
            "5",
            "--delay",
            "1ms",
            "--slow-delay",
            "50ms",
            "--start",
            WEDNESDAY_10,
            "--speed",
            "1800",
        ],
    );
    let at = |secs: f64| {
        let when = started + Duration::from_secs_f64(secs);
        std::thread::sleep(when.saturating_duration_since(Instant::now()));
    };
    let mut events = Vec::new();
    for when in [0.5, 2.5, 3.0, 4.5, 5.0] {
        at(when);
        let out = work.run(&["poll", "--once", "--config", "sim.toml"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        events.extend(
            stdout
                .lines()
                .filter(|l| l.starts_with("event:"))
                .map(String::from),
        );
    }
    let serial_of = |index: usize| {
        let polled = poll_json(&work, "sim.toml");
        polled[index]["serial"].as_str().unwrap().to_owned()
    };
    let (resets, boots) = (serial_of(3), serial_of(4));
    let has = |kind: &str, serial: &str| {
        events
            .iter()
            .any(|e| e.starts_with(&format!("event: {kind} ")) && e.contains(serial))
    };
    assert!(has("glitch", &boots), "{events:#?}");
    assert!(has("confirmed_reset", &resets), "{events:#?}");
    assert!(!has("confirmed_reset", &boots), "{events:#?}");
    let others: Vec<&String> = events
        .iter()
        .filter(|e| !e.contains(&resets) && !e.contains(&boots))
        .collect();
    assert!(others.is_empty(), "{others:#?}");
}

#[test]
fn the_demo_polls_its_own_database_and_stops_on_ctrl_c() {
    let work = Workdir::new();
    let mut demo = Running::start(&work, &["demo", "--devices", "5", "--db", "demo.db"]);
    demo.wait_for("simulated time starts", Duration::from_secs(20));
    // The web pages, with a token for this run.
    let web = demo.wait_for("web pages: http://", Duration::from_secs(5));
    let base = web
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .trim_end_matches('/')
        .to_owned();
    let token = web
        .split_whitespace()
        .find(|w| w.starts_with("tlv_"))
        .unwrap()
        .to_owned();
    // A new database first gets 13 weeks of history, three rounds a working
    // day, and the toners' real coverage over it.
    let history = demo.wait_for("history: ", Duration::from_secs(10));
    assert!(history.contains("08:00, 12:00 and 16:00"), "{history}");
    let done = demo.wait_for(" rounds, ", Duration::from_secs(120));
    let rounds: usize = done
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{done}"));
    // 65 working days less the public holidays among them (up to 7 in spring).
    assert!((150..=195).contains(&rounds), "{done}");
    assert!(done.contains(&format!("{} polls", rounds * 5)), "{done}");
    demo.wait_for("real coverage per toner", Duration::from_secs(20));
    let summary = demo.wait_for("without a rated yield", Duration::from_secs(20));
    assert!(
        summary.contains("telleverk supplies shows each"),
        "{summary}"
    );
    demo.wait_for("── round 2", Duration::from_secs(30));
    let row = demo.wait_for("bizhub", Duration::from_secs(10));
    // Its alerts are told to its log sink once open for two rounds, each
    // signature checked by the sink.
    let told = demo.wait_for("notified: ", Duration::from_secs(30));
    assert!(told.contains("notified: opened "), "{told}");
    assert!(
        !demo
            .seen
            .iter()
            .any(|l| l.contains("refused a notification")),
        "{:?}",
        demo.seen
    );
    let http: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let r = http
        .post(format!("{base}/login"))
        .send_form([("token", token.as_str()), ("next", "/")])
        .unwrap();
    assert_eq!(r.status(), 303, "the demo's token logs in");
    let cookie = r
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let page = http
        .get(format!("{base}/"))
        .header("cookie", &cookie)
        .call()
        .unwrap();
    assert_eq!(page.status(), 200);
    let page = page.into_body().read_to_string().unwrap();
    assert!(
        page.contains("id=\"fleet\"") && page.contains("bizhub"),
        "{page}"
    );
    assert!(row.split_whitespace().count() >= 5, "{row}");
    let (code, output) = demo.interrupt();
    assert_eq!(code, Some(0), "{output}");
    assert!(output.contains("demo stopped"), "{output}");
    assert!(!output.contains("refused a notification"), "{output}");
    let store = telleverk::storage::Store::open(work.path().join("demo.db")).unwrap();
    assert_eq!(store.serials().unwrap().len(), 5);
    let serial = &store.serials().unwrap()[0];
    // The history's rounds and the live ones.
    assert!(store.readings(serial, None, None).unwrap().unwrap().len() >= rounds);
    drop(store);
    // A second run carries on where the first stopped: no history again.
    let mut again = Running::start(&work, &["demo", "--devices", "5", "--db", "demo.db"]);
    again.wait_for("── round 1", Duration::from_secs(30));
    let (code, output) = again.interrupt();
    assert_eq!(code, Some(0), "{output}");
    assert!(
        !again.seen.iter().any(|l| l.starts_with("history:")),
        "{:?}",
        again.seen
    );

    // poll and serve never write into a demo database ...
    let config: PathBuf = work.config_with(
        "[storage]\npath = \"demo.db\"\n",
        "[[device]]\naddress = \"127.0.0.1:9\"\ncommunity = \"x\"\n",
    );
    let out = work.run(&["poll", "--once", "--config", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("is a demo database"), "{}", text(&out));
    // ... and the demo never into a production one.
    let prod = Workdir::new();
    prod.config("[[device]]\naddress = \"127.0.0.1:9\"\ncommunity = \"x\"\n");
    let out = prod.run(&["poll", "--once", "--config", "telleverk.toml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = prod.run(&["demo", "--db", "telleverk.db"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("is a production database"),
        "{}",
        text(&out)
    );
}

#[test]
fn the_written_config_serves_an_api_with_a_token_and_a_contract_and_is_never_overwritten_unasked() {
    let work = Workdir::new();
    let (sim, _port) = simulate(&work, &["--devices", "3", "--speed", "0"]);
    let token = sim
        .seen
        .iter()
        .find(|l| l.starts_with("tlv_"))
        .cloned()
        .unwrap_or_else(|| panic!("no token printed: {:?}", sim.seen));
    drop(sim);
    let text = std::fs::read_to_string(work.path().join("sim.toml")).unwrap();
    let hash = telleverk::config::hash_text(&telleverk::config::token_hash(&token));
    assert!(
        text.contains(&hash),
        "the config holds the printed token's hash"
    );
    assert!(!text.contains(&token), "and never the token");
    let out = work.run(&["check-config", "sim.toml"]);
    let said = super::cli::text(&out);
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert!(said.contains("contracts: SIM"), "{said}");
    assert!(
        said.contains("1 tokens (viewer 0, operator 0, admin 1, collector 0)"),
        "{said}"
    );
    assert!(
        !said.contains("127.0.0.1:8080"),
        "a port of its own: {said}"
    );

    // A second run does not overwrite it unless told to.
    let again = work.run(&[
        "simulate",
        "--devices",
        "3",
        "--listen",
        "127.0.0.1:0",
        "--write-config",
        "sim.toml",
    ]);
    assert_eq!(again.status.code(), Some(2), "{}", super::cli::text(&again));
    assert!(super::cli::text(&again).contains("--force"));
    assert_eq!(
        std::fs::read_to_string(work.path().join("sim.toml")).unwrap(),
        text
    );
}

/// Issue 16 §2: `telleverk discover` asks every address of a range with
/// each `[discovery]` community, lists the printers (which one the config
/// polls already), and writes entries that poll the new ones.
#[test]
fn discover_finds_the_printers_of_a_range_and_writes_their_entries() {
    let w = Workdir::new();
    let port = free_udp_port();
    let listen = format!("127.0.0.1:{port}");
    let (_sim, serials) = simulate_addresses(&w, "127.0.3.1-6", &listen, &[]);
    assert_eq!(serials.len(), 6);
    w.config_with(
        "[discovery]\ncommunities = [\"wrong\", \"public\"]\ntimeout = \"500ms\"\n",
        &format!("[[device]]\naddress = \"127.0.3.2:{port}\"\ncommunity = \"public\"\n"),
    );
    let port_text = port.to_string();
    let found = discover_json(&w, &port_text, "127.0.3.0/29", "found.toml");
    let seen: Vec<(String, String, bool, String)> = found
        .iter()
        .map(|f| {
            (
                f["address"].as_str().unwrap().to_owned(),
                f["serial"].as_str().unwrap().to_owned(),
                f["configured"].as_bool().unwrap(),
                f["credential"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected: Vec<(String, String, bool, String)> = (1..=6)
        .map(|i| {
            (
                format!("127.0.3.{i}:{port}"),
                serials[i - 1].clone(),
                i == 2,
                "communities[1]".to_owned(),
            )
        })
        .collect();
    assert_eq!(seen, expected, "127.0.3.7 answers nothing");
    assert!(found.iter().all(|f| f["printer"] == true));
    assert!(
        found
            .iter()
            .all(|f| f["profile"] == "konica-minolta-bizhub")
    );

    // The written entries poll the five new printers once the variable they
    // name holds the community: no secret was written.
    let written = std::fs::read_to_string(w.path().join("found.toml")).unwrap();
    assert_eq!(written.matches("[[device]]").count(), 5, "{written}");
    assert!(!written.contains("public"), "{written}");
    let config = std::fs::read_to_string(w.path().join("telleverk.toml")).unwrap();
    std::fs::write(w.path().join("telleverk.toml"), config + &written).unwrap();
    let polled = poll_with(&w, &[("TELLEVERK_COMMUNITY_2", "public")]);
    let mut polled_serials: Vec<String> = polled
        .iter()
        .map(|p| p["serial"].as_str().unwrap_or("-").to_owned())
        .collect();
    polled_serials.sort();
    let mut all = serials.clone();
    all.sort();
    assert_eq!(polled_serials, all);

    // SNMPv3: the simulator's user finds them too, and the blocks written
    // for it poll them once the password variables are set.
    w.config_with(
        "[discovery]\ntimeout = \"500ms\"\n[[discovery.v3]]\nuser = \"telleverk-sim\"\n\
         auth_protocol = \"sha256\"\nauth_password = \"sim-auth-password\"\n\
         privacy_protocol = \"aes128\"\nprivacy_password = \"sim-priv-password\"\n",
        "",
    );
    let found = discover_json(&w, &port_text, "127.0.3.1-2", "v3.toml");
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(
        found
            .iter()
            .all(|f| f["version"] == "3" && f["credential"] == "v3[0]")
    );
    assert_eq!(found[0]["serial"], serials[0].as_str());
    let written = std::fs::read_to_string(w.path().join("v3.toml")).unwrap();
    assert!(!written.contains("sim-auth-password"), "{written}");
    let config = std::fs::read_to_string(w.path().join("telleverk.toml")).unwrap();
    std::fs::write(w.path().join("telleverk.toml"), config + &written).unwrap();
    let answered = poll_with(
        &w,
        &[
            ("TELLEVERK_V3_AUTH", "sim-auth-password"),
            ("TELLEVERK_V3_PRIV", "sim-priv-password"),
        ],
    );
    assert_eq!(answered.len(), 2);
    assert!(answered.iter().all(|p| p["status"] == "ok"), "{answered:?}");

    // Bad input: named, exit 2.
    for (range, says) in [
        ("10.0.0.0/8", "give --force"),
        ("10.0.0.300", "`10.0.0.300` is not an address range"),
    ] {
        let out = w.run(&["discover", "--config", "telleverk.toml", range]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(text(&out).contains(says), "{}", text(&out));
    }
    w.config_with(
        "[discovery]\ncommunity_env = [\"TELLEVERK_NOT_SET_ANYWHERE\"]\n",
        "",
    );
    let out = w.run(&["discover", "--config", "telleverk.toml", "127.0.3.1"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("TELLEVERK_NOT_SET_ANYWHERE"),
        "{}",
        text(&out)
    );
    // No range given and none in the config.
    w.config_with("[discovery]\ncommunities = [\"public\"]\n", "");
    let out = w.run(&["discover", "--config", "telleverk.toml"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("no range to scan"), "{}", text(&out));
}

/// Issue 16 §3: `serve` with `[discovery] ranges` scans on schedule,
/// follows a configured device that moved (a `move` event, the same entry
/// and series, its new address), polls the bizhubs no entry names
/// (`discovered` in the API and the counter report, and in `poll --once`
/// after), and keeps every device, unreachable, once the network is gone.
#[test]
fn serve_follows_moved_devices_adds_new_bizhubs_and_keeps_the_vanished() {
    use crate::api::{App, VIEWER};
    let w = Workdir::new();
    let port = free_udp_port();
    let listen = format!("127.0.5.1:{port}");
    let (mut sim, serials) = simulate_addresses(
        &w,
        "127.0.5.1-8",
        &listen,
        &["--devices", "5", "--move-every", "4s"],
    );
    assert_eq!(serials.len(), 5);
    let at = |i: u8| format!("127.0.5.{i}:{port}");
    let path = w.config_with(
        &format!(
            "{}\n[discovery]\ncommunities = [\"wrong\", \"public\"]\nranges = [\"127.0.5.1-8\"]\n\
             port = {port}\nrediscover = \"1s\"\ntimeout = \"300ms\"\nauto_add = true\n",
            App::head()
        ),
        &format!(
            "[[device]]\naddress = \"{}\"\ncommunity = \"public\"\nlocation = \"Reception\"\n\n\
             [[device]]\naddress = \"{}\"\ncommunity = \"public\"\n",
            at(1),
            at(2)
        ),
    );
    let app = App::start(&path, chrono::Utc::now(), 1);
    let device = |serial: &str| app.get(&format!("/api/v1/devices/{serial}"), VIEWER).body;

    // The three bizhubs no entry names are found and polled, marked
    // discovered; the two configured ones are not.
    let list = app.wait_for("/api/v1/devices", |b| {
        b["items"].as_array().is_some_and(|items| {
            items.len() == 5 && items.iter().all(|d| d["last_reading_at"].is_string())
        })
    });
    for d in list["items"].as_array().unwrap() {
        let configured = d["serial"] == serials[0].as_str() || d["serial"] == serials[1].as_str();
        assert_eq!(d["discovered"], !configured, "{d}");
    }

    // The first configured device moves to the first free address (.6):
    // its entry follows it there, with a move event, in one series.
    let moved = sim.wait_for("moved ", Duration::from_secs(20));
    assert_eq!(
        moved,
        format!("moved {} from {} to {}", serials[0], at(1), at(6))
    );
    let before = device(&serials[0]);
    let followed = app.wait_for(&format!("/api/v1/devices/{}", serials[0]), |d| {
        d["address"] == at(6).as_str()
            && d["reachable"] == true
            && d["last_poll_at"] != before["last_poll_at"]
    });
    assert_eq!(
        followed["entry"], before["entry"],
        "the same entry follows it"
    );
    assert_eq!(followed["location"], "Reception");
    let moves: Vec<&Value> = followed["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "move")
        .collect();
    assert_eq!(moves.len(), 1, "{followed}");
    let detail = moves[0]["detail"].as_str().unwrap();
    assert!(
        detail.contains(&at(1)) && detail.contains(&at(6)),
        "{detail}"
    );
    let readings = app
        .get(&format!("/api/v1/devices/{}/readings", serials[0]), VIEWER)
        .body;
    assert!(
        readings["items"].as_array().is_some_and(|r| !r.is_empty()),
        "{readings}"
    );

    // The counter report marks the discovered devices.
    let today = chrono::Utc::now().date_naive();
    let report = app
        .get(
            &format!(
                "/api/v1/reports/counters?from={}&to={}",
                today.pred_opt().unwrap(),
                today.succ_opt().unwrap()
            ),
            VIEWER,
        )
        .body;
    let marked: Vec<(String, bool)> = report["devices"]
        .as_array()
        .unwrap_or_else(|| panic!("{report}"))
        .iter()
        .map(|d| {
            (
                d["serial"].as_str().unwrap().to_owned(),
                d["discovered"].as_bool().unwrap(),
            )
        })
        .collect();
    let mut expected: Vec<(String, bool)> = serials
        .iter()
        .enumerate()
        .map(|(i, s)| (s.clone(), i >= 2))
        .collect();
    expected.sort();
    assert_eq!(marked, expected);

    // `poll --once` polls the entries where serve found them, and the
    // discovered devices, from what the database keeps.
    let polled = w.poll();
    assert_eq!(polled.len(), 5, "{polled:?}");
    assert!(
        polled.iter().any(|p| p["address"] == at(6).as_str()),
        "{polled:?}"
    );

    // The network goes: every device stays, unreachable.
    drop(sim);
    let gone = app.wait_for("/api/v1/devices", |b| {
        b["items"]
            .as_array()
            .is_some_and(|items| items.len() == 5 && items.iter().all(|d| d["reachable"] == false))
    });
    assert_eq!(gone["items"].as_array().unwrap().len(), 5);
    app.stop().expect("serve stops cleanly");
}

/// `poll --once --json` of the work folder's config with these variables
/// set, which must exit 0; one object per entry.
/// `discover --json` of `range` on `port`, appending blocks to `write`;
/// it must exit 0. One object per device found.
fn discover_json(w: &Workdir, port: &str, range: &str, write: &str) -> Vec<Value> {
    let out = w.run(&[
        "discover",
        "--config",
        "telleverk.toml",
        "--port",
        port,
        range,
        "--json",
        "--write",
        write,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    json_lines(&out)
}

/// `simulate --addresses RANGE` (no delay, no quirks) with `extra`
/// arguments, once it serves; with the serials, in address order.
fn simulate_addresses(
    w: &Workdir,
    range: &str,
    listen: &str,
    extra: &[&str],
) -> (Running, Vec<String>) {
    let mut args = vec![
        "simulate",
        "--addresses",
        range,
        "--listen",
        listen,
        "--delay",
        "0ms",
        "--no-quirks",
    ];
    args.extend_from_slice(extra);
    let mut sim = Running::start(w, &args);
    sim.wait_for("Ctrl-C stops", Duration::from_secs(20));
    // "  SERIAL MODEL" for each device, in address order.
    let serials = sim
        .seen
        .iter()
        .filter_map(|l| l.strip_prefix("  "))
        .map(|l| l.split_whitespace().next().unwrap().to_owned())
        .collect();
    (sim, serials)
}

fn poll_with(w: &Workdir, variables: &[(&str, &str)]) -> Vec<Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_telleverk"))
        .args(["poll", "--once", "--json", "--config", "telleverk.toml"])
        .current_dir(w.path())
        .env("RUST_LOG", "warn")
        .envs(variables.iter().copied())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    json_lines(&out)
}
