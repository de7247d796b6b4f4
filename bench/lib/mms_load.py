"""Reads an MMS server as a grid client polls it (bench/grid.sh): each of --connections
processes associates once, then reads the measurement data set (LLN0$Meas) of device
1, 2 .. --devices in turn for --seconds. Prints one line:
  reads=... errors=... seconds=... rate=... p50_ms=... p99_ms=...
The client is the tests' MMS client (tests/integration/mms_client.py), in Python: its CPU
is part of the machine's load, and the script prints the server's CPU per read apart."""
import argparse, multiprocessing, os, sys, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "tests", "integration"))
import mms_client as mc  # noqa: E402


def run(args, k, out):
    lat, errors = [], 0
    try:
        c = mc.MmsClient("127.0.0.1", args.port)
    except Exception:
        out.put(([], 1))
        return
    deadline = time.monotonic() + args.seconds
    n = k % args.devices
    while time.monotonic() < deadline:
        dom = "SMARTMETER_" + (args.prefix + str(n + 1)).replace("-", "_")
        t0 = time.monotonic()
        try:
            c.read_data_set(dom, "LLN0$Meas")
        except Exception:
            errors += 1
            break
        lat.append(time.monotonic() - t0)
        n = (n + 1) % args.devices
    try:
        c.close()
    except Exception:
        pass
    out.put((lat, errors))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--prefix", default="bench-g-")
    p.add_argument("--devices", type=int, default=100)
    p.add_argument("--connections", type=int, default=4)
    p.add_argument("--seconds", type=int, default=10)
    args = p.parse_args()
    q = multiprocessing.Queue()
    t0 = time.monotonic()
    procs = [multiprocessing.Process(target=run, args=(args, k, q))
             for k in range(args.connections)]
    for pr in procs:
        pr.start()
    lat, errors = [], 0
    for _ in procs:
        got, e = q.get()
        lat += got
        errors += e
    for pr in procs:
        pr.join()
    secs = time.monotonic() - t0
    lat.sort()
    pct = (lambda f: lat[min(len(lat) - 1, int(len(lat) * f))] * 1000) if lat else (lambda f: 0)
    print(f"reads={len(lat)} errors={errors} seconds={secs:.2f} rate={len(lat) / secs:.0f} "
          f"p50_ms={pct(0.5):.2f} p99_ms={pct(0.99):.2f}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
