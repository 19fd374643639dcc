-- The queue service's word on each ticket's line: whether buyers wait and whose exclusive
-- turn it is. Placing an order checks it, which is what makes the line enforced.
CREATE TABLE ticket_lines (
    ticket_id       UUID PRIMARY KEY,
    version         BIGINT NOT NULL,
    waiting         BIGINT NOT NULL,
    turn_user_id    UUID,
    turn_expires_at TIMESTAMPTZ
);
