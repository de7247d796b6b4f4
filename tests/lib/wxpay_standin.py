"""A stand-in for WeChat Pay API v3 (JSAPI), on 127.0.0.1, for tests.

It plays WeChat Pay's side of docs/wechat-pay.md:

- keys: at start it makes a merchant key pair, a platform (WeChat Pay) key pair with its
  public key id, and an APIv3 key, and writes what the merchant holds into a folder:
  merchant_key.pem (0600), apiv3.key (0600), platform_pub.pem (0644), and
  merchant_pub.pem for the tests' own checks. Nothing is committed; the folder is the test's.
- requests: every call must carry our merchant signature (Authorization:
  WECHATPAY2-SHA256-RSA2048 ...), checked with the merchant's public key over
  "METHOD\\nPATH?QUERY\\nTIMESTAMP\\nNONCE\\nBODY\\n", with the mchid and certificate serial
  it expects, a timestamp within 5 minutes and a nonce not seen before; else 401 SIGN_ERROR.
- POST /v3/pay/transactions/jsapi (200 {"prepay_id"}), GET
  /v3/pay/transactions/out-trade-no/{no}?mchid= (200 transaction, 404 ORDER_NOT_EXIST),
  POST /v3/pay/transactions/out-trade-no/{no}/close (204; 400 ORDERPAID once paid): each
  answer signed with the platform key ("TIMESTAMP\\nNONCE\\nBODY\\n", Wechatpay-* headers).
- notifications: pay(out_trade_no) marks an order paid and builds the notification WeChat
  Pay would send (the transaction encrypted with AEAD_AES_256_GCM under the APIv3 key, the
  body signed); send_notify() POSTs it to a URL.

Switches, to see each check refuse: `answer_tamper` for the API's answers, `tamper=` for a
notification: "signature" (signed by a key that is not WeChat Pay's), "stale" (signed ten
minutes ago), "serial" (another public key id), "body" (changed after signing), "unsigned",
and for notifications also "amount" (WeChat Pay signs a total other than the order's),
"mchid", "appid", "apiv3" (encrypted with another APIv3 key), "order" (an out_trade_no we
never made).

Run alone (for the server's and the mini program's tests):
    python3 wxpay_standin.py KEYDIR
prints "port N" and the options (wechatpay_... = ...) on stdout, serves until stdin closes.
A test driving it from outside pays an order with POST /_standin/pay
{"out_trade_no": ..., "tamper": null} (answer {"notify_status": N}).
Needs python3-cryptography (Debian).
"""
import base64
import http.server
import json
import os
import re
import secrets
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

APPID = "wxd678efh567hg6787"
MCHID = "1230000109"
MERCHANT_SERIAL = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
KEY_ID = "PUB_KEY_ID_0112340000000000000000000000000001"
OUT_TRADE_NO = re.compile(r"^[0-9A-Za-z_\-|*]{6,32}$")
AUTH = re.compile(r'^WECHATPAY2-SHA256-RSA2048 (.*)$')
AUTH_PARAM = re.compile(r'\s*([a-z_]+)="([^"]*)"\s*(?:,|$)')
TAMPERS = {"signature", "stale", "serial", "body", "unsigned", "amount", "mchid", "appid",
           "apiv3", "order"}


def _new_rsa():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _write(path, data, mode):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(path, mode)


def _sign(key, message):
    return base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def _china_time(ts):
    return time.strftime("%Y-%m-%dT%H:%M:%S+08:00", time.gmtime(ts + 8 * 3600))


