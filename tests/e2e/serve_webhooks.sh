#!/usr/bin/env bash
# End to end through `digonce serve` (embedded broker) with the notifier: two clashing works in
# Westminster reach Westminster's webhook as one signed alert after two 503s (retried, same
# delivery id); Camden's webhook gets nothing; a webhook answering 400 is tried once and its
# alert dead-lettered; an unreachable one is tried max_attempts times, then dead-lettered; an
# https webhook whose certificate comes from a private CA gets the alert when its ca_file names
# that CA, and is dead-lettered without (the certificate is not trusted, nothing reaches it); a
# config naming an unset secret_env, a missing ca_file or a ca_file on an http url is refused.
# Needs curl, jq, openssl and python3.
#
#   DIGONCE_BIN=build/bin/digonce tests/e2e/serve_webhooks.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
hooks="$work/hooks.ndjson"
tls_hooks="$work/tls-hooks.ndjson"
receiver=""
tls_receiver=""
on_fail() {
  echo "---- webhook requests:"
  cat "$hooks" 2>/dev/null || true
  echo "---- https webhook requests:"
  cat "$tls_hooks" 2>/dev/null || true
}
stop_receiver() {
  [[ -n "$receiver" ]] && kill -KILL "$receiver" 2>/dev/null
  [[ -n "$tls_receiver" ]] && kill -KILL "$tls_receiver" 2>/dev/null
  true
}
trap 'stop_receiver; e2e_cleanup' EXIT

python3 "$root/tests/e2e/webhook_receiver.py" --port-file "$work/port" --log "$hooks" \
  --fail-first 2 --seconds 170 &
receiver=$!
disown "$receiver"  # killed at the end without a job report
for _ in $(seq 1 50); do [[ -s "$work/port" ]] && break; sleep 0.1; done
[[ -s "$work/port" ]] || fail "the webhook receiver did not start"
port=$(cat "$work/port")
closed_port=$(free_port)  # nothing listens there

# A private CA and a certificate it signs for 127.0.0.1, for an https endpoint.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=digonce e2e CA" \
  -keyout "$work/ca.key" -out "$work/ca.pem" 2>/dev/null || fail "openssl: CA"
openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$work/server.key" \
  -out "$work/server.csr" 2>/dev/null || fail "openssl: request"
printf 'subjectAltName=IP:127.0.0.1\n' >"$work/san.ext"
openssl x509 -req -in "$work/server.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" \
  -CAcreateserial -days 2 -extfile "$work/san.ext" -out "$work/server.pem" 2>/dev/null ||
  fail "openssl: server certificate"
python3 "$root/tests/e2e/webhook_receiver.py" --port-file "$work/tls-port" --log "$tls_hooks" \
  --tls-cert "$work/server.pem" --tls-key "$work/server.key" --seconds 170 &
tls_receiver=$!
disown "$tls_receiver"
for _ in $(seq 1 50); do [[ -s "$work/tls-port" ]] && break; sleep 0.1; done
[[ -s "$work/tls-port" ]] || fail "the https webhook receiver did not start"
tls_port=$(cat "$work/tls-port")

secret="westminster-e2e-secret"
cat >"$work/config.yaml" <<YAML
boundaries: $root/config/london-authorities.yaml
notifier:
  timeout_ms: 2000
  max_attempts: 4
  backoff_initial_ms: 100
  backoff_max_ms: 400
  webhooks:
    - {name: westminster, url: "http://127.0.0.1:$port/flaky", secret_env: DIGONCE_E2E_SECRET,
       authorities: ["5990"], kinds: [clash]}
    - {name: camden, url: "http://127.0.0.1:$port/ok", secret: camden, authorities: ["5210"]}
    - {name: rejecting, url: "http://127.0.0.1:$port/reject", secret: r, authorities: ["*"],
       kinds: [clash]}
    - {name: nowhere, url: "http://127.0.0.1:$closed_port/", secret: n, authorities: ["*"],
       kinds: [clash]}
    - {name: secure, url: "https://127.0.0.1:$tls_port/ok", secret: s, ca_file: "$work/ca.pem",
       authorities: ["5990"], kinds: [clash]}
    - {name: untrusted, url: "https://127.0.0.1:$tls_port/ok", secret: u, authorities: ["5990"],
       kinds: [clash]}
