-- Waiting rooms (CONTRACT §12). The replica learns each ticket's event, and the queue
-- service's word on each event's room is kept: while a room is open, an order for the
-- event's tickets needs an admission and counts against the buyer's ticket limit.
ALTER TABLE tickets ADD COLUMN event_id UUID;
CREATE INDEX tickets_by_event ON tickets (event_id) WHERE event_id IS NOT NULL;

CREATE TABLE event_rooms (
    event_id          UUID PRIMARY KEY,
    version           BIGINT NOT NULL,
    open              BOOLEAN NOT NULL,
    per_account_limit BIGINT NOT NULL
);
