/// Names a handler registered with ``EventLoop/addForkHandler(_:)``.
public struct ForkHandlerID: Hashable, Sendable {
    /// Unique within its loop.
    public let rawValue: Int

    /// Wraps a raw value (made by the loop).
    public init(rawValue: Int) { self.rawValue = rawValue }
}
