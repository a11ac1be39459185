#!/usr/bin/env bash
# Installs the Debian packages Greenloop builds and tests against, only those that are missing.
# Idempotent: a second run on a machine that has them all does nothing and asks no registry.
set -euo pipefail

packages=(
  libev-dev          # libev 4.33: headers and libev.so.4, loaded at run time by CLibev
  libevent-dev       # libevent 2.1: core, extra (evhttp, evdns) and pthreads
  libboost-context-dev # boost.context's fcontext: make_fcontext / jump_fcontext
  pkg-config
  curl               # a real HTTP client for the adapter's evhttp tests
  libhiredis-dev     # hiredis and its libevent adapter, for the shared-loop example and tests
  redis-server       # the server those tests start on loopback
  wrk                # HTTP load for the adapter benchmark
)

# `install-deps.sh fault` adds what the fault suite needs (a C compiler for its client, prlimit).
if [ "${1:-}" = "fault" ]; then
  packages+=(
    gcc              # builds Tests/FaultSuite/faultload.c
    libc6-dev
    util-linux       # prlimit, for the server with a low descriptor limit
  )
fi

# `install-deps.sh bench` adds what only the benchmark suite needs.
if [ "${1:-}" = "bench" ]; then
  packages+=(
    python3-venv     # the suite makes a virtual environment for its pinned gevent baseline
    util-linux       # taskset, to keep servers and load generators on separate cores
  )
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
echo "Installing Debian packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
