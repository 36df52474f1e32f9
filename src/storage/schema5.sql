-- telleverk schema, version 5: readings people enter get a table of their
-- own. Each row keeps who entered it and when; a withdrawal (a row of its
-- own, with who, when and why) takes a reading out of billing without
-- deleting it, and frees its key (device, meter, instant, source) for the
-- right value. At most one reading of a key is not withdrawn: storage keeps
-- that rule inside the transaction that enters one.
--
-- The entered rows of meter_values (source != 0) are copied here; from now
-- on meter_values holds polled values only, and those old rows are read no
-- more (nothing is ever deleted).
CREATE TABLE entered_readings (
    id INTEGER PRIMARY KEY,
    device_id INTEGER NOT NULL REFERENCES devices (id),
    meter INTEGER NOT NULL,
    at INTEGER NOT NULL,
    source INTEGER NOT NULL,
    value INTEGER NOT NULL,
    -- Who entered it (a token's name, an OS user); NULL before version 5.
    entered_by TEXT,
    -- When it was entered (Unix ms); NULL before version 5.
    entered_at INTEGER
);

CREATE INDEX entered_readings_key ON entered_readings (device_id, meter, at, source);

CREATE TABLE reading_withdrawals (
    reading_id INTEGER PRIMARY KEY REFERENCES entered_readings (id),
    at INTEGER NOT NULL,
    by TEXT NOT NULL,
    reason TEXT NOT NULL
);

INSERT INTO entered_readings (device_id, meter, at, source, value)
    SELECT device_id, meter, at, source, value FROM meter_values WHERE source != 0
    ORDER BY device_id, at, source, meter;
