-- telleverk schema, version 7: each poll says what else it stored, so a
-- reader that kept the fleet's latest rows reads again only what changed.
-- `stored` is a bit mask: 1 = a device_info row (model, identity), 2 = one or
-- more supply_values rows, stored by the same poll at the same instant. NULL
-- (polls stored before version 7): not known, read both again.
ALTER TABLE polls ADD COLUMN stored INTEGER;
