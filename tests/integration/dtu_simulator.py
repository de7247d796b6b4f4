"""A 4G DTU and the meter behind it, for the DTU gateway's tests (run with /usr/bin/python3, where
Debian's python3-pymodbus imports).

The meter is python3-pymodbus's Modbus server with its RTU framer (the frames a meter sends on
RS-485), holding SDM630 input registers made from --values. The DTU connects to the server's
dtu_listen, sends its registration packet, then a heartbeat every --heartbeat-s, and passes
bytes both ways between the server and the meter, as a transparent DTU does. --corrupt N and
--drop N spoil the first N answers (a bad CRC, no answer at all); --heartbeat-inside N sends
the next N answers in two parts with a heartbeat between them. It stops after --duration s
or when the server closes the link, and prints one JSON object: what it forwarded and whether
the server closed it.
"""
import argparse
import asyncio
import json
import socket
import struct

from pymodbus.datastore import ModbusSequentialDataBlock, ModbusServerContext, ModbusSlaveContext
from pymodbus.server import StartAsyncTcpServer
from pymodbus.transaction import ModbusRtuFramer

# SDM630 input registers (server/regmap/maps/sdm630.map): field -> (address, scale).
SDM630 = {
    "voltage_a": (0x0000, 1), "voltage_b": (0x0002, 1), "voltage_c": (0x0004, 1),
    "current_a": (0x0006, 1), "current_b": (0x0008, 1), "current_c": (0x000A, 1),
    "power_w_a": (0x000C, 1), "power_w_b": (0x000E, 1), "power_w_c": (0x0010, 1),
    "voltage": (0x002A, 1), "current": (0x002E, 1), "power_w": (0x0034, 1), "pf": (0x003E, 1),
    "freq_hz": (0x0046, 1), "energy_wh": (0x0048, 0.001), "energy_export_wh": (0x004A, 0.001),
}


def registers(values):
    regs = [0] * 0x0160
    for field, value in values.items():
        addr, scale = SDM630[field]
        hi, lo = struct.unpack(">HH", struct.pack(">f", value * scale))
        regs[addr], regs[addr + 1] = hi, lo
    return regs


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server-port", type=int, required=True)
    ap.add_argument("--registration", required=True)
    ap.add_argument("--heartbeat", default="HB")
    ap.add_argument("--heartbeat-s", type=float, default=1.0)
    ap.add_argument("--unit", type=int, default=3)
    ap.add_argument("--values", required=True, help="JSON: SDM630 fields and values")
    ap.add_argument("--corrupt", type=int, default=0)
    ap.add_argument("--drop", type=int, default=0)
    ap.add_argument("--heartbeat-inside", type=int, default=0,
                    help="this many answers go in two parts with a heartbeat between them")
    ap.add_argument("--duration", type=float, default=5.0)
    args = ap.parse_args()

    block = ModbusSequentialDataBlock(0, registers(json.loads(args.values)))
    context = ModbusServerContext(slaves={args.unit: ModbusSlaveContext(ir=block, zero_mode=True)},
                                  single=False)
    meter_port = free_port()
    asyncio.create_task(StartAsyncTcpServer(context=context, address=("127.0.0.1", meter_port),
                                            framer=ModbusRtuFramer, allow_reuse_address=True))
    for _ in range(100):
        try:
            m_reader, m_writer = await asyncio.open_connection("127.0.0.1", meter_port)
            break
        except OSError:
            await asyncio.sleep(0.05)
    s_reader, s_writer = await asyncio.open_connection("127.0.0.1", args.server_port)
    s_writer.write(args.registration.encode())
    await s_writer.drain()
    stats = {"requests": 0, "answers": 0, "corrupted": 0, "dropped": 0, "split": 0,
             "closed_by_server": False}

    async def heartbeats():
        while True:
            await asyncio.sleep(args.heartbeat_s)
            s_writer.write(args.heartbeat.encode())
            await s_writer.drain()

    async def to_meter():
        while True:
            data = await s_reader.read(512)
            if not data:
                stats["closed_by_server"] = True
                return
            stats["requests"] += 1
            m_writer.write(data)
            await m_writer.drain()

    async def to_server():
        while True:
            data = await m_reader.read(512)
            if not data:
                return
            if stats["dropped"] < args.drop:
                stats["dropped"] += 1
                continue
            if stats["corrupted"] < args.corrupt:
                stats["corrupted"] += 1
                data = data[:-1] + bytes([data[-1] ^ 0xFF])
            stats["answers"] += 1
            if stats["split"] < args.heartbeat_inside and len(data) > 2:
                stats["split"] += 1
                for part in (data[:3], args.heartbeat.encode(), data[3:]):
                    s_writer.write(part)
                    await s_writer.drain()
                    await asyncio.sleep(0.02)
                continue
            s_writer.write(data)
            await s_writer.drain()

    tasks = [asyncio.create_task(t()) for t in (heartbeats, to_meter, to_server)]
    try:
        await asyncio.wait_for(tasks[1], args.duration)
    except asyncio.TimeoutError:
        pass
    except (ConnectionError, OSError):
        stats["closed_by_server"] = True
    for t in tasks:
        t.cancel()
    s_writer.close()
    print(json.dumps(stats), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
