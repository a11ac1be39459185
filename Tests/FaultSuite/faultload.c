// faultload: a load client for echo servers that verifies every byte it gets back, in order, per
// connection, and watches the server's descriptors and memory while it runs scenarios meant to
// break it (see README.md beside this file).
//
// One thread, epoll, non-blocking sockets. Each connection sends messages of random sizes (1 B to
// 256 KiB) whose bytes come from a generator seeded per connection, and checks what comes back
// against a second generator with the same seed: a lost, duplicated, reordered or altered byte
// shows at once. A connection writes while it reads, so that large messages never deadlock
// against the server's buffers.
//
// usage: faultload SCENARIO --port P [--pid SERVER_PID] [options]; faultload --help
// Prints key=value lines and ends with "verdict=pass" or "verdict=fail: reason"; exits 0 only on
// a pass.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_MESSAGE (256 * 1024)
#define CHUNK 65536

typedef struct {
    uint64_t state;
} generator;

static uint64_t next_random(generator *g) {
    // xorshift64*: fast, and any shift or swap of the stream changes what is expected.
    g->state ^= g->state >> 12;
    g->state ^= g->state << 25;
    g->state ^= g->state >> 27;
    return g->state * 0x2545F4914F6CDD1DULL;
}

static generator seeded(uint64_t seed) {
    generator g = {seed * 0x9E3779B97F4A7C15ULL + 0x1234567ULL};
    if (g.state == 0) g.state = 1;
    for (int i = 0; i < 4; i++) next_random(&g);
    return g;
}

enum phase { CONNECTING, TALKING, HALF_SENT, DONE, FAILED };

typedef struct {
    int fd;
    enum phase phase;
    generator sizes, sent, expected;
    size_t message;            // size of the message under way
    size_t message_sent, message_received;
    size_t limit_send;         // how much of this message may be sent now (signal scenario)
    int messages_left;         // -1: until told to stop
    int messages_done;
    unsigned long long verified;
    unsigned long long mismatches;
    int reset_on_close;        // churn: close with RST
    int reads;                 // 0: a client that never reads
} connection;

// Settings, from the command line.
static int port = 0, server_pid = 0, connections = 100, seconds = 3, waves = 1, idle_clients = 0,
           non_readers = 0, hold = 0, reset_percent = 30, max_message = MAX_MESSAGE;
static unsigned long long seed = 1;
static const char *signal_name = "TERM";
static double rss_growth_tolerance = 0.25;

static unsigned long long totals_verified, totals_mismatches, totals_unexpected_errors, totals_expected_errors,
    totals_messages;
static char failure[512];

static void fail(const char *format, ...) {
    if (failure[0]) return;  // the first reason is the one that counts
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(failure, sizeof failure, format, arguments);
    va_end(arguments);
}

static double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void pause_ms(int ms) { usleep((useconds_t)ms * 1000); }

static int server_alive(void) {
    if (server_pid <= 0) return 1;
    if (kill(server_pid, 0) != 0) return 0;
    // A zombie has ended too: its parent has not collected it yet.
    char path[64], state = 0;
    snprintf(path, sizeof path, "/proc/%d/stat", server_pid);
    FILE *file = fopen(path, "r");
    if (!file) return 0;
    if (fscanf(file, "%*d %*s %c", &state) != 1) state = 0;
    fclose(file);
    return state != 'Z' && state != 'X';
}

static int server_descriptors(void) {
    if (server_pid <= 0) return -1;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", server_pid);
    DIR *directory = opendir(path);
    if (!directory) return -1;
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir(directory)) != NULL) {
        if (entry->d_name[0] != '.') count++;
    }
    closedir(directory);
    return count;
}

static long server_rss_kib(void) {
    if (server_pid <= 0) return -1;
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", server_pid);
    FILE *file = fopen(path, "r");
    if (!file) return -1;
    long rss = -1;
    while (fgets(line, sizeof line, file)) {
        if (sscanf(line, "VmRSS: %ld", &rss) == 1) break;
    }
    fclose(file);
    return rss;
}

static int open_connection(void) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&address, sizeof address) != 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    return fd;
}

static void new_message(connection *c) {
    c->message = 1 + (size_t)(next_random(&c->sizes) % (uint64_t)max_message);
    c->message_sent = 0;
    c->message_received = 0;
    c->limit_send = c->message;
}

