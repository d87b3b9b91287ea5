# racelab — the two commands of the README:
#   make run    build racelab and serve the site at http://127.0.0.1:8080/
#   make test   install what the tests need (runc, gcc, chromium) and run them all
#
# CI (.ci/run) also runs the sandbox's suite on gVisor (make test-runsc)
# and on crun (make test-crun), and racelab as a systemd service in a
# cgroup v2 VM (make test-vm).
#
# Both install missing Debian packages when run as root, and otherwise
# print the apt-get command to run.

GO        ?= go
ADDR      ?= 127.0.0.1:8080
STATE_DIR ?= /var/lib/racelab

.PHONY: run test build deps test-deps check-fmt vet vet-untested warm-test bench clean runsc test-runsc test-crun test-vm

build:
	$(GO) build -o bin/racelab .

deps:
	@scripts/need runc:runc gcc:gcc

# The browser tests drive Debian's Chromium.
test-deps: deps
	@scripts/need chromium:chromium

run: deps build
	./bin/racelab serve --addr $(ADDR) --state-dir $(STATE_DIR)

check-fmt:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

# make test vets every package with tests inside go test (-vet=all: all of
# vet's checks, on the packages go test builds with -race anyway) and only
# the packages without tests here; a separate go vet ./... compiled the
# whole module and its dependencies a second time, without -race: 100 s
# of a fresh machine's run. The untested packages are vetted with -race
# too: vet needs their dependencies compiled (the standard library,
# prometheus, protobuf), and compiled with go test's flags they are go
# test's to reuse. On a fresh machine's empty cache, vet + go test's
# build took 185 core-s without -race, 149 with it; but the root
# package's memory test then builds racelab without -race (the real
# binary, for its memory bound), compiling those dependencies without
# -race anyway: vet + go test's build + that build, 200 core-s before
# and 202 after. Either way; the work moved, none went.
UNTESTED = $(shell $(GO) list -f '{{if and (not .TestGoFiles) (not .XTestGoFiles)}}{{.ImportPath}}{{end}}' ./...)

vet-untested:
	$(GO) vet -race $(UNTESTED)

# The sandbox tests' runners share one warm build cache, in
# RACELAB_TEST_STATE_DIR/cache. It is made here first, by racelab warm (as
# an image build makes it), and its entries are then given to this
# machine's own Go build cache: they are the standard library compiled
# with and without -race by the same toolchain with the same flags, which
# vet and go test would otherwise compile a second time. On an empty build
# cache, vet-untested + go test's build of every test binary + racelab's
# own build took 236-238 core-s, and 160-162 with the warm cache's entries
# given first (alternated twice, 8 Dec); the warm cache costs the same
# (~100 core-s) here as when the first sandbox test made it.
TEST_STATE_DIR = $(or $(RACELAB_TEST_STATE_DIR),/var/lib/racelab-test)

