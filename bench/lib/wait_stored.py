#!/usr/bin/env python3
"""Polls meter-server's GET /api/stats until mqtt.readings_stored reaches a target.

    wait_stored.py API_URL TOKEN TARGET [--interval S] [--stall S] [--ready FILE]

Prints one line of key=value pairs: stored (the last count), first_commit_ms (wall-clock
epoch ms when the count first moved past its value at the start), last_commit_ms (when it
first reached TARGET, or when it last moved if it never did; the first poll if TARGET
was reached before it), reached (1 or 0), and the
duplicates, invalid, unknown_device and db_errors counters. Gives up when the count has not
moved for --stall seconds (default 120). The times are as good as the poll interval
(default 0.05 s). With --ready, FILE is created once the poller runs (Python's start
takes seconds on a loaded machine: start it, wait for FILE, then start the load); until
the server answers (it may start after the poller) its count is taken as 0.
Exit status 0 when the target was reached, 1 otherwise.
"""
import argparse
import json
import sys
import time
import urllib.error
import urllib.request


ZERO = {"readings_stored": 0, "duplicates": 0, "invalid": 0, "unknown_device": 0, "db_errors": 0}


def stats(url, token):
    req = urllib.request.Request(url + "/api/stats", headers={"Authorization": "Bearer " + token})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.load(r)["mqtt"]
    except ConnectionError:
        return ZERO
    except urllib.error.URLError as e:
        if isinstance(e.reason, ConnectionError):
            return ZERO
        raise


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("api")
    ap.add_argument("token")
    ap.add_argument("target", type=int)
    ap.add_argument("--interval", type=float, default=0.05)
    ap.add_argument("--stall", type=float, default=120.0)
    ap.add_argument("--ready")
    a = ap.parse_args()
    if a.ready:
        open(a.ready, "w").close()

    s = stats(a.api, a.token)
    start = s["readings_stored"]
    last_count, last_move = start, time.time()
    first_ms = last_ms = 0
    while True:
        now = time.time()
        n = s["readings_stored"]
        if n != last_count:
            if not first_ms:
                first_ms = int(now * 1000)
            last_ms = int(now * 1000)
            last_count, last_move = n, now
        if n >= a.target:
            last_ms = last_ms or int(now * 1000)  # reached before the first poll: an upper bound
            break
        if now - last_move > a.stall:
            break
        time.sleep(a.interval)
        s = stats(a.api, a.token)
    reached = 1 if s["readings_stored"] >= a.target else 0
    print(f"stored={s['readings_stored']} first_commit_ms={first_ms} last_commit_ms={last_ms} "
          f"reached={reached} duplicates={s['duplicates']} invalid={s['invalid']} "
          f"unknown_device={s['unknown_device']} db_errors={s['db_errors']}")
    return 0 if reached else 1


if __name__ == "__main__":
    sys.exit(main())
