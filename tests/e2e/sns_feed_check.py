#!/usr/bin/env python3
"""Drives POST /v1/feeds/streetmanager of a running `digonce serve` as Amazon SNS would.

Plays SNS's part on loopback: an RSA key and a self-signed certificate made with the openssl
command, served at a SigningCertURL on 127.0.0.1 together with a SubscribeURL; messages signed
as SNS signs them (SignatureVersion 1: SHA1, 2: SHA256, over the fields in AWS's order).
Checks: a signed SubscriptionConfirmation is confirmed (SubscribeURL fetched once); a signed
Street Manager permit notification is accepted (202) and becomes a live work; a tampered
message, a certificate on a host that is not allowed and an unknown topic are refused (403);
a certificate that cannot be fetched is answered 503 (SNS retries 5xx
only); credentials are required (401, Basic challenge) and only feed or ops keys may post (403); a
feed key may do nothing else (403); a signed notification that does not parse is still taken
(202, "valid": false) so that ingest can keep it in works.rejected.
Usage: sns_feed_check.py --base http://127.0.0.1:PORT --data SHARED_DATA --work DIR
The server's config must allow 127.0.0.1 as certificate and subscribe host (allow_http) and the
topic arn:aws:sns:eu-west-2:000000000000:street-manager-test.
"""
import argparse
import base64
import copy
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

p = argparse.ArgumentParser()
p.add_argument("--base", required=True)
p.add_argument("--data", required=True)
p.add_argument("--work", required=True)
p.add_argument("--no-topics", action="store_true",
               help="the gateway's topic_arns is empty: every signed message must be refused")
args = p.parse_args()

TOPIC = "arn:aws:sns:eu-west-2:000000000000:street-manager-test"
key_pem, cert_pem = os.path.join(args.work, "key.pem"), os.path.join(args.work, "cert.pem")
if not os.path.exists(cert_pem):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-keyout", key_pem, "-out",
                    cert_pem, "-nodes", "-subj", "/CN=sns.local", "-days", "2"], check=True,
                   capture_output=True)
confirmations = []


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.startswith("/slow-cert.pem"):  # a certificate host that keeps SNS waiting
            time.sleep(1.5)
            body = open(cert_pem, "rb").read()
        elif self.path.startswith("/cert.pem"):
            body = open(cert_pem, "rb").read()
        elif self.path.startswith("/confirm"):
            confirmations.append(self.path)
            body = b"<ConfirmSubscriptionResponse/>"
        else:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
port = server.server_address[1]


