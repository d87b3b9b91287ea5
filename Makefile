# racelab — the two commands of the README:
#   make run    serve the site (for now: build racelab and run a racy example)
#   make test   install what the tests need and run them all
#
# Both install missing Debian packages when run as root, and otherwise
# print the apt-get command to run.

GO        ?= go
ADDR      ?= 127.0.0.1:8080
STATE_DIR ?= /var/lib/racelab

.PHONY: run test build deps check-fmt vet bench clean

build:
	$(GO) build -o bin/racelab .

deps:
	@scripts/need runc:runc gcc:gcc

run: deps build
	./bin/racelab run --mode race examples/racy.go

check-fmt:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

test: deps check-fmt vet
	$(GO) test -race -count=1 -timeout 30m ./...

bench: deps
	$(GO) test -run '^$$' -bench . -benchtime 10x ./sandbox/runc/

clean:
	rm -rf bin
