#!/usr/bin/env bash
# digonce with the least rights docs/OPERATIONS.md ("Kafka ACLs") lists: on a second broker of
# its own (tools/kafka with DIGONCE_KAFKA_DIR, the main port + 400) whose authorizer refuses
# whatever no ACL allows, the SASL user "digonce" gets only the three prefixed ACLs of the docs.
#   1. topics, ingest, detector, import and tail carry a clash through;
#   2. the gateway takes two works and serves their clash, its views caught up;
#   3. the notifier, its webhook refusing, sets the alert aside on notifications.dead;
#   4. no log says a broker refused an authorization;
#   5. under another prefix without the group ACL, ingest stops at once (exit 1), saying the
#      group was refused and pointing at the docs;
#   6. under a third prefix without Read on the topics, tail stops at once (exit 1) saying so,
#      and a gateway's /healthz shows why its views wait, its log saying it once, not per fetch.
# Needs DIGONCE_BIN, DIGONCE_KAFKA_BOOTSTRAP (tools/kafka start: its jars start the second one),
# jq, curl.
source "$(dirname "$0")/lib.sh" acl
tools_kafka_only
# A fixed folder (build/kafka-acl-test), so that a broker a timeout left behind is found and
# stopped: by the next run here, and by tools/test at the end of its kafka step.
export DIGONCE_KAFKA_DIR="${DIGONCE_BUILD:-$(dirname "$kafka_tool")/../build}/kafka-acl-test"
export DIGONCE_KAFKA_PORT=$((${brokers##*:} + 400)) KAFKA_HEAP_OPTS="-Xmx384m -Xms128m"
export DIGONCE_KAFKA_EXTRA_CONFIG='allow.everyone.if.no.acl.found=false'
trap '"$kafka_tool" stop >/dev/null 2>&1 || true; it_cleanup' EXIT
"$kafka_tool" stop >>"$work/kafka2.log" 2>&1 || true
"$kafka_tool" start --fresh >/dev/null 2>>"$work/kafka2.log" || fail "the second broker did not start"
sasl=$("$kafka_tool" sasl-bootstrap)

# The three ACLs of docs/OPERATIONS.md, on this test's prefix.
grant() {
  "$kafka_tool" acls --add --allow-principal User:digonce --resource-pattern-type prefixed "$@" \
    2>>"$work/acls.log" || fail "kafka-acls $*: $(tail -n 5 "$work/acls.log")"
}
grant --topic "$prefix" --operation Create --operation Describe \
  --operation DescribeConfigs --operation Read --operation Write
grant --group "$prefix" --operation Read --operation Describe
grant --transactional-id "$prefix" --operation Write --operation Describe

sasl_config <<YAML
notifier:
  max_attempts: 2
  backoff_initial_ms: 100
  backoff_max_ms: 200
  webhooks:
    - name: nowhere
      url: http://127.0.0.1:9/hook
      secret: acl-test
      authorities: ["*"]
YAML

clash_through "the least ACLs" "$sasl"

# The gateway and the notifier beside the stages.
for stage in ingest detector; do
  start_stage "$stage-2" "$stage" --brokers "$sasl" --data-dir "$work/$stage" --metrics ''
done
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
start_stage gateway gateway --brokers "$sasl" --http "127.0.0.1:$port" \
  --api-keys "$(dirname "$kafka_tool")/../config/dev-api-keys.yaml"
start_stage notifier notifier --brokers "$sasl" --metrics ''
key='Authorization: Bearer dev-ops-key'
for _ in $(seq 1 150); do
  curl -s "127.0.0.1:$port/healthz" | jq -e '.status == "ok"' >/dev/null 2>&1 && break
  sleep 0.2
done
for w in 1 2; do
  curl -s -H "$key" -X POST "127.0.0.1:$port/v1/works" -d '{"work_ref":"acl-gw-'$w'",
    "promoter":"OPS","geometry":{"type":"Point","coordinates":[-0.1276,51.5072]},
    "start":"2027-04-01","end":"2027-04-10"}' >"$work/post-$w.json"
  jq -e '.status == "accepted"' "$work/post-$w.json" >/dev/null ||
    fail "the gateway did not take work $w: $(cat "$work/post-$w.json")"
done
for _ in $(seq 1 150); do
  curl -s -H "$key" "127.0.0.1:$port/v1/alerts?state=open" >"$work/alerts-gw.json" || true
  jq -e '[.alerts[] | select([.works[].work_ref] == ["acl-gw-1", "acl-gw-2"])] | length == 1' \
    "$work/alerts-gw.json" >/dev/null 2>&1 && break
  sleep 0.2
done
jq -e '[.alerts[] | select([.works[].work_ref] == ["acl-gw-1", "acl-gw-2"])] | length == 1' \
  "$work/alerts-gw.json" >/dev/null || fail "the gateway did not serve the clash: $(cut -c1-300 "$work/alerts-gw.json")"
echo "ok: the gateway took two works and served their clash"
d tail --brokers "$sasl" --topic notifications.dead --from-beginning --max 2 --idle-timeout 60 \
  >"$work/dead.ndjson" 2>"$work/tail-dead.log" || true
[[ $(grep -c . "$work/dead.ndjson") == 2 ]] ||
  fail "the notifier did not set both alerts aside: $(cut -c1-300 "$work/dead.ndjson") $(tail -n 3 "$work/tail-dead.log")"
echo "ok: the notifier, its webhook refusing, set both alerts aside on notifications.dead"
stop_stages
if grep -il "authoriz" "$work"/*.log; then
  grep -ih "authoriz" "$work"/*.log | head -n 5 >&2
  fail "a log says a broker refused an authorization"
fi
echo "ok: no log says a broker refused an authorization"

# Under another prefix: topics and transactional ids, but no group.
other="test-acl-nogroup-$$."
grant --topic "$other" --operation Create --operation Describe \
  --operation DescribeConfigs --operation Read --operation Write
grant --transactional-id "$other" --operation Write --operation Describe
rc=0
timeout 60 "$bin" --config "$work/config.yaml" --topic-prefix "$other" ingest --brokers "$sasl" \
  --data-dir "$work/ingest-nogroup" --metrics '' >"$work/nogroup.out" 2>&1 || rc=$?
[[ $rc == 1 ]] || fail "ingest without its group's ACL: exit $rc, not 1: $(tail -n 3 "$work/nogroup.out")"
grep -c "group ${other}ingest: .*Group authorization failed.*OPERATIONS.md, \"Kafka ACLs\"" \
  "$work/nogroup.out" >/dev/null || fail "ingest without its group's ACL did not say so: $(tail -n 3 "$work/nogroup.out")"
echo "ok: ingest without its group's ACL stops at once: $(grep -o "ingest: consumer of.*" "$work/nogroup.out" | head -n 1 | cut -c1-200)"

# Under a third prefix: everything but Read on the topics.
third="test-acl-noread-$$."
grant --topic "$third" --operation Create --operation Describe --operation DescribeConfigs \
  --operation Write
grant --group "$third" --operation Read --operation Describe
grant --transactional-id "$third" --operation Write --operation Describe
"$bin" --config "$work/config.yaml" --topic-prefix "$third" topics --brokers "$sasl" \
  >"$work/noread-topics.log" 2>&1 ||
  fail "topics under $third: $(tail -n 3 "$work/noread-topics.log")"
rc=0
timeout 60 "$bin" --config "$work/config.yaml" --topic-prefix "$third" tail --brokers "$sasl" \
  --from-beginning --idle-timeout 30 >"$work/noread-tail.out" 2>&1 || rc=$?
[[ $rc == 1 ]] || fail "tail without Read on the topic: exit $rc, not 1: $(tail -n 3 "$work/noread-tail.out")"
grep -q "Topic authorization failed.*OPERATIONS.md, \"Kafka ACLs\"" "$work/noread-tail.out" ||
  fail "tail without Read did not say so: $(tail -n 3 "$work/noread-tail.out")"
echo "ok: tail without Read on the topic stops at once: $(grep -o "consume .*" "$work/noread-tail.out" | head -n 1 | cut -c1-160)"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$bin" --config "$work/config.yaml" --topic-prefix "$third" gateway --brokers "$sasl" \
  --http "127.0.0.1:$port" --api-keys "$(dirname "$kafka_tool")/../config/dev-api-keys.yaml" \
  >"$work/noread-gateway.log" 2>&1 &
pids+=($!)
# (-s and length: jq 1.6's -e passes on empty input, as before the gateway listens)
says_why='length == 1 and .[0].status == "starting" and
  (.[0].views.alerts.error // "" | test("Topic authorization failed")) and
  (.[0].views.works.error // "" | test("Topic authorization failed"))'
for _ in $(seq 1 100); do
  curl -s "127.0.0.1:$port/healthz" >"$work/noread-health.json" 2>/dev/null || true
  jq -e -s "$says_why" "$work/noread-health.json" >/dev/null 2>&1 && break
  sleep 0.2
done
jq -e -s "$says_why" "$work/noread-health.json" >/dev/null ||
  fail "/healthz did not say why the views wait: $(cat "$work/noread-health.json")"
why=$(jq -r .views.alerts.error "$work/noread-health.json")
# Without a key the error names no broker; an ops key sees it as the log has it.
[[ $why != *"from broker"* && $why != *"$sasl"* ]] ||
  fail "/healthz without a key shows the cluster's details: $why"
curl -s -H "Authorization: Bearer dev-ops-key" "127.0.0.1:$port/healthz" >"$work/noread-health-ops.json" || true
jq -e -s 'length == 1 and (.[0].views.alerts.error // "" |
  test("Fetch from broker .*Topic authorization failed"))' "$work/noread-health-ops.json" >/dev/null ||
  fail "/healthz with an ops key does not give the error in full: $(cat "$work/noread-health-ops.json")"
sleep 5  # librdkafka retries the fetch every half second or so: the log must not follow it
stop_stages
lines=$(grep -c "live view: ${third}alerts: .*Topic authorization failed.*OPERATIONS.md" \
  "$work/noread-gateway.log" || true)
[[ $lines -ge 1 && $lines -le 2 ]] ||
  fail "the gateway logged the refused fetch $lines times: $(grep -i authoriz "$work/noread-gateway.log" | head -n 3)"
echo "ok: the gateway's /healthz says why its views wait (${why:0:160}); logged $lines time(s)"
