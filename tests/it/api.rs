//! The web API: the real service (`app::serve_on`) on port 0 with a temporary
//! database, polling snmpsim over UDP, called over HTTP.

use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tokio::sync::watch;

use telleverk::clock::Clock;
use telleverk::config::{hash_text, token_hash};

use super::agents::snmpsim;
use super::cli::{Workdir, text, v2c};

pub const VIEWER: &str = "viewer-token-for-the-tests-0001";
pub const OPERATOR: &str = "operator-token-for-the-tests-0002";
pub const ADMIN: &str = "admin-token-for-the-tests-0003";
/// Site bergen's collector: it may only forward bergen's readings.
pub const COLLECTOR: &str = "collector-token-for-the-tests-0004";

pub const C300I: &str = "AA2J021004711";
pub const MONO: &str = "AAK6021017342";
pub const HAND: &str = "HANDREAD0001";

/// The `[[http.token]]` blocks of the three test tokens.
pub fn token_blocks() -> String {
    [
        ("viewer", VIEWER),
        ("operator", OPERATOR),
        ("admin", ADMIN),
        ("collector", COLLECTOR),
    ]
    .iter()
    .map(|(role, token)| {
        let site = if *role == "collector" {
            "site = \"bergen\"\n"
        } else {
            ""
        };
        format!(
            "[[http.token]]\nname = \"{role}-user\"\nrole = \"{role}\"\n{site}hash = \"{}\"\n",
            hash_text(&token_hash(token))
        )
    })
    .collect()
}

/// Two bizhubs polled from snmpsim, one device read by hand, one contract.
pub fn fleet_config() -> String {
    let port = snmpsim().port;
    format!(
        "{}{}[[device]]\nserial = \"{HAND}\"\nlocation = \"Bergen, read by hand\"\n\n\
         [[contract]]\nid = \"K1\"\ndevices = [\"{C300I}\", \"{HAND}\"]\nstart = \"2025-01-01\"\n\
         term_months = 60\nbilling = \"advance\"\ncommitted_bw = 60000\ncommitted_colour = 12000\n\
         fixed_fee_monthly = \"200.00\"\n\n[[contract.price]]\nfrom = \"2025-01-01\"\n\
         bw = \"0.0450\"\ncolour = \"0.4500\"\n\n\
         [[report]]\nname = \"monthly-counters\"\nschedule = \"0 6 1 * *\"\nkind = \"counters\"\n\
         format = \"xlsx\"\ndirectory = \"reports\"\n",
        v2c(port, "bizhub-c300i").replace(
            "[[device]]\n",
            "[[device]]\nlocation = \"Oslo 3rd floor\"\n"
        ),
        v2c(port, "bizhub-4050i"),
    )
}

/// The running service.
pub struct App {
    pub base: String,
    /// The folder of the config and database when the app made it, removed
    /// when the app is dropped.
    _work: Option<Workdir>,
    shutdown: Option<watch::Sender<bool>>,
    thread: Option<JoinHandle<anyhow::Result<()>>>,
    agent: ureq::Agent,
}

/// An HTTP answer: status and JSON body (Null when the body is not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub text: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

impl App {
    /// Starts the service with `devices` (config text after the head) on a
    /// clock that runs in real time from `origin`.
    pub fn spawn(devices: &str, origin: DateTime<Utc>) -> App {
        let work = Workdir::new();
        let path = work.config_with(&App::head(), devices);
        let mut app = App::start(&path, origin, 1);
        app._work = Some(work);
        app
    }

    /// The config's head: a fast collector, port 0, the three test tokens.
    pub fn head() -> String {
        format!(
            "[collector]\ninterval = \"1s\"\ntimeout = \"1s\"\nretries = 0\n\n[http]\nlisten = \"127.0.0.1:0\"\n\n{}",
            token_blocks()
        )
    }

    /// Starts the service with the config at `path` on a clock that reads
    /// `origin` now and runs `speed` times as fast as real time.
    pub fn start(path: &std::path::Path, origin: DateTime<Utc>, speed: u32) -> App {
        App::start_on(path, Clock::simulated(origin, speed))
    }

    /// Starts the service with the config at `path` on `clock` (shared with
    /// a simulated fleet, so both read the same simulated time).
    pub fn start_on(path: &std::path::Path, clock: Clock) -> App {
        App::start_config(crate::backend::load_config(path), clock)
    }

    /// Starts the service with `config` on `clock`.
    pub fn start_config(config: telleverk::config::Config, clock: Clock) -> App {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind port 0");
        listener.set_nonblocking(true).unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = watch::channel(false);
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener)?;
                telleverk::app::serve_on(config, listener, clock, rx).await
            })
        });
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        App {
            base,
            _work: None,
            shutdown: Some(tx),
            thread: Some(thread),
            agent,
        }
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> Answer {
        let url = format!("{}{path}", self.base);
        let response = match (method, body) {
            ("GET", _) => {
                let mut r = self.agent.get(&url);
                if let Some(t) = token {
                    r = r.header("Authorization", &format!("Bearer {t}"));
                }
                r.call()
            }
            (_, body) => {
                let mut r = match method {
                    "POST" => self.agent.post(&url),
                    "PUT" => self.agent.put(&url),
                    other => panic!("no {other} in these tests"),
                };
                if let Some(t) = token {
                    r = r.header("Authorization", &format!("Bearer {t}"));
                }
                r.header("Content-Type", "application/json")
                    .send(body.unwrap_or(""))
            }
        };
        let mut response = response.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let bytes = response
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_vec()
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            body,
            text,
            content_type,
            bytes,
        }
    }

    pub fn get(&self, path: &str, token: &str) -> Answer {
        self.request("GET", path, Some(token), None)
    }

    pub fn post(&self, path: &str, token: &str, body: &Value) -> Answer {
        self.request("POST", path, Some(token), Some(&body.to_string()))
    }

    /// Waits until `ok` holds for GET `path` (the view rebuilds after each round).
    pub fn wait_for(&self, path: &str, ok: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let a = self.get(path, VIEWER);
            if a.status == 200 && ok(&a.body) {
                return a.body;
            }
            assert!(
                Instant::now() < deadline,
                "gave up waiting on {path}: {a:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits for the first poll round of every polled device.
    pub fn wait_for_fleet(&self) -> Value {
        self.wait_for("/api/v1/devices", |b| {
            b["items"]
                .as_array()
                .is_some_and(|items| items.iter().filter(|d| d["reachable"] == true).count() == 2)
        })
    }

    /// Asks the service to stop and waits for it: it must stop cleanly.
    pub fn stop(mut self) -> anyhow::Result<()> {
        self.stop_inner()
    }

    fn stop_inner(&mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(true);
        }
        match self.thread.take() {
            Some(t) => t.join().expect("the service thread does not panic"),
            None => Ok(()),
        }
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.stop_inner();
    }
}

