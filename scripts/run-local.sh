#!/usr/bin/env bash
# `make run`: a local cluster in the foreground, state under $CLUSTER_DIR.
# Today the cluster is the store (STORES members; 1 by default). Ctrl-C stops it cleanly;
# running again reuses the data.
set -euo pipefail
CLUSTER_DIR=${CLUSTER_DIR:-$PWD/.cluster}
STORES=${STORES:-1}
BIN=${STORE_BIN:-$PWD/target/release/store}
if [ "$STORES" != 1 ]; then
  echo "STORES=$STORES: replication is not built yet; only STORES=1 is supported" >&2
  exit 2
fi
mkdir -p "$CLUSTER_DIR/logs"
client=2379 peer=2380 metrics=2381
"$BIN" --name store-0 --data-dir "$CLUSTER_DIR/store-0" \
  --listen-client-urls "http://127.0.0.1:$client" --advertise-client-urls "http://127.0.0.1:$client" \
  --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
  --initial-cluster "store-0=http://127.0.0.1:$peer" \
  --listen-metrics-urls "http://127.0.0.1:$metrics" 2> >(tee -a "$CLUSTER_DIR/logs/store-0.log" >&2) &
pid=$!
stop() { kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
trap stop INT TERM
for _ in $(seq 1 100); do
  if curl -fsS "http://127.0.0.1:$metrics/health" >/dev/null 2>&1; then
    echo "cluster ready: store at http://127.0.0.1:$client (etcdctl --endpoints=127.0.0.1:$client), state in $CLUSTER_DIR"
    break
  fi
  kill -0 "$pid" 2>/dev/null || { echo "store exited during start-up; see $CLUSTER_DIR/logs/store-0.log" >&2; exit 1; }
  sleep 0.1
done
wait "$pid"
