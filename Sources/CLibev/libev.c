// The table behind CLibev.h: libev reached through dlopen(RTLD_LOCAL) only (see the header for
// why). The table is written once under pthread_once and read-only afterwards, so the calls need
// no lock.
#include "CLibev.h"

#include <dirent.h>
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <pthread.h>
#include <stdio.h>

const unsigned int greenloop_evbackend_select = EVBACKEND_SELECT;
const unsigned int greenloop_evbackend_poll = EVBACKEND_POLL;
const unsigned int greenloop_evbackend_epoll = EVBACKEND_EPOLL;
const unsigned int greenloop_evbackend_linuxaio = EVBACKEND_LINUXAIO;
const unsigned int greenloop_evbackend_iouring = EVBACKEND_IOURING;
const unsigned int greenloop_evflag_noenv = EVFLAG_NOENV;
const int greenloop_evrun_once = EVRUN_ONCE;
const int greenloop_evrun_nowait = EVRUN_NOWAIT;
const int greenloop_ev_read = EV_READ;
const int greenloop_ev_write = EV_WRITE;
const int greenloop_ev_error = EV_ERROR;
const int greenloop_ev_minpri = EV_MINPRI;
const int greenloop_ev_maxpri = EV_MAXPRI;

static struct {
    unsigned int (*supported_backends)(void);
    struct ev_loop *(*loop_new)(unsigned int);
    void (*loop_destroy)(struct ev_loop *);
    int (*run)(struct ev_loop *, int);
    unsigned int (*backend)(struct ev_loop *);
    void (*loop_fork)(struct ev_loop *);
    void (*now_update)(struct ev_loop *);
    unsigned int (*pending_count)(struct ev_loop *);
    int (*version_major)(void);
    int (*version_minor)(void);
    void (*io_start)(struct ev_loop *, ev_io *);
    void (*io_stop)(struct ev_loop *, ev_io *);
    void (*timer_start)(struct ev_loop *, ev_timer *);
    void (*timer_stop)(struct ev_loop *, ev_timer *);
} ev;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static const char *load_error;
static char load_error_text[512];

#define RESOLVE(handle, field, name)                                                         \
    do {                                                                                     \
        *(void **)(&ev.field) = dlsym(handle, name);                                         \
        if (ev.field == NULL) {                                                              \
            snprintf(load_error_text, sizeof load_error_text,                                \
                     "libev.so.4 has no symbol %s", name);                                   \
            load_error = load_error_text;                                                    \
            return;                                                                          \
        }                                                                                    \
    } while (0)

static void load(void) {
    void *handle = dlopen("libev.so.4", RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) {
        snprintf(load_error_text, sizeof load_error_text,
                 "cannot load libev.so.4 (install Debian's libev4): %s", dlerror());
        load_error = load_error_text;
        return;
    }
    RESOLVE(handle, supported_backends, "ev_supported_backends");
    RESOLVE(handle, loop_new, "ev_loop_new");
    RESOLVE(handle, loop_destroy, "ev_loop_destroy");
    RESOLVE(handle, run, "ev_run");
    RESOLVE(handle, backend, "ev_backend");
    RESOLVE(handle, loop_fork, "ev_loop_fork");
    RESOLVE(handle, now_update, "ev_now_update");
    RESOLVE(handle, pending_count, "ev_pending_count");
    RESOLVE(handle, version_major, "ev_version_major");
    RESOLVE(handle, version_minor, "ev_version_minor");
    RESOLVE(handle, io_start, "ev_io_start");
    RESOLVE(handle, io_stop, "ev_io_stop");
    RESOLVE(handle, timer_start, "ev_timer_start");
    RESOLVE(handle, timer_stop, "ev_timer_stop");
    // The handle is never closed: the loops made from it live as long as the process may.
}

int greenloop_ev_load(const char **error) {
    pthread_once(&load_once, load);
    if (load_error != NULL) {
        if (error != NULL) *error = load_error;
        return -1;
    }
    return 0;
}