static void start(connection *c, uint64_t id, int messages) {
    memset(c, 0, sizeof *c);
    c->fd = open_connection();
    c->phase = c->fd < 0 ? FAILED : CONNECTING;
    c->sizes = seeded(seed ^ (id * 3 + 1));
    c->sent = seeded(seed ^ (id * 3 + 2));
    c->expected = c->sent;
    c->messages_left = messages;
    c->reads = 1;
    new_message(c);
}

static void finish(connection *c, int epoll) {
    if (c->fd < 0) return;
    epoll_ctl(epoll, EPOLL_CTL_DEL, c->fd, NULL);
    if (c->reset_on_close) {
        struct linger abort_on_close = {1, 0};
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
    }
    close(c->fd);
    c->fd = -1;
    totals_verified += c->verified;
    totals_mismatches += c->mismatches;
}

static void watch(connection *c, int epoll) {
    if (c->fd < 0) return;
    struct epoll_event event = {.events = 0, .data.ptr = c};
    int wants_write = c->phase == CONNECTING || (c->message_sent < c->limit_send && c->phase == TALKING) ||
                      (c->phase == HALF_SENT && c->message_sent < c->limit_send);
    if (wants_write) event.events |= EPOLLOUT;
    if (c->reads && c->phase != CONNECTING) event.events |= EPOLLIN;
    event.events |= EPOLLRDHUP;
    if (epoll_ctl(epoll, EPOLL_CTL_MOD, c->fd, &event) != 0) epoll_ctl(epoll, EPOLL_CTL_ADD, c->fd, &event);
}

static void error_on(connection *c, int epoll, int expected, const char *what) {
    if (expected) {
        totals_expected_errors++;
    } else {
        totals_unexpected_errors++;
        fail("connection error: %s (%s) after %llu verified bytes", what, strerror(errno), c->verified);
    }
    c->phase = FAILED;
    finish(c, epoll);
}

/// Moves a connection on after readiness. `stopping`: start no new message.
static void serve(connection *c, int epoll, uint32_t events, int stopping) {
    static unsigned char buffer[CHUNK];
    // Finished by an earlier event of the same batch.
    if (c->fd < 0) return;
    if (c->phase == CONNECTING) {
        int error = 0;
        socklen_t length = sizeof error;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &error, &length);
        if (error != 0) {
            errno = error;
            return error_on(c, epoll, 0, "connect");
        }
        c->phase = c->limit_send < c->message ? HALF_SENT : TALKING;
    }
    while (c->message_sent < c->limit_send && (events & EPOLLOUT)) {
        size_t n = c->limit_send - c->message_sent;
        if (n > CHUNK) n = CHUNK;
        generator probe = c->sent;
        for (size_t i = 0; i < n; i++) buffer[i] = (unsigned char)next_random(&probe);
        ssize_t written = send(c->fd, buffer, n, MSG_NOSIGNAL);
        if (written < 0) {
            if (errno == EAGAIN) break;
            return error_on(c, epoll, c->reset_on_close, "send");
        }
        for (ssize_t i = 0; i < written; i++) next_random(&c->sent);
        c->message_sent += (size_t)written;
    }
    while (c->reads && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
        ssize_t got = recv(c->fd, buffer, sizeof buffer, 0);
        if (got < 0) {
            if (errno == EAGAIN) break;
            return error_on(c, epoll, c->reset_on_close, "recv");
        }
        if (got == 0) {
            errno = 0;
            return error_on(c, epoll, c->reset_on_close, "the server closed the connection mid-message");
        }
        for (ssize_t i = 0; i < got; i++) {
            unsigned char want = (unsigned char)next_random(&c->expected);
            if (buffer[i] != want) c->mismatches++;
            else c->verified++;
        }
        c->message_received += (size_t)got;
        if (c->message_received > c->message_sent) {
            fail("received %zu bytes of a message of which %zu were sent", c->message_received, c->message_sent);
            c->mismatches++;
        }
        if (c->message_received == c->message) {
            c->messages_done++;
            totals_messages++;
            if (c->messages_left > 0) c->messages_left--;
            if (stopping || c->messages_left == 0) {
                c->phase = DONE;
                finish(c, epoll);
                return;
            }
            new_message(c);
        }
    }
    if (c->fd >= 0) watch(c, epoll);
}

