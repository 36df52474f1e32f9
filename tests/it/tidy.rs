//! Checks of the code itself: which module may use which (the layers of
//! ARCHITECTURE.md), the pure core stays pure, readings stay append-only.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn rust_files(path: &Path) -> Vec<PathBuf> {
    if path.is_file() {
        return vec![path.to_path_buf()];
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).unwrap() {
        files.extend(rust_files(&entry.unwrap().path()));
    }
    files.retain(|f| f.extension().is_some_and(|e| e == "rs" || e == "sql"));
    files.sort();
    files
}

fn src(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(rel)
}

/// Which top-level modules each module may name through `crate::…`. A module
/// not in the table is a failure too, so a new room must be placed in the
/// layers before it can be used. Arrows point down: the wiring (`app`) uses
/// everything; the API and the scheduler use `gather`; `gather` reads
/// storage and config into the pure core; the pure core uses only itself.
const LAYERS: &[(&str, &[&str])] = &[
    // The wiring: every command.
    ("app", &["*"]),
    // Serving: the API and the scheduled reports.
    (
        "http",
        &[
            "alerts",
            "answer",
            "billing",
            "clock",
            "collector",
            "config",
            "contract",
            "display",
            "gather",
            "import",
            "invoice_check",
            "meters",
            "notify",
            "record",
            "report",
            "scheduler",
            "status",
            "storage",
            "supplies",
            "uptime",
            "web",
            "wire",
        ],
    ),
    // A site's forwarding to the central server: its outbox and the upstream.
    (
        "forward",
        &["clock", "config", "database", "secret", "storage", "wire"],
    ),
    // Alerts that reach people: the history, mail and webhooks.
    (
        "notify",
        &[
            "alerts",
            "clock",
            "config",
            "display",
            "record",
            "scheduler",
            "storage",
        ],
    ),
    // The pages: beside the API, reading through it.
    (
        "web",
        &[
            "alerts", "answer", "clock", "config", "contract", "display", "gather", "http",
            "meters", "storage", "uptime",
        ],
    ),
    (
        "scheduler",
        &["clock", "config", "contract", "gather", "report", "storage"],
    ),
    // Reading store and config into the inputs of the pure core.
    (
        "gather",
        &[
            "alerts",
            "answer",
            "uptime",
            "billing",
            "config",
            "contract",
            "estimate",
            "import",
            "invoice_check",
            "meters",
            "record",
            "report",
            "status",
            "storage",
            "supplies",
            "wire",
        ],
    ),
    // Polling.
    (
        "collector",
        &[
            "clock", "config", "discover", "meters", "oid", "profile", "record", "snmp", "status",
            "storage", "supplies",
        ],
    ),
    ("sim", &["clock", "oid", "supplies"]),
    // The edges: the database, the SNMP client, the config file, /proc.
    (
        "storage",
        &[
            "contract", "database", "display", "import", "meters", "record", "secret", "supplies",
            "wire",
        ],
    ),
    ("snmp", &["oid", "record", "secret"]),
    (
        "config",
        &[
            "alerts",
            "contract",
            "database",
            "discover",
            "display",
            "invoice_check",
            "profile",
            "report",
            "secret",
            "snmp",
            "supplies",
            "uptime",
            "wire",
        ],
    ),
    ("clock", &[]),
    ("process", &[]),
    // The pure core.
    ("profile", &["meters", "oid", "supplies"]),
    (
        "output",
        &[
            "answer", "display", "meters", "record", "status", "supplies",
        ],
    ),
    (
        "answer",
        &["contract", "meters", "record", "status", "supplies"],
    ),
    (
        "alerts",
        &[
            "answer", "billing", "contract", "display", "record", "supplies",
        ],
    ),
    (
        "report",
        &["answer", "billing", "contract", "estimate", "meters"],
    ),
    (
        "billing",
        &["answer", "contract", "display", "estimate", "meters"],
    ),
    ("import", &["contract", "display", "meters"]),
    (
        "invoice_check",
        &[
            "answer", "billing", "contract", "display", "estimate", "import", "meters", "report",
        ],
    ),
    ("estimate", &["contract", "meters"]),
    ("record", &["contract", "meters", "supplies"]),
    ("wire", &["meters", "record", "supplies"]),
    ("supplies", &["contract", "meters", "uptime"]),
    ("status", &[]),
    ("display", &[]),
    ("discover", &[]),
    ("uptime", &["contract", "record"]),
    ("meters", &["oid"]),
    ("contract", &[]),
    ("oid", &[]),
    ("secret", &[]),
    // Where the database is: a file or a server.
    ("database", &["secret"]),
    // The vocabulary (see VOCABULARY).
    ("serial", &[]),
    ("timestamp", &[]),
];

