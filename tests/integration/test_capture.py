"""Waveform capture: meterd -> mosquitto -> meter-server -> API -> COMTRADE.

A simulated meter with a known signal (49.73 Hz, 230 V, 10 A lagging 36.87
degrees, 5 % / 3 % / 2 % of harmonics 3, 5 and 7 on both channels, 0.1 % noise)
is asked for a 2 s capture through the API. The analysis the API returns must
match the signal within the limits of the issue (frequency +-10 mHz, RMS
+-0.1 %, P +-0.2 %, PF +-0.002, harmonics of 1 % or more within +-5 % of
reading), and the samples and the COMTRADE files must agree with each other.
"""
import math
import time

from harness import IntegrationTest, Meter, main, wait_until

# The simulated signal, as meter/hal/adc_sim.c generates it: the fundamental
# v = V sqrt2 sin(th), i = I sqrt2 sin(th - phi), and harmonic h of each channel
# at pct_h % of its fundamental's amplitude, v_h = V_h sin(h th) and
# i_h = I_h sin(h th - phi): every current harmonic lags its voltage harmonic
# by the same phi. Noise is Gaussian with a standard deviation of noise % of
# the channel's full scale (1.25 * sqrt2 * the RMS value).
FREQ_HZ = 49.73
V_RMS, I_RMS, PHASE_DEG = 230.0, 10.0, 36.87
HARMONICS = {3: 5.0, 5: 3.0, 7: 2.0}
NOISE_PCT = 0.1
RATE_HZ = 6400
ADC = ("sim:freq=49.73,v=230,i=10,phase=36.87,h3=5,h5=3,h7=2,noise=0.1,rate=6400")
DURATION_MS = 2000


def expected():
    """The true quantities of the simulated signal."""
    share = 1 + sum((p / 100) ** 2 for p in HARMONICS.values())
    sigma_v = NOISE_PCT / 100 * 1.25 * math.sqrt(2) * V_RMS
    sigma_i = NOISE_PCT / 100 * 1.25 * math.sqrt(2) * I_RMS
    vrms = math.sqrt(V_RMS ** 2 * share + sigma_v ** 2)
    irms = math.sqrt(I_RMS ** 2 * share + sigma_i ** 2)
    # Each harmonic pair contributes V_h I_h cos(phi); noise is uncorrelated and adds none.
    p = V_RMS * I_RMS * share * math.cos(math.radians(PHASE_DEG))
    thd = math.sqrt(sum(p_h ** 2 for p_h in HARMONICS.values()))
    return {"frequency_hz": FREQ_HZ, "vrms": vrms, "irms": irms, "p_w": p,
            "s_va": vrms * irms, "pf": p / (vrms * irms), "thd": thd}


