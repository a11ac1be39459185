// CLibev: libev for GreenloopLibev, without ever putting libev's names into the process.
//
// Debian's libev.so.4 also exports libev's libevent-1.4 emulation (`event_add`, `event_base_new`,
// … 24 unversioned names). If libev.so.4 were linked, whichever of libev and libevent came first
// in the lookup order would win those names, and libevent (and every C library built on it) could
// silently call libev's emulation. So libev is never linked: `greenloop_ev_load` opens it with
// dlopen(RTLD_NOW | RTLD_LOCAL), whose symbols stay private to that handle, and every call below
// goes through a table of function pointers filled from that handle. `<ev.h>` is used only for
// its types and macros.
//
// Not API: every symbol here has the `greenloop_ev_` prefix.
#ifndef C_LIBEV_H
#define C_LIBEV_H

#define EV_COMPAT3 0      // libev's compatibility `ev_loop()` function clashes with `struct ev_loop`
#define EV_MULTIPLICITY 1
#include <ev.h>

/// Loads libev.so.4 once per process (thread-safe). Returns 0, or -1 and sets `*error` to a
/// static message naming the library and dlerror()'s text.
int greenloop_ev_load(const char **error);

/// The `EVBACKEND_*` constants, which Swift imports poorly (an anonymous enum of `unsigned`).
extern const unsigned int greenloop_evbackend_select;
extern const unsigned int greenloop_evbackend_poll;
extern const unsigned int greenloop_evbackend_epoll;
extern const unsigned int greenloop_evbackend_linuxaio;
extern const unsigned int greenloop_evbackend_iouring;
extern const unsigned int greenloop_evflag_noenv;
extern const int greenloop_evrun_once;
extern const int greenloop_evrun_nowait;
extern const int greenloop_ev_read;
extern const int greenloop_ev_write;
extern const int greenloop_ev_error;

// Loop. Each is the libev function of the same name without the prefix; call only after a
// successful `greenloop_ev_load`.
unsigned int greenloop_ev_supported_backends(void);
struct ev_loop *greenloop_ev_loop_new(unsigned int flags);
void greenloop_ev_loop_destroy(struct ev_loop *loop);
int greenloop_ev_run(struct ev_loop *loop, int flags);
unsigned int greenloop_ev_backend(struct ev_loop *loop);
void greenloop_ev_loop_fork(struct ev_loop *loop);
void greenloop_ev_now_update(struct ev_loop *loop);
unsigned int greenloop_ev_pending_count(struct ev_loop *loop);
int greenloop_ev_version_major(void);
int greenloop_ev_version_minor(void);

// Watchers. libev's *_init / *_set macros only write fields, so they are wrapped here as
// functions; start and stop go through the table.
typedef void (*greenloop_ev_io_cb)(struct ev_loop *loop, ev_io *w, int revents);
typedef void (*greenloop_ev_timer_cb)(struct ev_loop *loop, ev_timer *w, int revents);

void greenloop_ev_io_init(ev_io *w, greenloop_ev_io_cb cb, void *data);
void greenloop_ev_io_set(ev_io *w, int fd, int events);
void greenloop_ev_io_start(struct ev_loop *loop, ev_io *w);
void greenloop_ev_io_stop(struct ev_loop *loop, ev_io *w);

void greenloop_ev_timer_init(ev_timer *w, greenloop_ev_timer_cb cb, void *data);
void greenloop_ev_timer_set(ev_timer *w, double after);
void greenloop_ev_timer_start(struct ev_loop *loop, ev_timer *w);
void greenloop_ev_timer_stop(struct ev_loop *loop, ev_timer *w);

void *greenloop_ev_watcher_data(void *w);
int greenloop_ev_watcher_is_active(void *w);
int greenloop_ev_watcher_is_pending(void *w);
void greenloop_ev_watcher_set_priority(void *w, int priority);
extern const int greenloop_ev_minpri;
extern const int greenloop_ev_maxpri;


/// libev does not tell which descriptor is its epoll set, so a probe finds it: an eventfd that
/// `probe` (caller-owned, at a stable address) watches for reading, registered with the kernel by
/// one non-blocking iteration of the fresh `loop`. It never fires. Returns the eventfd, or -1
/// with errno set. Call right after `greenloop_ev_loop_new`, before any other watcher starts.
int greenloop_ev_install_probe(struct ev_loop *loop, ev_io *probe);
/// The epoll set in this process that has `fd` registered (read from /proc/self/fdinfo), or -1.
int greenloop_epoll_set_holding(int fd);

#endif
