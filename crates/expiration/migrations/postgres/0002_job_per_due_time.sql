-- An order's hold end can move (a payment in flight extends it, a failed payment brings it
-- back). Each distinct due time gets its own job; a job that fires before the hold's
-- current end is ignored by the orders service, so stale jobs are harmless.
ALTER TABLE scheduled_job DROP CONSTRAINT scheduled_job_pkey;
ALTER TABLE scheduled_job ADD PRIMARY KEY (order_id, due_at);
