-- Sessions ended before their expiry (sign-out), kept until their tokens would have expired
-- anyway, and the moment before which every session of a user is over (sign out
-- everywhere). Every process reloads them at start; the changes travel to the other
-- services as events through the outbox below.
CREATE TABLE revoked_session (
    sid        TEXT PRIMARY KEY NOT NULL,
    user_id    TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX revoked_session_expiry ON revoked_session (expires_at);

CREATE TABLE signed_out_everywhere (
    user_id     TEXT PRIMARY KEY NOT NULL,
    valid_after TEXT NOT NULL
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
