"""A small IEC 61850 MMS client for the tests, written from the standards (ISO 8073,
8327, 8823, 8650, 9506 and RFC 1006) with the standard library only: it builds every PDU
by hand, so what meter-server answers is checked against an encoder it does not share.

MmsClient(host, port) associates (COTP CR, session CN with presentation CP, ACSE AARQ and
MMS Initiate) and then offers identify(), domains(), variables(domain),
type_of(domain, item), read(domain, items), data_sets(domain),
data_set_members(domain, name), read_data_set(domain, name), conclude() and release(). Every byte sent
and received is kept in .records as (direction, bytes) for pcap.py.
"""
import socket
import struct


# --- BER ------------------------------------------------------------------------------------


def tlv(tag, content=b""):
    n = len(content)
    if n < 0x80:
        ln = bytes([n])
    elif n < 0x100:
        ln = bytes([0x81, n])
    else:
        ln = bytes([0x82, n >> 8, n & 0xFF])
    return bytes([tag]) + ln + content


def ber_int(tag, v):
    b = v.to_bytes(8, "big", signed=True)
    while len(b) > 1 and ((b[0] == 0 and b[1] < 0x80) or (b[0] == 0xFF and b[1] >= 0x80)):
        b = b[1:]
    return tlv(tag, b)


def vstr(tag, s):
    return tlv(tag, s.encode("ascii"))


def parse(buf):
    """[(tag, content)] of the elements in buf (single-byte tags, definite lengths)."""
    out, i = [], 0
    while i < len(buf):
        tag = buf[i]
        n = buf[i + 1]
        i += 2
        if n & 0x80:
            k = n & 0x7F
            n = int.from_bytes(buf[i:i + k], "big")
            i += k
        out.append((tag, buf[i:i + n]))
        i += n
    return out


def one(buf, tag=None):
    items = parse(buf)
    if len(items) != 1 or (tag is not None and items[0][0] != tag):
        raise ValueError(f"expected one element {tag!r}, got {[hex(t) for t, _ in items]}")
    return items[0][1]


# --- the stack ------------------------------------------------------------------------------

ACSE_CTX, MMS_CTX = 1, 3


def tpkt(payload):
    return struct.pack(">BBH", 3, 0, len(payload) + 4) + payload


def cotp_dt(data):
    return tpkt(bytes([2, 0xF0, 0x80]) + data)


def pres_data(ctx, pdu):
    return tlv(0x61, tlv(0x30, ber_int(0x02, ctx) + tlv(0xA0, pdu)))


def initiate_request(max_pdu=65000):
    services = bytes([0xEE, 0x1C, 0, 0, 0x04, 0x08, 0, 0, 0x79, 0xEF, 0x18])
    detail = (ber_int(0x80, 1) + tlv(0x81, bytes([5, 0xF1, 0x00])) +
              tlv(0x82, bytes([3]) + services))
    return tlv(0xA8, ber_int(0x80, max_pdu) + ber_int(0x81, 5) + ber_int(0x82, 5) +
               ber_int(0x83, 10) + tlv(0xA4, detail))


def aarq(mms_pdu):
    app_ctx = tlv(0xA1, tlv(0x06, bytes([0x28, 0xCA, 0x22, 0x02, 0x03])))
    user = tlv(0xBE, tlv(0x28, ber_int(0x02, MMS_CTX) + tlv(0xA0, mms_pdu)))
    return tlv(0x60, tlv(0x80, bytes([0x07, 0x80])) + app_ctx + user)