class Capture(IntegrationTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # cap-off never runs: its captures stay pending.
        cls.srv = cls.server_fixture({"op": "operator", "alice": "user", "bob": "user"},
                                     {"cap-1": "alice", "cap-off": "alice"},
                                     login=("op", "alice", "bob"), broker="private")
        cls.tok = cls.srv.tokens
        cls.meter = cls.track(Meter(cls.workdir, "cap-1", cls.broker.url, adc=ADC))
        started = time.monotonic()
        cls.meter.start()
        wait_until(lambda: cls.get("/api/devices/cap-1", "op").json()["status"] == "online", 20,
                   what="cap-1 online")
        # The ring must hold more than the capture.
        time.sleep(max(0.0, 3.5 - (time.monotonic() - started)))

    def post_capture(self, device, body, who="op"):
        return self.call("POST", f"/api/devices/{device}/captures", body, who=who)

    def wait_done(self, device, cid, timeout=40):
        def done():
            r = self.get(f"/api/devices/{device}/captures/{cid}", "op")
            self.assertEqual(r.status, 200, r)
            return r if r.json()["state"] != "pending" else None
        return wait_until(done, timeout, interval=0.2, what=f"capture {cid} done").json()

    def capture(self):
        """One complete 2 s capture of cap-1, taken once for the tests that read it."""
        if not hasattr(type(self), "_capture"):
            r = self.post_capture("cap-1", {"duration_ms": DURATION_MS})
            self.assertEqual(r.status, 202, r)
            body = r.json()
            self.assertEqual(body["status"], "success")
            self.assertEqual(body["state"], "pending")
            self.assertRegex(body["request_id"], r"^[0-9a-f]{32}$")
            self.assertEqual(r.headers.get("Location"),
                             f"/api/devices/cap-1/captures/{body['capture_id']}")
            type(self)._capture = self.wait_done("cap-1", body["capture_id"])
        return type(self)._capture

    def test_1_the_api_analysis_matches_the_known_signal(self):
        cap = self.capture()
        self.assertEqual(cap["state"], "complete", cap)
        self.assertEqual(cap["requested_by"], "op")
        self.assertEqual(cap["duration_ms"], DURATION_MS)
        self.assertEqual(cap["rate_hz"], RATE_HZ)
        self.assertEqual(cap["nominal_hz"], 50)
        self.assertEqual(cap["samples"], DURATION_MS * RATE_HZ // 1000)
        a = cap["analysis"]
        self.assertIsNotNone(a, cap)
        e = expected()
        self.assertAlmostEqual(a["frequency_hz"], e["frequency_hz"], delta=0.010)
        self.assertAlmostEqual(a["vrms"], e["vrms"], delta=e["vrms"] * 0.001)
        self.assertAlmostEqual(a["irms"], e["irms"], delta=e["irms"] * 0.001)
        self.assertAlmostEqual(a["p_w"], e["p_w"], delta=e["p_w"] * 0.002)
        self.assertAlmostEqual(a["pf"], e["pf"], delta=0.002)
        self.assertAlmostEqual(a["s_va"], e["s_va"], delta=e["s_va"] * 0.002)
        self.assertAlmostEqual(a["phase_deg"], PHASE_DEG, delta=0.2)
        self.assertGreater(a["q_var"], 0, "the current lags: Q is positive")
        for key in ("harmonics_v", "harmonics_i"):
            h = a[key]
            self.assertEqual(len(h), 51, key)
            self.assertAlmostEqual(h[1], 100, delta=1e-6)
            for order, pct in HARMONICS.items():
                self.assertAlmostEqual(h[order], pct, delta=pct * 0.05, msg=f"{key}[{order}]")
            for order in (2, 4, 6, 9, 11):
                self.assertLess(h[order], 1.0, f"{key}[{order}] should be noise only")
        self.assertAlmostEqual(a["thd_v"], e["thd"], delta=e["thd"] * 0.05)
        self.assertAlmostEqual(a["thd_i"], e["thd"], delta=e["thd"] * 0.05)

    def samples(self, cid, query=""):
        r = self.get(f"/api/devices/cap-1/captures/{cid}/samples{query}", "op")
        self.assertEqual(r.status, 200, r)
        return r.json()

    def test_2_samples_come_back_whole_and_decimated(self):
        cap = self.capture()
        s = self.samples(cap["capture_id"])
        n = DURATION_MS * RATE_HZ // 1000
        self.assertEqual(s["samples"], n)
        self.assertEqual(len(s["v"]), n)
        self.assertEqual(len(s["i"]), n)
        self.assertEqual(s["rate_hz"], RATE_HZ)
        self.assertEqual(s["start"], cap["start"])
        # The start is the newest 2 s before the request reached the meter.
        vrms = math.sqrt(sum(x * x for x in s["v"]) / n)
        self.assertAlmostEqual(vrms, expected()["vrms"], delta=expected()["vrms"] * 0.003)
        d = self.samples(cap["capture_id"], "?decimate=10")
        self.assertEqual(d["samples"], n // 10)
        self.assertEqual(d["rate_hz"], RATE_HZ / 10)
        self.assertEqual(d["v"], s["v"][::10])

    def test_3_comtrade_files_describe_the_same_samples(self):
        cap = self.capture()
        cid = cap["capture_id"]
        n = cap["samples"]
        cfg = self.get(f"/api/devices/cap-1/captures/{cid}/comtrade.cfg", "alice")
        dat = self.get(f"/api/devices/cap-1/captures/{cid}/comtrade.dat", "alice")
        for r, ext in ((cfg, "cfg"), (dat, "dat")):
            self.assertEqual(r.status, 200, r)
            self.assertTrue(r.headers["Content-Type"].startswith("text/plain"), r.headers)
            self.assertEqual(r.headers["Content-Disposition"],
                             f'attachment; filename="cap-1-capture-{cid}.{ext}"')
        self.assertTrue(cfg.body.endswith("\r\n"))
        lines = cfg.body.split("\r\n")[:-1]
        self.assertEqual(len(lines), 11, lines)
        self.assertEqual(lines[0].split(","), ["cap-1", "smartmeter", "1999"])
        self.assertEqual(lines[1], "2,2A,0D")
        scale = {}
        for line, (index, ch, unit) in zip(lines[2:4], (("1", "V", "V"), ("2", "I", "A"))):
            f = line.split(",")
            self.assertEqual(len(f), 13, line)
            self.assertEqual(f[:5], [index, ch, "", "", unit])
            self.assertEqual(f[7:], ["0", "-99998", "99998", "1", "1", "P"])
            scale[ch] = (float(f[5]), float(f[6]))
        self.assertEqual(float(lines[4]), 50.0)
        self.assertEqual(lines[5], "1")
        rate, endsamp = lines[6].split(",")
        self.assertEqual(float(rate), RATE_HZ)
        self.assertEqual(int(endsamp), n)
        start = time.strptime(lines[7].split(".")[0], "%d/%m/%Y,%H:%M:%S")
        self.assertEqual(time.strftime("%Y-%m-%dT%H:%M:%S", start), cap["start"][:19])
        self.assertEqual(lines[7].split(".")[1], cap["start"][20:23] + "000")
        self.assertEqual(lines[8], lines[7])  # the trigger is the first sample
        self.assertEqual(lines[9:], ["ASCII", "1.0"])

        s = self.samples(cid)
        rows = dat.body.split("\r\n")[:-1]
        self.assertEqual(len(rows), n)
        (av, bv), (ai, bi) = scale["V"], scale["I"]
        for k, row in enumerate(rows):
            num, t_us, xv, xi = row.split(",")
            self.assertEqual(int(num), k + 1)
            self.assertLessEqual(abs(int(t_us) - k * 1e6 / RATE_HZ), 0.5)
            self.assertLessEqual(abs(int(xv)), 99998)
            self.assertLessEqual(abs(int(xi)), 99998)
            # Within half a quantisation step, plus the 1e-6 the JSON samples are rounded to.
            self.assertLessEqual(abs(av * int(xv) + bv - s["v"][k]), av / 2 * 1.000001 + 1e-6, k)
            self.assertLessEqual(abs(ai * int(xi) + bi - s["i"][k]), ai / 2 * 1.000001 + 1e-6, k)

    def test_4_a_user_who_may_not_see_the_device_gets_404_everywhere(self):
        cid = self.capture()["capture_id"]
        base = "/api/devices/cap-1/captures"
        paths = [base, f"{base}/{cid}", f"{base}/{cid}/samples", f"{base}/{cid}/comtrade.cfg",
                 f"{base}/{cid}/comtrade.dat"]
        for p in paths:
            r = self.get(p, "bob")
            self.assertEqual(r.status, 404, (p, r))
            self.assertEqual(r.json()["message"], "device not found")
            self.assertEqual(self.get(p, "alice").status, 200, p)  # the owner sees them
        r = self.post_capture("cap-1", {"duration_ms": 500}, who="bob")
        self.assertEqual(r.status, 404, r)
        # The owner may look but not ask: commands are for operators.
        r = self.post_capture("cap-1", {"duration_ms": 500}, who="alice")
        self.assertEqual(r.status, 403, r)

    def test_5_requests_are_validated(self):
        for body, message in (({}, "duration_ms is missing"),
                              ({"duration_ms": 99}, "duration_ms must be an integer from 100 to 10000"),
                              ({"duration_ms": 10001}, "duration_ms must be"),
                              ({"duration_ms": "500"}, "duration_ms must be")):
            r = self.post_capture("cap-1", body)
            self.assertEqual(r.status, 400, (body, r))
            self.assertIn(message, r.json()["message"])
        self.assertEqual(self.get("/api/devices/cap-1/captures/999999", "op").status, 404)
        self.assertEqual(self.get("/api/devices/cap-1/captures/abc", "op").status, 404)
        cid = self.capture()["capture_id"]
        r = self.get(f"/api/devices/cap-1/captures/{cid}/samples?decimate=0", "op")
        self.assertEqual(r.status, 400, r)
        # A capture belongs to its device.
        self.assertEqual(self.get(f"/api/devices/cap-off/captures/{cid}", "op").status, 404)

    def test_6_an_offline_meter_leaves_the_capture_pending_then_failed(self):
        r = self.post_capture("cap-off", {"duration_ms": 1000})
        self.assertEqual(r.status, 202, r)
        cid = r.json()["capture_id"]
        pending = self.get(f"/api/devices/cap-off/captures/{cid}", "op").json()
        self.assertEqual(pending["state"], "pending")
        self.assertIsNone(pending["analysis"])
        r = self.get(f"/api/devices/cap-off/captures/{cid}/comtrade.cfg", "op")
        self.assertEqual(r.status, 409, r)
        listed = self.get("/api/devices/cap-off/captures", "alice").json()["captures"]
        self.assertEqual([c["capture_id"] for c in listed], [cid])
        self.assertEqual(listed[0]["state"], "pending")
        failed = self.wait_done("cap-off", cid, timeout=45)
        self.assertEqual(failed["state"], "failed")
        self.assertEqual(failed["message"], "the meter did not answer within 30 s")

    def test_7_the_list_is_newest_first(self):
        cid = self.capture()["capture_id"]
        r = self.get("/api/devices/cap-1/captures?limit=1", "alice")
        self.assertEqual(r.status, 200, r)
        listed = r.json()["captures"]
        self.assertEqual(len(listed), 1)
        self.assertGreaterEqual(listed[0]["capture_id"], cid)
        self.assertNotIn("analysis", listed[0])
        self.assertEqual(self.get("/api/devices/cap-1/captures?limit=0", "op").status, 400)


if __name__ == "__main__":
    main()
