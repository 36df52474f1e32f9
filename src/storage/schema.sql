-- telleverk schema, version 1. Append-only: readings, polls, events and
-- failures are inserted, never updated or deleted. Times are Unix milliseconds
-- (UTC). Small integer codes keep the hot tables compact; the views at the end
-- show them by name.

-- A [[device]] entry of the config: an SNMP endpoint. `key` holds no secret.
CREATE TABLE entries (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    address TEXT NOT NULL,
    first_seen INTEGER NOT NULL
);

-- A device is its serial number.
CREATE TABLE devices (
    id INTEGER PRIMARY KEY,
    serial TEXT NOT NULL UNIQUE,
    first_seen INTEGER NOT NULL
);

-- What a device said about itself, stored when it changes.
CREATE TABLE device_info (
    device_id INTEGER NOT NULL,
    at INTEGER NOT NULL,
    model TEXT,
    sys_descr TEXT,
    sys_object_id TEXT,
    profile TEXT,
    PRIMARY KEY (device_id, at)
) WITHOUT ROWID;

-- Every successful poll. `meters` is a bit mask of the meters the poll
-- returned (bit = meter code); `supply_set` names the supply indices read
-- (NULL: the supplies table was not read). Status codes are hrDeviceStatus and
-- hrPrinterStatus; `errors` the hrPrinterDetectedErrorState bits.
CREATE TABLE polls (
    device_id INTEGER NOT NULL,
    at INTEGER NOT NULL,
    entry_id INTEGER NOT NULL,
    meters INTEGER NOT NULL,
    supply_set INTEGER,
    device_status INTEGER,
    printer_status INTEGER,
    errors INTEGER,
    PRIMARY KEY (device_id, at)
) WITHOUT ROWID;

CREATE TABLE supply_sets (
    id INTEGER PRIMARY KEY,
    indices TEXT NOT NULL UNIQUE
);

-- Meter values, stored when they differ from the device's previous value of
-- the same source. A poll is a reading of every meter in its mask at the
-- latest polled value at or before it. source: 0 polled, 1 manual, 2 vendor,
-- 3 final, 4 start. kind: 0 integer, 1 counter32, 2 counter64, 3 gauge32,
-- 4 derived, 5 manual.
CREATE TABLE meter_values (
    device_id INTEGER NOT NULL,
    meter INTEGER NOT NULL,
    at INTEGER NOT NULL,
    source INTEGER NOT NULL,
    value INTEGER NOT NULL,
    kind INTEGER NOT NULL,
    PRIMARY KEY (device_id, meter, at, source)
) WITHOUT ROWID;

-- Supply rows, stored when any field differs from the previous row of the
-- same index. Levels and maxima are kept as reported (-1, -2, -3 included).
CREATE TABLE supply_values (
    device_id INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    at INTEGER NOT NULL,
    description TEXT NOT NULL,
    kind TEXT NOT NULL,
    colour TEXT,
    level INTEGER NOT NULL,
    max INTEGER NOT NULL,
    PRIMARY KEY (device_id, idx, at)
) WITHOUT ROWID;

-- Swaps, moves, suspected and confirmed resets, wraps and glitches.
CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    entry_id INTEGER,
    device_id INTEGER,
    kind TEXT NOT NULL,
    meter INTEGER,
    before INTEGER,
    after INTEGER,
    detail TEXT NOT NULL
);
CREATE INDEX events_device ON events (device_id, at);

-- Failed polls (and `partial` ones: stored, but something was missing).
CREATE TABLE poll_failures (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    entry_id INTEGER NOT NULL,
    device_id INTEGER,
    cause TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX poll_failures_entry ON poll_failures (entry_id, at);

-- Durable SNMPv3 DES salt epoch (one row).
CREATE TABLE des_salt (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    engine_boots INTEGER NOT NULL
);

CREATE TABLE meter_names (code INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
INSERT INTO meter_names VALUES
    (0, 'total'), (1, 'bw_total'), (2, 'colour_total'), (3, 'bw_copy'),
    (4, 'bw_print'), (5, 'colour_copy'), (6, 'colour_print'), (7, 'bw_large'),
    (8, 'colour_large'), (9, 'duplex'), (10, 'scan_total'),
    (11, 'single_colour_copy'), (12, 'single_colour_print'),
    (13, 'two_colour_copy'), (14, 'two_colour_print');

CREATE VIEW meter_values_named AS
SELECT d.serial, n.name AS meter,
       strftime('%Y-%m-%dT%H:%M:%fZ', mv.at / 1000.0, 'unixepoch') AS at,
       CASE mv.source WHEN 0 THEN 'polled' WHEN 1 THEN 'manual' WHEN 2 THEN 'vendor'
                      WHEN 3 THEN 'final' WHEN 4 THEN 'start' END AS source,
       mv.value,
       CASE mv.kind WHEN 0 THEN 'integer' WHEN 1 THEN 'counter32' WHEN 2 THEN 'counter64'
                    WHEN 3 THEN 'gauge32' WHEN 4 THEN 'derived' WHEN 5 THEN 'manual' END AS kind
FROM meter_values mv
JOIN devices d ON d.id = mv.device_id
JOIN meter_names n ON n.code = mv.meter;
