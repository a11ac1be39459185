// The sanitizer half of CFContext.h. The sanitizer runtimes are reached through weak symbols, so
// nothing here costs anything, or needs a sanitizer runtime, in a normal build.
#define _GNU_SOURCE
#include "CFContext.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

const int greenloop_madv_guard_install = 102;

// AddressSanitizer's fiber API (sanitizer/common_interface_defs.h).
void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom, size_t size)
    __attribute__((weak));
void __sanitizer_finish_switch_fiber(void *fake_stack_save, const void **bottom_old, size_t *size_old)
    __attribute__((weak));
// ThreadSanitizer's fiber API (sanitizer/tsan_interface.h).
void *__tsan_get_current_fiber(void) __attribute__((weak));
void *__tsan_create_fiber(unsigned flags) __attribute__((weak));
void __tsan_destroy_fiber(void *fiber) __attribute__((weak));
void __tsan_switch_to_fiber(void *fiber, unsigned flags) __attribute__((weak));

int greenloop_sanitizers = 0;

__attribute__((constructor)) static void detect_sanitizers(void) {
    int flags = 0;
    if (__sanitizer_start_switch_fiber != NULL && __sanitizer_finish_switch_fiber != NULL) flags |= 1;
    if (__tsan_switch_to_fiber != NULL && __tsan_create_fiber != NULL) flags |= 2;
    greenloop_sanitizers = flags;
}

greenloop_transfer_t greenloop_fiber_jump_annotated(greenloop_fcontext_t to, void *data,
                                                    const greenloop_fiber_t *target, int final) {
    void *fake_stack = NULL;
    if (greenloop_sanitizers & 1) {
        // A NULL save slot tells ASan that the current stack is gone for good.
        __sanitizer_start_switch_fiber(final ? NULL : &fake_stack, target->stack_bottom, target->stack_size);
    }
    if (greenloop_sanitizers & 2) {
        void *fiber = target->tsan_fiber;
        if (fiber == NULL) fiber = __tsan_get_current_fiber();  // unreachable by construction
        __tsan_switch_to_fiber(fiber, 0);
    }
    greenloop_transfer_t transfer = jump_fcontext(to, data);
    if (greenloop_sanitizers & 1) __sanitizer_finish_switch_fiber(fake_stack, NULL, NULL);
    return transfer;
}

void greenloop_fiber_entered_annotated(void) {
    if (greenloop_sanitizers & 1) __sanitizer_finish_switch_fiber(NULL, NULL, NULL);
}

void greenloop_fiber_create_annotated(greenloop_fiber_t *fiber) {
    if ((greenloop_sanitizers & 1) && fiber->stack_size == 0) {
        // The thread's own stack: ASan needs its real bounds when a switch goes back to it.
        pthread_attr_t attr;
        void *address = NULL;
        size_t size = 0;
        if (pthread_getattr_np(pthread_self(), &attr) == 0) {
            pthread_attr_getstack(&attr, &address, &size);
            pthread_attr_destroy(&attr);
        }
        fiber->stack_bottom = address;
        fiber->stack_size = size;
        fiber->tsan_fiber = NULL;
        if (greenloop_sanitizers & 2) fiber->tsan_fiber = __tsan_get_current_fiber();
        return;
    }
    if (greenloop_sanitizers & 2) {
        // A stack of size 0 is the thread's own: its TSan fiber is the thread's current one.
        fiber->tsan_fiber = fiber->stack_size == 0 ? __tsan_get_current_fiber() : __tsan_create_fiber(0);
    }
}

void greenloop_fiber_destroy_annotated(greenloop_fiber_t *fiber) {
    if ((greenloop_sanitizers & 2) && fiber->tsan_fiber != NULL && fiber->stack_size != 0) {
        __tsan_destroy_fiber(fiber->tsan_fiber);
    }
    fiber->tsan_fiber = NULL;
}

// ---- Per-thread greenlet state -------------------------------------------------------------
// Read on every switch, so through a plain _Thread_local; the pthread key exists only for its
// destructor, which releases the state when the thread ends.

_Thread_local void *greenloop_thread_state __attribute__((tls_model("initial-exec"))) = NULL;
_Thread_local void *greenloop_fast_switch_state __attribute__((tls_model("initial-exec"))) = NULL;

static pthread_key_t state_key;
static pthread_once_t state_key_once = PTHREAD_ONCE_INIT;
static void (*_Atomic state_release)(void *);  // the same function from every thread

static void run_release(void *state) {
    void (*release)(void *) = atomic_load(&state_release);
    // The state stays the thread's while it is released: releasing it destroys the thread's hub,
    // which runs the thread's greenlets one last time. Cleared after: nothing runs in between.
    if (release != NULL) release(state);
    greenloop_thread_state = NULL;
    greenloop_fast_switch_state = NULL;
}

static void make_key(void) { pthread_key_create(&state_key, run_release); }

void greenloop_thread_state_set(void *state, void (*release)(void *)) {
    atomic_store(&state_release, release);
    pthread_once(&state_key_once, make_key);
    greenloop_thread_state = state;
    // Set once sanitizers are known (before main): see CFContext.h.
    greenloop_fast_switch_state = greenloop_sanitizers != 0 ? NULL : state;
    pthread_setspecific(state_key, state);
}
