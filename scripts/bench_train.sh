#!/usr/bin/env bash
# GBDT training: `workbench train --algo gbdt` (our histogram trainer,
# workbench/src/model/hist_gbdt.rs) vs XGBoost (PyPI, `hist`) on the same rows: the same
# time-ordered train/validation/test split of simulated traffic (>1M training rows),
# the same trees/depth/learning rate/min child weight/L2/bins/positive weight, no early
# stopping, 2 threads each (the workbench uses rayon's pool: the machine's 2 cores).
# Prints the median fit wall time of BENCH_RUNS runs (default 3) per trainer, their
# ratio, and the test PR-AUC (average precision) of each: over all test rows, and
# without the DDoS windows (which are most of the positives and easy).
#
# Rows come from the hidden `train --dump-rows` (CSV: split part, label, features), so
# XGBoost sees exactly the rows the workbench saw. Both trainers' test scores are
# computed here from the test rows of that CSV with the same scikit-learn function
# (the workbench's model file is scored by a direct walk of its trees, and checked
# against the workbench's own report). XGBoost lives in the benchmark venv
# (.venv-bench, git-ignored): `python3 -m venv .venv-bench && .venv-bench/bin/pip
# install xgboost pandas scikit-learn`.
#
#   scripts/bench_train.sh
#   BENCH_RUNS=1 BENCH_SECONDS=120 scripts/bench_train.sh        # quick
#   WORKBENCH_GBDT_TRAINER=forust scripts/bench_train.sh         # the old forust-ml trainer
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${BENCH_RUNS:-3}
SECONDS_EACH=${BENCH_SECONDS:-300}  # 8 x 300 s: ~2.3 M rows, ~1.4 M of them training rows
OUT=${BENCH_OUT:-reports/bench-train}
PY=${BENCH_PYTHON:-.venv-bench/bin/python}
TREES=${BENCH_TREES:-200}
DEPTH=${BENCH_DEPTH:-6}
LR=${BENCH_LR:-0.1}
"$PY" -c "import xgboost, pandas, sklearn" 2>/dev/null \
  || { echo "bench_train: $PY lacks xgboost/pandas/scikit-learn (see the header)" >&2; exit 1; }
mkdir -p "$OUT/ds"
rm -f "$OUT"/forust-*.json "$OUT"/forust-*.wbm.json  # results of the old forust-ml bench
# All captures start at the same instant, so a split by rows in time order takes the
# last ~20% of every capture as the test part: two mixed captures (the old bench) left
# only 80 attack windows there, too few to compare PR-AUC to 0.005. The attack
# scenarios below run for the whole capture, so every part has thousands of attack
# windows (mostly DDoS bots; a few hundred brute-force and scan windows).
{
  echo 'description = "bench_train.sh: simulated mixed traffic plus attack scenarios"'
  echo 'obtain = "generated"'
  seed=1
  for scenario in mixed mixed ddos bruteforce slow-scan portscan connect-scan bruteforce; do
    printf '[[simulations]]\nscenario = "%s"\nseconds = %s\nseed = %s\n' \
      "$scenario" "$SECONDS_EACH" "$seed"
    seed=$((seed + 1))
  done
} >"$OUT/ds/bench-train.toml"
# BENCH_WB: an already built workbench binary (skips the build).
WB=${BENCH_WB:-target/debug/workbench}
[ -n "${BENCH_WB:-}" ] || cargo build -p workbench >&2
common=(train --dataset bench-train --split-by "${BENCH_SPLIT_BY:-rows}" --algo gbdt --trees "$TREES" --depth "$DEPTH"
        --learning-rate "$LR" --min-child-weight 1 --l2 1 --early-stopping 0
        --positive-weight sqrt --seed 0)
for i in $(seq 1 "$RUNS"); do
  dump=()
  [ "$i" = 1 ] && dump=(--dump-rows "$OUT/rows.csv")
  echo "bench_train: workbench run $i ($(uptime))" >&2
  RAYON_NUM_THREADS=2 WORKBENCH_DATASETS="$OUT/ds" "$WB" --json "${common[@]}" "${dump[@]}" \
    --out "$OUT/wb-$i.wbm.json" --report "$OUT/report-$i" >"$OUT/wb-$i.json"
done

