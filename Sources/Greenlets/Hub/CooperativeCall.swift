#if canImport(Glibc)
import Glibc
#endif

/// Why a ``cooperativeCall(_:readable:timeout:_:)`` failed.
enum CooperativeCallFailure: Error {
    /// The call failed with this errno (not EAGAIN or EINTR).
    case failed(CInt)
    /// The descriptor did not become ready within the timeout.
    case timedOut
}

/// Runs a non-blocking system call on `fd` until it succeeds: when it would block, the greenlet
/// waits for readiness through the hub (at most `timeout` each time); EINTR is retried.
///
/// - Parameters:
///   - wait: how to wait for readiness; ``waitReadable(_:timeout:)`` / ``waitWritable(_:timeout:)``
///     when `nil`.
///   - call: returns the call's result, or -1 with errno set.
/// - Returns: the first non-negative result.
@inline(__always)
func cooperativeCall(
    _ fd: CInt, readable: Bool, timeout: Duration?, wait: ((Duration?) throws -> Bool)? = nil, _ call: () -> Int
) throws -> Int {
    while true {
        let result = call()
        if result >= 0 { return result }
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
            guard ready else { throw CooperativeCallFailure.timedOut }
        default:
            throw CooperativeCallFailure.failed(code)
        }
    }
}
