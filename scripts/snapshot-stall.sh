#!/usr/bin/env bash
# How much a leader's writes stall while it makes and sends a snapshot: a one-member
# store is filled with KEYS keys of 2 KiB (default 100,000: a ~211 MB snapshot), a
# learner is added, and one client puts sequentially to the leader while the learner
# catches up from a snapshot. Prints the put latencies (p50/p99/max), both members' peak
# RSS, and the leader's and learner's snapshot log lines (when it was made, sent and
# installed).
# Needs release builds: cargo build --release -p store -p e2e.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
store="$target/release/store" load="$target/release/etcd-load"
D=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; rm -rf "$D"' EXIT
member() { # name client-port peer-port initial-cluster state
  "$store" --name "$1" --data-dir "$D/$1" --snapshot-count 1000 \
    --listen-client-urls "http://127.0.0.1:$2" --advertise-client-urls "http://127.0.0.1:$2" \
    --listen-peer-urls "http://127.0.0.1:$3" --initial-advertise-peer-urls "http://127.0.0.1:$3" \
    --listen-metrics-urls "http://127.0.0.1:$(($3 + 1))" --initial-cluster "$4" --initial-cluster-state "$5" \
    > "$D/$1.log" 2>&1 &
  pids+=($!)
}
member a 12379 12380 a=http://127.0.0.1:12380 new
sleep 1
"$load" --endpoints http://127.0.0.1:12379 --val-size 2048 put-throughput --total "${KEYS:-100000}" --warmup 0 >/dev/null
etcdctl --endpoints 127.0.0.1:12379 member add b --learner --peer-urls http://127.0.0.1:12390 >/dev/null
"$load" --endpoints http://127.0.0.1:12379 put-latency --total 3000 --warmup 0 > "$D/latency.json" &
load_pid=$!
sleep 0.3
member b 12389 12390 a=http://127.0.0.1:12380,b=http://127.0.0.1:12390 existing
wait "$load_pid"
sleep 10
cat "$D/latency.json"
for i in 0 1; do
  echo "$( [ $i = 0 ] && echo leader || echo learner ) peak RSS: $(awk '/VmHWM/{print $2, $3}' "/proc/${pids[$i]}/status")"
done
grep -h "snapshot" "$D/a.log" "$D/b.log" | grep -v " raft: "
