-- An order's hold end can move (a payment in flight extends it, a failed payment brings it
-- back). Each distinct due time gets its own job; a job that fires before the hold's
-- current end is ignored by the orders service, so stale jobs are harmless.
CREATE TABLE scheduled_job_new (
    order_id   TEXT NOT NULL,
    due_at     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (order_id, due_at)
);
INSERT INTO scheduled_job_new (order_id, due_at, created_at)
    SELECT order_id, due_at, created_at FROM scheduled_job;
DROP TABLE scheduled_job;
ALTER TABLE scheduled_job_new RENAME TO scheduled_job;
CREATE INDEX scheduled_job_due ON scheduled_job (due_at);
