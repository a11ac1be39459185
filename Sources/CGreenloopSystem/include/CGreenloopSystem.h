// CGreenloopSystem: the few Linux calls GreenloopCore needs that Swift cannot reach directly
// (variadic `syscall`, `siginfo_t` unions, a raw signal handler). Not API: every symbol has the
// `greenloop_` prefix so that nothing here can collide with a system or library name.
#ifndef C_GREENLOOP_SYSTEM_H
#define C_GREENLOOP_SYSTEM_H

#include <stdint.h>
#include <sys/types.h>

/// A new eventfd (non-blocking, close-on-exec) or -1 with errno set.
int greenloop_eventfd_open(void);
/// Adds one to the eventfd's counter. Async-signal-safe and thread-safe; errors are ignored on
/// purpose (EAGAIN means the counter is already non-zero, which is all a wake-up needs).
void greenloop_eventfd_signal(int fd);
/// Resets the eventfd's counter to zero. Returns 1 if it was non-zero.
int greenloop_eventfd_drain(int fd);

/// pidfd_open(2): a close-on-exec descriptor that becomes readable when `pid` exits, or -1 with
/// errno set (ENOSYS before Linux 5.3, ESRCH for no such process).
int greenloop_pidfd_open(pid_t pid);

/// How a child ended, as read by `greenloop_pidfd_reap`.
typedef struct {
    int exited;        ///< 1 once the child has terminated and been reaped
    int by_signal;     ///< 1 if a signal killed it
    int core_dumped;   ///< 1 if it dumped core
    int status;        ///< exit code, or the signal number when by_signal is 1
} greenloop_child_status;

/// waitid(P_PIDFD, fd, WEXITED | WNOHANG): reaps that one child only, never another.
/// Returns 0 (with `out->exited` 0 when it has not ended yet) or -1 with errno set.
int greenloop_pidfd_reap(int pidfd, greenloop_child_status *out);

/// The highest signal number plus one.
int greenloop_signal_limit(void);

/// Routes `signo` to `wake_fd` (an eventfd): installs a handler that only records the signal in a
/// per-signal flag and writes to `wake_fd`, both async-signal-safe. The previous disposition is
/// kept and put back by `greenloop_signal_detach`. Returns 0 or -1 with errno set.
int greenloop_signal_attach(int signo, int wake_fd);
/// Claims `signo` for the loop identified by `owner` (non-zero). Returns 1 when the signal is now
/// (or already was) that loop's, 0 when another loop owns it. Thread-safe.
int greenloop_signal_claim(int signo, uintptr_t owner);
/// Gives `signo` up if `owner` holds it. Thread-safe.
void greenloop_signal_release(int signo, uintptr_t owner);

/// Points an attached signal at a different eventfd (after fork).
void greenloop_signal_retarget(int signo, int wake_fd);
/// Restores the disposition that was in place before `greenloop_signal_attach`.
int greenloop_signal_detach(int signo);
/// Returns 1 and clears the flag if `signo` arrived since the last call, else 0.
int greenloop_signal_take(int signo);

/// The calling thread's kernel id (gettid), for messages about thread misuse.
int greenloop_thread_id(void);

/// The path of the shared object that the process's global scope resolves `symbol` to, or NULL
/// when no loaded object exports it. Used to check which library owns a name (libev exports
/// libevent's names too).
const char *greenloop_library_defining(const char *symbol);

struct sockaddr;
/// accept4(fd, address, length, SOCK_NONBLOCK | SOCK_CLOEXEC): a GNU extension that Swift's Glibc
/// module does not expose. Returns the new descriptor or -1 with errno set.
int greenloop_accept(int fd, struct sockaddr *address, unsigned int *length);

/// pipe2(fds, O_CLOEXEC), another GNU name Swift's Glibc module hides: close-on-exec from the
/// start, so that no concurrently spawned process inherits the ends. 0, or -1 with errno set.
int greenloop_pipe(int fds[2]);

/// posix_spawnp(pid, file, actions, attributes, argv, envp) with attributes that give the child
/// an empty signal mask and default dispositions for every signal, whatever the calling thread
/// had blocked or ignored. `actions` may be NULL. Returns 0 or an errno value.
int greenloop_spawn(int *pid, const char *file, const void *actions, char *const argv[], char *const envp[]);

/// Sends `signo` to the calling process (raise(3) targets the calling thread only).
int greenloop_kill_self(int signo);

#endif
