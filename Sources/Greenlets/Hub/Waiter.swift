import GreenloopCore

/// One greenlet's wait for one wake-up: the primitive every blocking operation is built on
/// (gevent's `Waiter`).
///
/// The waiting greenlet calls ``wait()``, which switches to the hub. A callback running in the hub
/// calls ``wake()`` or ``fail(_:)``, which switch straight back to it; code running in another
/// greenlet calls ``wakeSoon()``, which does the same from the hub at the next iteration. A wake
/// that comes before the wait is kept and ends it at once.
///
/// A wake-up carries no value (what was waited for is where the waiter's owner put it), so that
/// it costs a switch and nothing else: no existential is made or destroyed.
///
/// Not final only for ``ReadinessWaiter``, which is a waiter with its own wake-up sources; every
/// member is final, so no call is dynamic.
class Waiter {
    /// The hub, unretained: a hub outlives every wait on it (``Hub/destroy(timeout:)`` ends
    /// them first). Unmanaged rather than `unowned(unsafe)`, whose every use the compiler wraps
    /// in a retain and a release.
    private let hubReference: Unmanaged<Hub>
    // Unchecked exclusivity (here and in the other hub classes): one thread, and no access stays
    // open across a switch; the dynamic checks were a fifth of a `sleep(.zero)`.
    /// The greenlet in ``wait()``; set only while it waits. A strong reference, as in gevent: a
    /// greenlet that waits stays alive as long as what it waits for can wake it. Retained by hand
    /// unless pinned (see ``Greenlet/pin()``): a pinned greenlet's pin cannot end while it waits,
    /// since only the greenlet itself or a kill before its start ends it.
    @exclusivity(unchecked) private var waiting: Unmanaged<Greenlet>?
    /// The io watcher of a ``ReadinessWaiter``, which makes it, retains it by hand and closes it;
    /// `nil` for every other waiter. Kept here rather than in the subclass, whose stored
    /// properties come after all of these: beside ``waiting`` and the flags below, it shares their
    /// cache line as a rule, and a resumed reader touches one line of its waiter instead of two
    /// (at a thousand connections every waiter is cold by its next wake-up).
    @exclusivity(unchecked) final var ioWatcher: Unmanaged<IOWatcher>?
    @exclusivity(unchecked) private var early: Early = .none
    @exclusivity(unchecked) private var waitingIsRetained = false
    /// Whether it stands in a ``HandOffQueue``.
    @exclusivity(unchecked) final var isQueued = false
    /// Whether a ``HandOffQueue`` handed it something (see ``handedValue``).
    @exclusivity(unchecked) private var wasHanded = false
    /// Set by ``wake()`` just before it resumes the waiting greenlet: a wait that resumes without
    /// it was switched into by someone else, and fails (see ``suspendUntilWoken()``).
    @exclusivity(unchecked) private var resumedByWake = false
    /// The wake-up that ``wakeSoon()`` scheduled in the hub's ready queue, if it has not run.
    @exclusivity(unchecked) private var scheduledWake = ScheduledWake.none
    /// Whether the wait in progress ends when ``timer`` expires.
    @exclusivity(unchecked) final var isTimed = false
    /// Set when the timer ended the wait; read once the wait is over.
    @exclusivity(unchecked) final var timedOut = false
    /// The timer of the waits through this waiter that have a time limit (a sleep, a
    /// ``ReadinessWaiter``'s timeout): made by the first, kept for the next (a waiter is reused),
    /// retained by hand, and closed when the waiter goes (see ``armTimer(nanoseconds:referenced:)``).
    @exclusivity(unchecked) private var timer: Unmanaged<TimerWatcher>?
    /// When the timed wait in progress may end, on the monotonic clock (nanoseconds): set by
    /// ``armTimer(nanoseconds:referenced:)``, read when ``timer`` expires.
    @exclusivity(unchecked) private var timedDeadline: UInt64 = 0
    /// The next in the hub's list of spare waiters, while this one is there.
    @exclusivity(unchecked) final var nextSpare: Unmanaged<Waiter>?
    /// What a ``HandOffQueue`` handed it (`nil` for a hand-off of nothing), for its owner to take
    /// after the wake-up. Last: the hand-offs that fill it touch the waiter anyway.
    @exclusivity(unchecked) private var handedValue: Any?

    /// A scheduled wake-up's entry holds no reference while the owner waits (the owner's
    /// does); a wait that ends before the entry has run hands the entry one of its own, so that
    /// the owner may let the waiter go. A retain and a release fewer per hand-off.
    private enum ScheduledWake {
        case none
        /// Queued; the waiting owner keeps the waiter alive.
        case borrowing
        /// Queued, holding a reference of its own (the wait ended before it ran).
        case owning
    }

    /// A wake-up that came before the wait.
    private enum Early {
        case none, woken
        case failed(any Error)
    }

    init(hub: Hub) { hubReference = .passUnretained(hub) }

