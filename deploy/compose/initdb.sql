-- One database per service (compose.yaml creates boxoffice_auth itself, as POSTGRES_DB).
-- Runs once, when the PostgreSQL volume is first initialised.
CREATE DATABASE boxoffice_tickets OWNER boxoffice;
CREATE DATABASE boxoffice_orders OWNER boxoffice;
CREATE DATABASE boxoffice_payments OWNER boxoffice;
CREATE DATABASE boxoffice_expiration OWNER boxoffice;
CREATE DATABASE boxoffice_queue OWNER boxoffice;