def cp_type(acse_pdu):
    ber = tlv(0x30, tlv(0x06, bytes([0x51, 0x01])))
    ctx_list = tlv(0xA4,
                   tlv(0x30, ber_int(0x02, ACSE_CTX) + tlv(0x06, bytes([0x52, 1, 0, 1])) + ber) +
                   tlv(0x30, ber_int(0x02, MMS_CTX) + tlv(0x06, bytes([0x28, 0xCA, 0x22, 2, 1])) +
                       ber))
    normal = (tlv(0x80, bytes([0x07, 0x80])) + tlv(0x81, bytes([0, 0, 0, 1])) +
              tlv(0x82, bytes([0, 0, 0, 1])) + ctx_list + pres_data(ACSE_CTX, acse_pdu))
    return tlv(0x31, tlv(0xA0, tlv(0x80, b"\x01")) + tlv(0xA2, normal))


def ses_len(n):
    return bytes([n]) if n < 255 else bytes([0xFF, n >> 8, n & 0xFF])


def ses_connect(user):
    params = (bytes([5, 6, 0x13, 1, 0, 0x16, 1, 2]) + bytes([0x14, 2, 0, 2]) +
              bytes([0x33, 2, 0, 1, 0x34, 2, 0, 1]) + bytes([0xC1]) + ses_len(len(user)) + user)
    return bytes([0x0D]) + ses_len(len(params)) + params


def ses_finish(user):
    params = bytes([0xC1]) + ses_len(len(user)) + user
    return bytes([0x09]) + ses_len(len(params)) + params


def object_name(domain, item):
    return tlv(0xA0, tlv(0xA1, vstr(0x1A, domain) + vstr(0x1A, item)))


class MmsError(Exception):
    pass


