#!/usr/bin/env python3
"""An independent reference of the contract's detection rules, and a comparison with
`digonce detect` (tests/reference/README.md).

It shares no code with digonce: Python, Shapely (GEOS) and pyproj, from the contract's text alone.
It replays the work events to each work's final state (versions, stale events, cancels,
completions), then finds every qualifying pair among the final active works with an STRtree. The
alerts that `digonce detect` leaves open at the end must be exactly those pairs, with the same kind,
distance and gap; the alert stream must never repeat an (alert_id, revision).

    reference_detect.py --input WORKS.ndjson --alerts ALERTS.ndjson --crs EPSG:27700 \\
        [--detect-stderr FILE] [--distance-m 25] [--collaboration-days 90] [--proj-data DIR]

ALERTS: the NDJSON `digonce detect` writes, or "key<TAB>alert" lines read from the alerts topic
(kcat -f '%k\\t%s\\n'), in topic order. Lines of WORKS that break the contract (bad JSON, a
missing field, end before start, an unknown CRS, ...) are skipped as digonce must skip them;
with --detect-stderr, the line numbers digonce names must be the same ones.

Exit 0 when they agree, 1 with the differences listed when not.
"""
import argparse
import collections
import datetime as dt
import json
import math
import re
import sys

import shapely
from pyproj import CRS, Transformer, datadir
from pyproj.exceptions import CRSError
from shapely.geometry import shape
import numpy as np

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
MICROS_PER_DAY = 86_400_000_000
# Pairs whose reference distance is this close to the limit are not counted as differences when
# a geometry was reprojected: two PROJ builds can differ in the last bits of a transformed point.
REPROJECTION_TOLERANCE_M = 1e-4


def micros(text, end):
    if len(text) == 10:  # a bare date: the whole day (contract, section 1)
        d = dt.date.fromisoformat(text)
        t = dt.datetime.combine(d, dt.time(23, 59, 59) if end else dt.time(0, 0, 0), dt.timezone.utc)
    else:
        t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (t - EPOCH) // dt.timedelta(microseconds=1)


def reproject(transformer, xy):
    """An (n, 2) array of points through a pyproj Transformer."""
    x, y = transformer.transform(xy[:, 0], xy[:, 1])
    return np.column_stack([x, y])


class Replay:
    def __init__(self, metric_crs):
        self.metric = metric_crs
        self.transformers = {}
        self.to_lonlat = {}
        self.areas = {}
        self.works = {}  # ref -> dict(version, live, geom, start, end, category, kind, reprojected)
        self.stale = 0
        self.rejected_lines = []
        self.reasons = []

    def check_area(self, geom, crs):
        """Every vertex inside the area of use of the work's CRS and of the metric CRS (their
        bounding boxes in longitude and latitude, as PROJ's database gives them)."""
        if crs not in self.to_lonlat:
            self.to_lonlat[crs] = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
        points = reproject(self.to_lonlat[crs], shapely.get_coordinates(geom))
        for c in {crs, self.metric}:
            if c not in self.areas:
                self.areas[c] = CRS.from_user_input(c).area_of_use
            a = self.areas[c]
            for lon, lat in points:
                if not (a.west <= lon <= a.east and a.south <= lat <= a.north):
                    raise ValueError(f"({lon}, {lat}) outside the area of use of {c}")

    def check_degrees(self, geom, crs):
        """A projected CRS given longitude/latitude by mistake: every vertex inside the lon/lat
        box of the CRS's area of use, read as degrees (section 1 names this a bad geometry)."""
        c = CRS.from_user_input(crs)
        if not c.is_projected or c.area_of_use is None:
            return
        a = c.area_of_use

        def lon_in(x):  # an area across the antimeridian has west > east
            return (a.west <= x or x <= a.east) if a.west > a.east else a.west <= x <= a.east

        if all(lon_in(x) and a.south <= y <= a.north for x, y in shapely.get_coordinates(geom)):
            raise ValueError(f"longitude/latitude given for the projected CRS {crs}")

    def to_metric(self, geom, crs):
        if crs == self.metric:
            return geom, False
        t = self.transformers.get(crs)
        if t is None:
            t = self.transformers[crs] = Transformer.from_crs(crs, self.metric, always_xy=True)
        return shapely.transform(geom, lambda xy: reproject(t, xy)), True

    def apply(self, lineno, text):
        """Applies one line; a line that breaks the contract is recorded and changes nothing."""
        try:
            rec = json.loads(text)
            event = self.check(rec)
        except (ValueError, KeyError, TypeError, IndexError, AttributeError, CRSError,
                shapely.errors.ShapelyError) as e:
            self.rejected_lines.append(lineno)
            self.reasons.append(f"line {lineno}: {type(e).__name__}: {e}")
            return
        if rec.get("_expect") == "reject":
            raise SystemExit(f"line {lineno} is marked as broken but the reference accepts it")
        ref = rec["work_ref"]
        held = self.works.setdefault(ref, {"version": None, "live": False})
        v = rec.get("version")
        if v is not None and held["version"] is not None and v < held["version"]:
            self.stale += 1
            return
        if v is not None:
            held["version"] = v
        if event is None:  # a cancel
            held["live"] = False
            return
        held.update(event)

    def check(self, rec):
        """The contract's checks of section 1 that matter here; the upsert's state, or None for a
        cancel. Raises on a broken record."""
        for field in ("work_ref", "promoter"):
            if not isinstance(rec[field], str) or not rec[field]:
                raise ValueError(f"{field} must be a non-empty string")
        v = rec.get("version")
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 0):
            raise ValueError("version must be an integer >= 0")
        if rec.get("event", "upsert") == "cancel":
            return None
        start, end = micros(rec["start"], False), micros(rec["end"], True)
        if end < start:
            raise ValueError("end before start")
        geom = shape(rec["geometry"])
        if geom.is_empty:
            raise ValueError("empty geometry")
        crs = rec.get("crs", "EPSG:4326")
        self.check_degrees(geom, crs)
        self.check_area(geom, crs)
        geom, reprojected = self.to_metric(geom, crs)
        status = rec.get("status", "planned")
        return dict(
            promoter=rec["promoter"],
            street_name=rec.get("street_name"),
            live=status in ("planned", "in_progress"),
            geom=geom,
            reprojected=reprojected,
            start=start,
            end=end,
            category=rec.get("category", "standard"),
            kind=rec.get("kind", "work"),
        )


