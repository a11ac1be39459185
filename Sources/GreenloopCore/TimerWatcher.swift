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
    /// The delay of the first expiry, used by ``start()``.
    public private(set) var after: Duration
    /// The interval after the first expiry; zero for a one-shot timer.
    public private(set) var `repeat`: Duration
    private var afterNanoseconds: UInt64
    private var repeatNanoseconds: UInt64
    private var deadline = LoopInstant(nanoseconds: 0)
    private let callback: () throws -> Void
    private var native: (any NativeTimer)?

    init(loop: EventLoop, after: Duration, repeat: Duration, callback: @escaping () throws -> Void)
        throws(LoopError)
    {
        self.afterNanoseconds = try TimerWatcher.nanoseconds(after)
        self.repeatNanoseconds = try TimerWatcher.nanoseconds(`repeat`)
        self.after = after
        self.repeat = `repeat`
        self.callback = callback
        super.init(loop: loop, isCounted: true)
        self.native = loop.native.makeTimer(for: self)
    }

    deinit { deactivateIfActive() }

    override var kindName: String { "timer" }

    /// See ``Watcher/isPending``.
    public override var isPending: Bool { isActive && (native?.isPending ?? false) }

    /// The time left until the next expiry, measured from ``Loop/now``; zero when inactive or
    /// already due (libev's `ev_timer_remaining`).
    public var remaining: Duration {
        isActive ? eventLoop.now.duration(to: deadline) : .zero
    }

    /// Changes both delays, for the next ``start()``.
    ///
    /// - Throws: ``LoopError/watcherActive(operation:watcher:)`` while active (use ``again()``
    ///   or stop first), ``LoopError/invalidDuration(_:)`` for a negative one.
    public func set(after: Duration, repeat: Duration) throws(LoopError) {
        try checkUsable("set(after:repeat:)")
        guard state != .active else { throw .watcherActive(operation: "set(after:repeat:)", watcher: kindName) }
        afterNanoseconds = try TimerWatcher.nanoseconds(after)
        repeatNanoseconds = try TimerWatcher.nanoseconds(`repeat`)
        self.after = after
        self.repeat = `repeat`
    }

    /// Changes the interval; active or not, it applies from the next expiry or ``again()``.
    public func setRepeat(_ interval: Duration) throws(LoopError) {
        try checkUsable("setRepeat(_:)")
        repeatNanoseconds = try TimerWatcher.nanoseconds(interval)
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
            state = .active
            withEventLoop { $0.watcherActivated(referenced: ref) }
        }
    }

    override func activate() throws(LoopError) { schedule(in: afterNanoseconds) }

    override func deactivate() { native?.stop() }

    override func releaseResources() { native = nil }

    private func schedule(in nanoseconds: UInt64) {
        deadline = withEventLoop { $0.now }.advanced(byNanoseconds: nanoseconds)
        native?.start(afterNanoseconds: nanoseconds, priority: priority)
    }

    /// Called by the backend when its one-shot timer expires. Not API.
    @_spi(Backend)
    public func _nativeExpired() {
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

    private static func nanoseconds(_ duration: Duration) throws(LoopError) -> UInt64 {
        guard let ns = duration.wholeNanoseconds else { throw .invalidDuration(duration) }
        return ns
    }
}
