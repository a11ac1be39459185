/// A value that one greenlet (or a loop callback, or C code calling back) sets once and others
/// wait for (gevent's `AsyncResult`).
///
/// Setting it wakes every waiter, in the order they began to wait.
public final class AsyncResult<Value> {
    /// The outcome, once set.
    public private(set) var result: Result<Value, any Error>?
    private let waiters = HandOffQueue<Void>()
    private let affinity = ThreadAffinity()

    /// An unset result.
    public init() {}

    /// Whether it has been set.
    public var isReady: Bool { result != nil }

    /// Sets the value and wakes every waiter. Setting again replaces it for later readers.
    public func set(_ value: Value) { complete(.success(value)) }

    /// Sets an error, which every waiter's ``get(timeout:)`` throws.
    public func fail(_ error: any Error) { complete(.failure(error)) }

    /// Waits (at most `timeout`) for the value and returns it, or throws the error it was given.
    ///
    /// - Throws: the error set with ``fail(_:)``; ``Timeout`` when the timeout passes first.
    public func get(timeout: Duration? = nil) throws -> Value {
        try affinity.check("AsyncResult.get(timeout:)")
        guard let value = try value(within: timeout) else { throw Timeout(duration: timeout ?? .zero, scope: 0) }
        return value
    }

    /// ``get(timeout:)`` that answers `nil` when its own timeout passes first, so that a caller
    /// can tell it from an outer scope's ``Timeout``, which passes through unchanged.
    func value(within timeout: Duration?) throws -> Value? {
        if let result { return try result.get() }
        let handed = try waiters.waitForHandOff(bringing: (), timeout: timeout) {}
        guard handed, let result else { return nil }
        return try result.get()
    }

    private func complete(_ outcome: Result<Value, any Error>) {
        affinity.require("AsyncResult.set(_:) or fail(_:)")
        result = outcome
        while waiters.handOff() {}
    }
}
