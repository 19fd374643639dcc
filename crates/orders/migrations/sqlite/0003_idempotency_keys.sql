-- Idempotency-Key on POST /api/orders: the first answer per (user, key), kept 24 hours.
CREATE TABLE idempotency_keys (
    user_id      TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status_code  INTEGER,          -- NULL while the first request is running
    body         TEXT,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (user_id, key)
);
