-- One job per order: fire `expiration:complete` when the order's hold runs out. Jobs live
-- in the database, so a restart loses none and fires those that came due meanwhile.
CREATE TABLE scheduled_job (
    order_id   UUID PRIMARY KEY NOT NULL,
    due_at     TIMESTAMPTZ NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX scheduled_job_due ON scheduled_job (due_at);

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
