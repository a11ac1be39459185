/// A greenlet started with ``spawn(stackSize:_:)``, whatever its value type: what the hub,
/// ``Group``, ``joinAll(_:timeout:)`` and ``killAll(_:block:timeout:)`` work with. Every spawned
/// greenlet is a ``SpawnedGreenlet``, which adds its typed value.
///
/// As in gevent, a spawned greenlet *is* a greenlet (one object, one allocation): a child of the
/// hub's greenlet, whose body is the closure given to `spawn`.
/// It starts at the hub's next loop iteration and is kept alive by the hub until it ends:
/// dropping the handle does not stop it. Its outcome is kept; an error that escapes it is
/// reported once to ``Hub/errorHandler`` (``GreenletExit`` is not an error).
///
/// The machinery lives here, not in the generic class, so that starting, running and ending a
/// greenlet runs no generic code the runtime must look types up for.
public class AnySpawnedGreenlet: Greenlet {
    // Unowned(unsafe): the hub outlives its greenlets (``Hub/destroy(timeout:)`` ends them
    // first); the checked kind cost a reference count operation per use.
    unowned(unsafe) let hub: Hub
    /// The greenlets waiting in ``join(timeout:)``, in arrival order: the first in a slot of its
    /// own (most greenlets have one joiner at most, which then costs no array), the others after.
    @exclusivity(unchecked) private var firstJoiner: Waiter?
    @exclusivity(unchecked) private var laterJoiners: [Waiter] = []
    @exclusivity(unchecked) private var links: [() -> Void] = []
    /// Where it is in the hub's list of live greenlets; -1 when not there.
    @exclusivity(unchecked) var liveIndex = -1
    /// The body's value, once it has returned: an existential that holds small values inline.
    /// Not an `Any?`, whose every copy and destruction goes through generic value witnesses.
    @exclusivity(unchecked) private(set) var returnedValue: Any = ()

    /// Only ``SpawnedGreenlet`` makes one. The hub comes unretained: a strong parameter cost the
    /// caller a retain and this initialiser a release.
    init(hub: Unmanaged<Hub>, stackSize: Int) throws {
        self.hub = hub.takeUnretainedValue()
        try super.init(stackSize: stackSize, parent: hub._withUnsafeGuaranteedRef { $0.greenlet }, body: .overridden)
        hub._withUnsafeGuaranteedRef { $0.admitLive(self) }
    }

    /// Runs the body on this greenlet's stack and records how it ended.
    override func runWithoutClosure() {
        // The joiners wake and the links run from the hub: this greenlet is about to end.
        do {
            returnedValue = try runBody()
            end(throwing: nil)
        } catch {
            if !(error is GreenletExit) { hub.errorHandler(error, "\(self)") }
            end(throwing: error)
        }
    }

    override var endingValue: Any? { returnedValue }

    /// Runs the body and returns its value, boxed; the body is released first. Overridden by
    /// ``SpawnedGreenlet``, the only subclass.
    func runBody() throws -> Any {
        misuse("SpawnedGreenlet overrides runBody()")
    }

    /// Releases the body, which will never run. Overridden by ``SpawnedGreenlet``.
    func discardBody() {}

    /// Whether the body has ended.
    public var isReady: Bool { hasEnding }

    /// The error the body ended with (``GreenletExit`` when it was killed); `nil` while it runs
    /// and when it returned a value.
    public var error: (any Error)? {
        hasEnding ? carriedError : nil
    }

    /// Waits until the body ends, at most `timeout`.
    ///
    /// Cost: for a greenlet that has ended, inlined into the caller: a load (no reference count
    /// operation on the greenlet, which a call cost in ``joinAll(_:timeout:)``'s loop).
    ///
    /// - Returns: whether it ended.
    @inlinable @inline(__always)
    @discardableResult
    public final func join(timeout: Duration? = nil) throws -> Bool {
        _ = try checkThread("join(timeout:)")
        if hasEnding { return true }
        return try joinWaiting(timeout: timeout)
    }

    @usableFromInline
    final func joinWaiting(timeout: Duration?) throws -> Bool {
        let waiter = hub.takeWaiter()
        if firstJoiner == nil { firstJoiner = waiter } else { laterJoiners.append(waiter) }
        defer { removeJoiner(waiter) }
        guard try completes(within: timeout, { try waiter.wait() }) else { return false }
        waiter.recycle()
        return hasEnding
    }

