"""A stand-in for WeChat's code2Session API (GET /sns/jscode2session), on 127.0.0.1.

meter-server is pointed at it with --wechat-api-base http://127.0.0.1:PORT. It answers
like WeChat (docs: auth.code2Session) and can be told to misbehave through the code:

  ok.<openid>.<nonce>  a good code for <openid>; each code works once (then 40163)
  invalid              errcode 40029 (invalid code)
  blocked              errcode 40226 (high-risk user)
  busy                 errcode -1 (system busy)
  ratelimit            errcode 45011 (minute quota reached)
  slow                 answers after SLOW_S seconds, beyond meter-server's 5 s timeout
  garbage              an HTML page instead of JSON
  huge                 a 1 MiB JSON answer
  http500              HTTP 500

A wrong appid or secret answers 40013 or 40125, as WeChat does. Every request and every
session_key handed out are recorded so tests can check where they went.

Run alone (for the mini program's tests): python3 wechat_standin.py APPID SECRET_FILE
prints "port N" on stdout and serves until stdin closes or it is killed.
"""
import base64
import http.server
import json
import os
import secrets
import sys
import threading
import time
import urllib.parse

SLOW_S = 8


class Standin:
    def __init__(self, appid, secret):
        self.appid = appid
        self.secret = secret
        self.lock = threading.Lock()
        self.requests = []  # the query of each request, as a dict
        self.session_keys = []  # every session_key answered
        self.used = set()
        standin = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, fmt, *args):  # quiet
                pass

            def do_GET(self):  # noqa: N802 - the http.server API
                standin._handle(self)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def request_count(self):
        with self.lock:
            return len(self.requests)

    def _answer(self, h, status, body, content_type="text/plain"):
        data = body if isinstance(body, bytes) else body.encode()
        try:
            h.send_response(status)
            h.send_header("Content-Type", content_type)
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (the slow case)

    def _json(self, h, obj):
        self._answer(h, 200, json.dumps(obj))

    def _handle(self, h):
        url = urllib.parse.urlsplit(h.path)
        q = {k: v[0] for k, v in urllib.parse.parse_qs(url.query, keep_blank_values=True).items()}
        with self.lock:
            self.requests.append(q)
        if url.path != "/sns/jscode2session":
            self._answer(h, 404, "not found")
            return
        if q.get("appid") != self.appid:
            self._json(h, {"errcode": 40013, "errmsg": "invalid appid"})
            return
        if q.get("secret") != self.secret:
            self._json(h, {"errcode": 40125, "errmsg": "invalid appsecret"})
            return
        if q.get("grant_type") != "authorization_code":
            self._json(h, {"errcode": 40002, "errmsg": "invalid grant_type"})
            return
        code = q.get("js_code", "")
        fixed = {"invalid": (40029, "invalid code"), "blocked": (40226, "code blocked"),
                 "busy": (-1, "system error"), "ratelimit": (45011, "api minute-quota reach limit")}
        if code in fixed:
            errcode, errmsg = fixed[code]
            self._json(h, {"errcode": errcode, "errmsg": f"{errmsg}, rid: {secrets.token_hex(4)}"})
        elif code == "slow":
            time.sleep(SLOW_S)
            self._json(h, {"errcode": -1, "errmsg": "too late"})
        elif code == "garbage":
            self._answer(h, 200, "<html><body>502 Bad Gateway</body></html>", "text/html")
        elif code == "huge":
            self._json(h, {"openid": "oHuge", "session_key": "k", "errmsg": "x" * (1 << 20)})
        elif code == "http500":
            self._answer(h, 500, "internal error")
        elif code.startswith("ok.") and code.count(".") == 2:
            with self.lock:
                reused = code in self.used
                self.used.add(code)
            if reused:
                self._json(h, {"errcode": 40163, "errmsg": "code been used"})
                return
            key = base64.b64encode(secrets.token_bytes(16)).decode()
            with self.lock:
                self.session_keys.append(key)
            self._json(h, {"openid": code.split(".")[1], "session_key": key})
        else:
            self._json(h, {"errcode": 40029, "errmsg": "invalid code"})


_nonce = [0]


def code_for(openid):
    """A fresh one-time code the stand-in maps to openid."""
    _nonce[0] += 1
    return f"ok.{openid}.{os.getpid()}x{_nonce[0]}"


if __name__ == "__main__":
    appid, secret_file = sys.argv[1], sys.argv[2]
    with open(secret_file) as f:
        s = Standin(appid, f.read().strip()).start()
    print(f"port {s.port}", flush=True)
    sys.stdin.read()  # serve until our parent closes the pipe
    s.stop()
