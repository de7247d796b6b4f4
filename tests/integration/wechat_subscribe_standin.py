"""A stand-in for WeChat's server API that alarm notifications use, on 127.0.0.1, beside the
login stand-in (wechat_standin.Standin, whose code2Session it keeps):

  GET  /cgi-bin/token?grant_type=client_credential&appid=APPID&secret=SECRET
       -> {"access_token": "...", "expires_in": 7200}; a wrong appid 40013, secret 40125
  POST /cgi-bin/message/subscribe/send?access_token=TOKEN   (subscribeMessage.send)
       -> {"errcode": 0, "errmsg": "ok", "msgid": N}, after WeChat's published checks:
          an unknown or missing token 40001; a body that is not a JSON object, or without
          touser and template_id, 47001; an unknown template 40037; a user who has not
          subscribed to it 43101; a data field that breaks its type's rules (thing: at most
          20 characters; character_string: 32 of digits, letters and symbols; number: 32
          digits with one optional point; time: "YYYY-MM-DD HH:MM" or "HH:MM"; date:
          "YYYY-MM-DD"), a miniprogram_state other than developer/trial/formal or a lang
          other than zh_CN/en_US/zh_HK/zh_TW, 47003.

busy_next = N makes the next N sends answer errcode -1 (system busy), as WeChat may. Every
message accepted is kept in messages (the parsed body), every refusal in refused.
"""
import json
import re
import secrets
import urllib.parse

from wechat_standin import Standin

FIELD = re.compile(r"^(thing|character_string|number|time|date|phrase|letter|symbol|amount|"
                   r"name|phone_number|car_number)([0-9]{1,2})$")
STATES = {"developer", "trial", "formal"}
LANGS = {"zh_CN", "en_US", "zh_HK", "zh_TW"}


def field_ok(kind, value):
    if not isinstance(value, str) or value == "":
        return False
    if kind == "thing":
        return len(value) <= 20
    if kind == "character_string":
        return len(value) <= 32 and all(0x21 <= ord(c) <= 0x7e or c == " " for c in value)
    if kind == "number":
        return len(value) <= 32 and re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", value) is not None
    if kind == "time":
        return re.fullmatch(r"([0-9]{4}-[0-9]{2}-[0-9]{2} )?[0-2][0-9]:[0-5][0-9]", value) is not None
    if kind == "date":
        return re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value) is not None
    return len(value) <= 20


class SubscribeStandin(Standin):
    def __init__(self, appid, secret, templates=(), subscribed=()):
        super().__init__(appid, secret)
        self.templates = set(templates)
        self.subscribed = set(subscribed)  # openids that accepted the templates
        self.tokens = []  # every token handed out
        self.messages = []  # bodies accepted
        self.refused = []  # (errcode, body text) of every refusal
        self.sends = 0  # POSTs to subscribe/send
        self.busy_next = 0
        standin = self
        self.httpd.RequestHandlerClass.do_POST = lambda h: standin._post(h)

    def _handle(self, h):
        url = urllib.parse.urlsplit(h.path)
        if url.path != "/cgi-bin/token":
            super()._handle(h)
            return
        q = {k: v[0] for k, v in urllib.parse.parse_qs(url.query, keep_blank_values=True).items()}
        if q.get("grant_type") != "client_credential":
            self._json(h, {"errcode": 40002, "errmsg": "invalid grant_type"})
        elif q.get("appid") != self.appid:
            self._json(h, {"errcode": 40013, "errmsg": "invalid appid"})
        elif q.get("secret") != self.secret:
            self._json(h, {"errcode": 40125, "errmsg": "invalid appsecret"})
        else:
            token = "TOKEN_" + secrets.token_urlsafe(24)
            with self.lock:
                self.tokens.append(token)
            self._json(h, {"access_token": token, "expires_in": 7200})

    def _refuse(self, h, code, msg, text):
        with self.lock:
            self.refused.append((code, text))
        self._json(h, {"errcode": code, "errmsg": msg})

    def _post(self, h):
        url = urllib.parse.urlsplit(h.path)
        q = {k: v[0] for k, v in urllib.parse.parse_qs(url.query, keep_blank_values=True).items()}
        length = int(h.headers.get("Content-Length") or 0)
        text = h.rfile.read(length).decode("utf-8", "replace") if length else ""
        if url.path != "/cgi-bin/message/subscribe/send":
            self._answer(h, 404, "not found")
            return
        with self.lock:
            self.sends += 1
            known = q.get("access_token") in self.tokens
            busy = self.busy_next > 0
            if busy:
                self.busy_next -= 1
        if not known:
            return self._refuse(h, 40001, "invalid credential, access_token is invalid", text)
        if busy:
            return self._refuse(h, -1, "system error", text)
        try:
            body = json.loads(text)
        except ValueError:
            return self._refuse(h, 47001, "data format error", text)
        if not isinstance(body, dict) or not isinstance(body.get("touser"), str) \
                or not isinstance(body.get("template_id"), str):
            return self._refuse(h, 47001, "data format error", text)
        if body["template_id"] not in self.templates:
            return self._refuse(h, 40037, "invalid template_id", text)
        if body["touser"] not in self.subscribed:
            return self._refuse(h, 43101, "user refuse to accept the msg", text)
        if body.get("miniprogram_state", "formal") not in STATES \
                or body.get("lang", "zh_CN") not in LANGS \
                or not isinstance(body.get("page", ""), str):
            return self._refuse(h, 47003, "argument invalid! miniprogram_state/lang/page", text)
        data = body.get("data")
        if not isinstance(data, dict) or not data:
            return self._refuse(h, 47003, "argument invalid! data", text)
        for key, item in data.items():
            m = FIELD.match(key)
            if not m or not isinstance(item, dict) or set(item) != {"value"} \
                    or not field_ok(m.group(1), item["value"]):
                return self._refuse(h, 47003, f"argument invalid! data.{key}.value", text)
        with self.lock:
            self.messages.append(body)
            n = len(self.messages)
        self._json(h, {"errcode": 0, "errmsg": "ok", "msgid": 1000 + n})
