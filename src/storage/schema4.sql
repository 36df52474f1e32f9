-- telleverk schema, version 4: scheduled reports. Append-only like the rest.

-- When telleverk first knew a [[report]] by this name: no run due before
-- then is made up.
CREATE TABLE report_schedules (
    name TEXT PRIMARY KEY,
    since INTEGER NOT NULL
);

-- One row per run: a scheduled one (the time it was due) or one asked for
-- (scheduled_at NULL). `file` is the path written, NULL when the run failed
-- (`error` says why). `mail_to` lists the addresses, NULL when not mailed.
CREATE TABLE report_runs (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    scheduled_at INTEGER,
    ran_at INTEGER NOT NULL,
    period TEXT NOT NULL,
    file TEXT,
    error TEXT,
    mail_to TEXT
);
CREATE INDEX report_runs_due ON report_runs (name, scheduled_at);

-- Every attempt to mail a run's file; `error` NULL: sent.
CREATE TABLE report_mails (
    run_id INTEGER NOT NULL REFERENCES report_runs (id),
    at INTEGER NOT NULL,
    error TEXT
);
CREATE INDEX report_mails_run ON report_mails (run_id);
