"""Upgrade from the schema of an earlier release: nothing lost, the same answers.

tests/data/upgrade/v6-<backend>.sql is a whole database (schema and rows) that
meter-server left at schema version 6 (before the store was written once for
both dialects, when SQLite named its money columns balance_fen, amount_fen and
balance_after_fen): users, devices, bindings, readings with their rollups, a
ledger, captures and a WeChat binding. expected.json holds that release's own
answers to REQUESTS on the same data. The test loads the dump into a fresh
database, runs today's `meter-server migrate`, and asks today's server the
same questions: the answers must be identical. Then it writes (a recharge, an
upload) to show the migrated tables take new rows.

To make the dump and the answers again from a build of the old release:
    METER_SERVER=<old meter-server> python3 test_upgrade.py --make-fixture
(see tests/data/upgrade/README.md).
"""
import json
import os
import sqlite3
import subprocess
import sys

from harness import IntegrationTest, Server, main, new_database, services_env, sqlite_path

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data", "upgrade")
PASSWORDS = {"admin": "upgrade-admin-pass", "counter": "upgrade-operator-pass",
             "tenant": "upgrade-tenant-pass"}
T0 = 1_790_000_000_000  # 2026-09-21T14:13:20Z: readings lie in the past of any test run
FROM, TO = "2026-09-21T00:00:00Z", "2026-09-23T00:00:00Z"
A, B = "meter-a", "meter-b"

REQUESTS = [
    ("admin", "/api/devices"),
    ("tenant", "/api/devices"),
    ("admin", f"/api/devices/{A}"),
    ("tenant", f"/api/devices/{A}"),
    ("admin", f"/api/devices/{B}"),
    ("admin", f"/api/device/data/{A}?from={FROM}&to={TO}&limit=1000"),
    ("tenant", f"/api/device/data/{A}?from={FROM}&to={TO}&interval=15m"),
    ("admin", f"/api/device/data/{A}?from={FROM}&to={TO}&points=40"),
    ("admin", f"/api/device/data/{B}?from={FROM}&to={TO}&limit=1000"),
    ("admin", f"/api/devices/{A}/energy?period=day&from=2026-09-20&to=2026-09-23"),
    ("tenant", f"/api/devices/{A}/energy?period=month&from=2026-08&to=2026-10"),
    ("tenant", f"/api/devices/{A}/ledger"),
    ("admin", f"/api/devices/{B}/ledger"),
    ("admin", "/api/users"),
    ("tenant", "/api/me"),
    ("admin", f"/api/devices/{A}/captures"),
    ("admin", f"/api/devices/{A}/captures/1"),
    ("admin", f"/api/devices/{A}/captures/1/samples"),
    ("admin", f"/api/devices/{A}/captures/1/comtrade.cfg"),
    ("admin", f"/api/devices/{A}/captures/2"),
]


# Fields answers gained since that release (SPEC: extend, never break), as (request, list key,
# field, the value every old row must show; list key None: the answer itself). They are
# checked (equal to the value, or the value, a function, says yes), then left out of the
# comparison.
ADDED_FIELDS = [("admin /api/users", "users", "disabled", False)]
# The relay as the meter last reported it: no old reading carries one.
ADDED_FIELDS += [(f"{who} /api/devices/{dev}", None, "relay", None)
                 for who, dev in (("admin", "meter-a"), ("admin", "meter-b"), ("tenant", "meter-a"))]
# Billing's cost beside the energy (docs/billing.md): nothing was billed before it existed.
ENERGY = [f"admin /api/devices/{A}/energy?period=day&from=2026-09-20&to=2026-09-23",
          f"tenant /api/devices/{A}/energy?period=month&from=2026-08&to=2026-10"]
ADDED_FIELDS += [(key, "buckets", field, value) for key in ENERGY
                 for field, value in (("cost", 0.0),
                                      ("periods", lambda ps: all(p["cost"] == 0 for p in ps)))]
ADDED_FIELDS += [(key, None, "cost", 0.0) for key in ENERGY]
# Device metadata (migration 015, docs/api.md "Device metadata"): nobody had told any.
META = ["name", "site", "address", "latitude", "longitude", "nominal_voltage", "nominal_hz",
        "rated_current", "rated_kva", "ct_ratio", "pt_ratio", "modbus_unit", "dtu_id",
        "poll_interval_s", "register_map", "metadata_updated_at", "metadata_updated_by"]
