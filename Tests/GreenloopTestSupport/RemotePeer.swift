import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A peer that acts outside the loop, on a thread of its own with plain blocking system calls, one
/// step at a time when the test asks for it: the loop sees only what the peer's actions cause (a
/// descriptor's readiness), never a watcher or a greenlet of the peer's, so a wait that forgot to
/// keep the loop alive ends in `LoopExit` instead of being saved by the peer's own watchers.
///
/// Each ``perform(after:_:)`` hands the thread one action, which it runs once the delay has passed.
public final class RemotePeer: @unchecked Sendable {
    // @unchecked: the queue is guarded by `mutex`; actions run on the peer's thread only.
    // Allocated: a pthread object must not move, which a class's stored property may.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var actions: [(delayMilliseconds: Int, body: @Sendable () -> Void)] = []
    private var finished = false
    private var performed = 0
    private var thread: ThreadGroup?

    public init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
        thread = ThreadGroup(count: 1) { [self] _ in serve() }
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    /// Runs `body` on the peer's thread `delayMilliseconds` after the peer gets to it (actions run
    /// in the order given).
    public func perform(after delayMilliseconds: Int = 0, _ body: @escaping @Sendable () -> Void) {
        pthread_mutex_lock(mutex)
        actions.append((delayMilliseconds, body))
        pthread_cond_signal(condition)
        pthread_mutex_unlock(mutex)
    }

    /// How many actions have run so far.
    public var performedCount: Int {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return performed
    }

    /// Runs the actions still queued, then ends the thread and waits for it.
    public func finish() {
        pthread_mutex_lock(mutex)
        finished = true
        pthread_cond_signal(condition)
        pthread_mutex_unlock(mutex)
        thread?.join()
        thread = nil
    }

    private func serve() {
        while true {
            pthread_mutex_lock(mutex)
            while actions.isEmpty && !finished { pthread_cond_wait(condition, mutex) }
            if actions.isEmpty {
                pthread_mutex_unlock(mutex)
                return
            }
            let next = actions.removeFirst()
            pthread_mutex_unlock(mutex)
            if next.delayMilliseconds > 0 { usleep(useconds_t(next.delayMilliseconds * 1_000)) }
            next.body()
            pthread_mutex_lock(mutex)
            performed += 1
            pthread_mutex_unlock(mutex)
        }
    }
}

/// Plain blocking socket calls for a ``RemotePeer``'s actions (no hub on the peer's thread).
public enum BlockingSocket {
    /// A blocking TCP connection to 127.0.0.1:`port`; -1 on failure.
    public static func connect(port: UInt16) -> CInt {
        let fd = socket(AF_INET, CInt(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return -1 }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if rc != 0 {
            close(fd)
            return -1
        }
        return fd
    }

    /// Writes all of `text`; false on failure.
    @discardableResult
    public static func send(_ fd: CInt, _ text: String) -> Bool {
        let bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, CInt(MSG_NOSIGNAL)) }
            if n <= 0 { return false }
            sent += n
        }
        return true
    }

    /// Reads exactly `count` bytes (fewer at end of stream or on error).
    public static func receive(_ fd: CInt, count: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var received = 0
        while received < count {
            let n = bytes[received...].withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            received += n
        }
        return Array(bytes[..<received])
    }

    /// Reads and discards `count` bytes.
    public static func drain(_ fd: CInt, count: Int) {
        var buffer = [UInt8](repeating: 0, count: 65536)
        var left = count
        while left > 0 {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, min($0.count, left), 0) }
            if n <= 0 { return }
            left -= n
        }
    }
}

/// An integer that a ``RemotePeer``'s actions and the test's greenlets share.
public final class SharedValue: Sendable {
    private let storage: Atomic<Int>
    public init(_ value: Int = 0) { storage = Atomic(value) }
    public var value: Int {
        get { storage.load(ordering: .sequentiallyConsistent) }
    }
    public func set(_ value: Int) { storage.store(value, ordering: .sequentiallyConsistent) }
    public func add(_ amount: Int) { storage.add(amount, ordering: .sequentiallyConsistent) }
    /// As a descriptor.
    public var fd: CInt { CInt(value) }
}
