-- Orders known to be over (cancelled). With several consumers or a redelivery, an
-- order's `order:created` can arrive after its own `order:cancelled`; remembering closed
-- orders keeps such a late event from reserving the ticket again.
CREATE TABLE closed_orders (
    order_id TEXT PRIMARY KEY NOT NULL
);
