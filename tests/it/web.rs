//! The web pages (issue 19): sessions and forms over plain HTTP, and every
//! page in a real browser (Debian's chromium through selenium, with
//! axe-core in each page) against `serve` polling a simulated fleet.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use telleverk::clock::{Clock, Steer};
use telleverk::sim::config_text;
use telleverk::sim::model::Fleet;

use super::api::{ADMIN, App, OPERATOR, VIEWER, token_blocks};
use super::cli::Workdir;
use super::simfleet::Sim;

/// A device read by hand (no address): any reading of it is plausible.
const HAND: &str = "HAND0000001";

/// A tool the test command installs: `$VAR`, else a clear failure.
fn tool(var: &str) -> PathBuf {
    let path = std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            panic!("{var} is unset: run the tests with `bash tests/run.sh`, which installs it")
        });
    assert!(
        path.exists(),
        "{var}={} names a missing file",
        path.display()
    );
    path
}

/// The service polling a simulated fleet of `devices`, with the test
/// tokens and a device read by hand: a week of polls on a clock running a
/// day a second, then on in real time.
fn service(work: &Workdir, devices: usize) -> (App, Sim, Fleet) {
    service_with(work, devices, "")
}

/// [`service`] with more `[http]` settings.
fn service_with(work: &Workdir, devices: usize, http: &str) -> (App, Sim, Fleet) {
    let now = telleverk::clock::now();
    let start = now - chrono::TimeDelta::days(7);
    let steer = Steer::start(start, 86_400);
    let clock = Clock::Steered(steer);
    let fleet = Fleet::new(3, devices, start, false);
    let sim = Sim::start(fleet.clone(), clock);
    let polling = super::simfleet::polling();
    let members: Vec<String> = fleet
        .devices
        .iter()
        .map(|d| format!("\"{}\"", d.serial))
        .collect();
    // A contract over the fleet, begun this year: its half-year runs now.
    let year = chrono::Datelike::year(&now.date_naive());
    let config = format!(
        "{}\n[[device]]\nserial = \"{HAND}\"\nlocation = \"Reception\"\n\n[http]\nlisten = \"127.0.0.1:0\"\n{http}\n\n{}\n\
         [[contract]]\nid = \"WEB\"\ndevices = [{}]\nstart = \"{year}-01-01\"\nterm_months = 36\nbilling = \"advance\"\n\
         committed_bw = 600000\ncommitted_colour = 100000\nfixed_fee_monthly = \"200.00\"\nuptime_pct = \"98\"\n\n\
         [[contract.price]]\nfrom = \"{year}-01-01\"\nbw = \"0.0450\"\ncolour = \"0.4500\"\n",
        config_text(&fleet, sim.address, &polling),
        token_blocks(),
        members.join(", ")
    );
    let path = work.path().join("web.toml");
    std::fs::write(&path, config).unwrap();
    work.point_config("web.toml");
    let app = App::start_on(&path, clock);
    while clock.now() < now {
        std::thread::sleep(Duration::from_millis(50));
    }
    steer.set(now, 1);
    // The view lists the fleet once a round is in.
    let serial = fleet.devices[0].serial.clone();
    app.wait_for("/api/v1/devices?limit=1000", |v| {
        v["items"].as_array().is_some_and(|a| {
            a.iter()
                .any(|d| d["serial"] == serial.as_str() && !d["last_reading_at"].is_null())
        })
    });
    (app, sim, fleet)
}

