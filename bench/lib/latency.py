#!/usr/bin/env python3
"""Latency of HTTP GETs or SQL queries, one at a time: median and p99.

    latency.py http API_URL TOKEN COUNT LABEL PATH [LABEL PATH ...]
    latency.py http API_URL TOKEN COUNT --pid PID[,DBPID] LABEL PATH [LABEL PATH ...]
    latency.py sql SOCKET DATABASE COUNT LABEL QUERY [LABEL QUERY ...]

http: COUNT sequential GETs of each PATH on one keep-alive connection with the token as
a bearer; every answer must be 200 (else exit 1). Timed from sending the request to
the last byte of the body. With --pid (the server's process id), the server's CPU time
(user + system, /proc/PID/stat) per request is printed too: unlike the latency it does
not grow with the machine's run queue; with DBPID (mariadbd's), the database's as well.
sql: COUNT runs of each QUERY through the mariadb client on the socket (each run
includes starting the client; the line "client start" is that cost alone, SELECT 1).

Prints one line per label: label, runs, median ms, p99 ms, answer bytes (http) or rows
(sql), and the X-Interval-Seconds header when the server sent one.
"""
import http.client
import os
import statistics
import subprocess
import sys
import time
import urllib.parse


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(p / 100 * len(s) + 0.5)) - 1))]


def report(label, times, size, note=""):
    print(f"  {label:<46} {len(times):>5} {statistics.median(times):>10.2f} "
          f"{pct(times, 99):>10.2f} {size:>10} {note}")


def cpu_ms(pid):
    if not pid:
        return 0.0
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def run_http(api, token, count, pairs, pid=None, dbpid=None):
    u = urllib.parse.urlsplit(api)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    headers = {"Authorization": "Bearer " + token}
    for label, path in pairs:
        times, size, note = [], 0, ""
        cpu0 = db0 = 0.0
        for k in range(count + 1):
            if k == 1:
                cpu0, db0 = cpu_ms(pid), cpu_ms(dbpid)
            t0 = time.perf_counter()
            conn.request("GET", path, headers=headers)
            r = conn.getresponse()
            body = r.read()
            dt = (time.perf_counter() - t0) * 1000
            if r.status != 200:
                print(f"latency: {label}: {path} answered {r.status}: {body[:300]!r}",
                      file=sys.stderr)
                return 1
            size = len(body)
            iv = r.getheader("X-Interval-Seconds")
            note = f"interval {iv} s" if iv else ""
            times.append(dt)
        if pid:
            note += f" server CPU {(cpu_ms(pid) - cpu0) / count:.2f} ms/request"
        if dbpid:
            note += f", mariadbd {(cpu_ms(dbpid) - db0) / count:.2f}"
        report(label, times[1:], size, note)  # the first warms the connection and caches
    return 0


def run_sql(socket, db, count, pairs):
    def once(q):
        t0 = time.perf_counter()
        out = subprocess.run(["mariadb", "--no-defaults", "-uroot", "-S", socket, "-N", "-B",
                              db, "-e", q], check=True, capture_output=True).stdout
        return (time.perf_counter() - t0) * 1000, out.count(b"\n")

    for label, q in [("client start (SELECT 1)", "SELECT 1")] + pairs:
        once(q)
        runs = [once(q) for _ in range(count)]
        report(label, [t for t, _ in runs], runs[-1][1], "rows")
    return 0


def main():
    if len(sys.argv) < 7 or sys.argv[1] not in ("http", "sql") or len(sys.argv) % 2 == 0:
        print(__doc__, file=sys.stderr)
        return 2
    mode, a, b, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    rest = sys.argv[5:]
    pid = dbpid = None
    if rest[:1] == ["--pid"]:
        ids = [int(x) for x in rest[1].split(",")]
        pid, dbpid, rest = ids[0], (ids[1] if len(ids) > 1 else None), rest[2:]
    pairs = list(zip(rest[0::2], rest[1::2]))
    print(f"  {'':<46} {'runs':>5} {'median ms':>10} {'p99 ms':>10} "
          f"{'bytes' if mode == 'http' else 'rows':>10}")
    return run_http(a, b, count, pairs, pid, dbpid) if mode == "http" else run_sql(a, b, count, pairs)


if __name__ == "__main__":
    sys.exit(main())
