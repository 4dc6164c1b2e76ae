#!/usr/bin/env bash
# Exactly-once tests of the stages on a real Apache Kafka broker (label "kafka"):
#
#   stream_test.sh chaos           ingest and detector are killed with SIGKILL at random moments
#                                  (at least DIGONCE_CHAOS_KILLS times) while events stream in
#   stream_test.sh streetmanager   as chaos, the events sent as Street Manager notifications
#                                  (tests/reference/to_streetmanager.py: PERMIT, ACTIVITY and
#                                  SECTION_58 objects, WKT in EPSG:27700, a quarter in SNS
#                                  envelopes), 5 % of the new works Section 58 restrictions,
#                                  and 80 of the 200 broken records broken notifications
#   stream_test.sh broker-restart  the broker is restarted mid-stream, once at once and once after
#                                  20 s away (longer than the session and transaction timeouts)
#   stream_test.sh scale-out       a second detector joins mid-stream, then the first one leaves
#   stream_test.sh ledger          a ledger of its own (`digonce ledger`) beside the detector's
#                                  shares the ledger's partitions and is killed with SIGKILL at
#                                  random moments (at least DIGONCE_CHAOS_KILLS times), the
#                                  detector once, so that ledger partitions move back and forth
#   stream_test.sh cluster         on a cluster of three nodes of its own (tools/kafka-cluster,
#                                  in build/kafka-cluster-test, beside tools/kafka's broker at
#                                  DIGONCE_KAFKA_BOOTSTRAP, its port + 200; skipped with another),
#                                  topics replicated three times: the node leading the works'
#                                  first partition is killed with SIGKILL mid-stream and started
#                                  again, then another node is stopped (controlled shutdown) and
#                                  started again; leaders and transaction coordinators move; a
#                                  gateway's live views must end with the live works and alerts
#
# Each run: DIGONCE_STREAM_EVENTS (default 50000) work events along real London streets, with
# updates and cancels (gen_stream.py), produced in chunks under a fresh topic prefix. At the end the
# alerts read back with read_committed must hold no (alert_id, revision) twice and the open alerts
# must equal what `digonce detect` gives on the same events (check_alerts.py), and what the
# independent reference of the rules finds (tests/reference/reference_detect.py; needs .venv; in
# streetmanager mode on the notifications' contract twin, to_streetmanager.py's --twin).
#
# Needs DIGONCE_BIN (build/bin/digonce) and DIGONCE_KAFKA_BOOTSTRAP (tools/kafka start).
# DIGONCE_KEEP_WORK=1 keeps the work folder (events, stage logs) after a pass too.
set -euo pipefail
mode="${1:?usage: stream_test.sh chaos|streetmanager|broker-restart|scale-out|ledger|cluster}"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
source "$root/tools/lib.sh"
bin="${DIGONCE_BIN:?set DIGONCE_BIN}"
brokers="${DIGONCE_KAFKA_BOOTSTRAP:?set DIGONCE_KAFKA_BOOTSTRAP (tools/kafka start)}"
events="${DIGONCE_STREAM_EVENTS:-50000}"
kills_wanted="${DIGONCE_CHAOS_KILLS:-6}"
bad_every=250  # a broken record after every 250 events: each must reach works.rejected once
chunk=1000
seed="${DIGONCE_STREAM_SEED:-$RANDOM}"
data="$(shared_data_dir)" || die "shared data not found (set DIGONCE_SHARED_DATA)"
[ -x "$root/.venv/bin/python" ] || die "$root/.venv missing (the reference check needs it): run tools/setup"
work="$(mktemp -d "${TMPDIR:-/tmp}/digonce-$mode.XXXXXX")"
prefix="test-$mode-$seed-$$."
say() { printf '[%s %s] %s\n' "$mode" "$(date +%T)" "$*"; }

