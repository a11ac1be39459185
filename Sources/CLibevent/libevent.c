// Shims for libevent's macros and for the flags a loop base needs (see CLibevent.h).
#include "CLibevent.h"

#include <string.h>

const short greenloop_libevent_ev_read = EV_READ;
const short greenloop_libevent_ev_write = EV_WRITE;
const short greenloop_libevent_ev_timeout = EV_TIMEOUT;
const short greenloop_libevent_ev_signal = EV_SIGNAL;
const short greenloop_libevent_ev_persist = EV_PERSIST;
const int greenloop_libevent_evloop_once = EVLOOP_ONCE;
const int greenloop_libevent_evloop_nonblock = EVLOOP_NONBLOCK;

int greenloop_event_assign_io(struct event *ev, struct event_base *base, int fd, short events,
                              event_callback_fn cb, void *arg) {
    return event_assign(ev, base, fd, (short)(events | EV_PERSIST), cb, arg);
}

int greenloop_event_assign_timer(struct event *ev, struct event_base *base, event_callback_fn cb,
                                 void *arg) {
    return evtimer_assign(ev, base, cb, arg);
}

int greenloop_event_add_ns(struct event *ev, long long timeout_ns) {
    if (timeout_ns < 0) return event_add(ev, NULL);
    struct timeval tv;
    // libevent keeps microseconds: round up so that a timer never fires before its deadline.
    long long us = (timeout_ns + 999) / 1000;
    tv.tv_sec = (time_t)(us / 1000000);
    tv.tv_usec = (suseconds_t)(us % 1000000);
    return event_add(ev, &tv);
}

int greenloop_event_is_pending_callback(const struct event *ev) {
    return (ev->ev_evcallback.evcb_flags & (EVLIST_ACTIVE | EVLIST_ACTIVE_LATER)) != 0;
}

int greenloop_event_is_added(const struct event *ev) {
    return (ev->ev_evcallback.evcb_flags & (EVLIST_INSERTED | EVLIST_TIMEOUT)) != 0;
}

#include <pthread.h>

// libevent 2.1's event_get_supported_methods() frees and rebuilds one static array on every call,
// so two threads that call it at once crash (seen: loops made on parallel test threads). The
// names it points to are static strings: copy the pointers once, under pthread_once.
static pthread_once_t greenloop_methods_once = PTHREAD_ONCE_INIT;
static const char *greenloop_methods[16];
static int greenloop_methods_count;

static void greenloop_load_methods(void) {
    const char **all = event_get_supported_methods();
    for (int i = 0; all != NULL && all[i] != NULL && i < 15; i++) greenloop_methods[greenloop_methods_count++] = all[i];
}

int greenloop_event_supported_methods(const char *const **names) {
    pthread_once(&greenloop_methods_once, greenloop_load_methods);
    *names = greenloop_methods;
    return greenloop_methods_count;
}

struct event_base *greenloop_event_base_new(const char *method, int priorities) {
    struct event_config *config = event_config_new();
    if (config == NULL) return NULL;
    // Precise timers: libevent would otherwise be free to use a coarse clock, and epoll's
    // millisecond timeout; with the flag it uses timerfd, so timers fire on time.
    // Ignoring the environment keeps EVENT_NOEPOLL & co. from silently changing the method.
    event_config_set_flag(config, EVENT_BASE_FLAG_IGNORE_ENV | EVENT_BASE_FLAG_PRECISE_TIMER);
    if (method != NULL) {
        const char *const *all;
        int count = greenloop_event_supported_methods(&all);
        for (int i = 0; i < count; i++) {
            if (strcmp(all[i], method) != 0) event_config_avoid_method(config, all[i]);
        }
    }
    struct event_base *base = event_base_new_with_config(config);
    event_config_free(config);
    if (base == NULL) return NULL;
    if (method != NULL && strcmp(event_base_get_method(base), method) != 0) {
        event_base_free(base);
        return NULL;
    }
    if (priorities > 1 && event_base_priority_init(base, priorities) != 0) {
        event_base_free(base);
        return NULL;
    }
    return base;
}

// MARK: Serving a base from another loop (the adapter)

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

static void greenloop_probe_callback(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    (void)arg;
}

