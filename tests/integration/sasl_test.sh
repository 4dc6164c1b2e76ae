#!/usr/bin/env bash
# digonce on a broker that wants a user and password (SASL PLAIN, tools/kafka's second
# listener), through config `kafka.client` with the password from the environment: topics are
# created, ingest and detector run exactly-once, an import's clash is read back with tail. A
# wrong password is refused at once by a command, saying the broker refused it, and a stage
# waits, saying the same, until SIGTERM.
# Needs DIGONCE_BIN, DIGONCE_KAFKA_BOOTSTRAP (tools/kafka start), jq.
source "$(dirname "$0")/lib.sh" sasl
tools_kafka_only
sasl=$("$kafka_tool" sasl-bootstrap)

cat >"$work/config.yaml" <<YAML
boundaries: ""
kafka:
  client:
    security.protocol: SASL_PLAINTEXT
    sasl.mechanisms: PLAIN
    sasl.username: digonce
    sasl.password_env: DIGONCE_TEST_SASL_PASSWORD
YAML
export DIGONCE_TEST_SASL_PASSWORD=digonce-test-secret
global+=(--config "$work/config.yaml")

clash_through SASL "$sasl"

export DIGONCE_TEST_SASL_PASSWORD=wrong
refused_at "$sasl" "with a wrong password" "a broker refused this client: .*SASL authentication error"

start_stage waits ingest --brokers "$sasl" --data-dir "$work/ingest2" --metrics ''
for _ in $(seq 1 150); do
  grep -c "waiting for the Kafka brokers .*a broker refused this client" "$work/waits.log" \
    >/dev/null && break
  sleep 0.2
done
grep -c "waiting for the Kafka brokers .*a broker refused this client" "$work/waits.log" >/dev/null ||
  fail "a stage with a wrong password did not say why it waits"
stop_stages
echo "ok: a stage with a wrong password waits, saying the broker refused it, and stops on SIGTERM"
