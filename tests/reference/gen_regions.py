#!/usr/bin/env python3
"""Writes work-event streams for the reference check (tests/reference/README.md), one per region.

Each region has its own metric CRS (the `--crs` that `digonce detect` is run with) and a street
network: London uses the real OS Highways links of Clerkenwell, the others a synthetic grid of
streets laid out in the region's metric CRS. A stream first creates works, then mixes:
reschedules, moves, completions, reopenings, cancels, revivals after a cancel, category changes,
stale events (a lower version than the one held: must be ignored), events without a version,
Section 58 restrictions, and pairs placed exactly at the distance and time limits. Geometries are
written in several CRSs per region (the metric one, EPSG:4326, EPSG:3857), times as bare dates,
UTC, with offsets and with fractions of a second. A few broken lines carry `"_expect": "reject"`
(the contract keeps and ignores unknown fields; the reference skips them).

    gen_regions.py --out DIR [--works 600] [--events 3000] [--seed 7] [--roads ROADS.json]

writes DIR/<region>.ndjson and DIR/regions.json ([{"name", "crs", "file"}]).
"""
import argparse
import datetime as dt
import json
import math
import os
import random

from pyproj import CRS, Transformer

REGIONS = [
    # name, metric CRS, centre (lon, lat), extra input CRS
    ("london", "EPSG:27700", (-0.1050, 51.5230), "EPSG:3857"),
    ("manchester", "EPSG:27700", (-2.2440, 53.4800), "EPSG:3857"),
    ("paris", "EPSG:2154", (2.3522, 48.8566), "EPSG:3857"),
    ("amsterdam", "EPSG:28992", (4.9041, 52.3676), "EPSG:4326"),
    # Another datum as input (ETRS89, Irish Grid on TM65, Swiss LV03 on CH1903), and a southern
    # and eastern hemisphere.
    ("berlin", "EPSG:25833", (13.4050, 52.5200), "EPSG:4258"),
    ("dublin", "EPSG:2157", (-6.2603, 53.3498), "EPSG:29903"),
    ("zurich", "EPSG:2056", (8.5417, 47.3769), "EPSG:21781"),
    ("auckland", "EPSG:2193", (174.7633, -36.8485), "EPSG:4326"),
]
UTC = dt.timezone.utc
BASE = dt.datetime(2027, 1, 1, tzinfo=UTC)
PROMOTERS = ["STPR", "TW", "UKPN", "SGN", "BT", "VM", "CADENT", "TFL"]
CATEGORIES = ["standard"] * 6 + ["minor"] * 3 + ["major", "paa", "immediate_urgent"]


class Region:
    def __init__(self, name, crs, centre, extra_crs, rng, roads_file):
        self.name, self.crs, self.extra_crs, self.rng = name, crs, extra_crs, rng
        self.to_metric = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
        self.from_metric = {
            c: Transformer.from_crs(crs, c, always_xy=True) for c in ("EPSG:4326", extra_crs)
        }
        self.geographic = {c for c in ("EPSG:4326", extra_crs) if CRS(c).is_geographic}
        cx, cy = self.to_metric.transform(*centre)
        self.streets = []  # polylines in the metric CRS
        if name == "london" and roads_file:
            with open(roads_file) as f:
                for r in json.load(f)["roads"]:
                    g = r["geometry"]
                    parts = g["coordinates"] if g["type"] == "MultiLineString" else [g["coordinates"]]
                    for p in parts:
                        if len(p) >= 2:
                            self.streets.append([self.to_metric.transform(x, y) for x, y in p])
        else:
            # A grid of streets 90 m apart over 1.5 km, turned by a random angle, and diagonals.
            a = rng.uniform(0, math.pi / 2)
            ca, sa = math.cos(a), math.sin(a)

            def rot(u, v):
                return (cx + u * ca - v * sa, cy + u * sa + v * ca)

            half = 750
            for k in range(-8, 9):
                u = k * 90.0
                self.streets.append([rot(u, v) for v in range(-half, half + 1, 50)])
                self.streets.append([rot(v, u) for v in range(-half, half + 1, 50)])
            for k in range(-3, 4):
                self.streets.append([rot(t + k * 200.0, t) for t in range(-600, 601, 60)])

    def point_on_street(self):
        s = self.rng.choice(self.streets)
        i = self.rng.randrange(len(s) - 1)
        t = self.rng.random()
        (x0, y0), (x1, y1) = s[i], s[i + 1]
        return s, i, (x0 + t * (x1 - x0), y0 + t * (y1 - y0))

    def geometry_metric(self):
        """A geometry in the metric CRS: (GeoJSON type, coordinates)."""
        r = self.rng.random()
        s, i, p = self.point_on_street()
        if r < 0.25:
            return "Point", list(p)
        if r < 0.80:
            j = min(len(s) - 1, i + self.rng.randint(1, 3))
            pts = [list(p)] + [list(q) for q in s[i + 1:j + 1]]
            if len(pts) < 2:
                pts.append([p[0] + 12.0, p[1] + 5.0])
            return "LineString", pts
        if r < 0.90:
            w, h = self.rng.uniform(4, 30), self.rng.uniform(3, 12)
            x, y = p
            ring = [[x, y], [x + w, y], [x + w, y + h], [x, y + h], [x, y]]
            return "Polygon", [ring]
        if r < 0.95:
            _, _, q = self.point_on_street()
            return "MultiPoint", [list(p), list(q)]
        _, _, q = self.point_on_street()
        return "MultiLineString", [[list(p), [p[0] + 10, p[1]]], [list(q), [q[0], q[1] + 10]]]

    def encode(self, gtype, coords, crs):
        """The geometry in `crs` ({"type", "coordinates"}), with the `crs` member to write."""
        def conv(c):
            if isinstance(c[0], (int, float)):
                if crs == self.crs:
                    return [round(c[0], 3), round(c[1], 3)]
                x, y = self.from_metric[crs].transform(c[0], c[1])
                return [round(x, 9), round(y, 9)] if crs in self.geographic else [round(x, 4), round(y, 4)]
            return [conv(v) for v in c]
        return {"type": gtype, "coordinates": conv(coords)}


