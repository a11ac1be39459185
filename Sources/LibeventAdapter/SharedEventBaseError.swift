import GreenloopCore
import SystemPackage

/// Why a ``SharedEventBase`` could not be made or served, or what it refused from C code.
public enum SharedEventBaseError: Error, Hashable, Sendable, CustomStringConvertible {
    /// libevent could not make the private base (out of memory or descriptors).
    case eventBaseUnavailable(Errno)
    /// The epoll descriptor of the private base was not found (no /proc, or a libevent that
    /// registers descriptors lazily).
    case epollDescriptorNotFound(Errno)
    /// After a fork, the base uses `method`, which another loop cannot serve (only epoll can).
    case methodCannotBeServed(IOMethod)
    /// C code added a signal event to the shared base; the adapter deleted it (see
    /// ``SharedEventBase``, "Signals").
    case signalEventDeleted(Signal)

    /// A sentence naming the problem and what to do.
    public var description: String {
        switch self {
        case let .eventBaseUnavailable(errno):
            return "libevent could not make an event_base for the shared base (\(errno))"
        case let .epollDescriptorNotFound(errno):
            return "the shared event_base's epoll descriptor was not found among /proc/self/fd (\(errno)); "
                + "the adapter needs /proc and libevent's epoll backend without changelist"
        case let .methodCannotBeServed(method):
            return "after fork, the shared event_base uses \(method.rawValue), which another loop cannot serve; "
                + "use the epoll method (the default) with a SharedEventBase that must survive fork()"
        case let .signalEventDeleted(signal):
            return "C code added a signal event for \(signal) to the shared event_base; it was deleted, because "
                + "the loop owns every signal: watch \(signal) with a SignalWatcher (or Greenlets' SignalHandler) "
                + "and call the C code from there"
        }
    }
}
