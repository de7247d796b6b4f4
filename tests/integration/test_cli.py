"""The command lines of SPEC.md: options, errors (one line, exit 2), secrets and analyze."""
import json
import math
import os
import subprocess

from harness import METER_SERVER, METERD, IntegrationTest, main, new_database, write_secret_file


def run(args, stdin=None, timeout=60):
    return subprocess.run(args, input=stdin, capture_output=True, text=True, timeout=timeout)


class CommandLine(IntegrationTest):
    def assert_bad_input(self, r, words):
        self.assertEqual(r.returncode, 2, r)
        lines = r.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertIn(words, lines[0])

    def db(self, name):
        return f"sqlite:{self.workdir}/{name}.db"

    def test_help_documents_every_option(self):
        r = run([METER_SERVER, "--help"])
        self.assertEqual(r.returncode, 0)
        for opt in ("--db", "--mqtt", "--listen", "--jwt-secret-file", "--config", "migrate",
                    "user add", "device add", "--token-ttl", "--max-body-bytes"):
            self.assertIn(opt, r.stdout)
        r = run([METERD, "--help"])
        self.assertEqual(r.returncode, 0)
        for opt in ("--device-id", "--mqtt", "--adc", "--interval", "--state-dir", "--config", "analyze"):
            self.assertIn(opt, r.stdout)

    def test_server_bad_input_is_one_line_and_exit_2(self):
        self.assert_bad_input(run([METER_SERVER, "--bogus", "1"]), "--bogus")
        self.assert_bad_input(run([METER_SERVER, "migrate", "--db", "postgres://x/y"]), "database URL")
        self.assert_bad_input(run([METER_SERVER, "migrate", "--config", "/nonexistent/x.conf"]),
                              "/nonexistent/x.conf")
        self.assert_bad_input(run([METER_SERVER, "frobnicate"]), "unknown command")
        self.assert_bad_input(run([METER_SERVER, "--db", self.db("a"), "--token-ttl", "5"]), "--token-ttl")
        bad_conf = self.write_file("bad.conf", "db sqlite:/tmp/x.db\nno_such_option 3\n")
        self.assert_bad_input(run([METER_SERVER, "migrate", "--config", bad_conf]), "bad.conf:2")

    def test_server_refuses_to_start_without_a_proper_jwt_secret(self):
        db = self.db("jwt")
        self.assertEqual(run([METER_SERVER, "migrate", "--db", db]).returncode, 0)
        self.assert_bad_input(run([METER_SERVER, "--db", db]), "JWT secret")
        short = write_secret_file(self.path("short.secret"), "too-short\n")
        self.assert_bad_input(run([METER_SERVER, "--db", db, "--jwt-secret-file", short]), "32")
        self.assert_bad_input(run([METER_SERVER, "--db", db, "--jwt-secret-file", short + ".missing"]),
                              "missing")
        good = write_secret_file(self.path("good.secret"), "x" * 40)
        self.assert_bad_input(run([METER_SERVER, "--db", db, "--jwt-secret-file", good,
                                   "--mqtt", "http://broker"]), "MQTT URL")
        self.assert_bad_input(run([METER_SERVER, "--db", db, "--jwt-secret-file", good,
                                   "--listen", "nowhere"]), "listen")

    def test_server_refuses_an_unmigrated_database(self):
        good = write_secret_file(self.path("good2.secret"), "y" * 40)
        r = run([METER_SERVER, "--db", self.db("empty"), "--jwt-secret-file", good])
        self.assertEqual(r.returncode, 1, r)
        self.assertIn("meter-server migrate", r.stderr)
        r = run([METER_SERVER, "user", "add", "u", "--role", "user", "--db", self.db("empty2")], stdin="pw\n")
        self.assertEqual(r.returncode, 1, r)
        self.assertIn("migrate", r.stderr)

    def test_user_and_device_commands(self):
        db = self.db("admin")
        self.assertEqual(run([METER_SERVER, "migrate", "--db", db]).returncode, 0)
        r = run([METER_SERVER, "user", "add", "ann", "--role", "user", "--db", db], stdin="ann-password\n")
        self.assertEqual(r.returncode, 0, r)
        self.assertEqual(r.stdout, "")
        r = run([METER_SERVER, "user", "add", "ann", "--role", "user", "--db", db], stdin="again-pass\n")
        self.assertEqual(r.returncode, 1, r)
        self.assertIn("already exists", r.stderr)
        self.assert_bad_input(run([METER_SERVER, "user", "add", "bo", "--db", db], stdin="x\n"), "--role")
        self.assert_bad_input(run([METER_SERVER, "user", "add", "bo", "--role", "king", "--db", db],
                                  stdin="x\n"), "--role")
        self.assert_bad_input(run([METER_SERVER, "user", "add", "bo", "--role", "user", "--db", db],
                                  stdin=""), "password")
        r = run([METER_SERVER, "device", "add", "m-1", "--owner", "ann", "--db", db])
        self.assertEqual(r.returncode, 0, r)
        secret = r.stdout
        self.assertRegex(secret, r"^[0-9a-f]{64}\n$")
        self.assertNotIn(secret.strip(), r.stderr)
        r = run([METER_SERVER, "device", "add", "m-1", "--owner", "ann", "--db", db])
        self.assertEqual(r.returncode, 1, r)
        r = run([METER_SERVER, "device", "add", "m-2", "--owner", "nobody", "--db", db])
        self.assertEqual(r.returncode, 1, r)
        self.assertIn("nobody", r.stderr)
        self.assert_bad_input(run([METER_SERVER, "device", "add", "bad/id", "--owner", "ann", "--db", db]),
                              "device id")
        # the secret is stored hashed: it is nowhere in the database file
        with open(db[len("sqlite:"):], "rb") as f:
            self.assertNotIn(secret.strip().encode(), f.read())

    def test_every_option_works_from_a_config_file(self):
        db = self.db("fromconf")
        conf = self.write_file("server.conf", f"# a config in mosquitto.conf style\ndb {db}\n"
                               "listen 127.0.0.1:0\nlog_level warn\ntoken_ttl 600\nmax_batch 10\n")
        r = run([METER_SERVER, "migrate", "--config", conf])
        self.assertEqual(r.returncode, 0, r)
        self.assertTrue(os.path.exists(db[len("sqlite:"):]))

    def test_secrets_never_reach_the_logs(self):
        r = run([METER_SERVER, "migrate", "--db", "mysql://smartmeter:hunter2-secret@127.0.0.1:1/x"])
        self.assertEqual(r.returncode, 1, r)
        self.assertNotIn("hunter2-secret", r.stderr + r.stdout)
        db = new_database("mysql", "it_cli_secrets", self.workdir)
        srv = self.server_fixture({"sam": ("operator", "sam-very-secret-pw")}, {"sec-1": "sam"},
                                  login=("sam",), db=db, extra_args=["--log-level", "debug"],
                                  connect=False)
        secret, token = srv.secrets["sec-1"], srv.tokens["sam"]
        srv.request("POST", "/api/login", {"username": "sam", "password": "wrong-pw-attempt"})
        srv.upload(secret, {"device_id": "sec-1", "voltage": 1, "current": 1})
        srv.request("GET", "/api/devices", token=token)
        log = srv.log()
        db_password = db.split(":")[2].split("@")[0]
        for s in ("sam-very-secret-pw", "wrong-pw-attempt", secret, token, db_password):
            self.assertNotIn(s, log)

    def test_meterd_bad_input_is_one_line_and_exit_2(self):
        self.assert_bad_input(run([METERD, "--bogus"]), "--bogus")
        self.assert_bad_input(run([METERD, "--mqtt", "tcp://x:1"]), "device")
        self.assert_bad_input(run([METERD, "--device-id", "a/b"]), "device")
        self.assert_bad_input(run([METERD, "--device-id", "m", "--mqtt", "udp://x"]), "MQTT")
        self.assert_bad_input(run([METERD, "--device-id", "m", "--adc", "sim:volume=11"]), "volume")
        self.assert_bad_input(run([METERD, "--device-id", "m", "--adc", "mcp3208:/dev/spidev0.0"]),
                              "mcp3208")
        self.assert_bad_input(run([METERD, "--device-id", "m", "--interval", "0"]), "--interval")
        self.assert_bad_input(run([METERD, "--device-id", "m", "--config", "/nonexistent.conf"]),
                              "/nonexistent.conf")

    def test_meterd_analyze_measures_a_known_waveform(self):
        rate, f, vrms, irms, lag = 6400.0, 50.0, 230.0, 10.0, math.radians(36.87)
        lines = ["v,i"]
        for n in range(int(rate)):  # one second
            t = n / rate
            w = 2 * math.pi * f * t
            v = vrms * math.sqrt(2) * (math.sin(w) + 0.05 * math.sin(3 * w))
            i = irms * math.sqrt(2) * (math.sin(w - lag) + 0.05 * math.sin(3 * (w - lag)))
            lines.append(f"{v:.6f},{i:.6f}")
        r = run([METERD, "analyze", "--rate", "6400", "--nominal", "50"], stdin="\n".join(lines) + "\n")
        self.assertEqual(r.returncode, 0, r)
        out = json.loads(r.stdout)
        for key in ("frequency_hz", "vrms", "irms", "p_w", "q_var", "s_va", "pf", "thd_v", "thd_i",
                    "phase_deg", "harmonics_v", "harmonics_i"):
            self.assertIn(key, out)
        self.assertAlmostEqual(out["frequency_hz"], 50, delta=0.01)
        self.assertAlmostEqual(out["vrms"], vrms * math.sqrt(1 + 0.05 ** 2), delta=0.1)
        # the 3rd harmonic of the current lags by 3 x 36.87 degrees, which lowers PF a little
        pf = (math.cos(lag) + 0.05 ** 2 * math.cos(3 * lag)) / (1 + 0.05 ** 2)
        self.assertAlmostEqual(out["pf"], pf, delta=0.002)
        self.assertAlmostEqual(out["harmonics_v"][1], 100, delta=0.1)
        self.assertAlmostEqual(out["harmonics_v"][3], 5, delta=0.25)
        self.assertAlmostEqual(out["thd_i"], 5, delta=0.25)
        self.assertAlmostEqual(out["phase_deg"], 36.87, delta=0.2)
        bad = run([METERD, "analyze", "--rate", "6400"], stdin="1,2\nthree,4\n")
        self.assertEqual(bad.returncode, 2)
        self.assertIn("line 2", bad.stderr)


if __name__ == "__main__":
    main()
