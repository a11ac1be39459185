import GreenloopCore

/// A greenlet's wait for one descriptor's readiness, with its io watcher and timeout timer made
/// once: a socket keeps one per direction, so that each wait costs a watcher start and stop, not a
/// new watcher, C struct and descriptor check. ``waitReadable(_:timeout:)`` uses a fresh one.
final class ReadinessWaiter {
    /// The greenlet's current wait, shared with the two callbacks.
    private final class Slot {
        var waiter: Waiter?
        func wake(_ ready: Bool) { waiter?.wake(ready) }
    }

    private let slot = Slot()
    private let watcher: IOWatcher
    private var timer: TimerWatcher?
    private unowned let hub: Hub

    init(fd: CInt, _ events: IOEvents) throws {
        let hub = try Hub.current()
        self.hub = hub
        let slot = self.slot
        watcher = try hub.loop.makeIOWatcher(.init(rawValue: fd), events) { _ in slot.wake(true) }
    }

    /// Waits until ready, at most `timeout`; false when the timeout passed first.
    func wait(timeout: Duration?) throws -> Bool {
        let waiter = Waiter(hub: hub)
        slot.waiter = waiter
        try watcher.start()
        defer {
            try? watcher.stop()
            try? timer?.stop()
            slot.waiter = nil
        }
        if let timeout {
            if let timer {
                try timer.set(after: timeout, repeat: .zero)
            } else {
                let slot = self.slot
                timer = try hub.loop.makeTimer(after: timeout) { slot.wake(false) }
            }
            try timer?.start()
        }
        return try waiter.wait() as? Bool ?? false
    }

    /// Stops and frees the watchers; call before the descriptor is closed.
    func close() {
        try? watcher.close()
        try? timer?.close()
    }
}
