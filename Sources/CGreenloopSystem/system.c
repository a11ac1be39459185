// The Linux calls behind CGreenloopSystem.h. Each function is a thin wrapper; the reasons for the
// non-obvious ones are given where they are defined.
#define _GNU_SOURCE
#include "CGreenloopSystem.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif

int greenloop_eventfd_open(void) {
    return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

void greenloop_eventfd_signal(int fd) {
    uint64_t one = 1;
    int saved = errno;  // may run inside a signal handler: leave errno as it was
    ssize_t written = write(fd, &one, sizeof one);
    (void)written;
    errno = saved;
}

int greenloop_eventfd_drain(int fd) {
    uint64_t value = 0;
    ssize_t n;
    do {
        n = read(fd, &value, sizeof value);
    } while (n < 0 && errno == EINTR);
    return n == (ssize_t)sizeof value && value != 0;
}

int greenloop_pidfd_open(pid_t pid) {
    // glibc before 2.36 has no wrapper, and `syscall` is variadic, which Swift cannot call.
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

int greenloop_pidfd_reap(int pidfd, greenloop_child_status *out) {
    siginfo_t info;
    memset(&info, 0, sizeof info);
    memset(out, 0, sizeof *out);
    int rc;
    do {
        rc = waitid((idtype_t)P_PIDFD, (id_t)pidfd, &info, WEXITED | WNOHANG);
    } while (rc < 0 && errno == EINTR);
    if (rc < 0) return -1;
    if (info.si_pid == 0) return 0;  // WNOHANG and not ended yet
    out->exited = 1;
    switch (info.si_code) {
    case CLD_EXITED:
        out->status = info.si_status;
        break;
    case CLD_DUMPED:
        out->core_dumped = 1;
        /* fall through */
    default:
        out->by_signal = 1;
        out->status = info.si_status;
        break;
    }
    return 0;
}

// ---- Signals ---------------------------------------------------------------------------------
// One process-wide handler for every signal a loop watches. It does the only two things that are
// async-signal-safe and enough: set the signal's flag and write to the owning loop's eventfd. The
// loop reads the flags on its own thread and runs the Swift callbacks there. Swift code never runs
// inside the handler. Which loop owns a signal is decided by greenloop_signal_claim below, which
// guarantees one attach per signal at a time; these arrays only mirror that decision.

static _Atomic int wake_fd_of[_NSIG];      // fd + 1 of the owning loop's eventfd; 0 = none
static _Atomic int arrived[_NSIG];
static struct sigaction previous[_NSIG];

static void greenloop_signal_handler(int signo) {
    if (signo <= 0 || signo >= _NSIG) return;
    atomic_store_explicit(&arrived[signo], 1, memory_order_release);
    int fd = atomic_load_explicit(&wake_fd_of[signo], memory_order_acquire) - 1;
    if (fd >= 0) greenloop_eventfd_signal(fd);
}

int greenloop_signal_limit(void) { return _NSIG; }

// Which loop owns each signal: a process-wide table under a pthread mutex (which
// ThreadSanitizer understands; Swift's futex-based Mutex is invisible to it).
static pthread_mutex_t owners_lock = PTHREAD_MUTEX_INITIALIZER;
static uintptr_t owner_of[_NSIG];

int greenloop_signal_claim(int signo, uintptr_t owner) {
    if (signo <= 0 || signo >= _NSIG || owner == 0) return 0;
    pthread_mutex_lock(&owners_lock);
    int claimed = owner_of[signo] == 0 || owner_of[signo] == owner;
    if (claimed) owner_of[signo] = owner;
    pthread_mutex_unlock(&owners_lock);
    return claimed;
}

void greenloop_signal_release(int signo, uintptr_t owner) {
    if (signo <= 0 || signo >= _NSIG) return;
    pthread_mutex_lock(&owners_lock);
    if (owner_of[signo] == owner) owner_of[signo] = 0;
    pthread_mutex_unlock(&owners_lock);
}

int greenloop_signal_attach(int signo, int wake_fd) {
    if (signo <= 0 || signo >= _NSIG) { errno = EINVAL; return -1; }
    atomic_store(&arrived[signo], 0);
    atomic_store(&wake_fd_of[signo], wake_fd + 1);
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = greenloop_signal_handler;
    sigfillset(&action.sa_mask);  // the handler is short; nothing may interrupt it
    action.sa_flags = SA_RESTART;
    if (sigaction(signo, &action, &previous[signo]) < 0) {
        atomic_store(&wake_fd_of[signo], 0);
        return -1;
    }
    // A signal blocked by the thread that owns the loop would otherwise never arrive.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, signo);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    return 0;
}

void greenloop_signal_retarget(int signo, int wake_fd) {
    if (signo <= 0 || signo >= _NSIG) return;
    atomic_store(&wake_fd_of[signo], wake_fd + 1);
}

int greenloop_signal_detach(int signo) {
    if (signo <= 0 || signo >= _NSIG) { errno = EINVAL; return -1; }
    int rc = sigaction(signo, &previous[signo], NULL);
    atomic_store(&wake_fd_of[signo], 0);
    atomic_store(&arrived[signo], 0);
    return rc;
}

int greenloop_signal_take(int signo) {
    if (signo <= 0 || signo >= _NSIG) return 0;
    return atomic_exchange_explicit(&arrived[signo], 0, memory_order_acq_rel);
}

int greenloop_thread_id(void) { return (int)gettid(); }

int greenloop_kill_self(int signo) { return kill(getpid(), signo); }

const char *greenloop_library_defining(const char *symbol) {
    void *address = dlsym(RTLD_DEFAULT, symbol);
    if (address == NULL) return NULL;
    Dl_info info;
    if (dladdr(address, &info) == 0) return NULL;
    return info.dli_fname;
}

int greenloop_accept(int fd, struct sockaddr *address, unsigned int *length) {
    return accept4(fd, address, (socklen_t *)length, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

int greenloop_pipe(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

int greenloop_spawn(int *pid, const char *file, const void *actions, char *const argv[], char *const envp[]) {
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attributes, &none);
    posix_spawnattr_setsigdefault(&attributes, &all);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t child = 0;
    int rc = posix_spawnp(&child, file, (const posix_spawn_file_actions_t *)actions, &attributes, argv, envp);
    posix_spawnattr_destroy(&attributes);
    if (rc == 0) *pid = child;
    return rc;
}