echo "bench_train: XGBoost ($(uptime))" >&2
"$PY" - "$OUT" "$RUNS" "$TREES" "$DEPTH" "$LR" <<'PYEOF'
import json, sys, time, statistics, pathlib, os
import numpy as np, pandas as pd, xgboost as xgb
from sklearn.metrics import average_precision_score
out, runs = pathlib.Path(sys.argv[1]), int(sys.argv[2])
trees, depth, lr = int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
df = pd.read_csv(out / "rows.csv", low_memory=False)
feats = list(df.columns[6:])
tr, te = df[df.part == "train"], df[df.part == "test"]
neg, pos = int((tr.label == 0).sum()), int((tr.label == 1).sum())
w_pos = (neg / pos) ** 0.5  # the workbench's `sqrt` positive weight
X = np.ascontiguousarray(tr[feats].to_numpy(np.float32))
y = tr.label.to_numpy()
w = np.where(y == 1, w_pos, 1.0)
Xte = np.ascontiguousarray(te[feats].to_numpy(np.float32))
yte = te.label.to_numpy()
no_ddos = (te.attack_type.fillna("") != "ddos").to_numpy()
params = dict(objective="binary:logistic", tree_method="hist", max_depth=depth, eta=lr,
              min_child_weight=1.0, reg_lambda=1.0, gamma=0.0, max_bin=256, nthread=2,
              seed=0)

def aps(score):
    return (average_precision_score(yte, score),
            average_precision_score(yte[no_ddos], score[no_ddos]))

times, xaps = [], None
for r in range(runs):
    t = time.perf_counter()
    d = xgb.DMatrix(X, label=y, weight=w, nthread=2)  # binning counts as training time
    b = xgb.train(params, d, trees)
    times.append(time.perf_counter() - t)
    if xaps is None:
        xaps = aps(b.predict(xgb.DMatrix(Xte, nthread=2), output_margin=True))

def wb_margin(path):
    # TreeEnsemble semantics: left when f64(value) < threshold, NaN follows missing_left.
    e = json.loads(path.read_text())["ensemble"]
    n = len(Xte)
    m = np.full(n, e["base_score"], dtype=np.float64)
    rows = np.arange(n)
    for t in e["trees"]:
        nd = t["nodes"]
        feat = np.array([x["feature"] for x in nd]); thr = np.array([x["threshold"] for x in nd])
        left = np.array([x["left"] for x in nd]); right = np.array([x["right"] for x in nd])
        ml = np.array([x["missing_left"] for x in nd]); leaf = np.array([x["leaf"] for x in nd])
        val = np.array([x["leaf_value"] for x in nd])
        idx = np.zeros(n, dtype=np.int64)
        for _ in range(len(nd)):
            inner = ~leaf[idx]
            if not inner.any():
                break
            v = Xte[rows, feat[idx]].astype(np.float64)
            go = np.where(np.isnan(v), ml[idx], v < thr[idx])
            idx = np.where(inner, np.where(go, left[idx], right[idx]), idx)
        m += val[idx]
    return m

wj = [json.loads((out / f"wb-{i}.json").read_text()) for i in range(1, runs + 1)]
wt = [j["timings"]["fit_s"] for j in wj]
waps = aps(wb_margin(out / "wb-1.wbm.json"))
res = dict(date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
           trainer=os.environ.get("WORKBENCH_GBDT_TRAINER", "hist"),
           train_rows=len(tr), train_positives=pos, validation_rows=int((df.part == "validation").sum()),
           test_rows=len(te), test_positives=int(yte.sum()),
           test_positives_without_ddos=int(yte[no_ddos].sum()), features=len(feats),
           trees=trees, depth=depth, learning_rate=lr,
           workbench_fit_s=wt, xgboost_fit_s=times,
           workbench_median_s=statistics.median(wt), xgboost_median_s=statistics.median(times),
           ratio=statistics.median(wt) / statistics.median(times),
           workbench_test_pr_auc=waps[0], xgboost_test_pr_auc=xaps[0],
           pr_auc_diff=abs(waps[0] - xaps[0]),
           workbench_test_pr_auc_without_ddos=waps[1], xgboost_test_pr_auc_without_ddos=xaps[1],
           pr_auc_diff_without_ddos=abs(waps[1] - xaps[1]),
           workbench_report_pr_auc=wj[0]["test"]["pr_auc"],
           workbench_models_identical=len({(out / f"wb-{i}.wbm.json").read_bytes() for i in range(1, runs + 1)}) == 1,
           xgboost_version=xgb.__version__)
(out / "result.json").write_text(json.dumps(res, indent=2))
print(json.dumps(res, indent=2))
PYEOF
