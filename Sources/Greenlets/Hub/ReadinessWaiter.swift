import GreenloopCore

/// A greenlet's wait for one descriptor's readiness, with its io watcher and timeout timer made
/// once: a socket keeps one per direction, so that each wait costs no new watcher, C struct or
/// descriptor check. ``waitReadable(_:timeout:)`` uses a fresh one.
///
/// **The watcher stays started between waits** that ended in readiness (unreferenced, so that it
/// keeps no loop running): a greenlet that has read what was ready usually waits again at once,
/// and a stop and start per wait would cost libevent two `epoll_ctl` calls. If the descriptor
/// becomes ready while nobody waits, the callback stops the watcher then (once). A wait that ends
/// any other way (timeout, kill, error) stops it at once, and ``close()`` stops it for good.
final class ReadinessWaiter {
    // Unchecked exclusivity (here and below): see Waiter.
    @exclusivity(unchecked) private var watcher: IOWatcher!
    @exclusivity(unchecked) private var timer: TimerWatcher?
    /// Unowned(unsafe): a hub outlives every wait on it (see Waiter); the checked kind cost an
    /// atomic operation per wait.
    private unowned(unsafe) let hub: Hub
    /// The one waiter every wait uses: a wait leaves it clear however it ends (``Waiter/wait()``
    /// clears it on the way out, and a wake-up after that finds ``waiter`` nil), and it is
    /// never queued anywhere else. No hub access and no allocation per wait.
    private let reusableWaiter: Waiter
    /// The greenlet's current wait (``reusableWaiter``, which owns it); `nil` between waits.
    @exclusivity(unchecked) private var waiter: Unmanaged<Waiter>?
    @exclusivity(unchecked) private var timedOut = false
    /// The hub's buffer for socket reads (see ``ReceiveScratch``), which lives as long as the hub.
    let receiveBuffer: UnsafeMutableRawPointer

    init(fd: CInt, _ events: IOEvents) throws {
        let hub = try Hub.current()
        self.hub = hub
        reusableWaiter = Waiter(hub: hub)
        receiveBuffer = hub.receiveScratch.base
        // Unowned(unsafe) in the callbacks: the watchers that call back are this object's own,
        // stopped when it goes; the checked kind cost two reference-count operations per wake-up.
        watcher = try hub.loop.makeIOWatcher(.init(rawValue: fd), events) { [unowned(unsafe) self] _ in self.ready() }
    }

    /// Waits until ready, at most `timeout`; false when the timeout passed first.
    func wait(timeout: Duration?) throws -> Bool {
        let waiter = reusableWaiter
        self.waiter = .passUnretained(waiter)
        timedOut = false
        // One strong reference for the whole wait, rather than one per use of the property.
        let watcher = self.watcher!
        if watcher.isActive { try watcher.setRef(true) } else { try watcher.start() }
        var stayStarted = false
        defer {
            if stayStarted { try? watcher.setRef(false) } else { try? watcher.stop() }
            if timeout != nil { try? timer?.stop() }
            self.waiter = nil
        }
        if let timeout {
            if let timer {
                try timer.set(after: timeout, repeat: .zero)
            } else {
                timer = try hub.loop.makeTimer(after: timeout) { [unowned(unsafe) self] in
                    self.timedOut = true
                    self.waiter?._withUnsafeGuaranteedRef { $0.wake() }
                }
            }
            try timer?.start()
        }
        // Woken without a value either way: the fast switch.
        try waiter.wait()
        stayStarted = !timedOut
        return !timedOut
    }

    private func ready() {
        if let waiter {
            waiter._withUnsafeGuaranteedRef { $0.wake() }
        } else {
            try? watcher.stop()
        }
    }

    /// Ends a wait in progress, if any, by throwing `error` in the waiting greenlet from the hub
    /// (the caller is another greenlet, which cannot switch into it). The scheduled call keeps
    /// this object alive until it has run.
    func cancelWait(throwing error: any Error) {
        guard waiter != nil else { return }
        hub.schedule { [self] in
            waiter?._withUnsafeGuaranteedRef { $0.fail(error) }
        }
    }

    /// Stops and frees the watchers; call before the descriptor is closed.
    func close() {
        try? watcher.close()
        try? timer?.close()
    }
}
