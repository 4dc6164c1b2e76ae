#!/usr/bin/env python3
"""docs/openapi.yaml against a running `digonce serve`.

1. The file is a valid OpenAPI 3.1 document (openapi-spec-validator).
2. Two clashing works are submitted, so that every list has something in it.
3. Every operation in the file is called (ops key, path parameters filled in, a bad body where
   one is needed): the status must be one the file documents for that operation, never the
   router's 404 or a 405; a JSON body must validate against the schema documented for that
   status (jsonschema, JSON Schema 2020-12, the file's $refs inlined).
4. Every /v1/ path the gateway serves is in the file.
Usage: openapi_check.py --base http://127.0.0.1:PORT --spec docs/openapi.yaml
"""
import argparse
import json
import sys
import time
import urllib.error
import urllib.request

import jsonschema
import yaml
from openapi_spec_validator import validate

p = argparse.ArgumentParser()
p.add_argument("--base", required=True)
p.add_argument("--spec", required=True)
args = p.parse_args()

spec = yaml.safe_load(open(args.spec))
validate(spec)
print("ok: docs/openapi.yaml is a valid OpenAPI", spec["openapi"], "document")


def inline(node, seen=()):
    """The schema with every local $ref replaced by what it points to."""
    if isinstance(node, dict):
        if "$ref" in node:
            ref = node["$ref"]
            assert ref.startswith("#/"), ref
            target = spec
            for part in ref[2:].split("/"):
                target = target[part]
            if ref in seen:
                return {}
            return inline(target, seen + (ref,))
        return {k: inline(v, seen) for k, v in node.items()}
    if isinstance(node, list):
        return [inline(v, seen) for v in node]
    return node


def call(method, path, body=None, key="dev-ops-key"):
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    req = urllib.request.Request(args.base + path, body.encode() if body is not None else None,
                                 headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status, r.read().decode(), r.headers.get("Content-Type", "")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), e.headers.get("Content-Type", "")


def work(ref, promoter, coords, start, end):
    return json.dumps({"work_ref": ref, "promoter": promoter, "start": start, "end": end,
                       "geometry": {"type": "LineString", "coordinates": coords}})


for w in [work("OAS-A", "STPR", [[-0.12700, 51.50300], [-0.12650, 51.50400]], "2026-03-16", "2026-03-20"),
          work("OAS-B", "TFL", [[-0.12697, 51.50302], [-0.12647, 51.50402]], "2026-03-18", "2026-03-25")]:
    status, body, _ = call("POST", "/v1/works", w)
    assert status == 202, (status, body)
for _ in range(300):
    status, body, _ = call("GET", "/v1/alerts?state=open")
    if status == 200 and json.loads(body)["alerts"]:
        break
    time.sleep(0.1)
else:
    sys.exit("FAIL: the clash never appeared")
print("ok: two clashing works submitted; the clash is at GET /v1/alerts")

# What each operation is called with: (path, body) per (template, method).
calls = {
    ("/v1/works", "post"): ("/v1/works", "{}"),
    ("/v1/works", "get"): ("/v1/works?bbox=-0.2,51.4,0.0,51.6&from=2026-01-01&to=2026-12-31", None),
    ("/v1/works/{work_ref}", "get"): ("/v1/works/OAS-A", None),
    ("/v1/works/{work_ref}", "delete"): ("/v1/works/OAS-NO-SUCH-WORK", None),
    ("/v1/alerts", "get"): ("/v1/alerts?state=open&authority=5990", None),
    ("/v1/areas", "get"): ("/v1/areas", None),
    ("/v1/stream", "get"): ("/v1/stream", None),
    ("/v1/feeds/streetmanager", "post"): ("/v1/feeds/streetmanager", "{}"),
    ("/healthz", "get"): ("/healthz", None),
    ("/metrics", "get"): ("/metrics", None),
}
checked = 0
for template, item in spec["paths"].items():
    for method, op in item.items():
        if method == "parameters":
            continue
        assert (template, method) in calls, f"no call for {method.upper()} {template}: add one"
        path, body = calls[(template, method)]
        status, text, ctype = call(method.upper(), path, body)
        documented = op["responses"]
        assert str(status) in documented, \
            f"{method.upper()} {path}: {status} is not documented ({sorted(documented)}): {text[:200]}"
        assert status != 405, f"{method.upper()} {path}: 405"
        if status == 404:
            assert "no such API path" not in text, f"{method.upper()} {path}: not routed"
        response = inline(documented[str(status)])
        content = response.get("content", {})
        if "application/json" in content and ctype.startswith("application/json"):
            schema = content["application/json"]["schema"]
            jsonschema.Draft202012Validator(schema).validate(json.loads(text))
        checked += 1
        print(f"ok: {method.upper()} {path} -> {status}, body as documented")

# A plain GET of the stream: 426 says which protocol (RFC 9110 15.5.22).
try:
    urllib.request.urlopen(urllib.request.Request(args.base + "/v1/stream"), timeout=20)
    sys.exit("FAIL: GET /v1/stream without an upgrade was answered 2xx")
except urllib.error.HTTPError as e:
    assert e.code == 426 and e.headers.get("Upgrade") == "websocket", (e.code, dict(e.headers))
print("ok: GET /v1/stream without an upgrade -> 426 with Upgrade: websocket")

# Every list's items, validated one by one (a list may be empty above).
alerts = json.loads(call("GET", "/v1/alerts")[1])["alerts"]
alert_schema = inline(spec["components"]["schemas"]["Alert"])
for a in alerts:
    jsonschema.Draft202012Validator(alert_schema).validate(a)
works = json.loads(call("GET", "/v1/works")[1])["works"]
work_schema = inline(spec["components"]["schemas"]["WorkEvent"])
for w in works:
    jsonschema.Draft202012Validator(work_schema).validate(w)
assert alerts and works
areas = json.loads(call("GET", "/v1/areas")[1])["features"]
assert len(areas) == 33 and {"code": "5990", "name": "Westminster"} in [a["properties"] for a in areas], \
    [a["properties"] for a in areas][:3]
print(f"ok: GET /v1/areas: {len(areas)} areas, Westminster (5990) among them")
print(f"ok: {len(alerts)} alert(s) and {len(works)} work(s) validate against their schemas")

# Paths the gateway serves that the file must hold.
served = {"/v1/works", "/v1/works/{work_ref}", "/v1/alerts", "/v1/areas", "/v1/stream",
          "/v1/feeds/streetmanager", "/healthz", "/metrics"}
missing = served - set(spec["paths"])
assert not missing, f"not in docs/openapi.yaml: {missing}"
print(f"PASS: {checked} operations checked")