declare -A pids=() ports=()
global=(--topic-prefix "$prefix")
cluster_tool="$root/tools/kafka-cluster"
cleanup() {
  local rc=$?
  for name in "${!pids[@]}"; do kill -9 "${pids[$name]}" 2>/dev/null || true; done
  [ "$mode" != cluster ] || "$cluster_tool" stop >>"$work/cluster.log" 2>&1 || true
  if [ $rc -ne 0 ]; then
    say "FAILED (rc $rc); logs in $work:"
    for f in "$work"/*.log; do echo "--- $f (last 15 lines)"; tail -n 15 "$f"; done
  elif [ -n "${DIGONCE_KEEP_WORK:-}" ]; then
    say "work folder kept: $work"
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT

# start_stage NAME COMMAND: runs `digonce COMMAND` with its own data folder and a metrics port
# that is free at that moment (a fixed one may be held by another process's connection).
start_stage() {
  local name="$1" command="$2" port
  port="$(free_port)"
  "$bin" "${global[@]}" "$command" --brokers "$brokers" --data-dir "$work/$name" \
    --instance-id "$name" --metrics "127.0.0.1:$port" >>"$work/$name.log" 2>&1 &
  pids[$name]=$!
  ports[$name]=$port
}
# probe NAME PATH: the HTTP status of a stage's probe (docs/OPERATIONS.md, "Probes"); its body
# in $work/NAME.PATH.json.
probe() {
  curl -s -m 5 -o "$work/$1.${2#/}.json" -w '%{http_code}' "http://127.0.0.1:${ports[$1]}$2" || true
}
alive() { kill -0 "${pids[$1]}" 2>/dev/null; }
kill_stage() { kill "-$2" "${pids[$1]}" 2>/dev/null || true; wait "${pids[$1]}" 2>/dev/null || true; }

if [ "$mode" = cluster ]; then
  # Beside tools/kafka's broker only (its jars; with a broker of yours the test is skipped).
  if [[ $("$root/tools/kafka" bootstrap) != "$brokers" ]]; then
    echo "skipped: $brokers is not tools/kafka's broker (the cluster is started beside it)"
    exit 77
  fi
  # A folder of its own and a fixed port beside the main broker, so that a cluster a timeout
  # left behind is found and stopped: by the next run here, and by tools/test at the end of its
  # kafka step.
  export DIGONCE_KAFKA_CLUSTER_PORT=$((${brokers##*:} + 200))
  export DIGONCE_KAFKA_CLUSTER_DIR="${DIGONCE_BUILD:-$root/build}/kafka-cluster-test"
  "$cluster_tool" stop >"$work/cluster.log" 2>&1 || true
  brokers="$("$cluster_tool" start --fresh 2>>"$work/cluster.log")" ||
    die "the cluster did not start: $(tail -n 20 "$work/cluster.log")"
  printf 'topics:\n  replication: 3\n' >"$work/config.yaml"
  global+=(--config "$work/config.yaml")
fi
say "seed $seed, $events events, topic prefix $prefix, work folder $work, brokers $brokers"
# Street Manager's stream carries Section 58 restrictions too (SECTION_58 and ACTIVITY objects).
generate=(python3 "$here/gen_stream.py" --events "$events" --seed "$seed" --bad-every "$bad_every"
  --roads "$data/london/os-highways-roadlinks-clerkenwell.json")
[ "$mode" = streetmanager ] && generate+=(--restrictions 0.05)
"${generate[@]}" --out "$work/events.ndjson"
"${generate[@]}" --out "$work/events.kcat" --kcat 2>/dev/null
# What the reference checks read: the events as sent (for digonce detect) and as contract events
# (for the independent reference).
input="$work/events.ndjson" twin="$work/events.ndjson"
if [ "$mode" = streetmanager ]; then
  # The good events are the records not keyed BAD-n.
  grep -v '^BAD-' "$work/events.kcat" | cut -f 2- >"$work/good.ndjson"
  "$root/.venv/bin/python" "$root/tests/reference/to_streetmanager.py" --input "$work/good.ndjson" \
    --sm "$work/sm.ndjson" --twin "$work/twin.ndjson" --seed "$seed" --proj-data "$data/proj"
  python3 "$here/sm_kcat.py" --kcat "$work/events.kcat" --sm "$work/sm.ndjson" \
    --out "$work/sm.kcat"
  mv "$work/sm.kcat" "$work/events.kcat"
  input="$work/sm.ndjson" twin="$work/twin.ndjson"
fi
"$bin" detect --input "$input" --output "$work/reference.ndjson" --no-progress \
  2>"$work/detect.log" &
detect_pid=$!
"$bin" "${global[@]}" topics --brokers "$brokers" >/dev/null
split -l "$chunk" -d -a 4 "$work/events.kcat" "$work/chunk."

start_stage ingest ingest
start_stage detector detector
if [ "$mode" = cluster ]; then
  # The HTTP API's live views read works.current and alerts across the lost node too.
  http_port="$(free_port)"
  "$bin" "${global[@]}" gateway --brokers "$brokers" --http "127.0.0.1:$http_port" \
    --api-keys "$root/config/dev-api-keys.yaml" >>"$work/gateway.log" 2>&1 &
  pids[gateway]=$!
fi
[ "$mode" = ledger ] && start_stage ledger ledger

# Produces the chunks, one every 0.25 s, in the background. kcat gives up when the broker is
# down; a chunk is then sent again (bounded): an event sent again is stale (a lower version than
# one since applied: ignored) or repeats the work's state as it is (the same version, applied
# again: the contract applies an equal version, and it changes no alert), so resending is safe.
(
  for f in "$work"/chunk.*; do
    tries=0
    until kcat -P -b "$brokers" -t "${prefix}works.submitted" -K $'\t' \
      -X enable.idempotence=true -X acks=all -l "$f"; do
      tries=$((tries + 1))
      [ "$tries" -lt 60 ] || { echo "giving up on $f"; exit 1; }
      sleep 1
    done
    sleep 0.25
  done
) >"$work/produce.log" 2>&1 &
producer=$!
producing() { kill -0 "$producer" 2>/dev/null; }

case "$mode" in
  chaos | streetmanager)
    kills=0
    while producing || [ "$kills" -lt "$kills_wanted" ]; do
      sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.2f", 1.5 + (r % 2500) / 1000 }')"
      victim=$([ $((RANDOM % 2)) -eq 0 ] && echo ingest || echo detector)
      kill_stage "$victim" KILL
      kills=$((kills + 1))
      say "kill -9 $victim (#$kills)"
      sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.2f", (r % 1500) / 1000 }')"
      start_stage "$victim" "$victim"
    done
    ;;
  broker-restart)
    # First a quick restart, then one that keeps the broker away longer than the consumers'
    # session timeout (10 s) and the transaction timeout (15 s): the stages lose their
    # assignments, their open transactions are aborted by the coordinator, and the producers'
    # next transactional calls fail fatally (INVALID_TXN_STATE, fenced). Each stage must start
    # over with new clients by itself and still end where the reference does.
    sleep 6
    say "restarting the broker"
    "$root/tools/kafka" restart >/dev/null
    say "broker back"
    sleep 4
    say "stopping the broker for ${DIGONCE_BROKER_DOWN_SECONDS:-20} s"
    "$root/tools/kafka" stop
    # While the broker is away the stages wait for it: alive (/healthz 200) all along, so that
    # a liveness probe does not restart them; /readyz says what they wait for.
    down_until=$(($(date +%s) + ${DIGONCE_BROKER_DOWN_SECONDS:-20}))
    not_ready=0
    while [ "$(date +%s)" -lt "$down_until" ]; do
      for name in ingest detector; do
        code=$(probe "$name" /healthz)
        [ "$code" = 200 ] || die "$name's /healthz answered $code while the broker was away: $(cat "$work/$name.healthz.json")"
        [ "$(probe "$name" /readyz)" = 503 ] && not_ready=$((not_ready + 1))
      done
      sleep 1
    done
    "$root/tools/kafka" start >/dev/null
    say "broker back; /healthz was 200 throughout, /readyz 503 in $not_ready polls (the last: $(cat "$work/detector.readyz.json"))"
    ;;
  ledger)
    # The ledger group has two members, the detector process's ledger and this one: each kill
    # gives its partitions to the other (restored from the ledger's changelog there), and each
    # restart takes some back, with the state the other left in the changelog. A victim is
    # killed only once it holds partitions again (after a SIGKILL the group waits for the dead
    # member's session to end, 10 s) and has worked with them for a moment.
    kills=0
    declare -A seen=([ledger]=0 [detector]=0)
    assignments() { grep -c ' assigned' "$work/$1.log" || true; }
    while producing || [ "$kills" -lt "$kills_wanted" ]; do
      victim=$([ "$kills" -eq 2 ] && echo detector || echo ledger)
      for _ in $(seq 60); do
        [ "$(assignments "$victim")" -gt "${seen[$victim]}" ] && break
        sleep 0.5
      done
      sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.2f", 1 + (r % 2000) / 1000 }')"
      kill_stage "$victim" KILL
      kills=$((kills + 1))
      say "kill -9 $victim (#$kills), $(($(assignments "$victim") - seen[$victim])) partitions taken since its start"
      seen[$victim]=$(assignments "$victim")
      start_stage "$victim" "$victim"
    done
    ;;
  cluster)
    # Every topic has three replicas on three nodes, two of which must have each record before
    # it is acknowledged. A node lost without warning: its partitions' leaders and the
    # transaction coordinators it held move to the others once the controllers fence it (the
    # broker session timeout, 9 s), and the stages' requests to it fail until then.
    replicas=$(kcat -L -b "$brokers" -t "${prefix}works.tiled" -m 5 | grep -c 'replicas: [0-9]*,[0-9]*,[0-9]*,' || true)
    [ "$replicas" -eq 6 ] || die "works.tiled's 6 partitions do not all have three replicas: $(kcat -L -b "$brokers" -t "${prefix}works.tiled")"
    sleep 6
    victim=$("$cluster_tool" leader "${prefix}works.tiled" 0)
    say "kill -9 node $victim (the leader of works.tiled's partition 0)"
    "$cluster_tool" kill "$victim" 2>>"$work/cluster.log"
    sleep 15
    "$cluster_tool" start-node "$victim" 2>>"$work/cluster.log"
    say "node $victim back"
    sleep 4
    victim=$("$cluster_tool" leader "${prefix}alerts" 0)
    say "stopping node $victim (the leader of alerts' partition 0; controlled shutdown)"
    "$cluster_tool" stop-node "$victim" 2>>"$work/cluster.log"
    sleep 10
    "$cluster_tool" start-node "$victim" 2>>"$work/cluster.log"
    say "node $victim back"
    ;;
  scale-out)
    sleep 5
    say "second detector joins"
    start_stage detector2 detector
    sleep 8
    say "first detector leaves (SIGTERM)"
    kill_stage detector TERM
    unset 'pids[detector]'
    ;;
esac
wait "$producer" || die "producing failed: $(cat "$work/produce.log")"
say "all $events events produced"
wait "$detect_pid" || die "digonce detect failed: $(cat "$work/detect.log")"
say "reference: $(tail -n 6 "$work/detect.log" | tr -s ' \n' ' ')"

# The stages must still be running (a stage that stopped on its own is a failure) and end where
# the reference does; poll until they agree, bounded.
deadline=$(($(date +%s) + ${DIGONCE_STREAM_SETTLE_SECONDS:-240}))
while :; do
  for name in "${!pids[@]}"; do alive "$name" || die "stage $name stopped on its own"; done
  kcat -C -b "$brokers" -t "${prefix}alerts" -e -o beginning -q -X isolation.level=read_committed \
    -f '%k\t%s\n' >"$work/stream.tsv"
  if result=$(python3 "$here/check_alerts.py" --stream "$work/stream.tsv" \
                --reference "$work/reference.ndjson"); then
    say "PASS: $result"
    break
  fi
  if grep -q duplicate <<<"$result" || [ "$(date +%s)" -ge "$deadline" ]; then
    echo "$result"
    die "alerts do not match"
  fi
  sleep 5
done
# The same alerts against the independent reference of the rules (tests/reference/): Python,
# Shapely and pyproj, no digonce code.
"$root/.venv/bin/python" "$root/tests/reference/reference_detect.py" --input "$twin" \
  --alerts "$work/stream.tsv" --crs EPSG:27700 --proj-data "$data/proj" \
  --authorities "$root/config/london-authorities.yaml" --shared-data "$data" >"$work/reference-check.txt" ||
  { cat "$work/reference-check.txt"; die "the alerts differ from the independent reference"; }
say "PASS: independent reference: $(head -n 1 "$work/reference-check.txt" | sed 's/^[^:]*: //')"
# Every broken record is in works.rejected (once per key: a chunk resent after a broker restart
# may carry it twice), with its reason and where it came from in headers.
bad_wanted=$(grep -c '^BAD-' "$work/events.kcat")
kcat -C -b "$brokers" -t "${prefix}works.rejected" -e -o beginning -q \
  -X isolation.level=read_committed -f '%k\t%h\n' >"$work/rejected.tsv"
bad_seen=$(cut -f1 "$work/rejected.tsv" | sort -u | grep -c '^BAD-' || true)
[ "$bad_seen" -eq "$bad_wanted" ] || die "works.rejected holds $bad_seen of the $bad_wanted broken records"
grep -v 'digonce.reason=' "$work/rejected.tsv" | head -3 | grep . && die "a rejected record without a reason"
grep -v 'digonce.source.offset=' "$work/rejected.tsv" | head -3 | grep . && die "a rejected record without its source offset"
say "PASS: all $bad_wanted broken records rejected, with reasons and source offsets"
if [ "$mode" = scale-out ]; then
  grep -q "assigned" "$work/detector2.log" || die "the second detector never got a partition"
fi
if [ "$mode" = cluster ]; then
  # The gateway's views end with every live work of the reference and every alert of the stream
  # (its alerts view keeps each alert's last revision, open or closed).
  live=$(sed -n 's/.*; \([0-9]*\) live works.*/\1/p' "$work/detect.log" | head -n 1)
  ids=$(cut -f1 "$work/stream.tsv" | sort -u | wc -l)
  want="\"alerts\":{\"caught_up\":true,\"count\":$ids},\"works\":{\"caught_up\":true,\"count\":$live}"
  for _ in $(seq 60); do
    health="$(curl -s "127.0.0.1:$http_port/healthz" || true)"
    [[ "$health" == *"$want"* ]] && break
    sleep 1
  done
  [[ "$health" == *"$want"* ]] || die "the gateway's views are not $want after 60 s: $health"
  say "PASS: the gateway's views: $ids alerts, $live live works"
fi
if [ "$mode" = ledger ]; then
  grep -q "assigned" "$work/ledger.log" || die "the ledger of its own never got a partition"
fi
# What the stages went through, for the record (the test does not depend on it: whether a
# transaction is lost during a broker restart is a matter of timing).
for name in $(printf '%s\n' "${!pids[@]}" | sort); do
  say "$name: $(grep -c 'assignment lost' "$work/$name.log") assignments lost," \
    "$(grep -c 'starting over with new Kafka clients' "$work/$name.log") restarts with new clients," \
    "$(grep -c 'aborting and rewinding' "$work/$name.log") aborted transactions"
done
for name in "${!pids[@]}"; do kill_stage "$name" TERM; done
