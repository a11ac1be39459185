#!/usr/bin/env bash
# The fault suite: greenloop-echo on both backends against faultload's scenarios (README.md).
#
#   bash Tests/FaultSuite/run.sh short|long [path/to/greenloop-echo]
#
# Each scenario gets a fresh server on a free loopback port. Ends with "N passed, M failed" and
# exits non-zero if any scenario failed. Only 127.0.0.1 is ever contacted.
set -euo pipefail

size=${1:-short}
echo_server=${2:-.build/debug/greenloop-echo}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
client="$work/faultload"
passed=0
failed=0
summary=()
server_pid=""

cleanup() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then kill -KILL "$server_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

case "$size" in
    short) waves=2 wave_clients=100 wave_seconds=2 churn_clients=50 churn_seconds=3 idle_seconds=2
           idle_clients=200 non_readers=20 signal_clients=50 after_clients=30 ;;
    long) waves=4 wave_clients=2000 wave_seconds=15 churn_clients=200 churn_seconds=30 idle_seconds=15
          idle_clients=2000 non_readers=200 signal_clients=500 after_clients=200 ;;
    *) echo "usage: run.sh short|long [greenloop-echo]" >&2; exit 2 ;;
esac

[ -x "$echo_server" ] || { echo "no server at $echo_server (build it first: make fault-suite builds it)" >&2; exit 2; }
cc -O2 -Wall -Wextra -Werror -o "$client" "$here/faultload.c"

# A free loopback port (the kernel's choice, released at once).
free_port() {
    "$client" free-port
}

# Starts greenloop-echo with the given backend, descriptor limit and options; sets server_pid and
# port once it accepts connections.
start_server() {
    local backend=$1 nofile=$2
    shift 2
    local log="$work/server.log"
    : >"$log"
    port=$(free_port)
    if [ "$nofile" = default ]; then
        GREENLOOP_BACKEND=$backend "$echo_server" --port "$port" "$@" >"$log" 2>&1 &
    else
        GREENLOOP_BACKEND=$backend prlimit --nofile="$nofile:$nofile" "$echo_server" --port "$port" "$@" >"$log" 2>&1 &
    fi
    server_pid=$!
    for _ in $(seq 1 200); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.05
    done
    echo "the server did not start:" >&2
    cat "$log" >&2
    return 1
}

# Stops the server the way an operator would and checks that it exits 0 within 10 s.
stop_server() {
    local pid=$server_pid
    server_pid=""
    kill -TERM "$pid" 2>/dev/null || true
    wait_exit "$pid"
}

# Waits up to 10 s for the server to exit; fails unless it exited 0.
wait_exit() {
    local pid=$1 status
    for _ in $(seq 1 200); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null || true
        echo "the server did not exit within 10 s of the signal" >&2
        return 1
    fi
    set +e
    wait "$pid"
    status=$?
    set -e
    if [ "$status" -ne 0 ]; then
        echo "the server exited with status $status" >&2
        return 1
    fi
}

# run NAME BACKEND NOFILE "SERVER OPTIONS" SCENARIO [CLIENT OPTIONS]
run() {
    local name=$1 backend=$2 nofile=$3 server_options=$4 scenario=$5
    shift 5
    local out="$work/$name-$backend.out" ok=1
    : >"$out"
    # shellcheck disable=SC2086
    if ! start_server "$backend" "$nofile" $server_options >>"$out" 2>&1; then
        ok=0
    else
        if ! "$client" "$scenario" --port "$port" --pid "$server_pid" "$@" >"$out" 2>&1; then ok=0; fi
        if [ "$scenario" = signal ]; then
            local pid=$server_pid
            server_pid=""
            wait_exit "$pid" >>"$out" 2>&1 || ok=0
        else
            stop_server >>"$out" 2>&1 || ok=0
        fi
        # A crash, a LoopExit, or a client leaving reported as an error: none belongs in the log.
        if grep -q "Fatal error\|LoopExit\|block forever\|error escaped" "$work/server.log"; then
            { echo "the server reported:"; head -n 20 "$work/server.log"; } >>"$out"
            ok=0
        fi
    fi
    local line
    line=$(printf '%-8s %-24s %s' "$backend" "$name" "$(grep -E '^(bytes_verified|mismatches|verdict)=' "$out" 2>/dev/null | tr '\n' ' ')")
    if [ $ok -eq 1 ]; then
        passed=$((passed + 1))
        summary+=("pass  $line")
    else
        failed=$((failed + 1))
        summary+=("FAIL  $line")
        echo "---- $name on $backend failed:"
        cat "$out"
        echo "---- server log:"
        tail -n 20 "$work/server.log"
    fi
    # The figures, for the record.
    sed "s/^/    $backend $name: /" "$out"
}

for backend in libev libevent; do
    run waves "$backend" default "" waves --connections "$wave_clients" --seconds "$wave_seconds" --waves "$waves"
    run churn "$backend" default "" churn --connections "$churn_clients" --seconds "$churn_seconds" --reset-percent 30
    run idle-and-non-readers "$backend" default "" idle --idle "$idle_clients" --non-readers "$non_readers" \
        --connections 20 --seconds "$idle_seconds"
    run descriptor-exhaustion "$backend" 64 "" exhaust --connections "$after_clients" --hold 2000
    run full-pool "$backend" default "--pool 4" pool --connections "$after_clients" --hold 2000
    for threads in 1 2; do
        for sig in TERM INT; do
            run "sig$sig-threads$threads" "$backend" default "--threads $threads" signal --signal "$sig" \
                --connections "$signal_clients"
        done
    done
done

echo
echo "fault suite ($size):"
printf '  %s\n' "${summary[@]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
