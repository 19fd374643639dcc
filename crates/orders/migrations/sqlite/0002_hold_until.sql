-- The end of an order's creation window, kept apart from `expires_at` (which a payment in
-- flight pushes out) so that a failed payment can fall back to it.
ALTER TABLE orders ADD COLUMN hold_until TEXT;
UPDATE orders SET hold_until = expires_at;