def expected_pairs(works, distance_m, window_days):
    """{(kind, ref_a, ref_b): (distance, gap_micros, near_limit)} over the final active works."""
    live = sorted((r, w) for r, w in works.items() if w["live"])
    geoms = np.array([w["geom"] for _, w in live], dtype=object)
    tree = shapely.STRtree(geoms)
    # Candidates by bounding box grown by the distance, then shapely.distance decides. (Not the
    # tree's "dwithin" predicate: with GEOS 3.13 it misses a zero-length line held in the tree,
    # e.g. LINESTRING (x y, x y), which a stream can hold after rounding.)
    grow = distance_m + 0.01
    b = shapely.bounds(geoms)
    windows = shapely.box(b[:, 0] - grow, b[:, 1] - grow, b[:, 2] + grow, b[:, 3] + grow)
    left, right = tree.query(windows)
    keep = left < right
    left, right = left[keep], right[keep]
    dist = shapely.distance(geoms[left], geoms[right])
    # 0.7 days is 60,480,000,000 us, not 1 us less (whole days apart, as digonce does)
    whole = math.floor(window_days)
    window = whole * MICROS_PER_DAY + round((window_days - whole) * MICROS_PER_DAY)
    out = {}
    for i, j, d in zip(left.tolist(), right.tolist(), dist.tolist()):
        (ra, a), (rb, b) = live[i], live[j]
        near = (a["reprojected"] or b["reprojected"]) and abs(d - distance_m) <= REPROJECTION_TOLERANCE_M
        if d > distance_m and not near:
            continue
        gap = max(a["start"], b["start"]) - min(a["end"], b["end"])
        if a["kind"] != "work" and b["kind"] != "work":
            continue
        if a["kind"] != "work" or b["kind"] != "work":
            work, restriction = (b, a) if a["kind"] != "work" else (a, b)
            if work["category"].startswith("immediate_") or not work["start"] < restriction["end"]:
                continue
            kind = "restriction"
        elif gap > window:
            continue
        else:
            kind = "clash" if gap <= 0 else "collaboration"
        out[(kind, ra, rb)] = (d, gap, near)
    return out


# digonce writes a location's longitude and latitude to 7 decimals (at most 0.6 cm off, at
# London's latitude); the reference transforms it back with its own PROJ. A location may be this
# much farther than half the pair's distance from a work.
LOCATION_TOLERANCE_M = 0.02
# A location this near (in degrees, about 10 cm) to an area's boundary may be found inside or
# outside it: digonce tests the point in the metric CRS, the reference in longitude/latitude.
BOUNDARY_TOLERANCE_DEG = 1e-6


