-- Sessions ended before their expiry (sign-out), kept until their tokens would have expired
-- anyway, and the moment before which every session of a user is over (sign out
-- everywhere). Every process reloads them at start; the changes travel to the other
-- services as events through the outbox below.
CREATE TABLE revoked_session (
    sid        UUID PRIMARY KEY,
    user_id    UUID NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX revoked_session_expiry ON revoked_session (expires_at);

CREATE TABLE signed_out_everywhere (
    user_id     UUID PRIMARY KEY,
    valid_after TIMESTAMPTZ NOT NULL
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
