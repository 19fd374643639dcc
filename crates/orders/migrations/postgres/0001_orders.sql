-- The orders service's copy of every ticket, fed by ticket events in version order.
CREATE TABLE tickets (
    id      UUID PRIMARY KEY,
    title   TEXT NOT NULL,
    price   BIGINT NOT NULL,   -- minor units
    user_id UUID NOT NULL,
    version BIGINT NOT NULL,
    deleted BOOLEAN NOT NULL DEFAULT false
);

CREATE TABLE orders (
    id             UUID PRIMARY KEY,
    user_id        UUID NOT NULL,
    ticket_id      UUID NOT NULL,
    ticket_title   TEXT NOT NULL,
    ticket_price   BIGINT NOT NULL,
    ticket_version BIGINT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('created', 'awaiting:payment', 'complete', 'cancelled')),
    cancel_reason  TEXT,
    expires_at     TIMESTAMPTZ NOT NULL,
    version        BIGINT NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL
);
-- The single decision point of "who holds this ticket": at most one live or completed
-- order per ticket, enforced by the database whatever the number of concurrent buyers.
CREATE UNIQUE INDEX orders_one_holder_per_ticket ON orders (ticket_id)
    WHERE status IN ('created', 'awaiting:payment', 'complete');
CREATE INDEX orders_by_user ON orders (user_id, created_at);

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
