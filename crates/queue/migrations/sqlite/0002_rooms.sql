-- Waiting rooms (CONTRACT §12).

-- What the queue knows of the events catalogue: who may put a room in front of an event,
-- and when the event starts (its room closes then).
CREATE TABLE room_events (
    event_id  TEXT PRIMARY KEY NOT NULL,
    creator   TEXT NOT NULL,
    starts_at INTEGER NOT NULL  -- Unix milliseconds
);

-- Every ticket's event and whether it is free, held by a live order, sold or gone: the
-- stock a room admits against. Fed by ticket and order events.
CREATE TABLE room_stock (
    ticket_id TEXT PRIMARY KEY NOT NULL,
    event_id  TEXT,
    status    TEXT NOT NULL CHECK (status IN ('free', 'held', 'sold', 'gone'))
);
CREATE INDEX room_stock_by_event ON room_stock (event_id, status) WHERE event_id IS NOT NULL;

-- One room per event. The seed stays secret until the log reveals it; `salt` keys the
-- pseudonyms. `gate_version` numbers the `room:gate` events the orders service keeps.
CREATE TABLE rooms (
    event_id          TEXT PRIMARY KEY NOT NULL,
    opens_at          INTEGER NOT NULL,  -- Unix milliseconds
    per_account_limit INTEGER NOT NULL,
    seed              TEXT NOT NULL,
    salt              TEXT NOT NULL,
    gate_version      INTEGER NOT NULL
);

-- The fairness log of each room, one JSON entry per row, in order.
CREATE TABLE room_log (
    event_id TEXT NOT NULL,
    seq      INTEGER NOT NULL,
    entry    TEXT NOT NULL,
    PRIMARY KEY (event_id, seq)
);

-- Who is behind each pseudonym of a room, so an admission can name its buyer after a
-- restart. Never published.
CREATE TABLE room_members (
    event_id TEXT NOT NULL,
    pid      TEXT NOT NULL,
    user_id  TEXT NOT NULL,
    PRIMARY KEY (event_id, pid)
);
