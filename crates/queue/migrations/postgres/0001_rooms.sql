-- Waiting rooms in the distributed mode (CONTRACT §12). The queue's lines live in Redis;
-- its rooms' settings, fairness logs and what they know of events and stock live here,
-- shared by every queue replica. The tables mirror the SQLite ones (0002_rooms.sql).

CREATE TABLE room_events (
    event_id  UUID PRIMARY KEY,
    creator   UUID NOT NULL,
    starts_at BIGINT NOT NULL  -- Unix milliseconds
);

CREATE TABLE room_stock (
    ticket_id UUID PRIMARY KEY,
    event_id  UUID,
    status    TEXT NOT NULL CHECK (status IN ('free', 'held', 'sold', 'gone'))
);
CREATE INDEX room_stock_by_event ON room_stock (event_id, status) WHERE event_id IS NOT NULL;

CREATE TABLE rooms (
    event_id          UUID PRIMARY KEY,
    opens_at          BIGINT NOT NULL,  -- Unix milliseconds
    per_account_limit BIGINT NOT NULL,
    seed              TEXT NOT NULL,
    salt              TEXT NOT NULL,
    gate_version      BIGINT NOT NULL
);

CREATE TABLE room_log (
    event_id UUID NOT NULL,
    seq      BIGINT NOT NULL,
    entry    TEXT NOT NULL,
    PRIMARY KEY (event_id, seq)
);

CREATE TABLE room_members (
    event_id UUID NOT NULL,
    pid      TEXT NOT NULL,
    user_id  UUID NOT NULL,
    PRIMARY KEY (event_id, pid)
);

-- Orders placed for an event's tickets, by buyer: the replica running the room reads them
-- to learn that an admission was used, whichever replica consumed the order event.
CREATE TABLE room_orders (
    id       BIGSERIAL PRIMARY KEY,
    event_id UUID NOT NULL,
    user_id  UUID NOT NULL
);
CREATE INDEX room_orders_by_event ON room_orders (event_id, id);

-- Which replica runs each room: a lease (`lease_until`, the database's clock in Unix
-- milliseconds) renewed by its holder, taken over once it lapses. `tenure` grows with each
-- new holder; every write to a room's log checks it, so a replica that lost the room can
-- no longer decide anything for it. `address` is where the holder takes forwarded
-- requests.
CREATE TABLE room_runners (
    event_id    UUID PRIMARY KEY,
    holder      TEXT NOT NULL,
    tenure      BIGINT NOT NULL,
    address     TEXT NOT NULL,
    lease_until BIGINT NOT NULL
);

CREATE TABLE outbox (
    seq      BIGSERIAL PRIMARY KEY,
    id       UUID NOT NULL UNIQUE,
    envelope JSONB NOT NULL,
    sent_at  TIMESTAMPTZ
);
CREATE INDEX outbox_unsent ON outbox (seq) WHERE sent_at IS NULL;

CREATE TABLE inbox (
    consumer   TEXT NOT NULL,
    event_id   UUID NOT NULL,
    handled_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (consumer, event_id)
);

CREATE TABLE dead_letter (
    consumer  TEXT NOT NULL,
    event_id  UUID NOT NULL,
    envelope  JSONB NOT NULL,
    reason    TEXT NOT NULL,
    parked_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (consumer, event_id)
);
