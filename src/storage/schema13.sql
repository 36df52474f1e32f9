-- telleverk schema, version 13: a site forwards what its database held
-- before it first queued an item for the central server, first. The outbox
-- keeps a plan of those items, not copies: each is made from the stored
-- rows when it is sent. An item is either the polls and failed polls of a
-- span of time, or one entered reading, or one withdrawal; a row leaves the
-- plan once the central has confirmed it.
CREATE TABLE outbox_history (
    seq INTEGER PRIMARY KEY,
    -- Polls and failed polls with from_at <= at < to_at (Unix ms).
    from_at INTEGER,
    to_at INTEGER,
    -- Or the entered reading with this id.
    entered INTEGER,
    -- Or the withdrawal of the entered reading with this id.
    withdrawn INTEGER,
    CHECK ((from_at IS NOT NULL AND to_at IS NOT NULL) + (entered IS NOT NULL) + (withdrawn IS NOT NULL) = 1)
);
