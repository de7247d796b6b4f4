"""Broker accounts for the tests: a mosquitto with the dynamic-security plugin, as
docs/security.md deploys it, and what a device's credentials are (standard library only).

  - write_broker(dir, port): mosquitto.conf (dynsec, no anonymous clients) and the plugin's
    dynamic-security.json with two accounts: the server's (the plugin's admin, as
    `mosquitto_ctrl dynsec init` makes it) and a tools account for the tests' own
    mosquitto_pub/mosquitto_sub (publish and subscribe anywhere: it plays the forger, the
    watcher and, where a test plays the server, the server);
  - the derivations of common/wire/sign.h (secret -> hash -> broker password, signing key)
    and signing a payload as the server does;
  - Dynsec: the plugin's control topic through mosquitto_pub/mosquitto_sub, to give a
    device an account where no meter-server does it (tests without a server).

Run as a script: `mqtt_accounts.py init DIR PORT` writes the broker's files into DIR and
prints shell assignments of the accounts (tests/lib/services.sh uses it).
"""
import base64
import hashlib
import json
import os
import secrets
import subprocess
import sys
import time

DYNSEC_PLUGIN = "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so"
SERVER_USER = "meter-server"
TOOLS_USER = "test-tools"
PBKDF2_ITERATIONS = 101  # what mosquitto_ctrl writes


def _plugin_path():
    """The dynamic-security plugin of this machine's mosquitto (multiarch path)."""
    if os.path.exists(DYNSEC_PLUGIN):
        return DYNSEC_PLUGIN
    for root in ("/usr/lib", "/usr/local/lib"):
        for dirpath, _, files in os.walk(root):
            if "mosquitto_dynamic_security.so" in files:
                return os.path.join(dirpath, "mosquitto_dynamic_security.so")
    raise RuntimeError("mosquitto_dynamic_security.so not found (Debian's mosquitto ships it)")


# --- what common/wire/sign.h derives --------------------------------------------------------

def secret_hash(secret):
    """H: BLAKE2b-256 of the secret's text (the server stores its hex)."""
    return hashlib.blake2b(secret.encode(), digest_size=32).digest()


def broker_password(secret):
    return hashlib.blake2b(b"smartmeter mqtt password v1", digest_size=32,
                           key=secret_hash(secret)).hexdigest()


def signing_key(secret):
    return hashlib.blake2b(b"smartmeter signing key v1", digest_size=32,
                           key=secret_hash(secret)).digest()


def sign(secret, topic, payload):
    """payload (a JSON object's text, ending in '}') signed for topic as the server signs it."""
    assert payload.endswith("}") and not payload.endswith("{}"), payload
    mac = hashlib.blake2b(topic.encode() + b"\0" + payload.encode(), digest_size=32,
                          key=signing_key(secret)).hexdigest()
    return payload[:-1] + f',"sig":"{mac}"}}'


# --- the broker's files ---------------------------------------------------------------------

def _client(username, password, roles, textname):
    salt = os.urandom(12)
    pw = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, PBKDF2_ITERATIONS)
    return {"username": username, "textname": textname,
            "password": base64.b64encode(pw).decode(), "salt": base64.b64encode(salt).decode(),
            "iterations": PBKDF2_ITERATIONS, "roles": [{"rolename": r} for r in roles]}


def _acls(*items):
    return [{"acltype": t, "topic": topic, "allow": True} for t, topic in items]


class Accounts:
    """The two accounts of a test broker: user names and passwords, and the password files."""

    def __init__(self, directory):
        self.dir = directory
        self.server_user = SERVER_USER
        self.tools_user = TOOLS_USER
        self.server_password_file = os.path.join(directory, "server.password")
        self.tools_password_file = os.path.join(directory, "tools.password")

    @property
    def server_password(self):
        with open(self.server_password_file) as f:
            return f.read().strip()

    @property
    def tools_password(self):
        with open(self.tools_password_file) as f:
            return f.read().strip()