ADDED_FIELDS += [(f"{who} /api/devices", "devices", field, None)
                 for who in ("admin", "tenant") for field in ("name", "site")]
ADDED_FIELDS += [(f"{who} /api/devices/{dev}", None, field, None)
                 for who, dev in (("admin", "meter-a"), ("admin", "meter-b"), ("tenant", "meter-a"))
                 for field in META]


def without_added_fields(test, got):
    """got with ADDED_FIELDS checked and removed."""
    for key, list_key, field, value in ADDED_FIELDS:
        for row in got[key][1][list_key] if list_key else [got[key][1]]:
            got_value = row.pop(field)
            if callable(value):
                test.assertTrue(value(got_value), (key, field, got_value))
            else:
                test.assertEqual(got_value, value, (key, row))
    return got


def answers(server):
    """Every request of REQUESTS as {"<user> <path>": [status, body]} (JSON bodies parsed)."""
    tokens = {u: server.login(u, p) for u, p in PASSWORDS.items()}
    out = {}
    for user, path in REQUESTS:
        r = server.request("GET", path, token=tokens[user])
        try:
            body = json.loads(r.body)
        except ValueError:
            body = r.body
        out[f"{user} {path}"] = [r.status, body]
    return out


# --- making the fixture (with the old release) ----------------------------------------------

def _reading(device, seq, k, energy_wh):
    return {"device_id": device, "seq": seq, "ts": T0 + k * 60_000, "voltage": 228.5 + (k % 7) * 0.25,
            "current": 4.0 + (k % 5) * 0.5, "power_w": 900.0 + k, "reactive_var": 120.5,
            "pf": 0.97, "freq_hz": 49.98 + (k % 3) * 0.01, "thd_v": 2.5, "thd_i": 7.25,
            "energy_wh": energy_wh, "energy_export_wh": 3}


def _fill(server):
    energy = 1_000_000
    for dev, count in ((A, 150), (B, 40)):
        batch = []
        for k in range(count):
            energy += 15 + (k % 4)
            batch.append(_reading(dev, k + 1, k, energy))
        for i in range(0, len(batch), 50):
            server.upload(server.secrets[dev], batch[i:i + 50], check=True)
    op = server.login("counter")
    for dev, amount, key in ((A, "100.50", "k-1"), (A, 20, None), (B, "0.07", "k-2")):
        headers = {"Idempotency-Key": key} if key else None
        r = server.request("POST", f"/api/device/recharge/{dev}", {"amount": amount}, token=op,
                           headers=headers)
        assert r.status == 200, r


def _capture_rows():
    import math
    import struct
    n = 640
    blob = b"".join(struct.pack("<ff", 325.0 * math.sin(2 * math.pi * k / 128),
                                14.1 * math.sin(2 * math.pi * k / 128 - 0.6)) for k in range(n))
    analysis = json.dumps({"frequency_hz": 50.0, "vrms": 229.81, "irms": 9.97, "pf": 0.8253})
    return blob, analysis, n


def _add_rows_sqlite(path):
    blob, analysis, n = _capture_rows()
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO captures (device_pk, request_id, requested_by, requested_ms, "
                   "duration_ms, status, message, rate_hz, nominal_hz, start_ms, samples, data, "
                   "analysis, received_ms) VALUES (1, 'req-1', 1, ?, 100, 'complete', NULL, "
                   "6400, 50, ?, ?, ?, ?, ?)", (T0, T0 + 500, n, blob, analysis, T0 + 900))
        db.execute("INSERT INTO captures (device_pk, request_id, requested_by, requested_ms, "
                   "duration_ms, status, message, received_ms) VALUES (1, 'req-2', 2, ?, 200, "
                   "'failed', 'the meter did not answer within 30 s', ?)", (T0, T0 + 30_000))
        db.execute("INSERT INTO wechat_bindings (openid, user_id, appid, created_ms) "
                   "VALUES ('o-tenant-1', 3, 'wx-upgrade', ?)", (T0,))


def _mysql(env, db, sql):
    subprocess.run(["mariadb", "--no-defaults", "-uroot", "-S", env["MYSQL_SOCKET"], db],
                   input=sql, text=True, check=True)


