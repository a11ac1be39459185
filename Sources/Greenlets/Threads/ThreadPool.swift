import DequeModule
import GreenloopCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Worker threads for blocking calls (file I/O, `getaddrinfo`, C libraries that block), so that
/// the hub's thread never blocks (gevent's `ThreadPool`).
///
/// ``run(_:)`` queues the closure and suspends the calling greenlet; a worker runs it and the
/// result (or error) comes back to the greenlet. Workers hand results back through one async
/// watcher of the hub's loop: completions that arrive close together wake the loop once.
///
/// At most `maximumThreads` workers exist; they start on demand and wait for work when idle. A
/// greenlet that stops waiting (killed, timed out) does not stop the closure already running on a
/// worker: its result is dropped. After ``shutDown()`` new work is refused with
/// ``ThreadPoolError/shutDown``.
public final class ThreadPool {
    /// The most worker threads.
    public let maximumThreads: Int
    private unowned let hub: Hub
    private let shared: SharedState
    private let completions: AsyncWatcher
    private var waiters: [Int: Waiter] = [:]
    private var nextJob = 0
    private var threads: [pthread_t] = []

    /// A pool on the calling thread's hub.
    ///
    /// - Parameter maximumThreads: at least 1.
    public init(maximumThreads: Int = 4) throws {
        require(maximumThreads >= 1, "a thread pool has at least one thread, not \(maximumThreads)")
        self.maximumThreads = maximumThreads
        let hub = try Hub.current()
        self.hub = hub
        let shared = SharedState()
        self.shared = shared
        var deliver: (() -> Void)?
        completions = try hub.loop.makeAsyncWatcher { deliver?() }
        shared.sender = completions.sender
        try completions.setRef(false)
        try completions.start()
        deliver = { [unowned self] in self.deliverCompleted() }
    }

    deinit {
        shared.shutDown()
        for thread in threads { pthread_join(thread, nil) }
    }

    /// Runs `body` on a worker thread and returns its result to the calling greenlet.
    ///
    /// - Throws: what `body` throws; ``ThreadPoolError/shutDown`` after ``shutDown()``; what is
    ///   thrown into the greenlet while it waits (``Timeout``, ``GreenletExit``).
    public func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) throws -> T {
        let id = nextJob
        nextJob += 1
        let job = Job(id: id) {
            do { return .success(try body()) } catch { return .failure(error) }
        }
        guard shared.submit(job) else { throw ThreadPoolError.shutDown }
        startWorkerIfNeeded()
        let waiter = Waiter(hub: hub)
        waiters[id] = waiter
        try completions.setRef(true)
        defer {
            waiters[id] = nil
            if waiters.isEmpty { try? completions.setRef(false) }
        }
        try waiter.wait()
        switch job.outcome! {
        case .success(let value): return value as! T
        case .failure(let error): throw error
        }
    }

    /// Refuses new work and lets the workers end once the queued jobs are done. Does not wait.
    public func shutDown() {
        shared.shutDown()
    }

    private func startWorkerIfNeeded() {
        guard threads.count < maximumThreads, shared.idleWorkers == 0 else { return }
        let box = Unmanaged.passRetained(shared).toOpaque()
        var thread = pthread_t()
        guard pthread_create(&thread, nil, { raw in
            Unmanaged<SharedState>.fromOpaque(raw!).takeRetainedValue().workLoop()
            return nil
        }, box) == 0 else {
            Unmanaged<SharedState>.fromOpaque(box).release()
            return
        }
        threads.append(thread)
    }

    /// In the hub: hands every finished job to its greenlet.
    private func deliverCompleted() {
        for job in shared.takeCompleted() {
            waiters.removeValue(forKey: job.id)?.wake()
        }
    }
}

/// Why the pool refused work.
public enum ThreadPoolError: Error, Hashable, Sendable, CustomStringConvertible {
    /// ``ThreadPool/shutDown()`` was called.
    case shutDown

    /// What happened.
    public var description: String { "the thread pool is shut down and takes no more work" }
}

/// One closure on its way through the pool.
private final class Job: @unchecked Sendable {
    // @unchecked: `outcome` is written once by the worker that ran the job, before the job is
    // handed back under the pool's mutex, and read on the hub's thread only after that.
    let id: Int
    let work: @Sendable () -> Result<any Sendable, any Error>
    var outcome: Result<any Sendable, any Error>?

    init(id: Int, work: @escaping @Sendable () -> Result<any Sendable, any Error>) {
        self.id = id
        self.work = work
    }
}

/// What the hub's thread and the workers share: the queues, under one mutex, and a condition
/// variable the idle workers wait on.
private final class SharedState: @unchecked Sendable {
    // @unchecked: every mutable field is guarded by `mutex`; `sender` is set once before any
    // worker starts.
    private struct Queues {
        var pending = Deque<Job>()
        var completed: [Job] = []
        var idleWorkers = 0
        var isShutDown = false
    }

    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var queues = Queues()
    var sender: AsyncWatcher.Sender?

    init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    private func locked<T>(_ body: (inout Queues) -> T) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body(&queues)
    }

    var idleWorkers: Int { locked { $0.idleWorkers } }

    func submit(_ job: Job) -> Bool {
        let accepted = locked { queues -> Bool in
            guard !queues.isShutDown else { return false }
            queues.pending.append(job)
            return true
        }
        if accepted { pthread_cond_signal(condition) }
        return accepted
    }

    func takeCompleted() -> [Job] {
        locked { queues in
            defer { queues.completed.removeAll() }
            return queues.completed
        }
    }

    func shutDown() {
        locked { $0.isShutDown = true }
        pthread_cond_broadcast(condition)
    }

    /// A worker's life: run jobs until shut down and drained.
    func workLoop() {
        while true {
            pthread_mutex_lock(mutex)
            while queues.pending.isEmpty && !queues.isShutDown {
                queues.idleWorkers += 1
                pthread_cond_wait(condition, mutex)
                queues.idleWorkers -= 1
            }
            guard let job = queues.pending.popFirst() else {
                pthread_mutex_unlock(mutex)
                return
            }
            pthread_mutex_unlock(mutex)
            job.outcome = job.work()
            locked { $0.completed.append(job) }
            sender?.send()
        }
    }
}
