//! Checks of the code itself: the pure core stays pure, readings stay
//! append-only.

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
    files
}

fn src(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(rel)
}

#[test]
fn the_pure_core_does_no_io_and_reads_no_clock() {
    const PURE: [&str; 13] = [
        "alerts",
        "import.rs",
        "sim/model.rs",
        "meters",
        "contract",
        "billing",
        "estimate",
        "supplies",
        "status.rs",
        "output.rs",
        "profile/mod.rs",
        "profile/oid.rs",
        "report",
    ];
    const FORBIDDEN: [&str; 11] = [
        "tokio",
        "rusqlite",
        "axum",
        "async_snmp",
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
            let updates =
                upper.contains("UPDATE ") && upper.contains(" SET ") && !upper.contains("DES_SALT");
            if upper.contains("DELETE FROM") || upper.contains("DROP TABLE") || updates {
                found.push(format!("{}: {}", file.display(), line.trim()));
            }
        }
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
}
