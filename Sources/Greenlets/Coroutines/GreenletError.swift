import SystemPackage

/// Ends a greenlet quietly: thrown into a greenlet by ``Greenlet/throw(_:)`` with no argument and
/// when a suspended greenlet is dropped, it unwinds the greenlet's frames. A greenlet whose body
/// ends with it is dead without an error, and its parent receives `nil`.
public struct GreenletExit: Error, Hashable, Sendable, CustomStringConvertible {
    /// Makes the error.
    public init() {}
    /// "GreenletExit".
    public var description: String { "GreenletExit" }
}

/// A greenlet operation that was refused.
public enum GreenletError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A greenlet, or a primitive (``Event``, ``Queue``, a ``Socket`` …), was used from a thread
    /// other than the one that made it; nothing was changed. ``Hub/remote`` is the way in from
    /// other threads.
    case wrongThread(operation: String, greenletThread: Int32, callingThread: Int32)
    /// The parent would make a cycle, or belongs to another thread.
    case invalidParent(String)
    /// No memory for a stack (mmap, madvise or mprotect failed).
    case stackAllocationFailed(Errno)
    /// The requested stack size is too small to run Swift code.
    case stackTooSmall(Int)
    /// A stack guard size below one page or above 1 GiB (see ``Greenlet/setStackGuardSize(_:)``).
    case invalidStackGuardSize(Int)

    /// What was attempted, and why it was refused.
    public var description: String {
        switch self {
        case let .wrongThread(operation, greenletThread, callingThread):
            return "\(operation) was called on thread \(callingThread), but it belongs to "
                + "thread \(greenletThread); greenlets and their primitives never move between threads"
        case let .invalidParent(reason):
            return "invalid parent: \(reason)"
        case let .stackAllocationFailed(errno):
            return "cannot allocate a greenlet stack: \(errno)"
        case let .invalidStackGuardSize(size):
            return "a stack guard of \(size) bytes is out of range; use one page to 1 GiB"
        case let .stackTooSmall(size):
            return "a greenlet stack of \(size) bytes is too small; use at least \(Greenlet.minimumStackSize)"
        }
    }
}