/// Runs `count` connections until `deadline` (they then finish the message under way, for at
/// most `drain` more seconds). `messages`: per connection, -1 for as many as fit.
static void run_connections(connection *all, int count, int epoll, double deadline, double drain) {
    struct epoll_event events[512];
    int stopping = 0;
    for (;;) {
        double now = now_seconds();
        if (!stopping && now >= deadline) {
            stopping = 1;
            deadline = now + drain;
        } else if (stopping && now >= deadline) {
            for (int i = 0; i < count; i++) {
                if (all[i].fd >= 0 && all[i].phase != DONE) {
                    fail("a message was not echoed in full within %.0f s of the end (%zu of %zu bytes back)", drain,
                         all[i].message_received, all[i].message);
                    errno = ETIMEDOUT;
                    error_on(&all[i], epoll, 1, "drain");
                }
            }
            return;
        }
        int open = 0;
        for (int i = 0; i < count; i++) open += all[i].fd >= 0 && all[i].phase != DONE && all[i].phase != FAILED;
        if (open == 0) return;
        if (stopping) {
            // Finish what is under way: nothing new starts (a connection between messages ends).
            for (int i = 0; i < count; i++) {
                if (all[i].fd >= 0 && all[i].phase == TALKING && all[i].message_sent == 0) {
                    all[i].phase = DONE;
                    finish(&all[i], epoll);
                }
            }
        }
        int ready = epoll_wait(epoll, events, 512, 50);
        for (int i = 0; i < ready; i++) serve(events[i].data.ptr, epoll, events[i].events, stopping);
    }
}

static connection *make_connections(int count, int epoll, uint64_t first_id, int messages) {
    connection *all = calloc((size_t)count, sizeof *all);
    for (int i = 0; i < count; i++) {
        start(&all[i], first_id + (uint64_t)i, messages);
        if (all[i].phase == FAILED) {
            totals_unexpected_errors++;
            fail("could not connect (%s)", strerror(errno));
        }
        watch(&all[i], epoll);
    }
    return all;
}

static void close_all(connection *all, int count, int epoll) {
    for (int i = 0; i < count; i++) finish(&all[i], epoll);
    free(all);
}

/// The server's descriptors once it has had a moment to close what the clients closed.
static int settled_descriptors(int baseline) {
    int count = server_descriptors();
    for (int i = 0; i < 40 && count > baseline; i++) {
        pause_ms(50);
        count = server_descriptors();
    }
    return count;
}

static void report_server(const char *label, int baseline) {
    int fds = settled_descriptors(baseline);
    printf("%s.server_fds=%d\n%s.server_rss_kib=%ld\n", label, fds, label, server_rss_kib());
    if (baseline >= 0 && fds > baseline + 2) fail("%s: the server holds %d descriptors, %d before", label, fds, baseline);
    if (!server_alive()) fail("%s: the server exited on its own", label);
}

// Scenarios.

static void scenario_waves(int epoll) {
    int baseline = server_descriptors();
    long rss[64];
    for (int wave = 0; wave < waves && wave < 64; wave++) {
        unsigned long long before = totals_verified;
        connection *all = make_connections(connections, epoll, (uint64_t)wave * 1000000, -1);
        run_connections(all, connections, epoll, now_seconds() + seconds, 20);
        close_all(all, connections, epoll);
        char label[32];
        snprintf(label, sizeof label, "wave%d", wave + 1);
        printf("%s.bytes_verified=%llu\n", label, totals_verified - before);
        report_server(label, baseline);
        rss[wave] = server_rss_kib();
        if (totals_verified == before) fail("%s: no byte came back", label);
    }
    // The first wave grows the server's pools; later waves must not keep growing.
    for (int wave = 2; wave < waves && wave < 64; wave++) {
        if (rss[1] > 0 && rss[wave] > rss[1] * (1 + rss_growth_tolerance) + 4096) {
            fail("RSS grew between waves: %ld KiB after wave 2, %ld after wave %d", rss[1], rss[wave], wave + 1);
        }
    }
}

