/// How a child process ended.
public enum TerminationStatus: Hashable, Sendable, CustomStringConvertible {
    /// It called `exit` (or returned from `main`) with this code.
    case exited(code: CInt)
    /// A signal ended it.
    case signaled(Signal, coreDumped: Bool)

    /// `exited with code 7`, `killed by SIGTERM (15)`.
    public var description: String {
        switch self {
        case let .exited(code): return "exited with code \(code)"
        case let .signaled(signal, dumped): return "killed by \(signal)" + (dumped ? " (core dumped)" : "")
        }
    }
}
