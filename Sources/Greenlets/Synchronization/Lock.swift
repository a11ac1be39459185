/// A reentrant lock for greenlets (gevent's `RLock`): the greenlet that holds it may acquire it
/// again, and must release it as many times.
///
/// Waiters get it strictly in the order they began to wait.
public final class Lock {
    private let permits = Semaphore(value: 1)
    /// The greenlet that holds the lock, if any.
    public private(set) var owner: Greenlet?
    private var depth = 0
    private let affinity = ThreadAffinity()

    /// An unlocked lock.
    public init() {}

    /// Whether some greenlet holds it.
    public var isLocked: Bool { owner != nil }

    /// Takes the lock, waiting at most `timeout`.
    ///
    /// - Returns: whether the calling greenlet now holds it.
    @discardableResult
    public func acquire(timeout: Duration? = nil) throws -> Bool {
        try affinity.check("Lock.acquire(timeout:)")
        let me = Greenlet.current
        if owner === me {
            depth += 1
            return true
        }
        guard try permits.acquire(timeout: timeout) else { return false }
        owner = me
        depth = 1
        return true
    }

    /// Releases one level; the last one hands the lock to the longest waiter.
    ///
    /// - Throws: ``SynchronizationError/notOwner`` when the calling greenlet does not hold it.
    public func release() throws {
        try affinity.check("Lock.release()")
        guard owner === Greenlet.current else { throw SynchronizationError.notOwner }
        depth -= 1
        if depth == 0 {
            owner = nil
            try permits.release()
        }
    }

    /// Runs `body` holding the lock.
    public func withLock<T>(_ body: () throws -> T) throws -> T {
        try acquire()
        defer { try? release() }
        return try body()
    }
}