/// 2026-06-29 10:00 in Oslo: two days before K1's half-year boundary.
pub fn june_29() -> DateTime<Utc> {
    "2026-06-29T08:00:00Z".parse().unwrap()
}

/// Every route: (method, path, body, the least role that may).
/// The vendor's a-konto invoice for K1's first half of 2026, as K1's own:
/// 6 × 200.00, 30 000 × 0.045 and 6 000 × 0.45 (`;`, decimal point).
const K1_A_KONTO: &str = "invoice;issue_date;kind;period_from;period_to;class;description;serial;pages;unit_price;amount\n\
    7;2026-01-01;a_konto;2026-01-01;2026-06-30;fixed;Fees;;6;200.00;1200.00\n\
    7;2026-01-01;a_konto;2026-01-01;2026-06-30;bw;B/W;;30000;0.045;1350.00\n\
    7;2026-01-01;a_konto;2026-01-01;2026-06-30;colour;Colour;;6000;0.4500;2700.00\n";

/// Every route: (method, path, body (a string is sent as it is), the least role that may).
fn routes() -> Vec<(&'static str, String, Option<Value>, &'static str)> {
    vec![
        ("GET", "/api/v1/devices?limit=100".into(), None, "viewer"),
        ("GET", format!("/api/v1/devices/{C300I}"), None, "viewer"),
        (
            "GET",
            format!("/api/v1/devices/{C300I}/readings?from=2026-01-01"),
            None,
            "viewer",
        ),
        (
            "POST",
            format!("/api/v1/devices/{HAND}/readings"),
            Some(
                json!({"taken_at": "2026-06-28", "meters": {"bw_total": 1000}, "source": "manual"}),
            ),
            "operator",
        ),
        (
            "POST",
            format!("/api/v1/devices/{HAND}/readings/withdrawals"),
            Some(
                json!({"taken_at": "2026-06-28", "meter": "bw_total", "source": "manual", "reason": "a test"}),
            ),
            "operator",
        ),
        ("GET", "/api/v1/contracts".into(), None, "viewer"),
        (
            "GET",
            "/api/v1/contracts/K1/reconciliation?at=2026-06-29".into(),
            None,
            "viewer",
        ),
        (
            "GET",
            "/api/v1/contracts/K1/invoices?until=2026-07-01".into(),
            None,
            "viewer",
        ),
        (
            "GET",
            "/api/v1/reports/counters?from=2026-06-01&to=2026-06-29&format=csv".into(),
            None,
            "viewer",
        ),
        (
            "GET",
            "/api/v1/exports/vendor-billing?at=2026-06-29".into(),
            None,
            "viewer",
        ),
        (
            "POST",
            "/api/v1/contracts/K1/invoice-checks".into(),
            Some(Value::String(K1_A_KONTO.into())),
            "operator",
        ),
        (
            "GET",
            "/api/v1/contracts/K1/invoice-checks".into(),
            None,
            "viewer",
        ),
        (
            "GET",
            "/api/v1/contracts/K1/invoice-checks/1?format=csv".into(),
            None,
            "viewer",
        ),
        (
            "GET",
            format!("/api/v1/devices/{C300I}/uptime?months=3"),
            None,
            "viewer",
        ),
        ("GET", "/api/v1/contracts/K1/uptime".into(), None, "viewer"),
        ("GET", "/api/v1/alerts".into(), None, "viewer"),
        (
            "GET",
            "/api/v1/alerts/history?kind=stale&limit=10".into(),
            None,
            "viewer",
        ),
        (
            "POST",
            "/api/v1/reports/monthly-counters/run".into(),
            None,
            "admin",
        ),
        ("GET", "/api/v1/config".into(), None, "admin"),
        ("GET", "/api/v1/openapi.json".into(), None, "viewer"),
        ("GET", "/api/v1/sites".into(), None, "viewer"),
        // Only a site's collector token forwards: no person's role may.
        (
            "POST",
            "/api/v1/ingest".into(),
            Some(
                json!({"protocol": 1, "site": "bergen", "version": "0.1.0", "stream": "s1",
                        "backlog": 0, "first": 1, "items": []}),
            ),
            "collector",
        ),
    ]
}

