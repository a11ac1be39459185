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
/// **So does the timeout timer** (the waiter's own, see ``Waiter/armTimer(nanoseconds:referenced:)``),
/// and a timed wait only pushes it back: a socket with a timeout sets one on every read and
/// write, and a stop and start of the timer per wait, O(log n) each, tripled the cost of an echo
/// round trip. It stops when it expires while nobody waits with a timeout, or with the io
/// watcher. It is never referenced: during a timed wait the io watcher keeps the loop running.
///
/// **Readiness wakes the greenlet from the hub's ready queue** (``Waiter/wakeSoon()``), not from
/// the io callback: the loop runs the callbacks of every descriptor that became ready, then the
/// hub resumes their greenlets one after another, asking the processor for the lines that the
/// next resumptions read while a greenlet runs (see `ReadyQueue.prefetchUpcomingWakeUps()`). With
/// many connections every one of those lines is cold by the next round trip; fetched in the
/// shadow of other work, they cost an echo server at 1,000 connections a third of its user time
/// less. A wait that ends otherwise before its wake-up has run (its timeout fired in the same
/// iteration, a kill) keeps that wake-up for the next wait, which then returns at once:
/// readiness was seen, and the caller's next system call finds out whether it lasted.
///
/// **Lifetime.** The io watcher's callback holds the waiter (the cycle this makes ends in
/// ``close()``, which every owner calls; the timer's holds it unretained, and goes with it). A
/// wait holds no reference of its own; the wake-up it is owed borrows the owner's while the
/// greenlet waits, and takes one of its own if the wait ends first (see `Waiter`), so that the
/// greenlet it resumes may close the socket and drop the waiter. Whoever closes the waiter
/// while a greenlet waits in it ends that wait first and keeps the waiter alive until it has
/// (``cancelWait(throwing:)``).
final class ReadinessWaiter: Waiter {
    // The io watcher is ``Waiter/ioWatcher``: made right after initialisation (its callback
    // needs `self`); retained by hand, so that a wait reaches it without a reference count
    // operation, and released by ``close()``.
    // Unchecked exclusivity (here and below): see Waiter.
    /// The last timeout a wait had, and in nanoseconds: sockets wait with the same one again and
    /// again, and a `Duration` of 18 s or more converts through 128-bit divisions.
    @exclusivity(unchecked) private var lastTimeout = Duration.zero
    @exclusivity(unchecked) private var lastTimeoutNanoseconds: UInt64 = 0
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
        ioWatcher = .passRetained(made)
    }

    /// Runs `body` with the io watcher, counting no reference to it.
    @inline(__always)
    private func withWatcher<Result>(_ body: (IOWatcher) throws -> Result) rethrows -> Result {
        try ioWatcher.unsafelyUnwrapped._withUnsafeGuaranteedRef(body)
    }

    /// Waits until ready, at most `timeout`; false when the timeout passed first. Not after
    /// ``close()``.
    ///
    /// Inlined into the socket's read and write: a frame less between the socket's and the
    /// switch's, whose lines a resumed greenlet reads first (at a thousand connections they are
    /// all cold by then: one cache line a round trip).
    @inline(__always)
    func wait(timeout: Duration?) throws -> Bool {
        // The timer first: a bad timeout is refused before anything changed. (A timer pushed back
        // for a wait that then fails to start is harmless: nobody waits when it expires.)
        if let timeout { try armTimer(timeout) }
        // Readiness seen after the last wait ended (see "Readiness wakes…").
        if try takeEarlyWakeUp() { return true }
        try withWatcher { watcher in
            // Referenced before any start: a watcher that readiness stopped while nobody waited
            // (see `ready()`) is still unreferenced from the wait before, and one started so
            // would keep no loop running for this wait (the loop would end it with `LoopExit`).
            watcher.setRefOnLoopThread(true)
            if !watcher.isActive { try start(watcher) }
        }
        isTimed = timeout != nil
        timedOut = false
        do {
            // Woken without a value either way: the fast switch.
            try suspendUntilWoken()
        } catch {
            endWait(stayStarted: false)
            throw error
        }
        let ready = !timedOut
        endWait(stayStarted: ready)
        return ready
    }

    /// After a wait: gives a wake-up still queued for it a reference of its own (see "Lifetime"),
    /// then leaves the watchers started, the io watcher unreferenced (the next wait is likely
    /// soon), or stops them; nothing more when the wait ended because another greenlet closed the
    /// waiter.
    @inline(__always)
    private func endWait(stayStarted: Bool) {
        waitEnded()
        guard let watcher = ioWatcher else { return }
        isTimed = false
        if stayStarted {
            watcher._withUnsafeGuaranteedRef { $0.setRefOnLoopThread(false) }
        } else {
            stopWatchers()
        }
    }

    /// Out of line: a stop throws a `LoopError`, for which an inlined call would keep room in the
    /// waiting greenlet's frame.
    @inline(never)
    private func stopWatchers() {
        withWatcher { try? $0.stop() }
        stopTimer()
    }

    /// Out of line: a start throws a `LoopError`, for which its caller's frame would keep room
    /// on every waiting greenlet's stack.
    @inline(never)
    private func start(_ watcher: IOWatcher) throws {
        try watcher.start()
    }

    /// Makes the timer expire `timeout` from now, for the wait about to begin.
    @inline(never)
    private func armTimer(_ timeout: Duration) throws {
        if timeout != lastTimeout {
            lastTimeoutNanoseconds = try timeout.timerNanoseconds()
            lastTimeout = timeout
        }
        // Unreferenced: see "So does the timeout timer".
        try armTimer(nanoseconds: lastTimeoutNanoseconds, referenced: false)
    }

    /// The io watcher's callback: schedules the wake-up (see "Readiness wakes…").
    private func ready() {
        guard hasWaitingGreenlet else { return stopWatchers() }
        // One that a wait which ended otherwise left queued wakes this one as well.
        guard !hasScheduledWake else { return }
        wakeSoon()
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

    /// Stops and frees the watchers, and with them the io watcher's reference to this waiter;
    /// call before the descriptor is closed. Calling it again does nothing.
    func close() {
        guard let watcher = ioWatcher else { return }
        ioWatcher = nil
        watcher._withUnsafeGuaranteedRef { try? $0.close() }
        watcher.release()
        closeTimer()
    }
}
