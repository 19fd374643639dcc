-- Authorize, decide, then capture or void: a payment may now be `authorized` (the
-- provider holds the money, the orders service is asked), `capturing` or `voiding` (the
-- order decided; the provider is being told) and `voided` (released, nothing taken).
-- SQLite cannot change a CHECK constraint, so the table is rebuilt with the new one.
CREATE TABLE payments_new (
    id            TEXT PRIMARY KEY NOT NULL,
    order_id      TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    amount        INTEGER NOT NULL,     -- minor units
    currency      TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN
                  ('processing', 'requires_action', 'authorized', 'capturing', 'voiding',
                   'voided', 'succeeded', 'failed', 'refunding', 'refunded')),
    provider_id   TEXT UNIQUE,
    client_secret TEXT,
    failure       TEXT,
    created_at    TEXT NOT NULL
);
INSERT INTO payments_new (id, order_id, user_id, amount, currency, status, provider_id,
                          client_secret, failure, created_at)
    SELECT id, order_id, user_id, amount, currency, status, provider_id, client_secret,
           failure, created_at FROM payments;
DROP TABLE payments;
ALTER TABLE payments_new RENAME TO payments;

-- An authorization holds money for its order: it counts as the order's one active payment.
CREATE UNIQUE INDEX payments_one_active_per_order ON payments (order_id)
    WHERE status IN ('processing', 'requires_action', 'authorized', 'capturing', 'succeeded');

-- Steps left half-way (undecided, capture or void or refund not confirmed) are found here
-- at start and periodically, and finished.
CREATE INDEX payments_unfinished ON payments (created_at)
    WHERE status IN ('authorized', 'capturing', 'voiding', 'refunding');