    deinit {
        // An entry that holds it would keep it alive; one that does not may not outlive it.
        assert(scheduledWake == .none, "a waiter went with a wake-up scheduled for it")
        closeTimer()
    }

    /// The hub, as a strong reference (for the paths that are not hot).
    final var hub: Hub { hubReference.takeUnretainedValue() }

    /// Runs `body` with the hub, counting no reference to it.
    @inline(__always)
    private final func withHub<Result>(_ body: (Hub) throws -> Result) rethrows -> Result {
        try hubReference._withUnsafeGuaranteedRef(body)
    }

    /// Gives the waiter back to its hub for reuse; only after a ``wait()`` that a wake-up ended.
    /// Not while a scheduled wake-up is still to come, which would end a later wait.
    /// Inlined: the caller's last reference then becomes the one the hub's list keeps, with no
    /// reference count operation.
    @inline(__always)
    final func recycle() {
        withHub { $0.recycle(self) }
    }

    /// Suspends the current greenlet until woken, or throws the error it was failed with.
    final func wait() throws {
        defer { waitEnded() }
        if try takeEarlyWakeUp() { return }
        try suspendUntilWoken()
    }

    /// Takes the wake-up that came before the wait, if one did: true for a wake, throws for a
    /// failure, false for none (the wait must suspend).
    @inline(__always)
    final func takeEarlyWakeUp() throws -> Bool {
        switch early {
        case .none:
            return false
        case .woken:
            early = .none
            return true
        case .failed(let error):
            early = .none
            throw error
        }
    }

    /// Call when a wait ends, however it ended: a scheduled wake-up that has not run yet keeps
    /// the waiter alive from here on (see `ScheduledWake`), and will be kept for the next wait.
    @inline(__always)
    final func waitEnded() {
        if scheduledWake == .borrowing { scheduledWakeTakesReference() }
    }

    /// The suspension of ``wait()`` without its early wake-up and its end (which the caller
    /// handles), inlined into its callers: one stack frame less on every waiting greenlet's stack,
    /// whose lines the switch back touches (see ``ReadinessWaiter``).
    @inline(__always)
    final func suspendUntilWoken() throws {
        let current = GreenletThread.runningOnCallingThread
        let retains = !current._withUnsafeGuaranteedRef { $0.isPinned }
        if retains { _ = current.retain() }
        waiting = current
        waitingIsRetained = retains
        defer { clearWaiting() }
        try withHub { try $0.switchToHub(from: current) }
        // Only the hub resumes a wait, through wake() (or fail(), which throws): a greenlet that
        // switched straight in would end the wait with nothing to show for it. As in gevent, an
        // error, and the caller's error path stops its watchers and leaves its queues.
        guard resumedByWake else { throw HubError.invalidSwitch }
        resumedByWake = false
    }

    /// Asks the processor for the first lines of the waiting greenlet's object, which hold what
    /// the wake-up's switch reads: for a wake-up that will run later (see
    /// ``Greenlet/prefetchResumption()``).
    @inline(__always)
    final func prefetchWaitingGreenlet() {
        if let waiting { prefetchFirstLines(of: waiting) }
    }

    /// Asks the processor for the lines that resuming the waiting greenlet reads first (see
    /// ``Greenlet/prefetchResumption()``).
    @inline(__always)
    final func prefetchWaitingGreenletsStack() {
        waiting?._withUnsafeGuaranteedRef { $0.prefetchResumption() }
    }

    /// Whether a greenlet is suspended in ``wait()``.
    final var hasWaitingGreenlet: Bool { waiting != nil }

    private final func clearWaiting() {
        guard let greenlet = waiting else { return }
        waiting = nil
        if waitingIsRetained { greenlet.release() }
    }

    /// From the hub: resumes the waiting greenlet (or keeps the wake-up for ``wait()``). Touches
    /// nothing of the waiter once it has switched: the woken greenlet may let it go.
    final func wake() {
        guard let greenlet = waiting else {
            early = .woken
            return
        }
        let hub = hubReference
        do {
            // The waiting greenlet clears `waiting` (and releases it) when it resumes, so it is
            // alive for the switch; from there on the thread keeps it alive (counting a reference
            // unless it is pinned).
            resumedByWake = true
            try greenlet._withUnsafeGuaranteedRef { try $0.resumeCountingReference() }
        } catch {
            hub._withUnsafeGuaranteedRef { $0.errorHandler(error, "waiter") }
        }
    }

    /// From the hub: resumes the waiting greenlet by throwing `error` in it. Touches nothing of
    /// the waiter once it has switched, as ``wake()``.
    final func fail(_ error: any Error) {
        guard let greenlet = waiting else {
            early = .failed(error)
            return
        }
        let hub = hubReference
        do {
            _ = try greenlet._withUnsafeGuaranteedRef { try $0.throwInto(error) }
        } catch {
            hub._withUnsafeGuaranteedRef { $0.errorHandler(error, "waiter") }
        }
    }

    /// Leaves `value` for the owner (see ``takeHanded()``).
    final func hand(_ value: Any) {
        wasHanded = true
        handedValue = value
    }

