-- The payments service's copy of every order: who may pay, how much, and whether it is
-- still payable. Newer versions replace older ones.
CREATE TABLE orders (
    id      TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL,
    amount  INTEGER NOT NULL,           -- minor units
    state   TEXT NOT NULL CHECK (state IN ('open', 'complete', 'cancelled')),
    version INTEGER NOT NULL
);

CREATE TABLE payments (
    id            TEXT PRIMARY KEY NOT NULL,
    order_id      TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    amount        INTEGER NOT NULL,     -- minor units
    currency      TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN
                  ('processing', 'requires_action', 'succeeded', 'failed', 'refunding', 'refunded')),
    provider_id   TEXT UNIQUE,
    client_secret TEXT,
    failure       TEXT,
    created_at    TEXT NOT NULL
);
-- At most one payment per order can be taking money at a time: this index is what makes
-- ten concurrent "pay" requests produce at most one charge.
CREATE UNIQUE INDEX payments_one_active_per_order ON payments (order_id)
    WHERE status IN ('processing', 'requires_action', 'succeeded');

-- Provider webhook events already processed (Stripe retries deliveries).
CREATE TABLE webhook_events (
    id          TEXT PRIMARY KEY NOT NULL,
    received_at TEXT NOT NULL
);

-- Idempotency-Key: the first response per (user, key), replayed for 24 hours.
CREATE TABLE idempotency_keys (
    user_id      TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status_code  INTEGER,          -- NULL while the first request is running
    body         TEXT,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (user_id, key)
);

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
