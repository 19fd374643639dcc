-- Waiting rooms (CONTRACT §12). The replica learns each ticket's event, and the queue
-- service's word on each event's room is kept: while a room is open, an order for the
-- event's tickets needs an admission and counts against the buyer's ticket limit.
ALTER TABLE tickets ADD COLUMN event_id TEXT;
CREATE INDEX tickets_by_event ON tickets (event_id) WHERE event_id IS NOT NULL;

CREATE TABLE event_rooms (
    event_id          TEXT PRIMARY KEY NOT NULL,
    version           INTEGER NOT NULL,
    open              INTEGER NOT NULL,
    per_account_limit INTEGER NOT NULL
);
