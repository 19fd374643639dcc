-- One job per order: fire `expiration:complete` when the order's hold runs out. Jobs live
-- in the database, so a restart loses none and fires those that came due meanwhile.
CREATE TABLE scheduled_job (
    order_id   TEXT PRIMARY KEY NOT NULL,
    due_at     TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX scheduled_job_due ON scheduled_job (due_at);

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