    /// Raises `error` in the greenlet where it waits, so that it unwinds (its `defer` blocks run
    /// and its watchers stop). One that has not started never runs.
    ///
    /// - Parameters:
    ///   - block: wait until it has ended.
    ///   - timeout: with `block`, the longest wait.
    public func kill(_ error: any Error = GreenletExit(), block: Bool = true, timeout: Duration? = nil) throws {
        // Before anything changes: the hub's queue is the owning thread's alone.
        _ = try checkThread("kill(_:block:timeout:)")
        guard !hasEnding else { return }
        if !isStarted {
            endBeforeStarting(throwing: error)
            return
        }
        hub.schedule { [weak self] in
            guard let self, !self.hasEnding, !self.isDead else { return }
            _ = try self.throwInto(error)
        }
        if block { try join(timeout: timeout) }
    }

    /// Calls `callback` in the hub once the body has ended; at the next iteration if it has.
    func addLink(_ callback: @escaping () -> Void) {
        if hasEnding {
            hub.schedule(callback)
        } else {
            links.append(callback)
        }
    }

    /// Takes `waiter` out of the joiners, if it is still there (a join that timed out, or was
    /// killed); the next in line takes the first slot.
    private func removeJoiner(_ waiter: Waiter) {
        if firstJoiner === waiter {
            firstJoiner = laterJoiners.isEmpty ? nil : laterJoiners.removeFirst()
        } else if !laterJoiners.isEmpty {
            laterJoiners.removeAll { $0 === waiter }
        }
    }

    /// Started by a switch before the hub's queue started it: the start entry waiting there (see
    /// ``Hub/scheduleStart(_:)``) takes a reference, so that it finds the greenlet when it comes.
    override func startsBySwitch() {
        _ = Unmanaged.passUnretained(self).retain()
    }

    /// It will never run: ends it now as its body's end would (an error other than
    /// ``GreenletExit`` is reported, the joiners wake, the links run), handing the hub nothing.
    @discardableResult
    override func endBeforeStarting(throwing error: any Error) -> Bool {
        discardBody()
        markDead()
        if !(error is GreenletExit) { hub.errorHandler(error, "\(self)") }
        end(throwing: error)
        return false
    }

    /// Records the ending, wakes the joiners, schedules the links, and leaves the hub's list.
    private func end(throwing error: (any Error)?) {
        recordEnding(error: error)
        if let first = firstJoiner {
            let later = laterJoiners
            firstJoiner = nil
            laterJoiners = []
            first.wakeSoon()
            for waiter in later { waiter.wakeSoon() }
        }
        if !links.isEmpty {
            let links = self.links
            self.links = []
            hub.schedule { links.forEach { $0() } }
        }
        Unmanaged.passUnretained(hub)._withUnsafeGuaranteedRef { $0.dismissLive(self) }
    }
}


/// Waits for every greenlet in `greenlets` to end, at most `timeout` in all.
///
/// - Returns: whether all ended.
@inlinable
@discardableResult
public func joinAll<Greenlets: Sequence>(_ greenlets: Greenlets, timeout: Duration? = nil) throws -> Bool
where Greenlets.Element: AnySpawnedGreenlet {
    // Inlinable, so that it iterates the caller's own collection type, specialised.
    try completes(within: timeout) {
        for greenlet in greenlets { try greenlet.join() }
    }
}

/// Kills every greenlet in `greenlets` (see ``AnySpawnedGreenlet/kill(_:block:timeout:)``), then,
/// with `block`, waits for them all, at most `timeout`. A collection, not a sequence: it is gone
/// through twice.
///
/// - Returns: whether every greenlet has ended (without `block`: by the time the kills were
///   sent, which is rarely all of them).
@inlinable
@discardableResult
public func killAll<Greenlets: Collection>(_ greenlets: Greenlets, block: Bool = true, timeout: Duration? = nil) throws
    -> Bool
where Greenlets.Element: AnySpawnedGreenlet {
    for greenlet in greenlets { try greenlet.kill(block: false) }
    guard block else { return greenlets.allSatisfy { $0.isReady } }
    return try joinAll(greenlets, timeout: timeout)
}
