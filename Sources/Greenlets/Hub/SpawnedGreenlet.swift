import GreenloopCore

/// A greenlet started with ``spawn(_:)``: gevent's `Greenlet`, with its value typed.
///
/// It starts at the hub's next loop iteration, runs as the hub's child, and is kept alive by the
/// hub until it ends: dropping the handle does not stop it. Its value or error is kept; an error
/// that escapes it is reported once to ``Hub/errorHandler`` (``GreenletExit`` is not an error).
public final class SpawnedGreenlet<Value> {
    /// The greenlet that runs the body.
    // Unchecked exclusivity (here and below): see Waiter.
    @exclusivity(unchecked) public private(set) var greenlet: Greenlet!
    private unowned let hub: Hub
    /// How the body ended, once it has.
    @exclusivity(unchecked) public private(set) var result: Result<Value, any Error>?
    @exclusivity(unchecked) private var joiners: [Waiter] = []
    @exclusivity(unchecked) private var links: [(SpawnedGreenlet<Value>) -> Void] = []
    /// See ``Killable/liveIndex``.
    @exclusivity(unchecked) var liveIndex = -1

    /// What the greenlet runs; `nil` once it has started (or was killed first).
    @exclusivity(unchecked) private var body: (() throws -> Value)?

    @usableFromInline
    init(hub: Hub, stackSize: Int, body: @escaping () throws -> Value) throws {
        self.hub = hub
        self.body = body
        greenlet = try Greenlet(stackSize: stackSize, parent: hub.greenlet, runner: self)
        hub.admitLive(self)
    }

    func runInGreenlet() {
        guard let body = body.take() else { return }
        let outcome: Result<Value, any Error>
        do {
            outcome = .success(try body())
        } catch {
            outcome = .failure(error)
            if !(error is GreenletExit) { hub.errorHandler(error, "\(greenlet!)") }
        }
        result = outcome
        // Wake joiners and run links from the hub: this greenlet is about to end.
        let joiners = self.joiners
        let links = self.links
        self.joiners = []
        self.links = []
        for waiter in joiners { waiter.wakeSoon() }
        if !links.isEmpty {
            hub.schedule { [self] in links.forEach { $0(self) } }
        }
        hub.dismissLive(self)
    }

    /// Whether the body has ended.
    public var isReady: Bool { result != nil }

    /// Waits until the body ends, at most `timeout`.
    ///
    /// - Returns: whether it ended.
    @discardableResult
    public func join(timeout: Duration? = nil) throws -> Bool {
        guard result == nil else { return true }
        let waiter = hub.takeWaiter()
        joiners.append(waiter)
        defer { joiners.removeAll { $0 === waiter } }
        guard try completes(within: timeout, { try waiter.wait() }) else { return false }
        hub.recycle(waiter)
        return result != nil
    }

    /// Waits for the body to end and returns its value, or throws its error (``GreenletExit``
    /// when it was killed).
    public func value() throws -> Value {
        try join()
        return try result!.get()
    }

    /// Raises `error` in the greenlet where it waits, so that it unwinds (its `defer` blocks run
    /// and its watchers stop). One that has not started never runs.
    ///
    /// - Parameters:
    ///   - block: wait until it has ended.
    ///   - timeout: with `block`, the longest wait.
    public func kill(_ error: any Error = GreenletExit(), block: Bool = true, timeout: Duration? = nil) throws {
        guard result == nil else { return }
        if !greenlet.isStarted {
            // It will never run: record the end now.
            body = nil
            greenlet.finish(with: .failure(error))
            result = .failure(error)
            let joiners = self.joiners
            self.joiners = []
            for waiter in joiners { waiter.wakeSoon() }
            hub.dismissLive(self)
            return
        }
        hub.schedule { [weak self] in
            guard let self, self.result == nil, !self.greenlet.isDead else { return }
            _ = try self.greenlet.throwInto(error)
        }
        if block { try join(timeout: timeout) }
    }

    /// Calls `callback` (in the hub) when the body has ended; at once (next iteration) if it has.
    public func link(_ callback: @escaping (SpawnedGreenlet<Value>) -> Void) {
        if result != nil {
            hub.schedule { [self] in callback(self) }
        } else {
            links.append(callback)
        }
    }
}

/// Starts `body` in a new greenlet at the hub's next iteration, and returns its handle.
///
/// - Parameter stackSize: the greenlet's stack; by default the hub's ``Hub/defaultStackSize``.
@inlinable
public func spawn<Value>(stackSize: Int? = nil, _ body: @escaping () throws -> Value) throws
    -> SpawnedGreenlet<Value>
{
    // Inlinable so that the caller's specialisation finds SpawnedGreenlet<Value>'s metadata in a
    // cache, instead of asking the runtime for it (an eighth of a spawn).
    let hub = try Hub.current()
    let spawned = try SpawnedGreenlet(hub: hub, stackSize: stackSize ?? hub.defaultStackSize, body: body)
    hub.scheduleStart(spawned.greenlet)
    return spawned
}

/// Starts `body` after `delay`. See ``spawn(stackSize:_:)``.
public func spawn<Value>(after delay: Duration, _ body: @escaping () throws -> Value) throws -> SpawnedGreenlet<Value> {
    try spawn {
        try sleep(delay)
        return try body()
    }
}

/// Waits for every greenlet in `greenlets` to end, at most `timeout` in all.
///
/// - Returns: whether all ended.
@discardableResult
public func joinAll<Value>(_ greenlets: [SpawnedGreenlet<Value>], timeout: Duration? = nil) throws -> Bool {
    try completes(within: timeout) {
        for greenlet in greenlets { try greenlet.join() }
    }
}

/// Kills every greenlet in `greenlets` (see ``SpawnedGreenlet/kill(_:block:timeout:)``), then,
/// with `block`, waits for them all.
public func killAll<Value>(_ greenlets: [SpawnedGreenlet<Value>], block: Bool = true, timeout: Duration? = nil) throws {
    for greenlet in greenlets { try greenlet.kill(block: false) }
    if block { try joinAll(greenlets, timeout: timeout) }
}

extension SpawnedGreenlet: GreenletRunner {}

extension SpawnedGreenlet: Killable {
    var greenletToPin: Greenlet { greenlet }
    func killQuietly() throws { try kill(block: false) }
    func joinQuietly() throws { try join() }
}
