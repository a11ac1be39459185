// The raw boost.context switch, measured the way the greenlet switch is: a ping-pong.
#include "CBaselines.h"

#include <stdlib.h>
#include <time.h>

typedef void *fcontext_t;
typedef struct { fcontext_t fctx; void *data; } transfer_t;
transfer_t jump_fcontext(fcontext_t const to, void *vp);
fcontext_t make_fcontext(void *sp, size_t size, void (*fn)(transfer_t));

static void bounce(transfer_t t) {
    for (;;) t = jump_fcontext(t.fctx, t.data);
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

double greenloop_baseline_fcontext_switch_ns(uint64_t switches) {
    size_t size = 64 * 1024;
    char *stack = malloc(size);
    fcontext_t other = make_fcontext(stack + size, size, bounce);
    uint64_t start = now_ns();
    for (uint64_t i = 0; i < switches / 2; i++) {
        transfer_t t = jump_fcontext(other, NULL);
        other = t.fctx;
    }
    uint64_t elapsed = now_ns() - start;
    free(stack);  // `bounce` never ends: its stack is simply dropped
    return (double)elapsed / (double)switches;
}
