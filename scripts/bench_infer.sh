#!/usr/bin/env bash
# Inference speed on 100k feature rows: native TreeEnsemble, tract (TreeEnsemble and
# plain-operator ONNX forms), ort (onnxruntime through `--features ort`) and
# onnxruntime-python (1 thread), all on the same 100-tree depth-6 model and rows.
#
# The measurement is the ignored test `throughput_on_100k_rows` in
# workbench/tests/onnx.rs; this script runs it BENCH_RUNS times (default 3) with and
# without the ort feature and prints the median rows/s per engine as a Markdown table
# (docs/BENCHMARKS.md). The machine is shared: read the spread, not one number.
#
#   scripts/bench_infer.sh            # 3 runs each
#   BENCH_RUNS=5 scripts/bench_infer.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${BENCH_RUNS:-3}
OUT=${BENCH_OUT:-reports/bench-infer}
mkdir -p "$OUT"
PY=.venv/bin/python
[ -x "$PY" ] || { echo "bench_infer: $PY missing (run scripts/test.sh once to create the test venv)" >&2; exit 1; }
ORT_LIB=$(ls "$PWD"/.venv/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so.* 2>/dev/null | head -1)
[ -n "$ORT_LIB" ] || { echo "bench_infer: no libonnxruntime.so in the test venv" >&2; exit 1; }
export ORT_DYLIB_PATH="$ORT_LIB"

for feat in default ort; do
  args=(-p workbench --test onnx)
  [ "$feat" = ort ] && args+=(--features ort)
  for i in $(seq 1 "$RUNS"); do
    log="$OUT/$feat-$i.log"
    # Resume: a finished run is kept (delete $OUT to measure afresh).
    grep -q "test result: ok" "$log" 2>/dev/null && continue
    echo "bench_infer: $feat run $i -> $log" >&2
    cargo test "${args[@]}" -- --ignored --exact throughput_on_100k_rows --nocapture >"$log" 2>&1 \
      || { echo "bench_infer: run failed, see $log" >&2; exit 1; }
  done
done

"$PY" - "$OUT" "$RUNS" <<'PYEOF'
import re, sys, statistics, pathlib
out, runs = pathlib.Path(sys.argv[1]), int(sys.argv[2])
pat = {
    "native": r"^native: (\d+) rows/s",
    "tract tree_ensemble": r"^tract tree_ensemble: batch of \d+: (\d+) rows/s",
    "tract plain": r"^tract plain: batch of \d+: (\d+) rows/s",
    "ort tree_ensemble": r"^ort tree_ensemble: batch of \d+: (\d+) rows/s",
    "ort plain": r"^ort plain: batch of \d+: (\d+) rows/s",
    "onnxruntime-python tree_ensemble": r"^onnxruntime-python \(1 thread\) tree_ensemble: batch of \d+: (\d+) rows/s",
    "onnxruntime-python plain": r"^onnxruntime-python \(1 thread\) plain: batch of \d+: (\d+) rows/s",
}
vals = {k: [] for k in pat}
for f in sorted(out.glob("*.log")):
    text = f.read_text()
    for k, p in pat.items():
        # ort lines only come from the ort runs; the others from every run (take the
        # default-feature runs for them so each engine has exactly RUNS samples).
        if not k.startswith("ort") and f.name.startswith("ort-"):
            continue
        vals[k] += [int(m) for m in re.findall(p, text, re.M)]
print("| engine | form | rows/s (median of %d) | min | max |" % runs)
print("|---|---|---|---|---|")
for k, v in vals.items():
    if not v:
        print(f"| {k} | | missing | | |")
        continue
    eng, _, form = k.rpartition(" ") if k != "native" else ("native", "", "TreeEnsemble (Rust)")
    print(f"| {eng} | {form} | {statistics.median(v):,.0f} | {min(v):,} | {max(v):,} |")
PYEOF
