"""An upgraded meter keeps every reading an older meterd had not delivered.

The older meterd's files are written here from their documented formats: a spool segment
of "SMR1" records (228 bytes: magic, presence masks, seq, ts, 18 doubles, 6 counters,
CRC-32; docs/meterd.md "Spool", meter/spool_record.c), one of them damaged, and a version 2
state file. meterd converts the segment at start and sends what it holds; the server must
end up with every intact old reading (with its values) and the new ones after them, and
the state file must be version 3 with the counters carried on."""
import os
import struct
import time
import zlib

from harness import Meter, http, main, spool_dir, state_file, wait_until
from ingest_common import IngestTest

DEVICE = "up-1"
OLD = 40        # readings the old meterd left unacknowledged: seqs 1..OLD
DAMAGED = 17    # this one's record is damaged on disk: it cannot be sent
T0 = int(time.time() * 1000) - 3_600_000  # an hour ago, one a minute


def smr1_record(seq):
    reals = [0.0] * 18
    reals[0] = 231.0 + seq / 100      # voltage
    reals[1] = 4.0 + seq / 1000       # current
    reals[2] = 900.0 + seq            # power_w
    counters = [0] * 6
    counters[0] = 1_000_000 + seq * 15_000  # energy import, mWh
    counters[2] = 3                         # boot
    body = struct.pack("<4sIII", b"SMR1", 0b111, 0b101, 0)
    body += struct.pack("<Qq", seq, T0 + seq * 60_000)
    body += struct.pack("<18d", *reals) + struct.pack("<6q", *counters)
    return body + struct.pack("<I", zlib.crc32(body))


def state_v2(seq, energy_mwh):
    body = (f"smartmeter-meterd-state 2\ndevice_id {DEVICE}\nseq {seq}\nboot 3\n"
            f"energy_import_mwh {energy_mwh}\nenergy_export_mwh 0\n"
            f"reactive_import_mvarh 0\nreactive_export_mvarh 0\n")
    return body + f"crc32 {zlib.crc32(body.encode()):08x}\n"


class SpoolUpgrade(IngestTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ingest_fixture([DEVICE])
        cls.state_dir = cls.subdir("meterd-state")
        spool = spool_dir(cls.state_dir, DEVICE)
        os.makedirs(spool, mode=0o700)
        records = []
        for seq in range(1, OLD + 1):
            rec = bytearray(smr1_record(seq))
            if seq == DAMAGED:
                rec[60] ^= 0xFF
            records.append(bytes(rec))
        with open(os.path.join(spool, "0000000001.seg"), "wb") as f:
            f.write(b"".join(records))
        energy = 1_000_000 + OLD * 15_000
        for suffix in ("", ".bak"):
            with open(state_file(cls.state_dir, DEVICE) + suffix, "w") as f:
                f.write(state_v2(OLD, energy))
        cls.meter = cls.track(Meter(cls.workdir, DEVICE, cls.broker.url, interval="1",
                                    adc="sim:v=230,i=5", state_dir=cls.state_dir))
        cls.meter.start()

    def rows(self):
        r = http("GET", self.srv.url(f"/api/device/data/{DEVICE}?limit=1000"), token=self.token)
        self.assertEqual(r.status, 200, r)
        return {row["seq"]: row for row in r.json()}

    def test_every_intact_old_reading_arrives_and_new_ones_follow(self):
        want = set(range(1, OLD + 1)) - {DAMAGED}
        rows = wait_until(lambda: (lambda r: r if want <= set(r) and max(r) > OLD + 2 else None)(
            self.rows()), 40, what="the old readings and new ones")
        self.assertNotIn(DAMAGED, rows)
        for seq in (1, DAMAGED + 1, OLD):
            row = rows[seq]
            self.assertAlmostEqual(row["voltage"], 231.0 + seq / 100, places=6)
            self.assertAlmostEqual(row["power_w"], 900.0 + seq, places=6)
            self.assertAlmostEqual(row["energy_wh"], 1000 + seq * 15, places=3)
            self.assertEqual(row["boot"], 3)
        new = [rows[s] for s in sorted(rows) if s > OLD]
        self.assertEqual(new[0]["seq"], OLD + 1)
        self.assertEqual(new[0]["boot"], 4)
        self.assertGreaterEqual(new[0]["energy_wh"], 1000 + OLD * 15)
        log = self.meter.log()
        self.assertIn("converted from the old record layout: 39 readings kept, 1 damaged", log)
        with open(state_file(self.state_dir, DEVICE)) as f:
            self.assertTrue(f.read().startswith("smartmeter-meterd-state 3\n"))
        seg = os.path.join(spool_dir(self.state_dir, DEVICE), "0000000001.seg")
        if os.path.exists(seg):  # deleted once every reading in it was acknowledged
            with open(seg, "rb") as f:
                self.assertEqual(f.read(4), b"SMR2")


if __name__ == "__main__":
    main()
