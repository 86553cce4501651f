#!/usr/bin/env bash
# `make run`: a local cluster in the foreground, state under $CLUSTER_DIR.
# Today the cluster is the store: STORES members (1 by default; 3 or 5 for a replicated
# store). Member i listens on 127.0.0.1 ports 2379+10i (client), 2380+10i (peer) and
# 2381+10i (metrics). Ctrl-C / SIGTERM stops every member cleanly; running again reuses
# the data.
set -euo pipefail
CLUSTER_DIR=${CLUSTER_DIR:-$PWD/.cluster}
STORES=${STORES:-1}
BIN=${STORE_BIN:-$PWD/target/release/store}
mkdir -p "$CLUSTER_DIR/logs"

initial_cluster=""
for ((i = 0; i < STORES; i++)); do
  initial_cluster+="${initial_cluster:+,}store-$i=http://127.0.0.1:$((2380 + 10 * i))"
done

pids=()
stop() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop INT TERM

endpoints=""
for ((i = 0; i < STORES; i++)); do
  client=$((2379 + 10 * i)) peer=$((2380 + 10 * i)) metrics=$((2381 + 10 * i))
  endpoints+="${endpoints:+,}127.0.0.1:$client"
  "$BIN" --name "store-$i" --data-dir "$CLUSTER_DIR/store-$i" \
    --listen-client-urls "http://127.0.0.1:$client" --advertise-client-urls "http://127.0.0.1:$client" \
    --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
    --initial-cluster "$initial_cluster" \
    --listen-metrics-urls "http://127.0.0.1:$metrics" 2>>"$CLUSTER_DIR/logs/store-$i.log" &
  pids+=($!)
done

for ((i = 0; i < STORES; i++)); do
  metrics=$((2381 + 10 * i))
  for _ in $(seq 1 300); do
    curl -fsS "http://127.0.0.1:$metrics/health" >/dev/null 2>&1 && break
    kill -0 "${pids[$i]}" 2>/dev/null || { echo "store-$i exited during start-up; see $CLUSTER_DIR/logs/store-$i.log" >&2; stop; exit 1; }
    sleep 0.1
  done
done
echo "cluster ready: $STORES store member(s) (etcdctl --endpoints=$endpoints), state in $CLUSTER_DIR, logs in $CLUSTER_DIR/logs"
wait
