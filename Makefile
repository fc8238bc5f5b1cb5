# rackpulse — build, run, test, benchmark.
#
#   make run    build, start InfluxDB, Alertmanager and a simulated fleet, and
#               poll it (Ctrl-C stops all)
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
RUN_MIX     ?= modern=40,legacy=30,ipmi=30
RUN_LISTEN  ?= 127.0.0.1:9290
RUN_INFLUX_PORT ?= 18086
RUN_AM_PORT ?= 19093
RUN_SIM_ADMIN ?= 127.0.0.1:18080
INFLUXD     := $(TOOLS)/influxd
ALERTMANAGER := $(TOOLS)/alertmanager

.PHONY: all build run test bench bench-go bench-fleet bench-fleet-ipmi bench-agent bench-compare lint tools clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/rackpulse

# run: builds rackpulse (and, the first time, InfluxDB and Alertmanager into
# tools/bin), starts them, a simulated fleet of $(RUN_BMCS) BMCs and serve
# polling it, storing to InfluxDB and sending alerts to Alertmanager, and
# prints where to look once the first rollup exists (.ci/demo). Ctrl-C stops
# everything, serve first: it logs out of every BMC and flushes to InfluxDB.
run:
	@RUN_BMCS='$(RUN_BMCS)' RUN_MIX='$(RUN_MIX)' RUN_LISTEN='$(RUN_LISTEN)' RUN_INFLUX_PORT='$(RUN_INFLUX_PORT)' \
	  RUN_AM_PORT='$(RUN_AM_PORT)' RUN_SIM_ADMIN='$(RUN_SIM_ADMIN)' bash .ci/demo

$(INFLUXD):
	bash .ci/influxd install

$(ALERTMANAGER):
	bash .ci/alertmanager install

test:
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 20m ./...

bench: bench-go bench-fleet bench-fleet-ipmi bench-agent

bench-go:
	$(GO) test -run '^$$' -bench . -benchmem -count 1 ./...

# bench-fleet: 2,000 simulated Redfish BMCs (50-200 ms per request), polled
# every 30 s by the real binaries; prints the figures reported in
# docs/performance.md, at serve's shipped defaults. FLEET_BMCS, FLEET_WINDOW,
# FLEET_LATENCY, FLEET_MIX tune the fleet; FLEET_HOG=N runs N busy processes
# beside it, FLEET_KEEP and FLEET_WORKERS set serve's --keep-connections and
# --workers, FLEET_GOGC and FLEET_GOMEMLIMIT its GOGC and GOMEMLIMIT,
# FLEET_WARMUP waits that much longer before the window (5m: the steady
# state), FLEET_PROFILE=FILE saves CPU profiles of serve and the simulator
# and serve's heap.
bench-fleet:
	RACKPULSE_FLEET_BENCH=1 $(GO) test -run '^$$' -bench BenchmarkFleet -benchtime 1x -timeout 60m -v ./cmd/rackpulse

# bench-fleet-ipmi: 1,000 simulated IPMI BMCs polled every 60 s.
bench-fleet-ipmi:
	RACKPULSE_FLEET_BENCH=1 FLEET_BMCS=1000 FLEET_MIX=ipmi=100 FLEET_INTERVAL=60s FLEET_WINDOW=5m \
	$(GO) test -run '^$$' -bench BenchmarkFleet -benchtime 1x -timeout 60m -v ./cmd/rackpulse

# bench-agent: the agent binary on a fixture host with 24 data disks, at
# cadences 30 times faster than production's for AGENT_BENCH_WINDOW (2 min
# = an hour of work): its share of a core and its peak RSS.
bench-agent:
	RACKPULSE_AGENT_BENCH=1 $(GO) test -run '^$$' -bench BenchmarkAgentHost -benchtime 1x -timeout 30m -v ./cmd/rackpulse

# bench-compare: rackpulse and Telegraf (built into tools/bin the first time)
# polling the same simulated fleet side by side: CPU, RSS, requests and
# values per poll, on-time share (docs/performance.md). COMPARE_BMCS,
# COMPARE_MIX, COMPARE_IPMI, COMPARE_WINDOW, COMPARE_WARMUP, COMPARE_LATENCY tune it.
TELEGRAF    := $(TOOLS)/telegraf
bench-compare: $(TELEGRAF)
	RACKPULSE_COMPARE_BENCH=1 COMPARE_BMCS='$(COMPARE_BMCS)' COMPARE_MIX='$(COMPARE_MIX)' COMPARE_IPMI='$(COMPARE_IPMI)' \
	  COMPARE_WINDOW='$(COMPARE_WINDOW)' COMPARE_WARMUP='$(COMPARE_WARMUP)' COMPARE_LATENCY='$(COMPARE_LATENCY)' \
	  $(GO) test -run '^$$' -bench BenchmarkCompareTelegraf -benchtime 1x -timeout 60m ./cmd/rackpulse/

$(TELEGRAF):
	bash .ci/telegraf install

lint: $(STATICCHECK)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...
	@$(GO) mod tidy -diff || { echo "go.mod or go.sum is not tidy: run go mod tidy"; exit 1; }

$(STATICCHECK):
	GOBIN=$(TOOLS) $(GO) install honnef.co/go/tools/cmd/staticcheck@v0.8.2

tools: $(STATICCHECK)

clean:
	rm -rf bin var
