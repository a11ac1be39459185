/// A set of spawned greenlets managed together (gevent's `Group`): spawn into it, join them all,
/// kill them all. A greenlet leaves the group when it ends.
public class Group {
    private var members: [ObjectIdentifier: AnySpawnedGreenlet] = [:]
    /// Members already sent a kill by ``killAll(block:timeout:)``, which does not kill them again
    /// (gevent's `Group.dying`): a second kill would interrupt the first one's unwinding.
    private var dying: Set<ObjectIdentifier> = []
    private let emptied = Event()
    private let affinity = ThreadAffinity()

    /// An empty group.
    public init() { emptied.set() }

    /// Greenlets in the group that have not ended.
    public var count: Int { members.count }

    /// Spawns `body` into the group (see ``spawn(stackSize:_:)``).
    @discardableResult
    public func spawn<Value>(_ body: @escaping () throws -> Value) throws -> SpawnedGreenlet<Value> {
        try affinity.check("Group.spawn(_:)")
        try admit()
        let greenlet: SpawnedGreenlet<Value>
        do {
            greenlet = try Greenlets.spawn(body)
        } catch {
            left()
            throw error
        }
        insert(greenlet)
        return greenlet
    }

    /// Adds a greenlet spawned elsewhere. A ``Pool`` waits for a free slot first, so that its
    /// bound holds for added greenlets too (gevent's `Pool.add`).
    public func add(_ greenlet: AnySpawnedGreenlet) throws {
        try affinity.check("Group.add(_:)")
        guard !greenlet.isReady, members[ObjectIdentifier(greenlet)] == nil else { return }
        try admit()
        // It may have ended while this waited for a slot.
        guard !greenlet.isReady else { return left() }
        insert(greenlet)
    }

    /// Makes `greenlet`, which holds a slot, a member until it ends.
    private func insert(_ greenlet: AnySpawnedGreenlet) {
        let id = ObjectIdentifier(greenlet)
        members[id] = greenlet
        emptied.clear()
        greenlet.addLink { [weak self] in self?.remove(id) }
    }

    /// Waits until every greenlet in the group has ended, at most `timeout`.
    ///
    /// - Returns: whether the group is empty.
    @discardableResult
    public func join(timeout: Duration? = nil) throws -> Bool {
        try affinity.check("Group.join(timeout:)")
        return try emptied.wait(timeout: timeout)
    }

    /// Kills every greenlet in the group; with `block`, waits for them (at most `timeout`).
    ///
    /// - Returns: whether the group is empty: every greenlet ended (without `block`, only those
    ///   that had ended by the time the kills were sent).
    @discardableResult
    public func killAll(block: Bool = true, timeout: Duration? = nil) throws -> Bool {
        try affinity.check("Group.killAll(block:timeout:)")
        for (id, member) in members where !dying.contains(id) {
            try member.kill(block: false)
            dying.insert(id)
        }
        guard block else { return members.isEmpty }
        return try join(timeout: timeout)
    }

    /// Waits, if the group has a limit, until a new greenlet may start.
    func admit() throws {}

    /// A greenlet left the group.
    func remove(_ id: ObjectIdentifier) {
        guard members.removeValue(forKey: id) != nil else { return }
        dying.remove(id)
        left()
        if members.isEmpty { emptied.set() }
    }

    func left() {}
}

/// A ``Group`` that runs at most `size` greenlets at once (gevent's `Pool`): ``Group/spawn(_:)``
/// waits while it is full, so the bound is never exceeded.
public final class Pool: Group {
    /// The most greenlets that run at once.
    public let size: Int
    private let slots: Semaphore

    /// A pool of `size` (at least 1) concurrent greenlets.
    public init(size: Int) {
        require(size >= 1, "a pool runs at least one greenlet, not \(size)")
        self.size = size
        slots = Semaphore(value: size)
        super.init()
    }

    /// Free slots now.
    public var freeCount: Int { slots.value }

    override func admit() throws { try slots.acquire() }

    override func left() { try? slots.release() }
}
