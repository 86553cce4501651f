#!/usr/bin/env bash
# `make bench`: builds the store and the load generator in release mode, then runs every
# workload against a fresh real etcd and a fresh store, one after the other, as single
# members and as 3-member clusters, measures each one's failover (SIGKILL of the leader),
# and writes the comparison into docs/benchmarks.md. Extra arguments go to the `bench`
# driver (see `bench --help`); everything can also be set with BENCH_* environment
# variables, e.g. BENCH_MEMBERS=1|3|both, BENCH_ONLY=put-latency,failover,
# BENCH_ROUNDS=1, BENCH_FAILOVER_ROUNDS=3. About 4 minutes after the build; then the
# apiserver benchmark (api-bench: creates, gets, pods and LIST, watchers), about 1 minute.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
cargo build --release -p store -p apiserver -p e2e
"$target/release/bench" \
  --store-bin "$target/release/store" \
  --load-bin "$target/release/etcd-load" \
  --out docs/benchmarks.md "$@"
# The apiserver on the store (API_BENCH_* variables size it; API_BENCH_SKIP=1 skips it).
if [ -z "${API_BENCH_SKIP:-}" ]; then
  "$target/release/api-bench" \
    --store-bin "$target/release/store" \
    --apiserver-bin "$target/release/apiserver" \
    --out docs/benchmarks.md
fi
