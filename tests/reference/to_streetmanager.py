#!/usr/bin/env python3
"""Turns a stream of contract work events (gen_regions.py's) into Street Manager notifications.

    to_streetmanager.py --input london.ndjson --sm london-sm.ndjson --twin london-sm-twin.ndjson

Writes two files of the same events, line for line:
- SM: each event as the Street Manager open-data notification that says it (docs/API.md, "How
  Street Manager notifications become work events", written from that table, not from digonce's
  code): PERMIT objects for works (a tenth of their events as ACTIVITY objects: skips,
  scaffolding, street events), SECTION_58 objects or ACTIVITY objects of activity_type
  "section58" for restrictions; WKT in EPSG:27700; `event_reference` for the version; the
  event types' several spellings; a quarter of them inside an SNS envelope.
- TWIN: the same events as contract work events (geometry in EPSG:27700 with the very
  coordinates of the WKT, exact UTC instants, the version that event_reference gives), for
  reference_detect.py, so that `digonce detect` on SM is checked against the reference's
  verdict on TWIN.

Lines marked "_expect": "reject" are left out of both (the contract's bad-input cases are
tested on contract events). Every event gets an event_reference, as Street Manager gives one:
a work's version where it has one, else a number larger than any before (never stale, as an
event without a version is).
"""
import argparse
import datetime as dt
import json
import random
import sys
from zoneinfo import ZoneInfo

from pyproj import Transformer, datadir

UTC = dt.timezone.utc
LONDON = ZoneInfo("Europe/London")
BNG = "EPSG:27700"
ACTIVITY_TIMES = ("start_date", "start_time", "end_date", "end_time")
PERMIT_TIMES = ("proposed_start_date", "proposed_start_time", "proposed_end_date",
                "proposed_end_time")


def parse_time(text, end):
    """A contract time as an aware UTC datetime: a bare date is 00:00:00Z, or 23:59:59Z as an end."""
    if len(text) == 10:
        d = dt.date.fromisoformat(text)
        return dt.datetime(d.year, d.month, d.day, 23, 59, 59, tzinfo=UTC) if end else \
            dt.datetime(d.year, d.month, d.day, tzinfo=UTC)
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def sm_time(t):
    """Street Manager's spelling of an instant: milliseconds and Z."""
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000)


def uk_midnight(d):
    """The UK midnight that starts date d, in UTC."""
    return dt.datetime(d.year, d.month, d.day, tzinfo=LONDON).astimezone(UTC)


def uk_date(t):
    """The date field Street Manager writes for t: the UK midnight that starts its UK day, in UTC."""
    return sm_time(uk_midnight(t.astimezone(LONDON).date()))


def date_end(value):
    """What an end date written as `value` stands for (docs/API.md, "Dates"): to the second before
    the next UK midnight where it is a UK midnight; a UTC midnight that is not one (summer) stands
    for that UTC day."""
    local = value.astimezone(LONDON)
    if (local.hour, local.minute, local.second) == (0, 0, 0):
        d = local.date() + dt.timedelta(days=1)
        return uk_midnight(d) - dt.timedelta(seconds=1)
    return value + dt.timedelta(days=1, seconds=-1)


def is_date_value(t):
    """Would Street Manager's reader take t as a date (a UTC or a UK midnight)?"""
    local = t.astimezone(LONDON)
    return (t.hour, t.minute, t.second, t.microsecond) == (0, 0, 0, 0) or \
        (local.hour, local.minute, local.second, local.microsecond) == (0, 0, 0, 0)


class Geometry:
    def __init__(self):
        self.transformers = {}

    def to_bng(self, geom, crs):
        """The geometry's coordinates in EPSG:27700, to the millimetre."""
        t = None
        if crs != BNG:
            t = self.transformers.get(crs)
            if t is None:
                t = self.transformers[crs] = Transformer.from_crs(crs, BNG, always_xy=True)

        def conv(c):
            if isinstance(c[0], (int, float)):
                x, y = (c[0], c[1]) if t is None else t.transform(c[0], c[1])
                return [round(x, 3), round(y, 3)]
            return [conv(v) for v in c]
        return {"type": geom["type"], "coordinates": conv(geom["coordinates"])}


def wkt(geom, rng):
    def pt(c):
        return "%.3f %.3f" % (c[0], c[1])

    def line(cs):
        return "(" + ",".join(pt(c) for c in cs) + ")"
    g, c = geom["type"], geom["coordinates"]
    if g == "Point":
        text = "POINT(" + pt(c) + ")"
    elif g == "LineString":
        text = "LINESTRING" + line(c)
    elif g == "Polygon":
        text = "POLYGON(" + ",".join(line(r) for r in c) + ")"
    elif g == "MultiPoint":  # both spellings: (x y, x y) and ((x y), (x y))
        text = "MULTIPOINT" + (line(c) if rng.random() < 0.5 else
                               "(" + ",".join("(" + pt(p) + ")" for p in c) + ")")
    elif g == "MultiLineString":
        text = "MULTILINESTRING(" + ",".join(line(ls) for ls in c) + ")"
    elif g == "MultiPolygon":
        text = "MULTIPOLYGON(" + ",".join("(" + ",".join(line(r) for r in p) + ")" for p in c) + ")"
    else:
        raise ValueError("no WKT for " + g)
    return ("SRID=27700;" + text) if rng.random() < 0.1 else text


