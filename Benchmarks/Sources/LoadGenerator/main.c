// The echo load generator: N TCP connections to 127.0.0.1:port, each a fixed-size ping-pong
// (send `size` bytes, wait for all of them back, again), for a duration, on one epoll thread.
// Prints one JSON object: round trips/s, p50 and p99 latency, and, given the server's pid, the
// server's CPU time (user + system, every thread, from the scheduler's count in
// /proc/<pid>/task/*/schedstat) per round trip over the same window.
//
// usage: loadgen PORT CONNECTIONS SIZE SECONDS [SERVER_PID]
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LATENCY_BUCKETS 200000 /* microseconds; above goes to the last */

struct connection {
    int fd;
    size_t received;
    unsigned long long sent_at;
};

static unsigned long long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (unsigned long long)t.tv_sec * 1000000000ULL + (unsigned long long)t.tv_nsec;
}

/// CPU time of every thread of `pid` so far, in nanoseconds, or -1: the sum of the first field
/// of each /proc/<pid>/task/<tid>/schedstat, the scheduler's own count of time on a CPU.
/// /proc/<pid>/stat counts clock ticks (10 ms here), so each end of a 2 s window may be a tick
/// off: about 1% of a busy server's CPU time, more of one that is idle part of the time.
static long long cpu_ns(int pid) {
    if (pid <= 0) return -1;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", pid);
    DIR *tasks = opendir(path);
    if (!tasks) return -1;
    long long total = 0;
    int found = 0;
    struct dirent *task;
    while ((task = readdir(tasks)) != NULL) {
        if (task->d_name[0] == '.') continue;
        char file_path[300];
        snprintf(file_path, sizeof file_path, "/proc/%d/task/%s/schedstat", pid, task->d_name);
        FILE *file = fopen(file_path, "r");
        if (!file) continue;  // the thread has just exited
        unsigned long long on_cpu = 0;
        if (fscanf(file, "%llu", &on_cpu) == 1) {
            total += (long long)on_cpu;
            found = 1;
        }
        fclose(file);
    }
    closedir(tasks);
    return found ? total : -1;
}

static void send_ping(struct connection *c, const char *payload, size_t size) {
    c->sent_at = now_ns();
    c->received = 0;
    ssize_t n = send(c->fd, payload, size, MSG_NOSIGNAL);
    if (n != (ssize_t)size) {
        fprintf(stderr, "loadgen: short send (%zd): %s\n", n, strerror(errno));
        exit(1);
    }
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: loadgen PORT CONNECTIONS SIZE SECONDS [SERVER_PID]\n");
        return 2;
    }
    int port = atoi(argv[1]), count = atoi(argv[2]);
    size_t size = (size_t)atoi(argv[3]);
    double seconds = atof(argv[4]);
    int server = argc > 5 ? atoi(argv[5]) : 0;
    char *payload = malloc(size), *scratch = malloc(65536);
    memset(payload, 'x', size);
    unsigned long long *latency = calloc(LATENCY_BUCKETS + 1, sizeof *latency);
    struct connection *connections = calloc((size_t)count, sizeof *connections);
    int epoll = epoll_create1(EPOLL_CLOEXEC);

    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < count; i++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(fd, (struct sockaddr *)&address, sizeof address) != 0) {
            fprintf(stderr, "loadgen: connect to port %d: %s\n", port, strerror(errno));
            return 1;
        }
        fcntl(fd, F_SETFL, O_NONBLOCK);
        connections[i].fd = fd;
        struct epoll_event event = {.events = EPOLLIN, .data.ptr = &connections[i]};
        epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event);
    }

    // A short warm-up, then the measured window.
    unsigned long long start = now_ns(), warm = start + 300000000ULL;
    unsigned long long end = warm + (unsigned long long)(seconds * 1e9);
    for (int i = 0; i < count; i++) send_ping(&connections[i], payload, size);
    long long cpu_start = -1;
    unsigned long long measured_start = 0, round_trips = 0;
    int measuring = 0;
    struct epoll_event events[256];
    for (;;) {
        unsigned long long t = now_ns();
        if (!measuring && t >= warm) {
            measuring = 1;
            measured_start = t;
            cpu_start = cpu_ns(server);
        }
        if (t >= end) break;
        int ready = epoll_wait(epoll, events, 256, 10);
        for (int e = 0; e < ready; e++) {
            struct connection *c = events[e].data.ptr;
            for (;;) {
                ssize_t n = recv(c->fd, scratch, 65536, 0);
                if (n > 0) {
                    c->received += (size_t)n;
                    continue;
                }
                if (n == 0) {
                    fprintf(stderr, "loadgen: the server closed a connection\n");
                    return 1;
                }
                if (errno == EAGAIN) break;
                fprintf(stderr, "loadgen: recv: %s\n", strerror(errno));
                return 1;
            }
            if (c->received >= size) {
                if (measuring) {
                    unsigned long long us = (now_ns() - c->sent_at) / 1000ULL;
                    latency[us < LATENCY_BUCKETS ? us : LATENCY_BUCKETS] += 1;
                    round_trips += 1;
                }
                send_ping(c, payload, size);
            }
        }
    }
    unsigned long long measured_end = now_ns();
    long long cpu_end = cpu_ns(server);
    double elapsed = (double)(measured_end - measured_start) / 1e9;
    unsigned long long p50 = 0, p99 = 0, seen = 0;
    for (unsigned long long us = 0; us <= LATENCY_BUCKETS; us++) {
        seen += latency[us];
        if (!p50 && seen * 2 >= round_trips) p50 = us ? us : 1;
        if (!p99 && seen * 100 >= round_trips * 99) { p99 = us ? us : 1; break; }
    }
    printf("{\"round_trips_per_second\": %.1f, \"p50_us\": %llu, \"p99_us\": %llu", round_trips / elapsed, p50, p99);
    if (cpu_start >= 0 && cpu_end >= 0 && round_trips > 0) {
        double cpu_us = (double)(cpu_end - cpu_start) / 1e3;
        printf(", \"server_cpu_us_per_round_trip\": %.3f, \"server_cpu_share\": %.3f", cpu_us / (double)round_trips,
               cpu_us / 1e6 / elapsed);
    }
    printf("}\n");
    return 0;
}
