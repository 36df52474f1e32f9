//! The OpenAPI document against the running service: every operation's
//! documented example is answered with 2xx, and schemathesis (all checks,
//! positive and negative cases) finds no failure.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Map, Value};

use super::api::{ADMIN, App, COLLECTOR, OPERATOR, fleet_config, june_29};
use super::cli::Workdir;

/// Follows a local `$ref` (`#/components/schemas/Name`).
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let pointer = reference.trim_start_matches('#');
            doc.pointer(pointer)
                .unwrap_or_else(|| panic!("dangling $ref {reference}"))
        }
        None => schema,
    }
}

/// A parameter's example as URL text.
fn example_text(param: &Value) -> Option<String> {
    match &param["example"] {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// Percent-encodes a query value (RFC 3986 unreserved characters stay).
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The request an operation's examples describe: its path with the path
/// parameters filled in, the query of every parameter that has an example,
/// and a JSON body of the body schema's property examples.
fn example_request(doc: &Value, path: &str, op: &Value) -> (String, Option<String>) {
    let mut url = path.to_owned();
    let mut query = Vec::new();
    for param in op["parameters"].as_array().into_iter().flatten() {
        let name = param["name"].as_str().unwrap();
        let example = example_text(param);
        let required = param["required"].as_bool().unwrap_or(false);
        assert!(
            example.is_some() || !required,
            "{path}: the required parameter `{name}` has no example"
        );
        let Some(example) = example else { continue };
        match param["in"].as_str().unwrap() {
            "path" => url = url.replace(&format!("{{{name}}}"), &example),
            "query" => query.push(format!("{name}={}", encode(&example))),
            other => panic!("{path}: a parameter in {other}"),
        }
    }
    if !query.is_empty() {
        url = format!("{url}?{}", query.join("&"));
    }
    let json = &op["requestBody"]["content"]["application/json"];
    // The body's own example (a free-form body: a site's batch), else one
    // made of its properties' examples.
    let whole = (!json["example"].is_null()).then(|| json["example"].clone());
    let body = json["schema"].as_object().map(|schema| {
        if let Some(example) = &whole {
            return example.clone();
        }
        let schema = resolve(doc, &Value::Object(schema.clone())).clone();
        if !schema["example"].is_null() {
            return schema["example"].clone();
        }
        let mut body = Map::new();
        for (name, property) in schema["properties"].as_object().unwrap() {
            let example = &property["example"];
            assert!(!example.is_null(), "{path}: `{name}` has no example");
            body.insert(name.clone(), example.clone());
        }
        Value::Object(body)
    });
    // A file body (the vendor's invoice) is sent as it is written.
    let file = op["requestBody"]["content"]["text/csv"]["example"]
        .as_str()
        .map(str::to_owned);
    (url, body.map(|b| b.to_string()).or(file))
}

#[test]
fn every_operation_answers_its_example_with_2xx() {
    let app = App::spawn(&fleet_config(), june_29());
    app.wait_for_fleet();
    let doc = app.get("/api/v1/openapi.json", ADMIN).body;
    let mut tried = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let (url, body) = example_request(&doc, path, op);
            let method = method.to_uppercase();
            // Only a site's collector forwards.
            let token = if path == "/api/v1/ingest" {
                COLLECTOR
            } else {
                ADMIN
            };
            let answer = app.request(&method, &url, Some(token), body.as_deref());
            assert!(
                (200..300).contains(&answer.status),
                "{method} {url} {body:?}: {answer:?}"
            );
            tried += 1;
        }
    }
    assert_eq!(tried, 24, "every operation was tried");
    app.stop().expect("clean shutdown");
}

/// `$TELLEVERK_SCHEMATHESIS`, else where `tests/run.sh` installs it.
fn schemathesis_program() -> PathBuf {
    let configured = std::env::var_os("TELLEVERK_SCHEMATHESIS").filter(|v| !v.is_empty());
    let path = configured.clone().map(PathBuf::from).unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-tools/venv/bin/schemathesis")
    });
    assert!(
        path.is_file(),
        "schemathesis is not installed ({}); run the tests with `bash tests/run.sh`",
        path.display()
    );
    path
}

#[test]
fn schemathesis_finds_no_failure() {
    let program = schemathesis_program();
    let app = App::spawn(&fleet_config(), june_29());
    app.wait_for_fleet();
    // schemathesis keeps its files (.hypothesis, reports) in its working
    // folder: a temporary one.
    let work = Workdir::new();
    let hooks = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemathesis/hooks.py");
    let output = Command::new(&program)
        .current_dir(work.path())
        .env("SCHEMATHESIS_HOOKS", &hooks)
        .env("NO_COLOR", "1")
        .args([
            "run",
            &format!("{}/api/v1/openapi.json", app.base),
            "--url",
            &app.base,
            "--header",
            &format!("Authorization: Bearer {OPERATOR}"),
            "--checks",
            "all",
            "--mode",
            "all",
            "--max-examples",
            "60",
            "--seed",
            &std::env::var("TELLEVERK_SCHEMATHESIS_SEED").unwrap_or_else(|_| "20261121".into()),
            "--generation-database",
            "none",
            "--workers",
            "1",
            "--no-color",
        ])
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", program.display()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "schemathesis failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    // Every operation was tested and no failure reported.
    assert!(stdout.contains("Tested: 23"), "{stdout}");
    assert!(!stdout.contains("Failures:"), "{stdout}");
    app.stop().expect("clean shutdown");
}
