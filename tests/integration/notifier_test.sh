#!/usr/bin/env bash
# The notifier on a real Apache Kafka broker (label "kafka"): DIGONCE_NOTIFIER_ALERTS (default
# 3000) alert events on the alerts topic, a webhook that answers 503 to 10 % of requests at
# random, and `digonce notifier` killed with SIGKILL DIGONCE_NOTIFIER_KILLS (default 2) times
# while it delivers. At the end every (alert_id, revision) must have been answered 200 at least
# once, each alert's revisions first delivered in order, and nothing dead-lettered.
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
receiver=""
cleanup() {
  local rc=$?
  for p in "$notifier" "$receiver"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done
  if [ $rc -ne 0 ]; then
    say "FAILED (rc $rc); logs in $work:"
    tail -n 20 "$work/notifier.log" || true
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

start_notifier() {
  notifier_metrics=$(free_port)
  "$bin" --config "$work/config.yaml" --topic-prefix "$prefix" notifier --brokers "$brokers" \
    --metrics "127.0.0.1:$notifier_metrics" >>"$work/notifier.log" 2>&1 &
  notifier=$!
}
delivered() { python3 - "$work/hooks.ndjson" <<'PY'
import json, sys
try:
    print(len({json.loads(l)["headers"]["X-Digonce-Delivery"] for l in open(sys.argv[1])
               if json.loads(l)["status"] == 200}))
except FileNotFoundError:
    print(0)
PY
}

start_notifier
# Its probes (docs/OPERATIONS.md, "Probes"): ready once its webhook's worker is in its group.
for _ in $(seq 1 300); do
  ready=$(curl -s -w '\n%{http_code}' "http://127.0.0.1:$notifier_metrics/readyz" || true)
  [ "$(tail -n1 <<<"$ready")" = 200 ] && break
  sleep 0.1
done
[ "$(tail -n1 <<<"$ready")" = 200 ] || die "the notifier's /readyz: $ready"
grep -q '"name":"notifier [^"]*","quiet_s":[0-9.]*,"clients_up":true,"joined":true' <<<"$ready" ||
  die "the notifier's /readyz body: $ready"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$notifier_metrics/healthz")" = 200 ] ||
  die "the notifier's /healthz is not 200"
say "the notifier's /readyz and /healthz are 200"
kills=0
deadline=$(($(date +%s) + 240))
while [ "$(delivered)" -lt "$alerts" ]; do
  [ "$(date +%s)" -lt "$deadline" ] || die "only $(delivered) of $alerts delivered within 240 s"
  kill -0 "$notifier" 2>/dev/null || die "the notifier stopped on its own"
  if [ "$kills" -lt "$kills_wanted" ] && [ "$(delivered)" -gt $(((kills + 1) * alerts / (kills_wanted + 2))) ]; then
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

python3 - "$work/alerts.tsv" "$work/hooks.ndjson" <<'PY' || die "deliveries are not as expected"
import json, sys
produced = [l.split("\t", 1)[1] for l in open(sys.argv[1])]
want = {(a["alert_id"], a["revision"]) for a in map(json.loads, produced)}
reqs = [json.loads(l) for l in open(sys.argv[2])]
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
print(f"PASS: {len(want)} alert events delivered ({len(ok)} 200s, {len(ok) - len(set(got))} "
      f"repeated after kills, {len(reqs) - len(ok)} 503s retried); revisions in order")
PY
metrics_dead=$(grep -c "giving up" "$work/notifier.log" || true)
[ "$metrics_dead" -eq 0 ] || die "$metrics_dead alerts dead-lettered"
kill -TERM "$notifier"
wait "$notifier" || die "the notifier did not stop cleanly on SIGTERM"
notifier=""
say "PASS: nothing dead-lettered; SIGTERM stopped the notifier cleanly"