/// Issue 17 over the API: an operator posts the vendor's file, a viewer
/// reads the checks and the dispute list; a file that cannot be read is a
/// 422 naming its line and column, and nothing is kept.
#[test]
fn invoice_checks_over_the_api() {
    let app = App::spawn(&fleet_config(), june_29());
    app.wait_for_fleet();
    let post = |body: &str| {
        app.request(
            "POST",
            "/api/v1/contracts/K1/invoice-checks",
            Some(OPERATOR),
            Some(body),
        )
    };
    // Colour at 0.47 where K1's price is 0.45: (0.47 − 0.45) × 6 000 = +120.00.
    let dear = K1_A_KONTO.replace("6000;0.4500;2700.00", "6000;0.47;2820.00");
    let a = post(&dear);
    assert_eq!(a.status, 201, "{a:?}");
    assert_eq!(a.body["id"], 1);
    assert_eq!(a.body["checked_by"], "operator-user");
    assert_eq!(
        (
            &a.body["vendor_total"],
            &a.body["our_total"],
            &a.body["disputed"]
        ),
        (&json!("5370.00"), &json!("5250.00"), &json!("120.00"))
    );
    let first = a.body.clone();
    assert_eq!(
        (&first["previous"], &first["changes"]),
        (&Value::Null, &json!([]))
    );
    let f = &a.body["invoices"][0]["findings"];
    assert_eq!(f.as_array().unwrap().len(), 1, "{f}");
    assert_eq!(
        (
            &f[0]["kind"],
            &f[0]["theirs"],
            &f[0]["ours"],
            &f[0]["delta_nok"]
        ),
        (
            &json!("price"),
            &json!("0.47"),
            &json!("0.45"),
            &json!("120.00")
        )
    );
    // Files that cannot be checked: 422, nothing kept.
    for (body, says) in [
        ("", "the file is empty"),
        ("invoice;issue_date\n1;2026-01-01\n", "`kind` is missing"),
        (
            &K1_A_KONTO.replace("1350.00", "13x0.00"),
            "line 3, column `amount`",
        ),
    ] {
        let a = post(body);
        assert_eq!(
            (a.status, a.body["error"]["code"].as_str()),
            (422, Some("invalid_invoice")),
            "{a:?}"
        );
        assert!(
            a.body["error"]["message"].as_str().unwrap().contains(says),
            "{a:?}"
        );
    }
    let list = app.get("/api/v1/contracts/K1/invoice-checks", VIEWER);
    assert_eq!(list.status, 200);
    let items = list.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list:?}");
    assert_eq!(
        (
            &items[0]["invoices"],
            &items[0]["disputes"],
            &items[0]["notes"]
        ),
        (&json!(["7"]), &json!(1), &json!(0))
    );
    let one = app.get("/api/v1/contracts/K1/invoice-checks/1", VIEWER);
    assert_eq!(one.body, first, "kept as it was answered");
    let csv = app.get("/api/v1/contracts/K1/invoice-checks/1?format=csv", VIEWER);
    assert_eq!(csv.status, 200);
    assert!(csv.content_type.starts_with("text/csv"), "{csv:?}");
    assert!(
        csv.text.contains("\n7;4;price;colour;;;0,47;0,45;;120,00;"),
        "{}",
        csv.text
    );
    for path in [
        "/api/v1/contracts/K1/invoice-checks/2",
        "/api/v1/contracts/K1/invoice-checks/x",
        "/api/v1/contracts/K9/invoice-checks",
    ] {
        assert_eq!(app.get(path, VIEWER).status, 404, "{path}");
    }
    app.stop().expect("clean shutdown");
}

/// Issue 18 §1 over the API: a device's and a contract's uptime by month.
#[test]
fn uptime_over_the_api() {
    let app = App::spawn(&fleet_config(), june_29());
    app.wait_for_fleet();
    // Two whole months before June 2026: April and May, before the first
    // poll: working hours, no evidence, no uptime.
    let u = app.get(&format!("/api/v1/devices/{C300I}/uptime?months=2"), VIEWER);
    assert_eq!(u.status, 200, "{u:?}");
    assert_eq!(
        (&u.body["contract"], &u.body["breach"]),
        (&json!("K1"), &json!(false))
    );
    // April 2026: 22 weekdays less Maundy Thursday, Good Friday and Easter
    // Monday = 19 days = 152 h.
    assert_eq!(
        u.body["months"][0],
        json!({"month": "2026-04", "working_hours": "152.00", "up_hours": "0.00", "down_hours": "0.00",
               "uptime_pct": null, "evidence_pct": "0.00"})
    );
    assert_eq!(u.body["total"]["month"], "2026-04 – 2026-05");
    let k1 = app.get("/api/v1/contracts/K1/uptime", VIEWER);
    assert_eq!(k1.status, 200, "{k1:?}");
    let serials: Vec<&str> = k1.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["serial"].as_str().unwrap())
        .collect();
    assert_eq!(serials, [C300I, HAND]);
    assert_eq!(k1.body["items"][0]["months"].as_array().unwrap().len(), 6);
    // Its supplies have been read once or twice: no forecast yet, and why.
    let detail = app.get(&format!("/api/v1/devices/{C300I}"), VIEWER).body;
    let forecasts = detail["supply_forecasts"].as_array().unwrap();
    assert_eq!(
        forecasts.len(),
        detail["supplies"].as_array().unwrap().len()
    );
    assert_eq!(
        (
            &forecasts[0]["description"],
            &forecasts[0]["empty_on"],
            &forecasts[0]["no_forecast"]
        ),
        (
            &detail["supplies"][0]["description"],
            &Value::Null,
            &json!("too_few_levels")
        )
    );
    for (path, status) in [
        (format!("/api/v1/devices/{C300I}/uptime?months=0"), 400),
        (format!("/api/v1/devices/{C300I}/uptime?months=61"), 400),
        ("/api/v1/devices/NOPE0000/uptime".to_owned(), 404),
        ("/api/v1/contracts/K9/uptime".to_owned(), 404),
    ] {
        assert_eq!(app.get(&path, VIEWER).status, status, "{path}");
    }
    app.stop().expect("clean shutdown");
}

