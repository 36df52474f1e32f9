//! The web API's limits, against the real service on port 0: idle and slow
//! connections are closed, connections beyond the limit wait instead of
//! using up file descriptors, an oversized body is 413 and a slow request
//! 503, and every answer the server shapes is the JSON error.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::api::{App, OPERATOR, VIEWER, june_29};
use super::cli::Workdir;

/// The service with no devices and these `[http]` keys.
fn spawn_with(limits: &str) -> (Workdir, App) {
    let work = Workdir::new();
    let head = App::head().replace("[http]\n", &format!("[http]\n{limits}"));
    let path = work.config_with(&head, "");
    let app = App::start(&path, june_29(), 1);
    (work, app)
}

fn address(app: &App) -> String {
    app.base.trim_start_matches("http://").to_owned()
}

fn connect(app: &App) -> TcpStream {
    let stream = TcpStream::connect(address(app)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    stream
}

/// Waits for the server to close `stream`: true when it did (EOF or reset),
/// false when the read timed out first.
fn closed_by_server(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return true,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return false;
            }
            Err(e) => panic!("reading: {e}"),
        }
    }
}

/// Sends `request` on a new connection and reads the answer until the server
/// closes it (the request says `Connection: close`): status and JSON body.
fn exchange(app: &App, request: &[u8]) -> (u16, Value) {
    let mut stream = connect(app);
    stream.write_all(request).expect("send");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).expect("read the answer");
    let text = String::from_utf8_lossy(&answer);
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP answer");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("a status line: {head}"));
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{head}"
    );
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

fn post_head(length: &str) -> String {
    format!(
        "POST /api/v1/devices/HANDREAD0001/readings HTTP/1.1\r\nHost: telleverk\r\n\
         Authorization: Bearer {OPERATOR}\r\nContent-Type: application/json\r\n\
         {length}Connection: close\r\n\r\n"
    )
}

#[test]
fn idle_and_slow_connections_are_closed_after_the_header_read_timeout() {
    let (_work, app) = spawn_with("header_read_timeout = \"1s\"\n");
    let started = Instant::now();
    let mut idle = connect(&app);
    let mut slow = connect(&app);
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: telleverk\r\n")
        .unwrap();
    assert!(closed_by_server(&mut idle), "an idle connection stays open");
    assert!(closed_by_server(&mut slow), "a half-sent head stays open");
    let waited = started.elapsed();
    assert!(
        (Duration::from_millis(900)..Duration::from_secs(10)).contains(&waited),
        "closed after {waited:?}"
    );
    // A keep-alive connection that goes idle after an answer is closed too.
    let mut kept = connect(&app);
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: telleverk\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 4096];
    let n = kept.read(&mut buf).unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"), "{buf:?}");
    assert!(closed_by_server(&mut kept), "an idle keep-alive stays open");
    app.stop().expect("clean shutdown");
}

#[test]
fn connections_beyond_the_limit_wait_until_idle_ones_are_closed() {
    let (_work, app) = spawn_with("max_connections = 2\nheader_read_timeout = \"1s\"\n");
    let started = Instant::now();
    // Two idle connections take both slots; four more wait in the backlog,
    // each served (and closed, idle) only when a slot is free.
    let idle: Vec<TcpStream> = (0..6).map(|_| connect(&app)).collect();
    let alerts = app.get("/api/v1/alerts", VIEWER);
    let waited = started.elapsed();
    assert_eq!(alerts.status, 200, "{alerts:?}");
    assert!(
        waited >= Duration::from_millis(2900),
        "answered after {waited:?}, before three pairs of idle connections timed out: \
         the limit did not hold"
    );
    drop(idle);
    app.stop().expect("clean shutdown");
}

#[test]
fn a_stop_closes_idle_connections_at_once() {
    let (_work, app) = spawn_with("header_read_timeout = \"30s\"\n");
    let _idle: Vec<TcpStream> = (0..3).map(|_| connect(&app)).collect();
    assert_eq!(app.get("/healthz", VIEWER).status, 200);
    let started = Instant::now();
    app.stop().expect("clean shutdown");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the stop waited {:?} for idle connections",
        started.elapsed()
    );
}

#[test]
fn an_oversized_body_is_413_json() {
    let (_work, app) = spawn_with("");
    // 10 MiB announced: answered before the body is read.
    let mut request = post_head("Content-Length: 10485760\r\n").into_bytes();
    request.extend_from_slice(&[b' '; 4096]);
    let (status, body) = exchange(&app, &request);
    assert_eq!(
        (status, &body["error"]["code"]),
        (413, &json!("payload_too_large")),
        "{body}"
    );
    app.stop().expect("clean shutdown");

    // A chunked body (no length) is cut where it passes the limit.
    let (_work, app) = spawn_with("max_body_bytes = 1024\n");
    let chunk = format!("{{\"meters\": {{}}, \"pad\": \"{}\"}}", "x".repeat(2000));
    let mut request = post_head("Transfer-Encoding: chunked\r\n");
    request.push_str(&format!("{:x}\r\n{chunk}\r\n0\r\n\r\n", chunk.len()));
    let (status, body) = exchange(&app, request.as_bytes());
    assert_eq!(
        (status, &body["error"]["code"]),
        (413, &json!("payload_too_large")),
        "{body}"
    );
    app.stop().expect("clean shutdown");
}

#[test]
fn a_request_not_answered_in_time_is_503_json() {
    let (_work, app) = spawn_with("request_timeout = \"1s\"\n");
    // A body announced as 100 bytes of which 10 come: the request waits for
    // the rest until its time is up.
    let mut request = post_head("Content-Length: 100\r\n").into_bytes();
    request.extend_from_slice(b"{\"meters\":");
    let started = Instant::now();
    let (status, body) = exchange(&app, &request);
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert_eq!(
        (status, &body["error"]["code"]),
        (503, &json!("timeout")),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("request_timeout")),
        "{body}"
    );
    app.stop().expect("clean shutdown");
}

#[test]
fn bad_utf8_in_a_path_is_400_json() {
    let (_work, app) = spawn_with("");
    for path in [
        "/api/v1/devices/%FF%FE",
        "/api/v1/devices/A%C3/readings",
        "/api/v1/contracts/%80/invoices",
    ] {
        let answer = app.get(path, VIEWER);
        assert_eq!(
            (answer.status, &answer.body["error"]["code"]),
            (400, &json!("bad_parameter")),
            "{path}: {answer:?}"
        );
    }
    app.stop().expect("clean shutdown");
}
