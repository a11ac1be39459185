// CFContext: boost.context's fcontext API (libboost_context) for the Greenlets module, and the
// sanitizer annotations every switch needs.
//
// fcontext is the fastest portable stack switch there is (a handful of register moves, no system
// call; swapcontext costs a sigprocmask per switch). Its contract: a context is resumed exactly
// once per suspension, `jump_fcontext` returns the context that jumped to us, and the entry
// function of a context must never return (the process would exit): it ends with a final jump.
//
// Not API: `greenloop_` names are ours; `jump_fcontext` / `make_fcontext` are boost's C symbols.
#ifndef C_FCONTEXT_H
#define C_FCONTEXT_H

#include <stddef.h>
#include <stdint.h>

typedef void *greenloop_fcontext_t;

typedef struct {
    greenloop_fcontext_t fctx;  ///< the context that jumped here; resume it to go back
    void *data;                 ///< the pointer passed by the jumper
} greenloop_transfer_t;

// boost.context's own declarations (boost/context/detail/fcontext.hpp), C linkage.
greenloop_transfer_t jump_fcontext(greenloop_fcontext_t const to, void *vp);
greenloop_fcontext_t make_fcontext(void *sp, size_t size, void (*fn)(greenloop_transfer_t));

/// Asks the processor to bring the cache line at `address` closer: a hint, with no effect on
/// memory and no fault for any address, so safe for a line that may be gone by the time it comes.
static inline __attribute__((always_inline)) void greenloop_prefetch(const void *address) {
    __builtin_prefetch(address);
}

/// What the sanitizers need to know about one stack. Zeroed for the thread's own stack.
typedef struct {
    const void *stack_bottom;  ///< lowest usable address (AddressSanitizer)
    size_t stack_size;
    void *tsan_fiber;          ///< ThreadSanitizer's fiber handle, or NULL
} greenloop_fiber_t;

/// Non-zero when the process runs under AddressSanitizer (bit 0) or ThreadSanitizer (bit 1);
/// fixed before main.
extern int greenloop_sanitizers;

/// The switches below, with the sanitizer annotations; called only when `greenloop_sanitizers`.
greenloop_transfer_t greenloop_fiber_jump_annotated(greenloop_fcontext_t to, void *data,
                                                    const greenloop_fiber_t *target, int final);
void greenloop_fiber_entered_annotated(void);
void greenloop_fiber_create_annotated(greenloop_fiber_t *fiber);
void greenloop_fiber_destroy_annotated(greenloop_fiber_t *fiber);

/// Switches to `to`, passing `data`. `target` describes the stack being switched to.
/// `final` is 1 for the last jump out of a context that will never be resumed.
/// Cost without sanitizers: one predictable branch plus jump_fcontext (~7 ns here).
static inline __attribute__((always_inline)) greenloop_transfer_t
greenloop_fiber_jump(greenloop_fcontext_t to, void *data, const greenloop_fiber_t *target, int final) {
    if (__builtin_expect(greenloop_sanitizers != 0, 0)) {
        return greenloop_fiber_jump_annotated(to, data, target, final);
    }
    return jump_fcontext(to, data);
}

/// The first call in a new context's entry function.
static inline __attribute__((always_inline)) void greenloop_fiber_entered(void) {
    if (__builtin_expect(greenloop_sanitizers != 0, 0)) greenloop_fiber_entered_annotated();
}

/// Registers a new stack with the sanitizers (ThreadSanitizer needs a fiber per stack).
static inline void greenloop_fiber_create(greenloop_fiber_t *fiber) {
    fiber->tsan_fiber = NULL;
    if (greenloop_sanitizers != 0) greenloop_fiber_create_annotated(fiber);
}

/// Unregisters a stack that will never run again.
static inline void greenloop_fiber_destroy(greenloop_fiber_t *fiber) {
    if (greenloop_sanitizers != 0) greenloop_fiber_destroy_annotated(fiber);
}

/// The calling thread's greenlet state (a retained Swift object), or NULL before first use.
/// initial-exec: read with one instruction instead of a __tls_get_addr call (measured: 5% of a
/// switch). Fine for a library loaded with the program, which is how SwiftPM links it.
extern _Thread_local void *greenloop_thread_state __attribute__((tls_model("initial-exec")));

static inline __attribute__((always_inline)) void *greenloop_thread_state_get(void) {
    return greenloop_thread_state;
}

/// The same state for the fast switch, which calls `jump_fcontext` itself: NULL when the process
/// runs under a sanitizer, so that no fast switch happens and every switch goes through
/// `greenloop_fiber_jump` and its annotations. A test of `greenloop_sanitizers` in the fast
/// switch cost a load, a compare and a branch (3% of a switch); this costs nothing more than the
/// thread check the fast switch makes anyway.
extern _Thread_local void *greenloop_fast_switch_state __attribute__((tls_model("initial-exec")));

/// Read as an integer: the fast switch compares it with its greenlet's home address, and as a
/// nullable pointer in Swift the comparison cost a test for NULL and a branch more.
static inline __attribute__((always_inline)) uintptr_t greenloop_fast_switch_state_word(void) {
    return (uintptr_t)greenloop_fast_switch_state;
}

/// Stores `state` for the calling thread; `release` runs with it when the thread exits.
void greenloop_thread_state_set(void *state, void (*release)(void *));

/// The MADV_GUARD_INSTALL advice (Linux >= 6.13), which older headers lack.
extern const int greenloop_madv_guard_install;


/// Stack overflow reports (stack_guard.c). Installs, once per process, a SIGSEGV and SIGBUS handler
/// that reports a fault inside a registered guard region as a greenlet stack overflow and then
/// hands the fault to the previous disposition; and gives the calling thread an alternate signal
/// stack for it, if the thread has none (freed when the thread exits).
void greenloop_stack_guard_prepare_thread(void);
/// Registers a slab of `count` stacks, each `stride` bytes from `base`, each starting with a guard
/// region of `guard` bytes. Returns a record for `greenloop_stack_guard_unregister`, or -1 when
/// the table is full (that slab's overflows are then not reported by name).
long greenloop_stack_guard_register(void *base, size_t stride, size_t count, size_t guard);
/// Forgets a slab before it is unmapped.
void greenloop_stack_guard_unregister(long record);

#endif
