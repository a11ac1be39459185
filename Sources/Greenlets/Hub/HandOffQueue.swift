import DequeModule

/// Greenlets waiting, in FIFO order, to be handed something: a permit, an item, room for an item.
/// The layer every synchronisation primitive is built on (gevent's `AbstractLinkable`).
///
/// **Hand-off, not wake-and-retry.** ``handOff(_:)`` removes the longest waiter *now* and gives
/// it the value; the waiter resumes at the hub's next iteration already owning it. No greenlet that
/// arrives meanwhile can take it first, so waiters are served strictly in order.
///
/// **Nothing is lost.** A waiter whose timeout expires, or that is killed, after it was handed a
/// value but before it resumed, keeps the value if it timed out (the hand-off won), and gives it
/// back through `giveBack` if it was killed.
final class HandOffQueue<Payload> {
    final class Entry {
        let waiter: Waiter
        /// What the waiter brings (a putter's item), if anything.
        let payload: Payload
        /// What it was handed; `nil` until then.
        // Unchecked exclusivity: see Waiter.
        @exclusivity(unchecked) var handed: Any??
        @exclusivity(unchecked) var isQueued = true

        init(waiter: Waiter, payload: Payload) {
            self.waiter = waiter
            self.payload = payload
        }
    }

    @exclusivity(unchecked) private var entries = Deque<Entry>()

    /// Whether nobody waits.
    var isEmpty: Bool { entries.isEmpty }

    /// How many greenlets wait.
    var count: Int { entries.count }

    /// Waits in line until handed a value, at most `timeout`.
    ///
    /// - Returns: the value handed, or `nil` when the timeout passed first.
    /// - Throws: what is thrown into the greenlet while it waits; a value it had been handed
    ///   goes to `giveBack` first.
    func wait(bringing payload: Payload, timeout: Duration?, giveBack: (Any?) -> Void) throws -> Any?? {
        let entry = Entry(waiter: Waiter(hub: try Hub.current()), payload: payload)
        entries.append(entry)
        defer { if entry.isQueued { remove(entry) } }
        do {
            _ = try completes(within: timeout) { try entry.waiter.wait() }
            return entry.handed
        } catch {
            if let handed = entry.handed { giveBack(handed) }
            throw error
        }
    }

    /// Hands `value` to the longest waiter. Returns false when nobody waits.
    @discardableResult
    func handOff(_ value: Any? = nil) -> Bool {
        takeFirst(handing: value) != nil
    }

    /// Hands `value` to the longest waiter and returns what it brought; `nil` when nobody waits.
    func takeFirst(handing value: Any? = nil) -> Payload? {
        guard let entry = entries.popFirst() else { return nil }
        entry.isQueued = false
        entry.handed = .some(value)
        entry.waiter.wakeSoon()
        return entry.payload
    }

    private func remove(_ entry: Entry) {
        if let index = entries.firstIndex(where: { $0 === entry }) { entries.remove(at: index) }
        entry.isQueued = false
    }
}
