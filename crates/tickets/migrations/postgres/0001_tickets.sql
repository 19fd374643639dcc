-- Tickets: the truth of title, price, owner and reservation state.
CREATE TABLE tickets (
    id          UUID PRIMARY KEY,
    title       TEXT NOT NULL,
    price       BIGINT NOT NULL CHECK (price > 0),        -- minor units
    description TEXT NOT NULL DEFAULT '',
    user_id     UUID NOT NULL,
    order_id    UUID,
    status      TEXT NOT NULL CHECK (status IN ('available', 'reserved', 'sold')),
    version     BIGINT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    deleted     BOOLEAN NOT NULL DEFAULT false
);
CREATE INDEX tickets_listing ON tickets (status, created_at) WHERE NOT deleted;
CREATE INDEX tickets_by_user ON tickets (user_id, created_at) WHERE NOT deleted;

-- Events written with the change that caused them; the relay publishes them.
CREATE TABLE outbox (
    seq      BIGSERIAL PRIMARY KEY,
    id       UUID NOT NULL UNIQUE,
    envelope JSONB NOT NULL,
    sent_at  TIMESTAMPTZ
);
CREATE INDEX outbox_unsent ON outbox (seq) WHERE sent_at IS NULL;

-- Events already applied, per consumer: a redelivery changes nothing.
CREATE TABLE inbox (
    consumer   TEXT NOT NULL,
    event_id   UUID NOT NULL,
    handled_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (consumer, event_id)
);

-- Events given up on after repeated failures, for an operator to look at.
CREATE TABLE dead_letter (
    consumer  TEXT NOT NULL,
    event_id  UUID NOT NULL,
    envelope  JSONB NOT NULL,
    reason    TEXT NOT NULL,
    parked_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (consumer, event_id)
);
