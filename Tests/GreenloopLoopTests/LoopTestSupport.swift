import Greenloop
@_exported import GreenloopTestSupport
import Logging
import SystemPackage
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif


/// How long a test waits on the loop for something that should happen in milliseconds.
let patience: Duration = .seconds(10)

/// A fresh loop on `backend`, closed after `body`.
@discardableResult
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
