import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Starts a child process running `/bin/sh -c script` and returns its pid.
public func spawnShell(_ script: String) throws -> pid_t {
    var pid: pid_t = 0
    let arguments = ["/bin/sh", "-c", script]
    var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    // The child must not inherit this thread's blocked signals or ignored dispositions.
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var none = sigset_t()
    var all = sigset_t()
    sigemptyset(&none)
    sigfillset(&all)
    posix_spawnattr_setsigmask(&attributes, &none)
    posix_spawnattr_setsigdefault(&attributes, &all)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
    let rc = posix_spawn(&pid, "/bin/sh", nil, &attributes, &argv, environ)
    guard rc == 0 else { throw Errno(rawValue: rc) }
    return pid
}
