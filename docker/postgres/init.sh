#!/usr/bin/env bash
# First start of the container (docker-entrypoint-initdb.d): the roles and database app
# (sql/roles.sql), the outbox, heartbeat table and publication (sql/schema.sql), and the
# outbox_demo extension with the rights role app needs, as stack/up.sh does.
set -euo pipefail
psql=(psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER")
"${psql[@]}" -d postgres -v app_password="${APP_PASSWORD:-app}" -v debezium_password="${DEBEZIUM_PASSWORD:-debezium}" \
  -f /opt/cdc-bench/sql/roles.sql
"${psql[@]}" -d app -f /opt/cdc-bench/sql/schema.sql
"${psql[@]}" -d app <<'SQL'
CREATE EXTENSION IF NOT EXISTS outbox_demo;
GRANT INSERT, UPDATE, DELETE ON outbox_demo.runs TO app;
SQL
