-- Cluster-level objects of the application: its roles and its database.
-- Run by stack/up.sh as a superuser, connected to the "postgres" database:
--   psql -v app_password=... -v debezium_password=... -f sql/roles.sql
-- Idempotent: creates what is missing, resets the two passwords, destroys nothing.

\if :{?app_password}
\else
  \set app_password app
\endif
\if :{?debezium_password}
\else
  \set debezium_password debezium
\endif

-- app: owns database app, schema activity and the outbox. The processor, the verifier and the
-- tests connect as app over 127.0.0.1.
SELECT 'CREATE ROLE app LOGIN'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'app') \gexec
ALTER ROLE app WITH LOGIN PASSWORD :'app_password';

-- debezium: least privilege for the connector. REPLICATION to stream the WAL; table rights are
-- granted in sql/schema.sql (SELECT on the outbox, write on the heartbeat table only). It owns no
-- table and cannot create publications.
SELECT 'CREATE ROLE debezium LOGIN REPLICATION'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'debezium') \gexec
ALTER ROLE debezium WITH LOGIN REPLICATION NOSUPERUSER NOCREATEDB NOCREATEROLE
  PASSWORD :'debezium_password';

SELECT 'CREATE DATABASE app OWNER app'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'app') \gexec
