import SystemPackage

/// A subprocess operation that failed.
public enum SubprocessError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The program could not be started.
    case spawnFailed(String, Errno)
    /// A system call failed.
    case systemCall(String, Errno)
    /// The operation did not complete in time (for ``Subprocess/wait(timeout:)``: the process was
    /// killed with SIGKILL and reaped).
    case timedOut(String, after: Duration)
    /// The pipe was closed.
    case closed(String)

    /// What failed.
    public var description: String {
        switch self {
        case let .spawnFailed(program, errno): return "cannot start \(program): \(errno)"
        case let .systemCall(call, errno): return "\(call) failed: \(errno)"
        case let .timedOut(operation, duration): return "\(operation) timed out after \(duration)"
        case let .closed(operation): return "\(operation) was called on a closed pipe"
        }
    }
}
