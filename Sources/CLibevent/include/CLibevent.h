// CLibevent: libevent 2.1 (core, extra, pthreads) for GreenloopLibevent, the adapter and tests.
//
// The system headers come first on purpose: libevent's event-config.h defines _GNU_SOURCE, which,
// seen before <sys/select.h>, changes `fd_set` in a way Swift's Glibc module map rejects.
//
// Not API: the shims below carry the `greenloop_event_` prefix; libevent's own names are
// libevent's.
#ifndef C_LIBEVENT_H
#define C_LIBEVENT_H

#include <sys/types.h>
#include <sys/time.h>
#include <sys/select.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/thread.h>
#include <event2/http.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/listener.h>

/// `evutil_socket_t` is a macro on some platforms; here it is an int.
typedef int greenloop_evutil_socket_t;

/// `event_assign` for an io event that stays added after it fires (EV_PERSIST).
int greenloop_event_assign_io(struct event *ev, struct event_base *base, int fd, short events,
                              event_callback_fn cb, void *arg);
/// `event_assign` for a one-shot timer (the `evtimer_assign` macro).
int greenloop_event_assign_timer(struct event *ev, struct event_base *base, event_callback_fn cb,
                                 void *arg);
/// `event_add` with a relative timeout in nanoseconds (or none when `timeout_ns` < 0).
int greenloop_event_add_ns(struct event *ev, long long timeout_ns);
/// 1 if the event has fired and its callback has not run yet (libevent's EVLIST_ACTIVE).
int greenloop_event_is_pending_callback(const struct event *ev);
/// 1 if the event is added (libevent's EVLIST_INSERTED or EVLIST_TIMEOUT).
int greenloop_event_is_added(const struct event *ev);

/// The I/O methods this libevent was built with; thread-safe, unlike libevent 2.1's
/// `event_get_supported_methods()` (which rebuilds a shared array on every call).
int greenloop_event_supported_methods(const char *const **names);

/// A new base with exactly `method` ("epoll", "poll", "select") or the best one when `method` is
/// NULL; ignores libevent's EVENT_* variables, uses precise timers, and has `priorities` queues.
/// NULL when that method is unavailable.
struct event_base *greenloop_event_base_new(const char *method, int priorities);

// MARK: Serving a base from another loop (LibeventAdapter)

/// The epoll descriptor of `base`, which must use the "epoll" method without changelist (as every
/// base greenloop_event_base_new makes). -1 with errno when it cannot be found. Costs a scan of
/// /proc/self/fd with one epoll_ctl per open descriptor: call it once per base.
int greenloop_event_base_epoll_fd(struct event_base *base);

/// What one walk over a base's events found.
struct greenloop_event_base_scan {
    /// 1 when some event has a timeout; then `timeout_ns` is the time left until the earliest
    /// (0 when it is due).
    int has_timeout;
    long long timeout_ns;
    /// The first signal event found, if any, and its signal number.
    struct event *signal_event;
    int signal_number;
};

/// Walks every event added to `base` (O(events): one `event_pending` each) and fills `result`.
void greenloop_event_base_scan(struct event_base *base, struct greenloop_event_base_scan *result);

/// Deletes every event of `base` whose callback is `first` or `second`; returns how many, or -1.
int greenloop_event_base_delete_events(struct event_base *base, event_callback_fn first,
                                       event_callback_fn second);

extern const short greenloop_libevent_ev_read;
extern const short greenloop_libevent_ev_write;
extern const short greenloop_libevent_ev_timeout;
extern const short greenloop_libevent_ev_signal;
extern const short greenloop_libevent_ev_persist;
extern const int greenloop_libevent_evloop_once;
extern const int greenloop_libevent_evloop_nonblock;

#endif
