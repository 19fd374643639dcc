-- The events catalogue (CONTRACT.md §11): what tickets are for — a concert, a match.
--
-- One event per name + venue + start: `name_key` and `venue_key` are the name and venue
-- trimmed and lower-cased (by the service, the same way on both databases), and
-- `starts_at` is an instant, whatever offset the client wrote. The unique index decides
-- duplicates, never a read before the write.
CREATE TABLE events (
    id          UUID PRIMARY KEY,
    name        TEXT NOT NULL,
    venue       TEXT NOT NULL,
    starts_at   TIMESTAMPTZ NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    user_id     UUID NOT NULL,
    version     BIGINT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    name_key    TEXT NOT NULL,
    venue_key   TEXT NOT NULL
);
CREATE UNIQUE INDEX events_dedup ON events (name_key, venue_key, starts_at);
-- The catalogue: events that have not started, soonest first.
CREATE INDEX events_by_start ON events (starts_at, id);

-- Tickets may be for an event, with a serial number unique among its live tickets: a
-- held or sold ticket keeps its serial, a withdrawn (deleted) one frees it.
ALTER TABLE tickets ADD COLUMN event_id UUID REFERENCES events (id);
ALTER TABLE tickets ADD COLUMN serial_number TEXT;
CREATE UNIQUE INDEX tickets_serial ON tickets (event_id, serial_number)
    WHERE NOT deleted AND serial_number IS NOT NULL;
-- An event's tickets, and its `ticketsAvailable` / `minPrice` aggregate: the available
-- ones are one range of this index, cheapest first.
CREATE INDEX tickets_by_event ON tickets (event_id, status, price) WHERE NOT deleted;
