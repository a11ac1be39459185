// Baselines in plain C for the greenlet benchmarks.
#ifndef C_BASELINES_H
#define C_BASELINES_H

#include <stdint.h>

/// Nanoseconds per switch for `switches` switches between two boost.context contexts that do
/// nothing else (ping-pong on a 64 KiB stack): the floor any greenlet switch is compared with.
double greenloop_baseline_fcontext_switch_ns(uint64_t switches);

struct event_base;

/// Starts an evhttp server on 127.0.0.1:`port` on `base` that answers every request with
/// "hello\n". 0 on success.
int greenloop_bench_http_start(struct event_base *base, int port);

/// Adds `count` C timers an hour away to `base` (and leaks them: the process ends soon after).
int greenloop_bench_add_idle_timers(struct event_base *base, int count);

#endif