/// Value types every module may name: leaves that use no other module.
const VOCABULARY: &[&str] = &["serial", "timestamp"];

/// The pure modules: they do no I/O and never read the clock.
const PURE: &[&str] = &[
    "alerts",
    "answer",
    "billing",
    "contract",
    "discover.rs",
    "estimate",
    "import.rs",
    "invoice_check",
    "meters",
    "uptime",
    "oid.rs",
    "output.rs",
    "profile/mod.rs",
    "record.rs",
    "report",
    "secret.rs",
    "serial.rs",
    "timestamp.rs",
    "sim/model.rs",
    "status.rs",
    "supplies",
    "wire.rs",
];

/// The top-level module a source file belongs to (`src/http/view.rs` → `http`).
fn module_of(rel: &Path) -> String {
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_owned()
}

/// Every top-level module named through `crate::…` in `text`, grouped
/// imports (`use crate::{a, b::c}`) and paths inside code and doc links alike.
fn crate_paths(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("crate::") {
        let preceded = rest[..i]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_');
        rest = &rest[i + "crate::".len()..];
        if preceded {
            continue; // `telleverk_crate::` or the like
        }
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    _ => {}
                }
                if depth == 0 {
                    break;
                }
                if c == ',' && depth == 1 {
                    found.extend(first_ident(&item));
                    item.clear();
                } else {
                    item.push(c);
                }
            }
            found.extend(first_ident(&item));
        } else {
            found.extend(first_ident(rest));
        }
    }
    found
}

fn first_ident(text: &str) -> Option<String> {
    let ident: String = text
        .trim_start()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    (!ident.is_empty() && ident != "self").then_some(ident)
}

/// The imports `files` (path under src/, text) make that `LAYERS` forbids.
fn layer_violations(files: &[(PathBuf, String)]) -> Vec<String> {
    let mut found = Vec::new();
    for (rel, text) in files {
        if rel == Path::new("lib.rs") || rel == Path::new("main.rs") {
            continue;
        }
        let module = module_of(rel);
        let Some((_, allowed)) = LAYERS.iter().find(|(m, _)| *m == module) else {
            found.push(format!(
                "{}: module `{module}` is not in the layers table",
                rel.display()
            ));
            continue;
        };
        for used in crate_paths(text) {
            let fine = used == module
                || allowed.contains(&"*")
                || allowed.contains(&used.as_str())
                || (VOCABULARY.contains(&used.as_str()) && !VOCABULARY.contains(&module.as_str()));
            if !fine {
                found.push(format!("{}: `{module}` uses `{used}`", rel.display()));
            }
        }
    }
    found
}

fn source_files() -> Vec<(PathBuf, String)> {
    let root = src("");
    rust_files(&root)
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "rs"))
        .map(|f| {
            let text = std::fs::read_to_string(&f).unwrap();
            (f.strip_prefix(&root).unwrap().to_path_buf(), text)
        })
        .collect()
}

