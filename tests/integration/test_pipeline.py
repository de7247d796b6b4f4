"""meterd -> mosquitto -> meter-server -> database, through restarts of each part."""
import time

from harness import Meter, http, main, wait_until
from ingest_common import IngestTest


class Pipeline(IngestTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.devices = ["pipe-1", "pipe-2"]
        cls.ingest_fixture(cls.devices)
        cls.meters = {d: cls.track(Meter(cls.workdir, d, cls.broker.url, interval="0.5",
                                         adc="sim:v=230,i=8,phase=20,seed=%d" % i))
                      for i, d in enumerate(cls.devices)}
        for m in cls.meters.values():
            m.start()

    def rows(self, device, limit=10000):
        r = http("GET", self.srv.url(f"/api/device/data/{device}?limit={limit}"), token=self.token)
        self.assertEqual(r.status, 200, r)
        return r.json()

    def seqs(self, device):
        return sorted(r["seq"] for r in self.rows(device))

    def max_seq(self, device):
        s = self.seqs(device)
        return s[-1] if s else 0

    def wait_for_more(self, device, than, timeout=20):
        return wait_until(lambda: self.max_seq(device) > than and self.max_seq(device), timeout,
                          what=f"{device} readings beyond seq {than}")

    def assert_contiguous(self, device):
        s = self.seqs(device)
        self.assertTrue(s, device)
        self.assertEqual(s, list(range(s[0], s[-1] + 1)), f"{device}: gaps or repeats in {s}")

    def status(self, device):
        return http("GET", self.srv.url(f"/api/devices/{device}"), token=self.token).json()["status"]

    def test_1_readings_flow_and_meters_are_online(self):
        for d in self.devices:
            self.wait_for_more(d, 3)
            wait_until(lambda: self.status(d) == "online", 10, what=f"{d} online")
        row = self.rows(self.devices[0], 1)[0]
        self.assertAlmostEqual(row["voltage"], 230, delta=1)
        self.assertAlmostEqual(row["pf"], 0.9397, delta=0.005)  # cos 20 deg
        self.assertGreater(row["energy_wh"], 0)

    def test_2_broker_restart_mid_stream_loses_nothing(self):
        before = {d: self.max_seq(d) for d in self.devices}
        self.broker.stop()
        time.sleep(3)  # the meters keep measuring while the broker is away
        self.broker.start()
        self.srv.wait_mqtt(30)
        for d in self.devices:
            self.wait_for_more(d, before[d] + 8, timeout=40)
            self.assert_contiguous(d)

    def test_3_server_restart_gets_what_was_published_meanwhile(self):
        before = {d: self.max_seq(d) for d in self.devices}
        self.assertEqual(self.srv.stop(), 0, self.srv.log())
        time.sleep(3)  # the broker holds the server's QoS 1 messages in its session
        self.srv.start()
        for d in self.devices:
            self.wait_for_more(d, before[d] + 8, timeout=30)
            self.assert_contiguous(d)

    def test_4_a_restarted_meter_continues_its_sequence(self):
        d = self.devices[1]
        m = self.meters[d]
        self.assertEqual(m.stop(), 0)
        wait_until(lambda: self.status(d) == "offline", 10, what=f"{d} offline after stop")
        last = self.max_seq(d)
        boot_before = self.rows(d, 1)[0]["boot"]
        m.start()
        self.wait_for_more(d, last + 2)
        rows = self.rows(d)
        self.assertEqual(len({r["seq"] for r in rows}), len(rows))
        after = [r for r in rows if r["seq"] > last]
        self.assertTrue(all(r["boot"] == boot_before + 1 for r in after), after[:3])
        self.assertEqual(after[-1]["seq"], last + 1, "the first reading after a restart is last + 1")
        energy = [r["energy_wh"] for r in sorted(rows, key=lambda r: r["seq"])]
        self.assertEqual(energy, sorted(energy), "energy never decreases across a restart")
        wait_until(lambda: self.status(d) == "online", 10, what=f"{d} online again")

    def test_5_a_killed_meter_is_reported_offline_by_its_will(self):
        d = self.devices[0]
        m = self.meters[d]
        m.kill()
        wait_until(lambda: self.status(d) == "offline", 40, what=f"{d} offline by last will")


if __name__ == "__main__":
    main()
