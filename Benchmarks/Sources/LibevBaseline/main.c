// Raw C libev baselines, in libev's own idioms: an echo server, 1M timers, and libevent's
// test/bench.c chain. Each prints one JSON object (the echo server prints nothing and runs until
// SIGTERM).
//
// usage: libev-baseline echo PORT
//        libev-baseline timers COUNT
//        libev-baseline chain PIPES ACTIVE WRITES ROUNDS [idle-timers]
#define _GNU_SOURCE
#include <ev.h>

#include "CBenchSupport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

// MARK: echo

struct echo_connection {
    ev_io read;
    char buffer[65536];
};

static void echo_read(struct ev_loop *loop, ev_io *watcher, int revents) {
    (void)revents;
    struct echo_connection *c = (struct echo_connection *)watcher;
    ssize_t n = recv(watcher->fd, c->buffer, sizeof c->buffer, 0);
    if (n > 0) {
        // Ping-pong payloads fit the socket buffer: a short write would need a write watcher,
        // which this workload never reaches.
        if (send(watcher->fd, c->buffer, (size_t)n, MSG_NOSIGNAL) == n) return;
    } else if (n < 0 && errno == EAGAIN) {
        return;
    }
    ev_io_stop(loop, watcher);
    close(watcher->fd);
    free(c);
}

static void echo_accept(struct ev_loop *loop, ev_io *watcher, int revents) {
    (void)revents;
    for (;;) {
        int fd = accept4(watcher->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct echo_connection *c = malloc(sizeof *c);
        ev_io_init(&c->read, echo_read, fd, EV_READ);
        ev_io_start(loop, &c->read);
    }
}

static int listen_on(int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&address, sizeof address) != 0 || listen(fd, 1024) != 0) {
        perror("libev-baseline: listen");
        exit(1);
    }
    return fd;
}

static int echo(int port) {
    struct ev_loop *loop = ev_default_loop(EVBACKEND_EPOLL);
    ev_io accept_watcher;
    ev_io_init(&accept_watcher, echo_accept, listen_on(port), EV_READ);
    ev_io_start(loop, &accept_watcher);
    ev_run(loop, 0);
    return 0;
}

// MARK: timers

static long timers_left;

static void timer_fired(struct ev_loop *loop, ev_timer *watcher, int revents) {
    (void)loop;
    (void)watcher;
    (void)revents;
    timers_left -= 1;
}

static int timers(long count) {
    struct ev_loop *loop = ev_loop_new(EVBACKEND_EPOLL);
    ev_timer *all = malloc(sizeof *all * (size_t)count);
    double start = bench_now_ns();
    ev_now_update(loop);
    for (long i = 0; i < count; i++) {
        // Deadlines spread over 1 ms, in an order unrelated to the order of adding.
        ev_timer_init(&all[i], timer_fired, (double)((i * 7919) % 1000) * 1e-6, 0.);
        ev_timer_start(loop, &all[i]);
    }
    timers_left = count;
    while (timers_left > 0) ev_run(loop, EVRUN_ONCE);
    double elapsed = bench_now_ns() - start;
    printf("{\"ns_per_timer\": %.2f}\n", elapsed / (double)count);
    free(all);
    ev_loop_destroy(loop);
    return 0;
}

// MARK: chain (libevent's test/bench.c)

static int pipes_count, writes_left, fired, received;
static int *pipes;
static ev_io *readers;
static ev_timer *idle_timers;

static void chain_read(struct ev_loop *loop, ev_io *watcher, int revents) {
    (void)loop;
    (void)revents;
    int index = (int)(watcher - readers);
    char byte;
    received += (int)recv(watcher->fd, &byte, 1, 0);
    if (writes_left > 0) {
        int next = index + 1 == pipes_count ? 0 : index + 1;
        send(pipes[2 * next + 1], "e", 1, MSG_NOSIGNAL);
        writes_left -= 1;
        fired += 1;
    }
}

static void idle_timeout(struct ev_loop *loop, ev_timer *watcher, int revents) {
    (void)loop;
    (void)watcher;
    (void)revents;
}

static int chain(int count, int active, int writes, int rounds, int with_timers) {
    struct ev_loop *loop = ev_loop_new(EVBACKEND_EPOLL);
    pipes_count = count;
    pipes = malloc(sizeof *pipes * 2 * (size_t)count);
    readers = calloc((size_t)count, sizeof *readers);
    idle_timers = calloc((size_t)count, sizeof *idle_timers);
    for (int i = 0; i < count; i++) {
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, &pipes[2 * i]) != 0) {
            perror("libev-baseline: socketpair");
            return 1;
        }
    }
    double *runs = malloc(sizeof *runs * (size_t)rounds);
    for (int round = 0; round < rounds; round++) {
        double start = bench_now_ns();
        for (int i = 0; i < count; i++) {
            if (ev_is_active(&readers[i])) ev_io_stop(loop, &readers[i]);
            ev_io_init(&readers[i], chain_read, pipes[2 * i], EV_READ);
            ev_io_start(loop, &readers[i]);
            if (with_timers) {
                if (ev_is_active(&idle_timers[i])) ev_timer_stop(loop, &idle_timers[i]);
                ev_timer_init(&idle_timers[i], idle_timeout, 10. + (double)(i % 1000) * 1e-6, 0.);
                ev_timer_start(loop, &idle_timers[i]);
            }
        }
        ev_run(loop, EVRUN_NOWAIT);
        fired = 0;
        int space = count / active;
        for (int i = 0; i < active; i++, fired++) send(pipes[2 * ((i * space) % count) + 1], "e", 1, MSG_NOSIGNAL);
        received = 0;
        writes_left = writes;
        do ev_run(loop, EVRUN_NOWAIT); while (received != fired);
        runs[round] = bench_now_ns() - start;
    }
    printf("{\"us_per_run\": %.2f}\n", bench_median(runs, rounds) / 1e3);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 3 && strcmp(argv[1], "echo") == 0) return echo(atoi(argv[2]));
    if (argc >= 3 && strcmp(argv[1], "timers") == 0) return timers(atol(argv[2]));
    if (argc >= 6 && strcmp(argv[1], "chain") == 0)
        return chain(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), atoi(argv[5]), argc > 6);
    fprintf(stderr, "usage: libev-baseline echo PORT | timers COUNT | chain PIPES ACTIVE WRITES ROUNDS [idle-timers]\n");
    return 2;
}
