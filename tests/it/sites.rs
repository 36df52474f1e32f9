//! Many sites, one view: a central `serve` and three site `serve`s, each
//! polling its own simulated fleet into its own SQLite file and forwarding
//! to the central over HTTP. Every reading polled at a site ends up in the
//! central store exactly once — while the central runs, after it was down,
//! and after either side was killed with kill -9 again and again.

use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::{Value, json};

use telleverk::clock::Clock;
use telleverk::config::{hash_text, token_hash};
use telleverk::database::Database;
use telleverk::sim::config_text;
use telleverk::sim::model::Fleet;
use telleverk::storage::Reader;

use super::backend::Backend;
use super::cli::Workdir;
use super::crash::{Running, log, spawn_env};
use super::simfleet::{Sim, polling};

const SITES: [&str; 3] = ["oslo", "bergen", "trondheim"];
const VIEWER: &str = "tlv_central_viewer_0123456789";
const TOKEN_ENV: &str = "TELLEVERK_IT_SITE_TOKEN";
/// Devices each site's simulated fleet has.
const DEVICES: usize = 12;

fn site_token(site: &str) -> String {
    format!("tlv_collector_{site}_0123456789")
}

/// A port nothing listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

/// The central server: `serve` on the backend the tests run on, with a
/// collector token for each site and a viewer's.
pub struct Central {
    pub w: Workdir,
    pub port: u16,
    /// Serving HTTPS with a certificate of a CA made here (`ca.crt`).
    tls: bool,
    /// A fleet of the central's own, polled beside the sites'.
    _own: Option<Sim>,
    run: Option<Running>,
}

impl Central {
    pub fn new() -> Central {
        Central::with(false, 0)
    }

    /// A central serving HTTPS itself; its CA is `ca.crt` in its folder.
    pub fn with_tls() -> Central {
        Central::with(true, 0)
    }

    /// A central that also polls `devices` simulated devices of its own.
    pub fn polling(devices: usize) -> Central {
        Central::with(false, devices)
    }

    fn with(tls: bool, own_devices: usize) -> Central {
        let w = Workdir::new();
        let port = free_port();
        if tls {
            super::backend::certificates(w.path());
        }
        let mut head = format!(
            "[collector]\ninterval = \"1s\"\n[http]\nlisten = \"127.0.0.1:{port}\"\n{}\
             [[http.token]]\nname = \"facilities\"\nrole = \"viewer\"\nhash = \"{}\"\n",
            if tls {
                "tls_cert = \"server.crt\"\ntls_key = \"server.key\"\n"
            } else {
                ""
            },
            hash_text(&token_hash(VIEWER))
        );
        for site in SITES {
            head.push_str(&format!(
                "[[http.token]]\nname = \"{site}-collector\"\nrole = \"collector\"\nsite = \"{site}\"\nhash = \"{}\"\n",
                hash_text(&token_hash(&site_token(site)))
            ));
        }
        let (own, devices) = if own_devices > 0 {
            let fleet = Fleet::new(
                909,
                own_devices,
                Utc::now() - chrono::TimeDelta::days(1),
                false,
            );
            let sim = Sim::start(fleet.clone(), Clock::System);
            let text = config_text(&fleet, sim.address, &polling());
            let devices = text
                .split_once("\n[[device]]")
                .map(|(_, d)| format!("[[device]]{d}"))
                .unwrap_or_default();
            (Some(sim), devices)
        } else {
            (None, String::new())
        };
        w.config_with(&head, &devices);
        Central {
            w,
            port,
            tls,
            _own: own,
            run: None,
        }
    }

    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// Whether it answers: its health over HTTP, or a TCP connection to its
    /// HTTPS port.
    fn answers(&self) -> bool {
        if self.tls {
            std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
        } else {
            agent()
                .get(format!("{}/healthz", self.url()))
                .call()
                .is_ok()
        }
    }