class WxpayStandin:
    def __init__(self, keydir, appid=APPID, mchid=MCHID, merchant_serial=MERCHANT_SERIAL,
                 key_id=KEY_ID):
        self.appid, self.mchid = appid, mchid
        self.merchant_serial, self.key_id = merchant_serial, key_id
        self.keydir = keydir
        self.merchant_key = _new_rsa()
        self.platform_key = _new_rsa()
        self.other_key = _new_rsa()
        self.apiv3_key = secrets.token_urlsafe(24)[:32].encode()
        assert len(self.apiv3_key) == 32
        pem = serialization.Encoding.PEM
        _write(self.path("merchant_key.pem"), self.merchant_key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()), 0o600)
        _write(self.path("merchant_pub.pem"), self.merchant_key.public_key().public_bytes(
            pem, serialization.PublicFormat.SubjectPublicKeyInfo), 0o644)
        _write(self.path("platform_pub.pem"), self.platform_key.public_key().public_bytes(
            pem, serialization.PublicFormat.SubjectPublicKeyInfo), 0o644)
        _write(self.path("apiv3.key"), self.apiv3_key, 0o600)

        self.lock = threading.Lock()
        self.orders = {}  # out_trade_no -> {"body": dict, "prepay_id", "state", ...}
        self.requests = []  # (method, path, status, code) of every request
        self.nonces = set()
        self.answer_tamper = None
        standin = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):  # quiet
                pass

            def do_GET(self):  # noqa: N802 - the http.server API
                standin._handle(self, "GET")

            def do_POST(self):  # noqa: N802
                standin._handle(self, "POST")

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def path(self, name):
        return os.path.join(self.keydir, name)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def options(self, notify_url="https://meter.example.com/api/payments/wechat/notify"):
        """The wechatpay_* options that point a client at this stand-in."""
        return {
            "wechatpay_appid": self.appid,
            "wechatpay_mchid": self.mchid,
            "wechatpay_serial_no": self.merchant_serial,
            "wechatpay_private_key_file": self.path("merchant_key.pem"),
            "wechatpay_apiv3_key_file": self.path("apiv3.key"),
            "wechatpay_platform_public_key_file": self.path("platform_pub.pem"),
            "wechatpay_platform_public_key_id": self.key_id,
            "wechatpay_notify_url": notify_url,
            "wechatpay_base_url": self.base,
        }

    # --- signatures -------------------------------------------------------------------

    def merchant_signature_valid(self, message, signature):
        try:
            self.merchant_key.public_key().verify(base64.b64decode(signature, validate=True),
                                                  message, padding.PKCS1v15(), hashes.SHA256())
            return True
        except Exception:  # noqa: BLE001 - any failure is "not valid"
            return False

    def _check_auth(self, method, path, body, header):
        """None when the merchant signature is good, else why not."""
        m = AUTH.match(header or "")
        if not m:
            return "no WECHATPAY2-SHA256-RSA2048 Authorization"
        params = dict(AUTH_PARAM.findall(m.group(1)))
        if set(params) != {"mchid", "nonce_str", "signature", "timestamp", "serial_no"}:
            return f"Authorization fields {sorted(params)}"
        if params["mchid"] != self.mchid:
            return "mchid"
        if params["serial_no"] != self.merchant_serial:
            return "serial_no"
        if not params["timestamp"].isdigit() or abs(int(params["timestamp"]) - time.time()) > 300:
            return "timestamp"
        with self.lock:
            if params["nonce_str"] in self.nonces:
                return "nonce reused"
            self.nonces.add(params["nonce_str"])
        message = f"{method}\n{path}\n{params['timestamp']}\n{params['nonce_str']}\n".encode()
        message += body + b"\n"
        if not self.merchant_signature_valid(message, params["signature"]):
            return "signature"
        return None

    def signed_headers(self, body, tamper=None, ts=None):
        """The Wechatpay-* headers WeChat Pay puts on body (bytes), with a tampering."""
        ts = int(time.time()) if ts is None else ts
        if tamper == "stale":
            ts -= 600
        nonce = secrets.token_hex(16)
        message = f"{ts}\n{nonce}\n".encode() + body + b"\n"
        key = self.other_key if tamper == "signature" else self.platform_key
        headers = {
            "Wechatpay-Timestamp": str(ts),
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": _sign(key, message),
            "Wechatpay-Serial": "PUB_KEY_ID_0199990000000000000000000000000009"
            if tamper == "serial" else self.key_id,
            "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
        }
        if tamper == "unsigned":
            for k in ("Wechatpay-Signature", "Wechatpay-Timestamp", "Wechatpay-Nonce"):
                del headers[k]
        return headers

    # --- the API ----------------------------------------------------------------------

    def _answer(self, h, status, obj):
        body = b"" if obj is None else json.dumps(obj, ensure_ascii=False).encode()
        tamper = self.answer_tamper
        headers = self.signed_headers(body, tamper)
        if tamper == "body" and body:
            body = body.replace(b'"', b"'", 1)
        h.send_response(status)
        h.send_header("Request-ID", "08F5B8C2B506102C18FDDFEEA30620BE821E28EDC405-0")
        h.send_header("Content-Type", "application/json; charset=utf-8")
        h.send_header("Content-Length", str(len(body)))
        for k, v in headers.items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(body)

    def _error(self, h, status, code, message):
        self._answer(h, status, {"code": code, "message": message})
        return code

    def _handle(self, h, method):
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        url = urllib.parse.urlsplit(h.path)
        code = None
        try:
            if url.path == "/_standin/pay" and method == "POST":
                req = json.loads(body)
                status, _ = self.pay_and_notify(req["out_trade_no"], req.get("tamper"))
                self._answer(h, 200, {"notify_status": status})
                return
            why = self._check_auth(method, h.path, body, h.headers.get("Authorization"))
            if why:
                code = self._error(h, 401, "SIGN_ERROR", f"merchant signature: {why}")
                return
            m = re.match(r"^/v3/pay/transactions/out-trade-no/([^/]+)(/close)?$", url.path)
            if url.path == "/v3/pay/transactions/jsapi" and method == "POST":
                code = self._jsapi(h, body)
            elif m and method == "GET" and not m.group(2):
                code = self._query(h, urllib.parse.unquote(m.group(1)),
                                   urllib.parse.parse_qs(url.query))
            elif m and method == "POST" and m.group(2):
                code = self._close(h, urllib.parse.unquote(m.group(1)), body)
            else:
                code = self._error(h, 404, "NOT_FOUND", "no such API")
        finally:
            with self.lock:
                self.requests.append((method, h.path, code))

    def _jsapi(self, h, body):
        try:
            o = json.loads(body)
            amount, payer = o["amount"], o["payer"]
            ok = (isinstance(o["description"], str) and 1 <= len(o["description"]) <= 127
                  and isinstance(amount["total"], int) and amount["total"] > 0
                  and amount.get("currency", "CNY") == "CNY"
                  and isinstance(payer["openid"], str) and payer["openid"]
                  and OUT_TRADE_NO.match(o["out_trade_no"])
                  and isinstance(o["notify_url"], str) and "?" not in o["notify_url"])
        except (ValueError, KeyError, TypeError):
            ok = False
        if not ok:
            return self._error(h, 400, "PARAM_ERROR", "the order's fields are not as documented")
        if o["appid"] != self.appid or o["mchid"] != self.mchid:
            return self._error(h, 400, "APPID_MCHID_NOT_MATCH", "appid and mchid do not match")
        with self.lock:
            old = self.orders.get(o["out_trade_no"])
            if old and old["body"] != o:
                return self._error(h, 400, "INVALID_REQUEST", "201 out_trade_no used before")
            if not old:
                old = self.orders[o["out_trade_no"]] = {
                    "body": o, "prepay_id": "wx" + secrets.token_hex(15), "state": "NOTPAY",
                    "transaction_id": None, "success_time": None}
            prepay_id = old["prepay_id"]
        self._answer(h, 200, {"prepay_id": prepay_id})
        return None

    def transaction(self, out_trade_no, tamper=None):
        """The transaction object of an order, as the query answers and notifications say."""
        with self.lock:
            order = self.orders[out_trade_no]
            o = order["body"]
            t = {
                "appid": o["appid"], "mchid": o["mchid"], "out_trade_no": out_trade_no,
                "trade_state": order["state"],
                "trade_state_desc": {"SUCCESS": "支付成功", "NOTPAY": "未支付",
                                     "CLOSED": "已关闭"}[order["state"]],
                "amount": {"total": o["amount"]["total"], "currency": "CNY"},
                "promotion_detail": [], "scene_info": {"device_id": ""},
            }
            if order["state"] == "SUCCESS":
                t.update({
                    "transaction_id": order["transaction_id"], "trade_type": "JSAPI",
                    "bank_type": "OTHERS", "attach": "", "success_time": order["success_time"],
                    "payer": {"openid": o["payer"]["openid"]},
                })
                t["amount"].update({"payer_total": o["amount"]["total"], "payer_currency": "CNY"})
        if tamper == "amount":
            t["amount"]["total"] += 1
            if "payer_total" in t["amount"]:
                t["amount"]["payer_total"] += 1
        elif tamper == "mchid":
            t["mchid"] = "1230000110"
        elif tamper == "appid":
            t["appid"] = "wxd678efh567hg6788"
        elif tamper == "order":
            t["out_trade_no"] = "SM20991231NEVERMADE0000000000"
        return t

    def _query(self, h, out_trade_no, query):
        if query.get("mchid") != [self.mchid]:
            return self._error(h, 400, "PARAM_ERROR", "mchid")
        if out_trade_no not in self.orders:
            return self._error(h, 404, "ORDER_NOT_EXIST", "order does not exist")
        tamper = self.answer_tamper if self.answer_tamper in ("mchid", "appid", "order") else None
        self._answer(h, 200, self.transaction(out_trade_no, tamper))
        return None

    def _close(self, h, out_trade_no, body):
        try:
            if json.loads(body) != {"mchid": self.mchid}:
                return self._error(h, 400, "PARAM_ERROR", "mchid")
        except ValueError:
            return self._error(h, 400, "PARAM_ERROR", "body")
        with self.lock:
            order = self.orders.get(out_trade_no)
            state = order and order["state"]
            if state == "NOTPAY":
                order["state"] = "CLOSED"
        if not order:
            return self._error(h, 404, "ORDER_NOT_EXIST", "order does not exist")
        if state == "SUCCESS":
            return self._error(h, 400, "ORDERPAID", "order paid")
        self._answer(h, 204, None)
        return None

    # --- payments and notifications ---------------------------------------------------

    def pay(self, out_trade_no, tamper=None):
        """Marks the order paid; returns (headers, body) of its notification."""
        if tamper is not None and tamper not in TAMPERS:
            raise ValueError(f"unknown tamper {tamper}")
        with self.lock:
            order = self.orders[out_trade_no]
            if order["state"] == "NOTPAY":
                order["state"] = "SUCCESS"
                order["transaction_id"] = "42000" + "".join(
                    secrets.choice("0123456789") for _ in range(23))
                order["success_time"] = _china_time(int(time.time()))
        return self.notification(out_trade_no, tamper)

    def notification(self, out_trade_no, tamper=None):
        plain = json.dumps(self.transaction(out_trade_no, tamper), ensure_ascii=False).encode()
        nonce = secrets.token_urlsafe(9)[:12]
        key = secrets.token_bytes(32) if tamper == "apiv3" else self.apiv3_key
        ct = AESGCM(key).encrypt(nonce.encode(), plain, b"transaction")
        envelope = {
            "id": "EV-" + secrets.token_hex(8), "create_time": _china_time(int(time.time())),
            "resource_type": "encrypt-resource", "event_type": "TRANSACTION.SUCCESS",
            "summary": "支付成功",
            "resource": {"original_type": "transaction", "algorithm": "AEAD_AES_256_GCM",
                         "ciphertext": base64.b64encode(ct).decode(),
                         "associated_data": "transaction", "nonce": nonce},
        }
        body = json.dumps(envelope, ensure_ascii=False).encode()
        headers = self.signed_headers(body, tamper)
        if tamper == "body":
            body = body.replace(b'"TRANSACTION.SUCCESS"', b'"TRANSACTION.SUCCESs"')
        headers["Content-Type"] = "application/json"
        return headers, body

    @staticmethod
    def send_notify(url, headers, body, timeout=10):
        """POSTs a notification as WeChat Pay does; returns (status, answer body)."""
        req = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def pay_and_notify(self, out_trade_no, tamper=None):
        headers, body = self.pay(out_trade_no, tamper)
        notify_url = self.orders[out_trade_no]["body"]["notify_url"]
        return self.send_notify(notify_url, headers, body)


def main():
    if len(sys.argv) != 2:
        print("usage: wxpay_standin.py KEYDIR", file=sys.stderr)
        sys.exit(2)
    s = WxpayStandin(sys.argv[1]).start()
    print(f"port {s.port}")
    for k, v in s.options().items():
        print(f"{k} = {v}")
    sys.stdout.flush()
    sys.stdin.read()
    s.stop()


if __name__ == "__main__":
    main()
