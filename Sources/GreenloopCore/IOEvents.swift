/// The readiness an ``IOWatcher`` waits for, and reports.
public struct IOEvents: OptionSet, Hashable, Sendable, CustomStringConvertible {
    /// The bits: 1 read, 2 write.
    public var rawValue: UInt8

    @inlinable
    /// Events from their bits.
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// The descriptor can be read without blocking (or is at end of file, or has an error).
    public static let read = IOEvents(rawValue: 1)
    /// The descriptor can be written without blocking.
    public static let write = IOEvents(rawValue: 2)

    /// `read`, `write`, `read|write` or `none`.
    public var description: String {
        switch (contains(.read), contains(.write)) {
        case (true, true): return "read|write"
        case (true, false): return "read"
        case (false, true): return "write"
        case (false, false): return "none"
        }
    }
}
