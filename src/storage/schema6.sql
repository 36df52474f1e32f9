-- telleverk schema, version 6: every poll round is stored, beside its polls
-- and in the same transaction, so what the collector did is on record even
-- where nothing answered: when it ran, at which interval, over how many
-- entries, how many polls answered, failed or were abandoned, and how it
-- ended. Uptime and forwarding to a central server build on it.
CREATE TABLE rounds (
    id INTEGER PRIMARY KEY,
    -- Unix ms.
    started INTEGER NOT NULL,
    ended INTEGER NOT NULL,
    -- The interval in force (ms); NULL for `poll --once`.
    interval_ms INTEGER,
    -- The entries the round set out to poll.
    entries INTEGER NOT NULL,
    -- Polls stored (answered, even partially), failed, and abandoned
    -- (`aborted`: the service stopped).
    answered INTEGER NOT NULL,
    failed INTEGER NOT NULL,
    aborted INTEGER NOT NULL,
    -- completed | stopped
    ending TEXT NOT NULL CHECK (ending IN ('completed', 'stopped'))
);
CREATE INDEX rounds_started ON rounds (started);
