# The two commands: `make run` (a local cluster in the foreground) and `make test`.
SHELL := /bin/bash
CARGO ?= cargo
CLUSTER_DIR ?= $(CURDIR)/.cluster
export CLUSTER_DIR

# Debian packages the project needs (DESIGN.md §6), installed by `make deps`.
DEB_PACKAGES := etcd-server etcd-client curl iptables iproute2 python3 python3-venv
# Commands whose absence means `make deps` must run first.
REQUIRED_CMDS := etcd etcdctl curl iptables ip
# Python oracles from PyPI, in a virtualenv of Debian's python3: the `kubernetes` client
# (tests/python_client.rs) and `kubernetes-validate`, whose copy of upstream's v1.33
# OpenAPI definitions tests/openapi.rs checks our merge facts against.
PY_VENV := $(CURDIR)/.venv
PY_PACKAGES := kubernetes==33.1.0 kubernetes-validate==1.37.0
PY_IMPORTS := import kubernetes, kubernetes_validate

.PHONY: all build deps run test lint fmt bench clean .deps-check

all: build

deps:
	@missing=""; for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@$(PY_VENV)/bin/python -c '$(PY_IMPORTS)' 2>/dev/null || { \
		echo "installing $(PY_PACKAGES) into $(PY_VENV)"; \
		/usr/bin/python3 -m venv $(PY_VENV) && $(PY_VENV)/bin/pip install -q $(PY_PACKAGES); \
	}

# Runs `make deps` only when something is missing.
.deps-check:
	@for c in $(REQUIRED_CMDS); do command -v $$c >/dev/null 2>&1 || { $(MAKE) --no-print-directory deps; break; }; done
	@$(PY_VENV)/bin/python -c '$(PY_IMPORTS)' 2>/dev/null || $(MAKE) --no-print-directory deps

build:
	$(CARGO) build --workspace

run: .deps-check
	$(CARGO) build --release -p store -p apiserver
	./scripts/run-local.sh

test: .deps-check
	$(CARGO) build --workspace --all-targets
	$(CARGO) test --workspace --no-fail-fast -- --test-threads=4

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

# store vs etcd on 1 and 3 members plus failover; knobs: BENCH_* (see scripts/bench.sh).
bench: .deps-check
	./scripts/bench.sh

clean:
	$(CARGO) clean
