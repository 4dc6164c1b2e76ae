#!/usr/bin/env python3
"""Writes a deterministic stream of work events along real London streets, for the stream tests.

Works follow the road links of ../shared/data/london/os-highways-roadlinks-clerkenwell.json (a run
of consecutive vertices of one link, or a point on it); the stream mixes new works, updates (new
dates, a new stretch of street, a completion) with increasing versions, and cancels; with
--restrictions, some new works are Section 58 restrictions.

    gen_stream.py --roads ROADS.json --events 50000 --seed 1 --out events.ndjson [--kcat]

--kcat writes "work_ref<TAB>json" lines (kcat -K '\\t'); otherwise NDJSON (digonce detect).
"""
import argparse
import datetime
import json
import random
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--roads", required=True)
    ap.add_argument("--events", type=int, default=50000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--years", type=float, default=12.0, help="span of start dates")
    ap.add_argument("--prefix", default="RW")
    ap.add_argument("--out", required=True)
    ap.add_argument("--kcat", action="store_true")
    ap.add_argument("--bad-every", type=int, default=0,
                    help="also write a broken record after every N events (BAD-n keys)")
    ap.add_argument("--restrictions", type=float, default=0.0,
                    help="the share of new works that are Section 58 restrictions")
    a = ap.parse_args()

    with open(a.roads) as f:
        roads = json.load(f)["roads"]
    lines = []
    for r in roads:
        g = r["geometry"]
        parts = g["coordinates"] if g["type"] == "MultiLineString" else [g["coordinates"]]
        for p in parts:
            if len(p) >= 2:
                lines.append((r["properties"].get("roadname") or "", p))
    rng = random.Random(a.seed)
    promoters = ["STPR", "TW", "UKPN", "SGN", "BT", "VM", "CADENT", "TFL"]
    categories = ["standard"] * 6 + ["minor"] * 3 + ["major", "immediate_urgent", "paa"]
    base = datetime.datetime(2027, 1, 1, tzinfo=datetime.timezone.utc)

    def geometry():
        _, p = rng.choice(lines)
        if rng.random() < 0.2:
            x, y = rng.choice(p)
            return {"type": "Point", "coordinates": [round(x, 7), round(y, 7)]}
        i = rng.randrange(0, len(p) - 1)
        j = rng.randrange(i + 1, min(len(p), i + 6))
        return {"type": "LineString", "coordinates": [[round(x, 7), round(y, 7)] for x, y in p[i:j + 1]]}

    def dates():
        start = base + datetime.timedelta(days=rng.uniform(0, 365 * a.years))
        start = start.replace(microsecond=0)
        end = start + datetime.timedelta(days=rng.uniform(0.5, 45))
        if rng.random() < 0.5:
            return start.date().isoformat(), end.date().isoformat()
        return start.strftime("%Y-%m-%dT%H:%M:%SZ"), end.strftime("%Y-%m-%dT%H:%M:%SZ")

    bad_kinds = [
        lambda n: "{not json",
        lambda n: json.dumps({"work_ref": f"BAD-{n}", "promoter": "TW"}),  # no geometry
        lambda n: json.dumps({"work_ref": f"BAD-{n}", "promoter": "TW", "start": "2027-05-02",
                              "end": "2027-05-01",
                              "geometry": {"type": "Point", "coordinates": [-0.1, 51.5]}}),
        lambda n: json.dumps({"work_ref": f"BAD-{n}", "promoter": "TW", "start": "2027-05-01",
                              "end": "2027-05-02",
                              "geometry": {"type": "Point", "coordinates": [151.2, -33.9]}}),
        lambda n: json.dumps({"work_ref": f"BAD-{n}", "promoter": "TW", "crs": "EPSG:999999",
                              "start": "2027-05-01", "end": "2027-05-02",
                              "geometry": {"type": "Point", "coordinates": [1, 2]}}),
    ]
    bad = 0
    live = {}  # work_ref -> event
    refs = []
    n = 0
    with open(a.out, "w") as out:
        for _ in range(a.events):
            u = rng.random()
            if refs and u < 0.25:  # an update of a live work
                ref = rng.choice(refs)
                e = dict(live[ref])
                e["version"] += 1
                v = rng.random()
                if v < 0.5:
                    e["start"], e["end"] = dates()
                elif v < 0.8:
                    e["geometry"] = geometry()
                elif v < 0.9:
                    e["status"] = "in_progress"
                else:
                    e["status"] = "completed"
                if e.get("status") == "completed":
                    refs.remove(ref)
                    del live[ref]
                else:
                    live[ref] = e
            elif refs and u < 0.33:  # a cancel
                ref = rng.choice(refs)
                refs.remove(ref)
                w = live.pop(ref)
                e = {"work_ref": ref, "promoter": w["promoter"], "event": "cancel",
                     "version": w["version"] + 1}
            else:
                n += 1
                ref = f"{a.prefix}-{a.seed}-{n:07d}"
                s, t = dates()
                e = {"work_ref": ref, "promoter": rng.choice(promoters), "version": 1,
                     "geometry": geometry(), "start": s, "end": t,
                     "category": rng.choice(categories)}
                # (Drawn only when asked for, so that the streams without are as they were.)
                if a.restrictions and rng.random() < a.restrictions:
                    del e["category"]
                    e["kind"] = "section58"
                live[ref] = e
                refs.append(ref)
            line = json.dumps(e, separators=(",", ":"))
            out.write(f"{e['work_ref']}\t{line}\n" if a.kcat else line + "\n")
            if a.bad_every and (_ + 1) % a.bad_every == 0:
                bad += 1
                text = bad_kinds[bad % len(bad_kinds)](bad)
                out.write(f"BAD-{bad}\t{text}\n" if a.kcat else text + "\n")
    print(f"{a.events} events, {n} works, {len(live)} live at the end, {bad} broken records",
          file=sys.stderr)


if __name__ == "__main__":
    main()
