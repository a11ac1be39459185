/// Calls back after a delay, then optionally at a fixed interval (libev's `ev_timer`).
///
/// The delay counts from the loop's cached ``Loop/now``, which is the time the current iteration
/// woke up: a timer started late in a long callback fires that much earlier than "after from the
/// real present" (call ``Loop/updateNow()`` first if that matters).
///
/// A repeating timer keeps its rhythm: each expiry is scheduled `repeat` after the previous
/// *scheduled* one, not after the callback ran (when the loop falls more than one interval behind,
/// the next one counts from now, so it never fires in bursts). Timers that expire in the same
/// iteration run in order of expiry. A one-shot timer is stopped when its callback runs.
///
/// Both backends run one-shot native timers, rescheduled here for repeats, so the rules above hold
/// the same on both. Cost: start and stop are O(log n) in the number of active timers.
public final class TimerWatcher: Watcher {
    // Unchecked exclusivity (here and below): see Watcher; the dynamic checks were a sixth of a
    // socket read with a timeout.
    /// The delay of the first expiry, used by ``start()``.
    @exclusivity(unchecked) public private(set) var after: Duration
    /// The interval after the first expiry; zero for a one-shot timer.
    @exclusivity(unchecked) public private(set) var `repeat`: Duration
    @exclusivity(unchecked) private var afterNanoseconds: UInt64
    @exclusivity(unchecked) private var repeatNanoseconds: UInt64
    /// When the native timer expires.
    @exclusivity(unchecked) private var deadline = LoopInstant(nanoseconds: 0)
    /// A later time the timer was pushed back to (``postponeOnLoopThread(toNanosecondsFromNow:)``)
    /// while its native timer stays due at ``deadline``; zero when none.
    @exclusivity(unchecked) private var postponedDeadline = LoopInstant(nanoseconds: 0)
    private let callback: () throws -> Void
    @exclusivity(unchecked) private var native: (any NativeTimer)?

    /// A timer without its native half, which ``EventLoop/makeTimer(after:repeat:_:)``, the only
    /// maker, attaches at once (``attach(_:)``).
    init(loop: EventLoop, after: Duration, repeat: Duration, callback: @escaping () throws -> Void)
        throws(LoopError)
    {
        self.afterNanoseconds = try after.timerNanoseconds()
        self.repeatNanoseconds = try `repeat`.timerNanoseconds()
        self.after = after
        self.repeat = `repeat`
        self.callback = callback
        super.init(loop: loop, isCounted: true)
    }

    /// Gives the timer its native half, right after initialisation. (Made in the initialiser, the
    /// call through the backend's existential cost four retains and releases around it.)
    final func attach(_ native: any NativeTimer) {
        self.native = native
    }

    deinit { deactivateIfActive() }

    override var kindName: String { "timer" }

    /// See ``Watcher/isPending``.
    public override var isPending: Bool { isActive && (native?.isPending ?? false) }

    /// The time left until the next expiry, measured from ``Loop/now``; zero when inactive or
    /// already due (libev's `ev_timer_remaining`).
    public var remaining: Duration {
        isActive ? eventLoop.now.duration(to: max(deadline, postponedDeadline)) : .zero
    }

    /// Changes both delays, for the next ``start()``.
    ///
    /// - Throws: ``LoopError/watcherActive(operation:watcher:)`` while active (use ``again()``
    ///   or stop first), ``LoopError/invalidDuration(_:)`` for a negative one.
    public func set(after: Duration, repeat: Duration) throws(LoopError) {
        try checkUsable("set(after:repeat:)")
        guard state != .active else { throw .watcherActive(operation: "set(after:repeat:)", watcher: kindName) }
        afterNanoseconds = try after.timerNanoseconds()
        repeatNanoseconds = try `repeat`.timerNanoseconds()
        self.after = after
        self.repeat = `repeat`
    }

    /// Changes the interval; active or not, it applies from the next expiry or ``again()``.
    public func setRepeat(_ interval: Duration) throws(LoopError) {
        try checkUsable("setRepeat(_:)")
        repeatNanoseconds = try interval.timerNanoseconds()
        self.repeat = interval
    }

    /// libev's `ev_timer_again`, for timeouts that are pushed back on activity: with a non-zero
    /// ``repeat``, (re)starts the timer to expire `repeat` from now; with zero, stops it.
    /// Cheaper than stop + set + start.
    public func again() throws(LoopError) {
        try checkUsable("again()")
        guard repeatNanoseconds > 0 else {
            deactivateIfActive()
            return
        }
        if state == .active {
            native?.stop()
            schedule(in: repeatNanoseconds)
        } else {
            schedule(in: repeatNanoseconds)
            markActive()
        }
    }

    override func activate() throws(LoopError) { schedule(in: afterNanoseconds) }

    override func deactivate() {
        postponedDeadline = LoopInstant(nanoseconds: 0)
        native?.stop()
    }

    /// Makes this one-shot timer expire `nanoseconds` after ``Loop/now``, starting it if it is
    /// not active. When it is active and already due no later than that, the call only stores
    /// the new time: the native timer stays where it is, and when it expires it moves itself on
    /// to the new time instead of calling back (libev's "lazy" timeout, for a timeout that is
    /// pushed back far more often than it expires: a socket's, which every wait sets). Otherwise
    /// it costs a stop and a start of the native timer, O(log n) each.
    ///
    /// For the loop's own thread and a watcher that is not closed; ``after`` is left as it was.
    package func postponeOnLoopThread(toNanosecondsFromNow nanoseconds: UInt64) {
        assert(state != .closed && repeatNanoseconds == 0, "postpone: a closed or repeating timer")
        let due = withEventLoop { $0.now }.advanced(byNanoseconds: nanoseconds)
        if state == .active {
            if deadline <= due {
                postponedDeadline = due
                return
            }
            native?.stop()
            postponedDeadline = LoopInstant(nanoseconds: 0)
            schedule(in: nanoseconds)
        } else {
            schedule(in: nanoseconds)
            markActive()
        }
    }

    override func releaseResources() { native = nil }

    private func schedule(in nanoseconds: UInt64) {
        deadline = withEventLoop { $0.now }.advanced(byNanoseconds: nanoseconds)
        native?.start(afterNanoseconds: nanoseconds, priority: priority)
    }

    /// Called by the backend when its one-shot timer expires. Not API.
    @_spi(Backend)
    public func _nativeExpired() {
        if postponedDeadline.nanoseconds != 0 && movedOnToPostponedDeadline() { return }
        withEventLoop { loop in
            loop.dispatch(from: self) { () throws -> Void in
                if repeatNanoseconds > 0 {
                    let now = loop.now
                    let next = deadline.advanced(byNanoseconds: repeatNanoseconds)
                    deadline = next > now ? next : now
                    native?.start(afterNanoseconds: deadline.nanoseconds - now.nanoseconds, priority: priority)
                } else {
                    didStopByItself()
                }
                try callback()
            }
        }
    }

    /// The native timer expired at ``deadline``, and the timer was postponed: starts the native
    /// timer again for the time left, without calling back, unless that time has come too.
    private func movedOnToPostponedDeadline() -> Bool {
        let postponed = postponedDeadline
        postponedDeadline = LoopInstant(nanoseconds: 0)
        let now = withEventLoop { $0.freshNow }
        guard postponed > now else { return false }
        deadline = postponed
        native?.start(afterNanoseconds: postponed.nanoseconds - now.nanoseconds, priority: priority)
        return true
    }
}
