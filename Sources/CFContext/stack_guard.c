// The report of a greenlet stack overflow: a fault handler that tells a fault in a guard region
// from any other, says so on standard error, and hands the fault on to whoever handled it before.
//
// A greenlet that overflows its stack touches the guard region below it and faults. Without a
// word, that is a plain "segmentation fault", indistinguishable from a bad pointer; worse, the
// handler that would print anything runs on the faulting stack, which has no room left. So the
// handler runs on an alternate signal stack of its own, one per thread that runs greenlets, and
// only does async-signal-safe things: it reads a table of guard regions (written before it is
// published, with release/acquire ordering), formats with its own digits, and write(2)s.
#define _GNU_SOURCE
#include "CFContext.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define SLAB_LIMIT 65536
#define ALTERNATE_STACK_SIZE (64 * 1024)

typedef struct {
    _Atomic uintptr_t base;  // 0 once the slab is gone
    uintptr_t stride;
    uintptr_t count;
    uintptr_t guard;
} slab_record;

static slab_record slabs[SLAB_LIMIT];
static _Atomic size_t slab_count;
static struct sigaction previous_segv, previous_bus;
static pthread_once_t install_once = PTHREAD_ONCE_INIT;
static pthread_key_t alternate_stack_key;

/// The guard region holding `address`, if any: its size, else 0.
static uintptr_t guard_holding(uintptr_t address) {
    size_t count = atomic_load_explicit(&slab_count, memory_order_acquire);
    for (size_t i = 0; i < count; i++) {
        uintptr_t base = atomic_load_explicit(&slabs[i].base, memory_order_acquire);
        if (base == 0 || address < base || address >= base + slabs[i].stride * slabs[i].count) continue;
        if ((address - base) % slabs[i].stride < slabs[i].guard) return slabs[i].guard;
    }
    return 0;
}

static size_t append_text(char *out, size_t at, const char *text) {
    while (*text) out[at++] = *text++;
    return at;
}

static size_t append_number(char *out, size_t at, uintptr_t value, unsigned base) {
    char digits[32];
    size_t count = 0;
    do {
        digits[count++] = "0123456789abcdef"[value % base];
        value /= base;
    } while (value != 0);
    while (count > 0) out[at++] = digits[--count];
    return at;
}

static void fault_handler(int signal, siginfo_t *info, void *context) {
    (void)context;
    uintptr_t address = (uintptr_t)info->si_addr;
    uintptr_t guard = guard_holding(address);
    if (guard != 0) {
        char message[320];
        size_t length = append_text(message, 0, "\nGreenloop: stack overflow in a greenlet: a frame reached the ");
        length = append_number(message, length, guard / 1024, 10);
        length = append_text(message, length, " KiB guard region below its stack (fault at 0x");
        length = append_number(message, length, address, 16);
        length = append_text(message, length,
                             "). Give the greenlet a larger stackSize; a single frame larger than the guard "
                             "needs a larger Greenlet.stackGuardSize.\n");
        ssize_t written = write(STDERR_FILENO, message, length);
        (void)written;
    }
    // Handed on: the previous disposition takes the fault when the instruction runs again (the
    // default one ends the process with the signal, as without this handler).
    sigaction(signal, signal == SIGBUS ? &previous_bus : &previous_segv, NULL);
}

static void free_alternate_stack(void *stack) {
    stack_t disable = {.ss_flags = SS_DISABLE};
    sigaltstack(&disable, NULL);
    munmap(stack, ALTERNATE_STACK_SIZE);
}

static void install(void) {
    pthread_key_create(&alternate_stack_key, free_alternate_stack);
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = fault_handler;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    sigaction(SIGSEGV, &action, &previous_segv);
    sigaction(SIGBUS, &action, &previous_bus);
}

void greenloop_stack_guard_prepare_thread(void) {
    pthread_once(&install_once, install);
    stack_t current;
    if (sigaltstack(NULL, &current) == 0 && !(current.ss_flags & SS_DISABLE)) return;  // has one
    void *stack = mmap(NULL, ALTERNATE_STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (stack == MAP_FAILED) return;  // no report then, but the fault still ends the process
    stack_t alternate = {.ss_sp = stack, .ss_size = ALTERNATE_STACK_SIZE, .ss_flags = 0};
    if (sigaltstack(&alternate, NULL) != 0) {
        munmap(stack, ALTERNATE_STACK_SIZE);
        return;
    }
    pthread_setspecific(alternate_stack_key, stack);
}

long greenloop_stack_guard_register(void *base, size_t stride, size_t count, size_t guard) {
    // Writers (threads making slabs) take turns; the handler takes no lock: it reads only the
    // slots that the count has published, and each slot is written before the count moves past it.
    static pthread_mutex_t writers = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&writers);
    size_t index = atomic_load_explicit(&slab_count, memory_order_relaxed);
    if (index >= SLAB_LIMIT) {
        pthread_mutex_unlock(&writers);
        return -1;
    }
    slabs[index].stride = stride;
    slabs[index].count = count;
    slabs[index].guard = guard;
    atomic_store_explicit(&slabs[index].base, (uintptr_t)base, memory_order_release);
    atomic_store_explicit(&slab_count, index + 1, memory_order_release);
    pthread_mutex_unlock(&writers);
    return (long)index;
}

void greenloop_stack_guard_unregister(long record) {
    if (record < 0 || record >= SLAB_LIMIT) return;
    atomic_store_explicit(&slabs[record].base, 0, memory_order_release);
}