def load_areas(yaml_path, data_dir):
    """[(code, polygon in lon/lat, its boundary)] from an authorities YAML (config/london-authorities.yaml):
    the GeoJSON it names, each feature's code property mapped through its codes."""
    import yaml

    with open(yaml_path) as f:
        conf = yaml.safe_load(f)
    path = conf["file"]
    if not path.startswith("/"):
        path = f"{data_dir}/{path}"
    with open(path) as f:
        features = json.load(f)["features"]
    codes = {str(k): str(v) for k, v in (conf.get("codes") or {}).items()}
    prop = conf.get("code_property", "gss_code")
    out = []
    for ft in features:
        value = str(ft["properties"][prop])
        poly = shape(ft["geometry"])
        out.append((codes.get(value, value), poly, poly.boundary))
    return out


def check_alert(key, al, replay, areas, problems):
    """The fields of an open alert beside its pair's kind, distance and gap (contract section 3):
    `works` are the two works' final states; `location` is no farther than half the pair's
    distance from either work (it is where they come closest: the middle of the nearest points);
    `highway_authorities` are the areas holding it; `reason` names both works. Returns 1 when the
    location was too near an area's boundary for its authorities to be checked, else 0."""
    works = replay.works
    refs = [w["work_ref"] for w in al["works"]]
    if refs != sorted(refs):
        problems.append(f"{key}: works not sorted by work_ref: {refs}")
    for w in al["works"]:
        held = works[w["work_ref"]]
        want = {"promoter": held["promoter"], "category": held["category"],
                "street_name": held["street_name"]}
        for field, value in want.items():
            if w.get(field) != value:
                problems.append(f"{key}: {w['work_ref']}'s {field} is {w.get(field)!r}, "
                                f"its last event says {value!r}")
        for field in ("start", "end"):
            if micros(w[field], field == "end") != held[field]:
                problems.append(f"{key}: {w['work_ref']}'s {field} is {w[field]}, its last event "
                                f"says {dt.datetime.fromtimestamp(held[field] / 1e6, dt.timezone.utc)}")
        if w["work_ref"] not in al["reason"]:
            problems.append(f"{key}: the reason does not name {w['work_ref']}: {al['reason']!r}")
    loc = al["location"]
    lon, lat = loc["coordinates"]
    if loc["type"] != "Point" or not (-180 <= lon <= 180 and -90 <= lat <= 90):
        problems.append(f"{key}: location {loc} is not a point in longitude and latitude")
        return 0
    p, _ = replay.to_metric(shapely.Point(lon, lat), "EPSG:4326")
    for ref in refs:
        far = shapely.distance(p, works[ref]["geom"])
        if far > al["distance_m"] / 2 + LOCATION_TOLERANCE_M:
            problems.append(f"{key}: location ({lon}, {lat}) is {far:.3f} m from {ref}, more than "
                            f"half the pair's distance {al['distance_m']} m")
    if areas is None:
        return 0
    q = shapely.Point(lon, lat)
    if any(shapely.dwithin(q, boundary, BOUNDARY_TOLERANCE_DEG) for _, _, boundary in areas):
        return 1
    want = sorted({code for code, poly, _ in areas if poly.covers(q)})
    if sorted(al["highway_authorities"]) != want:
        problems.append(f"{key}: highway_authorities {al['highway_authorities']}, the areas "
                        f"holding ({lon}, {lat}) are {want}")
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--input", required=True)
    ap.add_argument("--alerts", required=True)
    ap.add_argument("--crs", default="EPSG:27700")
    ap.add_argument("--distance-m", type=float, default=25.0)
    ap.add_argument("--collaboration-days", type=float, default=90.0)
    ap.add_argument("--detect-stderr")
    ap.add_argument("--proj-data", help="a folder of PROJ grids (the OSTN15 grid)")
    ap.add_argument("--authorities", help="the authorities YAML digonce detect was given "
                    "(config/london-authorities.yaml): check each alert's highway_authorities")
    ap.add_argument("--shared-data", help="the folder the authorities YAML's file is under")
    a = ap.parse_args()
    if a.proj_data:
        datadir.append_data_dir(a.proj_data)

    replay = Replay(a.crs)
    with open(a.input) as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                replay.apply(n, line)
    want = expected_pairs(replay.works, a.distance_m, a.collaboration_days)

    problems = []
    last = {}
    seen = set()
    with open(a.alerts) as f:
        for line in f:
            if not line.strip():
                continue
            if not line.startswith("{"):  # "key<TAB>value", as kcat -f '%k\t%s\n' writes
                line = line.split("\t", 1)[1]
            al = json.loads(line)
            key = (al["alert_id"], al["revision"])
            if key in seen:
                problems.append(f"alert {key} written twice")
            seen.add(key)
            prev = last.get(al["alert_id"])
            if prev and al["revision"] != prev["revision"] + 1:
                problems.append(f"{al['alert_id']}: revision {al['revision']} after {prev['revision']}")
            # The lifecycle of section 2: opened at revision 1, then updated or closed while open,
            # and opened again (never "updated") once closed.
            was = prev["state"] if prev else None
            allowed = {None: {"open"}, "open": {"updated", "closed"},
                       "updated": {"updated", "closed"}, "closed": {"open"}}[was]
            if al["state"] not in allowed or (prev is None and al["revision"] != 1):
                problems.append(f"{al['alert_id']}: {al['state']} (revision {al['revision']}) "
                                f"after {was or 'nothing'}")
            last[al["alert_id"]] = al
    got = {}
    for al in last.values():
        if al["state"] != "closed":
            refs = [w["work_ref"] for w in al["works"]]
            got[(al["kind"], refs[0], refs[1])] = al

    # Pairs within REPROJECTION_TOLERANCE_M of the limit after reprojection: how many, and how
    # many digonce decided otherwise than the reference's own distance says (allowed).
    near_limit = sum(1 for v in want.values() if v[2])
    decided_otherwise = 0
    areas = load_areas(a.authorities, a.shared_data) if a.authorities else None
    near_boundary = 0
    for k in sorted(set(want) | set(got)):
        if k in want and k in got:
            d, gap, near = want[k]
            if near and d > a.distance_m:
                decided_otherwise += 1
            al = got[k]
            if abs(al["distance_m"] - d) > 0.0011:
                problems.append(f"{k}: distance {al['distance_m']} m, reference {d:.4f} m")
            if abs(al["gap_days"] - gap / MICROS_PER_DAY) > 2e-6:
                problems.append(f"{k}: gap {al['gap_days']} days, reference {gap / MICROS_PER_DAY:.6f}")
            near_boundary += check_alert(k, al, replay, areas, problems)
        elif k in want:
            d, gap, near = want[k]
            if near:
                if d <= a.distance_m:
                    decided_otherwise += 1
                continue
            problems.append(f"missing {k}: reference d={d:.4f} m gap={gap / MICROS_PER_DAY:.6f} d")
        else:
            al = got[k]
            problems.append(f"extra {k}: digonce d={al['distance_m']} gap={al['gap_days']} "
                            f"state={al['state']} rev={al['revision']}")

    live = sum(1 for w in replay.works.values() if w["live"])
    if a.detect_stderr:
        with open(a.detect_stderr) as f:
            err = f.read()
        named = sorted({int(m) for m in re.findall(r"^line (\d+):", err, re.M)})
        if named != replay.rejected_lines:
            problems.append(f"digonce rejected lines {named[:10]}..., the reference "
                            f"{replay.rejected_lines[:10]}...")
        m = re.search(r"(\d+) stale; (\d+) live works", err)
        if not m:
            problems.append("no summary line (N stale; N live works) from digonce detect")
        elif (int(m[1]), int(m[2])) != (replay.stale, live):
            problems.append(f"digonce detect counted {m[1]} stale events and {m[2]} live works, "
                            f"reference {replay.stale} and {live}")

    # The reference's open alerts: its pairs at most the limit apart (want also holds the pairs
    # just past it after reprojection, which digonce may alert either way).
    expected = [k for k, v in want.items() if v[0] <= a.distance_m]
    kinds = dict(collections.Counter(k[0] for k in expected))
    print(f"{a.input}: {live} live works, {replay.stale} stale events, "
          f"{len(replay.rejected_lines)} broken lines; "
          f"reference open alerts {len(expected)} {kinds}; digonce open {len(got)}; "
          f"{near_limit} pairs within {REPROJECTION_TOLERANCE_M * 1000:g} mm of the distance "
          f"limit after reprojection, {decided_otherwise} of them decided otherwise than the "
          f"reference's distance (allowed); "
          f"{near_boundary} locations within {BOUNDARY_TOLERANCE_DEG:g} degrees of an area's "
          f"boundary (authorities not checked); {len(problems)} differences")
    for p in problems[:40]:
        print("  " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
