"""The IEC 61850 MMS port (meter-server --mms-listen; docs/iec61850.md) against a client and a
decoder the server does not share: an MMS client written from the standards
(mms_client.py) runs a whole session (association, Identify, GetNameList,
GetVariableAccessAttributes, Read of every MMXU and MMTR value of SPEC.md, Conclude,
release); the session is written to a pcap file and dissected by Debian's tshark
(-d tcp.port==PORT,tpkt), which must find no malformed PDU, no warning or error and nothing
it cannot dissect, and whose decoded floats must equal the API's values of the same reading.
Then malformed and mutated input on other connections, while a good client keeps reading,
and the client allow-list.
"""
import os
import random
import shutil
import socket
import struct
import subprocess
import time
import unittest
import xml.etree.ElementTree as ET

from harness import ARTIFACTS, IntegrationTest, free_port, http, main, wait_until
import mms_client as mc
from pcap import write_pcap

SINGLE, THREE = "grid-1", "grid-3p"
DOMAINS = {SINGLE: "SMARTMETER_grid_1", THREE: "SMARTMETER_grid_3p"}
# SPEC.md "Grid ports": the values every device shows, with the API field each comes from.
MV = [("MMXU1$MX$TotW", "power_w"), ("MMXU1$MX$TotVAr", "reactive_var"),
      ("MMXU1$MX$TotVA", "apparent_va"), ("MMXU1$MX$TotPF", "pf"), ("MMXU1$MX$Hz", "freq_hz")]
CMV = [("MMXU1$MX$PhV$phsA", "voltage_a"), ("MMXU1$MX$PhV$phsB", "voltage_b"),
       ("MMXU1$MX$PhV$phsC", "voltage_c"), ("MMXU1$MX$A$phsA", "current_a"),
       ("MMXU1$MX$A$phsB", "current_b"), ("MMXU1$MX$A$phsC", "current_c")]
BCR = [("MMTR1$ST$TotWh", "energy_wh"), ("MMTR1$ST$TotVArh", "reactive_energy_varh")]
READINGS = {
    SINGLE: {"voltage": 229.8, "current": 7.125, "power_w": 1580.25, "reactive_var": 210.5,
             "apparent_va": 1640.0, "pf": 0.963, "freq_hz": 49.98, "energy_wh": 98765.4,
             "reactive_energy_varh": 4321.9},
    THREE: {"voltage": 230.23, "current": 10.5, "voltage_a": 230.1, "voltage_b": 231.2, "voltage_c": 229.4, "current_a": 10.5,
            "current_b": 11.25, "current_c": 9.75, "power_w": 7012.5, "reactive_var": -512.0,
            "apparent_va": 7100.75, "pf": 0.987, "freq_hz": 50.01, "energy_wh": 5551234.5,
            "reactive_energy_varh": 77123.0},
}
WARNING = 0x00600000  # tshark's expert severity "warning" (errors are above)
RCB = "LLN0$RP$urcbMeas01"
RCB_ATTRIBUTES = ("RptID", "RptEna", "Resv", "DatSet", "ConfRev", "OptFlds", "BufTm", "SqNum",
                  "TrgOps", "IntgPd", "GI")


def f32(x):
    return struct.unpack(">f", struct.pack(">f", x))[0]


