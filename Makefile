# Peregrine. `make help` lists the targets.
SHELL := /bin/bash
GO ?= go
GOBIN := $(shell $(GO) env GOPATH)/bin
export PATH := $(GOBIN):$(PATH)

# Every module of the workspace, as ./relative paths.
MODULES := $(shell $(GO) list -m -f '{{.Dir}}' | sed "s|^$(CURDIR)/|./|")
PKGS := $(addsuffix /...,$(MODULES))
SERVICES := collector enricher evaluator notifier
BENCH_COUNT ?= 5
TEST_TIMEOUT ?= 40m

NATS_CLI_VERSION := v0.5.0
CRICTL_VERSION := v1.37.0
ALERTMANAGER_VERSION := v0.35.0

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-z][a-zA-Z0-9_-]*:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

.PHONY: build
build: ## build every stage and the all-in-one runner into bin/
	@mkdir -p bin
	@for s in $(SERVICES); do \
		if ls services/$$s/*.go >/dev/null 2>&1; then \
			echo "build bin/$$s"; CGO_ENABLED=0 $(GO) build -o bin/$$s ./services/$$s || exit 1; \
		fi; \
	done
	@echo "build bin/peregrine"; CGO_ENABLED=0 $(GO) build -o bin/peregrine ./cmd/peregrine

.PHONY: run
run: build ## start an embedded NATS server and every stage on this machine (root); Ctrl-C stops all
	@if [ "$$(id -u)" != 0 ]; then echo "make run needs root (the collector loads an eBPF probe)"; exit 1; fi
	./bin/peregrine $(RUN_ARGS)

.PHONY: tools
tools: ## install the tools the tests drive: nats CLI, crictl, alertmanager, benchstat
	@command -v nats >/dev/null || { echo "install nats CLI $(NATS_CLI_VERSION)"; $(GO) install github.com/nats-io/natscli/nats@$(NATS_CLI_VERSION); }
	@command -v crictl >/dev/null || { echo "install crictl $(CRICTL_VERSION)"; $(GO) install sigs.k8s.io/cri-tools/cmd/crictl@$(CRICTL_VERSION); }
	@ALERTMANAGER_VERSION=$(ALERTMANAGER_VERSION) services/notifier/hack/build-alertmanager.sh

.PHONY: kube
kube: ## build kube-apiserver and etcd from the module proxy for the enricher's API-server test (cached in ~/.cache/peregrine)
	services/enricher/hack/build-kube.sh >/dev/null

.PHONY: test
test: tools kube ## run every test (as root the end-to-end tests with the real probe, runtimes and servers run too)
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) $(PKGS)

.PHONY: test-unit
test-unit: ## fast tests only (-short: no probe, no daemons)
	$(GO) test -short -count=1 $(PKGS)

.PHONY: bench
bench: ## run the benchmarks $(BENCH_COUNT) times and print a table of medians
	@$(GO) install golang.org/x/perf/cmd/benchstat@latest >/dev/null 2>&1 || true
	@mkdir -p .bench
	$(GO) test -run '^$$' -bench . -benchmem -count $(BENCH_COUNT) -timeout 60m $(PKGS) | tee .bench/latest.txt
	@if command -v benchstat >/dev/null; then benchstat .bench/latest.txt; fi

.PHONY: generate
generate: ## regenerate the eBPF objects with bpf2go (needs clang; output is committed)
	cd services/collector && $(GO) generate ./...

.PHONY: lint
lint: ## gofmt and go vet
	@out=$$(gofmt -l $(MODULES)); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

.PHONY: check
check: lint test ## lint and test

.PHONY: clean
clean: ## remove build output
	rm -rf bin .bench
