/// A greenlet started with ``spawn(stackSize:_:)``: gevent's `Greenlet`, with its value typed.
///
/// Everything but the value (``AnySpawnedGreenlet/join(timeout:)``,
/// ``AnySpawnedGreenlet/kill(_:block:timeout:)``, ``AnySpawnedGreenlet/isReady``) comes from
/// ``AnySpawnedGreenlet``.
public final class SpawnedGreenlet<Value>: AnySpawnedGreenlet {
    /// What the greenlet runs; `nil` once it has started (or was killed first).
    @exclusivity(unchecked) private var body: (() throws -> Value)?

    @usableFromInline
    init(hub: Unmanaged<Hub>, stackSize: Int, body: @escaping () throws -> Value) throws {
        self.body = body
        try super.init(hub: hub, stackSize: stackSize)
    }

    override func runBody() throws -> Any {
        guard let body else { throw GreenletExit() }
        self.body = nil
        return try body()
    }

    override func discardBody() { body = nil }

    /// How the body ended, once it has.
    public var result: Result<Value, any Error>? {
        guard hasEnding else { return nil }
        if let carriedError { return .failure(carriedError) }
        return .success(returnedValue as! Value)
    }

    /// Waits for the body to end and returns its value, or throws its error (``GreenletExit``
    /// when it was killed).
    public func value() throws -> Value {
        try join()
        return try result!.get()
    }

    /// Calls `callback` (in the hub) when the body has ended; at once (next iteration) if it has.
    public func link(_ callback: @escaping (SpawnedGreenlet<Value>) -> Void) {
        requireThread("link(_:)")
        addLink { [self] in callback(self) }
    }
}

/// Starts `body` in a new greenlet at the hub's next iteration, and returns its handle.
///
/// Cost: one allocation (the greenlet) besides `body`'s own closure; a stack comes from the
/// thread's pool. See `make bench` for spawn+join against gevent.
///
/// - Parameter stackSize: the greenlet's stack; by default the hub's ``Hub/defaultStackSize``.
@inlinable
public func spawn<Value>(stackSize: Int? = nil, _ body: consuming @escaping () throws -> Value) throws
    -> SpawnedGreenlet<Value>
{
    // Inlinable so that the caller's specialisation finds SpawnedGreenlet<Value>'s metadata in a
    // cache, instead of asking the runtime for it.
    // `body` is consumed, and moves into the greenlet without a retain.
    let hub = try Hub.unretainedCurrent()
    let size = stackSize ?? hub._withUnsafeGuaranteedRef { $0.defaultStackSize }
    let spawned = try SpawnedGreenlet(hub: hub, stackSize: size, body: body)
    hub._withUnsafeGuaranteedRef { $0.scheduleStart(spawned) }
    return spawned
}

/// Starts `body` after `delay`. See ``spawn(stackSize:_:)``.
public func spawn<Value>(after delay: Duration, _ body: @escaping () throws -> Value) throws -> SpawnedGreenlet<Value> {
    try spawn {
        try sleep(delay)
        return try body()
    }
}
