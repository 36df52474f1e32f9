-- telleverk schema, version 11: the device each entry polls, kept when it
-- changes (an entry's first device, and each swap), so a store that opens
-- knows every entry's last device without reading every poll, and tells a
-- swap after a restart as it would have without one. Filled from the polls
-- stored before: each entry's latest.
CREATE TABLE entry_devices (
    entry_id INTEGER NOT NULL,
    at INTEGER NOT NULL,
    device_id INTEGER NOT NULL,
    PRIMARY KEY (entry_id, at)
) WITHOUT ROWID;
INSERT OR IGNORE INTO entry_devices (entry_id, at, device_id)
SELECT p.entry_id, p.at, p.device_id
FROM polls p
JOIN (SELECT entry_id, max(at) AS at FROM polls GROUP BY entry_id) latest
    ON latest.entry_id = p.entry_id AND latest.at = p.at;
