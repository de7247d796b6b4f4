"""Reads Modbus TCP input registers with Debian's python3-pymodbus (run it with /usr/bin/python3,
where Debian's modules import): a client of the Modbus TCP server that nobody on the project wrote.

    /usr/bin/python3 modbus_pymodbus.py PORT UNIT:FUNCTION:ADDR:COUNT ...

prints one JSON list, an item per request: {"registers": [...]} or {"exception": code}.
FUNCTION is 3 or 4 (reads) or 6 (a write of 0 to ADDR, which this server must refuse).
"""
import json
import sys

from pymodbus.client import ModbusTcpClient


def main():
    port = int(sys.argv[1])
    client = ModbusTcpClient("127.0.0.1", port=port, timeout=5)
    if not client.connect():
        sys.exit(f"cannot connect to 127.0.0.1:{port}")
    out = []
    for spec in sys.argv[2:]:
        unit, function, addr, count = (int(x, 0) for x in spec.split(":"))
        if function == 4:
            rr = client.read_input_registers(addr, count, slave=unit)
        elif function == 3:
            rr = client.read_holding_registers(addr, count, slave=unit)
        else:
            rr = client.write_register(addr, 0, slave=unit)
        if rr.isError():
            out.append({"exception": getattr(rr, "exception_code", None)})
        else:
            out.append({"registers": list(rr.registers)})
    client.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
