#!/bin/sh
# meterd's memory on a full spool: fills a spool with 30 days of 1-second readings
# (2,592,000), runs meterd on it against a throwaway mosquitto while a stand-in server
# acknowledges what arrives (so the backlog drains at backlog_rate), and prints meterd's
# peak RSS (VmHWM) next to the same run on an empty spool, the spool's size on disk and
# how long meterd took to open it. Not a test: nothing asserts; the aim is under 8 MB.
#
#   bench/spool_rss.sh            (from the repository root)
#
# Environment: BENCH_BUILD_DIR (default build/release; meterd and spool_fill are built
# there if missing), BENCH_RSS_SECONDS (how long each meterd runs, default 20),
# BENCH_SPOOL_DAYS (default 30), BENCH_DIR (work directory, default a fresh one in /tmp;
# it needs about 600 MB and is removed at the end).
set -eu

build=${BENCH_BUILD_DIR:-build/release}
seconds=${BENCH_RSS_SECONDS:-20}
days=${BENCH_SPOOL_DAYS:-30}
readings=$((days * 86400))

if [ ! -x "$build/meter/meterd" ] || [ ! -x "$build/tests/unit/meter/spool_fill" ]; then
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build "$build" -j2 --target meterd spool_fill >/dev/null
fi
meterd=$(cd "$build/meter" && pwd)/meterd
fill=$(cd "$build/tests/unit/meter" && pwd)/spool_fill

work=${BENCH_DIR:-$(mktemp -d /tmp/spool-bench.XXXXXX)}
mkdir -p "$work"
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'listener %s 127.0.0.1\nallow_anonymous true\nmax_queued_messages 100000\n' "$port" \
    >"$work/mosquitto.conf"
[ "$(id -u)" = 0 ] && echo "user root" >>"$work/mosquitto.conf"
mosquitto -c "$work/mosquitto.conf" >"$work/mosquitto.log" 2>&1 &
pids="$pids $!"
sleep 0.5

acker_py='
import json, signal, subprocess, sys, time
port, dev = sys.argv[1], sys.argv[2]
sub = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", port, "-q", "1",
                        "-t", "meters/%s/telemetry" % dev], stdout=subprocess.PIPE)
pub = subprocess.Popen(["mosquitto_pub", "-h", "127.0.0.1", "-p", port, "-q", "1",
                        "-t", "meters/%s/ack" % dev, "-l"], stdin=subprocess.PIPE)
time.sleep(1)  # mosquitto_pub -l drops lines read before it is connected
def stop(*_):
    sub.terminate(); pub.terminate(); sys.exit(0)
signal.signal(signal.SIGTERM, stop)
for line in sub.stdout:
    doc = json.loads(line)
    seqs = sorted(r["seq"] for r in (doc if isinstance(doc, list) else [doc]))
    out = [[seqs[0], seqs[0]]]
    for s in seqs[1:]:
        if s == out[-1][1] + 1:
            out[-1][1] = s
        else:
            out.append([s, s])
    pub.stdin.write((json.dumps({"seqs": out[:256]}) + "\n").encode())
    pub.stdin.flush()
'

# run_meterd DEVICE: runs meterd for $seconds with an acker; prints "VmHWM_kB open_ms acked"
run_meterd() {
    dev=$1
    # The stand-in server: acknowledges every telemetry message as it arrives.
    python3 -u -c "$acker_py" "$port" "$dev" </dev/null >"$work/acker-$dev.log" 2>&1 &
    acker=$!
    pids="$pids $acker"
    sleep 1.5
    start=$(date +%s%3N)
    "$meterd" --device-id "$dev" --mqtt "tcp://127.0.0.1:$port" --state-dir "$work/state" \
        --interval 1 >"$work/meterd-$dev.log" 2>&1 &
    md=$!
    pids="$pids $md"
    opened=""
    i=0
    while [ $i -lt $((seconds * 10)) ]; do
        if [ -z "$opened" ] && grep -q "sampling with" "$work/meterd-$dev.log"; then
            opened=$(($(date +%s%3N) - start))
        fi
        sleep 0.1
        i=$((i + 1))
    done
    hwm=$(awk '/VmHWM/ {print $2}' "/proc/$md/status")
    kill -TERM "$md"
    wait "$md" || true
    kill -TERM "$acker"
    wait "$acker" || true
    acked=$(grep "spool at stop" "$work/meterd-$dev.log" | sed 's/.*acked \([0-9]*\).*/\1/')
    depth=$(grep "spool at stop" "$work/meterd-$dev.log" | sed 's/.*depth \([0-9]*\).*/\1/')
    echo "$hwm ${opened:-?} ${acked:-?} ${depth:-?}"
}

echo "== meterd on a full spool (${days} days of 1 s readings = $readings readings)"
t0=$(date +%s)
"$fill" "$work/state/meterd-full.spool" "$readings"
t1=$(date +%s)
bytes=$(du -sb "$work/state/meterd-full.spool" | cut -f1)
echo "spool on disk: $bytes bytes ($((bytes / 1048576)) MiB, $((bytes / readings)) bytes a reading), filled in $((t1 - t0)) s"

set -- $(run_meterd empty)
echo "empty spool: peak RSS (VmHWM) $1 kB; started in $2 ms"
set -- $(run_meterd full)
echo "full spool:  peak RSS (VmHWM) $1 kB; opened and started in $2 ms;" \
    "$3 readings acknowledged in ${seconds} s; $4 still unacknowledged at the stop"
echo "aim: peak RSS under 8192 kB"
