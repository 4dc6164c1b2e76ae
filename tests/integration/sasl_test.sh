#!/usr/bin/env bash
# digonce on a broker that wants a user and password (SASL PLAIN, tools/kafka's second
# listener), through config `kafka.client` with the password from the environment: topics are
# created, ingest and detector run exactly-once, an import's clash is read back with tail. With
# an ACL denying the user DescribeConfigs on the detector's changelog, topics and the detector
# say they could not read its settings, and go on. A wrong password is refused at once by a command, saying the broker refused it, and a stage
# waits, saying the same, until SIGTERM.
# Needs DIGONCE_BIN, DIGONCE_KAFKA_BOOTSTRAP (tools/kafka start), jq.
source "$(dirname "$0")/lib.sh" sasl
tools_kafka_only
sasl=$("$kafka_tool" sasl-bootstrap)

sasl_config </dev/null

clash_through SASL "$sasl"

# The user may not read the detector changelog's settings (an ACL denies DescribeConfigs; the
# rest stays allowed): `digonce topics` says which topic it could not check, and the detector
# warns that it cannot learn how long the changelog keeps its deletes, and runs on.
changelog="${prefix}detector-changelog"
"$kafka_tool" acls --add --allow-principal User:digonce --operation All --topic "$changelog" 2>/dev/null
"$kafka_tool" acls --add --deny-principal User:digonce --operation DescribeConfigs \
  --topic "$changelog" 2>/dev/null
d topics --brokers "$sasl" >"$work/topics-acl.log" 2>&1 || fail "topics with the ACL: $(cat "$work/topics-acl.log")"
grep -c "topic $changelog: settings not checked (the broker would not say: .*uthoriz" \
  "$work/topics-acl.log" >/dev/null ||
  fail "topics did not say it could not check $changelog: $(cat "$work/topics-acl.log")"
echo "ok: topics says what it could not check: $(grep -o "topic $changelog: settings not checked.*" "$work/topics-acl.log" | cut -c1-160)"
start_stage detector-acl detector --brokers "$sasl" --data-dir "$work/detector" --metrics ''
for _ in $(seq 1 150); do
  grep -c "assigned; restored" "$work/detector-acl.log" >/dev/null && break
  sleep 0.2
done
grep -c "the broker would not give the settings of $changelog (.*uthoriz.*DescribeConfigs" \
  "$work/detector-acl.log" >/dev/null ||
  fail "the detector did not warn that it could not read $changelog's settings"
grep -c "assigned; restored" "$work/detector-acl.log" >/dev/null ||
  fail "the detector did not take its partitions with the ACL"
stop_stages
echo "ok: the detector warns that it cannot read its changelog's settings, and runs"

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