def fmt_time(t, rng):
    """One of the contract's spellings of t (a UTC datetime)."""
    r = rng.random()
    if r < 0.55:
        return t.strftime("%Y-%m-%dT%H:%M:%SZ")
    if r < 0.75:
        off = dt.timezone(dt.timedelta(hours=rng.choice([1, 2, -5, 5.5])))
        return t.astimezone(off).isoformat()
    return t.strftime("%Y-%m-%dT%H:%M:%S") + ".%03dZ" % (t.microsecond // 1000)


def make_dates(rng):
    """(written start, written end): bare dates a quarter of the time."""
    if rng.random() < 0.25:
        d0 = (BASE + dt.timedelta(days=rng.randrange(0, 365))).date()
        d1 = d0 + dt.timedelta(days=rng.randrange(0, 30))
        return d0.isoformat(), d1.isoformat()
    s = BASE + dt.timedelta(seconds=rng.randrange(0, 365 * 86400))
    if rng.random() < 0.2:
        s = s.replace(microsecond=rng.randrange(0, 1000) * 1000)
    e = s + dt.timedelta(seconds=rng.randrange(3600, 30 * 86400))
    return fmt_time(s, rng), fmt_time(e, rng)


def broken(ref, promoter, region, rng):
    """A line that breaks the contract (section 1) for `ref`."""
    _, _, p = region.point_on_street()
    lon, lat = region.from_metric["EPSG:4326"].transform(*p)
    good = {"work_ref": ref, "promoter": promoter, "_expect": "reject",
            "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "start": "2027-05-01", "end": "2027-05-02"}
    kind = rng.randrange(9)
    if kind == 0:
        return '{"work_ref": "' + ref + '", "promoter": '  # not JSON
    if kind == 1:
        good.update(start="2027-05-02", end="2027-05-01")  # end before start
    elif kind == 2:
        del good["promoter"]
    elif kind == 3:
        good["version"] = -1
    elif kind == 4:
        good["crs"] = "EPSG:999999"  # no such CRS
    elif kind == 5:
        good["geometry"]["coordinates"] = [151.2, -33.9]  # Sydney: outside the area of use
    elif kind == 6:
        good["geometry"] = {"type": "LineString", "coordinates": []}  # empty
    elif kind == 7:
        good["crs"] = region.crs  # degrees labelled with the region's projected CRS
    else:
        good["start"] = "2027-13-01"  # no such month
    return json.dumps(good)


def stream(region, n_works, n_events, rng):
    lines = []
    works = {}  # ref -> dict(version or None, geometry (type, coords), start, end, ...)

    def emit(ref, w, event="upsert", version="keep"):
        rec = {"work_ref": ref, "promoter": w["promoter"]}
        if event == "cancel":
            rec["event"] = "cancel"
        v = w["version"] if version == "keep" else version
        if v is not None:
            rec["version"] = v
        if event != "cancel":
            crs = rng.choice([region.crs, "EPSG:4326", region.extra_crs])
            rec["geometry"] = region.encode(w["gtype"], w["coords"], crs)
            if crs != "EPSG:4326" or rng.random() < 0.3:
                rec["crs"] = crs
            rec["start"], rec["end"] = w["start_text"], w["end_text"]
            if w["category"] != "standard" or rng.random() < 0.2:
                rec["category"] = w["category"]
            if w["status"] != "planned" or rng.random() < 0.1:
                rec["status"] = w["status"]
            if w["kind"] != "work":
                rec["kind"] = w["kind"]
            rec["street_name"] = "Street " + str(rng.randrange(100))
        lines.append(json.dumps(rec, separators=(",", ":")))

    def new_work(ref, kind="work"):
        gtype, coords = region.geometry_metric()
        st, et = make_dates(rng)
        w = {
            "promoter": rng.choice(PROMOTERS), "version": 1 if rng.random() < 0.8 else None,
            "gtype": gtype, "coords": coords, "start_text": st, "end_text": et,
            "category": rng.choice(CATEGORIES), "status": "planned", "kind": kind,
        }
        works[ref] = w
        return w

    prefix = region.name[:3].upper()
    for i in range(n_works):
        ref = f"{prefix}-{i:05d}"
        w = new_work(ref, "section58" if rng.random() < 0.04 else "work")
        emit(ref, w)
    # Pairs exactly at the limits, all in the metric CRS (no reprojection: the distances are exact).
    for i in range(20):
        ref_a, ref_b = f"{prefix}-LIM{i:03d}A", f"{prefix}-LIM{i:03d}B"
        _, _, p = region.point_on_street()
        x, y = round(p[0], 3), round(p[1], 3)
        gap_s = rng.choice([0, 1, 90 * 86400, 90 * 86400 + 1, -1])
        d = rng.choice([25.0, 25.001, 24.999, 0.0])
        s = BASE + dt.timedelta(days=rng.randrange(0, 200))
        e = s + dt.timedelta(days=3)
        s2 = e + dt.timedelta(seconds=gap_s)
        e2 = s2 + dt.timedelta(days=2)
        for ref, (px, py), (ss, ee) in ((ref_a, (x, y), (s, e)), (ref_b, (x + d, y), (s2, e2))):
            w = {"promoter": "TW", "version": None, "gtype": "Point", "coords": [px, py],
                 "start_text": ss.strftime("%Y-%m-%dT%H:%M:%SZ"),
                 "end_text": ee.strftime("%Y-%m-%dT%H:%M:%SZ"),
                 "category": "standard", "status": "planned", "kind": "work"}
            works[ref] = w
            rec = {"work_ref": ref, "promoter": "TW", "crs": region.crs,
                   "geometry": {"type": "Point", "coordinates": [px, py]},
                   "start": w["start_text"], "end": w["end_text"]}
            lines.append(json.dumps(rec, separators=(",", ":")))

    refs = sorted(r for r in works if "-LIM" not in r)
    cancelled = set()
    for k in range(n_events):
        ref = rng.choice(refs)
        w = works[ref]
        r = rng.random()
        bump = w["version"] is not None
        if r < 0.03:  # a broken line, of one of several kinds; it must change nothing
            lines.append(broken(ref, w["promoter"], region, rng))
            continue
        if ref in cancelled:
            if r < 0.5:  # revived with a higher version (or none)
                if bump:
                    w["version"] += 1
                w["status"] = "planned"
                cancelled.discard(ref)
                emit(ref, w)
            elif bump and w["version"] > 1:  # a stale upsert after the cancel: ignored
                g2 = region.geometry_metric()
                old = dict(w, gtype=g2[0], coords=g2[1])
                emit(ref, old, version=w["version"] - 1)
            continue
        if bump and r < 0.10 and w["version"] > 1:
            # Stale: a lower version with other dates and place; it must change nothing.
            g2 = region.geometry_metric()
            st, et = make_dates(rng)
            old = dict(w, gtype=g2[0], coords=g2[1], start_text=st, end_text=et)
            emit(ref, old, version=w["version"] - rng.randint(1, w["version"] - 1))
            continue
        if bump:
            w["version"] += 1
        if r < 0.35:  # reschedule
            w["start_text"], w["end_text"] = make_dates(rng)
        elif r < 0.55:  # move
            w["gtype"], w["coords"] = region.geometry_metric()
        elif r < 0.62:
            w["status"] = "completed"
        elif r < 0.66:
            w["status"] = "in_progress"
        elif r < 0.70:
            w["status"] = "planned"
        elif r < 0.76 and w["kind"] == "work":
            w["category"] = rng.choice(CATEGORIES + ["immediate_emergency"])
        elif r < 0.86:
            cancelled.add(ref)
            emit(ref, w, event="cancel")
            continue
        else:  # the same event again (a resend)
            if bump:
                w["version"] -= 1
        emit(ref, w)
    return lines


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--works", type=int, default=600)
    ap.add_argument("--events", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--roads")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    manifest = []
    for n, (name, crs, centre, extra) in enumerate(REGIONS):
        rng = random.Random(a.seed * 100 + n)
        region = Region(name, crs, centre, extra, rng, a.roads)
        lines = stream(region, a.works, a.events, rng)
        path = os.path.join(a.out, name + ".ndjson")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        manifest.append({"name": name, "crs": crs, "file": path, "lines": len(lines)})
    with open(os.path.join(a.out, "regions.json"), "w") as f:
        json.dump(manifest, f, indent=1)


if __name__ == "__main__":
    main()