def _write_private(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def write_broker(directory, port, extra_conf=""):
    """mosquitto.conf and dynamic-security.json in directory (created) for a broker on port;
    returns (conf path, Accounts)."""
    os.makedirs(directory, exist_ok=True)
    acc = Accounts(directory)
    server_pw, tools_pw = secrets.token_hex(16), secrets.token_hex(16)
    _write_private(acc.server_password_file, server_pw + "\n")
    _write_private(acc.tools_password_file, tools_pw + "\n")
    dynsec = {
        "defaultACLAccess": {"publishClientSend": False, "publishClientReceive": True,
                             "subscribe": False, "unsubscribe": True},
        "clients": [_client(SERVER_USER, server_pw, ["admin"], "Dynsec admin user"),
                    _client(TOOLS_USER, tools_pw, ["test-tools"], "the tests' own clients")],
        "roles": [
            # What `mosquitto_ctrl dynsec init` gives its admin.
            {"rolename": "admin", "acls": _acls(
                ("publishClientSend", "$CONTROL/dynamic-security/#"),
                ("publishClientReceive", "$CONTROL/dynamic-security/#"),
                ("subscribePattern", "$CONTROL/dynamic-security/#"),
                ("publishClientReceive", "$SYS/#"), ("subscribePattern", "$SYS/#"),
                ("publishClientReceive", "#"), ("subscribePattern", "#"),
                ("unsubscribePattern", "#"))},
            {"rolename": "test-tools", "acls": _acls(
                ("publishClientSend", "#"), ("publishClientReceive", "#"),
                ("subscribePattern", "#"), ("unsubscribePattern", "#"))},
        ],
    }
    dynsec_path = os.path.join(directory, "dynamic-security.json")
    _write_private(dynsec_path, json.dumps(dynsec, indent=1))
    conf = os.path.join(directory, "mosquitto.conf")
    with open(conf, "w") as f:
        f.write(f"per_listener_settings false\n"
                f"listener {port} 127.0.0.1\n"
                f"allow_anonymous false\n"
                f"plugin {_plugin_path()}\n"
                f"plugin_opt_config_file {dynsec_path}\n"
                f"persistence true\npersistence_location {directory}/\n"
                f"log_dest file {directory}/mosquitto.log\n"
                f"{extra_conf}")
        if os.getuid() == 0:
            f.write("user root\n")
    return conf, acc


# --- the control topic ----------------------------------------------------------------------

class Dynsec:
    """Commands to the broker's dynamic-security plugin, as its admin (the server account)."""

    def __init__(self, port, user, password):
        self.port = str(port)
        self.auth = ["-u", user, "-P", password]

    def call(self, commands, timeout=10):
        """The responses to commands (a list of command objects), in order."""
        corr = secrets.token_hex(6)
        for c in commands:
            c["correlationData"] = corr
        sub = subprocess.Popen(
            ["mosquitto_sub", "-h", "127.0.0.1", "-p", self.port, *self.auth,
             "-t", "$CONTROL/dynamic-security/v1/response", "-W", str(timeout)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            time.sleep(0.3)  # subscribed (the plugin keeps no answer for later)
            payload = json.dumps({"commands": commands})
            subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", self.port, *self.auth,
                            "-t", "$CONTROL/dynamic-security/v1", "-q", "1", "-m", payload],
                           check=True, timeout=timeout)
            for line in sub.stdout:
                answer = json.loads(line)["responses"]
                if answer and answer[0].get("correlationData") == corr:
                    return answer
            raise AssertionError("no answer from the dynamic-security plugin")
        finally:
            sub.kill()
            sub.wait()

    def add_device(self, device_id, secret):
        """An account for device_id with the layout server/broker/dynsec.h gives (its own
        topics, client id meterd-<id>), managed by no server."""
        role = f"smartmeter-device-{device_id}"
        topics = [("publishClientSend", f"meters/{device_id}/{leaf}")
                  for leaf in ("telemetry", "status", "reply", "capture")]
        topics += [("subscribeLiteral", f"meters/{device_id}/{leaf}") for leaf in ("cmd", "ack")]
        answer = self.call([
            {"command": "createRole", "rolename": role, "acls": _acls(*topics)},
            {"command": "createClient", "username": device_id,
             "password": broker_password(secret), "clientid": f"meterd-{device_id}",
             "roles": [{"rolename": role}]},
        ])
        errors = [r["error"] for r in answer if "error" in r]
        assert not errors, f"dynsec: {errors}"


def main():
    if len(sys.argv) != 4 or sys.argv[1] != "init":
        print("usage: mqtt_accounts.py init DIR PORT", file=sys.stderr)
        return 2
    conf, acc = write_broker(sys.argv[2], int(sys.argv[3]))
    print(f"MQTT_CONF={conf}")
    print(f"MQTT_SERVER_USER={acc.server_user}")
    print(f"MQTT_SERVER_PASSWORD_FILE={acc.server_password_file}")
    print(f"MQTT_TOOLS_USER={acc.tools_user}")
    print(f"MQTT_TOOLS_PASSWORD_FILE={acc.tools_password_file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
