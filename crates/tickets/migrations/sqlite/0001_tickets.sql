-- Tickets: the truth of title, price, owner and reservation state.
CREATE TABLE tickets (
    id          TEXT PRIMARY KEY NOT NULL,
    title       TEXT NOT NULL,
    price       INTEGER NOT NULL CHECK (price > 0),       -- minor units
    description TEXT NOT NULL DEFAULT '',
    user_id     TEXT NOT NULL,
    order_id    TEXT,
    status      TEXT NOT NULL CHECK (status IN ('available', 'reserved', 'sold')),
    version     INTEGER NOT NULL,
    created_at  TEXT NOT NULL,
    deleted     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX tickets_listing ON tickets (status, created_at) WHERE deleted = 0;
CREATE INDEX tickets_by_user ON tickets (user_id, created_at) WHERE deleted = 0;

-- Events written with the change that caused them; the relay publishes them.
CREATE TABLE outbox (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    id       TEXT NOT NULL UNIQUE,
    envelope TEXT NOT NULL,
    sent_at  TEXT
);
CREATE INDEX outbox_unsent ON outbox (seq) WHERE sent_at IS NULL;

-- Events already applied, per consumer: a redelivery changes nothing.
CREATE TABLE inbox (
    consumer   TEXT NOT NULL,
    event_id   TEXT NOT NULL,
    handled_at TEXT NOT NULL,
    PRIMARY KEY (consumer, event_id)
);

-- Events given up on after repeated failures, for an operator to look at.
CREATE TABLE dead_letter (
    consumer  TEXT NOT NULL,
    event_id  TEXT NOT NULL,
    envelope  TEXT NOT NULL,
    reason    TEXT NOT NULL,
    parked_at TEXT NOT NULL,
    PRIMARY KEY (consumer, event_id)
);