def sign(m):
    fields = (["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
              if m["Type"] == "Notification" else
              ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"])
    text = "".join(f"{f}\n{m[f]}\n" for f in fields if f in m)
    digest = "-sha1" if m["SignatureVersion"] == "1" else "-sha256"
    sig = subprocess.run(["openssl", "dgst", digest, "-sign", key_pem], input=text.encode(),
                         check=True, capture_output=True).stdout
    m["Signature"] = base64.b64encode(sig).decode()
    return m


def post(body, key="dev-feed-key", basic=True):
    headers = {"Content-Type": "text/plain; charset=UTF-8", "x-amz-sns-message-type": body.get("Type", "")}
    if key:
        headers["Authorization"] = ("Basic " + base64.b64encode(f"sns:{key}".encode()).decode()
                                    if basic else f"Bearer {key}")
    req = urllib.request.Request(args.base + "/v1/feeds/streetmanager", json.dumps(body).encode(),
                                 headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status, json.loads(r.read() or b"{}"), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}"), dict(e.headers)


def ok(what):
    print("ok:", what, flush=True)


cert_url = f"http://127.0.0.1:{port}/cert.pem"
confirm = sign({"Type": "SubscriptionConfirmation", "MessageId": "m-1", "Token": "tok-123",
                "TopicArn": TOPIC, "Message": "You have chosen to subscribe to the topic " + TOPIC,
                "SubscribeURL": f"http://127.0.0.1:{port}/confirm?Action=ConfirmSubscription&Token=tok-123",
                "Timestamp": "2026-11-29T10:00:00.000Z", "SignatureVersion": "2",
                "SigningCertURL": cert_url})
if args.no_topics:
    # No topic listed: a valid signature proves SNS sent it, not whose topic it is.
    status, body, _ = post(confirm)
    assert status == 403 and body.get("field") == "TopicArn" and "lists no topic" in body["error"], (status, body)
    assert not confirmations, confirmations
    permit = json.load(open(os.path.join(args.data, "streetmanager/permit_notification_message.json")))
    note = sign({"Type": "Notification", "MessageId": "m-2", "TopicArn": TOPIC,
                 "Message": json.dumps(permit), "Timestamp": "2026-11-29T10:00:01.000Z",
                 "SignatureVersion": "1", "SigningCertURL": cert_url})
    status, body, _ = post(note)
    assert status == 403 and body.get("field") == "TopicArn", (status, body)
    ok(f"topic_arns empty: a signed confirmation and notification refused, none confirmed: {body['error']}")
    sys.exit(0)
status, body, _ = post(confirm)
assert status == 200 and body.get("confirmed") is True, (status, body)
assert len(confirmations) == 1 and "Token=tok-123" in confirmations[0], confirmations
ok(f"SubscriptionConfirmation (SignatureVersion 2) confirmed: {body}; SubscribeURL fetched once")

permit = json.load(open(os.path.join(args.data, "streetmanager/permit_notification_message.json")))
note = sign({"Type": "Notification", "MessageId": "m-2", "TopicArn": TOPIC,
             "Message": json.dumps(permit), "Timestamp": "2026-11-29T10:00:01.000Z",
             "SignatureVersion": "1", "SigningCertURL": cert_url})
status, body, _ = post(note)
assert status == 202 and body.get("valid") is True and body.get("work_ref"), (status, body)
ref = body["work_ref"]
ok(f"signed permit notification (SignatureVersion 1) accepted: {body}")
for _ in range(200):
    req = urllib.request.Request(f"{args.base}/v1/works/{ref}",
                                 headers={"Authorization": "Bearer dev-ops-key"})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            work = json.loads(r.read())
            break
    except urllib.error.HTTPError:
        time.sleep(0.1)
else:
    sys.exit(f"FAIL: {ref} never became a live work")
assert work["promoter"] == "STPR", work
ok(f"{ref} is a live work at GET /v1/works/{ref} (promoter {work['promoter']})")

tampered = copy.deepcopy(note)
tampered["Message"] = tampered["Message"].replace("HIGH STREET NORTH", "LOW STREET SOUTH")
status, body, _ = post(tampered)
assert status == 403 and body.get("field") == "Signature", (status, body)
ok(f"tampered message refused: {status} {body['error']}")

elsewhere = sign(dict(copy.deepcopy(note), SigningCertURL=f"http://localhost:{port}/cert.pem"))
status, body, _ = post(elsewhere)
assert status == 403 and body.get("field") == "SigningCertURL", (status, body)
ok(f"certificate on a host not allowed refused: {body['error']}")

unreachable = sign(dict(copy.deepcopy(note), SigningCertURL="http://127.0.0.1:1/cert.pem"))
status, body, _ = post(unreachable)
assert status == 503 and body.get("field") == "SigningCertURL", (status, body)
ok(f"certificate that cannot be fetched: 503 (SNS retries a 5xx): {body['error']}")

other = sign(dict(copy.deepcopy(note), TopicArn="arn:aws:sns:eu-west-2:1:someone-else"))
status, body, _ = post(other)
assert status == 403 and body.get("field") == "TopicArn", (status, body)
ok(f"unknown topic refused: {body['error']}")

status, body, headers = post(note, key=None)
assert status == 401 and headers.get("WWW-Authenticate", "").startswith("Basic"), (status, headers)
ok("no credentials: 401 with a Basic challenge")
status, body, _ = post(note, key="dev-stpr-key", basic=False)
assert status == 403, (status, body)
ok(f"a promoter key: 403 {body['error']}")
req = urllib.request.Request(args.base + "/v1/alerts", headers={"Authorization": "Bearer dev-feed-key"})
try:
    urllib.request.urlopen(req, timeout=5)
    sys.exit("FAIL: a feed key read /v1/alerts")
except urllib.error.HTTPError as e:
    assert e.code == 403, e.code
ok("a feed key may not read /v1/alerts (403)")

broken = json.loads(json.dumps(permit))
broken["object_data"]["works_location_coordinates"] = "LINESTRING(nonsense)"
broken["object_data"]["work_reference_number"] = "TSR-BROKEN-1"
bad = sign({"Type": "Notification", "MessageId": "m-3", "TopicArn": TOPIC,
            "Message": json.dumps(broken), "Timestamp": "2026-11-29T10:00:02.000Z",
            "SignatureVersion": "2", "SigningCertURL": cert_url})
status, body, _ = post(bad)
assert status == 202 and body.get("valid") is False and "error" in body, (status, body)
ok(f"a signed notification that does not parse is taken for works.rejected: {body}")

# At most feeds.streetmanager.max_waiting (2 in this test's config) messages wait for the feed's
# thread; while a slow certificate host holds it, more are answered 503 with Retry-After, and
# those that waited are still taken.
results = []


def send(i):
    m = sign(dict(copy.deepcopy(note), MessageId=f"m-slow-{i}",
                  SigningCertURL=f"http://127.0.0.1:{port}/slow-cert.pem?n={i}"))
    results.append(post(m))


threads = [threading.Thread(target=send, args=(i,)) for i in range(6)]
for t in threads:
    t.start()
    time.sleep(0.05)
for t in threads:
    t.join()
busy = [(s, b, h) for s, b, h in results if s == 503]
taken = [(s, b) for s, b, _ in results if s == 202]
assert len(results) == 6 and busy and len(taken) >= 2 and len(busy) + len(taken) == 6, \
    [(s, b) for s, b, _ in results]
for s_, b, h in busy:
    assert "max_waiting" in b.get("error", "") and h.get("Retry-After") == "5", (s_, b, h)
ok(f"a full feed queue: {len(busy)} of 6 answered 503 with Retry-After ({busy[0][1]['error']}), "
   f"{len(taken)} taken")
print("PASS")
