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

struct event_base *greenloop_event_base_new(const char *method, int priorities) {
    struct event_config *config = event_config_new();
    if (config == NULL) return NULL;
    // Precise timers: libevent would otherwise be free to use a coarse clock, and epoll's
    // millisecond timeout; with the flag it uses timerfd, so timers fire on time.
    // Ignoring the environment keeps EVENT_NOEPOLL & co. from silently changing the method.
    event_config_set_flag(config, EVENT_BASE_FLAG_IGNORE_ENV | EVENT_BASE_FLAG_PRECISE_TIMER);
    if (method != NULL) {
        const char **all = event_get_supported_methods();
        for (int i = 0; all != NULL && all[i] != NULL; i++) {
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
