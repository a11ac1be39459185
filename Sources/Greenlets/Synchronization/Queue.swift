import DequeModule

/// A FIFO queue between greenlets (gevent's `Queue`), bounded or not.
///
/// `put` waits while the queue is full, `get` while it is empty; both take a timeout, and both
/// have a non-waiting twin (``tryPut(_:)``, ``tryGet()``). Waiting getters receive items, and
/// waiting putters get room, strictly in the order they began to wait; an item handed to a
/// waiting getter skips the buffer.
///
/// With `maxSize` 0 it is a rendezvous: `put` returns only once a getter has taken the item (see
/// ``Channel``).
public final class Queue<Element> {
    /// The most items it buffers; `nil` for no limit.
    public let maxSize: Int?
    private var items = Deque<Element>()
    private let getters = HandOffQueue<Void>()
    private let putters = HandOffQueue<Element>()
    private let affinity = ThreadAffinity()

    /// An empty queue holding at most `maxSize` items (`nil`: no limit).
    public init(maxSize: Int? = nil) {
        require((maxSize ?? 0) >= 0, "a queue's maxSize is 0 or more, not \(maxSize ?? 0)")
        self.maxSize = maxSize
    }

    /// Items buffered now.
    public var count: Int { items.count }
    /// Whether no item is buffered.
    public var isEmpty: Bool { items.isEmpty }
    /// Whether a `put` now would wait.
    public var isFull: Bool { !hasRoom && getters.isEmpty }

    private var hasRoom: Bool { maxSize.map { items.count < $0 } ?? true }

    /// Adds `item`, waiting at most `timeout` for room.
    ///
    /// - Returns: whether the item went in (false: the timeout passed first).
    @discardableResult
    public func put(_ item: Element, timeout: Duration? = nil) throws -> Bool {
        try affinity.check("Queue.put(_:timeout:)")
        if maxSize == 0 { return try putByRendezvous(item, timeout: timeout) }
        if tryPutNow(item) { return true }
        if timeout == .zero { return false }
        // A getter that takes our item hands us `true`; room that opens also does.
        let handed = try putters.wait(bringing: item, timeout: timeout) { _ in }
        return handed != nil
    }

    /// Adds `item` without waiting.
    ///
    /// - Throws: ``SynchronizationError/wouldBlock(_:)`` when the queue is full.
    public func tryPut(_ item: Element) throws {
        try affinity.check("Queue.tryPut(_:)")
        guard tryPutNow(item) else { throw SynchronizationError.wouldBlock("the queue is full") }
    }

    /// Takes the oldest item, waiting at most `timeout` for one.
    ///
    /// - Returns: the item, or `nil` when the timeout passed first.
    public func get(timeout: Duration? = nil) throws -> Element? {
        try affinity.check("Queue.get(timeout:)")
        let deadline = WaitDeadline(timeout)
        while true {
            if let item = tryGetNow() { return item }
            let remaining = deadline.remaining
            if remaining == .zero { return nil }
            let handed = try getters.wait(bringing: (), timeout: remaining) { item in
                // Its wait ended otherwise (a kill, an outer timeout) after an item was handed:
                // a rendezvous putter takes its item back; any other goes to the next getter, or
                // back to the front.
                if let delivery = item as? Delivery {
                    delivery.giveBack()
                } else if let item = item as? Element, !self.getters.handOff(item) {
                    self.items.prepend(item)
                }
            }
            guard let handed else { return nil }
            guard let delivery = handed as? Delivery else { return handed as? Element }
            // A putter that gave up meanwhile took its item back: wait on.
            if let item = delivery.take() { return item }
        }
    }

    /// An item on its way from a rendezvous putter to a getter. The putter waits until the getter
    /// has resumed with it, or has given it back, so that the put's answer is the truth: a getter
    /// whose wait ends by a kill or a timeout between the hand-off and its resumption never
    /// leaves the item in the queue (which buffers nothing) while the putter thinks it delivered.
    private final class Delivery {
        enum State { case onItsWay, taken, givenBack, withdrawn }
        let item: Element
        var state = State.onItsWay
        let settled = Event()

        init(_ item: Element) { self.item = item }

        /// The getter resumed with it; `nil` if the putter withdrew it first.
        func take() -> Element? {
            guard state == .onItsWay else { return nil }
            state = .taken
            settled.set()
            return item
        }

        /// The getter's wait ended otherwise.
        func giveBack() {
            guard state == .onItsWay else { return }
            state = .givenBack
            settled.set()
        }
    }

    /// A put into a rendezvous queue: hands the item to the longest-waiting getter and returns once
    /// that getter has it; if that getter gives it back, tries the next, then waits for one.
    private func putByRendezvous(_ item: Element, timeout: Duration?) throws -> Bool {
        let deadline = WaitDeadline(timeout)
        while !getters.isEmpty {
            let delivery = Delivery(item)
            getters.handOff(delivery)
            do {
                // Bounded: the getter resumes, or gives the item back, at the hub's next turn.
                try delivery.settled.wait()
            } catch {
                // Interrupted before the getter resumed: the item stays here, and the getter,
                // when it resumes, finds nothing and waits on.
                if delivery.state == .onItsWay { delivery.state = .withdrawn }
                throw error
            }
            if delivery.state == .taken { return true }
        }
        let remaining = deadline.remaining
        if remaining == .zero { return false }
        // A getter that comes takes the item from this line itself (and is running then).
        let handed = try putters.wait(bringing: item, timeout: remaining) { _ in }
        return handed != nil
    }

    /// Takes the oldest item without waiting.
    ///
    /// - Throws: ``SynchronizationError/wouldBlock(_:)`` when the queue is empty.
    public func tryGet() throws -> Element {
        try affinity.check("Queue.tryGet()")
        guard let item = tryGetNow() else { throw SynchronizationError.wouldBlock("the queue is empty") }
        return item
    }

    private func tryPutNow(_ item: Element) -> Bool {
        if getters.handOff(item) { return true }
        guard hasRoom && putters.isEmpty else { return false }
        items.append(item)
        return true
    }

    private func tryGetNow() -> Element? {
        if let item = items.popFirst() {
            // Room opened: the longest-waiting putter's item goes in behind the others.
            if let waiting = putters.takeFirst(handing: true) { items.append(waiting) }
            return item
        }
        // Nothing buffered (a rendezvous, or empty): take straight from a waiting putter.
        return putters.takeFirst(handing: true)
    }
}
