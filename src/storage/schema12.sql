-- telleverk schema, version 12: many sites, one view.
--
-- At a site: the outbox, what it stored and has yet to forward to the
-- central server (a deflated copy of each item, numbered without gaps), and
-- one row saying how far the central has confirmed and which stream this
-- database's items are: a random id made with the outbox, and the local
-- number its item 1 follows (a database restored from a backup starts a new
-- stream). Confirmed items leave the outbox; the readings stay in the store.
CREATE TABLE outbox (
    seq INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    body BLOB NOT NULL
);
CREATE TABLE outbox_forwarded (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    through INTEGER NOT NULL,
    stream TEXT NOT NULL,
    base INTEGER NOT NULL
);

-- At the central server: the sites that forward to it; each batch that
-- applied something (the last item of its stream applied after it); each
-- site's last contact (one row a site); the rounds the sites polled (kept
-- apart from the central's own, whose gaps uptime reads); and the site of
-- each entry a site polls.
CREATE TABLE sites (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    first_contact INTEGER NOT NULL
);
CREATE TABLE site_contacts (
    id INTEGER PRIMARY KEY,
    site_id INTEGER NOT NULL,
    stream TEXT NOT NULL,
    at INTEGER NOT NULL,
    through INTEGER NOT NULL,
    applied INTEGER NOT NULL
);
CREATE INDEX site_contacts_stream ON site_contacts (site_id, stream, through);
CREATE TABLE site_seen (
    site_id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    stream TEXT NOT NULL,
    backlog INTEGER NOT NULL,
    version TEXT NOT NULL
);
CREATE TABLE site_rounds (
    id INTEGER PRIMARY KEY,
    site_id INTEGER NOT NULL,
    started INTEGER NOT NULL,
    ended INTEGER NOT NULL,
    interval_ms INTEGER,
    entries INTEGER NOT NULL,
    answered INTEGER NOT NULL,
    failed INTEGER NOT NULL,
    aborted INTEGER NOT NULL,
    ending TEXT NOT NULL CHECK (ending IN ('completed', 'stopped'))
);
CREATE INDEX site_rounds_started ON site_rounds (site_id, started);
CREATE TABLE entry_sites (
    entry_id INTEGER PRIMARY KEY,
    site_id INTEGER NOT NULL
);