def spelt(name, rng):
    """One of the spellings Street Manager and relays use: PERMIT_GRANTED, permit-granted, ..."""
    r = rng.random()
    if r < 0.6:
        return name
    if r < 0.8:
        return name.lower().replace("_", "-")
    return name.capitalize().replace("_", " ")


class Converter:
    def __init__(self, rng):
        self.rng = rng
        self.geometry = Geometry()
        self.next_reference = 10_000_000

    def event_reference(self, ev):
        if "version" in ev:
            return ev["version"]
        self.next_reference += 1
        return self.next_reference

    def convert(self, ev):
        """(notification, twin event) for one contract event."""
        rng = self.rng
        ref, promoter = ev["work_ref"], ev["promoter"]
        reference = self.event_reference(ev)
        twin = {"work_ref": ref, "promoter": promoter, "version": reference}
        restriction = ev.get("kind") == "section58"
        cancel = ev.get("event") == "cancel"
        # A restriction goes as an ACTIVITY of activity_type section58 (its end a time) or as a
        # SECTION_58 object (its end a date: only where the end is not a date value, which would
        # stand for the whole day). Both have the reference as the work's reference.
        as_activity = restriction and rng.random() < 0.5
        if cancel:
            twin["event"] = "cancel"
            if restriction and as_activity:
                note = self.activity(ref, promoter, reference, "ACTIVITY_CANCELLED")
            elif restriction:
                note = self.section58(ref, promoter, reference,
                                      rng.choice(["SECTION_58_CANCELLED", "SECTION_58_CLOSED"]))
            else:
                note = self.permit(ref, promoter, reference,
                                   rng.choice(["PERMIT_CANCELLED", "PERMIT_REVOKED",
                                               "PERMIT_REFUSED"]))
            return note, twin

        geom = self.geometry.to_bng(ev["geometry"], ev.get("crs", "EPSG:4326"))
        start = parse_time(ev["start"], False)
        end = parse_time(ev["end"], True)
        # Where the event gives bare dates, the notification gives dates only, as Street Manager
        # mostly does: UK midnights, or a fifth of the time UTC midnights (some producers'); the
        # twin then holds the instants the documented reading of those dates gives.
        dates = None
        if len(ev["start"]) == 10 and len(ev["end"]) == 10:
            d0, d1 = dt.date.fromisoformat(ev["start"]), dt.date.fromisoformat(ev["end"])
            if rng.random() < 0.2:
                s0 = dt.datetime(d0.year, d0.month, d0.day, tzinfo=UTC)
                s1 = dt.datetime(d1.year, d1.month, d1.day, tzinfo=UTC)
            else:
                s0, s1 = uk_midnight(d0), uk_midnight(d1)
            dates = (sm_time(s0), sm_time(s1))
            start, end = s0, date_end(s1)
        no_time = rng.choice([None, "", "null"])  # how a time that is not known is written
        # (start date, start time, end date, end time) as every object type writes them.
        when = (dates[0], no_time, dates[1], no_time) if dates else \
            (uk_date(start), sm_time(start), uk_date(end), sm_time(end))
        twin.update(geometry=geom, crs=BNG, start=sm_time(start), end=sm_time(end))
        status = ev.get("status", "planned")
        category = ev.get("category", "standard")
        street = ev.get("street_name")
        if street is not None:
            twin["street_name"] = street

        if restriction:
            twin["kind"] = "section58"
            # (A restriction has no category in Street Manager: standard.)
            live = status in ("planned", "in_progress")
            if not live:  # completed: the restriction is closed, which is a cancel
                twin = {"work_ref": ref, "promoter": promoter, "version": reference,
                        "event": "cancel"}
            if as_activity or (is_date_value(end) and not dates):
                note = self.activity(ref, promoter, reference,
                                     rng.choice(["ACTIVITY_CREATED", "ACTIVITY_UPDATED"]) if live
                                     else "ACTIVITY_CANCELLED")
                d = note["object_data"]
                d.update(activity_coordinates=wkt(geom, rng), activity_type="section58",
                         cancelled="No", **dict(zip(ACTIVITY_TIMES, when)))
            else:
                if not live:
                    event = rng.choice(["SECTION_58_CLOSED", "SECTION_58_CANCELLED"])
                elif status == "in_progress":
                    event = rng.choice(["SECTION_58_IN_FORCE", "SECTION_58_UPDATED"])
                else:
                    event = rng.choice(["SECTION_58_CREATED", "SECTION_58_UPDATED"])
                note = self.section58(ref, promoter, reference, event)
                d = note["object_data"]
                d.update(section_58_coordinates=wkt(geom, rng),
                         start_date=dates[0] if dates else sm_time(start),
                         end_date=dates[1] if dates else sm_time(end),
                         section_58_status={"planned": "proposed", "in_progress": "in_force"}
                         .get(status, "closed"))
            if street is not None and live:
                d["street_name"] = street
            return note, twin

        if rng.random() < 0.1:
            # An activity (a skip, scaffolding, a street event) occupies the street as a work of
            # its authority: standard, planned; one that is over is cancelled (docs/API.md).
            if status == "completed":
                twin = {"work_ref": ref, "promoter": promoter, "version": reference,
                        "event": "cancel"}
            else:
                twin["category"] = "standard"
            note = self.activity(ref, promoter, reference,
                                 "ACTIVITY_CANCELLED" if status == "completed" else
                                 rng.choice(["ACTIVITY_CREATED", "ACTIVITY_UPDATED"]))
            d = note["object_data"]
            d.update(activity_coordinates=wkt(geom, rng),
                     activity_type=rng.choice(["skip", "scaffolding", "event", "other"]),
                     cancelled="No", **dict(zip(ACTIVITY_TIMES, when)))
            if street is not None:
                d["street_name"] = street
            return note, twin

        twin["category"], twin["status"] = category, status
        if status == "completed":
            event = rng.choice(["WORK_STOP", "WORK_STOP", "PERMIT_CLOSED"])  # an unlisted type
        elif status == "in_progress":
            event = rng.choice(["WORK_START", "WORK_STOP_REVERTED", "PERMIT_GRANTED"])
        else:
            event = rng.choice(["PERMIT_GRANTED", "PERMIT_SUBMITTED", "PERMIT_ALTERATION_GRANTED",
                                "WORK_START_REVERTED"])
        note = self.permit(ref, promoter, reference, event)
        d = note["object_data"]
        d.update(works_location_coordinates=wkt(geom, rng), **dict(zip(PERMIT_TIMES, when)),
                 actual_start_date_time=no_time, actual_end_date_time=no_time,
                 work_status_ref=status, permit_status="closed" if event == "PERMIT_CLOSED"
                 else "granted")
        if status != "planned" and rng.random() < 0.5:  # what happened, the same instants
            d["actual_start_date_time"] = sm_time(start)
            if status == "completed":
                d["actual_end_date_time"] = sm_time(end)
        if rng.random() < 0.7:
            d["work_category_ref"] = category
        else:
            d["work_category"] = {"minor": "Minor", "standard": "Standard", "major": "Major",
                                  "paa": "Major (PAA)", "immediate_urgent": "Immediate - urgent",
                                  "immediate_emergency": "Immediate - emergency",
                                  "hs2_highway": "HS2 (Highway)"}[category]
        if street is not None:
            d["street_name"] = street
        return note, twin

    def notification(self, object_type, reference, event, data):
        return {"event_reference": reference, "event_type": spelt(event, self.rng),
                "object_type": object_type, "object_reference": "-",
                "event_time": "2027-01-01T00:00:00.000Z", "object_data": data}

    def permit(self, ref, promoter, reference, event):
        return self.notification("PERMIT", reference, event, {
            "work_reference_number": ref, "permit_reference_number": ref + "-01",
            "promoter_swa_code": promoter})

    def section58(self, ref, promoter, reference, event):
        return self.notification("SECTION_58", reference, event, {
            "section_58_reference_number": ref, "highway_authority_swa_code": promoter})

    def activity(self, ref, promoter, reference, event):
        return self.notification("ACTIVITY", reference, event, {
            "activity_reference_number": ref, "highway_authority_swa_code": promoter})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--input", required=True)
    ap.add_argument("--sm", required=True)
    ap.add_argument("--twin", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--proj-data", help="a folder of PROJ grids (the OSTN15 grid)")
    a = ap.parse_args()
    if a.proj_data:
        datadir.append_data_dir(a.proj_data)
    rng = random.Random(a.seed)
    conv = Converter(rng)
    n = 0
    with open(a.input) as src, open(a.sm, "w") as sm, open(a.twin, "w") as twin:
        for line in src:
            try:
                ev = json.loads(line)
            except json.JSONDecodeError:
                continue  # a broken line (marked so by the generator)
            if ev.get("_expect") == "reject":
                continue
            note, event = conv.convert(ev)
            text = json.dumps(note, separators=(",", ":"))
            if rng.random() < 0.25:
                text = json.dumps({"Type": "Notification", "MessageId": "m%d" % n,
                                   "TopicArn": "arn:aws:sns:eu-west-2:000000000000:sm",
                                   "Message": text}, separators=(",", ":"))
            sm.write(text + "\n")
            twin.write(json.dumps(event, separators=(",", ":")) + "\n")
            n += 1
    print("to_streetmanager.py: %d events" % n, file=sys.stderr)


if __name__ == "__main__":
    main()
