#!/usr/bin/env bash
# Speed and memory of `workbench features` against the tools people use today, on one
# large flood-heavy capture made by the simulator, all timed in the same run on the
# same page-cached file. Prints wall time, packets/s, peak RSS and each tool's ratio to
# workbench. Record the output in docs/BENCHMARKS.md.
#
#   scripts/bench_features.sh                 # ~3.1M packets, all peers
#   BENCH_SECONDS=10 BENCH_PEERS="capinfos tcpdump" scripts/bench_features.sh
#
# nfstream is installed from PyPI into .venv-bench. Its flow table grows with every
# spoofed source (16 GB for 3M packets in docs/BENCHMARKS.md), so it runs under an
# address-space cap (BENCH_NFSTREAM_MAX_GB, default 14) and is reported as failed when
# it hits it, instead of taking the machine down.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_OF_TRAFFIC=${BENCH_SECONDS:-25}
INTENSITY=${BENCH_INTENSITY:-10}
PEERS=${BENCH_PEERS:-"capinfos tshark tcpdump nfstream"}
WORK=${BENCH_DIR:-target/bench}
mkdir -p "$WORK"

for tool in /usr/bin/time capinfos tshark tcpdump; do
    command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install time tshark tcpdump" >&2; exit 2; }
done

echo "== building workbench (the one dev profile: optimised dependencies)"
cargo build -q -p workbench
WB=target/debug/workbench

PCAP="$WORK/flood/capture.pcap"
if [ ! -f "$PCAP" ] || [ "${BENCH_REGENERATE:-0}" = 1 ]; then
    echo "== generating the capture: synflood-spoofed, intensity $INTENSITY, $SECONDS_OF_TRAFFIC s"
    "$WB" simulate --scenario synflood-spoofed --intensity "$INTENSITY" \
        --seconds "$SECONDS_OF_TRAFFIC" --seed 1 --out "$WORK/flood" -q
fi
PACKETS=$(capinfos -c -M -T -r "$PCAP" | cut -f2)
SIZE=$(stat -c %s "$PCAP")
echo "capture: $PCAP, $PACKETS packets, $((SIZE / 1000000)) MB"
cat "$PCAP" > /dev/null  # page cache

if [[ " $PEERS " == *" nfstream "* ]] && [ ! -x .venv-bench/bin/python ]; then
    echo "== installing nfstream into .venv-bench"
    python3 -m venv .venv-bench
    .venv-bench/bin/pip install -q --disable-pip-version-check nfstream
fi

RESULTS="$WORK/results.tsv"
: > "$RESULTS"
measure() { # name, command...
    local name=$1; shift
    local log="$WORK/$name.time"
    /usr/bin/time -f "%e %M" -o "$log" "$@" > "$WORK/$name.out" 2> "$WORK/$name.err" || {
        echo "$name failed after $(head -c 40 "$log" | tr '\n' ' '); see $WORK/$name.err" >&2
        printf '%s\tfailed\t0\n' "$name" >> "$RESULTS"; return 0; }
    read -r wall rss_kb < "$log"
    printf '%s\t%s\t%s\n' "$name" "$wall" "$rss_kb" >> "$RESULTS"
}

measure workbench "$WB" features "$PCAP" --out "$WORK/features.parquet" -q
for peer in $PEERS; do
    case $peer in
        capinfos) measure capinfos capinfos "$PCAP" ;;
        tshark) measure tshark tshark -n -q -z io,stat,1 -r "$PCAP" ;;
        tcpdump) measure tcpdump tcpdump -nn -q -r "$PCAP" ;;
        nfstream) measure nfstream prlimit --as=$(( ${BENCH_NFSTREAM_MAX_GB:-14} * 1024 * 1024 * 1024 )) \
            .venv-bench/bin/python -c \
            "import sys; from nfstream import NFStreamer; print(sum(1 for _ in NFStreamer(source=sys.argv[1], n_dissections=0)))" "$PCAP" ;;
        *) echo "unknown peer $peer" >&2 ;;
    esac
done

wb_wall=$(awk -F'\t' '$1=="workbench"{print $2}' "$RESULTS")
echo
printf '%-10s %9s %12s %10s %14s\n' tool wall_s Mpkt_per_s peak_MB wall_vs_wb
while IFS=$'\t' read -r name wall rss; do
    if [ "$wall" = failed ]; then printf '%-10s %9s\n' "$name" "failed (see $WORK/$name.err)"; continue; fi
    awk -v n="$name" -v w="$wall" -v r="$rss" -v p="$PACKETS" -v b="$wb_wall" 'BEGIN {
        printf "%-10s %9.2f %12.3f %10.0f %13.2fx\n", n, w, p / (w > 0 ? w : 1e-9) / 1e6, r / 1024, w / b }'
done < "$RESULTS"
echo
echo "rows written by workbench: $(grep -o 'wrote [0-9]* rows' "$WORK/workbench.out" || true)"