#[test]
fn every_role_on_every_route() {
    let app = App::spawn(&fleet_config(), june_29());
    app.wait_for_fleet();
    let rank = |role: &str| {
        // A collector's route is above every person's role.
        ["viewer", "operator", "admin", "collector"]
            .iter()
            .position(|r| *r == role)
            .unwrap()
    };
    let callers = [
        ("none", None),
        ("wrong", Some("not-a-token-anyone-has-0000")),
        ("viewer", Some(VIEWER)),
        ("operator", Some(OPERATOR)),
        ("admin", Some(ADMIN)),
        ("collector", Some(COLLECTOR)),
    ];
    for (method, path, body, least) in routes() {
        for (who, token) in callers {
            let body = body
                .as_ref()
                .map(|b| b.as_str().map_or_else(|| b.to_string(), str::to_owned));
            let a = app.request(method, &path, token, body.as_deref());
            let withdrawal = path.ends_with("/withdrawals");
            let expected: &[u16] = match who {
                "none" | "wrong" => &[401],
                // A collector forwards, and does nothing else.
                "collector" if least == "collector" => &[200],
                "collector" => &[403],
                role if rank(role) < rank(least) => &[403],
                // The first caller allowed withdraws the reading; for the
                // next one it is withdrawn already.
                _ if withdrawal => &[201, 404],
                _ => &[200, 201],
            };
            assert!(expected.contains(&a.status), "{who} {method} {path}: {a:?}");
            if withdrawal && a.status == 201 {
                // The answer says whose entry was taken back, and by whom
                // (the operator is the first caller allowed).
                assert_eq!(a.body["entered_by"], "operator-user", "{a:?}");
                assert_eq!(a.body["withdrawn_by"], "operator-user", "{a:?}");
                assert_eq!(a.body["value"], 1000, "{a:?}");
            }
            let file = a.status < 300 && (path.contains("csv") || path.contains("vendor-billing"));
            let wanted = if file { "text/csv" } else { "application/json" };
            assert!(
                a.content_type.starts_with(wanted),
                "{who} {method} {path}: {a:?}"
            );
            if a.status >= 400 {
                let code = a.body["error"]["code"].as_str().unwrap_or_default();
                let wanted = match a.status {
                    401 => "unauthorized",
                    404 => "not_found",
                    _ => "forbidden",
                };
                assert_eq!(code, wanted, "{a:?}");
                assert!(
                    !a.text.contains(ADMIN) && !a.text.contains("sha256:"),
                    "{a:?}"
                );
            }
        }
    }
    // The OpenAPI document lists every route with its method, and every
    // route under /api/v1 with the bearer scheme.
    let doc = app.get("/api/v1/openapi.json", VIEWER).body;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{doc}");
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let mut documented: Vec<String> = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            documented.push(format!("{} {path}", method.to_uppercase()));
            let secured = op["security"][0].get("bearer").is_some();
            assert_eq!(secured, path.starts_with("/api/v1"), "{method} {path}");
        }
    }
    documented.sort();
    let mut expected: Vec<String> = routes()
        .iter()
        .map(|(method, path, _, _)| {
            let path = path
                .split('?')
                .next()
                .unwrap()
                .replace(C300I, "{serial}")
                .replace(HAND, "{serial}");
            format!(
                "{method} {}",
                path.replace("/K1/", "/{id}/")
                    .replace("/monthly-counters/", "/{name}/")
                    .replace("/invoice-checks/1", "/invoice-checks/{check}")
            )
        })
        .chain(["GET /healthz".to_owned(), "GET /metrics".to_owned()])
        .collect();
    expected.sort();
    assert_eq!(documented, expected);
    // The operator withdrew the reading it entered, once; it is kept.
    let readings = app
        .get(
            &format!("/api/v1/devices/{HAND}/readings?from=2026-06-28&to=2026-06-28"),
            VIEWER,
        )
        .body;
    assert_eq!(readings["items"][0]["meters"], json!({}), "{readings}");
    let mut withdrawn = readings["items"][0]["withdrawn"].clone();
    assert!(
        withdrawn[0]["withdrawn_at"]
            .as_str()
            .is_some_and(|t| t.starts_with("2026-06-29T")),
        "{readings}"
    );
    withdrawn[0]["withdrawn_at"] = json!("…");
    assert_eq!(
        withdrawn,
        json!([{"meter": "bw_total", "value": 1000, "entered_by": "operator-user",
                "withdrawn_at": "…", "withdrawn_by": "operator-user", "reason": "a test"}]),
        "{readings}"
    );

    // Health needs no token.
    let health = app.request("GET", "/healthz", None, None);
    assert_eq!(
        (health.status, health.body["status"].clone()),
        (200, json!("ok"))
    );
    app.stop().expect("clean shutdown");
}

