-- Baskets: an order may hold several tickets. The single decision point of "who holds this
-- ticket" moves from a unique index on `orders.ticket_id` (one ticket per order) to this
-- table's primary key: an order's holds are inserted with the order, in one transaction,
-- so either every ticket of a basket is held by it or none is. Rows go when the order is
-- cancelled and stay once it is paid (the ticket is sold).
CREATE TABLE ticket_holds (
    ticket_id UUID PRIMARY KEY,
    order_id  UUID NOT NULL
);
CREATE INDEX ticket_holds_by_order ON ticket_holds (order_id);
INSERT INTO ticket_holds (ticket_id, order_id)
    SELECT ticket_id, id FROM orders WHERE status IN ('created', 'awaiting:payment', 'complete');
DROP INDEX orders_one_holder_per_ticket;

-- The basket's tickets after the first (which stays in the `ticket_*` columns), as a JSON
-- array of {id, title, price, version}; NULL for a one-ticket order.
ALTER TABLE orders ADD COLUMN more_tickets TEXT;
