# cairn — build, run and test. `make help` lists the targets.
GO        ?= go
BIN       ?= bin/cairn
DATA      ?= ./cairn-data
FUZZTIME  ?= 5s
PKGS      := ./...

.PHONY: help build image run test test-unit test-fuzz test-interop test-faults bench fuzz lint clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

build: ## build the cairn binary into bin/
	CGO_ENABLED=0 $(GO) build -o $(BIN) ./cmd/cairn

run: build ## run a single-node cairn: Kafka on localhost:9092, data in ./cairn-data
	$(BIN) serve --data $(DATA)

test: lint test-unit test-fuzz ## the whole suite: lint, unit/crash/cluster tests with -race, short fuzz runs

test-unit:
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

test-fuzz: ## every Fuzz target for FUZZTIME (default 5s)
	FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

image: build ## the container image cairn:latest (FROM scratch around bin/cairn)
	docker build -t cairn:latest .

test-interop: ## the binary as a 3-node cluster driven by kcat and confluent-kafka-python (librdkafka), then the image under docker-compose
	scripts/interop.sh
	scripts/compose-test.sh

test-faults: ## fault campaign (root): FAULT_RUNS runs (5) of FAULT_SECONDS (60) under kill -9, pauses, partitions, membership changes, corruption
	scripts/faults.sh

fuzz: ## long fuzz runs (FUZZTIME=10m by default)
	FUZZTIME=$${FUZZTIME_LONG:-10m} scripts/fuzz.sh

bench: ## Go benchmarks with figures and ratios, written to bench-report.md
	scripts/bench.sh

lint: ## go vet and a gofmt check
	$(GO) vet $(PKGS)
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

clean:
	rm -rf bin $(DATA) bench-report.md bench-report.json faults-out
