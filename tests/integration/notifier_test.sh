#!/usr/bin/env bash
# The notifier on a real Apache Kafka broker (label "kafka"): DIGONCE_NOTIFIER_ALERTS (default
# 3000) alert events on the alerts topic, a webhook that answers 503 to 10 % of requests at
# random, and `digonce notifier` killed with SIGKILL DIGONCE_NOTIFIER_KILLS (default 2) times
# while it delivers, beside a second instance in the same group (partitions move between the two
# at each join and leave). At the end every (alert_id, revision) must have been answered 200 at
# least once, each alert's revisions first delivered in order, nothing dead-lettered, and both
# instances must stop cleanly on SIGTERM. With DIGONCE_NOTIFIER_KILLS=0 (ctest's
# notifier_handover) fewer than 1 % of the alert events may have been sent twice.
#
# Needs DIGONCE_BIN (build/bin/digonce) and DIGONCE_KAFKA_BOOTSTRAP (tools/kafka start).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
source "$root/tools/lib.sh"
bin="${DIGONCE_BIN:?set DIGONCE_BIN}"
brokers="${DIGONCE_KAFKA_BOOTSTRAP:?set DIGONCE_KAFKA_BOOTSTRAP (tools/kafka start)}"
alerts="${DIGONCE_NOTIFIER_ALERTS:-3000}"
kills_wanted="${DIGONCE_NOTIFIER_KILLS:-2}"
seed="${DIGONCE_STREAM_SEED:-$RANDOM}"
work="$(mktemp -d "${TMPDIR:-/tmp}/digonce-notifier.XXXXXX")"
prefix="test-notifier-$seed-$$."
say() { printf '[notifier %s] %s\n' "$(date +%T)" "$*"; }

notifier=""
second=""
receiver=""
cleanup() {
  local rc=$?
  for p in "$notifier" "$second" "$receiver"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done
  if [ $rc -ne 0 ]; then
    say "FAILED (rc $rc); logs in $work:"
    tail -n 20 "$work/notifier.log" || true
    tail -n 20 "$work/notifier-second.log" 2>/dev/null || true
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT

python3 "$root/tests/e2e/webhook_receiver.py" --port-file "$work/port" --log "$work/hooks.ndjson" \
  --chaos-fail 0.1 --seed "$seed" --seconds 600 &
receiver=$!
disown "$receiver"
for _ in $(seq 1 50); do [ -s "$work/port" ] && break; sleep 0.1; done
[ -s "$work/port" ] || die "the webhook receiver did not start"

cat >"$work/config.yaml" <<YAML
notifier:
  timeout_ms: 2000
  max_attempts: 30
  backoff_initial_ms: 10
  backoff_max_ms: 50
  webhooks:
    - {name: everyone, url: "http://127.0.0.1:$(cat "$work/port")/chaos", secret: s, authorities: ["*"]}
YAML

# Alert events: 1 to 3 revisions per alert, keyed by alert_id (so each alert's revisions share a
# partition and an order).
python3 - "$alerts" "$seed" >"$work/alerts.tsv" <<'PY'
import json, random, sys
n, rng = int(sys.argv[1]), random.Random(int(sys.argv[2]))
made = 0
i = 0
while made < n:
    aid = f"clash-{i:08x}"
    for rev in range(1, min(rng.randint(1, 3), n - made) + 1):
        state = "open" if rev == 1 else "updated"
        print(aid + "\t" + json.dumps({"alert_id": aid, "kind": "clash", "state": state,
              "revision": rev, "works": [], "highway_authorities": ["5990"], "reason": "test"}))
        made += 1
    i += 1
PY
"$bin" --topic-prefix "$prefix" topics --brokers "$brokers" >/dev/null
kcat -P -b "$brokers" -t "${prefix}alerts" -K $'\t' -X enable.idempotence=true -X acks=all \
  -l "$work/alerts.tsv"
say "seed $seed: $alerts alert events on ${prefix}alerts"

start_notifier() {  # [LOG]: the first instance's, unless named
  notifier_metrics=$(free_port)
  "$bin" --config "$work/config.yaml" --topic-prefix "$prefix" notifier --brokers "$brokers" \
    --metrics "127.0.0.1:$notifier_metrics" >>"$work/${1:-notifier}.log" 2>&1 &
  notifier=$!
}
ready_at() {  # PORT: waits (30 s at most) for the notifier's /readyz there to answer 200
  for _ in $(seq 1 300); do
    ready=$(curl -s -w '\n%{http_code}' "http://127.0.0.1:$1/readyz" || true)
    [ "$(tail -n1 <<<"$ready")" = 200 ] && return 0
    sleep 0.1
  done
  return 1
}
# The receiver's log, read while it writes: a last line without its newline is still being
# written (a partial line once ended the wait early, as "0 delivered").
complete_lines='
def complete_lines(path):
    for line in open(path):
        if not line.endswith("\n"):
            break
        yield line
'
delivered() { python3 - "$work/hooks.ndjson" <<PY
import json, sys
$complete_lines
try:
    print(len({r["headers"]["X-Digonce-Delivery"] for r in map(json.loads, complete_lines(sys.argv[1]))
               if r["status"] == 200}))
except FileNotFoundError:
    print(0)
PY
}

# A second instance first, in the group before the first joins: the first's join moves
# partitions to it (the second gives them up in order, committing what it has delivered).
start_notifier notifier-second
second=$notifier
second_metrics=$notifier_metrics
start_notifier
# Its probes (docs/OPERATIONS.md, "Probes"): ready once its webhook's worker is in its group.
ready_at "$notifier_metrics" || die "the notifier's /readyz: $ready"
grep -q '"name":"notifier [^"]*","quiet_s":[0-9.]*,"clients_up":true,"joined":true' <<<"$ready" ||
  die "the notifier's /readyz body: $ready"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$notifier_metrics/healthz")" = 200 ] ||
  die "the notifier's /healthz is not 200"
