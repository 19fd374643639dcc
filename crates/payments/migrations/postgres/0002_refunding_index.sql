-- Refunds left half-way (the provider call failed, or the process stopped) are found here
-- and tried again.
CREATE INDEX payments_refunding ON payments (created_at) WHERE status = 'refunding';