warm-test: build
	@if [ "$$(id -u)" != 0 ]; then echo "warm-test: not root; the sandbox tests will skip"; exit 0; fi; \
	out=$$(./bin/racelab warm -cache-dir $(TEST_STATE_DIR)/cache) || exit 1; \
	dir=$${out#warm build cache: }; gocache=$$($(GO) env GOCACHE); \
	mkdir -p "$$gocache" && cp -rn --no-preserve=all "$$dir"/. "$$gocache"/

# go test runs at most -p (the cores) test binaries and compiles at once,
# and starts them in the order of its arguments: the four longest suites
# come first (the root package's lesson check and attacks, the browser
# suite, the sandbox's, the class), so that the short ones fill in beside
# them rather than the browser suite running alone at the end. On a fresh
# machine's empty caches: 431 s against 443-461 s (7 Dec, afternoon);
# that evening, alternated, 508, 478 and 454 s against 538 and 497 s.
SLOW_FIRST = . ./web ./sandbox/runc ./cmd/loadtest

test: test-deps check-fmt warm-test vet-untested web-check web-test
	$(GO) test -race -vet=all -count=1 -timeout 30m $(SLOW_FIRST) ./...

# gVisor's runsc, a tested runtime of the sandbox (--runtime runsc). It is
# built from the Go module proxy at the version pinned here (Debian 12's
# package is too old for racelab); a build with cgo cannot start its
# sandbox, so CGO_ENABLED=0. About two minutes on two cores, once.
RUNSC_VERSION ?= v0.0.0-20260905035102-160fafc42237
RUNSC         ?= /usr/local/bin/runsc

runsc:
	@if [ -x $(RUNSC) ] && $(GO) version -m $(RUNSC) 2>/dev/null | grep -q 'gvisor.dev/gvisor[[:space:]]*$(RUNSC_VERSION)'; then \
		echo "runsc $(RUNSC_VERSION) is installed at $(RUNSC)"; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "building runsc $(RUNSC_VERSION) into $(RUNSC) (about two minutes)"; \
		CGO_ENABLED=0 GOBIN=$(dir $(RUNSC)) $(GO) install gvisor.dev/gvisor/runsc@$(RUNSC_VERSION); \
	else \
		echo "racelab's gVisor tests need runsc $(RUNSC_VERSION); install it as root with:"; \
		echo "  sudo CGO_ENABLED=0 GOBIN=$(dir $(RUNSC)) $(GO) install gvisor.dev/gvisor/runsc@$(RUNSC_VERSION)"; \
		exit 1; \
	fi

# The whole runc-backend suite again, on gVisor's runsc (the suite picks
# its runtime from RACELAB_TEST_RUNTIME). racelab's own code is already
# checked by -race in the run above, so this run goes without it.
test-runsc: deps runsc
	RACELAB_TEST_RUNTIME=runsc $(GO) test -count=1 -timeout 30m ./sandbox/runc/

# The whole runc-backend suite again, on crun (Debian's package): the
# same containers from a C runtime that starts one for a third of runc's
# CPU. On a hybrid cgroup host crun needs the v2 hierarchy empty of
# controllers; scripts/crun-cgroups mounts any left there as v1, as
# systemd's hybrid mode does. The suite runs without CAP_MKNOD, as
# racelab.service does (PrivateDevices=yes), where crun cannot make a
# container's /dev/null.
test-crun: deps
	@scripts/need crun:crun
	@scripts/crun-cgroups
	RACELAB_TEST_RUNTIME=crun setpriv --bounding-set -mknod $(GO) test -count=1 -timeout 30m ./sandbox/runc/

# racelab hosted as the README's "Hosting on a server" says, proved in a
# Debian 12 VM (QEMU without KVM, Debian's kernel, systemd, cgroup v2):
# scripts/vm-test builds the guest (its base is cached under
# /var/lib/racelab-vm-test), installs racelab from deploy/systemd and
# checks the service from outside. Some three to five minutes with the
# base cached; the first run adds about four.
test-vm:
	scripts/vm-test

bench: deps
	$(GO) test -run '^$$' -bench . -benchtime 10x ./sandbox/runc/

clean:
	rm -rf bin

# The browser bundle: web/static/app.js is built from web/src by esbuild and
# committed, so that a fresh clone serves the site with Go alone.
# web-check fails when the committed bundle is not what the sources build.
# --ignore-scripts: esbuild's postinstall only verifies its binary, which
# comes as an ordinary (optional) npm dependency; nothing else needs one.
# web-test runs the page's unit tests (web/test, node --test); where the
# page and the server share a rule they are held to one table of cases
# (web/testdata/ends.json: which event ends a run).
.PHONY: web web-deps web-check web-test

web:
	cd web && npm ci --no-audit --no-fund --ignore-scripts && node build.mjs

web-deps:
	@cd web && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null

web-test: web-deps
	@cd web && node --test test/

web-check: web-deps
	@tmp=$$(mktemp) && \
	(cd web && node build.mjs --out "$$tmp") && \
	if cmp -s "$$tmp" web/static/app.js; then rm -f "$$tmp"; echo "web/static/app.js is up to date"; \
	else rm -f "$$tmp"; echo "web/static/app.js is stale: run make web and commit it" >&2; exit 1; fi
