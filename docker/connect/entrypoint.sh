#!/bin/sh
# Renders stack/config's templates for the containers (the @NAME@ placeholders, the two settings
# of stack/settings.sh that are Debezium's with their defaults, and PostgreSQL's
# host: postgres instead of 127.0.0.1; the REST port listens on every interface of the
# container), writes the connector's password where the file config provider reads it (owner
# only), then runs Kafka Connect standalone with the outbox connector.
set -eu
: "${DEBEZIUM_PASSWORD:?set DEBEZIUM_PASSWORD}"
umask 077
mkdir -p /data/secrets
printf 'debezium.password=%s\n' "$DEBEZIUM_PASSWORD" >/data/secrets/connect.properties
render() {
  sed -e "s#@KAFKA_BOOTSTRAP@#${KAFKA_BOOTSTRAP:-kafka:9092}#g" \
    -e "s#@DATA_DIR@#/data#g" -e "s#@CONNECT_PLUGIN_PATH@#/plugins#g" \
    -e "s#@PGPORT@#${PGPORT:-5432}#g" -e "s#@CDC_TOPIC@#postgres.activity.event_outbox#g" \
    -e "s#@CONNECTOR_NAME@#outbox-connector#g" -e "s#@SLOT_NAME@#debezium_outbox#g" \
    -e "s#@SECRETS_DIR@#/data/secrets#g" \
    -e "s#@DEBEZIUM_POLL_MS@#${DEBEZIUM_POLL_MS:-10}#g" \
    -e "s#@DEBEZIUM_SSLMODE@#${DEBEZIUM_SSLMODE:-disable}#g" \
    -e "s#^database.hostname=.*#database.hostname=${PGHOST:-postgres}#" \
    -e "s#^listeners=.*#listeners=http://0.0.0.0:8083#" \
    "/opt/cdc-bench/$1" >"/data/$1"
}
render connect-standalone.properties
render debezium-outbox.properties
exec java -Xms256m -Xmx512m -Djava.net.preferIPv4Stack=true \
  -Dlog4j2.configurationFile=/opt/cdc-bench/log4j2.properties \
  -cp "/opt/kafka/libs/*" org.apache.kafka.connect.cli.ConnectStandalone \
  /data/connect-standalone.properties /data/debezium-outbox.properties
