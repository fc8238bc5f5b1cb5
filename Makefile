# rackpulse — build, run, test, benchmark.
#
#   make run    build, start a simulated fleet and poll it (Ctrl-C stops all)
#   make test   every test; set RACKPULSE_REQUIRE_INTEGRATION=1 to make the
#               interoperability tests fail instead of skip when a peer is missing
#   make bench  Go benchmarks and the fleet benchmark (docs/performance.md)

SHELL       := /bin/bash
GO          ?= go
BIN         := bin/rackpulse
TOOLS       := $(CURDIR)/tools/bin
VAR         := $(CURDIR)/var
STATICCHECK := $(TOOLS)/staticcheck

# make run: fleet size and profile mix of the simulator.
RUN_BMCS    ?= 40
RUN_MIX     ?= modern=60,legacy=40
RUN_LISTEN  ?= 127.0.0.1:9290

.PHONY: all build run test bench bench-go bench-fleet bench-fleet-ipmi lint tools clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/rackpulse

# run: a simulated fleet of $(RUN_BMCS) Redfish BMCs, and serve polling it.
# The simulator runs in its own session so that Ctrl-C reaches serve first:
# serve logs out of every BMC, then the simulator is stopped.
run: build
	@mkdir -p $(VAR)/sim $(VAR)/state
	@export RACKPULSE_SIM_PASSWORD="$${RACKPULSE_SIM_PASSWORD:-sim-password}"; \
	rm -f $(VAR)/sim/inventory.yaml; \
	setsid $(BIN) sim --count $(RUN_BMCS) --mix $(RUN_MIX) --out $(VAR)/sim & sim=$$!; \
	trap 'kill -INT $$sim 2>/dev/null; wait $$sim 2>/dev/null' EXIT; \
	for i in $$(seq 1 100); do [ -s $(VAR)/sim/inventory.yaml ] && break; sleep 0.1; done; \
	echo "rackpulse: simulator up; polling it. Metrics: http://$(RUN_LISTEN)/metrics  servers: http://$(RUN_LISTEN)/api/servers"; \
	echo "rackpulse: one BMC as the poller sees it: RACKPULSE_SIM_PASSWORD=$$RACKPULSE_SIM_PASSWORD $(BIN) probe --inventory $(VAR)/sim/inventory.yaml rack-01-u01"; \
	$(BIN) serve --inventory $(VAR)/sim/inventory.yaml --listen $(RUN_LISTEN) --state-dir $(VAR)/state

test:
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 20m ./...

bench: bench-go bench-fleet bench-fleet-ipmi

bench-go:
	$(GO) test -run '^$$' -bench . -benchmem -count 1 ./...

# bench-fleet: 2,000 simulated Redfish BMCs (50-200 ms per request), polled
# every 30 s by the real binaries; prints the figures reported in
# docs/performance.md. FLEET_BMCS, FLEET_WINDOW, FLEET_LATENCY, FLEET_MIX tune it.
bench-fleet:
	RACKPULSE_FLEET_BENCH=1 $(GO) test -run '^$$' -bench BenchmarkFleet -benchtime 1x -timeout 60m -v ./cmd/rackpulse

# bench-fleet-ipmi: 1,000 simulated IPMI BMCs polled every 60 s.
bench-fleet-ipmi:
	RACKPULSE_FLEET_BENCH=1 FLEET_BMCS=1000 FLEET_MIX=ipmi=100 FLEET_INTERVAL=60s FLEET_WINDOW=5m \
	$(GO) test -run '^$$' -bench BenchmarkFleet -benchtime 1x -timeout 60m -v ./cmd/rackpulse

lint: $(STATICCHECK)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...

$(STATICCHECK):
	GOBIN=$(TOOLS) $(GO) install honnef.co/go/tools/cmd/staticcheck@v0.8.2

tools: $(STATICCHECK)

clean:
	rm -rf bin var