#[test]
fn the_api_shows_the_polled_fleet_and_takes_readings() {
    let app = App::spawn(&fleet_config(), june_29());
    let list = app.wait_for_fleet();
    let items = list["items"].as_array().unwrap();
    let serials: Vec<&str> = items
        .iter()
        .map(|d| d["serial"].as_str().unwrap())
        .collect();
    assert_eq!(serials, [C300I, MONO, HAND], "sorted by serial");
    let c300i = &items[0];
    assert_eq!(c300i["model"], "bizhub C300i");
    assert_eq!(c300i["location"], "Oslo 3rd floor");
    assert_eq!(c300i["address"], format!("127.0.0.1:{}", snmpsim().port));
    assert_eq!(
        (c300i["reachable"].clone(), c300i["stale"].clone()),
        (json!(true), json!(false))
    );
    assert!(
        c300i["last_reading_at"]
            .as_str()
            .unwrap()
            .starts_with("2026-06-29T10:0"),
        "{c300i}"
    );
    assert!(c300i["lowest_supply"]["percent"].is_i64(), "{c300i}");
    let hand = &items[2];
    assert_eq!(
        (
            hand["reachable"].clone(),
            hand["stale"].clone(),
            hand["location"].clone()
        ),
        (Value::Null, Value::Null, json!("Bergen, read by hand"))
    );
    // No reading of the hand-read device 2 days before K1's boundary: due.
    assert_eq!(hand["open_alerts"], 1, "{hand}");

    // Prometheus metrics, without a token.
    let metrics = app.request("GET", "/metrics", None, None);
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .content_type
            .starts_with("text/plain; version=0.0.4"),
        "{metrics:?}"
    );
    for line in [
        format!("telleverk_device_reachable{{serial=\"{C300I}\"}} 1"),
        format!(
            "telleverk_supply_level_percent{{serial=\"{C300I}\",index=\"1\",supply=\"Toner (Cyan)\",kind=\"toner\",colour=\"cyan\"}} 62"
        ),
        "telleverk_open_alerts{kind=\"reading_due\"} 1".to_owned(),
        "# TYPE telleverk_poll_failures_total counter".to_owned(),
    ] {
        assert!(
            metrics.text.lines().any(|l| l == line),
            "no `{line}` in:\n{}",
            metrics.text
        );
    }
    let ok_polls: u64 = metrics
        .text
        .lines()
        .find_map(|l| l.strip_prefix("telleverk_polls_total{result=\"ok\"} "))
        .and_then(|n| n.parse().ok())
        .expect("a count of polls");
    assert!(
        ok_polls >= 2,
        "both bizhubs polled at least once: {ok_polls}"
    );

    // Paging.
    let first = app.get("/api/v1/devices?limit=2", VIEWER).body;
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    assert_eq!(first["next"], MONO);
    let rest = app
        .get(&format!("/api/v1/devices?limit=2&after={MONO}"), VIEWER)
        .body;
    assert_eq!(rest["items"][0]["serial"], HAND);
    assert_eq!(rest["next"], Value::Null);

    // One device in full: recording values (tests/data/README.md).
    let d = app.get(&format!("/api/v1/devices/{C300I}"), VIEWER).body;
    assert_eq!(d["meters"]["total"], 85_614, "{d}");
    assert_eq!(d["meters"]["bw_print"], 48_211, "{d}");
    assert_eq!(d["status"]["device"], "warning");
    assert_eq!(d["status"]["errors"], json!(["service_requested"]));
    assert!(d["supplies"].as_array().unwrap().len() >= 4, "{d}");
    assert_eq!(d["failures"], json!([]));

    // An entered reading: stored, shown with its source, and it closes the alert.
    let entered = app.post(
        &format!("/api/v1/devices/{HAND}/readings"),
        OPERATOR,
        &json!({"taken_at": "2026-06-29 09:00", "meters": {"bw_total": 5000, "colour_total": 700}, "source": "vendor"}),
    );
    assert_eq!(entered.status, 201, "{entered:?}");
    assert_eq!(entered.body["stored"], 2);
    assert_eq!(entered.body["taken_at"], "2026-06-29T09:00:00+02:00");
    let again = app.post(
        &format!("/api/v1/devices/{HAND}/readings"),
        OPERATOR,
        &json!({"taken_at": "2026-06-29T07:00:00Z", "meters": {"bw_total": 5000}, "source": "vendor"}),
    );
    assert_eq!(
        (again.status, again.body["already_stored"].clone()),
        (200, json!(1)),
        "{again:?}"
    );
    let readings = app
        .get(&format!("/api/v1/devices/{HAND}/readings"), VIEWER)
        .body;
    assert_eq!(
        readings["items"],
        json!([{"taken_at": "2026-06-29T09:00:00+02:00", "source": "vendor", "meters": {"bw_total": 5000, "colour_total": 700},
                "entered_by": "operator-user", "withdrawn": []}])
    );
    app.wait_for("/api/v1/devices?after=AAZ", |b| {
        b["items"][0]["open_alerts"] == 0
    });
    let polled = app
        .get(
            &format!("/api/v1/devices/{C300I}/readings?from=2026-06-29&limit=1"),
            VIEWER,
        )
        .body;
    assert_eq!(polled["items"][0]["source"], "polled");
    assert_eq!(polled["items"][0]["meters"]["total"], 85_614);

    // The contract and the engine's answers, as the CLI gives them.
    let contracts = app.get("/api/v1/contracts", VIEWER).body;
    assert_eq!(contracts["items"][0]["id"], "K1");
    assert_eq!(contracts["items"][0]["prices"][0]["bw"], "0.0450");
    let standing = app
        .get("/api/v1/contracts/K1/reconciliation?at=2026-06-29", VIEWER)
        .body;
    assert_eq!(standing["contract"], "K1");
    assert_eq!(standing["at"], "2026-06-29");
    // Last day 2029-12-31; 4 whole calendar months before (Sep–Dec): 2029-08-31.
    assert_eq!(standing["notice_deadline"], "2029-08-31");
    let invoices = app
        .get("/api/v1/contracts/K1/invoices?until=2026-01-01", VIEWER)
        .body;
    let kinds: Vec<&str> = invoices["invoices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["a_konto", "a_konto", "settlement", "a_konto"]);
    // 6 × 200.00 + 30 000 × 0.0450 + 6 000 × 0.4500 = 1 200 + 1 350 + 2 700.
    assert_eq!(invoices["invoices"][0]["total"], "5250.00");

    // Admin: the config without secrets.
    let config = app.get("/api/v1/config", ADMIN);
    assert_eq!(
        config.body["http"]["tokens"][2],
        json!({"name": "admin-user", "role": "admin"})
    );
    assert!(
        !config.text.contains("bizhub-c300i") && !config.text.contains("sha256"),
        "{}",
        config.text
    );
    app.stop().expect("clean shutdown");
}