static void scenario_churn(int epoll) {
    int baseline = server_descriptors();
    int saved_max = max_message;
    max_message = 4096;
    double deadline = now_seconds() + seconds;
    uint64_t id = 0;
    unsigned long long closed_clean = 0, reset = 0;
    while (now_seconds() < deadline) {
        int batch = connections;
        connection *all = make_connections(batch, epoll, id, 1 + (int)(id % 3));
        for (int i = 0; i < batch; i++) {
            if ((int)(next_random(&all[i].sizes) % 100) < reset_percent) {
                all[i].reset_on_close = 1;
                all[i].messages_left = 1;
            }
        }
        // Resetting clients leave as soon as their first bytes are out, mid-exchange.
        struct epoll_event events[512];
        double batch_end = now_seconds() + 10;
        for (;;) {
            int open = 0;
            for (int i = 0; i < batch; i++) {
                connection *c = &all[i];
                if (c->fd >= 0 && c->reset_on_close && c->message_sent > 0) {
                    reset++;
                    c->phase = DONE;
                    finish(c, epoll);
                }
                open += c->fd >= 0;
            }
            if (open == 0 || now_seconds() > batch_end) break;
            int ready = epoll_wait(epoll, events, 512, 50);
            for (int i = 0; i < ready; i++) serve(events[i].data.ptr, epoll, events[i].events, 0);
        }
        for (int i = 0; i < batch; i++) {
            if (all[i].phase == DONE && !all[i].reset_on_close) closed_clean++;
            if (all[i].fd >= 0) fail("a churn connection was not served within 10 s");
        }
        close_all(all, batch, epoll);
        id += (uint64_t)batch;
    }
    max_message = saved_max;
    printf("churn.connections=%llu\nchurn.clean=%llu\nchurn.reset=%llu\n", (unsigned long long)id, closed_clean, reset);
    report_server("churn", baseline);
    if (closed_clean == 0) fail("churn: no connection completed");
}

static void scenario_idle(int epoll) {
    int baseline = server_descriptors();
    long rss_before = server_rss_kib();
    int *idle = calloc((size_t)(idle_clients + 1), sizeof *idle);
    for (int i = 0; i < idle_clients; i++) idle[i] = open_connection();
    // Clients that send and never read: the server's writes back block, and must not make it
    // buffer without bound.
    connection *stuck = calloc((size_t)(non_readers + 1), sizeof *stuck);
    for (int i = 0; i < non_readers; i++) {
        start(&stuck[i], 5000000 + (uint64_t)i, -1);
        stuck[i].reads = 0;
        stuck[i].message = 8u << 20;
        stuck[i].limit_send = stuck[i].message;
        watch(&stuck[i], epoll);
    }
    connection *normal = make_connections(connections, epoll, 6000000, -1);
    struct epoll_event events[512];
    double deadline = now_seconds() + seconds;
    while (now_seconds() < deadline) {
        int ready = epoll_wait(epoll, events, 512, 50);
        for (int i = 0; i < ready; i++) serve(events[i].data.ptr, epoll, events[i].events, 0);
    }
    run_connections(normal, connections, epoll, now_seconds(), 20);
    int served = 0;
    for (int i = 0; i < connections; i++) served += normal[i].messages_done > 0;
    long rss_during = server_rss_kib();
    unsigned long long pushed = 0;
    for (int i = 0; i < non_readers; i++) pushed += stuck[i].message_sent;
    printf("idle.idle_clients=%d\nidle.non_readers=%d\nidle.bytes_pushed_unread=%llu\nidle.normal_served=%d/%d\n",
           idle_clients, non_readers, pushed, served, connections);
    printf("idle.server_rss_kib_before=%ld\nidle.server_rss_kib_during=%ld\n", rss_before, rss_during);
    if (served != connections) fail("idle: %d of %d normal clients were served beside idle and stuck ones", served, connections);
    if (rss_before > 0 && rss_during > rss_before + 64 * 1024) {
        fail("idle: the server grew by %ld KiB while clients did not read", rss_during - rss_before);
    }
    for (int i = 0; i < idle_clients; i++) {
        if (idle[i] >= 0) close(idle[i]);
    }
    for (int i = 0; i < non_readers; i++) {
        stuck[i].reset_on_close = 1;  // unread data: the kernel resets anyway
        finish(&stuck[i], epoll);
    }
    close_all(normal, connections, epoll);
    free(idle);
    free(stuck);
    report_server("idle", baseline);
}

/// Holds `count` connections that each had one message echoed or are still waiting for it (a
/// full pool, an exhausted descriptor table); returns them.
static int *flood(int count) {
    int *fds = calloc((size_t)count, sizeof *fds);
    for (int i = 0; i < count; i++) {
        fds[i] = open_connection();
        if (fds[i] >= 0) {
            char byte = 'x';
            pause_ms(1);
            if (send(fds[i], &byte, 1, MSG_NOSIGNAL) < 0 && errno != EAGAIN) {
                // Not yet connected: the byte goes when it is; either way the server is pressed.
            }
        }
    }
    return fds;
}