YAML

# A ca_file that is not there, and one on an http url: refused at start, saying which and why.
sed "s|ca_file: \"$work/ca.pem\"|ca_file: \"$work/missing.pem\"|" "$work/config.yaml" >"$work/bad-ca.yaml"
if out=$(DIGONCE_E2E_SECRET=x "$DIGONCE_BIN" --config "$work/bad-ca.yaml" notifier \
  --brokers 127.0.0.1:1 2>&1); then
  fail "a config with a missing ca_file was accepted"
fi
grep -q "notifier.webhooks\[secure\]: ca_file: cannot load $work/missing.pem" <<<"$out" ||
  fail "unclear error for a missing ca_file: $out"
check "missing ca_file refused: $(tail -n1 <<<"$out")"
sed "s|https://127.0.0.1:$tls_port/ok\", secret: s|http://127.0.0.1:$tls_port/ok\", secret: s|" \
  "$work/config.yaml" >"$work/http-ca.yaml"
if out=$(DIGONCE_E2E_SECRET=x "$DIGONCE_BIN" --config "$work/http-ca.yaml" notifier \
  --brokers 127.0.0.1:1 2>&1); then
  fail "a ca_file on an http url was accepted"
fi
grep -q "notifier.webhooks\[secure\]: ca_file is for an https url" <<<"$out" ||
  fail "unclear error for a ca_file on an http url: $out"
check "ca_file on an http url refused"

# A secret_env that is not set: refused at start, naming the webhook and the variable.
if out=$(env -u DIGONCE_E2E_SECRET "$DIGONCE_BIN" --config "$work/config.yaml" notifier \
  --brokers 127.0.0.1:1 2>&1); then
  fail "a config with an unset secret_env was accepted"
fi
grep -q 'notifier.webhooks\[westminster\]: secret_env DIGONCE_E2E_SECRET is not set' <<<"$out" ||
  fail "unclear error for an unset secret_env: $out"
check "unset secret_env refused: $(tail -n1 <<<"$out")"
# ... by the commands that deliver only: another reads the same file without the variable or CA.
: >"$work/empty.ndjson"
out=$(env -u DIGONCE_E2E_SECRET "$DIGONCE_BIN" --config "$work/bad-ca.yaml" detect \
  --input "$work/empty.ndjson" --output "$work/empty-alerts.ndjson" 2>&1) ||
  fail "detect refused a config whose webhook secret and CA file only the notifier needs: $out"
check "a command that delivers nothing reads that config without the secret or the CA file"

export DIGONCE_E2E_SECRET="$secret"
start_serve --config "$work/config.yaml" --log-level info
check "server up at $base with 6 webhooks"

post() {
  local key=$1 body=$2 code
  code=$(curl -s -o "$work/answer" -w '%{http_code}' -X POST -H "Authorization: Bearer $key" \
    -H 'Content-Type: application/json' --data-binary "$body" "$base/v1/works")
  [[ $code == 202 ]] || fail "POST /v1/works: $code $(cat "$work/answer")"
}
post dev-stpr-key '{"work_ref":"HOOK-A-1","promoter":"STPR","geometry":{"type":"LineString","coordinates":[[-0.12700,51.50300],[-0.12650,51.50400]]},"start":"2026-03-16","end":"2026-03-20"}'
post dev-tfl-key '{"work_ref":"HOOK-B-1","promoter":"TFL","geometry":{"type":"LineString","coordinates":[[-0.12697,51.50302],[-0.12647,51.50402]]},"start":"2026-03-18T07:00:00Z","end":"2026-03-25T18:00:00Z"}'
check "two clashing works in Westminster submitted"