class MmsClient:
    def __init__(self, host, port, timeout=10, max_pdu=65000):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.records = []  # ("c" client to server | "s" server to client, bytes)
        self.invoke = 0
        self.buf = b""
        self.reports = []  # the contents of the InformationReports received
        self._send(tpkt(bytes([17, 0xE0, 0, 0, 0, 1, 0, 0xC0, 1, 0x0B,
                               0xC1, 2, 0, 1, 0xC2, 2, 0, 1])))
        cc = self._recv_tpkt()
        if cc[5] & 0xF0 != 0xD0:
            raise MmsError(f"no CC: {cc.hex()}")
        self._send(cotp_dt(ses_connect(cp_type(aarq(initiate_request(max_pdu))))))
        tsdu = self._recv_tsdu()
        if tsdu[0] != 0x0E:
            raise MmsError(f"no session accept: {tsdu[:4].hex()}")
        self.accept = tsdu

    # --- transport ---

    def _send(self, data):
        self.records.append(("c", data))
        self.sock.sendall(data)

    def _recv_tpkt(self):
        while True:
            if len(self.buf) >= 4:
                n = struct.unpack(">H", self.buf[2:4])[0]
                if len(self.buf) >= n:
                    pkt, self.buf = self.buf[:n], self.buf[n:]
                    self.records.append(("s", pkt))
                    return pkt
            chunk = self.sock.recv(65536)
            if not chunk:
                raise MmsError("connection closed")
            self.buf += chunk

    def _recv_tsdu(self):
        data = b""
        while True:
            pkt = self._recv_tpkt()
            if pkt[5] != 0xF0:
                raise MmsError(f"not a DT TPDU: {pkt[:8].hex()}")
            data += pkt[7:]
            if pkt[6] & 0x80:
                return data

    def _recv_mms(self):
        """The next MMS PDU (tag, content) the server sends."""
        tsdu = self._recv_tsdu()
        if tsdu[:4] != bytes([1, 0, 1, 0]):
            raise MmsError(f"not session data: {tsdu[:4].hex()}")
        pdv = parse(one(one(tsdu[4:], 0x61), 0x30))
        return parse(pdv[-1][1])[0]

    def request(self, service):
        """Sends a confirmed request; returns the response's service element (tag, content).
        InformationReports that arrive meanwhile go to .reports."""
        self.invoke += 1
        pdu = tlv(0xA0, ber_int(0x02, self.invoke) + service)
        self._send(cotp_dt(bytes([1, 0, 1, 0]) + pres_data(MMS_CTX, pdu)))
        tag, inner = self._recv_mms()
        while tag == 0xA3:
            self.reports.append(inner)
            tag, inner = self._recv_mms()
        if tag != 0xA1:
            raise MmsError(f"MMS answered {hex(tag)}: {inner.hex()}")
        elems = parse(inner)
        return elems[1]

    # --- services ---

    def identify(self):
        tag, content = self.request(tlv(0x82))
        return [c.decode() for _, c in parse(content)]

    def _names(self, scope, cls):
        names, after = [], None
        while True:
            req = tlv(0xA0, ber_int(0x80, cls)) + tlv(0xA1, scope)
            if after:
                req += vstr(0x82, after)
            tag, content = self.request(tlv(0xA1, req))
            parts = dict(parse(content))
            got = [c.decode() for _, c in parse(parts[0xA0])]
            names += got
            if parts.get(0x81, b"\x00") == b"\x00" or not got:
                return names
            after = got[-1]

    def domains(self):
        return self._names(tlv(0x80), 9)

    def variables(self, domain):
        return self._names(vstr(0x81, domain), 0)

    def data_sets(self, domain):
        return self._names(vstr(0x81, domain), 2)

    def data_set_members(self, domain, name):
        """The members of a data set, as (domain, item) pairs."""
        tag, content = self.request(tlv(0xAC, tlv(0xA1, vstr(0x1A, domain) + vstr(0x1A, name))))
        members = []
        for _, seq in parse(dict(parse(content))[0xA1]):
            names = parse(one(one(seq, 0xA0), 0xA1))
            members.append(tuple(c.decode() for _, c in names))
        return members

    def read_data_set(self, domain, name):
        spec = tlv(0xA1, tlv(0xA1, vstr(0x1A, domain) + vstr(0x1A, name)))
        tag, content = self.request(tlv(0xA4, tlv(0xA1, spec)))
        return parse(one(content, 0xA1))

    def type_of(self, domain, item):
        tag, content = self.request(tlv(0xA6, object_name(domain, item)))
        return content

    def read(self, domain, items):
        specs = b"".join(tlv(0x30, object_name(domain, i)) for i in items)
        tag, content = self.request(tlv(0xA4, tlv(0xA1, tlv(0xA0, specs))))
        return parse(one(content, 0xA1))

    def write(self, domain, item, data):
        """Writes one variable (data: an encoded MMS Data); the result element (tag, content)."""
        spec = tlv(0xA0, tlv(0x30, object_name(domain, item)))
        tag, content = self.request(tlv(0xA5, spec + tlv(0xA0, data)))
        return parse(content)[0]

    def next_report(self):
        """The next InformationReport's listOfAccessResult elements, waiting for it."""
        if self.reports:
            inner = self.reports.pop(0)
        else:
            tag, inner = self._recv_mms()
            if tag != 0xA3:
                raise MmsError(f"not a report: {hex(tag)}")
        report = one(inner, 0xA0)
        name, results = parse(report)
        if one(name[1], 0x80) != b"RPT":
            raise MmsError("not a report of an RCB")
        return parse(results[1])

    def conclude(self):
        self._send(cotp_dt(bytes([1, 0, 1, 0]) + pres_data(MMS_CTX, tlv(0x8B))))
        tsdu = self._recv_tsdu()
        pdv = parse(one(one(tsdu[4:], 0x61), 0x30))
        return parse(pdv[-1][1])[0][0] == 0x8C

    def release(self):
        rlrq = tlv(0x62, ber_int(0x80, 0))
        self._send(cotp_dt(ses_finish(pres_data(ACSE_CTX, rlrq))))
        tsdu = self._recv_tsdu()
        return tsdu[0] == 0x0A  # DISCONNECT

    def close(self):
        self.sock.close()


def mms_float(content):
    """The value of an MMS floating-point (exponent width 8, IEEE single)."""
    if len(content) != 5 or content[0] != 8:
        raise ValueError(content.hex())
    return struct.unpack(">f", content[1:])[0]