#[test]
fn every_module_uses_only_the_layers_below_it() {
    let found = layer_violations(&source_files());
    assert!(
        found.is_empty(),
        "imports across the layers:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_layers_table_names_every_module_and_only_modules_that_exist() {
    let modules: BTreeSet<String> = source_files()
        .iter()
        .map(|(rel, _)| module_of(rel))
        .filter(|m| m != "lib" && m != "main")
        .collect();
    let table: BTreeSet<String> = LAYERS.iter().map(|(m, _)| (*m).to_owned()).collect();
    assert_eq!(modules, table);
    for (module, allowed) in LAYERS {
        for a in *allowed {
            assert!(
                *a == "*" || table.contains(*a),
                "`{module}` may use `{a}`, which is no module"
            );
        }
    }
}

#[test]
fn the_layer_check_catches_the_edges_an_architecture_review_found() {
    let file = |path: &str, text: &str| (PathBuf::from(path), text.to_owned());
    let edges = [
        file("http/view.rs", "use crate::app::FleetIndex;\n"),
        file(
            "scheduler/mod.rs",
            "let d = crate::app::counter_report(r, c, f, t)?;\n",
        ),
        file("alerts/mod.rs", "use crate::config::Alerts;\n"),
        file(
            "snmp/mod.rs",
            "use crate::{\n    config::{self, DeviceEntry},\n    meters::ValueKind,\n};\n",
        ),
        file("snmp/mod.rs", "use crate::profile::{Oid, Scalar};\n"),
        file("output.rs", "use crate::storage::{PollRecord, Reading};\n"),
        file("newroom/mod.rs", "use crate::meters::Meter;\n"),
        file("serial.rs", "use crate::meters::Meter;\n"),
    ];
    let found = layer_violations(&edges);
    let expected = [
        "http/view.rs: `http` uses `app`",
        "scheduler/mod.rs: `scheduler` uses `app`",
        "alerts/mod.rs: `alerts` uses `config`",
        "snmp/mod.rs: `snmp` uses `config`",
        "snmp/mod.rs: `snmp` uses `meters`",
        "snmp/mod.rs: `snmp` uses `profile`",
        "output.rs: `output` uses `storage`",
        "newroom/mod.rs: module `newroom` is not in the layers table",
        "serial.rs: `serial` uses `meters`",
    ];
    assert_eq!(found, expected);
    // What the layers allow passes.
    let fine = [
        file(
            "http/devices.rs",
            "use crate::gather::{DeviceView, FleetView};\n",
        ),
        file("app.rs", "use crate::http::Inner;\n"),
        file(
            "billing/mod.rs",
            "use super::x; use crate::{contract::Nok, meters};\n",
        ),
        file("storage/mod.rs", "use crate::serial::Serial;\n"),
    ];
    assert_eq!(layer_violations(&fine), Vec::<String>::new());
}

#[test]
fn anyhow_stays_in_main_and_app() {
    let found: Vec<String> = source_files()
        .into_iter()
        .filter(|(rel, _)| !matches!(module_of(rel).as_str(), "app" | "main"))
        .filter(|(_, text)| text.contains("anyhow"))
        .map(|(rel, _)| rel.display().to_string())
        .collect();
    assert!(
        found.is_empty(),
        "anyhow below app (give the module its own error type):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_pure_core_does_no_io_and_reads_no_clock() {
    const FORBIDDEN: [&str; 12] = [
        "tokio",
        "rusqlite",
        "axum",
        "async_snmp",
        "lettre",
        "std::net",
        "std::fs",
        "Utc::now",
        "Local::now",
        "SystemTime",
        "Instant::now",
        "clock::",
    ];
    let mut found = Vec::new();
    for module in PURE {
        for file in rust_files(&src(module)) {
            let text = std::fs::read_to_string(&file).unwrap();
            for word in FORBIDDEN {
                if text.contains(word) {
                    found.push(format!("{}: {word}", file.display()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "I/O or clock in the pure core:\n{}",
        found.join("\n")
    );
}

#[test]
fn only_storage_has_sql_and_readings_are_never_updated_or_deleted() {
    let mut found = Vec::new();
    for file in rust_files(&src("")) {
        let text = std::fs::read_to_string(&file).unwrap();
        let in_storage = file.starts_with(src("storage"));
        for word in ["INSERT INTO", "SELECT ", "CREATE TABLE"] {
            if !in_storage && text.contains(word) {
                found.push(format!("SQL outside storage: {}: {word}", file.display()));
            }
        }
        for line in text.lines() {
            let upper = line.to_uppercase();
            // The updates allowed: the DES salt epoch (one row), the
            // address an entry (an endpoint, not a reading) was last found
            // at by discovery, and, once, entry keys an older telleverk
            // derived from a community, with the events that named them
            // (Store::rekey_entries). On PostgreSQL: the schema's version
            // and the count of writing transactions (one row each). At a
            // site: the outbox's one row (the last item the central
            // confirmed, its stream), and the confirmed items leaving the
            // outbox (copies: the readings stay in the store) and its plan
            // of the history (spans and ids, not readings). At the
            // central: each site's last contact (one row a site).
            let allowed = [
                "DES_SALT",
                "UPDATE SCHEMA_VERSION SET VERSION",
                "UPDATE DATA_VERSION SET N = N + 1",
                "UPDATE ENTRIES SET ADDRESS",
                "UPDATE ENTRIES SET KEY",
                "UPDATE EVENTS SET DETAIL = REPLACE(",
                "UPDATE OUTBOX_FORWARDED SET",
                "DO UPDATE SET AT = EXCLUDED.AT, STREAM = EXCLUDED.STREAM",
            ];
            let deletes_allowed = [
                "DELETE FROM OUTBOX WHERE SEQ <=",
                "DELETE FROM OUTBOX_HISTORY WHERE SEQ <=",
            ];
            let updates = upper.contains("UPDATE ")
                && upper.contains(" SET ")
                && !allowed.iter().any(|a| upper.contains(a));
            let deletes =
                upper.contains("DELETE FROM") && !deletes_allowed.iter().any(|a| upper.contains(a));
            if deletes || upper.contains("DROP TABLE") || updates {
                found.push(format!("{}: {}", file.display(), line.trim()));
            }
        }
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
}
