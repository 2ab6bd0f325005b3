# Common tasks. `just --list` shows them all.

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

# Fuzz the capture reader and decoder (needs cargo-fuzz; runs on stable via RUSTC_BOOTSTRAP).
fuzz SECONDS="120":
    cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run -s none capture_file -- -max_total_time={{SECONDS}} -max_len=65536
    cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run -s none decode_frame -- -max_total_time={{SECONDS}}

fmt:
    cargo fmt --all

lint:
    cargo clippy --workspace --all-targets -- -D warnings
