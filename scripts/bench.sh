#!/usr/bin/env bash
# `make bench`: builds the store and the load generator in release mode, then runs every
# workload against a fresh real etcd and a fresh store, one after the other, and writes
# the comparison into docs/benchmarks.md. Extra arguments go to the `bench` driver
# (see `bench --help`); sizes can also be set with BENCH_* environment variables.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
cargo build --release -p store -p e2e
exec "$target/release/bench" \
  --store-bin "$target/release/store" \
  --load-bin "$target/release/etcd-load" \
  --out docs/benchmarks.md "$@"
