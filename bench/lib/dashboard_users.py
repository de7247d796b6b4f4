#!/usr/bin/env python3
"""Dashboard users for bench/mixed.sh: USERS processes (so that one user's wait for the
interpreter never counts in another's latency), each on its own keep-alive connection, each in turn opening a device's 24 h chart (GET /api/device/data/:id with
from, to and points=500, what the dashboard's chart asks) and the device list
(GET /api/devices?limit=100), THINK_MS apart on average (each starts at a random moment of
its first THINK_MS, and thinks 0.5 to 1.5 of it), until the file STOP exists
(or DEADLINE_S seconds, or MAX_REQUESTS each).

    dashboard_users.py API_URL TOKEN USERS THINK_MS DEVICE_PREFIX DEVICES STOP OUT \
        [DEADLINE_S [MAX_REQUESTS]]

Times each request (after one untimed warm-up request per user) from sending it to the
last byte of its body; every answer must be 200
(else exit 1). Writes OUT: one line per kind, "kind count p50_ms p99_ms max_ms".
"""
import http.client
import multiprocessing
import os
import random
import sys
import time
import urllib.parse


def pct(values, p):
    s = sorted(values)
    if not s:
        return 0.0
    return s[min(len(s) - 1, max(0, int(round(p / 100 * len(s) + 0.5)) - 1))]


def main():
    api, token, users, think_ms, prefix, devices, stop, out = sys.argv[1:9]
    deadline_s = float(sys.argv[9]) if len(sys.argv) > 9 else 600.0
    max_requests = int(sys.argv[10]) if len(sys.argv) > 10 else 100000
    users, think_ms, devices = int(users), int(think_ms), int(devices)
    u = urllib.parse.urlparse(api)
    headers = {"Authorization": f"Bearer {token}"}
    end = time.monotonic() + deadline_s

    def user(k, results):
        rnd = random.Random(k)
        times = {"history": [], "list": []}
        failures = []
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        # Users come and think at their own pace, not in step: a random start within one
        # think time, then think times of 0.5 to 1.5 of THINK_MS.
        time.sleep(rnd.uniform(0, think_ms / 1000))
        # One untimed request first: the connection, and the interpreter's first use of its
        # HTTP code (imports, buffers), which cost the first request of each user 50 to 200 ms
        # of the client's own time.
        conn.request("GET", "/api/health")
        conn.getresponse().read()
        for n in range(max_requests):
            if os.path.exists(stop) or time.monotonic() > end:
                break
            if n % 2 == 0:
                now = int(time.time() * 1000)
                dev = f"{prefix}{rnd.randint(1, devices)}"
                kind, path = "history", (f"/api/device/data/{dev}?from={now - 86400000}"
                                         f"&to={now}&points=500")
            else:
                kind, path = "list", "/api/devices?limit=100"
            t0 = time.perf_counter()
            try:
                conn.request("GET", path, headers=headers)
                resp = conn.getresponse()
                resp.read()
                status = resp.status
            except (OSError, http.client.HTTPException) as e:
                status = str(e)
                conn.close()
                conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
            ms = (time.perf_counter() - t0) * 1000
            if status != 200:
                failures.append(f"{path}: {status}")
            else:
                times[kind].append(ms)
            time.sleep(rnd.uniform(0.5, 1.5) * think_ms / 1000)
        conn.close()
        results.put((times, failures))

    results = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=user, args=(k, results)) for k in range(users)]
    for p in procs:
        p.start()
    times = {"history": [], "list": []}
    failures = []
    for _ in procs:
        t, f = results.get()
        for kind in times:
            times[kind] += t[kind]
        failures += f
    for p in procs:
        p.join()
    with open(out, "w") as f:
        for kind, v in times.items():
            f.write(f"{kind} {len(v)} {pct(v, 50):.2f} {pct(v, 99):.2f} "
                    f"{max(v) if v else 0:.2f}\n")
    if failures:
        print(f"dashboard_users: {len(failures)} requests failed, first: {failures[0]}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
