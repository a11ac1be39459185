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
    /// One greenlet in line: its waiter (which also holds what it is handed) and what it brings.
    private struct Place {
        /// Unretained: the waiting greenlet holds its waiter until it has left the line, however
        /// its wait ends (a reference count operation fewer per wait).
        let waiter: Unmanaged<Waiter>
        /// What the waiter brings (a putter's item), if anything.
        let payload: Payload
    }

    @exclusivity(unchecked) private var places = RingQueue<Place>()

    /// Whether nobody waits.
    var isEmpty: Bool { places.isEmpty }

    /// How many greenlets wait.
    var count: Int { places.count }

    /// Waits in line until handed a value, at most `timeout`.
    ///
    /// Cost: no allocation once the hub has a spare waiter (a wait that ends by a hand-off gives
    /// its waiter back for reuse).
    ///
    /// - Returns: the value handed, or `nil` when the timeout passed first.
    /// - Throws: what is thrown into the greenlet while it waits; a value it had been handed
    ///   goes to `giveBack` first.
    func wait(bringing payload: Payload, timeout: Duration?, giveBack: (Any?) -> Void) throws -> Any?? {
        try waitInLine(bringing: payload, timeout: timeout, giveBack: giveBack) { $0.takeHanded() }
    }

    /// ``wait(bringing:timeout:giveBack:)`` for hand-offs that carry nothing (a permit, a
    /// signal): whether one came before the timeout. No existential is copied.
    func waitForHandOff(bringing payload: Payload, timeout: Duration?, giveBack: () -> Void) throws -> Bool {
        try waitInLine(bringing: payload, timeout: timeout, giveBack: { _ in giveBack() }) { $0.takeWasHanded() }
    }

    @inline(__always)
    private func waitInLine<Handed>(
        bringing payload: Payload, timeout: Duration?, giveBack: (Any?) -> Void, take: (Waiter) -> Handed
    ) throws -> Handed {
        let waiter = try Hub.unretainedCurrent()._withUnsafeGuaranteedRef { $0.takeWaiter() }
        waiter.isQueued = true
        places.append(Place(waiter: .passUnretained(waiter), payload: payload))
        let woken: Bool
        do {
            if let timeout {
                woken = try completes(within: timeout) { try waiter.wait() }
            } else {
                try waiter.wait()
                woken = true
            }
        } catch {
            if waiter.isQueued { remove(waiter) }
            if let handed = waiter.takeHanded() { giveBack(handed) }
            throw error
        }
        if waiter.isQueued { remove(waiter) }
        let handed = take(waiter)
        // Woken by the hand-off: in no queue and with no wake-up pending, so reusable. (One whose
        // wait ended otherwise may still have a wake-up coming, and is never reused.)
        if woken { waiter.recycle() }
        return handed
    }

    /// Hands nothing (a permit, a signal) to the longest waiter. Returns false when nobody waits.
    ///
    /// No existential is made: an `Any?` passed along, even `nil`, was copied and destroyed
    /// through the runtime's generic value witnesses (a sixth of an `Event` ping-pong).
    @discardableResult
    func handOff() -> Bool {
        takeFirst { $0.handNothing() } != nil
    }

    /// Hands `value` to the longest waiter. Returns false when nobody waits.
    @discardableResult
    func handOff(_ value: Any) -> Bool {
        takeFirst(handing: value) != nil
    }

    /// Hands `value` to the longest waiter and returns what it brought; `nil` when nobody waits.
    func takeFirst(handing value: Any) -> Payload? {
        takeFirst { $0.hand(value) }
    }

    /// Takes the longest waiter out of line, leaves it what `hand` gives, and wakes it; returns
    /// what it brought. Inlined, so that neither caller pays for the closure.
    @inline(__always)
    private func takeFirst(handing hand: (Waiter) -> Void) -> Payload? {
        guard let place = places.popFirst() else { return nil }
        place.waiter._withUnsafeGuaranteedRef { waiter in
            waiter.isQueued = false
            hand(waiter)
            waiter.wakeSoon()
        }
        return place.payload
    }

    private func remove(_ waiter: Waiter) {
        let unretained = Unmanaged.passUnretained(waiter).toOpaque()
        if let index = places.firstIndex(where: { $0.waiter.toOpaque() == unretained }) { places.remove(at: index) }
        waiter.isQueued = false
    }
}
