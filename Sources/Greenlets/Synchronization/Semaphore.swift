/// A counter of permits that greenlets acquire and release (gevent's `Semaphore`).
///
/// Waiters are served strictly in the order they began to wait: a released permit goes to the
/// longest waiter, never to a greenlet that arrives later.
public class Semaphore {
    /// Permits available now.
    public private(set) var value: Int
    private let waiters = HandOffQueue<Void>()
    private let affinity = ThreadAffinity()

    /// A semaphore with `value` permits (at least 0).
    public init(value: Int = 1) {
        require(value >= 0, "a semaphore starts with 0 or more permits, not \(value)")
        self.value = value
    }

    /// Whether acquiring now would wait.
    public var isLocked: Bool { value == 0 }

    /// Greenlets waiting for a permit.
    public var waiterCount: Int { waiters.count }

    /// Takes a permit, waiting at most `timeout` for one (`nil`: as long as it takes; `.zero`: not
    /// at all).
    ///
    /// - Returns: whether a permit was taken.
    @discardableResult
    public func acquire(timeout: Duration? = nil) throws -> Bool {
        try affinity.check("Semaphore.acquire(timeout:)")
        if value > 0 && waiters.isEmpty {
            value -= 1
            return true
        }
        if timeout == .zero { return false }
        return try waiters.waitForHandOff(bringing: (), timeout: timeout) { self.givePermit() }
    }

    /// Gives a permit back: to the longest waiter if there is one.
    public func release() throws {
        try affinity.check("Semaphore.release()")
        try checkRelease()
        givePermit()
    }

    /// Runs `body` holding a permit.
    public func withPermit<T>(_ body: () throws -> T) throws -> T {
        try acquire()
        defer { givePermit() }
        return try body()
    }

    func checkRelease() throws {}

    private func givePermit() {
        if !waiters.handOff() { value += 1 }
    }
}

/// A ``Semaphore`` that refuses to be released more often than acquired (gevent's
/// `BoundedSemaphore`).
public final class BoundedSemaphore: Semaphore {
    /// The permits it started with, which it never exceeds.
    public let limit: Int

    /// A semaphore with `value` permits, at most.
    public override init(value: Int = 1) {
        limit = value
        super.init(value: value)
    }

    override func checkRelease() throws {
        guard value < limit else { throw SynchronizationError.releasedTooOften(limit: limit) }
    }
}

/// A synchronisation primitive used the wrong way.
public enum SynchronizationError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A ``BoundedSemaphore`` was released more often than it was acquired.
    case releasedTooOften(limit: Int)
    /// A ``Lock`` was released by a greenlet that does not hold it.
    case notOwner
    /// A ``Queue`` operation that must not wait found the queue full or empty.
    case wouldBlock(String)

    /// What went wrong.
    public var description: String {
        switch self {
        case let .releasedTooOften(limit):
            return "a BoundedSemaphore was released more often than acquired (its limit is \(limit))"
        case .notOwner:
            return "the lock was released by a greenlet that does not hold it"
        case let .wouldBlock(what):
            return what
        }
    }
}