class MmsTest(IntegrationTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not shutil.which("tshark"):
            raise unittest.SkipTest("tshark is not installed (scripts/deps.sh installs it)")
        cls.port = free_port()
        cls.srv = cls.server_fixture({"op": "operator"}, {SINGLE: "op", THREE: "op"},
                                     login=("op",),
                                     extra_args=["--mms-listen", f"127.0.0.1:{cls.port}",
                                                 "--mms-allow", "127.0.0.1, ::1"])
        cls.tok = cls.srv.tokens
        for dev, reading in READINGS.items():
            r = http("POST", cls.srv.url("/api/device/data"), {"device_id": dev, **reading},
                     headers={"Authorization": f"Bearer {cls.srv.secrets[dev]}"})
            assert r.status == 200 and r.json()["stored"] == 1, r

    def latest(self, dev):
        r = self.get(f"/api/devices/{dev}", "op")
        self.assertEqual(r.status, 200, r)
        return r.json()["latest"]

    def expected(self, dev):
        """The API's value of every SPEC.md item (single-phase: phase A from the one voltage
        and current), in the order test_1 reads them."""
        api = dict(self.latest(dev))
        if dev == SINGLE:
            api["voltage_a"], api["current_a"] = api["voltage"], api["current"]
        floats = [api.get(k) for _, k in MV + CMV]
        ints = [int(api[k]) for _, k in BCR]  # whole Wh and varh
        return floats, ints

    def tshark(self, pcap, *args):
        r = subprocess.run(["tshark", "-r", pcap, "-d", f"tcp.port=={self.port},tpkt", *args],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def session(self):
        c = mc.MmsClient("127.0.0.1", self.port)
        out = {"identify": c.identify(), "domains": c.domains(), "variables": {}, "types": {}}
        for dev, dom in DOMAINS.items():
            self.assertIn(dom, out["domains"])
            out["variables"][dom] = c.variables(dom)
            for item, _ in MV + CMV + BCR:
                out["types"][(dom, item)] = c.type_of(dom, item)
        # One single-variable read, then every SPEC.md value of each device in one list.
        out["single"] = c.read(DOMAINS[THREE], ["MMXU1$MX$TotW$mag$f"])
        out["reads"] = {dom: c.read(dom, [i for i, _ in MV + CMV + BCR]) for dom in DOMAINS.values()}
        # The data set: its name, its members, and a Read of it by name.
        out["data_sets"] = {dom: c.data_sets(dom) for dom in DOMAINS.values()}
        out["members"] = {dom: c.data_set_members(dom, "LLN0$Meas") for dom in DOMAINS.values()}
        out["data_set_reads"] = {dom: c.read_data_set(dom, "LLN0$Meas") for dom in DOMAINS.values()}
        self.assertTrue(c.conclude())
        self.assertTrue(c.release())
        c.close()
        return c.records, out

    def test_1_a_session_dissected_by_tshark_shows_the_apis_values(self):
        records, out = self.session()
        self.assertEqual(out["identify"][:2], ["smartmeter", "meter-server"])
        for dom in DOMAINS.values():
            names = out["variables"][dom]
            self.assertEqual(names, sorted(names), "GetNameList in collating order")
            for item, _ in MV + CMV + BCR:
                self.assertIn(item, names)
            for ln in ("LLN0", "LPHD1", "MHAI1", "MMTR1", "MMXU1"):
                self.assertIn(ln, names)
        for dom in DOMAINS.values():
            self.assertEqual(out["data_sets"][dom], ["LLN0$Meas"])
            members = [item for d, item in out["members"][dom]]
            self.assertEqual({d for d, _ in out["members"][dom]}, {dom})
            self.assertEqual(members, [i for i, _ in MV] + ["MMXU1$MX$PhV", "MMXU1$MX$A"] +
                             [i for i, _ in BCR])
            self.assertEqual(len(out["data_set_reads"][dom]), len(members))
        pcap = os.path.join(ARTIFACTS, f"mms-session-{self.port}.pcap")
        os.makedirs(ARTIFACTS, exist_ok=True)
        write_pcap(pcap, records, ("127.0.0.1", 40102), ("127.0.0.1", self.port))

        # Nothing malformed, no expert warning or error, nothing left undissected.
        rows = self.tshark(pcap, "-T", "fields", "-E", "separator=|", "-e", "frame.number",
                           "-e", "frame.protocols", "-e", "_ws.malformed", "-e",
                           "_ws.expert.severity", "-e", "tcp.len").splitlines()
        self.assertGreater(len(rows), 20)
        payload_frames = 0
        for row in rows:
            num, protos, malformed, severity, tcp_len = row.split("|")
            self.assertEqual(malformed, "", f"frame {num} malformed")
            for s in filter(None, severity.split(",")):
                self.assertLess(int(s), WARNING, f"frame {num}: expert severity {s}")
            if tcp_len and int(tcp_len) > 0:
                payload_frames += 1
                self.assertRegex(protos, r"cotp", f"frame {num}: {protos}")
                self.assertNotRegex(protos, r":data$", f"frame {num} undissected: {protos}")
        sent = sum(1 for d, _ in records)
        self.assertEqual(payload_frames, sent)
        text = self.tshark(pcap, "-V")
        for pdu in ("initiate-RequestPDU", "initiate-ResponsePDU", "getNameList", "identify",
                    "getVariableAccessAttributes", "getNamedVariableListAttributes", "read",
                    "conclude-RequestPDU",
                    "conclude-ResponsePDU", "rlrq", "rlre"):
            self.assertTrue(pdu in text, f"tshark shows no {pdu}")

        # The read responses as tshark decodes them, against the API's values.
        root = ET.fromstring(self.tshark(pcap, "-T", "pdml", "-Y", "mms.confirmedServiceResponse"))
        reads = []
        for packet in root.iter("packet"):
            svc = [f for f in packet.iter("field") if f.get("name") == "mms.confirmedServiceResponse"]
            if svc and svc[0].get("show") == "4":
                floats = [struct.unpack(">f", bytes.fromhex(f.get("value"))[1:])[0]
                          for f in packet.iter("field") if f.get("name") == "mms.floating_point"]
                ints = [int(f.get("show")) for f in packet.iter("field")
                        if f.get("name") == "mms.integer"]
                bits = [f.get("value") for f in packet.iter("field")
                        if f.get("name") == "mms.data_bit-string"]
                reads.append((floats, ints, bits))
        # The single read, one list per device, then each device's data set.
        self.assertEqual(len(reads), 5)
        single, lists, data_sets = reads[0], reads[1:3], reads[3:]
        for (floats, ints, bits), (ds_floats, ds_ints, ds_bits) in zip(lists, data_sets):
            self.assertEqual(ds_floats, floats)  # the same members in the same order
            self.assertEqual(ds_ints, ints)
            self.assertEqual(ds_bits, bits)
        self.assertEqual(single[0], [f32(self.latest(THREE)["power_w"])])
        for (floats, ints, bits), dev in zip(lists, DOMAINS):
            want_f, want_i = self.expected(dev)
            got = dict(zip([i for i, _ in MV + CMV], floats))
            for (item, field), want in zip(MV + CMV, want_f):
                if want is None:  # a single-phase meter has no phases B and C
                    continue
                self.assertEqual(got[item], f32(want), f"{dev} {item} ({field})")
            self.assertEqual(len(floats), len(MV + CMV))
            self.assertEqual(ints, want_i, f"{dev}: TotWh, TotVArh")
            self.assertEqual(len(bits), len(MV + CMV + BCR))
            self.assertTrue(all(b is not None for b in bits))
        # Quality: good where the reading has the value, invalid (01) where it has not.
        single_bits = lists[0][2]
        self.assertEqual(single_bits[0], "0000")  # TotW of grid-1
        phsb = [i for i, _ in MV + CMV].index("MMXU1$MX$PhV$phsB")
        self.assertEqual(single_bits[phsb], "4000")

    def good_client_reads(self, client):
        rows = client.read(DOMAINS[THREE], ["MMXU1$MX$TotW$mag$f"])
        self.assertEqual(mc.mms_float(rows[0][1]), f32(READINGS[THREE]["power_w"]))

    def assert_closed(self, sock):
        sock.settimeout(10)
        try:
            while sock.recv(65536):
                pass
        except ConnectionResetError:
            pass

    def test_2_bad_input_closes_only_its_connection(self):
        good = mc.MmsClient("127.0.0.1", self.port)
        self.good_client_reads(good)
        cases = [
            b"\x16\x03\x01\x02\x00" + b"\x00" * 64,  # TLS, not TPKT
            mc.tpkt(bytes([2, 0xF0, 0x80]) + b"\x01\x00\x01\x00"),  # DT before CR
        ]
        for data in cases:
            s = socket.create_connection(("127.0.0.1", self.port))
            s.sendall(data)
            self.assert_closed(s)
            s.close()
        # Inside an association: an indefinite length ends it (COTP DR, then the TCP close);
        # a well-formed request whose argument nests too deep gets a Reject (invalid-argument).
        bad = mc.MmsClient("127.0.0.1", self.port)
        bad._send(mc.cotp_dt(bytes([1, 0, 1, 0]) +
                             mc.pres_data(mc.MMS_CTX, bytes.fromhex("a08002010100"))))
        bad.sock.settimeout(10)
        reply = bad.sock.recv(65536)
        self.assertEqual(reply[4:6], b"\x06\x80", f"not a DR: {reply.hex()}")
        self.assert_closed(bad.sock)
        bad.close()
        deep = b"\x30\x00"
        for _ in range(40):
            deep = mc.tlv(0x30, deep)
        bad = mc.MmsClient("127.0.0.1", self.port)
        with self.assertRaises(mc.MmsError) as e:
            bad.request(deep)
        self.assertIn("MMS answered 0xa4", str(e.exception))  # a rejectPDU
        self.assertTrue(str(e.exception).endswith("810104"), str(e.exception))
        self.good_client_reads(bad)  # and the association goes on
        bad.close()
        self.good_client_reads(good)

        # A bounded random mutation run: each mutated session on a connection of its own.
        base = b"".join(d for w, d in self.session()[0] if w == "c")
        rnd = random.Random(61850)
        for _ in range(150):
            data = bytearray(base)
            for _ in range(rnd.randint(1, 8)):
                i = rnd.randrange(len(data))
                data[i] = rnd.randrange(256)
            s = socket.create_connection(("127.0.0.1", self.port))
            s.settimeout(5)
            try:
                s.sendall(bytes(data))
                s.shutdown(socket.SHUT_WR)
                while s.recv(65536):
                    pass
            except (ConnectionResetError, BrokenPipeError, socket.timeout):
                pass
            s.close()
        self.good_client_reads(good)
        self.assertTrue(good.conclude())
        self.assertTrue(good.release())
        good.close()
        self.assertIsNone(self.srv.proc.poll(), "meter-server still runs")
        # Counted in /api/stats: the ends by reason, the Reject.
        r = self.get("/api/stats", "op")
        self.assertEqual(r.status, 200, r)
        m = r.json()["mms"]
        self.assertTrue(m["listening"])
        self.assertGreaterEqual(m["ended"]["malformed"], 1)
        self.assertGreaterEqual(m["ended"]["malformed"] + m["ended"]["refused"], 3)
        self.assertGreaterEqual(m["rejects"], 1)
        self.assertGreaterEqual(m["associations"], 3)

    def test_3_the_allow_list_refuses_other_clients(self):
        # 127.0.0.2 is loopback too, but not on the list (127.0.0.1, ::1).
        s = socket.create_connection(("127.0.0.1", self.port), source_address=("127.0.0.2", 0))
        s.sendall(mc.tpkt(bytes([17, 0xE0, 0, 0, 0, 1, 0, 0xC0, 1, 0x0B,
                                 0xC1, 2, 0, 1, 0xC2, 2, 0, 1])))
        s.settimeout(10)
        try:
            self.assertEqual(s.recv(100), b"")
        except ConnectionResetError:
            pass
        s.close()
        good = mc.MmsClient("127.0.0.1", self.port)
        self.good_client_reads(good)
        good.close()
        r = subprocess.run([os.environ.get("METER_SERVER", "meter-server"), "--db", self.srv.db,
                            "--mqtt", self.srv.mqtt, "--listen", f"127.0.0.1:{free_port()}",
                            "--jwt-secret-file", self.srv.secret_file,
                            "--mms-listen", f"127.0.0.1:{free_port()}",
                            "--mms-allow", "not-an-address"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("mms_allow", r.stderr)

    def test_4_the_scl_export_names_what_the_server_serves(self):
        r = subprocess.run([os.environ.get("METER_SERVER", "meter-server"), "scl", "export",
                            "--db", self.srv.db], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        ns = {"s": "http://www.iec.ch/61850/2003/SCL"}
        root = ET.fromstring(r.stdout)
        tpl = root.find("s:DataTypeTemplates", ns)
        types = {t.get("id"): t for t in tpl}

        def da_names(type_id, prefix):
            """The names below a DA or BDA of type_id: prefix$name for each component."""
            out = []
            for bda in types[type_id].findall("s:BDA", ns):
                name = f"{prefix}${bda.get('name')}"
                out.append(name)
                if bda.get("bType") == "Struct":
                    out += da_names(bda.get("type"), name)
            return out

        def do_names(do_type, ln, path):
            """{(fc, name)} below a data object at path (DO$SDO...)."""
            out = set()
            for el in types[do_type]:
                tag = el.tag.split("}")[1]
                if tag == "SDO":
                    out |= do_names(el.get("type"), ln, f"{path}${el.get('name')}")
                elif tag == "DA":
                    fc = el.get("fc")
                    parts = path.split("$")
                    for i in range(1, len(parts) + 1):  # the DO and SDO levels of this FC
                        out.add(f"{ln}${fc}${'$'.join(parts[:i])}")
                    name = f"{ln}${fc}${path}${el.get('name')}"
                    out.add(name)
                    if el.get("bType") == "Struct":
                        out |= set(da_names(el.get("type"), name))
            return out

        client = mc.MmsClient("127.0.0.1", self.port)
        ldevices = root.findall(".//s:LDevice", ns)
        self.assertEqual(sorted(ld.get("ldName") for ld in ldevices), sorted(client.domains()))
        for ld in ldevices:
            names = set()
            for ln in ld:
                ln_name = (ln.get("prefix") or "") + ln.get("lnClass") + (ln.get("inst") or "")
                names.add(ln_name)
                for do in types[ln.get("lnType")].findall("s:DO", ns):
                    got = do_names(do.get("type"), ln_name, do.get("name"))
                    names |= got
                    names |= {"$".join(n.split("$")[:2]) for n in got}  # LN$FC
            # The report control block: LLN0$RP$<name>01 (indexed, one instance) and its
            # attributes as IEC 61850-8-1 maps an unbuffered one.
            for rc in ld.findall("s:LN0/s:ReportControl", ns):
                self.assertEqual(rc.get("buffered"), "false")
                rcb = f"LLN0$RP${rc.get('name')}01"
                names |= {"LLN0$RP", rcb} | {f"{rcb}${a}" for a in RCB_ATTRIBUTES}
            self.assertEqual(names, set(client.variables(ld.get("ldName"))), ld.get("ldName"))
            # The data set: its members are data objects the device serves.
            ds = ld.find("s:LN0/s:DataSet", ns)
            self.assertEqual(ds.get("name"), "Meas")
            fcdas = [f"{f.get('lnClass')}{f.get('lnInst')}${f.get('fc')}${f.get('doName')}"
                     for f in ds.findall("s:FCDA", ns)]
            self.assertEqual(fcdas, [item for _, item in
                                     client.data_set_members(ld.get("ldName"), "LLN0$Meas")])
            for f in ds.findall("s:FCDA", ns):
                self.assertEqual(f.get("ldInst"), ld.get("inst"))
        client.close()

    def test_5_a_report_of_the_data_set_carries_the_apis_values(self):
        c = mc.MmsClient("127.0.0.1", self.port)
        dom = DOMAINS[THREE]
        ok = (0x81, b"")
        self.assertEqual(c.write(dom, f"{RCB}$TrgOps", mc.tlv(0x84, bytes([2, 0x4C]))), ok)
        self.assertEqual(c.write(dom, f"{RCB}$IntgPd", mc.tlv(0x86, (60000).to_bytes(3, "big"))),
                         ok)
        self.assertEqual(c.write(dom, f"{RCB}$RptEna", mc.tlv(0x83, b"\xff")), ok)
        self.assertEqual(c.write(dom, f"{RCB}$RptEna", mc.tlv(0x84, b"\x00")),
                         (0x80, b"\x07"))  # type-inconsistent
        self.assertEqual(c.write(dom, f"{RCB}$GI", mc.tlv(0x83, b"\xff")), ok)
        results = c.next_report()
        # RptID, OptFlds, SqNum, DatSet, inclusion, 9 values, 9 reasons (the default OptFlds).
        self.assertEqual(results[0], (0x8A, f"{dom}/{RCB}".encode()))
        self.assertEqual(results[3], (0x8A, f"{dom}/LLN0$Meas".encode()))
        self.assertEqual(results[4], (0x84, bytes([7, 0xFF, 0x80])))
        self.assertEqual(len(results), 5 + 9 + 9)
        self.assertEqual(c.write(dom, f"{RCB}$RptEna", mc.tlv(0x83, b"\x00")), ok)
        self.assertTrue(c.conclude())
        self.assertTrue(c.release())
        c.close()

        pcap = os.path.join(ARTIFACTS, f"mms-report-{self.port}.pcap")
        write_pcap(pcap, c.records, ("127.0.0.1", 40103), ("127.0.0.1", self.port))
        rows = self.tshark(pcap, "-T", "fields", "-E", "separator=|", "-e", "_ws.malformed",
                           "-e", "_ws.expert.severity").splitlines()
        for row in rows:
            malformed, severity = row.split("|")
            self.assertEqual(malformed, "")
            for sev in filter(None, severity.split(",")):
                self.assertLess(int(sev), WARNING)
        text = self.tshark(pcap, "-V")
        for pdu in ("write", "informationReport", "unconfirmed-PDU"):
            self.assertTrue(pdu in text, f"tshark shows no {pdu}")
        root = ET.fromstring(self.tshark(pcap, "-T", "pdml", "-Y", "mms.informationReport_element"))
        packets = list(root.iter("packet"))
        self.assertEqual(len(packets), 1)
        floats = [struct.unpack(">f", bytes.fromhex(f.get("value"))[1:])[0]
                  for f in packets[0].iter("field") if f.get("name") == "mms.floating_point"]
        ints = [int(f.get("show")) for f in packets[0].iter("field") if f.get("name") == "mms.integer"]
        want_f, want_i = self.expected(THREE)
        self.assertEqual(floats, [f32(x) for x in want_f])
        self.assertEqual(ints, want_i)


if __name__ == "__main__":
    main()
