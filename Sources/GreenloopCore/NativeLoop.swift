/// What a backend module provides: the few native calls the shared loop driver (``EventLoop``)
/// needs. Everything else (prepare, check, idle, async, child, signal watchers, queued callbacks,
/// error routing, thread checks, counts) is built once, in GreenloopCore, on top of these, so
/// that both backends behave the same by construction.
///
/// Not API: only the backend modules conform.
@_spi(Backend)
public protocol NativeLoop: AnyObject {
    /// The library.
    var kind: BackendKind { get }
    /// The I/O method actually in use.
    var method: IOMethod { get }
    /// Native io state for `watcher`. The native side keeps an unretained reference to it and
    /// calls ``IOWatcher/_nativeReady(_:)`` when the descriptor is ready.
    func makeIO(for watcher: IOWatcher) -> any NativeIO
    /// Native one-shot timer state for `watcher`; calls ``TimerWatcher/_nativeExpired()``.
    func makeTimer(for watcher: TimerWatcher) -> any NativeTimer
    /// One iteration: wait for events (only when `blocking`) and run the callbacks of all that are
    /// ready.
    func poll(blocking: Bool)
    /// Events seen and not yet dispatched.
    var pendingCount: Int { get }
    /// The descriptor the backend itself waits on (its epoll set), which no io watcher may
    /// watch, or -1 when the backend refuses that descriptor by itself or has none.
    var backendDescriptor: CInt { get }
    /// Refreshes the backend's own time cache.
    func updateTime()
    /// Remakes kernel state after fork.
    func reinitializeAfterFork() throws(LoopError)
    /// Frees the C loop. Native watchers made from it must then free only their own memory.
    func close()
}

/// Native io state: one C watcher struct at a stable address.
@_spi(Backend)
public protocol NativeIO: AnyObject {
    /// Starts watching; the watcher was validated and is inactive.
    func start(fd: CInt, events: IOEvents, priority: Int) throws(LoopError)
    /// Stops watching; no effect when not started.
    func stop()
    /// Whether the backend has seen readiness not yet dispatched.
    var isPending: Bool { get }
}

/// Native one-shot timer state: one C watcher struct at a stable address.
@_spi(Backend)
public protocol NativeTimer: AnyObject {
    /// Starts a one-shot timer `nanoseconds` from the backend's cached time.
    func start(afterNanoseconds nanoseconds: UInt64, priority: Int)
    /// Stops the timer; no effect when not started.
    func stop()
    /// Whether it has expired and its callback has not run yet.
    var isPending: Bool { get }
}
