import Greenloop
import Logging
import SystemPackage
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Every loop-level test runs once per entry.
let allBackends: [Backend] = [.libev, .libevent]

/// How long a test waits on the loop for something that should happen in milliseconds.
let patience: Duration = .seconds(10)

/// A fresh loop on `backend`, closed after `body`.
func withLoop<T>(_ backend: Backend, _ body: (EventLoop) throws -> T) throws -> T {
    let loop = try makeLoop(backend)
    #expect(loop.backend == backend.kind)
    defer { try? loop.close() }
    return try body(loop)
}

extension EventLoop {
    /// Runs one iteration at a time until `condition` holds, for at most `timeout` (measured by
    /// a timer of the loop itself, which also keeps each iteration from waiting longer).
    /// Returns whether the condition held.
    func run(until condition: () -> Bool, timeout: Duration = patience) throws -> Bool {
        var expired = false
        let deadline = try makeTimer(after: timeout) { expired = true }
        try deadline.start()
        defer { try? deadline.stop() }
        while !condition() {
            if expired { return false }
            try run(.once)
        }
        return true
    }
}

/// A pipe whose ends close when it goes.
final class Pipe {
    let readEnd: FileDescriptor
    let writeEnd: FileDescriptor

    /// Non-blocking, so that a read after a spurious wake-up fails instead of hanging the test.
    init() throws {
        (readEnd, writeEnd) = try FileDescriptor.pipe()
        for end in [readEnd, writeEnd] {
            _ = fcntl(end.rawValue, F_SETFL, fcntl(end.rawValue, F_GETFL) | O_NONBLOCK)
        }
    }

    deinit {
        try? readEnd.close()
        try? writeEnd.close()
    }

    func write(_ text: String) throws { _ = try writeEnd.writeAll(text.utf8) }

    func readAvailable() throws -> String {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = try buffer.withUnsafeMutableBytes { try readEnd.read(into: $0) }
        return String(decoding: buffer[..<count], as: UTF8.self)
    }
}

/// Counts how many instances have been deinitialised: capture one in a callback to see when
/// the callback (and so its watcher) is released.
final class LifetimeProbe {
    private let deinits: Mutex<Int>.Pointer

    init(_ counter: Mutex<Int>.Pointer) { deinits = counter }

    deinit { deinits.increment() }
}

extension Mutex<Int> {
    /// A heap box, so that probes on any thread can count into it.
    final class Pointer: Sendable {
        let value = Mutex<Int>(0)
        func increment() { value.withLock { $0 += 1 } }
        var count: Int { value.withLock { $0 } }
    }
}

/// Starts a child process running `/bin/sh -c script` and returns its pid.
func spawnShell(_ script: String) throws -> pid_t {
    var pid: pid_t = 0
    let arguments = ["/bin/sh", "-c", script]
    var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    // The child must not inherit this thread's blocked signals or ignored dispositions.
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var none = sigset_t()
    var all = sigset_t()
    sigemptyset(&none)
    sigfillset(&all)
    posix_spawnattr_setsigmask(&attributes, &none)
    posix_spawnattr_setsigdefault(&attributes, &all)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
    let rc = posix_spawn(&pid, "/bin/sh", nil, &attributes, &argv, environ)
    guard rc == 0 else { throw Errno(rawValue: rc) }
    return pid
}

/// Threads started together and joined together.
final class ThreadGroup {
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
    init(count: Int, _ body: @escaping @Sendable (Int) -> Void) {
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
    func join() {
        for thread in threads { pthread_join(thread, nil) }
        threads = []
    }
}

/// Runs `body` on a new thread and waits for it.
func onNewThread(_ body: @escaping @Sendable () -> Void) {
    ThreadGroup(count: 1) { _ in body() }.join()
}
