#!/usr/bin/env bash
# GBDT training: `workbench train --algo gbdt` (forust-ml) vs XGBoost (PyPI, `hist`) on
# the same rows: the same time-ordered train/validation/test split of simulated mixed
# traffic (~1M training rows), the same trees/depth/learning rate/min child weight/L2/
# bins/positive weight, no early stopping, 2 threads each (forust uses rayon's pool,
# which is the machine's 2 cores). Prints the median fit wall time of BENCH_RUNS runs
# (default 3) per trainer, their ratio, and the test PR-AUC of each.
#
# Rows come from the hidden `train --dump-rows` (CSV: split part, label, features), so
# XGBoost sees exactly the rows forust-ml saw. XGBoost lives in the benchmark venv
# (.venv-bench, git-ignored): `python3 -m venv .venv-bench && .venv-bench/bin/pip
# install xgboost pandas scikit-learn`.
#
#   scripts/bench_train.sh
#   BENCH_RUNS=1 BENCH_SECONDS=120 scripts/bench_train.sh   # quick
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${BENCH_RUNS:-3}
SECONDS_EACH=${BENCH_SECONDS:-300}  # 2 x 300 s: ~2 M rows, ~1.2 M of them training rows
OUT=${BENCH_OUT:-reports/bench-train}
PY=${BENCH_PYTHON:-.venv-bench/bin/python}
TREES=${BENCH_TREES:-200}
DEPTH=${BENCH_DEPTH:-6}
LR=${BENCH_LR:-0.1}
"$PY" -c "import xgboost, pandas, sklearn" 2>/dev/null \
  || { echo "bench_train: $PY lacks xgboost/pandas/scikit-learn (see the header)" >&2; exit 1; }
mkdir -p "$OUT/ds"
# Two mixed captures of the bench length; seeds fixed so every run sees the same rows.
cat >"$OUT/ds/bench-train.toml" <<TOML
description = "bench_train.sh: simulated mixed traffic"
obtain = "generated"
[[simulations]]
scenario = "mixed"
seconds = $SECONDS_EACH
seed = 1
[[simulations]]
scenario = "mixed"
seconds = $SECONDS_EACH
seed = 2
TOML
# BENCH_WB: an already built workbench binary (skips the build).
WB=${BENCH_WB:-target/debug/workbench}
[ -n "${BENCH_WB:-}" ] || cargo build -p workbench >&2
# Split by rows in time order (60/20/20): a split by time span leaves the later parts
# with a few hundred attack windows (a spoofed flood early on has one row per source),
# too few to compare PR-AUC to 0.005.
common=(train --dataset bench-train --split-by "${BENCH_SPLIT_BY:-rows}" --algo gbdt --trees "$TREES" --depth "$DEPTH"
        --learning-rate "$LR" --min-child-weight 1 --l2 1 --early-stopping 0
        --positive-weight sqrt --seed 0)
for i in $(seq 1 "$RUNS"); do
  dump=()
  [ "$i" = 1 ] && dump=(--dump-rows "$OUT/rows.csv")
  echo "bench_train: forust-ml run $i" >&2
  WORKBENCH_DATASETS="$OUT/ds" "$WB" --json "${common[@]}" "${dump[@]}" \
    --out "$OUT/forust-$i.wbm.json" --report "$OUT/report-$i" >"$OUT/forust-$i.json"
done

"$PY" - "$OUT" "$RUNS" "$TREES" "$DEPTH" "$LR" <<'PYEOF'
import json, sys, time, statistics, pathlib
import numpy as np, pandas as pd, xgboost as xgb
from sklearn.metrics import average_precision_score
out, runs = pathlib.Path(sys.argv[1]), int(sys.argv[2])
trees, depth, lr = int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
df = pd.read_csv(out / "rows.csv")
feats = list(df.columns[6:])
tr, te = df[df.part == "train"], df[df.part == "test"]
neg, pos = int((tr.label == 0).sum()), int((tr.label == 1).sum())
w_pos = (neg / pos) ** 0.5  # the workbench's `sqrt` positive weight
X = np.ascontiguousarray(tr[feats].to_numpy(np.float32))
y = tr.label.to_numpy()
w = np.where(y == 1, w_pos, 1.0)
params = dict(objective="binary:logistic", tree_method="hist", max_depth=depth, eta=lr,
              min_child_weight=1.0, reg_lambda=1.0, gamma=0.0, max_bin=256, nthread=2,
              seed=0)
times, aps = [], []
for r in range(runs):
    t = time.perf_counter()
    d = xgb.DMatrix(X, label=y, weight=w, nthread=2)  # binning counts as training time
    b = xgb.train(params, d, trees)
    times.append(time.perf_counter() - t)
    p = b.predict(xgb.DMatrix(te[feats].to_numpy(np.float32), nthread=2))
    aps.append(average_precision_score(te.label, p))
fj = [json.loads((out / f"forust-{i}.json").read_text()) for i in range(1, runs + 1)]
ft = [j["timings"]["fit_s"] for j in fj]
fap = fj[0]["test"]["pr_auc"]
res = dict(train_rows=len(tr), train_positives=pos, test_rows=len(te),
           test_positives=int(te.label.sum()), features=len(feats), trees=trees,
           depth=depth, learning_rate=lr, forust_fit_s=ft, xgboost_fit_s=times,
           forust_median_s=statistics.median(ft), xgboost_median_s=statistics.median(times),
           ratio=statistics.median(ft) / statistics.median(times),
           forust_test_pr_auc=fap, xgboost_test_pr_auc=aps[0],
           pr_auc_diff=abs(fap - aps[0]), xgboost_version=xgb.__version__)
(out / "result.json").write_text(json.dumps(res, indent=2))
print(json.dumps(res, indent=2))
PYEOF
