/// A process id, as a type of its own.
@frozen
public struct ProcessID: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The C `pid_t`.
    public var rawValue: CInt

    @inlinable
    public init(rawValue: CInt) { self.rawValue = rawValue }

    public var description: String { "pid \(rawValue)" }
}
