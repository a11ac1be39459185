import CGreenloopSystem
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
    let rc = greenloop_spawn(&pid, "/bin/sh", nil, &argv, environ)
    guard rc == 0 else { throw Errno(rawValue: rc) }
    return pid
}
