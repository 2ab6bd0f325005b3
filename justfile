# Common tasks. `just --list` shows them all.

# Hyperparameters of the shipped default model (`just train-default`).
DEFAULT_PARAMS := "--trees 200 --depth 4 --min-child-weight 10 --learning-rate 0.1 --subsample 0.8 --colsample 0.5 --early-stopping 20 --positive-weight sqrt --split-by capture --bag 3"

# Evaluate the rules baseline on the embedded synthetic dataset (the README's first command).
eval DATASET="synthetic" MODEL="rules":
    cargo run -- eval --dataset {{DATASET}} --model {{MODEL}}

# Simulate a mixed scenario and write its feature table.
quickstart:
    cargo run -- features --simulate mixed --seconds 120 --out reports/quickstart/features.csv

# Every test, installing what the tests need (the README's second command).
test *ARGS:
    scripts/test.sh {{ARGS}}

# Feature table for captures: just features ../shared/datasets/public out.parquet
features INPUT OUT:
    cargo run -- features {{INPUT}} --out {{OUT}}

# Labelled synthetic capture: just simulate portscan 30 data/portscan
simulate SCENARIO SECONDS OUT:
    cargo run -- simulate --scenario {{SCENARIO}} --seconds {{SECONDS}} --out {{OUT}}

# Train a GBDT and export it as ONNX: just train synthetic models/scratch
train DATASET OUT:
    cargo run -- train --dataset {{DATASET}} --algo gbdt --out {{OUT}}.wbm.json --export onnx

# Speed and memory against capinfos, tshark, tcpdump and nfstream (docs/BENCHMARKS.md).
bench:
    scripts/bench_features.sh

# GBDT training time and PR-AUC against XGBoost `hist` on the same rows (needs .venv-bench).
bench-train:
    scripts/bench_train.sh

# Inference rows/s: native, tract, ort and onnxruntime-python on 100k rows.
bench-infer:
    scripts/bench_infer.sh

# The shipped default model (models/default.*, embedded in the binary): fixed seeds and
# data, so every run writes the same bytes. Rebuild afterwards to embed the new model.
train-default:
    WORKBENCH_DATASETS=models cargo run -- train --dataset default-train --test-dataset public-samples --algo gbdt {{DEFAULT_PARAMS}} --seed 0 --out models/default.wbm.json --export onnx --onnx-form both --report models/default-report
    sha256sum models/default.wbm.json models/default.onnx models/default.plain.onnx

# Issue 4's in-distribution quality check: the default model's recipe on a time-ordered
# 60/20/20 split of its own training data, cut per capture (--split-by capture), so the
# test part holds the last 20% of every simulation and lab run.
bench-time-split:
    WORKBENCH_DATASETS=models cargo run -- train --dataset default-train --algo gbdt {{DEFAULT_PARAMS}} --seed 0 --out reports/time-split/model.wbm.json --report reports/time-split

# Fuzz the capture reader and decoder (needs cargo-fuzz; runs on stable via RUSTC_BOOTSTRAP).
fuzz SECONDS="120":
    cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run -s none capture_file -- -max_total_time={{SECONDS}} -max_len=65536
    cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run -s none decode_frame -- -max_total_time={{SECONDS}}

fmt:
    cargo fmt --all

lint:
    cargo clippy --workspace --all-targets -- -D warnings
