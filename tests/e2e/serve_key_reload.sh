#!/usr/bin/env bash
# End to end through `digonce serve`: the API key file is read again on SIGHUP. A key added to
# the file works, a key taken out is refused (401) and its open live stream is closed (1008,
# "API key revoked"), while a stream whose key stays is left open; a file that does not parse
# leaves the keys in force and says why; an authority key whose org no area has is warned of.
# Needs curl and python3.
#
#   DIGONCE_BIN=build/bin/digonce tests/e2e/serve_key_reload.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

keys="$work/keys.yaml"
write_keys() {  # write_keys KEY ORG ROLE ...: a key file of those keys
  { echo "keys:"; while [[ $# -gt 0 ]]; do
      echo "  - {key: \"$1\", org: \"$2\", role: $3}"; shift 3; done; } >"$keys.tmp"
  mv "$keys.tmp" "$keys"  # whole, at once: the gateway may read it any time
}
write_keys old-stpr-key STPR promoter ops-e2e-key OPS ops
export E2E_API_KEYS="$keys"
start_serve
check "server up at $base with 2 keys"

status() {  # status KEY: the status of GET /v1/alerts with that key
  curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $1" "$base/v1/alerts"
}
metric() {  # metric NAME LABELS: the value, or 0
  curl -s "$base/metrics" | awk -v m="$1{$2}" 'index($0, m) == 1 { print $2; found = 1 } END { if (!found) print 0 }'
}
[[ $(status old-stpr-key) == 200 ]] || fail "old-stpr-key refused before the reload"
[[ $(status new-tfl-key) == 401 ]] || fail "new-tfl-key accepted before it was added"
# grep reads all of it (no -q): under pipefail, curl killed by an early-exiting grep fails the test.
curl -s "$base/metrics" | grep -c '^digonce_gateway_api_key_reloads_total{outcome="failed"} 0' >/dev/null ||
  fail "no reloads_total{outcome=\"failed\"} series before the first SIGHUP"
check "the reload counter's series exist from the start (0)"
# A WebSocket handshake with an unknown key in the query: 401 with the same challenge as REST.
curl -si --max-time 5 -H 'Connection: Upgrade' -H 'Upgrade: websocket' \
  -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' \
  "$base/v1/stream?key=nope" >"$work/ws401.txt" || true
grep -q '^HTTP/1.1 401' "$work/ws401.txt" && grep -qi '^WWW-Authenticate: Bearer' "$work/ws401.txt" ||
  fail "stream with an unknown key: $(head -c 400 "$work/ws401.txt")"
check "stream with an unknown key in the query: 401 with WWW-Authenticate"
# A handshake Beast would refuse in plain text is refused in JSON, naming the header, and not
# counted as an opened stream (101).
opened() { metric digonce_gateway_requests_total 'code="101",route="stream"'; }
before=$(opened)
curl -si --max-time 5 -H 'Connection: Upgrade' -H 'Upgrade: websocket' \
  -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' "$base/v1/stream?key=ops-e2e-key" >"$work/ws426.txt" || true
grep -q '^HTTP/1.1 426' "$work/ws426.txt" && grep -qi '^Sec-WebSocket-Version: 13' "$work/ws426.txt" &&
  grep -q '"field":"Sec-WebSocket-Version"' "$work/ws426.txt" ||
  fail "a handshake without Sec-WebSocket-Version: $(head -c 400 "$work/ws426.txt")"
curl -si --max-time 5 -H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' \
  -H 'Sec-WebSocket-Key: short' "$base/v1/stream?key=ops-e2e-key" >"$work/ws400.txt" || true
grep -q '^HTTP/1.1 400' "$work/ws400.txt" && grep -q '"field":"Sec-WebSocket-Key"' "$work/ws400.txt" ||
  fail "a handshake with a bad Sec-WebSocket-Key: $(head -c 400 "$work/ws400.txt")"
# The path comes before the handshake: an upgrade to no stream is 404, whatever its version.
curl -si --max-time 5 -H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 8' \
  -H 'Sec-WebSocket-Key: short' "$base/v1/nowhere?key=ops-e2e-key" >"$work/ws404.txt" || true
grep -q '^HTTP/1.1 404' "$work/ws404.txt" ||
  fail "an upgrade to another path: $(head -c 400 "$work/ws404.txt")"
nohost=$(raw_exchange "$base" 'GET /v1/stream?key=ops-e2e-key HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n')
grep -q '^HTTP/1.1 400' <<<"$nohost" && grep -q '"field":"Host"' <<<"$nohost" ||
  fail "a handshake without Host: $(head -c 400 <<<"$nohost")"
[[ $(opened) == "$before" ]] || fail "refused handshakes were counted as opened streams ($before -> $(opened))"
check "bad handshakes: 426 (Sec-WebSocket-Version: 13), 400 (a bad key, no Host) in JSON naming the header, 404 to another path, not counted as 101"

# Two live streams: one whose key will be revoked, one whose key stays. Each writes what happened
# (the close code and reason, or "open" if it is still open after the wait) to a file.
stream() {  # stream KEY OUT SECONDS
  python3 - "$base" "$1" "$2" "$3" <<'PY' &
import base64, os, socket, struct, sys, time
base, key, out, seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
host, port = base.removeprefix("http://").split(":")
s = socket.create_connection((host, int(port)), timeout=seconds)
s.sendall((f"GET /v1/stream?key={key} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
           f"Connection: Upgrade\r\nSec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n"
           "Sec-WebSocket-Version: 13\r\n\r\n").encode())
buf = b""
while b"\r\n\r\n" not in buf:
    buf += s.recv(4096)
head, buf = buf.split(b"\r\n\r\n", 1)
assert b" 101 " in head.split(b"\r\n")[0], head
open(out + ".ready", "w").close()
def read(n):
    global buf
    while len(buf) < n:
        chunk = s.recv(65536)
        if not chunk:
            raise EOFError
        buf += chunk
    data, buf = buf[:n], buf[n:]
    return data
result = "open"
try:
    while True:
        b0, b1 = read(2)
        n = b1 & 0x7F
        if n == 126: n = struct.unpack(">H", read(2))[0]
        elif n == 127: n = struct.unpack(">Q", read(8))[0]
        payload = read(n)
        if b0 & 0x0F == 0x8:
            result = f"{struct.unpack('>H', payload[:2])[0]} {payload[2:].decode()}"
            break
except (socket.timeout, TimeoutError):
    pass
open(out, "w").write(result)
PY
}
stream old-stpr-key "$work/revoked" 15
revoked_pid=$!
stream ops-e2e-key "$work/kept" 6
kept_pid=$!
for f in revoked kept; do
  for _ in $(seq 1 100); do [[ -e "$work/$f.ready" ]] && break; sleep 0.1; done
  [[ -e "$work/$f.ready" ]] || fail "live stream '$f' did not open"
done
check "two live streams open (old-stpr-key, ops-e2e-key)"

# The new file: old-stpr-key out, new-tfl-key in.
write_keys new-tfl-key TFL promoter ops-e2e-key OPS ops
kill -HUP "$pid"
for _ in $(seq 1 50); do [[ $(status new-tfl-key) == 200 ]] && break; sleep 0.1; done
[[ $(status new-tfl-key) == 200 ]] || fail "new-tfl-key refused after SIGHUP"
[[ $(status old-stpr-key) == 401 ]] || fail "old-stpr-key still accepted after SIGHUP"
grep -q "SIGHUP: API keys reloaded from $keys: 2 keys; 1 live stream(s) closed" "$log" ||
  fail "the log does not report the reload"
check "SIGHUP: new-tfl-key accepted, old-stpr-key refused (401)"
# Both streams end: one closed by the gateway, the other after its wait.
wait "$revoked_pid" || fail "the revoked key's stream client failed"
wait "$kept_pid" || fail "the kept key's stream client failed"
[[ $(cat "$work/revoked") == "1008 API key revoked" ]] ||
  fail "the revoked key's stream ended with '$(cat "$work/revoked")', not 1008 API key revoked"
[[ $(cat "$work/kept") == open ]] || fail "the kept key's stream ended: $(cat "$work/kept")"
check "revoked key's live stream closed (1008 API key revoked); the other left open"

# A file that does not parse: the keys in force stay.
echo "keys: [{key: broken-key-1, org: X, role: nobody}]" >"$keys"
kill -HUP "$pid"
for _ in $(seq 1 50); do grep -q "API keys not reloaded" "$log" && break; sleep 0.1; done
grep -q "SIGHUP: API keys not reloaded, the keys in force stay: .*role" "$log" ||
  fail "a broken key file: no error naming the problem in the log"
[[ $(status new-tfl-key) == 200 ]] || fail "a broken key file took the keys in force away"
[[ $(status broken-key-1) == 401 ]] || fail "a key of the broken file was taken"
[[ $(metric digonce_gateway_api_key_reloads_total 'outcome="ok"') == 1 ]] || fail "reloads ok != 1"
[[ $(metric digonce_gateway_api_key_reloads_total 'outcome="failed"') == 1 ]] ||
  fail "reloads failed != 1"
[[ $(curl -s "$base/metrics" | awk '$1 == "digonce_gateway_api_keys" { print $2 }') == 2 ]] ||
  fail "digonce_gateway_api_keys != 2"
check "broken file refused, keys in force kept: $(grep -o 'API keys not reloaded.*' "$log" | head -n1)"

# An authority key whose org no area has (a typo: 5909 for Westminster's 5990) is taken, with a
# warning naming the org; one whose org is known is not warned of.
write_keys new-tfl-key TFL promoter ops-e2e-key OPS ops typo-auth-key 5909 authority \
  westminster-e2e-key 5990 authority
kill -HUP "$pid"
for _ in $(seq 1 50); do [[ $(status typo-auth-key) == 200 ]] && break; sleep 0.1; done
[[ $(status typo-auth-key) == 200 ]] || fail "the authority key of an unknown org was refused"
grep -q "authority keys of 5909 name no area in .*london-authorities.yaml" "$log" ||
  fail "no warning naming the authority org no area has"
! grep -q "authority keys of .*5990" "$log" || fail "warned of 5990, which has an area"
check "authority key of an org no area has: taken, with a warning: $(grep -o 'authority keys of 5909.*' "$log")"

stop_serve
