-- telleverk schema, version 2: what a database is for. The row `purpose` is
-- written once, by the first command that writes readings: `production`
-- (poll, serve) or `demo` (telleverk demo); neither ever writes to the other's.
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
