#!/usr/bin/env bash
# Cost of the workbench XDP sensor on the sender's packet rate.
#
#   sudo scripts/bench_xdp.sh [lo|veth] [SECONDS=5] [ROUNDS=3] [SENDERS=2]
#
# lo:   in a fresh network namespace (its own `lo`, nothing else running there), the
#       sensor in generic (SKB) mode, the only mode lo has;
# veth: a veth pair between two fresh namespaces, the sender in one, the sensor on the
#       other end in driver (native) mode.
# A bounded `hping3 --flood -S` (SENDERS processes, stopped by `timeout` after SECONDS)
# is measured with:
#   none      no XDP program, no reader;
#   xdp-pass  a bare XDP_PASS program (capture/bpf/xdp_pass.c): the cost of running XDP in
#             that mode at all, whatever the program does;
#   xdp       the workbench sensor (capture/bpf/xdp_sensor.c) with a reader draining the
#             ring buffer (capture/examples/live_count.rs);
#   afpacket  for reference: the AF_PACKET fallback with the same reader.
# Configurations alternate per round (the machine is shared; alternating spreads the
# noise) and the median is reported. Rates: packets hping3 says it sent per second, and
# SYN+RST packets the namespace's lo received per second. For the sensor runs: packets the
# kernel program counted, frames delivered to the reader and lost events (ring-buffer
# reserve failures / socket drops).
set -euo pipefail
cd "$(dirname "$0")/.."

MODE=${1:-lo}
SECS=${2:-5}
ROUNDS=${3:-3}
SENDERS=${4:-2}

[ "$(id -u)" -eq 0 ] || { echo "bench_xdp.sh needs root (CAP_BPF, CAP_NET_ADMIN, CAP_NET_RAW)" >&2; exit 1; }
for t in ip hping3 timeout python3 clang; do
    command -v "$t" >/dev/null || { echo "bench_xdp.sh: missing tool $t" >&2; exit 1; }
done

cargo build -q -p capture --example live_count
BIN=$PWD/target/debug/examples/live_count
NS=wbbench-$$
TMP=$(mktemp -d)
clang -O2 -g -target bpf -I/usr/include/x86_64-linux-gnu -c capture/bpf/xdp_pass.c -o "$TMP/xdp_pass.o"
cleanup() {
    ip netns del "$NS" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT
ip netns add "$NS"
ip -n "$NS" link set lo up
case "$MODE" in
    lo)
        SNS=$NS IFACE=lo TARGET=127.0.0.1 XDPATTACH=xdpgeneric BACKEND=xdp-skb ;;
    veth)
        SNS=$NS-s IFACE=wbbench0 TARGET=10.214.0.1 XDPATTACH=xdpdrv BACKEND=xdp-driver
        ip netns add "$SNS"
        trap 'ip netns del "$SNS" 2>/dev/null || true; cleanup' EXIT
        ip -n "$SNS" link set lo up
        ip -n "$SNS" link add "$IFACE" type veth peer name wbbench1 netns "$NS"
        ip -n "$SNS" addr add 10.214.0.1/30 dev "$IFACE"
        ip -n "$NS" addr add 10.214.0.2/30 dev wbbench1
        ip -n "$SNS" link set "$IFACE" up
        ip -n "$NS" link set wbbench1 up ;;
    *) echo "mode must be lo or veth" >&2; exit 2 ;;
esac

rx() { ip netns exec "$SNS" cat "/sys/class/net/$IFACE/statistics/rx_packets"; }

# flood OUTFILE: runs SENDERS bounded floods, appends "sent rx" to OUTFILE.
flood() {
    local before after sent=0 i n pids=()
    before=$(rx)
    for i in $(seq "$SENDERS"); do
        ip netns exec "$NS" timeout -s INT "$SECS" hping3 --flood -q -S -p 80 "$TARGET" \
            >"$TMP/hping.$i" 2>&1 &
        pids+=($!)
    done
    # hping3 exits non-zero when nothing answers; the count is what matters.
    for p in "${pids[@]}"; do wait "$p" || true; done
    after=$(rx)
    for i in $(seq "$SENDERS"); do
        n=$(grep -o '^[0-9]* packets transmitted' "$TMP/hping.$i" | awk '{print $1}')
        sent=$((sent + ${n:-0}))
    done
    echo "$sent $((after - before))" >>"$1"
}

# sensor BACKEND OUTFILE: flood with the reader attached; appends "sent rx json".
sensor() {
    local backend=$1 out=$2 pid
    ip netns exec "$SNS" "$BIN" "$IFACE" $((SECS + 2)) "$backend" >"$TMP/json" 2>"$TMP/err" &
    pid=$!
    for _ in $(seq 100); do
        grep -q '"ready":true' "$TMP/err" 2>/dev/null && break
        sleep 0.05
    done
    grep -q '"ready":true' "$TMP/err" || { cat "$TMP/err" >&2; exit 1; }
    flood "$TMP/flood.tmp"
    wait "$pid"
    echo "$(tail -1 "$TMP/flood.tmp") $(cat "$TMP/json")" >>"$out"
}

: >"$TMP/none"; : >"$TMP/xdp-pass"; : >"$TMP/xdp"; : >"$TMP/afpacket"
for r in $(seq "$ROUNDS"); do
    echo "round $r/$ROUNDS" >&2
    flood "$TMP/none"
    ip -n "$SNS" link set dev "$IFACE" "$XDPATTACH" obj "$TMP/xdp_pass.o" sec xdp
    flood "$TMP/xdp-pass"
    ip -n "$SNS" link set dev "$IFACE" "$XDPATTACH" off
    sensor "$BACKEND" "$TMP/xdp"
    sensor afpacket "$TMP/afpacket"
done

python3 - "$TMP" "$SECS" "$SENDERS" "$MODE" "$BACKEND" <<'EOF'
import json, statistics, sys
tmp, secs, senders, mode, backend = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
def rows(name):
    out = []
    for line in open(f"{tmp}/{name}"):
        parts = line.split(" ", 2)
        d = json.loads(parts[2]) if len(parts) > 2 else {}
        out.append((int(parts[0]), int(parts[1]), d))
    return out
base = rows("none")
base_pps = statistics.median(s / secs for s, _, _ in base)
where = "lo in a fresh netns" if mode == "lo" else "veth between two fresh netns"
print(f"sender: {senders} x hping3 --flood -S, {secs:g} s per run, {len(base)} rounds, {where}; sensor backend {backend}")
print(f"{'config':10} {'sent pps (median)':>18} {'vs none':>8} {'rx pps':>10} {'kernel pkts':>12} {'delivered':>10} {'lost':>6}")
print(f"{'none':10} {base_pps:18,.0f} {'':>8} {statistics.median(r / secs for _, r, _ in base):10,.0f}")
for name in ("xdp-pass", "xdp", "afpacket"):
    rs = rows(name)
    pps = statistics.median(s / secs for s, _, _ in rs)
    rx = statistics.median(r / secs for _, r, _ in rs)
    pk = sum(d.get("packets", 0) for _, _, d in rs)
    dl = sum(d.get("delivered", 0) for _, _, d in rs)
    lost = sum(d.get("lost_events", 0) for _, _, d in rs)
    print(f"{name:10} {pps:18,.0f} {100 * (pps / base_pps - 1):+7.1f}% {rx:10,.0f} {pk:12,} {dl:10,} {lost:6}")
print("per-run sent pps:", {n: [round(s / secs) for s, _, _ in rows(n)] for n in ("none", "xdp-pass", "xdp", "afpacket")})
EOF
