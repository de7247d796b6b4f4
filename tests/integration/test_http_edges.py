"""HTTP edge cases over raw sockets (the audit's F9, scripts/httpraw.py) and what the server
tells the public (F12): every case answered at once with the JSON error, before any handler or
body, and nothing routed somewhere else."""
import json
import os
import socket
import time

from harness import IntegrationTest, http, main

MAX_BODY = 1048576


def raw(port, data, timeout=10):
    """Sends data; (status line, headers text, body bytes, seconds until the answer was in)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    t = time.monotonic()
    d = b""
    try:
        s.sendall(data)
        while True:
            head, sep, body = d.partition(b"\r\n\r\n")
            lengths = [int(line.split(b":")[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")]
            if sep and (not lengths or len(body) >= lengths[0]):
                break
            x = s.recv(65536)
            if not x:
                break
            d += x
    except socket.timeout:
        return "timeout", "", b"", time.monotonic() - t
    finally:
        s.close()
    head, _, body = d.partition(b"\r\n\r\n")
    lines = head.decode("latin1").split("\r\n")
    return lines[0], "\r\n".join(lines[1:]), body, time.monotonic() - t


class HttpEdges(IntegrationTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        web = cls.subdir("web", "assets")
        cls.write_file("web/index.html", "<!doctype html><title>x</title>")
        cls.write_file("web/assets/app-1.js", "console.log(1)\n//# sourceMappingURL=app-1.js.map\n")
        cls.write_file("web/assets/app-1.js.map", json.dumps({"version": 3, "sources": ["main.js"]}))
        cls.web = os.path.dirname(web)
        users = {"alice": "user", "op": "operator"}
        cls.srv = cls.server_fixture(users, {"meter-a": "alice", "meter-b2": "op"}, login=users,
                                     connect=False, extra_args=["--web-root", cls.web])
        cls.port = cls.srv.port
        cls.tok = cls.srv.tokens

    def req(self, head, body=b""):
        return raw(self.port, head.encode() + body)

    def assert_json_error(self, answer, status, text=None):
        line, headers, body, dt = answer
        self.assertTrue(line.startswith(f"HTTP/1.1 {status} "), answer)
        self.assertIn("Content-Type: application/json", headers)
        msg = json.loads(body)
        self.assertEqual(msg["status"], "error")
        if text:
            self.assertIn(text, msg["message"])
        self.assertLess(dt, 2.0, answer)

    def test_an_announced_body_over_the_limit_answers_413_before_it_is_sent(self):
        for length in ("5000000", "99999999999", str(MAX_BODY + 1)):
            a = self.req("POST /api/login HTTP/1.1\r\nHost: x\r\n"
                         f"Content-Length: {length}\r\n\r\n")
            self.assert_json_error(a, 413, f"larger than {MAX_BODY} bytes")
        # A body that fits is still read and answered as before.
        a = self.req("POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                     "Connection: close\r\n\r\n", b"{}")
        self.assert_json_error(a, 400)

    def test_conflicting_framing_answers_400(self):
        # Bodies a server reading either way would take as a login: only the framing is wrong.
        body = json.dumps({"username": "alice", "password": "wrong-password!"}).encode()
        chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
        cases = {
            "two Content-Length": (f"Content-Length: {len(body)}\r\nContent-Length: 40\r\n", body),
            "two equal Content-Length":
                (f"Content-Length: {len(body)}\r\nContent-Length: {len(body)}\r\n", body),
            "Content-Length and chunked":
                (f"Content-Length: {len(chunked)}\r\nTransfer-Encoding: chunked\r\n", chunked),
        }
        for name, (headers, payload) in cases.items():
            a = self.req(f"POST /api/login HTTP/1.1\r\nHost: x\r\n{headers}Connection: close\r\n\r\n",
                         payload)
            with self.subTest(name):
                self.assert_json_error(a, 400, "Content-Length")

    def test_a_second_authorization_header_answers_400(self):
        good = self.tok["alice"]
        for first, second in (("garbage", good), (good, "garbage"), (good, good)):
            a = self.req("GET /api/me HTTP/1.1\r\nHost: x\r\n"
                         f"Authorization: Bearer {first}\r\nAuthorization: Bearer {second}\r\n"
                         "Connection: close\r\n\r\n")
            self.assert_json_error(a, 400, "Authorization")

    def test_a_control_character_in_the_path_answers_400_instead_of_routing_elsewhere(self):
        op = self.tok["op"]
        before = http("GET", self.srv.url("/api/devices/meter-b2"), token=op).json()["balance"]
        for method, path in (("GET", "/api/stats%00.js"),
                             ("POST", "/api/device/recharge/meter-b2%00.css"),
                             ("GET", "/api/devices/%00/ledger"),
                             ("GET", "/api/devices/meter-a/captures/%00"),
                             ("GET", "/api/health%0d%0aX-Injected:%20yes"),
                             ("GET", "/api/devices/meter-a%1f")):
            a = self.req(f"{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {op}\r\n"
                         "Content-Length: 13\r\nConnection: close\r\n\r\n", b'{"amount":50}')
            with self.subTest(path):
                self.assert_json_error(a, 400, "control character")
        after = http("GET", self.srv.url("/api/devices/meter-b2"), token=op).json()["balance"]
        self.assertEqual(before, after)  # the recharge was never made

    def test_empty_and_dot_segments_answer_the_json_error(self):
        for path in ("//api/health", "/api//health", "/api/../api/health", "/api/./health",
                     "/assets/../index.html", "/%2e%2e/etc/passwd", "//"):
            a = self.req(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            with self.subTest(path):
                self.assert_json_error(a, 400, "bad path")
        # A plain trailing slash is still fine.
        a = self.req("GET /api/health/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        self.assertTrue(a[0].startswith("HTTP/1.1 200"), a)

    def test_health_tells_the_public_nothing_about_the_build(self):
        r = self.srv.request("GET", "/api/health")
        self.assertEqual(r.status, 200)
        self.assertEqual(set(r.json()), {"status", "database", "mqtt", "uptime_s"})
        self.assertNotIn("version", r.body)
        stats = self.srv.request("GET", "/api/stats", token=self.tok["op"]).json()
        self.assertRegex(stats["version"], r"^\d+\.\d+")

    def test_source_maps_are_not_served_unless_asked_for(self):
        self.assertEqual(self.srv.request("GET", "/assets/app-1.js").status, 200)
        r = self.srv.request("GET", "/assets/app-1.js.map")
        self.assertEqual(r.status, 404, r)
        self.assertEqual(r.json()["status"], "error")
        other = self.new_server(self.srv.db, self.srv.mqtt,
                                extra_args=["--web-root", self.web, "--web-source-maps"])
        other.start()
        r = other.request("GET", "/assets/app-1.js.map")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["sources"], ["main.js"])


if __name__ == "__main__":
    main()
