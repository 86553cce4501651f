#!/usr/bin/env bash
# `make run`: a local cluster in the foreground, state under $CLUSTER_DIR.
# Today the cluster is the store and the apiserver: STORES members (1 by default; 3 or 5
# for a replicated store), member i on 127.0.0.1 ports 2379+10i (client), 2380+10i (peer)
# and 2381+10i (metrics); APISERVERS apiservers (1 by default), apiserver i on
# https://127.0.0.1:6443+i. The cluster PKI is created on first start under
# $CLUSTER_DIR/pki (CA, serving certificate, admin client certificate CN=kubernetes-admin
# O=system:masters, service-account key pair) and reused afterwards; the apiservers
# authenticate client certificates and service-account tokens and authorize with
# Node,RBAC. When every one is ready it writes $CLUSTER_DIR/admin.kubeconfig (the CA
# and the admin certificate embedded) and prints `cluster ready`. Ctrl-C / SIGTERM
# stops every process cleanly; running again reuses the data.
set -euo pipefail
CLUSTER_DIR=${CLUSTER_DIR:-$PWD/.cluster}
STORES=${STORES:-1}
APISERVERS=${APISERVERS:-1}
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
BIN=${STORE_BIN:-$TARGET/release/store}
APISERVER_BIN=${APISERVER_BIN:-$TARGET/release/apiserver}
PKI_BIN=${PKI_BIN:-$TARGET/release/cluster-pki}
SERVICE_CIDR=${SERVICE_CIDR:-10.0.0.0/24}
PKI="$CLUSTER_DIR/pki"
mkdir -p "$CLUSTER_DIR/logs"
"$PKI_BIN" --dir "$PKI" --service-cluster-ip-range "$SERVICE_CIDR" --advertise-address 127.0.0.1

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

endpoints="" etcd_servers=""
for ((i = 0; i < STORES; i++)); do
  client=$((2379 + 10 * i)) peer=$((2380 + 10 * i)) metrics=$((2381 + 10 * i))
  endpoints+="${endpoints:+,}127.0.0.1:$client"
  etcd_servers+="${etcd_servers:+,}http://127.0.0.1:$client"
  "$BIN" --name "store-$i" --data-dir "$CLUSTER_DIR/store-$i" \
    --listen-client-urls "http://127.0.0.1:$client" --advertise-client-urls "http://127.0.0.1:$client" \
    --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
    --initial-cluster "$initial_cluster" \
    --listen-metrics-urls "http://127.0.0.1:$metrics" 2>>"$CLUSTER_DIR/logs/store-$i.log" &
  pids+=($!)
done

# wait_up NAME PID URL: until URL answers (30 s), or fail if the process exits.
wait_up() {
  for _ in $(seq 1 300); do
    curl -fsSk "$3" >/dev/null 2>&1 && return 0
    kill -0 "$2" 2>/dev/null || { echo "$1 exited during start-up; see $CLUSTER_DIR/logs/$1.log" >&2; stop; exit 1; }
    sleep 0.1
  done
  echo "$1 not ready after 30 s; see $CLUSTER_DIR/logs/$1.log" >&2
  stop
  exit 1
}

for ((i = 0; i < STORES; i++)); do
  wait_up "store-$i" "${pids[$i]}" "http://127.0.0.1:$((2381 + 10 * i))/health"
done
api_pids=()
for ((i = 0; i < APISERVERS; i++)); do
  "$APISERVER_BIN" --etcd-servers "$etcd_servers" --bind-address 127.0.0.1 --secure-port $((6443 + i)) \
    --advertise-address 127.0.0.1 --service-cluster-ip-range "$SERVICE_CIDR" \
    --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
    --client-ca-file "$PKI/ca.crt" --authorization-mode Node,RBAC \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
    2>>"$CLUSTER_DIR/logs/apiserver-$i.log" &
  pids+=($!) api_pids+=($!)
done
for ((i = 0; i < APISERVERS; i++)); do
  wait_up "apiserver-$i" "${api_pids[$i]}" "https://127.0.0.1:$((6443 + i))/readyz"
done

# The admin kubeconfig: the cluster CA and the admin client certificate, embedded.
"$PKI_BIN" --dir "$PKI" --service-cluster-ip-range "$SERVICE_CIDR" --advertise-address 127.0.0.1 \
  --kubeconfig "$CLUSTER_DIR/admin.kubeconfig" --server https://127.0.0.1:6443

echo "cluster ready: $STORES store member(s) (etcdctl --endpoints=$endpoints), $APISERVERS apiserver(s) (KUBECONFIG=$CLUSTER_DIR/admin.kubeconfig kubectl get ns), state in $CLUSTER_DIR, logs in $CLUSTER_DIR/logs"
wait