/// A plain HTTP client that follows no redirect and keeps no cookie.
fn client() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// A response header as text ("" when missing).
fn header(r: &ureq::http::Response<ureq::Body>, name: &str) -> String {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

fn session_cookie(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().trim().to_owned()
}

#[test]
fn sessions_and_forms_keep_to_their_rules() {
    let work = Workdir::new();
    let (app, _sim, fleet) = service(&work, 3);
    let http = client();
    let base = app.base.clone();

    // No session: a redirect to the login form, which names where to go back.
    let r = http
        .get(format!("{base}/devices/{}", fleet.devices[0].serial))
        .call()
        .unwrap();
    assert_eq!(r.status(), 303);
    let to = header(&r, "location");
    assert!(to.starts_with("/login?next=/devices/"), "{to}");
    // The style sheet needs no session.
    let r = http
        .get(format!("{base}/static/telleverk.css"))
        .call()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(header(&r, "content-type").starts_with("text/css"));

    // A bad token: the form again, 401.
    let r = http
        .post(format!("{base}/login"))
        .send_form([("token", "nope"), ("next", "/")])
        .unwrap();
    assert_eq!(r.status(), 401);
    let body = r.into_body().read_to_string().unwrap();
    assert!(
        body.contains("not known") && body.contains("name=\"token\""),
        "{body}"
    );

    // A good one: a strict, HttpOnly cookie and back to where we were going;
    // never to another site.
    let r = http
        .post(format!("{base}/login"))
        .send_form([("token", VIEWER), ("next", "//evil.example/")])
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(header(&r, "location"), "/");
    let set = header(&r, "set-cookie");
    for part in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=28800"] {
        assert!(set.contains(part), "{part} in {set}");
    }
    assert!(
        !set.contains("Secure"),
        "no Secure without secure_cookies: {set}"
    );
    let cookie = session_cookie(&set);
    let page = |path: &str| {
        let r = http
            .get(format!("{base}{path}"))
            .header("cookie", &cookie)
            .call()
            .unwrap();
        let status = r.status().as_u16();
        (status, r.into_body().read_to_string().unwrap())
    };
    let (status, fleet_page) = page("/");
    assert_eq!(status, 200);
    for d in &fleet.devices {
        assert!(
            fleet_page.contains(&d.serial),
            "{} on the fleet page",
            d.serial
        );
    }
    assert!(fleet_page.contains(HAND) && fleet_page.contains("read by hand"));
    let csrf = fleet_page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    let (status, _) = page(&format!("/devices/{}", fleet.devices[0].serial));
    assert_eq!(status, 200);
    // The contract's page shows the API's figures: the running half's use
    // so far in its table, and where the half's chart of use ends.
    let standing = app.get("/api/v1/contracts/WEB/reconciliation", VIEWER);
    assert_eq!(standing.status, 200, "{}", standing.text);
    let (status, contract_page) = page("/contracts/WEB");
    assert_eq!(status, 200);
    let half = standing.body["periods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["running"] == true && p["kind"] == "half")
        .unwrap();
    let grouped = |n: u64| {
        let digits = n.to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push('\u{a0}');
            }
            out.push(c);
        }
        out
    };
    let (bw, colour) = (
        grouped(half["bw"]["actual"].as_u64().unwrap()),
        grouped(half["colour"]["actual"].as_u64().unwrap()),
    );
    assert!(
        contract_page.contains(&format!("b/w {bw} and colour {colour}")),
        "the half's chart ends at its actual b/w {bw}, colour {colour}: {contract_page}"
    );
    assert!(
        contract_page.contains(&format!("<td class=\"num\">{bw}</td>")),
        "the table shows the half's b/w actual {bw}"
    );
    // Unit prices and money in the locale's form (nb-NO by default).
    assert!(
        contract_page.contains("× 0,0450 = 13\u{a0}500,00\u{a0}kr"),
        "the a-konto line in Norwegian form: {contract_page}"
    );
    let use_section = contract_page.split("id=\"use\"").nth(1).unwrap();
    assert!(
        use_section.matches("<svg").count() >= 2 && use_section.contains("commitment"),
        "a chart of the running half and one of the year, with the commitment line"
    );
    // Sorted by a counter: every row's value in order (a device without
    // one, "-", first going up).
    let counter_cells = |html: &str, nth: usize| -> Vec<Option<u64>> {
        let body = html
            .split("<tbody>")
            .nth(1)
            .unwrap()
            .split("</tbody>")
            .next()
            .unwrap();
        body.split("<tr>")
            .skip(1)
            .map(|row| {
                let cell = row.split("<td class=\"num\">").nth(nth).unwrap();
                let text = cell.split("</td>").next().unwrap();
                let digits: String = text.chars().filter(char::is_ascii_digit).collect();
                digits.parse().ok()
            })
            .collect()
    };
    for (sort, nth) in [("bw", 1), ("colour", 2)] {
        let (status, up) = page(&format!("/?sort={sort}&dir=asc"));
        assert_eq!(status, 200);
        let up = counter_cells(&up, nth);
        assert!(
            up.len() > 3 && up.windows(2).all(|w| w[0] <= w[1]),
            "{sort} up: {up:?}"
        );
        let (_, down) = page(&format!("/?sort={sort}&dir=desc"));
        let down = counter_cells(&down, nth);
        assert!(
            down.windows(2).all(|w| w[0] >= w[1]),
            "{sort} down: {down:?}"
        );
        assert!(up.iter().flatten().count() >= 2, "counters shown: {up:?}");
    }
    let (status, missing) = page("/devices/NOSUCHSERIAL");
    assert_eq!(status, 404);
    assert!(missing.contains("no device with serial"), "{missing}");

    // Pages go out gzipped to a browser that takes it.
    let r = http
        .get(format!("{base}/"))
        .header("cookie", &cookie)
        .header("accept-encoding", "gzip")
        .call()
        .unwrap();
    assert_eq!(header(&r, "content-encoding"), "gzip");
    let mut gz = Vec::new();
    std::io::Read::read_to_end(&mut r.into_body().into_reader(), &mut gz).unwrap();
    assert!(
        gz.starts_with(&[0x1f, 0x8b]) && gz.len() < fleet_page.len(),
        "{} bytes",
        gz.len()
    );

    // The reports page's downloads are the API's files.
    let month =
        (telleverk::clock::now().date_naive() - chrono::TimeDelta::days(40)).format("%Y-%m");
    let r = http
        .get(format!("{base}/reports/counters?month={month}&format=csv"))
        .header("cookie", &cookie)
        .call()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(header(&r, "content-disposition").contains("attachment"));
    let csv = r.into_body().read_to_string().unwrap();
    assert!(csv.contains("serial;model;location"), "{csv}");
    let (status, bad) = page("/reports/counters?month=13-2026");
    assert_eq!(status, 400);
    assert!(bad.contains("Choose a month"), "{bad}");
    let (status, vendor) = page("/reports/vendor-billing?at=2026-11-01&format=json");
    assert_eq!(status, 200);
    assert!(vendor.starts_with('['), "{vendor}");
    let (status, reports) = page("/reports");
    assert_eq!(status, 200);
    assert!(reports.contains("Counter report"));

    // A viewer may not enter a reading; an operator's form needs the CSRF token.
    let send = |cookie: &str, csrf: &str| {
        http.post(format!("{base}/devices/{HAND}/readings"))
            .header("cookie", cookie)
            .send_form([
                ("csrf", csrf),
                ("taken_at", "2026-11-02 10:00"),
                ("meter", "total"),
                ("value", "500"),
                ("source", "manual"),
            ])
            .unwrap()
    };
    assert_eq!(send(&cookie, &csrf).status(), 403);
    let r = http
        .post(format!("{base}/login"))
        .send_form([("token", OPERATOR), ("next", "/")])
        .unwrap();
    let operator = session_cookie(&header(&r, "set-cookie"));
    let r = send(&operator, "forged");
    assert_eq!(r.status(), 403);
    assert!(
        r.into_body()
            .read_to_string()
            .unwrap()
            .contains("another session")
    );
    let operator_csrf = {
        let r = http
            .get(format!("{base}/devices/{HAND}"))
            .header("cookie", &operator)
            .call()
            .unwrap();
        let body = r.into_body().read_to_string().unwrap();
        body.split("name=\"csrf\" value=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_owned()
    };
    let r = send(&operator, &operator_csrf);
    assert_eq!(r.status(), 200);
    assert!(
        r.into_body()
            .read_to_string()
            .unwrap()
            .contains("Stored 1 value")
    );
    // The API sees the reading the page stored.
    let readings = app.get(&format!("/api/v1/devices/{HAND}/readings"), ADMIN);
    assert!(readings.text.contains("500"), "{}", readings.text);

    // A value that breaks a polled device's counts is refused with the
    // form filled in again, and stored once the operator says it is right.
    let polled = fleet.devices[0].serial.clone();
    let two_days_ago = (telleverk::clock::now() - chrono::TimeDelta::days(2))
        .with_timezone(&chrono_tz::Europe::Oslo)
        .format("%Y-%m-%d %H:%M")
        .to_string();
    let enter = |accept: bool| {
        let mut form = vec![
            ("csrf", operator_csrf.as_str()),
            ("taken_at", two_days_ago.as_str()),
            ("meter", "bw_total"),
            ("value", "3"),
            ("source", "manual"),
        ];
        if accept {
            form.push(("accept_implausible", "on"));
        }
        let r = http
            .post(format!("{base}/devices/{polled}/readings"))
            .header("cookie", &operator)
            .send_form(form)
            .unwrap();
        (r.status().as_u16(), r.into_body().read_to_string().unwrap())
    };
    let (status, refused) = enter(false);
    assert_eq!(status, 409, "{refused}");
    assert!(
        refused.contains("Store it all the same") && refused.contains("nothing was stored"),
        "{refused}"
    );
    assert!(
        refused.contains(&format!("value=\"{two_days_ago}\""))
            && refused.contains("<option value=\"bw_total\" selected>"),
        "the form comes back filled in: {refused}"
    );
    let (status, stored) = enter(true);
    assert_eq!(status, 200, "{stored}");
    assert!(stored.contains("Stored 1 value"), "{stored}");

    // Logging out needs the form's token, then ends the session.
    let r = http
        .post(format!("{base}/logout"))
        .header("cookie", &cookie)
        .send_form([("csrf", "wrong")])
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = http
        .post(format!("{base}/logout"))
        .header("cookie", &cookie)
        .send_form([("csrf", csrf.as_str())])
        .unwrap();
    assert_eq!(r.status(), 303);
    assert!(header(&r, "set-cookie").contains("Max-Age=0"));
    let r = http
        .get(format!("{base}/"))
        .header("cookie", &cookie)
        .call()
        .unwrap();
    assert_eq!(r.status(), 303, "the ended session is refused");
}

