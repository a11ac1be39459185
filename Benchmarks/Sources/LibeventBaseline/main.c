// Raw C libevent baselines, in libevent's own idioms: an echo server with plain events and one
// with bufferevents, 1M timers, libevent's test/bench.c chain, and an evhttp server on its own
// event_base_dispatch. Each prints one JSON object (servers print nothing and run until SIGTERM).
//
// usage: libevent-baseline echo PORT | bufferevent-echo PORT | http PORT
//        libevent-baseline timers COUNT
//        libevent-baseline chain PIPES ACTIVE WRITES ROUNDS [idle-timers]
#include <sys/types.h>
#include <sys/time.h>
#include <sys/select.h>
#include <sys/socket.h>

#include "CBaselines.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "CBenchSupport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/// Precise timers, as Greenloop's libevent backend uses; the same method (epoll).
static struct event_base *make_base(void) {
    struct event_config *config = event_config_new();
    event_config_set_flag(config, EVENT_BASE_FLAG_IGNORE_ENV | EVENT_BASE_FLAG_PRECISE_TIMER);
    struct event_base *base = event_base_new_with_config(config);
    event_config_free(config);
    return base;
}

static struct sockaddr_in loopback(int port) {
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return address;
}

// MARK: echo, plain events

struct echo_connection {
    struct event *read;
    char buffer[65536];
};

static void echo_read(evutil_socket_t fd, short what, void *arg) {
    (void)what;
    struct echo_connection *c = arg;
    ssize_t n = recv(fd, c->buffer, sizeof c->buffer, 0);
    if (n > 0) {
        if (send(fd, c->buffer, (size_t)n, MSG_NOSIGNAL) == n) return;
    } else if (n < 0 && errno == EAGAIN) {
        return;
    }
    event_free(c->read);
    close(fd);
    free(c);
}

static void echo_accept(struct evconnlistener *listener, evutil_socket_t fd, struct sockaddr *address, int length,
                        void *arg) {
    (void)address;
    (void)length;
    (void)arg;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct echo_connection *c = malloc(sizeof *c);
    c->read = event_new(evconnlistener_get_base(listener), fd, EV_READ | EV_PERSIST, echo_read, c);
    event_add(c->read, NULL);
}

// MARK: echo, bufferevents

static void buffered_read(struct bufferevent *events, void *arg) {
    (void)arg;
    bufferevent_write_buffer(events, bufferevent_get_input(events));
}

static void buffered_event(struct bufferevent *events, short what, void *arg) {
    (void)arg;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) bufferevent_free(events);
}

static void buffered_accept(struct evconnlistener *listener, evutil_socket_t fd, struct sockaddr *address,
                            int length, void *arg) {
    (void)address;
    (void)length;
    (void)arg;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct bufferevent *events =
        bufferevent_socket_new(evconnlistener_get_base(listener), fd, BEV_OPT_CLOSE_ON_FREE);
    bufferevent_setcb(events, buffered_read, NULL, buffered_event, NULL);
    bufferevent_enable(events, EV_READ | EV_WRITE);
}

static int serve(int port, evconnlistener_cb accepted) {
    struct event_base *base = make_base();
    struct sockaddr_in address = loopback(port);
    struct evconnlistener *listener = evconnlistener_new_bind(
        base, accepted, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 1024, (struct sockaddr *)&address,
        sizeof address);
    if (!listener) {
        perror("libevent-baseline: listen");
        return 1;
    }
    event_base_dispatch(base);
    return 0;
}

// MARK: evhttp

static int http(int port) {
    struct event_base *base = make_base();
    if (greenloop_bench_http_start(base, port) != 0) {
        perror("libevent-baseline: evhttp_bind_socket");
        return 1;
    }
    event_base_dispatch(base);
    return 0;
}

// MARK: timers

static long timers_left;

static void timer_fired(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    (void)arg;
    timers_left -= 1;
}

static int timers(long count) {
    struct event_base *base = make_base();
    struct event *all = malloc(sizeof *all * (size_t)count);
    double start = bench_now_ns();
    for (long i = 0; i < count; i++) {
        struct timeval tv = {0, (i * 7919) % 1000};
        evtimer_assign(&all[i], base, timer_fired, NULL);
        evtimer_add(&all[i], &tv);
    }
    timers_left = count;
    while (timers_left > 0) event_base_loop(base, EVLOOP_ONCE);
    printf("{\"ns_per_timer\": %.2f}\n", (bench_now_ns() - start) / (double)count);
    free(all);
    event_base_free(base);
    return 0;
}

// MARK: chain (libevent's test/bench.c)

static int pipes_count, writes_left, fired, received;
static int *pipes;
static struct event *readers;

static void chain_read(evutil_socket_t fd, short what, void *arg) {
    (void)what;
    int index = (int)(intptr_t)arg;
    char byte;
    received += (int)recv(fd, &byte, 1, 0);
    if (writes_left > 0) {
        int next = index + 1 == pipes_count ? 0 : index + 1;
        send(pipes[2 * next + 1], "e", 1, MSG_NOSIGNAL);
        writes_left -= 1;
        fired += 1;
    }
}

static int chain(int count, int active, int writes, int rounds, int with_timers) {
    struct event_base *base = make_base();
    pipes_count = count;
    pipes = malloc(sizeof *pipes * 2 * (size_t)count);
    readers = calloc((size_t)count, sizeof *readers);
    for (int i = 0; i < count; i++) {
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, &pipes[2 * i]) != 0) {
            perror("libevent-baseline: socketpair");
            return 1;
        }
    }
    double *runs = malloc(sizeof *runs * (size_t)rounds);
    for (int round = 0; round < rounds; round++) {
        double start = bench_now_ns();
        for (int i = 0; i < count; i++) {
            if (round > 0) event_del(&readers[i]);
            event_assign(&readers[i], base, pipes[2 * i], EV_READ | EV_PERSIST, chain_read, (void *)(intptr_t)i);
            // The idle timer rides on the same event, as in bench.c's -t.
            struct timeval tv = {10, i % 1000};
            event_add(&readers[i], with_timers ? &tv : NULL);
        }
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
        fired = 0;
        int space = count / active;
        for (int i = 0; i < active; i++, fired++) send(pipes[2 * ((i * space) % count) + 1], "e", 1, MSG_NOSIGNAL);
        received = 0;
        writes_left = writes;
        do event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK); while (received != fired);
        runs[round] = bench_now_ns() - start;
    }
    printf("{\"us_per_run\": %.2f}\n", bench_median(runs, rounds) / 1e3);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 3 && strcmp(argv[1], "echo") == 0) return serve(atoi(argv[2]), echo_accept);
    if (argc >= 3 && strcmp(argv[1], "bufferevent-echo") == 0) return serve(atoi(argv[2]), buffered_accept);
    if (argc >= 3 && strcmp(argv[1], "http") == 0) return http(atoi(argv[2]));
    if (argc >= 3 && strcmp(argv[1], "timers") == 0) return timers(atol(argv[2]));
    if (argc >= 6 && strcmp(argv[1], "chain") == 0)
        return chain(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), atoi(argv[5]), argc > 6);
    fprintf(stderr, "usage: libevent-baseline echo|bufferevent-echo|http PORT | timers COUNT | "
                    "chain PIPES ACTIVE WRITES ROUNDS [idle-timers]\n");
    return 2;
}
