-- Failed sign-ins per email, kept in the database so every auth replica throttles alike.
-- Rows older than the throttling window are deleted as new failures arrive.
CREATE TABLE signin_failures (
    email TEXT NOT NULL,
    at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX signin_failures_by_email ON signin_failures (email, at);
CREATE INDEX signin_failures_by_time ON signin_failures (at);
