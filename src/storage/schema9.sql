-- telleverk schema, version 9: checks of the vendor's invoices. A file is
-- kept once, by the SHA-256 of its bytes; each check of it is a row of its
-- own (append-only), with the answer as JSON: the findings as they were
-- when it ran. A check of the same file after new readings is a new row.
CREATE TABLE invoice_files (
    sha256 TEXT PRIMARY KEY,
    bytes BLOB NOT NULL,
    first_checked INTEGER NOT NULL
);

CREATE TABLE invoice_checks (
    id INTEGER PRIMARY KEY,
    contract TEXT NOT NULL,
    sha256 TEXT NOT NULL REFERENCES invoice_files (sha256),
    checked_at INTEGER NOT NULL,
    checked_by TEXT NOT NULL,
    answer TEXT NOT NULL
);
CREATE INDEX invoice_checks_contract ON invoice_checks (contract, id);
