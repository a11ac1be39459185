/// One greenlet's wait for one wake-up: the primitive every blocking operation is built on
/// (gevent's `Waiter`).
///
/// The waiting greenlet calls ``wait()``, which switches to the hub. A callback running in the hub
/// calls ``wake(_:)`` or ``fail(_:)``, which switch straight back to it; code running in another
/// greenlet calls ``wakeSoon()``, which does the same from the hub at the next iteration. A wake
/// that comes before the wait is kept and returned by it at once.
final class Waiter {
    unowned let hub: Hub
    /// The greenlet in ``wait()``; set only while it waits.
    private var waiting: Greenlet?
    private var early: Wake?

    init(hub: Hub) { self.hub = hub }

    /// Suspends the current greenlet until woken; returns the value or throws the error.
    func wait() throws -> Any? {
        if let early {
            self.early = nil
            switch early {
            case .nothing: return nil
            case .value(let value): return value
            case .error(let error): throw error
            }
        }
        waiting = Greenlet.current
        defer { waiting = nil }
        return try hub.switchToHub()
    }

    /// From the hub: resumes the waiting greenlet, whose ``wait()`` returns `nil` (or keeps the
    /// wake-up for it). The fast path: no value to carry.
    func wake() {
        resume(.nothing)
    }

    /// From the hub: resumes the waiting greenlet with `value` (or keeps it for ``wait()``).
    func wake(_ value: Any?) {
        resume(.value(value))
    }

    /// From the hub: resumes the waiting greenlet by throwing `error` in it.
    func fail(_ error: any Error) {
        resume(.error(error))
    }

    /// From any greenlet: wakes the waiter from the hub at the next iteration.
    func wakeSoon() {
        hub.scheduleWake(self)
    }

    private func resume(_ message: Wake) {
        guard let greenlet = waiting else {
            early = message
            return
        }
        waiting = nil
        do {
            switch message {
            case .nothing: try greenlet.switchInto()
            case .value(let value): try greenlet.switchInto(value)
            case .error(let error): try greenlet.throwInto(error)
            }
        } catch {
            hub.errorHandler(error, "waiter")
        }
    }
}

/// A wake-up that came before the wait.
private enum Wake {
    case nothing
    case value(Any?)
    case error(any Error)
}
