import SystemPackage

/// How long ``Loop/run(_:)`` runs.
public enum RunMode: Sendable, Hashable {
    /// Iterate until no active, referenced watcher is left and no callback is queued, or until
    /// ``Loop/stop()`` (libev's `ev_run(loop, 0)`, libevent's `event_base_dispatch`).
    case untilNoActiveWatchers
    /// One iteration, waiting for events if there is anything to wait for (`EVRUN_ONCE`).
    case once
    /// One iteration that never waits: handle what is ready now (`EVRUN_NOWAIT`).
    case nonBlocking
}

/// An event loop: one thread's source of I/O readiness, timers, signals and child exits.
///
/// Make one with `makeLoop()` from GreenloopBackends (which reads `GREENLOOP_BACKEND`), use it from
/// the thread that made it, and call ``run(_:)``. Watchers are made stopped; `start()` them.
///
/// One iteration of ``run(_:)``, whatever the backend:
///
/// ```
/// run callbacks queued by runOnNextIteration (those queued before this iteration began)
/// run prepare watchers
/// wait for I/O, timers, signals, child exits, async sends (no wait when .nonBlocking,
///     when idle watchers are active, or when callbacks are queued)
/// update now, run the callbacks of everything that became ready, in the backend's order
/// run check watchers
/// run idle watchers, if nothing else ran in this iteration
/// ```
///
/// **Threads.** A loop belongs to the thread that made it. Every call checks that (a comparison
/// of thread ids, a few nanoseconds) and throws ``LoopError/wrongThread(operation:loopThread:callingThread:)``
/// otherwise; the one exception is ``AsyncWatcher/Sender/send()``.
///
/// **Lifetimes.** A watcher is stopped and its C state freed when its last reference goes; the
/// loop does not keep watchers alive. Watchers keep their loop alive. ``close()`` frees the
/// loop's C state; watchers of a closed loop are inactive and throw ``LoopError/loopClosed(operation:)``.
///
/// **Errors.** An error thrown by a callback goes to ``errorHandler``; the loop goes on.
public protocol Loop: AnyObject {
    /// The library the loop runs on.
    var backend: BackendKind { get }
    /// The I/O method the library chose or was told to use, such as ``IOMethod/epoll``.
    var method: IOMethod { get }
    /// The loop's cached time (see ``LoopInstant``). Cost: a load.
    var now: LoopInstant { get }
    /// Reads the clock into ``now`` (and the backend's own time cache). Useful after a callback
    /// that ran for long, before starting a timer relative to the real present.
    func updateNow() throws(LoopError)
    /// How many iterations ``run(_:)`` has started since the loop was made.
    var iteration: UInt64 { get }
    /// Active watchers, referenced or not.
    var activeWatcherCount: Int { get }
    /// Active watchers that keep ``run(_:)`` going (see ``Watcher/ref``).
    var referencedWatcherCount: Int { get }
    /// Events the backend has seen but whose callbacks have not run yet. Cost: a backend call.
    var pendingCount: Int { get }
    /// Whether ``run(_:)`` is executing.
    var isRunning: Bool { get }
    /// Whether ``close()`` was called.
    var isClosed: Bool { get }

    /// Runs the loop in `mode` (see ``RunMode``).
    ///
    /// - Returns: whether active referenced watchers or queued callbacks remain.
    /// - Throws: ``LoopError/reentrantRun`` from inside a callback, ``LoopError/loopClosed(operation:)``,
    ///   ``LoopError/wrongThread(operation:loopThread:callingThread:)``.
    @discardableResult
    func run(_ mode: RunMode) throws(LoopError) -> Bool
    /// Makes ``run(_:)`` return once the current iteration is over. No effect when not running.
    func stop() throws(LoopError)
    /// Frees the loop's C state. Watchers become inactive; any later use of the loop or its
    /// watchers throws. Calling it again does nothing.
    func close() throws(LoopError)
    /// Makes the loop usable in a child process after `fork()`: the backend's kernel state (epoll
    /// set, wake-up descriptors) is made anew, and active watchers carry on. Call it in the child
    /// before using the loop; the parent needs nothing.
    func reinitializeAfterFork() throws(LoopError)

    /// Queues `body` to run at the start of the next iteration, after those queued before it.
    /// A queued callback keeps ``run(_:)`` going and makes the next wait non-blocking.
    func runOnNextIteration(_ body: @escaping () throws -> Void) throws(LoopError)

    /// Where errors thrown by callbacks go. The default logs them through the loop's `Logger`.
    var errorHandler: (_ error: any Error, _ source: String) -> Void { get set }

    /// A watcher for readiness of `fd`. The descriptor is checked now (negative or closed:
    /// ``LoopError/invalidFileDescriptor(_:_:)``); it must stay open while the watcher is active.
    func makeIOWatcher(
        _ fd: FileDescriptor, _ events: IOEvents, _ callback: @escaping (IOEvents) throws -> Void
    ) throws(LoopError) -> IOWatcher
    /// A timer that fires `after` from ``now`` and then every `repeat` (never again when zero).
    func makeTimer(
        after: Duration, repeat: Duration, _ callback: @escaping () throws -> Void
    ) throws(LoopError) -> TimerWatcher
    /// A watcher for `signal`, delivered on the loop's thread (see ``SignalWatcher``).
    func makeSignalWatcher(_ signal: Signal, _ callback: @escaping () throws -> Void)
        throws(LoopError) -> SignalWatcher
    /// A watcher that runs when an iteration had nothing else to do (see ``IdleWatcher``).
    func makeIdleWatcher(_ callback: @escaping () throws -> Void) throws(LoopError) -> IdleWatcher
    /// A watcher that runs before each wait for events (see ``PrepareWatcher``).
    func makePrepareWatcher(_ callback: @escaping () throws -> Void) throws(LoopError) -> PrepareWatcher
    /// A watcher that runs after each wait for events (see ``CheckWatcher``).
    func makeCheckWatcher(_ callback: @escaping () throws -> Void) throws(LoopError) -> CheckWatcher
    /// A watcher that another thread can trigger (see ``AsyncWatcher``).
    func makeAsyncWatcher(_ callback: @escaping () throws -> Void) throws(LoopError) -> AsyncWatcher
    /// A watcher for the exit of the child process `pid` (see ``ChildWatcher``).
    func makeChildWatcher(_ pid: ProcessID, _ callback: @escaping (TerminationStatus) throws -> Void)
        throws(LoopError) -> ChildWatcher
}

extension Loop {
    /// Runs until no active referenced watcher is left (see ``RunMode/untilNoActiveWatchers``).
    @discardableResult
    public func run() throws(LoopError) -> Bool {
        try run(.untilNoActiveWatchers)
    }

    /// A one-shot timer: fires once, `after` from ``now``.
    public func makeTimer(after: Duration, _ callback: @escaping () throws -> Void)
        throws(LoopError) -> TimerWatcher
    {
        try makeTimer(after: after, repeat: .zero, callback)
    }
}
