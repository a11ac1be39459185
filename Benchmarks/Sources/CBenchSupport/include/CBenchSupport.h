// What the C baseline programs share: the clock and the median they report.
#ifndef C_BENCH_SUPPORT_H
#define C_BENCH_SUPPORT_H

#include <stdlib.h>
#include <time.h>

/// CLOCK_MONOTONIC in nanoseconds.
static inline double bench_now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static inline int bench_compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/// The median of `count` values (sorts them in place).
static inline double bench_median(double *values, int count) {
    qsort(values, (size_t)count, sizeof *values, bench_compare_doubles);
    return values[count / 2];
}

#endif
