#!/usr/bin/env bash
# End to end through `digonce serve` (embedded broker): the Street Manager feed endpoint as
# Amazon SNS drives it (tests/e2e/sns_feed_check.py has the list of checks); and, on the same
# server, a request whose body stops short of its Content-Length answered 408 after
# http.body_timeout_s, and one too large sent whole answered 413. Needs python3 and the openssl
# command.
#
#   DIGONCE_BIN=build/bin/digonce tests/e2e/serve_streetmanager_feed.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
data="$(shared_data_dir)" || fail "shared data not found (set DIGONCE_SHARED_DATA)"
cat >"$work/config.yaml" <<YAML
boundaries: $root/config/london-authorities.yaml
feeds:
  streetmanager:
    cert_hosts: ["127.0.0.1"]
    subscribe_hosts: ["127.0.0.1"]
    topic_arns: ["arn:aws:sns:eu-west-2:000000000000:street-manager-test"]
    allow_http: true
    max_waiting: 2
http:
  body_timeout_s: 2
YAML
start_serve --config "$work/config.yaml"
# A body that stops short: 408 naming what came, after the 2 s, and the connection closed.
python3 - "$base" <<'PY' || fail "a body short of its Content-Length"
import socket, sys, time
host, port = sys.argv[1].removeprefix("http://").split(":")
s = socket.create_connection((host, int(port)), timeout=30)
s.sendall(b"POST /v1/works HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer dev-ops-key\r\n"
          b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"work_ref\"")
started, answer = time.time(), b""
while chunk := s.recv(4096):
    answer += chunk
took = time.time() - started
head, _, body = answer.decode().partition("\r\n\r\n")
assert head.startswith("HTTP/1.1 408 "), answer
assert "Connection: close" in head, head
assert "within 2 s (http.body_timeout_s): 11 bytes of the 100" in body, body
assert 1.5 < took < 10, took
print(f"ok: a body short of its Content-Length: 408 after {took:.1f} s: {body}")
PY
# A client that sends the whole of a body too large (20 MB) before it reads still gets its 413:
# the server reads and drops the rest before it closes (closing with unread data would reset
# the connection, and the answer with it).
python3 - "$base" <<'PY' || fail "a 20 MB body sent whole before reading"
import socket, sys
host, port = sys.argv[1].removeprefix("http://").split(":")
s = socket.create_connection((host, int(port)), timeout=30)
size = 20_000_000
s.sendall(b"POST /v1/works HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer dev-ops-key\r\n"
          b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % size)
s.sendall(b"a" * size)
answer = b""
while chunk := s.recv(4096):
    answer += chunk
head, _, body = answer.decode().partition("\r\n\r\n")
assert head.startswith("HTTP/1.1 413 "), answer
print(f"ok: a 20 MB body sent whole, then read: {head.splitlines()[0]}")
PY
python3 "$root/tests/e2e/sns_feed_check.py" --base "$base" --data "$data" --work "$work" ||
  fail "feed checks failed"
stop_serve
# Without topic_arns (signatures checked, as by default) no topic's message is taken.
grep -v topic_arns "$work/config.yaml" >"$work/no-topics.yaml"
rm -rf "$work/data"
start_serve --config "$work/no-topics.yaml"
python3 "$root/tests/e2e/sns_feed_check.py" --base "$base" --data "$data" --work "$work" --no-topics ||
  fail "feed checks without topic_arns failed"
stop_serve