unsigned int greenloop_ev_supported_backends(void) { return ev.supported_backends(); }
struct ev_loop *greenloop_ev_loop_new(unsigned int flags) { return ev.loop_new(flags); }
void greenloop_ev_loop_destroy(struct ev_loop *loop) { ev.loop_destroy(loop); }
int greenloop_ev_run(struct ev_loop *loop, int flags) { return ev.run(loop, flags); }
unsigned int greenloop_ev_backend(struct ev_loop *loop) { return ev.backend(loop); }
void greenloop_ev_loop_fork(struct ev_loop *loop) { ev.loop_fork(loop); }
void greenloop_ev_now_update(struct ev_loop *loop) { ev.now_update(loop); }
unsigned int greenloop_ev_pending_count(struct ev_loop *loop) { return ev.pending_count(loop); }
int greenloop_ev_version_major(void) { return ev.version_major(); }
int greenloop_ev_version_minor(void) { return ev.version_minor(); }

void greenloop_ev_io_init(ev_io *w, greenloop_ev_io_cb cb, void *data) {
    ev_init(w, cb);
    w->data = data;
}
void greenloop_ev_io_set(ev_io *w, int fd, int events) { ev_io_set(w, fd, events); }
void greenloop_ev_io_start(struct ev_loop *loop, ev_io *w) { ev.io_start(loop, w); }
void greenloop_ev_io_stop(struct ev_loop *loop, ev_io *w) { ev.io_stop(loop, w); }

void greenloop_ev_timer_init(ev_timer *w, greenloop_ev_timer_cb cb, void *data) {
    ev_init(w, cb);
    w->data = data;
}
void greenloop_ev_timer_set(ev_timer *w, double after) { ev_timer_set(w, after, 0.); }
void greenloop_ev_timer_start(struct ev_loop *loop, ev_timer *w) { ev.timer_start(loop, w); }
void greenloop_ev_timer_stop(struct ev_loop *loop, ev_timer *w) { ev.timer_stop(loop, w); }

void *greenloop_ev_watcher_data(void *w) { return ((ev_watcher *)w)->data; }
int greenloop_ev_watcher_is_active(void *w) { return ev_is_active((ev_watcher *)w); }
int greenloop_ev_watcher_is_pending(void *w) { return ev_is_pending((ev_watcher *)w); }
void greenloop_ev_watcher_set_priority(void *w, int priority) {
    ev_set_priority((ev_watcher *)w, priority);
}

static void greenloop_ev_probe_ready(struct ev_loop *loop, ev_io *w, int revents) {
    (void)loop;
    (void)w;
    (void)revents;
}

int greenloop_ev_install_probe(struct ev_loop *loop, ev_io *probe) {
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0) return -1;
    ev_io_init(probe, greenloop_ev_probe_ready, fd, EV_READ);
    ev.io_start(loop, probe);
    // libev applies kernel changes at its next iteration; the loop is fresh, so this one runs
    // no callback but the probe's, which cannot fire (nothing ever writes to the eventfd).
    ev.run(loop, EVRUN_NOWAIT);
    return fd;
}

int greenloop_epoll_set_holding(int fd) {
    DIR *directory = opendir("/proc/self/fd");
    if (directory == NULL) return -1;
    int found = -1;
    struct dirent *entry;
    while (found < 0 && (entry = readdir(directory)) != NULL) {
        if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
        int candidate = atoi(entry->d_name);
        char path[64], target[64];
        snprintf(path, sizeof path, "/proc/self/fd/%d", candidate);
        ssize_t length = readlink(path, target, sizeof target - 1);
        if (length <= 0) continue;
        target[length] = 0;
        if (strcmp(target, "anon_inode:[eventpoll]") != 0) continue;
        // Each registered descriptor is a line "tfd: <number> events: ...".
        snprintf(path, sizeof path, "/proc/self/fdinfo/%d", candidate);
        FILE *info = fopen(path, "re");
        if (info == NULL) continue;
        char line[256];
        while (fgets(line, sizeof line, info) != NULL) {
            int registered;
            if (sscanf(line, "tfd: %d", &registered) == 1 && registered == fd) {
                found = candidate;
                break;
            }
        }
        fclose(info);
    }
    closedir(directory);
    return found;
}
