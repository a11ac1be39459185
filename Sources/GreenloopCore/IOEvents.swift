/// The readiness an ``IOWatcher`` waits for, and reports.
public struct IOEvents: OptionSet, Hashable, Sendable, CustomStringConvertible {
    /// The bits: 1 read, 2 write.
    public var rawValue: UInt8

    @inlinable
    /// Events from their bits.
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    // Computed and inlinable rather than stored: a stored static is reached through a lazy
    // initialiser's accessor, a call on every io callback.
    /// The descriptor can be read without blocking (or is at end of file, or has an error).
    @inlinable public static var read: IOEvents { IOEvents(rawValue: 1) }
    /// The descriptor can be written without blocking.
    @inlinable public static var write: IOEvents { IOEvents(rawValue: 2) }

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
