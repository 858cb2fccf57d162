#!/usr/bin/env bash
# First start of the container (docker-entrypoint-initdb.d): the roles and database app
# (sql/roles.sql), the outbox, heartbeat table and publication (sql/schema.sql), and the
# outbox_demo extension with the rights role app needs, as stack/up.sh does.
set -euo pipefail
psql=(psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER")
# The passwords reach psql on its standard input, never on its command line.
quote() { local t="${1//\\/\\\\}"; printf "'%s'" "${t//\'/\'\'}"; }
{
  printf '\\set app_password %s\n' "$(quote "${APP_PASSWORD:?set APP_PASSWORD}")"
  printf '\\set debezium_password %s\n' "$(quote "${DEBEZIUM_PASSWORD:?set DEBEZIUM_PASSWORD}")"
  printf '\\i /opt/cdc-bench/sql/roles.sql\n'
} | "${psql[@]}" -d postgres
"${psql[@]}" -d app -f /opt/cdc-bench/sql/schema.sql
"${psql[@]}" -d app <<'SQL'
CREATE EXTENSION IF NOT EXISTS outbox_demo;
GRANT INSERT, UPDATE, DELETE ON outbox_demo.runs TO app;
SQL
