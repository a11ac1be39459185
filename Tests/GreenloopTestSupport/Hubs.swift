import Greenlets
import GreenloopBackends
import GreenloopCore
import Testing

/// A hub on a fresh loop of `backend` for the calling thread, destroyed after `body`.
/// (A synchronous test runs on one thread from start to end, so the hub is the test's own.)
@discardableResult
public func withHub<T>(_ backend: Backend, _ body: (Hub) throws -> T) throws -> T {
    let loop = try makeLoop(backend)
    let hub = try Hub.install(loop: loop)
    defer {
        try? hub.destroy()
        try? loop.close()
    }
    #expect(hub.loop.backend == backend.kind)
    return try body(hub)
}
