# Greenloop's entry points. Each target installs the Debian packages it needs first
# (scripts/install-deps.sh does nothing when they are already there).

SWIFT ?= swift

.PHONY: all deps build demo test clean

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

clean:
	rm -rf .build
