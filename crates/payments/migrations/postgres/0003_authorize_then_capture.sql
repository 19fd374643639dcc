-- Authorize, decide, then capture or void: a payment may now be `authorized` (the
-- provider holds the money, the orders service is asked), `capturing` or `voiding` (the
-- order decided; the provider is being told) and `voided` (released, nothing taken).
ALTER TABLE payments DROP CONSTRAINT payments_status_check;
ALTER TABLE payments ADD CONSTRAINT payments_status_check CHECK (status IN
    ('processing', 'requires_action', 'authorized', 'capturing', 'voiding', 'voided',
     'succeeded', 'failed', 'refunding', 'refunded'));

-- An authorization holds money for its order: it counts as the order's one active payment.
DROP INDEX payments_one_active_per_order;
CREATE UNIQUE INDEX payments_one_active_per_order ON payments (order_id)
    WHERE status IN ('processing', 'requires_action', 'authorized', 'capturing', 'succeeded');

-- Steps left half-way (undecided, capture or void or refund not confirmed) are found here
-- at start and periodically, and finished.
DROP INDEX payments_refunding;
CREATE INDEX payments_unfinished ON payments (created_at)
    WHERE status IN ('authorized', 'capturing', 'voiding', 'refunding');