static void release(int *fds, int count) {
    for (int i = 0; i < count; i++) {
        if (fds[i] >= 0) close(fds[i]);
    }
    free(fds);
}

/// After a fault: everything released, the server idles, then new clients must all be served.
static void after_fault(const char *label, int epoll, int baseline) {
    pause_ms(hold > 0 ? hold : 2000);  // idle: nothing but the server's own watchers run
    if (!server_alive()) fail("%s: the server exited on its own while idle", label);
    // Two messages each, however long the server's limit makes them queue (30 s at most).
    connection *fresh = make_connections(connections, epoll, 7000000, 2);
    run_connections(fresh, connections, epoll, now_seconds() + 30, 1);
    int served = 0;
    for (int i = 0; i < connections; i++) served += fresh[i].messages_done == 2;
    close_all(fresh, connections, epoll);
    printf("%s.new_clients_served=%d/%d\n", label, served, connections);
    if (served != connections) fail("%s: %d of %d new clients were served after the fault", label, served, connections);
    report_server(label, baseline);
}

static void scenario_exhaust(int epoll) {
    int baseline = server_descriptors();
    int *fds = flood(connections * 4);
    pause_ms(1000);
    printf("exhaust.server_fds_at_peak=%d\n", server_descriptors());
    release(fds, connections * 4);
    after_fault("exhaust", epoll, baseline);
}

static void scenario_pool(int epoll) {
    int baseline = server_descriptors();
    int *fds = flood(connections * 2);
    pause_ms(1000);
    release(fds, connections * 2);
    after_fault("pool", epoll, baseline);
}

/// Requests under way when the server is told to stop must all complete; then the server exits.
static void scenario_signal(int epoll) {
    if (server_pid <= 0) {
        fail("signal: needs --pid");
        return;
    }
    int number = strcmp(signal_name, "INT") == 0 ? SIGINT : SIGTERM;
    max_message = 64 * 1024;
    connection *all = make_connections(connections, epoll, 8000000, 1);
    for (int i = 0; i < connections; i++) {
        all[i].message = 64 * 1024;
        all[i].limit_send = all[i].message / 2;
        if (all[i].phase == CONNECTING) all[i].phase = CONNECTING;
    }
    // Half of every request out, and all that can come back of it back.
    struct epoll_event events[512];
    double until = now_seconds() + 5;
    for (;;) {
        int pending = 0;
        for (int i = 0; i < connections; i++) pending += all[i].fd >= 0 && all[i].message_received < all[i].limit_send;
        if (pending == 0 || now_seconds() > until) break;
        int ready = epoll_wait(epoll, events, 512, 50);
        for (int i = 0; i < ready; i++) serve(events[i].data.ptr, epoll, events[i].events, 0);
    }
    kill(server_pid, number);
    pause_ms(100);
    for (int i = 0; i < connections; i++) {
        all[i].limit_send = all[i].message;
        if (all[i].phase == HALF_SENT) all[i].phase = TALKING;
        watch(&all[i], epoll);
    }
    run_connections(all, connections, epoll, now_seconds(), 10);
    int completed = 0;
    for (int i = 0; i < connections; i++) completed += all[i].messages_done == 1;
    close_all(all, connections, epoll);
    printf("signal.signal=SIG%s\nsignal.requests_completed=%d/%d\n", signal_name, completed, connections);
    if (completed != connections) {
        fail("signal: %d of %d requests under way were cut by SIG%s", connections - completed, connections, signal_name);
    }
}

static void usage(FILE *out) {
    fprintf(out,
            "usage: faultload SCENARIO --port P [--pid PID] [options]; faultload free-port\n"
            "scenarios:\n"
            "  waves    --connections C --seconds S --waves W: C verifying clients for S s, W times\n"
            "  churn    --connections C --seconds S --reset-percent R: short connections, R%% reset\n"
            "  idle     --idle N --non-readers N --connections C --seconds S: idle and stuck clients\n"
            "           beside C verifying ones\n"
            "  exhaust  --connections C: 4C held connections (run the server with a low descriptor\n"
            "           limit), released; idle; then C new verifying clients\n"
            "  pool     --connections C: 2C held connections against a server with a small pool,\n"
            "           released; idle; then C new verifying clients\n"
            "  signal   --pid PID --signal TERM|INT --connections C: C requests half sent when the\n"
            "           server is signalled; every one must complete\n"
            "options: --seed N, --hold MS (idle time after a fault), --max-message BYTES,\n"
            "         --rss-tolerance FRACTION (waves)\n");
}

