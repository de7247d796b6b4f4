"""Lists that scale: GET /api/devices pages (cursor, filters, search, total) and the seed's
answer without them, GET /api/users, a ledger's and captures' pages, GET /api/devices/summary, and bulk provisioning by the CLI
(`meter-server device import`) and by POST /api/devices/import, all or nothing."""
import os
import re
import tempfile
import time
from urllib.parse import quote

from harness import IntegrationTest, main

FLEET = 45  # imported by the CLI in setUpClass; not a multiple of the page sizes below


class DeviceLists(IntegrationTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        users = {"alice": "user", "op": "operator", "root": "admin"}
        cls.srv = cls.server_fixture(users, {}, login=users, connect=False)
        cls.tok = cls.srv.tokens
        lines = ["device_id,owner,name,site"]
        for i in range(FLEET):
            owner = "alice" if i % 5 == 0 else ""
            name = f"Pump {i}" if i % 3 == 0 else f"Meter {i}"
            site = "north" if i % 2 == 0 else "south"
            lines.append(f"lst-{i:03d},{owner},{name},{site}")
        r = cls.srv.cli("device", "import", "-", stdin="\n".join(lines) + "\n")
        cls.cli_out = r.stdout
        cls.cli_err = r.stderr

    def ids(self, answer):
        return [d["device_id"] for d in answer["devices"]]

    def walk(self, query, who="op", limit=7):
        """Every page of query; the device ids in order, the totals and the page count."""
        seen, totals, pages, cursor = [], set(), 0, None
        while True:
            path = f"/api/devices?limit={limit}" + (f"&{query}" if query else "")
            if cursor:
                path += f"&cursor={cursor}"
            r = self.call("GET", path, who=who)
            self.assertEqual(r.status, 200, r)
            body = r.json()
            self.assertLessEqual(len(body["devices"]), limit)
            seen += self.ids(body)
            totals.add(body["total"])
            pages += 1
            cursor = body["next_cursor"]
            if cursor is None:
                return seen, totals, pages
            self.assertEqual(len(body["devices"]), limit)
            self.assertLess(pages, 100)

    def test_the_cli_printed_each_secret_once(self):
        rows = [line.split(",") for line in self.cli_out.splitlines()]
        self.assertEqual([r[0] for r in rows], [f"lst-{i:03d}" for i in range(FLEET)])
        for _, secret in rows:
            self.assertRegex(secret, r"^[0-9a-f]{64}$")
        self.assertEqual(len({r[1] for r in rows}), FLEET)
        self.assertIn(f"imported {FLEET} devices", self.cli_err)
        # A secret works: the device uploads with it.
        r = self.srv.upload(rows[3][1], {"device_id": "lst-003", "voltage": 230.0, "current": 1.0})
        self.assertEqual(r.status, 200, r)

    def test_a_cursor_walk_gives_every_device_once_in_order(self):
        seen, totals, pages = self.walk("q=lst-")
        self.assertEqual(seen, sorted(f"lst-{i:03d}" for i in range(FLEET)))
        self.assertEqual(totals, {FLEET})
        self.assertEqual(pages, (FLEET + 6) // 7)
        seen, totals, _ = self.walk("", limit=10)
        self.assertEqual(seen, sorted(seen))
        self.assertEqual(len(seen), len(set(seen)))
        self.assertEqual(totals, {len(seen)})

    def test_filters_and_search_narrow_pages_and_total(self):
        seen, totals, _ = self.walk("site=north")
        want = [f"lst-{i:03d}" for i in range(FLEET) if i % 2 == 0]
        self.assertEqual(seen, want)
        self.assertEqual(totals, {len(want)})
        seen, totals, _ = self.walk("q=PUMP")
        want = [f"lst-{i:03d}" for i in range(FLEET) if i % 3 == 0]
        self.assertEqual(seen, want)
        self.assertEqual(totals, {len(want)})
        seen, _, _ = self.walk("q=lst-00")
        self.assertEqual(seen, [f"lst-{i:03d}" for i in range(10)])
        seen, _, _ = self.walk("status=unknown&balance_below=0.01&site=south", limit=1000)
        self.assertEqual(seen, [f"lst-{i:03d}" for i in range(FLEET) if i % 2 == 1])
        seen, totals, _ = self.walk("alarms=open")
        self.assertEqual((seen, totals), ([], {0}))

    def test_a_user_pages_through_their_own_devices(self):
        seen, totals, _ = self.walk("", who="alice", limit=2)
        want = [f"lst-{i:03d}" for i in range(FLEET) if i % 5 == 0]
        self.assertEqual(seen, want)
        self.assertEqual(totals, {len(want)})

    def test_the_answer_per_device_is_the_one_of_the_full_list(self):
        full = {d["device_id"]: d for d in self.call("GET", "/api/devices", who="op").json()["devices"]}
        page = self.call("GET", "/api/devices?limit=5&q=lst-01", who="op").json()
        self.assertEqual(len(page["devices"]), 5)
        for d in page["devices"]:
            self.assertEqual(d, full[d["device_id"]])
        self.assertIn(page["devices"][0]["name"], ("Pump 10", "Meter 10"))
        self.assertEqual(page["devices"][0]["site"], "north")

    def test_a_page_and_the_full_list_show_what_the_device_answer_shows(self):
        """The newest reading and today's energy, read for a whole page at once, are what the
        answer for one device (read device by device) shows; with a counter, without one, and
        for a device without readings."""
        secrets = dict(line.split(",") for line in self.cli_out.splitlines())
        now = int(time.time() * 1000)
        for i, dev in enumerate(("lst-040", "lst-042", "lst-044")):
            rows = [{"seq": 1, "ts": now - 20 * 3600 * 1000, "voltage": 230, "current": 1},
                    {"seq": 2, "ts": now - 10000, "voltage": 231.5, "current": 2.25,
                     "power_w": 517.5}]
            if i != 1:
                rows[0]["energy_wh"] = 1000.5 + i
                rows[1]["energy_wh"] = 1500.25 + 7 * i
            for row in rows:
                self.srv.upload(secrets[dev], dict(row, device_id=dev), check=True)
        page = self.call("GET", "/api/devices?limit=10&q=lst-04", who="op").json()["devices"]
        full = {d["device_id"]: d
                for d in self.call("GET", "/api/devices", who="op").json()["devices"]}
        self.assertEqual([d["device_id"] for d in page], [f"lst-{i:03d}" for i in range(40, 45)])
        for d in page:
            one = self.call("GET", f"/api/devices/{d['device_id']}", who="op").json()
            for key in ("latest", "energy_today_wh"):
                self.assertEqual(d[key], one[key], (d["device_id"], key))
                self.assertEqual(full[d["device_id"]][key], one[key], (d["device_id"], key))
        latest = {d["device_id"]: d["latest"] for d in page}
        self.assertEqual([k for k, v in latest.items() if v], ["lst-040", "lst-042", "lst-044"])
        self.assertEqual(latest["lst-044"]["seq"], 2)

    def test_the_accounts_page_through_with_a_cursor_and_a_total(self):
        full = self.call("GET", "/api/users", who="root").json()
        self.assertEqual(set(full), {"status", "users"})  # without limit or cursor: as before
        seen, cursor, pages = [], None, 0
        while True:
            path = "/api/users?limit=2" + (f"&cursor={cursor}" if cursor else "")
            r = self.call("GET", path, who="op")
            self.assertEqual(r.status, 200, r)
            body = r.json()
            self.assertEqual((body["total"], body["limit"]), (len(full["users"]), 2))
            seen += body["users"]
            pages += 1
            cursor = body["next_cursor"]
            if cursor is None:
                break
            self.assertEqual(len(body["users"]), 2)
            self.assertLess(pages, 50)
        self.assertEqual(seen, full["users"])
        self.assertGreaterEqual(pages, 2)
        for query in ("limit=0", "limit=1001", "cursor=zz", "cursor=6", "cursor=0a"):
            r = self.call("GET", f"/api/users?{query}", who="op")
            self.assertEqual(r.status, 400, (query, r))
        self.assertEqual(self.call("GET", "/api/users?limit=2", who="alice").status, 403)

    def test_a_ledger_pages_through_with_a_cursor_and_a_total(self):
        # A device of its own, removed at the end: the others' balances stay 0.00 (summary).
        self.assertEqual(self.call("POST", "/api/devices", {"device_id": "pg-ledger"},
                                   who="op").status, 201)
        self.addCleanup(self.call, "DELETE", "/api/devices/pg-ledger", who="op")
        for cents in range(101, 108):
            r = self.call("POST", "/api/device/recharge/pg-ledger", {"amount": f"{cents / 100:.2f}"},
                          who="op")
            self.assertEqual(r.status, 200, r)
        full = self.call("GET", "/api/devices/pg-ledger/ledger", who="op").json()
        self.assertNotIn("total", full)  # without a cursor: as before
        self.assertEqual(len(full["entries"]), 7)
        seen, cursor, pages = [], "", 0
        while cursor is not None:
            r = self.call("GET", f"/api/devices/pg-ledger/ledger?limit=3&cursor={cursor}", who="op")
            self.assertEqual(r.status, 200, r)
            body = r.json()
            self.assertEqual((body["total"], body["limit"], body["balance"]), (7, 3, full["balance"]))
            seen += body["entries"]
            cursor = body["next_cursor"]
            pages += 1
            self.assertLess(pages, 10)
        self.assertEqual(pages, 3)
        self.assertEqual(seen, full["entries"])
        for cursor in ("x", "0", "-4"):
            r = self.call("GET", f"/api/devices/pg-ledger/ledger?cursor={cursor}", who="op")
            self.assertEqual(r.status, 400, (cursor, r))

    def test_captures_answer_a_page_with_a_total_for_a_cursor(self):
        plain = self.call("GET", "/api/devices/lst-031/captures", who="op").json()
        self.assertEqual(set(plain), {"status", "device_id", "captures"})  # as before
        r = self.call("GET", "/api/devices/lst-031/captures?limit=5&cursor=", who="op")
        self.assertEqual(r.status, 200, r)
        body = r.json()
        self.assertEqual((body["captures"], body["total"], body["limit"], body["next_cursor"]),
                         ([], 0, 5, None))
        for cursor in ("x", "0", "-1"):
            r = self.call("GET", f"/api/devices/lst-031/captures?cursor={cursor}", who="op")
            self.assertEqual(r.status, 400, (cursor, r))

    def test_without_paging_parameters_the_seed_answer_is_unchanged(self):
        body = self.call("GET", "/api/devices", who="op").json()
        self.assertEqual(set(body), {"status", "devices"})
        ids = self.ids(body)
        self.assertEqual([i for i in ids if i.startswith("lst-")],
                         [f"lst-{i:03d}" for i in range(FLEET)])
        self.assertEqual(len(ids), self.call("GET", "/api/devices/summary", who="op").json()["total"])

    def test_bad_parameters_are_refused_with_a_reason(self):
        for query, word in (("limit=0", "limit"), ("limit=1001", "limit"), ("limit=x", "limit"),
                            ("cursor=zz", "cursor"), ("cursor=6c7", "cursor"),
                            ("status=asleep", "status"), ("balance_below=1.234", "balance_below"),
                            ("balance_below=abc", "balance_below"), ("alarms=closed", "alarms"),
                            ("q=" + "x" * 65, "q"), ("q=", "q"), ("site=", "site")):
            r = self.call("GET", f"/api/devices?{query}", who="op")
            self.assertEqual(r.status, 400, (query, r))
            self.assertIn(word, r.json()["message"], query)

    def test_a_search_of_64_characters_of_any_script_is_taken(self):
        # 64 characters, up to 4 bytes each in UTF-8: the limit counts characters.
        for text in ("电" * 64, "\U0001F50C" * 64, "é" * 64):
            r = self.call("GET", "/api/devices?q=" + quote(text), who="op")
            self.assertEqual(r.status, 200, (text, r))
            self.assertEqual(r.json()["total"], 0)
        r = self.call("GET", "/api/devices?q=" + quote("电" * 65), who="op")
        self.assertEqual(r.status, 400, r)

    def test_summary_counts_the_callers_devices(self):
        s = self.call("GET", "/api/devices/summary", who="op").json()
        total = self.call("GET", "/api/devices?limit=1", who="op").json()["total"]
        self.assertGreaterEqual(s["total"], FLEET)
        self.assertEqual(s["total"], total)
        self.assertEqual(s["online"] + s["offline"] + s["unknown"], s["total"])
        self.assertEqual(s["in_arrears"], s["total"])  # every balance 0.00: at the cut-off
        self.assertEqual((s["with_open_alarms"], s["open_alarms"]), (0, 0))
        s = self.call("GET", "/api/devices/summary", who="alice").json()
        self.assertEqual(s["total"], len(range(0, FLEET, 5)))

    def test_a_bad_row_in_the_cli_import_rolls_back_everything(self):
        csv = "device_id,owner\ncli-new-1,alice\ncli-new-2,\nlst-004,\ncli-new-3,\n"
        r = self.srv.cli("device", "import", "-", stdin=csv, check=False)
        self.assertEqual(r.returncode, 2, r)
        self.assertIn("line 4", r.stderr)
        self.assertIn("lst-004", r.stderr)
        self.assertEqual(r.stdout, "")
        csv = "device_id,owner\ncli-new-1,nobody\n"
        r = self.srv.cli("device", "import", "-", stdin=csv, check=False)
        self.assertEqual(r.returncode, 2, r)
        self.assertIn("line 2", r.stderr)
        # A spreadsheet's byte order mark is not part of the first column's name.
        r = self.srv.cli("device", "import", "-", stdin="\ufeffdevice_id\ncli-new-1\nbad id\n",
                         check=False)
        self.assertEqual(r.returncode, 2, r)
        self.assertIn("line 3: device_id must be", r.stderr)
        r = self.srv.cli("device", "import", "-", stdin="device_id,colour\nx,red\n", check=False)
        self.assertEqual(r.returncode, 2, r)
        self.assertIn("colour", r.stderr)
        got = self.call("GET", "/api/devices?q=cli-new", who="op").json()
        self.assertEqual(got["total"], 0)

    def test_the_cli_imports_a_file_without_a_header_as_device_id_and_owner(self):
        with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as f:
            f.write("plain-1,alice\nplain-2\n\nplain-3,\n")
        try:
            r = self.srv.cli("device", "import", f.name)
        finally:
            os.unlink(f.name)
        rows = [line.split(",") for line in r.stdout.splitlines()]
        self.assertEqual([row[0] for row in rows], ["plain-1", "plain-2", "plain-3"])
        mine = self.call("GET", "/api/devices?q=plain-", who="alice").json()
        self.assertEqual(self.ids(mine), ["plain-1"])
        self.assertEqual(self.call("GET", "/api/devices?q=plain-", who="op").json()["total"], 3)
        # Without a header a row has at most two fields; nothing of a bad file is added.
        r = self.srv.cli("device", "import", "-", stdin="plain-4\nplain-5,alice,Pump\n", check=False)
        self.assertEqual(r.returncode, 2, r)
        self.assertIn("line 2", r.stderr)
        self.assertEqual(self.call("GET", "/api/devices?q=plain-4", who="op").json()["total"], 0)

    def test_the_api_imports_for_admins_only_all_or_nothing(self):
        csv = "device_id,name\napi-new-1,First\napi-new-2,\"Second, with a comma\"\n"
        headers = {"Content-Type": "text/csv"}
        r = self.call("POST", "/api/devices/import", who="op", raw=csv.encode(), headers=headers)
        self.assertEqual(r.status, 403, r)
        bad = csv + "api-new-1,again\n"
        r = self.call("POST", "/api/devices/import", who="root", raw=bad.encode(), headers=headers)
        self.assertEqual(r.status, 400, r)
        self.assertIn("line 4", r.json()["message"])
        self.assertEqual(self.call("GET", "/api/devices?q=api-new", who="op").json()["total"], 0)
        r = self.call("POST", "/api/devices/import", who="root", raw=csv.encode(),
                      headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 415, r)
        r = self.call("POST", "/api/devices/import", who="root", raw=csv.encode(), headers=headers)
        self.assertEqual(r.status, 201, r)
        body = r.json()
        self.assertEqual(body["imported"], 2)
        self.assertEqual([d["device_id"] for d in body["devices"]], ["api-new-1", "api-new-2"])
        for d in body["devices"]:
            self.assertTrue(re.fullmatch(r"[0-9a-f]{64}", d["secret"]))
        got = self.call("GET", "/api/devices?q=" + quote("with a comma"), who="op").json()
        self.assertEqual(self.ids(got), ["api-new-2"])
        # Imported devices take part in the lists like any other.
        self.assertIn("api-new-1", self.ids(self.call("GET", "/api/devices", who="op").json()))


if __name__ == "__main__":
    main()
