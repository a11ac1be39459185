/// Carries a result from a C callback to a waiting greenlet, through the callback's `void *`
/// argument, so that a call into a callback-style C library reads as straight-line code:
///
/// ```swift
/// let reply = CallbackResult<String>()
/// redisAsyncCommand(context, onReply, reply.retainedContext(), "GET %s", key)
/// let value = try reply.wait(timeout: .seconds(1))
///
/// // The C callback: a top-level function, since C function pointers capture nothing.
/// func onReply(_ c: UnsafeMutablePointer<redisAsyncContext>?, _ r: UnsafeMutableRawPointer?,
///              _ context: UnsafeMutableRawPointer?) {
///     CallbackResult<String>.complete(context, with: .success(describe(r)))
/// }
/// ```
///
/// ``retainedContext()`` keeps the object alive for the C side until ``complete(_:with:)``
/// releases it, whether or not a greenlet still waits (one that timed out has left). Each
/// context must be completed exactly once: a C library that never calls back (or calls twice)
/// leaks the object (or crashes), so use this for request/response callbacks, which libraries
/// such as hiredis and evdns guarantee to call once, with an error when the connection ends.
///
/// Completing happens on the loop's thread, inside the loop's dispatch of the C event; the waiter
/// resumes at the hub's next turn (see ``AsyncResult``).
public final class CallbackResult<Value> {
    /// The result greenlets wait on.
    public let result = AsyncResult<Value>()

    /// An unset result.
    public init() {}

    /// A pointer for the C callback's `void *` argument; it holds a reference to this object
    /// until ``complete(_:with:)`` is called with it.
    public func retainedContext() -> UnsafeMutableRawPointer {
        // Invariant: balanced by the takeRetainedValue in complete(_:with:).
        Unmanaged.passRetained(self).toOpaque()
    }

    /// Completes the result behind `context` (from ``retainedContext()``) and releases it. Call it
    /// from the C callback, once per context.
    ///
    /// - Precondition: `context` came from ``retainedContext()`` of a `CallbackResult<Value>` and
    ///   was not completed before.
    public static func complete(_ context: UnsafeMutableRawPointer?, with outcome: Result<Value, any Error>) {
        guard let context else { misuse("CallbackResult.complete: the C callback passed a NULL context") }
        // Invariant: `context` is the +1 reference retainedContext() made; taking it here ends it.
        let box = Unmanaged<CallbackResult<Value>>.fromOpaque(context).takeRetainedValue()
        switch outcome {
        case let .success(value): box.result.set(value)
        case let .failure(error): box.result.fail(error)
        }
    }

    /// Waits (at most `timeout`) for the C side and returns its value, or throws its error.
    ///
    /// - Throws: the error the callback completed with; ``Timeout`` when the timeout passes first.
    public func wait(timeout: Duration? = nil) throws -> Value {
        try result.get(timeout: timeout)
    }
}
