/// A first-in, first-out queue in one ring of storage that doubles when full: what the hub's
/// queues (``ReadyQueue``, ``HandOffQueue``) keep their entries in.
///
/// Why not `Deque`: these queues are never copied, so its copy-on-write buys nothing, and its
/// every append and removal paid for it with a call to the runtime's uniqueness check and the
/// code around it (a fifth of an `Event` ping-pong between two greenlets). Noncopyable, so that
/// no copy can be made by accident.
///
/// Cost: ``append(_:)`` and ``popFirst()`` are O(1) (amortised for the first, which may grow the
/// storage); ``remove(at:)`` is O(n) and meant for the rare removal from the middle.
struct RingQueue<Element>: ~Copyable {
    /// `capacity` slots. The invariant every member keeps, which makes each access to the
    /// storage safe: the `count` slots from `head` on (wrapping) are initialised, all others are
    /// not; only this type touches the storage, and it frees it in `deinit` (it cannot be copied).
    private var storage: UnsafeMutablePointer<Element>
    /// A power of two, so that a position wraps with a mask.
    private var capacity: Int
    private var head = 0
    /// How many elements are queued.
    private(set) var count = 0

    /// An empty queue with room for `minimumCapacity` elements before it grows.
    init(minimumCapacity: Int = 16) {
        var capacity = 1
        while capacity < minimumCapacity { capacity <<= 1 }
        self.capacity = capacity
        storage = .allocate(capacity: capacity)
    }

    deinit {
        for offset in 0..<count { (storage + slot(offset)).deinitialize(count: 1) }
        storage.deallocate()
    }

    /// Whether nothing is queued.
    var isEmpty: Bool { count == 0 }

    /// The storage index of the element `offset` places from the front.
    @inline(__always)
    private func slot(_ offset: Int) -> Int { (head &+ offset) & (capacity &- 1) }

    /// Adds `element` at the back.
    @inline(__always)
    mutating func append(_ element: consuming Element) {
        if count == capacity { grow() }
        (storage + slot(count)).initialize(to: element)
        count &+= 1
    }

    /// Removes and returns the front element; `nil` when empty.
    @inline(__always)
    mutating func popFirst() -> Element? {
        guard count > 0 else { return nil }
        let element = (storage + head).move()
        head = (head &+ 1) & (capacity &- 1)
        count &-= 1
        return element
    }

    /// The element `offset` places from the front (`0 ..< count`).
    subscript(offset: Int) -> Element {
        require(offset >= 0 && offset < count, "RingQueue index out of range")
        return storage[slot(offset)]
    }

    /// The offset from the front of the first element that satisfies `predicate`.
    func firstIndex(where predicate: (Element) throws -> Bool) rethrows -> Int? {
        for offset in 0..<count where try predicate(storage[slot(offset)]) { return offset }
        return nil
    }

    /// Removes and returns the element `offset` places from the front; the ones behind it move
    /// up. O(count).
    @discardableResult
    mutating func remove(at offset: Int) -> Element {
        require(offset >= 0 && offset < count, "RingQueue index out of range")
        let removed = (storage + slot(offset)).move()
        for later in offset ..< count - 1 {
            (storage + slot(later)).initialize(to: (storage + slot(later + 1)).move())
        }
        count -= 1
        return removed
    }

    /// Doubles the storage, moving the elements to its start in order. Out of line: rare, and
    /// inlined it made every caller's frame larger.
    @inline(never)
    private mutating func grow() {
        let larger = UnsafeMutablePointer<Element>.allocate(capacity: capacity * 2)
        let firstPart = min(count, capacity - head)
        larger.moveInitialize(from: storage + head, count: firstPart)
        (larger + firstPart).moveInitialize(from: storage, count: count - firstPart)
        storage.deallocate()
        storage = larger
        capacity *= 2
        head = 0
    }
}
