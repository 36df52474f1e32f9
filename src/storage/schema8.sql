-- telleverk schema, version 8: following devices on the network.
-- `entries.address` is from now on the address an entry was last found at:
-- when discovery finds an entry's device at another address, the entry
-- follows it there (a `move` event says from where to where).
-- `discovered`: the devices `serve` polls because discovery found them and
-- no config entry polls them ([discovery] auto_add). Their entry's key is
-- `discovered:SERIAL`; `credential` names the [discovery] credential that
-- answered (`communities[0]`, `$VARIABLE`, `v3[0]`), never the secret.
CREATE TABLE discovered (
    entry_id INTEGER PRIMARY KEY,
    serial TEXT NOT NULL UNIQUE,
    credential TEXT NOT NULL,
    model TEXT,
    found INTEGER NOT NULL
);