int greenloop_event_base_epoll_fd(struct event_base *base) {
    if (strcmp(event_base_get_method(base), "epoll") != 0) {
        errno = EINVAL;
        return -1;
    }
    // libevent 2.1 has no call that returns its epoll descriptor. A probe finds it: libevent's
    // epoll backend (without changelist, which greenloop_event_base_new never asks for) calls
    // epoll_ctl(ADD) inside event_add, so after adding an event on a fresh eventfd, exactly one
    // epoll set in the process holds that eventfd: EPOLL_CTL_MOD succeeds on that set only
    // (ENOENT on other sets, EINVAL on descriptors that are not epoll sets). MOD writes back the
    // very mask and data libevent registered, and the probe is deleted right after.
    int probe = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (probe < 0) return -1;
    struct event *event = event_new(base, probe, EV_READ, greenloop_probe_callback, NULL);
    if (event == NULL || event_add(event, NULL) != 0) {
        if (event != NULL) event_free(event);
        close(probe);
        errno = ENOMEM;
        return -1;
    }
    int found = -1;
    DIR *directory = opendir("/proc/self/fd");
    if (directory != NULL) {
        struct dirent *entry;
        while (found < 0 && (entry = readdir(directory)) != NULL) {
            if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
            int candidate = atoi(entry->d_name);
            if (candidate == probe || candidate == dirfd(directory)) continue;
            struct epoll_event registered;
            memset(&registered, 0, sizeof registered);
            registered.events = EPOLLIN;
            registered.data.fd = probe;
            if (epoll_ctl(candidate, EPOLL_CTL_MOD, probe, &registered) == 0) found = candidate;
        }
        closedir(directory);
    }
    event_free(event);  // event_del first, inside event_free
    close(probe);
    if (found < 0) errno = ENOENT;
    return found;
}

struct greenloop_scan_state {
    struct greenloop_event_base_scan *result;
    struct timeval earliest;
};

static int greenloop_scan_one(const struct event_base *base, const struct event *event, void *arg) {
    (void)base;
    struct greenloop_scan_state *state = arg;
    short what = event_get_events(event);
    if ((what & EV_SIGNAL) && state->result->signal_event == NULL) {
        state->result->signal_event = (struct event *)event;
        state->result->signal_number = event_get_signal(event);
    }
    struct timeval deadline;
    if (event_pending(event, EV_TIMEOUT, &deadline) & EV_TIMEOUT) {
        if (!state->result->has_timeout || evutil_timercmp(&deadline, &state->earliest, <)) {
            state->earliest = deadline;
            state->result->has_timeout = 1;
        }
    }
    return 0;
}

void greenloop_event_base_scan(struct event_base *base, struct greenloop_event_base_scan *result) {
    memset(result, 0, sizeof *result);
    struct greenloop_scan_state state = {.result = result};
    event_base_foreach_event(base, greenloop_scan_one, &state);
    if (result->has_timeout) {
        // event_pending reports deadlines on the clock event_base_gettimeofday_cached reads
        // (libevent's monotonic clock shifted to wall time), so the difference is exact.
        struct timeval now, remaining;
        event_base_gettimeofday_cached(base, &now);
        if (evutil_timercmp(&state.earliest, &now, <=)) {
            result->timeout_ns = 0;
        } else {
            evutil_timersub(&state.earliest, &now, &remaining);
            result->timeout_ns = (long long)remaining.tv_sec * 1000000000LL + (long long)remaining.tv_usec * 1000LL;
        }
    }
}

struct greenloop_collect_state {
    event_callback_fn first, second;
    struct event **events;
    size_t count, capacity;
};

static int greenloop_collect_one(const struct event_base *base, const struct event *event, void *arg) {
    (void)base;
    struct greenloop_collect_state *state = arg;
    event_callback_fn callback = event_get_callback(event);
    if (callback != state->first && callback != state->second) return 0;
    if (state->count == state->capacity) {
        size_t capacity = state->capacity ? state->capacity * 2 : 64;
        struct event **grown = realloc(state->events, capacity * sizeof *grown);
        if (grown == NULL) return -1;
        state->events = grown;
        state->capacity = capacity;
    }
    state->events[state->count++] = (struct event *)event;
    return 0;
}

int greenloop_event_base_delete_events(struct event_base *base, event_callback_fn first,
                                       event_callback_fn second) {
    // Collected first: event_base_foreach_event forbids deleting while it walks.
    struct greenloop_collect_state state = {.first = first, .second = second};
    int failed = event_base_foreach_event(base, greenloop_collect_one, &state);
    for (size_t i = 0; i < state.count; i++) event_del(state.events[i]);
    free(state.events);
    return failed ? -1 : (int)state.count;
}