/// (method, path, body, status, error code, a word the message must name).
type BadCase = (
    &'static str,
    String,
    Option<Value>,
    u16,
    &'static str,
    &'static str,
);

#[test]
fn bad_requests_get_named_errors_and_change_nothing() {
    let app = App::spawn(&fleet_config(), june_29());
    app.wait_for_fleet();
    let readings_path = format!("/api/v1/devices/{HAND}/readings");
    let first = app.post(
        &readings_path,
        OPERATOR,
        &json!({"taken_at": "2026-06-28", "meters": {"bw_total": 1000}}),
    );
    assert_eq!(first.status, 201, "{first:?}");
    let reversed = app
        .get(
            &format!("{readings_path}?from=2026-06-29&to=2026-06-01"),
            VIEWER,
        )
        .body;
    assert_eq!(
        reversed["items"],
        json!([]),
        "nothing is after from and before to"
    );
    let before = app.get(&readings_path, VIEWER).body;
    let cases: Vec<BadCase> = vec![
        (
            "GET",
            "/api/v1/devices?limit=abc".into(),
            None,
            400,
            "bad_parameter",
            "`limit`",
        ),
        (
            "GET",
            "/api/v1/devices?limit=1001".into(),
            None,
            400,
            "bad_parameter",
            "`limit`",
        ),
        (
            "GET",
            format!("{readings_path}?from=yesterday"),
            None,
            400,
            "bad_parameter",
            "`from`",
        ),
        (
            "GET",
            "/api/v1/devices?limit=".into(),
            None,
            400,
            "bad_parameter",
            "`limit`",
        ),
        (
            "GET",
            "/api/v1/exports/vendor-billing?at=2100-01-01".into(),
            None,
            400,
            "bad_parameter",
            "`at`",
        ),
        (
            "GET",
            "/api/v1/reports/counters?from=2026-05-01&to=2026-06-01&format=pdf".into(),
            None,
            400,
            "bad_parameter",
            "`format`",
        ),
        (
            "GET",
            "/api/v1/contracts/K1/reconciliation?at=2026-13-01".into(),
            None,
            400,
            "bad_parameter",
            "`at`",
        ),
        (
            "GET",
            "/api/v1/contracts/K1/invoices?until=1.1.2026".into(),
            None,
            400,
            "bad_parameter",
            "`until`",
        ),
        (
            "GET",
            "/api/v1/devices/NOSUCHSERIAL".into(),
            None,
            404,
            "not_found",
            "NOSUCHSERIAL",
        ),
        (
            "GET",
            "/api/v1/contracts/K9/invoices".into(),
            None,
            404,
            "not_found",
            "K9",
        ),
        (
            "GET",
            "/api/v1/nothing-here".into(),
            None,
            404,
            "not_found",
            "/api/v1/nothing-here",
        ),
        (
            "PUT",
            "/api/v1/devices".into(),
            Some(json!({})),
            405,
            "method_not_allowed",
            "/api/v1/devices",
        ),
        (
            "POST",
            readings_path.clone(),
            Some(json!({"taken_at": "2026-06-28", "meters": {"bw_total": 1001}})),
            409,
            "conflict",
            "1000",
        ),
        (
            "POST",
            readings_path.clone(),
            Some(json!({"taken_at": "2026-06-28", "meters": {"pages": 1}})),
            422,
            "invalid_reading",
            "unknown meter `pages`",
        ),
        (
            "POST",
            readings_path.clone(),
            Some(json!({"taken_at": "2026-10-25 02:30", "meters": {"bw_total": 1}})),
            422,
            "invalid_reading",
            "occurs twice",
        ),
        (
            "POST",
            readings_path.clone(),
            Some(json!({"taken_at": "2026-06-28", "meters": {"bw_total": -5}})),
            422,
            "invalid_reading",
            "bw_total",
        ),
        (
            "POST",
            readings_path.clone(),
            Some(json!({"taken_at": "2026-06-28", "meters": {"bw_total": 1}, "source": "polled"})),
            422,
            "invalid_reading",
            "source",
        ),
        (
            "POST",
            readings_path.clone(),
            Some(json!({"taken_at": "2026-06-28", "meters": {"bw_total": 1_000_000_000_000_u64}})),
            422,
            "invalid_reading",
            "999999999999",
        ),
        (
            "POST",
            readings_path.clone(),
            Some(json!({"taken_at": "2026-06-28", "meters": {}})),
            422,
            "invalid_reading",
            "meters",
        ),
        (
            "POST",
            readings_path.clone(),
            Some(json!({"meters": {"bw_total": 1}})),
            400,
            "bad_body",
            "taken_at",
        ),
        (
            "POST",
            "/api/v1/devices/NOSUCHSERIAL/readings".into(),
            Some(json!({"taken_at": "2026-06-28", "meters": {"bw_total": 1}})),
            404,
            "not_found",
            "NOSUCHSERIAL",
        ),
    ];
    for (method, path, body, status, code, names) in cases {
        let body = body.map(|b| b.to_string());
        let a = app.request(method, &path, Some(ADMIN), body.as_deref());
        assert_eq!(a.status, status, "{method} {path}: {a:?}");
        assert_eq!(a.body["error"]["code"], code, "{method} {path}: {a:?}");
        let message = a.body["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(names),
            "{method} {path}: `{message}` should name {names}"
        );
    }
    let broken = app.request("POST", &readings_path, Some(OPERATOR), Some("{not json"));
    assert_eq!(
        (broken.status, broken.body["error"]["code"].clone()),
        (400, json!("bad_body")),
        "{broken:?}"
    );
    assert_eq!(
        app.get(&readings_path, VIEWER).body,
        before,
        "nothing stored changed"
    );
    app.stop().expect("clean shutdown");
}

