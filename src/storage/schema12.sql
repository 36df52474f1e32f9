-- telleverk schema, version 12: many sites, one view.
--
-- At a site: the outbox, what it stored and has yet to forward to the
-- central server (a deflated copy of each item, numbered without gaps), and
-- the last item the central confirmed (one row). Confirmed items leave the
-- outbox; the readings stay in the store.
CREATE TABLE outbox (
    seq INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    body BLOB NOT NULL
);
CREATE TABLE outbox_forwarded (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    through INTEGER NOT NULL
);

-- At the central server: the sites that forward to it, every request each
-- made (the last item applied after it, the backlog and version it
-- reported), and the site of each entry a site polls.
CREATE TABLE sites (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    first_contact INTEGER NOT NULL
);
CREATE TABLE site_contacts (
    id INTEGER PRIMARY KEY,
    site_id INTEGER NOT NULL,
    at INTEGER NOT NULL,
    through INTEGER NOT NULL,
    applied INTEGER NOT NULL,
    backlog INTEGER NOT NULL,
    version TEXT NOT NULL
);
CREATE INDEX site_contacts_site ON site_contacts (site_id, through);
CREATE TABLE entry_sites (
    entry_id INTEGER PRIMARY KEY,
    site_id INTEGER NOT NULL
);
