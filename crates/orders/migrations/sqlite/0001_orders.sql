-- The orders service's copy of every ticket, fed by ticket events in version order.
CREATE TABLE tickets (
    id      TEXT PRIMARY KEY NOT NULL,
    title   TEXT NOT NULL,
    price   INTEGER NOT NULL,   -- minor units
    user_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE orders (
    id             TEXT PRIMARY KEY NOT NULL,
    user_id        TEXT NOT NULL,
    ticket_id      TEXT NOT NULL,
    ticket_title   TEXT NOT NULL,
    ticket_price   INTEGER NOT NULL,
    ticket_version INTEGER NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('created', 'awaiting:payment', 'complete', 'cancelled')),
    cancel_reason  TEXT,
    expires_at     TEXT NOT NULL,
    version        INTEGER NOT NULL,
    created_at     TEXT NOT NULL
);
-- The single decision point of "who holds this ticket": at most one live or completed
-- order per ticket, enforced by the database whatever the number of concurrent buyers.
CREATE UNIQUE INDEX orders_one_holder_per_ticket ON orders (ticket_id)
    WHERE status IN ('created', 'awaiting:payment', 'complete');
CREATE INDEX orders_by_user ON orders (user_id, created_at);

CREATE TABLE outbox (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    id       TEXT NOT NULL UNIQUE,
    envelope TEXT NOT NULL,
    sent_at  TEXT
);
CREATE INDEX outbox_unsent ON outbox (seq) WHERE sent_at IS NULL;

CREATE TABLE inbox (
    consumer   TEXT NOT NULL,
    event_id   TEXT NOT NULL,
    handled_at TEXT NOT NULL,
    PRIMARY KEY (consumer, event_id)
);

CREATE TABLE dead_letter (
    consumer  TEXT NOT NULL,
    event_id  TEXT NOT NULL,
    envelope  TEXT NOT NULL,
    reason    TEXT NOT NULL,
    parked_at TEXT NOT NULL,
    PRIMARY KEY (consumer, event_id)
);
