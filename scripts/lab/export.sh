#!/usr/bin/env bash
# Turns lab runs (scripts/lab/lab.py output directories) into the feature tables the
# repository keeps: datasets/lab/NAME.parquet (`workbench features` of the capture, with
# the default window), NAME.labels.csv and NAME.lab.json, and prints the manifest
# entries with their sha256. The captures themselves (100-200 MB each) stay outside.
#
#   scripts/lab/export.sh RUN_DIR NAME [RUN_DIR NAME ...]
#   WORKBENCH=target/debug/workbench scripts/lab/export.sh /work/lab/s1 lab-s1
set -euo pipefail
cd "$(dirname "$0")/../.."
WB=${WORKBENCH:-target/debug/workbench}
OUT=datasets/lab
mkdir -p "$OUT"
while [ $# -ge 2 ]; do
    run=$1 name=$2
    shift 2
    [ -f "$run/capture.pcap" ] && [ -f "$run/labels.csv" ] || {
        echo "export: $run has no capture.pcap and labels.csv" >&2; exit 2; }
    "$WB" features -q "$run/capture.pcap" --out "$OUT/$name.parquet"
    cp "$run/labels.csv" "$OUT/$name.labels.csv"
    cp "$run/lab.json" "$OUT/$name.lab.json"
    echo "[[tables]]"
    echo "path = \"$name.parquet\""
    echo "sha256 = \"$(sha256sum "$OUT/$name.parquet" | cut -d' ' -f1)\""
    echo
    echo "[[labels]]"
    echo "format = \"episodes-csv\""
    echo "path = \"$name.labels.csv\""
    echo "sha256 = \"$(sha256sum "$OUT/$name.labels.csv" | cut -d' ' -f1)\""
    echo
done
