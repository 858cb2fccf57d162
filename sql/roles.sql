-- Cluster-level objects of the application: its roles and its database.
-- Run by stack/up.sh as a superuser, connected to the "postgres" database, with the passwords
-- set as psql variables on its standard input (never on a command line):
--   \set app_password ...  \set debezium_password ...  \i sql/roles.sql
-- Idempotent: creates what is missing, resets the two passwords, destroys nothing.

\if :{?app_password}
\else
  DO $$ BEGIN RAISE EXCEPTION 'sql/roles.sql needs the variables app_password and debezium_password (stack/up.sh sets them from .stack/secrets/)'; END $$;
\endif
\if :{?debezium_password}
\else
  DO $$ BEGIN RAISE EXCEPTION 'sql/roles.sql needs the variable debezium_password (stack/up.sh sets it from .stack/secrets/)'; END $$;
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
