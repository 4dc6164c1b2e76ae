#!/usr/bin/env python3
"""Checks the alerts read back from Kafka (read_committed) against `digonce detect`'s.

    check_alerts.py --stream STREAM.tsv --reference DETECT.ndjson

STREAM.tsv: "alert_id<TAB>alert json" per message in topic order (kcat -f '%k\\t%s\\n');
DETECT.ndjson: the output of `digonce detect` on the same events.

Fails (exit 1) when an (alert_id, revision) was seen twice, when an alert's revisions go backwards
or skip one, or when the alerts open at the end (latest state open or updated) differ from the reference's in
their ids, kinds, works, distance or gap.
"""
import argparse
import json
import sys


def final_open(alerts):
    latest = {}
    for a in alerts:
        latest[a["alert_id"]] = a
    return {k: a for k, a in latest.items() if a["state"] != "closed"}


def summary(a):
    return (a["kind"], tuple(w["work_ref"] for w in a["works"]), round(a["distance_m"], 2),
            round(a["gap_days"], 4))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--stream", required=True)
    ap.add_argument("--reference", required=True)
    a = ap.parse_args()

    problems = []
    stream = []
    seen = set()
    last_revision = {}
    by_partition_order = 0
    with open(a.stream) as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line:
                continue
            key, _, value = line.partition("\t")
            if not value:  # a tombstone: not written by digonce
                problems.append(f"line {n}: alert {key} has an empty value")
                continue
            alert = json.loads(value)
            if alert["alert_id"] != key:
                problems.append(f"line {n}: key {key} != alert_id {alert['alert_id']}")
            ident = (alert["alert_id"], alert["revision"])
            if ident in seen:
                problems.append(f"line {n}: duplicate alert {ident[0]} revision {ident[1]}")
            seen.add(ident)
            prev = last_revision.get(alert["alert_id"], 0)
            if alert["revision"] <= prev:
                problems.append(f"line {n}: alert {key} revision {alert['revision']} after {prev}")
            elif alert["revision"] != prev + 1:
                # Every change is a record; the topic is compacted only after a minute and in
                # closed segments, which a test's stream never reaches.
                problems.append(f"line {n}: alert {key} revision {alert['revision']} after {prev} "
                                f"(revisions between are missing)")
            last_revision[alert["alert_id"]] = alert["revision"]
            stream.append(alert)
            by_partition_order += 1

    reference = []
    with open(a.reference) as f:
        for line in f:
            if line.strip():
                reference.append(json.loads(line))

    got, want = final_open(stream), final_open(reference)
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    differ = sorted(k for k in set(got) & set(want) if summary(got[k]) != summary(want[k]))
    for k in missing[:10]:
        problems.append(f"missing open alert {k}: {summary(want[k])}")
    for k in extra[:10]:
        problems.append(f"unexpected open alert {k}: {summary(got[k])}")
    for k in differ[:10]:
        problems.append(f"alert {k} differs: stream {summary(got[k])} reference {summary(want[k])}")

    print(f"stream: {len(stream)} alert events, {len(seen)} distinct (alert_id, revision), "
          f"{len(got)} open at the end; reference: {len(reference)} events, {len(want)} open; "
          f"missing {len(missing)}, unexpected {len(extra)}, differing {len(differ)}")
    for p in problems[:30]:
        print("  " + p)
    if len(problems) > 30:
        print(f"  ... and {len(problems) - 30} more")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
