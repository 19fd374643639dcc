-- Users of BoxOffice. Emails are stored lower-cased, and the unique index on lower(email)
-- makes the database itself refuse a second account for the same address in any case.
CREATE TABLE users (
    id            TEXT PRIMARY KEY NOT NULL,
    email         TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL
);

CREATE UNIQUE INDEX users_email_unique ON users (lower(email));
