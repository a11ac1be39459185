import SystemPackage

/// A socket operation that failed. Each case names the operation and, where there is one, the
/// address involved.
public enum SocketError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A system call failed.
    case systemCall(String, Errno, address: SocketAddress?)
    /// The operation did not complete within the socket's timeout.
    case timedOut(String, after: Duration, address: SocketAddress?)
    /// Two greenlets used the same direction of one socket at once (reading, or writing): their
    /// data would interleave. gevent's `ConcurrentObjectUseError`.
    case concurrentUse(String)
    /// The socket was closed.
    case closed(String)
    /// Another greenlet closed the socket while this operation waited on it (gevent's
    /// `cancel_wait`).
    case closedWhileWaiting(String)
    /// The peer closed the stream before the bytes asked for arrived.
    case unexpectedEndOfStream(expected: Int, received: Int)
    /// The text is not an address this type accepts.
    case invalidAddress(String)

    /// What failed, with the address.
    public var description: String {
        switch self {
        case let .systemCall(call, errno, address):
            return "\(call)\(address.map { " (\($0))" } ?? "") failed: \(errno)"
        case let .timedOut(operation, duration, address):
            return "\(operation)\(address.map { " (\($0))" } ?? "") timed out after \(duration)"
        case let .concurrentUse(operation):
            return "\(operation) was called while another greenlet is already doing the same on this socket"
        case let .closed(operation):
            return "\(operation) was called on a closed socket"
        case let .closedWhileWaiting(operation):
            return "\(operation) was waiting when another greenlet closed the socket"
        case let .unexpectedEndOfStream(expected, received):
            return "the peer closed the stream after \(received) of \(expected) bytes"
        case let .invalidAddress(reason):
            return "invalid address: \(reason)"
        }
    }
}