    /// Starts `serve` and waits until it answers.
    pub fn start(&mut self) {
        self.run = Some(spawn_env(
            &self.w,
            &["serve", "--config", "telleverk.toml"],
            &[],
        ));
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.answers() {
            assert!(
                Instant::now() < deadline,
                "the central did not answer; its log ends:\n{}",
                log(&self.w)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// kill -9.
    pub fn kill(&mut self) {
        if let Some(r) = self.run.take() {
            r.kill();
        }
    }

    pub fn request(&self, path: &str, token: &str, body: Option<&Value>) -> (u16, Value) {
        let url = format!("{}{path}", self.url());
        let a = agent();
        let response = match body {
            None => a
                .get(&url)
                .header("Authorization", &format!("Bearer {token}"))
                .call(),
            Some(b) => a
                .post(&url)
                .header("Authorization", &format!("Bearer {token}"))
                .header("Content-Type", "application/json")
                .send(b.to_string()),
        };
        let mut response = response.unwrap_or_else(|e| panic!("{path}: {e}"));
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// `/api/v1/sites`, by name.
    pub fn sites(&self) -> Vec<Value> {
        let (status, body) = self.request("/api/v1/sites", VIEWER, None);
        assert_eq!(status, 200, "{body}");
        body["sites"].as_array().cloned().unwrap_or_default()
    }

    /// The stream of `site`'s items the central counts now.
    pub fn stream(&self, site: &str) -> String {
        Reader::open(self.w.database())
            .and_then(|r| r.sites())
            .map(|all| all.into_iter().find(|s| s.name == site).map(|s| s.stream))
            .ok()
            .flatten()
            .expect("a site the central has heard from")
    }

    /// The last item of `site` the central has applied (0: none), as its
    /// store says.
    pub fn through(&self, site: &str) -> u64 {
        Reader::open(self.w.database())
            .and_then(|r| r.sites())
            .map(|all| {
                all.into_iter()
                    .find(|s| s.name == site)
                    .map_or(0, |s| s.through)
            })
            .unwrap_or(0)
    }
}

/// A site: its own simulated fleet, polled by `serve` into its own SQLite
/// file and forwarded to the central.
pub struct Site {
    pub name: &'static str,
    pub w: Workdir,
    sim: Option<Sim>,
    run: Option<Running>,
}

impl Site {
    pub fn new(name: &'static str, seed: u64, central: &Central) -> Site {
        Site::checking(name, seed, central, None)
    }

    /// A site that checks the central's certificate against `ca` (copied
    /// beside its config as `ca_file`).
    pub fn checking(
        name: &'static str,
        seed: u64,
        central: &Central,
        ca: Option<&std::path::Path>,
    ) -> Site {
        let w = Workdir::on(Backend::Sqlite);
        let fleet = Fleet::new(
            seed,
            DEVICES,
            Utc::now() - chrono::TimeDelta::days(1),
            false,
        );
        let sim = Sim::start(fleet.clone(), Clock::System);
        let ca_file = match ca {
            Some(ca) => {
                std::fs::copy(ca, w.path().join("central-ca.pem")).unwrap();
                "ca_file = \"central-ca.pem\"\n"
            }
            None => "",
        };
        let text = config_text(&fleet, sim.address, &polling())
            + &format!(
                "\n[site]\nname = \"{name}\"\n[upstream]\nurl = \"{}\"\ntoken_env = \"{TOKEN_ENV}\"\n\
                 {ca_file}[http]\nlisten = \"127.0.0.1:0\"\n",
                central.url()
            );
        std::fs::write(w.path().join("telleverk.toml"), text).unwrap();
        Site {
            name,
            w,
            sim: Some(sim),
            run: None,
        }
    }

    pub fn start(&mut self) {
        let token = site_token(self.name);
        self.run = Some(spawn_env(
            &self.w,
            &["serve", "--config", "telleverk.toml"],
            &[(TOKEN_ENV, &token)],
        ));
    }

    /// kill -9; whether it was still running.
    pub fn kill(&mut self) -> bool {
        self.run.take().is_some_and(Running::kill)
    }

    /// Its fleet stops answering: polls fail from now on, and no reading
    /// is added.
    pub fn stop_fleet(&mut self) {
        self.sim = None;
    }

    /// The readings of every device the site stored, and the central's of
    /// the same devices; Err says where they differ.
    pub fn compare(&self, central: &Reader) -> Result<usize, String> {
        let local = Reader::open(Database::File(self.w.db())).map_err(|e| e.to_string())?;
        let prefix = format!("{}/", self.name);
        let mut compared = 0;
        let serials = local.serials().map_err(|e| e.to_string())?;
        if serials.len() != DEVICES {
            return Err(format!("{}: {} devices stored", self.name, serials.len()));
        }
        for serial in serials {
            let here = local
                .readings(&serial, None, None)
                .map_err(|e| e.to_string())?;
            let mut there = central
                .readings(&serial, None, None)
                .map_err(|e| e.to_string())?
                .unwrap_or_default();
            for r in &mut there {
                r.entry_key = r
                    .entry_key
                    .take()
                    .map(|k| k.strip_prefix(&prefix).map(str::to_owned).unwrap_or(k));
            }
            let here = here.unwrap_or_default();
            if here != there {
                return Err(format!(
                    "{} {serial}: {} readings at the site, {} at the central",
                    self.name,
                    here.len(),
                    there.len()
                ));
            }
            compared += here.len();
        }
        Ok(compared)
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Waits until `ok` holds, or fails with what it said last.
fn wait_until(what: &str, limit: Duration, mut ok: impl FnMut() -> Result<(), String>) {
    let deadline = Instant::now() + limit;
    loop {
        match ok() {
            Ok(()) => return,
            Err(why) if Instant::now() > deadline => panic!("{what}: {why}"),
            Err(_) => std::thread::sleep(Duration::from_millis(250)),
        }
    }
}

/// Each site's fleet stops; then every reading each site stored must be in
/// the central store, once.
fn every_reading_once(central: &Central, sites: &mut [Site]) -> usize {
    for s in sites.iter_mut() {
        s.stop_fleet();
    }
    let reader = Reader::open(central.w.database()).unwrap();
    let mut total = 0;
    wait_until(
        "every reading of every site at the central",
        Duration::from_secs(90),
        || {
            total = 0;
            for s in sites.iter() {
                total += s.compare(&reader)?;
            }
            Ok(())
        },
    );
    total
}

#[test]
fn three_sites_forward_every_reading_to_the_central_exactly_once() {
    // The central polls three devices of its own too.
    let mut central = Central::polling(3);
    let mut sites: Vec<Site> = SITES
        .iter()
        .enumerate()
        .map(|(i, name)| Site::new(name, 101 * (i as u64 + 1), &central))
        .collect();
    // The sites start first: the central cannot be reached, and they poll
    // all the same.
    for s in &mut sites {
        s.start();
    }
    std::thread::sleep(Duration::from_secs(2));
    central.start();
    wait_until(
        "three rounds of each site at the central",
        Duration::from_secs(60),
        || {
            for s in SITES {
                if central.through(s) < 3 {
                    return Err(format!("{s}: {:?}", central.sites()));
                }
            }
            Ok(())
        },
    );

    // What the central refuses, and says why.
    let bergen = site_token("bergen");
    let batch = |site: &str, first: u64, items: Value| {
        json!({"protocol": 1, "site": site, "version": "0.1.0", "stream": "s1",
               "backlog": 0, "first": first, "items": items})
    };
    let (status, body) = central.request(
        "/api/v1/ingest",
        &bergen,
        Some(&batch("oslo", 1, json!([]))),
    );
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("forwards for site `bergen`, not `oslo`"),
        "{body}"
    );
    let (status, body) = central.request(
        "/api/v1/ingest",
        VIEWER,
        Some(&batch("bergen", 1, json!([]))),
    );
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden")),
        "{body}"
    );
    let through = central.through("bergen");
    let mut gap = batch("bergen", through + 1000, json!([]));
    gap["stream"] = json!(central.stream("bergen"));
    let (status, body) = central.request("/api/v1/ingest", &bergen, Some(&gap));
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("out_of_sequence")),
        "{body}"
    );
    let expected = body["error"]["expected"].as_u64().unwrap();
    assert!(expected > through && expected < through + 1000, "{body}");
    let mut newer = batch("bergen", 1, json!([]));
    newer["protocol"] = json!(2);
    let (status, body) = central.request("/api/v1/ingest", &bergen, Some(&newer));
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("protocol")),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("upgrade the central server"),
        "{body}"
    );
    let bad = batch(
        "bergen",
        central.through("bergen") + 1,
        json!([{"kind": "round", "polls": [{"at": 1, "entry": "x", "address": "x",
                 "reading": {"serial": "=1+1", "meters": []}}]}]),
    );
    let (status, body) = central.request("/api/v1/ingest", &bergen, Some(&bad));
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("invalid_batch")),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("reading.serial"),
        "{body}"
    );

    // The central stopped a while (the sites' requests are refused), then
    // started again: the sites catch up by themselves.
    let down = central.through("bergen");
    central.kill();
    std::thread::sleep(Duration::from_secs(4));
    central.start();
    wait_until(
        "the sites catch up after the central's restart",
        Duration::from_secs(60),
        || {
            let t = central.through("bergen");
            if t >= down + 4 {
                Ok(())
            } else {
                Err(format!("bergen through {t}, {down} before"))
            }
        },
    );

    let readings = every_reading_once(&central, &mut sites);
    assert!(readings >= 3 * DEVICES * 3, "{readings} readings compared");
    let listed = central.sites();
    let names: Vec<&str> = listed.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["bergen", "oslo", "trondheim"]);
    for s in &listed {
        assert_eq!(s["version"], env!("CARGO_PKG_VERSION"), "{s}");
        assert_eq!(s["entries"], DEVICES, "{s}");
        assert!(s["silent_s"].as_i64().unwrap() < 60, "{s}");
    }
    // The devices of one site, as the API lists them.
    wait_until(
        "bergen's devices in the central's API",
        Duration::from_secs(30),
        || {
            let (status, page) =
                central.request("/api/v1/devices?site=bergen&limit=1000", VIEWER, None);
            let items = page["items"].as_array().cloned().unwrap_or_default();
            if status == 200
                && items.len() == DEVICES
                && items.iter().all(|d| d["site"] == "bergen")
            {
                Ok(())
            } else {
                Err(format!("{status} {page}"))
            }
        },
    );
    wait_until(
        "the central's own devices beside the sites'",
        Duration::from_secs(30),
        || {
            let (status, all) = central.request("/api/v1/devices?limit=1000", VIEWER, None);
            let items = all["items"].as_array().cloned().unwrap_or_default();
            let own = items
                .iter()
                .filter(|d| d["site"].is_null() && d["reachable"] == true)
                .count();
            if status == 200 && items.len() == 3 * DEVICES + 3 && own == 3 {
                Ok(())
            } else {
                Err(format!(
                    "{status}: {} devices, {own} of the central's own answering",
                    items.len()
                ))
            }
        },
    );
    // The counter report of one site.
    let (from, to) = (
        (Utc::now() - chrono::TimeDelta::days(2)).date_naive(),
        (Utc::now() + chrono::TimeDelta::days(2)).date_naive(),
    );
    let (status, report) = central.request(
        &format!("/api/v1/reports/counters?from={from}&to={to}&site=trondheim"),
        VIEWER,
        None,
    );
    let devices = report["devices"].as_array().cloned().unwrap_or_default();
    assert_eq!((status, devices.len()), (200, DEVICES), "{report}");
    assert!(devices.iter().all(|d| d["site"] == "trondheim"), "{report}");
    let (status, bad) = central.request("/api/v1/devices?site=Bergen", VIEWER, None);
    assert_eq!(
        (status, bad["error"]["code"].as_str()),
        (400, Some("bad_parameter")),
        "{bad}"
    );
    let site_log = std::fs::read_to_string(sites[1].w.path().join("log.txt")).unwrap();
    assert!(
        site_log.contains("cannot forward to")
            && site_log.contains("the central server takes batches again"),
        "the site says the central was down, and that it is back:\n{site_log}"
    );
}

