"""Secret files (the audit's F11): every file of secrets the server reads must be readable by
its owner only, or the server stops with one clear line and exit 2; db_password_file keeps the
MariaDB password out of the command line (and so out of ps)."""
import os
import subprocess

from harness import (METER_SERVER, IntegrationTest, Server, free_port, main, new_database,
                     services_env, write_file, write_secret_file)


def run(args, timeout=10):
    """The server's exit; a server that starts serving instead is stopped and counts as -1."""
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        return -1, out + err
    return p.returncode, err


class SecretFiles(IntegrationTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.db = f"sqlite:{cls.path('secrets.db')}"
        subprocess.run([METER_SERVER, "migrate", "--db", cls.db], check=True, capture_output=True)
        cls.jwt = write_secret_file(cls.path("jwt.secret"), "j" * 48 + "\n")

    def server_args(self, *extra, jwt=None):
        return [METER_SERVER, "--db", self.db, "--jwt-secret-file", jwt or self.jwt,
                "--listen", f"127.0.0.1:{free_port()}", "--mqtt", "tcp://127.0.0.1:9", *extra]

    def assert_refused(self, args, name):
        code, err = run(args)
        self.assertEqual(code, 2, err)
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertIn(name, err)
        self.assertIn("chmod 600", err)

    def test_secret_files_others_may_read_are_refused(self):
        for mode in (0o644, 0o640, 0o604, 0o666):
            with self.subTest(mode=oct(mode)):
                loose = write_file(self.path("loose.secret"), "x" * 48 + "\n")
                os.chmod(loose, mode)
                self.assert_refused(self.server_args(jwt=loose), "JWT secret file")
                self.assert_refused(self.server_args("--wechat-appid", "wxa1b2c3d4e5f60718",
                                                     "--wechat-secret-file", loose),
                                    "wechat_secret_file")
                self.assert_refused(self.server_args("--mqtt-username", "meter-server",
                                                     "--mqtt-password-file", loose),
                                    "mqtt_password_file")

    def test_owner_only_files_are_accepted(self):
        srv = self.track(Server(self.workdir, self.db, "tcp://127.0.0.1:9"))
        srv.start()
        self.assertEqual(srv.request("GET", "/api/health").status, 200)
        self.assertEqual(oct(os.stat(srv.secret_file).st_mode & 0o777), "0o600")

    def test_the_mysql_password_can_come_from_a_file(self):
        env = services_env()
        base = new_database("mysql", self.db_name("_pw"), self.workdir)
        password = base.split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]
        url = base.replace(f":{password}@", "@")
        pw_file = write_secret_file(self.path("db.password"), password + "\n")
        r = subprocess.run([METER_SERVER, "migrate", "--db", url, "--db-password-file", pw_file],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        # Without the file the same URL cannot log in; with it the server serves.
        r = subprocess.run([METER_SERVER, "migrate", "--db", url], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(r.returncode, 1, r.stderr)
        srv = self.track(Server(self.workdir, url, env["MQTT_URL"],
                                extra_args=["--db-password-file", pw_file]))
        srv.start()
        self.assertEqual(srv.request("GET", "/api/health").json()["database"], "ok")
        with open(f"/proc/{srv.proc.pid}/cmdline", "rb") as f:
            self.assertNotIn(password.encode(), f.read())
        self.assertNotIn(password, srv.log())
        # Loose, or a password in both places: refused with one line, exit 2.
        os.chmod(pw_file, 0o644)
        self.assert_refused([METER_SERVER, "migrate", "--db", url, "--db-password-file", pw_file],
                            "db_password_file")
        os.chmod(pw_file, 0o600)
        code, err = run([METER_SERVER, "migrate", "--db", base, "--db-password-file", pw_file])
        self.assertEqual(code, 2, err)
        self.assertNotIn(password, err)
        code, err = run([METER_SERVER, "migrate", "--db", self.db, "--db-password-file", pw_file])
        self.assertEqual(code, 2, err)


if __name__ == "__main__":
    main()