def _add_rows_mysql(env, db):
    blob, analysis, n = _capture_rows()
    _mysql(env, db, f"""
INSERT INTO captures (device_pk, request_id, requested_by, requested_ms, duration_ms, status,
  message, rate_hz, nominal_hz, start_ms, samples, data, analysis, received_ms)
  VALUES (1, 'req-1', 1, {T0}, 100, 'complete', NULL, 6400, 50, {T0 + 500}, {n},
  X'{blob.hex()}', '{analysis}', {T0 + 900});
INSERT INTO captures (device_pk, request_id, requested_by, requested_ms, duration_ms, status,
  message, received_ms) VALUES (1, 'req-2', 2, {T0}, 200, 'failed',
  'the meter did not answer within 30 s', {T0 + 30000});
INSERT INTO wechat_bindings (openid, user_id, appid, created_ms)
  VALUES ('o-tenant-1', 3, 'wx-upgrade', {T0});
""")


def _dump(backend, env, db_name, path):
    if backend == "sqlite":
        with sqlite3.connect(path) as db:
            return "\n".join(db.iterdump()) + "\n"
    r = subprocess.run(["mariadb-dump", "--no-defaults", "-uroot", "-S", env["MYSQL_SOCKET"],
                        "--skip-comments", "--skip-dump-date", "--hex-blob", "--compact",
                        db_name], capture_output=True, text=True, check=True)
    # Newer clients open with a line older ones refuse; the dump needs nothing of it. Tables
    # come in name order, so foreign keys are checked only once all are there.
    return "SET FOREIGN_KEY_CHECKS = 0;\n" + "".join(
        line for line in r.stdout.splitlines(keepends=True) if not line.startswith("/*M!999999")
    ) + "SET FOREIGN_KEY_CHECKS = 1;\n"


