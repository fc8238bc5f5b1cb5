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
INFLUXD     := $(TOOLS)/influxd
ALERTMANAGER := $(TOOLS)/alertmanager

.PHONY: all build run test bench bench-go bench-fleet bench-fleet-ipmi bench-agent lint tools clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/rackpulse

# run: InfluxDB and Alertmanager (installed into tools/bin on first use;
# Alertmanager with configs/alertmanager.yml), a simulated fleet of
# $(RUN_BMCS) BMCs, and serve polling it, storing to InfluxDB and sending
# alerts to Alertmanager. Helpers run in their own sessions so that Ctrl-C
# reaches serve first: serve logs out of every BMC and flushes to InfluxDB,
# then the rest is stopped.
run: build $(INFLUXD) $(ALERTMANAGER)
	@mkdir -p $(VAR)/sim $(VAR)/state $(VAR)/influxdb $(VAR)/spool $(VAR)/alertmanager
	@export RACKPULSE_SIM_PASSWORD="$${RACKPULSE_SIM_PASSWORD:-sim-password}"; \
	bash .ci/influxd start $(VAR)/influxdb $(RUN_INFLUX_PORT) || exit 1; \
	bash .ci/alertmanager start $(VAR)/alertmanager $(RUN_AM_PORT) configs/alertmanager.yml || { bash .ci/influxd stop $(VAR)/influxdb; exit 1; }; \
	rm -f $(VAR)/sim/inventory.yaml; \
	setsid $(BIN) sim --count $(RUN_BMCS) --mix $(RUN_MIX) --out $(VAR)/sim & sim=$$!; serve=; \
	trap '[ -n "$$serve" ] && kill -INT $$serve 2>/dev/null; wait $$serve 2>/dev/null; kill -INT $$sim 2>/dev/null; wait $$sim 2>/dev/null; bash .ci/alertmanager stop $(VAR)/alertmanager; bash .ci/influxd stop $(VAR)/influxdb' EXIT; \
	trap 'exit 130' INT TERM; \
	for i in $$(seq 1 100); do [ -s $(VAR)/sim/inventory.yaml ] && break; sleep 0.1; done; \
	echo; \
	echo "rackpulse: polling $(RUN_BMCS) simulated BMCs ($(RUN_MIX)); Ctrl-C stops everything."; \
	echo "  dashboard:            http://$(RUN_LISTEN)/   (racks, their elevation and power, servers, alerts; the first rollup comes after one poll interval)"; \
	echo "  rack and site power:  http://$(RUN_LISTEN)/api/rollup   feeds and energy: http://$(RUN_LISTEN)/api/power"; \
	echo "  servers:              http://$(RUN_LISTEN)/api/servers  metrics: http://$(RUN_LISTEN)/metrics"; \
	echo "  one BMC:              RACKPULSE_SIM_PASSWORD=$$RACKPULSE_SIM_PASSWORD $(BIN) probe --inventory $(VAR)/sim/inventory.yaml rack-01-u01"; \
	echo "  a fault:              curl -XPOST -d '{\"fault\":\"dimm-ecc\"}' http://127.0.0.1:18080/bmcs/rack-01-u03/faults"; \
	echo "  alerts:               http://127.0.0.1:$(RUN_AM_PORT)/#/alerts  (Alertmanager, configs/alertmanager.yml)"; \
	echo "  raise one:            curl -XPOST -d '{\"fault\":\"dimm-uncorrectable\",\"target\":\"DIMM1\"}' http://127.0.0.1:18080/bmcs/rack-01-u01/faults"; \
	echo "    then:               curl -s http://127.0.0.1:$(RUN_AM_PORT)/api/v2/alerts"; \
	echo "  a query to try (after a minute):"; \
	echo "    curl -sG http://127.0.0.1:$(RUN_INFLUX_PORT)/query --data-urlencode db=rackpulse --data-urlencode \"q=SELECT last(watts), last(servers_reporting) FROM rollup WHERE level='rack' GROUP BY rack\""; \
	echo; \
	$(BIN) serve --inventory $(VAR)/sim/inventory.yaml --listen $(RUN_LISTEN) --state-dir $(VAR)/state \
	  --influx-url http://127.0.0.1:$(RUN_INFLUX_PORT) --influx-bucket rackpulse --influx-spool-dir $(VAR)/spool \
	  --alertmanager-url http://127.0.0.1:$(RUN_AM_PORT) & serve=$$!; \
	wait $$serve

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
# docs/performance.md. FLEET_BMCS, FLEET_WINDOW, FLEET_LATENCY, FLEET_MIX tune it.
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