/// Behind a TLS proxy (`secure_cookies`), the cookie is `Secure`, and
/// `session_idle` sets how long it lasts.
#[test]
fn secure_cookies_and_the_idle_time_reach_the_cookie() {
    let work = Workdir::new();
    let (app, _sim, _fleet) =
        service_with(&work, 1, "secure_cookies = true\nsession_idle = \"30m\"");
    let r = client()
        .post(format!("{}/login", app.base))
        .send_form([("token", VIEWER), ("next", "/")])
        .unwrap();
    let set = header(&r, "set-cookie");
    assert!(
        set.contains("; Secure") && set.contains("Max-Age=1800"),
        "{set}"
    );
}

#[test]
fn every_page_works_in_a_real_browser() {
    let python = tool("TELLEVERK_PYTHON");
    let driver = tool("TELLEVERK_CHROMEDRIVER");
    let chromium = tool("TELLEVERK_CHROMIUM");
    let axe = tool("TELLEVERK_AXE");
    let work = Workdir::new();
    let (app, _sim, fleet) = service(&work, 5);
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/web/browser.py");
    let out = Command::new(python)
        .arg(script)
        .env("WEB_BASE", &app.base)
        .env("WEB_VIEWER", VIEWER)
        .env("WEB_OPERATOR", OPERATOR)
        .env("WEB_SERIAL", &fleet.devices[0].serial)
        .env("WEB_HAND_SERIAL", HAND)
        .env("WEB_SCREENSHOTS", &shots)
        .env("TELLEVERK_CHROMEDRIVER", driver)
        .env("TELLEVERK_CHROMIUM", chromium)
        .env("TELLEVERK_AXE", axe)
        .output()
        .expect("run the browser test");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{said}");
    assert!(said.contains("browser: every step passed"), "{said}");
    for name in [
        "login",
        "fleet",
        "device",
        "contract",
        "contract-uptime",
        "reports",
        "alerts",
        "device-reading",
    ] {
        let png = std::fs::read(shots.join(format!("{name}.png"))).unwrap();
        assert!(
            png.starts_with(b"\x89PNG") && png.len() > 10_000,
            "{name}.png"
        );
    }
}
