import CLibevent
import Greenloop
import GreenloopTestSupport
import LibeventAdapter

// C events made the way C code makes them (event_new, event_add), with callbacks that are plain
// C function pointers, for the tests to add at the moments that matter: before the loop runs,
// from a C callback, from greenlet code.

/// What a C callback reports to: a name per firing, and the time it fired.
final class CallbackLog {
    var entries: [(name: String, at: ContinuousClock.Instant)] = []
    var names: [String] { entries.map(\.name) }
}

/// One C event and the context its callback gets. Frees the event when dropped.
final class CEvent {
    let name: String
    let log: CallbackLog
    private(set) var event: UnsafeMutablePointer<event>!
    /// What the callback does after logging (add another event, complete a result…).
    var then: (() -> Void)?

    private let base: OpaquePointer

    init(base: OpaquePointer, fd: CInt = -1, events: Int16 = 0, name: String, log: CallbackLog) {
        self.name = name
        self.log = log
        self.base = base
        event = event_new(base, fd, events, logFiring, Unmanaged.passUnretained(self).toOpaque())
    }

    deinit { event_free(event) }

    /// `event_add` with a relative timeout, or none.
    func add(after timeout: Duration? = nil) {
        // libevent measures a timeout from its cached time, taken when the running batch of
        // callbacks began (here, possibly before the test read its clock): refresh it, so that
        // "never early" can be checked against a clock read just before the add.
        event_base_update_cache_time(base)
        if let timeout {
            let (seconds, attoseconds) = timeout.components
            var tv = timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
            event_add(event, &tv)
        } else {
            event_add(event, nil)
        }
    }

    /// Makes the callback complete `result` with `value`, through the `void *` a C callback gets.
    func completes<Value>(_ result: CallbackResult<Value>, with value: Value) {
        let context = result.retainedContext()
        then = { CallbackResult<Value>.complete(context, with: .success(value)) }
    }

    /// Makes the callback active, as C code does with `event_active`.
    func activate() { event_active(event, Int32(greenloop_libevent_ev_timeout), 0) }
}

private func logFiring(_ fd: CInt, _ what: Int16, _ context: UnsafeMutableRawPointer?) {
    let event = Unmanaged<CEvent>.fromOpaque(context!).takeUnretainedValue()
    event.log.entries.append((event.name, .now))
    event.then?()
}

/// A hub on a fresh loop of `backend`, and a shared base served by that loop; both end after `body`.
func withSharedBase(_ backend: Backend, _ body: (Hub, SharedEventBase) throws -> Void) throws {
    try withHub(backend) { hub in
        let shared = try SharedEventBase(loop: hub.loop as! EventLoop)
        defer { try? shared.close() }
        try body(hub, shared)
    }
}
