// C events that wait and never fire, standing for the C code's idle connections and timers: the
// adapter's per-iteration cost grows with their number.
#include "CBaselines.h"

#include <sys/types.h>
#include <sys/time.h>
#include <sys/select.h>
#include <sys/socket.h>

#include <event2/event.h>

static void never(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    (void)arg;
}

int greenloop_bench_add_idle_timers(struct event_base *base, int count) {
    for (int i = 0; i < count; i++) {
        struct event *timer = evtimer_new(base, never, NULL);
        struct timeval tv = {3600 + i % 100, 0};
        if (timer == NULL || evtimer_add(timer, &tv) != 0) return -1;
    }
    return 0;
}
