"""gevent's side of the benchmark workloads that have a gevent baseline, with the same command
line as greenloop-workload: measurements print one JSON object; the echo server runs until
killed. Written the way gevent's documentation writes these things."""
import json
import sys
import time

import gevent
from gevent.event import Event
from gevent.server import StreamServer


def per_item(total_seconds, count):
    return total_seconds * 1e9 / count


def spawn_join(count):
    def round_trip():
        greenlets = [gevent.spawn(lambda i=i: i) for i in range(count)]
        gevent.joinall(greenlets)

    # One untimed round first, as on the Swift side: the steady state, not the first touch of
    # memory.
    round_trip()
    start = time.perf_counter()
    round_trip()
    return {"ns_per_greenlet": per_item(time.perf_counter() - start, count)}


def sleep0(count):
    def body():
        for _ in range(count):
            gevent.sleep(0)

    start = time.perf_counter()
    gevent.spawn(body).join()
    return {"ns_per_call": per_item(time.perf_counter() - start, count)}


def event_pingpong(rounds):
    ping, pong = Event(), Event()

    def partner():
        for _ in range(rounds):
            ping.wait()
            ping.clear()
            pong.set()

    start = time.perf_counter()
    other = gevent.spawn(partner)
    for _ in range(rounds):
        ping.set()
        pong.wait()
        pong.clear()
    other.join()
    return {"ns_per_round_trip": per_item(time.perf_counter() - start, rounds)}


def resident_bytes():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096


def live_greenlets(count):
    before = resident_bytes()
    release = Event()
    greenlets = [gevent.spawn(release.wait) for _ in range(count)]
    gevent.sleep(0)
    after = resident_bytes()
    release.set()
    gevent.joinall(greenlets)
    return {"bytes_per_greenlet": (after - before) / count}


def echo_server(port):
    def handle(socket, address):
        while True:
            data = socket.recv(65536)
            if not data:
                return
            socket.sendall(data)

    server = StreamServer(("127.0.0.1", port), handle, backlog=1024)
    server.init_socket()
    import socket as stdlib_socket
    server.socket.setsockopt(stdlib_socket.IPPROTO_TCP, stdlib_socket.TCP_NODELAY, 1)
    server.serve_forever()


WORKLOADS = {
    "spawn-join": spawn_join,
    "sleep0": sleep0,
    "event-pingpong": event_pingpong,
    "live-greenlets": live_greenlets,
}

if __name__ == "__main__":
    name, argument = sys.argv[1], int(sys.argv[2])
    if name == "echo-server":
        echo_server(argument)
    else:
        print(json.dumps(WORKLOADS[name](argument)))
