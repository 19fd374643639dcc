-- What the queue knows of each ticket (TicketState as JSON), how many wait for it (kept
-- here so a join costs no count of its line), and when its turn ends.
CREATE TABLE tickets (
    id           TEXT PRIMARY KEY NOT NULL,
    state        TEXT NOT NULL,
    waiting      INTEGER NOT NULL DEFAULT 0,
    turn_ends_at TEXT
);
CREATE INDEX tickets_turn_ends ON tickets (turn_ends_at) WHERE turn_ends_at IS NOT NULL;

-- The lines: arrival order is `seq`, so a line is strictly first come, first served.
CREATE TABLE waiting (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    joined_at TEXT NOT NULL,
    UNIQUE (ticket_id, user_id)
);
CREATE INDEX waiting_line ON waiting (ticket_id, seq);

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