metric() {  # metric NAME LABELS: the value, or 0
  curl -s "$base/metrics" | awk -v m="$1{$2}" 'index($0, m) == 1 { print $2; found = 1 } END { if (!found) print 0 }'
}
for _ in $(seq 1 300); do  # at most 30 s
  kill -0 "$pid" 2>/dev/null || fail "digonce serve exited while deliveries were awaited"
  delivered=$(metric digonce_notifier_deliveries_total 'outcome="delivered",webhook="westminster"')
  dead_nowhere=$(metric digonce_notifier_deliveries_total 'outcome="dead_lettered",webhook="nowhere"')
  dead_reject=$(metric digonce_notifier_deliveries_total 'outcome="dead_lettered",webhook="rejecting"')
  secure=$(metric digonce_notifier_deliveries_total 'outcome="delivered",webhook="secure"')
  dead_untrusted=$(metric digonce_notifier_deliveries_total 'outcome="dead_lettered",webhook="untrusted"')
  [[ $delivered == 1 && $dead_nowhere == 1 && $dead_reject == 1 && $secure == 1 &&
    $dead_untrusted == 1 ]] && break
  sleep 0.1
done
[[ $delivered == 1 ]] || fail "westminster: $delivered deliveries, expected 1"
[[ $dead_reject == 1 ]] || fail "rejecting: $dead_reject dead letters, expected 1"
[[ $dead_nowhere == 1 ]] || fail "nowhere: $dead_nowhere dead letters, expected 1"
[[ $secure == 1 ]] || fail "secure (https, private CA in ca_file): $secure deliveries, expected 1"
[[ $dead_untrusted == 1 ]] ||
  fail "untrusted (https, CA not trusted): $dead_untrusted dead letters, expected 1"
check "/metrics: westminster and secure (https) delivered 1 each; rejecting, nowhere and untrusted dead-lettered 1 each"
grep -q "notifier untrusted: .*certificate verify failed" "$log" ||
  fail "the untrusted webhook's failures do not say the certificate was not trusted"
check "untrusted: $(grep -m1 -o 'notifier untrusted: .*certificate verify failed[^)]*' "$log")"

python3 - "$hooks" "$secret" <<'PY' || fail "webhook requests are not as expected"
import hashlib, hmac, json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
secret = sys.argv[2].encode()
flaky = [r for r in reqs if r["path"] == "/flaky"]
assert [r["status"] for r in flaky] == [503, 503, 200], f"/flaky got {[r['status'] for r in flaky]}"
ids = {r["headers"]["X-Digonce-Delivery"] for r in flaky}
assert len(ids) == 1, f"one delivery id across retries, got {ids}"
assert [r["headers"]["X-Digonce-Attempt"] for r in flaky] == ["1", "2", "3"]
for r in flaky:
    sig = dict(p.split("=", 1) for p in r["headers"]["X-Digonce-Signature"].split(","))
    want = hmac.new(secret, (sig["t"] + "." + r["body"]).encode(), hashlib.sha256).hexdigest()
    assert hmac.compare_digest(sig["v1"], want), "bad signature"
    assert r["headers"]["Content-Type"] == "application/json"
alert = json.loads(flaky[-1]["body"])
assert alert["kind"] == "clash" and alert["state"] == "open", alert
assert "5990" in alert["highway_authorities"], alert
assert [w["work_ref"] for w in alert["works"]] == ["HOOK-A-1", "HOOK-B-1"], alert
assert ids == {alert["alert_id"] + ":" + str(alert["revision"])}
assert not [r for r in reqs if r["path"] == "/ok"], "camden's webhook got a Westminster alert"
assert len([r for r in reqs if r["path"] == "/reject"]) == 1, "a 400 must not be retried"
print(f"ok: westminster got {alert['alert_id']} rev {alert['revision']} on attempt 3, signature valid; camden nothing; 400 tried once")
PY
python3 - "$tls_hooks" <<'PY' || fail "https webhook requests are not as expected"
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
assert [r["headers"]["X-Digonce-Webhook"] for r in reqs] == ["secure"], \
    f"only the webhook that trusts the CA may get through, got {[r['headers']['X-Digonce-Webhook'] for r in reqs]}"
alert = json.loads(reqs[0]["body"])
assert alert["kind"] == "clash" and "5990" in alert["highway_authorities"], alert
print(f"ok: over https (private CA) secure got {alert['alert_id']}; untrusted never got past the handshake")
PY

stop_serve