    /// Leaves a hand-off of nothing for the owner; copies no existential.
    final func handNothing() {
        wasHanded = true
    }

    /// What was handed to this waiter, if anything (`.some(nil)`: a hand-off of nothing);
    /// clears it.
    final func takeHanded() -> Any?? {
        guard takeWasHanded() else { return .none }
        return .some(handedValue.take())
    }

    /// Whether something was handed to this waiter; clears that (but not the value).
    final func takeWasHanded() -> Bool {
        defer { wasHanded = false }
        return wasHanded
    }

    /// Suspends the current greenlet for `nanoseconds` (more than zero), through this waiter's
    /// own timer: no timer, native timer or closure is made per sleep.
    final func sleep(nanoseconds: UInt64) throws {
        try armTimer(nanoseconds: nanoseconds, referenced: true)
        isTimed = true
        defer {
            isTimed = false
            timedOut = false
            stopTimer()
        }
        try wait()
    }

    /// Makes ``timer`` expire `nanoseconds` from now, for a wait about to begin (which sets
    /// ``isTimed``): it starts it, or, when it is started and due sooner, only pushes it back
    /// (`TimerWatcher.postponeOnLoopThread`). `referenced` (whether the timer keeps the loop
    /// running) is fixed when the timer is made, by the first call.
    ///
    /// The timer's callback holds this waiter unretained: the waiter closes the timer before it
    /// goes, so the timer never calls into a waiter that is gone, and the callback touches
    /// nothing after the wake-up (the woken greenlet may drop the waiter; the backends keep the
    /// timer itself alive while it calls back).
    final func armTimer(nanoseconds: UInt64, referenced: Bool) throws {
        if timer == nil {
            let unretained = Unmanaged.passUnretained(self)
            let made = try withHub {
                try $0.loop.makeTimer(after: .zero) { unretained._withUnsafeGuaranteedRef { $0.timerExpired() } }
            }
            if !referenced { made.setRefOnLoopThread(false) }
            timer = .passRetained(made)
        }
        // Counted from the call on a fresh clock: the timer counts from the loop's cached time,
        // which is as old as the iteration (see `timerExpired()`).
        let (deadline, overflow) = LoopInstant.monotonicNow().nanoseconds.addingReportingOverflow(nanoseconds)
        timedDeadline = overflow ? .max : deadline
        timer.unsafelyUnwrapped._withUnsafeGuaranteedRef { $0.postponeOnLoopThread(toNanosecondsFromNow: nanoseconds) }
    }

    /// Stops ``timer``, if there is one.
    final func stopTimer() {
        timer?._withUnsafeGuaranteedRef { try? $0.stop() }
    }

    /// Closes and releases ``timer``, if there is one; a later timed wait makes another.
    final func closeTimer() {
        guard let timer else { return }
        self.timer = nil
        timer._withUnsafeGuaranteedRef { try? $0.close() }
        timer.release()
    }

    /// The timer's callback: ends the wait in progress if it has a time limit. A timer left
    /// running by a wait that ended otherwise finds none; it stopped by itself (a one-shot
    /// timer), and stays so.
    ///
    /// A timer may expire before the wait's time is up on the monotonic clock: both backends
    /// count a timer from the loop's cached time, which is as old as the iteration, so a wait
    /// that began after a long callback would end that much early. Such a timer is armed again
    /// for the time left.
    private final func timerExpired() {
        guard hasWaitingGreenlet && isTimed else { return }
        let now = LoopInstant.monotonicNow().nanoseconds
        if now < timedDeadline {
            timer.unsafelyUnwrapped._withUnsafeGuaranteedRef {
                $0.postponeOnLoopThread(toNanosecondsFromNow: timedDeadline - now)
            }
            return
        }
        timedOut = true
        wake()
    }

    /// From any greenlet: wakes the waiter from the hub at the next iteration, once; the owner
    /// must ``wait()`` on it, or have waited, before it lets the waiter go.
    final func wakeSoon() {
        require(scheduledWake == .none, "a waiter woken soon twice")
        scheduledWake = .borrowing
        withHub { $0.scheduleWake(Unmanaged.passUnretained(self)) }
    }

    /// Whether a scheduled wake-up is still to come (a recycled waiter would get it in a later
    /// wait).
    final var hasScheduledWake: Bool { scheduledWake != .none }

    /// A wait ended before its scheduled wake-up ran: the entry takes a reference of its own.
    @inline(never)
    private final func scheduledWakeTakesReference() {
        scheduledWake = .owning
        _ = Unmanaged.passUnretained(self).retain()
    }

    /// From the hub's ready queue, as it runs or drops the entry of the scheduled wake-up: clears
    /// it and returns whether the entry holds a reference, which the caller then releases (after
    /// ``wake()``, not before: until then the waiter must stay).
    final func takeScheduledWake() -> Bool {
        defer { scheduledWake = .none }
        return scheduledWake == .owning
    }
}
