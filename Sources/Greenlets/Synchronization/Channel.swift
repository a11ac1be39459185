/// A rendezvous between greenlets: ``send(_:timeout:)`` returns only once a receiver has taken the
/// item (gevent's `Channel`). A ``Queue`` with no buffer.
public final class Channel<Element> {
    private let queue = Queue<Element>(maxSize: 0)

    /// A channel with nobody waiting.
    public init() {}

    /// Hands `item` to a receiver, waiting at most `timeout` for one.
    ///
    /// - Returns: whether a receiver took it.
    @discardableResult
    public func send(_ item: Element, timeout: Duration? = nil) throws -> Bool {
        try queue.put(item, timeout: timeout)
    }

    /// Takes an item from a sender, waiting at most `timeout` for one.
    public func receive(timeout: Duration? = nil) throws -> Element? {
        try queue.get(timeout: timeout)
    }
}
