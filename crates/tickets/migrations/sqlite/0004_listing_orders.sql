-- The listing's other orders. `tickets_listing` (status, created_at) serves the default
-- "not sold, oldest first"; a listing of every status, newest or oldest first, walked
-- the whole table and sorted it, which grew with every ticket ever sold. This index
-- serves it in order and stops after the page.
CREATE INDEX tickets_by_age ON tickets (created_at, id) WHERE deleted = 0;
