#if canImport(Glibc)
import Glibc
#endif

/// Threads started together and joined together.
public final class ThreadGroup {
    private final class Box: @unchecked Sendable {
        // @unchecked: written once before the thread starts, read only by that thread.
        let body: @Sendable (Int) -> Void
        let index: Int
        init(_ body: @escaping @Sendable (Int) -> Void, _ index: Int) {
            self.body = body
            self.index = index
        }
    }

    private var threads: [pthread_t] = []

    /// Starts `count` threads, each running `body` with its index.
    public init(count: Int, _ body: @escaping @Sendable (Int) -> Void) {
        for index in 0..<count {
            let box = Unmanaged.passRetained(Box(body, index)).toOpaque()
            var thread = pthread_t()
            let rc = pthread_create(&thread, nil, { raw in
                let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
                box.body(box.index)
                return nil
            }, box)
            precondition(rc == 0, "pthread_create failed: \(rc)")
            threads.append(thread)
        }
    }

    /// Waits for every thread to end.
    public func join() {
        for thread in threads { pthread_join(thread, nil) }
        threads = []
    }
}

/// Runs `body` on a new thread and waits for it.
public func onNewThread(_ body: @escaping @Sendable () -> Void) {
    ThreadGroup(count: 1) { _ in body() }.join()
}
