# diagnose: see README.md. Every target fails loudly; none ends in `|| true`.
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X github.com/diagnose-sh/diagnose/internal/cli.version=$(VERSION)
FUZZTIME ?= 10s

.PHONY: all build run deps test test-short lint fuzz race bench docs man clean

all: lint test build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/diagnose ./cmd/diagnose

# The main job on this machine: the system playbook, no PID needed. Findings
# (exit 1) and an inconclusive verdict (exit 3) are answers, not build failures.
run: build
	@./bin/diagnose system; code=$$?; [ $$code -ne 2 ] || exit 2

# What the live tests use (strace, sysstat, fio, gcc, a JDK...), from apt when root.
deps:
	@.ci/deps

# The whole suite, live workload tests included (they need root; they skip
# without it). It ends with every test skipped for a reason of this machine.
test: deps
	@log=$$(mktemp); DIAGNOSE_SKIP_LOG=$$log $(GO) test -count=1 ./... && (cd deploy && $(GO) test -count=1 ./...); code=$$?; \
	if [ -s $$log ]; then echo "skipped for this machine ($$(wc -l <$$log)):"; sort $$log | sed 's/^/  /'; \
	else echo "no test skipped for this machine"; fi; rm -f $$log; exit $$code

# Without the live workload tests.
test-short:
	DIAGNOSE_SKIP_LIVE=1 $(GO) test -count=1 ./...
	cd deploy && $(GO) test -count=1 ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	cd deploy && $(GO) vet ./...

# The race detector over every package, without the live workload tests.
race:
	DIAGNOSE_SKIP_LIVE=1 $(GO) test -race -count=1 ./...

# Each fuzz target for FUZZTIME (go test -fuzz takes one target per run).
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

# Go benchmarks (load+compile, snapshot decode, evaluation, the thread
# sampler over 200/1000 threads), then the side-by-side measurements and
# their ratios (cmd/diagnose-bench; root, gcc, strace, sysstat). About 2 min;
# docs/performance.md explains every number.
BENCHTIME ?= 1s
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./engine/... ./playbooks/... ./probes/...
	$(GO) run ./cmd/diagnose-bench

# docs/cli.md's reference, from the command definitions (a test fails when it is stale).
docs:
	$(GO) run ./cmd/diagnose-docs -cli docs/cli.md

# Man pages for diagnose and each command, in bin/man (man -l bin/man/diagnose.1).
man:
	$(GO) run ./cmd/diagnose-docs -man bin/man

clean:
	rm -rf bin