#[test]
fn token_new_prints_a_token_whose_block_lets_it_in() {
    let w = Workdir::new();
    let out = w.run(&["token", "new", "--name", "facilities", "--role", "viewer"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let printed = String::from_utf8_lossy(&out.stdout).to_string();
    let token = printed
        .lines()
        .next()
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap()
        .to_owned();
    assert!(token.starts_with("tlv_") && token.len() == 68, "{printed}");
    let block = &printed[printed.find("[[http.token]]").expect("a block")..];
    assert!(block.contains(&hash_text(&token_hash(&token))), "{printed}");
    assert!(!block.contains(&token), "the block holds only the hash");
    let again = w.run(&["token", "new", "--name", "facilities", "--role", "viewer"]);
    assert_ne!(
        String::from_utf8_lossy(&again.stdout),
        printed,
        "a fresh token each time"
    );
    let bad = w.run(&["token", "new", "--name", "x", "--role", "root"]);
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
    assert!(
        text(&bad).contains("`root` is not a role"),
        "{}",
        text(&bad)
    );

    let app = App::spawn(block, june_29());
    assert_eq!(app.get("/api/v1/contracts", &token).status, 200);
    assert_eq!(app.get("/api/v1/contracts", &token[..60]).status, 401);
}

/// Readings entered for the fleet of [`fleet_config`] before the reports:
/// the hand-read device by the vendor on 2026-05-29 (4 000) and by hand on
/// 2026-06-28 (4 900); the C300i's b/w total by hand on 2026-06-28 (61 000).
fn enter_history(app: &App) {
    for (serial, taken_at, value, source) in [
        (HAND, "2026-05-29", 4_000, "vendor"),
        (HAND, "2026-06-28", 4_900, "manual"),
        (C300I, "2026-06-28", 61_000, "manual"),
    ] {
        let a = app.post(
            &format!("/api/v1/devices/{serial}/readings"),
            OPERATOR,
            &json!({"taken_at": taken_at, "meters": {"bw_total": value}, "source": source}),
        );
        assert_eq!(a.status, 201, "{a:?}");
    }
}

#[test]
fn the_vendor_export_never_hides_an_estimate() {
    let app = App::spawn(&fleet_config(), june_29());
    app.wait_for_fleet();
    enter_history(&app);
    // At 2026-06-29 00:00 Oslo:
    // - the C300i between the manual 61 000 a day before and its first poll
    //   (61 084 = 12 873 + 48 211) at 10:00: 61 000 + 84 × 24/34 = 61 059,
    //   both within 24 hours: bracketed; its other meters have no reading
    //   before the date, so no row;
    // - the hand-read device a day after its last reading, at the rate since
    //   the vendor's reading: 900 pages in 30 days, so 4 900 + 30 = 4 930 by
    //   extrapolation, resting on the vendor and the manual reading.
    // The mono 4050i is in no contract.
    let csv = app.get("/api/v1/exports/vendor-billing?at=2026-06-29", VIEWER);
    assert_eq!(csv.status, 200, "{csv:?}");
    assert_eq!(csv.content_type, "text/csv; charset=utf-8");
    assert_eq!(
        csv.text,
        "\u{feff}serial;model;contract;meter;reading_date;value;source;method\r\n\
         AA2J021004711;bizhub C300i;K1;bw_total;2026-06-29;61059;manual+polled;bracketed\r\n\
         HANDREAD0001;;K1;bw_total;2026-06-29;4930;vendor+manual;extrapolation\r\n"
    );
    let json = app.get(
        "/api/v1/exports/vendor-billing?at=2026-06-29&format=json",
        VIEWER,
    );
    assert_eq!(
        json.body[1],
        json!({"serial": HAND, "model": "", "contract": "K1", "meter": "bw_total",
               "reading_date": "2026-06-29", "value": 4930, "source": "vendor+manual",
               "method": "extrapolation"})
    );
    assert_eq!(json.body.as_array().unwrap().len(), 2);
    let bad = app.get("/api/v1/exports/vendor-billing", VIEWER);
    assert_eq!(
        (bad.status, bad.body["error"]["message"].clone()),
        (400, json!("`at`: is required (YYYY-MM-DD)"))
    );
}

#[test]
fn the_counter_report_as_json_and_csv() {
    let app = App::spawn(&fleet_config(), june_29());
    app.wait_for_fleet();
    enter_history(&app);
    // 28 → 29 June: the C300i's b/w from 61 000 (exact) to 61 059
    // (bracketed, as in the vendor export): 59 pages, 59 A4-equivalents (no
    // large pages known yet); the hand-read device 4 900 → 4 930: 30. Meters
    // first read after the start have no values and no use.
    let empty = |serial: &str, model: &str, location: &str, contract: &str, meter: &str| {
        format!(
            "{serial};{model};{location};{contract};{meter};2026-06-28;;;2026-06-29;;;;;;\
             No reading of this meter before 2026-06-29: its first is from 2026-06-29. No usage.;;;\r\n"
        )
    };
    let c300i = |m| empty(C300I, "bizhub C300i", "Oslo 3rd floor", "K1", m);
    let mono = |m| empty(MONO, "bizhub 4050i", "", "", m);
    let expected = [
        "\u{feff}serial;model;location;contract;meter;from;from_value;from_method;to;to_value;to_method;usage;a4_equivalents;pages_per_day;note;discovered;uptime_pct;site\r\n".to_owned(),
        c300i("total"),
        format!("{C300I};bizhub C300i;Oslo 3rd floor;K1;bw_total;2026-06-28;61000;exact;2026-06-29;61059;bracketed;59;59;59,00;;;;\r\n"),
        c300i("bw_large"),
        c300i("colour_total"),
        c300i("colour_large"),
        mono("total"),
        mono("bw_total"),
        mono("bw_large"),
        format!("{HAND};;Bergen, read by hand;K1;bw_total;2026-06-28;4900;exact;2026-06-29;4930;extrapolation;30;30;30,00;;;;\r\n"),
    ]
    .concat();
    let csv = app.get(
        "/api/v1/reports/counters?from=2026-06-28&to=2026-06-29&format=csv",
        VIEWER,
    );
    assert_eq!(
        (csv.status, csv.content_type.as_str()),
        (200, "text/csv; charset=utf-8"),
        "{csv:?}"
    );
    assert_eq!(csv.text, expected);
    let comma = app.get(
        "/api/v1/reports/counters?from=2026-06-28&to=2026-06-29&format=csv&csv_delimiter=,",
        VIEWER,
    );
    assert!(comma.text.contains("\r\nHANDREAD0001,,\"Bergen, read by hand\",K1,bw_total,2026-06-28,4900,exact,2026-06-29,4930,extrapolation,30,30,30.00,,,,\r\n"), "{}", comma.text);
    let xlsx = app.get(
        "/api/v1/reports/counters?from=2026-06-28&to=2026-06-29&format=xlsx",
        VIEWER,
    );
    assert_eq!(
        xlsx.content_type,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(xlsx.bytes)).expect("a zip");
    let mut sheet = String::new();
    std::io::Read::read_to_string(
        &mut archive.by_name("xl/worksheets/sheet1.xml").unwrap(),
        &mut sheet,
    )
    .unwrap();
    // Ten rows under the header; the hand-read device's 4 930 as a number.
    assert!(sheet.contains("<autoFilter ref=\"A1:R10\"/>"), "{sheet}");
    assert!(sheet.contains("<v>4930</v>"), "{sheet}");
    let json = app
        .get(
            "/api/v1/reports/counters?from=2026-06-28&to=2026-06-29",
            VIEWER,
        )
        .body;
    assert_eq!(
        json["devices"][2]["a4_equivalents"],
        json!({"bw": 30, "colour": null})
    );
    assert_eq!(
        json["devices"][2]["meters"][0]["to"],
        json!({"value": 4930, "method": "extrapolation"})
    );
    for (query, names) in [
        ("from=2026-06-29&to=2026-06-28", "`to`"),
        ("to=2026-06-29", "`from`"),
        ("from=2026-06-28&to=2026-06-29&format=pdf", "`format`"),
        (
            "from=2026-06-28&to=2026-06-29&format=csv&csv_delimiter=tab",
            "`csv_delimiter`",
        ),
    ] {
        let a = app.get(&format!("/api/v1/reports/counters?{query}"), VIEWER);
        assert_eq!(a.status, 400, "{query}: {a:?}");
        assert!(
            a.body["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with(names),
            "{query}: {a:?}"
        );
    }
}

/// `[display] timezone` shows every instant in one zone, in the API and on
/// the command line alike; a time given without an offset is still Oslo
/// time, as the contract's dates are.
#[test]
fn the_display_zone_shows_the_same_instant_in_the_api_and_the_cli() {
    let w = Workdir::new();
    let head = format!(
        "{}\n[display]\ntimezone = \"America/New_York\"\nlocale = \"en-GB\"\n",
        App::head()
    );
    let path = w.config_with(&head, &fleet_config());
    let app = App::start(&path, june_29(), 1);
    app.wait_for_fleet();
    let entered = app.post(
        &format!("/api/v1/devices/{HAND}/readings"),
        OPERATOR,
        &json!({"taken_at": "2026-06-29 09:00", "meters": {"bw_total": 5000}, "source": "vendor"}),
    );
    assert_eq!(entered.status, 201, "{entered:?}");
    // 09:00 Oslo (summer, +02:00) is 03:00 in New York (-04:00).
    assert_eq!(entered.body["taken_at"], "2026-06-29T03:00:00-04:00");
    let api = app
        .get(&format!("/api/v1/devices/{C300I}/readings?limit=1"), VIEWER)
        .body;
    let api_at = api["items"][0]["taken_at"].as_str().unwrap().to_owned();
    assert!(api_at.ends_with("-04:00"), "{api}");
    let list = app.get("/api/v1/devices", VIEWER).body;
    assert!(
        list["items"][0]["last_reading_at"]
            .as_str()
            .unwrap()
            .ends_with("-04:00"),
        "{list}"
    );
    app.stop().unwrap();

    let cli = w.readings(C300I);
    assert_eq!(cli[0]["taken_at"], api_at.as_str(), "{cli:?}");
    let hand = w.readings(HAND);
    assert_eq!(hand[0]["taken_at"], "2026-06-29T03:00:00-04:00");
    let table = w.run(&["readings", "--config", "telleverk.toml", "--serial", HAND]);
    assert!(
        text(&table).contains("2026-06-29T03:00:00-04:00"),
        "{}",
        text(&table)
    );
    let invoices = w.run(&[
        "invoices",
        "--config",
        "telleverk.toml",
        "--contract",
        "K1",
        "--until",
        "2026-06-30",
    ]);
    assert_eq!(invoices.status.code(), Some(0), "{}", text(&invoices));
    // en-GB: a fixed fee of 200.00 a month, six months in advance.
    assert!(text(&invoices).contains("1,200.00"), "{}", text(&invoices));

    // A zone that does not exist names the one meant.
    w.config_with("[display]\ntimezone = \"Europe/Olso\"\n", "");
    let out = w.run(&["check-config", "telleverk.toml"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        text(&out).contains("did you mean `Europe/Oslo`?"),
        "{}",
        text(&out)
    );
}