say "the notifier's /readyz and /healthz are 200"
ready_at "$second_metrics" || die "the second notifier's /readyz: $ready"
kills=0
deadline=$(($(date +%s) + 240))
while :; do
  n=$(delivered)
  [[ $n =~ ^[0-9]+$ ]] || die "cannot count the deliveries in $work/hooks.ndjson"
  [ "$n" -lt "$alerts" ] || break
  [ "$(date +%s)" -lt "$deadline" ] || die "only $n of $alerts delivered within 240 s"
  kill -0 "$notifier" 2>/dev/null || die "the notifier stopped on its own"
  kill -0 "$second" 2>/dev/null || die "the second notifier stopped on its own"
  if [ "$kills" -lt "$kills_wanted" ] && [ "$n" -gt $(((kills + 1) * alerts / (kills_wanted + 2))) ]; then
    kill -9 "$notifier"
    wait "$notifier" 2>/dev/null || true
    kills=$((kills + 1))
    say "kill -9 notifier (#$kills) with $(delivered) delivered"
    sleep 0.5
    start_notifier
  fi
  sleep 0.5
done
[ "$kills" -eq "$kills_wanted" ] || die "only $kills kills before the end"

python3 - "$work/alerts.tsv" "$work/hooks.ndjson" "$kills_wanted" <<PY || die "deliveries are not as expected"
import json, sys
$complete_lines
produced = [l.split("\t", 1)[1] for l in open(sys.argv[1])]
want = {(a["alert_id"], a["revision"]) for a in map(json.loads, produced)}
reqs = [json.loads(l) for l in complete_lines(sys.argv[2])]
ok = [r for r in reqs if r["status"] == 200]
got = [(json.loads(r["body"])["alert_id"], json.loads(r["body"])["revision"]) for r in ok]
missing = want - set(got)
assert not missing, f"{len(missing)} never delivered, e.g. {sorted(missing)[:3]}"
first = {}
for aid, rev in got:
    seen = first.setdefault(aid, [])
    if rev not in seen:
        seen.append(rev)
disordered = [a for a, revs in first.items() if revs != sorted(revs)]
assert not disordered, f"revisions first delivered out of order: {disordered[:3]}"
repeated = len(ok) - len(set(got))
# With no kill, only orderly handovers (each instance commits before giving partitions up).
assert int(sys.argv[3]) > 0 or repeated * 100 < len(want), f"{repeated} sent twice with no kill"
print(f"PASS: {len(want)} alert events delivered ({len(ok)} 200s, {repeated} "
      f"repeated, {len(reqs) - len(ok)} 503s retried); revisions in order")
PY
metrics_dead=$(cat "$work/notifier.log" "$work/notifier-second.log" | grep -c "giving up" || true)
[ "$metrics_dead" -eq 0 ] || die "$metrics_dead alerts dead-lettered"
# The second leaves in order (its partitions go back to the first), then the first.
kill -TERM "$second"
wait "$second" || die "the second notifier did not stop cleanly on SIGTERM"
second=""
kill -TERM "$notifier"
wait "$notifier" || die "the notifier did not stop cleanly on SIGTERM"
notifier=""
if grep -h "rebalance:" "$work/notifier.log" "$work/notifier-second.log"; then
  die "a rebalance failed (above)"
fi
say "PASS: nothing dead-lettered; partitions moved between two instances; SIGTERM stopped both cleanly"