def make_fixture(backend, workdir):
    env = services_env() if backend == "mysql" else {}
    db_name = "upgrade_fixture"
    db_url = new_database(backend, db_name, workdir)
    server = Server(workdir, db_url, "tcp://127.0.0.1:9")
    roles = {"admin": "admin", "counter": "operator", "tenant": "user"}
    server.provision({u: (r, PASSWORDS[u]) for u, r in roles.items()}, {A: "tenant", B: "counter"})
    server.start()
    try:
        _fill(server)
    finally:
        server.stop()
    path = sqlite_path(db_url) if backend == "sqlite" else None
    if backend == "sqlite":
        _add_rows_sqlite(path)
    else:
        _add_rows_mysql(env, db_name)
    server.start()
    try:
        expected = answers(server)
    finally:
        server.stop()
    os.makedirs(DATA, exist_ok=True)
    with open(os.path.join(DATA, f"v6-{backend}.sql"), "w") as f:
        f.write(_dump(backend, env, db_name, path))
    with open(os.path.join(DATA, f"expected-{backend}.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True, ensure_ascii=False)
        f.write("\n")


# --- the test -------------------------------------------------------------------------------

class Upgrade(IntegrationTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        b = cls.backend
        with open(os.path.join(DATA, f"v6-{b}.sql")) as f:
            dump = f.read()
        with open(os.path.join(DATA, f"expected-{b}.json")) as f:
            cls.expected = json.load(f)
        db_url = new_database(b, cls.db_name(), cls.workdir)
        if b == "sqlite":
            with sqlite3.connect(sqlite_path(db_url)) as db:
                db.executescript(dump)
        else:
            _mysql(services_env(), cls.db_name(), dump)
        cls.server = cls.new_server(db_url, "tcp://127.0.0.1:9")
        cls.server.passwords.update(PASSWORDS)
        cls.migrate_output = cls.server.migrate()
        cls.server.start()

    def test_migrate_applies_only_what_is_new_and_is_idempotent(self):
        latest = len([f for f in os.listdir(os.path.join(HERE, "..", "..", "sql", self.backend))
                      if f.endswith(".sql")])
        self.assertIn(f"schema at version {latest} ({latest - 6} migration",
                      self.migrate_output.stderr)
        again = self.server.cli("migrate")
        self.assertIn(f"schema at version {latest} (0 migrations applied)", again.stderr)

    def test_every_answer_is_what_the_old_release_gave(self):
        got = without_added_fields(self, answers(self.server))
        self.assertEqual(sorted(got), sorted(self.expected))
        for key in self.expected:
            with self.subTest(request=key):
                self.assertEqual(got[key], self.expected[key])

    def test_the_migrated_bindings_page_and_the_migrated_ids_are_found(self):
        # Migration 017 fills the keys of the paged list from the rows already there.
        tenant = self.server.login("tenant")
        r = self.server.request("GET", "/api/devices?limit=1", token=tenant)
        self.assertEqual(r.status, 200, r)
        self.assertEqual([d["device_id"] for d in r.json()["devices"]], [A])
        self.assertEqual((r.json()["total"], r.json()["next_cursor"]), (1, None))
        admin = self.server.login("admin")
        for q, ids in (("METER-B", [B]), ("eter-", [A, B]), ("ter-c", [])):
            with self.subTest(q=q):
                r = self.server.request("GET", f"/api/devices?q={q}", token=admin)
                self.assertEqual(r.status, 200, r)
                self.assertEqual([d["device_id"] for d in r.json()["devices"]], ids)
                self.assertEqual(r.json()["total"], len(ids))

    def test_the_migrated_tables_take_new_money_and_readings(self):
        # Writes: named to run after the comparison above (unittest sorts by name).
        op = self.server.login("counter")
        before = self.server.request("GET", f"/api/devices/{A}", token=op).json()
        r = self.server.request("POST", f"/api/device/recharge/{A}", {"amount": "0.25"}, token=op)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(round(float(r.json()["new_balance"]) * 100),
                         round(float(before["balance"]) * 100) + 25)
        ledger = self.server.request("GET", f"/api/devices/{A}/ledger", token=op).json()
        self.assertEqual(round(sum(float(e["amount"]) for e in ledger["entries"]) * 100),
                         round(float(ledger["balance"]) * 100))
        # Replaying an idempotency key recorded before the upgrade changes nothing.
        r = self.server.request("POST", f"/api/device/recharge/{A}", {"amount": "100.50"},
                                token=op, headers={"Idempotency-Key": "k-1"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers.get("Idempotent-Replayed"), "true")
        # A new device, and readings for it.
        secret = self.server.add_device("meter-c", "tenant")
        self.server.upload(secret, [{"device_id": "meter-c", "seq": s, "ts": T0 + s * 1000,
                                     "voltage": 230, "current": 1, "energy_wh": s}
                                    for s in (1, 2)], check=True)
        rows = self.server.request("GET", f"/api/device/data/meter-c?from={FROM}&to={TO}",
                                   token=op).json()
        self.assertEqual([row["seq"] for row in rows], [2, 1])

    def test_z_accounts_and_devices_after_the_upgrade(self):
        # Runs last. Ids are never handed out twice, and deletes still reach what points at
        # the rows (SQLite rebuilt users and devices in migration 008).
        admin = self.server.login("admin")
        ids = [u["id"] for u in self.server.request("GET", "/api/users", token=admin).json()["users"]]
        r = self.server.request("POST", "/api/users", {"username": "temp", "password": "temp-password",
                                                       "role": "operator"}, token=admin)
        self.assertEqual(r.status, 201, r)
        temp = r.json()["id"]
        self.assertGreater(temp, max(ids))
        self.assertEqual(self.server.request("DELETE", "/api/users/temp", token=admin).status, 200)
        r = self.server.request("POST", "/api/users", {"username": "newguy", "password": "newguy-pass"},
                                token=admin)
        self.assertGreater(r.json()["id"], temp)
        # tenant's binding to meter-a goes with the account.
        self.assertEqual(self.server.request("DELETE", "/api/users/tenant", token=admin).status, 200)
        detail = self.server.request("GET", f"/api/devices/{A}", token=admin).json()
        self.assertNotIn("tenant", detail["users"])
        # meter-b goes with its readings, ledger and captures.
        self.assertEqual(self.server.request("DELETE", f"/api/devices/{B}", token=admin).status, 200)
        for path in (f"/api/devices/{B}", f"/api/devices/{B}/ledger"):
            self.assertEqual(self.server.request("GET", path, token=admin).status, 404, path)
        if self.backend == "sqlite":
            with sqlite3.connect(sqlite_path(self.server.db)) as db:
                self.assertEqual(db.execute("PRAGMA foreign_key_check").fetchall(), [])
                self.assertEqual(db.execute("SELECT COUNT(*) FROM readings r LEFT JOIN devices d "
                                            "ON d.id = r.device_pk WHERE d.id IS NULL").fetchone(),
                                 (0,))


if __name__ == "__main__":
    if "--make-fixture" in sys.argv:
        import tempfile
        for backend in ("sqlite", "mysql"):
            make_fixture(backend, tempfile.mkdtemp(prefix=f"upgrade-fixture-{backend}-"))
        print(f"wrote {DATA}")
    else:
        main()
