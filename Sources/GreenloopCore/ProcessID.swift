/// A process id, as a type of its own.
@frozen
public struct ProcessID: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The C `pid_t`.
    public var rawValue: CInt

    @inlinable
    /// A process id from its C value.
    public init(rawValue: CInt) { self.rawValue = rawValue }

    /// `pid 1234`.
    public var description: String { "pid \(rawValue)" }
}
