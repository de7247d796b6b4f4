"""GET /metrics (docs/metrics.md): the Prometheus text format on the metrics_listen listener
(no authentication) and on the API (an admin, or the metrics_token_file token; 401 without a
token, 403 for other roles); promtool finds no problem in either; the ingest counters and
the writer's commit histogram move by the readings stored; HTTP requests are counted by route
pattern, never by raw path."""
import json
import os
import re
import secrets
import shutil
import subprocess

from harness import free_port, http, main, wait_until, write_secret_file
from ingest_common import IngestTest, publish_readings, reading, stored_seqs

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
DASHBOARD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "grafana",
                         "smartmeter.json")
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text):
    """{(name, frozenset of (label, value)): float} of every sample line."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        labels = frozenset(LABEL.findall(m.group(2) or ""))
        samples[(m.group(1), labels)] = float(m.group(3))
    return samples


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0.0)


def buckets(samples, name, **labels):
    """[(le, count)] of a histogram's series with labels, in ascending le (+Inf last)."""
    out = []
    for (n, ls), v in samples.items():
        d = dict(ls)
        le = d.pop("le", None)
        if n == name + "_bucket" and d == labels:
            out.append((float(le), v))
    return sorted(out)


class Metrics(IngestTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.metrics_port = free_port()
        cls.metrics_token = secrets.token_hex(24)
        token_file = cls.path("metrics.token")
        write_secret_file(token_file, cls.metrics_token + "\n")
        users = {"adm": "admin", "op": "operator", "usr": "user"}
        cls.srv = cls.server_fixture(users, {"mt-1": "op", "mt-2": "op"}, login=users.keys(),
                                     extra_args=["--batch-wait-ms", "5",
                                                 "--metrics-listen",
                                                 f"127.0.0.1:{cls.metrics_port}",
                                                 "--metrics-token-file", token_file])
        cls.tok = cls.srv.tokens
        cls.token = cls.tok["op"]

    def scrape(self):
        r = http("GET", f"http://127.0.0.1:{self.metrics_port}/metrics")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.headers["Content-Type"].startswith("text/plain; version=0.0.4"), r.headers)
        return r.body

    def promtool(self, text, name):
        path = self.path(name)
        with open(path, "w") as f:
            f.write(text)
        with open(path) as f:
            r = subprocess.run([PROMTOOL, "check", "metrics"], stdin=f, capture_output=True,
                               text=True, timeout=60)
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, "", ""),
                         f"promtool check metrics found problems in {path}")

    def test_1_ingest_counters_and_commit_histogram_move_by_the_readings_stored(self):
        before = parse(self.scrape())
        # One reading per message, each stored before the next goes: one commit each.
        n = 5
        for seq in range(1, n + 1):
            publish_readings(self.broker.url, "mt-1", [reading(seq)])
            wait_until(lambda s=seq: s in stored_seqs(self.srv, self.token, "mt-1"), 30,
                       what=f"reading {seq} stored")
        # A replay of seqs 1-2 (duplicates) and an invalid reading, then a last new one.
        publish_readings(self.broker.url, "mt-1",
                         [reading(1), reading(2), {"ts": 5, "voltage": 1}, reading(n + 1)])
        wait_until(lambda: n + 1 in stored_seqs(self.srv, self.token, "mt-1"), 30,
                   what="the last reading stored")
        stored = len(stored_seqs(self.srv, self.token, "mt-1"))
        self.assertEqual(stored, n + 1)

        def settled():
            s = parse(self.scrape())
            return s if value(s, "smartmeter_ingest_readings_stored_total", transport="mqtt") \
                - value(before, "smartmeter_ingest_readings_stored_total", transport="mqtt") \
                >= stored else None
        after = wait_until(settled, 15, what="counters moved")

        def delta(name, **labels):
            return value(after, name, **labels) - value(before, name, **labels)
        self.assertEqual(delta("smartmeter_ingest_readings_stored_total", transport="mqtt"), stored)
        self.assertEqual(delta("smartmeter_ingest_refused_total", reason="duplicate"), 2)
        self.assertGreaterEqual(delta("smartmeter_ingest_refused_total", reason="invalid")
                                + delta("smartmeter_writer_rejected_acked_total"), 1)
        self.assertEqual(delta("smartmeter_ingest_messages_total"), n + 1)
        batches = delta("smartmeter_writer_batches_total")
        commits = delta("smartmeter_writer_commit_duration_seconds_count")
        # Every committed batch is timed once; each of the first n readings had its own.
        self.assertEqual(commits, batches)
        self.assertGreaterEqual(commits, n + 1)
        self.assertLessEqual(commits, stored + 1)
        self.assertGreater(delta("smartmeter_writer_commit_duration_seconds_sum"), 0)
        self.assertGreaterEqual(delta("smartmeter_acks_sent_total"), n + 1)
        self.assertEqual(value(after, "smartmeter_writer_queue_depth"), 0)
        self.assertEqual(value(after, "smartmeter_mqtt_connected"), 1)
        self.assertEqual(value(after, "smartmeter_database_up"), 1)
        self.assertEqual(value(after, "smartmeter_meters"), 2)
        self.assertEqual(value(after, "smartmeter_build_info", version=self.version()), 1)

        b = buckets(after, "smartmeter_writer_commit_duration_seconds")
        self.assertEqual(len(b), 15)
        self.assertEqual(b[-1][0], float("inf"))
        counts = [c for _, c in b]
        self.assertEqual(counts, sorted(counts), "buckets must be cumulative")
        self.assertEqual(b[-1][1], value(after, "smartmeter_writer_commit_duration_seconds_count"))

    def version(self):
        return http("GET", self.srv.url("/api/stats"), token=self.token).json()["version"]

    def test_2_the_api_serves_admins_and_the_token_only(self):
        for who, status in (("adm", 200), ("op", 403), ("usr", 403)):
            r = http("GET", self.srv.url("/metrics"), token=self.tok[who])
            self.assertEqual(r.status, status, (who, r))
        r = http("GET", self.srv.url("/metrics"), token=self.metrics_token)
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.headers["Content-Type"].startswith("text/plain; version=0.0.4"))
        self.assertIn("smartmeter_build_info", r.body)
        for token in (None, self.metrics_token[:-1], self.metrics_token + "x", "x" * 48):
            r = http("GET", self.srv.url("/metrics"), token=token)
            self.assertEqual(r.status, 401, (token, r))
        # The listener serves /metrics and nothing else, without authentication.
        base = f"http://127.0.0.1:{self.metrics_port}"
        self.assertEqual(http("GET", base + "/api/health").status, 404)
        self.assertEqual(http("POST", base + "/metrics", raw=b"").status, 405)

    def test_3_requests_are_counted_by_route_pattern_and_status(self):
        before = parse(self.scrape())
        for _ in range(3):
            self.assertEqual(self.get("/api/devices/mt-1", who="op").status, 200)
        self.assertEqual(self.get("/api/devices/no-such-meter", who="op").status, 404)
        self.assertEqual(self.get("/api/devices/mt-2", who="usr").status, 404)
        self.assertEqual(self.get("/api/no/such/route-xyz", who="op").status, 404)
        text = self.scrape()
        after = parse(text)

        def delta(**labels):
            return value(after, "smartmeter_http_requests_total", **labels) - \
                value(before, "smartmeter_http_requests_total", **labels)
        route = {"method": "GET", "route": "/api/devices/:id"}
        self.assertEqual(delta(code="200", **route), 3)
        self.assertEqual(delta(code="404", **route), 2)
        self.assertGreaterEqual(delta(method="other", route="other", code="404"), 1)
        self.assertNotIn("mt-1", text)
        self.assertNotIn("no-such-meter", text)
        self.assertNotIn("route-xyz", text)
        self.assertGreaterEqual(
            value(after, "smartmeter_http_request_duration_seconds_count", **route), 5)
        # The scrapes count too, under the /metrics route.
        self.assertGreaterEqual(value(after, "smartmeter_http_requests_total", method="GET",
                                      route="/metrics", code="200"), 1)

    def test_4_promtool_finds_no_problem(self):
        self.promtool(self.scrape(), "listener.prom")
        r = http("GET", self.srv.url("/metrics"), token=self.tok["adm"])
        self.assertEqual(r.status, 200, r)
        self.promtool(r.body, "api.prom")
        # Some lines, not an empty answer that promtool would pass too.
        self.assertGreater(len(parse(r.body)), 50)

    def test_5_commands_by_state_and_alarms_by_severity_come_from_the_database(self):
        before = parse(self.scrape())
        for sev in ("critical", "major", "minor"):
            self.assertIn(("smartmeter_alarms_open", frozenset({("severity", sev)})), before)
        # mt-2 never said it is online: the command waits, queued.
        r = self.call("POST", "/api/devices/mt-2/relay", {"state": "off", "reason": "metrics"},
                      who="op")
        self.assertEqual(r.status, 202, r)
        after = parse(self.scrape())
        self.assertEqual(value(after, "smartmeter_commands", state="queued")
                         - value(before, "smartmeter_commands", state="queued"), 1)
        for state in ("sent", "acknowledged", "done", "failed", "expired"):
            self.assertIn(("smartmeter_commands", frozenset({("state", state)})), after)

    def test_6_the_grafana_dashboard_asks_for_metrics_the_server_has(self):
        # docs/grafana/smartmeter.json: each query parses as PromQL (promtool, with Grafana's
        # variables filled in) and names only families the server serves.
        with open(DASHBOARD) as f:
            dash = json.load(f)
        exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
        self.assertGreaterEqual(len(exprs), 10)
        rules = self.path("dashboard-rules.yml")
        with open(rules, "w") as f:
            f.write("groups:\n- name: dashboard\n  rules:\n")
            for i, e in enumerate(exprs):
                e = e.replace("$__rate_interval", "5m").replace("$instance", ".*")
                f.write(f"  - record: dashboard:q{i}\n    expr: {json.dumps(e)}\n")
        r = subprocess.run([PROMTOOL, "check", "rules", rules], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        served = {n for n, _ in parse(self.scrape())}
        for name in set(re.findall(r"smartmeter_[a-z_]+", " ".join(exprs))):
            self.assertIn(name, served, "the dashboard asks for a metric the server lacks")


if __name__ == "__main__":
    main()
