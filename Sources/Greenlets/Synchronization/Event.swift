/// A flag greenlets can wait for (gevent's `Event`): ``wait(timeout:)`` returns once it is set.
///
/// Setting it wakes every waiter, in the order they began to wait, at the hub's next iteration.
public final class Event {
    private let waiters = HandOffQueue<Void>()
    private let affinity = ThreadAffinity()
    // Unchecked exclusivity: one thread, and no access stays open across a switch (see Waiter).
    /// Whether the flag is set.
    @exclusivity(unchecked) public private(set) var isSet = false

    /// A cleared event.
    public init() {}

    /// Sets the flag and wakes every waiter. Cost: O(waiters).
    public func set() {
        affinity.require("Event.set()")
        guard !isSet else { return }
        isSet = true
        while waiters.handOff() {}
    }

    /// Clears the flag; later waits block again.
    public func clear() {
        affinity.require("Event.clear()")
        isSet = false
    }

    /// Waits until the flag is set, at most `timeout`.
    ///
    /// - Returns: whether it is set.
    @discardableResult
    public func wait(timeout: Duration? = nil) throws -> Bool {
        try affinity.check("Event.wait(timeout:)")
        guard !isSet else { return true }
        guard try waiters.waitForHandOff(bringing: (), timeout: timeout, giveBack: {}) else { return false }
        return isSet
    }
}
