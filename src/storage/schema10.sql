-- telleverk schema, version 10: the alert history and the notifications
-- that tell people of it. All of it is append-only: an alert's state is its
-- latest event, a notification's its attempts.

-- Each time an alert opened or closed, as telleverk saw it. `alert` is its
-- identity (kind, serial, contract and subject; never the message).
CREATE TABLE alert_events (
    id INTEGER PRIMARY KEY,
    alert TEXT NOT NULL,
    kind TEXT NOT NULL,
    serial TEXT,
    contract TEXT,
    subject TEXT NOT NULL,
    -- 1 opened, 0 closed.
    opened INTEGER NOT NULL CHECK (opened IN (0, 1)),
    -- Unix ms: when telleverk saw the change.
    at INTEGER NOT NULL,
    -- When the condition began, where the check knew it (opened only).
    since INTEGER,
    message TEXT NOT NULL,
    -- The latest poll round stored when it was seen (rounds.id), so that an
    -- opening is announced only once it has stayed open for another round.
    round INTEGER
);
CREATE INDEX alert_events_alert ON alert_events (alert, id);
CREATE INDEX alert_events_serial ON alert_events (serial, id);
CREATE INDEX alert_events_kind ON alert_events (kind, id);
CREATE INDEX alert_events_contract ON alert_events (contract, id);

-- The events people are told of: an opening once it has stayed open for
-- two rounds, and the closing of an opening that was told.
CREATE TABLE alert_notices (
    id INTEGER PRIMARY KEY,
    event INTEGER NOT NULL UNIQUE REFERENCES alert_events (id),
    at INTEGER NOT NULL
);

-- One message to one destination, stored before it is first sent; its id
-- is the idempotency id every attempt carries.
CREATE TABLE notifications (
    -- The order they were stored in (the deliverer reads what came since).
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    -- `mailto:a@b,c@d` or the webhook's URL.
    destination TEXT NOT NULL,
    channel TEXT NOT NULL CHECK (channel IN ('email', 'webhook')),
    -- The notice it tells of; NULL for a digest.
    notice INTEGER REFERENCES alert_notices (id),
    created_at INTEGER NOT NULL,
    -- The JSON body, fixed when it was made: every attempt sends the same.
    body TEXT NOT NULL
);

-- Every attempt to deliver a notification: `error` NULL when it was
-- delivered; `gave_up` 1 on the last attempt of a day of retries.
CREATE TABLE notification_attempts (
    notification TEXT NOT NULL REFERENCES notifications (id),
    at INTEGER NOT NULL,
    error TEXT,
    gave_up INTEGER NOT NULL DEFAULT 0 CHECK (gave_up IN (0, 1))
);
CREATE INDEX notification_attempts_of ON notification_attempts (notification);

-- Where each digest's schedule stands: a row when a destination was first
-- known (no notification) and one for each digest due, with the last
-- notice it covered.
CREATE TABLE digests (
    destination TEXT NOT NULL,
    channel TEXT NOT NULL,
    due_at INTEGER NOT NULL,
    through_notice INTEGER NOT NULL,
    notification TEXT REFERENCES notifications (id)
);
CREATE INDEX digests_of ON digests (destination, channel, due_at);