int main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *scenario = argv[1];
    if (strcmp(scenario, "free-port") == 0) {
        // For the driver: a port the kernel calls free now (released at once).
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = 0};
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t length = sizeof address;
        if (fd < 0 || bind(fd, (struct sockaddr *)&address, sizeof address) != 0 ||
            getsockname(fd, (struct sockaddr *)&address, &length) != 0) {
            perror("faultload free-port");
            return 1;
        }
        printf("%d\n", ntohs(address.sin_port));
        close(fd);
        return 0;
    }
    for (int i = 2; i < argc; i++) {
        const char *option = argv[i];
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (!value) {
            fprintf(stderr, "faultload: %s needs a value\n", option);
            return 2;
        }
        i++;
        if (strcmp(option, "--port") == 0) port = atoi(value);
        else if (strcmp(option, "--pid") == 0) server_pid = atoi(value);
        else if (strcmp(option, "--connections") == 0) connections = atoi(value);
        else if (strcmp(option, "--seconds") == 0) seconds = atoi(value);
        else if (strcmp(option, "--waves") == 0) waves = atoi(value);
        else if (strcmp(option, "--idle") == 0) idle_clients = atoi(value);
        else if (strcmp(option, "--non-readers") == 0) non_readers = atoi(value);
        else if (strcmp(option, "--reset-percent") == 0) reset_percent = atoi(value);
        else if (strcmp(option, "--hold") == 0) hold = atoi(value);
        else if (strcmp(option, "--max-message") == 0) max_message = atoi(value);
        else if (strcmp(option, "--seed") == 0) seed = strtoull(value, NULL, 10);
        else if (strcmp(option, "--signal") == 0) signal_name = value;
        else if (strcmp(option, "--rss-tolerance") == 0) rss_growth_tolerance = atof(value);
        else {
            fprintf(stderr, "faultload: unknown option %s\n", option);
            usage(stderr);
            return 2;
        }
    }
    if (port <= 0 || port > 65535 || connections <= 0 || seconds < 0 || waves <= 0 || max_message <= 0 ||
        max_message > MAX_MESSAGE) {
        fprintf(stderr, "faultload: bad settings (port %d, connections %d, seconds %d, waves %d, max message %d)\n",
                port, connections, seconds, waves, max_message);
        return 2;
    }
    // Room for every connection the scenarios open, on this side.
    struct rlimit limit;
    getrlimit(RLIMIT_NOFILE, &limit);
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
    signal(SIGPIPE, SIG_IGN);
    int epoll = epoll_create1(EPOLL_CLOEXEC);
    double started = now_seconds();
    printf("scenario=%s\nserver_fds_before=%d\nserver_rss_kib_before=%ld\n", scenario, server_descriptors(),
           server_rss_kib());
    if (strcmp(scenario, "waves") == 0) scenario_waves(epoll);
    else if (strcmp(scenario, "churn") == 0) scenario_churn(epoll);
    else if (strcmp(scenario, "idle") == 0) scenario_idle(epoll);
    else if (strcmp(scenario, "exhaust") == 0) scenario_exhaust(epoll);
    else if (strcmp(scenario, "pool") == 0) scenario_pool(epoll);
    else if (strcmp(scenario, "signal") == 0) scenario_signal(epoll);
    else {
        fprintf(stderr, "faultload: unknown scenario %s\n", scenario);
        usage(stderr);
        return 2;
    }
    if (totals_mismatches > 0) fail("%llu echoed bytes differed from what was sent", totals_mismatches);
    if (totals_unexpected_errors > 0 && !failure[0]) fail("%llu unexpected connection errors", totals_unexpected_errors);
    printf("bytes_verified=%llu\nmessages=%llu\nmismatches=%llu\nerrors_expected=%llu\nerrors_unexpected=%llu\n"
           "seconds=%.1f\n",
           totals_verified, totals_messages, totals_mismatches, totals_expected_errors, totals_unexpected_errors,
           now_seconds() - started);
    if (failure[0]) {
        printf("verdict=fail: %s\n", failure);
        return 1;
    }
    printf("verdict=pass\n");
    return 0;
}
