# Greenloop's entry points. Each target installs the Debian packages it needs first
# (scripts/install-deps.sh does nothing when they are already there).

SWIFT ?= swift

.PHONY: all deps build demo test test-sanitize clean

all: build

deps:
	@bash scripts/install-deps.sh

build: deps
	$(SWIFT) build

## The loop tour: io, timer and signal watchers together, on the backend GREENLOOP_BACKEND names.
demo: deps
	$(SWIFT) run greenloop-loop-tour

## Every test; loop tests run once per backend.
test: deps
	$(SWIFT) test

## The tests again under AddressSanitizer and LeakSanitizer (a separate build folder).
test-sanitize: deps
	$(SWIFT) build --build-tests --sanitize=address --scratch-path .build-asan
	$(SWIFT) test --skip-build --disable-xctest --sanitize=address --scratch-path .build-asan

clean:
	rm -rf .build .build-asan
