import GreenloopCore

/// A greenlet's wait for one descriptor's readiness: a ``Waiter`` whose wake-ups come from its
/// own io watcher and timeout timer, made once. A socket keeps one per direction, so that each
/// wait costs no new object, watcher, C struct or descriptor check; ``waitReadable(_:timeout:)``
/// uses a fresh one.
///
/// **The watcher stays started between waits** that ended in readiness (unreferenced, so that it
/// keeps no loop running): a greenlet that has read what was ready usually waits again at once,
/// and a stop and start per wait would cost libevent two `epoll_ctl` calls. If the descriptor
/// becomes ready while nobody waits, the callback stops the watcher then (once). A wait that ends
/// any other way (timeout, kill, error) stops it at once, and ``close()`` stops it for good.
///
/// **Lifetime.** The watchers' callbacks hold the waiter (the cycle this makes ends in
/// ``close()``, which every owner calls), and libev and libevent callbacks keep their watcher
/// alive while they run: so a callback may resume a greenlet that closes the socket and drops the
/// waiter. A wait holds no reference of its own: whoever closes the waiter while a greenlet waits
/// in it ends that wait first and keeps the waiter alive until it has
/// (``cancelWait(throwing:)``).
final class ReadinessWaiter: Waiter {
    // Unchecked exclusivity (here and below): see Waiter.
    /// Made right after initialisation (its callback needs `self`); retained by hand, so that a
    /// wait reaches it without a reference count operation, and released by ``close()``.
    @exclusivity(unchecked) private var watcher: Unmanaged<IOWatcher>?
    @exclusivity(unchecked) private var timer: TimerWatcher?
    /// Set by the timer's callback; read once the wait is over.
    @exclusivity(unchecked) private var timedOut = false
    /// The hub's buffer for socket reads (see ``ReceiveScratch``), which lives as long as the hub.
    let receiveBuffer: UnsafeMutableRawPointer

    init(fd: CInt, _ events: IOEvents) throws {
        let hub = try Hub.current()
        receiveBuffer = hub.receiveScratch.base
        super.init(hub: hub)
        // A strong capture: the closure's context is this object itself, which the watcher
        // keeps alive while it calls back. (`unowned(unsafe)` cost a retain and a release per
        // wake-up; an `Unmanaged` capture, a context object of its own.)
        let made = try hub.loop.makeIOWatcher(.init(rawValue: fd), events) { _ in self.ready() }
        watcher = .passRetained(made)
    }

    /// Runs `body` with the io watcher, counting no reference to it.
    @inline(__always)
    private func withWatcher<Result>(_ body: (IOWatcher) throws -> Result) rethrows -> Result {
        try watcher.unsafelyUnwrapped._withUnsafeGuaranteedRef(body)
    }

    /// Waits until ready, at most `timeout`; false when the timeout passed first. Not after
    /// ``close()``.
    func wait(timeout: Duration?) throws -> Bool {
        try withWatcher { watcher in
            if watcher.isActive { watcher.setRefOnLoopThread(true) } else { try start(watcher) }
        }
        timedOut = false
        if let timeout { try startTimer(timeout) }
        do {
            // Woken without a value either way: the fast switch.
            try suspendUntilWoken()
        } catch {
            endWait(stayStarted: false, timed: timeout != nil)
            throw error
        }
        let ready = !timedOut
        endWait(stayStarted: ready, timed: timeout != nil)
        return ready
    }

    /// After a wait: leaves the watcher started but unreferenced (the next wait is likely soon),
    /// or stops it; stops the timer. Nothing to do when the wait ended because another greenlet
    /// closed the waiter.
    @inline(__always)
    private func endWait(stayStarted: Bool, timed: Bool) {
        guard let watcher else { return }
        if stayStarted && !timed {
            watcher._withUnsafeGuaranteedRef { $0.setRefOnLoopThread(false) }
        } else {
            endWaitSlowly(stayStarted: stayStarted)
        }
    }

    /// ``endWait(stayStarted:timed:)`` with a stop (whose `LoopError` would keep room in the
    /// waiting greenlet's frame, inlined) or a timer.
    @inline(never)
    private func endWaitSlowly(stayStarted: Bool) {
        withWatcher { watcher in
            if stayStarted { watcher.setRefOnLoopThread(false) } else { try? watcher.stop() }
        }
        try? timer?.stop()
    }

    /// Out of line: a start throws a `LoopError`, for which its caller's frame would keep room
    /// on every waiting greenlet's stack.
    @inline(never)
    private func start(_ watcher: IOWatcher) throws {
        try watcher.start()
    }

    @inline(never)
    private func startTimer(_ timeout: Duration) throws {
        if let timer {
            try timer.set(after: timeout, repeat: .zero)
        } else {
            // A strong capture, as for the io watcher.
            timer = try hub.loop.makeTimer(after: timeout) { self.expired() }
        }
        try timer?.start()
    }

    /// The io watcher's callback. Touches nothing after the wake-up (see "Lifetime").
    private func ready() {
        if hasWaitingGreenlet {
            wake()
        } else {
            withWatcher { try? $0.stop() }
        }
    }

    /// The timer's callback. Touches nothing after the wake-up (see "Lifetime").
    private func expired() {
        guard hasWaitingGreenlet else { return }
        timedOut = true
        wake()
    }

    /// Ends a wait in progress, if any, by throwing `error` in the waiting greenlet from the hub
    /// (the caller is another greenlet, which cannot switch into it). The scheduled call keeps
    /// this object alive until it has run, and with it the waiting greenlet's frames in it.
    func cancelWait(throwing error: any Error) {
        guard hasWaitingGreenlet else { return }
        hub.schedule { [self] in
            if hasWaitingGreenlet { fail(error) }
        }
    }

    /// Stops and frees the watchers, and with them their references to this waiter; call before
    /// the descriptor is closed. Calling it again does nothing.
    func close() {
        guard let watcher else { return }
        self.watcher = nil
        watcher._withUnsafeGuaranteedRef { try? $0.close() }
        watcher.release()
        try? timer?.close()
        timer = nil
    }
}
