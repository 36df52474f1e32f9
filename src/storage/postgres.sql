-- telleverk's schema on PostgreSQL, at version 10: the same tables, columns
-- and meaning as the SQLite migrations 1 to 10 (schema.sql … schema10.sql),
-- created at once. Later versions migrate both backends step by step.
--
-- Differences, and why:
-- * Integers are BIGINT (SQLite's INTEGER is 64-bit); BLOB is BYTEA.
-- * Ids are given as SQLite gives a rowid: one more than the largest so far
--   (telleverk_next_id), never a sequence, so that ids have no gaps where a
--   transaction rolled back and both backends number alike. Tables SQLite
--   orders by its hidden rowid have a `rowid` column filled the same way.
-- * Every write takes one advisory lock for the rest of its transaction
--   (telleverk_write): writers take turns, as SQLite's one write lock makes
--   them, and `data_version` counts the transactions that wrote, so a
--   reader can tell whether anything changed since it last read.
-- * No foreign keys are enforced, as SQLite (foreign_keys off) enforces none.

CREATE TABLE data_version (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    n BIGINT NOT NULL
);
INSERT INTO data_version VALUES (1, 0);

-- Taken by every transaction that writes, once: the write lock, then one
-- more for data_version. `telleverk.wrote` remembers, for the rest of the
-- transaction, that both were done.
CREATE FUNCTION telleverk_write() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('telleverk.wrote', true) IS DISTINCT FROM txid_current()::text THEN
        PERFORM pg_advisory_xact_lock(127978959562102);
        UPDATE data_version SET n = n + 1 WHERE id = 1;
        PERFORM set_config('telleverk.wrote', txid_current()::text, true);
    END IF;
END $$;

CREATE FUNCTION telleverk_wrote() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM telleverk_write();
    RETURN NULL;
END $$;

-- The id of a new row, named by the trigger's argument, when none is given.
CREATE FUNCTION telleverk_next_id() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    next BIGINT;
BEGIN
    PERFORM telleverk_write();
    IF (to_jsonb(NEW) ->> TG_ARGV[0]) IS NULL THEN
        EXECUTE format('SELECT COALESCE(MAX(%I), 0) + 1 FROM %I.%I',
                       TG_ARGV[0], TG_TABLE_SCHEMA, TG_TABLE_NAME) INTO next;
        NEW := jsonb_populate_record(NEW, jsonb_build_object(TG_ARGV[0], next));
    END IF;
    RETURN NEW;
END $$;

CREATE TABLE meta (
    key TEXT COLLATE "C" PRIMARY KEY,
    value TEXT COLLATE "C" NOT NULL
);

CREATE TABLE entries (
    id BIGINT PRIMARY KEY,
    key TEXT COLLATE "C" NOT NULL UNIQUE,
    address TEXT COLLATE "C" NOT NULL,
    first_seen BIGINT NOT NULL
);

CREATE TABLE devices (
    id BIGINT PRIMARY KEY,
    serial TEXT COLLATE "C" NOT NULL UNIQUE,
    first_seen BIGINT NOT NULL
);

CREATE TABLE device_info (
    device_id BIGINT NOT NULL,
    at BIGINT NOT NULL,
    model TEXT COLLATE "C",
    sys_descr TEXT COLLATE "C",
    sys_object_id TEXT COLLATE "C",
    profile TEXT COLLATE "C",
    PRIMARY KEY (device_id, at)
);

CREATE TABLE polls (
    device_id BIGINT NOT NULL,
    at BIGINT NOT NULL,
    entry_id BIGINT NOT NULL,
    meters BIGINT NOT NULL,
    supply_set BIGINT,
    device_status BIGINT,
    printer_status BIGINT,
    errors BIGINT,
    stored BIGINT,
    PRIMARY KEY (device_id, at)
);

CREATE TABLE supply_sets (
    id BIGINT PRIMARY KEY,
    indices TEXT COLLATE "C" NOT NULL UNIQUE
);

CREATE TABLE meter_values (
    device_id BIGINT NOT NULL,
    meter BIGINT NOT NULL,
    at BIGINT NOT NULL,
    source BIGINT NOT NULL,
    value BIGINT NOT NULL,
    kind BIGINT NOT NULL,
    PRIMARY KEY (device_id, meter, at, source)
);
CREATE INDEX meter_values_entered ON meter_values (device_id, meter, at)
    WHERE source != 0;

CREATE TABLE supply_values (
    device_id BIGINT NOT NULL,
    idx BIGINT NOT NULL,
    at BIGINT NOT NULL,
    description TEXT COLLATE "C" NOT NULL,
    kind TEXT COLLATE "C" NOT NULL,
    colour TEXT COLLATE "C",
    level BIGINT NOT NULL,
    max BIGINT NOT NULL,
    PRIMARY KEY (device_id, idx, at)
);

CREATE TABLE events (
    id BIGINT PRIMARY KEY,
    at BIGINT NOT NULL,
    entry_id BIGINT,
    device_id BIGINT,
    kind TEXT COLLATE "C" NOT NULL,
    meter BIGINT,
    before BIGINT,
    after BIGINT,
    detail TEXT COLLATE "C" NOT NULL
);
CREATE INDEX events_device ON events (device_id, at);

CREATE TABLE poll_failures (
    id BIGINT PRIMARY KEY,
    at BIGINT NOT NULL,
    entry_id BIGINT NOT NULL,
    device_id BIGINT,
    cause TEXT COLLATE "C" NOT NULL,
    detail TEXT COLLATE "C" NOT NULL
);
CREATE INDEX poll_failures_entry ON poll_failures (entry_id, at);

CREATE TABLE des_salt (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    engine_boots BIGINT NOT NULL
);

CREATE TABLE meter_names (code BIGINT PRIMARY KEY, name TEXT COLLATE "C" NOT NULL UNIQUE);
INSERT INTO meter_names VALUES
    (0, 'total'), (1, 'bw_total'), (2, 'colour_total'), (3, 'bw_copy'),
    (4, 'bw_print'), (5, 'colour_copy'), (6, 'colour_print'), (7, 'bw_large'),
    (8, 'colour_large'), (9, 'duplex'), (10, 'scan_total'),
    (11, 'single_colour_copy'), (12, 'single_colour_print'),
    (13, 'two_colour_copy'), (14, 'two_colour_print');

CREATE VIEW meter_values_named AS
SELECT d.serial, n.name AS meter,
       to_char(to_timestamp(mv.at / 1000.0) AT TIME ZONE 'UTC',
               'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at,
       CASE mv.source WHEN 0 THEN 'polled' WHEN 1 THEN 'manual' WHEN 2 THEN 'vendor'
                      WHEN 3 THEN 'final' WHEN 4 THEN 'start' END AS source,
       mv.value,
       CASE mv.kind WHEN 0 THEN 'integer' WHEN 1 THEN 'counter32' WHEN 2 THEN 'counter64'
                    WHEN 3 THEN 'gauge32' WHEN 4 THEN 'derived' WHEN 5 THEN 'manual' END AS kind
FROM meter_values mv
JOIN devices d ON d.id = mv.device_id
JOIN meter_names n ON n.code = mv.meter;

CREATE TABLE report_schedules (
    name TEXT COLLATE "C" PRIMARY KEY,
    since BIGINT NOT NULL
);

CREATE TABLE report_runs (
    id BIGINT PRIMARY KEY,
    name TEXT COLLATE "C" NOT NULL,
    scheduled_at BIGINT,
    ran_at BIGINT NOT NULL,
    period TEXT COLLATE "C" NOT NULL,
    file TEXT COLLATE "C",
    error TEXT COLLATE "C",
    mail_to TEXT COLLATE "C"
);
CREATE INDEX report_runs_due ON report_runs (name, scheduled_at);

CREATE TABLE report_mails (
    rowid BIGINT PRIMARY KEY,
    run_id BIGINT NOT NULL,
    at BIGINT NOT NULL,
    error TEXT COLLATE "C"
);
CREATE INDEX report_mails_run ON report_mails (run_id);

CREATE TABLE entered_readings (
    id BIGINT PRIMARY KEY,
    device_id BIGINT NOT NULL,
    meter BIGINT NOT NULL,
    at BIGINT NOT NULL,
    source BIGINT NOT NULL,
    value BIGINT NOT NULL,
    entered_by TEXT COLLATE "C",
    entered_at BIGINT
);
CREATE INDEX entered_readings_key ON entered_readings (device_id, meter, at, source);

CREATE TABLE reading_withdrawals (
    reading_id BIGINT PRIMARY KEY,
    at BIGINT NOT NULL,
    by TEXT COLLATE "C" NOT NULL,
    reason TEXT COLLATE "C" NOT NULL
);

CREATE TABLE rounds (
    id BIGINT PRIMARY KEY,
    started BIGINT NOT NULL,
    ended BIGINT NOT NULL,
    interval_ms BIGINT,
    entries BIGINT NOT NULL,
    answered BIGINT NOT NULL,
    failed BIGINT NOT NULL,
    aborted BIGINT NOT NULL,
    ending TEXT COLLATE "C" NOT NULL CHECK (ending IN ('completed', 'stopped'))
);
CREATE INDEX rounds_started ON rounds (started);

CREATE TABLE discovered (
    entry_id BIGINT PRIMARY KEY,
    serial TEXT COLLATE "C" NOT NULL UNIQUE,
    credential TEXT COLLATE "C" NOT NULL,
    model TEXT COLLATE "C",
    found BIGINT NOT NULL
);

CREATE TABLE invoice_files (
    sha256 TEXT COLLATE "C" PRIMARY KEY,
    bytes BYTEA NOT NULL,
    first_checked BIGINT NOT NULL
);

CREATE TABLE invoice_checks (
    id BIGINT PRIMARY KEY,
    contract TEXT COLLATE "C" NOT NULL,
    sha256 TEXT COLLATE "C" NOT NULL,
    checked_at BIGINT NOT NULL,
    checked_by TEXT COLLATE "C" NOT NULL,
    answer TEXT COLLATE "C" NOT NULL
);
CREATE INDEX invoice_checks_contract ON invoice_checks (contract, id);

CREATE TABLE alert_events (
    id BIGINT PRIMARY KEY,
    alert TEXT COLLATE "C" NOT NULL,
    kind TEXT COLLATE "C" NOT NULL,
    serial TEXT COLLATE "C",
    contract TEXT COLLATE "C",
    subject TEXT COLLATE "C" NOT NULL,
    opened BIGINT NOT NULL CHECK (opened IN (0, 1)),
    at BIGINT NOT NULL,
    since BIGINT,
    message TEXT COLLATE "C" NOT NULL,
    round BIGINT
);
CREATE INDEX alert_events_alert ON alert_events (alert, id);
CREATE INDEX alert_events_serial ON alert_events (serial, id);
CREATE INDEX alert_events_kind ON alert_events (kind, id);
CREATE INDEX alert_events_contract ON alert_events (contract, id);

CREATE TABLE alert_notices (
    id BIGINT PRIMARY KEY,
    event BIGINT NOT NULL UNIQUE,
    at BIGINT NOT NULL
);

CREATE TABLE notifications (
    seq BIGINT PRIMARY KEY,
    id TEXT COLLATE "C" NOT NULL UNIQUE,
    destination TEXT COLLATE "C" NOT NULL,
    channel TEXT COLLATE "C" NOT NULL CHECK (channel IN ('email', 'webhook')),
    notice BIGINT,
    created_at BIGINT NOT NULL,
    body TEXT COLLATE "C" NOT NULL
);

CREATE TABLE notification_attempts (
    rowid BIGINT PRIMARY KEY,
    notification TEXT COLLATE "C" NOT NULL,
    at BIGINT NOT NULL,
    error TEXT COLLATE "C",
    gave_up BIGINT NOT NULL DEFAULT 0 CHECK (gave_up IN (0, 1))
);
CREATE INDEX notification_attempts_of ON notification_attempts (notification);

CREATE TABLE digests (
    rowid BIGINT PRIMARY KEY,
    destination TEXT COLLATE "C" NOT NULL,
    channel TEXT COLLATE "C" NOT NULL,
    due_at BIGINT NOT NULL,
    through_notice BIGINT NOT NULL,
    notification TEXT COLLATE "C"
);
CREATE INDEX digests_of ON digests (destination, channel, due_at);

-- The id triggers, and the write trigger on every other table.
DO $$
DECLARE
    t RECORD;
BEGIN
    FOR t IN SELECT * FROM (VALUES
        ('entries', 'id'), ('devices', 'id'), ('supply_sets', 'id'), ('events', 'id'),
        ('poll_failures', 'id'), ('report_runs', 'id'), ('report_mails', 'rowid'),
        ('entered_readings', 'id'), ('rounds', 'id'), ('invoice_checks', 'id'),
        ('alert_events', 'id'), ('alert_notices', 'id'), ('notifications', 'seq'),
        ('notification_attempts', 'rowid'), ('digests', 'rowid')) AS v (name, col)
    LOOP
        EXECUTE format('CREATE TRIGGER %I BEFORE INSERT ON %I FOR EACH ROW '
                       'EXECUTE FUNCTION telleverk_next_id(%L)',
                       t.name || '_id', t.name, t.col);
    END LOOP;
    FOR t IN SELECT tablename AS name FROM pg_tables
             WHERE schemaname = current_schema() AND tablename <> 'data_version'
    LOOP
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE ON %I '
                       'FOR EACH STATEMENT EXECUTE FUNCTION telleverk_wrote()',
                       t.name || '_wrote', t.name);
    END LOOP;
END $$;
