"""Writes a TCP conversation into a pcap file that tshark reads as if it had been captured:
IPv4 (LINKTYPE_RAW) with a three-way handshake, every payload as one segment with the
right sequence and acknowledgement numbers and checksums, and a FIN each way.

write_pcap(path, records, client=("127.0.0.1", 40000), server=("127.0.0.1", port)), with
records [("c" | "s", bytes)] as mms_client.MmsClient keeps them.
"""
import socket
import struct
import time

MSS = 60000  # one segment per record (an IPv4 packet holds up to 65535 octets)


def _sum16(data):
    if len(data) % 2:
        data += b"\x00"
    s = sum(struct.unpack(f">{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def _packet(src, dst, seq, ack, flags, payload=b""):
    sip, dip = socket.inet_aton(src[0]), socket.inet_aton(dst[0])
    tcp = struct.pack(">HHIIBBHHH", src[1], dst[1], seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                      5 << 4, flags, 65535, 0, 0)
    pseudo = sip + dip + struct.pack(">BBH", 0, 6, len(tcp) + len(payload))
    csum = _sum16(pseudo + tcp + payload)
    tcp = tcp[:16] + struct.pack(">H", csum) + tcp[18:]
    total = 20 + len(tcp) + len(payload)
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, total, 0, 0x4000, 64, 6, 0, sip, dip)
    ip = ip[:10] + struct.pack(">H", _sum16(ip)) + ip[12:]
    return ip + tcp + payload


SYN, ACK, PSH, FIN = 0x02, 0x10, 0x08, 0x01


def write_pcap(path, records, client, server):
    t = time.time()
    pkts = []
    cseq, sseq = 1000, 5000
    pkts.append(_packet(client, server, cseq, 0, SYN))
    pkts.append(_packet(server, client, sseq, cseq + 1, SYN | ACK))
    cseq += 1
    sseq += 1
    pkts.append(_packet(client, server, cseq, sseq, ACK))
    for direction, data in records:
        for off in range(0, len(data), MSS):
            chunk = data[off:off + MSS]
            if direction == "c":
                pkts.append(_packet(client, server, cseq, sseq, PSH | ACK, chunk))
                cseq += len(chunk)
            else:
                pkts.append(_packet(server, client, sseq, cseq, PSH | ACK, chunk))
                sseq += len(chunk)
    pkts.append(_packet(client, server, cseq, sseq, FIN | ACK))
    pkts.append(_packet(server, client, sseq, cseq + 1, FIN | ACK))
    pkts.append(_packet(client, server, cseq + 1, sseq + 1, ACK))
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101))  # LINKTYPE_RAW
        for i, p in enumerate(pkts):
            ts = t + i * 0.001
            f.write(struct.pack("<IIII", int(ts), int((ts % 1) * 1e6), len(p), len(p)))
            f.write(p)
