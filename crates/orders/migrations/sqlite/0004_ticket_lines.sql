-- The queue service's word on each ticket's line: whether buyers wait and whose exclusive
-- turn it is. Placing an order checks it, which is what makes the line enforced.
CREATE TABLE ticket_lines (
    ticket_id       TEXT PRIMARY KEY NOT NULL,
    version         INTEGER NOT NULL,
    waiting         INTEGER NOT NULL,
    turn_user_id    TEXT,
    turn_expires_at TEXT
);
