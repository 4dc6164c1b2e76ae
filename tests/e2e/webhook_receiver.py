#!/usr/bin/env python3
"""A webhook endpoint for the notifier's end-to-end test.

Listens on 127.0.0.1 (a free port, written to --port-file), appends every request it gets to
--log as one JSON line (path, headers, body, the status it answered), and answers by path:
  /flaky   503 to the first --fail-first requests, then 200
  /ok      200
  /reject  400 (a permanent refusal: the notifier must not retry it)
  /chaos   503 at random to --chaos-fail (a fraction) of the requests, else 200
With --tls-cert and --tls-key it speaks https. Stops after --seconds.
"""
import argparse
import json
import random
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

parser = argparse.ArgumentParser()
parser.add_argument("--port-file", required=True)
parser.add_argument("--log", required=True)
parser.add_argument("--fail-first", type=int, default=2)
parser.add_argument("--seconds", type=float, default=300)
parser.add_argument("--chaos-fail", type=float, default=0.1)
parser.add_argument("--seed", type=int, default=1)
parser.add_argument("--tls-cert")
parser.add_argument("--tls-key")
args = parser.parse_args()

lock = threading.Lock()
rng = random.Random(args.seed)
flaky_seen = 0


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        global flaky_seen
        body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
        with lock:
            if self.path == "/flaky":
                flaky_seen += 1
                status = 503 if flaky_seen <= args.fail_first else 200
            elif self.path == "/ok":
                status = 200
            elif self.path == "/chaos":
                status = 503 if rng.random() < args.chaos_fail else 200
            else:
                status = 400
            with open(args.log, "a") as f:
                f.write(json.dumps({"path": self.path, "headers": dict(self.headers.items()),
                                    "body": body, "status": status}) + "\n")
        answer = b'{"received":true}' if status == 200 else b"not now"
        self.send_response(status)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *a):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
if args.tls_cert:
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(args.tls_cert, args.tls_key)
    server.socket = tls.wrap_socket(server.socket, server_side=True)
with open(args.port_file, "w") as f:
    f.write(str(server.server_address[1]))
threading.Timer(args.seconds, server.shutdown).start()
server.serve_forever()
