# The two commands of the quick start are `make demo` and `make test`.
SHELL := /bin/bash
GO ?= go
BIN := $(CURDIR)/bin
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/regionplatform/region/regiond.Version=$(VERSION)
# The default suite; long soaks have their own targets.
TEST_TIMEOUT ?= 30m

.PHONY: chaos-fencing all deps lab-deps install build demo demo-down test test-unit chaos converge vet fmt clean

all: build

## deps: install the system packages the lab and the tests need (Debian/Ubuntu):
## MariaDB, and Chromium for the console's browser test.
## lab-deps: MariaDB only, what the demo needs.
deps:
	@$(MAKE) --no-print-directory install PKGS="mariadb chromium prometheus"

lab-deps:
	@$(MAKE) --no-print-directory install PKGS="mariadb"

install:
	@missing=""; \
	case " $(PKGS) " in *" mariadb "*) \
	command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || missing="$$missing mariadb-server"; \
	command -v mariadb >/dev/null 2>&1 || missing="$$missing mariadb-client";; esac; \
	case " $(PKGS) " in *" chromium "*) \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium";; esac; \
	case " $(PKGS) " in *" prometheus "*) \
	command -v promtool >/dev/null 2>&1 || missing="$$missing prometheus";; esac; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi
	@command -v $(GO) >/dev/null || { echo "Go 1.26 is required: https://go.dev/doc/install"; exit 1; }

## build: build regiond and regionctl into ./bin (static: no cgo, no libc).
build:
	CGO_ENABLED=0 $(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/ ./cmd/regiond ./cmd/regionctl

## demo: start a two-region lab in ./lab-demo, load a workload and show it.
demo: lab-deps build
	$(BIN)/regionctl lab demo --dir $(CURDIR)/lab-demo

## demo-down: stop the demo lab.
demo-down:
	$(BIN)/regionctl lab down --dir $(CURDIR)/lab-demo

## test: the default suite (real MariaDB, broker, etcd and regiond processes).
test: deps build
	REGION_BIN=$(BIN) $(GO) test -p 1 -count=1 -timeout $(TEST_TIMEOUT) ./...

## chaos: the long soak: every chaos scenario on a fresh lab, with
## CHAOS_DURATION of load each (make test runs them for a few seconds).
CHAOS_DURATION ?= 2m
CHAOS_SEED ?= 1
chaos: lab-deps build
	$(BIN)/regionctl chaos run --scenario all --duration $(CHAOS_DURATION) --seed $(CHAOS_SEED) --rate 60 --users 100

## chaos-fencing: the fencing scenarios (switch, planned and forced
## failover with failback) with FENCING_SEEDS seeds, in two regions and
## in three, FENCING_DURATION of load each; the notes job writes straight
## into MySQL beside the load, half through the data-access guard.
FENCING_SEEDS ?= $(shell seq 1 20)
FENCING_DURATION ?= 30s
FENCING_SCENARIOS ?= switch-under-load,planned-failover,forced-failover-drained,forced-failover
chaos-fencing: lab-deps build
	for regions in a,b a,b,c; do for s in $(FENCING_SEEDS); do \
		$(BIN)/regionctl chaos run --regions $$regions --scenario $(FENCING_SCENARIOS) --duration $(FENCING_DURATION) --seed $$s --rate 60 --users 100 || exit 1; \
	done; done

## converge: the randomized convergence test with CONVERGE_SEEDS seeds
## (make test runs seed 1).
CONVERGE_SEEDS ?= 2 3 4 5 6 7 8 9
converge: lab-deps build
	for s in $(CONVERGE_SEEDS); do REGION_BIN=$(BIN) REGION_CONVERGE_SEED=$$s $(GO) test -count=1 -run TestRandomConflictsConverge ./regiond/ || exit 1; done

## test-unit: only the packages that need no servers.
test-unit:
	$(GO) test -count=1 -skip OnMariaDB ./config/ ./topo/ ./api/ ./apiserver/ ./client/ ./lab/ledger/ ./cdc/apply/ ./cdc/claim/ ./preflight/ ./failover/ ./retry/

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }

clean:
	rm -rf $(BIN)
