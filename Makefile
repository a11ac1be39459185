# Greenloop's entry points. Each target installs the Debian packages it needs first
# (scripts/install-deps.sh does nothing when they are already there).

SWIFT ?= swift

.PHONY: all deps build demo echo-demo tour test test-release test-sanitize fault-suite soak bench bench-quick clean

all: build

deps:
	@bash scripts/install-deps.sh

build: deps
	$(SWIFT) build

## The showcase: one process, one thread, one loop on the backend GREENLOOP_BACKEND names: a
## greenlet echo server, libevent's evhttp, a bufferevent C server, hiredis and evdns, each
## exercised by its own clients for a few seconds; then a summary.
demo: deps
	$(SWIFT) run greenloop-showcase

## The greenlet echo server alone, serving its own concurrent clients for a few seconds.
echo-demo: deps
	$(SWIFT) run greenloop-echo --demo

## The loop tour: io, timer and signal watchers together, without greenlets.
tour: deps
	$(SWIFT) run greenloop-loop-tour

## Every test; loop tests run once per backend.
test: deps
	$(SWIFT) test

## The tests again in an optimized build (its own build folder): inlined switches, and lifetimes
## that end at a value's last use, as users' release builds have them.
test-release: deps
	$(SWIFT) test -c release --scratch-path .build-release

## The tests again under AddressSanitizer with LeakSanitizer, then ThreadSanitizer (separate build
## folders). AddressSanitizer gives every live greenlet a fake stack of its own for its
## use-after-return checks: at 100,000 live greenlets that is 12 GB and 40 s of page faults, which
## starves every other test, so the 100,000-greenlet test runs alone, without that one check.
## ThreadSanitizer gives every greenlet stack a shadow stack of its own, which the 20,000- and
## 100,000-greenlet tests would exhaust: those two run under the other sanitizer only.
test-sanitize: deps
	$(SWIFT) build --build-tests --sanitize=address --scratch-path .build-asan
	$(SWIFT) test --skip-build --disable-xctest --sanitize=address --scratch-path .build-asan \
		--skip hundredThousand
	ASAN_OPTIONS=detect_stack_use_after_return=0 $(SWIFT) test --skip-build --disable-xctest \
		--sanitize=address --scratch-path .build-asan --filter hundredThousand
	$(SWIFT) build --build-tests --sanitize=thread --scratch-path .build-tsan
	$(SWIFT) test --skip-build --disable-xctest --sanitize=thread --scratch-path .build-tsan \
		--skip hundredThousand --skip manyGreenlets

## The fault suite, short (about a minute): greenloop-echo on both backends against a client of
## our own that verifies every echoed byte, through waves of connections, churn with resets, idle
## and non-reading clients, descriptor exhaustion and a full pool each followed by idling and new
## clients, and SIGTERM and SIGINT mid-request (Tests/FaultSuite/README.md).
fault-suite: deps
	bash scripts/install-deps.sh fault
	$(SWIFT) build --product greenloop-echo
	bash Tests/FaultSuite/run.sh short .build/debug/greenloop-echo

## The fault suite, long (several minutes), on an optimized build: thousands of connections a wave.
soak: deps
	bash scripts/install-deps.sh fault
	$(SWIFT) build -c release --scratch-path .build-release --product greenloop-echo
	bash Tests/FaultSuite/run.sh long .build-release/release/greenloop-echo

## The benchmark suite in release mode: every workload alternating with its baselines (raw C
## libev and libevent, gevent in Benchmarks/.venv, SwiftNIO), 3 rounds each (5 for the echo
## servers, 7 for the greenlet micro-benchmarks); prints the table and writes
## Benchmarks/results/latest.json and latest.svg.
bench: deps
	bash scripts/install-deps.sh bench
	cd Benchmarks && $(SWIFT) build -c release
	Benchmarks/.build/release/greenloop-bench

## Each workload once, at small sizes: keeps the suite from rotting; no thresholds, no results.
bench-quick: deps
	bash scripts/install-deps.sh bench
	cd Benchmarks && $(SWIFT) build -c release
	Benchmarks/.build/release/greenloop-bench --quick

clean:
	rm -rf .build .build-release .build-asan .build-tsan Benchmarks/.build Benchmarks/.venv
