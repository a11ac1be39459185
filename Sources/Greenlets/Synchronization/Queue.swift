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
        if let item = tryGetNow() { return item }
        if timeout == .zero { return nil }
        let handed = try getters.wait(bringing: (), timeout: timeout) { item in
            // Killed after an item was handed: it goes to the next getter, or back to the front.
            if let item = item as? Element, !self.getters.handOff(item) { self.items.prepend(item) }
        }
        guard let handed else { return nil }
        return handed as? Element
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
