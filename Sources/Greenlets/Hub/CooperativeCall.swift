#if canImport(Glibc)
import Glibc
#endif

/// How a ``cooperativeCall(_:readable:timeout:wait:_:)`` ended. Returned rather than thrown, so
/// that a caller maps the failures to its own errors out of line, and its hot path keeps no room
/// on the stack for a caught error.
enum CooperativeCallOutcome {
    /// The call succeeded with this result.
    case completed(Int)
    /// The call failed with this errno (not EAGAIN or EINTR).
    case failed(CInt)
    /// The descriptor did not become ready within the timeout.
    case timedOut
}

/// Runs a non-blocking system call on `fd` until it succeeds or fails for good: when it would
/// block, the greenlet waits for readiness through the hub (at most `timeout` each time); EINTR
/// is retried.
///
/// - Parameters:
///   - wait: how to wait for readiness; ``waitReadable(_:timeout:)`` / ``waitWritable(_:timeout:)``
///     when `nil`.
///   - call: returns the call's result, or -1 with errno set.
/// - Throws: only what a wait throws (the greenlet was killed, or the descriptor closed under it).
@inline(__always)
func cooperativeCall(
    _ fd: CInt, readable: Bool, timeout: Duration?, wait: ((Duration?) throws -> Bool)? = nil, _ call: () -> Int
) throws -> CooperativeCallOutcome {
    while true {
        let result = call()
        if result >= 0 { return .completed(result) }
        let code = errno
        switch code {
        case EINTR:
            continue
        case EAGAIN, EWOULDBLOCK, EINPROGRESS:
            let ready: Bool
            if let wait {
                ready = try wait(timeout)
            } else {
                ready = readable ? try waitReadable(fd, timeout: timeout) : try waitWritable(fd, timeout: timeout)
            }
            guard ready else { return .timedOut }
        default:
            return .failed(code)
        }
    }
}