/// Polls no stored round counts (`rounds` at a site, `site_rounds` at the
/// central), and values polled at no stored poll: both 0 when no write was
/// left half-done. Also SQLite's own check of the file.
fn half_written(db: &Database, rounds: &str) -> (i64, i64, i64) {
    let sql = format!(
        "SELECT (SELECT count(*) FROM polls), \
                      (SELECT coalesce(sum(answered), 0) FROM {rounds}), \
                      (SELECT count(*) FROM meter_values v WHERE v.source = 0 AND NOT EXISTS \
                         (SELECT 1 FROM polls p WHERE p.device_id = v.device_id AND p.at = v.at))"
    );
    match db {
        Database::File(path) => {
            let conn = rusqlite::Connection::open(path).unwrap();
            let check: String = conn
                .query_row("PRAGMA integrity_check", [], |r| r.get(0))
                .unwrap();
            assert_eq!(check, "ok", "{}", path.display());
            conn.query_row(&sql, [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .unwrap()
        }
        Database::Server(server) => {
            let mut client = super::backend::client(server.url());
            let row = client
                .query_one(&sql.replace("0) FROM", "0)::BIGINT FROM"), &[])
                .unwrap();
            (row.get(0), row.get(1), row.get(2))
        }
    }
}

#[test]
fn the_central_and_a_site_killed_20_times_each_lose_and_double_nothing() {
    let mut central = Central::new();
    central.start();
    let mut sites: Vec<Site> = SITES[..2]
        .iter()
        .enumerate()
        .map(|(i, name)| Site::new(name, 707 + i as u64, &central))
        .collect();
    for s in &mut sites {
        s.start();
    }
    wait_until(
        "a first round of each site",
        Duration::from_secs(60),
        || match SITES[..2].iter().find(|s| central.through(s) == 0) {
            Some(s) => Err(format!("nothing from {s} yet")),
            None => Ok(()),
        },
    );
    for i in 0..20u64 {
        // The central down long enough for the sites to queue a few rounds,
        // then killed at a different moment of their catch-up each time.
        central.kill();
        std::thread::sleep(Duration::from_millis(1200));
        central.start();
        std::thread::sleep(Duration::from_millis(20 + 37 * i));
        central.kill();
        central.start();
        // A site killed at a different moment of its forwarding each time.
        std::thread::sleep(Duration::from_millis(20 + 29 * i));
        assert!(sites[0].kill(), "kill {i}: the site had stopped by itself");
        sites[0].start();
        for (db, rounds) in [
            (central.w.database(), "site_rounds"),
            (Database::File(sites[0].w.db()), "rounds"),
        ] {
            let (polls, counted, loose) = half_written(&db, rounds);
            assert_eq!(
                (polls, loose),
                (counted, 0),
                "kill {i}: half a round in {db:?}"
            );
        }
    }
    every_reading_once(&central, &mut sites);
    for (db, rounds) in [
        (central.w.database(), "site_rounds"),
        (Database::File(sites[0].w.db()), "rounds"),
    ] {
        let (polls, counted, loose) = half_written(&db, rounds);
        assert_eq!((polls, loose), (counted, 0), "{db:?}");
    }
}

#[test]
fn a_site_forwards_over_https_only_to_a_central_whose_certificate_it_checks() {
    let mut central = Central::with_tls();
    central.start();
    // Without the central's CA the site trusts only the system's roots: it
    // refuses the central, keeps polling, and says why.
    let mut blind = Site::new("oslo", 31, &central);
    blind.start();
    let mut checking = Site::checking(
        "bergen",
        32,
        &central,
        Some(&central.w.path().join("ca.crt")),
    );
    checking.start();
    wait_until(
        "bergen's rounds over HTTPS",
        Duration::from_secs(60),
        || match central.through("bergen") {
            t if t >= 3 => Ok(()),
            t => Err(format!("through {t}; bergen's log:\n{}", log(&checking.w))),
        },
    );
    assert_eq!(
        central.through("oslo"),
        0,
        "a site that cannot check the central sends nothing"
    );
    let said = std::fs::read_to_string(blind.w.path().join("log.txt")).unwrap();
    assert!(
        said.contains("cannot forward to https://127.0.0.1") && said.contains("UnknownIssuer"),
        "{said}"
    );
    let queued = Reader::open(Database::File(blind.w.db())).unwrap();
    assert!(
        queued.serials().unwrap().len() == DEVICES,
        "oslo polls all the same"
    );
    drop(blind);
    every_reading_once(&central, std::slice::from_mut(&mut checking));
}

#[test]
fn a_site_that_stops_forwarding_is_a_site_silent_alert_until_it_forwards_again() {
    use super::api::{App, COLLECTOR, VIEWER as PERSON, june_29};
    let w = Workdir::new();
    let path = w.config_with(
        &format!("[alerts]\nsite_silent = \"10m\"\n\n{}", App::head()),
        "",
    );
    // One second here is ten minutes on the service's clock.
    let app = App::start(&path, june_29(), 600);
    let batch = |first: u64| {
        json!({"protocol": 1, "site": "bergen", "version": "0.1.0", "stream": "s1",
               "backlog": 0, "first": first, "items": []})
    };
    let silent = || {
        app.get("/api/v1/alerts", PERSON).body["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["kind"] == "site_silent")
            .cloned()
            .collect::<Vec<_>>()
    };
    let answer = app.post("/api/v1/ingest", COLLECTOR, &batch(1));
    assert_eq!(
        (answer.status, answer.body["through"].as_u64()),
        (200, Some(0)),
        "{answer:?}"
    );
    wait_until("bergen silent", Duration::from_secs(30), || {
        match silent().as_slice() {
            [a] if a["subject"] == "bergen" && a["serial"].is_null() => Ok(()),
            other => Err(format!("{other:?}")),
        }
    });
    let message = silent()[0]["message"].as_str().unwrap().to_owned();
    assert!(
        message.starts_with("site bergen has forwarded nothing for"),
        "{message}"
    );
    // A heartbeat (an empty batch) is a contact: the alert closes.
    assert_eq!(app.post("/api/v1/ingest", COLLECTOR, &batch(1)).status, 200);
    wait_until(
        "bergen heard from",
        Duration::from_secs(30),
        || match silent().as_slice() {
            [] => Ok(()),
            other => Err(format!("{other:?}")),
        },
    );
    let sites = app.get("/api/v1/sites", PERSON).body;
    assert_eq!(sites["sites"][0]["name"], "bergen", "{sites}");
    app.stop().expect("clean shutdown");
}

#[test]
fn the_two_deployments_example_configs_resolve() {
    let dir = tempfile::tempdir().unwrap();
    super::backend::certificates(dir.path());
    std::fs::copy(
        dir.path().join("server.crt"),
        dir.path().join("central.crt"),
    )
    .unwrap();
    std::fs::copy(
        dir.path().join("server.key"),
        dir.path().join("central.key"),
    )
    .unwrap();
    for pem in ["db-ca.pem", "central-ca.pem"] {
        std::fs::copy(dir.path().join("ca.crt"), dir.path().join(pem)).unwrap();
    }
    let env = |name: &str| Some(format!("{name}-value-for-the-test"));
    let central = telleverk::config::parse(
        &dir.path().join("central.toml"),
        include_str!("../../config/central.toml"),
        &env,
    )
    .unwrap();
    let sites: Vec<_> = central
        .http
        .tokens
        .iter()
        .filter_map(|t| t.site.as_deref())
        .collect();
    assert_eq!(sites, ["bergen", "oslo"]);
    assert!(central.http.tls.is_some() && central.http.secure_cookies);
    assert_eq!(central.alerts.site_silent, Duration::from_secs(3600));
    assert!(central.storage.file().is_none(), "PostgreSQL");
    let site = telleverk::config::parse(
        &dir.path().join("site.toml"),
        include_str!("../../config/site.toml"),
        &env,
    )
    .unwrap();
    assert_eq!(site.site.as_deref(), Some("bergen"));
    let up = site.upstream.unwrap();
    assert_eq!(up.url, "https://central.example:8443");
    assert_eq!(up.ca_file, Some(dir.path().join("central-ca.pem")));
    assert_eq!(site.devices.len(), 2);
}

#[test]
fn a_server_certificate_and_key_are_both_given_and_hold_what_they_should() {
    let dir = tempfile::tempdir().unwrap();
    super::backend::certificates(dir.path());
    std::fs::write(dir.path().join("empty.pem"), "").unwrap();
    let path = dir.path().join("telleverk.toml");
    let no_env = |_: &str| None;
    let cases = [
        (
            "tls_cert = \"server.crt\"",
            "http.tls_key",
            "is required with tls_cert",
        ),
        (
            "tls_key = \"server.key\"",
            "http.tls_cert",
            "is required with tls_key",
        ),
        (
            "tls_cert = \"missing.crt\"\ntls_key = \"server.key\"",
            "http.tls_cert",
            "is not a file",
        ),
        (
            "tls_cert = \"empty.pem\"\ntls_key = \"server.key\"",
            "http.tls_cert",
            "no certificate in it",
        ),
        (
            "tls_cert = \"server.crt\"\ntls_key = \"server.crt\"",
            "http.tls_key",
            "no private key read",
        ),
    ];
    for (keys, key, said) in cases {
        let text = format!("[http]\n{keys}\n");
        let e = telleverk::config::parse(&path, &text, &no_env).unwrap_err();
        assert_eq!(e.key, key, "{keys}: {e}");
        assert!(e.message.contains(said), "{keys}: {e}");
    }
    let ok = telleverk::config::parse(
        &path,
        "[http]\ntls_cert = \"server.crt\"\ntls_key = \"server.key\"\n",
        &no_env,
    )
    .unwrap();
    assert_eq!(ok.http.tls.unwrap().cert, dir.path().join("server.crt"));
}

/// A telleverk that polled on its own and then becomes a site forwards
/// what it held before too, first: the central ends up with every reading
/// the site has. A former site that polls without `[upstream]` is warned
/// that what it stores now is never forwarded.
#[test]
fn a_database_that_becomes_a_site_forwards_its_history_and_a_former_site_is_warned() {
    let mut central = Central::new();
    let mut site = Site::new("bergen", 71, &central);
    let text = std::fs::read_to_string(site.w.path().join("telleverk.toml")).unwrap();
    let (alone, _) = text.split_once("\n[site]").expect("the site's own lines");
    std::fs::write(site.w.path().join("alone.toml"), alone).unwrap();
    let poll = |w: &Workdir, config: &str| {
        let out = w.run(&["poll", "--once", "--config", config]);
        let said = super::cli::text(&out);
        assert_eq!(out.status.code(), Some(0), "{said}");
        said
    };
    let gap = "forwarded to a central server before";
    for _ in 0..3 {
        let said = poll(&site.w, "alone.toml");
        assert!(!said.contains(gap), "{said}");
        std::thread::sleep(Duration::from_millis(1100));
    }
    let before = Reader::open(Database::File(site.w.db()))
        .unwrap()
        .serials()
        .unwrap()
        .len();
    assert_eq!(before, DEVICES);

    central.start();
    site.start();
    wait_until(
        "the central has every reading of the site",
        Duration::from_secs(60),
        || {
            let reader = Reader::open(central.w.database()).map_err(|e| e.to_string())?;
            let compared = site.compare(&reader)?;
            // The three standalone rounds and at least one as a site.
            (compared >= 4 * DEVICES)
                .then_some(())
                .ok_or_else(|| format!("{compared} readings compared"))
        },
    );
    let sites = central.sites();
    assert_eq!(sites[0]["name"], "bergen", "{sites:?}");

    // Without [upstream] again: said.
    assert!(site.kill());
    let said = poll(&site.w, "alone.toml");
    assert!(said.contains(gap), "{said}");
}
