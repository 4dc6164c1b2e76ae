#!/usr/bin/env python3
"""Makes the Street Manager version of a stream test's records (stream_test.sh streetmanager).

    sm_kcat.py --kcat events.kcat --sm sm.ndjson --out sm.kcat

events.kcat is gen_stream.py's "work_ref<TAB>json" stream; sm.ndjson holds its good events, in
order, as Street Manager notifications (tests/reference/to_streetmanager.py). The output is
events.kcat with each good event's JSON replaced by its notification, under the same key (the
work_ref: one work's notifications stay in order on one partition). The broken records stay
where they were, under their BAD-n keys; every other JSON one among them becomes a broken
Street Manager notification instead (no geometry, a WKT that does not parse, an end before the
start, no dates, an unknown object type), so that works.rejected gets both formats' refusals.
"""
import argparse
import json
import sys


def broken_notification(n, kind):
    ref = f"BAD-{n}"
    data = {"work_reference_number": ref, "permit_reference_number": ref + "-01",
            "promoter_swa_code": "TW", "proposed_start_date": "2027-05-01T00:00:00.000Z",
            "proposed_end_date": "2027-05-02T00:00:00.000Z",
            "works_location_coordinates": "POINT(530000 180000)"}
    if kind == 0:
        del data["works_location_coordinates"]
    elif kind == 1:
        data["works_location_coordinates"] = "LINESTRING(530000 180000, 530010"
    elif kind == 2:
        data["proposed_end_date"] = "2027-04-30T00:00:00.000Z"
    elif kind == 3:
        del data["proposed_start_date"], data["proposed_end_date"]
    note = {"event_reference": 1, "event_type": "PERMIT_GRANTED",
            "object_type": "PERMIT" if kind != 4 else "PERMIT_APPLICATION_FORM",
            "object_reference": ref, "event_time": "2027-01-01T00:00:00.000Z",
            "object_data": data}
    return json.dumps(note, separators=(",", ":"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kcat", required=True)
    ap.add_argument("--sm", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    good = bad = replaced = 0
    with open(a.kcat) as src, open(a.sm) as sm, open(a.out, "w") as out:
        for line in src:
            key, text = line.rstrip("\n").split("\t", 1)
            if key.startswith("BAD-"):
                bad += 1
                if text.startswith("{\"") and bad % 2 == 0:
                    replaced += 1
                    text = broken_notification(bad, replaced % 5)
            else:
                text = sm.readline().rstrip("\n")
                if not text:
                    sys.exit(f"sm_kcat.py: {a.sm} has fewer lines than {a.kcat}'s good records")
                good += 1
            out.write(f"{key}\t{text}\n")
        if sm.readline():
            sys.exit(f"sm_kcat.py: {a.sm} has more lines than {a.kcat}'s good records")
    print(f"sm_kcat.py: {good} notifications, {bad} broken records ({replaced} of them broken "
          "notifications)", file=sys.stderr)


if __name__ == "__main__":
    main()
