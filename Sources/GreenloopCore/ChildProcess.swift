/// A process id, as a type of its own.
@frozen
public struct ProcessID: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The C `pid_t`.
    public var rawValue: CInt

    @inlinable
    public init(rawValue: CInt) { self.rawValue = rawValue }

    public var description: String { "pid \(rawValue)" }
}

/// How a child process ended.
public enum ExitStatus: Hashable, Sendable, CustomStringConvertible {
    /// It called `exit` (or returned from `main`) with this code.
    case exited(code: CInt)
    /// A signal ended it.
    case signaled(Signal, coreDumped: Bool)

    public var description: String {
        switch self {
        case let .exited(code): return "exited with code \(code)"
        case let .signaled(signal, dumped): return "killed by \(signal)" + (dumped ? " (core dumped)" : "")
        }
    }
}
